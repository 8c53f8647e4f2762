//! Every official example becomes index rows with no parameter failing, and a relative
//! reference to a resource type of the version is stored by type and id, never as a URL.

use fhir_store::catalog::Catalog;
use fhir_store::rows::index_rows;
use fhir_tests::{json_resources, package};

fn all_examples<R>(name: &str, version: &str, minimum: usize)
where
    R: fhir_rocket::search::matcher::Searchable
        + fhir_model::FhirResource
        + fhir_model::json::JsonValue,
{
    let catalog = Catalog::of::<R>();
    let files = json_resources(&package(name, version));
    let (mut resources, mut rows, mut failures) = (0, 0, Vec::new());
    let (mut local, mut urls) = (0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(resource) = fhir_model::json::from_str::<R>(&text) else {
            continue;
        };
        resources += 1;
        match index_rows(&resource, &catalog, None) {
            Ok(r) => {
                rows += r.len();
                for reference in &r.references {
                    match (&reference.target_id, &reference.target_url) {
                        (Some(_), None) => local += 1,
                        (None, Some(url)) => {
                            urls += 1;
                            // A relative reference to a type of the version is never a URL.
                            let mut parts = url.split('/');
                            if let (Some(t), Some(_)) = (parts.next(), parts.next()) {
                                assert!(
                                    catalog.resource_type(t).is_none() || url.contains(':'),
                                    "{}: {url} stored as a URL",
                                    path.display()
                                );
                            }
                        }
                        other => panic!("{}: a reference row {other:?}", path.display()),
                    }
                }
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    eprintln!("{name}: {resources} resources, {rows} rows, {local} local references, {urls} URLs");
    assert!(resources >= minimum, "{name}: only {resources} resources");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        rows > resources * 5,
        "{rows} rows for {resources} resources"
    );
    // Many references of the packages are canonicals of the definitions (URLs).
    assert!(local > 1500, "{local} local references, {urls} URLs");
}

#[test]
fn every_r4_example_is_indexed() {
    all_examples::<fhir_model::r4::Resource>("hl7.fhir.r4.examples", "4.0.1", 5000);
}

#[test]
fn every_r5_example_is_indexed() {
    all_examples::<fhir_model::r5::Resource>("hl7.fhir.r5.examples", "5.0.0", 2700);
}
