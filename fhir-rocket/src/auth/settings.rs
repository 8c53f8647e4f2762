//! SMART on FHIR configured from Rocket's configuration: a `fhir_auth` table in
//! `Rocket.toml`, or `ROCKET_FHIR_AUTH` in the environment.
//!
//! ```toml
//! [default.fhir_auth]
//! issuer = "https://auth.example.org/realm"
//! audience = "https://fhir.example.org/fhir"
//! # On a multi-tenant server: tokens name https://fhir.example.org/fhir/TENANT.
//! per_tenant = false
//! roles = [{ claim = "roles", value = "clinician", scopes = "user/*.rs" }]
//! operations = [{ name = "$everything", needs = "r" }]
//! # Opaque tokens, checked by RFC 7662 introspection.
//! introspection = { endpoint = "https://auth.example.org/realm/introspect", client_id = "fhir", client_secret = "..." }
//! ```

use super::scope::Permissions;
use super::smart::SmartAuth;
use super::token::IssuerConfig;
use rocket::serde::Deserialize;

/// The `fhir_auth` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(crate = "rocket::serde", deny_unknown_fields)]
pub struct AuthSettings {
    /// The issuer, as tokens name it in `iss`.
    pub issuer: String,
    /// The audience tokens must name: the server's base URL.
    pub audience: String,
    /// A multi-tenant server: tokens name a tenant's base, `{audience}/{tenant}`, and are
    /// taken for that tenant only ([`IssuerConfig::per_tenant`]).
    #[serde(default)]
    pub per_tenant: bool,
    /// Scopes granted by a claim's value ([`SmartAuth::role`]).
    #[serde(default)]
    pub roles: Vec<RoleSetting>,
    /// Operations open to tokens ([`SmartAuth::operation`]).
    #[serde(default)]
    pub operations: Vec<OperationSetting>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds (60 unless set).
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
    /// RFC 7662 introspection of opaque tokens: the endpoint, and this server's client id
    /// and secret there.
    #[serde(default)]
    pub introspection: Option<IntrospectionSetting>,
}

/// Where opaque tokens are introspected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(crate = "rocket::serde", deny_unknown_fields)]
pub struct IntrospectionSetting {
    /// The endpoint.
    pub endpoint: String,
    /// This server's client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// How long an answer is kept, in seconds (60 unless set).
    #[serde(default)]
    pub keep_seconds: Option<u64>,
}

/// One role: tokens whose `claim` holds `value` are granted `scopes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(crate = "rocket::serde", deny_unknown_fields)]
pub struct RoleSetting {
    /// The claim (`roles`, `groups`).
    pub claim: String,
    /// The value it holds, or one of the values of its list.
    pub value: String,
    /// The scopes granted, as a `scope` claim writes them.
    pub scopes: String,
}

/// One operation open to tokens granted `needs` (SMART 2 letters) on its type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(crate = "rocket::serde", deny_unknown_fields)]
pub struct OperationSetting {
    /// `$everything`.
    pub name: String,
    /// `r`, `rs`, `cud`...
    pub needs: String,
}

impl AuthSettings {
    /// The settings under `fhir_auth` in `figment`, when there are some; an error says
    /// what is wrong with them.
    ///
    /// ```
    /// use fhir_rocket::auth::settings::AuthSettings;
    /// let figment = rocket::Config::figment()
    ///     .merge(("fhir_auth.issuer", "https://auth.example.org/realm"))
    ///     .merge(("fhir_auth.audience", "https://fhir.example.org/fhir"));
    /// let settings = AuthSettings::from_figment(&figment).unwrap().unwrap();
    /// assert_eq!(settings.issuer, "https://auth.example.org/realm");
    /// assert!(settings.into_auth().is_ok());
    /// assert_eq!(AuthSettings::from_figment(&rocket::Config::figment()), Ok(None));
    /// ```
    pub fn from_figment(
        figment: &rocket::figment::Figment,
    ) -> Result<Option<AuthSettings>, String> {
        if figment.find_value("fhir_auth").is_err() {
            return Ok(None);
        }
        figment
            .extract_inner("fhir_auth")
            .map(Some)
            .map_err(|e| format!("fhir_auth: {e}"))
    }

    /// The authorization these settings describe; an error names a malformed scope or
    /// operation.
    pub fn into_auth(self) -> Result<SmartAuth, String> {
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err("fhir_auth: the issuer and the audience are both needed".into());
        }
        let mut config = IssuerConfig::new(self.issuer, self.audience);
        config.per_tenant = self.per_tenant;
        if let Some(leeway) = self.leeway_seconds {
            config.leeway = std::time::Duration::from_secs(leeway);
        }
        if let Some(i) = self.introspection {
            config.introspection = Some(super::token::Introspection {
                endpoint: i.endpoint,
                client_id: i.client_id,
                client_secret: i.client_secret,
                keep_for: std::time::Duration::from_secs(i.keep_seconds.unwrap_or(60)),
            });
        }
        let mut auth = SmartAuth::new(config);
        for role in self.roles {
            auth = auth
                .role(&role.claim, &role.value, &role.scopes)
                .map_err(|e| format!("fhir_auth: role {}={}: {e}", role.claim, role.value))?;
        }
        for op in self.operations {
            let needs = Permissions::from_letters(&op.needs).ok_or_else(|| {
                format!(
                    "fhir_auth: operation {}: '{}' is not SMART 2 letters (cruds, in that order)",
                    op.name, op.needs
                )
            })?;
            auth = auth.operation(&op.name, needs);
        }
        Ok(auth)
    }
}
