//! `number` and `quantity` search parameters.
//!
//! # Implicit precision
//!
//! A number search value stands for the range of values that round to it at
//! the precision it was written with: half a unit of its last digit on either
//! side, `[v - u/2, v + u/2)` where `u = 10^(exponent - fraction digits)`. So
//! `100` is `[99.5, 100.5)`, `100.00` is `[99.995, 100.005)`, `0.1` is
//! `[0.05, 0.15)` and `1e2` is `[50, 150)` (one significant digit; note the
//! specification's table says `[95, 105)` there, which does not follow its own
//! rule). The range is used by `eq`, `ne` and `ap`; `gt lt ge le sa eb`
//! compare with the exact value (`sa` as `gt`, `eb` as `lt`, since the
//! resource value is a single point).

use super::escape::{split_unescaped, unescape};
use super::{empty_value, parse_missing, unsupported_modifier, ParamType, Prefix, SearchValue};

/// A parsed decimal with its implicit range.
fn parse_decimal(text: &str) -> Option<(f64, (f64, f64))> {
    let b = text.as_bytes();
    let mut pos = 0;
    if b.first() == Some(&b'-') {
        pos += 1;
    }
    let int_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_len = pos - int_start;
    // FHIR decimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return None;
    }
    let mut frac_len = 0i64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let s = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_len = (pos - s) as i64;
        if frac_len == 0 {
            return None;
        }
    }
    let mut exponent = 0i64;
    if matches!(b.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        let negative = match b.get(pos) {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let s = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == s || pos - s > 6 {
            return None;
        }
        exponent = text[s..pos].parse().ok()?;
        if negative {
            exponent = -exponent;
        }
    }
    if pos != b.len() {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    let unit_exp = (exponent - frac_len).clamp(-10_000, 10_000) as i32;
    let half = 0.5 * 10f64.powi(unit_exp);
    let mut range = (value - half, value + half);
    // More digits than an f64 holds (`66.89999999999999`): the half unit is below the
    // spacing of f64s there and the range would round to empty, so that not even the
    // value itself matched. The range then holds at least the value.
    if range.0 > value {
        range.0 = value;
    }
    if range.1 <= value {
        range.1 = next_up(value);
    }
    if !value.is_finite() || !range.0.is_finite() || !range.1.is_finite() {
        return None;
    }
    Some((value, range))
}

/// The least f64 greater than `x` (finite `x`; `f64::next_up` is newer than the MSRV).
fn next_up(x: f64) -> f64 {
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

fn compare(prefix: Prefix, number: f64, range: (f64, f64), x: f64) -> bool {
    let eq = range.0 <= x && x < range.1;
    match prefix {
        Prefix::Eq => eq,
        Prefix::Ne => !eq,
        Prefix::Gt | Prefix::Sa => x > number,
        Prefix::Lt | Prefix::Eb => x < number,
        Prefix::Ge => x >= number,
        Prefix::Le => x <= number,
        Prefix::Ap => eq || (x - number).abs() <= (number * 0.1).abs(),
    }
}

/// A `number` search value with an optional prefix: `100`, `gt0.8`, `ap1e3`.
///
/// `value` keeps the exact text (without prefix); `number` is its `f64`
/// value and `range` its implicit precision range `[range.0, range.1)` (see
/// the [module docs](self)). For `:missing=true|false` the other fields are
/// `Eq`, `""`, `0.0` and `(0.0, 0.0)`.
///
/// ```
/// use fhir_rocket::search::{NumberParam, SearchValue};
///
/// let n = NumberParam::parse(None, "100").unwrap();
/// assert_eq!(n.range, (99.5, 100.5));
/// assert!(n.matches(100.4) && !n.matches(100.5));
/// assert!(NumberParam::parse(None, "gt100").unwrap().matches(100.2));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NumberParam {
    /// The comparison prefix (default `eq`).
    pub prefix: Prefix,
    /// The number exactly as written, without prefix.
    pub value: String,
    /// The value as `f64`.
    pub number: f64,
    /// The implicit precision range `[range.0, range.1)`.
    pub range: (f64, f64),
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

impl NumberParam {
    /// Whether a resource value `x` matches (see the [module docs](self)).
    /// For `:missing`, `true` exactly when it is `:missing=false`.
    pub fn matches(&self, x: f64) -> bool {
        match self.missing {
            Some(m) => !m,
            None => compare(self.prefix, self.number, self.range, x),
        }
    }
}

impl SearchValue for NumberParam {
    const TYPE: ParamType = ParamType::Number;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        match modifier {
            None => {}
            Some("missing") => {
                return Ok(NumberParam {
                    missing: Some(parse_missing(value)?),
                    ..NumberParam::default()
                })
            }
            Some(m) => return Err(unsupported_modifier(m, "number")),
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        let text = unescape(value)?;
        let (prefix, rest) = Prefix::split(&text);
        let (number, range) =
            parse_decimal(rest).ok_or_else(|| format!("'{value}' is not a valid number"))?;
        Ok(NumberParam {
            prefix,
            value: rest.to_string(),
            number,
            range,
            missing: None,
        })
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

/// A `quantity` search value: `[prefix]number[|system|code]`, e.g.
/// `5.4|http://unitsofmeasure.org|mg`, `le5.4||mg` (any system) or `5.4`
/// (any unit).
///
/// Parts are split on unescaped `|` and unescaped. An empty system or code is
/// `None`; a system without a code, or two parts only, is an error. The
/// number part behaves like [`NumberParam`] (`number`, `range`). For
/// `:missing=true|false` the other fields are defaults.
///
/// ```
/// use fhir_rocket::search::{Prefix, QuantityParam, SearchValue};
///
/// let q = QuantityParam::parse(None, "le5.4|http://unitsofmeasure.org|mg").unwrap();
/// assert_eq!(q.prefix, Prefix::Le);
/// assert_eq!(q.value, "5.4");
/// assert_eq!(q.system.as_deref(), Some("http://unitsofmeasure.org"));
/// assert_eq!(q.code.as_deref(), Some("mg"));
/// assert!(q.matches_quantity(5.0, Some("http://unitsofmeasure.org"), Some("mg")));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuantityParam {
    /// The comparison prefix (default `eq`).
    pub prefix: Prefix,
    /// The number exactly as written, without prefix.
    pub value: String,
    /// The value as `f64`.
    pub number: f64,
    /// The implicit precision range `[range.0, range.1)`.
    pub range: (f64, f64),
    /// The unit system, if given.
    pub system: Option<String>,
    /// The unit code, if given.
    pub code: Option<String>,
    /// `Some(b)` for `:missing=b`.
    pub missing: Option<bool>,
}

impl QuantityParam {
    /// Whether the numeric value `x` matches, ignoring units (the caller is
    /// responsible for unit conversion). For `:missing`, `true` exactly when
    /// it is `:missing=false`.
    pub fn matches(&self, x: f64) -> bool {
        match self.missing {
            Some(m) => !m,
            None => compare(self.prefix, self.number, self.range, x),
        }
    }

    /// Whether a quantity with this value, system and code matches: the
    /// number as for [`matches`](Self::matches), and the system and code
    /// compared exactly when given in the search value.
    pub fn matches_quantity(&self, x: f64, system: Option<&str>, code: Option<&str>) -> bool {
        if self.missing.is_some() {
            return self.matches(x);
        }
        let system_ok = self.system.is_none() || self.system.as_deref() == system;
        let code_ok = self.code.is_none() || self.code.as_deref() == code;
        system_ok && code_ok && self.matches(x)
    }
}

impl SearchValue for QuantityParam {
    const TYPE: ParamType = ParamType::Quantity;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        match modifier {
            None => {}
            Some("missing") => {
                return Ok(QuantityParam {
                    missing: Some(parse_missing(value)?),
                    ..QuantityParam::default()
                })
            }
            Some(m) => return Err(unsupported_modifier(m, "quantity")),
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        let parts = split_unescaped(value, '|');
        let (number_part, system, code) = match parts.as_slice() {
            [n] => (*n, None, None),
            [n, s, c] => {
                let s = unescape(s)?;
                let c = unescape(c)?;
                if c.is_empty() && !s.is_empty() {
                    return Err(format!("'{value}' has a unit system but no unit code"));
                }
                (*n, Some(s).filter(|s| !s.is_empty()), Some(c).filter(|c| !c.is_empty()))
            }
            _ => {
                return Err(format!(
                    "'{value}' is not a valid quantity: expected 'number', 'number|system|code' or 'number||code'"
                ))
            }
        };
        let text = unescape(number_part)?;
        let (prefix, rest) = Prefix::split(&text);
        let (number, range) = parse_decimal(rest).ok_or_else(|| {
            format!("'{value}' is not a valid quantity: '{text}' is not a valid number")
        })?;
        Ok(QuantityParam {
            prefix,
            value: rest.to_string(),
            number,
            range,
            system,
            code,
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

    fn np(v: &str) -> NumberParam {
        NumberParam::parse(None, v).unwrap()
    }

    fn close(a: (f64, f64), b: (f64, f64)) -> bool {
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9
    }

    #[test]
    fn decimal_syntax() {
        for ok in [
            "0",
            "100",
            "-5",
            "0.5",
            "1e2",
            "1E-3",
            "1.5e+10",
            "-0.0",
            "12345678901234567890",
        ] {
            assert!(parse_decimal(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "-",
            "+5",
            "05",
            ".5",
            "5.",
            "1e",
            "1e+",
            "abc",
            "1,5",
            "1 ",
            " 1",
            "inf",
            "NaN",
            "1e1000",
            "1e9999999",
            "0x10",
            "1..2",
            "--1",
            "1e2.5",
            "١",
        ] {
            assert!(parse_decimal(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn implicit_ranges() {
        // Finer than an f64: the range still holds the value (an official example has
        // `66.89999999999999`).
        let fine = np("66.89999999999999");
        assert!(fine.matches(66.89999999999999), "{:?}", fine.range);
        assert!(!fine.matches(66.9));
        assert!(np("-66.89999999999999").matches(-66.89999999999999));
        assert_eq!(np("100").range, (99.5, 100.5));
        assert!(close(np("100.00").range, (99.995, 100.005)));
        assert!(close(np("0.1").range, (0.05, 0.15)));
        assert!(close(np("1e2").range, (50.0, 150.0)));
        assert!(close(np("1.00e2").range, (99.5, 100.5)));
        assert!(close(np("-3").range, (-3.5, -2.5)));
        assert!(close(np("2.5e-3").range, (0.00245, 0.00255)));
        assert_eq!(np("100").number, 100.0);
        assert_eq!(np("gt100.00").value, "100.00");
    }

    #[test]
    fn prefixes() {
        for p in Prefix::ALL {
            let n = np(&format!("{}7", p.code()));
            assert_eq!(n.prefix, p);
            assert_eq!(n.value, "7");
        }
        assert_eq!(np("7").prefix, Prefix::Eq);
    }

    #[test]
    fn number_matching() {
        let n = np("100");
        assert!(n.matches(99.5) && n.matches(100.0) && n.matches(100.49));
        assert!(!n.matches(99.49) && !n.matches(100.5));
        assert!(np("ne100").matches(101.0) && !np("ne100").matches(100.2));
        assert!(np("gt100").matches(100.1) && !np("gt100").matches(100.0));
        assert!(np("ge100").matches(100.0) && !np("ge100").matches(99.9));
        assert!(np("lt100").matches(99.9) && !np("lt100").matches(100.0));
        assert!(np("le100").matches(100.0) && !np("le100").matches(100.1));
        assert!(np("sa100").matches(100.1) && !np("sa100").matches(100.0));
        assert!(np("eb100").matches(99.9) && !np("eb100").matches(100.0));
        assert!(np("ap100").matches(109.0) && np("ap100").matches(91.0));
        assert!(!np("ap100").matches(111.0) && !np("ap100").matches(89.0));
        assert!(np("ap0").matches(0.2) && !np("ap0").matches(0.6));
        assert!(np("ap-10").matches(-10.9));
    }

    #[test]
    fn number_errors_and_missing() {
        assert_eq!(
            NumberParam::parse(None, "abc").unwrap_err(),
            "'abc' is not a valid number"
        );
        assert!(NumberParam::parse(None, "gt").is_err());
        assert!(NumberParam::parse(None, "gtx5").is_err());
        assert!(NumberParam::parse(None, "").is_err());
        assert!(NumberParam::parse(Some("exact"), "5")
            .unwrap_err()
            .contains(":exact"));
        assert!(NumberParam::parse(None, r"5\").is_err());
        let m = NumberParam::parse(Some("missing"), "true").unwrap();
        assert_eq!(m.missing, Some(true));
        assert!(!m.matches(1.0));
        assert!(NumberParam::parse(Some("missing"), "false")
            .unwrap()
            .matches(1.0));
    }

    #[test]
    fn quantity_forms() {
        let q = QuantityParam::parse(None, "5.4|http://unitsofmeasure.org|mg").unwrap();
        assert_eq!(q.prefix, Prefix::Eq);
        assert_eq!(q.value, "5.4");
        assert_eq!(q.system.as_deref(), Some("http://unitsofmeasure.org"));
        assert_eq!(q.code.as_deref(), Some("mg"));
        let q = QuantityParam::parse(None, "5.4||mg").unwrap();
        assert_eq!((q.system, q.code.as_deref()), (None, Some("mg")));
        let q = QuantityParam::parse(None, "5.4").unwrap();
        assert_eq!((q.system, q.code), (None, None));
        assert!(close(q.range, (5.35, 5.45)));
        let q = QuantityParam::parse(None, "ap5.4||").unwrap();
        assert_eq!((q.prefix, q.system, q.code), (Prefix::Ap, None, None));
        let q = QuantityParam::parse(None, r"gt1|sys\|x|m\$g").unwrap();
        assert_eq!(q.prefix, Prefix::Gt);
        assert_eq!(q.system.as_deref(), Some("sys|x"));
        assert_eq!(q.code.as_deref(), Some("m$g"));
        for p in Prefix::ALL {
            let q = QuantityParam::parse(None, &format!("{}2||kg", p.code())).unwrap();
            assert_eq!(q.prefix, p);
        }
    }

    #[test]
    fn quantity_errors() {
        for bad in [
            "",
            "mg",
            "5.4|mg",
            "5.4|a|b|c",
            "5.4|sys|",
            "x|sys|mg",
            "gt|sys|mg",
            r"5\.4",
        ] {
            assert!(QuantityParam::parse(None, bad).is_err(), "{bad}");
        }
        assert!(QuantityParam::parse(None, "5.4|mg")
            .unwrap_err()
            .contains("not a valid quantity"));
        assert!(QuantityParam::parse(Some("below"), "5").is_err());
        assert_eq!(
            QuantityParam::parse(Some("missing"), "true")
                .unwrap()
                .missing,
            Some(true)
        );
    }

    #[test]
    fn quantity_matching() {
        let q = QuantityParam::parse(None, "ge5|http://unitsofmeasure.org|mg").unwrap();
        let ucum = Some("http://unitsofmeasure.org");
        assert!(q.matches(5.0));
        assert!(q.matches_quantity(6.0, ucum, Some("mg")));
        assert!(!q.matches_quantity(6.0, ucum, Some("g")));
        assert!(!q.matches_quantity(6.0, None, Some("mg")));
        assert!(!q.matches_quantity(4.0, ucum, Some("mg")));
        let q = QuantityParam::parse(None, "5||mg").unwrap();
        assert!(q.matches_quantity(5.2, Some("anything"), Some("mg")));
        let m = QuantityParam::parse(Some("missing"), "false").unwrap();
        assert!(m.matches_quantity(1.0, None, None));
    }
}
