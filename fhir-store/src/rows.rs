//! A resource as rows of the index tables (docs/storage.md): every value of every stored
//! search parameter of its type, extracted by FHIRPath and shaped for the queries that read
//! them: strings normalized and cut, tokens hashed, dates as integer microseconds, numbers
//! as the range their written precision stands for, references split into type, id and
//! version (or kept as a URL when they point elsewhere).

use crate::catalog::Catalog;
use crate::hash::stable_hash;
use fhir_model::fhirpath::extract::{
    normalize, DateValue, ExtractError, IndexValue, QuantityValue, ReferenceValue, Token,
};
use fhir_model::FhirResource;
use fhir_rocket::search::matcher::Searchable;

/// The longest normalized string stored, in characters: a longer value is matched on this
/// prefix and rechecked against `exact`.
pub const MAX_NORMALIZED: usize = 256;

/// Which parameter a row belongs to, and for a composite's component, which value of the
/// composite (`group`, counted from 0 in the resource) and which component (`part`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowKey {
    /// The parameter (the composite's own number for its components).
    pub sp_id: i32,
    /// `(group, part)` for a component of a composite.
    pub composite: Option<(i32, i16)>,
}

/// An `idx_string` row.
#[derive(Debug, Clone, PartialEq)]
pub struct StringRow {
    /// The parameter.
    pub key: RowKey,
    /// Lowercase, without accents, whitespace collapsed, at most [`MAX_NORMALIZED`] characters.
    pub normalized: String,
    /// As written.
    pub exact: String,
    /// `hash(sp_id, exact)`, for `:exact`.
    pub hash_exact: i64,
}

/// A row of one of the index tables, which all start with its [`RowKey`].
pub trait IndexRow {
    /// Its parameter and its place in a composite value.
    fn key(&self) -> RowKey;
}

macro_rules! index_rows_have_keys {
    ($($row:ty),*) => {
        $(impl IndexRow for $row {
            fn key(&self) -> RowKey {
                self.key
            }
        })*
    };
}

index_rows_have_keys!(
    StringRow,
    TokenRow,
    DateRow,
    NumberRow,
    QuantityRow,
    UriRow,
    ReferenceRow
);

/// An `idx_token` row.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    /// The parameter.
    pub key: RowKey,
    /// 0: a code; 1: an identifier's type and value (for `:of-type`, `code` = `type|value`).
    pub kind: i16,
    /// `hash(system)`, for `system|` (any code of the system); none without a system.
    pub hash_system: Option<i64>,
    /// The code.
    pub code: Option<String>,
    /// The display or text, normalized, for `:text`.
    pub text_norm: Option<String>,
    /// `hash(sp_id, kind, system, code)`.
    pub hash_sys_code: i64,
    /// `hash(sp_id, kind, code)`.
    pub hash_code: i64,
}

/// An `idx_date` row: `[low, high)` in microseconds since 1970-01-01T00:00:00Z, unbounded ends
/// as `i64::MIN` and `i64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRow {
    /// The parameter.
    pub key: RowKey,
    /// Start (included).
    pub low: i64,
    /// End (excluded).
    pub high: i64,
}

/// An `idx_number` row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberRow {
    /// The parameter.
    pub key: RowKey,
    /// The value less half its last written digit (`1.50`: 1.495).
    pub low: f64,
    /// The value plus the same.
    pub high: f64,
    /// The value.
    pub value: f64,
}

/// An `idx_quantity` row.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityRow {
    /// The parameter.
    pub key: RowKey,
    /// The low end (`None`: a range open below).
    pub low: Option<f64>,
    /// The high end (`None`: open above).
    pub high: Option<f64>,
    /// The unit's system.
    pub system: Option<String>,
    /// The unit's code.
    pub code: Option<String>,
    /// The unit as written.
    pub unit: Option<String>,
    /// `hash(sp_id, system, code)`.
    pub hash_units: i64,
}

/// An `idx_uri` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriRow {
    /// The parameter.
    pub key: RowKey,
    /// The URI.
    pub uri: String,
}

/// An `idx_reference` row: a reference to a resource of this server as its type and id (and
/// version), else the URL as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRow {
    /// The parameter.
    pub key: RowKey,
    /// The type it names (`res_type`), for a reference to this server.
    pub target_type: Option<i16>,
    /// The id it names.
    pub target_id: Option<String>,
    /// The version of a `.../_history/n` reference.
    pub target_version: Option<i64>,
    /// Another server's URL, a canonical, or a reference that names no type of this version.
    pub target_url: Option<String>,
}

