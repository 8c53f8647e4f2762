//! Date search parameters: [`DateParam`], [`DateRange`] and the instants they compare.
//!
//! # Ranges and time zones
//!
//! Every date value stands for a *range* given by its precision: `2020` is the
//! whole year, `2020-03` the month, `2020-03-04` the day, `2020-03-04T10:00`
//! the minute, and so on. Ranges are half-open, `[start, end)`, where `end`
//! is the start of the next year/month/day/minute/second/fraction.
//!
//! Instants are [`Timestamp`]s: nanoseconds since 1970-01-01T00:00:00Z. A
//! value with a time zone (`Z` or `±hh:mm`) is converted to UTC. A value
//! **without a time zone is treated as UTC** (the specification would let a
//! server assume its local zone; this module has no notion of one). Dates
//! (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`) cannot carry a zone and are UTC ranges.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::escape::unescape;
use super::lists::{FromSearchParam, Occurrence};
use super::{
    empty_value, parse_missing, unsupported_modifier, ParamType, Prefix, SearchError, SearchValue,
};

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// A point in time: nanoseconds since the Unix epoch (1970-01-01T00:00:00Z), UTC.
///
/// [`Timestamp::MIN`] and [`Timestamp::MAX`] stand for "unbounded".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i128);

impl Timestamp {
    /// The earliest representable instant (an open lower bound).
    pub const MIN: Timestamp = Timestamp(i128::MIN);
    /// The latest representable instant (an open upper bound).
    pub const MAX: Timestamp = Timestamp(i128::MAX);

    /// The instant `seconds` (+ `nanos`) after the epoch.
    pub fn from_unix(seconds: i64, nanos: u32) -> Timestamp {
        Timestamp(seconds as i128 * NANOS_PER_SEC + nanos as i128)
    }

    /// Whole seconds since the epoch (rounded towards negative infinity).
    pub fn unix_seconds(self) -> i128 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// Nanoseconds since the epoch.
    pub fn unix_nanos(self) -> i128 {
        self.0
    }

    /// The current time from the system clock.
    pub fn now() -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_nanos() as i128),
            Err(e) => Timestamp(-(e.duration().as_nanos() as i128)),
        }
    }
}

/// How precisely a date value was given; it decides the width of its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatePrecision {
    /// `YYYY`
    Year,
    /// `YYYY-MM`
    Month,
    /// `YYYY-MM-DD`
    Day,
    /// `YYYY-MM-DDThh:mm`
    Minute,
    /// `YYYY-MM-DDThh:mm:ss`
    Second,
    /// `YYYY-MM-DDThh:mm:ss.f…` with this many fraction digits (1–9; longer
    /// fractions are truncated to nanoseconds and reported as 9).
    Fraction(u8),
}

/// Parses a FHIR date/dateTime value (no prefix) into its precision and
/// implicit half-open range `[start, end)`.
///
/// Accepted forms: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, and
/// `YYYY-MM-DDThh:mm(:ss(.f+)?)?(Z|±hh:mm)?`. Values without a zone are UTC
/// (see the [module docs](self)). Use it to compute the range of a resource's
/// own date to pass to [`DateParam::matches_range`].
///
/// ```
/// use fhir_rocket::search::date::{date_range, DatePrecision, Timestamp};
///
/// let (precision, start, end) = date_range("2020-01-01").unwrap();
/// assert_eq!(precision, DatePrecision::Day);
/// assert_eq!(start, Timestamp::from_unix(1_577_836_800, 0));
/// assert_eq!(end, Timestamp::from_unix(1_577_836_800 + 86_400, 0));
/// assert!(date_range("2020-02-30").is_err());
/// ```
pub fn date_range(text: &str) -> Result<(DatePrecision, Timestamp, Timestamp), String> {
    parse_date(text).ok_or_else(|| format!("'{text}' is not a valid date"))
}

