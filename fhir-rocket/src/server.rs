//! The server: routes FHIR REST requests to providers and turns their results into HTTP
//! responses (content negotiation, headers, errors as OperationOutcome, search Bundles).

use crate::capability;
use crate::context::RequestContext;
use crate::error::FhirError;
use crate::http::{self, Format, Reply};
use crate::provider::{HistoryParams, Input, Interaction, Output, Provider};
use crate::search::{parse_query, Query, ResultParams};
use fhir_model::json::JsonValue;
use fhir_model::{FhirResource, FhirVersion};
use rocket::data::ToByteUnit;
use rocket::http::Method;
use rocket::route::{Handler, Outcome};
use rocket::{Data, Request, Route};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A FHIR version's `Resource` enum, as the server needs it.
pub trait ServerModel:
    JsonValue + fhir_model::xml::XmlResource + FhirResource + Send + Sync + 'static
{
    /// The FHIR version.
    const VERSION: FhirVersion;
    /// Whether a resource type of this version exists.
    fn is_resource_type(name: &str) -> bool;
}

macro_rules! server_model {
    ($feature:literal, $module:ident, $version:ident) => {
        #[cfg(feature = $feature)]
        impl ServerModel for fhir_model::$module::Resource {
            const VERSION: FhirVersion = FhirVersion::$version;
            fn is_resource_type(name: &str) -> bool {
                fhir_model::$module::RESOURCE_TYPES
                    .binary_search(&name)
                    .is_ok()
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

pub(crate) struct ServerState<R> {
    pub(crate) base_path: String,
    pub(crate) software: Software,
    pub(crate) capability_hook: Option<CapabilityHook>,
    /// Providers by resource type, in mount order.
    pub(crate) providers: BTreeMap<&'static str, Vec<Provider<R>>>,
    /// Whether the first path segment after the base names a tenant.
    pub(crate) multi_tenant: bool,
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
    state: ServerState<R>,
}

impl<R: ServerModel> FhirServer<R> {
    /// A server whose routes will be mounted at `base_path` (e.g. `/fhir`).
    pub fn new(base_path: &str) -> Self {
        FhirServer {
            state: ServerState {
                base_path: base_path.trim_end_matches('/').to_string(),
                software: Software {
                    name: "fhir-rocket".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                },
                providers: BTreeMap::new(),
                capability_hook: None,
                multi_tenant: false,
            },
        }
    }

    /// Names the software in the CapabilityStatement.
    pub fn software(mut self, name: &str, version: &str) -> Self {
        self.state.software = Software {
            name: name.into(),
            version: version.into(),
        };
        self
    }

    /// Makes the server multi-tenant, the tenant named by the first path segment after the
    /// base (`[base]/TENANT/Patient/1`), like HAPI FHIR's URL base tenant strategy.
    /// Providers see it as [`RequestContext::tenant`], and the base URL in links, `fullUrl`s
    /// and `Location` headers includes it. A request without a tenant answers 400.
    ///
    /// ```
    /// let server = fhir_rocket::FhirServer::<fhir_rocket::model::r4::Resource>::new("/fhir")
    ///     .multi_tenant();
    /// # let _ = server;
    /// ```
    pub fn multi_tenant(mut self) -> Self {
        self.state.multi_tenant = true;
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
        self.state.capability_hook = Some(Arc::new(hook));
        self
    }

    /// Mounts the routes at the base path and registers OperationOutcome catchers there, so
    /// that every answer under the base path, even a panic's 500, is FHIR.
    pub fn mount_on(self, rocket: rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build> {
        let base = if self.state.base_path.is_empty() {
            "/".to_string()
        } else {
            self.state.base_path.clone()
        };
        rocket
            .register(
                base.as_str(),
                vec![rocket::Catcher::new(None, outcome_catcher::<R>)],
            )
            .mount(base.as_str(), self.routes())
    }

    /// Adds providers, as listed by [`providers!`](crate::providers).
    pub fn mount(mut self, providers: Vec<Provider<R>>) -> Self {
        for p in providers {
            self.state
                .providers
                .entry(p.resource_type)
                .or_default()
                .push(p);
        }
        self
    }

    /// The Rocket routes, to mount at the base path given to [`FhirServer::new`].
    pub fn routes(self) -> Vec<Route> {
        let dispatcher = Dispatcher {
            state: Arc::new(self.state),
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

struct Dispatcher<R> {
    state: Arc<ServerState<R>>,
}

impl<R> Clone for Dispatcher<R> {
    fn clone(&self) -> Self {
        Dispatcher {
            state: self.state.clone(),
        }
    }
}

#[rocket::async_trait]
impl<R: ServerModel> Handler for Dispatcher<R> {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let raw_query = req.uri().query().map(|q| q.as_str()).unwrap_or("");
        let negotiated = http::negotiate(req, raw_query);
        let reply = match &negotiated {
            Ok(format) => match self.dispatch(req, data, raw_query, format).await {
                Ok(reply) => reply,
                Err(e) => Reply::error(&e),
            },
            Err(e) => Reply::error(e),
        };
        let reply = match negotiated {
            Ok(Format {
                xml: true, pretty, ..
            }) => reply.into_xml(<R as fhir_model::xml::XmlResource>::xml_table(), pretty),
            _ => reply,
        };
        Outcome::from(req, reply.into_response())
    }
}

impl<R: ServerModel> Dispatcher<R> {
    fn base_url(&self, req: &Request<'_>) -> String {
        let host = req
            .headers()
            .get_one("Host")
            .map(str::to_string)
            .unwrap_or_else(|| "localhost".into());
        format!("http://{host}{}", self.state.base_path)
    }

    /// The context without headers: [`call`] copies them for providers that want them.
    fn context(&self, req: &Request<'_>, raw_query: &str, tenant: Option<&str>) -> RequestContext {
        let mut base_url = self.base_url(req);
        if let Some(tenant) = tenant {
            base_url.push('/');
            base_url.push_str(tenant);
        }
        RequestContext {
            base_url,
            headers: Vec::new(),
            raw_query: raw_query.to_string(),
            tenant: tenant.map(str::to_string),
        }
    }

    /// The providers of a resource type: 404 when the version has no such type or nothing
    /// serves it.
    fn providers_of(&self, resource_type: &str) -> Result<&[Provider<R>], FhirError> {
        match self.state.providers.get(resource_type) {
            Some(list) => Ok(list),
            None => {
                let known: Vec<&str> = self.state.providers.keys().copied().collect();
                let what = if R::is_resource_type(resource_type) {
                    "is not served here"
                } else {
                    "is not a FHIR resource type"
                };
                Err(FhirError::not_found(format!(
                    "resource type '{resource_type}' {what}; this server serves: {}",
                    known.join(", ")
                )))
            }
        }
    }

    fn find(
        &self,
        providers: &[Provider<R>],
        interaction: Interaction,
        path_methods: &[(Interaction, &str)],
        resource_type: &str,
    ) -> Result<usize, FhirError> {
        if let Some(i) = providers.iter().position(|p| p.interaction == interaction) {
            return Ok(i);
        }
        Err(FhirError::method_not_allowed(
            format!(
                "{resource_type} does not support the {} interaction",
                interaction.code()
            ),
            allowed_methods(providers, path_methods),
        ))
    }

    async fn dispatch<'r>(
        &self,
        req: &'r Request<'_>,
        data: Data<'r>,
        raw_query: &str,
        format: &Format,
    ) -> Result<Reply, FhirError> {
        // No FHIR path has more than five segments (with a tenant); a fixed buffer spares an
        // allocation per request.
        let path = req.uri().path().as_str();
        let path = path
            .strip_prefix(self.state.base_path.as_str())
            .unwrap_or(path);
        let mut buffer = [""; 6];
        let mut len = 0;
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            if len == buffer.len() {
                return Err(FhirError::not_found(format!(
                    "no FHIR interaction at {} {}",
                    req.method(),
                    req.uri().path()
                )));
            }
            buffer[len] = segment;
            len += 1;
        }
        let mut segments = &buffer[..len];
        let tenant = if self.state.multi_tenant {
            let Some((tenant, rest)) = segments.split_first() else {
                return Err(FhirError::bad_request(
                    "this server is multi-tenant: name the tenant first, as in [base]/TENANT/Patient",
                ));
            };
            segments = rest;
            Some(*tenant)
        } else {
            None
        };
        let method = req.method();
        let context = self.context(req, raw_query, tenant);
        let base_url = context.base_url.clone();
        match (method, segments) {
            (Method::Get, ["metadata"]) => self.metadata(&context.base_url, format),
            (Method::Post, []) => Err(FhirError::not_implemented(
                "batch and transaction Bundles are not implemented by this server",
            )),
            (Method::Get | Method::Post, [name]) if name.starts_with('$') => {
                self.operation(req, data, "", None, name, context, raw_query, format)
                    .await
            }
            (Method::Get | Method::Post, [resource_type, name]) if name.starts_with('$') => {
                self.operation(
                    req,
                    data,
                    resource_type,
                    None,
                    name,
                    context,
                    raw_query,
                    format,
                )
                .await
            }
            (Method::Get | Method::Post, [resource_type, id, name]) if name.starts_with('$') => {
                self.operation(
                    req,
                    data,
                    resource_type,
                    Some(id),
                    name,
                    context,
                    raw_query,
                    format,
                )
                .await
            }
            (Method::Get, ["_history"]) => {
                let providers = self
                    .state
                    .providers
                    .get("")
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let Some(p) = providers
                    .iter()
                    .find(|p| p.interaction == Interaction::HistorySystem)
                else {
                    return Err(FhirError::method_not_allowed(
                        "this server has no system history",
                        "",
                    ));
                };
                self.history(req, p, "_history", raw_query, context, None, format)
                    .await
            }
            (Method::Get, [resource_type, id @ .., "_history"]) if id.len() <= 1 => {
                let id = id.first().copied();
                let interaction = match id {
                    Some(_) => Interaction::HistoryInstance,
                    None => Interaction::HistoryType,
                };
                let providers = self.providers_of(resource_type)?;
                let i = self.find(
                    providers,
                    interaction,
                    &[(interaction, "GET")],
                    resource_type,
                )?;
                let path = match id {
                    Some(id) => format!("{resource_type}/{id}/_history"),
                    None => format!("{resource_type}/_history"),
                };
                self.history(req, &providers[i], &path, raw_query, context, id, format)
                    .await
            }
            (_, [resource_type]) => {
                let providers = self.providers_of(resource_type)?;
                let type_methods = [(Interaction::Search, "GET"), (Interaction::Create, "POST")];
                match method {
                    Method::Get => {
                        self.search(req, providers, resource_type, raw_query, context, format)
                            .await
                    }
                    Method::Post => {
                        let i = self.find(
                            providers,
                            Interaction::Create,
                            &type_methods,
                            resource_type,
                        )?;
                        let body = read_body::<R>(req, data, Some(resource_type), None).await?;
                        if let Some(condition) = req.headers().get_one("If-None-Exist") {
                            let condition = condition.trim_start_matches('?');
                            let (found, ..) = self
                                .run_search(
                                    req,
                                    providers,
                                    resource_type,
                                    condition,
                                    context.clone(),
                                )
                                .await?;
                            if found.matches.len() > 1 {
                                return Err(FhirError::precondition_failed(format!(
                                    "If-None-Exist matches {} resources: the condition must identify at most one",
                                    found.matches.len()
                                )));
                            }
                            if let Some(existing) = found.matches.into_iter().next() {
                                let existing = Output::Resource(existing);
                                return Self::resource_reply(
                                    req,
                                    existing,
                                    200,
                                    format,
                                    &base_url,
                                    resource_type,
                                    false,
                                );
                            }
                        }
                        let input = input(context, None, None, Some(body));
                        let output = call(req, &providers[i], input).await?;
                        Self::resource_reply(
                            req,
                            output,
                            201,
                            format,
                            &base_url,
                            resource_type,
                            true,
                        )
                    }
                    _ => Err(self
                        .find(providers, Interaction::Read, &type_methods, resource_type)
                        .err()
                        .unwrap_or_else(|| FhirError::bad_request("unsupported method"))),
                }
            }
            (_, [resource_type, id]) => {
                let providers = self.providers_of(resource_type)?;
                let instance_methods = [
                    (Interaction::Read, "GET"),
                    (Interaction::Update, "PUT"),
                    (Interaction::Delete, "DELETE"),
                    (Interaction::Patch, "PATCH"),
                ];
                let interaction = match method {
                    Method::Get => Interaction::Read,
                    Method::Put => Interaction::Update,
                    Method::Delete => Interaction::Delete,
                    Method::Patch => Interaction::Patch,
                    _ => {
                        return Err(method_not_allowed(
                            providers,
                            &instance_methods,
                            resource_type,
                        ))
                    }
                };
                let i = self.find(providers, interaction, &instance_methods, resource_type)?;
                let mut patch = Vec::new();
                let body = match interaction {
                    Interaction::Update => {
                        Some(read_body::<R>(req, data, Some(resource_type), Some(id)).await?)
                    }
                    Interaction::Patch => {
                        patch = read_patch(req, data).await?;
                        None
                    }
                    _ => None,
                };
                if let Some(expected) = req.headers().get_one("If-Match") {
                    self.check_if_match(req, providers, id, expected, &context)
                        .await?;
                }
                let mut input = input(context, Some(id.to_string()), None, body);
                input.patch = patch;
                let output = call(req, &providers[i], input).await?;
                match interaction {
                    Interaction::Read => {
                        if let Some(reply) = http::not_modified(req, &output) {
                            return Ok(reply);
                        }
                        Self::resource_reply(
                            req,
                            output,
                            200,
                            format,
                            &base_url,
                            resource_type,
                            false,
                        )
                    }
                    Interaction::Update | Interaction::Patch => Self::resource_reply(
                        req,
                        output,
                        200,
                        format,
                        &base_url,
                        resource_type,
                        true,
                    ),
                    _ => Ok(Reply::empty(204)),
                }
            }
            (Method::Get, [resource_type, id, "_history", version]) => {
                let providers = self.providers_of(resource_type)?;
                let i = self.find(
                    providers,
                    Interaction::VRead,
                    &[(Interaction::VRead, "GET")],
                    resource_type,
                )?;
                let input = input(
                    context,
                    Some(id.to_string()),
                    Some(version.to_string()),
                    None,
                );
                let output = call(req, &providers[i], input).await?;
                Self::resource_reply(req, output, 200, format, &base_url, resource_type, false)
            }
            _ => Err(FhirError::not_found(format!(
                "no FHIR interaction at {} {}",
                method,
                req.uri().path()
            ))),
        }
    }

    /// Searches `resource_type` with `raw_query` and answers a searchset Bundle.
    async fn search(
        &self,
        req: &Request<'_>,
        providers: &[Provider<R>],
        resource_type: &str,
        raw_query: &str,
        context: RequestContext,
        format: &Format,
    ) -> Result<Reply, FhirError> {
        let base_url = context.base_url.clone();
        let (found, count, offset) = self
            .run_search(req, providers, resource_type, raw_query, context)
            .await?;
        Ok(Reply::json(
            200,
            http::searchset(
                &base_url,
                resource_type,
                raw_query,
                &found,
                count,
                offset,
                format.pretty_json(),
            ),
        ))
    }

    /// The CapabilityStatement, after the server's hook.
    fn metadata(&self, base_url: &str, format: &Format) -> Result<Reply, FhirError> {
        let generated = capability::statement::<R>(&self.state, base_url);
        let Some(hook) = &self.state.capability_hook else {
            return Ok(Reply::json(200, generated));
        };
        let mut value: fhir_model::json::Value =
            fhir_model::json::from_slice(&generated).map_err(FhirError::internal)?;
        hook(&mut value);
        let statement: R = fhir_model::json::from_str(&fhir_model::json::to_string(&value))
            .map_err(|e| {
                FhirError::internal(format!(
                    "the capability hook made an invalid CapabilityStatement: {e}"
                ))
            })?;
        Ok(Reply::json(
            200,
            fhir_model::json::to_vec(&statement, format.pretty_json()),
        ))
    }

    /// Invokes an operation: the body (POST) or the query (GET, idempotent operations only)
    /// is its input.
    #[allow(clippy::too_many_arguments)]
    async fn operation(
        &self,
        req: &Request<'_>,
        data: Data<'_>,
        resource_type: &str,
        id: Option<&str>,
        name: &str,
        context: RequestContext,
        raw_query: &str,
        format: &Format,
    ) -> Result<Reply, FhirError> {
        let providers: &[Provider<R>] = if resource_type.is_empty() {
            self.state
                .providers
                .get("")
                .map(Vec::as_slice)
                .unwrap_or(&[])
        } else {
            self.providers_of(resource_type)?
        };
        let found = providers.iter().find_map(|p| {
            p.operation
                .filter(|o| o.name == name && o.instance == id.is_some())
                .map(|o| (p, o))
        });
        let Some((provider, op)) = found else {
            let place = match (resource_type, id) {
                ("", _) => "on this server".to_string(),
                (t, None) => format!("on {t}"),
                (t, Some(_)) => format!("on {t} instances"),
            };
            return Err(FhirError::not_found(format!(
                "operation {name} is not known {place}"
            )));
        };
        let body: R = if req.method() == Method::Get {
            if !op.idempotent {
                return Err(FhirError::method_not_allowed(
                    format!("{name} may change data: invoke it with POST"),
                    "POST",
                ));
            }
            parameters_from_query(raw_query)?
        } else {
            read_body::<R>(req, data, None, None).await?
        };
        let input = input(context, id.map(str::to_string), None, Some(body));
        match call(req, provider, input).await? {
            Output::Resource(r) => Ok(Reply::json(
                200,
                fhir_model::json::to_vec(&*r, format.pretty_json()),
            )),
            Output::Done => Ok(Reply::empty(204)),
            Output::NotFound => Err(FhirError::not_found(format!("{name} found nothing"))),
            _ => Err(FhirError::internal("an operation returned a list")),
        }
    }

    /// Runs a history provider and answers a history Bundle.
    #[allow(clippy::too_many_arguments)]
    async fn history(
        &self,
        req: &Request<'_>,
        provider: &Provider<R>,
        path: &str,
        raw_query: &str,
        context: RequestContext,
        id: Option<&str>,
        format: &Format,
    ) -> Result<Reply, FhirError> {
        let (params, offset) = history_params(raw_query)?;
        let base_url = context.base_url.clone();
        let count = params.count;
        let mut input = input(context, id.map(str::to_string), None, None);
        input.history = params;
        let entries = match call(req, provider, input).await? {
            Output::History(entries) => entries,
            _ => Vec::new(),
        };
        Ok(Reply::json(
            200,
            http::history(
                &base_url,
                path,
                raw_query,
                &entries,
                count,
                offset,
                format.pretty_json(),
            ),
        ))
    }

    /// Picks the search provider for the query's parameters and runs it.
    async fn run_search(
        &self,
        req: &Request<'_>,
        providers: &[Provider<R>],
        resource_type: &str,
        raw_query: &str,
        context: RequestContext,
    ) -> Result<(http::Found<R>, Option<u32>, usize), FhirError> {
        let mut query =
            parse_query(raw_query).map_err(|e| FhirError::bad_request(e.to_string()))?;
        let result = query
            .take_result_params()
            .map_err(|e| FhirError::bad_request(e.to_string()))?;
        let searches = providers
            .iter()
            .filter(|p| p.interaction == Interaction::Search);
        if searches.clone().next().is_none() {
            return Err(self
                .find(
                    providers,
                    Interaction::Search,
                    &[(Interaction::Search, "GET"), (Interaction::Create, "POST")],
                    resource_type,
                )
                .unwrap_err());
        }
        // The first provider whose required parameters are all given and whose parameters
        // cover every given one.
        let given = query.params();
        let chosen = searches.clone().find(|p| {
            p.params
                .iter()
                .filter(|d| d.required)
                .all(|d| given.iter().any(|g| g.name == d.name))
                && given
                    .iter()
                    .all(|g| p.params.iter().any(|d| d.name == g.name))
        });
        let Some(provider) = chosen else {
            let supported: Vec<String> = searches
                .map(|p| {
                    let params: Vec<String> = p
                        .params
                        .iter()
                        .map(|d| {
                            if d.required {
                                format!("{} (required)", d.name)
                            } else {
                                d.name.to_string()
                            }
                        })
                        .collect();
                    format!("[{}]", params.join(", "))
                })
                .collect();
            return Err(FhirError::bad_request(format!(
                "no search of {resource_type} takes the parameters [{}]; supported searches: {}",
                query.names().into_iter().collect::<Vec<_>>().join(", "),
                supported.join(" or ")
            )));
        };
        check_includes(provider, &result)?;
        let (count, offset) = (result.count, result.offset.unwrap_or(0) as usize);
        let input = Input {
            context,
            id: None,
            version_id: None,
            query,
            result,
            history: HistoryParams::default(),
            patch: Vec::new(),
            body: None,
        };
        let found = match call(req, provider, input).await? {
            Output::Matches(matches) => http::Found {
                matches,
                includes: Vec::new(),
            },
            Output::Found { matches, includes } => {
                let includes = crate::include::distinct(&matches, includes);
                http::Found { matches, includes }
            }
            Output::Resource(r) => http::Found {
                matches: vec![r],
                includes: Vec::new(),
            },
            Output::NotFound | Output::Done | Output::History(_) => http::Found {
                matches: Vec::new(),
                includes: Vec::new(),
            },
        };
        Ok((found, count, offset))
    }

    /// `If-Match`: the current version (read through the read provider) must be the one the
    /// client names; 412 otherwise.
    async fn check_if_match(
        &self,
        req: &Request<'_>,
        providers: &[Provider<R>],
        id: &str,
        expected: &str,
        context: &RequestContext,
    ) -> Result<(), FhirError> {
        let Some(read) = providers
            .iter()
            .find(|p| p.interaction == Interaction::Read)
        else {
            return Err(FhirError::precondition_failed(
                "If-Match needs a read provider to know the current version",
            ));
        };
        let input = input(context.clone(), Some(id.to_string()), None, None);
        let current = match call(req, read, input).await {
            Ok(Output::Resource(r)) => r.version_id().map(str::to_string),
            Ok(_) => None,
            Err(e) if e.status() == 404 || e.status() == 410 => None,
            Err(e) => return Err(e),
        };
        let expected = expected.trim().trim_start_matches("W/").trim_matches('"');
        match current {
            Some(version) if version == expected => Ok(()),
            Some(version) => Err(FhirError::precondition_failed(format!(
                "If-Match names version {expected}, but the current version is {version}"
            ))),
            None => Err(FhirError::precondition_failed(format!(
                "If-Match names version {expected}, but the resource does not exist"
            ))),
        }
    }

    fn resource_reply(
        req: &Request<'_>,
        output: Output<R>,
        status: u16,
        format: &Format,
        base_url: &str,
        resource_type: &str,
        written: bool,
    ) -> Result<Reply, FhirError> {
        match output {
            Output::Resource(resource) => Ok(http::resource_reply(
                req, &*resource, status, format, base_url, written,
            )),
            Output::NotFound => Err(FhirError::not_found(format!(
                "{resource_type} is not known with this id"
            ))),
            Output::Done => Ok(Reply::empty(204)),
            Output::Matches(_) | Output::Found { .. } | Output::History(_) => Err(
                FhirError::internal("a provider returned a list where one resource was expected"),
            ),
        }
    }
}

fn method_not_allowed<R>(
    providers: &[Provider<R>],
    methods: &[(Interaction, &str)],
    resource_type: &str,
) -> FhirError {
    FhirError::method_not_allowed(
        format!("this method is not supported on {resource_type} instances"),
        allowed_methods(providers, methods),
    )
}

/// The `Allow` header for a path: the methods of the interactions that have providers.
fn allowed_methods<R>(providers: &[Provider<R>], methods: &[(Interaction, &str)]) -> String {
    let mut allow: Vec<&str> = methods
        .iter()
        .filter(|(i, _)| providers.iter().any(|p| p.interaction == *i))
        .map(|(_, m)| *m)
        .collect();
    allow.dedup();
    allow.join(", ")
}

fn input<R>(
    context: RequestContext,
    id: Option<String>,
    version_id: Option<String>,
    body: Option<R>,
) -> Input<R> {
    Input {
        context,
        id,
        version_id,
        query: Query::default(),
        result: ResultParams::default(),
        history: HistoryParams::default(),
        patch: Vec::new(),
        body,
    }
}

/// Reads and checks a request body: JSON media type, the URL's resource type, and for updates
/// the URL's id.
async fn read_body<R: ServerModel>(
    req: &Request<'_>,
    data: Data<'_>,
    resource_type: Option<&str>,
    id: Option<&str>,
) -> Result<R, FhirError> {
    let format = http::body_format(req)?;
    let bytes = data
        .open(32.mebibytes())
        .into_bytes()
        .await
        .map_err(|e| FhirError::bad_request(format!("cannot read the body: {e}")))?;
    if !bytes.is_complete() {
        return Err(FhirError::new(
            413,
            "too-costly",
            "the body is larger than 32 MiB",
        ));
    }
    let resource: R = if format.xml {
        fhir_model::xml::from_slice_with(&bytes, fhir_model::json::ReadOptions::STRICT)?
    } else {
        fhir_model::json::from_slice(&bytes)?
    };
    if let Some(resource_type) = resource_type.filter(|t| *t != resource.resource_type()) {
        return Err(FhirError::bad_request(format!(
            "the body is a {} but the URL names {resource_type}",
            resource.resource_type()
        )));
    }
    if let Some(id) = id {
        if resource.id() != Some(id) {
            return Err(FhirError::bad_request(format!(
                "the body's id ({}) must match the URL's id ({id})",
                resource.id().unwrap_or("none")
            )));
        }
    }
    Ok(resource)
}

/// Every `_include` and `_revinclude` of the request must be one the search provider
/// declared (`#[search(include = [...], revinclude = [...])]`); 400 otherwise, naming the
/// ones it answers.
fn check_includes<R>(provider: &Provider<R>, result: &ResultParams) -> Result<(), FhirError> {
    for (name, requested, declared) in [
        ("_include", &result.include, provider.includes),
        ("_revinclude", &result.revinclude, provider.revincludes),
    ] {
        for include in requested {
            let answered = declared.iter().any(|d| {
                let mut parts = d.split(':');
                *d == "*"
                    || (parts.next() == Some(include.source_type.as_str())
                        && parts.next().is_some_and(|p| p == "*" || p == include.param)
                        && parts
                            .next()
                            .is_none_or(|t| include.target_type.as_deref() == Some(t)))
            });
            if !answered {
                let target = include
                    .target_type
                    .as_deref()
                    .map(|t| format!(":{t}"))
                    .unwrap_or_default();
                let valid = if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                };
                return Err(FhirError::bad_request(format!(
                    "{name}={}:{}{target} is not supported by this search; supported values: {valid}",
                    include.source_type, include.param
                )));
            }
        }
    }
    Ok(())
}

/// `_since`, `_at` and `_count` of a history request, and the page's `_offset`; anything
/// else is an error.
fn history_params(raw_query: &str) -> Result<(HistoryParams, usize), FhirError> {
    use crate::search::{DateParam, SearchValue};
    let query = parse_query(raw_query).map_err(|e| FhirError::bad_request(e.to_string()))?;
    let mut params = HistoryParams::default();
    let mut offset = 0;
    for p in query.params() {
        let bad =
            |what: &str| FhirError::bad_request(format!("{}: '{}' is not {what}", p.name, p.value));
        match p.name.as_str() {
            "_since" => params.since = Some(p.value.parse().map_err(|_| bad("an instant"))?),
            "_at" => {
                params.at = Some(
                    DateParam::parse(p.modifier.as_deref(), &p.value)
                        .map_err(|e| FhirError::bad_request(format!("_at: {e}")))?,
                )
            }
            "_count" => params.count = Some(p.value.parse().map_err(|_| bad("a count"))?),
            // Paging links write `_offset` themselves; a mangled one starts at the top.
            "_offset" => offset = p.value.parse().unwrap_or(0),
            "_format" | "_pretty" => {}
            other => {
                return Err(FhirError::bad_request(format!(
                    "history takes _since, _at and _count, not '{other}'"
                )))
            }
        }
    }
    Ok((params, offset))
}

/// Reads a JSON Patch body (`application/json-patch+json`).
async fn read_patch(
    req: &Request<'_>,
    data: Data<'_>,
) -> Result<Vec<crate::patch::PatchOp>, FhirError> {
    let media = req.headers().get_one("Content-Type").unwrap_or("");
    if media.split(';').next().unwrap_or("").trim() != "application/json-patch+json" {
        return Err(FhirError::unsupported_media_type(format!(
            "a patch is sent as application/json-patch+json, not '{media}'"
        )));
    }
    let bytes = data
        .open(32.mebibytes())
        .into_bytes()
        .await
        .map_err(|e| FhirError::bad_request(format!("cannot read the body: {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| FhirError::bad_request("the patch is not UTF-8"))?;
    crate::patch::parse_patch(text)
        .map_err(|e| FhirError::bad_request(format!("invalid JSON Patch: {e}")))
}

/// The input of an idempotent operation invoked with GET: a Parameters resource with one
/// `valueString` parameter per query parameter.
fn parameters_from_query<R: ServerModel>(raw_query: &str) -> Result<R, FhirError> {
    use fhir_model::json::JsonWriter;
    let query = parse_query(raw_query).map_err(|e| FhirError::bad_request(e.to_string()))?;
    let mut w = JsonWriter::new(Vec::new(), false);
    w.begin_object();
    w.resource_type("Parameters");
    let cp = w.checkpoint();
    w.key("parameter");
    w.begin_array();
    for p in query.params() {
        if matches!(p.name.as_str(), "_format" | "_pretty") || p.value.is_empty() {
            continue;
        }
        w.item();
        w.begin_object();
        w.key("name");
        w.string(&p.name);
        w.key("valueString");
        w.string(&p.value);
        w.end_object();
    }
    if !w.end_array() {
        w.rollback(cp);
    }
    w.end_object();
    fhir_model::json::from_slice(&w.into_inner())
        .map_err(|e| FhirError::bad_request(format!("the query is not valid operation input: {e}")))
}

/// Answers every error Rocket raises under the base path (unmatched routes, panics, failed
/// guards) with an OperationOutcome, in XML when the client asked for XML; a 500 says no more
/// than that.
fn outcome_catcher<'r, R: ServerModel>(
    status: rocket::http::Status,
    req: &'r Request<'_>,
) -> rocket::catcher::BoxFuture<'r> {
    let message = if status.code >= 500 {
        "internal server error".to_string()
    } else {
        status.reason_lossy().to_string()
    };
    let code = match status.code {
        404 => "not-found",
        401 => "login",
        403 => "forbidden",
        500.. => "exception",
        _ => "processing",
    };
    let mut reply = Reply::error(&FhirError::new(status.code, code, message));
    let raw_query = req.uri().query().map(|q| q.as_str()).unwrap_or("");
    if let Ok(Format {
        xml: true, pretty, ..
    }) = http::negotiate(req, raw_query)
    {
        reply = reply.into_xml(<R as fhir_model::xml::XmlResource>::xml_table(), pretty);
    }
    Box::pin(async move {
        use rocket::response::Responder;
        reply.into_response().respond_to(req)
    })
}

/// Calls a provider, giving it the request headers when it takes the request context (copying
/// them costs on every request, so only then).
async fn call<R>(
    req: &Request<'_>,
    provider: &Provider<R>,
    mut input: Input<R>,
) -> Result<Output<R>, FhirError> {
    if provider.wants_context {
        input.context.headers = req
            .headers()
            .iter()
            .map(|h| {
                (
                    h.name().as_str().to_ascii_lowercase(),
                    h.value().to_string(),
                )
            })
            .collect();
    }
    (provider.handler)(req, input).await
}
