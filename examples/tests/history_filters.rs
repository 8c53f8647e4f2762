//! `_since` and `_at` reach only a history provider that takes `HistoryParams`; to one that
//! does not, they are a 400, never every version as if they matched.

mod common;

use common::send;
use fhir_rocket::model::r4::Patient;
use fhir_rocket::{
    history, providers, FhirError, FhirServer, HistoryEntry, HistoryMethod, LogicalId,
};
use std::sync::OnceLock;

/// Every version there is, with no way to filter them.
#[history]
async fn unfiltered_history(id: LogicalId) -> Result<Vec<HistoryEntry<Patient>>, FhirError> {
    Ok(vec![HistoryEntry {
        resource_type: "Patient",
        id: id.to_string(),
        version_id: "1".into(),
        last_updated: Some("2020-01-01T00:00:00Z".parse().unwrap()),
        method: HistoryMethod::Create,
        resource: Some(Patient {
            id: Some(id.as_str().into()),
            ..Default::default()
        }),
    }])
}

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let rocket = FhirServer::new("/fhir")
            .mount(providers![unfiltered_history])
            .mount_on(rocket::build());
        format!("{}/fhir", fhir_examples::launch_on_loopback(rocket))
    })
}

#[test]
fn filters_the_provider_cannot_apply_are_refused() {
    let all = send(&format!("{}/Patient/p1/_history", base()), "GET", &[], None);
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.json()["total"], 1);
    for filter in ["_since=2025-01-01T00:00:00Z", "_at=2019"] {
        let reply = send(
            &format!("{}/Patient/p1/_history?{filter}", base()),
            "GET",
            &[],
            None,
        );
        assert_eq!(reply.status, 400, "{filter}: {}", reply.body);
        assert!(reply
            .diagnostics()
            .contains("does not evaluate _since or _at"));
    }
    // Paging is the server's own.
    let paged = send(
        &format!("{}/Patient/p1/_history?_count=1", base()),
        "GET",
        &[],
        None,
    );
    assert_eq!(paged.status, 200, "{}", paged.body);
}
