//! History of an instance, a type or the whole server.

use super::{call_history, Answer, Engine};
use crate::context::RequestContext;
use crate::error::FhirError;
use crate::http::Format;
use crate::provider::{HistoryParams, Input, Interaction};
use crate::search::Query;
use crate::version_model::ServerModel;
use rocket::Request;

impl<R: ServerModel> Engine<R> {
    pub(super) async fn history(
        &self,
        req: &Request<'_>,
        resource_type: Option<String>,
        id: Option<String>,
        query: Query,
        context: RequestContext,
        format: Format,
    ) -> Result<Answer<R>, FhirError> {
        let link_query = query.to_url_query_without(&["_count", "_offset"]);
        let (params, offset) = history_params(&query)?;
        let subset = match crate::subset::requested_in::<R>(&query, resource_type.as_deref())? {
            crate::subset::Requested::Count => {
                return Err(FhirError::bad_request(
                    "_summary=count is for searches, not histories",
                ))
            }
            requested => requested.subset().cloned(),
        };
        let (provider, path) = match (&resource_type, &id) {
            (None, _) => {
                let provider = self
                    .registry
                    .system()
                    .iter()
                    .find(|p| p.interaction == Interaction::HistorySystem)
                    .ok_or_else(|| {
                        FhirError::method_not_allowed("this server has no system history", "")
                    })?;
                (provider, "_history".to_string())
            }
            (Some(t), None) => (
                self.registry.find(t, Interaction::HistoryType)?,
                format!("{t}/_history"),
            ),
            (Some(t), Some(id)) => (
                self.registry.find(t, Interaction::HistoryInstance)?,
                format!("{t}/{id}/_history"),
            ),
        };
        // The kit pages; `_since` and `_at` only the function can apply. One that does not
        // take them would answer every version as if they matched.
        if (params.since.is_some() || params.at.is_some())
            && !provider.takes(crate::ParamRole::HistoryParams)
        {
            return Err(FhirError::bad_request(format!(
                "this history of {} does not evaluate _since or _at",
                if path == "_history" {
                    "the server"
                } else {
                    &path
                }
            )));
        }
        let base_url = context.base_url.clone();
        let count = Some(self.limits.page_size(params.count));
        let mut input = Input::new(context, resource_type.as_deref().unwrap_or(""));
        input.id = id;
        input.history = params;
        let mut entries = call_history(req, provider, input).await?;
        if !self.interceptors.is_empty() {
            // A version an interceptor withholds is left out; one it changes is sent changed.
            entries = entries
                .into_iter()
                .filter_map(|mut entry| {
                    if let Some(resource) = entry.resource.take() {
                        let shared = self
                            .interceptors
                            .resource_outgoing(req, std::sync::Arc::new(resource))?;
                        entry.resource = Some(
                            std::sync::Arc::try_unwrap(shared).unwrap_or_else(|a| (*a).clone()),
                        );
                    }
                    Some(entry)
                })
                .collect();
        }
        let url = crate::http::BundleUrl {
            base_url: &base_url,
            path: &path,
            query: &link_query,
        };
        // XML straight from the model, as for a searchset.
        if format.xml && subset.is_none() {
            let written = crate::http::history_xml(url, &entries, count, offset, format.pretty);
            if let Ok(body) = written {
                return Ok(Answer::Xml { status: 200, body });
            }
        }
        Ok(Answer::Json {
            status: 200,
            body: crate::http::history(
                url,
                &entries,
                count,
                offset,
                subset.as_ref(),
                format.pretty_json(),
            ),
        })
    }
}

/// `_since`, `_at` and `_count` of a history request, and the page's `_offset`; anything
/// else is an error.
fn history_params(query: &Query) -> Result<(HistoryParams, usize), FhirError> {
    use crate::search::{DateParam, SearchValue};
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
            "_offset" => offset = p.value.parse().map_err(|_| bad("an offset"))?,
            // Applied to the versions as they are written.
            "_format" | "_pretty" | "_summary" | "_elements" => {}
            other => {
                return Err(FhirError::bad_request(format!(
                    "history takes _since, _at, _count, _summary and _elements, not '{other}'"
                )))
            }
        }
    }
    Ok((params, offset))
}
