//! `_summary` and `_elements` (<https://hl7.org/fhir/search.html#summary>): what a request
//! asks for, checked, and the resources of the response written in part, tagged
//! `SUBSETTED`. The kit applies them to every read, vread, search and history response, so
//! no provider has to; the filter itself is fhir-model's ([`fhir_model::json::Subset`]),
//! driven by each element's flags in the definitions.

use crate::error::FhirError;
use crate::search::{Query, SummaryMode};
use crate::version_model::ServerModel;
use fhir_model::json::{JsonWriter, Subset, SubsetMode};

/// What a request asks of the resources of its response.
#[derive(Clone, Debug)]
pub(crate) enum Requested {
    /// Every element (no `_summary`, `_summary=false`).
    Whole,
    /// `_summary=count`: the number of matches alone.
    Count,
    /// A part of each resource.
    Part(Subset),
}

impl Requested {
    /// The subset to write resources with, if any.
    pub(crate) fn subset(&self) -> Option<&Subset> {
        match self {
            Requested::Part(subset) => Some(subset),
            _ => None,
        }
    }
}

/// The subset `_summary` and `_elements` ask for. `resource_type` is the one type of the
/// response, when there is one: `_elements` must then name its elements.
pub(crate) fn requested<R: ServerModel>(
    summary: Option<SummaryMode>,
    elements: &[String],
    resource_type: Option<&str>,
) -> Result<Requested, FhirError> {
    let table = R::xml_table();
    let mode = match (summary, elements.is_empty()) {
        (None | Some(SummaryMode::False), true) => return Ok(Requested::Whole),
        (None | Some(SummaryMode::False), false) => {
            SubsetMode::Elements(checked_elements::<R>(elements, resource_type)?.into())
        }
        (Some(_), false) => {
            return Err(FhirError::bad_request(
                "_summary and _elements ask for different subsets: send one of them",
            ))
        }
        (Some(SummaryMode::Count), true) => return Ok(Requested::Count),
        (Some(SummaryMode::True), true) => SubsetMode::Summary,
        (Some(SummaryMode::Text), true) => SubsetMode::Text,
        (Some(SummaryMode::Data), true) => SubsetMode::Data,
    };
    Ok(Requested::Part(Subset::new(table, mode)))
}

/// `_summary` and `_elements` of `query` (other parameters are not looked at), as
/// [`requested`] takes them.
pub(crate) fn requested_in<R: ServerModel>(
    query: &Query,
    resource_type: Option<&str>,
) -> Result<Requested, FhirError> {
    let mut subset_params: Query = query
        .params()
        .iter()
        .filter(|p| p.name == "_summary" || p.name == "_elements")
        .cloned()
        .collect();
    if subset_params.is_empty() {
        return Ok(Requested::Whole);
    }
    let result = subset_params
        .take_result_params()
        .map_err(|e| FhirError::bad_request(e.to_string()))?;
    requested::<R>(result.summary, &result.elements, resource_type)
}

/// The subset a read or vread asks for in its raw query: `_summary=count` is for searches.
pub(crate) fn read_subset<R: ServerModel>(
    raw_query: &str,
    resource_type: &str,
) -> Result<Option<Subset>, FhirError> {
    // However the underscore is encoded.
    if !raw_query.contains("summary") && !raw_query.contains("elements") {
        return Ok(None);
    }
    let query =
        crate::search::parse_query(raw_query).map_err(|e| FhirError::bad_request(e.to_string()))?;
    match requested_in::<R>(&query, Some(resource_type))? {
        Requested::Whole => Ok(None),
        Requested::Count => Err(FhirError::bad_request(
            "_summary=count is for searches: a read answers one resource",
        )),
        Requested::Part(subset) => Ok(Some(subset)),
    }
}

/// The `_elements` names as the filter compares them: without their type (`Patient.name`),
/// a choice by its element (`valueQuantity` is `value`). For one resource type every name
/// must be one of its elements.
fn checked_elements<R: ServerModel>(
    elements: &[String],
    resource_type: Option<&str>,
) -> Result<Vec<String>, FhirError> {
    let table = R::xml_table();
    let Some((resource_type, ty)) = resource_type.and_then(|t| Some((t, table.resource(t)?)))
    else {
        return Ok(elements.to_vec());
    };
    elements
        .iter()
        .map(|asked| {
            let path = match asked.strip_prefix(resource_type) {
                Some(rest) if rest.starts_with('.') => &rest[1..],
                _ => asked.as_str(),
            };
            let top = path.split('.').next().unwrap_or(path);
            let element = table
                .element(ty, top)
                .map(|(_, e)| e)
                .or_else(|| table.element_for_xml_name(ty, top).map(|(_, e, _)| e));
            match element {
                Some(e) => Ok(e.name.to_string()),
                None => Err(FhirError::bad_request(format!(
                    "_elements: '{asked}' is not an element of {resource_type}"
                ))),
            }
        })
        .collect()
}

/// Writes `resource` whole, or, with a subset, in part and tagged `SUBSETTED` (the writer
/// adds the tag as it writes `meta`: no copy of the resource is made).
pub(crate) fn write_resource<R: ServerModel>(
    w: &mut JsonWriter,
    resource: &R,
    subset: Option<&Subset>,
) {
    match subset {
        None => resource.write_json(w),
        Some(subset) => w.write_subset(resource, subset),
    }
}

/// `resource` as JSON, whole or in part.
pub(crate) fn to_vec<R: ServerModel>(
    resource: &R,
    subset: Option<&Subset>,
    pretty: bool,
) -> Vec<u8> {
    match subset {
        None => fhir_model::json::to_vec(resource, pretty),
        Some(subset) => fhir_model::json::to_vec_subset(resource, subset, pretty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir_model::r4::Resource;

    fn asked(
        summary: Option<SummaryMode>,
        elements: &[&str],
        t: Option<&str>,
    ) -> Result<Requested, FhirError> {
        let elements: Vec<String> = elements.iter().map(|e| e.to_string()).collect();
        requested::<Resource>(summary, &elements, t)
    }

    #[test]
    fn modes() {
        assert!(matches!(asked(None, &[], None), Ok(Requested::Whole)));
        assert!(matches!(
            asked(Some(SummaryMode::False), &[], None),
            Ok(Requested::Whole)
        ));
        assert!(matches!(
            asked(Some(SummaryMode::Count), &[], None),
            Ok(Requested::Count)
        ));
        let Ok(Requested::Part(s)) = asked(Some(SummaryMode::Text), &[], None) else {
            panic!("text is a subset")
        };
        assert_eq!(s.mode(), &SubsetMode::Text);
    }

    #[test]
    fn elements_are_checked_against_the_type() {
        let Ok(Requested::Part(s)) = asked(
            None,
            &["Observation.valueQuantity", "code", "subject.reference"],
            Some("Observation"),
        ) else {
            panic!("elements of Observation")
        };
        let SubsetMode::Elements(names) = s.mode() else {
            panic!("an _elements subset")
        };
        assert_eq!(&names[..], ["value", "code", "subject"]);
        let e = asked(None, &["nonsense"], Some("Observation")).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(
            e.message()
                .contains("'nonsense' is not an element of Observation"),
            "{}",
            e.message()
        );
        // Searches of several types cannot tell: the names are kept as asked.
        assert!(asked(None, &["nonsense"], None).is_ok());
    }

    #[test]
    fn summary_and_elements_together_are_refused() {
        let e = asked(Some(SummaryMode::True), &["code"], None).unwrap_err();
        assert_eq!(e.status(), 400);
    }
}