fn digits(b: &[u8], pos: usize, n: usize) -> Option<i64> {
    let slice = b.get(pos..pos + n)?;
    let mut v = 0i64;
    for &c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date y-m-d.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn day_start(y: i64, m: i64, d: i64) -> i128 {
    days_from_civil(y, m, d) as i128 * 86_400 * NANOS_PER_SEC
}

fn parse_date(text: &str) -> Option<(DatePrecision, Timestamp, Timestamp)> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4)?;
    if year == 0 {
        return None;
    }
    if b.len() == 4 {
        return Some((
            DatePrecision::Year,
            Timestamp(day_start(year, 1, 1)),
            Timestamp(day_start(year + 1, 1, 1)),
        ));
    }
    if b[4] != b'-' {
        return None;
    }
    let month = digits(b, 5, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    if b.len() == 7 {
        let (ny, nm) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        return Some((
            DatePrecision::Month,
            Timestamp(day_start(year, month, 1)),
            Timestamp(day_start(ny, nm, 1)),
        ));
    }
    if b.get(7) != Some(&b'-') {
        return None;
    }
    let day = digits(b, 8, 2)?;
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let start_of_day = day_start(year, month, day);
    if b.len() == 10 {
        return Some((
            DatePrecision::Day,
            Timestamp(start_of_day),
            Timestamp(start_of_day + 86_400 * NANOS_PER_SEC),
        ));
    }
    if b.get(10) != Some(&b'T') {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(b, 14, 2)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut pos = 16;
    let mut precision = DatePrecision::Minute;
    let mut second = 0i64;
    let mut fraction_nanos = 0i128;
    let mut width = 60 * NANOS_PER_SEC;
    if b.get(pos) == Some(&b':') {
        second = digits(b, pos + 1, 2)?;
        if second > 60 {
            return None;
        }
        pos += 3;
        precision = DatePrecision::Second;
        width = NANOS_PER_SEC;
        if b.get(pos) == Some(&b'.') {
            pos += 1;
            let frac_start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            let n = pos - frac_start;
            if n == 0 {
                return None;
            }
            let kept = n.min(9);
            let mut v: i128 = 0;
            for &c in &b[frac_start..frac_start + kept] {
                v = v * 10 + (c - b'0') as i128;
            }
            let scale = 10i128.pow((9 - kept) as u32);
            fraction_nanos = v * scale;
            width = scale;
            precision = DatePrecision::Fraction(kept as u8);
        }
    }
    // Time zone.
    let offset_minutes: i64 = match b.get(pos) {
        None => 0,
        Some(b'Z') => {
            pos += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, pos + 1, 2)?;
            if b.get(pos + 3) != Some(&b':') {
                return None;
            }
            let om = digits(b, pos + 4, 2)?;
            if oh > 14 || om > 59 {
                return None;
            }
            pos += 6;
            let total = oh * 60 + om;
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        Some(_) => return None,
    };
    if pos != b.len() {
        return None;
    }
    let local = start_of_day
        + (hour * 3600 + minute * 60 + second) as i128 * NANOS_PER_SEC
        + fraction_nanos;
    let start = local - offset_minutes as i128 * 60 * NANOS_PER_SEC;
    Some((precision, Timestamp(start), Timestamp(start + width)))
}

/// A `date` search value such as `ge2020-01-01` or `2021-03-04T10:00:00Z`.
///
/// The value's implicit range (`range`, half-open) follows its precision; see
/// the [module docs](self) for time zones. `:missing=true|false` is the only
/// modifier; for it `missing` is `Some(..)`, `value` is empty, `precision` is
/// [`DatePrecision::Year`] and `range` is `(Timestamp::MIN, Timestamp::MAX)`.
///
/// ```
/// use fhir_rocket::search::{DateParam, Prefix, SearchValue};
/// use fhir_rocket::search::date::date_range;
///
/// let p = DateParam::parse(None, "ge2020-01-01").unwrap();
/// assert_eq!(p.prefix, Prefix::Ge);
/// let (_, lo, hi) = date_range("2020-06-15T12:00:00Z").unwrap();
/// assert!(p.matches_range(Some(lo), Some(hi)));
/// let (_, lo, hi) = date_range("2019-12-31").unwrap();
/// assert!(!p.matches_range(Some(lo), Some(hi)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateParam {
    /// The comparison prefix (default `eq`).
    pub prefix: Prefix,
    /// The date text without its prefix, e.g. `2020-01-01`.
    pub value: String,
    /// How precisely `value` was given.
    pub precision: DatePrecision,
    /// The implicit range of `value`: `[range.0, range.1)`.
    pub range: (Timestamp, Timestamp),
    /// `Some(b)` for `:missing=b`; `None` for an ordinary value.
    pub missing: Option<bool>,
}

