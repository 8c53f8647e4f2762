//! Interceptors: FHIR-aware hooks on every request, for audit, consent, masking and
//! authorization (HAPI's interceptors). Rocket's fairings see HTTP; these see interactions,
//! resource types, ids and resources.

use crate::error::FhirError;
use crate::http::Reply;
use crate::route::{FhirRequest, SearchScope, Target};
use crate::search::{Query, QueryParam};
use rocket::Request;
use std::sync::Arc;
use std::time::Duration;

/// What an interaction is about, as interceptors see it: one HTTP request, or one entry of a
/// batch or transaction (each entry is resolved on its own, after the Bundle itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The interaction, as the CapabilityStatement names it (`read`, `vread`,
    /// `search-type`, `search-system`, `create`, `update`, `patch`, `delete`,
    /// `history-instance`, `history-type`, `history-system`, `operation`, `capabilities`,
    /// `batch` for a Bundle posted to the base).
    pub interaction: &'static str,
    /// The resource type, when the interaction names one.
    pub resource_type: Option<&'a str>,
    /// The logical id, when the interaction names one.
    pub id: Option<&'a str>,
    /// The compartment, for a compartment search (`Patient/123`).
    pub compartment: Option<(&'a str, &'a str)>,
    /// The operation's name (`$everything`), for an operation.
    pub operation: Option<&'a str>,
    /// The tenant, on a multi-tenant server.
    pub tenant: Option<&'a str>,
    /// A search's parameters from its URL.
    pub query: Option<&'a Query>,
    /// A search's parameters from a form body (`POST [type]/_search`).
    pub form: Option<&'a Query>,
    /// A conditional write: a create with `If-None-Exist`, or an update, patch or delete of
    /// `[type]?[search]`, which searches before it writes.
    pub conditional: bool,
}

impl<'a> Resolved<'a> {
    pub(crate) fn of(
        request: &'a FhirRequest,
        form: Option<&'a Query>,
        tenant: Option<&'a str>,
    ) -> Resolved<'a> {
        let mut resolved = Resolved {
            interaction: "capabilities",
            resource_type: None,
            id: None,
            compartment: None,
            operation: None,
            tenant,
            query: None,
            form,
            conditional: false,
        };
        let instance = |target: &'a Target| match target {
            Target::Id(id) => Some(id.as_str()),
            Target::Condition(_) => None,
        };
        match request {
            FhirRequest::Capabilities => {}
            FhirRequest::Read { resource_type, id } => {
                resolved.interaction = "read";
                resolved.resource_type = Some(resource_type);
                resolved.id = Some(id);
            }
            FhirRequest::VRead {
                resource_type, id, ..
            } => {
                resolved.interaction = "vread";
                resolved.resource_type = Some(resource_type);
                resolved.id = Some(id);
            }
            FhirRequest::Search { scope, query, .. } => match scope {
                SearchScope::System => {
                    resolved.interaction = "search-system";
                    resolved.query = Some(query);
                }
                SearchScope::Type(t) => {
                    resolved.interaction = "search-type";
                    resolved.resource_type = Some(t);
                    resolved.query = Some(query);
                }
                SearchScope::Compartment {
                    compartment,
                    id,
                    resource_type,
                } => {
                    resolved.query = Some(query);
                    resolved.interaction = if resource_type.is_some() {
                        "search-type"
                    } else {
                        "search-system"
                    };
                    resolved.resource_type = resource_type.as_deref();
                    resolved.compartment = Some((compartment, id));
                }
            },
            FhirRequest::Create { resource_type } => {
                resolved.interaction = "create";
                resolved.resource_type = Some(resource_type);
            }
            FhirRequest::Update {
                resource_type,
                target,
            } => {
                resolved.interaction = "update";
                resolved.resource_type = Some(resource_type);
                resolved.id = instance(target);
            }
            FhirRequest::Patch {
                resource_type,
                target,
            } => {
                resolved.interaction = "patch";
                resolved.resource_type = Some(resource_type);
                resolved.id = instance(target);
            }
            FhirRequest::Delete {
                resource_type,
                target,
            } => {
                resolved.interaction = "delete";
                resolved.resource_type = Some(resource_type);
                resolved.id = instance(target);
            }
            FhirRequest::History {
                resource_type, id, ..
            } => {
                resolved.interaction = match (resource_type, id) {
                    (Some(_), Some(_)) => "history-instance",
                    (Some(_), None) => "history-type",
                    _ => "history-system",
                };
                resolved.resource_type = resource_type.as_deref();
                resolved.id = id.as_deref();
            }
            FhirRequest::Operation {
                resource_type,
                id,
                name,
                ..
            } => {
                resolved.interaction = "operation";
                resolved.resource_type = resource_type.as_deref();
                resolved.id = id.as_deref();
                resolved.operation = Some(name);
            }
            FhirRequest::Bundle => resolved.interaction = "batch",
        }
        resolved
    }

    /// Every parameter of a search, from its URL and then its form body: what an
    /// authorization check reads for the types a chain, `_has` or `_include` reaches.
    ///
    /// ```
    /// use fhir_rocket::Resolved;
    /// use fhir_rocket::search::parse_query;
    /// let url = parse_query("code=8867-4").unwrap();
    /// let form = parse_query("subject:Patient.name=peter").unwrap();
    /// let resolved = Resolved {
    ///     interaction: "search-type",
    ///     resource_type: Some("Observation"),
    ///     id: None,
    ///     compartment: None,
    ///     operation: None,
    ///     tenant: None,
    ///     query: Some(&url),
    ///     form: Some(&form),
    ///     conditional: false,
    /// };
    /// let names: Vec<_> = resolved.search_params().map(|p| p.name.as_str()).collect();
    /// assert_eq!(names, ["code", "subject"]);
    /// ```
    pub fn search_params(&self) -> impl Iterator<Item = &'a QueryParam> {
        let url = self.query.map(Query::params).unwrap_or_default();
        let form = self.form.map(Query::params).unwrap_or_default();
        url.iter().chain(form)
    }
}

