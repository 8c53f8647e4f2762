//! Validation: `$validate` at type and instance level (modes create, update and delete), and
//! the check of every created and updated resource, rejected with 422 and an OperationOutcome
//! listing each issue with its `expression` when invalid (unless the server turned it off).

use super::{Answer, Body, Engine};
use crate::error::{FhirError, Issue};
use crate::provider::Interaction;
use crate::search::Query;
use crate::version_model::ServerModel;
use fhir_model::json::Value;
use fhir_model::validate::{Report, Severity, Validator};

/// The issue of the kit's rejection for each issue of a report.
fn issue_of(issue: &fhir_model::validate::Issue) -> Issue {
    Issue::new(issue.severity.as_str(), issue.code, issue.message.clone()).at(issue.path.clone())
}

/// The 422 of an invalid resource: the first error is the error's own issue, every other
/// issue comes beside it.
pub(crate) fn rejection(report: &Report) -> FhirError {
    let first = report
        .errors()
        .next()
        .map(|i| (i.code, i.message.clone(), i.path.clone()));
    let (code, message, path) =
        first.unwrap_or(("invalid", "the resource is not valid".into(), String::new()));
    let mut error = FhirError::new(422, code, message);
    if !path.is_empty() {
        error = error.at(path);
    }
    let mut skipped = false;
    for issue in &report.issues {
        if !skipped && matches!(issue.severity, Severity::Error | Severity::Fatal) {
            skipped = true;
            continue;
        }
        error = error.with_issue(issue_of(issue));
    }
    error
}

/// The inputs of `$validate`.
#[derive(Default)]
struct Inputs {
    resource: Option<Value>,
    mode: Option<String>,
    profile: Option<String>,
}

impl Inputs {
    /// From the query, then from the body: the resource itself, or a Parameters resource with
    /// `resource`, `mode` and `profile` (a Parameters resource is the input unless the
    /// operation is on Parameters and it has no `resource` parameter).
    fn read(query: &Query, body: Option<Value>, resource_type: &str) -> Inputs {
        let mut inputs = Inputs::default();
        for p in query.params() {
            match p.name.as_str() {
                "mode" => inputs.mode = Some(p.value.clone()),
                "profile" => inputs.profile = Some(p.value.clone()),
                _ => {}
            }
        }
        let Some(body) = body else {
            return inputs;
        };
        let parameters = body.get("resourceType").and_then(Value::as_str) == Some("Parameters");
        let items = match body.get("parameter") {
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        let named = |name: &str| {
            items
                .iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        };
        if !parameters || (resource_type == "Parameters" && named("resource").is_none()) {
            inputs.resource = Some(body);
            return inputs;
        }
        let text = |p: &Value, keys: &[&str]| {
            keys.iter()
                .find_map(|k| p.get(k).and_then(Value::as_str))
                .map(str::to_string)
        };
        if let Some(p) = named("mode") {
            inputs.mode = text(p, &["valueCode", "valueString"]);
        }
        if let Some(p) = named("profile") {
            inputs.profile = text(p, &["valueUri", "valueCanonical", "valueString"]);
        }
        inputs.resource = named("resource").and_then(|p| p.get("resource")).cloned();
        inputs
    }
}

impl<R: ServerModel> Engine<R> {
    /// Rejects an invalid resource with 422, when the server validates what it is given.
    pub(super) fn check_valid(&self, resource: &R) -> Result<(), FhirError> {
        if !self.validate_writes {
            return Ok(());
        }
        let report = Validator::of::<R>().resource(resource);
        if report.is_valid() {
            Ok(())
        } else {
            Err(rejection(&report))
        }
    }

    /// Whether a provider serves the operation, which then takes precedence over the kit's.
    pub(crate) fn provides_operation(
        &self,
        resource_type: Option<&str>,
        name: &str,
        instance: bool,
    ) -> bool {
        let providers = match resource_type {
            None => self.registry.system(),
            Some(t) => self.registry.of_type(t).unwrap_or(&[]),
        };
        providers
            .iter()
            .filter_map(|p| p.operation)
            .any(|o| o.name == name && o.instance == instance)
    }

