//! An in-memory FHIR server for Patients and Observations: read, vread, search, create,
//! update and delete, with versions.
//!
//! ```sh
//! cargo run --release --bin memory-server
//! curl -X POST -H 'Content-Type: application/fhir+json' \
//!      -d '{"resourceType":"Patient","name":[{"family":"Smith"}]}' \
//!      http://127.0.0.1:8000/fhir/Patient
//! ```

#[rocket::main]
async fn main() {
    // In place of `rocket.launch()`: closes idle and slow connections (fhir_rocket::connection).
    if let Err(e) = fhir_rocket::connection::launch(fhir_examples::memory_server()).await {
        eprintln!("memory-server: {e}");
        std::process::exit(1);
    }
}
