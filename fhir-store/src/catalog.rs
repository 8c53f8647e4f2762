//! The numbers the tables key on for one FHIR version: each resource type a `res_type`
//! (`SMALLINT`), each search parameter definition an `sp_id`, and for each type the
//! parameters whose values are stored, parsed once.
//!
//! Numbers come from the version's definitions in a fixed order (types by name, parameters
//! by canonical URL), so the same release always gives the same numbers; the database
//! records them (`resource_type`, `search_param`) and a server checks them at start.

use fhir_model::fhirpath::extract::{Compiled, ExtractError};
use fhir_model::{FhirVersion, SearchParamKind, SearchParameter};
use fhir_rocket::search::matcher::Searchable;
use std::collections::{BTreeMap, HashMap};

/// A search parameter definition as the tables know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamId {
    /// Its number (`search_param.sp_id`).
    pub sp_id: i32,
    /// Its type.
    pub kind: SearchParamKind,
}

/// One resource type's stored parameters.
#[derive(Debug)]
pub struct TypeParams {
    /// `res_type`
    pub res_type: i16,
    /// Each parameter whose values are extracted and stored, with its number.
    pub indexed: Vec<(ParamId, Compiled)>,
    /// Parameters answered from the resource table's own columns, not index rows: `_id`
    /// (`fhir_id`) and `_lastUpdated` (`last_updated`).
    pub columns: Vec<&'static str>,
    /// Parameters with no stored values and why: those without an expression (`_text`,
    /// `_content`, `_list`, ...) and any whose expression the evaluator cannot parse. A
    /// search on one must be refused, never answered from missing rows.
    pub not_indexed: Vec<(&'static str, ExtractError)>,
}

/// A version's resource types and search parameters, numbered.
#[derive(Debug)]
pub struct Catalog {
    version: FhirVersion,
    types: HashMap<&'static str, TypeParams>,
    type_names: Vec<&'static str>,
    params: BTreeMap<&'static str, ParamId>,
    by_code: HashMap<(&'static str, &'static str), &'static SearchParameter>,
}

impl Catalog {
    /// The catalog of the version of `R` (a version's `Resource` enum).
    pub fn of<R: Searchable>() -> Catalog {
        let version = R::FHIR_VERSION;
        let mut type_names: Vec<&'static str> = R::SEARCH_PARAMETERS.iter().map(|t| t.0).collect();
        type_names.sort_unstable();
        let mut urls: Vec<&'static str> = R::SEARCH_PARAMETERS
            .iter()
            .flat_map(|(_, params)| params.iter().map(|p| p.url))
            .collect();
        urls.sort_unstable();
        urls.dedup();
        let mut params = BTreeMap::new();
        let mut by_code = HashMap::new();
        for (_, list) in R::SEARCH_PARAMETERS {
            for p in *list {
                let sp_id = urls.binary_search(&p.url).expect("collected above") as i32 + 1;
                params.insert(
                    p.url,
                    ParamId {
                        sp_id,
                        kind: p.kind,
                    },
                );
            }
        }
        let mut types = HashMap::new();
        for (name, list) in R::SEARCH_PARAMETERS {
            let res_type = type_names.binary_search(name).expect("collected above") as i16 + 1;
            let mut indexed = Vec::new();
            let mut not_indexed = Vec::new();
            let mut columns = Vec::new();
            for p in *list {
                by_code.insert((*name, p.code), p);
                if matches!(p.code, "_id" | "_lastUpdated") {
                    columns.push(p.code);
                    continue;
                }
                match fhir_rocket::search::matcher::compile_param(p, version, name) {
                    Ok(compiled) => indexed.push((params[p.url], compiled)),
                    Err(e) => not_indexed.push((p.code, e)),
                }
            }
            types.insert(
                *name,
                TypeParams {
                    res_type,
                    indexed,
                    columns,
                    not_indexed,
                },
            );
        }
        Catalog {
            version,
            types,
            type_names,
            params,
            by_code,
        }
    }

    /// The FHIR version.
    pub fn version(&self) -> FhirVersion {
        self.version
    }

    /// A resource type's number and parameters.
    pub fn resource_type(&self, name: &str) -> Option<&TypeParams> {
        self.types.get(name)
    }

    /// The type a `res_type` numbers.
    pub fn type_name(&self, res_type: i16) -> Option<&'static str> {
        let i = usize::try_from(res_type).ok()?.checked_sub(1)?;
        self.type_names.get(i).copied()
    }

