//! Typed parsing of FHIR REST search parameters (FHIR R4/R5 `search.html`).
//!
//! The pipeline is:
//!
//! 1. [`parse_query`] decodes an `application/x-www-form-urlencoded` query
//!    string into a [`Query`]: an ordered list of [`QueryParam`]s (name,
//!    modifier, percent-decoded but still FHIR-escaped value).
//! 2. [`Query::take_result_params`] removes the result parameters (`_count`,
//!    `_sort`, `_include`, ...) into a typed [`ResultParams`].
//! 3. [`Query::extract`] (through [`FromSearchParam`]) turns every occurrence
//!    of one parameter into a typed value: a single [`SearchValue`], an
//!    `Option` of one, an [`OrList`] (commas), an [`AndList`] (repetitions), or
//!    a [`DateRange`].
//!
//! ```
//! use fhir_rocket::search::{parse_query, AndList, DateRange, Prefix, TokenParam};
//!
//! let mut q = parse_query("code=http://loinc.org|1234-5,8867-4&date=ge2020-01-01&date=lt2021&_count=10&_sort=-date").unwrap();
//! let result = q.take_result_params().unwrap();
//! assert_eq!(result.count, Some(10));
//! assert!(result.sort[0].descending);
//!
//! let codes: AndList<TokenParam> = q.extract("code").unwrap();
//! assert_eq!(codes[0].len(), 2);
//! let period: DateRange = q.extract("date").unwrap();
//! assert_eq!(period.lower.unwrap().prefix, Prefix::Ge);
//! ```
//!
//! # Design choices
//!
//! * **Escaping.** Values stay FHIR-escaped until the typed parser has split
//!   them (OR lists on `,`, tokens and quantities on `|`, composites on `$`);
//!   each final part is then unescaped. Only `\,` `\|` `\$` `\\` exist: a lone
//!   trailing `\` or any other `\x` is an error (see [`escape`]).
//! * **`:missing`.** Every value type accepts `:missing=true|false` and records
//!   it in a `missing: Option<bool>` field (also available generically through
//!   [`SearchValue::missing`]). When it is `Some`, the other fields hold neutral
//!   defaults (empty strings, `None`) documented on each type. The matching
//!   helpers (`matches`, `matches_range`) are about a *present* element, so they
//!   return `true` for `:missing=false` and `false` for `:missing=true`.
//!   [`HasParam`] and composite parameters follow the same convention (a
//!   composite passes `:missing` to both components).
//! * **Chains.** [`QueryParam::name`] is the parameter name up to the first `:`
//!   or `.`; everything after it goes to [`QueryParam::modifier`], without a
//!   leading `:` but *with* a leading `.` for a chain. So `subject.name=x` gives
//!   name `subject` and modifier `.name`; `subject:Patient.name=x` gives name
//!   `subject` and modifier `Patient.name`. [`ReferenceParam`] turns these
//!   into `chain = "name"` (and `resource_type = "Patient"`).
//!   `_has:Observation:patient:code=x` gives name `_has` and modifier
//!   `Observation:patient:code` ([`HasParam`]).
//! * **Time zones.** Dates without a zone are taken as UTC (see [`date`]).
//! * **Common parameters.** `_id` is [`IdParam`] (`OrList<IdParam>` for
//!   `_id=a,b`), `_lastUpdated` is a [`DateParam`] (or a [`DateRange`]), `_has`
//!   is [`HasParam`], `_tag`/`_security` are [`TokenParam`]s, `_profile` is a
//!   [`UriParam`], and `_text`/`_content`/`near` are [`SpecialParam`]s.
//! * **Empty values.** `name=` is kept in the [`Query`] but ignored by
//!   [`FromSearchParam`]; a typed parser given an empty value errors.

pub mod composite;
pub mod date;
pub mod error;
pub mod escape;
pub mod lists;
pub mod matcher;
pub mod number;
pub mod prefix;
pub mod query;
pub mod reference;
pub mod string;
pub mod token;
pub mod uri;

#[cfg(test)]
mod tests;

pub use composite::CompositeParam;
pub use date::{DateParam, DatePrecision, DateRange, Timestamp};
pub use error::SearchError;
pub use lists::{AndList, FromSearchParam, Occurrence, OrList};
pub use number::{NumberParam, QuantityParam};
pub use prefix::Prefix;
pub use query::{
    parse_query, Include, Query, QueryParam, ResultParams, SortKey, SummaryMode, TotalMode,
};
pub use reference::{HasParam, ReferenceParam};
pub use string::StringParam;
pub use token::{IdParam, TokenModifier, TokenParam, TokenSystem};
pub use uri::{SpecialParam, UriModifier, UriParam};

/// The FHIR search parameter types (`SearchParameter.type`): the model's own
/// [`SearchParamKind`](fhir_model::SearchParamKind), so that there is one list of them.
///
/// ```
/// use fhir_rocket::search::ParamType;
///
/// assert_eq!(ParamType::from_code("token"), Some(ParamType::Token));
/// ```
pub type ParamType = fhir_model::SearchParamKind;

/// A typed search value: one item of an OR list, parsed with the parameter's
/// modifier.
///
/// `value` is one OR item, percent-decoded but still FHIR-escaped (the
/// implementation splits it further and unescapes the parts). Unknown or
/// inapplicable modifiers are errors; every implementation accepts
/// `:missing=true|false`. Error strings do not name the parameter:
/// [`FromSearchParam`] adds that.
pub trait SearchValue: Sized {
    /// The FHIR search parameter type this value belongs to.
    const TYPE: ParamType;

    /// Parses one value given the modifier (without `:`), if any.
    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String>;

    /// `Some(b)` if this is a `:missing=b` test, `None` for an ordinary value.
    fn missing(&self) -> Option<bool>;
}

/// Parses the value of a `:missing` modifier.
pub(crate) fn parse_missing(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("':missing' takes 'true' or 'false', not '{other}'")),
    }
}

/// The error for a modifier the parameter type does not support.
pub(crate) fn unsupported_modifier(modifier: &str, type_name: &str) -> String {
    format!("modifier ':{modifier}' is not supported on {type_name} parameters")
}

/// The error for an empty value.
pub(crate) fn empty_value() -> String {
    "the value is empty".to_string()
}
