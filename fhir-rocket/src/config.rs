//! The server's settings and hooks: software details, the CapabilityStatement hook, the
//! transaction hook and the limits on requests.

use crate::error::FhirError;
use std::sync::Arc;

/// Software details for the CapabilityStatement.
#[derive(Clone, Debug)]
pub struct Software {
    /// The software's name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// Changes the generated CapabilityStatement (as JSON) before it is served.
pub type CapabilityHook = Arc<dyn Fn(&mut fhir_model::json::Value) + Send + Sync>;

/// Makes a transaction Bundle all-or-nothing: the storage's begin, commit and roll back
/// (HAPI FHIR's `@Transaction`).
///
/// While a transaction runs, the server lets no other request in (it holds a lock that every
/// other request takes shared), so nothing the transaction did is seen before it commits;
/// when an entry fails, [`rollback`](TransactionHook::rollback) must undo every change made
/// since [`begin`](TransactionHook::begin). A server without a hook answers transactions
/// with 501 and still processes batches.
#[rocket::async_trait]
pub trait TransactionHook: Send + Sync + 'static {
    /// Starts a transaction: from now on, remember how to undo every change.
    async fn begin(&self) -> Result<(), FhirError>;
    /// Makes the changes since `begin` permanent (durable before this returns).
    async fn commit(&self) -> Result<(), FhirError>;
    /// Undoes every change since `begin`.
    async fn rollback(&self);
}

/// Limits on what one request may ask of the server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The largest request body, in bytes, unless Rocket's `limits.fhir` setting says
    /// otherwise (64 MiB by default: Synthea patient Bundles are commonly 1 to 4 MB, some
    /// far larger).
    pub body: u64,
    /// The most entries a batch or transaction Bundle may have (10,000 by default).
    pub bundle_entries: usize,
    /// Whether a conditional delete may delete several resources (HAPI's default: no, 412).
    pub delete_multiple: bool,
    /// The page size of a search or history that gives no `_count` (20 by default).
    pub default_page_size: u32,
    /// The largest page a `_count` may ask for (1,000 by default); a larger `_count` is
    /// lowered to it, and the `self` link says so.
    pub max_page_size: u32,
}

impl Limits {
    /// The page size for a requested `_count`: the default without one, at most the maximum.
    ///
    /// ```
    /// let limits = fhir_rocket::Limits::default();
    /// assert_eq!(limits.page_size(None), 20);
    /// assert_eq!(limits.page_size(Some(5)), 5);
    /// assert_eq!(limits.page_size(Some(100_000)), 1_000);
    /// assert_eq!(limits.page_size(Some(0)), 0);
    /// ```
    pub fn page_size(&self, requested: Option<u32>) -> u32 {
        requested
            .unwrap_or(self.default_page_size)
            .min(self.max_page_size)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body: 64 * 1024 * 1024,
            bundle_entries: 10_000,
            delete_multiple: false,
            default_page_size: 20,
            max_page_size: 1_000,
        }
    }
}

/// Where the OAuth 2.0 authorization server of a protected server is, for the
/// CapabilityStatement's `rest.security` (SMART's `oauth-uris` extension).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OAuthUris {
    pub(crate) authorize: Option<String>,
    pub(crate) token: Option<String>,
}

/// What a protected server tells of its authorization: the issuer's endpoints, found (and
/// perhaps fetched: it blocks) when the CapabilityStatement is written.
pub(crate) trait Security: Send + Sync + 'static {
    /// The endpoints; an error says why they could not be had.
    fn oauth_uris(&self) -> Result<OAuthUris, String>;
}