    /// `$validate`: 200 with an OperationOutcome of every issue (one information issue when
    /// there is none), whether or not the resource is valid.
    pub(super) fn validate_operation(
        &self,
        resource_type: Option<String>,
        id: Option<String>,
        query: &Query,
        body: Body<R>,
    ) -> Result<Answer<R>, FhirError> {
        let Some(resource_type) = resource_type else {
            return Err(FhirError::not_found(
                "$validate is an operation on a resource type ([base]/Patient/$validate) or instance",
            ));
        };
        if !R::is_resource_type(&resource_type) {
            return Err(FhirError::not_found(format!(
                "{resource_type} is not a resource type of FHIR {}",
                R::VERSION.number()
            )));
        }
        let body = match body {
            Body::Resource(r) => {
                Some(Value::parse(&fhir_model::json::to_string(&r)).map_err(FhirError::internal)?)
            }
            // A body the typed reader refused: what validation found in it is the answer.
            Body::Invalid(report) => return Ok(outcome(&report)),
            _ => None,
        };
        let inputs = Inputs::read(query, body, &resource_type);
        let mut report = Report::default();
        let error = |code, message: String, path: &str| {
            fhir_model::validate::Issue::error(code, "mode", path.to_string(), message)
        };
        match inputs.mode.as_deref() {
            None | Some("create" | "update") => {}
            Some("delete") => {
                let Some(id) = id else {
                    return Err(FhirError::bad_request(
                        "mode delete validates the deletion of an instance: [type]/[id]/$validate",
                    ));
                };
                // Nothing of a body is checked: only whether this server deletes the type.
                if self
                    .registry
                    .find(&resource_type, Interaction::Delete)
                    .is_err()
                {
                    report.issues.push(error(
                        "not-supported",
                        format!("this server does not delete {resource_type} resources ({resource_type}/{id})"),
                        &resource_type,
                    ));
                }
                return Ok(outcome(&report));
            }
            Some(other) => {
                return Err(FhirError::bad_request(format!(
                    "unknown $validate mode '{other}': create, update or delete"
                )))
            }
        }
        let Some(resource) = inputs.resource else {
            return Err(FhirError::bad_request(
                "$validate needs a resource: the body, or the 'resource' parameter of a Parameters body",
            ));
        };
        let body_type = resource.get("resourceType").and_then(Value::as_str);
        if body_type.is_some_and(|t| t != resource_type) {
            report.issues.push(error(
                "invalid",
                format!(
                    "the resource is a {} but the URL names {resource_type}",
                    body_type.unwrap_or_default()
                ),
                body_type.unwrap_or_default(),
            ));
        }
        report
            .issues
            .extend(Validator::of::<R>().value(&resource).issues);
        let body_id = resource.get("id").and_then(Value::as_str);
        if inputs.mode.as_deref() == Some("update") {
            match (&id, body_id) {
                (Some(url_id), Some(body_id)) if url_id != body_id => report.issues.push(error(
                    "invalid",
                    format!("the resource's id ({body_id}) must match the URL's id ({url_id}) for an update"),
                    &format!("{resource_type}.id"),
                )),
                (Some(url_id), None) => report.issues.push(error(
                    "required",
                    format!("an update needs the resource's id ({url_id})"),
                    &format!("{resource_type}.id"),
                )),
                (None, None) => report.issues.push(error(
                    "required",
                    "an update needs the resource's id".into(),
                    &format!("{resource_type}.id"),
                )),
                _ => {}
            }
        }
        if let Some(profile) = inputs.profile {
            report.issues.push(fhir_model::validate::Issue {
                severity: Severity::Warning,
                code: "not-supported",
                message: format!(
                    "the profile {profile} is not checked: only the base definitions of FHIR {}",
                    R::VERSION.number()
                ),
                path: resource_type.clone(),
                rule: "profile",
                location: None,
            });
        }
        Ok(outcome(&report))
    }
}

/// The answer of `$validate`.
fn outcome<R>(report: &Report) -> Answer<R> {
    let mut issues: Vec<Issue> = report.issues.iter().map(issue_of).collect();
    if issues.is_empty() {
        issues.push(Issue::information(
            "informational",
            "no issues: the resource is valid",
        ));
    }
    Answer::Json {
        status: 200,
        body: crate::http::outcome_of(&issues, None),
    }
}