/// Every index row of one resource.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct IndexRows {
    /// `idx_string`
    pub strings: Vec<StringRow>,
    /// `idx_token`
    pub tokens: Vec<TokenRow>,
    /// `idx_date`
    pub dates: Vec<DateRow>,
    /// `idx_number`
    pub numbers: Vec<NumberRow>,
    /// `idx_quantity`
    pub quantities: Vec<QuantityRow>,
    /// `idx_uri`
    pub uris: Vec<UriRow>,
    /// `idx_reference`
    pub references: Vec<ReferenceRow>,
}

impl IndexRows {
    /// How many rows in all.
    pub fn len(&self) -> usize {
        self.strings.len()
            + self.tokens.len()
            + self.dates.len()
            + self.numbers.len()
            + self.quantities.len()
            + self.uris.len()
            + self.references.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a resource's rows could not be made: a parameter whose expression failed on it. The
/// write is refused rather than stored with a parameter missing, which would make searches
/// on it silently wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum RowError {
    /// The resource's type is not one of the catalog's version.
    UnknownType(String),
    /// A parameter's expression failed on the resource.
    Extract {
        /// The parameter's code.
        param: &'static str,
        /// What failed.
        error: ExtractError,
    },
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowError::UnknownType(t) => write!(f, "no resource type {t} in this version"),
            RowError::Extract { param, error } => {
                write!(
                    f,
                    "the search parameter {param} could not be indexed: {error}"
                )
            }
        }
    }
}

impl std::error::Error for RowError {}

/// The index rows of `resource`. `base_url` is this server's base (`http://host/fhir`):
/// references to it are stored by type and id like relative ones.
pub fn index_rows<R: Searchable + FhirResource>(
    resource: &R,
    catalog: &Catalog,
    base_url: Option<&str>,
) -> Result<IndexRows, RowError> {
    let name = resource.resource_type();
    let params = catalog
        .resource_type(name)
        .ok_or_else(|| RowError::UnknownType(name.to_string()))?;
    let node = resource.node();
    let mut rows = IndexRows::default();
    let writer = Writer { catalog, base_url };
    for (id, compiled) in &params.indexed {
        let values = compiled.values(node).map_err(|error| RowError::Extract {
            param: compiled.param.code,
            error,
        })?;
        let mut group = 0;
        for value in &values {
            let key = RowKey {
                sp_id: id.sp_id,
                composite: None,
            };
            if let IndexValue::Composite(parts) = value {
                for (part, part_values) in parts.iter().enumerate() {
                    let key = RowKey {
                        sp_id: id.sp_id,
                        composite: Some((group, part as i16)),
                    };
                    for v in part_values {
                        writer.push(key, v, &mut rows);
                    }
                }
                group += 1;
            } else {
                writer.push(key, value, &mut rows);
            }
        }
    }
    Ok(rows)
}

struct Writer<'c> {
    catalog: &'c Catalog,
    base_url: Option<&'c str>,
}

impl Writer<'_> {
    fn push(&self, key: RowKey, value: &IndexValue<'_>, rows: &mut IndexRows) {
        match value {
            IndexValue::String(s) => rows.strings.push(StringRow {
                key,
                normalized: s.normalized.chars().take(MAX_NORMALIZED).collect(),
                exact: s.text.to_string(),
                hash_exact: stable_hash(&[&key.sp_id.to_be_bytes(), s.text.as_bytes()]),
            }),
            IndexValue::Token(t) => token_rows(key, t, rows),
            IndexValue::Date(d) => rows.dates.push(date_row(key, d)),
            IndexValue::Number(n) => {
                let half = half_unit(&n.text);
                rows.numbers.push(NumberRow {
                    key,
                    low: n.value - half,
                    high: n.value + half,
                    value: n.value,
                })
            }
            IndexValue::Quantity(q) => rows.quantities.push(quantity_row(key, q)),
            IndexValue::Uri(u) => rows.uris.push(UriRow {
                key,
                uri: u.to_string(),
            }),
            IndexValue::Reference(r) => self.reference_rows(key, r, rows),
            // Composites are taken apart by the caller; one inside another does not occur.
            IndexValue::Composite(_) => {}
        }
    }

    fn reference_rows(&self, key: RowKey, r: &ReferenceValue<'_>, rows: &mut IndexRows) {
        if let Some(identifier) = &r.identifier {
            token_rows(key, identifier, rows);
        }
        let Some(reference) = r.reference.as_deref() else {
            return;
        };
        let local = match self.base_url {
            Some(base) => reference
                .strip_prefix(base.trim_end_matches('/'))
                .and_then(|rest| rest.strip_prefix('/'))
                .map_or(
                    !reference.contains("://") && !reference.starts_with("urn:"),
                    |_| true,
                ),
            None => !reference.contains("://") && !reference.starts_with("urn:"),
        };
        let target_type = r
            .resource_type
            .and_then(|t| self.catalog.resource_type(t))
            .map(|t| t.res_type);
        match (local, target_type, r.id) {
            (true, Some(target_type), Some(id)) => rows.references.push(ReferenceRow {
                key,
                target_type: Some(target_type),
                target_id: Some(id.to_string()),
                target_version: history_version(reference),
                target_url: None,
            }),
            _ => rows.references.push(ReferenceRow {
                key,
                target_type: None,
                target_id: None,
                target_version: None,
                target_url: Some(reference.to_string()),
            }),
        }
    }
}

