//! Routing: a method, a path below the base and a query string become a typed
//! [`FhirRequest`]. Pure (no I/O, no provider knowledge), so that an HTTP request and a
//! Bundle entry of a batch or transaction are routed by the same function.

use crate::error::FhirError;
use crate::search::{parse_query, Query};
use std::fmt;

/// The HTTP methods FHIR's RESTful API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: a `GET` without the body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
}

impl Method {
    /// Parses a method name (`GET`, `post`, ...); `None` for any other.
    ///
    /// ```
    /// use fhir_rocket::route::Method;
    /// assert_eq!(Method::parse("PUT"), Some(Method::Put));
    /// assert_eq!(Method::parse("TRACE"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }

    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a search looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchScope {
    /// `[base]?...`: every type the server serves, or those `_type` names.
    System,
    /// `[type]?...`
    Type(String),
    /// `[Compartment]/[id]/[type]?...`, or `[Compartment]/[id]/*` (`resource_type` `None`).
    Compartment {
        /// The compartment's resource type (`Patient`, `Encounter`, ...).
        compartment: String,
        /// The id of the compartment's resource.
        id: String,
        /// The type searched; `None` for every type in the compartment.
        resource_type: Option<String>,
    },
}

/// What a write applies to: one id, or the resource a search finds (conditional).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `[type]/[id]`
    Id(String),
    /// `[type]?[search]`: conditional update, patch or delete.
    Condition(Query),
}

/// One FHIR interaction, with everything the URL says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FhirRequest {
    /// `GET [base]/metadata`
    Capabilities,
    /// `GET [type]/[id]`
    Read {
        /// The resource type.
        resource_type: String,
        /// The logical id.
        id: String,
    },
    /// `GET [type]/[id]/_history/[vid]`
    VRead {
        /// The resource type.
        resource_type: String,
        /// The logical id.
        id: String,
        /// The version id.
        version: String,
    },
    /// `GET [type]?...`, `POST [type]/_search`, `GET [base]?...`, compartment searches.
    Search {
        /// Where to search.
        scope: SearchScope,
        /// The query of the URL (a form body is added to it when the search is a `POST`).
        query: Query,
        /// Whether it came as `POST .../_search`, with the parameters in a form body too.
        post: bool,
    },
    /// `POST [type]`
    Create {
        /// The resource type.
        resource_type: String,
    },
    /// `PUT [type]/[id]` or `PUT [type]?...`
    Update {
        /// The resource type.
        resource_type: String,
        /// Which resource.
        target: Target,
    },
    /// `PATCH [type]/[id]` or `PATCH [type]?...`
    Patch {
        /// The resource type.
        resource_type: String,
        /// Which resource.
        target: Target,
    },
    /// `DELETE [type]/[id]` or `DELETE [type]?...`
    Delete {
        /// The resource type.
        resource_type: String,
        /// Which resource (or resources, when the server allows several).
        target: Target,
    },
    /// `GET [base]/_history`, `GET [type]/_history`, `GET [type]/[id]/_history`
    History {
        /// The type; `None` at system level.
        resource_type: Option<String>,
        /// The id; `None` at type and system level.
        id: Option<String>,
        /// `_since`, `_at`, `_count`, ...
        query: Query,
    },
    /// `[base]/$name`, `[type]/$name`, `[type]/[id]/$name`
    Operation {
        /// The type; `None` at system level.
        resource_type: Option<String>,
        /// The id, for an instance-level operation.
        id: Option<String>,
        /// The name, with its `$`.
        name: String,
        /// The query (inputs of an operation invoked with `GET`).
        query: Query,
        /// Whether it was invoked with `GET`/`HEAD` (so it must change nothing).
        get: bool,
    },
    /// `POST [base]` with a Bundle of type `batch` or `transaction`.
    Bundle,
}

impl FhirRequest {
    /// The resource type the request names, if any.
    pub fn resource_type(&self) -> Option<&str> {
        match self {
            FhirRequest::Read { resource_type, .. }
            | FhirRequest::VRead { resource_type, .. }
            | FhirRequest::Create { resource_type }
            | FhirRequest::Update { resource_type, .. }
            | FhirRequest::Patch { resource_type, .. }
            | FhirRequest::Delete { resource_type, .. } => Some(resource_type),
            FhirRequest::Search { scope, .. } => match scope {
                SearchScope::System => None,
                SearchScope::Type(t) => Some(t),
                SearchScope::Compartment { resource_type, .. } => resource_type.as_deref(),
            },
            FhirRequest::History { resource_type, .. }
            | FhirRequest::Operation { resource_type, .. } => resource_type.as_deref(),
            FhirRequest::Capabilities | FhirRequest::Bundle => None,
        }
    }

