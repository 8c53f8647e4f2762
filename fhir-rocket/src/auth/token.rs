//! Bearer tokens checked as an OAuth 2.0 resource server does: a signed JWT (RS256, RS384,
//! ES256 or ES384) whose key is in its issuer's JWKS, with its `iss`, `aud`, `exp` and `nbf`
//! checked (a small clock skew allowed). The JWKS is found through the issuer's discovery
//! document, kept, and fetched again when a token names a key it does not have (a key
//! rotation), at most once per [`IssuerConfig::refetch_after`]. Signatures are checked by
//! `jsonwebtoken` (ring underneath), never by hand.
//!
//! Tokens that are not JWTs are checked by the issuer's RFC 7662 introspection endpoint when
//! one is configured ([`IssuerConfig::introspection`]), and the answer kept a short while.
//!
//! [`TokenValidator::validate`] blocks while it fetches: call it from a blocking context.
//! [`TokenValidator::cached`] never blocks: a token checked before is kept, by its whole
//! text, until it expires.

use super::scope::{ScopeError, Scopes};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Whose tokens a server takes.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// The issuer, exactly as tokens name it in `iss` (`https://auth.example.org/realm`).
    /// Its discovery document is `{issuer}/.well-known/openid-configuration`, else
    /// `{issuer}/.well-known/oauth-authorization-server` (RFC 8414).
    pub issuer: String,
    /// The audience tokens must name in `aud`: usually the server's base URL.
    pub audience: String,
    /// For a multi-tenant server: tokens name the base URL of one tenant,
    /// `{audience}/{tenant}` (what a SMART app is given as the FHIR server's URL, and sends
    /// as `aud` when it asks for a token), and are taken for that tenant's requests only
    /// ([`Claims::names_audience`], which `SmartAuth` checks on each request). Off, tokens
    /// name `audience` itself and a multi-tenant server refuses them all.
    pub per_tenant: bool,
    /// The clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long after a fetch of the JWKS a token with an unknown key may cause another.
    pub refetch_after: Duration,
    /// Where tokens that are not JWTs (opaque tokens) are checked, by RFC 7662's
    /// introspection; without it they are refused.
    pub introspection: Option<Introspection>,
}

/// An RFC 7662 introspection endpoint and the server's credentials for it (HTTP Basic).
#[derive(Clone, Debug)]
pub struct Introspection {
    /// The endpoint's URL.
    pub endpoint: String,
    /// This server's client id at the issuer.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// How long an answer is kept (at most until the token's `exp`): a token revoked at the
    /// issuer is still taken that long.
    pub keep_for: Duration,
}

impl IssuerConfig {
    /// `issuer` and `audience`, with 60 seconds of clock skew and a JWKS fetched again at
    /// most every 30 seconds.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> IssuerConfig {
        IssuerConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            per_tenant: false,
            leeway: Duration::from_secs(60),
            refetch_after: Duration::from_secs(30),
            introspection: None,
        }
    }

    /// The audience a token must name for a request of `tenant`: the audience, followed by
    /// `/{tenant}` on a multi-tenant server.
    ///
    /// ```
    /// use fhir_rocket::auth::token::IssuerConfig;
    /// let config = IssuerConfig::new("https://auth.example.org", "https://fhir.example.org/fhir");
    /// assert_eq!(config.audience_for(None), "https://fhir.example.org/fhir");
    /// assert_eq!(config.audience_for(Some("acme")), "https://fhir.example.org/fhir/acme");
    /// ```
    pub fn audience_for(&self, tenant: Option<&str>) -> String {
        match tenant {
            Some(tenant) => format!("{}/{tenant}", self.audience.trim_end_matches('/')),
            None => self.audience.clone(),
        }
    }

    /// Whether an `aud` claim (a string or a list) is for this server: it names the
    /// audience, or with [`per_tenant`](IssuerConfig::per_tenant) the base of a tenant below
    /// it (one path segment more).
    fn takes(&self, aud: &serde_json::Value) -> bool {
        let base = self.audience.trim_end_matches('/');
        claim_strings(aud).any(|aud| {
            aud == self.audience
                || (self.per_tenant
                    && aud
                        .strip_prefix(base)
                        .and_then(|rest| rest.strip_prefix('/'))
                        .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/')))
        })
    }
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// The token is not valid (an answer of 401 with `error="invalid_token"`).
    Invalid(String),
    /// The issuer's keys could not be had: the token could not be checked (503).
    IssuerUnavailable(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Invalid(why) => write!(f, "invalid token: {why}"),
            TokenError::IssuerUnavailable(why) => {
                write!(f, "the token's issuer could not be reached: {why}")
            }
        }
    }
}

