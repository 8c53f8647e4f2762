//! SMART on FHIR authorization. [`scope`] reads what a token's `scope` claim grants; with
//! the feature `auth`:
//! - `token`: bearer tokens checked against their issuer's keys;
//! - `smart`: `SmartAuth`, the scopes enforced on every interaction, installed by
//!   `FhirServer::authorize`, with SMART's discovery document;
//! - `settings`: the same configured from `Rocket.toml` or `ROCKET_FHIR_AUTH`;
//! - `audit`: `AuditLog`, who did what to which resources, and the outcome.

#[cfg(feature = "auth")]
pub mod audit;
pub mod scope;
#[cfg(feature = "auth")]
pub mod settings;
#[cfg(feature = "auth")]
pub mod smart;
#[cfg(feature = "auth")]
pub mod token;
