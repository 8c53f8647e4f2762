//! Every JSON resource of the official R4, R4B and R5 examples validates with no error from the rules of
//! `fhir_model::validate`, FHIRPath invariants included, but the known errors of the examples
//! themselves, listed here; each listed error must still be found, so that the list stays
//! exact.

use fhir_model::validate::{Severity, ValidationModel, Validator};
use fhir_tests::{json_resources, package};

/// (file, rule, path, message) of every error in the JSON resources of a package.
fn errors<R: ValidationModel>(
    name: &str,
    version: &str,
) -> (usize, Vec<(String, String, String, String)>) {
    let validator = Validator::of::<R>();
    let files = json_resources(&package(name, version));
    let mut found = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
        for issue in validator.json(&text).issues {
            if issue.severity <= Severity::Error {
                found.push((
                    file.clone(),
                    issue.rule.to_string(),
                    issue.path,
                    issue.message,
                ));
            }
        }
    }
    (files.len(), found)
}

/// A known error of an official example: file (a prefix), rule, path (a prefix) and a part of
/// the message.
type Known = (&'static str, &'static str, &'static str, &'static str);

/// Logical models of R4 and R4B that are not abstract and have no baseDefinition (sdf-4).
const LOGICAL_MODELS_WITHOUT_BASE: &[Known] = &[
    (
        "StructureDefinition-Definition.json",
        "sdf-4",
        "StructureDefinition",
        "SHALL be a baseDefinition",
    ),
    (
        "StructureDefinition-Event.json",
        "sdf-4",
        "StructureDefinition",
        "SHALL be a baseDefinition",
    ),
    (
        "StructureDefinition-FiveWs.json",
        "sdf-4",
        "StructureDefinition",
        "SHALL be a baseDefinition",
    ),
    (
        "StructureDefinition-Request.json",
        "sdf-4",
        "StructureDefinition",
        "SHALL be a baseDefinition",
    ),
];

/// The errors of the official R4 examples (each checked by hand against the specification).
const R4_KNOWN: &[Known] = &[
    // Narratives that hold nothing but whitespace (txt-2).
    (
        "ActivityDefinition-blood-tubes-supply.json",
        "txt-2",
        "ActivityDefinition.text.div",
        "no content",
    ),
    (
        "ActivityDefinition-heart-valve-replacement.json",
        "txt-2",
        "ActivityDefinition.text.div",
        "no content",
    ),
    (
        "EventDefinition-example.json",
        "txt-2",
        "EventDefinition.text.div",
        "no content",
    ),
    (
        "Questionnaire-zika-virus-exposure-assessment.json",
        "txt-2",
        "Questionnaire.text.div",
        "no content",
    ),
    // The package's own ImplementationGuides lack the required name and status.
    (
        "ImplementationGuide-fhir.json",
        "min",
        "ImplementationGuide.name",
        "is required",
    ),
    (
        "ImplementationGuide-fhir.json",
        "min",
        "ImplementationGuide.status",
        "is required",
    ),
    (
        "ig-r4.json",
        "min",
        "ImplementationGuide.name",
        "is required",
    ),
    (
        "ig-r4.json",
        "min",
        "ImplementationGuide.status",
        "is required",
    ),
    // Nested questionnaire items without their required linkId.
    (
        "Questionnaire-qs1.json",
        "min",
        "Questionnaire.item[0].item[",
        ".linkId is required",
    ),
    // Search parameters on extensions without the required base.
    (
        "SearchParameter-codesystem-extensions-",
        "min",
        "SearchParameter.base",
        "is required",
    ),
    (
        "SearchParameter-valueset-extensions-",
        "min",
        "SearchParameter.base",
        "is required",
    ),
    // An id of 67 characters (at most 64).
    (
        "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
        "format",
        "SearchParameter.id",
        "is not a valid id",
    ),
    // Entries with the same fullUrl and no versionId (bdl-7).
    (
        "Bundle-dataelements.json",
        "bdl-7",
        "Bundle",
        "FullUrl must be unique",
    ),
];

fn check(
    name: &str,
    version: &str,
    minimum: usize,
    found: (usize, Vec<(String, String, String, String)>),
    known: &[Known],
) {
    let (count, errors) = found;
    assert!(count >= minimum, "{name}@{version}: only {count} resources");
    let matches = |k: &Known, e: &(String, String, String, String)| {
        e.0.starts_with(k.0) && e.1 == k.1 && e.2.starts_with(k.2) && e.3.contains(k.3)
    };
    let unexpected: Vec<String> = errors
        .iter()
        .filter(|e| !known.iter().any(|k| matches(k, e)))
        .map(|e| format!("{}: {} {} [{}]", e.0, e.2, e.3, e.1))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{name}@{version}: {} unexpected errors:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    let stale: Vec<&Known> = known
        .iter()
        .filter(|k| !errors.iter().any(|e| matches(k, e)))
        .collect();
    assert!(
        stale.is_empty(),
        "{name}@{version}: known errors no longer found: {stale:#?}"
    );
}