impl std::error::Error for TokenError {}

impl From<ScopeError> for TokenError {
    fn from(e: ScopeError) -> Self {
        TokenError::Invalid(e.to_string())
    }
}

/// What a valid token says.
#[derive(Clone, Debug)]
pub struct Claims {
    /// `sub`.
    pub subject: Option<String>,
    /// `scope` (space-separated, or an array in `scp`), read.
    pub scopes: Scopes,
    /// `patient`: the patient in context of a SMART launch.
    pub patient: Option<String>,
    /// `fhirUser`: the user's own resource (`Practitioner/123`).
    pub fhir_user: Option<String>,
    /// Every claim, for what the server maps to roles.
    pub all: serde_json::Value,
}

impl Claims {
    /// Whether the token's `aud` (a string or a list) names `audience` exactly.
    ///
    /// ```
    /// use fhir_rocket::auth::scope::Scopes;
    /// use fhir_rocket::auth::token::Claims;
    /// let claims = Claims {
    ///     subject: None,
    ///     scopes: Scopes::parse("").unwrap(),
    ///     patient: None,
    ///     fhir_user: None,
    ///     all: serde_json::json!({"aud": ["https://fhir.example.org/fhir/acme"]}),
    /// };
    /// assert!(claims.names_audience("https://fhir.example.org/fhir/acme"));
    /// assert!(!claims.names_audience("https://fhir.example.org/fhir/general"));
    /// ```
    pub fn names_audience(&self, audience: &str) -> bool {
        self.holds("aud", audience)
    }

    /// Whether the claim `claim` is `value`, or a list holding it.
    pub fn holds(&self, claim: &str, value: &str) -> bool {
        claim_strings(&self.all[claim]).any(|v| v == value)
    }
}

/// The strings of a claim that is one string or a list of them (`aud`, `roles`).
fn claim_strings(claim: &serde_json::Value) -> impl Iterator<Item = &str> {
    let (one, list) = match claim {
        serde_json::Value::String(one) => (Some(one.as_str()), &[][..]),
        serde_json::Value::Array(list) => (None, list.as_slice()),
        _ => (None, &[][..]),
    };
    one.into_iter()
        .chain(list.iter().filter_map(serde_json::Value::as_str))
}

/// Checks bearer tokens of one issuer.
pub struct TokenValidator {
    config: IssuerConfig,
    keys: RwLock<Keys>,
    agent: ureq::Agent,
    /// Tokens checked, by their whole text (never by the signature alone: a payload changed
    /// under a copied signature must not find the original's claims), with the second (Unix time) until which each is taken.
    checked: Mutex<HashMap<String, (Arc<Claims>, u64)>>,
}

/// Tokens kept at most; past it, the expired ones are dropped, then all if none were.
const CHECKED_KEPT: usize = 10_000;

#[derive(Default)]
struct Keys {
    /// The issuer's discovery document, once fetched.
    discovery: Option<serde_json::Value>,
    set: Option<JwkSet>,
    fetched_at: Option<Instant>,
    /// Why the last fetch failed, when it did.
    failure: Option<String>,
}

/// The algorithms taken, those SMART's backend services name. Never `none`, nor the HMAC
/// ones, whose secret would be the issuer's public key.
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::ES256,
    Algorithm::ES384,
];

