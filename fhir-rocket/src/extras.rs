//! What a provider adds to its answer beyond the resource: response headers, a success
//! status where FHIR leaves it open, and warnings.

use crate::error::{FhirError, Issue};
use rocket::Request;
use std::sync::{Arc, Mutex};

/// A provider parameter of this type adds to the answer: headers, a 2xx status, warnings.
///
/// Warnings go where FHIR has a place for them: a search's warning entry
/// (`search.mode = outcome`), a Bundle entry's `response.outcome`, and the OperationOutcome of
/// a write answered with `Prefer: return=OperationOutcome`. Inside a batch or transaction, an
/// entry's headers and status are not applied (the Bundle's response has its own).
///
/// ```
/// use fhir_rocket::{Issue, ResponseExtras};
/// let extras = ResponseExtras::default();
/// extras.header("X-Request-Cost", "3").unwrap();
/// extras.warning(Issue::warning("informational", "names were normalized"));
/// assert!(extras.header("Location", "x").is_err());
/// assert!(extras.status(404).is_err());
/// ```
#[derive(Clone, Default)]
pub struct ResponseExtras(Arc<Mutex<Extras>>);

/// What a provider added.
#[derive(Clone, Debug, Default)]
pub(crate) struct Extras {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) status: Option<u16>,
    pub(crate) warnings: Vec<Issue>,
}

/// Headers the server writes itself from the resource and the interaction.
const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "content-location",
    "location",
    "etag",
    "last-modified",
    "transfer-encoding",
    "connection",
    "allow",
];

impl ResponseExtras {
    fn lock(&self) -> std::sync::MutexGuard<'_, Extras> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a response header; the headers the server writes itself (`Content-Type`,
    /// `Location`, `ETag`, ...) and malformed names or values are refused.
    pub fn header(&self, name: &str, value: &str) -> Result<(), FhirError> {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(FhirError::internal(format!(
                "a provider set a malformed header '{name}'"
            )));
        }
        if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(FhirError::internal(format!(
                "a provider may not set the header {name}: the server writes it"
            )));
        }
        self.lock()
            .headers
            .push((name.to_string(), value.to_string()));
        Ok(())
    }

    /// Sets the success status (2xx, such as 202 for an operation that continues later).
    pub fn status(&self, status: u16) -> Result<(), FhirError> {
        if !(200..300).contains(&status) {
            return Err(FhirError::internal(format!(
                "a provider set the status {status}: a failure is answered by returning an error"
            )));
        }
        self.lock().status = Some(status);
        Ok(())
    }

    /// Adds a warning (or information) to the answer.
    pub fn warning(&self, issue: Issue) {
        self.lock().warnings.push(issue);
    }

    pub(crate) fn take(&self) -> Extras {
        std::mem::take(&mut *self.lock())
    }
}

/// What the providers of one interaction added, kept in Rocket's per-request cache until
/// the interaction's answer is written.
#[derive(Default)]
struct Collected(Mutex<Extras>);

/// Adds what a provider added to what the interaction collected.
pub(crate) fn collect(req: &Request<'_>, extras: Extras) {
    if extras.headers.is_empty() && extras.status.is_none() && extras.warnings.is_empty() {
        return;
    }
    let collected = req.local_cache(Collected::default);
    let mut all = collected.0.lock().unwrap_or_else(|e| e.into_inner());
    all.headers.extend(extras.headers);
    all.warnings.extend(extras.warnings);
    if extras.status.is_some() {
        all.status = extras.status;
    }
}

/// Takes what the interaction collected so far, leaving nothing.
pub(crate) fn take_collected(req: &Request<'_>) -> Extras {
    let collected = req.local_cache(Collected::default);
    std::mem::take(&mut *collected.0.lock().unwrap_or_else(|e| e.into_inner()))
}
