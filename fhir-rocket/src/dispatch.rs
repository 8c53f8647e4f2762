//! The HTTP edge: a Rocket request becomes a routed [`Call`], its body is read for its
//! interaction, and the [`Answer`] becomes a response in the negotiated format.

use crate::context::RequestContext;
use crate::error::FhirError;
use crate::http::{self, Format, Reply};
use crate::http::{Return, Sent};
use crate::interactions::{Answer, Body, Call, Conditions, Engine};
use crate::route::{route, FhirRequest, Method};
use crate::search::parse_query;
use crate::version_model::ServerModel;
use rocket::data::ToByteUnit;
use rocket::route::{Handler, Outcome};
use rocket::{Data, Request};
use std::sync::Arc;

pub(crate) struct Dispatcher<R> {
    pub(crate) engine: Arc<Engine<R>>,
}

impl<R> Clone for Dispatcher<R> {
    fn clone(&self) -> Self {
        Dispatcher {
            engine: self.engine.clone(),
        }
    }
}

#[rocket::async_trait]
impl<R: ServerModel> Handler for Dispatcher<R> {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let started = std::time::Instant::now();
        let interceptors = &self.engine.interceptors;
        let raw_query = req.uri().query().map(|q| q.as_str()).unwrap_or("");
        // An interceptor that writes the reply in a form of its own gets it in JSON.
        let writer = interceptors.reply_writer(req);
        let negotiated = match writer {
            Some(_) => Ok(Format::default()),
            None => http::negotiate_version(req, raw_query, Some(R::VERSION.number())),
        };
        let received = interceptors.request_received(req).await;
        let reply = match (&negotiated, received) {
            (_, Err(e)) => Reply::error(&e),
            (Ok(format), Ok(())) => match self.dispatch(req, data, raw_query, format).await {
                Ok(reply) => reply,
                Err(e) => Reply::error(&e),
            },
            (Err(e), Ok(())) => Reply::error(e),
        };
        interceptors
            .response_done(req, reply.status(), started.elapsed())
            .await;
        let reply = match (writer, negotiated) {
            (Some(writer), _) => {
                // A path that names no tenant (an error) has the base without one.
                let path = req.uri().path().as_str();
                let tenant = self.split_tenant(path).ok().and_then(|(t, _)| t);
                writer.write_reply(req, reply, &self.base_url(req, tenant))
            }
            (
                None,
                Ok(Format {
                    xml: true, pretty, ..
                }),
            ) => reply.into_xml(<R as fhir_model::xml::XmlResource>::xml_table(), pretty),
            _ => reply,
        };
        Outcome::from(req, reply.into_response())
    }
}

fn method_of(method: rocket::http::Method) -> Option<Method> {
    use rocket::http::Method as M;
    Some(match method {
        M::Get => Method::Get,
        M::Head => Method::Head,
        M::Post => Method::Post,
        M::Put => Method::Put,
        M::Delete => Method::Delete,
        M::Patch => Method::Patch,
        _ => return None,
    })
}

impl<R: ServerModel> Dispatcher<R> {
    fn base_url(&self, req: &Request<'_>, tenant: Option<&str>) -> String {
        let headers = req.headers();
        let incoming = crate::address::Incoming {
            tls: req.rocket().config().tls_enabled(),
            host: headers.get_one("Host"),
            base_path: &self.engine.base_path,
            tenant,
        };
        crate::address::base_url(&self.engine.address, &incoming, |name| {
            headers.get_one(name)
        })
    }