    /// The type and id of the one resource an update, patch or delete by id changes.
    pub fn written_instance(&self) -> Option<(&str, &str)> {
        match self {
            FhirRequest::Update {
                resource_type,
                target: Target::Id(id),
            }
            | FhirRequest::Patch {
                resource_type,
                target: Target::Id(id),
            }
            | FhirRequest::Delete {
                resource_type,
                target: Target::Id(id),
            } => Some((resource_type, id)),
            _ => None,
        }
    }
}

/// Whether `id` follows FHIR's rule for ids (1 to 64 of `A-Z a-z 0-9 - .`); the rule the
/// `_id` search value checks too.
///
/// ```
/// use fhir_rocket::route::is_valid_id;
/// assert!(is_valid_id("p-1.2"));
/// assert!(!is_valid_id("a_b!"));
/// assert!(!is_valid_id(&"x".repeat(65)));
/// ```
pub use crate::search::token::is_valid_id;

/// Whether a path segment is shaped like a resource type name (`Patient`); whether this
/// version has such a type is for the server to say.
use crate::search::reference::is_resource_type as is_type_name;

fn is_operation_name(segment: &str) -> bool {
    segment.strip_prefix('$').is_some_and(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    })
}

/// Percent-decodes one path segment (`p%31` is `p1`); `+` stays a plus in a path.
fn decode_segment(segment: &str) -> Result<String, FhirError> {
    crate::search::query::percent_decode(segment, false)
        .map_err(|e| FhirError::bad_request(format!("the path segment '{segment}': {e}")))
}

fn id(segment: &str, what: &str) -> Result<String, FhirError> {
    let id = decode_segment(segment)?;
    if is_valid_id(&id) {
        Ok(id)
    } else {
        let shown: String = id.chars().take(80).collect();
        let more = if id.chars().count() > 80 { "..." } else { "" };
        Err(FhirError::bad_request(format!(
            "'{shown}{more}' is not a valid {what}: FHIR ids are 1 to 64 characters of A-Z, a-z, 0-9, '-' and '.'"
        )))
    }
}

fn type_name(segment: &str) -> String {
    segment.to_string()
}

/// The methods FHIR defines on a path shape, for `Allow` when the method is not one of them.
fn not_allowed(method: Method, path: &str, allow: &str) -> FhirError {
    FhirError::method_not_allowed(format!("{method} is not an interaction on {path}"), allow)
}

fn no_interaction(method: Method, path: &str) -> FhirError {
    FhirError::not_found(format!("no FHIR interaction at {method} /{path}"))
}

