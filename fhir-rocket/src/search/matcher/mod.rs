//! The in-memory matcher: a whole parsed query evaluated against resources, through the
//! search parameters' FHIRPath expressions (`fhir_model::fhirpath`), and `_sort`.
//!
//! A provider over data in memory hands the kit its candidates; [`Matcher`] keeps those the
//! query matches, exactly as the specification defines each parameter type, modifier and
//! prefix, and [`Sorter`] orders them by `_sort`. What it cannot evaluate (a modifier that needs
//! a terminology server, a special parameter such as `_text`, a parameter without an
//! expression) is an error when the matcher is built, never a silently wrong answer.
//!
//! - Every parameter type: token, string, date, number, quantity, reference, uri and
//!   composite; `_id`, `_lastUpdated`, `_tag`, `_profile`, `_security` are ordinary
//!   parameters of `Resource`.
//! - Modifiers: `:missing` on every type, `:exact` and `:contains` (string), `:text`, `:not`
//!   and `:of-type` (token), `:above` and `:below` (uri), `:identifier` and `:[type]`
//!   (reference). Token `:above`, `:below`, `:in`, `:not-in` need a terminology server and
//!   are refused.
//! - Prefixes `eq ne gt lt ge le sa eb ap` with the specification's range semantics (a date
//!   is the range its precision gives, a number the range of its significant digits).
//! - Chains (`subject.name=x`, `subject:Patient.organization.name=x`) through a resolver the
//!   caller gives ([`Sources::resolve`]); `_has` (`_has:Observation:patient:code=x`) through
//!   a source of candidates of another type ([`Sources::candidates`]).
//! - `_sort` on any parameter of the type, ascending or descending; resources without a
//!   value sort last either way.
//!
//! ```
//! use fhir_rocket::model::r4::Resource;
//! use fhir_rocket::search::matcher::{Matcher, Sources};
//! use fhir_rocket::search::parse_query;
//! use std::sync::Arc;
//!
//! let resources: Vec<Arc<Resource>> = [
//!     r#"{"resourceType":"Patient","id":"1","gender":"female","birthDate":"1970-03-04","name":[{"family":"Chalmers"}]}"#,
//!     r#"{"resourceType":"Patient","id":"2","gender":"male","birthDate":"1985","name":[{"family":"Chalmerson"}]}"#,
//!     r#"{"resourceType":"Patient","id":"3","gender":"female","name":[{"family":"Windsor"}]}"#,
//! ]
//! .iter()
//! .map(|json| Arc::new(Resource::from_json(json).unwrap()))
//! .collect();
//!
//! let query = parse_query("family=chalmers&birthdate=lt1980").unwrap();
//! let matcher = Matcher::new::<Resource>("Patient", &query).unwrap();
//! let sources = Sources::none();
//! let found: Vec<_> = resources.iter().filter(|r| matcher.matches(&***r, &sources).unwrap()).collect();
//! assert_eq!(found.len(), 1);
//!
//! // A modifier that needs a terminology server is refused, not ignored.
//! let query = parse_query("gender:in=http://example.org/vs").unwrap();
//! assert!(Matcher::new::<Resource>("Patient", &query).is_err());
//! ```

mod compile;
mod sort;
mod test;
#[cfg(test)]
mod tests;

pub use sort::Sorter;

/// The compiled expression of `param` for resources of `resource_type`, as both the
/// in-memory matcher and the store's index evaluate it.
///
/// R5's `_in` (`SearchParameter/Resource-in`) is refused as having no expression: its
/// definition gives `Resource.id`, a placeholder, while what it asks is whether the
/// resource is an active member of a CareTeam, Group or List, which is in those resources,
/// not in this one. Evaluating the placeholder would answer `_in=Group/x` with nothing, and
/// `_in=abc` with the resource whose id is `abc`.
pub fn compile_param(
    param: &'static SearchParameter,
    version: FhirVersion,
    resource_type: &str,
) -> Result<Compiled, fhir_model::fhirpath::extract::ExtractError> {
    if param.url == "http://hl7.org/fhir/SearchParameter/Resource-in" {
        return Err(fhir_model::fhirpath::extract::ExtractError::NoExpression);
    }
    Compiled::for_type(param, version, resource_type)
}

use super::{Query, SearchError};
use fhir_model::fhirpath::extract::{Compiled, IndexValue};
use fhir_model::fhirpath::Node;
use fhir_model::xml::table::XmlTable;
use fhir_model::{FhirVersion, SearchParameter};
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