impl TokenValidator {
    /// A validator for `config`'s issuer; nothing is fetched until the first token.
    pub fn new(config: IssuerConfig) -> TokenValidator {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        TokenValidator {
            config,
            keys: RwLock::new(Keys::default()),
            agent,
            checked: Mutex::new(HashMap::new()),
        }
    }

    /// The claims of `token` if it was checked before and has not expired since; never
    /// blocks on the network.
    pub fn cached(&self, token: &str) -> Option<Arc<Claims>> {
        let checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        let (claims, until) = checked.get(token)?;
        (now() <= *until).then(|| claims.clone())
    }

    /// [`TokenValidator::validate`], kept for [`TokenValidator::cached`]: what a server
    /// calls for each request's token once `cached` found nothing.
    pub fn validate_and_keep(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        let claims = Arc::new(self.validate(token)?);
        // Kept while valid: a JWT's `exp` is required; an introspected token is asked again
        // after `keep_for`.
        let leeway = self.config.leeway.as_secs();
        let exp = claims.all["exp"].as_u64().unwrap_or(u64::MAX);
        let mut until = exp.saturating_add(leeway);
        if let (Some(introspection), false) = (&self.config.introspection, is_jwt(token)) {
            until = until.min(now().saturating_add(introspection.keep_for.as_secs()));
        }
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        if checked.len() >= CHECKED_KEPT {
            let now = now();
            checked.retain(|_, (_, until)| now <= *until);
            if checked.len() >= CHECKED_KEPT {
                checked.clear();
            }
        }
        checked.insert(token.to_string(), (claims.clone(), until));
        Ok(claims)
    }

    /// The issuer's discovery document (OpenID Connect's, else RFC 8414's), fetched with its
    /// keys and kept; fetched now if it was not yet. Blocks while it fetches.
    pub fn discovery(&self) -> Result<serde_json::Value, TokenError> {
        if let Some(doc) = &self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .discovery
        {
            return Ok(doc.clone());
        }
        let (doc, _) = self.fetch_discovery()?;
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .discovery = Some(doc.clone());
        Ok(doc)
    }

    /// The configuration.
    pub fn config(&self) -> &IssuerConfig {
        &self.config
    }

