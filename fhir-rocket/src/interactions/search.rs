//! Searches: of a type, of the whole server (`_type`), and the search behind conditional
//! interactions. The provider whose parameters cover the query is chosen; links are written
//! from the parsed query.

use super::supported::{self, Unsupported};
use super::{call_search, Answer, Engine};
use crate::context::RequestContext;
use crate::error::{FhirError, Issue};
use crate::http::{Format, ReportedTotal};
use crate::provider::{Found, Input, Interaction, Provider};
use crate::registry::find_in;
use crate::route::SearchScope;
use crate::search::{Query, ResultParams, TotalMode};
use crate::version_model::ServerModel;
use rocket::Request;

impl<R: ServerModel> Engine<R> {
    pub(super) async fn search(
        &self,
        req: &Request<'_>,
        scope: SearchScope,
        query: Query,
        context: RequestContext,
        format: Format,
    ) -> Result<Answer<R>, FhirError> {
        let base_url = context.base_url.clone();
        let lenient = supported::lenient(req.headers().get_one("Prefer"));
        // The links repeat the query as it was applied, without the paging they set
        // themselves; only a lenient search may leave parameters out, so only it keeps the
        // query to write them again.
        let mut link_query = query.to_url_query_without(&["_count", "_offset"]);
        let original = lenient.then(|| query.clone());
        // The one type of the results, against which `_elements` is checked.
        let one_type = match &scope {
            SearchScope::Type(t) => Some(t.clone()),
            SearchScope::Compartment { resource_type, .. } => resource_type.clone(),
            SearchScope::System => None,
        };
        let (path, searched) = match scope {
            SearchScope::Type(resource_type) => {
                let searched = self
                    .run_search(req, &resource_type, query, context, lenient)
                    .await?;
                (resource_type, searched)
            }
            SearchScope::System => (
                String::new(),
                self.system_search(req, query, context, lenient).await?,
            ),
            SearchScope::Compartment {
                compartment,
                id,
                resource_type,
            } => {
                let path = format!(
                    "{compartment}/{id}/{}",
                    resource_type.as_deref().unwrap_or("*")
                );
                let searched = self
                    .compartment_search(
                        req,
                        (&compartment, &id),
                        resource_type,
                        query,
                        context,
                        lenient,
                    )
                    .await?;
                (path, searched)
            }
        };
        let mut searched = searched;
        let requested = crate::subset::requested::<R>(
            searched.result.summary,
            &searched.result.elements,
            one_type.as_deref(),
        )?;
        let offset = searched.result.offset.unwrap_or(0) as usize;
        let count_only = matches!(requested, crate::subset::Requested::Count);
        let count = match requested {
            // The total alone, as `_count=0` asks.
            crate::subset::Requested::Count => 0,
            _ => self.limits.page_size(searched.result.count),
        };
        let subset = requested.subset().filter(|_| !searched.subset_by_provider);
        let total_mode = searched.result.total;
        let mut reported = match total_mode {
            Some(TotalMode::None) => ReportedTotal::Omitted,
            _ => ReportedTotal::Exact,
        };
        // A paged result: its size, then only the page asked for; with `_total=none` or
        // `estimate`, the page and whether another follows, without counting every match.
        let total = match searched.found.paged.take() {
            Some(pages) => match total_mode {
                Some(TotalMode::None | TotalMode::Estimate) => {
                    let (mut page, more) = pages.page_without_size(offset, count as usize).await?;
                    page.truncate(count as usize);
                    let known = offset + page.len() + usize::from(more);
                    searched.found.includes =
                        page_includes(&*pages, &page, &searched.result).await?;
                    searched.found.matches = page;
                    if total_mode == Some(TotalMode::Estimate) {
                        reported = ReportedTotal::Estimate(pages.estimated_size().await?);
                    }
                    Some(known)
                }
                _ => {
                    // `_summary=count` (no page) asks for the count alone.
                    let (page, total) = match count > 0 {
                        true => pages.page_and_size(offset, count as usize).await?,
                        false => (Vec::new(), pages.size().await?),
                    };
                    searched.found.includes =
                        page_includes(&*pages, &page, &searched.result).await?;
                    searched.found.matches = page;
                    Some(total)
                }
            },
            None => None,
        };
        if !self.interceptors.is_empty() {
            let found = std::mem::replace(&mut searched.found, Found::empty());
            searched.found = Found {
                matches: self.interceptors.outgoing_all(req, found.matches),
                includes: self.interceptors.outgoing_all(req, found.includes),
                paged: None,
                candidates: None,
            };
        }
        if let (Some(mut applied), false) = (original, searched.left_out.is_empty()) {
            applied.retain(|p| !searched.left_out.iter().any(|u| &u.param == p));
            link_query = applied.to_url_query_without(&["_count", "_offset"]);
        }
        let mut warnings: Vec<Issue> = searched
            .left_out
            .iter()
            .map(|u| {
                Issue::warning(
                    "not-supported",
                    format!(
                        "{} was left out of the search: {}",
                        supported::name_of(&u.param),
                        u.reason
                    ),
                )
            })
            .collect();
        // The providers' own warnings go in the same entry; their headers and status to the
        // response.
        let mut extras = crate::extras::take_collected(req);
        warnings.append(&mut extras.warnings);
        crate::extras::collect(req, extras);
        if !count_only && searched.result.count.is_some_and(|asked| asked > count) {
            warnings.push(Issue::warning(
                "not-supported",
                format!(
                    "_count={} is more than this server pages: pages have {count} matches",
                    searched.result.count.unwrap_or_default()
                ),
            ));
        }
        let url = crate::http::BundleUrl {
            base_url: &base_url,
            path: &path,
            query: &link_query,
        };
        let paging = crate::http::PageRequest {
            count: Some(count),
            offset,
            total,
            reported,
        };
        // XML is written straight from the model, but for a subset (`_summary`,
        // `_elements`), or a resource XML cannot carry (answered 500 from the JSON).
        if format.xml && subset.is_none() {
            let written =
                crate::http::searchset_xml(url, &searched.found, paging, &warnings, format.pretty);
            if let Ok(body) = written {
                return Ok(Answer::Xml { status: 200, body });
            }
        }
        Ok(Answer::Json {
            status: 200,
            body: crate::http::searchset(
                url,
                &searched.found,
                paging,
                &warnings,
                subset,
                format.pretty_json(),
            ),
        })
    }

