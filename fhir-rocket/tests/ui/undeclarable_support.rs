use fhir_rocket::model::r4::Observation;
use fhir_rocket::search::{DateParam, ReferenceParam, TokenParam};
use fhir_rocket::{search, FhirError};

// What a search declares it evaluates is checked against the definitions: modifiers of the
// parameter's type, chains to the types a reference may point to, sorts by its parameters.
#[search(sort = ["date", "nonsense"])]
async fn search_observations(
    #[modifiers("not", "exact")] code: Option<TokenParam>,
    #[chains("name", "Medication.code", "nonsense")] subject: Option<ReferenceParam>,
    #[chains("name")] date: Option<DateParam>,
    #[chains("organization.name")] performer: Option<ReferenceParam>,
) -> Result<Vec<Observation>, FhirError> {
    let _ = (code, subject, date, performer);
    Ok(Vec::new())
}

fn main() {}