impl DateParam {
    fn missing_param(missing: bool) -> DateParam {
        DateParam {
            prefix: Prefix::Eq,
            value: String::new(),
            precision: DatePrecision::Year,
            range: (Timestamp::MIN, Timestamp::MAX),
            missing: Some(missing),
        }
    }

    /// Whether a resource value occupying the range `[lower, upper)` matches
    /// (`None` = unbounded, e.g. a `Period` without `start` or `end`).
    ///
    /// With the search range `[s, e)` and the target range `[l, u)`:
    /// `eq`: `s <= l && u <= e` (the search range contains the target);
    /// `ne`: not `eq`; `gt`: `u > e` (the target reaches above the search range);
    /// `lt`: `l < s`; `ge`: `gt || eq`; `le`: `lt || eq`; `sa`: `l >= e`;
    /// `eb`: `u <= s`; `ap`: the target overlaps the search range widened on both
    /// sides by 10% of the gap between now and `s`.
    ///
    /// For a `:missing` parameter the target is present, so this returns
    /// `true` for `:missing=false` and `false` for `:missing=true`.
    pub fn matches_range(&self, lower: Option<Timestamp>, upper: Option<Timestamp>) -> bool {
        self.matches_range_at(lower, upper, Timestamp::now())
    }

    /// [`matches_range`](Self::matches_range) with an explicit "now" (used only by `ap`).
    pub fn matches_range_at(
        &self,
        lower: Option<Timestamp>,
        upper: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        if let Some(m) = self.missing {
            return !m;
        }
        let l = lower.unwrap_or(Timestamp::MIN).0;
        let u = upper.unwrap_or(Timestamp::MAX).0;
        let (s, e) = (self.range.0 .0, self.range.1 .0);
        let eq = s <= l && u <= e;
        match self.prefix {
            Prefix::Eq => eq,
            Prefix::Ne => !eq,
            Prefix::Gt => u > e,
            Prefix::Lt => l < s,
            Prefix::Ge => u > e || eq,
            Prefix::Le => l < s || eq,
            Prefix::Sa => l >= e,
            Prefix::Eb => u <= s,
            Prefix::Ap => {
                let margin = now.0.saturating_sub(s).saturating_abs() / 10;
                l < e.saturating_add(margin) && u > s.saturating_sub(margin)
            }
        }
    }
}

impl SearchValue for DateParam {
    const TYPE: ParamType = ParamType::Date;

    fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        match modifier {
            None => {}
            Some("missing") => return parse_missing(value).map(DateParam::missing_param),
            Some(m) => return Err(unsupported_modifier(m, "date")),
        }
        if value.is_empty() {
            return Err(empty_value());
        }
        let text = unescape(value)?;
        let (prefix, rest) = Prefix::split(&text);
        let (precision, start, end) =
            parse_date(rest).ok_or_else(|| format!("'{value}' is not a valid date"))?;
        Ok(DateParam {
            prefix,
            value: rest.to_string(),
            precision,
            range: (start, end),
            missing: None,
        })
    }

    fn missing(&self) -> Option<bool> {
        self.missing
    }
}

