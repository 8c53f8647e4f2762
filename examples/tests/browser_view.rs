//! The browser view over real HTTP, opened in a real headless Chromium (Debian's `chromium`,
//! installed by the test when missing): pages render, and their links lead to the referenced
//! resource and to the next page. Without the view, `Accept: text/html` stays a 406.

mod common;

use common::{send, Reply, JSON};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What Chromium sends when it opens a page.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";

const CHROMIUM: &str = "/usr/bin/chromium";

/// The memory server as its example program runs it: with the browser view.
fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        // Validation off: the page must stay safe with a hostile narrative that came from
        // elsewhere (data a provider serves as it found it), which validation would refuse.
        let rocket = fhir_examples::memory_server_configured(Default::default(), |s| {
            s.intercept(fhir_rocket::BrowserView::new())
                .validate_writes(false)
        });
        format!("{}/fhir", fhir_examples::launch_on_loopback(rocket))
    })
}

/// The memory server without the browser view.
fn plain_base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let rocket = fhir_examples::memory_server_configured(Default::default(), |s| s);
        format!("{}/fhir", fhir_examples::launch_on_loopback(rocket))
    })
}

/// Chromium, installed with apt (Debian package chromium) when missing, once per test binary;
/// a test that needs it fails, saying why, when it cannot be had.
fn chromium() -> &'static str {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let works = || {
            Command::new(CHROMIUM)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if works() {
            return Ok(());
        }
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let apt = |args: &[&str]| {
            let mut command = if root {
                Command::new("apt-get")
            } else {
                let mut c = Command::new("sudo");
                c.args(["-n", "apt-get"]);
                c
            };
            command
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(args)
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        eprintln!("browser_view: installing chromium with apt-get (once; this takes a while)");
        let install = [
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
        ];
        let installed = apt(&install) || (apt(&["update", "-qq"]) && apt(&install));
        if installed && works() {
            Ok(())
        } else {
            Err(format!(
                "Chromium ({CHROMIUM}) is missing and could not be installed with apt-get \
                 (as root, or with sudo without a password): install the Debian package chromium"
            ))
        }
    });
    if let Err(e) = ready {
        panic!("{e}");
    }
    CHROMIUM
}

/// The DOM of a page as headless Chromium renders it.
fn open(url: &str) -> String {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let chromium = chromium();
    let profile: PathBuf = std::env::temp_dir().join(format!(
        "browser-view-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{chromium} does not start: {e}"));
    // Read both pipes while waiting, so that a full pipe cannot stall Chromium.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for Chromium") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out.join().unwrap_or_default();
    let log = err.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    match status {
        Some(s) if s.success() && !dom.is_empty() => dom,
        Some(s) => panic!("Chromium failed on {url} ({s}):\n{log}"),
        None => panic!("Chromium did not finish {url} within 120 s:\n{log}"),
    }
}

/// The `href` of the first element whose start tag contains `marker`, decoded as the
/// browser reads it.
fn href_after(dom: &str, marker: &str) -> String {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page:\n{dom}"));
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>').unwrap()];
    let (_, rest) = tag
        .split_once("href=\"")
        .unwrap_or_else(|| panic!("no href in {tag}"));
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

fn create(resource_type: &str, body: &str) -> String {
    let reply = send(
        &format!("{}/{resource_type}", base()),
        "POST",
        &[JSON],
        Some(body),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].as_str().unwrap().to_string()
}

fn observation(patient: &str, value: u32) -> String {
    create(
        "Observation",
        &format!(
            r#"{{"resourceType":"Observation","status":"final",
                "code":{{"coding":[{{"system":"http://loinc.org","code":"8867-4"}}],"text":"Heart rate"}},
                "subject":{{"reference":"Patient/{patient}"}},
                "valueQuantity":{{"value":{value},"unit":"beats/minute"}}}}"#
        ),
    )
}

/// A Patient with a narrative that tries to run a script, and two Observations about them.
fn patient_and_observations() -> (String, String, String) {
    let patient = create(
        "Patient",
        r#"{"resourceType":"Patient",
            "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"document.title='pwned'\">Peter <b>Chalmers</b></p><script>document.title='pwned'</script></div>"},
            "name":[{"family":"Chalmers","given":["Peter <script>document.title='pwned'</script>"]}]}"#,
    );
    let first = observation(&patient, 71);
    let second = observation(&patient, 72);
    (patient, first, second)
}

