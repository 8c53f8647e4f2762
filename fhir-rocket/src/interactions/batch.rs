//! Batch and transaction Bundles (FHIR RESTful API, "batch/transaction"): every entry is
//! routed like an HTTP request and executed by the same interactions. A transaction runs
//! DELETE, POST, PUT/PATCH, then GET/HEAD entries, replaces `urn:uuid:`/`urn:oid:` fullUrls
//! and conditional references in every reference, and is all-or-nothing through the server's
//! [`TransactionHook`](crate::TransactionHook).

use super::references;
use super::{Answer, Body, Call, Conditions, Engine};
use crate::context::RequestContext;
use crate::error::{FhirError, Issue};
use crate::http::{Format, Return};
use crate::route::{route, split_url, FhirRequest, Method, Target};
use crate::search::parse_query;
use crate::version_model::{EntryParts, EntryRequest, ServerModel};
use fhir_model::json::{JsonWriter, Value};
use rocket::Request;
use std::collections::HashMap;

/// One entry, checked and routed.
struct Entry<R> {
    index: usize,
    full_url: Option<String>,
    method: Method,
    request: FhirRequest,
    conditions: Conditions,
    body: Body<R>,
    /// For a read: the part of the resource its URL asks for (`_summary`, `_elements`).
    subset: Option<fhir_model::json::Subset>,
    /// Its resource was validated before the transaction's lock ([`Engine::validate_entries`]).
    validated: bool,
}

/// How an entry ended: its answer, or its error.
type Outcome<R> = Result<Answer<R>, FhirError>;

fn entry_error(index: usize, message: impl std::fmt::Display) -> FhirError {
    FhirError::bad_request(format!("Bundle.entry[{index}]: {message}"))
}

