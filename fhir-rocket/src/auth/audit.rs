//! An audit trail: [`AuditLog`], an interceptor that records each request as one
//! [`AuditRecord`]: who (the token's subject and client), what (each interaction, with its
//! type and id, a Bundle's entries each), which resources were sent, the outcome and how
//! long it took. By default a JSON line on standard error; any sink can take the records.
//!
//! A search's parameters are left out of the record: they may carry a patient's name.

use crate::error::FhirError;
use crate::interceptor::{Interceptor, Resolved};
use rocket::Request;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request, as the audit trail records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, rocket::serde::Serialize)]
#[serde(crate = "rocket::serde")]
pub struct AuditRecord {
    /// When it was answered (an instant, UTC).
    pub time: String,
    /// The token's `sub`, when a token was checked.
    pub subject: Option<String>,
    /// The token's `client_id` (or `azp`).
    pub client: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// `GET`, `POST`...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Each interaction resolved: `read Patient/123`, `search-type Observation`, `create
    /// Patient`; a Bundle's `batch`, then its entries.
    pub interactions: Vec<String>,
    /// `Type/id` of each resource sent, up to 1,000.
    pub resources: Vec<String>,
    /// The status answered.
    pub status: u16,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// The most resources one record names.
const RESOURCES_KEPT: usize = 1000;

/// A sink of audit records.
type Sink = Arc<dyn Fn(&AuditRecord) + Send + Sync>;

/// The audit interceptor. Register it after [`FhirServer::authorize`](crate::FhirServer::authorize)
/// or anywhere: authorization always runs first.
///
/// ```
/// use fhir_rocket::auth::audit::AuditLog;
/// use fhir_rocket::model::r4::Resource;
/// let server = fhir_rocket::FhirServer::<Resource>::new("/fhir")
///     .intercept(AuditLog::new(|record| println!("{} {} -> {}", record.method, record.path, record.status)));
/// # let _ = server;
/// ```
pub struct AuditLog {
    sink: Sink,
}

impl AuditLog {
    /// Records go to `sink`.
    pub fn new(sink: impl Fn(&AuditRecord) + Send + Sync + 'static) -> AuditLog {
        AuditLog {
            sink: Arc::new(sink),
        }
    }

    /// Records go to standard error, one JSON line each, prefixed by `audit: `.
    pub fn to_stderr() -> AuditLog {
        AuditLog::new(|record| {
            if let Ok(line) = serde_json::to_string(record) {
                eprintln!("audit: {line}");
            }
        })
    }
}

/// What a request did so far, in its local cache.
#[derive(Default)]
struct Trail {
    interactions: Mutex<Vec<String>>,
    resources: Mutex<Vec<String>>,
}

#[rocket::async_trait]
impl<R: crate::ServerModel> Interceptor<R> for AuditLog {
    async fn interaction_resolved(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
    ) -> Result<(), FhirError> {
        let trail = req.local_cache(Trail::default);
        trail
            .interactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(resolved.to_string());
        Ok(())
    }

    fn changes_incoming(&self) -> bool {
        false
    }

    fn resource_outgoing(&self, req: &Request<'_>, resource: Arc<R>) -> Option<Arc<R>> {
        let trail = req.local_cache(Trail::default);
        let mut sent = trail.resources.lock().unwrap_or_else(|e| e.into_inner());
        if sent.len() < RESOURCES_KEPT {
            sent.push(format!(
                "{}/{}",
                resource.resource_type(),
                resource.id().unwrap_or_default()
            ));
        }
        Some(resource)
    }

    async fn response_done(&self, req: &Request<'_>, status: u16, took: Duration) {
        let claims = super::smart::token_claims(req);
        let trail = req.local_cache(Trail::default);
        let take = |m: &Mutex<Vec<String>>| {
            std::mem::take(&mut *m.lock().unwrap_or_else(|e| e.into_inner()))
        };
        let claim = |name: &str| {
            claims
                .as_ref()
                .and_then(|c| c.all[name].as_str().map(str::to_string))
        };
        let record = AuditRecord {
            time: crate::http::instant_now(),
            subject: claims.as_ref().and_then(|c| c.subject.clone()),
            client: claim("client_id").or_else(|| claim("azp")),
            address: req.client_ip().map(|ip| ip.to_string()),
            method: req.method().as_str().to_string(),
            path: req.uri().path().as_str().to_string(),
            interactions: take(&trail.interactions),
            resources: take(&trail.resources),
            status,
            millis: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        };
        (self.sink)(&record);
    }
}