/// A resource of a FHIR version the matcher can search: each version's `Resource` enum.
pub trait Searchable: Send + Sync + 'static {
    /// The version.
    const FHIR_VERSION: FhirVersion;
    /// Each resource type with its search parameters (`Resource::SEARCH_PARAMETERS_BY_TYPE`).
    const SEARCH_PARAMETERS: &'static [(&'static str, &'static [SearchParameter])];
    /// The resource as a FHIRPath node.
    fn node(&self) -> Node<'_>;
}

macro_rules! searchable {
    ($feature:literal, $version:ident, $v:ident) => {
        #[cfg(feature = $feature)]
        impl Searchable for fhir_model::$version::Resource {
            const FHIR_VERSION: FhirVersion = FhirVersion::$v;
            const SEARCH_PARAMETERS: &'static [(&'static str, &'static [SearchParameter])] =
                fhir_model::$version::Resource::SEARCH_PARAMETERS_BY_TYPE;
            fn node(&self) -> Node<'_> {
                self.as_node()
            }
        }
    };
}
searchable!("r4", r4, R4);
searchable!("r4b", r4b, R4B);
searchable!("r5", r5, R5);

/// Finds the resource a reference points to.
pub type Resolve<R> = dyn Fn(&str) -> Option<Arc<R>> + Sync;

/// Gives every resource of a type.
pub type OfType<R> = dyn Fn(&str) -> Vec<Arc<R>> + Sync;

/// What a search reaches beyond the resource it tests: the resources references point to
/// (for chains) and the resources of another type (for `_has`). Either may be absent; a
/// query that needs it is then an error.
pub struct Sources<'s, R> {
    /// The resource a reference (`Patient/1`, an absolute URL) points to, if the caller has it.
    pub resolve: Option<&'s Resolve<R>>,
    /// Every resource of a type (the candidates of a `_has`).
    pub candidates: Option<&'s OfType<R>>,
}

impl<R> Sources<'_, R> {
    /// No resolver and no other candidates: chains and `_has` are errors.
    pub fn none() -> Self {
        Sources {
            resolve: None,
            candidates: None,
        }
    }
}

/// A query compiled for one resource type: its parameters found, their values parsed and
/// their expressions compiled, ready to test many resources.
#[derive(Debug)]
pub struct Matcher {
    version: FhirVersion,
    table: &'static XmlTable,
    resource_type: String,
    clauses: Vec<Clause>,
}

/// One occurrence of a parameter: an OR list, ANDed with the others.
#[derive(Debug)]
struct Clause {
    /// The name as the query wrote it (for errors).
    name: String,
    /// The parameter whose values the test takes (none for `_has`).
    param: Option<Compiled>,
    test: Test,
}