#[test]
fn pages_render_and_their_links_lead_on() {
    let (patient, first, second) = patient_and_observations();

    // A resource: its page, with the reference to its subject as a link.
    let dom = open(&format!("{}/Observation/{first}", base()));
    assert!(
        dom.contains(&format!("<title>Observation/{first}</title>")),
        "{dom}"
    );
    assert!(
        dom.contains("<span class=\"k\">\"valueQuantity\"</span>"),
        "{dom}"
    );
    assert!(dom.contains("<span class=\"n\">71</span>"), "{dom}");
    assert!(dom.contains("class=\"raw-json\""), "{dom}");
    let subject = href_after(&dom, "class=\"ref\"");
    assert_eq!(subject, format!("{}/Patient/{patient}", base()));

    // Following it: the Patient's page, the narrative shown without what would run.
    let dom = open(&subject);
    assert!(
        dom.contains(&format!("<title>Patient/{patient}</title>")),
        "{dom}"
    );
    assert!(
        dom.contains("<div class=\"narrative\"><div><p>Peter <b>Chalmers</b></p></div></div>"),
        "{dom}"
    );
    assert!(!dom.contains("pwned</title>"), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
    assert!(!dom.contains("onclick=\""), "{dom}");
    // The given name's markup is text.
    assert!(
        dom.contains("Peter &lt;script&gt;document.title='pwned'&lt;/script&gt;"),
        "{dom}"
    );

    // A search by pages of one: the next page's link leads to the second match.
    let dom = open(&format!(
        "{}/Observation?subject=Patient/{patient}&_count=1",
        base()
    ));
    assert!(dom.contains("<title>Bundle (searchset)</title>"), "{dom}");
    assert!(dom.contains("<p class=\"total\">2 in all</p>"), "{dom}");
    let on_first = dom.contains(&format!("/Observation/{first}\""));
    let on_second = dom.contains(&format!("/Observation/{second}\""));
    assert!(on_first != on_second, "one match per page:\n{dom}");
    let next = href_after(&dom, "rel=\"next\"");
    assert!(next.starts_with(base()), "{next}");
    assert!(next.contains("_offset=1"), "{next}");
    let dom = open(&next);
    assert!(dom.contains("<title>Bundle (searchset)</title>"), "{dom}");
    let shown = if on_first { &second } else { &first };
    assert!(
        dom.contains(&format!(
            "<a class=\"url\" href=\"{}/Observation/{shown}\">",
            base()
        )),
        "{dom}"
    );
    assert!(
        !dom.contains("rel=\"next\""),
        "the last page has no next:\n{dom}"
    );
    assert!(dom.contains("rel=\"previous\""), "{dom}");
}

#[test]
fn errors_are_pages_with_their_status() {
    let dom = open(&format!("{}/Patient/not-there", base()));
    assert!(dom.contains("<title>404 Not Found</title>"), "{dom}");
    assert!(dom.contains("<td>not-found</td>"), "{dom}");

    let reply = send(
        &format!("{}/Patient/not-there", base()),
        "GET",
        &[("Accept", BROWSER_ACCEPT)],
        None,
    );
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        reply.body.contains("<h1>404 Not Found</h1>"),
        "{}",
        reply.body
    );
}

#[test]
fn pages_run_nothing_and_other_clients_get_fhir() {
    let id = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Raw"}]}"#,
    );
    let url = format!("{}/Patient/{id}", base());
    let page = send(&url, "GET", &[("Accept", BROWSER_ACCEPT)], None);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("Content-Security-Policy").unwrap_or_default();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(page.header("ETag").is_some());
    assert!(!page.body.contains("<script"), "{}", page.body);

    // The page's raw links: FHIR, even from a browser.
    let raw_json = href_after(&page.body, "class=\"raw-json\"");
    let origin = &base()[..base().len() - "/fhir".len()];
    let json = send(
        &format!("{origin}{raw_json}"),
        "GET",
        &[("Accept", BROWSER_ACCEPT)],
        None,
    );
    assert_eq!(json.status, 200);
    assert!(json
        .header("Content-Type")
        .unwrap()
        .starts_with("application/fhir+json"));
    assert_eq!(json.json()["id"], id.as_str());
    let raw_xml = href_after(&page.body, "class=\"raw-xml\"");
    let xml = send(
        &format!("{origin}{raw_xml}"),
        "GET",
        &[("Accept", BROWSER_ACCEPT)],
        None,
    );
    assert_eq!(xml.status, 200);
    assert!(xml
        .header("Content-Type")
        .unwrap()
        .starts_with("application/fhir+xml"));
    assert!(
        xml.body.contains("<Patient xmlns=\"http://hl7.org/fhir\""),
        "{}",
        xml.body
    );

    // Clients that ask for FHIR get it.
    for accept in ["application/fhir+json", "*/*"] {
        let reply = send(&url, "GET", &[("Accept", accept)], None);
        assert!(
            reply
                .header("Content-Type")
                .unwrap()
                .starts_with("application/fhir+json"),
            "{accept}"
        );
    }
}

#[test]
fn without_the_browser_view_html_is_not_acceptable() {
    let reply = send(
        &format!("{}/Patient", plain_base()),
        "POST",
        &[JSON],
        Some(r#"{"resourceType":"Patient","name":[{"family":"Plain"}]}"#),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let url = format!("{}/Patient/{id}", plain_base());
    let refused: Reply = send(&url, "GET", &[("Accept", "text/html")], None);
    assert_eq!(refused.status, 406, "{}", refused.body);
    assert_eq!(refused.json()["resourceType"], "OperationOutcome");
    let json = send(
        &format!("{url}?_format=json"),
        "GET",
        &[("Accept", "text/html")],
        None,
    );
    assert_eq!(json.status, 200, "{}", json.body);
    assert_eq!(json.json()["id"], id.as_str());

    // With the view, `_format=json` wins over `Accept: text/html` too.
    let id = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Formatted"}]}"#,
    );
    let json = send(
        &format!("{}/Patient/{id}?_format=json", base()),
        "GET",
        &[("Accept", "text/html")],
        None,
    );
    assert_eq!(json.status, 200, "{}", json.body);
    assert_eq!(json.json()["id"], id.as_str());
}