    /// `GET [base]?_type=A,B&...`: the search of each type named (or of every type with a
    /// search provider), merged. Every type searched must take every parameter given.
    async fn system_search(
        &self,
        req: &Request<'_>,
        mut query: Query,
        context: RequestContext,
        lenient: bool,
    ) -> Result<Searched<R>, FhirError> {
        let mut types: Vec<String> = Vec::new();
        for value in query.remove("_type") {
            for t in value.value.split(',').filter(|t| !t.is_empty()) {
                if !R::is_resource_type(t) {
                    return Err(FhirError::bad_request(format!(
                        "_type: '{t}' is not a resource type of FHIR {}",
                        R::VERSION.number()
                    )));
                }
                types.push(t.to_string());
            }
        }
        if types.is_empty() {
            types = self.searched_types().map(str::to_string).collect();
        }
        let mut query = query;
        supported::refuse_unapplied(&query)?;
        let result = query
            .take_result_params()
            .map_err(|e| FhirError::bad_request(e.to_string()))?;
        if !result.include.is_empty() || !result.revinclude.is_empty() || !result.sort.is_empty() {
            return Err(FhirError::bad_request(
                "a search of several types takes no _include, _revinclude or _sort here",
            ));
        }
        let mut all = Found::empty();
        let mut left_out = Vec::new();
        for t in &types {
            let providers = self.registry.of_type(t)?;
            let provider = choose(providers, t, &query)?;
            let query = applicable(provider, query.clone(), lenient, &mut left_out)?;
            let mut input = Input::new(context.clone(), t);
            input.query = query.clone();
            input.result = ResultParams::default();
            let mut found = call_search(req, provider, input).await?;
            if let Some(candidates) = found.candidates.take() {
                let none = ResultParams::default();
                filter_candidates(t, &query, &none, &context.base_url, candidates, &mut found)?;
            }
            all.matches.extend(every_match(found).await?);
        }
        Ok(Searched {
            found: all,
            result,
            left_out,
            subset_by_provider: false,
        })
    }

