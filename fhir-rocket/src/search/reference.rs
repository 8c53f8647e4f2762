//! `reference` search parameters, chains, and reverse chains (`_has`).

use super::escape::{split_once_unescaped, unescape};
use super::token::is_valid_id;
use super::{empty_value, parse_missing, unsupported_modifier, ParamType, SearchValue, TokenParam};

/// Whether `name` looks like a FHIR resource type name (`[A-Z][A-Za-z0-9]*`).
pub fn is_resource_type(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z')) && bytes.all(|b| b.is_ascii_alphanumeric())
}

fn valid_chain(chain: &str) -> bool {
    !chain.is_empty() && chain.split('.').all(|segment| !segment.is_empty())
}

/// A `reference` search value.
///
/// Values:
///
/// | value | fields set |
/// |---|---|
/// | `123` | `id` (and `resource_type` from a `:Type` modifier) |
/// | `Patient/123` | `resource_type`, `id` |
/// | `Patient/123/_history/2` | `resource_type`, `id`, `version` |
/// | `http://x/fhir/Patient/123` | `url`, plus `resource_type`/`id` (and `version` for `/_history/v`) when the URL ends that way |
/// | `http://x/ValueSet/vs\|1.0` (canonical) | `url` (without the version), `version` |
///
/// Modifiers ([`QueryParam`](super::QueryParam) explains how names are split):
///
/// * `:Patient`: the target type; the value must be an id or `Patient/id`.
/// * `:identifier`: `identifier` holds the value as a token (`system|value`).
/// * chains: a modifier `.name` (from `subject.name=peter`) or
///   `Patient.name` (from `subject:Patient.name=peter`) sets `chain` to
///   `name` (everything after the first `.`, including any further chain or
///   modifier of the chained parameter) and `chain_value` to the value, still
///   FHIR-escaped, for the chained parameter's own parser.
/// * `:missing=true|false` sets `missing` and nothing else.
///
/// ```
/// use fhir_rocket::search::{parse_query, ReferenceParam, SearchValue};
///
/// let r = ReferenceParam::parse(None, "Patient/123/_history/2").unwrap();
/// assert_eq!(r.resource_type.as_deref(), Some("Patient"));
/// assert_eq!(r.id.as_deref(), Some("123"));
/// assert_eq!(r.version.as_deref(), Some("2"));
///
/// let q = parse_query("subject:Patient.name=peter").unwrap();
/// let r: ReferenceParam = q.extract("subject").unwrap();
/// assert_eq!(r.resource_type.as_deref(), Some("Patient"));
/// assert_eq!(r.chain.as_deref(), Some("name"));
/// assert_eq!(r.chain_value.as_deref(), Some("peter"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferenceParam {
    /// The target resource type (from the value or a `:Type` modifier).
    pub resource_type: Option<String>,
    /// The target logical id.
    pub id: Option<String>,
    /// The target version (`/_history/v`, or `|v` on a canonical URL).
    pub version: Option<String>,
    /// The absolute URL (without a canonical `|version`), for absolute references.
    pub url: Option<String>,
    /// The chained parameter, e.g. `name` for `subject.name=peter`.
    pub chain: Option<String>,
    /// For a chain, the (still escaped) value for the chained parameter.
    pub chain_value: Option<String>,
    /// For `:identifier`, the identifier as a token.
    pub identifier: Option<TokenParam>,
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

impl ReferenceParam {
    fn invalid(value: &str) -> String {
        format!(
            "'{value}' is not a valid reference: expected 'id', 'Type/id', 'Type/id/_history/version' or an absolute URL"
        )
    }

