//! JSON Patch on untrusted input: the input is a resource and a patch separated by the first
//! NUL byte (only a patch, applied to a small Patient, when there is none). The patch is parsed,
//! applied to the untyped document (all or nothing: a failed patch leaves it unchanged; a
//! patched document writes and reads back equal), and applied to the typed resource as a
//! `#[patch]` provider does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fhir_fuzz::patch(data));
