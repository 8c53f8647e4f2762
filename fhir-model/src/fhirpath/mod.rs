//! FHIRPath over the typed model, for the expressions of search parameters (behind the
//! `fhirpath` feature, which the server kit enables): parsing once,
//! evaluating over borrowed [`Node`]s (no copy of the resource, no JSON), and the search
//! values of each parameter of a resource ([`extract`]).
//!
//! The evaluator covers the part of FHIRPath that the core SearchParameter expressions and
//! the definitions' invariants use: paths (choice elements by their name, `value`), a leading
//! type name (`Patient.name`), `|`, `and`/`or`/`xor`/`implies`, `=`/`!=`/`~`/`!~`,
//! comparisons (dates at their precision, quantities of one unit), arithmetic
//! (`+ - * / div mod`), `&`, `in`/`contains`, `is`/`as` and the functions `where`, `select`,
//! `all`, `exists`, `empty`, `first`, `last`, `tail`, `single`, `count`, `distinct`,
//! `isDistinct`, `not`, `ofType`, `as`, `is`, `extension(url)`, `hasExtension(url)`,
//! `resolve`, `hasValue`, `startsWith`, `endsWith`, `contains`, `matches`, `replace`,
//! `replaceMatches`, `length`, `substring`, `toInteger`, `toString`, `iif`, `trace`,
//! `children`, `descendants`, `combine`, `union`, `intersect`, `exclude`, `repeat`,
//! `allTrue`, `allFalse`, `anyTrue`, `anyFalse`, `lowBoundary`, `highBoundary`,
//! `comparable`, the indexer `[n]`, and the variables `%resource`, `%rootResource`,
//! `%context`, `%ucum`, `%sct`, `%loinc`, `%vs-…` and `%ext-…`. Any other function is a
//! parse error, never a silent empty answer.
//!
//! `resolve()` gives a contained resource for `#id`, the resource a caller's resolver
//! returns, or else an [`Item::Reference`] that knows only the type the reference names,
//! which is what `where(resolve() is Patient)` needs.
//!
//! ```
//! use fhir_model::fhirpath::{Expression, Item};
//! use fhir_model::r4::Resource;
//! use fhir_model::FhirVersion;
//!
//! let resource = Resource::from_json(r#"{"resourceType":"Observation","status":"final",
//!     "code":{"text":"x"},"subject":{"reference":"Patient/1"},"valueQuantity":{"value":1.5}}"#).unwrap();
//! let subject = Expression::parse("Observation.subject.where(resolve() is Patient)", FhirVersion::R4).unwrap();
//! assert_eq!(subject.evaluate(resource.as_node()).unwrap().len(), 1);
//! let value = Expression::parse("(Observation.value as Quantity).value", FhirVersion::R4).unwrap();
//! let found = value.evaluate(resource.as_node()).unwrap();
//! assert_eq!(found[0].primitive().and_then(|p| p.as_str()), Some("1.5"));
//! ```

mod arith;
mod eval;
pub mod extract;
mod functions;
mod node;
mod parser;
mod sets;
#[cfg(test)]
mod tests;

pub use eval::{EvalError, Item, Resolver};
pub use node::{rt, Navigate, Node, Prim, PrimValue, PrimitiveElement, ToNodes};
pub use parser::ParseError;

use crate::xml::table::XmlTable;
use crate::FhirVersion;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// A parsed FHIRPath expression for one FHIR version.
///
/// Parse once and evaluate many times: member names are looked up in the version's table
/// the first time they meet a type and remembered in the expression. [`compile`] keeps one
/// shared copy per text and version.
#[derive(Debug)]
pub struct Expression {
    tree: parser::Expr,
    table: &'static XmlTable,
    version: FhirVersion,
}