    /// `[Compartment]/[id]/[type]?...` and `[Compartment]/[id]/*`: for each type searched, the
    /// search of that type once per parameter that links it to the compartment (from the
    /// version's CompartmentDefinitions) with the compartment's owner as the parameter's
    /// value, merged. A search provider that does not take such a parameter makes it a 400:
    /// an answer without those resources would be wrong.
    async fn compartment_search(
        &self,
        req: &Request<'_>,
        (compartment, id): (&str, &str),
        resource_type: Option<String>,
        mut query: Query,
        context: RequestContext,
        lenient: bool,
    ) -> Result<Searched<R>, FhirError> {
        if !R::COMPARTMENTS.contains(&compartment) {
            return Err(FhirError::bad_request(format!(
                "{compartment} is not a compartment of FHIR {}; the compartments are {}",
                R::VERSION.number(),
                R::COMPARTMENTS.join(", ")
            )));
        }
        supported::refuse_unapplied(&query)?;
        let result = query
            .take_result_params()
            .map_err(|e| FhirError::bad_request(e.to_string()))?;
        if !result.include.is_empty() || !result.revinclude.is_empty() || !result.sort.is_empty() {
            return Err(FhirError::bad_request(
                "a compartment search takes no _include, _revinclude or _sort here",
            ));
        }
        let mut left_out = Vec::new();
        let types: Vec<(&str, &'static [&'static str])> = match &resource_type {
            Some(t) => match R::compartment_params(compartment, t) {
                Some(params) => vec![(t.as_str(), params)],
                None => {
                    return Err(FhirError::bad_request(format!(
                        "{t} is not in the {compartment} compartment of FHIR {}",
                        R::VERSION.number()
                    )))
                }
            },
            // Every type in the compartment that this server searches.
            None => self
                .searched_types()
                .filter_map(|t| R::compartment_params(compartment, t).map(|p| (t, p)))
                .collect(),
        };
        let owner = format!("{compartment}/{id}");
        let mut all = Found::empty();
        let mut seen = std::collections::HashSet::new();
        for (t, params) in types {
            // The owner is in its own compartment: R5's definitions say so with `{def}`, R4's
            // in the text of the specification only.
            let owner_itself = t == compartment && !params.contains(&"{def}");
            let params = params
                .iter()
                .copied()
                .chain(owner_itself.then_some("{def}"));
            for param in params {
                // The owner itself is found by its id, with the query's other parameters: it
                // is in the result only when it matches them.
                let (name, value) = match param {
                    "{def}" => ("_id", id.to_string()),
                    param => (param, owner.clone()),
                };
                let providers = self.registry.of_type(t)?;
                let mut restricted = query.clone();
                restricted.push(
                    crate::search::QueryParam::new(name, value)
                        .map_err(|e| FhirError::internal(e.to_string()))?,
                );
                let provider = choose(providers, t, &restricted).map_err(|e| {
                    FhirError::bad_request(format!(
                        "the {compartment} compartment links {t} by '{name}', which no search of {t} here takes with these parameters: {}",
                        e.message()
                    ))
                })?;
                let restricted = applicable(provider, restricted, lenient, &mut left_out)?;
                let mut input = Input::new(context.clone(), t);
                input.query = restricted.clone();
                let mut found = call_search(req, provider, input).await?;
                if let Some(candidates) = found.candidates.take() {
                    let none = ResultParams::default();
                    let base = &context.base_url;
                    filter_candidates(t, &restricted, &none, base, candidates, &mut found)?;
                }
                let found = every_match(found).await?;
                for resource in found {
                    let key = (
                        resource.resource_type().to_string(),
                        resource.id().unwrap_or_default().to_string(),
                    );
                    if seen.insert(key) {
                        all.matches.push(resource);
                    }
                }
            }
        }
        Ok(Searched {
            found: all,
            result,
            left_out,
            subset_by_provider: false,
        })
    }

    /// The resource types that have a search provider.
    fn searched_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.registry
            .types()
            .filter(|(_, providers)| {
                providers
                    .iter()
                    .any(|p| p.interaction == Interaction::Search)
            })
            .map(|(t, _)| t)
    }

    /// Picks the search provider for the query's parameters and runs it. What the provider
    /// does not evaluate is refused, or left out when `lenient`.
    pub(super) async fn run_search(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        query: Query,
        context: RequestContext,
        lenient: bool,
    ) -> Result<Searched<R>, FhirError> {
        let providers = self.registry.of_type(resource_type)?;
        let provider = if lenient {
            choose_leniently(providers, resource_type, &query)?
        } else {
            choose(providers, resource_type, &query)?
        };
        let mut left_out = Vec::new();
        let mut query = applicable(provider, query, lenient, &mut left_out)?;
        let result = query
            .take_result_params()
            .map_err(|e| FhirError::bad_request(e.to_string()))?;
        check_includes(provider, &result)?;
        let base_url = context.base_url.clone();
        let mut input = Input::new(context, resource_type);
        input.query = query.clone();
        input.result = result.clone();
        let mut found = call_search(req, provider, input).await?;
        if let Some(candidates) = found.candidates.take() {
            filter_candidates(
                resource_type,
                &query,
                &result,
                &base_url,
                candidates,
                &mut found,
            )?;
        }
        let answers = found.paged.as_ref().is_some_and(|p| p.answers_includes());
        if found.paged.is_some()
            && !answers
            && (!result.include.is_empty() || !result.revinclude.is_empty())
        {
            // A paged result carries no included resources: asked for, they would be missing.
            return Err(FhirError::bad_request(format!(
                "this search of {resource_type} loads its matches page by page and answers no _include or _revinclude"
            )));
        }
        if !found.includes.is_empty() {
            found.includes = crate::include::distinct(&found.matches, found.includes);
        }
        Ok(Searched {
            found,
            result,
            left_out,
            subset_by_provider: provider.subsets,
        })
    }

    /// The resources a condition (`If-None-Exist`, `PUT [type]?...`) finds: every parameter
    /// evaluated, never one left out.
    pub(super) async fn find_matches(
        &self,
        req: &Request<'_>,
        resource_type: &str,
        condition: Query,
        context: &RequestContext,
    ) -> Result<Vec<std::sync::Arc<R>>, FhirError> {
        let searched = self
            .run_search(req, resource_type, condition, context.clone(), false)
            .await?;
        every_match(searched.found).await
    }
}