/// Routes a request: `path` is below the server's base (and tenant), with or without a
/// leading `/`, percent-encoded as sent; `query` is the query string without `?`.
///
/// Ids are percent-decoded and must follow FHIR's id rule (400 otherwise); the query is
/// decoded once, here. A path that names no interaction is 404, a method that the path
/// does not take is 405 with the methods it takes.
///
/// ```
/// use fhir_rocket::route::{route, FhirRequest, Method, SearchScope, Target};
///
/// assert_eq!(
///     route(Method::Get, "Patient/p%31", "").unwrap(),
///     FhirRequest::Read { resource_type: "Patient".into(), id: "p1".into() }
/// );
/// let FhirRequest::Update { target: Target::Condition(query), .. } =
///     route(Method::Put, "Patient", "identifier=http://x|1").unwrap() else { panic!() };
/// assert_eq!(query.values("identifier"), vec!["http://x|1"]);
/// assert!(matches!(
///     route(Method::Post, "Patient/_search", "").unwrap(),
///     FhirRequest::Search { scope: SearchScope::Type(_), post: true, .. }
/// ));
/// assert_eq!(route(Method::Get, "Patient/a_b!", "").unwrap_err().status(), 400);
/// ```
pub fn route(method: Method, path: &str, query: &str) -> Result<FhirRequest, FhirError> {
    let path = path.trim_matches('/');
    // No FHIR path has more than four segments; a fixed buffer spares an allocation.
    let mut buffer = [""; 4];
    let mut len = 0;
    for segment in path.split('/') {
        if segment.is_empty() {
            if path.is_empty() {
                break;
            }
            return Err(no_interaction(method, path));
        }
        if len == buffer.len() {
            return Err(no_interaction(method, path));
        }
        buffer[len] = segment;
        len += 1;
    }
    let parsed = || parse_query(query).map_err(|e| FhirError::bad_request(e.to_string()));
    let get = matches!(method, Method::Get | Method::Head);
    use FhirRequest as R;
    Ok(match &buffer[..len] {
        [] => match method {
            _ if get => R::Search {
                scope: SearchScope::System,
                query: parsed()?,
                post: false,
            },
            Method::Post => R::Bundle,
            _ => return Err(not_allowed(method, "the base", "GET, POST")),
        },
        ["metadata"] if get => R::Capabilities,
        ["metadata"] => return Err(not_allowed(method, "metadata", "GET")),
        ["_search"] => match method {
            Method::Post => R::Search {
                scope: SearchScope::System,
                query: parsed()?,
                post: true,
            },
            _ => return Err(not_allowed(method, "_search", "POST")),
        },
        ["_history"] if get => R::History {
            resource_type: None,
            id: None,
            query: parsed()?,
        },
        ["_history"] => return Err(not_allowed(method, "_history", "GET")),
        [name] if is_operation_name(name) => operation(method, None, None, name, parsed()?)?,
        [t] if is_type_name(t) => {
            let resource_type = type_name(t);
            match method {
                _ if get => R::Search {
                    scope: SearchScope::Type(resource_type),
                    query: parsed()?,
                    post: false,
                },
                Method::Post => R::Create { resource_type },
                Method::Put | Method::Delete | Method::Patch => {
                    let condition = parsed()?;
                    if condition.is_empty() {
                        return Err(FhirError::bad_request(format!(
                            "{method} {t} needs an id ({t}/[id]) or a search that finds the resource ({t}?...)"
                        )));
                    }
                    let target = Target::Condition(condition);
                    match method {
                        Method::Put => R::Update {
                            resource_type,
                            target,
                        },
                        Method::Patch => R::Patch {
                            resource_type,
                            target,
                        },
                        _ => R::Delete {
                            resource_type,
                            target,
                        },
                    }
                }
                _ => unreachable!("every method is handled above"),
            }
        }
        [t, "_search"] if is_type_name(t) => match method {
            Method::Post => R::Search {
                scope: SearchScope::Type(type_name(t)),
                query: parsed()?,
                post: true,
            },
            _ => return Err(not_allowed(method, &format!("{t}/_search"), "POST")),
        },
        [t, "_history"] if is_type_name(t) => {
            if !get {
                return Err(not_allowed(method, &format!("{t}/_history"), "GET"));
            }
            R::History {
                resource_type: Some(type_name(t)),
                id: None,
                query: parsed()?,
            }
        }
        [t, name] if is_type_name(t) && is_operation_name(name) => {
            operation(method, Some(type_name(t)), None, name, parsed()?)?
        }
        [t, raw_id] if is_type_name(t) => {
            let resource_type = type_name(t);
            let id = id(raw_id, "id")?;
            match method {
                _ if get => R::Read { resource_type, id },
                Method::Put => R::Update {
                    resource_type,
                    target: Target::Id(id),
                },
                Method::Patch => R::Patch {
                    resource_type,
                    target: Target::Id(id),
                },
                Method::Delete => R::Delete {
                    resource_type,
                    target: Target::Id(id),
                },
                _ => {
                    return Err(not_allowed(
                        method,
                        &format!("{t} instances"),
                        "GET, PUT, PATCH, DELETE",
                    ))
                }
            }
        }
        [t, raw_id, "_history"] if is_type_name(t) => {
            let id = id(raw_id, "id")?;
            if !get {
                return Err(not_allowed(method, &format!("{t}/{id}/_history"), "GET"));
            }
            R::History {
                resource_type: Some(type_name(t)),
                id: Some(id),
                query: parsed()?,
            }
        }
        [t, raw_id, name] if is_type_name(t) && is_operation_name(name) => {
            let id = id(raw_id, "id")?;
            operation(method, Some(type_name(t)), Some(id), name, parsed()?)?
        }
        [c, raw_id, what] if is_type_name(c) && (*what == "*" || is_type_name(what)) => {
            let id = id(raw_id, "id")?;
            if !get {
                return Err(not_allowed(method, &format!("{c}/{id}/{what}"), "GET"));
            }
            R::Search {
                scope: SearchScope::Compartment {
                    compartment: type_name(c),
                    id,
                    resource_type: (*what != "*").then(|| type_name(what)),
                },
                query: parsed()?,
                post: false,
            }
        }
        [c, raw_id, what, "_search"] if is_type_name(c) && (*what == "*" || is_type_name(what)) => {
            let id = id(raw_id, "id")?;
            if method != Method::Post {
                return Err(not_allowed(
                    method,
                    &format!("{c}/{id}/{what}/_search"),
                    "POST",
                ));
            }
            R::Search {
                scope: SearchScope::Compartment {
                    compartment: type_name(c),
                    id,
                    resource_type: (*what != "*").then(|| type_name(what)),
                },
                query: parsed()?,
                post: true,
            }
        }
        [t, raw_id, "_history", raw_version] if is_type_name(t) => {
            let id = id(raw_id, "id")?;
            let version = self::id(raw_version, "version id")?;
            if !get {
                return Err(not_allowed(
                    method,
                    &format!("{t}/{id}/_history/{version}"),
                    "GET",
                ));
            }
            R::VRead {
                resource_type: type_name(t),
                id,
                version,
            }
        }
        _ => return Err(no_interaction(method, path)),
    })
}