/// The interaction as an audit trail names it: `read Patient/123`, `search-type
/// Observation`, `operation $everything Patient/1`, `search-type Patient/1 Observation` (a
/// compartment search), `batch`.
///
/// ```
/// use fhir_rocket::Resolved;
/// let resolved = Resolved {
///     interaction: "read",
///     resource_type: Some("Patient"),
///     id: Some("123"),
///     compartment: None,
///     operation: None,
///     tenant: None,
///     query: None,
///     form: None,
///     conditional: false,
/// };
/// assert_eq!(resolved.to_string(), "read Patient/123");
/// ```
impl std::fmt::Display for Resolved<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.interaction)?;
        if let Some(operation) = self.operation {
            write!(f, " {operation}")?;
        }
        if let Some((compartment, id)) = self.compartment {
            write!(f, " {compartment}/{id}")?;
        }
        match (self.resource_type, self.id) {
            (Some(t), Some(id)) => write!(f, " {t}/{id}"),
            (Some(t), None) => write!(f, " {t}"),
            _ => Ok(()),
        }
    }
}

/// How interceptors restrict a search before it runs, so that what it finds, its total and
/// its pages are those of the restricted search (authorization in a patient's context, a
/// scope limited by a query): from [`Interceptor::narrow_search`].
///
/// ```
/// use fhir_rocket::Narrowing;
/// use fhir_rocket::search::QueryParam;
/// let narrowing = Narrowing {
///     compartment: Some(("Patient".into(), "123".into())),
///     params: vec![QueryParam::new("category", "laboratory").unwrap()],
/// };
/// assert!(!narrowing.is_none());
/// assert!(Narrowing::default().is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Narrowing {
    /// Only the resources of this compartment (`("Patient", "123")`): a search of a type in
    /// the compartment becomes the compartment's search of that type, a search of every type
    /// the compartment's search of every type; a search of a type outside the compartment is
    /// left as it is; a search of another compartment is refused (403).
    pub compartment: Option<(String, String)>,
    /// Parameters ANDed with the search's own.
    pub params: Vec<QueryParam>,
}

impl Narrowing {
    /// Whether it restricts nothing.
    pub fn is_none(&self) -> bool {
        self.compartment.is_none() && self.params.is_empty()
    }
}

