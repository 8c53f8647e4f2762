//! Bearer tokens against an issuer made here: a local HTTP server publishing a discovery
//! document and a JWKS of keys generated for this run (P-256 and P-384 by ring, RSA 2048 by
//! the `openssl` command), tokens minted for each case. Valid tokens of each algorithm pass;
//! expired, not yet valid, wrong audience, wrong issuer, unknown key, tampered, `alg: none`
//! and HMAC tokens are refused; a rotated key is fetched; an unknown key does not make the
//! validator fetch the JWKS again within `refetch_after`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use fhir_rocket::auth::scope::{Context, Permissions};
use fhir_rocket::auth::token::{IssuerConfig, TokenError, TokenValidator};
use fhir_tests::issuer::{ec_key, mint, now, rsa_key, Issuer, AUDIENCE};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::Duration;

fn refused(result: Result<fhir_rocket::auth::token::Claims, TokenError>, case: &str) -> String {
    match result {
        Err(TokenError::Invalid(why)) => why,
        other => panic!("{case}: {other:?}"),
    }
}

#[test]
fn valid_tokens_of_each_algorithm_pass_and_bad_ones_are_refused() {
    let es256 = ec_key("ec-256", false);
    let es384 = ec_key("ec-384", true);
    let rs256 = rsa_key("rsa-256", Algorithm::RS256);
    let rs384 = rsa_key("rsa-384", Algorithm::RS384);
    let issuer = Issuer::start(&[&es256, &es384, &rs256, &rs384]);
    let validator = issuer.validator(Duration::from_secs(3600));

    for key in [&es256, &es384, &rs256, &rs384] {
        let claims = validator
            .validate(&mint(key, &issuer.claims()))
            .unwrap_or_else(|e| panic!("{:?}: {e}", key.alg));
        assert_eq!(claims.subject.as_deref(), Some("app-1"));
        assert_eq!(claims.patient.as_deref(), Some("123"));
        assert_eq!(claims.fhir_user.as_deref(), Some("Practitioner/9"));
        assert!(claims.scopes.has("launch/patient"));
        let granted: Vec<_> = claims
            .scopes
            .grant(Context::Patient, "Observation", Permissions::SEARCH)
            .collect();
        assert_eq!(granted.len(), 1);
        assert!(granted[0].query.is_some());
    }
    // The keys were fetched once, for the first token.
    assert_eq!(issuer.fetches(), 1);

    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = issuer.claims();
        change(&mut claims);
        mint(&es256, &claims)
    };
    let cases: Vec<(&str, String)> = vec![
        ("expired", with(&|c| c["exp"] = json!(now() - 3600))),
        ("not yet valid", with(&|c| c["nbf"] = json!(now() + 3600))),
        (
            "another audience",
            with(&|c| c["aud"] = json!("https://other.example.org/fhir")),
        ),
        (
            "another issuer",
            with(&|c| c["iss"] = json!("https://evil.example.org")),
        ),
        (
            "no expiry",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "a malformed scope",
            with(&|c| c["scope"] = json!("patient/Observation.sr")),
        ),
    ];
    for (case, token) in &cases {
        refused(validator.validate(token), case);
    }
    // Within the minute of clock skew, an expired token still passes.
    validator
        .validate(&with(&|c| c["exp"] = json!(now() - 30)))
        .unwrap();

    // A tampered payload: the signature no longer matches.
    let token = mint(&es256, &issuer.claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    payload["patient"] = json!("456");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(payload.to_string()),
        parts[2]
    );
    refused(validator.validate(&tampered), "tampered");
    // A signature of another key under this key's kid.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-256".into());
    let other = ec_key("ec-256", false);
    let forged = jsonwebtoken::encode(&header, &issuer.claims(), &other.signing).unwrap();
    refused(validator.validate(&forged), "another key's signature");
    // `alg: none`, unsigned.
    let none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(issuer.claims().to_string())
    );
    refused(validator.validate(&none), "alg none");
    // HMAC with the public key's bytes as the secret: the old confusion attack.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-256".into());
    let hmac = jsonwebtoken::encode(
        &header,
        &issuer.claims(),
        &EncodingKey::from_secret(rs256.jwk["n"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    let why = refused(validator.validate(&hmac), "HS256");
    assert!(why.contains("not taken"), "{why}");
    refused(validator.validate("garbage"), "garbage");

    // An unknown key: refused, and the JWKS is not fetched again within refetch_after.
    let stranger = ec_key("stranger", false);
    for _ in 0..3 {
        let why = refused(
            validator.validate(&mint(&stranger, &issuer.claims())),
            "unknown kid",
        );
        assert!(why.contains("stranger"), "{why}");
    }
    assert_eq!(issuer.fetches(), 1);
}

#[test]
fn a_rotated_key_is_fetched_and_an_unreachable_issuer_is_not_an_invalid_token() {
    let old = ec_key("2026-01", false);
    let new = ec_key("2026-02", false);
    let issuer = Issuer::start(&[&old]);
    // Fetched again on an unknown key once a second has passed since the last fetch.
    let validator = issuer.validator(Duration::from_secs(1));
    validator.validate(&mint(&old, &issuer.claims())).unwrap();
    assert_eq!(issuer.fetches(), 1);
    issuer.publish(&[&old, &new]);
    // Within the second, the new key is not looked for.
    refused(
        validator.validate(&mint(&new, &issuer.claims())),
        "before refetch_after",
    );
    std::thread::sleep(Duration::from_millis(1100));
    validator.validate(&mint(&new, &issuer.claims())).unwrap();
    assert_eq!(issuer.fetches(), 2);
    // The old key is retired: tokens still signed with it are refused after the next fetch.
    issuer.publish(&[&new]);
    std::thread::sleep(Duration::from_millis(1100));
    refused(
        validator.validate(&mint(&ec_key("2026-03", false), &issuer.claims())),
        "unknown",
    );
    assert_eq!(issuer.fetches(), 3);
    refused(
        validator.validate(&mint(&old, &issuer.claims())),
        "retired key",
    );

    // No issuer at the address: the token cannot be checked, which is not the token's fault.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let nowhere = TokenValidator::new(IssuerConfig::new(
        format!("http://{address}/realm"),
        AUDIENCE,
    ));
    // Asked again before a fetch may be tried again: still the issuer's fault.
    for _ in 0..2 {
        match nowhere.validate(&mint(&old, &issuer.claims())) {
            Err(TokenError::IssuerUnavailable(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn opaque_tokens_are_introspected_and_kept_a_short_while() {
    let key = ec_key("intro", false);
    let issuer = Issuer::start(&[&key]);
    let mut config = issuer.config();
    config.introspection = Some(issuer.introspection(Duration::from_secs(1)));
    let validator = TokenValidator::new(config.clone());
    issuer.opaque_token(
        "opaque-1",
        json!({"active": true, "scope": "user/Patient.rs", "sub": "nurse-7",
               "aud": AUDIENCE, "iss": issuer.base, "exp": now() + 600}),
    );
    issuer.opaque_token(
        "opaque-expired",
        json!({"active": true, "exp": now() - 3600}),
    );
    issuer.opaque_token(
        "opaque-elsewhere",
        json!({"active": true, "aud": "https://other.example.org"}),
    );
    let claims = validator.validate_and_keep("opaque-1").unwrap();
    assert_eq!(claims.subject.as_deref(), Some("nurse-7"));
    assert_eq!(
        claims
            .scopes
            .grant(Context::User, "Patient", Permissions::SEARCH)
            .count(),
        1
    );
    refused(validator.validate("opaque-unknown"), "not active");
    refused(validator.validate("opaque-expired"), "expired");
    refused(validator.validate("opaque-elsewhere"), "another audience");
    // Kept a second, then asked again: revoked meanwhile, it is refused.
    assert!(validator.cached("opaque-1").is_some());
    issuer.opaque_token("opaque-1", json!({"active": false}));
    assert!(validator.cached("opaque-1").is_some());
    std::thread::sleep(Duration::from_millis(2100));
    assert!(validator.cached("opaque-1").is_none());
    refused(
        validator
            .validate_and_keep("opaque-1")
            .map(|c| (*c).clone()),
        "revoked",
    );
    // JWTs are still checked by their signature, not introspected.
    validator.validate(&mint(&key, &issuer.claims())).unwrap();
    // Wrong credentials at the endpoint: the issuer's fault, not the token's.
    let mut wrong = config;
    wrong.introspection.as_mut().unwrap().client_secret = "wrong".into();
    match TokenValidator::new(wrong).validate("opaque-1") {
        Err(TokenError::IssuerUnavailable(_)) => {}
        other => panic!("{other:?}"),
    }
}
