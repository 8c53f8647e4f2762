//! Operations (`$name`) at system, type and instance level: the body (`POST`) or the query
//! (`GET`, operations that change nothing) is their input.

use super::{call_write, Answer, Body, Engine};
use crate::context::RequestContext;
use crate::error::FhirError;
use crate::provider::{Input, Provider};
use crate::search::Query;
use crate::version_model::ServerModel;
use rocket::Request;

impl<R: ServerModel> Engine<R> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn operation(
        &self,
        req: &Request<'_>,
        resource_type: Option<String>,
        id: Option<String>,
        name: &str,
        query: Query,
        get: bool,
        body: Body<R>,
        context: RequestContext,
    ) -> Result<Answer<R>, FhirError> {
        let providers: &[Provider<R>] = match &resource_type {
            None => self.registry.system(),
            Some(t) => self.registry.of_type(t)?,
        };
        let found = providers.iter().find_map(|p| {
            p.operation
                .filter(|o| o.name == name && o.instance == id.is_some())
                .map(|o| (p, o))
        });
        let Some((provider, op)) = found else {
            let place = match (&resource_type, &id) {
                (None, _) => "on this server".to_string(),
                (Some(t), None) => format!("on {t}"),
                (Some(t), Some(_)) => format!("on {t} instances"),
            };
            return Err(FhirError::not_found(format!(
                "operation {name} is not known {place}"
            )));
        };
        let input_resource: R = if get {
            if !op.idempotent {
                return Err(FhirError::method_not_allowed(
                    format!("{name} may change data: invoke it with POST"),
                    "POST",
                ));
            }
            parameters_from_query(&query)?
        } else {
            match body {
                Body::Resource(r) => r,
                _ => return Err(FhirError::bad_request(format!("{name} takes a body"))),
            }
        };
        let mut input = Input::new(context, resource_type.as_deref().unwrap_or(""));
        input.id = id;
        input.body = Some(input_resource);
        let result = call_write(req, provider, input).await?;
        Ok(Answer::Resource {
            status: 200,
            resource: result,
            written: false,
        })
    }
}

/// The input of an idempotent operation invoked with GET: a Parameters resource with one
/// `valueString` parameter per query parameter.
fn parameters_from_query<R: ServerModel>(query: &Query) -> Result<R, FhirError> {
    use fhir_model::json::JsonWriter;
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
