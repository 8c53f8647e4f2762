//! The router on untrusted requests: the first byte picks the method, the rest is a path and
//! query (`Patient/1?_format=json`). Properties: no panic; a routed request names a resource
//! type shaped like one and ids that follow FHIR's id rule.
#![no_main]

use fhir_rocket::route::{is_valid_id, route, split_url, FhirRequest, Method, Target};
use libfuzzer_sys::fuzz_target;

const METHODS: [Method; 6] = [
    Method::Get,
    Method::Head,
    Method::Post,
    Method::Put,
    Method::Delete,
    Method::Patch,
];

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Ok(url) = std::str::from_utf8(rest) else {
        return;
    };
    let method = METHODS[*first as usize % METHODS.len()];
    let (path, query) = split_url(url);
    let Ok(request) = route(method, path, query) else {
        return;
    };
    if let Some(t) = request.resource_type() {
        assert!(t.starts_with(|c: char| c.is_ascii_uppercase()), "{request:?}");
    }
    let id = match &request {
        FhirRequest::Read { id, .. }
        | FhirRequest::Update { target: Target::Id(id), .. }
        | FhirRequest::Patch { target: Target::Id(id), .. }
        | FhirRequest::Delete { target: Target::Id(id), .. } => Some(id),
        FhirRequest::VRead { id, version, .. } => {
            assert!(is_valid_id(version), "{request:?}");
            Some(id)
        }
        _ => None,
    };
    if let Some(id) = id {
        assert!(is_valid_id(id), "{request:?}");
    }
});
