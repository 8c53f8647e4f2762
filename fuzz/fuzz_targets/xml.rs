//! The FHIR XML reader on untrusted bytes (strict), with round-trip properties: what reads
//! writes back as XML (it can: it came from XML) that reads again to an equal value, and goes
//! through JSON unchanged too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fhir_fuzz::xml::<fhir_model::r4::Resource>(data);
    #[cfg(feature = "r5")]
    fhir_fuzz::xml::<fhir_model::r5::Resource>(data);
});