    /// Parses a plain (non-chained) reference value into `self`, honouring a
    /// type already set from the modifier.
    fn parse_target(&mut self, value: &str) -> Result<(), String> {
        let (main, canonical_version) = match split_once_unescaped(value, '|') {
            Some((main, version)) => (main, Some(unescape(version)?)),
            None => (value, None),
        };
        let text = unescape(main)?;
        let absolute = text.contains("://") || text.starts_with("urn:");
        let modifier_type = self.resource_type.take();
        let mut found_type = None;
        if absolute {
            let segments: Vec<&str> = text.split('/').collect();
            let tail = |k: usize| segments.len().checked_sub(k).map(|i| segments[i]);
            if tail(2) == Some("_history") && tail(4).is_some_and(is_resource_type) {
                let (ty, id, ver) = (tail(4), tail(3), tail(1));
                if let (Some(ty), Some(id), Some(ver)) = (ty, id, ver) {
                    if is_valid_id(id) && is_valid_id(ver) {
                        found_type = Some(ty.to_string());
                        self.id = Some(id.to_string());
                        self.version = Some(ver.to_string());
                    }
                }
            } else if let (Some(ty), Some(id)) = (tail(2), tail(1)) {
                if is_resource_type(ty) && is_valid_id(id) {
                    found_type = Some(ty.to_string());
                    self.id = Some(id.to_string());
                }
            }
            if let Some(v) = canonical_version {
                if v.is_empty() {
                    return Err(format!("'{value}' has an empty version after '|'"));
                }
                self.version = Some(v);
            }
            self.url = Some(text);
        } else {
            if canonical_version.is_some() {
                return Err(ReferenceParam::invalid(value));
            }
            let segments: Vec<&str> = text.split('/').collect();
            match segments.as_slice() {
                [id] if is_valid_id(id) => self.id = Some(id.to_string()),
                [ty, id] if is_resource_type(ty) && is_valid_id(id) => {
                    found_type = Some(ty.to_string());
                    self.id = Some(id.to_string());
                }
                [ty, id, "_history", ver]
                    if is_resource_type(ty) && is_valid_id(id) && is_valid_id(ver) =>
                {
                    found_type = Some(ty.to_string());
                    self.id = Some(id.to_string());
                    self.version = Some(ver.to_string());
                }
                _ => return Err(ReferenceParam::invalid(value)),
            }
        }
        self.resource_type = match (modifier_type, found_type) {
            (Some(m), Some(f)) if m != f => {
                return Err(format!(
                    "'{value}' refers to a {f}, but the modifier ':{m}' asks for a {m}"
                ))
            }
            (m, f) => f.or(m),
        };
        Ok(())
    }
}

impl SearchValue for ReferenceParam {
    const TYPE: ParamType = ParamType::Reference;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        let mut r = ReferenceParam::default();
        match modifier {
            Some("missing") => {
                r.missing = Some(parse_missing(value)?);
                return Ok(r);
            }
            Some("identifier") => {
                if value.is_empty() {
                    return Err(empty_value());
                }
                r.identifier = Some(TokenParam::parse(None, value)?);
                return Ok(r);
            }
            Some("") => return Err(unsupported_modifier("", "reference")),
            Some(m) => {
                let (ty, chain) = match m.split_once('.') {
                    Some((ty, chain)) => (ty, Some(chain)),
                    None => (m, None),
                };
                if !ty.is_empty() {
                    if !is_resource_type(ty) {
                        return Err(unsupported_modifier(m, "reference"));
                    }
                    r.resource_type = Some(ty.to_string());
                }
                if let Some(chain) = chain {
                    if !valid_chain(chain) {
                        return Err(format!("'{chain}' is not a valid chained parameter"));
                    }
                    if value.is_empty() {
                        return Err(empty_value());
                    }
                    unescape(value)?;
                    r.chain = Some(chain.to_string());
                    r.chain_value = Some(value.to_string());
                    return Ok(r);
                }
            }
            None => {}
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        r.parse_target(value)?;
        Ok(r)
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

/// A reverse chain, `_has:Observation:patient:code=1234`: resources that are
/// referenced by an `Observation` through its `patient` parameter, where that
/// Observation matches `code=1234`.
///
/// The modifier (everything after `_has:`) must have the form
/// `Type:reference-param:search-param`; `search_param` keeps everything after
/// the second `:`, so it may carry a modifier (`code:text`) or a nested
/// reverse chain (`_has:AuditEvent:entity:agent`); see
/// [`search_param_parts`](Self::search_param_parts). `value` is kept
/// FHIR-escaped for the inner parameter's parser. `_has` takes no
/// `:missing`; [`SearchValue::missing`] is always `None`.
///
/// ```
/// use fhir_rocket::search::{parse_query, HasParam};
///
/// let q = parse_query("_has:Observation:patient:code=1234-5").unwrap();
/// let h: HasParam = q.extract("_has").unwrap();
/// assert_eq!(h.target_type, "Observation");
/// assert_eq!(h.reference_param, "patient");
/// assert_eq!(h.search_param, "code");
/// assert_eq!(h.value, "1234-5");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HasParam {
    /// The referring resource type, e.g. `Observation`.
    pub target_type: String,
    /// Its reference parameter pointing back, e.g. `patient`.
    pub reference_param: String,
    /// The parameter to test on the referring resource, e.g. `code` (may
    /// include a modifier or a nested `_has:...`).
    pub search_param: String,
    /// The value for `search_param`, still FHIR-escaped.
    pub value: String,
}

impl HasParam {
    /// `search_param` split like a query parameter name: the name and the
    /// modifier after the first `:` (for a nested `_has`, the name is `_has`).
    pub fn search_param_parts(&self) -> (&str, Option<&str>) {
        match self.search_param.split_once(':') {
            Some((name, modifier)) => (name, Some(modifier)),
            None => (&self.search_param, None),
        }
    }
}

impl SearchValue for HasParam {
    const TYPE: ParamType = ParamType::Special;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        let expected =
            "_has must have the form '_has:Type:reference-parameter:search-parameter=value'";
        let modifier = modifier.ok_or_else(|| expected.to_string())?;
        let mut parts = modifier.splitn(3, ':');
        let (Some(ty), Some(reference), Some(search)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("'_has:{modifier}': {expected}"));
        };
        if !is_resource_type(ty) {
            return Err(format!("'_has:{modifier}': '{ty}' is not a resource type"));
        }
        if reference.is_empty() || search.is_empty() || search.starts_with(':') {
            return Err(format!("'_has:{modifier}': {expected}"));
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        unescape(value)?;
        Ok(HasParam {
            target_type: ty.to_string(),
            reference_param: reference.to_string(),
            search_param: search.to_string(),
            value: value.to_string(),
        })
    }