impl<R: ServerModel> Engine<R> {
    pub(super) async fn bundle(
        &self,
        req: &Request<'_>,
        bundle: R,
        context: RequestContext,
        pretty: bool,
    ) -> Result<Answer<R>, FhirError> {
        let parts = bundle.into_bundle().map_err(|other| {
            FhirError::bad_request(format!(
                "POST to the base takes a Bundle of type batch or transaction, not a {}",
                other.resource_type()
            ))
        })?;
        let transaction = match parts.kind.as_deref() {
            Some("batch") => false,
            Some("transaction") => true,
            other => {
                return Err(FhirError::bad_request(format!(
                    "POST to the base takes a Bundle of type batch or transaction, not {}",
                    other.unwrap_or("one without a type")
                )))
            }
        };
        if parts.entries.len() > self.limits.bundle_entries {
            return Err(FhirError::new(
                413,
                "too-costly",
                format!(
                    "the Bundle has {} entries; this server takes at most {}",
                    parts.entries.len(),
                    self.limits.bundle_entries
                ),
            ));
        }
        let prefer = Return::from_prefer(req.headers().get_one("Prefer"));
        if transaction {
            let Some(hook) = self.transactions.clone() else {
                return Err(FhirError::new(
                    501,
                    "not-supported",
                    "this server cannot make a transaction all-or-nothing (its storage has no transaction hook); send a batch instead",
                ));
            };
            let mut entries = parts
                .entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| self.entry(i, e, &context))
                .collect::<Result<Vec<_>, _>>()?;
            check_distinct(&entries)?;
            self.validate_entries(&mut entries)?;
            let subsets: Vec<_> = entries.iter().map(|e| e.subset.clone()).collect();
            let _exclusive = self.gate.write().await;
            hook.begin().await?;
            match self.transaction(req, entries, &context).await {
                Ok((outcomes, warnings)) => {
                    if let Err(e) = hook.commit().await {
                        hook.rollback().await;
                        return Err(e);
                    }
                    Ok(Answer::Json {
                        status: 200,
                        body: response_bundle(
                            "transaction-response",
                            &outcomes,
                            &warnings,
                            &subsets,
                            &context.base_url,
                            prefer,
                            pretty,
                        ),
                    })
                }
                Err(e) => {
                    hook.rollback().await;
                    Err(e)
                }
            }
        } else {
            let mut outcomes = Vec::with_capacity(parts.entries.len());
            let mut warnings = Vec::with_capacity(parts.entries.len());
            let mut subsets = Vec::with_capacity(parts.entries.len());
            for (i, e) in parts.entries.into_iter().enumerate() {
                crate::extras::take_collected(req);
                let outcome = match self.entry(i, e, &context) {
                    Ok(entry) => {
                        subsets.push(entry.subset.clone());
                        let call = call(entry, &context);
                        // As outside a batch: a conditional write alone, others beside
                        // each other but never inside a transaction.
                        if call.is_conditional_write() {
                            let _alone = self.gate.write().await;
                            self.execute_entry(req, call, Format::default()).await
                        } else {
                            let _gate = match &self.transactions {
                                Some(_) => Some(self.gate.read().await),
                                None => None,
                            };
                            self.execute_entry(req, call, Format::default()).await
                        }
                    }
                    Err(e) => {
                        subsets.push(None);
                        Err(e)
                    }
                };
                // An entry's warnings go in its response; its headers and status do not apply.
                warnings.push(crate::extras::take_collected(req).warnings);
                outcomes.push(outcome);
            }
            Ok(Answer::Json {
                status: 200,
                body: response_bundle(
                    "batch-response",
                    &outcomes,
                    &warnings,
                    &subsets,
                    &context.base_url,
                    prefer,
                    pretty,
                ),
            })
        }
    }

    /// Checks and routes one entry; a 400 naming the entry when it is malformed.
    fn entry(
        &self,
        index: usize,
        entry: EntryParts<R>,
        context: &RequestContext,
    ) -> Result<Entry<R>, FhirError> {
        let EntryRequest {
            method,
            url,
            if_none_match,
            if_modified_since,
            if_match,
            if_none_exist,
        } = entry
            .request
            .ok_or_else(|| entry_error(index, "the entry has no request"))?;
        let method = method
            .as_deref()
            .and_then(Method::parse)
            .ok_or_else(|| entry_error(index, "request.method is missing or not an HTTP method"))?;
        let url = url.ok_or_else(|| entry_error(index, "request.url is missing"))?;
        let relative = match url.strip_prefix(&context.base_url) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => rest,
            _ if url.contains("://") => {
                return Err(entry_error(
                    index,
                    format!(
                        "request.url '{url}' is absolute to another server; entries name URLs relative to this server's base ({})",
                        context.base_url
                    ),
                ))
            }
            _ => url.as_str(),
        };
        let (path, query) = split_url(relative);
        let request = route(method, path, query)
            .map_err(|e| entry_error(index, format!("{method} {url}: {}", e.message())))?;
        if request == FhirRequest::Bundle {
            return Err(entry_error(
                index,
                "a batch or transaction cannot be nested in another",
            ));
        }
        let body = match (&request, entry.resource) {
            (FhirRequest::Patch { .. }, Some(resource)) => {
                Body::Patch(json_patch_of(&resource).map_err(|m| entry_error(index, m))?)
            }
            (FhirRequest::Patch { .. }, None) => {
                return Err(entry_error(
                    index,
                    "a PATCH entry carries its patch as a Binary resource",
                ))
            }
            (FhirRequest::Create { .. } | FhirRequest::Update { .. }, None) => {
                return Err(entry_error(
                    index,
                    format!("{method} {url} needs a resource"),
                ))
            }
            (FhirRequest::Search { post: true, .. }, _) => Body::Form(Default::default()),
            (_, Some(resource)) => Body::Resource(resource),
            (_, None) => Body::None,
        };
        // A condition the entry's interaction does not evaluate is an error, not ignored.
        let applies = |field: &str, given: bool, ok: bool| -> Result<(), FhirError> {
            if given && !ok {
                return Err(entry_error(
                    index,
                    format!("request.{field} does not apply to {method} {url}"),
                ));
            }
            Ok(())
        };
        let read = matches!(
            request,
            FhirRequest::Read { .. } | FhirRequest::VRead { .. }
        );
        let subset = match &request {
            FhirRequest::Read { resource_type, .. } | FhirRequest::VRead { resource_type, .. } => {
                crate::subset::read_subset::<R>(query, resource_type)
                    .map_err(|e| entry_error(index, format!("{method} {url}: {}", e.message())))?
            }
            _ => None,
        };
        applies("ifNoneMatch", if_none_match.is_some(), read)?;
        applies("ifModifiedSince", if_modified_since.is_some(), read)?;
        applies(
            "ifNoneExist",
            if_none_exist.is_some(),
            matches!(request, FhirRequest::Create { .. }),
        )?;
        applies(
            "ifMatch",
            if_match.is_some(),
            matches!(
                request,
                FhirRequest::Update { .. } | FhirRequest::Patch { .. } | FhirRequest::Delete { .. }
            ),
        )?;
        let if_modified_since = match if_modified_since {
            Some(instant) => Some(crate::http::unix_seconds(&instant).ok_or_else(|| {
                entry_error(
                    index,
                    format!("request.ifModifiedSince '{instant}' is not an instant"),
                )
            })?),
            None => None,
        };
        Ok(Entry {
            index,
            full_url: entry.full_url,
            method,
            request,
            conditions: Conditions {
                if_match,
                if_none_match,
                if_modified_since,
                if_none_exist,
            },
            body,
            subset,
            validated: false,
        })
    }

    /// Validates the resource of each create and update of a transaction before the
    /// transaction takes its lock, so that other transactions run meanwhile (validation was
    /// 30% of the server's CPU loading Synthea, all of it inside the lock). Nothing is
    /// validated here when the server does not validate writes, or when an interceptor may
    /// change a resource first: then each is validated inside, after the interceptor.
    ///
    /// A resource is validated as it will be written. Its references to other entries and
    /// its conditional references will name a resource of a known type by an id not known
    /// yet; validation sees a reference's target only through its type (`resolve() is
    /// Patient`: the invariants compare no ids), so each is replaced, in a copy, by the
    /// type it will have and a stand-in id.
    fn validate_entries(&self, entries: &mut [Entry<R>]) -> Result<(), FhirError> {
        if !self.validate_writes || self.interceptors.change_incoming() {
            return Ok(());
        }
        let mut stand_ins: HashMap<String, String> = HashMap::new();
        for e in entries.iter() {
            if let (Some(full_url), Body::Resource(resource)) = (&e.full_url, &e.body) {
                stand_ins.insert(full_url.clone(), stand_in(resource.resource_type()));
            }
        }
        for e in entries.iter_mut() {
            let resource_type = match &e.request {
                FhirRequest::Create { resource_type }
                | FhirRequest::Update { resource_type, .. } => resource_type,
                _ => continue,
            };
            let Body::Resource(resource) = &e.body else {
                continue;
            };
            // A resource of another type than its URL's is refused inside, as outside.
            if resource.resource_type() != resource_type {
                continue;
            }
            let mut written = resource.clone();
            references::rewrite_with(&mut written, |target| match stand_ins.get(target) {
                Some(new) => Some(new.clone()),
                None if references::is_conditional(target) => {
                    Some(stand_in(target.split_once('?').map_or(target, |(t, _)| t)))
                }
                None => None,
            });
            self.check_valid(&written).map_err(|err| {
                FhirError::new(
                    err.status(),
                    err.issue_code(),
                    format!(
                        "Bundle.entry[{}] ({} {}): {}",
                        e.index,
                        e.method,
                        describe(&e.request),
                        err.message()
                    ),
                )
            })?;
            e.validated = true;
        }
        Ok(())
    }

    /// Runs a transaction's entries in the order the specification sets, replacing
    /// references; the first failure ends it.
    async fn transaction(
        &self,
        req: &Request<'_>,
        mut entries: Vec<Entry<R>>,
        context: &RequestContext,
    ) -> Result<(Vec<Outcome<R>>, Vec<Vec<Issue>>), FhirError> {
        // What each fullUrl and conditional reference becomes: `Type/id`.
        let mut map: HashMap<String, String> = HashMap::new();
        for e in &entries {
            if let (
                Some(full_url),
                FhirRequest::Update {
                    resource_type,
                    target: Target::Id(id),
                },
            ) = (&e.full_url, &e.request)
            {
                map.insert(full_url.clone(), format!("{resource_type}/{id}"));
            }
        }
        // The references in every resource.
        let refs: Vec<Vec<String>> = entries
            .iter_mut()
            .map(|e| match &mut e.body {
                Body::Resource(r) => references::references(r),
                _ => Vec::new(),
            })
            .collect();
        // Conditional references, resolved by search.
        for (e, refs) in entries.iter().zip(&refs) {
            for reference in refs.iter().map(String::as_str) {
                if !references::is_conditional(reference) || map.contains_key(reference) {
                    continue;
                }
                let (resource_type, query) = split_url(reference);
                let condition = parse_query(query).map_err(|err| {
                    entry_error(e.index, format!("reference '{reference}': {err}"))
                })?;
                let matches = self
                    .find_matches(req, resource_type, condition, context)
                    .await
                    .map_err(|err| {
                        entry_error(
                            e.index,
                            format!("reference '{reference}': {}", err.message()),
                        )
                    })?;
                match matches.as_slice() {
                    [one] => {
                        map.insert(
                            reference.to_string(),
                            format!("{resource_type}/{}", one.id().unwrap_or_default()),
                        );
                    }
                    found => {
                        return Err(FhirError::precondition_failed(format!(
                            "Bundle.entry[{}]: the conditional reference '{reference}' matches {} resources; it must match exactly one",
                            e.index,
                            found.len()
                        )))
                    }
                }
            }
        }
        let order = processing_order(&entries, &refs)?;
        let mut outcomes: Vec<Option<Outcome<R>>> = (0..entries.len()).map(|_| None).collect();
        let mut warnings: Vec<Vec<Issue>> = vec![Vec::new(); entries.len()];
        let mut slots: Vec<Option<Entry<R>>> = entries.drain(..).map(Some).collect();
        for i in order {
            let mut entry = slots[i].take().expect("each entry runs once");
            if refs[i]
                .iter()
                .any(|r| references::target(r).is_some_and(|t| map.contains_key(t)))
            {
                if let Body::Resource(resource) = &mut entry.body {
                    references::rewrite(resource, &map);
                }
            }
            let (index, method, full_url) = (entry.index, entry.method, entry.full_url.take());
            // Named only when the entry fails.
            let what = describe(&entry.request);
            crate::extras::take_collected(req);
            let answer = self
                .execute_entry(req, call(entry, context), Format::default())
                .await;
            // An entry's warnings go in its response; its headers and status do not apply.
            warnings[index] = crate::extras::take_collected(req).warnings;
            let answer = answer.map_err(|e| {
                FhirError::new(
                    e.status(),
                    e.issue_code(),
                    format!("Bundle.entry[{index}] ({method} {what}): {}", e.message()),
                )
            })?;
            if let (
                Some(full_url),
                Answer::Resource { resource, .. } | Answer::Stored { resource, .. },
            ) = (full_url, &answer)
            {
                if let Some(id) = resource.id() {
                    map.insert(full_url, format!("{}/{id}", resource.resource_type()));
                }
            }
            outcomes[index] = Some(Ok(answer));
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.expect("every entry ran"))
            .collect();
        Ok((outcomes, warnings))
    }
}