/// The XML table (the list of each struct's elements) of a version this crate was built with.
pub fn table(version: FhirVersion) -> Option<&'static XmlTable> {
    match version {
        #[cfg(feature = "r4")]
        FhirVersion::R4 => Some(&crate::r4::xml_table::XML_TABLE),
        #[cfg(feature = "r4b")]
        FhirVersion::R4B => Some(&crate::r4b::xml_table::XML_TABLE),
        #[cfg(feature = "r5")]
        FhirVersion::R5 => Some(&crate::r5::xml_table::XML_TABLE),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

impl Expression {
    /// Parses `text` for `version`.
    pub fn parse(text: &str, version: FhirVersion) -> Result<Expression, ParseError> {
        let table = table(version).ok_or_else(|| ParseError {
            offset: 0,
            message: format!("FHIR {} is not built into fhir-model", version.number()),
        })?;
        Ok(Expression {
            tree: parser::parse(text)?,
            table,
            version,
        })
    }

    /// Parses `text` for resources of `resource_type` only: the branches of unions that
    /// start with another resource type's name are left out (the core expressions shared by
    /// several types list one branch per type).
    ///
    /// ```
    /// use fhir_model::fhirpath::Expression;
    /// use fhir_model::FhirVersion;
    /// let e = Expression::parse_for_type("Patient.name | Practitioner.name", FhirVersion::R4, "Patient").unwrap();
    /// let r = fhir_model::r4::Resource::from_json(r#"{"resourceType":"Patient","name":[{"family":"A"}]}"#).unwrap();
    /// assert_eq!(e.evaluate(r.as_node()).unwrap().len(), 1);
    /// ```
    pub fn parse_for_type(
        text: &str,
        version: FhirVersion,
        resource_type: &str,
    ) -> Result<Expression, ParseError> {
        let mut e = Expression::parse(text, version)?;
        let ctx = eval::Ctx {
            table: e.table,
            resource: None,
            root_resource: None,
            context: &[],
            resolver: None,
            scratch: Default::default(),
        };
        e.tree = parser::prune(e.tree, &|name| ctx.is_type_name(resource_type, name));
        Ok(e)
    }

    /// The version the expression was parsed for.
    pub fn version(&self) -> FhirVersion {
        self.version
    }

    /// Evaluates the expression with `resource` as its context and `%resource`.
    pub fn evaluate<'a>(&'a self, resource: Node<'a>) -> Result<Vec<Item<'a>>, EvalError> {
        self.evaluate_with(&[Item::Node(resource)], Some(resource), None)
    }

    /// Evaluates the expression on the collection `context` (also `%context`), with
    /// `%resource` and a resolver for `resolve()`: a composite parameter's components are
    /// evaluated on each value of the composite this way.
    pub fn evaluate_with<'a>(
        &'a self,
        context: &[Item<'a>],
        resource: Option<Node<'a>>,
        resolver: Option<Resolver<'a, '_>>,
    ) -> Result<Vec<Item<'a>>, EvalError> {
        self.evaluate_contained(context, resource, None, resolver)
    }

    /// [`Expression::evaluate_with`] in a contained resource: `%resource` is the contained
    /// resource, `%rootResource` its container (`root`).
    pub fn evaluate_contained<'a>(
        &'a self,
        context: &[Item<'a>],
        resource: Option<Node<'a>>,
        root: Option<Node<'a>>,
        resolver: Option<Resolver<'a, '_>>,
    ) -> Result<Vec<Item<'a>>, EvalError> {
        let ctx = eval::Ctx {
            table: self.table,
            resource,
            root_resource: root,
            context,
            resolver,
            scratch: Default::default(),
        };
        ctx.eval(&self.tree, context)
    }
}

/// The shared parsed expression for `text` and `version`: parsed on first use, then kept for
/// the life of the process (search parameter expressions are a fixed, small set).
///
/// ```
/// use fhir_model::{fhirpath, FhirVersion};
/// let a = fhirpath::compile("Patient.name", FhirVersion::R4).unwrap();
/// let b = fhirpath::compile("Patient.name", FhirVersion::R4).unwrap();
/// assert!(std::ptr::eq(a, b));
/// ```
pub fn compile(text: &str, version: FhirVersion) -> Result<&'static Expression, ParseError> {
    cached(text, version, None)
}

/// [`compile`] for resources of one type ([`Expression::parse_for_type`]), shared likewise.
///
/// ```
/// use fhir_model::{fhirpath, FhirVersion};
/// let e = fhirpath::compile_for_type("Patient.name | Group.name", FhirVersion::R4, "Group").unwrap();
/// assert!(std::ptr::eq(e, fhirpath::compile_for_type("Patient.name | Group.name", FhirVersion::R4, "Group").unwrap()));
/// ```
pub fn compile_for_type(
    text: &str,
    version: FhirVersion,
    resource_type: &str,
) -> Result<&'static Expression, ParseError> {
    cached(text, version, Some(resource_type))
}

fn cached(
    text: &str,
    version: FhirVersion,
    resource_type: Option<&str>,
) -> Result<&'static Expression, ParseError> {
    type Key = (FhirVersion, Box<str>, Box<str>);
    type Cache = RwLock<HashMap<Key, Result<&'static Expression, ParseError>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (
        version,
        Box::<str>::from(resource_type.unwrap_or_default()),
        Box::<str>::from(text),
    );
    if let Some(found) = cache.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return found.clone();
    }
    let parsed = match resource_type {
        Some(t) => Expression::parse_for_type(text, version, t),
        None => Expression::parse(text, version),
    }
    .map(|e| &*Box::leak(Box::new(e)));
    cache
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_insert(parsed)
        .clone()
}
