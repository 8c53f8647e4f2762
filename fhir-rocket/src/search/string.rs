//! `string` search parameters.

use super::escape::unescape;
use super::{empty_value, parse_missing, unsupported_modifier, ParamType, SearchValue};

/// A `string` search value: `name=eve`, `name:exact=Eve`, `name:contains=ev`.
///
/// By default a string matches when the candidate *starts with* the value,
/// ignoring case and accents; `:exact` requires the whole string to be equal
/// (case and accents included), `:contains` matches anywhere (ignoring case
/// and accents). `:missing=true|false` sets `missing` and leaves `value`
/// empty.
///
/// ```
/// use fhir_rocket::search::{SearchValue, StringParam};
///
/// let p = StringParam::parse(None, "jose").unwrap();
/// assert!(p.matches("José Álvarez"));
/// let p = StringParam::parse(Some("exact"), "José").unwrap();
/// assert!(p.matches("José") && !p.matches("josé"));
/// let p = StringParam::parse(Some("contains"), "VAREZ").unwrap();
/// assert!(p.matches("José Álvarez"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StringParam {
    /// The unescaped value.
    pub value: String,
    /// `:exact` was given.
    pub exact: bool,
    /// `:contains` was given.
    pub contains: bool,
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

/// Lowercases `s` and folds the accented Latin-1 letters to their base letters
/// (`é` → `e`, `Æ` → `ae`, `ß` → `ss`, ...).
pub fn normalize(s: &str) -> String {
    folded(s).collect()
}

/// The characters of [`normalize`], without building the string.
fn folded(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase).flat_map(|c| {
        let (first, second) = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => ('a', None),
            'æ' => ('a', Some('e')),
            'ç' => ('c', None),
            'è' | 'é' | 'ê' | 'ë' => ('e', None),
            'ì' | 'í' | 'î' | 'ï' => ('i', None),
            'ð' => ('d', None),
            'ñ' => ('n', None),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => ('o', None),
            'ù' | 'ú' | 'û' | 'ü' => ('u', None),
            'ý' | 'ÿ' => ('y', None),
            'þ' => ('t', Some('h')),
            'ß' => ('s', Some('s')),
            other => (other, None),
        };
        std::iter::once(first).chain(second)
    })
}

/// Whether the normalized `candidate` starts with the normalized `prefix`; allocates nothing,
/// as it runs once per candidate value of every searched resource.
fn starts_with_folded(candidate: &str, prefix: &str) -> bool {
    if candidate.is_ascii() && prefix.is_ascii() {
        return candidate.len() >= prefix.len()
            && candidate.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes());
    }
    let mut candidate = folded(candidate);
    folded(prefix).all(|p| candidate.next() == Some(p))
}

impl StringParam {
    /// Whether `candidate` (a string element of a resource) matches, following
    /// the FHIR string search rules described on the type.
    ///
    /// For `:missing` the candidate is present, so the result is `true` for
    /// `:missing=false` and `false` for `:missing=true`.
    pub fn matches(&self, candidate: &str) -> bool {
        if let Some(m) = self.missing {
            return !m;
        }
        if self.exact {
            candidate == self.value
        } else if self.contains {
            normalize(candidate).contains(&normalize(&self.value))
        } else {
            starts_with_folded(candidate, &self.value)
        }
    }
}

impl SearchValue for StringParam {
    const TYPE: ParamType = ParamType::String;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        let mut p = StringParam::default();
        match modifier {
            None => {}
            Some("exact") => p.exact = true,
            Some("contains") => p.contains = true,
            Some("missing") => {
                p.missing = Some(parse_missing(value)?);
                return Ok(p);
            }
            Some(m) => return Err(unsupported_modifier(m, "string")),
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        p.value = unescape(value)?;
        Ok(p)
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(m: Option<&str>, v: &str) -> StringParam {
        StringParam::parse(m, v).unwrap()
    }

    #[test]
    fn parse_modes() {
        let p = sp(None, "eve");
        assert_eq!(
            (p.value.as_str(), p.exact, p.contains, p.missing),
            ("eve", false, false, None)
        );
        let p = sp(Some("exact"), "Eve");
        assert!(p.exact && !p.contains);
        let p = sp(Some("contains"), "ev");
        assert!(p.contains && !p.exact);
        let p = sp(Some("missing"), "true");
        assert_eq!(p.missing, Some(true));
        assert_eq!(p.value, "");
        assert_eq!(SearchValue::missing(&p), Some(true));
    }

    #[test]
    fn parse_unescapes() {
        assert_eq!(sp(None, r"Smith\, John").value, "Smith, John");
        assert_eq!(sp(None, r"a\|b\$c\\d").value, r"a|b$c\d");
        assert!(StringParam::parse(None, r"bad\q").is_err());
        assert!(StringParam::parse(None, "bad\\").is_err());
    }

    #[test]
    fn parse_errors() {
        assert!(StringParam::parse(Some("text"), "x")
            .unwrap_err()
            .contains("':text'"));
        assert!(StringParam::parse(Some("not"), "x").is_err());
        assert!(StringParam::parse(Some("Exact"), "x").is_err());
        assert!(StringParam::parse(Some(""), "x").is_err());
        assert!(StringParam::parse(Some("missing"), "maybe")
            .unwrap_err()
            .contains("'maybe'"));
        assert!(StringParam::parse(None, "").unwrap_err().contains("empty"));
    }

    #[test]
    fn normalize_folds() {
        assert_eq!(normalize("ÀÉÎÕÜ Çñ"), "aeiou cn");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("Æsir"), "aesir");
        assert_eq!(normalize("ÿý"), "yy");
        assert_eq!(normalize("Ωmega"), "ωmega");
    }

    #[test]
    fn matching_default_is_prefix_insensitive() {
        let p = sp(None, "eve");
        assert!(p.matches("Eve"));
        assert!(p.matches("Evelyn"));
        assert!(p.matches("ÉVE"));
        assert!(!p.matches("Steve"));
        assert!(!p.matches("Ev"));
        assert!(!sp(None, "Müll").matches("mueller"));
        assert!(sp(None, "Mull").matches("Müller"));
        assert!(sp(None, "Müll").matches("MULLER"));
    }

    #[test]
    fn matching_exact_and_contains() {
        let p = sp(Some("exact"), "Eve");
        assert!(p.matches("Eve"));
        assert!(!p.matches("eve"));
        assert!(!p.matches("Evelyn"));
        assert!(!p.matches("Éve"));
        let p = sp(Some("contains"), "VE");
        assert!(p.matches("Steve"));
        assert!(p.matches("evelyn"));
        assert!(p.matches("Stévé"));
        assert!(!p.matches("Stan"));
    }

    #[test]
    fn matching_missing() {
        assert!(!sp(Some("missing"), "true").matches("x"));
        assert!(sp(Some("missing"), "false").matches("x"));
    }
}
