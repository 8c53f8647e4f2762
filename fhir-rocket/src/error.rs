//! Errors of providers and of the server, sent as OperationOutcome resources.

use std::fmt;

/// An error answered with an OperationOutcome and an HTTP status, following HAPI FHIR's
/// mapping of exceptions to statuses.
///
/// ```
/// use fhir_rocket::FhirError;
/// let e = FhirError::not_found("Patient/7 is not known");
/// assert_eq!(e.status(), 404);
/// assert_eq!(e.issue_code(), "not-found");
/// ```
///
/// It may carry a whole OperationOutcome: the error's own issue with a `FHIRPath` expression
/// and coded details, and more issues (errors, warnings, information) beside it.
///
/// ```
/// use fhir_rocket::{FhirError, Issue};
/// let e = FhirError::unprocessable("birthDate is after deceasedDateTime")
///     .at("Patient.birthDate")
///     .with_details("http://example.org/rules", "date-order")
///     .with_issue(Issue::warning("informational", "the name has no family part").at("Patient.name[0]"));
/// assert_eq!(e.issues().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FhirError {
    status: u16,
    code: &'static str,
    message: String,
    /// What few errors have, boxed so that a `Result` stays small.
    extra: Option<Box<Extra>>,
}

/// The rarer parts of an error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    /// The `Allow` header of a 405.
    allow: Option<String>,
    /// The `WWW-Authenticate` header of a 401.
    challenge: Option<String>,
    /// The error's own issue's expressions and coded details.
    expression: Vec<String>,
    details: Option<(String, String)>,
    /// The issues beside it.
    more: Vec<Issue>,
}

/// One issue of an OperationOutcome beside an error's own (or a warning with a success).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// `fatal`, `error`, `warning` or `information`.
    pub severity: &'static str,
    /// The issue type (`invalid`, `business-rule`, `informational`, ...).
    pub code: &'static str,
    /// The text, sent as `diagnostics`.
    pub diagnostics: String,
    /// FHIRPath expressions of the elements concerned.
    pub expression: Vec<String>,
}

impl Issue {
    /// An issue of any severity.
    pub fn new(severity: &'static str, code: &'static str, diagnostics: impl Into<String>) -> Self {
        Issue {
            severity,
            code,
            diagnostics: diagnostics.into(),
            expression: Vec::new(),
        }
    }

    /// An error.
    pub fn error(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new("error", code, diagnostics)
    }

    /// A warning.
    pub fn warning(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new("warning", code, diagnostics)
    }

    /// Information.
    pub fn information(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new("information", code, diagnostics)
    }

    /// Names an element concerned (a FHIRPath expression such as `Patient.name[0].family`).
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression.push(expression.into());
        self
    }
}