impl fmt::Display for DateParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.missing {
            Some(m) => write!(f, ":missing={m}"),
            None if self.prefix == Prefix::Eq => f.write_str(&self.value),
            None => write!(f, "{}{}", self.prefix, self.value),
        }
    }
}

/// A date interval built from an AND list of bounding date values, e.g.
/// `date=ge2020-01-01&date=lt2021-01-01`.
///
/// Lower bounds use `gt`, `ge` or `sa`; upper bounds `lt`, `le` or `eb`. At
/// most one of each is allowed; `eq`/`ne`/`ap` (or no prefix), OR lists,
/// modifiers, and a lower bound whose value starts at or after the end of the
/// upper bound's value are errors. No occurrence at all gives an unbounded
/// range.
///
/// ```
/// use fhir_rocket::search::{parse_query, DateRange};
/// use fhir_rocket::search::date::date_range;
///
/// let q = parse_query("date=ge2020-01-01&date=lt2021-01-01").unwrap();
/// let r: DateRange = q.extract("date").unwrap();
/// let (_, lo, hi) = date_range("2020-07-01").unwrap();
/// assert!(r.matches_range(Some(lo), Some(hi)));
/// let (_, lo, hi) = date_range("2021-01-01").unwrap();
/// assert!(!r.matches_range(Some(lo), Some(hi)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DateRange {
    /// The lower bound (`gt`, `ge` or `sa`), if any.
    pub lower: Option<DateParam>,
    /// The upper bound (`lt`, `le` or `eb`), if any.
    pub upper: Option<DateParam>,
}

impl DateRange {
    /// Builds a range from already parsed bounds (see the type docs for the rules).
    pub fn from_params(params: Vec<DateParam>) -> Result<DateRange, String> {
        let mut range = DateRange::default();
        for p in params {
            if p.missing.is_some() {
                return Err("':missing' cannot be part of a date range".to_string());
            }
            let slot = match p.prefix {
                Prefix::Gt | Prefix::Ge | Prefix::Sa => &mut range.lower,
                Prefix::Lt | Prefix::Le | Prefix::Eb => &mut range.upper,
                other => {
                    return Err(format!(
                        "'{}' is not a range bound: use gt, ge or sa for the lower bound and lt, le or eb for the upper bound, not '{}'",
                        p, other
                    ))
                }
            };
            if let Some(prev) = slot {
                return Err(format!(
                    "'{p}' contradicts '{prev}': a date range takes at most one lower and one upper bound"
                ));
            }
            *slot = Some(p);
        }
        if let (Some(lo), Some(hi)) = (&range.lower, &range.upper) {
            if lo.range.0 >= hi.range.1 {
                return Err(format!(
                    "the lower bound '{lo}' lies after the upper bound '{hi}'"
                ));
            }
        }
        Ok(range)
    }

    /// Whether neither bound is set.
    pub fn is_unbounded(&self) -> bool {
        self.lower.is_none() && self.upper.is_none()
    }

    /// Whether a resource value occupying `[lower, upper)` satisfies both bounds
    /// (see [`DateParam::matches_range`]).
    pub fn matches_range(&self, lower: Option<Timestamp>, upper: Option<Timestamp>) -> bool {
        self.lower
            .iter()
            .chain(self.upper.iter())
            .all(|b| b.matches_range(lower, upper))
    }
}

impl FromSearchParam for DateRange {
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError> {
        let mut params = Vec::new();
        for (modifier, value) in occurrences {
            if value.is_empty() {
                continue;
            }
            if let Some(m) = modifier {
                return Err(SearchError::for_param(
                    name,
                    format!("modifier ':{m}' cannot be used in a date range"),
                ));
            }
            if super::escape::contains_unescaped(value, ',') {
                return Err(SearchError::for_param(
                    name,
                    format!("'{value}': a date range bound cannot be an OR list"),
                ));
            }
            params
                .push(DateParam::parse(None, value).map_err(|e| SearchError::for_param(name, e))?);
        }
        DateRange::from_params(params).map_err(|e| SearchError::for_param(name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i128 = 86_400 * NANOS_PER_SEC;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_unix(s, 0)
    }

    fn rng(text: &str) -> (Option<Timestamp>, Option<Timestamp>) {
        let (_, a, b) = date_range(text).unwrap();
        (Some(a), Some(b))
    }

    fn p(v: &str) -> DateParam {
        DateParam::parse(None, v).unwrap()
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2020, 1, 1), 18_262);
    }

