//! `token` search parameters, and `_id`.

use std::fmt;

use super::escape::{escape, split_unescaped, unescape};
use super::{empty_value, parse_missing, unsupported_modifier, ParamType, SearchValue};

/// The system part of a token search value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum TokenSystem {
    /// `code`: any system (or none).
    #[default]
    Any,
    /// `|code`: the coding/identifier must have no system.
    NoSystem,
    /// `system|code` or `system|`: exactly this system.
    Exactly(String),
}

/// The modifier of a token search value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TokenModifier {
    /// No modifier.
    #[default]
    None,
    /// `:text`: search the text/display; `code` holds the text.
    Text,
    /// `:not`: negation of the ordinary match.
    Not,
    /// `:above`: the code or one of its ancestors (subsumes).
    Above,
    /// `:below`: the code or one of its descendants (subsumed by).
    Below,
    /// `:in`: the code is in the value set whose URL is in `code`.
    In,
    /// `:not-in`: the code is not in the value set whose URL is in `code`.
    NotIn,
    /// `:of-type`: identifier type `system|code` plus `of_type_value`.
    OfType,
}

impl TokenModifier {
    /// The modifier as written after `:` (`None` has none).
    pub fn code(self) -> Option<&'static str> {
        Some(match self {
            TokenModifier::None => return None,
            TokenModifier::Text => "text",
            TokenModifier::Not => "not",
            TokenModifier::Above => "above",
            TokenModifier::Below => "below",
            TokenModifier::In => "in",
            TokenModifier::NotIn => "not-in",
            TokenModifier::OfType => "of-type",
        })
    }
}

/// A `token` search value: `system|code`, `|code`, `system|` or `code`.
///
/// Parts are split on an unescaped `|` and then unescaped, so `a\|b` is the
/// single code `a|b`. Modifiers:
///
/// * `:not`, `:above`, `:below`: same syntax as without a modifier.
/// * `:text`: `code` holds the whole unescaped text, `system` is `Any`.
/// * `:in`, `:not-in`: `code` holds the value set URL, `system` is `Any`.
/// * `:of-type`: `type-system|type-code|identifier-value` (all three
///   required): `system` = `Exactly(type-system)`, `code` = type code,
///   `of_type_value` = the identifier value.
/// * `:missing=true|false`: `missing` is set, `system` is `Any`, `code` is `None`.
///
/// ```
/// use fhir_rocket::search::{SearchValue, TokenModifier, TokenParam, TokenSystem};
///
/// let t = TokenParam::parse(None, "http://loinc.org|1234-5").unwrap();
/// assert_eq!(t.system, TokenSystem::Exactly("http://loinc.org".into()));
/// assert_eq!(t.code.as_deref(), Some("1234-5"));
///
/// let t = TokenParam::parse(None, "|active").unwrap();
/// assert_eq!(t.system, TokenSystem::NoSystem);
///
/// let t = TokenParam::parse(Some("of-type"), "http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053").unwrap();
/// assert_eq!(t.modifier, TokenModifier::OfType);
/// assert_eq!(t.of_type_value.as_deref(), Some("446053"));
///
/// assert!(TokenParam::parse(Some("exact"), "x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenParam {
    /// The system constraint.
    pub system: TokenSystem,
    /// The code (or text, or value set URL; see the type docs). `None` for
    /// `system|` and `:missing`.
    pub code: Option<String>,
    /// The modifier.
    pub modifier: TokenModifier,
    /// For `:of-type`, the identifier value (third part); otherwise `None`.
    pub of_type_value: Option<String>,
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

impl TokenParam {
    /// Parses `system|code`, `|code`, `system|` or `code` (still escaped).
    fn parse_system_code(value: &str) -> Result<(TokenSystem, Option<String>), String> {
        let parts = split_unescaped(value, '|');
        match parts.as_slice() {
            [code] => Ok((TokenSystem::Any, Some(unescape(code)?))),
            ["", ""] => Err(format!("'{value}' has neither a system nor a code")),
            ["", code] => Ok((TokenSystem::NoSystem, Some(unescape(code)?))),
            [system, ""] => Ok((TokenSystem::Exactly(unescape(system)?), None)),
            [system, code] => Ok((TokenSystem::Exactly(unescape(system)?), Some(unescape(code)?))),
            _ => Err(format!(
                "'{value}' is not a valid token: expected 'system|code' with at most one unescaped '|' (escape a literal bar as '\\|')"
            )),
        }
    }

