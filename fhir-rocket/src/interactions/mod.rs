//! The interactions: what the server does for each kind of [`FhirRequest`], one module per
//! family, the same for an HTTP request and for an entry of a batch or transaction.

mod batch;
mod history;
mod operation;
mod read;
pub(crate) mod references;
mod search;
mod supported;
pub(crate) mod validate;
mod write;

use crate::config::{CapabilityHook, Limits, Software, TransactionHook};
use crate::context::RequestContext;
use crate::error::FhirError;
use crate::http::Format;
use crate::interceptor::Resolved;
use crate::patch::PatchOp;
use crate::provider::{Handler, HandlerFn, Input, Provider};
use crate::registry::Registry;
use crate::route::FhirRequest;
use crate::search::Query;
use crate::version_model::ServerModel;
use rocket::Request;
use std::sync::Arc;

/// The server's state: its providers, settings and hooks.
pub(crate) struct Engine<R> {
    pub(crate) base_path: String,
    pub(crate) software: Software,
    pub(crate) capability_hook: Option<CapabilityHook>,
    pub(crate) registry: Registry<R>,
    /// Whether the first path segment after the base names a tenant.
    pub(crate) multi_tenant: bool,
    pub(crate) transactions: Option<Arc<dyn TransactionHook>>,
    /// Held shared by every request and exclusively by a transaction, so that no request
    /// sees a transaction half done. Taken only when the server has a transaction hook.
    pub(crate) gate: rocket::tokio::sync::RwLock<()>,
    pub(crate) limits: Limits,
    /// How the server names itself.
    pub(crate) address: crate::address::AddressStrategy,
    /// The interceptors, in registration order.
    pub(crate) interceptors: crate::interceptor::Interceptors<R>,
    /// Whether created and updated resources are validated (422 when invalid).
    pub(crate) validate_writes: bool,
    /// How a protected server tells of its authorization (`rest.security`).
    pub(crate) security: Option<Arc<dyn crate::config::Security>>,
}

/// The conditional headers of a request, or the matching fields of a Bundle entry's request.
#[derive(Clone, Debug, Default)]
pub(crate) struct Conditions {
    pub(crate) if_match: Option<String>,
    pub(crate) if_none_match: Option<String>,
    /// Seconds since the Unix epoch.
    pub(crate) if_modified_since: Option<i64>,
    pub(crate) if_none_exist: Option<String>,
}

/// The body of a request, read according to its interaction.
pub(crate) enum Body<R> {
    None,
    Resource(R),
    Patch(Vec<PatchOp>),
    /// The parameters of a `POST .../_search` form.
    Form(Query),
    /// The body of a `$validate` that the typed reader refused: what validation found in it.
    Invalid(fhir_model::validate::Report),
}

/// One request to execute: routed, with its conditions and body.
pub(crate) struct Call<R> {
    pub(crate) request: FhirRequest,
    pub(crate) conditions: Conditions,
    pub(crate) body: Body<R>,
    pub(crate) context: RequestContext,
    /// The body was validated already (a transaction's entries are, before its lock).
    pub(crate) validated: bool,
}

impl<R> Call<R> {
    /// A create with `If-None-Exist`, or an update, patch or delete of `[type]?[search]`.
    pub(crate) fn is_conditional_write(&self) -> bool {
        use crate::route::Target;
        match &self.request {
            FhirRequest::Create { .. } => self.conditions.if_none_exist.is_some(),
            FhirRequest::Update { target, .. }
            | FhirRequest::Patch { target, .. }
            | FhirRequest::Delete { target, .. } => matches!(target, Target::Condition(_)),
            _ => false,
        }
    }
}

/// What an interaction answers, before it is written as HTTP or as a Bundle entry.
pub(crate) enum Answer<R> {
    /// One resource; `written` adds `Location`/`Content-Location` and honours `Prefer`.
    Resource {
        status: u16,
        resource: Arc<R>,
        written: bool,
    },
    /// A resource written, which an interceptor withholds from the client: the write's
    /// status and headers (`Location`, `ETag`) without the resource.
    Stored { status: u16, resource: Arc<R> },
    /// `304 Not Modified`.
    NotModified { etag: Option<String> },
    /// A status without a body (delete).
    Empty(u16),
    /// A body written already: a Bundle, the CapabilityStatement, an OperationOutcome.
    Json { status: u16, body: Vec<u8> },
    /// A Bundle written as XML already, for a request (never a Bundle's entry) that asked
    /// for XML.
    Xml { status: u16, body: Vec<u8> },
}

