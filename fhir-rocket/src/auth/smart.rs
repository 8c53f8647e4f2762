//! SMART on FHIR enforced on every interaction: [`SmartAuth`], the interceptor that
//! [`FhirServer::authorize`](crate::FhirServer::authorize) installs.
//!
//! - Every request but `metadata` carries a bearer token, checked by a [`TokenValidator`]:
//!   401 with `WWW-Authenticate: Bearer` when it is missing or invalid, 503 when the issuer's
//!   keys cannot be had.
//! - Each interaction needs a scope granting its letter (`r` read, vread and instance
//!   history; `s` search and type or system history; `c` create; `u` update and patch; `d`
//!   delete) on its resource type; each entry of a batch or transaction is checked on its
//!   own, so a transaction with one forbidden entry is refused whole. The types a chain or
//!   `_has` reaches, and those `_type` names, need `s` too. 403 otherwise.
//! - A scope in a patient's context (`patient/...`) narrows a search to the patient's
//!   compartment, and a SMART 2 scope's query (`?category=laboratory`) narrows it with its
//!   parameters: the search finds only what the token may see, so totals and pages stay
//!   right.
//! - Every resource sent (a read, a match, an included resource, a version of a history) is
//!   checked against the scopes: one the token may not see is left out, and a read of it
//!   answers 404 as an unknown id does. An update, patch or delete of it answers 404 too.
//! - A created or updated resource must be one the granting scope covers (in the patient's
//!   compartment, matching the scope's query).
//! - Operations are refused unless the server names the letter each needs
//!   ([`SmartAuth::operation`]).
//! - Roles: a claim's value (`roles: ["clinician"]`) can grant scopes ([`SmartAuth::role`]).
//! - On a multi-tenant server, a token is taken only for the tenant whose base URL its
//!   `aud` names (`{audience}/{tenant}`, [`IssuerConfig::per_tenant`]); 401 for any other.

use super::scope::{Context, Permissions, ResourceScope, ScopeError, Scopes};
use super::token::{Claims, IssuerConfig, TokenError, TokenValidator};
use crate::error::FhirError;
use crate::interceptor::{Interceptor, Narrowing, Resolved};
use crate::search::matcher::{Matcher, Searchable, Sources};
use crate::search::{Query, QueryParam};
use crate::version_model::ServerModel;
use rocket::Request;
use std::sync::Arc;

/// The authorization of a server by SMART on FHIR scopes in bearer tokens of one issuer.
///
/// ```
/// use fhir_rocket::auth::scope::Permissions;
/// use fhir_rocket::auth::smart::SmartAuth;
/// use fhir_rocket::auth::token::IssuerConfig;
/// use fhir_rocket::model::r4::Resource;
///
/// let auth = SmartAuth::new(IssuerConfig::new(
///     "https://auth.example.org/realm",
///     "https://fhir.example.org/fhir",
/// ))
/// // A token whose `roles` claim holds `clinician` may read and search everything.
/// .role("roles", "clinician", "user/*.rs")
/// .unwrap()
/// // `$everything` on a Patient needs what reading it needs.
/// .operation("$everything", Permissions::READ);
/// let server = fhir_rocket::FhirServer::<Resource>::new("/fhir").authorize(auth);
/// # let _ = server;
/// ```
pub struct SmartAuth {
    validator: Arc<TokenValidator>,
    roles: Vec<Role>,
    operations: Vec<(String, Permissions)>,
}

/// Scopes granted to tokens whose claim holds a value.
struct Role {
    claim: String,
    value: String,
    scopes: Scopes,
}

impl SmartAuth {
    /// Tokens of `config`'s issuer, for its audience.
    pub fn new(config: IssuerConfig) -> SmartAuth {
        SmartAuth::with_validator(Arc::new(TokenValidator::new(config)))
    }

    /// Tokens checked by `validator`.
    pub fn with_validator(validator: Arc<TokenValidator>) -> SmartAuth {
        SmartAuth {
            validator,
            roles: Vec::new(),
            operations: Vec::new(),
        }
    }

    /// The token validator.
    pub fn validator(&self) -> &Arc<TokenValidator> {
        &self.validator
    }

