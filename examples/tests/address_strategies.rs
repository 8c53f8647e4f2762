//! Server address strategies: every `fullUrl`, paging link, `Location` and the
//! CapabilityStatement's `implementation.url` name the server as the chosen strategy says.
//! Proxy headers are simulated on real HTTP requests.

mod common;

use common::{send, JSON};
use fhir_rocket::AddressStrategy;

fn launch(strategy: AddressStrategy) -> String {
    let rocket = fhir_examples::memory_server_configured(fhir_examples::Store::default(), |s| {
        s.address(strategy)
    });
    format!("{}/fhir", fhir_examples::launch_on_loopback(rocket))
}

const PATIENT: &str = r#"{"resourceType":"Patient","name":[{"family":"Addressed"}]}"#;

/// Creates two patients through `headers` and checks every URL the server writes starts with
/// `expected`.
fn check(base: &str, headers: &[(&str, &str)], expected: &str) {
    let mut all: Vec<(&str, &str)> = vec![JSON];
    all.extend_from_slice(headers);
    for _ in 0..2 {
        let created = send(&format!("{base}/Patient"), "POST", &all, Some(PATIENT));
        assert_eq!(created.status, 201, "{}", created.body);
        let location = created.header("Location").unwrap();
        assert!(
            location.starts_with(&format!("{expected}/Patient/")),
            "{location}"
        );
    }
    let found = send(
        &format!("{base}/Patient?family=addressed&_count=1"),
        "GET",
        headers,
        None,
    )
    .json();
    assert!(
        found["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{expected}/Patient/")),
        "{found}"
    );
    for link in found["link"].as_array().unwrap() {
        let url = link["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{expected}/Patient?")), "{url}");
    }
    let metadata = send(&format!("{base}/metadata"), "GET", headers, None).json();
    assert_eq!(metadata["implementation"]["url"], expected, "{metadata}");
}

#[test]
fn incoming_names_the_request_and_ignores_proxy_headers() {
    let base = launch(AddressStrategy::Incoming);
    check(&base, &[("X-Forwarded-Host", "spoofed.example")], &base);
}

#[test]
fn fixed_names_one_base() {
    let base = launch(AddressStrategy::Fixed("https://fhir.example.org/r4".into()));
    check(&base, &[], "https://fhir.example.org/r4");
}

#[test]
fn trusted_proxy_headers_name_the_public_base() {
    let base = launch(AddressStrategy::TrustedProxy);
    check(
        &base,
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "fhir.example.org"),
            ("X-Forwarded-Prefix", "/api"),
        ],
        "https://fhir.example.org/api/fhir",
    );
    check(
        &base,
        &[(
            "Forwarded",
            "for=192.0.2.1;proto=https;host=public.example:8443",
        )],
        "https://public.example:8443/fhir",
    );
    // Without proxy headers, the request itself.
    check(&base, &[], &base);
}
