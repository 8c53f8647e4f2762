//! Compile-time checks the provider macros emit: every search parameter a provider declares
//! must exist for its resource type and FHIR version, with a Rust type that fits its
//! definition. The checks run in constant evaluation, so a wrong provider does not compile.

#![doc(hidden)]

use crate::extract::{ParamRole, ServedType};
use crate::provider::{Interaction, Scope};
use crate::search::{AndList, DateRange, OrList, SearchValue};
use fhir_model::SearchParamKind;

/// The FHIR search parameter type a Rust parameter type stands for.
pub trait ParamKindOf {
    /// The type.
    const KIND: SearchParamKind;
    /// Whether the request must give the parameter (all but `Option<..>`).
    const REQUIRED: bool = true;
}

// Each search value type says its kind once, in `SearchValue::TYPE`.
impl<T: SearchValue> ParamKindOf for T {
    const KIND: SearchParamKind = T::TYPE;
}

impl ParamKindOf for DateRange {
    const KIND: SearchParamKind = SearchParamKind::Date;
}

impl<T: ParamKindOf> ParamKindOf for Option<T> {
    const KIND: SearchParamKind = T::KIND;
    const REQUIRED: bool = false;
}

impl<T: ParamKindOf> ParamKindOf for OrList<T> {
    const KIND: SearchParamKind = T::KIND;
}

impl<T: ParamKindOf> ParamKindOf for AndList<T> {
    const KIND: SearchParamKind = T::KIND;
}

/// The result of [`search_param`].
pub enum ParamCheck {
    /// The parameter exists with this type.
    Ok,
    /// The resource type has no such parameter.
    Unknown,
    /// The parameter has another type: this one.
    WrongType(SearchParamKind),
}

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn same_kind(a: SearchParamKind, b: SearchParamKind) -> bool {
    same_str(a.code(), b.code())
}

/// Looks search parameter `name` of resource type `T` up in the FHIR definitions.
pub const fn search_param<T: ServedType>(name: &str, kind: SearchParamKind) -> ParamCheck {
    let params = T::SEARCH_PARAMETERS;
    let mut i = 0;
    while i < params.len() {
        if same_str(params[i].code, name) {
            // `_id` is a token in the definitions and `_has` special; both take their own
            // Rust types, which are checked by their own parsing.
            return if same_kind(params[i].kind, kind)
                || same_kind(params[i].kind, SearchParamKind::Special)
            {
                ParamCheck::Ok
            } else {
                ParamCheck::WrongType(params[i].kind)
            };
        }
        i += 1;
    }
    if same_str(name, "_has") && same_kind(kind, SearchParamKind::Special) {
        return ParamCheck::Ok;
    }
    ParamCheck::Unknown
}

/// The interaction an attribute macro declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// `#[read]`
    Read,
    /// `#[search]`
    Search,
    /// `#[create]`
    Create,
    /// `#[update]`
    Update,
    /// `#[delete]`
    Delete,
    /// `#[history]`
    History,
    /// `#[patch]`
    Patch,
    /// `#[operation]`
    Operation,
}

/// Whether a parameter with this role belongs in this kind of provider.
pub const fn role_fits(kind: ProviderKind, role: ParamRole) -> bool {
    use ProviderKind::*;
    match role {
        ParamRole::Context | ParamRole::TypeName => true,
        ParamRole::LogicalId => !matches!(kind, Search | Create),
        ParamRole::VersionId => matches!(kind, Read),
        ParamRole::Body(_) => matches!(kind, Create | Update | Operation),
        ParamRole::Search { .. } | ParamRole::ResultParams => matches!(kind, Search),
        ParamRole::HistoryParams => matches!(kind, History),
        ParamRole::Patch => matches!(kind, Patch),
    }
}

/// Whether one of `roles` is `role` (compared by variant).
pub const fn has_role(roles: &[ParamRole], role: ParamRole) -> bool {
    let mut i = 0;
    while i < roles.len() {
        if roles[i].tag() == role.tag() {
            return true;
        }
        i += 1;
    }
    false
}

/// The result of [`signature`].
pub enum SignatureCheck {
    /// The parameters fit the interaction.
    Ok,
    /// It needs the id from the URL.
    NeedsId,
    /// It needs the resource in the body.
    NeedsBody,
    /// The body is of another type than the provider serves.
    BodyOfOtherType,
    /// A generic provider without a `TypeName` parameter.
    GenericWithoutTypeName,
    /// A search over the `Resource` enum.
    GenericSearch,
}

/// Checks the roles of a provider's parameters together: what its interaction needs, and
/// that a body is of the type it serves (`served` is `None` for the `Resource` enum).
pub const fn signature(
    kind: ProviderKind,
    roles: &[ParamRole],
    served: Option<&'static str>,
) -> SignatureCheck {
    use ProviderKind::*;
    if matches!(kind, Read | Update | Delete | Patch) && !has_role(roles, ParamRole::LogicalId) {
        return SignatureCheck::NeedsId;
    }
    if matches!(kind, Create | Update) && !has_role(roles, ParamRole::Body(None)) {
        return SignatureCheck::NeedsBody;
    }
    if matches!(kind, Create | Update) {
        let mut i = 0;
        while i < roles.len() {
            if let ParamRole::Body(body) = roles[i] {
                let same = match (body, served) {
                    (Some(a), Some(b)) => same_str(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !same {
                    return SignatureCheck::BodyOfOtherType;
                }
            }
            i += 1;
        }
    }
    if served.is_none() && !matches!(kind, Operation) {
        if matches!(kind, Search) {
            return SignatureCheck::GenericSearch;
        }
        // Over the `Resource` enum without a type name, a history is the system's.
        if !has_role(roles, ParamRole::TypeName) && !matches!(kind, History) {
            return SignatureCheck::GenericWithoutTypeName;
        }
    }
    SignatureCheck::Ok
}

/// What a provider serves: its type, every type (a generic provider), or the system.
pub fn scope(served: Option<&'static str>, roles: &[ParamRole]) -> Scope {
    match served {
        Some(name) => Scope::Type(name),
        None if has_role(roles, ParamRole::TypeName) => Scope::AnyType,
        None => Scope::System,
    }
}

/// The interactions a provider implements: a read that takes a version serves vread too; a
/// history is the instance's with an id, the type's or the system's otherwise.
pub fn interactions(kind: ProviderKind, roles: &[ParamRole], scope: Scope) -> Vec<Interaction> {
    let has_id = has_role(roles, ParamRole::LogicalId);
    match kind {
        ProviderKind::Read if has_role(roles, ParamRole::VersionId) => {
            vec![Interaction::Read, Interaction::VRead]
        }
        ProviderKind::Read => vec![Interaction::Read],
        ProviderKind::Search => vec![Interaction::Search],
        ProviderKind::Create => vec![Interaction::Create],
        ProviderKind::Update => vec![Interaction::Update],
        ProviderKind::Delete => vec![Interaction::Delete],
        ProviderKind::Patch => vec![Interaction::Patch],
        ProviderKind::Operation => vec![Interaction::Operation],
        ProviderKind::History if has_id => vec![Interaction::HistoryInstance],
        ProviderKind::History if scope == Scope::System => vec![Interaction::HistorySystem],
        ProviderKind::History => vec![Interaction::HistoryType],
    }
}
