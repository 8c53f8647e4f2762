//! SMART on FHIR scopes (SMART App Launch 1.0 and 2.x, "Scopes and Launch Context"): the
//! text of a token's `scope` claim read into what it grants.
//!
//! A resource scope is `context/Type.permissions[?query]`:
//! - the context is `patient` (the patient of the launch, the token's `patient` claim),
//!   `user` (what the user may see) or `system` (a backend service);
//! - the type is a resource type or `*`;
//! - the permissions are SMART 2's letters `c`, `r`, `u`, `d`, `s`, in that order, or SMART
//!   1's `read` (`rs` in SMART 2's terms), `write` (`cud`) or `*` (`cruds`);
//! - a SMART 2 scope may end in a query that narrows it: `patient/Observation.rs?category=
//!   http://terminology.hl7.org/CodeSystem/observation-category|laboratory`.
//!
//! Other scopes (`openid`, `fhirUser`, `launch/patient`, `offline_access`, ...) are kept as
//! they are. A scope that looks like a resource scope but is malformed is an error, never
//! read as something narrower or wider than it says.

use crate::search::{parse_query, Query};
use std::fmt;

/// Whose data a resource scope is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    /// `patient/`: the resources of the patient in context.
    Patient,
    /// `user/`: what the user may see.
    User,
    /// `system/`: a backend service, with no user or patient in context.
    System,
}

/// What a scope allows on a type: SMART 2's `c`, `r`, `u`, `d`, `s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u8);

impl Permissions {
    /// `c`: create.
    pub const CREATE: Permissions = Permissions(1);
    /// `r`: read, vread and the history of one resource.
    pub const READ: Permissions = Permissions(2);
    /// `u`: update and patch.
    pub const UPDATE: Permissions = Permissions(4);
    /// `d`: delete.
    pub const DELETE: Permissions = Permissions(8);
    /// `s`: search, and the history of a type or of the server.
    pub const SEARCH: Permissions = Permissions(16);
    /// Nothing.
    pub const NONE: Permissions = Permissions(0);
    /// `cruds`, SMART 1's `*`.
    pub const ALL: Permissions = Permissions(31);

    const LETTERS: [(char, Permissions); 5] = [
        ('c', Permissions::CREATE),
        ('r', Permissions::READ),
        ('u', Permissions::UPDATE),
        ('d', Permissions::DELETE),
        ('s', Permissions::SEARCH),
    ];

    /// SMART 2's letters (`rs`, `cud`), each at most once and in the order `cruds`; `None`
    /// for anything else.
    ///
    /// ```
    /// use fhir_rocket::auth::scope::Permissions;
    /// assert_eq!(Permissions::from_letters("rs"), Some(Permissions::READ.union(Permissions::SEARCH)));
    /// assert_eq!(Permissions::from_letters("sr"), None);
    /// ```
    pub fn from_letters(letters: &str) -> Option<Permissions> {
        smart2_permissions(letters)
    }

    /// Whether every permission of `other` is in `self`.
    pub fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    /// The permissions of both.
    pub fn union(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }

    /// What an interaction needs, named as [`crate::Resolved::interaction`] names it;
    /// `None` for those no resource scope grants by itself (`operation`, `capabilities`,
    /// `batch`: each entry of a batch is decided on its own).
    ///
    /// ```
    /// use fhir_rocket::auth::scope::Permissions;
    /// assert_eq!(Permissions::needed_for("vread"), Some(Permissions::READ));
    /// assert_eq!(Permissions::needed_for("history-type"), Some(Permissions::SEARCH));
    /// assert_eq!(Permissions::needed_for("patch"), Some(Permissions::UPDATE));
    /// assert_eq!(Permissions::needed_for("operation"), None);
    /// ```
    pub fn needed_for(interaction: &str) -> Option<Permissions> {
        Some(match interaction {
            "read" | "vread" | "history-instance" => Permissions::READ,
            "search-type" | "search-system" | "history-type" | "history-system" => {
                Permissions::SEARCH
            }
            "create" => Permissions::CREATE,
            "update" | "patch" => Permissions::UPDATE,
            "delete" => Permissions::DELETE,
            _ => return None,
        })
    }
}