/// What a clause tests of the parameter's values.
#[derive(Debug)]
enum Test {
    /// `:missing=true` (no value) or `false` (some value).
    Missing(bool),
    Token(Vec<super::TokenParam>),
    /// `:not`: no value matches any of these.
    NotToken(Vec<super::TokenParam>),
    String(Vec<super::StringParam>),
    Date(Vec<super::DateParam>),
    Number(Vec<super::NumberParam>),
    Quantity(Vec<super::QuantityParam>),
    Reference(Vec<super::ReferenceParam>),
    Uri(Vec<super::UriParam>),
    /// Each OR value: one test per component.
    Composite(Vec<Vec<test::Component>>),
    /// A chain: the referenced resource, of one of these types, matches the sub-query.
    Chain(Vec<(&'static str, Matcher)>),
    /// `_has`: some resource of another type matching the sub-query refers to this one.
    Has(Box<Has>),
}

#[derive(Debug)]
struct Has {
    source_type: String,
    reference: Compiled,
    matcher: Matcher,
    /// `Type/id` of every resource the matching sources refer to, made on first use.
    targets: OnceLock<Result<HashSet<String>, SearchError>>,
}

impl Matcher {
    /// Compiles `query` (its search parameters, without the result parameters such as
    /// `_sort` and `_count`: see [`Query::take_result_params`]) for resources of
    /// `resource_type` of `R`'s version.
    pub fn new<R: Searchable>(resource_type: &str, query: &Query) -> Result<Matcher, SearchError> {
        compile::matcher(R::FHIR_VERSION, R::SEARCH_PARAMETERS, resource_type, query)
    }

    /// The resource type the query was compiled for.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// Whether `resource` matches every parameter of the query. Errors come from chains and
    /// `_has` that need a source the caller did not give, and from expressions that fail.
    pub fn matches<R: Searchable>(
        &self,
        resource: &R,
        sources: &Sources<'_, R>,
    ) -> Result<bool, SearchError> {
        self.check_version(R::FHIR_VERSION)?;
        self.matches_node(resource.node(), sources)
    }

    /// [`Matcher::matches`] on a node (a resource, or one contained in another).
    fn matches_node<R: Searchable>(
        &self,
        node: Node<'_>,
        sources: &Sources<'_, R>,
    ) -> Result<bool, SearchError> {
        if node.type_name() != self.resource_type {
            return Ok(false);
        }
        let mut values = Vec::new();
        for clause in &self.clauses {
            values.clear();
            if !self.clause_matches(clause, node, sources, &mut values)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn check_version(&self, version: FhirVersion) -> Result<(), SearchError> {
        if version == self.version {
            Ok(())
        } else {
            Err(SearchError::new(format!(
                "the query was compiled for FHIR {}, not {}",
                self.version.number(),
                version.number()
            )))
        }
    }

    fn clause_matches<'a, R: Searchable>(
        &self,
        clause: &Clause,
        node: Node<'a>,
        sources: &Sources<'_, R>,
        values: &mut Vec<IndexValue<'a>>,
    ) -> Result<bool, SearchError> {
        if let Some(param) = &clause.param {
            param
                .values_into(node, values)
                .map_err(|e| SearchError::for_param(clause.name.as_str(), e.to_string()))?;
        }
        Ok(match &clause.test {
            Test::Missing(missing) => values.is_empty() == *missing,
            Test::Chain(targets) => self.chain_matches(clause, node, targets, sources, values)?,
            Test::Has(has) => {
                let targets = has
                    .targets
                    .get_or_init(|| has.referenced(sources))
                    .as_ref()
                    .map_err(Clone::clone)?;
                let id = node_id(self.table, node);
                id.is_some_and(|id| targets.contains(&format!("{}/{id}", node.type_name())))
            }
            test => test::matches(test, values),
        })
    }

    fn chain_matches<R: Searchable>(
        &self,
        clause: &Clause,
        node: Node<'_>,
        targets: &[(&'static str, Matcher)],
        sources: &Sources<'_, R>,
        values: &[IndexValue<'_>],
    ) -> Result<bool, SearchError> {
        for value in values {
            let IndexValue::Reference(r) = value else {
                continue;
            };
            let Some(reference) = r.reference.as_deref() else {
                continue;
            };
            if let Some(id) = reference.strip_prefix('#') {
                // A contained resource: found in the resource itself.
                let mut contained = Vec::new();
                children(self.table, node, "contained", &mut contained);
                for c in contained {
                    if node_id(self.table, c) == Some(id) {
                        for (ty, m) in targets {
                            if c.type_name() == *ty && m.matches_node(c, sources)? {
                                return Ok(true);
                            }
                        }
                    }
                }
                continue;
            }
            let resolve = sources.resolve.ok_or_else(|| {
                SearchError::for_param(
                    clause.name.as_str(),
                    "a chained parameter needs the resources references point to, and this search has no resolver",
                )
            })?;
            let Some(target) = resolve(reference) else {
                continue;
            };
            let target_node = target.node();
            for (ty, m) in targets {
                if target_node.type_name() == *ty && m.matches_node(target_node, sources)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

impl Has {
    fn referenced<R: Searchable>(
        &self,
        sources: &Sources<'_, R>,
    ) -> Result<HashSet<String>, SearchError> {
        let candidates = sources.candidates.ok_or_else(|| {
            SearchError::for_param(
                "_has",
                "_has needs the resources of another type, and this search has no source of them",
            )
        })?;
        let mut targets = HashSet::new();
        for source in candidates(&self.source_type) {
            let node = source.node();
            if !self.matcher.matches_node(node, sources)? {
                continue;
            }
            let mut values = Vec::new();
            self.reference
                .values_into(node, &mut values)
                .map_err(|e| SearchError::for_param("_has", e.to_string()))?;
            for v in &values {
                if let IndexValue::Reference(r) = v {
                    if let (Some(t), Some(id)) = (r.resource_type, r.id) {
                        targets.insert(format!("{t}/{id}"));
                    }
                }
            }
        }
        Ok(targets)
    }
}

/// The nodes of member `name` of an object node.
fn children<'a>(table: &XmlTable, node: Node<'a>, name: &str, out: &mut Vec<Node<'a>>) {
    if let Node::Object(o, _) = node {
        if let Some((i, _)) = table.element(o.type_index(), name) {
            o.member(i, out);
        }
    }
}

/// A resource node's id.
fn node_id<'a>(table: &XmlTable, node: Node<'a>) -> Option<&'a str> {
    let mut ids = Vec::new();
    children(table, node, "id", &mut ids);
    ids.first()?.primitive()?.as_str()
}
