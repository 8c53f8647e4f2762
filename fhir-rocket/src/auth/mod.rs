//! SMART on FHIR authorization, built in steps. So far: [`scope`], what a token's `scope`
//! claim grants, read from its text; and, with the feature `auth`, `token`: bearer tokens
//! checked against their issuer's keys.
//!
//! Not yet: enforcing scopes on each interaction, patient compartments, roles, discovery,
//! audit. Until then a kit server checks nothing of an `Authorization` header: protect it in
//! front (a gateway) or with an interceptor.

pub mod scope;
#[cfg(feature = "auth")]
pub mod token;