/// A hook on every request of a server, registered with
/// [`FhirServer::intercept`](crate::FhirServer::intercept) and called in registration order.
/// `R` is the version's `Resource` enum. Every method does nothing unless overridden.
///
/// An error from a hook ends the request with that error's status and OperationOutcome (for
/// a Bundle entry: the entry's, which fails a transaction).
///
/// ```
/// use fhir_rocket::model::r4::Resource;
/// use fhir_rocket::{FhirError, Interceptor, Resolved};
///
/// /// Nobody deletes here.
/// struct NoDeletes;
///
/// #[rocket::async_trait]
/// impl Interceptor<Resource> for NoDeletes {
///     async fn interaction_resolved(
///         &self,
///         _req: &rocket::Request<'_>,
///         resolved: &Resolved<'_>,
///     ) -> Result<(), FhirError> {
///         if resolved.interaction == "delete" {
///             return Err(FhirError::forbidden("deletes are not allowed here"));
///         }
///         Ok(())
///     }
/// }
///
/// let server = fhir_rocket::FhirServer::<Resource>::new("/fhir").intercept(NoDeletes);
/// # let _ = server;
/// ```
#[rocket::async_trait]
pub trait Interceptor<R>: Send + Sync + 'static {
    /// A request arrived, before it is routed.
    async fn request_received(&self, _req: &Request<'_>) -> Result<(), FhirError> {
        Ok(())
    }

    /// The interaction is known: the place to authorize it (Rocket request guards run from
    /// `req.guard::<T>()`); an error vetoes it.
    async fn interaction_resolved(
        &self,
        _req: &Request<'_>,
        _resolved: &Resolved<'_>,
    ) -> Result<(), FhirError> {
        Ok(())
    }

    /// Restricts a search (`search-type`, `search-system`, as an HTTP request or a Bundle
    /// entry) before it runs, after [`Interceptor::interaction_resolved`] let it through.
    /// What [`Interceptor::resource_outgoing`] drops afterwards is missing from a page and
    /// still counted in its total; what this leaves out is neither.
    fn narrow_search(
        &self,
        _req: &Request<'_>,
        _resolved: &Resolved<'_>,
    ) -> Result<Narrowing, FhirError> {
        Ok(Narrowing::default())
    }

    /// Whether [`Interceptor::resource_outgoing`] may withhold resources (consent,
    /// authorization): then an update, patch or delete of a resource by id, or an operation
    /// on it, first reads it, and a resource withheld from this request is answered as
    /// unknown (404) rather than written or operated on. `false` unless the interceptor says otherwise.
    fn withholds(&self) -> bool {
        false
    }

    /// A resource was read from the request body (of a create, an update, an operation, a
    /// Bundle entry): it may be checked or changed; an error refuses it.
    async fn resource_incoming(
        &self,
        _req: &Request<'_>,
        _resolved: &Resolved<'_>,
        _resource: &mut R,
    ) -> Result<(), FhirError> {
        Ok(())
    }

    /// Whether [`Interceptor::resource_incoming`] may change a resource: `true` unless the
    /// interceptor says otherwise. The kit validates the resources of a transaction Bundle
    /// before it takes the transaction's lock, so that other transactions go on meanwhile;
    /// when an interceptor may change them, they are validated after it, inside the lock.
    /// Say `false` only if `resource_incoming` never changes a resource.
    fn changes_incoming(&self) -> bool {
        true
    }

    /// A resource is about to be sent: returned as is, changed (masking), or dropped
    /// (`None`, for consent). A read of a dropped resource answers 404, as for an unknown
    /// id, so that the answer does not tell whether it exists. Called for read and written resources, each search match and
    /// included resource, and each version of a history.
    fn resource_outgoing(&self, _req: &Request<'_>, resource: Arc<R>) -> Option<Arc<R>> {
        Some(resource)
    }

    /// The response is ready: its status and how long the request took, for audit.
    async fn response_done(&self, _req: &Request<'_>, _status: u16, _took: Duration) {}

    /// Whether this interceptor writes the reply to `req` itself, in a form other than FHIR
    /// JSON or XML (the HTML page of [`BrowserView`](crate::BrowserView) for a browser).
    /// Asked before the response format is negotiated, in registration order: the first
    /// interceptor that says yes has the request answered in FHIR JSON, whatever its
    /// `Accept` and `_format`, and that reply handed to its
    /// [`write_reply`](Interceptor::write_reply). The default says no.
    fn writes_reply(&self, _req: &Request<'_>) -> bool {
        false
    }

    /// Writes the reply to a request this interceptor claimed with
    /// [`writes_reply`](Interceptor::writes_reply): `reply` is the FHIR JSON one (a resource,
    /// a Bundle, an OperationOutcome for an error, or no body), `base_url` the server's base
    /// URL for the request (with its tenant). What it returns is sent, typically the same
    /// reply [`with_body`](crate::http::Reply::with_body) of another type.
    ///
    /// ```
    /// use fhir_rocket::http::Reply;
    /// use fhir_rocket::model::r4::Resource;
    /// use fhir_rocket::Interceptor;
    ///
    /// /// `?_format=text` answers the JSON as plain text.
    /// struct PlainText;
    ///
    /// impl Interceptor<Resource> for PlainText {
    ///     fn writes_reply(&self, req: &rocket::Request<'_>) -> bool {
    ///         req.uri().query().is_some_and(|q| q.as_str() == "_format=text")
    ///     }
    ///
    ///     fn write_reply(&self, _req: &rocket::Request<'_>, reply: Reply, _base: &str) -> Reply {
    ///         match reply.body().map(<[u8]>::to_vec) {
    ///             Some(body) => reply.with_body("text/plain; charset=utf-8", body),
    ///             None => reply,
    ///         }
    ///     }
    /// }
    ///
    /// let server = fhir_rocket::FhirServer::<Resource>::new("/fhir").intercept(PlainText);
    /// # let _ = server;
    /// ```
    fn write_reply(&self, _req: &Request<'_>, reply: Reply, _base_url: &str) -> Reply {
        reply
    }
}

