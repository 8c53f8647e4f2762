//! One clause's values against the parameter's values in a resource: the semantics of each
//! type, modifier and prefix.

use super::Test;
use crate::search::{
    DateParam, NumberParam, Prefix, QuantityParam, ReferenceParam, StringParam, Timestamp,
    TokenModifier, TokenParam, TokenSystem, UriParam,
};
use fhir_model::fhirpath::extract::{IndexValue, QuantityValue, ReferenceValue, Token};

/// One component's value of a composite.
#[derive(Debug)]
pub(super) enum Component {
    Token(TokenParam),
    String(StringParam),
    Date(DateParam),
    Number(NumberParam),
    Quantity(QuantityParam),
    Reference(ReferenceParam),
    Uri(UriParam),
}

/// Whether the values satisfy the clause (any value matching any OR item, except `:not`).
pub(super) fn matches(test: &Test, values: &[IndexValue<'_>]) -> bool {
    match test {
        Test::Token(list) => values.iter().any(|v| list.iter().any(|p| token(p, v))),
        Test::NotToken(list) => !values.iter().any(|v| list.iter().any(|p| token(p, v))),
        Test::String(list) => values.iter().any(|v| list.iter().any(|p| string(p, v))),
        Test::Date(list) => values.iter().any(|v| list.iter().any(|p| date(p, v))),
        Test::Number(list) => values.iter().any(|v| list.iter().any(|p| number(p, v))),
        Test::Quantity(list) => values.iter().any(|v| list.iter().any(|p| quantity(p, v))),
        Test::Reference(list) => values.iter().any(|v| list.iter().any(|p| reference(p, v))),
        Test::Uri(list) => values.iter().any(|v| list.iter().any(|p| uri(p, v))),
        Test::Composite(alternatives) => values.iter().any(|v| {
            let IndexValue::Composite(parts) = v else {
                return false;
            };
            alternatives.iter().any(|tests| {
                tests.len() == parts.len()
                    && tests
                        .iter()
                        .zip(parts)
                        .all(|(t, values)| values.iter().any(|v| component(t, v)))
            })
        }),
        Test::Missing(_) | Test::Chain(_) | Test::Has(_) => {
            unreachable!("tested by the matcher")
        }
    }
}

fn component(test: &Component, v: &IndexValue<'_>) -> bool {
    match test {
        Component::Token(p) => token(p, v),
        Component::String(p) => string(p, v),
        Component::Date(p) => date(p, v),
        Component::Number(p) => number(p, v),
        Component::Quantity(p) => quantity(p, v),
        Component::Reference(p) => reference(p, v),
        Component::Uri(p) => uri(p, v),
    }
}

fn token(p: &TokenParam, v: &IndexValue<'_>) -> bool {
    match v {
        IndexValue::Token(t) => token_value(p, t),
        _ => false,
    }
}

/// A token search value against one token of the resource. `:not` tests as the plain value
/// (the clause negates the whole); `:text` is a string search of the token's text.
pub(super) fn token_value(p: &TokenParam, t: &Token<'_>) -> bool {
    match p.modifier {
        TokenModifier::Text => {
            let text = p.code.as_deref().unwrap_or_default();
            let search = StringParam {
                value: text.to_string(),
                ..StringParam::default()
            };
            t.text.is_some_and(|s| search.matches(s))
        }
        TokenModifier::OfType => {
            let type_system = match &p.system {
                TokenSystem::Exactly(s) => Some(s.as_str()),
                _ => None,
            };
            t.of_type
                .iter()
                .any(|(s, c)| *s == type_system && Some(*c) == p.code.as_deref())
                && t.code.as_deref() == p.of_type_value.as_deref()
        }
        _ => {
            let Some(code) = t.code.as_deref() else {
                return false;
            };
            let system_ok = match &p.system {
                TokenSystem::Any => true,
                TokenSystem::NoSystem => t.system.is_none(),
                TokenSystem::Exactly(s) => t.system == Some(s.as_str()),
            };
            system_ok && p.code.as_deref().is_none_or(|c| c == code)
        }
    }
}

fn string(p: &StringParam, v: &IndexValue<'_>) -> bool {
    match v {
        IndexValue::String(s) => p.matches(s.text),
        _ => false,
    }
}

fn date(p: &DateParam, v: &IndexValue<'_>) -> bool {
    match v {
        IndexValue::Date(d) => p.matches_range(d.low.map(Timestamp), d.high.map(Timestamp)),
        _ => false,
    }
}

fn number(p: &NumberParam, v: &IndexValue<'_>) -> bool {
    match v {
        IndexValue::Number(n) => p.matches(n.value),
        _ => false,
    }
}

fn quantity(p: &QuantityParam, v: &IndexValue<'_>) -> bool {
    let IndexValue::Quantity(q) = v else {
        return false;
    };
    quantity_units(p, q) && quantity_value(p, q)
}

/// `system|code`, or `||code`, which matches the code or, without a system, the unit.
fn quantity_units(p: &QuantityParam, q: &QuantityValue<'_>) -> bool {
    let system_ok = p.system.as_deref().is_none_or(|s| q.system == Some(s));
    let code_ok = p
        .code
        .as_deref()
        .is_none_or(|c| q.code == Some(c) || (p.system.is_none() && q.unit == Some(c)));
    system_ok && code_ok
}

/// A value, or a range of values (`Range`: low and high, either may be open), against the
/// prefix and the implicit range of the search value.
fn quantity_value(p: &QuantityParam, q: &QuantityValue<'_>) -> bool {
    match (q.low, q.high) {
        (Some(l), Some(h)) if l == h => p.matches(l),
        (None, None) => false,
        (low, high) => {
            let (lo, hi) = (
                low.unwrap_or(f64::NEG_INFINITY),
                high.unwrap_or(f64::INFINITY),
            );
            let (s, e) = p.range;
            let overlaps = lo < e && hi >= s;
            let within = s <= lo && hi < e;
            match p.prefix {
                Prefix::Eq => within,
                Prefix::Ne => !within,
                Prefix::Gt => hi > p.number,
                Prefix::Ge => hi >= p.number,
                Prefix::Lt => lo < p.number,
                Prefix::Le => lo <= p.number,
                Prefix::Sa => lo > p.number,
                Prefix::Eb => hi < p.number,
                Prefix::Ap => {
                    let margin = (p.number * 0.1).abs();
                    overlaps || (lo < e + margin && hi >= s - margin)
                }
            }
        }
    }
}

fn reference(p: &ReferenceParam, v: &IndexValue<'_>) -> bool {
    match v {
        IndexValue::Reference(r) => reference_value(p, r),
        _ => false,
    }
}

/// A reference search value: `Type/id` or `id` against a reference to this server (a
/// relative one), an absolute URL (with a canonical's `|version`) against the same text,
/// `:identifier` against `Reference.identifier`.
fn reference_value(p: &ReferenceParam, r: &ReferenceValue<'_>) -> bool {
    if let Some(identifier) = &p.identifier {
        return r
            .identifier
            .as_ref()
            .is_some_and(|t| token_value(identifier, t));
    }
    let Some(text) = r.reference.as_deref() else {
        return false;
    };
    if let Some(url) = &p.url {
        let (value_url, value_version) = match text.split_once('|') {
            Some((u, v)) => (u, Some(v)),
            None => (text, None),
        };
        if text == url {
            return true;
        }
        return value_url == url
            && p.version
                .as_deref()
                .is_none_or(|v| value_version == Some(v));
    }
    let Some(id) = p.id.as_deref() else {
        return false;
    };
    // An absolute reference points to another server; `#id` to a contained resource.
    if text.contains("://") || text.starts_with("urn:") || text.starts_with('#') {
        return false;
    }
    let type_ok = p
        .resource_type
        .as_deref()
        .is_none_or(|t| r.resource_type == Some(t));
    let version_ok = p
        .version
        .as_deref()
        .is_none_or(|v| text.ends_with(&format!("/_history/{v}")));
    r.id == Some(id) && type_ok && version_ok
}

fn uri(p: &UriParam, v: &IndexValue<'_>) -> bool {
    match v {
        IndexValue::Uri(s) => p.matches(s),
        IndexValue::Reference(r) => r.reference.as_deref().is_some_and(|s| p.matches(s)),
        _ => false,
    }
}