    /// Grants `scopes` (as a `scope` claim writes them) to every token whose claim `claim`
    /// is `value` or a list holding it, beside the token's own scopes: role-based access
    /// control by the issuer's roles or groups. An error names a malformed scope.
    pub fn role(mut self, claim: &str, value: &str, scopes: &str) -> Result<Self, ScopeError> {
        self.roles.push(Role {
            claim: claim.to_string(),
            value: value.to_string(),
            scopes: Scopes::parse(scopes)?,
        });
        Ok(self)
    }

    /// Lets tokens call the operation `name` (`$everything`) on a resource type or one of
    /// its resources when they are granted `needed` on that type (on every type, `*`, for
    /// an operation on the server). What it returns is checked as every resource sent is.
    /// Operations not named here are refused.
    pub fn operation(mut self, name: &str, needed: Permissions) -> Self {
        let name = format!("${}", name.trim_start_matches('$'));
        self.operations.push((name, needed));
        self
    }

    /// The grants of the request's token, checked by [`Interceptor::request_received`].
    fn granted<'r>(&self, req: &'r Request<'_>) -> Result<&'r Granted, FhirError> {
        match &req.local_cache(|| Bearer(None)).0 {
            Some(granted) => Ok(granted),
            None => Err(FhirError::unauthorized_bearer(
                "this request needs a bearer token",
                None,
            )),
        }
    }

    /// The claims of `token`, from the validator's cache or checked now (off the async
    /// workers: a check may fetch the issuer's keys).
    async fn claims(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        if let Some(claims) = self.validator.cached(token) {
            return Ok(claims);
        }
        let validator = self.validator.clone();
        let token = token.to_string();
        rocket::tokio::task::spawn_blocking(move || validator.validate_and_keep(&token))
            .await
            .unwrap_or_else(|e| Err(TokenError::IssuerUnavailable(e.to_string())))
    }

    fn role_scopes(&self, claims: &Claims) -> Vec<ResourceScope> {
        self.roles
            .iter()
            .filter(|r| claims.holds(&r.claim, &r.value))
            .flat_map(|r| r.scopes.resources.iter().cloned())
            .collect()
    }
}

impl crate::config::Security for TokenValidator {
    fn oauth_uris(&self) -> Result<crate::config::OAuthUris, String> {
        let discovery = self.discovery().map_err(|e| e.to_string())?;
        let uri = |name: &str| discovery[name].as_str().map(str::to_string);
        Ok(crate::config::OAuthUris {
            authorize: uri("authorization_endpoint"),
            token: uri("token_endpoint"),
        })
    }
}

/// SMART's discovery document (`[base]/.well-known/smart-configuration`) of a server whose
/// tokens come from the issuer of `config`, made from the issuer's own discovery document:
/// its endpoints and grant types, and what this server takes of SMART (scopes of either
/// version in each context, PKCE by S256).
///
/// ```
/// use fhir_rocket::auth::smart::smart_configuration;
/// use fhir_rocket::auth::token::IssuerConfig;
/// let issuer = serde_json::json!({
///     "issuer": "https://auth.example.org/realm",
///     "jwks_uri": "https://auth.example.org/realm/jwks",
///     "authorization_endpoint": "https://auth.example.org/realm/authorize",
///     "token_endpoint": "https://auth.example.org/realm/token",
///     "grant_types_supported": ["authorization_code", "client_credentials"],
/// });
/// let config = IssuerConfig::new("https://auth.example.org/realm", "https://fhir.example.org/fhir");
/// let smart = smart_configuration(&issuer, &config);
/// assert_eq!(smart["token_endpoint"], "https://auth.example.org/realm/token");
/// assert_eq!(smart["code_challenge_methods_supported"][0], "S256");
/// assert!(smart["capabilities"].as_array().unwrap().iter().any(|c| c == "permission-v2"));
/// ```
pub fn smart_configuration(
    discovery: &serde_json::Value,
    config: &IssuerConfig,
) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut smart = json!({
        "issuer": discovery.get("issuer").cloned().unwrap_or_else(|| json!(config.issuer)),
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
        "scopes_supported": [
            "openid", "fhirUser", "launch", "launch/patient", "offline_access", "online_access",
            "patient/*.cruds", "user/*.cruds", "system/*.cruds",
            "patient/*.read", "user/*.read", "system/*.read",
        ],
        "capabilities": [
            "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
            "client-confidential-asymmetric", "context-standalone-patient", "sso-openid-connect",
            "permission-patient", "permission-user", "permission-offline", "permission-v1",
            "permission-v2",
        ],
    });
    for name in [
        "jwks_uri",
        "authorization_endpoint",
        "token_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
        "management_endpoint",
        "registration_endpoint",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "token_endpoint_auth_signing_alg_values_supported",
    ] {
        if let Some(value) = discovery.get(name) {
            smart[name] = value.clone();
        }
    }
    if smart.get("grant_types_supported").is_none() {
        smart["grant_types_supported"] = Value::from(vec!["authorization_code"]);
    }
    smart
}

