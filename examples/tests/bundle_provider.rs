//! A search that returns a `BundleProvider` (HAPI's `IBundleProvider`) over 100,000 matches:
//! the server asks for its size and for the one page a request names, never the rest; the
//! links page through it statelessly. Over real HTTP, counting the resources loaded.

use fhir_rocket::model::r4::Patient;
use fhir_rocket::{providers, search, BundleProvider, FhirError, FhirServer, Paged};
use rocket::State;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// How many Patients were made (loaded), in all, and how often the matches were counted.
#[derive(Default)]
struct Loads(AtomicUsize, AtomicUsize);

/// Patients numbered 0..n, made only when a page asks for them.
struct Numbered {
    n: usize,
    loads: Arc<Loads>,
}

#[rocket::async_trait]
impl BundleProvider<Patient> for Numbered {
    async fn size(&self) -> Result<usize, FhirError> {
        self.loads.1.fetch_add(1, Ordering::SeqCst);
        Ok(self.n)
    }

    async fn estimated_size(&self) -> Result<usize, FhirError> {
        // As a database's statistics would: close, not exact.
        Ok(self.n / 1000 * 1000 + 1000)
    }

    // One query for a page and one more row, as a store answers `_total=none`.
    async fn page_without_size(
        &self,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Patient>, bool), FhirError> {
        let end = start.saturating_add(count + 1).min(self.n);
        let mut page = self.page(start.min(end)..end).await?;
        let more = page.len() > count;
        page.truncate(count);
        Ok((page, more))
    }

    async fn page(&self, range: Range<usize>) -> Result<Vec<Patient>, FhirError> {
        self.loads.0.fetch_add(range.len(), Ordering::SeqCst);
        Ok(range
            .map(|i| Patient {
                id: Some(format!("n{i}").as_str().into()),
                ..Default::default()
            })
            .collect())
    }
}

// It declares an include, which a paged result cannot carry: asking for it is refused.
#[search(include = ["Patient:organization"])]
async fn numbered_patients(
    #[guard] loads: &State<Arc<Loads>>,
) -> Result<Paged<Patient>, FhirError> {
    Ok(Box::new(Numbered {
        n: 100_000,
        loads: loads.inner().clone(),
    }))
}

fn server() -> &'static (String, Arc<Loads>) {
    static SERVER: OnceLock<(String, Arc<Loads>)> = OnceLock::new();
    SERVER.get_or_init(own_server)
}

/// A server of its own, for a test whose counts others must not disturb.
fn own_server() -> (String, Arc<Loads>) {
    let loads = Arc::new(Loads::default());
    let rocket = FhirServer::new("/fhir")
        .mount(providers![numbered_patients])
        .mount_on(rocket::build().manage(loads.clone()));
    let root = fhir_examples::launch_on_loopback(rocket);
    (format!("{root}/fhir"), loads)
}

fn get(url: &str) -> serde_json::Value {
    let reply = ureq::get(url).call().expect("a 200");
    serde_json::from_reader(reply.into_body().into_reader()).unwrap()
}

#[test]
fn page_3000_loads_only_its_own_matches() {
    let (base, loads) = server();
    let before = loads.0.load(Ordering::SeqCst);
    let bundle = get(&format!("{base}/Patient?_count=10&_offset=29990"));
    assert_eq!(loads.0.load(Ordering::SeqCst) - before, 10);
    assert_eq!(bundle["total"], 100_000);
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    assert_eq!(entries[0]["resource"]["id"], "n29990");
    assert_eq!(entries[9]["resource"]["id"], "n29999");
    let link = |relation: &str| {
        bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == relation)
            .map(|l| l["url"].as_str().unwrap().to_string())
    };
    let next = link("next").expect("a next page");
    assert!(next.ends_with("_count=10&_offset=30000"), "{next}");
    assert!(link("previous").unwrap().ends_with("_offset=29980"));
    // Following the link (any server instance could answer it) loads that page alone.
    let before = loads.0.load(Ordering::SeqCst);
    let following = get(&next);
    assert_eq!(following["entry"][0]["resource"]["id"], "n30000");
    assert_eq!(loads.0.load(Ordering::SeqCst) - before, 10);
    // The last page is short; past the end, nothing is loaded.
    let before = loads.0.load(Ordering::SeqCst);
    let last = get(&format!("{base}/Patient?_count=7&_offset=99996"));
    assert_eq!(last["entry"].as_array().unwrap().len(), 4);
    let past = get(&format!("{base}/Patient?_offset=200000"));
    assert!(past.get("entry").is_none());
    assert_eq!(loads.0.load(Ordering::SeqCst) - before, 4);
}

#[test]
fn a_paged_search_with_includes_is_refused() {
    let (base, _) = server();
    let reply = ureq::get(&format!("{base}/Patient?_include=Patient:organization"))
        .call()
        .expect_err("a 400");
    assert!(matches!(reply, ureq::Error::StatusCode(400)), "{reply}");
}

#[test]
fn total_none_and_estimate_page_without_counting() {
    let (base, loads) = &own_server();
    let counted = loads.1.load(Ordering::SeqCst);
    let bundle = get(&format!("{base}/Patient?_count=10&_offset=500&_total=none"));
    assert!(bundle.get("total").is_none(), "{bundle}");
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 10);
    assert_eq!(bundle["entry"][0]["resource"]["id"], "n500");
    let next = bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .expect("a next page");
    assert!(
        next["url"].as_str().unwrap().contains("_offset=510"),
        "{next}"
    );
    // The last page knows it is the last.
    let last = get(&format!(
        "{base}/Patient?_count=10&_offset=99995&_total=none"
    ));
    assert_eq!(last["entry"].as_array().unwrap().len(), 5);
    assert!(!last["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "next"));
    let estimated = get(&format!("{base}/Patient?_count=10&_total=estimate"));
    assert_eq!(estimated["total"], 101_000);
    assert_eq!(
        loads.1.load(Ordering::SeqCst),
        counted,
        "nothing was counted"
    );
    // accurate (as without _total) counts.
    let accurate = get(&format!("{base}/Patient?_count=10&_total=accurate"));
    assert_eq!(accurate["total"], 100_000);
    assert_eq!(loads.1.load(Ordering::SeqCst), counted + 1);
}