    fn missing(&self) -> Option<bool> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::TokenSystem;

    fn rp(m: Option<&str>, v: &str) -> ReferenceParam {
        ReferenceParam::parse(m, v).unwrap()
    }

    #[test]
    fn resource_types() {
        assert!(is_resource_type("Patient"));
        assert!(is_resource_type("A1"));
        assert!(!is_resource_type("patient"));
        assert!(!is_resource_type(""));
        assert!(!is_resource_type("Pat-ient"));
        assert!(!is_resource_type("Éclair"));
    }

    #[test]
    fn relative_forms() {
        let r = rp(None, "123");
        assert_eq!(
            (r.resource_type.as_deref(), r.id.as_deref()),
            (None, Some("123"))
        );
        let r = rp(None, "Patient/123");
        assert_eq!(
            (r.resource_type.as_deref(), r.id.as_deref()),
            (Some("Patient"), Some("123"))
        );
        assert_eq!(r.url, None);
        let r = rp(None, "Patient/123/_history/2");
        assert_eq!(r.version.as_deref(), Some("2"));
        assert_eq!(r.chain, None);
    }

    #[test]
    fn absolute_forms() {
        let r = rp(None, "http://x/fhir/Patient/123");
        assert_eq!(r.url.as_deref(), Some("http://x/fhir/Patient/123"));
        assert_eq!(r.resource_type.as_deref(), Some("Patient"));
        assert_eq!(r.id.as_deref(), Some("123"));
        let r = rp(None, "https://x/fhir/Patient/123/_history/7");
        assert_eq!(
            (r.id.as_deref(), r.version.as_deref()),
            (Some("123"), Some("7"))
        );
        let r = rp(None, "http://x/other/path");
        assert_eq!(r.url.as_deref(), Some("http://x/other/path"));
        assert_eq!((r.resource_type, r.id), (None, None));
        let r = rp(None, "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0");
        assert_eq!(
            r.url.as_deref(),
            Some("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0")
        );
        assert_eq!(r.id, None);
        let r = rp(None, r"http://x/ValueSet/vs|1.0");
        assert_eq!(r.url.as_deref(), Some("http://x/ValueSet/vs"));
        assert_eq!(r.version.as_deref(), Some("1.0"));
        assert_eq!(r.resource_type.as_deref(), Some("ValueSet"));
        let r = rp(None, r"http://x/a\,b");
        assert_eq!(r.url.as_deref(), Some("http://x/a,b"));
        assert!(ReferenceParam::parse(None, "http://x/ValueSet/vs|").is_err());
    }

    #[test]
    fn type_modifier() {
        let r = rp(Some("Patient"), "123");
        assert_eq!(
            (r.resource_type.as_deref(), r.id.as_deref()),
            (Some("Patient"), Some("123"))
        );
        let r = rp(Some("Patient"), "Patient/123");
        assert_eq!(r.resource_type.as_deref(), Some("Patient"));
        let e = ReferenceParam::parse(Some("Patient"), "Group/1").unwrap_err();
        assert!(e.contains("Group") && e.contains(":Patient"), "{e}");
        let r = rp(Some("Patient"), "http://x/y");
        assert_eq!(r.resource_type.as_deref(), Some("Patient"));
        assert!(ReferenceParam::parse(Some("Patient"), "http://x/Group/1").is_err());
    }

