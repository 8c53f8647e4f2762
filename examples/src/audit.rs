//! An interceptor that writes one audit line per request: method, path, status, time taken,
//! and every interaction the request resolved to (one per Bundle entry too).

use fhir_rocket::model::r4::Resource;
use fhir_rocket::{FhirError, Interceptor, Resolved};
use rocket::Request;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where audit lines go.
#[derive(Clone)]
pub enum AuditSink {
    /// Standard error, one line each.
    Stderr,
    /// Memory, for tests.
    Memory(Arc<Mutex<Vec<String>>>),
}

/// The audit interceptor.
pub struct AuditLog {
    sink: AuditSink,
}

impl AuditLog {
    /// Writes to `sink`.
    pub fn new(sink: AuditSink) -> Self {
        AuditLog { sink }
    }
}

/// The interactions of one request, kept in Rocket's per-request cache until its line is
/// written.
#[derive(Default)]
struct Trail(Mutex<Vec<String>>);

#[rocket::async_trait]
impl Interceptor<Resource> for AuditLog {
    async fn interaction_resolved(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
    ) -> Result<(), FhirError> {
        let trail = req.local_cache(Trail::default);
        // The kit's own description of the interaction (`read Patient/123`).
        trail
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(resolved.to_string());
        Ok(())
    }

    async fn response_done(&self, req: &Request<'_>, status: u16, took: Duration) {
        let trail = req.local_cache(Trail::default);
        let interactions = trail.0.lock().unwrap_or_else(|e| e.into_inner()).join(", ");
        let line = format!(
            "audit: {} {} -> {status} in {} us [{interactions}]",
            req.method(),
            req.uri(),
            took.as_micros()
        );
        match &self.sink {
            AuditSink::Stderr => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            AuditSink::Memory(lines) => lines.lock().unwrap_or_else(|e| e.into_inner()).push(line),
        }
    }
}