impl fmt::Display for Permissions {
    /// SMART 2's letters, in their order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, p) in Permissions::LETTERS {
            if self.contains(p) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// A scope that grants access to resources.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceScope {
    /// Whose data.
    pub context: Context,
    /// The resource type, `None` for `*`.
    pub resource_type: Option<String>,
    /// What it allows.
    pub permissions: Permissions,
    /// The SMART 2 query that narrows it: only resources the search finds are granted.
    pub query: Option<Query>,
}

impl ResourceScope {
    /// Whether the scope is about `resource_type`.
    pub fn covers(&self, resource_type: &str) -> bool {
        self.resource_type
            .as_deref()
            .is_none_or(|t| t == resource_type)
    }
}

/// One scope of a token.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    /// `patient/...`, `user/...`, `system/...`.
    Resource(ResourceScope),
    /// Any other scope (`openid`, `fhirUser`, `launch/patient`, `offline_access`, ...), as
    /// written.
    Other(String),
}

/// Why a scope could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeError {
    /// The scope, as written.
    pub scope: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scope '{}': {}", self.scope, self.reason)
    }
}

impl std::error::Error for ScopeError {}

/// Reads one scope.
///
/// ```
/// use fhir_rocket::auth::scope::{parse_scope, Context, Permissions, Scope};
/// let Scope::Resource(s) = parse_scope("patient/Observation.rs?category=laboratory").unwrap() else {
///     panic!("a resource scope");
/// };
/// assert_eq!(s.context, Context::Patient);
/// assert_eq!(s.resource_type.as_deref(), Some("Observation"));
/// assert_eq!(s.permissions, Permissions::READ.union(Permissions::SEARCH));
/// assert_eq!(s.query.unwrap().params()[0].name, "category");
///
/// // SMART 1: `read` is SMART 2's `rs`.
/// let Scope::Resource(v1) = parse_scope("user/*.read").unwrap() else { panic!() };
/// assert_eq!((v1.resource_type, v1.permissions.to_string()), (None, "rs".to_string()));
///
/// assert!(parse_scope("patient/Observation.sr").is_err()); // out of order
/// assert_eq!(parse_scope("launch/patient").unwrap(), Scope::Other("launch/patient".into()));
/// ```
pub fn parse_scope(text: &str) -> Result<Scope, ScopeError> {
    let error = |reason: &str| ScopeError {
        scope: text.to_string(),
        reason: reason.to_string(),
    };
    let Some((context, rest)) = text.split_once('/') else {
        return Ok(Scope::Other(text.to_string()));
    };
    let context = match context {
        "patient" => Context::Patient,
        "user" => Context::User,
        "system" => Context::System,
        _ => return Ok(Scope::Other(text.to_string())),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let Some((resource_type, permissions)) = rest.split_once('.') else {
        return Err(error(
            "a resource scope is context/Type.permissions (patient/Observation.rs)",
        ));
    };
    let resource_type = match resource_type {
        "*" => None,
        t if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric()) => Some(t.to_string()),
        _ => return Err(error("the resource type is a type name or *")),
    };
    let (permissions, smart2) = match permissions {
        "read" => (Permissions::READ.union(Permissions::SEARCH), false),
        "write" => (
            Permissions::CREATE
                .union(Permissions::UPDATE)
                .union(Permissions::DELETE),
            false,
        ),
        "*" => (Permissions::ALL, false),
        letters => (
            smart2_permissions(letters).ok_or_else(|| {
                error("the permissions are read, write, * or SMART 2's c, r, u, d, s in that order")
            })?,
            true,
        ),
    };
    let query = match query {
        None => None,
        Some(_) if !smart2 => {
            return Err(error(
                "only a SMART 2 scope (letters cruds) may be narrowed by a query",
            ))
        }
        Some(q) => {
            let parsed = parse_query(q).map_err(|e| error(&e.to_string()))?;
            if parsed.params().is_empty() {
                return Err(error("the query after '?' is empty"));
            }
            Some(parsed)
        }
    };
    Ok(Scope::Resource(ResourceScope {
        context,
        resource_type,
        permissions,
        query,
    }))
}

/// SMART 2's letters, each at most once and in the order `cruds`.
fn smart2_permissions(letters: &str) -> Option<Permissions> {
    let mut permissions = Permissions::NONE;
    let mut next = 0;
    for c in letters.chars() {
        let at = Permissions::LETTERS[next..]
            .iter()
            .position(|(l, _)| *l == c)?;
        permissions = permissions.union(Permissions::LETTERS[next + at].1);
        next += at + 1;
    }
    (permissions != Permissions::NONE).then_some(permissions)
}

