//! `fhir serve` with and without `--auth-issuer`: protected, it takes tokens of the issuer
//! made in the test, grants scopes by role, and writes an audit line per request; open, it
//! says so when it starts; a malformed role is refused before it starts.

use fhir_tests::issuer::{ec_key, mint, Issuer, AUDIENCE};
use fhir_tests::serve::FhirServe;
use std::path::PathBuf;
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fhir-serve-auth-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `fhir serve` on a free port with `args`, its output piped; killed when dropped.
struct Served {
    served: FhirServe,
    dir: PathBuf,
}

impl Served {
    fn start(name: &str, args: &[&str]) -> Served {
        let dir = temp_dir(name);
        let mut all = vec!["--db", "s.db"];
        all.extend_from_slice(args);
        let served = FhirServe::start(
            env!("CARGO_BIN_EXE_fhir"),
            &dir,
            &all,
            &[("ROCKET_LOG_LEVEL", "off")],
        );
        Served { served, dir }
    }

    fn status(&self, path: &str, token: Option<&str>) -> u16 {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent.get(&format!("{}/{path}", self.served.base));
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        request.call().unwrap().status().as_u16()
    }

    /// Stops the server: what it wrote on stdout and stderr.
    fn stop(self) -> (String, String) {
        let output = self.served.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        output
    }
}

#[test]
fn serve_with_an_issuer_enforces_tokens_roles_and_audits() {
    let key = ec_key("serve-key", false);
    let issuer = Issuer::start(&[&key]);
    let served = Served::start(
        "protected",
        &[
            "--auth-issuer",
            &issuer.base,
            "--auth-audience",
            AUDIENCE,
            "--auth-role",
            "roles=clinician:user/*.rs",
        ],
    );
    assert_eq!(served.status("Patient", None), 401);
    assert_eq!(served.status("metadata", None), 200);
    let reader = issuer.token(&key, "user/Patient.rs", None);
    assert_eq!(served.status("Patient", Some(&reader)), 200);
    assert_eq!(served.status("Observation", Some(&reader)), 403);
    let mut claims = issuer.claims();
    claims["scope"] = serde_json::json!("openid");
    claims["roles"] = serde_json::json!(["clinician"]);
    assert_eq!(
        served.status("Observation", Some(&mint(&key, &claims))),
        200
    );
    let (out, err) = served.stop();
    assert!(out.contains("SMART on FHIR: bearer tokens of"), "{out}");
    // One audit line per request, the token's subject on those that had one.
    let audit: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| l.strip_prefix("audit: "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(audit.len(), 5, "{err}");
    assert_eq!(audit[0]["status"], 401);
    assert_eq!(audit[2]["subject"], "app-1");
    assert_eq!(audit[2]["interactions"][0], "search-type Patient");
    assert_eq!(audit[3]["status"], 403);
}

#[test]
fn serve_without_an_issuer_says_it_is_open_and_a_bad_role_is_refused() {
    let served = Served::start("open", &["--no-audit"]);
    assert_eq!(served.status("Patient", None), 200);
    let (out, err) = served.stop();
    assert!(out.contains("WARNING: no authorization"), "{out}");
    assert!(!err.contains("audit: "), "{err}");
    let refused = Command::new(env!("CARGO_BIN_EXE_fhir"))
        .args([
            "serve",
            "--auth-issuer",
            "https://auth.example.org",
            "--auth-audience",
            AUDIENCE,
            "--auth-role",
            "roles=clinician:user/Patient.sr",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("user/Patient.sr"), "{message}");
}
