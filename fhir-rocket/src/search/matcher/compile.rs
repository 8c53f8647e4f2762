//! A [`Query`] to a [`Matcher`]: each parameter found among the type's definitions, its
//! values parsed with the types of `fhir_rocket::search`, chains and `_has` compiled into
//! matchers of their own.

use super::test::Component;
use super::{Clause, Has, Matcher, Test};
use crate::search::escape::split_unescaped;
use crate::search::{
    DateParam, HasParam, NumberParam, OrList, QuantityParam, Query, QueryParam, ReferenceParam,
    SearchError, SearchValue, StringParam, TokenParam, UriParam,
};
use fhir_model::fhirpath::extract::Compiled;
use fhir_model::{FhirVersion, SearchParamKind, SearchParameter};
use std::sync::OnceLock;

type ByType = &'static [(&'static str, &'static [SearchParameter])];

pub(super) fn params_of(
    by_type: ByType,
    resource_type: &str,
) -> Option<&'static [SearchParameter]> {
    by_type
        .binary_search_by(|(t, _)| (*t).cmp(resource_type))
        .ok()
        .map(|i| by_type[i].1)
}

pub(super) fn matcher(
    version: FhirVersion,
    by_type: ByType,
    resource_type: &str,
    query: &Query,
) -> Result<Matcher, SearchError> {
    let table = fhir_model::fhirpath::table(version)
        .ok_or_else(|| SearchError::new(format!("FHIR {} is not built in", version.number())))?;
    let params = params_of(by_type, resource_type)
        .ok_or_else(|| SearchError::new(format!("'{resource_type}' is not a resource type")))?;
    let mut clauses = Vec::new();
    for qp in query {
        // An empty value is no test, as FromSearchParam ignores it.
        if qp.value.is_empty() {
            continue;
        }
        clauses.push(clause(version, by_type, resource_type, params, qp)?);
    }
    Ok(Matcher {
        version,
        table,
        resource_type: resource_type.to_string(),
        clauses,
    })
}

/// The search parameter `code` of a type.
pub(super) fn find(
    params: &'static [SearchParameter],
    code: &str,
) -> Option<&'static SearchParameter> {
    params.iter().find(|p| p.code == code)
}

pub(super) fn compiled(
    param: &'static SearchParameter,
    version: FhirVersion,
    resource_type: &str,
    name: &str,
) -> Result<Compiled, SearchError> {
    super::compile_param(param, version, resource_type)
        .map_err(|e| SearchError::for_param(name, format!("cannot be evaluated in memory: {e}")))
}

fn missing<T: SearchValue>(list: &[T]) -> Option<bool> {
    list.first().and_then(SearchValue::missing)
}

fn clause(
    version: FhirVersion,
    by_type: ByType,
    resource_type: &str,
    params: &'static [SearchParameter],
    qp: &QueryParam,
) -> Result<Clause, SearchError> {
    let name = qp.name.as_str();
    let err = |m: String| SearchError::for_param(name, m);
    let modifier = qp.modifier.as_deref();
    let value = qp.value.as_str();
    if name == "_has" {
        return has_clause(version, by_type, resource_type, qp);
    }
    let param = find(params, name)
        .ok_or_else(|| err(format!("is not a search parameter of {resource_type}")))?;
    if param.kind == SearchParamKind::Special {
        return Err(err(format!(
            "is a special parameter ({}), which the in-memory matcher does not evaluate",
            param.description.lines().next().unwrap_or_default()
        )));
    }
    let compiled = compiled(param, version, resource_type, name)?;
    let test = match param.kind {
        SearchParamKind::Token => {
            let list = OrList::<TokenParam>::parse(modifier, value)
                .map_err(err)?
                .into_inner();
            match (missing(&list), modifier) {
                (Some(m), _) => Test::Missing(m),
                (None, Some("not")) => Test::NotToken(list),
                (None, Some(m @ ("above" | "below" | "in" | "not-in"))) => {
                    return Err(err(format!(
                        "the modifier ':{m}' needs a terminology server, which the in-memory matcher does not have"
                    )))
                }
                _ => Test::Token(list),
            }
        }
        SearchParamKind::String => {
            let list = OrList::<StringParam>::parse(modifier, value)
                .map_err(err)?
                .into_inner();
            missing(&list).map_or(Test::String(list), Test::Missing)
        }
        SearchParamKind::Date => {
            let list = OrList::<DateParam>::parse(modifier, value)
                .map_err(err)?
                .into_inner();
            missing(&list).map_or(Test::Date(list), Test::Missing)
        }
        SearchParamKind::Number => {
            let list = OrList::<NumberParam>::parse(modifier, value)
                .map_err(err)?
                .into_inner();
            missing(&list).map_or(Test::Number(list), Test::Missing)
        }
        SearchParamKind::Quantity => {
            let list = OrList::<QuantityParam>::parse(modifier, value)
                .map_err(err)?
                .into_inner();
            missing(&list).map_or(Test::Quantity(list), Test::Missing)
        }
        SearchParamKind::Uri => {
            let list = OrList::<UriParam>::parse(modifier, value)
                .map_err(err)?
                .into_inner();
            missing(&list).map_or(Test::Uri(list), Test::Missing)
        }
        SearchParamKind::Reference => {
            let list = OrList::<ReferenceParam>::parse(modifier, value)
                .map_err(err)?
                .into_inner();
            if let Some(m) = missing(&list) {
                Test::Missing(m)
            } else if list.first().is_some_and(|r| r.chain.is_some()) {
                Test::Chain(chain(version, by_type, param, name, &list)?)
            } else {
                Test::Reference(list)
            }
        }
        SearchParamKind::Composite => composite(param, name, modifier, value)?,
        SearchParamKind::Special => unreachable!("refused above"),
    };
    Ok(Clause {
        name: name.to_string(),
        param: Some(compiled),
        test,
    })
}

