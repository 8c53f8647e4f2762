use fhir_rocket::model::r4::Patient;
use fhir_rocket::search::{StringParam, TokenParam};
use fhir_rocket::{search, FhirError};

#[search]
async fn search_patients(family: StringParam, gender: Option<StringParam>, birthdate: TokenParam) -> Result<Vec<Patient>, FhirError> {
    let _ = (family, gender, birthdate);
    Ok(Vec::new())
}

fn main() {}
