//! The FHIR JSON reader on untrusted bytes, strict and lenient, with round-trip properties:
//! what reads strictly writes back (compact and pretty) to JSON that reads again to an equal
//! value, and writing that value gives the same bytes; what reads leniently writes JSON that
//! reads strictly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fhir_fuzz::json::<fhir_model::r4::Resource>(data);
    #[cfg(feature = "r5")]
    fhir_fuzz::json::<fhir_model::r5::Resource>(data);
});
