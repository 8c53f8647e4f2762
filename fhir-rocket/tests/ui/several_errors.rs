use fhir_rocket::model::r4::Patient;
use fhir_rocket::{read, FhirError, LogicalId};

// Every mistake the macro sees in a function is reported at once, each at its own tokens.
#[read]
fn read_patient(
    id: LogicalId,
    #[guard(strict)] user: String,
    #[guard] #[param("name")] name: String,
    (a, b): (u8, u8),
) -> Result<Vec<Patient>, FhirError> {
    let _ = (id, user, name, a, b);
    Ok(Vec::new())
}

fn main() {}