/// A provider's candidates: those the query matches, sorted by `_sort`, and the includes
/// related to them (see `SearchResults::candidates`).
fn filter_candidates<R: ServerModel>(
    resource_type: &str,
    query: &Query,
    result: &ResultParams,
    base_url: &str,
    candidates: crate::provider::Candidates<R>,
    found: &mut Found<R>,
) -> Result<(), FhirError> {
    use crate::search::matcher::{Matcher, Sorter, Sources};
    let bad = |e: crate::search::SearchError| FhirError::bad_request(e.to_string());
    if found.paged.is_some() {
        return Err(FhirError::internal(
            "a search returned candidates page by page: the server filters candidates it holds",
        ));
    }
    let matcher = Matcher::new::<R>(resource_type, query).map_err(bad)?;
    let sorter = Sorter::new::<R>(resource_type, &result.sort).map_err(bad)?;
    let resolve = candidates.resolve.as_deref();
    let of_type = candidates.of_type.as_deref();
    let sources = Sources {
        resolve: resolve.map(|f| f as &crate::search::matcher::Resolve<R>),
        candidates: of_type.map(|f| f as &crate::search::matcher::OfType<R>),
    };
    let mut kept = Vec::with_capacity(found.matches.len());
    for resource in std::mem::take(&mut found.matches) {
        if matcher.matches(&*resource, &sources).map_err(bad)? {
            kept.push(resource);
        }
    }
    sorter.sort(&mut kept, |r| &**r).map_err(bad)?;
    found.matches = kept;
    let includes = std::mem::take(&mut found.includes);
    found.includes = crate::include::related(base_url, &found.matches, includes);
    Ok(())
}

/// The resources a paged result includes with one page, each once and none that is a match.
async fn page_includes<R: ServerModel>(
    pages: &dyn crate::provider::BundleProvider<std::sync::Arc<R>>,
    page: &[std::sync::Arc<R>],
    result: &ResultParams,
) -> Result<Vec<std::sync::Arc<R>>, FhirError> {
    if result.include.is_empty() && result.revinclude.is_empty() {
        return Ok(Vec::new());
    }
    let included = pages.included(page).await?;
    Ok(crate::include::distinct(page, included))
}

/// Every match of a search, loading every page of a paged one (searches of several types and
/// conditions need them all).
async fn every_match<R>(found: Found<R>) -> Result<Vec<std::sync::Arc<R>>, FhirError> {
    match found.paged {
        Some(pages) => {
            let size = pages.size().await?;
            pages.page(0..size).await
        }
        None => Ok(found.matches),
    }
}

/// What a search did: what it found, the result parameters, and what it left out (only when
/// the client asked for lenient handling), with why.
pub(super) struct Searched<R> {
    found: Found<R>,
    result: ResultParams,
    left_out: Vec<Unsupported>,
    /// The provider applied `_summary` and `_elements` itself.
    subset_by_provider: bool,
}