    /// Whether a coding or identifier with this `system` and `code` matches,
    /// for the modifiers that need no terminology or narrative: `None` and
    /// `:not` (and `:missing`, where the element is present). Returns `None`
    /// for the other modifiers.
    ///
    /// ```
    /// use fhir_rocket::search::{SearchValue, TokenParam};
    ///
    /// let t = TokenParam::parse(None, "http://loinc.org|1234-5").unwrap();
    /// assert_eq!(t.matches_coding(Some("http://loinc.org"), "1234-5"), Some(true));
    /// assert_eq!(t.matches_coding(None, "1234-5"), Some(false));
    /// ```
    pub fn matches_coding(&self, system: Option<&str>, code: &str) -> Option<bool> {
        if let Some(m) = self.missing {
            return Some(!m);
        }
        let system_ok = match &self.system {
            TokenSystem::Any => true,
            TokenSystem::NoSystem => system.is_none(),
            TokenSystem::Exactly(s) => system == Some(s.as_str()),
        };
        let code_ok = self.code.as_deref().is_none_or(|c| c == code);
        match self.modifier {
            TokenModifier::None => Some(system_ok && code_ok),
            TokenModifier::Not => Some(!(system_ok && code_ok)),
            _ => None,
        }
    }
}

impl SearchValue for TokenParam {
    const TYPE: ParamType = ParamType::Token;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        let modifier = match modifier {
            None => TokenModifier::None,
            Some("text") => TokenModifier::Text,
            Some("not") => TokenModifier::Not,
            Some("above") => TokenModifier::Above,
            Some("below") => TokenModifier::Below,
            Some("in") => TokenModifier::In,
            Some("not-in") => TokenModifier::NotIn,
            Some("of-type") => TokenModifier::OfType,
            Some("missing") => {
                return Ok(TokenParam {
                    missing: Some(parse_missing(value)?),
                    ..TokenParam::default()
                })
            }
            Some(m) => return Err(unsupported_modifier(m, "token")),
        };
        if value.is_empty() {
            return Err(empty_value());
        }
        let mut t = TokenParam {
            modifier,
            ..TokenParam::default()
        };
        match modifier {
            TokenModifier::Text | TokenModifier::In | TokenModifier::NotIn => {
                t.code = Some(unescape(value)?);
            }
            TokenModifier::OfType => {
                let parts = split_unescaped(value, '|');
                match parts.as_slice() {
                    [system, code, id] if !system.is_empty() && !code.is_empty() && !id.is_empty() => {
                        t.system = TokenSystem::Exactly(unescape(system)?);
                        t.code = Some(unescape(code)?);
                        t.of_type_value = Some(unescape(id)?);
                    }
                    _ => {
                        return Err(format!(
                            "'{value}' is not valid for ':of-type': expected 'type-system|type-code|identifier-value'"
                        ))
                    }
                }
            }
            _ => {
                let (system, code) = TokenParam::parse_system_code(value)?;
                t.system = system;
                t.code = code;
            }
        }
        Ok(t)
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

impl fmt::Display for TokenParam {
    /// Writes the value in query syntax (escaped, without the modifier).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = self.missing {
            return write!(f, "{m}");
        }
        let code = self.code.as_deref().map(escape).unwrap_or_default();
        match &self.system {
            TokenSystem::Any => f.write_str(&code)?,
            TokenSystem::NoSystem => write!(f, "|{code}")?,
            TokenSystem::Exactly(s) => write!(f, "{}|{}", escape(s), code)?,
        }
        if let Some(v) = &self.of_type_value {
            write!(f, "|{}", escape(v))?;
        }
        Ok(())
    }
}