/// `subject.name=x`: a matcher of `name=x` for each type the reference may point to (the
/// type modifier's, or the parameter's targets that have that parameter).
fn chain(
    version: FhirVersion,
    by_type: ByType,
    param: &'static SearchParameter,
    name: &str,
    list: &[ReferenceParam],
) -> Result<Vec<(&'static str, Matcher)>, SearchError> {
    let mut targets = Vec::new();
    for r in list {
        let (Some(chain), Some(value)) = (&r.chain, &r.chain_value) else {
            return Err(SearchError::for_param(
                name,
                "mixes a chain with plain references",
            ));
        };
        let types: Vec<&'static str> = match &r.resource_type {
            Some(t) => {
                let (t, _) = by_type.iter().find(|(n, _)| n == t).ok_or_else(|| {
                    SearchError::for_param(name, format!("'{t}' is not a resource type"))
                })?;
                vec![*t]
            }
            None => param
                .targets
                .iter()
                .filter_map(|t| by_type.iter().find(|(n, _)| n == t).map(|(n, _)| *n))
                .collect(),
        };
        let first = chain.split(['.', ':']).next().unwrap_or_default();
        let sub: Query = std::iter::once(QueryParam::new(chain, value.clone())?).collect();
        let before = targets.len();
        for ty in types {
            // Only the target types that have the chained parameter.
            let has_param = params_of(by_type, ty).is_some_and(|ps| find(ps, first).is_some());
            if has_param {
                targets.push((ty, matcher(version, by_type, ty, &sub)?));
            }
        }
        if targets.len() == before {
            return Err(SearchError::for_param(
                name,
                format!("no resource type it may refer to has a search parameter '{first}'"),
            ));
        }
    }
    Ok(targets)
}

/// `_has:Observation:patient:code=x`.
fn has_clause(
    version: FhirVersion,
    by_type: ByType,
    resource_type: &str,
    qp: &QueryParam,
) -> Result<Clause, SearchError> {
    let err = |m: String| SearchError::for_param("_has", m);
    let has = HasParam::parse(qp.modifier.as_deref(), &qp.value).map_err(err)?;
    let source_params = params_of(by_type, &has.target_type)
        .ok_or_else(|| err(format!("'{}' is not a resource type", has.target_type)))?;
    let reference = find(source_params, &has.reference_param)
        .filter(|p| p.kind == SearchParamKind::Reference)
        .ok_or_else(|| {
            err(format!(
                "'{}' is not a reference parameter of {}",
                has.reference_param, has.target_type
            ))
        })?;
    if !reference.targets.is_empty() && !reference.targets.contains(&resource_type) {
        return Err(err(format!(
            "{}:{} does not refer to {resource_type}",
            has.target_type, has.reference_param
        )));
    }
    let sub: Query =
        std::iter::once(QueryParam::new(&has.search_param, has.value.clone())?).collect();
    let matcher = matcher(version, by_type, &has.target_type, &sub)?;
    Ok(Clause {
        name: "_has".into(),
        param: None,
        test: Test::Has(Box::new(Has {
            source_type: has.target_type.clone(),
            reference: compiled(reference, version, &has.target_type, "_has")?,
            matcher,
            targets: OnceLock::new(),
        })),
    })
}

/// `code-value-quantity=http://loinc.org|8480-6$gt100`: each OR value split on `$` into one
/// value per component, parsed with the component's type.
fn composite(
    param: &'static SearchParameter,
    name: &str,
    modifier: Option<&str>,
    value: &str,
) -> Result<Test, SearchError> {
    let err = |m: String| SearchError::for_param(name, m);
    match modifier {
        None => {}
        Some("missing") => {
            return crate::search::parse_missing(value)
                .map(Test::Missing)
                .map_err(err)
        }
        Some(m) => return Err(err(crate::search::unsupported_modifier(m, "composite"))),
    }
    let mut alternatives = Vec::new();
    for alternative in split_unescaped(value, ',') {
        let parts = split_unescaped(alternative, '$');
        if parts.len() != param.components.len() {
            return Err(err(format!(
                "'{alternative}' has {} parts separated by '$', and the parameter has {} components",
                parts.len(),
                param.components.len()
            )));
        }
        let mut tests = Vec::new();
        for (part, component) in parts.iter().zip(param.components) {
            let parsed = match component.kind {
                SearchParamKind::Token => TokenParam::parse(None, part).map(Component::Token),
                SearchParamKind::String => StringParam::parse(None, part).map(Component::String),
                SearchParamKind::Date => DateParam::parse(None, part).map(Component::Date),
                SearchParamKind::Number => NumberParam::parse(None, part).map(Component::Number),
                SearchParamKind::Quantity => {
                    QuantityParam::parse(None, part).map(Component::Quantity)
                }
                SearchParamKind::Reference => {
                    ReferenceParam::parse(None, part).map(Component::Reference)
                }
                SearchParamKind::Uri => UriParam::parse(None, part).map(Component::Uri),
                other => Err(format!("a component of type {other} cannot be evaluated")),
            };
            tests.push(parsed.map_err(|e| err(format!("in '{alternative}': {e}")))?);
        }
        alternatives.push(tests);
    }
    Ok(Test::Composite(alternatives))
}
