//! Compile-time checks the provider macros emit: every search parameter a provider declares
//! must exist for its resource type and FHIR version, with a Rust type that fits its
//! definition. The checks run in constant evaluation, so a wrong provider does not compile.

#![doc(hidden)]

use crate::search::{AndList, DateRange, OrList, SearchValue};
use fhir_model::{ResourceType, SearchParamKind};

/// The FHIR search parameter type a Rust parameter type stands for.
pub trait ParamKindOf {
    /// The type.
    const KIND: SearchParamKind;
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
pub const fn search_param<T: ResourceType>(name: &str, kind: SearchParamKind) -> ParamCheck {
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

/// Implemented only when both types are the same: a provider serves one resource type.
#[diagnostic::on_unimplemented(
    message = "this provider takes a `{Self}` in its body but returns a `{T}`",
    label = "a provider serves one resource type"
)]
pub trait SameResource<T> {}

impl<T> SameResource<T> for T {}

/// Fails to compile unless `A` and `B` are the same type.
pub const fn same_resource<A: SameResource<B>, B>() {}
