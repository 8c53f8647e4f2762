//! The server: what it is made of (providers, software details, hooks, limits) and how it
//! becomes Rocket routes. Requests are answered by [`crate::dispatch`].

use crate::dispatch::{outcome_catcher, Dispatcher};
use crate::error::FhirError;
use crate::interactions::Engine;
use crate::provider::Provider;
use crate::registry::Registry;
use fhir_model::json::JsonValue;
use fhir_model::{FhirResource, FhirVersion};
use rocket::http::Method;
use rocket::Route;
use std::sync::Arc;

/// A FHIR version's `Resource` enum, as the server needs it.
pub trait ServerModel:
    JsonValue + fhir_model::xml::XmlResource + FhirResource + Send + Sync + 'static
{
    /// The FHIR version.
    const VERSION: FhirVersion;
    /// Every resource type of the version, in name order.
    const RESOURCE_TYPES: &'static [&'static str];
    /// Whether a resource type of this version exists.
    fn is_resource_type(name: &str) -> bool {
        Self::RESOURCE_TYPES.binary_search(&name).is_ok()
    }
    /// The compartments of the version (`Patient`, `Encounter`, ...).
    const COMPARTMENTS: &'static [&'static str];
    /// The search parameters that put a resource of `resource_type` in `compartment`, from
    /// the version's CompartmentDefinitions; `None` when the type is not in it.
    fn compartment_params(
        compartment: &str,
        resource_type: &str,
    ) -> Option<&'static [&'static str]>;
    /// The parts of a Bundle that batch and transaction processing reads; the resource
    /// itself back when it is no Bundle.
    fn into_bundle(self) -> Result<BundleParts<Self>, Self>;
}

/// What batch and transaction processing reads of a Bundle, the same in every version.
#[derive(Debug)]
pub struct BundleParts<R> {
    /// `Bundle.type`.
    pub kind: Option<String>,
    /// `Bundle.entry`.
    pub entries: Vec<EntryParts<R>>,
}

/// One entry of a Bundle.
#[derive(Debug)]
pub struct EntryParts<R> {
    /// `fullUrl`.
    pub full_url: Option<String>,
    /// `resource`.
    pub resource: Option<R>,
    /// `request`.
    pub request: Option<EntryRequest>,
}

/// `Bundle.entry.request`.
#[derive(Clone, Debug, Default)]
pub struct EntryRequest {
    /// `method`.
    pub method: Option<String>,
    /// `url`.
    pub url: Option<String>,
    /// `ifNoneMatch`.
    pub if_none_match: Option<String>,
    /// `ifModifiedSince`, a FHIR instant.
    pub if_modified_since: Option<String>,
    /// `ifMatch`.
    pub if_match: Option<String>,
    /// `ifNoneExist`.
    pub if_none_exist: Option<String>,
}

macro_rules! server_model {
    ($feature:literal, $module:ident, $version:ident) => {
        #[cfg(feature = $feature)]
        impl ServerModel for fhir_model::$module::Resource {
            const VERSION: FhirVersion = FhirVersion::$version;
            const RESOURCE_TYPES: &'static [&'static str] = fhir_model::$module::RESOURCE_TYPES;
            const COMPARTMENTS: &'static [&'static str] = fhir_model::$module::COMPARTMENTS;

            fn compartment_params(
                compartment: &str,
                resource_type: &str,
            ) -> Option<&'static [&'static str]> {
                fhir_model::$module::compartment_params(compartment, resource_type)
            }

            fn into_bundle(self) -> Result<BundleParts<Self>, Self> {
                let bundle = fhir_model::$module::Bundle::try_from(self)?;
                let text =
                    |p: Option<fhir_model::$module::Primitive<String>>| p.and_then(|p| p.value);
                Ok(BundleParts {
                    kind: bundle.r#type.and_then(|t| t.value).map(|t| t.to_string()),
                    entries: bundle
                        .entry
                        .into_iter()
                        .map(|e| EntryParts {
                            full_url: text(e.full_url),
                            resource: e.resource,
                            request: e.request.map(|r| EntryRequest {
                                method: r.method.and_then(|m| m.value).map(|m| m.to_string()),
                                url: text(r.url),
                                if_none_match: text(r.if_none_match),
                                if_modified_since: r
                                    .if_modified_since
                                    .and_then(|i| i.value)
                                    .map(|i| i.as_str().to_string()),
                                if_match: text(r.if_match),
                                if_none_exist: text(r.if_none_exist),
                            }),
                        })
                        .collect(),
                })
            }
        }
    };
}
server_model!("r4", r4, R4);
server_model!("r4b", r4b, R4B);
server_model!("r5", r5, R5);

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body: 64 * 1024 * 1024,
            bundle_entries: 10_000,
            delete_multiple: false,
        }
    }
}

