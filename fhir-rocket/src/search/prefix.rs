//! Comparison prefixes for ordered search types (number, date, quantity).

use std::fmt;

/// A comparison prefix (`eq ne gt lt ge le sa eb ap`) in front of a number,
/// date or quantity search value. A value without a prefix means [`Prefix::Eq`].
///
/// ```
/// use fhir_rocket::search::Prefix;
///
/// assert_eq!(Prefix::split("ge2020"), (Prefix::Ge, "2020"));
/// assert_eq!(Prefix::split("2020"), (Prefix::Eq, "2020"));
/// assert_eq!(Prefix::Ge.code(), "ge");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Prefix {
    /// `eq`: equal (within the implicit precision of the value). The default.
    #[default]
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `gt`: greater than.
    Gt,
    /// `lt`: less than.
    Lt,
    /// `ge`: greater than or equal.
    Ge,
    /// `le`: less than or equal.
    Le,
    /// `sa`: starts after.
    Sa,
    /// `eb`: ends before.
    Eb,
    /// `ap`: approximately (10% of the value, or for dates 10% of the gap to now).
    Ap,
}

impl Prefix {
    /// All prefixes, in the order of the specification.
    pub const ALL: [Prefix; 9] = [
        Prefix::Eq,
        Prefix::Ne,
        Prefix::Gt,
        Prefix::Lt,
        Prefix::Ge,
        Prefix::Le,
        Prefix::Sa,
        Prefix::Eb,
        Prefix::Ap,
    ];

    /// The two-letter code of the prefix.
    pub fn code(self) -> &'static str {
        match self {
            Prefix::Eq => "eq",
            Prefix::Ne => "ne",
            Prefix::Gt => "gt",
            Prefix::Lt => "lt",
            Prefix::Ge => "ge",
            Prefix::Le => "le",
            Prefix::Sa => "sa",
            Prefix::Eb => "eb",
            Prefix::Ap => "ap",
        }
    }

    /// The prefix with the given two-letter code (case-sensitive, lowercase).
    pub fn from_code(code: &str) -> Option<Prefix> {
        Prefix::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Splits a leading prefix off `value`; a value without one gets [`Prefix::Eq`].
    ///
    /// Only the nine lowercase codes are recognised, so values of the ordered
    /// types (which start with a digit or `-`) are never mistaken for a prefix.
    pub fn split(value: &str) -> (Prefix, &str) {
        if let Some(head) = value.get(..2) {
            if let Some(p) = Prefix::from_code(head) {
                return (p, &value[2..]);
            }
        }
        (Prefix::Eq, value)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for p in Prefix::ALL {
            assert_eq!(Prefix::from_code(p.code()), Some(p));
            assert_eq!(p.to_string(), p.code());
        }
        assert_eq!(Prefix::from_code("EQ"), None);
        assert_eq!(Prefix::from_code("xx"), None);
        assert_eq!(Prefix::default(), Prefix::Eq);
    }

    #[test]
    fn split_prefixes() {
        for p in Prefix::ALL {
            let v = format!("{}5.4", p.code());
            assert_eq!(Prefix::split(&v), (p, "5.4"));
        }
        assert_eq!(Prefix::split("5"), (Prefix::Eq, "5"));
        assert_eq!(Prefix::split(""), (Prefix::Eq, ""));
        assert_eq!(Prefix::split("g"), (Prefix::Eq, "g"));
        assert_eq!(Prefix::split("ge"), (Prefix::Ge, ""));
        assert_eq!(Prefix::split("xy1"), (Prefix::Eq, "xy1"));
        // Multi-byte start: no panic on a non-char boundary.
        assert_eq!(Prefix::split("é1"), (Prefix::Eq, "é1"));
        assert_eq!(Prefix::split("gé"), (Prefix::Eq, "gé"));
    }
}