/// Restricts a search as interceptors asked ([`Narrowing`](crate::interceptor::Narrowing)):
/// into a compartment, and with more parameters.
fn narrow<R: ServerModel>(
    request: &mut FhirRequest,
    narrowing: crate::interceptor::Narrowing,
) -> Result<(), FhirError> {
    use crate::route::SearchScope;
    let FhirRequest::Search { scope, query, .. } = request else {
        return Ok(());
    };
    if let Some((owner_type, owner_id)) = narrowing.compartment {
        match scope {
            // A type outside the compartment has no resources in it to restrict to.
            SearchScope::Type(t) if R::compartment_params(&owner_type, t).is_none() => {}
            SearchScope::Type(t) => {
                *scope = SearchScope::Compartment {
                    compartment: owner_type,
                    id: owner_id,
                    resource_type: Some(std::mem::take(t)),
                }
            }
            SearchScope::System => {
                *scope = SearchScope::Compartment {
                    compartment: owner_type,
                    id: owner_id,
                    resource_type: None,
                }
            }
            SearchScope::Compartment { compartment, id, .. }
                if *compartment == owner_type && *id == owner_id => {}
            SearchScope::Compartment { compartment, id, .. } => {
                return Err(FhirError::forbidden(format!(
                    "this request may search the {owner_type}/{owner_id} compartment only, not {compartment}/{id}"
                )))
            }
        }
    }
    for param in narrowing.params {
        query.push(param);
    }
    Ok(())
}

impl<R: ServerModel> Engine<R> {
    /// Executes one routed request. Batches and transactions come here too, once; their
    /// entries come through [`Engine::execute_entry`].
    pub(crate) async fn execute(
        &self,
        req: &Request<'_>,
        call: Call<R>,
        format: Format,
    ) -> Result<Answer<R>, FhirError> {
        if let FhirRequest::Bundle = call.request {
            let Body::Resource(mut bundle) = call.body else {
                return Err(FhirError::bad_request(
                    "POST to the base takes a Bundle of type batch or transaction",
                ));
            };
            if !self.interceptors.is_empty() {
                let resolved = Resolved::of(&call.request, None, call.context.tenant.as_deref());
                self.interceptors
                    .interaction_resolved(req, &resolved)
                    .await?;
                self.interceptors
                    .resource_incoming(req, &resolved, &mut bundle)
                    .await?;
            }
            return self
                .bundle(req, bundle, call.context, format.pretty_json())
                .await;
        }
        // A conditional write runs alone: its search and its write must not interleave with
        // another conditional write, or two creates with the same criteria would both create.
        if call.is_conditional_write() {
            let _alone = self.gate.write().await;
            return self.execute_entry(req, call, format).await;
        }
        // Outside a transaction, wait for any transaction to finish.
        let _gate = match &self.transactions {
            Some(_) => Some(self.gate.read().await),
            None => None,
        };
        self.execute_entry(req, call, format).await
    }

    /// Executes a request that is not a Bundle (an HTTP request, or a Bundle's entry).
    pub(crate) async fn execute_entry(
        &self,
        req: &Request<'_>,
        mut call: Call<R>,
        format: Format,
    ) -> Result<Answer<R>, FhirError> {
        if self.interceptors.is_empty() {
            return self.run_entry(req, call, format).await;
        }
        let conditional = call.is_conditional_write();
        // One borrow of the body gives what interceptors read of it: a search's form, or the
        // resource they may check and change.
        let (form, resource) = match &mut call.body {
            Body::Form(form) => (Some(&*form), None),
            Body::Resource(resource) => (None, Some(resource)),
            _ => (None, None),
        };
        let mut resolved = Resolved::of(&call.request, form, call.context.tenant.as_deref());
        resolved.conditional = conditional;
        self.interceptors
            .interaction_resolved(req, &resolved)
            .await?;
        if let Some(resource) = resource {
            self.interceptors
                .resource_incoming(req, &resolved, resource)
                .await?;
        }
        let narrowing = match call.request {
            FhirRequest::Search { .. } => Some(self.interceptors.narrow_search(req, &resolved)?),
            _ => None,
        };
        if let Some(narrowing) = narrowing.filter(|n| !n.is_none()) {
            narrow::<R>(&mut call.request, narrowing)?;
        }
        if self.interceptors.withhold() {
            self.refuse_withheld_target(req, &call).await?;
        }
        match self.run_entry(req, call, format).await? {
            Answer::Resource {
                status,
                resource: kept,
                written,
            } => match self.interceptors.resource_outgoing(req, kept.clone()) {
                Some(resource) => Ok(Answer::Resource {
                    status,
                    resource,
                    written,
                }),
                // A write happened: it is answered as such, without the resource.
                None if written => Ok(Answer::Stored {
                    status,
                    resource: kept,
                }),
                // Named from the resource itself: nothing is written for the common case.
                // Answered as an unknown id is, so that it does not tell the resource exists.
                None => Err(FhirError::not_found(format!(
                    "{} is not known with this id",
                    kept.resource_type()
                ))),
            },
            other => Ok(other),
        }
    }