fn call<R>(entry: Entry<R>, context: &RequestContext) -> Call<R> {
    let mut context = context.clone();
    if let FhirRequest::Search { query, .. } = &entry.request {
        context.raw_query = query.to_url_query_without(&[]);
    }
    Call {
        request: entry.request,
        conditions: entry.conditions,
        body: entry.body,
        context,
        validated: entry.validated,
    }
}

/// What validation sees of a reference to a resource of `resource_type` whose id is not
/// known yet.
fn stand_in(resource_type: &str) -> String {
    format!("{resource_type}/transaction-entry")
}

fn describe(request: &FhirRequest) -> String {
    let instance = match request {
        FhirRequest::Read { resource_type, id } => Some((resource_type.as_str(), id.as_str())),
        other => other.written_instance(),
    };
    match instance {
        Some((resource_type, id)) => format!("{resource_type}/{id}"),
        None => request.resource_type().unwrap_or("").to_string(),
    }
}

/// Two entries of a transaction may not change the same resource.
fn check_distinct<R>(entries: &[Entry<R>]) -> Result<(), FhirError> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for e in entries {
        let Some((resource_type, id)) = e.request.written_instance() else {
            continue;
        };
        let key = (resource_type.to_string(), id.to_string());
        if let Some(first) = seen.insert(key.clone(), e.index) {
            return Err(FhirError::bad_request(format!(
                "Bundle.entry[{first}] and Bundle.entry[{}] both change {}/{}: a transaction changes each resource once",
                e.index, key.0, key.1
            )));
        }
    }
    Ok(())
}