fn token_rows(key: RowKey, t: &Token<'_>, rows: &mut IndexRows) {
    let sp = key.sp_id.to_be_bytes();
    let system = t.system.unwrap_or("");
    let code = t.code.as_deref().unwrap_or("");
    let kind: i16 = 0;
    rows.tokens.push(TokenRow {
        key,
        kind,
        hash_system: t.system.map(|s| stable_hash(&[s.as_bytes()])),
        code: t.code.as_deref().map(str::to_string),
        // `:text` is not a modifier a composite's component takes.
        text_norm: t.text.filter(|_| key.composite.is_none()).map(normalize),
        hash_sys_code: stable_hash(&[&sp, &kind.to_be_bytes(), system.as_bytes(), code.as_bytes()]),
        hash_code: stable_hash(&[&sp, &kind.to_be_bytes(), code.as_bytes()]),
    });
    for (type_system, type_code) in &t.of_type {
        let kind: i16 = 1;
        let system = type_system.unwrap_or("");
        let value = format!("{type_code}|{code}");
        rows.tokens.push(TokenRow {
            key,
            kind,
            hash_system: type_system.map(|s| stable_hash(&[s.as_bytes()])),
            code: Some(value.clone()),
            text_norm: None,
            hash_sys_code: stable_hash(&[
                &sp,
                &kind.to_be_bytes(),
                system.as_bytes(),
                value.as_bytes(),
            ]),
            hash_code: stable_hash(&[&sp, &kind.to_be_bytes(), value.as_bytes()]),
        });
    }
}

/// Nanoseconds to microseconds, the range only widened: `low` rounded down, `high` up.
fn date_row(key: RowKey, d: &DateValue) -> DateRow {
    DateRow {
        key,
        low: d.low.map_or(i64::MIN, |ns| micros(ns, false)),
        high: d.high.map_or(i64::MAX, |ns| micros(ns, true)),
    }
}

/// Nanoseconds as the microseconds the tables hold: rounded down (`ceil` false, a range's
/// start) or up (its end), so that a range is only ever widened; clamped to 64 bits. Rows,
/// search values and history windows all convert through it, so they agree.
pub(crate) fn micros(ns: i128, ceil: bool) -> i64 {
    let us = ns.div_euclid(1000) + i128::from(ceil && ns.rem_euclid(1000) != 0);
    us.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn quantity_row(key: RowKey, q: &QuantityValue<'_>) -> QuantityRow {
    let system = q.system.unwrap_or("");
    let code = q.code.unwrap_or("");
    QuantityRow {
        key,
        low: q.low,
        high: q.high,
        system: q.system.map(str::to_string),
        code: q.code.map(str::to_string),
        unit: q.unit.map(str::to_string),
        hash_units: stable_hash(&[&key.sp_id.to_be_bytes(), system.as_bytes(), code.as_bytes()]),
    }
}

/// Half of the last written digit of a number (`1.50`: 0.005; `100`: 0.5; `1e2`: 0.5).
fn half_unit(text: &str) -> f64 {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let decimals = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i32);
    0.5 * 10f64.powi(exponent - decimals)
}

/// The version of a `.../_history/n` reference.
fn history_version(reference: &str) -> Option<i64> {
    let (_, version) = reference.rsplit_once("/_history/")?;
    version.parse().ok()
}

#[cfg(test)]
mod tests;