    /// An update, patch or delete of a resource an interceptor withholds from this request,
    /// or an operation on it, is answered as one of an unknown id: what a request may not
    /// read, it may not change or run operations on.
    async fn refuse_withheld_target(
        &self,
        req: &Request<'_>,
        call: &Call<R>,
    ) -> Result<(), FhirError> {
        let (FhirRequest::Update {
            resource_type,
            target: crate::route::Target::Id(id),
        }
        | FhirRequest::Patch {
            resource_type,
            target: crate::route::Target::Id(id),
        }
        | FhirRequest::Delete {
            resource_type,
            target: crate::route::Target::Id(id),
        }
        | FhirRequest::Operation {
            resource_type: Some(resource_type),
            id: Some(id),
            ..
        }) = &call.request
        else {
            return Ok(());
        };
        match self.current(req, resource_type, id, &call.context).await? {
            Some(current)
                if self
                    .interceptors
                    .resource_outgoing(req, current.clone())
                    .is_none() =>
            {
                Err(FhirError::not_found(format!(
                    "{resource_type} is not known with this id"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Executes a request that is not a Bundle, once the interceptors have let it through.
    async fn run_entry(
        &self,
        req: &Request<'_>,
        call: Call<R>,
        format: Format,
    ) -> Result<Answer<R>, FhirError> {
        let Call {
            request,
            conditions,
            body,
            context,
            validated,
        } = call;
        match request {
            FhirRequest::Capabilities => {
                let security = match &self.security {
                    Some(security) => {
                        let security = security.clone();
                        // Perhaps fetched from the issuer: off the async workers. Without
                        // the endpoints, the statement still says SMART on FHIR.
                        let uris =
                            rocket::tokio::task::spawn_blocking(move || security.oauth_uris())
                                .await;
                        Some(uris.ok().and_then(Result::ok).unwrap_or_default())
                    }
                    None => None,
                };
                self.metadata(&context.base_url, security.as_ref(), format.pretty_json())
            }
            FhirRequest::Read { resource_type, id } => {
                self.read(req, &resource_type, id, None, &conditions, context)
                    .await
            }
            FhirRequest::VRead {
                resource_type,
                id,
                version,
            } => {
                self.read(req, &resource_type, id, Some(version), &conditions, context)
                    .await
            }
            FhirRequest::Search { scope, query, .. } => {
                let query = match body {
                    Body::Form(form) => query.into_iter().chain(form.iter()).cloned().collect(),
                    _ => query,
                };
                self.search(req, scope, query, context, format).await
            }
            FhirRequest::Create { resource_type } => {
                self.create(req, &resource_type, body, &conditions, context, validated)
                    .await
            }
            FhirRequest::Update {
                resource_type,
                target,
            } => {
                self.update(
                    req,
                    &resource_type,
                    target,
                    body,
                    &conditions,
                    context,
                    validated,
                )
                .await
            }
            FhirRequest::Patch {
                resource_type,
                target,
            } => {
                self.patch(req, &resource_type, target, body, &conditions, context)
                    .await
            }
            FhirRequest::Delete {
                resource_type,
                target,
            } => {
                self.delete(req, &resource_type, target, &conditions, context)
                    .await
            }
            FhirRequest::History {
                resource_type,
                id,
                query,
            } => {
                self.history(req, resource_type, id, query, context, format)
                    .await
            }
            FhirRequest::Operation {
                resource_type: None,
                id: None,
                name,
                ..
            } if name == "$versions" => Ok(self.versions()),
            FhirRequest::Operation {
                resource_type,
                id,
                name,
                query,
                ..
            } if name == "$validate"
                && !self.provides_operation(resource_type.as_deref(), &name, id.is_some()) =>
            {
                self.validate_operation(resource_type, id, &query, body)
            }
            FhirRequest::Operation {
                resource_type,
                id,
                name,
                query,
                get,
            } => {
                self.operation(req, resource_type, id, &name, query, get, body, context)
                    .await
            }
            FhirRequest::Bundle => Err(FhirError::bad_request(
                "a batch or transaction cannot be nested in another",
            )),
        }
    }

    /// Whether anything serves the request's interaction, checked before its body is read
    /// (404 for a type not served, 405 for an interaction it lacks).
    pub(crate) fn precheck(&self, request: &FhirRequest) -> Result<(), FhirError> {
        use crate::provider::Interaction as I;
        let (resource_type, interaction) = match request {
            FhirRequest::Create { resource_type } => (resource_type, I::Create),
            FhirRequest::Update { resource_type, .. } => (resource_type, I::Update),
            FhirRequest::Patch { resource_type, .. } => (resource_type, I::Patch),
            FhirRequest::Delete { resource_type, .. } => (resource_type, I::Delete),
            FhirRequest::Read { resource_type, .. } => (resource_type, I::Read),
            FhirRequest::VRead { resource_type, .. } => (resource_type, I::VRead),
            _ => return Ok(()),
        };
        self.registry.find(resource_type, interaction).map(|_| ())
    }

    /// The CapabilityStatement, after the server's hook.
    fn metadata(
        &self,
        base_url: &str,
        security: Option<&crate::config::OAuthUris>,
        pretty: bool,
    ) -> Result<Answer<R>, FhirError> {
        let described = crate::capability::Described {
            registry: &self.registry,
            software: &self.software,
            limits: &self.limits,
            transactions: self.transactions.is_some(),
            security,
        };
        let generated = crate::capability::statement::<R>(&described, base_url);
        let Some(hook) = &self.capability_hook else {
            return Ok(Answer::Json {
                status: 200,
                body: generated,
            });
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
        Ok(Answer::Json {
            status: 200,
            body: fhir_model::json::to_vec(&statement, pretty),
        })
    }
}

impl<R: ServerModel> Engine<R> {
    /// `$versions`: the FHIR version this server serves, which is also its default (a server
    /// of another version is mounted at a base of its own).
    fn versions(&self) -> Answer<R> {
        let version = crate::http::short_version(R::VERSION.number());
        let mut w = fhir_model::json::JsonWriter::new(Vec::with_capacity(160), false);
        w.begin_object();
        w.resource_type("Parameters");
        w.key("parameter");
        w.begin_array();
        for name in ["version", "default"] {
            w.item();
            w.begin_object();
            w.key("name");
            w.string(name);
            w.key("valueCode");
            w.string(version);
            w.end_object();
        }
        w.end_array();
        w.end_object();
        Answer::Json {
            status: 200,
            body: w.into_inner(),
        }
    }
}

/// Calls a provider, giving it the request headers when it takes the request context (copying
/// them costs on every request, so only then).
fn with_headers<R>(req: &Request<'_>, provider: &Provider<R>, input: &mut Input<R>) {
    if provider.takes(crate::ParamRole::Context) && input.context.headers.is_empty() {
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
}

/// A provider's handler was not of the kind its interaction needs: the registry only pairs
/// them right, so this is a bug in the kit.
fn wrong_handler(provider: &str) -> FhirError {
    FhirError::internal(format!(
        "provider {provider} is mounted for an interaction its handler does not serve"
    ))
}

/// Calls the provider's handler that `select` picks for the interaction.
async fn call<R, T>(
    req: &Request<'_>,
    provider: &Provider<R>,
    mut input: Input<R>,
    select: fn(Handler<R>) -> Option<HandlerFn<R, T>>,
) -> Result<T, FhirError> {
    with_headers(req, provider, &mut input);
    let extras = input.extras.clone();
    let result = match select(provider.handler) {
        Some(f) => f(req, input).await,
        None => Err(wrong_handler(provider.name)),
    };
    crate::extras::collect(req, extras.take());
    result
}

pub(crate) async fn call_read<R>(
    req: &Request<'_>,
    provider: &Provider<R>,
    input: Input<R>,
) -> Result<Option<Arc<R>>, FhirError> {
    call(req, provider, input, |h| match h {
        Handler::Read(f) => Some(f),
        _ => None,
    })
    .await
}

pub(crate) async fn call_search<R>(
    req: &Request<'_>,
    provider: &Provider<R>,
    input: Input<R>,
) -> Result<crate::provider::Found<R>, FhirError> {
    call(req, provider, input, |h| match h {
        Handler::Search(f) => Some(f),
        _ => None,
    })
    .await
}

/// Create, update, patch and operations: one resource back.
pub(crate) async fn call_write<R>(
    req: &Request<'_>,
    provider: &Provider<R>,
    input: Input<R>,
) -> Result<Arc<R>, FhirError> {
    call(req, provider, input, |h| match h {
        Handler::Write(f) | Handler::Operation(f) => Some(f),
        _ => None,
    })
    .await
}

pub(crate) async fn call_delete<R>(
    req: &Request<'_>,
    provider: &Provider<R>,
    input: Input<R>,
) -> Result<(), FhirError> {
    call(req, provider, input, |h| match h {
        Handler::Delete(f) => Some(f),
        _ => None,
    })
    .await
}

pub(crate) async fn call_history<R>(
    req: &Request<'_>,
    provider: &Provider<R>,
    input: Input<R>,
) -> Result<Vec<crate::provider::HistoryEntry<R>>, FhirError> {
    call(req, provider, input, |h| match h {
        Handler::History(f) => Some(f),
        _ => None,
    })
    .await
}