/// DELETE, then POST (an entry after those whose fullUrls it refers to), then PUT and PATCH,
/// then GET and HEAD, each group in Bundle order.
fn processing_order<R>(
    entries: &[Entry<R>],
    refs: &[Vec<String>],
) -> Result<Vec<usize>, FhirError> {
    let group = |e: &Entry<R>| match e.method {
        Method::Delete => 0,
        Method::Post => 1,
        Method::Put | Method::Patch => 2,
        Method::Get | Method::Head => 3,
    };
    let mut order: Vec<usize> = Vec::with_capacity(entries.len());
    for g in 0..4 {
        let members: Vec<usize> = (0..entries.len())
            .filter(|&i| group(&entries[i]) == g)
            .collect();
        if g != 1 {
            order.extend(members);
            continue;
        }
        // Creates: each after the creates whose fullUrl it refers to.
        let by_url: HashMap<&str, usize> = members
            .iter()
            .filter_map(|&i| entries[i].full_url.as_deref().map(|u| (u, i)))
            .collect();
        let depends: HashMap<usize, Vec<usize>> = members
            .iter()
            .map(|&i| {
                let deps = refs[i]
                    .iter()
                    .filter_map(|r| by_url.get(r.as_str()).copied())
                    .filter(|&d| d != i)
                    .collect();
                (i, deps)
            })
            .collect();
        let mut done = vec![false; entries.len()];
        let mut placed = 0;
        while placed < members.len() {
            let before = placed;
            for &i in &members {
                if !done[i] && depends[&i].iter().all(|&d| done[d]) {
                    done[i] = true;
                    order.push(i);
                    placed += 1;
                }
            }
            if placed == before {
                let cycle: Vec<String> = members
                    .iter()
                    .filter(|&&i| !done[i])
                    .map(|i| i.to_string())
                    .collect();
                return Err(FhirError::new(
                    422,
                    "not-supported",
                    format!(
                        "the created entries {} refer to each other in a cycle; this server creates an entry only after those it refers to",
                        cycle.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(order)
}

/// The JSON Patch of a PATCH entry: a Binary of type `application/json-patch+json`.
fn json_patch_of<R: ServerModel>(resource: &R) -> Result<Vec<crate::patch::PatchOp>, String> {
    if resource.resource_type() != "Binary" {
        return Err(format!(
            "a PATCH entry carries a JSON Patch as a Binary resource, not a {} (FHIRPath Patch is not supported)",
            resource.resource_type()
        ));
    }
    let value: Value = fhir_model::json::from_slice(&fhir_model::json::to_vec(resource, false))
        .map_err(|e| e.to_string())?;
    let content_type = value.get("contentType").and_then(|v| match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    });
    if content_type.map(|c| c.split(';').next().unwrap_or("").trim())
        != Some("application/json-patch+json")
    {
        return Err(
            "the PATCH entry's Binary must have contentType application/json-patch+json".into(),
        );
    }
    let Some(Value::String(data)) = value.get("data") else {
        return Err("the PATCH entry's Binary has no data".into());
    };
    let bytes = base64_decode(data).ok_or("the PATCH entry's Binary data is not base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "the JSON Patch is not UTF-8".to_string())?;
    crate::patch::parse_patch(&text).map_err(|e| format!("invalid JSON Patch: {e}"))
}

/// Decodes standard base64 (with or without padding, whitespace ignored).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

fn status_line(status: u16) -> String {
    let reason = rocket::http::Status::new(status).reason().unwrap_or("");
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason}")
    }
}

/// The `batch-response` or `transaction-response` Bundle, entries in request order.
fn response_bundle<R: ServerModel>(
    kind: &str,
    outcomes: &[Outcome<R>],
    warnings: &[Vec<Issue>],
    subsets: &[Option<fhir_model::json::Subset>],
    base_url: &str,
    prefer: Return,
    pretty: bool,
) -> Vec<u8> {
    let mut w = JsonWriter::new(Vec::with_capacity(256 + outcomes.len() * 256), pretty);
    w.begin_object();
    w.resource_type("Bundle");
    w.key("type");
    w.string(kind);
    let cp = w.checkpoint();
    w.key("entry");
    w.begin_array();
    for (index, outcome) in outcomes.iter().enumerate() {
        let warnings = warnings.get(index).map_or(&[][..], Vec::as_slice);
        w.item();
        w.begin_object();
        // A resource an interceptor withholds is answered as written, without its body.
        let converted;
        let (outcome, withheld) = match outcome {
            Ok(Answer::Stored { status, resource }) => {
                converted = Ok(Answer::Resource {
                    status: *status,
                    resource: resource.clone(),
                    written: true,
                });
                (&converted, true)
            }
            // Entries are run for JSON (`Format::default()`), so none answers in XML.
            Ok(Answer::Xml { .. }) => {
                converted = Err(FhirError::internal("an entry was answered in XML"));
                (&converted, false)
            }
            other => (other, false),
        };
        match outcome {
            Ok(Answer::Resource {
                status,
                resource,
                written,
            }) => {
                if let Some(id) = resource.id() {
                    w.key("fullUrl");
                    w.string_parts(&[base_url, "/", resource.resource_type(), "/", id]);
                }
                let show = !withheld && (!*written || prefer == Return::Representation);
                if show {
                    w.key("resource");
                    let subset = subsets.get(index).and_then(Option::as_ref);
                    crate::subset::write_resource(&mut w, &**resource, subset);
                }
                w.key("response");
                w.begin_object();
                w.key("status");
                w.string(&status_line(*status));
                if *written {
                    if let Some(id) = resource.id() {
                        let mut location = format!("{}/{id}", resource.resource_type());
                        if let Some(v) = resource.version_id() {
                            location.push_str("/_history/");
                            location.push_str(v);
                        }
                        w.key("location");
                        w.string(&location);
                    }
                }
                if let Some(v) = resource.version_id() {
                    w.key("etag");
                    w.string(&format!("W/\"{v}\""));
                }
                if let Some(updated) = resource.last_updated() {
                    w.key("lastModified");
                    w.string(updated.as_str());
                }
                if (*written && prefer == Return::OperationOutcome) || !warnings.is_empty() {
                    let mut issues = Vec::new();
                    if *written {
                        issues.push(Issue::information(
                            "informational",
                            "the resource was stored",
                        ));
                    }
                    issues.extend(warnings.iter().cloned());
                    w.key("outcome");
                    w.raw_number(&String::from_utf8_lossy(&crate::http::outcome_of(
                        &issues, None,
                    )));
                }
                w.end_object();
            }
            // Converted above: to a written resource, and to an error.
            Ok(Answer::Stored { .. } | Answer::Xml { .. }) => {}
            Ok(Answer::NotModified { etag }) => {
                w.key("response");
                w.begin_object();
                w.key("status");
                w.string(&status_line(304));
                if let Some(etag) = etag {
                    w.key("etag");
                    w.string(etag);
                }
                w.end_object();
            }
            Ok(Answer::Empty(status)) => {
                w.key("response");
                w.begin_object();
                w.key("status");
                w.string(&status_line(*status));
                w.end_object();
            }
            Ok(Answer::Json { status, body }) => {
                // A searchset, history or other Bundle: written as it was made.
                w.key("resource");
                w.raw_number(&String::from_utf8_lossy(body));
                w.key("response");
                w.begin_object();
                w.key("status");
                w.string(&status_line(*status));
                w.end_object();
            }
            Err(e) => {
                w.key("response");
                w.begin_object();
                w.key("status");
                w.string(&status_line(e.status()));
                w.key("outcome");
                w.raw_number(&String::from_utf8_lossy(&e.to_operation_outcome()));
                w.end_object();
            }
        }
        w.end_object();
    }
    if !w.end_array() {
        w.rollback(cp);
    }
    w.end_object();
    w.into_inner()
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(
            base64_decode("W3sib3AiOiJhZGQifV0=").unwrap(),
            br#"[{"op":"add"}]"#
        );
        assert!(base64_decode("a$b").is_none());
    }
}