/// The route of `[base]/.well-known/smart-configuration`.
#[derive(Clone)]
pub(crate) struct SmartConfigurationRoute(pub(crate) Arc<TokenValidator>);

#[rocket::async_trait]
impl rocket::route::Handler for SmartConfigurationRoute {
    async fn handle<'r>(
        &self,
        req: &'r Request<'_>,
        _data: rocket::Data<'r>,
    ) -> rocket::route::Outcome<'r> {
        use rocket::http::{ContentType, Status};
        let validator = self.0.clone();
        let found = rocket::tokio::task::spawn_blocking(move || {
            validator
                .discovery()
                .map(|d| smart_configuration(&d, validator.config()))
        })
        .await
        .unwrap_or_else(|e| Err(TokenError::IssuerUnavailable(e.to_string())));
        let (status, body) = match found {
            Ok(smart) => (Status::Ok, smart.to_string()),
            Err(e) => (
                Status::ServiceUnavailable,
                serde_json::json!({"error": "temporarily_unavailable", "error_description": e.to_string()})
                    .to_string(),
            ),
        };
        rocket::route::Outcome::from(req, (status, (ContentType::JSON, body)))
    }
}

/// The claims of the request's token, once [`SmartAuth`] has checked it: for audit.
pub fn token_claims(req: &Request<'_>) -> Option<Arc<Claims>> {
    req.local_cache(|| Bearer(None))
        .0
        .as_ref()
        .map(|g| g.claims.clone())
}

/// What the request's token grants, kept in the request's local cache.
struct Bearer(Option<Granted>);

/// A valid token's claims, with the scopes its roles add.
struct Granted {
    claims: Arc<Claims>,
    by_roles: Vec<ResourceScope>,
}

/// What an interaction on a type may reach, by the scopes that grant it.
#[derive(Debug, PartialEq)]
enum Access {
    /// Everything of the type.
    All,
    /// Only the patient's compartment (when `Some`), and what matches the query (when
    /// `Some`).
    Narrowed {
        patient: Option<String>,
        query: Option<Query>,
    },
}

impl Granted {
    fn scopes(&self) -> impl Iterator<Item = &ResourceScope> {
        self.claims.scopes.resources.iter().chain(&self.by_roles)
    }

    fn grants<'g>(
        &'g self,
        resource_type: &'g str,
        needed: Permissions,
    ) -> impl Iterator<Item = &'g ResourceScope> + 'g {
        self.scopes()
            .filter(move |s| s.covers(resource_type) && s.permissions.contains(needed))
    }

    /// The patient of a `patient/` scope: the token's `patient` claim.
    fn patient(&self) -> Result<&str, FhirError> {
        self.claims.patient.as_deref().ok_or_else(|| {
            FhirError::forbidden("the token has patient/ scopes but names no patient")
        })
    }

    /// What `needed` on `resource_type` (`*` for every type) may reach; 403 when no scope
    /// grants it, or when the scopes that do cannot be told as one narrowing.
    fn access(&self, resource_type: &str, needed: Permissions) -> Result<Access, FhirError> {
        let grants: Vec<&ResourceScope> = self.grants(resource_type, needed).collect();
        let what = match resource_type {
            "*" => "every resource type".to_string(),
            t => t.to_string(),
        };
        if grants.is_empty() {
            return Err(FhirError::forbidden(format!(
                "the token grants no scope with '{needed}' on {what}"
            )));
        }
        if grants
            .iter()
            .any(|g| g.context != Context::Patient && g.query.is_none())
        {
            return Ok(Access::All);
        }
        let in_patient = grants.iter().filter(|g| g.context == Context::Patient);
        let patient = match (in_patient.count(), grants.len()) {
            (0, _) => None,
            (n, all) if n == all => Some(self.patient()?.to_string()),
            _ => {
                return Err(FhirError::forbidden(format!(
                    "the token's scopes on {what} mix a patient's context and a query in another; a search cannot be narrowed to what they grant together"
                )))
            }
        };
        let query = match grants.iter().any(|g| g.query.is_none()) {
            true => None,
            false => Some(union_of_queries(&grants).ok_or_else(|| {
                FhirError::forbidden(format!(
                    "the token's scopes on {what} have different queries; a search cannot be narrowed to what they grant together"
                ))
            })?),
        };
        Ok(Access::Narrowed { patient, query })
    }

    /// Whether some scope granting `needed` on the resource's type covers this resource:
    /// in the patient's compartment for a `patient/` scope, matching a scope's query.
    fn covers<R: ServerModel>(&self, resource: &R, needed: &[Permissions]) -> bool {
        let t = resource.resource_type();
        self.scopes()
            .filter(|s| s.covers(t) && needed.iter().any(|n| s.permissions.contains(*n)))
            .any(|s| {
                let in_context = match s.context {
                    Context::Patient => match &self.claims.patient {
                        Some(patient) => in_compartment(resource, patient),
                        None => false,
                    },
                    _ => true,
                };
                in_context && s.query.as_ref().is_none_or(|q| matches(resource, q))
            })
    }
}

