//! An in-memory FHIR server for Patients and Observations: read, vread, search, create,
//! update and delete, with versions.
//!
//! ```sh
//! FHIR_AUDIT=1 cargo run --release --bin memory-server    # with an audit line per request
//! curl -X POST -H 'Content-Type: application/fhir+json' \
//!      -d '{"resourceType":"Patient","name":[{"family":"Smith"}]}' \
//!      http://127.0.0.1:8000/fhir/Patient
//! # then open http://127.0.0.1:8000/fhir/Patient in a browser
//! ```

#[rocket::main]
async fn main() {
    // In place of `rocket.launch()`: closes idle and slow connections (fhir_rocket::connection).
    // A browser gets HTML pages to click through (fhir_rocket::BrowserView).
    // With FHIR_AUDIT=1, one audit line per request on standard error.
    let audit = std::env::var_os("FHIR_AUDIT").is_some_and(|v| v == "1");
    let server = fhir_examples::memory_server_configured(Default::default(), |server| {
        let server = server.intercept(fhir_rocket::BrowserView::new());
        if audit {
            server.intercept(fhir_examples::audit::AuditLog::new(
                fhir_examples::audit::AuditSink::Stderr,
            ))
        } else {
            server
        }
    });
    if let Err(e) = fhir_rocket::connection::launch(server).await {
        eprintln!("memory-server: {e}");
        std::process::exit(1);
    }
}
