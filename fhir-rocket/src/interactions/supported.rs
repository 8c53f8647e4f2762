//! What a search provider evaluates, against what a query asks. A modifier, chain or result
//! parameter the provider does not declare is never handed over to be ignored (a 200 with
//! wrong data): it is refused with a 400 naming it, or, when the client asks for
//! `Prefer: handling=lenient`, left out of the search and of its `self` link with a warning.

use crate::provider::{DeclaredParam, Provider};
use crate::search::reference::is_resource_type;
use crate::search::{Query, QueryParam};
use fhir_model::SearchParamKind;

/// Result parameters the kit applies itself whatever the provider: paging, format, the total
/// (`_total`: exact, estimated by a paged result, or left out), the subsets (`_summary`, `_elements`, unless the provider applies
/// them) and the includes (checked against the provider's declaration apart).
const APPLIED_BY_THE_KIT: &[&str] = &[
    "_count",
    "_offset",
    "_format",
    "_pretty",
    "_total",
    "_summary",
    "_elements",
    "_include",
    "_revinclude",
];

/// Result parameters nothing here applies yet.
const NOT_APPLIED: &[&str] = &["_contained", "_containedType", "_page", "_maxresults"];

/// For the searches that take the result parameters out before choosing providers (of
/// several types, of a compartment): a 400 naming the result parameters nothing applies.
pub(crate) fn refuse_unapplied(query: &Query) -> Result<(), crate::error::FhirError> {
    let refused: std::collections::BTreeSet<&str> = query
        .params()
        .iter()
        // Empty values are no request (as the result parameters' parser has it).
        .filter(|p| !p.value.is_empty())
        .map(|p| p.name.as_str())
        .filter(|name| NOT_APPLIED.contains(name))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(crate::error::FhirError::bad_request(format!(
        "{} not applied by this server",
        refused.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

/// One parameter of the query that the search would not evaluate, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported {
    /// The parameter as the query gave it.
    pub(crate) param: QueryParam,
    /// What the provider does not evaluate, in words.
    pub(crate) reason: String,
}

/// The parameters of `query` (search and result parameters, before the result parameters are
/// taken out) that `provider` does not evaluate. A parameter name the provider does not take
/// at all is reported too.
pub(crate) fn unsupported<R>(provider: &Provider<R>, query: &Query) -> Vec<Unsupported> {
    let mut found = Vec::new();
    for param in query.params() {
        if provider.checks_query {
            // The provider refuses what it does not evaluate; only what nothing applies
            // is refused here.
            if NOT_APPLIED.contains(&param.name.as_str()) && !param.value.is_empty() {
                found.push(Unsupported {
                    param: param.clone(),
                    reason: format!("{} is not applied by this server", param.name),
                });
            }
            continue;
        }
        let including = param.name == "_include" || param.name == "_revinclude";
        let reason = if including && param.modifier.is_some() {
            // The includes a search declares are one step from its matches.
            Some(format!(
                "this search does not iterate its includes: {}:{} would be applied once",
                param.name,
                param.modifier.as_deref().unwrap_or_default()
            ))
        } else if APPLIED_BY_THE_KIT.contains(&param.name.as_str()) {
            None
        } else if NOT_APPLIED.contains(&param.name.as_str()) {
            Some(format!("{} is not applied by this server", param.name))
        } else if param.name == "_sort" {
            unsupported_sort(provider, &param.value)
        } else {
            match provider.params.iter().find(|d| d.name == param.name) {
                None => Some(format!(
                    "this search of {} does not take the parameter {}",
                    provider_type(provider),
                    param.name
                )),
                Some(declared) => param
                    .modifier
                    .as_deref()
                    .and_then(|modifier| unsupported_modifier(declared, modifier)),
            }
        };
        if let Some(reason) = reason {
            found.push(Unsupported {
                param: param.clone(),
                reason,
            });
        }
    }
    found
}

fn provider_type<R>(provider: &Provider<R>) -> &'static str {
    match provider.scope {
        crate::provider::Scope::Type(name) => name,
        _ => "this type",
    }
}

/// Every `_sort` key must be one the provider declared it sorts by.
fn unsupported_sort<R>(provider: &Provider<R>, value: &str) -> Option<String> {
    let refused: Vec<&str> = value
        .split(',')
        .map(|key| key.trim_start_matches('-'))
        .filter(|key| !key.is_empty() && !provider.sorts.contains(key))
        .collect();
    if refused.is_empty() {
        return None;
    }
    Some(if provider.sorts.is_empty() {
        format!(
            "this search of {} does not sort: _sort by {} would be ignored",
            provider_type(provider),
            refused.join(", ")
        )
    } else {
        format!(
            "this search of {} sorts by {} only, not by {}",
            provider_type(provider),
            provider.sorts.join(", "),
            refused.join(", ")
        )
    })
}

/// A modifier (`:exact`), a chain (`.name`, `:Patient.name`) or a type (`:Patient`) on a
/// parameter: supported when declared, or, for a reference's type, always (it is part of the
/// value the provider compares: `subject:Patient=1` is `subject=Patient/1`).
fn unsupported_modifier(declared: &DeclaredParam, modifier: &str) -> Option<String> {
    let name = declared.name;
    // `_has:Type:reference:parameter`: the reverse chain is the parameter's own form.
    if name == "_has" {
        return None;
    }
    if let Some(chain) = chain_of(modifier) {
        let (target, rest) = match chain.split_once('.') {
            Some((t, rest)) if is_resource_type(t) => (Some(t), rest),
            _ => (None, chain),
        };
        let covered = declared
            .chains
            .iter()
            .any(|d| *d == chain || (target.is_some() && *d == rest && !rest.contains('.')));
        return (!covered).then(|| {
            if declared.chains.is_empty() {
                format!("this search does not follow chains from {name}: {name}{modifier} would be ignored")
            } else {
                format!(
                    "this search follows {name} to {} only, not {chain}",
                    declared.chains.join(", ")
                )
            }
        });
    }
    if declared.kind == SearchParamKind::Reference && is_resource_type(modifier) {
        return None;
    }

    if declared.modifiers.contains(&modifier) {
        return None;
    }
    Some(if declared.modifiers.is_empty() {
        format!(
            "this search does not evaluate modifiers on {name}: {name}:{modifier} would be ignored"
        )
    } else {
        format!(
            "this search evaluates {name} with the modifiers {} only, not :{modifier}",
            declared
                .modifiers
                .iter()
                .map(|m| format!(":{m}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The chain of a modifier: `.name` is `name`, `Patient.name` is `Patient.name`; `None` for a
/// plain modifier.
fn chain_of(modifier: &str) -> Option<&str> {
    if let Some(chain) = modifier.strip_prefix('.') {
        return Some(chain);
    }
    modifier.contains('.').then_some(modifier)
}

/// Whether the request asks for `Prefer: handling=lenient`.
pub(crate) fn lenient(prefer: Option<&str>) -> bool {
    prefer.is_some_and(|value| {
        value
            .split([',', ';'])
            .map(|part| part.trim().replace(' ', ""))
            .any(|part| part.eq_ignore_ascii_case("handling=lenient"))
    })
}

/// The 400 for the unsupported parameters of a strict search: every one, each with why.
pub(crate) fn refusal(unsupported: &[Unsupported]) -> crate::error::FhirError {
    let listed: Vec<String> = unsupported
        .iter()
        .map(|u| format!("{}: {}", name_of(&u.param), u.reason))
        .collect();
    crate::error::FhirError::bad_request(format!(
        "{} (Prefer: handling=lenient leaves such parameters out, with a warning)",
        listed.join("; ")
    ))
}

/// `name[:modifier]` as the query wrote it.
pub(crate) fn name_of(param: &QueryParam) -> String {
    match param.modifier.as_deref() {
        Some(m) if m.starts_with('.') => format!("{}{m}", param.name),
        Some(m) => format!("{}:{m}", param.name),
        None => param.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Handler, Interaction, Scope};
    use crate::search::parse_query;

    fn provider(params: Vec<DeclaredParam>, sorts: &'static [&'static str]) -> Provider<()> {
        fn never<'r>(
            _: &'r rocket::Request<'_>,
            _: crate::provider::Input<()>,
        ) -> crate::provider::Glue<'r, crate::provider::Found<()>> {
            unreachable!("not called")
        }
        Provider {
            interaction: Interaction::Search,
            scope: Scope::Type("Observation"),
            params,
            name: "search",
            operation: None,
            roles: &[],
            includes: &[],
            revincludes: &[],
            sorts,
            subsets: false,
            checks_query: false,
            handler: Handler::Search(never),
        }
    }

    fn param(
        name: &'static str,
        kind: SearchParamKind,
        modifiers: &'static [&'static str],
        chains: &'static [&'static str],
    ) -> DeclaredParam {
        DeclaredParam {
            name,
            kind,
            required: false,
            definition: "",
            documentation: "",
            modifiers,
            chains,
        }
    }

    fn refused(provider: &Provider<()>, query: &str) -> Vec<String> {
        unsupported(provider, &parse_query(query).unwrap())
            .into_iter()
            .map(|u| name_of(&u.param))
            .collect()
    }

    #[test]
    fn only_what_the_provider_declares_is_evaluated() {
        let p = provider(
            vec![
                param("code", SearchParamKind::Token, &["not"], &[]),
                param(
                    "subject",
                    SearchParamKind::Reference,
                    &[],
                    &["name", "Group.identifier"],
                ),
                param("date", SearchParamKind::Date, &[], &[]),
            ],
            &["date"],
        );
        assert!(refused(&p, "code=a&code:not=b&date=ge2020&_count=5&_sort=-date").is_empty());
        assert_eq!(
            refused(&p, "code:text=x&date:missing=true"),
            ["code:text", "date:missing"]
        );
        // A reference's type is part of its value.
        assert!(refused(&p, "subject:Patient=1").is_empty());
        // Chains: declared untyped covers every target; typed only that one.
        assert!(refused(
            &p,
            "subject.name=x&subject:Patient.name=y&subject:Group.identifier=z"
        )
        .is_empty());
        assert_eq!(
            refused(&p, "subject.identifier=z&subject.name.family=q&code.x=1"),
            ["subject.identifier", "subject.name.family", "code.x"]
        );
        assert_eq!(
            refused(
                &p,
                "_sort=code&_summary=count&_elements=code&_total=accurate&_contained=true"
            ),
            ["_sort", "_contained"]
        );
        assert_eq!(refused(&p, "performer=x"), ["performer"]);
        assert_eq!(
            refused(
                &p,
                "_include=Observation:subject&_include:iterate=Patient:link"
            ),
            ["_include:iterate"]
        );
    }

    #[test]
    fn messages_name_what_is_supported() {
        let p = provider(
            vec![param("code", SearchParamKind::Token, &["not"], &[])],
            &[],
        );
        let error = refusal(&unsupported(
            &p,
            &parse_query("code:text=x&_sort=code").unwrap(),
        ));
        let message = error.message();
        assert!(
            message.contains(
                "code:text: this search evaluates code with the modifiers :not only, not :text"
            ),
            "{message}"
        );
        assert!(
            message.contains("_sort: this search of Observation does not sort"),
            "{message}"
        );
    }

    #[test]
    fn prefer_handling() {
        assert!(lenient(Some("handling=lenient")));
        assert!(lenient(Some("return=minimal, handling = lenient")));
        assert!(!lenient(Some("handling=strict")));
        assert!(!lenient(None));
    }
}
