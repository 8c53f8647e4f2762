//! `uri` and `special` search parameters.

use super::escape::unescape;
use super::{empty_value, parse_missing, unsupported_modifier, ParamType, SearchValue};

/// The modifier of a `uri` search value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UriModifier {
    /// Exact match.
    #[default]
    None,
    /// `:above`: the value starts with the resource's URI (the resource URI is
    /// a prefix of the search value).
    Above,
    /// `:below`: the resource's URI starts with the value.
    Below,
}

/// A `uri` search value, e.g. `url=http://acme.org/fhir/ValueSet/123` or
/// `url:below=http://acme.org/fhir/`.
///
/// `:missing=true|false` sets `missing` and leaves `value` empty.
///
/// ```
/// use fhir_rocket::search::{SearchValue, UriModifier, UriParam};
///
/// let u = UriParam::parse(Some("below"), "http://acme.org/fhir/").unwrap();
/// assert_eq!(u.modifier, UriModifier::Below);
/// assert!(u.matches("http://acme.org/fhir/ValueSet/1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UriParam {
    /// The unescaped URI.
    pub value: String,
    /// The modifier.
    pub modifier: UriModifier,
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

impl UriParam {
    /// Whether a resource's URI `candidate` matches: equality, or the prefix
    /// relations of `:above`/`:below` (plain string prefixes). For `:missing`,
    /// `true` exactly when it is `:missing=false`.
    pub fn matches(&self, candidate: &str) -> bool {
        if let Some(m) = self.missing {
            return !m;
        }
        match self.modifier {
            UriModifier::None => candidate == self.value,
            UriModifier::Above => self.value.starts_with(candidate),
            UriModifier::Below => candidate.starts_with(&self.value),
        }
    }
}

impl SearchValue for UriParam {
    const TYPE: ParamType = ParamType::Uri;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        let modifier = match modifier {
            None => UriModifier::None,
            Some("above") => UriModifier::Above,
            Some("below") => UriModifier::Below,
            Some("missing") => {
                return Ok(UriParam {
                    missing: Some(parse_missing(value)?),
                    ..UriParam::default()
                })
            }
            Some(m) => return Err(unsupported_modifier(m, "uri")),
        };
        if value.is_empty() {
            return Err(empty_value());
        }
        Ok(UriParam {
            value: unescape(value)?,
            modifier,
            missing: None,
        })
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

/// A `special` search value (e.g. `near`, `_text`-like parameters a server
/// defines itself): the unescaped text, interpreted by the caller.
///
/// `:missing=true|false` sets `missing` and leaves `value` empty; other
/// modifiers are errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpecialParam {
    /// The unescaped value.
    pub value: String,
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

impl SearchValue for SpecialParam {
    const TYPE: ParamType = ParamType::Special;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        match modifier {
            None => {}
            Some("missing") => {
                return Ok(SpecialParam {
                    value: String::new(),
                    missing: Some(parse_missing(value)?),
                })
            }
            Some(m) => return Err(unsupported_modifier(m, "special")),
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        Ok(SpecialParam {
            value: unescape(value)?,
            missing: None,
        })
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_modifiers() {
        let u = UriParam::parse(None, "http://a.org/x").unwrap();
        assert_eq!(u.modifier, UriModifier::None);
        assert!(u.matches("http://a.org/x"));
        assert!(!u.matches("http://a.org/x/y"));
        let u = UriParam::parse(Some("above"), "http://a.org/fhir/ValueSet/1").unwrap();
        assert_eq!(u.modifier, UriModifier::Above);
        assert!(u.matches("http://a.org/fhir"));
        assert!(!u.matches("http://b.org"));
        let u = UriParam::parse(Some("below"), "http://a.org/").unwrap();
        assert!(u.matches("http://a.org/fhir/1"));
        assert!(!u.matches("http://b.org/"));
    }

    #[test]
    fn uri_values_and_errors() {
        assert_eq!(UriParam::parse(None, r"urn:a\,b").unwrap().value, "urn:a,b");
        assert!(UriParam::parse(None, "").is_err());
        assert!(UriParam::parse(None, r"x\y").is_err());
        assert!(UriParam::parse(Some("contains"), "x")
            .unwrap_err()
            .contains(":contains"));
        assert!(UriParam::parse(Some("exact"), "x").is_err());
        let m = UriParam::parse(Some("missing"), "true").unwrap();
        assert_eq!(m.missing, Some(true));
        assert!(!m.matches("x"));
        assert!(UriParam::parse(Some("missing"), "false")
            .unwrap()
            .matches("x"));
    }

    #[test]
    fn special() {
        assert_eq!(
            SpecialParam::parse(None, r"1.2|3\,4").unwrap().value,
            "1.2|3,4"
        );
        assert_eq!(
            SpecialParam::parse(Some("missing"), "false")
                .unwrap()
                .missing,
            Some(false)
        );
        assert!(SpecialParam::parse(Some("x"), "1").is_err());
        assert!(SpecialParam::parse(None, "").is_err());
        assert_eq!(SpecialParam::TYPE, ParamType::Special);
    }
}
