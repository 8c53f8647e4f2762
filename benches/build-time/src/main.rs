//! Parses one Patient and prints its name: the smallest useful program on fhir-model.

use fhir_model::r4::Patient;

const PATIENT: &str = r#"{"resourceType":"Patient","id":"example","name":[{"family":"Chalmers","given":["Peter","James"]}],"birthDate":"1974-12-25"}"#;

fn main() {
    let text = std::env::args().nth(1).map(|path| std::fs::read_to_string(path).expect("readable file"));
    let patient = Patient::from_json(text.as_deref().unwrap_or(PATIENT)).expect("a valid Patient");
    let name = &patient.name[0];
    println!(
        "{} {}",
        name.given.first().and_then(|g| g.value.as_deref()).unwrap_or(""),
        name.family.as_ref().and_then(|f| f.value.as_deref()).unwrap_or("")
    );
}
