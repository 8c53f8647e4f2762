//! Create, update, patch and delete, plain and conditional (`If-None-Exist`,
//! `PUT|PATCH|DELETE [type]?...`), with `If-Match`.

use super::{call_delete, call_write, Answer, Body, Conditions, Engine};
use crate::context::RequestContext;
use crate::error::FhirError;
use crate::provider::{Input, Interaction};
use crate::route::Target;
use crate::search::parse_query;
use crate::version_model::ServerModel;
use rocket::Request;
use std::sync::Arc;

fn body_resource<R>(body: Body<R>) -> Result<R, FhirError> {
    match body {
        Body::Resource(r) => Ok(r),
        _ => Err(FhirError::bad_request("the request has no resource body")),
    }
}

/// The one match of a condition; 412 when there are several.
fn at_most_one<R: ServerModel>(
    matches: Vec<Arc<R>>,
    what: &str,
) -> Result<Option<Arc<R>>, FhirError> {
    if matches.len() > 1 {
        return Err(FhirError::precondition_failed(format!(
            "{what} matches {} resources: the condition must identify at most one",
            matches.len()
        )));
    }
    Ok(matches.into_iter().next())
}

impl<R: ServerModel> Engine<R> {
    pub(super) async fn create(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        body: Body<R>,
        conditions: &Conditions,
        context: RequestContext,
        validated: bool,
    ) -> Result<Answer<R>, FhirError> {
        let provider = self.registry.find(resource_type, Interaction::Create)?;
        let resource = body_resource(body)?;
        check_type(&resource, resource_type)?;
        if !validated {
            self.check_valid(&resource)?;
        }
        if let Some(condition) = &conditions.if_none_exist {
            let condition = parse_query(condition.trim_start_matches('?'))
                .map_err(|e| FhirError::bad_request(format!("If-None-Exist: {e}")))?;
            let matches = self
                .find_matches(req, resource_type, condition, &context)
                .await?;
            if let Some(existing) = at_most_one(matches, "If-None-Exist")? {
                return Ok(Answer::Resource {
                    status: 200,
                    resource: existing,
                    written: false,
                });
            }
        }
        let mut input = Input::new(context, resource_type);
        input.body = Some(resource);
        let stored = call_write(req, provider, input).await?;
        Ok(Answer::Resource {
            status: 201,
            resource: stored,
            written: true,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn update(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        target: Target,
        body: Body<R>,
        conditions: &Conditions,
        context: RequestContext,
        validated: bool,
    ) -> Result<Answer<R>, FhirError> {
        let provider = self.registry.find(resource_type, Interaction::Update)?;
        let mut resource = body_resource(body)?;
        check_type(&resource, resource_type)?;
        if !validated {
            self.check_valid(&resource)?;
        }
        let id = match target {
            Target::Id(id) => {
                if resource.id() != Some(id.as_str()) {
                    return Err(FhirError::bad_request(format!(
                        "the body's id ({}) must match the URL's id ({id})",
                        resource.id().unwrap_or("none")
                    )));
                }
                id
            }
            Target::Condition(condition) => {
                let matches = self
                    .find_matches(req, resource_type, condition, &context)
                    .await?;
                match at_most_one(matches, "the conditional update")? {
                    Some(found) => {
                        let found_id = found.id().unwrap_or_default().to_string();
                        if resource.id().is_some_and(|id| id != found_id) {
                            return Err(FhirError::bad_request(format!(
                                "the body's id ({}) is not the id of the resource the condition finds ({found_id})",
                                resource.id().unwrap_or_default()
                            )));
                        }
                        resource.set_id(Some(found_id.clone()));
                        found_id
                    }
                    // No match: a create, with the body's id if it has one.
                    None => match resource.id() {
                        Some(id) => id.to_string(),
                        None => {
                            return self
                                .create(
                                    req,
                                    resource_type,
                                    Body::Resource(resource),
                                    &Conditions::default(),
                                    context,
                                    // Validated above.
                                    true,
                                )
                                .await;
                        }
                    },
                }
            }
        };
        let current = self.current(req, resource_type, &id, &context).await?;
        if let Some(expected) = &conditions.if_match {
            check_version(current.as_deref(), expected)?;
        }
        let mut input = Input::new(context, resource_type);
        input.id = Some(id);
        input.body = Some(resource);
        input.if_match = conditions.if_match.as_deref().map(expected_version);
        let stored = call_write(req, provider, input).await?;
        // An update of a resource that did not exist creates it.
        let created =
            current.is_none() && self.registry.find(resource_type, Interaction::Read).is_ok();
        Ok(Answer::Resource {
            status: if created { 201 } else { 200 },
            resource: stored,
            written: true,
        })
    }

    pub(super) async fn patch(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        target: Target,
        body: Body<R>,
        conditions: &Conditions,
        context: RequestContext,
    ) -> Result<Answer<R>, FhirError> {
        let provider = self.registry.find(resource_type, Interaction::Patch)?;
        let Body::Patch(patch) = body else {
            return Err(FhirError::bad_request("the request has no JSON Patch body"));
        };
        let id = self
            .target_id(
                req,
                resource_type,
                target,
                "the conditional patch",
                &context,
            )
            .await?;
        if let Some(expected) = &conditions.if_match {
            let current = self.current(req, resource_type, &id, &context).await?;
            check_version(current.as_deref(), expected)?;
        }
        let mut input = Input::new(context, resource_type);
        input.id = Some(id);
        input.patch = patch;
        input.if_match = conditions.if_match.as_deref().map(expected_version);
        let stored = call_write(req, provider, input).await?;
        Ok(Answer::Resource {
            status: 200,
            resource: stored,
            written: true,
        })
    }

    pub(super) async fn delete(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        target: Target,
        conditions: &Conditions,
        context: RequestContext,
    ) -> Result<Answer<R>, FhirError> {
        let provider = self.registry.find(resource_type, Interaction::Delete)?;
        let ids = match target {
            Target::Id(id) => vec![id],
            Target::Condition(condition) => {
                let matches = self
                    .find_matches(req, resource_type, condition, &context)
                    .await?;
                if matches.len() > 1 && !self.limits.delete_multiple {
                    return Err(FhirError::precondition_failed(format!(
                        "the conditional delete matches {} resources, and this server deletes one at most",
                        matches.len()
                    )));
                }
                matches
                    .iter()
                    .filter_map(|m| m.id().map(str::to_string))
                    .collect()
            }
        };
        // `If-Match` holds for what is deleted, as for an update.
        if let Some(expected) = &conditions.if_match {
            for id in &ids {
                let current = self.current(req, resource_type, id, &context).await?;
                check_version(current.as_deref(), expected)?;
            }
        }
        for id in ids {
            let mut input = Input::new(context.clone(), resource_type);
            input.id = Some(id);
            input.if_match = conditions.if_match.as_deref().map(expected_version);
            call_delete(req, provider, input).await?;
        }
        Ok(Answer::Empty(204))
    }

    /// The id a write applies to: the URL's, or that of the one resource the condition finds
    /// (404 when none, 412 when several).
    async fn target_id(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        target: Target,
        what: &str,
        context: &RequestContext,
    ) -> Result<String, FhirError> {
        match target {
            Target::Id(id) => Ok(id),
            Target::Condition(condition) => {
                let matches = self
                    .find_matches(req, resource_type, condition, context)
                    .await?;
                match at_most_one(matches, what)? {
                    Some(found) => Ok(found.id().unwrap_or_default().to_string()),
                    None => Err(FhirError::not_found(format!(
                        "{what} finds no {resource_type}"
                    ))),
                }
            }
        }
    }
}

fn check_type<R: ServerModel>(resource: &R, resource_type: &str) -> Result<(), FhirError> {
    if resource.resource_type() != resource_type {
        return Err(FhirError::bad_request(format!(
            "the body is a {} but the URL names {resource_type}",
            resource.resource_type()
        )));
    }
    Ok(())
}

/// The version an `If-Match` value names: `3` of `W/"3"`.
fn expected_version(value: &str) -> String {
    value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

/// `If-Match`: the current version must be the one the client names; 412 otherwise.
fn check_version<R: ServerModel>(current: Option<&R>, expected: &str) -> Result<(), FhirError> {
    let expected = expected_version(expected);
    let expected = expected.as_str();
    match current.and_then(|r| r.version_id()) {
        Some(version) if version == expected => Ok(()),
        Some(version) => Err(FhirError::precondition_failed(format!(
            "If-Match names version {expected}, but the current version is {version}"
        ))),
        None => Err(FhirError::precondition_failed(format!(
            "If-Match names version {expected}, but the resource does not exist"
        ))),
    }
}