/// The scopes of a token (its `scope` claim: scopes separated by spaces).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scopes {
    /// The resource scopes.
    pub resources: Vec<ResourceScope>,
    /// The others, as written.
    pub others: Vec<String>,
}

impl Scopes {
    /// Reads a `scope` claim; the first malformed scope is an error.
    ///
    /// ```
    /// use fhir_rocket::auth::scope::{Context, Permissions, Scopes};
    /// let scopes = Scopes::parse("openid fhirUser launch/patient patient/*.rs user/Observation.c").unwrap();
    /// assert_eq!(scopes.others, ["openid", "fhirUser", "launch/patient"]);
    /// assert!(scopes.grant(Context::Patient, "Condition", Permissions::SEARCH).next().is_some());
    /// assert!(scopes.grant(Context::Patient, "Condition", Permissions::CREATE).next().is_none());
    /// ```
    pub fn parse(claim: &str) -> Result<Scopes, ScopeError> {
        let mut scopes = Scopes::default();
        for text in claim.split_ascii_whitespace() {
            match parse_scope(text)? {
                Scope::Resource(r) => scopes.resources.push(r),
                Scope::Other(o) => scopes.others.push(o),
            }
        }
        Ok(scopes)
    }

    /// Whether a scope other than a resource scope was granted (`openid`, `launch/patient`).
    pub fn has(&self, scope: &str) -> bool {
        self.others.iter().any(|s| s == scope)
    }

    /// The resource scopes of `context` that allow `needed` on `resource_type`. Each may
    /// carry a query that narrows what it grants: a resource is allowed when one of them
    /// allows it.
    pub fn grant<'s>(
        &'s self,
        context: Context,
        resource_type: &'s str,
        needed: Permissions,
    ) -> impl Iterator<Item = &'s ResourceScope> + 's {
        self.resources.iter().filter(move |s| {
            s.context == context && s.covers(resource_type) && s.permissions.contains(needed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(text: &str) -> ResourceScope {
        match parse_scope(text) {
            Ok(Scope::Resource(r)) => r,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn smart1_and_smart2_forms_grant_the_same() {
        for (v1, v2) in [
            ("patient/Observation.read", "patient/Observation.rs"),
            ("user/*.write", "user/*.cud"),
            ("system/Patient.*", "system/Patient.cruds"),
        ] {
            assert_eq!(resource(v1), resource(v2), "{v1} and {v2}");
        }
        assert_eq!(resource("user/Encounter.cd").permissions.to_string(), "cd");
        assert_eq!(
            resource("user/Encounter.s").permissions,
            Permissions::SEARCH
        );
    }

    #[test]
    fn malformed_resource_scopes_are_errors() {
        for bad in [
            "patient/Observation",
            "patient/Observation.",
            "patient/Observation.sr",
            "patient/Observation.rr",
            "patient/Observation.x",
            "patient/Observation.readwrite",
            "patient/.rs",
            "patient/Obs-ervation.rs",
            "patient/Observation.read?category=laboratory",
            "patient/Observation.rs?",
        ] {
            assert!(parse_scope(bad).is_err(), "{bad} was read");
        }
    }

    #[test]
    fn other_scopes_are_kept_as_written() {
        let scopes = Scopes::parse("  openid   fhirUser offline_access launch/patient ").unwrap();
        assert!(scopes.resources.is_empty());
        assert!(scopes.has("launch/patient") && scopes.has("fhirUser"));
        assert!(!scopes.has("launch"));
    }

    #[test]
    fn grants_follow_context_type_and_permissions() {
        let scopes = Scopes::parse(
            "patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs user/Patient.r",
        )
        .unwrap();
        let lab_or_vital: Vec<_> = scopes
            .grant(Context::Patient, "Observation", Permissions::SEARCH)
            .map(|s| s.query.as_ref().unwrap().to_url_query_without(&[]))
            .collect();
        assert_eq!(
            lab_or_vital,
            ["category=laboratory", "category=vital-signs"]
        );
        assert_eq!(
            scopes
                .grant(Context::User, "Observation", Permissions::READ)
                .count(),
            0
        );
        assert_eq!(
            scopes
                .grant(Context::User, "Patient", Permissions::SEARCH)
                .count(),
            0
        );
        assert_eq!(
            scopes
                .grant(Context::User, "Patient", Permissions::READ)
                .count(),
            1
        );
    }
}
