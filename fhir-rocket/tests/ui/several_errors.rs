use fhir_rocket::model::r4::Patient;
use fhir_rocket::{read, FhirError};

// Every mistake of a function is reported at once, each at its own tokens.
#[read]
fn read_patient(id: u32, version: String) -> Result<Vec<Patient>, FhirError> {
    let _ = (id, version);
    Ok(Vec::new())
}

fn main() {}