    #[test]
    fn chains() {
        let r = rp(Some(".name"), "peter");
        assert_eq!(r.chain.as_deref(), Some("name"));
        assert_eq!(r.chain_value.as_deref(), Some("peter"));
        assert_eq!((r.resource_type, r.id), (None, None));
        let r = rp(Some("Patient.name"), r"Smith\, J");
        assert_eq!(r.resource_type.as_deref(), Some("Patient"));
        assert_eq!(r.chain_value.as_deref(), Some(r"Smith\, J"));
        let r = rp(Some(".organization.name:exact"), "Acme");
        assert_eq!(r.chain.as_deref(), Some("organization.name:exact"));
        let r = rp(Some(".identifier"), "sys|1");
        assert_eq!(r.chain.as_deref(), Some("identifier"));
        assert_eq!(r.identifier, None);
        assert!(ReferenceParam::parse(Some("."), "x").is_err());
        assert!(ReferenceParam::parse(Some(".a..b"), "x").is_err());
        assert!(ReferenceParam::parse(Some("patient.name"), "x").is_err());
        assert!(ReferenceParam::parse(Some(".name"), "").is_err());
        assert!(ReferenceParam::parse(Some(".name"), r"bad\").is_err());
    }

    #[test]
    fn identifier_modifier() {
        let r = rp(Some("identifier"), "http://acme.org/mrn|12345");
        let t = r.identifier.unwrap();
        assert_eq!(t.system, TokenSystem::Exactly("http://acme.org/mrn".into()));
        assert_eq!(t.code.as_deref(), Some("12345"));
        assert_eq!(r.id, None);
        assert!(ReferenceParam::parse(Some("identifier"), "a|b|c").is_err());
        assert!(ReferenceParam::parse(Some("identifier"), "").is_err());
    }

    #[test]
    fn missing_and_errors() {
        assert_eq!(rp(Some("missing"), "true").missing, Some(true));
        assert!(ReferenceParam::parse(Some("missing"), "x").is_err());
        for bad in [
            "",
            "Patient/",
            "/123",
            "patient/123",
            "Patient/12 3",
            "a/b/c",
            "Patient/1/_history/",
            "Patient/1/history/2",
            "Patient/1|2",
            "Patient//1",
            r"Patient/1\",
        ] {
            assert!(ReferenceParam::parse(None, bad).is_err(), "{bad:?}");
        }
        assert!(ReferenceParam::parse(None, "a b")
            .unwrap_err()
            .contains("not a valid reference"));
        assert!(ReferenceParam::parse(Some("exact"), "1")
            .unwrap_err()
            .contains(":exact"));
        assert!(ReferenceParam::parse(Some("above"), "1").is_err());
    }

    #[test]
    fn has_param() {
        let h = HasParam::parse(Some("Observation:patient:code"), "1234").unwrap();
        assert_eq!(h.target_type, "Observation");
        assert_eq!(h.reference_param, "patient");
        assert_eq!(h.search_param, "code");
        assert_eq!(h.search_param_parts(), ("code", None));
        let h = HasParam::parse(Some("Observation:patient:code:text"), r"a\,b").unwrap();
        assert_eq!(h.search_param_parts(), ("code", Some("text")));
        assert_eq!(h.value, r"a\,b");
        let h = HasParam::parse(
            Some("Observation:patient:_has:AuditEvent:entity:agent"),
            "MyUser",
        )
        .unwrap();
        assert_eq!(
            h.search_param_parts(),
            ("_has", Some("AuditEvent:entity:agent"))
        );
        assert_eq!(h.missing(), None);
        assert_eq!(HasParam::TYPE, ParamType::Special);
        for bad in [
            None,
            Some("Observation"),
            Some("Observation:patient"),
            Some("observation:p:c"),
            Some("Observation::code"),
            Some("Observation:patient:"),
            Some("missing"),
        ] {
            assert!(HasParam::parse(bad, "1").is_err(), "{bad:?}");
        }
        assert!(HasParam::parse(Some("Observation:patient:code"), "").is_err());
        assert!(HasParam::parse(Some("Observation:patient:code"), "x\\").is_err());
    }
}