/// One query for scopes of several queries: theirs when they are the same, or one parameter
/// with every value (an OR) when each is one parameter of the same name; `None` otherwise.
fn union_of_queries(grants: &[&ResourceScope]) -> Option<Query> {
    let queries: Vec<&Query> = grants.iter().filter_map(|g| g.query.as_ref()).collect();
    let first = *queries.first()?;
    if queries.iter().all(|q| *q == first) {
        return Some(first.clone());
    }
    let [one] = first.params() else { return None };
    let mut values = Vec::new();
    for q in &queries {
        let [p] = q.params() else { return None };
        if p.name != one.name || p.modifier != one.modifier {
            return None;
        }
        values.push(p.value.as_str());
    }
    let mut raw_name = one.name.clone();
    if let Some(m) = &one.modifier {
        if !m.starts_with('.') {
            raw_name.push(':');
        }
        raw_name.push_str(m);
    }
    let mut union = Query::default();
    union.push(QueryParam::new(&raw_name, values.join(",")).ok()?);
    Some(union)
}

/// Whether `resource` is in the compartment of `Patient/{patient}`, by the version's
/// CompartmentDefinition: the patient itself, or a resource whose compartment parameters
/// refer to it. A type outside the compartment is in no patient's, and is not restricted
/// by one: `true`.
fn in_compartment<R: ServerModel>(resource: &R, patient: &str) -> bool {
    let t = resource.resource_type();
    let Some(params) = R::compartment_params("Patient", t) else {
        return true;
    };
    // The owner itself (R5's `{def}`, R4's text), as the kit's compartment search has it.
    if t == "Patient" && resource.id() == Some(patient) {
        return true;
    }
    params.iter().filter(|p| **p != "{def}").any(|param| {
        QueryParam::new(param, format!("Patient/{patient}"))
            .ok()
            .is_some_and(|p| {
                let mut query = Query::default();
                query.push(p);
                matches(resource, &query)
            })
    })
}

/// What lets a token see a resource: reading it or finding it.
const SEEN: [Permissions; 2] = [Permissions::READ, Permissions::SEARCH];

/// Whether the token may see every resource a Bundle, Parameters or OperationOutcome holds
/// (its entries, its parameters' resources, at any depth): an operation's answer is sent
/// whole or not at all.
fn every_held_resource_covered<R: ServerModel>(granted: &Granted, holder: &R) -> bool {
    fn walk<R: ServerModel>(granted: &Granted, value: &serde_json::Value, top: bool) -> bool {
        match value {
            serde_json::Value::Object(members) => {
                if !top && members.contains_key("resourceType") {
                    let held = fhir_model::json::from_str::<R>(&value.to_string());
                    return match held {
                        Ok(held) => match held.resource_type() {
                            "Bundle" | "Parameters" | "OperationOutcome" => {
                                walk::<R>(granted, value, true)
                            }
                            _ => granted.covers(&held, &SEEN),
                        },
                        Err(_) => false,
                    };
                }
                members
                    .iter()
                    // A resource's own contained resources go with it.
                    .filter(|(name, _)| name.as_str() != "contained")
                    .all(|(_, v)| walk::<R>(granted, v, false))
            }
            serde_json::Value::Array(items) => items.iter().all(|v| walk::<R>(granted, v, false)),
            _ => true,
        }
    }
    match serde_json::from_str(&fhir_model::json::to_string(holder)) {
        Ok(value) => walk::<R>(granted, &value, true),
        Err(_) => false,
    }
}

