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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FhirError {
    status: u16,
    code: &'static str,
    message: String,
    allow: Option<String>,
}

impl FhirError {
    /// An error with any status; `code` is the OperationOutcome issue type
    /// (`invalid`, `not-found`, `conflict`, ...).
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        FhirError {
            status,
            code,
            message: message.into(),
            allow: None,
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
        e.allow = Some(allow.into());
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
        self.allow.as_deref()
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
