//! `fhir load` with real Synthea patient Bundles, in-process and against `fhir serve`.

use fhir_tests::serve::FhirServe;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fhir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhir"))
        .args(args)
        .output()
        .expect("the fhir binary runs")
}

fn synthea_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/synthea")
}

fn synthea_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(synthea_dir())
        .expect("tests/data/synthea")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    files
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fhir-load-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `fhir serve` as a child process, killed when the test ends, passed or not.
struct Server(FhirServe);

impl Server {
    fn start(dir: &Path) -> Server {
        Server(FhirServe::start(
            env!("CARGO_BIN_EXE_fhir"),
            dir,
            &["--db", "y.db"],
            &[],
        ))
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/{path}", self.0.base);
        let text = ureq::get(&url)
            .header("Accept", "application/fhir+json")
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .into_body()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn status(&self, path: &str) -> u16 {
        let url = format!("{}/{path}", self.0.base);
        match ureq::get(&url).call() {
            Ok(response) => response.status().as_u16(),
            Err(ureq::Error::StatusCode(status)) => status,
            Err(e) => panic!("GET {url}: {e}"),
        }
    }

    /// Every resource of a search, following the next links.
    fn search_all(&self, path: &str) -> Vec<Value> {
        let mut resources = Vec::new();
        let mut page = self.get(path);
        loop {
            for entry in page["entry"].as_array().into_iter().flatten() {
                resources.push(entry["resource"].clone());
            }
            let next = page["link"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["relation"] == "next")
                .and_then(|l| l["url"].as_str())
                .map(str::to_string);
            match next {
                Some(url) => {
                    let relative = url
                        .strip_prefix(&format!("{}/", self.0.base))
                        .unwrap_or_else(|| panic!("next link {url} outside {}", self.0.base))
                        .to_string();
                    page = self.get(&relative);
                }
                None => return resources,
            }
        }
    }
}

#[test]
fn loads_the_synthea_bundles_into_a_database() {
    let dir = temp_dir("db");
    let expected: usize = synthea_files()
        .iter()
        .map(|f| read_json(f)["entry"].as_array().unwrap().len())
        .sum();
    let db = dir.join("x.db");
    // Both files at once: the senders' counts and failures add up to the summary.
    let out = fhir(&[
        "load",
        "--concurrency",
        "2",
        "--db",
        db.to_str().unwrap(),
        synthea_dir().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "2 files, 2 bundles sent, {expected} resources loaded, 0 failures"
        )),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The resource types whose subject or patient puts them in the Patient compartment, as
/// Synthea writes them.
const COMPARTMENT_TYPES: [&str; 9] = [
    "Observation",
    "Encounter",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "Immunization",
    "DiagnosticReport",
    "Claim",
    "ExplanationOfBenefit",
];

#[test]
fn a_loaded_patient_has_every_resource_of_its_bundle_in_its_compartment() {
    let dir = temp_dir("serve");
    let server = Server::start(&dir);
    let file = &synthea_files()[0];
    let out = fhir(&[
        "load",
        "--quiet",
        "--server",
        &server.0.base,
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let bundle = read_json(file);
    let entries = bundle["entry"].as_array().unwrap();
    let patient_entry = entries
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Patient")
        .expect("a Patient");
    let patient_url = patient_entry["fullUrl"].as_str().unwrap();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for entry in entries {
        let resource = &entry["resource"];
        let kind = resource["resourceType"].as_str().unwrap();
        let refers = ["subject", "patient"]
            .iter()
            .any(|field| resource[field]["reference"] == patient_url);
        if refers {
            *expected.entry(kind.to_string()).or_default() += 1;
        }
    }
    for kind in COMPARTMENT_TYPES {
        expected.entry(kind.to_string()).or_default();
    }

    // The server assigned its own id; Synthea's identifier finds the Patient again.
    let identifier = patient_entry["resource"]["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["system"] == "https://github.com/synthetichealth/synthea")
        .expect("Synthea's identifier");
    let found = server.search_all(&format!(
        "Patient?identifier={}|{}",
        identifier["system"].as_str().unwrap(),
        identifier["value"].as_str().unwrap()
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    let id = found[0]["id"].as_str().unwrap();

    let compartment = server.search_all(&format!("Patient/{id}/*?_count=1000"));
    let mut actual: BTreeMap<String, usize> = BTreeMap::new();
    for resource in &compartment {
        *actual
            .entry(resource["resourceType"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    eprintln!("compartment of Patient/{id}: expected {expected:?}, answered {actual:?}");
    for (kind, count) in &expected {
        assert_eq!(
            actual.get(kind).copied().unwrap_or(0),
            *count,
            "{kind} in Patient/{id}/*: expected {expected:?}, answered {actual:?}"
        );
    }
    // Each resource once: a compartment search is not a union with repeats.
    let mut keys: Vec<String> = compartment
        .iter()
        .map(|r| format!("{}/{}", r["resourceType"], r["id"]))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), compartment.len());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_ndjson_line_fails_alone() {
    let dir = temp_dir("ndjson");
    let server = Server::start(&dir);
    let file = dir.join("bad.ndjson");
    let good = |id: &str| {
        format!(
            r#"{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"text":"weight"}}}}"#
        )
    };
    let lines = [
        r#"{"resourceType":"Patient","id":"p1","name":[{"family":"Loaded"}]}"#.to_string(),
        r#"{"resourceType":"Observation","id":"broken","status":12,"code":{"text":"weight"}}"#
            .to_string(),
        good("o1"),
        "{not json".to_string(),
        String::new(),
        good("o2"),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = fhir(&[
        "load",
        "--server",
        &server.0.base,
        "--batch-size",
        "2",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("4 bundles sent, 3 resources loaded, 2 failures"),
        "{}",
        text(&out)
    );
    let line = |n: usize| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{}:{n}: ", file.display())))
            .unwrap_or_else(|| panic!("no failure of line {n}\n{}", text(&out)))
            .to_string()
    };
    assert!(line(2).contains("status"), "{}", text(&out));
    assert!(line(4).contains("not JSON"), "{}", text(&out));
    assert_eq!(server.status("Patient/p1"), 200);
    assert_eq!(server.status("Observation/o1"), 200);
    assert_eq!(server.status("Observation/o2"), 200);
    assert_eq!(server.status("Observation/broken"), 404);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_server_is_named() {
    let url = format!("http://127.0.0.1:{}/fhir", free_port());
    let file = &synthea_files()[0];
    let out = fhir(&["load", "--server", &url, file.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&url),
        "{}",
        text(&out)
    );
}