    /// Checks `token` (the text after `Bearer `) and reads its claims.
    pub fn validate(&self, token: &str) -> Result<Claims, TokenError> {
        if let (Some(introspection), false) = (&self.config.introspection, is_jwt(token)) {
            return self.introspect(introspection, token);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenError::Invalid(format!("not a signed JWT: {e}")))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not taken (RS256, RS384, ES256, ES384)",
                header.alg
            )));
        }
        let jwk = self.key(header.kid.as_deref(), header.alg)?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| TokenError::Invalid(format!("the issuer's key is unusable: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        // `aud` is checked below, where a tenant's base can be taken too.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        if !self.config.takes(&data.claims["aud"]) {
            return Err(TokenError::Invalid(
                "the token is for another audience".into(),
            ));
        }
        claims(data.claims)
    }

    /// RFC 7662: the issuer says whether an opaque token is active, and what it grants.
    fn introspect(&self, introspection: &Introspection, token: &str) -> Result<Claims, TokenError> {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form_encode(&introspection.client_id),
            form_encode(&introspection.client_secret)
        ));
        let sent = self
            .agent
            .post(&introspection.endpoint)
            .header("Authorization", &format!("Basic {basic}"))
            .header("Accept", "application/json")
            .send_form([("token", token), ("token_type_hint", "access_token")]);
        let answer = json_answer(&introspection.endpoint, sent)?;
        if answer["active"] != serde_json::Value::Bool(true) {
            return Err(TokenError::Invalid(
                "the issuer says the token is not active".into(),
            ));
        }
        let leeway = self.config.leeway.as_secs();
        if answer["exp"]
            .as_u64()
            .is_some_and(|exp| exp.saturating_add(leeway) < now())
        {
            return Err(TokenError::Invalid("the token has expired".into()));
        }
        if answer["nbf"]
            .as_u64()
            .is_some_and(|nbf| nbf > now().saturating_add(leeway))
        {
            return Err(TokenError::Invalid("the token is not valid yet".into()));
        }
        if answer["iss"]
            .as_str()
            .is_some_and(|iss| iss != self.config.issuer)
        {
            return Err(TokenError::Invalid("the token is of another issuer".into()));
        }
        // An answer without `aud` is for whoever asked, this server; on a multi-tenant server
        // it names no tenant, and `SmartAuth` refuses it for each.
        let for_us = answer["aud"].is_null() || self.config.takes(&answer["aud"]);
        if !for_us {
            return Err(TokenError::Invalid(
                "the token is for another audience".into(),
            ));
        }
        claims(answer)
    }

    /// The key `kid` names (or the only key of the algorithm's kind, for a token without a
    /// `kid`), fetching the JWKS when it is not known yet.
    fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Jwk, TokenError> {
        let known = self.known(
            &self.keys.read().unwrap_or_else(|e| e.into_inner()),
            kid,
            alg,
        );
        if let Some(known) = known {
            return known;
        }
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have fetched meanwhile.
        if let Some(known) = self.known(&keys, kid, alg) {
            return known;
        }
        keys.fetched_at = Some(Instant::now());
        let set = match self.fetch_jwks() {
            Ok((discovery, set)) => {
                keys.discovery = Some(discovery);
                set
            }
            Err(e) => {
                keys.failure = Some(e.to_string());
                return Err(e);
            }
        };
        keys.failure = None;
        let found = find(&set, kid, alg);
        keys.set = Some(set);
        found.ok_or_else(|| unknown_key(kid))
    }

    /// The key from the keys fetched, or the answer until the next fetch may be made;
    /// `None` when a fetch may find it.
    fn known(
        &self,
        keys: &Keys,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Option<Result<Jwk, TokenError>> {
        if let Some(found) = keys.set.as_ref().and_then(|set| find(set, kid, alg)) {
            return Some(Ok(found));
        }
        let recent = keys
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.config.refetch_after);
        // Until the next fetch, a failed one answers as it did: the token is not at fault.
        recent.then(|| match &keys.failure {
            Some(why) => Err(TokenError::IssuerUnavailable(why.clone())),
            None => Err(unknown_key(kid)),
        })
    }

    /// The discovery document and the JWKS it names.
    fn fetch_jwks(&self) -> Result<(serde_json::Value, JwkSet), TokenError> {
        let (discovery, url) = self.fetch_discovery()?;
        let Some(jwks_uri) = discovery["jwks_uri"].as_str() else {
            return Err(TokenError::IssuerUnavailable(format!(
                "{url} has no jwks_uri"
            )));
        };
        let jwks = self.get_json(jwks_uri)?;
        let set = serde_json::from_value(jwks)
            .map_err(|e| TokenError::IssuerUnavailable(format!("{jwks_uri} is not a JWKS: {e}")))?;
        Ok((discovery, set))
    }

    /// The discovery document, and the URL it came from.
    fn fetch_discovery(&self) -> Result<(serde_json::Value, String), TokenError> {
        let issuer = self.config.issuer.trim_end_matches('/');
        let mut last = String::new();
        for well_known in ["openid-configuration", "oauth-authorization-server"] {
            let url = format!("{issuer}/.well-known/{well_known}");
            match self.get_json(&url) {
                Ok(discovery) => return Ok((discovery, url)),
                Err(TokenError::IssuerUnavailable(why)) => last = why,
                Err(other) => return Err(other),
            }
        }
        Err(TokenError::IssuerUnavailable(last))
    }

    fn get_json(&self, url: &str) -> Result<serde_json::Value, TokenError> {
        json_answer(url, self.agent.get(url).call())
    }
}