    /// The tenant of a request path (on a multi-tenant server) and the path after the base
    /// and the tenant.
    fn split_tenant<'p>(&self, path: &'p str) -> Result<(Option<&'p str>, &'p str), FhirError> {
        let path = path
            .strip_prefix(self.engine.base_path.as_str())
            .unwrap_or(path)
            .trim_start_matches('/');
        if !self.engine.multi_tenant {
            return Ok((None, path));
        }
        let (tenant, rest) = path.split_once('/').unwrap_or((path, ""));
        if tenant.is_empty() {
            return Err(FhirError::bad_request(
                "this server is multi-tenant: name the tenant first, as in [base]/TENANT/Patient",
            ));
        }
        Ok((Some(tenant), rest))
    }

    async fn dispatch<'r>(
        &self,
        req: &'r Request<'_>,
        data: Data<'r>,
        raw_query: &str,
        format: &Format,
    ) -> Result<Reply, FhirError> {
        let (tenant, path) = self.split_tenant(req.uri().path().as_str())?;
        let method = method_of(req.method()).ok_or_else(|| {
            FhirError::method_not_allowed(
                format!("{} is not a FHIR method", req.method()),
                "GET, POST, PUT, PATCH, DELETE",
            )
        })?;
        let request = route(method, path, raw_query)?;
        self.engine.precheck(&request)?;
        // A read's `_summary` and `_elements` apply to the resource as it is written.
        let subset = match &request {
            FhirRequest::Read { resource_type, .. } | FhirRequest::VRead { resource_type, .. } => {
                crate::subset::read_subset::<R>(raw_query, resource_type)?
            }
            _ => None,
        };
        let headers = req.headers();
        let conditions = Conditions {
            if_match: headers.get_one("If-Match").map(str::to_string),
            if_none_match: headers.get_one("If-None-Match").map(str::to_string),
            if_modified_since: headers
                .get_one("If-Modified-Since")
                .and_then(http::parse_http_date),
            if_none_exist: headers.get_one("If-None-Exist").map(str::to_string),
        };
        let body = match &request {
            FhirRequest::Create { .. } | FhirRequest::Update { .. } | FhirRequest::Bundle => {
                Body::Resource(self.read_resource(req, data).await?)
            }
            FhirRequest::Operation {
                get: false,
                name,
                resource_type,
                id,
                ..
            } if name == "$validate"
                && !self.engine.provides_operation(
                    resource_type.as_deref(),
                    name,
                    id.is_some(),
                ) =>
            {
                self.read_for_validation(req, data).await?
            }
            FhirRequest::Operation { get: false, .. } => {
                Body::Resource(self.read_resource(req, data).await?)
            }
            FhirRequest::Patch { .. } => Body::Patch(self.read_patch(req, data).await?),
            FhirRequest::Search { post: true, .. } => Body::Form(self.read_form(req, data).await?),
            _ => Body::None,
        };
        let context = RequestContext {
            base_url: self.base_url(req, tenant),
            headers: Vec::new(),
            raw_query: raw_query.to_string(),
            tenant: tenant.map(str::to_string),
        };
        let base_url = context.base_url.clone();
        let call = Call {
            request,
            conditions,
            body,
            context,
            validated: false,
        };
        let answer = self.engine.execute(req, call, *format).await?;
        let extras = crate::extras::take_collected(req);
        let reply = match answer {
            Answer::Resource {
                status,
                resource,
                written,
            } => http::resource_reply(
                &*resource,
                status,
                format,
                &base_url,
                match written {
                    true => Sent::Written(Return::from_prefer(headers.get_one("Prefer"))),
                    false => Sent::Read(subset.as_ref()),
                },
                &extras.warnings,
            ),
            Answer::Stored { status, resource } => http::resource_reply(
                &*resource,
                status,
                format,
                &base_url,
                Sent::Written(Return::Minimal),
                &[],
            ),
            Answer::NotModified { etag } => {
                let reply = Reply::empty(304);
                match etag {
                    Some(etag) => reply.header("ETag", etag),
                    None => reply,
                }
            }
            Answer::Empty(status) => Reply::empty(status),
            Answer::Json { status, body } => Reply::json(status, body),
            Answer::Xml { status, body } => Reply::xml(status, body),
        };
        Ok(reply.with_extras(extras.status, extras.headers))
    }

    /// The body's bytes, up to the limit (Rocket's `limits.fhir`, else the server's); 413
    /// beyond it.
    async fn read_bytes(&self, req: &Request<'_>, data: Data<'_>) -> Result<Vec<u8>, FhirError> {
        let limit = req
            .limits()
            .get("fhir")
            .unwrap_or_else(|| self.engine.limits.body.bytes());
        // Sized from Content-Length (up to the limit), the buffer is not grown and copied
        // again and again while a large body arrives.
        let declared = req
            .headers()
            .get_one("Content-Length")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
            .min(limit.as_u64());
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        let read = data
            .open(limit)
            .stream_to(&mut bytes)
            .await
            .map_err(|e| FhirError::bad_request(format!("cannot read the body: {e}")))?;
        if !read.complete {
            return Err(FhirError::new(
                413,
                "too-costly",
                format!("the body is larger than this server takes ({limit})"),
            ));
        }
        Ok(bytes)
    }

    /// Reads a resource body, JSON or XML by its `Content-Type`.
    async fn read_resource(&self, req: &Request<'_>, data: Data<'_>) -> Result<R, FhirError> {
        let format = http::body_format_version(req, Some(R::VERSION.number()))?;
        let bytes = self.read_bytes(req, data).await?;
        Ok(if format.xml {
            fhir_model::xml::from_slice_with(&bytes, fhir_model::json::ReadOptions::STRICT)?
        } else {
            fhir_model::json::from_slice(&bytes)?
        })
    }

    /// Reads the body of a `$validate`: a resource, or, when the typed reader refuses it, the
    /// report of validating its text, so that `$validate` answers what is wrong with it (with
    /// lines and columns) rather than a 400.
    async fn read_for_validation(
        &self,
        req: &Request<'_>,
        data: Data<'_>,
    ) -> Result<Body<R>, FhirError> {
        let format = http::body_format_version(req, Some(R::VERSION.number()))?;
        let bytes = self.read_bytes(req, data).await?;
        let read: Result<R, FhirError> = if format.xml {
            fhir_model::xml::from_slice_with(&bytes, fhir_model::json::ReadOptions::STRICT)
                .map_err(FhirError::from)
        } else {
            fhir_model::json::from_slice(&bytes).map_err(FhirError::from)
        };
        match read {
            Ok(resource) => Ok(Body::Resource(resource)),
            Err(e) if e.status() == 413 => Err(e),
            Err(e) => {
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    return Err(e);
                };
                let validator = fhir_model::validate::Validator::of::<R>();
                Ok(Body::Invalid(if format.xml {
                    validator.xml(text)
                } else {
                    validator.json(text)
                }))
            }
        }
    }

    /// Reads a JSON Patch body (`application/json-patch+json`).
    async fn read_patch(
        &self,
        req: &Request<'_>,
        data: Data<'_>,
    ) -> Result<Vec<crate::patch::PatchOp>, FhirError> {
        let media = req.headers().get_one("Content-Type").unwrap_or("");
        if media.split(';').next().unwrap_or("").trim() != "application/json-patch+json" {
            return Err(FhirError::unsupported_media_type(format!(
                "a patch is sent as application/json-patch+json, not '{media}'"
            )));
        }
        let bytes = self.read_bytes(req, data).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| FhirError::bad_request("the patch is not UTF-8"))?;
        crate::patch::parse_patch(text)
            .map_err(|e| FhirError::bad_request(format!("invalid JSON Patch: {e}")))
    }

    /// Reads the form of a `POST .../_search` (`application/x-www-form-urlencoded`; an empty
    /// body needs no type).
    async fn read_form(
        &self,
        req: &Request<'_>,
        data: Data<'_>,
    ) -> Result<crate::search::Query, FhirError> {
        let media = req.headers().get_one("Content-Type");
        let bytes = self.read_bytes(req, data).await?;
        if bytes.is_empty() {
            return Ok(Default::default());
        }
        if media.map(|m| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        }) != Some("application/x-www-form-urlencoded".into())
        {
            return Err(FhirError::unsupported_media_type(format!(
                "a search by POST sends its parameters as application/x-www-form-urlencoded, not '{}'",
                media.unwrap_or("none")
            )));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| FhirError::bad_request("the form is not UTF-8"))?;
        parse_query(text).map_err(|e| FhirError::bad_request(e.to_string()))
    }
}

/// Answers every error Rocket raises under the base path (unmatched routes, panics, failed
/// guards) with an OperationOutcome, in XML when the client asked for XML; a 500 says no more
/// than that.
pub(crate) fn outcome_catcher<'r, R: ServerModel>(
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
