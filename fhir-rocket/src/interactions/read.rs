//! Read and vread, with `If-None-Match` and `If-Modified-Since` (304).

use super::{call_read, Answer, Conditions, Engine};
use crate::context::RequestContext;
use crate::error::FhirError;
use crate::provider::{Input, Interaction};
use crate::version_model::ServerModel;
use rocket::Request;
use std::sync::Arc;

impl<R: ServerModel> Engine<R> {
    pub(super) async fn read(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        id: String,
        version: Option<String>,
        conditions: &Conditions,
        context: RequestContext,
    ) -> Result<Answer<R>, FhirError> {
        let interaction = match version {
            Some(_) => Interaction::VRead,
            None => Interaction::Read,
        };
        let provider = self.registry.find(resource_type, interaction)?;
        let mut input = Input::new(context, resource_type);
        input.id = Some(id);
        input.version_id = version;
        let resource = call_read(req, provider, input).await?.ok_or_else(|| {
            FhirError::not_found(format!("{resource_type} is not known with this id"))
        })?;
        // A vread answers 304 too when the client holds that version.
        if let Some(answer) = not_modified::<R>(conditions, &resource) {
            return Ok(answer);
        }
        Ok(Answer::Resource {
            status: 200,
            resource,
            written: false,
        })
    }

    /// The current version through the read provider: `None` when there is none (404, 410)
    /// or the type has no read provider.
    pub(super) async fn current(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        id: &str,
        context: &RequestContext,
    ) -> Result<Option<Arc<R>>, FhirError> {
        let Ok(provider) = self.registry.find(resource_type, Interaction::Read) else {
            return Ok(None);
        };
        let mut input = Input::new(context.clone(), resource_type);
        input.id = Some(id.to_string());
        match call_read(req, provider, input).await {
            Ok(found) => Ok(found),
            Err(e) if e.status() == 404 || e.status() == 410 => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `304 Not Modified` when `If-None-Match` names the current version or `If-Modified-Since`
/// is not older than `meta.lastUpdated`.
fn not_modified<R: ServerModel>(conditions: &Conditions, resource: &R) -> Option<Answer<R>> {
    if let (Some(tags), Some(version)) = (&conditions.if_none_match, resource.version_id()) {
        let current = format!("W/\"{version}\"");
        let strong = format!("\"{version}\"");
        if tags
            .split(',')
            .map(str::trim)
            .any(|t| t == current || t == strong || t == "*")
        {
            return Some(Answer::NotModified {
                etag: Some(current),
            });
        }
    }
    if let (Some(since), Some(updated)) = (
        conditions.if_modified_since,
        resource
            .last_updated()
            .and_then(|i| crate::http::unix_seconds(i.as_str())),
    ) {
        if updated <= since {
            return Some(Answer::NotModified { etag: None });
        }
    }
    None
}