/// The query without what the provider does not evaluate: a 400 naming every such parameter,
/// or, when `lenient`, the query without them, noted in `left_out`.
fn applicable<R>(
    provider: &Provider<R>,
    mut query: Query,
    lenient: bool,
    left_out: &mut Vec<Unsupported>,
) -> Result<Query, FhirError> {
    let unsupported = supported::unsupported(provider, &query);
    if unsupported.is_empty() {
        return Ok(query);
    }
    if !lenient {
        return Err(supported::refusal(&unsupported));
    }
    query.retain(|p| !unsupported.iter().any(|u| &u.param == p));
    for u in unsupported {
        if !left_out.contains(&u) {
            left_out.push(u);
        }
    }
    Ok(query)
}

/// Among the searches whose required parameters are all given, the one that takes the most of
/// the given parameters; the others are then left out (lenient handling).
fn choose_leniently<'a, R>(
    providers: &'a [Provider<R>],
    resource_type: &str,
    query: &Query,
) -> Result<&'a Provider<R>, FhirError> {
    let given = search_params(query);
    providers
        .iter()
        .filter(|p| p.interaction == Interaction::Search)
        .filter(|p| {
            p.checks_query
                || p.params
                    .iter()
                    .filter(|d| d.required)
                    .all(|d| given.iter().any(|g| g.name == d.name))
        })
        .max_by_key(|p| {
            given
                .iter()
                .filter(|g| p.params.iter().any(|d| d.name == g.name))
                .count()
        })
        .map_or_else(|| choose(providers, resource_type, query), Ok)
}

/// The search parameters of a query: without the result parameters (`_count`, `_sort`, ...),
/// which choose no provider.
fn search_params(query: &Query) -> Vec<&crate::search::QueryParam> {
    query
        .params()
        .iter()
        .filter(|p| !crate::search::query::RESULT_PARAMETERS.contains(&p.name.as_str()))
        .collect()
}

/// The first search provider whose required parameters are all given and whose parameters
/// cover every given one; 400 naming the searches there are otherwise.
fn choose<'a, R>(
    providers: &'a [Provider<R>],
    resource_type: &str,
    query: &Query,
) -> Result<&'a Provider<R>, FhirError> {
    let searches = providers
        .iter()
        .filter(|p| p.interaction == Interaction::Search);
    if searches.clone().next().is_none() {
        return match find_in(providers, Interaction::Search, resource_type) {
            Err(e) => Err(e),
            Ok(_) => unreachable!("there is no search provider"),
        };
    }
    let given = search_params(query);
    let chosen = searches.clone().find(|p| {
        p.checks_query
            || p.params
                .iter()
                .filter(|d| d.required)
                .all(|d| given.iter().any(|g| g.name == d.name))
                && given
                    .iter()
                    .all(|g| p.params.iter().any(|d| d.name == g.name))
    });
    chosen.ok_or_else(|| {
        let supported: Vec<String> = searches
            .map(|p| {
                let params: Vec<String> = p
                    .params
                    .iter()
                    .map(|d| {
                        if d.required {
                            format!("{} (required)", d.name)
                        } else {
                            d.name.to_string()
                        }
                    })
                    .collect();
                format!("[{}]", params.join(", "))
            })
            .collect();
        FhirError::bad_request(format!(
            "no search of {resource_type} takes the parameters [{}]; supported searches: {}",
            given
                .iter()
                .map(|p| p.name.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", "),
            supported.join(" or ")
        ))
    })
}

/// Every `_include` and `_revinclude` of the request must be one the search provider
/// declared (`#[search(include = [...], revinclude = [...])]`); 400 otherwise, naming the
/// ones it answers.
fn check_includes<R>(provider: &Provider<R>, result: &ResultParams) -> Result<(), FhirError> {
    if provider.checks_query {
        return Ok(());
    }
    for (name, requested, declared) in [
        ("_include", &result.include, provider.includes),
        ("_revinclude", &result.revinclude, provider.revincludes),
    ] {
        for include in requested {
            let answered = declared.iter().any(|d| {
                let mut parts = d.split(':');
                *d == "*"
                    || (parts.next() == Some(include.source_type.as_str())
                        && parts.next().is_some_and(|p| p == "*" || p == include.param)
                        && parts
                            .next()
                            .is_none_or(|t| include.target_type.as_deref() == Some(t)))
            });
            if !answered {
                let target = include
                    .target_type
                    .as_deref()
                    .map(|t| format!(":{t}"))
                    .unwrap_or_default();
                let valid = if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                };
                return Err(FhirError::bad_request(format!(
                    "{name}={}:{}{target} is not supported by this search; supported values: {valid}",
                    include.source_type, include.param
                )));
            }
        }
    }
    Ok(())
}
