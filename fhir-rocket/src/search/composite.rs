//! `composite` search parameters.

use super::escape::split_unescaped;
use super::{empty_value, parse_missing, unsupported_modifier, ParamType, SearchValue};

/// A `composite` search value of two components separated by an unescaped
/// `$`, e.g. `code-value-quantity=http://loinc.org|8480-6$gt150`.
///
/// Each component is parsed by its own type (without modifier), so a literal
/// `$` inside a component is written `\$`. For `:missing=true|false` both
/// components are parsed as `:missing` with the same value (so
/// [`SearchValue::missing`] works uniformly); other modifiers are errors.
///
/// ```
/// use fhir_rocket::search::{CompositeParam, Prefix, QuantityParam, SearchValue, TokenParam};
///
/// type CodeValue = CompositeParam<TokenParam, QuantityParam>;
/// let c = CodeValue::parse(None, "http://loinc.org|8480-6$gt150|http://unitsofmeasure.org|mm[Hg]").unwrap();
/// assert_eq!(c.first.code.as_deref(), Some("8480-6"));
/// assert_eq!(c.second.prefix, Prefix::Gt);
/// assert_eq!(c.second.code.as_deref(), Some("mm[Hg]"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeParam<A: SearchValue, B: SearchValue> {
    /// The first component.
    pub first: A,
    /// The second component.
    pub second: B,
}

impl<A: SearchValue, B: SearchValue> SearchValue for CompositeParam<A, B> {
    const TYPE: ParamType = ParamType::Composite;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        match modifier {
            None => {}
            Some("missing") => {
                parse_missing(value)?;
                return Ok(CompositeParam {
                    first: A::parse(Some("missing"), value)?,
                    second: B::parse(Some("missing"), value)?,
                });
            }
            Some(m) => return Err(unsupported_modifier(m, "composite")),
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        let parts = split_unescaped(value, '$');
        let [first, second] = parts.as_slice() else {
            return Err(format!(
                "'{value}' is not a valid composite value: expected two parts separated by '$', found {} (escape a literal dollar as '\\$')",
                parts.len()
            ));
        };
        let first = A::parse(None, first)
            .map_err(|e| format!("in composite value '{value}', first part: {e}"))?;
        let second = B::parse(None, second)
            .map_err(|e| format!("in composite value '{value}', second part: {e}"))?;
        Ok(CompositeParam { first, second })
    }

    fn missing(&self) -> Option<bool> {
        self.first.missing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{DateParam, Prefix, QuantityParam, StringParam, TokenParam, TokenSystem};

    type TQ = CompositeParam<TokenParam, QuantityParam>;
    type TT = CompositeParam<TokenParam, TokenParam>;

    #[test]
    fn splits_on_dollar() {
        let c = TQ::parse(
            None,
            "http://loinc.org|1234-5$ge5.4|http://unitsofmeasure.org|mg",
        )
        .unwrap();
        assert_eq!(
            c.first.system,
            TokenSystem::Exactly("http://loinc.org".into())
        );
        assert_eq!(c.second.prefix, Prefix::Ge);
        assert_eq!(c.second.value, "5.4");
        let c = TT::parse(None, "a$b").unwrap();
        assert_eq!(c.first.code.as_deref(), Some("a"));
        assert_eq!(c.second.code.as_deref(), Some("b"));
        assert_eq!(TQ::TYPE, ParamType::Composite);
    }

    #[test]
    fn escaped_dollar() {
        let c = TT::parse(None, r"co\$t$pr\$ice").unwrap();
        assert_eq!(c.first.code.as_deref(), Some("co$t"));
        assert_eq!(c.second.code.as_deref(), Some("pr$ice"));
        let c = CompositeParam::<StringParam, DateParam>::parse(None, r"a\\$2020").unwrap();
        assert_eq!(c.first.value, r"a\");
        assert_eq!(c.second.value, "2020");
    }

    #[test]
    fn errors() {
        assert!(TT::parse(None, "a").unwrap_err().contains("found 1"));
        assert!(TT::parse(None, "a$b$c").unwrap_err().contains("found 3"));
        assert!(TT::parse(None, r"a\$b").is_err());
        let e = TQ::parse(None, "a$x").unwrap_err();
        assert!(e.contains("second part") && e.contains("'x'"), "{e}");
        let e = TQ::parse(None, "$5").unwrap_err();
        assert!(e.contains("first part"), "{e}");
        assert!(TT::parse(Some("exact"), "a$b").is_err());
        assert!(TT::parse(None, "").is_err());
    }

    #[test]
    fn missing() {
        let c = TQ::parse(Some("missing"), "true").unwrap();
        assert_eq!(c.missing(), Some(true));
        assert_eq!(c.second.missing, Some(true));
        assert!(TQ::parse(Some("missing"), "nope").is_err());
    }
}