    #[test]
    fn precision_ranges() {
        let y2020 = 1_577_836_800i64;
        assert_eq!(
            date_range("2020").unwrap(),
            (DatePrecision::Year, ts(y2020), ts(1_609_459_200))
        );
        assert_eq!(
            date_range("2020-02").unwrap(),
            (
                DatePrecision::Month,
                ts(1_580_515_200),
                ts(1_580_515_200 + 29 * 86_400)
            )
        );
        assert_eq!(
            date_range("2021-02").unwrap().2 .0 - date_range("2021-02").unwrap().1 .0,
            28 * DAY
        );
        assert_eq!(
            date_range("2020-12").unwrap().2,
            ts(1_609_459_200),
            "December rolls into the next year"
        );
        assert_eq!(
            date_range("2020-01-01").unwrap(),
            (DatePrecision::Day, ts(y2020), ts(y2020 + 86_400))
        );
        assert_eq!(
            date_range("2020-01-01T10:30").unwrap(),
            (
                DatePrecision::Minute,
                ts(y2020 + 37_800),
                ts(y2020 + 37_860)
            )
        );
        assert_eq!(
            date_range("2020-01-01T10:30:15Z").unwrap(),
            (
                DatePrecision::Second,
                ts(y2020 + 37_815),
                ts(y2020 + 37_816)
            )
        );
        let (pr, a, b) = date_range("2020-01-01T10:30:15.25Z").unwrap();
        assert_eq!(pr, DatePrecision::Fraction(2));
        assert_eq!(a, Timestamp::from_unix(y2020 + 37_815, 250_000_000));
        assert_eq!(b, Timestamp::from_unix(y2020 + 37_815, 260_000_000));
        let (pr, a, b) = date_range("2020-01-01T00:00:00.123456789123Z").unwrap();
        assert_eq!(pr, DatePrecision::Fraction(9));
        assert_eq!(b.0 - a.0, 1);
        assert_eq!(a, Timestamp::from_unix(y2020, 123_456_789));
    }

    #[test]
    fn time_zones() {
        let y2020 = 1_577_836_800i64;
        // No zone = UTC, same as Z.
        assert_eq!(
            date_range("2020-01-01T10:00").unwrap(),
            date_range("2020-01-01T10:00Z").unwrap()
        );
        assert_eq!(
            date_range("2020-01-01T10:00:00+02:00").unwrap().1,
            ts(y2020 + 8 * 3600)
        );
        assert_eq!(
            date_range("2020-01-01T00:00:00-05:30").unwrap().1,
            ts(y2020 + 5 * 3600 + 1800)
        );
        assert_eq!(
            date_range("2020-01-01T10:00+14:00").unwrap().1,
            ts(y2020 - 4 * 3600)
        );
        assert!(date_range("2020-01-01T10:00+15:00").is_err());
        assert!(date_range("2020-01-01T10:00+02").is_err());
        assert!(date_range("2020-01-01T10:00+0200").is_err());
        assert!(date_range("2020-01-01Z").is_err());
    }

