//! An OAuth 2.0 issuer made in the tests: a local HTTP server publishing a discovery
//! document and a JWKS of keys generated for the run (P-256 and P-384 by ring, RSA 2048 by
//! the `openssl` command), minting tokens for each case, and a token endpoint for SMART's
//! backend services.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use fhir_rocket::auth::token::{IssuerConfig, TokenValidator};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The audience of every token: the server's base URL, as the tests configure it.
pub const AUDIENCE: &str = "https://fhir.example.org/fhir";

/// A key of the issuer: how tokens are signed with it, and its public JWK.
pub struct Key {
    pub alg: Algorithm,
    pub kid: String,
    pub signing: EncodingKey,
    pub jwk: Value,
    /// The private key as DER: PKCS#8 for EC keys, PKCS#1 for RSA keys.
    pub private_der: Vec<u8>,
}

impl Key {
    /// The private key as PEM (`-----BEGIN PRIVATE KEY-----`, PKCS#8), for EC keys: what a
    /// client library reads.
    pub fn private_pem(&self) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(&self.private_der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }
}

pub fn ec_key(kid: &str, p384: bool) -> Key {
    use ring::signature::{
        EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    };
    let (ring_alg, alg, crv) = if p384 {
        (&ECDSA_P384_SHA384_FIXED_SIGNING, Algorithm::ES384, "P-384")
    } else {
        (&ECDSA_P256_SHA256_FIXED_SIGNING, Algorithm::ES256, "P-256")
    };
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(ring_alg, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(ring_alg, pkcs8.as_ref(), &rng).unwrap();
    // An uncompressed point: 0x04, then x and y.
    let point = &pair.public_key().as_ref()[1..];
    let (x, y) = point.split_at(point.len() / 2);
    Key {
        alg,
        kid: kid.to_string(),
        signing: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": crv, "kid": kid, "use": "sig",
                    "x": B64.encode(x), "y": B64.encode(y)}),
        private_der: pkcs8.as_ref().to_vec(),
    }
}

/// An RSA key made by `openssl` (ring verifies RSA but does not make keys), installed with
/// apt when missing.
pub fn rsa_key(kid: &str, alg: Algorithm) -> Key {
    use std::process::Command;
    let openssl_works = || {
        Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !openssl_works() {
        assert!(
            crate::apt_install(&["openssl"]) && openssl_works(),
            "openssl is missing and could not be installed"
        );
    }
    let dir = std::env::temp_dir().join(format!("fhir-auth-{}-{kid}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("key.pem");
    let der = dir.join("key.der");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        pem.to_str().unwrap(),
    ]);
    // PKCS#1, as ring and jsonwebtoken read an RSA private key.
    run(&[
        "rsa",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-traditional",
        "-out",
        der.to_str().unwrap(),
    ]);
    let pkcs1 = std::fs::read(&der).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let pair = ring::rsa::KeyPair::from_der(&pkcs1).unwrap();
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    Key {
        alg,
        kid: kid.to_string(),
        signing: EncodingKey::from_rsa_der(&pkcs1),
        private_der: pkcs1.clone(),
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig",
                    "n": B64.encode(&public.n), "e": B64.encode(&public.e)}),
    }
}

/// The issuer: its discovery document and JWKS over HTTP, and how often the JWKS was asked.
pub struct Issuer {
    /// The issuer's URL, as tokens name it in `iss`.
    pub base: String,
    jwks: Arc<Mutex<Value>>,
    jwks_fetches: Arc<Mutex<usize>>,
    /// The key access tokens of the token endpoint are signed with.
    signer: Arc<Mutex<Option<(Algorithm, String, EncodingKey)>>>,
    /// Clients of the backend-services flow: id, public JWK.
    clients: Arc<Mutex<Vec<(String, Value)>>>,
    /// Opaque tokens the introspection endpoint knows, with its answer for each.
    opaque: Arc<Mutex<Vec<(String, Value)>>>,
}

/// The credentials of the resource server at the introspection endpoint.
pub const INTROSPECTION_CLIENT: (&str, &str) = ("fhir-server", "s3cret");