/// A FHIR server: providers mounted on a base path, turned into Rocket routes.
///
/// ```no_run
/// use fhir_rocket::{FhirServer, FhirError, RequestContext};
/// # #[rocket::main] async fn main() -> Result<(), rocket::Error> {
/// let server = FhirServer::<fhir_model::r4::Resource>::new("/fhir");
/// rocket::build().mount("/fhir", server.routes()).launch().await?;
/// # Ok(()) }
/// ```
pub struct FhirServer<R> {
    engine: Engine<R>,
}

impl<R: ServerModel> FhirServer<R> {
    /// A server whose routes will be mounted at `base_path` (e.g. `/fhir`).
    pub fn new(base_path: &str) -> Self {
        FhirServer {
            engine: Engine {
                base_path: base_path.trim_end_matches('/').to_string(),
                software: Software {
                    name: "fhir-rocket".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                },
                registry: Registry::new(),
                capability_hook: None,
                multi_tenant: false,
                transactions: None,
                gate: rocket::tokio::sync::RwLock::new(()),
                limits: Limits::default(),
            },
        }
    }

    /// Names the software in the CapabilityStatement.
    pub fn software(mut self, name: &str, version: &str) -> Self {
        self.engine.software = Software {
            name: name.into(),
            version: version.into(),
        };
        self
    }

    /// Makes the server multi-tenant, the tenant named by the first path segment after the
    /// base (`[base]/TENANT/Patient/1`), like HAPI FHIR's URL base tenant strategy.
    /// Providers see it as [`RequestContext::tenant`](crate::RequestContext::tenant), and
    /// the base URL in links, `fullUrl`s and `Location` headers includes it. A request
    /// without a tenant answers 400.
    ///
    /// ```
    /// let server = fhir_rocket::FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir")
    ///     .multi_tenant();
    /// # let _ = server;
    /// ```
    pub fn multi_tenant(mut self) -> Self {
        self.engine.multi_tenant = true;
        self
    }

    /// Changes the generated CapabilityStatement before it is served, e.g. to add a
    /// description or security details. The result must still be a valid CapabilityStatement
    /// of this version, or `metadata` answers 500.
    ///
    /// ```
    /// use fhir_rocket::FhirServer;
    /// use fhir_rocket::model::json::Value;
    /// let server = FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir").capability(|cs| {
    ///     if let Value::Object(members) = cs {
    ///         members.push(("publisher".into(), Value::String("Example Hospital".into())));
    ///     }
    /// });
    /// # let _ = server;
    /// ```
    pub fn capability(
        mut self,
        hook: impl Fn(&mut fhir_model::json::Value) + Send + Sync + 'static,
    ) -> Self {
        self.engine.capability_hook = Some(Arc::new(hook));
        self
    }

    /// Makes transaction Bundles all-or-nothing with the storage's own begin, commit and
    /// roll back; without it, a transaction answers 501.
    pub fn transactions(mut self, hook: impl TransactionHook) -> Self {
        self.engine.transactions = Some(Arc::new(hook));
        self
    }

    /// Sets the limits on requests (body size, Bundle entries, conditional deletes).
    ///
    /// ```
    /// use fhir_rocket::{FhirServer, Limits};
    /// let server = FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir")
    ///     .limits(Limits { bundle_entries: 500, ..Limits::default() });
    /// # let _ = server;
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.engine.limits = limits;
        self
    }

    /// Mounts the routes at the base path and registers OperationOutcome catchers there, so
    /// that every answer under the base path, even a panic's 500, is FHIR.
    pub fn mount_on(self, rocket: rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build> {
        let base = if self.engine.base_path.is_empty() {
            "/".to_string()
        } else {
            self.engine.base_path.clone()
        };
        rocket
            .register(
                base.as_str(),
                vec![rocket::Catcher::new(None, outcome_catcher::<R>)],
            )
            .mount(base.as_str(), self.routes())
    }

    /// Adds providers, as listed by [`providers!`](crate::providers). Generic providers
    /// (those of the version's `Resource` enum) serve every resource type; per-type
    /// providers of the same interaction take precedence over them.
    pub fn mount(mut self, providers: Vec<Provider<R>>) -> Self {
        for p in providers {
            self.engine.registry.add(p);
        }
        self
    }

    /// The Rocket routes, to mount at the base path given to [`FhirServer::new`].
    pub fn routes(self) -> Vec<Route> {
        let dispatcher = Dispatcher {
            engine: Arc::new(self.engine),
        };
        let mut routes = Vec::new();
        for method in [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
        ] {
            routes.push(Route::new(method, "/", dispatcher.clone()));
            routes.push(Route::new(method, "/<path..>", dispatcher.clone()));
        }
        routes
    }
}