#[test]
fn r4_examples_validate() {
    check(
        "hl7.fhir.r4.examples",
        "4.0.1",
        5300,
        errors::<fhir_model::r4::Resource>("hl7.fhir.r4.examples", "4.0.1"),
        &[R4_KNOWN, LOGICAL_MODELS_WITHOUT_BASE].concat(),
    );
}

/// The errors of the official R4B examples.
const R4B_KNOWN: &[Known] = &[
    (
        "SearchParameter-codesystem-extensions-",
        "min",
        "SearchParameter.base",
        "is required",
    ),
    (
        "SearchParameter-valueset-extensions-",
        "min",
        "SearchParameter.base",
        "is required",
    ),
    (
        "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
        "format",
        "SearchParameter.id",
        "is not a valid id",
    ),
    // A code system and value set without the required status, also in the Bundle of all
    // value sets.
    (
        "CodeSystem-catalogType.json",
        "min",
        "CodeSystem.status",
        "is required",
    ),
    (
        "ValueSet-catalogType.json",
        "min",
        "ValueSet.status",
        "is required",
    ),
    (
        "Bundle-valuesets.json",
        "min",
        "Bundle.entry[135].resource.status",
        "is required",
    ),
    (
        "Bundle-valuesets.json",
        "min",
        "Bundle.entry[1045].resource.status",
        "is required",
    ),
    // Narrower maps without the required comment (cmd-1).
    (
        "Bundle-conceptmaps.json",
        "cmd-1",
        "Bundle.entry[",
        "SHALL be some comments",
    ),
    (
        "ConceptMap-cm-administrative-gender-v2.json",
        "cmd-1",
        "ConceptMap.group[0]",
        "SHALL be some comments",
    ),
    (
        "ConceptMap-cm-contact-point-use-v2.json",
        "cmd-1",
        "ConceptMap.group[0]",
        "SHALL be some comments",
    ),
    (
        "ConceptMap-cm-name-use-v2.json",
        "cmd-1",
        "ConceptMap.group[0]",
        "SHALL be some comments",
    ),
    // Bindings with neither a value set nor a description (sdf-10).
    (
        "StructureDefinition-Definition.json",
        "sdf-10",
        "StructureDefinition.snapshot.element[",
        "binding reference or a description",
    ),
    (
        "StructureDefinition-Event.json",
        "sdf-10",
        "StructureDefinition.snapshot.element[",
        "binding reference or a description",
    ),
    (
        "StructureDefinition-Request.json",
        "sdf-10",
        "StructureDefinition.snapshot.element[",
        "binding reference or a description",
    ),
    // The code indicated-only-before twice in one code system, also in the Bundle (csd-1).
    (
        "CodeSystem-therapy-relationship-type.json",
        "csd-1",
        "CodeSystem",
        "codes SHALL be unique",
    ),
    (
        "Bundle-valuesets.json",
        "csd-1",
        "Bundle.entry[526].resource",
        "codes SHALL be unique",
    ),
    // Repeated linkIds (que-2).
    (
        "Questionnaire-qs1.json",
        "que-2",
        "Questionnaire",
        "must be unique",
    ),
];

/// The errors of the official R5 examples.
const R5_KNOWN: &[Known] = &[
    // An identifier with nothing but an id (ele-1).
    (
        "Medication-med0301.json",
        "ele-1",
        "Medication.identifier[0]",
        "must have a @value or children",
    ),
    // The generated questionnaires repeat linkIds such as `CareTeam.participant.coverage[x]._null` (que-2).
    (
        "Questionnaire-qgen-",
        "que-2",
        "Questionnaire",
        "must be unique",
    ),
    // Logical models with a baseDefinition and no derivation (sdf-27).
    (
        "StructureDefinition-Definition.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-Event.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-FiveWs.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-Participant.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-ParticipantContactable.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-ParticipantLiving.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-Product.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-Publishable.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-Request.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
    (
        "StructureDefinition-Shareable.json",
        "sdf-27",
        "StructureDefinition",
        "must be a derivation",
    ),
];

#[test]
fn r4b_examples_validate() {
    check(
        "hl7.fhir.r4b.examples",
        "4.3.0",
        2800,
        errors::<fhir_model::r4b::Resource>("hl7.fhir.r4b.examples", "4.3.0"),
        &[R4B_KNOWN, LOGICAL_MODELS_WITHOUT_BASE].concat(),
    );
}

#[test]
fn r5_examples_validate() {
    check(
        "hl7.fhir.r5.examples",
        "5.0.0",
        2800,
        errors::<fhir_model::r5::Resource>("hl7.fhir.r5.examples", "5.0.0"),
        R5_KNOWN,
    );
}