/// Whether `resource` matches `query`; a query that cannot be evaluated matches nothing.
fn matches<R: ServerModel>(resource: &R, query: &Query) -> bool {
    Matcher::new::<R>(resource.resource_type(), query)
        .and_then(|m| m.matches(resource, &Sources::none()))
        .unwrap_or(false)
}

/// The resource types a search's chains and `_has` reach from `resource_type`: those whose
/// resources it reads to decide a match. A chain through a parameter whose targets are not
/// known reaches every type (`*`).
fn reached_types<R: Searchable>(
    resource_type: Option<&str>,
    params: impl Iterator<Item = impl std::ops::Deref<Target = QueryParam>>,
) -> Vec<String> {
    let mut reached = Vec::new();
    for p in params {
        let Some(modifier) = p.modifier.as_deref() else {
            continue;
        };
        if p.name == "_has" {
            // `:Observation:patient:code`, or `:Observation:patient:_has:AuditEvent:...`.
            let parts: Vec<&str> = modifier.trim_start_matches(':').split(':').collect();
            let mut i = 0;
            while let Some(source) = parts.get(i) {
                reached.push(source.to_string());
                match parts.get(i + 2) {
                    Some(&"_has") => i += 3,
                    _ => break,
                }
            }
            continue;
        }
        let mut from: Vec<String> = resource_type.map(str::to_string).into_iter().collect();
        let mut name = p.name.as_str();
        // The modifier comes without its `:` (`Patient.name`), a chain with its `.`.
        let modifier = match modifier.starts_with('.') {
            true => modifier.to_string(),
            false => format!(":{modifier}"),
        };
        let mut rest = modifier.as_str();
        // `[:Type].next[:Type].next...`
        while let Some(dot) = rest.find('.') {
            let explicit = rest[..dot].strip_prefix(':');
            let targets: Vec<String> = match explicit {
                Some(t) if !t.is_empty() => vec![t.to_string()],
                _ => targets_of::<R>(&from, name),
            };
            reached.extend(targets.iter().cloned());
            let next = &rest[dot + 1..];
            let end = next.find([':', '.']).unwrap_or(next.len());
            name = &next[..end];
            rest = &next[end..];
            from = targets;
        }
    }
    reached.sort();
    reached.dedup();
    reached
}

/// The types reference parameter `name` of any of `types` points to; `*` when it is not
/// found or names none.
fn targets_of<R: Searchable>(types: &[String], name: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for t in types {
        let found = R::SEARCH_PARAMETERS
            .iter()
            .filter(|(owner, _)| *owner == t || *owner == "Resource" || *owner == "DomainResource")
            .flat_map(|(_, params)| params.iter())
            .find(|p| p.code == name);
        match found {
            Some(p) if !p.targets.is_empty() => {
                targets.extend(p.targets.iter().map(|t| t.to_string()))
            }
            _ => return vec!["*".to_string()],
        }
    }
    if targets.is_empty() {
        targets.push("*".to_string());
    }
    targets
}

/// Requests answered without a token: the CapabilityStatement.
fn is_public(req: &Request<'_>) -> bool {
    use rocket::http::Method;
    matches!(req.method(), Method::Get | Method::Head)
        && req
            .uri()
            .path()
            .as_str()
            .trim_end_matches('/')
            .ends_with("/metadata")
}