impl FhirError {
    /// An error with any status; `code` is the OperationOutcome issue type
    /// (`invalid`, `not-found`, `conflict`, ...).
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        FhirError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }

    /// 400: the request is malformed (bad parameter, bad body).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid", message)
    }

    /// 401: authentication is needed.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "login", message)
    }

    /// 401 with its `WWW-Authenticate` challenge, as RFC 6750 has a resource server answer a
    /// request without a valid bearer token: `Bearer` alone when there was no token,
    /// `Bearer error="invalid_token", error_description="..."` when it was not valid.
    ///
    /// ```
    /// use fhir_rocket::FhirError;
    /// let e = FhirError::unauthorized_bearer("the token has expired", Some("invalid_token"));
    /// assert_eq!(e.status(), 401);
    /// assert_eq!(
    ///     e.challenge(),
    ///     Some(r#"Bearer error="invalid_token", error_description="the token has expired""#)
    /// );
    /// let none = FhirError::unauthorized_bearer("a bearer token is needed", None);
    /// assert_eq!(none.challenge(), Some("Bearer"));
    /// ```
    pub fn unauthorized_bearer(message: impl Into<String>, error: Option<&str>) -> Self {
        let message = message.into();
        let challenge = match error {
            None => "Bearer".to_string(),
            Some(error) => {
                // A quoted-string: no quotes or backslashes inside, nothing but visible ASCII.
                let description: String = message
                    .chars()
                    .map(|c| match c {
                        '"' | '\\' => '\'',
                        c if c == ' ' || c.is_ascii_graphic() => c,
                        _ => '?',
                    })
                    .collect();
                format!(r#"Bearer error="{error}", error_description="{description}""#)
            }
        };
        let mut e = Self::unauthorized(message);
        e.extra_mut().challenge = Some(challenge);
        e
    }

    /// 403: the client may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    /// 404: no such resource, id or resource type.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not-found", message)
    }

    /// 405: the resource type does not support this interaction; `allow` lists the methods it
    /// does support (the `Allow` header).
    pub fn method_not_allowed(message: impl Into<String>, allow: impl Into<String>) -> Self {
        let mut e = Self::new(405, "not-supported", message);
        e.extra_mut().allow = Some(allow.into());
        e
    }

    /// 406: no representation the client accepts.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "not-supported", message)
    }

    /// 409: the request conflicts with the current state (e.g. a version conflict).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// 410: the resource was deleted.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "deleted", message)
    }

    /// 412: a condition of the request (`If-Match`, conditional create) failed.
    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new(412, "conflict", message)
    }

    /// 415: the body's media type is not supported.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "not-supported", message)
    }

    /// 422: the resource is well-formed but breaks a rule (a profile, a business rule).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "processing", message)
    }

    /// 500: an internal failure. The client sees only a generic message; `detail` goes to the
    /// server's log, so internals never leak.
    pub fn internal(detail: impl fmt::Display) -> Self {
        eprintln!("fhir-rocket: internal error: {detail}");
        Self::new(500, "exception", "internal server error")
    }

    /// 501: the server does not implement this.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(501, "not-supported", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The OperationOutcome issue type.
    pub fn issue_code(&self) -> &'static str {
        self.code
    }

    /// The message, sent as the issue's diagnostics.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `Allow` header of a 405.
    pub fn allow(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|x| x.allow.as_deref())
    }

    /// The `WWW-Authenticate` header of a 401 ([`FhirError::unauthorized_bearer`]).
    pub fn challenge(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|x| x.challenge.as_deref())
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Names an element the error concerns (a FHIRPath expression).
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.extra_mut().expression.push(expression.into());
        self
    }

    /// Codes the error (`details.coding`): a code of the system `system`.
    pub fn with_details(mut self, system: impl Into<String>, code: impl Into<String>) -> Self {
        self.extra_mut().details = Some((system.into(), code.into()));
        self
    }

    /// Adds an issue beside the error's own.
    pub fn with_issue(mut self, issue: Issue) -> Self {
        self.extra_mut().more.push(issue);
        self
    }

    /// Every issue of the OperationOutcome: the error's own, then those added.
    pub fn issues(&self) -> Vec<Issue> {
        let extra = self.extra.as_deref();
        let mut all = vec![Issue {
            severity: "error",
            code: self.code,
            diagnostics: self.message.clone(),
            expression: extra.map(|x| x.expression.clone()).unwrap_or_default(),
        }];
        all.extend(extra.iter().flat_map(|x| x.more.iter().cloned()));
        all
    }

    /// The OperationOutcome of the error, as JSON.
    pub fn to_operation_outcome(&self) -> Vec<u8> {
        let details = self.extra.as_ref().and_then(|x| x.details.as_ref());
        crate::http::outcome_of(&self.issues(), details)
    }
}

impl fmt::Display for FhirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for FhirError {}

/// A body whose resource would take more memory than the reader allows for its size.
fn too_costly(e: &dyn std::fmt::Display) -> FhirError {
    FhirError::new(
        413,
        "too-costly",
        format!("the body is too costly to read: {e}"),
    )
}

impl From<fhir_model::json::JsonError> for FhirError {
    fn from(e: fhir_model::json::JsonError) -> Self {
        if e.is_over_memory_limit() {
            return too_costly(&e);
        }
        FhirError::bad_request(format!("the body is not a valid resource: {e}"))
    }
}

impl From<fhir_model::xml::XmlError> for FhirError {
    fn from(e: fhir_model::xml::XmlError) -> Self {
        if e.is_over_memory_limit() {
            return too_costly(&e);
        }
        FhirError::bad_request(format!("the body is not a valid resource: {e}"))
    }
}
