//! The server `benches/http.sh` measures: the in-memory server holding 20 Patients, beside
//! bare Rocket routes that return the same bytes as a read and a 20-entry search, which is
//! the framework's own ceiling.

use fhir_examples::Store;
use fhir_rocket::http::searchset;
use fhir_rocket::model::r4::{HumanName, Patient, Resource};
use fhir_rocket::Found;
use rocket::http::ContentType;
use rocket::{get, routes, State};

struct Bare {
    patient: Vec<u8>,
    search: Vec<u8>,
}

#[get("/patient")]
fn bare_patient(bare: &State<Bare>) -> (ContentType, Vec<u8>) {
    (
        ContentType::new("application", "fhir+json"),
        bare.patient.clone(),
    )
}

#[get("/search")]
fn bare_search(bare: &State<Bare>) -> (ContentType, Vec<u8>) {
    (
        ContentType::new("application", "fhir+json"),
        bare.search.clone(),
    )
}

/// With `BENCH_FRONT_END=1`, served through `fhir_rocket::connection` (the timeouts front
/// end the memory server runs behind), both its FHIR and its bare routes.
#[rocket::main]
async fn main() {
    let rocket = rocket();
    let result = if std::env::var("BENCH_FRONT_END").is_ok_and(|v| v == "1") {
        fhir_rocket::connection::launch(rocket)
            .await
            .map_err(|e| e.to_string())
    } else {
        rocket.launch().await.map(|_| ()).map_err(|e| e.to_string())
    };
    if let Err(e) = result {
        eprintln!("bench-server: {e}");
        std::process::exit(1);
    }
}

fn rocket() -> rocket::Rocket<rocket::Build> {
    let store = Store::default();
    let mut patients = Vec::new();
    for i in 0..20 {
        patients.push(
            store.create(Patient {
                name: vec![HumanName {
                    family: Some("Bench".into()),
                    given: vec![format!("Patient{i}").as_str().into()],
                    ..Default::default()
                }],
                birth_date: Some(
                    "1970-01-01"
                        .parse::<fhir_rocket::model::Date>()
                        .expect("a date")
                        .into(),
                ),
                ..Default::default()
            }),
        );
    }
    let port: u16 = std::env::var("ROCKET_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    let base = format!("http://127.0.0.1:{port}/fhir");
    let found = Found {
        paged: None,
        // In the order the search answers them.
        matches: store
            .all::<Patient>()
            .into_iter()
            .map(|p| std::sync::Arc::new(Resource::from(p)))
            .collect(),
        includes: Vec::new(),
        candidates: None,
    };
    let bare = Bare {
        patient: patients[0].to_json().into_bytes(),
        search: searchset(
            fhir_rocket::http::BundleUrl {
                base_url: &base,
                path: "Patient",
                query: "family=bench",
            },
            &found,
            // The server's default page size, as a search without _count gets.
            fhir_rocket::http::PageRequest {
                count: Some(fhir_rocket::Limits::default().default_page_size),
                offset: 0,
                total: None,
                reported: Default::default(),
            },
            &[],
            None,
            false,
        ),
    };
    // BENCH_AUDIT=1: the audit interceptor on every request (its lines to standard error),
    // to measure what an interceptor costs.
    let audit = std::env::var_os("BENCH_AUDIT").is_some_and(|v| v == "1");
    fhir_examples::memory_server_configured(store, |server| {
        if audit {
            server.intercept(fhir_examples::audit::AuditLog::new(
                fhir_examples::audit::AuditSink::Stderr,
            ))
        } else {
            server
        }
    })
    .manage(bare)
    .mount("/bare", routes![bare_patient, bare_search])
}
