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
    bytes_equal(a.as_bytes(), b.as_bytes())
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

/// The modifiers FHIR defines for each search parameter type (R4 and R5), which a provider may
/// declare it evaluates with `#[modifiers(...)]`. A reference's target type (`subject:Patient`)
/// is part of its value and needs no declaration.
pub const MODIFIERS: &[(SearchParamKind, &[&str])] = &[
    (
        SearchParamKind::String,
        &["missing", "exact", "contains", "text"],
    ),
    (
        SearchParamKind::Token,
        &[
            "missing",
            "text",
            "not",
            "above",
            "below",
            "in",
            "not-in",
            "of-type",
            "code-text",
            "text-advanced",
        ],
    ),
    (
        SearchParamKind::Reference,
        &[
            "missing",
            "identifier",
            "above",
            "below",
            "code-text",
            "text-advanced",
        ],
    ),
    (
        SearchParamKind::Uri,
        &["missing", "above", "below", "contains"],
    ),
    (SearchParamKind::Date, &["missing"]),
    (SearchParamKind::Number, &["missing"]),
    (SearchParamKind::Quantity, &["missing"]),
    (SearchParamKind::Composite, &["missing"]),
    (SearchParamKind::Special, &["missing"]),
];

/// The result of [`modifier`].
pub enum ModifierCheck {
    /// FHIR defines the modifier for the parameter's type.
    Ok,
    /// The parameter is not a search parameter.
    NotSearch,
    /// FHIR defines no such modifier for the parameter's type.
    Unknown,
}

/// Whether `modifier` is one FHIR defines for the type of the search parameter `role`.
pub const fn modifier(role: ParamRole, modifier: &str) -> ModifierCheck {
    let ParamRole::Search { kind, .. } = role else {
        return ModifierCheck::NotSearch;
    };
    let mut i = 0;
    while i < MODIFIERS.len() {
        if same_kind(MODIFIERS[i].0, kind) {
            let list = MODIFIERS[i].1;
            let mut j = 0;
            while j < list.len() {
                if same_str(list[j], modifier) {
                    return ModifierCheck::Ok;
                }
                j += 1;
            }
        }
        i += 1;
    }
    ModifierCheck::Unknown
}

/// The result of [`chain`].
pub enum ChainCheck {
    /// The chain names a search parameter of a type the reference may point to.
    Ok,
    /// The parameter is not a reference search parameter.
    NotReference,
    /// The chain has more than one link (`organization.name`): not checked here.
    TooDeep,
    /// `Type.param`: the reference may not point to that type.
    NotATarget,
    /// No type the reference may point to has that search parameter.
    UnknownParam,
}

const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
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

/// The search parameters of the type named `name` in `T`'s version.
const fn params_of<T: ServedType>(name: &[u8]) -> Option<&'static [fhir_model::SearchParameter]> {
    let table = T::VERSION_SEARCH_PARAMETERS;
    let mut i = 0;
    while i < table.len() {
        if bytes_equal(table[i].0.as_bytes(), name) {
            return Some(table[i].1);
        }
        i += 1;
    }
    None
}

const fn has_param(params: &[fhir_model::SearchParameter], name: &[u8]) -> bool {
    let mut i = 0;
    while i < params.len() {
        if bytes_equal(params[i].code.as_bytes(), name) {
            return true;
        }
        i += 1;
    }
    false
}

/// Checks a chain a provider declares on its reference parameter `param` of `T`: `name` (any
/// type the reference may point to that has `name`) or `Type.name`.
pub const fn chain<T: ServedType>(param: &str, role: ParamRole, chain: &str) -> ChainCheck {
    if !matches!(
        role,
        ParamRole::Search {
            kind: SearchParamKind::Reference,
            ..
        }
    ) {
        return ChainCheck::NotReference;
    }
    let params = T::SEARCH_PARAMETERS;
    let mut targets: &[&str] = &[];
    let mut i = 0;
    while i < params.len() {
        if same_str(params[i].code, param) {
            targets = params[i].targets;
        }
        i += 1;
    }
    let bytes = chain.as_bytes();
    let mut dot = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            if dot.is_some() {
                return ChainCheck::TooDeep;
            }
            dot = Some(i);
        }
        i += 1;
    }
    let (target, name) = match dot {
        Some(at) => {
            let (target, rest) = bytes.split_at(at);
            let (_, name) = rest.split_at(1);
            (Some(target), name)
        }
        None => (None, bytes),
    };
    if let Some(target) = target {
        if target.is_empty() || !target[0].is_ascii_uppercase() {
            return ChainCheck::TooDeep;
        }
        let mut i = 0;
        let mut is_target = false;
        while i < targets.len() {
            if bytes_equal(targets[i].as_bytes(), target) {
                is_target = true;
            }
            i += 1;
        }
        if !is_target {
            return ChainCheck::NotATarget;
        }
        return match params_of::<T>(target) {
            Some(params) if has_param(params, name) => ChainCheck::Ok,
            _ => ChainCheck::UnknownParam,
        };
    }
    let mut i = 0;
    while i < targets.len() {
        if let Some(params) = params_of::<T>(targets[i].as_bytes()) {
            if has_param(params, name) {
                return ChainCheck::Ok;
            }
        }
        i += 1;
    }
    ChainCheck::UnknownParam
}

/// Whether `name` is a search parameter of `T`, to sort by.
pub const fn sort_key<T: ServedType>(name: &str) -> bool {
    has_param(T::SEARCH_PARAMETERS, name.as_bytes())
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
        ParamRole::Context | ParamRole::TypeName | ParamRole::Response => true,
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