impl Issuer {
    /// An issuer publishing `keys`, on a loopback port: its discovery document at
    /// `/realm/.well-known/openid-configuration`, its JWKS at `/realm/jwks`, and a token
    /// endpoint at `/realm/token` for SMART's backend services (client credentials, the
    /// client authenticated by a JWT signed with a key registered by [`Issuer::client`]).
    pub fn start(keys: &[&Key]) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/realm", listener.local_addr().unwrap());
        let issuer = Issuer {
            base: base.clone(),
            jwks: Arc::new(Mutex::new(json!({"keys": []}))),
            jwks_fetches: Arc::new(Mutex::new(0)),
            signer: Arc::new(Mutex::new(None)),
            clients: Arc::new(Mutex::new(Vec::new())),
            opaque: Arc::new(Mutex::new(Vec::new())),
        };
        issuer.publish(keys);
        let shared = Issuer {
            base: base.clone(),
            jwks: issuer.jwks.clone(),
            jwks_fetches: issuer.jwks_fetches.clone(),
            signer: issuer.signer.clone(),
            clients: issuer.clients.clone(),
            opaque: issuer.opaque.clone(),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = shared.answer(stream);
            }
        });
        issuer
    }

    /// Answers one request.
    fn answer(&self, mut stream: std::net::TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut length = 0;
        let mut authorization = String::new();
        let mut header = String::new();
        while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if name.eq_ignore_ascii_case("authorization") {
                    authorization = value.trim().to_string();
                }
            }
            header.clear();
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let base = &self.base;
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let (status, body) = match path.as_str() {
            "/realm/.well-known/openid-configuration" => (
                "200 OK",
                json!({
                    "issuer": base,
                    "jwks_uri": format!("{base}/jwks"),
                    "authorization_endpoint": format!("{base}/authorize"),
                    "token_endpoint": format!("{base}/token"),
                    "grant_types_supported": ["authorization_code", "client_credentials"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "token_endpoint_auth_signing_alg_values_supported": ["ES256", "ES384", "RS384"],
                })
                .to_string(),
            ),
            "/realm/jwks" => {
                *self.jwks_fetches.lock().unwrap() += 1;
                ("200 OK", self.jwks.lock().unwrap().to_string())
            }
            "/realm/token" => match self.grant(&String::from_utf8_lossy(&body)) {
                Ok(token) => ("200 OK", token.to_string()),
                Err(why) => (
                    "400 Bad Request",
                    json!({"error": "invalid_client", "error_description": why}).to_string(),
                ),
            },
            "/realm/introspect" => {
                let (id, secret) = INTROSPECTION_CLIENT;
                let expected = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
                );
                if authorization != expected {
                    (
                        "401 Unauthorized",
                        json!({"error": "invalid_client"}).to_string(),
                    )
                } else {
                    let form = String::from_utf8_lossy(&body).to_string();
                    let token = form
                        .split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(n, _)| *n == "token")
                        .map(|(_, v)| decode_form(v))
                        .unwrap_or_default();
                    let known = self
                        .opaque
                        .lock()
                        .unwrap()
                        .iter()
                        .find(|(t, _)| *t == token)
                        .map(|(_, a)| a.clone());
                    (
                        "200 OK",
                        known
                            .unwrap_or_else(|| json!({"active": false}))
                            .to_string(),
                    )
                }
            }
            _ => ("404 Not Found", "{}".to_string()),
        };
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// The token endpoint: `grant_type=client_credentials` with a `client_assertion`
    /// signed by a registered client's key, for the scopes asked.
    fn grant(&self, form: &str) -> Result<Value, String> {
        let field = |name: &str| {
            form.split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(n, _)| *n == name)
                .map(|(_, v)| decode_form(v))
        };
        if field("grant_type").as_deref() != Some("client_credentials") {
            return Err(format!(
                "grant_type {:?} is not client_credentials",
                field("grant_type")
            ));
        }
        if field("client_assertion_type").as_deref()
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err("the client authenticates with a JWT assertion".into());
        }
        let assertion = field("client_assertion").ok_or("no client_assertion")?;
        let header = jsonwebtoken::decode_header(&assertion).map_err(|e| e.to_string())?;
        // Which client: from the payload, before its signature is checked with its key.
        let payload = assertion.split('.').nth(1).ok_or("not a JWT")?;
        let unverified: Value = B64
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or("the assertion's payload is not JSON")?;
        let client_id = unverified["iss"].as_str().ok_or("no iss")?.to_string();
        let jwk = self
            .clients
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| *id == client_id)
            .map(|(_, jwk)| jwk.clone())
            .ok_or_else(|| format!("no client {client_id}"))?;
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).map_err(|e| e.to_string())?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&[format!("{}/token", self.base)]);
        validation.set_issuer(&[&client_id]);
        jsonwebtoken::decode::<Value>(&assertion, &key, &validation)
            .map_err(|e| format!("the client assertion: {e}"))?;
        let scope = field("scope").unwrap_or_default();
        let (alg, kid, signing) = self
            .signer
            .lock()
            .unwrap()
            .clone()
            .ok_or("no signing key")?;
        let mut header = Header::new(alg);
        header.kid = Some(kid);
        let now = now();
        let claims = json!({"iss": self.base, "aud": AUDIENCE, "sub": client_id, "iat": now,
                            "exp": now + 300, "scope": scope});
        let token = jsonwebtoken::encode(&header, &claims, &signing).map_err(|e| e.to_string())?;
        Ok(
            json!({"access_token": token, "token_type": "bearer", "expires_in": 300,
                  "scope": scope}),
        )
    }

    /// Signs the token endpoint's access tokens with `key` (one of those published).
    pub fn sign_tokens_with(&self, key: &Key) {
        *self.signer.lock().unwrap() = Some((key.alg, key.kid.clone(), key.signing.clone()));
    }

    /// Makes `token` an opaque token the introspection endpoint answers with `answer`
    /// (`{"active": true, "scope": ...}`), in place of its answer before.
    pub fn opaque_token(&self, token: &str, answer: Value) {
        let mut opaque = self.opaque.lock().unwrap();
        opaque.retain(|(t, _)| t != token);
        opaque.push((token.to_string(), answer));
    }

    /// The introspection endpoint, with this server's credentials, answers kept for `keep_for`.
    pub fn introspection(&self, keep_for: Duration) -> fhir_rocket::auth::token::Introspection {
        fhir_rocket::auth::token::Introspection {
            endpoint: format!("{}/introspect", self.base),
            client_id: INTROSPECTION_CLIENT.0.to_string(),
            client_secret: INTROSPECTION_CLIENT.1.to_string(),
            keep_for,
        }
    }

    /// Registers a backend-services client by its id and public JWK.
    pub fn client(&self, id: &str, jwk: Value) {
        self.clients.lock().unwrap().push((id.to_string(), jwk));
    }

    /// Publishes `keys` as the JWKS, in place of those before.
    pub fn publish(&self, keys: &[&Key]) {
        *self.jwks.lock().unwrap() =
            json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        *self.jwks_fetches.lock().unwrap()
    }

    /// A validator of this issuer's tokens for [`AUDIENCE`].
    pub fn validator(&self, refetch_after: Duration) -> TokenValidator {
        let mut config = self.config();
        config.refetch_after = refetch_after;
        TokenValidator::new(config)
    }

    /// The configuration of a server taking this issuer's tokens for [`AUDIENCE`].
    pub fn config(&self) -> IssuerConfig {
        IssuerConfig::new(&self.base, AUDIENCE)
    }

    /// The usual claims of a token of this issuer, valid for an hour.
    pub fn claims(&self) -> Value {
        let now = now();
        json!({"iss": self.base, "aud": AUDIENCE, "sub": "app-1", "iat": now, "exp": now + 3600,
               "scope": "launch/patient patient/Observation.rs?category=laboratory patient/Patient.r",
               "patient": "123", "fhirUser": "Practitioner/9"})
    }

    /// A token of this issuer signed with `key`, with `scope` (and `patient` when given),
    /// valid for an hour.
    pub fn token(&self, key: &Key, scope: &str, patient: Option<&str>) -> String {
        let mut claims = self.claims();
        claims["scope"] = json!(scope);
        match patient {
            Some(p) => claims["patient"] = json!(p),
            None => {
                claims.as_object_mut().unwrap().remove("patient");
            }
        }
        mint(key, &claims)
    }
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn decode_form(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn mint(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.signing).unwrap()
}
