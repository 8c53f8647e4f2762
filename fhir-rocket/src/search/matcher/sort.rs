//! `_sort`: resources ordered by the values of search parameters.

use super::compile::{compiled, find, params_of};
use super::Searchable;
use crate::search::{SearchError, SortKey};
use fhir_model::fhirpath::extract::{Compiled, IndexValue};
use std::cmp::Ordering;

/// `_sort` keys compiled for one resource type.
///
/// Each resource's key for a parameter is its lowest value when ascending and its highest
/// when descending (for dates: the start and the end of their ranges); strings compare
/// normalized (lowercase, without accents), tokens by code, references by their text.
/// Resources without a value come last, whichever the direction; ties keep their order.
///
/// ```
/// use fhir_rocket::model::r4::Resource;
/// use fhir_rocket::search::matcher::Sorter;
/// use fhir_rocket::search::parse_query;
///
/// let mut resources: Vec<Resource> = [
///     r#"{"resourceType":"Patient","id":"a","birthDate":"1990"}"#,
///     r#"{"resourceType":"Patient","id":"b"}"#,
///     r#"{"resourceType":"Patient","id":"c","birthDate":"1970-05-06"}"#,
/// ]
/// .iter()
/// .map(|json| Resource::from_json(json).unwrap())
/// .collect();
/// let sort = parse_query("_sort=-birthdate").unwrap().take_result_params().unwrap().sort;
/// let sorter = Sorter::new::<Resource>("Patient", &sort).unwrap();
/// sorter.sort(&mut resources, |r| r).unwrap();
/// let ids: Vec<_> = resources.iter().map(|r| fhir_rocket::model::FhirResource::id(r).unwrap()).collect();
/// assert_eq!(ids, ["a", "c", "b"]);
/// ```
#[derive(Debug)]
pub struct Sorter {
    keys: Vec<(Compiled, bool)>,
}

/// One resource's value for one key.
#[derive(Debug, PartialEq, PartialOrd)]
enum Key {
    Number(f64),
    Time(i128),
    Text(String),
}

impl Sorter {
    /// Compiles the keys for `resource_type`; a key that is not a search parameter of the type,
    /// or cannot be evaluated, is an error naming it.
    pub fn new<R: Searchable>(
        resource_type: &str,
        keys: &[SortKey],
    ) -> Result<Sorter, SearchError> {
        let params = params_of(R::SEARCH_PARAMETERS, resource_type)
            .ok_or_else(|| SearchError::new(format!("'{resource_type}' is not a resource type")))?;
        let keys = keys
            .iter()
            .map(|k| {
                let param = find(params, &k.name).ok_or_else(|| {
                    SearchError::for_param(
                        "_sort",
                        format!("'{}' is not a search parameter of {resource_type}", k.name),
                    )
                })?;
                Ok((
                    compiled(param, R::FHIR_VERSION, resource_type, "_sort")?,
                    k.descending,
                ))
            })
            .collect::<Result<_, SearchError>>()?;
        Ok(Sorter { keys })
    }

    /// Whether there is nothing to sort by.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sorts `items` by the resources `resource` gives of them (stable).
    pub fn sort<T, R: Searchable>(
        &self,
        items: &mut Vec<T>,
        resource: impl Fn(&T) -> &R,
    ) -> Result<(), SearchError> {
        if self.keys.is_empty() {
            return Ok(());
        }
        let mut keyed = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let node = resource(item).node();
            let mut keys = Vec::with_capacity(self.keys.len());
            for (param, descending) in &self.keys {
                let values = param
                    .values(node)
                    .map_err(|e| SearchError::for_param("_sort", e.to_string()))?;
                keys.push(key(&values, *descending));
            }
            keyed.push((keys, i));
        }
        keyed.sort_by(|(a, _), (b, _)| {
            for ((x, y), (_, descending)) in a.iter().zip(b).zip(&self.keys) {
                let order = match (x, y) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (Some(x), Some(y)) => {
                        let o = x.partial_cmp(y).unwrap_or(Ordering::Equal);
                        if *descending {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
            Ordering::Equal
        });
        let mut slots: Vec<Option<T>> = std::mem::take(items).into_iter().map(Some).collect();
        items.extend(keyed.into_iter().filter_map(|(_, i)| slots[i].take()));
        Ok(())
    }
}

/// The lowest (ascending) or highest (descending) value of a resource for one key.
fn key(values: &[IndexValue<'_>], descending: bool) -> Option<Key> {
    let mut best: Option<Key> = None;
    for v in values {
        let k = match v {
            IndexValue::Token(t) => t.code.as_deref().map(|c| Key::Text(c.to_string())),
            IndexValue::String(s) => Some(Key::Text(s.normalized.clone())),
            IndexValue::Date(d) => if descending { d.high } else { d.low }.map(Key::Time),
            IndexValue::Number(n) => Some(Key::Number(n.value)),
            IndexValue::Quantity(q) => if descending { q.high } else { q.low }.map(Key::Number),
            IndexValue::Reference(r) => r.reference.as_deref().map(|s| Key::Text(s.to_string())),
            IndexValue::Uri(u) => Some(Key::Text(u.to_string())),
            IndexValue::Composite(_) => None,
        };
        let Some(k) = k else { continue };
        let better = match &best {
            None => true,
            Some(b) => {
                let o = k.partial_cmp(b).unwrap_or(Ordering::Equal);
                if descending {
                    o.is_gt()
                } else {
                    o.is_lt()
                }
            }
        };
        if better {
            best = Some(k);
        }
    }
    best
}