fn operation(
    method: Method,
    resource_type: Option<String>,
    id: Option<String>,
    name: &str,
    query: Query,
) -> Result<FhirRequest, FhirError> {
    let get = matches!(method, Method::Get | Method::Head);
    if !get && method != Method::Post {
        return Err(not_allowed(method, name, "GET, POST"));
    }
    Ok(FhirRequest::Operation {
        resource_type,
        id,
        name: name.to_string(),
        query,
        get,
    })
}

/// Splits a URL of a Bundle entry (`Patient/1?_format=json`) into path and query.
pub fn split_url(url: &str) -> (&str, &str) {
    match url.split_once('?') {
        Some((path, query)) => (path, query),
        None => (url, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(method: Method, path: &str, query: &str) -> FhirRequest {
        route(method, path, query)
            .unwrap_or_else(|e| panic!("{method} {path}?{query}: {}", e.message()))
    }

    fn status(method: Method, path: &str, query: &str) -> u16 {
        route(method, path, query)
            .map(|r| panic!("{method} {path}?{query} routed to {r:?}"))
            .unwrap_err()
            .status()
    }

    #[test]
    fn instance_interactions() {
        let read = FhirRequest::Read {
            resource_type: "Patient".into(),
            id: "1".into(),
        };
        assert_eq!(ok(Method::Get, "Patient/1", ""), read);
        assert_eq!(ok(Method::Head, "/Patient/1/", ""), read);
        assert_eq!(
            ok(Method::Put, "Patient/1", ""),
            FhirRequest::Update {
                resource_type: "Patient".into(),
                target: Target::Id("1".into())
            }
        );
        assert!(matches!(
            ok(Method::Delete, "Patient/1", ""),
            FhirRequest::Delete {
                target: Target::Id(_),
                ..
            }
        ));
        assert!(matches!(
            ok(Method::Patch, "Patient/1", ""),
            FhirRequest::Patch {
                target: Target::Id(_),
                ..
            }
        ));
        assert_eq!(
            ok(Method::Get, "Patient/1/_history/2", ""),
            FhirRequest::VRead {
                resource_type: "Patient".into(),
                id: "1".into(),
                version: "2".into()
            }
        );
        assert_eq!(status(Method::Post, "Patient/1", ""), 405);
        assert_eq!(status(Method::Put, "Patient/1/_history/2", ""), 405);
    }

    #[test]
    fn ids_are_decoded_and_checked() {
        assert!(matches!(
            ok(Method::Get, "Patient/p%31", ""),
            FhirRequest::Read { id, .. } if id == "p1"
        ));
        assert_eq!(status(Method::Get, "Patient/a_b!", ""), 400);
        assert_eq!(status(Method::Get, "Patient/a%20b", ""), 400);
        assert_eq!(
            status(Method::Get, &format!("Patient/{}", "x".repeat(10_000)), ""),
            400
        );
        assert_eq!(status(Method::Get, "Patient/%zz", ""), 400);
        assert_eq!(status(Method::Get, "Patient/1/_history/v_1", ""), 400);
        let long = route(Method::Put, &format!("Patient/{}", "y".repeat(10_000)), "")
            .unwrap_err()
            .message()
            .to_string();
        assert!(
            long.len() < 300,
            "the message quotes a bounded part: {long}"
        );
    }

    #[test]
    fn type_interactions() {
        assert!(matches!(
            ok(Method::Get, "Patient", "family=smith&_count=2"),
            FhirRequest::Search { scope: SearchScope::Type(t), query, post: false }
                if t == "Patient" && query.len() == 2
        ));
        assert!(matches!(
            ok(Method::Post, "Patient/_search", "family=x"),
            FhirRequest::Search { post: true, .. }
        ));
        assert_eq!(status(Method::Get, "Patient/_search", ""), 405);
        assert_eq!(
            ok(Method::Post, "Patient", ""),
            FhirRequest::Create {
                resource_type: "Patient".into()
            }
        );
        for method in [Method::Put, Method::Delete, Method::Patch] {
            let request = ok(method, "Patient", "identifier=a|b");
            let target = match request {
                FhirRequest::Update { target, .. }
                | FhirRequest::Patch { target, .. }
                | FhirRequest::Delete { target, .. } => target,
                other => panic!("{other:?}"),
            };
            assert!(matches!(target, Target::Condition(q) if q.values("identifier") == ["a|b"]));
            assert_eq!(status(method, "Patient", ""), 400);
        }
        assert_eq!(status(Method::Get, "Patient", "x=%zz"), 400);
    }

    #[test]
    fn history() {
        assert!(matches!(
            ok(Method::Get, "_history", "_count=1"),
            FhirRequest::History {
                resource_type: None,
                id: None,
                ..
            }
        ));
        assert!(matches!(
            ok(Method::Get, "Patient/_history", ""),
            FhirRequest::History {
                resource_type: Some(_),
                id: None,
                ..
            }
        ));
        assert!(matches!(
            ok(Method::Get, "Patient/7/_history", "_since=2020-01-01T00:00:00Z"),
            FhirRequest::History { id: Some(id), .. } if id == "7"
        ));
        assert_eq!(status(Method::Delete, "Patient/_history", ""), 405);
        assert_eq!(status(Method::Post, "_history", ""), 405);
    }

    #[test]
    fn operations() {
        assert!(matches!(
            ok(Method::Post, "$reindex", ""),
            FhirRequest::Operation {
                resource_type: None,
                id: None,
                get: false,
                ..
            }
        ));
        assert!(matches!(
            ok(Method::Get, "Patient/$match", "x=1"),
            FhirRequest::Operation { resource_type: Some(_), id: None, get: true, query, .. }
                if query.len() == 1
        ));
        assert!(matches!(
            ok(Method::Post, "Patient/1/$everything", ""),
            FhirRequest::Operation { id: Some(_), name, .. } if name == "$everything"
        ));
        assert_eq!(status(Method::Delete, "Patient/$match", ""), 405);
        assert_eq!(status(Method::Get, "Patient/$", ""), 400);
    }

    #[test]
    fn system_level() {
        assert!(matches!(
            ok(Method::Get, "", "_type=Patient,Observation"),
            FhirRequest::Search {
                scope: SearchScope::System,
                post: false,
                ..
            }
        ));
        assert!(matches!(
            ok(Method::Post, "/_search", ""),
            FhirRequest::Search {
                scope: SearchScope::System,
                post: true,
                ..
            }
        ));
        assert_eq!(ok(Method::Post, "", ""), FhirRequest::Bundle);
        assert_eq!(ok(Method::Get, "metadata", ""), FhirRequest::Capabilities);
        assert_eq!(status(Method::Put, "", ""), 405);
        assert_eq!(status(Method::Post, "metadata", ""), 405);
    }

    #[test]
    fn compartments() {
        assert_eq!(
            ok(Method::Get, "Patient/1/Observation", "code=x"),
            FhirRequest::Search {
                scope: SearchScope::Compartment {
                    compartment: "Patient".into(),
                    id: "1".into(),
                    resource_type: Some("Observation".into())
                },
                query: parse_query("code=x").unwrap(),
                post: false
            }
        );
        assert!(matches!(
            ok(Method::Get, "Patient/1/*", ""),
            FhirRequest::Search {
                scope: SearchScope::Compartment {
                    resource_type: None,
                    ..
                },
                ..
            }
        ));
        assert!(matches!(
            ok(Method::Post, "Patient/1/Observation/_search", ""),
            FhirRequest::Search { post: true, .. }
        ));
        assert_eq!(status(Method::Delete, "Patient/1/Observation", ""), 405);
    }

    #[test]
    fn malformed_paths() {
        assert_eq!(status(Method::Get, "patient/1", ""), 404);
        assert_eq!(status(Method::Get, "Patient//1", ""), 404);
        assert_eq!(status(Method::Get, "Patient/1/_history/2/x", ""), 404);
        assert_eq!(status(Method::Get, "Patient/1/2", ""), 404);
        assert_eq!(status(Method::Get, "a/b/c/d/e/f/g", ""), 404);
        assert_eq!(status(Method::Get, "Patient/1/_history/2/3/4", ""), 404);
    }

    #[test]
    fn entry_urls() {
        assert_eq!(
            split_url("Patient?identifier=x"),
            ("Patient", "identifier=x")
        );
        assert_eq!(split_url("Patient/1"), ("Patient/1", ""));
    }
}