/// The JSON body of the issuer's answer from `url` (up to 1 MiB); anything but a 200 with
/// JSON is the issuer being unavailable, not the token being invalid.
fn json_answer(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<serde_json::Value, TokenError> {
    let unavailable = |why: String| TokenError::IssuerUnavailable(format!("{url}: {why}"));
    let mut response = sent.map_err(|e| unavailable(e.to_string()))?;
    if response.status() != 200 {
        return Err(unavailable(format!("status {}", response.status())));
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(|e| unavailable(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| unavailable(e.to_string()))
}

/// Whether a token has the form of a JWS (three parts): a JWT, checked by its signature.
fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// `application/x-www-form-urlencoded` encoding, which RFC 6749 asks of a client id and
/// secret before they go into HTTP Basic.
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Seconds since the Unix epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unknown_key(kid: Option<&str>) -> TokenError {
    TokenError::Invalid(match kid {
        Some(kid) => format!("the issuer has no key '{kid}'"),
        None => "the token names no key (kid) and the issuer has more than one".into(),
    })
}

/// The key of the set that `kid` names, of a kind that signs with `alg`; without a `kid`,
/// the set's one key of that kind.
fn find(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    use jsonwebtoken::jwk::AlgorithmParameters;
    let fits = |k: &&Jwk| {
        let kind = matches!(
            (&k.algorithm, alg),
            (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256 | Algorithm::RS384
            ) | (
                AlgorithmParameters::EllipticCurve(_),
                Algorithm::ES256 | Algorithm::ES384
            )
        );
        // A key that names its algorithm is for that one only.
        let named = k
            .common
            .key_algorithm
            .is_none_or(|a| signs_with(a) == Some(alg));
        kind && named
    };
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(fits)
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None => {
            let mut fitting = set.keys.iter().filter(fits);
            match (fitting.next(), fitting.next()) {
                (Some(one), None) => Some(one.clone()),
                _ => None,
            }
        }
    }
}

/// The signing algorithm a JWK's `alg` names.
fn signs_with(a: jsonwebtoken::jwk::KeyAlgorithm) -> Option<Algorithm> {
    use jsonwebtoken::jwk::KeyAlgorithm as K;
    Some(match a {
        K::RS256 => Algorithm::RS256,
        K::RS384 => Algorithm::RS384,
        K::ES256 => Algorithm::ES256,
        K::ES384 => Algorithm::ES384,
        _ => return None,
    })
}

/// The claims a server uses, read from a verified token's payload.
fn claims(all: serde_json::Value) -> Result<Claims, TokenError> {
    let text = |name: &str| all[name].as_str().map(str::to_string);
    let scope = match (&all["scope"], &all["scp"]) {
        (serde_json::Value::String(s), _) => s.clone(),
        (serde_json::Value::Null, serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        (serde_json::Value::Null, serde_json::Value::Null) => String::new(),
        _ => {
            return Err(TokenError::Invalid(
                "the scope claim is not a string".into(),
            ))
        }
    };
    Ok(Claims {
        subject: text("sub"),
        scopes: Scopes::parse(&scope)?,
        patient: text("patient"),
        fhir_user: text("fhirUser"),
        all,
    })
}

#[cfg(test)]
mod tests {
    use super::IssuerConfig;
    use serde_json::json;

    #[test]
    fn a_tenant_base_is_taken_only_per_tenant_and_only_one_segment_below() {
        let mut config = IssuerConfig::new("https://auth.example.org", "https://x.org/fhir");
        assert!(config.takes(&json!("https://x.org/fhir")));
        assert!(config.takes(&json!(["https://y.org", "https://x.org/fhir"])));
        assert!(!config.takes(&json!("https://x.org/fhir/acme")));
        assert!(!config.takes(&json!(null)));
        config.per_tenant = true;
        assert!(config.takes(&json!("https://x.org/fhir/acme")));
        assert!(config.takes(&json!(["https://x.org/fhir/acme"])));
        for other in [
            "https://x.org/fhir/",
            "https://x.org/fhiracme",
            "https://x.org/fhir/acme/Patient",
            "https://x.org/fhir2/acme",
            "https://x.org",
        ] {
            assert!(!config.takes(&json!(other)), "{other}");
        }
        config.audience = "https://x.org/fhir/".into();
        assert!(config.takes(&json!("https://x.org/fhir/acme")));
        assert_eq!(config.audience_for(Some("acme")), "https://x.org/fhir/acme");
    }
}