    #[test]
    fn invalid_dates() {
        for bad in [
            "",
            "20",
            "202",
            "20201",
            "2020-1",
            "2020-13",
            "2020-00",
            "2020-01-32",
            "2021-02-29",
            "2020-04-31",
            "0000",
            "2020-01-01T",
            "2020-01-01T10",
            "2020-01-01T24:00",
            "2020-01-01T10:60",
            "2020-01-01T10:00:61",
            "2020-01-01T10:00:00.",
            "2020-01-01 10:00",
            "2020/01/01",
            "2020-01-01T10:00:00Zx",
            "２０２０",
            "abcd",
            "-2020",
            "2020-01-01t10:00",
        ] {
            assert!(date_range(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(date_range("2020-02-29").is_ok());
        assert!(date_range("2000-02-29").is_ok());
        assert!(date_range("1900-02-29").is_err());
        assert!(date_range("2020-01-01T23:59:60Z").is_ok(), "leap second");
        assert!(date_range("0001-01-01").is_ok());
        assert!(date_range("9999-12-31T23:59:59.999999999+14:00").is_ok());
    }

    #[test]
    fn parse_with_prefixes() {
        for prefix in Prefix::ALL {
            let d = p(&format!("{}2020-05", prefix.code()));
            assert_eq!(d.prefix, prefix);
            assert_eq!(d.value, "2020-05");
            assert_eq!(d.precision, DatePrecision::Month);
        }
        assert_eq!(p("2020").prefix, Prefix::Eq);
        assert_eq!(p("ge2020").to_string(), "ge2020");
        assert_eq!(p("2020").to_string(), "2020");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            DateParam::parse(None, "ge2020-13-01").unwrap_err(),
            "'ge2020-13-01' is not a valid date"
        );
        assert!(DateParam::parse(None, "").unwrap_err().contains("empty"));
        assert!(DateParam::parse(None, "xx2020").is_err());
        assert!(DateParam::parse(None, "ge").is_err());
        assert!(DateParam::parse(None, "GE2020").is_err());
        assert!(DateParam::parse(Some("exact"), "2020")
            .unwrap_err()
            .contains(":exact"));
        assert!(DateParam::parse(None, "2020\\").is_err());
    }

    #[test]
    fn missing_modifier() {
        let d = DateParam::parse(Some("missing"), "true").unwrap();
        assert_eq!(d.missing, Some(true));
        assert_eq!(d.to_string(), ":missing=true");
        assert!(!d.matches_range(None, None));
        let d = DateParam::parse(Some("missing"), "false").unwrap();
        assert_eq!(d.missing(), Some(false));
        assert!(d.matches_range(None, None));
        assert!(DateParam::parse(Some("missing"), "yes").is_err());
    }

    #[test]
    fn prefix_semantics_on_ranges() {
        let now = Timestamp::now();
        let m = |search: &str, target: &str| {
            let (l, u) = rng(target);
            p(search).matches_range_at(l, u, now)
        };
        // eq: search range contains target range.
        assert!(m("2020", "2020-06-01"));
        assert!(m("2020", "2020"));
        assert!(m("2020-01-01", "2020-01-01T23:59:59Z"));
        assert!(!m("2020-01-01", "2020-01"));
        assert!(!m("2020-01-01", "2020-01-02T00:00:00Z"));
        // ne
        assert!(m("ne2020-01-01", "2020-01"));
        assert!(!m("ne2020", "2020-03-04"));
        // gt / ge
        assert!(m("gt2020-01-01", "2020-01-02"));
        assert!(!m("gt2020-01-01", "2020-01-01T12:00"));
        assert!(m("gt2020-01-01", "2020-01"), "January reaches past the 1st");
        assert!(m("ge2020-01-01", "2020-01-01T12:00"));
        assert!(m("ge2020-01-01", "2020-01-01"));
        assert!(!m("ge2020-01-01", "2019-12-31"));
        // lt / le
        assert!(m("lt2020-01-01", "2019-12-31"));
        assert!(!m("lt2020-01-01", "2020-01-01T00:00"));
        assert!(m("le2020-01-01", "2020-01-01T00:00"));
        assert!(!m("le2020-01-01", "2020-01-02"));
        assert!(m("lt2020-01-01", "2019"), "2019 starts before");
        // sa / eb
        assert!(m("sa2020-01-01", "2020-01-02"));
        assert!(!m("sa2020-01-01", "2020-01"));
        assert!(m("eb2020-01-01", "2019-12-31"));
        assert!(!m("eb2020-01-01", "2019-12-31T12:00:00-12:00"));
        assert!(
            m("eb2020-01-01", "2019-12"),
            "December ends exactly at 2020-01-01"
        );
    }

    #[test]
    fn open_target_ranges() {
        let now = Timestamp::now();
        let (lo, _) = rng("2020-01-01");
        // Period with a start and no end.
        assert!(p("gt2021").matches_range_at(lo, None, now));
        assert!(!p("lt2019").matches_range_at(lo, None, now));
        assert!(!p("eq2020").matches_range_at(lo, None, now));
        assert!(p("ne2020").matches_range_at(None, None, now));
        assert!(p("lt2019").matches_range_at(None, lo, now));
    }

    #[test]
    fn approximately() {
        let now = date_range("2020-01-01").unwrap().1;
        // Ten years before now: margin is one year.
        let d = p("ap2010-01-01");
        let (l, u) = rng("2009-03-01");
        assert!(d.matches_range_at(l, u, now));
        let (l, u) = rng("2008-06-01");
        assert!(!d.matches_range_at(l, u, now));
        let (l, u) = rng("2010-11-01");
        assert!(d.matches_range_at(l, u, now));
        // At now the margin is zero: plain overlap.
        let d = p("ap2020-01-01");
        assert!(d.matches_range_at(Some(now), Some(Timestamp(now.0 + 1)), now));
        let (l, u) = rng("2019-12-31");
        assert!(!d.matches_range_at(l, u, now));
    }

    #[test]
    fn date_range_bounds() {
        let r = DateRange::from_params(vec![p("ge2020-01-01"), p("lt2021-01-01")]).unwrap();
        assert_eq!(r.lower.as_ref().unwrap().prefix, Prefix::Ge);
        assert_eq!(r.upper.as_ref().unwrap().prefix, Prefix::Lt);
        let (l, u) = rng("2020-12-31");
        assert!(r.matches_range(l, u));
        let (l, u) = rng("2019-12-31");
        assert!(!r.matches_range(l, u));
        assert!(!r.is_unbounded());
        assert!(DateRange::from_params(vec![]).unwrap().is_unbounded());
        assert!(DateRange::default().matches_range(None, None));

        let e = DateRange::from_params(vec![p("ge2020"), p("gt2021")]).unwrap_err();
        assert!(e.contains("at most one lower"), "{e}");
        let e = DateRange::from_params(vec![p("le2020"), p("eb2021")]).unwrap_err();
        assert!(e.contains("at most one"), "{e}");
        let e = DateRange::from_params(vec![p("2020")]).unwrap_err();
        assert!(e.contains("not a range bound"), "{e}");
        let e = DateRange::from_params(vec![p("ge2022"), p("lt2021")]).unwrap_err();
        assert!(e.contains("after the upper bound"), "{e}");
        assert!(
            DateRange::from_params(vec![DateParam::parse(Some("missing"), "true").unwrap()])
                .is_err()
        );
    }

    #[test]
    fn date_range_from_values() {
        let occ = [(None, "ge2020-01-01"), (None, "lt2021")];
        let r = DateRange::from_values("date", &occ).unwrap();
        assert!(r.lower.is_some() && r.upper.is_some());
        let e = DateRange::from_values("date", &[(None, "ge2020,ge2021")]).unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("date"));
        let e = DateRange::from_values("date", &[(Some("missing"), "true")]).unwrap_err();
        assert!(e.to_string().starts_with("parameter 'date': "), "{e}");
        let e = DateRange::from_values("birthdate", &[(None, "ge2020-13-01")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameter 'birthdate': 'ge2020-13-01' is not a valid date"
        );
        // Empty values are ignored.
        assert!(DateRange::from_values("date", &[(None, "")])
            .unwrap()
            .is_unbounded());
    }
}
