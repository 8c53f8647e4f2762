//! The server: what it is made of (providers, software details, hooks, limits) and how it
//! becomes Rocket routes. Requests are answered by [`crate::dispatch`].

use crate::address::AddressStrategy;
use crate::config::{Limits, Software, TransactionHook};
use crate::dispatch::{outcome_catcher, Dispatcher};
use crate::interactions::Engine;
use crate::provider::Provider;
use crate::registry::Registry;
use crate::version_model::ServerModel;
use rocket::http::Method;
use rocket::Route;
use std::sync::Arc;

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
    /// Run once the server listens, in order.
    on_startup: Vec<LifecycleHook>,
    /// Run when the server shuts down, in order.
    on_shutdown: Vec<LifecycleHook>,
    /// The rank of the routes; `None` for Rocket's default.
    rank: Option<isize>,
    /// Routes beside the dispatcher's (SMART's discovery document).
    extra_routes: Vec<Route>,
}

/// A provider's startup or shutdown work (opening a pool, flushing a cache).
type LifecycleHook = Box<dyn FnOnce() + Send + Sync + 'static>;

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
                address: AddressStrategy::default(),
                interceptors: Default::default(),
                validate_writes: true,
                security: None,
            },
            on_startup: Vec::new(),
            on_shutdown: Vec::new(),
            rank: None,
            extra_routes: Vec::new(),
        }
    }

    /// Gives the server's routes a Rocket rank: a server at `/fhir` with a higher rank than
    /// one at `/fhir/R5` is the default version, answering what the other does not.
    ///
    /// ```
    /// use fhir_rocket::FhirServer;
    /// use fhir_rocket::model::r4;
    /// // With the r5 feature, an `r5::Resource` server goes at "/fhir/R5" the same way.
    /// let rocket = FhirServer::<r4::Resource>::new("/fhir/R4").mount_on(rocket::build());
    /// // The default version, behind the others.
    /// let rocket = FhirServer::<r4::Resource>::new("/fhir").rank(20).mount_on(rocket);
    /// # let _ = rocket;
    /// ```
    pub fn rank(mut self, rank: isize) -> Self {
        self.rank = Some(rank);
        self
    }

    /// Runs `hook` once the server listens (Rocket's liftoff), for providers' startup work;
    /// with [`FhirServer::mount_on`].
    ///
    /// ```
    /// let server = fhir_rocket::FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir")
    ///     .on_startup(|| eprintln!("the FHIR server is up"))
    ///     .on_shutdown(|| eprintln!("the FHIR server stops"));
    /// # let _ = server;
    /// ```
    pub fn on_startup(mut self, hook: impl FnOnce() + Send + Sync + 'static) -> Self {
        self.on_startup.push(Box::new(hook));
        self
    }

    /// Runs `hook` when the server shuts down (Rocket's shutdown), for providers' cleanup;
    /// with [`FhirServer::mount_on`].
    pub fn on_shutdown(mut self, hook: impl FnOnce() + Send + Sync + 'static) -> Self {
        self.on_shutdown.push(Box::new(hook));
        self
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

    /// How the server names itself in `fullUrl`s, links, `Location` and the
    /// CapabilityStatement: from the request (the default), a fixed base URL, or the headers
    /// of a trusted reverse proxy.
    ///
    /// ```
    /// use fhir_rocket::{AddressStrategy, FhirServer};
    /// let server = FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir")
    ///     .address(AddressStrategy::TrustedProxy);
    /// # let _ = server;
    /// ```
    pub fn address(mut self, strategy: AddressStrategy) -> Self {
        self.engine.address = strategy;
        self
    }

    /// Adds an interceptor: FHIR-aware hooks on every request (audit, consent, masking,
    /// authorization), called after those added before it.
    pub fn intercept(mut self, interceptor: impl crate::Interceptor<R>) -> Self {
        self.engine.interceptors.0.push(Arc::new(interceptor));
        self
    }

    /// Protects the server with SMART on FHIR (see [`SmartAuth`](crate::auth::smart::SmartAuth)):
    /// every request but `metadata` needs a valid bearer token whose scopes grant it;
    /// `[base]/.well-known/smart-configuration` tells clients where the issuer is, and the
    /// CapabilityStatement's `rest.security` says SMART on FHIR with the issuer's endpoints.
    /// The check runs before every interceptor, whenever they were added.
    ///
    /// ```
    /// use fhir_rocket::auth::smart::SmartAuth;
    /// use fhir_rocket::auth::token::IssuerConfig;
    /// let server = fhir_rocket::FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir")
    ///     .authorize(SmartAuth::new(IssuerConfig::new(
    ///         "https://auth.example.org/realm",
    ///         "https://fhir.example.org/fhir",
    ///     )));
    /// # let _ = server;
    /// ```
    #[cfg(feature = "auth")]
    pub fn authorize(mut self, auth: crate::auth::smart::SmartAuth) -> Self {
        let validator = auth.validator().clone();
        self.engine.security = Some(validator.clone());
        self.extra_routes.push(Route::new(
            Method::Get,
            "/.well-known/smart-configuration",
            crate::auth::smart::SmartConfigurationRoute(validator),
        ));
        self.engine.interceptors.0.insert(0, Arc::new(auth));
        self
    }

    /// Whether created and updated resources are validated against the definitions of the
    /// version (cardinality, formats, calendar dates, required bindings, the narrative's
    /// XHTML; see `fhir_model::validate`): on by default, an invalid resource is refused with
    /// 422 and an OperationOutcome of every issue, each with its `expression`, before any
    /// provider sees it. A server that checks (or stores) resources its own way turns it off.
    /// `$validate` answers either way.
    ///
    /// ```
    /// let server = fhir_rocket::FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir")
    ///     .validate_writes(false);
    /// # let _ = server;
    /// ```
    pub fn validate_writes(mut self, on: bool) -> Self {
        self.engine.validate_writes = on;
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
    pub fn mount_on(
        mut self,
        mut rocket: rocket::Rocket<rocket::Build>,
    ) -> rocket::Rocket<rocket::Build> {
        use rocket::fairing::AdHoc;
        for hook in std::mem::take(&mut self.on_startup) {
            rocket = rocket.attach(AdHoc::on_liftoff("FHIR provider startup", move |_| {
                Box::pin(async move { hook() })
            }));
        }
        for hook in std::mem::take(&mut self.on_shutdown) {
            rocket = rocket.attach(AdHoc::on_shutdown("FHIR provider shutdown", move |_| {
                Box::pin(async move { hook() })
            }));
        }
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
        let mut routes = self.extra_routes;
        for method in [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
        ] {
            // The base itself before its subpaths, which also match it.
            for (path, after) in [("/", 0), ("/<path..>", 1)] {
                routes.push(match self.rank {
                    Some(rank) => Route::ranked(rank + after, method, path, dispatcher.clone()),
                    None => Route::new(method, path, dispatcher.clone()),
                });
            }
        }
        routes
    }
}