    /// A parameter of a type by its code (`Patient`, `family`).
    pub fn param(&self, resource_type: &str, code: &str) -> Option<ParamId> {
        let p = self.by_code.get(&(resource_type, code))?;
        self.params.get(p.url).copied()
    }

    /// A parameter of a type by its code, with its definition.
    pub fn definition(
        &self,
        resource_type: &str,
        code: &str,
    ) -> Option<(ParamId, &'static SearchParameter)> {
        let p = *self.by_code.get(&(resource_type, code))?;
        Some((*self.params.get(p.url)?, p))
    }

    /// The reference parameters of a type (what `_include=Type:*` follows).
    pub fn reference_params(
        &self,
        resource_type: &str,
    ) -> Vec<(ParamId, &'static SearchParameter)> {
        let mut found: Vec<_> = self
            .by_code
            .iter()
            .filter(|((t, _), p)| *t == resource_type && p.kind == SearchParamKind::Reference)
            .filter_map(|(_, p)| Some((*self.params.get(p.url)?, *p)))
            .collect();
        found.sort_by_key(|(id, _)| id.sp_id);
        found
    }

    /// Every parameter definition by canonical URL, with its number: what the
    /// `search_param` table holds.
    pub fn params(&self) -> impl Iterator<Item = (&'static str, ParamId)> + '_ {
        self.params.iter().map(|(url, id)| (*url, *id))
    }

    /// Every resource type with its number: what the `resource_type` table holds.
    pub fn types(&self) -> impl Iterator<Item = (&'static str, i16)> + '_ {
        self.type_names
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, i as i16 + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir_model::r4::Resource;

    #[test]
    fn numbers_are_fixed_by_the_definitions() {
        let a = Catalog::of::<Resource>();
        let b = Catalog::of::<Resource>();
        assert_eq!(
            a.params().collect::<Vec<_>>(),
            b.params().collect::<Vec<_>>()
        );
        let patient = a.resource_type("Patient").unwrap();
        assert_eq!(a.type_name(patient.res_type), Some("Patient"));
        assert_eq!(a.types().count(), 146, "R4's resource types");
        // One number per definition: `clinical-code` serves several types.
        assert_eq!(a.param("Observation", "code"), a.param("Condition", "code"));
        assert_ne!(a.param("Observation", "code"), a.param("Patient", "family"));
        // _id has a number like any other (its rows are the resource table's column).
        assert!(a.param("Patient", "_id").is_some());
    }

    #[test]
    fn r5_in_is_not_stored() {
        // R5's `_in` has the placeholder expression `Resource.id`: membership of a CareTeam,
        // Group or List is not in the resource, so a search on it is refused, not answered
        // from the resource's own id.
        let catalog = Catalog::of::<fhir_model::r5::Resource>();
        let patient = catalog.resource_type("Patient").unwrap();
        assert!(patient.not_indexed.iter().any(|(c, _)| *c == "_in"));
        assert!(!patient.indexed.iter().any(|(_, c)| c.param.code == "_in"));
        let planner = crate::search::plan::Planner::new(&catalog, 0, 0);
        let query = fhir_rocket::search::parse_query("_in=Group/x").unwrap();
        assert!(planner.condition("Patient", "r", &query).is_err());
        // The in-memory matcher refuses it the same way.
        assert!(
            fhir_rocket::search::matcher::Matcher::new::<fhir_model::r5::Resource>(
                "Patient", &query
            )
            .is_err()
        );
    }

    #[test]
    fn what_is_not_stored_is_listed() {
        let catalog = Catalog::of::<Resource>();
        // Every expression of the definitions parses: what is not stored is what has no
        // expression (text searches, and a few parameters defined on extensions).
        for (name, _) in catalog.types() {
            let t = catalog.resource_type(name).unwrap();
            for (code, why) in &t.not_indexed {
                assert_eq!(*why, ExtractError::NoExpression, "{name}.{code}");
            }
        }
        let patient = catalog.resource_type("Patient").unwrap();
        let missing: Vec<&str> = patient.not_indexed.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            missing,
            [
                "_text",
                "_content",
                "_query",
                "_filter",
                "age",
                "birthOrderBoolean"
            ]
        );
        assert!(patient
            .indexed
            .iter()
            .any(|(_, c)| c.param.code == "family"));
        assert_eq!(patient.columns, ["_id", "_lastUpdated"]);
        assert!(!patient.indexed.iter().any(|(_, c)| c.param.code == "_id"));
    }
}