#[rocket::async_trait]
impl<R: ServerModel> Interceptor<R> for SmartAuth {
    async fn request_received(&self, req: &Request<'_>) -> Result<(), FhirError> {
        let header = req.headers().get_one("Authorization");
        let token = header.map(|h| {
            let (scheme, token) = h.trim().split_once(' ').unwrap_or((h, ""));
            match scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                true => Ok(token.trim()),
                false => Err(FhirError::unauthorized_bearer(
                    "the Authorization header is not a bearer token",
                    Some("invalid_request"),
                )),
            }
        });
        let token = match token {
            None | Some(Err(_)) if is_public(req) => return Ok(()),
            None => {
                return Err(FhirError::unauthorized_bearer(
                    "this request needs a bearer token",
                    None,
                ))
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(token)) => token,
        };
        let claims = match self.claims(token).await {
            Ok(claims) => claims,
            Err(_) if is_public(req) => return Ok(()),
            Err(TokenError::Invalid(why)) => {
                return Err(FhirError::unauthorized_bearer(
                    format!("the token is not valid: {why}"),
                    Some("invalid_token"),
                ))
            }
            Err(e @ TokenError::IssuerUnavailable(_)) => {
                return Err(FhirError::new(503, "transient", e.to_string()))
            }
        };
        let by_roles = self.role_scopes(&claims);
        req.local_cache(|| Bearer(Some(Granted { claims, by_roles })));
        Ok(())
    }

    async fn interaction_resolved(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
    ) -> Result<(), FhirError> {
        let interaction = resolved.interaction;
        if interaction == "capabilities" {
            return Ok(());
        }
        let granted = self.granted(req)?;
        let config = self.validator.config();
        // On a multi-tenant server a token is for one tenant: its `aud` names that tenant's
        // base. Without this, a token of one tenant would open every other tenant's data.
        if resolved.tenant.is_some() || config.per_tenant {
            let needed = config.audience_for(resolved.tenant);
            if !granted.claims.names_audience(&needed) {
                return Err(FhirError::unauthorized_bearer(
                    format!("the token is not for {needed}: its aud does not name it"),
                    Some("invalid_token"),
                ));
            }
        }
        if interaction == "batch" {
            // Each entry is resolved, and checked, on its own.
            return Ok(());
        }
        let needed = match interaction {
            "operation" => {
                let name = resolved.operation.unwrap_or_default();
                match self.operations.iter().find(|(n, _)| n == name) {
                    Some((_, needed)) => *needed,
                    None => {
                        return Err(FhirError::forbidden(format!(
                            "the operation {name} is not open to bearer tokens on this server"
                        )))
                    }
                }
            }
            i => Permissions::needed_for(i).ok_or_else(|| {
                FhirError::forbidden(format!("the interaction {i} is not open to bearer tokens"))
            })?,
        };
        let access = match (resolved.resource_type, interaction, resolved.compartment) {
            (Some(t), ..) => granted.access(t, needed)?,
            // A search of several types: each of them, or every type, in full; a narrowing
            // applies to one type.
            (None, "search-system", None) => {
                let named = resolved
                    .query
                    .map(|q| q.values("_type"))
                    .unwrap_or_default();
                let mut types: Vec<&str> = named.iter().flat_map(|v| v.split(',')).collect();
                if types.is_empty() {
                    types.push("*");
                }
                for t in types {
                    if granted.access(t, needed)? != Access::All {
                        return Err(FhirError::forbidden(format!(
                            "a search of several types is not open to a token whose scopes on {t} are limited to a patient or a query: search {t} alone"
                        )));
                    }
                }
                Access::All
            }
            (None, ..) => granted.access("*", needed)?,
        };
        if let Access::Narrowed { .. } = &access {
            // These find or list resources without a search to narrow.
            let refused = match interaction {
                "history-type" | "history-system" => Some("a history of a type or the server"),
                _ if resolved.conditional => Some("a conditional write"),
                // Its result is made by the provider, after every check: it could move a
                // resource out of what the token may write. An update is checked whole.
                "patch" => Some("a patch (send an update)"),
                _ => None,
            };
            if let Some(what) = refused {
                return Err(FhirError::forbidden(format!(
                    "{what} is not open to a token whose scopes are limited to a patient or a query"
                )));
            }
        }
        if interaction.starts_with("search") {
            let params = resolved.search_params();
            for t in reached_types::<R>(resolved.resource_type, params) {
                granted.access(&t, Permissions::SEARCH).map_err(|e| {
                    FhirError::forbidden(format!(
                        "the search reaches {t} through a chain or _has: {}",
                        e.message()
                    ))
                })?;
            }
        }
        Ok(())
    }

    fn narrow_search(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
    ) -> Result<Narrowing, FhirError> {
        let granted = self.granted(req)?;
        let t = match (resolved.resource_type, resolved.compartment) {
            (Some(t), _) => t,
            (None, Some(_)) => "*",
            // A search of several types was allowed only in full.
            (None, None) => return Ok(Narrowing::default()),
        };
        let Access::Narrowed { patient, query } = granted.access(t, Permissions::SEARCH)? else {
            return Ok(Narrowing::default());
        };
        Ok(Narrowing {
            compartment: patient.map(|p| ("Patient".to_string(), p)),
            params: query.map(Query::into_params).unwrap_or_default(),
        })
    }

    fn withholds(&self) -> bool {
        true
    }

    async fn resource_incoming(
        &self,
        req: &Request<'_>,
        resolved: &Resolved<'_>,
        resource: &mut R,
    ) -> Result<(), FhirError> {
        let needed = match resolved.interaction {
            "create" => Permissions::CREATE,
            "update" => Permissions::UPDATE,
            // A Bundle's entries come one by one; an operation's body is its input.
            _ => return Ok(()),
        };
        let granted = self.granted(req)?;
        if granted.covers(resource, &[needed]) {
            return Ok(());
        }
        Err(FhirError::forbidden(format!(
            "the token's scopes with '{needed}' on {} do not cover this resource (outside the patient's compartment, or not matching the scope's query)",
            resource.resource_type()
        )))
    }

    fn changes_incoming(&self) -> bool {
        false
    }

    fn resource_outgoing(&self, req: &Request<'_>, resource: Arc<R>) -> Option<Arc<R>> {
        let granted = self.granted(req).ok()?;
        let seen = match resource.resource_type() {
            // What an operation answers, or a stored Bundle: what it holds decides.
            "Bundle" | "Parameters" => {
                granted.covers(&*resource, &SEEN)
                    && every_held_resource_covered(granted, &*resource)
            }
            "OperationOutcome" => every_held_resource_covered(granted, &*resource),
            _ => granted.covers(&*resource, &SEEN),
        };
        seen.then_some(resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir_model::r4::Resource;

    fn params(query: &str) -> Vec<QueryParam> {
        crate::search::parse_query(query).unwrap().into_params()
    }

    #[test]
    fn chains_and_has_reach_their_types() {
        let reached = |t: &str, q: &str| reached_types::<Resource>(Some(t), params(q).iter());
        assert_eq!(
            reached("Observation", "code=x&subject=Patient/1"),
            Vec::<String>::new()
        );
        assert_eq!(
            reached("Observation", "subject:Patient.name=peter"),
            ["Patient"]
        );
        assert_eq!(
            reached("Observation", "subject:Patient.organization.name=acme"),
            ["Organization", "Patient"]
        );
        // Without a type, every target of `subject`.
        let implicit = reached("Observation", "subject.name=peter");
        assert!(
            implicit.contains(&"Patient".to_string()) && implicit.contains(&"Group".to_string())
        );
        assert_eq!(
            reached(
                "Patient",
                "_has:Observation:patient:_has:AuditEvent:entity:agent=x"
            ),
            ["AuditEvent", "Observation"]
        );
        assert_eq!(reached("Observation", "no-such.name=x"), ["*"]);
    }

    #[test]
    fn queries_of_one_parameter_join_as_an_or() {
        let scopes = Scopes::parse(
            "user/Observation.rs?category=laboratory user/Observation.rs?category=vital-signs",
        )
        .unwrap();
        let grants: Vec<&ResourceScope> = scopes.resources.iter().collect();
        let union = union_of_queries(&grants).unwrap();
        assert_eq!(union.values("category"), ["laboratory,vital-signs"]);
        let scopes =
            Scopes::parse("user/Observation.rs?category=laboratory user/Observation.rs?code=1")
                .unwrap();
        let grants: Vec<&ResourceScope> = scopes.resources.iter().collect();
        assert!(union_of_queries(&grants).is_none());
    }

    #[test]
    fn compartment_membership_follows_the_compartment_definition() {
        let observation = Resource::from_json(
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}"#,
        )
        .unwrap();
        assert!(in_compartment(&observation, "123"));
        assert!(!in_compartment(&observation, "456"));
        let patient = Resource::from_json(r#"{"resourceType":"Patient","id":"123"}"#).unwrap();
        assert!(in_compartment(&patient, "123"));
        assert!(!in_compartment(&patient, "456"));
        // Not in the Patient compartment at all.
        let medication = Resource::from_json(r#"{"resourceType":"Medication"}"#).unwrap();
        assert!(in_compartment(&medication, "456"));
    }
}