/// The registered interceptors, called in order.
pub(crate) struct Interceptors<R>(pub(crate) Vec<Arc<dyn Interceptor<R>>>);

impl<R> Default for Interceptors<R> {
    fn default() -> Self {
        Interceptors(Vec::new())
    }
}

impl<R: Send + Sync + 'static> Interceptors<R> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any interceptor may withhold a resource.
    pub(crate) fn withhold(&self) -> bool {
        self.0.iter().any(|i| i.withholds())
    }

    /// The narrowings of every interceptor, together: their parameters all, and their one
    /// compartment (two different ones are refused).
    pub(crate) fn narrow_search(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
    ) -> Result<Narrowing, FhirError> {
        let mut all = Narrowing::default();
        for i in &self.0 {
            let one = i.narrow_search(req, resolved)?;
            match (&all.compartment, one.compartment) {
                (Some(a), Some(b)) if *a != b => {
                    return Err(FhirError::forbidden(format!(
                        "this search is restricted to both {}/{} and {}/{}",
                        a.0, a.1, b.0, b.1
                    )))
                }
                (_, Some(b)) => all.compartment = Some(b),
                _ => {}
            }
            all.params.extend(one.params);
        }
        Ok(all)
    }

    /// Whether any interceptor may change an incoming resource.
    pub(crate) fn change_incoming(&self) -> bool {
        self.0.iter().any(|i| i.changes_incoming())
    }

    pub(crate) async fn request_received(&self, req: &Request<'_>) -> Result<(), FhirError> {
        for i in &self.0 {
            i.request_received(req).await?;
        }
        Ok(())
    }

    pub(crate) async fn interaction_resolved(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
    ) -> Result<(), FhirError> {
        for i in &self.0 {
            i.interaction_resolved(req, resolved).await?;
        }
        Ok(())
    }

    pub(crate) async fn resource_incoming(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
        resource: &mut R,
    ) -> Result<(), FhirError> {
        for i in &self.0 {
            i.resource_incoming(req, resolved, resource).await?;
        }
        Ok(())
    }

    pub(crate) fn resource_outgoing(&self, req: &Request<'_>, resource: Arc<R>) -> Option<Arc<R>> {
        let mut resource = resource;
        for i in &self.0 {
            resource = i.resource_outgoing(req, resource)?;
        }
        Some(resource)
    }

    /// Every resource of a list through [`Interceptors::resource_outgoing`]; the dropped ones
    /// are left out.
    pub(crate) fn outgoing_all(&self, req: &Request<'_>, resources: Vec<Arc<R>>) -> Vec<Arc<R>> {
        if self.is_empty() {
            return resources;
        }
        resources
            .into_iter()
            .filter_map(|r| self.resource_outgoing(req, r))
            .collect()
    }

    pub(crate) async fn response_done(&self, req: &Request<'_>, status: u16, took: Duration) {
        for i in &self.0 {
            i.response_done(req, status, took).await;
        }
    }

    /// The first interceptor that writes the reply to `req` itself, if any.
    pub(crate) fn reply_writer(&self, req: &Request<'_>) -> Option<&dyn Interceptor<R>> {
        self.0.iter().find(|i| i.writes_reply(req)).map(|i| &**i)
    }
}
