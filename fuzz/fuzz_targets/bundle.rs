//! Batch and transaction processing on untrusted bytes: each input is POSTed to the base of
//! the in-memory example server (through Rocket's local client, so routing, body reading,
//! every entry's routing and execution, reference replacement and rollback all run), as JSON
//! or, when it starts with `<`, as XML. Properties: no panic (Rocket would answer it with
//! 500), no 5xx answer at all, and every answer is a FHIR resource of the version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket::http::{ContentType, Status};
use rocket::local::blocking::Client;
use std::cell::RefCell;
use std::mem::ManuallyDrop;

thread_local! {
    /// One server, started again every 20,000 inputs so that what the inputs stored does not
    /// grow without bound. Never dropped at thread exit: the client's drop needs the Tokio
    /// context, which is gone by then.
    static SERVER: RefCell<(usize, Option<ManuallyDrop<Client>>)> = const { RefCell::new((0, None)) };
}

fn post(data: &[u8]) -> (Status, Vec<u8>) {
    SERVER.with(|server| {
        let mut server = server.borrow_mut();
        if server.1.is_none() || server.0 >= 20_000 {
            if let Some(mut old) = server.1.take() {
                // SAFETY: taken out of the slot, so dropped once and never used again.
                unsafe { ManuallyDrop::drop(&mut old) };
            }
            let rocket = fhir_examples::memory_server()
                .configure(rocket::Config::figment().merge(("log_level", "off")));
            let client = Client::untracked(rocket).expect("the server starts");
            server.1 = Some(ManuallyDrop::new(client));
            server.0 = 0;
        }
        server.0 += 1;
        let client = server.1.as_ref().unwrap();
        let content_type = if data.first() == Some(&b'<') {
            ContentType::new("application", "fhir+xml")
        } else {
            ContentType::new("application", "fhir+json")
        };
        let response = client.post("/fhir").header(content_type).body(data).dispatch();
        let status = response.status();
        (status, response.into_bytes().unwrap_or_default())
    })
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = post(data);
    assert!(status.code < 500, "{status}: {}", String::from_utf8_lossy(&body));
    // Read without the memory bound meant for request bodies: an answer (a search of everything
    // the earlier inputs stored) may be many small resources.
    let unbounded = fhir_model::json::ReadOptions {
        max_memory_factor: 0,
        ..fhir_model::json::ReadOptions::STRICT
    };
    fhir_model::json::from_slice_with::<fhir_model::r4::Resource>(&body, unbounded)
        .unwrap_or_else(|e| panic!("the answer is not an R4 resource: {e}"));
});