/// Whether `id` is a valid FHIR resource id: 1–64 of `A-Z a-z 0-9 - .`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// An `_id` search value: one logical id (use `OrList<IdParam>` for `_id=a,b`).
///
/// The id must be a valid FHIR id (1–64 of `A-Z a-z 0-9 - .`). The only
/// modifier is `:missing`, which leaves `id` empty.
///
/// ```
/// use fhir_rocket::search::{parse_query, IdParam, OrList};
///
/// let q = parse_query("_id=a1,b-2").unwrap();
/// let ids: OrList<IdParam> = q.extract("_id").unwrap();
/// assert_eq!(ids[1].id, "b-2");
/// assert!(parse_query("_id=a/b").unwrap().extract::<IdParam>("_id").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdParam {
    /// The logical id.
    pub id: String,
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

impl SearchValue for IdParam {
    const TYPE: ParamType = ParamType::Token;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        match modifier {
            None => {}
            Some("missing") => {
                return Ok(IdParam {
                    id: String::new(),
                    missing: Some(parse_missing(value)?),
                })
            }
            Some(m) => return Err(unsupported_modifier(m, "_id")),
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        let id = unescape(value)?;
        if !is_valid_id(&id) {
            return Err(format!("'{value}' is not a valid resource id"));
        }
        Ok(IdParam { id, missing: None })
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(m: Option<&str>, v: &str) -> TokenParam {
        TokenParam::parse(m, v).unwrap()
    }

    #[test]
    fn four_forms() {
        let t = tp(None, "sys|code");
        assert_eq!(t.system, TokenSystem::Exactly("sys".into()));
        assert_eq!(t.code.as_deref(), Some("code"));
        let t = tp(None, "|code");
        assert_eq!(
            (t.system, t.code.as_deref()),
            (TokenSystem::NoSystem, Some("code"))
        );
        let t = tp(None, "sys|");
        assert_eq!(
            (t.system, t.code),
            (TokenSystem::Exactly("sys".into()), None)
        );
        let t = tp(None, "code");
        assert_eq!(
            (t.system, t.code.as_deref()),
            (TokenSystem::Any, Some("code"))
        );
        assert_eq!(t.modifier, TokenModifier::None);
    }

    #[test]
    fn escaping_in_tokens() {
        let t = tp(None, r"sys\|tem|co\|de");
        assert_eq!(t.system, TokenSystem::Exactly("sys|tem".into()));
        assert_eq!(t.code.as_deref(), Some("co|de"));
        let t = tp(None, r"a\|b");
        assert_eq!(
            (t.system, t.code.as_deref()),
            (TokenSystem::Any, Some("a|b"))
        );
        assert_eq!(tp(None, r"x\,y\$z\\").code.as_deref(), Some(r"x,y$z\"));
        assert!(TokenParam::parse(None, r"a\b").is_err());
        assert!(TokenParam::parse(None, "sys|code\\").is_err());
        assert_eq!(tp(None, r"s\|t|c\,d").to_string(), r"s\|t|c\,d");
    }

    #[test]
    fn token_errors() {
        assert!(TokenParam::parse(None, "|")
            .unwrap_err()
            .contains("neither"));
        assert!(TokenParam::parse(None, "a|b|c")
            .unwrap_err()
            .contains("at most one"));
        assert!(TokenParam::parse(None, "").unwrap_err().contains("empty"));
        assert!(TokenParam::parse(Some("exact"), "a")
            .unwrap_err()
            .contains(":exact"));
        assert!(TokenParam::parse(Some("contains"), "a").is_err());
        assert!(TokenParam::parse(Some("identifier"), "a").is_err());
        assert!(TokenParam::parse(Some("missing"), "1").is_err());
    }

    #[test]
    fn modifiers() {
        let t = tp(Some("text"), "headache|severe");
        assert_eq!(t.modifier, TokenModifier::Text);
        assert_eq!(t.system, TokenSystem::Any);
        assert_eq!(t.code.as_deref(), Some("headache|severe"));
        let t = tp(Some("not"), "http://hl7.org/fhir/gender|male");
        assert_eq!(t.modifier, TokenModifier::Not);
        assert_eq!(t.code.as_deref(), Some("male"));
        assert_eq!(tp(Some("above"), "sct|123").modifier, TokenModifier::Above);
        assert_eq!(tp(Some("below"), "sct|123").modifier, TokenModifier::Below);
        let t = tp(Some("in"), "http://example.org/ValueSet/vs");
        assert_eq!(t.modifier, TokenModifier::In);
        assert_eq!(t.code.as_deref(), Some("http://example.org/ValueSet/vs"));
        let t = tp(Some("not-in"), "http://example.org/ValueSet/vs|1.0");
        assert_eq!(t.modifier, TokenModifier::NotIn);
        assert_eq!(
            t.code.as_deref(),
            Some("http://example.org/ValueSet/vs|1.0")
        );
        for m in ["text", "not", "above", "below", "in", "not-in", "of-type"] {
            let parsed = match m {
                "of-type" => tp(Some(m), "a|b|c"),
                _ => tp(Some(m), "x"),
            };
            assert_eq!(parsed.modifier.code(), Some(m));
        }
        assert_eq!(TokenModifier::None.code(), None);
    }

    #[test]
    fn of_type() {
        let t = tp(
            Some("of-type"),
            r"http://terminology.hl7.org/CodeSystem/v2-0203|MR|44\|6053",
        );
        assert_eq!(
            t.system,
            TokenSystem::Exactly("http://terminology.hl7.org/CodeSystem/v2-0203".into())
        );
        assert_eq!(t.code.as_deref(), Some("MR"));
        assert_eq!(t.of_type_value.as_deref(), Some("44|6053"));
        assert_eq!(
            t.to_string(),
            r"http://terminology.hl7.org/CodeSystem/v2-0203|MR|44\|6053"
        );
        for bad in ["a|b", "a", "|b|c", "a||c", "a|b|", "a|b|c|d"] {
            let e = TokenParam::parse(Some("of-type"), bad).unwrap_err();
            assert!(e.contains("of-type"), "{bad}: {e}");
        }
    }

    #[test]
    fn missing() {
        let t = tp(Some("missing"), "false");
        assert_eq!(t.missing, Some(false));
        assert_eq!(t.code, None);
        assert_eq!(t.matches_coding(None, "x"), Some(true));
        assert_eq!(
            tp(Some("missing"), "true").matches_coding(None, "x"),
            Some(false)
        );
    }

    #[test]
    fn matching_codings() {
        let t = tp(None, "code");
        assert_eq!(t.matches_coding(Some("any"), "code"), Some(true));
        assert_eq!(t.matches_coding(None, "code"), Some(true));
        assert_eq!(t.matches_coding(None, "Code"), Some(false));
        let t = tp(None, "|code");
        assert_eq!(t.matches_coding(Some("s"), "code"), Some(false));
        assert_eq!(t.matches_coding(None, "code"), Some(true));
        let t = tp(None, "s|");
        assert_eq!(t.matches_coding(Some("s"), "whatever"), Some(true));
        assert_eq!(t.matches_coding(Some("t"), "whatever"), Some(false));
        let t = tp(Some("not"), "s|c");
        assert_eq!(t.matches_coding(Some("s"), "c"), Some(false));
        assert_eq!(t.matches_coding(Some("s"), "d"), Some(true));
        assert_eq!(tp(Some("in"), "vs").matches_coding(None, "c"), None);
    }

    #[test]
    fn display() {
        assert_eq!(tp(None, "s|c").to_string(), "s|c");
        assert_eq!(tp(None, "|c").to_string(), "|c");
        assert_eq!(tp(None, "s|").to_string(), "s|");
        assert_eq!(tp(None, "c").to_string(), "c");
        assert_eq!(tp(Some("missing"), "true").to_string(), "true");
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("abc-1.2"));
        assert!(is_valid_id(&"a".repeat(64)));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a_b"));
        assert!(!is_valid_id("a/b"));
        assert_eq!(IdParam::parse(None, "x1").unwrap().id, "x1");
        assert!(IdParam::parse(None, "a b")
            .unwrap_err()
            .contains("not a valid resource id"));
        assert!(IdParam::parse(None, "").is_err());
        assert!(IdParam::parse(Some("exact"), "a").is_err());
        assert_eq!(
            IdParam::parse(Some("missing"), "true").unwrap().missing,
            Some(true)
        );
        assert_eq!(IdParam::TYPE, ParamType::Token);
    }
}
