//! FHIR primitives: the [`Primitive`] wrapper that carries an element's id and extensions
//! beside its value, and the value types that keep FHIR's exact text (decimals, dates, times).

use crate::json::{JsonReader, JsonResult, JsonWriter, PrimitiveValue};
use std::fmt;
use std::str::FromStr;

/// A FHIR primitive element: an optional value plus the element's `id` and extensions.
///
/// In JSON the value is the member itself (`"birthDate": "1974-12-25"`) and the id and
/// extensions are in the `_` sibling (`"_birthDate": {"extension": [...]}`). Each version module
/// names this type with its own extension type, as `r4::Primitive<T>`.
///
/// The id and the extensions are rare, so they live together in one box that exists only when
/// one of them is set: a primitive takes its value's size plus 8 bytes. Read them with
/// [`Primitive::id`] and [`Primitive::extension`], change them with [`Primitive::set_id`] and
/// [`Primitive::extension_mut`].
///
/// ```
/// use fhir_model::r4::{Extension, Patient, Primitive};
/// let mut patient = Patient::default();
/// patient.active = Some(Primitive::from(true));
/// patient.birth_date = Some("1974-12-25".parse::<fhir_model::Date>().unwrap().into());
/// assert_eq!(patient.birth_date.as_ref().and_then(|d| d.value.as_ref()).unwrap().year(), 1974);
///
/// let mut given: Primitive<String> = Primitive::from("Ann").with_id("g1");
/// given.extension_mut().push(Extension { url: Some("http://example.org/x".into()), ..Default::default() });
/// assert_eq!((given.id(), given.extension().len()), (Some("g1"), 1));
/// ```
#[derive(Clone)]
pub struct Primitive<T, X> {
    /// The value; `None` when the element carries only an id or extensions.
    pub value: Option<T>,
    /// The id and extensions, boxed: most primitives have neither.
    element: Option<Box<ElementParts<X>>>,
}

/// The rarely present parts of a primitive element.
#[derive(Clone)]
pub(crate) struct ElementParts<X> {
    pub(crate) id: Option<String>,
    pub(crate) extension: Vec<X>,
}

impl<T, X> Default for Primitive<T, X> {
    fn default() -> Self {
        Primitive {
            value: None,
            element: None,
        }
    }
}

impl<T: PartialEq, X: PartialEq> PartialEq for Primitive<T, X> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
            && self.id() == other.id()
            && self.extension() == other.extension()
    }
}

impl<T: fmt::Debug, X: fmt::Debug> fmt::Debug for Primitive<T, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Primitive")
            .field("value", &self.value)
            .field("id", &self.id())
            .field("extension", &self.extension())
            .finish()
    }
}

impl<T, X> Primitive<T, X> {
    /// A primitive with a value and no id or extensions.
    pub fn new(value: T) -> Self {
        Primitive {
            value: Some(value),
            element: None,
        }
    }

    /// The value, if any.
    pub fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The element's id (`_name.id` in JSON).
    pub fn id(&self) -> Option<&str> {
        self.element.as_ref().and_then(|e| e.id.as_deref())
    }

    /// Sets or clears the element's id.
    pub fn set_id(&mut self, id: Option<String>) {
        match id {
            Some(id) => self.parts_mut().id = Some(id),
            None => {
                if let Some(e) = &mut self.element {
                    e.id = None;
                }
                self.tidy();
            }
        }
    }

    /// The primitive with its id set.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.set_id(Some(id.into()));
        self
    }

    /// The element's extensions (`_name.extension` in JSON).
    pub fn extension(&self) -> &[X] {
        self.element.as_ref().map_or(&[], |e| &e.extension)
    }

    /// Visits the references in the element's extensions, without allocating its parts.
    pub(crate) fn visit_extensions(&mut self, visit: &mut dyn FnMut(&mut String))
    where
        X: crate::VisitReferences,
    {
        if let Some(parts) = &mut self.element {
            crate::VisitReferences::visit_references(&mut parts.extension, visit);
        }
    }

    /// The element's extensions, to change.
    pub fn extension_mut(&mut self) -> &mut Vec<X> {
        &mut self.parts_mut().extension
    }

    /// The primitive with its extensions replaced by `extension`.
    pub fn with_extension(mut self, extension: Vec<X>) -> Self {
        *self.extension_mut() = extension;
        self.tidy();
        self
    }

    /// Whether the element has an id or extensions (what JSON writes in the `_` sibling).
    pub fn has_id_or_extension(&self) -> bool {
        self.element
            .as_ref()
            .is_some_and(|e| e.id.is_some() || !e.extension.is_empty())
    }

    /// The box of the id and extensions, made if missing; `true` if it was made.
    pub(crate) fn parts_mut_new(&mut self) -> (&mut ElementParts<X>, bool) {
        let made = self.element.is_none();
        let parts = self.element.get_or_insert_with(|| {
            Box::new(ElementParts {
                id: None,
                extension: Vec::new(),
            })
        });
        (parts, made)
    }

    fn parts_mut(&mut self) -> &mut ElementParts<X> {
        self.parts_mut_new().0
    }

    /// Drops the box once it holds nothing.
    fn tidy(&mut self) {
        if !self.has_id_or_extension() {
            self.element = None;
        }
    }
}

/// The heap bytes of one primitive's box of id and extensions.
pub(crate) const ELEMENT_PARTS_BYTES: usize = std::mem::size_of::<ElementParts<()>>();

impl<T, X> From<T> for Primitive<T, X> {
    fn from(value: T) -> Self {
        Primitive::new(value)
    }
}

impl<X> From<&str> for Primitive<String, X> {
    fn from(value: &str) -> Self {
        Primitive::new(value.to_string())
    }
}

impl PrimitiveValue for String {
    fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        r.read_string()
    }
    fn heap_size(&self) -> usize {
        self.capacity()
    }
    fn write_value(&self, w: &mut JsonWriter) {
        w.string(self);
    }
}

impl PrimitiveValue for bool {
    fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        r.read_bool()
    }
    fn write_value(&self, w: &mut JsonWriter) {
        w.bool(*self);
    }
}

fn read_integer(r: &mut JsonReader<'_>, min: i64, max: i64) -> JsonResult<i64> {
    let start = r.value_start();
    let text = r.read_number()?;
    if text.contains(['.', 'e', 'E']) {
        return Err(r.error_at(start, format!("expected an integer, found {text}")));
    }
    match text.parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(r.error_at(
            start,
            format!("integer {text} is out of range ({min} to {max})"),
        )),
    }
}

/// FHIR `integer`.
impl PrimitiveValue for i32 {
    fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        read_integer(r, i32::MIN.into(), i32::MAX.into()).map(|v| v as i32)
    }
    fn write_value(&self, w: &mut JsonWriter) {
        w.integer((*self).into());
    }
}

/// FHIR `unsignedInt` and `positiveInt`.
impl PrimitiveValue for u32 {
    fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        read_integer(r, 0, u32::MAX.into()).map(|v| v as u32)
    }
    fn write_value(&self, w: &mut JsonWriter) {
        w.integer((*self).into());
    }
}

/// FHIR `integer64` (R5), a JSON string so that JavaScript readers keep every digit.
impl PrimitiveValue for i64 {
    fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        let start = r.value_start();
        let text = r.read_str()?;
        text.parse::<i64>()
            .map_err(|_| r.error_at(start, format!("'{text}' is not an integer64")))
    }
    fn write_value(&self, w: &mut JsonWriter) {
        w.string(&self.to_string());
    }
}

/// A value's text did not match its FHIR type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    type_name: &'static str,
    text: String,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a valid FHIR {}", self.text, self.type_name)
    }
}

impl std::error::Error for InvalidValue {}

/// A FHIR `decimal`, kept as its exact text: `1.50` stays `1.50` and `1e3` stays `1e3`, as
/// FHIR requires (precision is part of the value).
///
/// ```
/// use fhir_model::Decimal;
/// let d: Decimal = "1.50".parse().unwrap();
/// assert_eq!(d.as_str(), "1.50");
/// assert_eq!(d.to_f64(), 1.5);
/// assert!("1.".parse::<Decimal>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// The exact text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
}

/// Whether `s` is a JSON number.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

impl FromStr for Decimal {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_json_number(s) {
            Ok(Decimal(s.to_string()))
        } else {
            Err(InvalidValue {
                type_name: "decimal",
                text: s.to_string(),
            })
        }
    }
}

impl From<f64> for Decimal {
    /// The shortest text that reads back as the same `f64`. Not finite values become `0`.
    fn from(v: f64) -> Self {
        if v.is_finite() {
            Decimal(format!("{v}"))
        } else {
            Decimal("0".into())
        }
    }
}

impl From<i64> for Decimal {
    fn from(v: i64) -> Self {
        Decimal(v.to_string())
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PrimitiveValue for Decimal {
    fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        r.read_number().map(|t| Decimal(t.to_string()))
    }
    fn heap_size(&self) -> usize {
        self.0.capacity()
    }
    fn write_value(&self, w: &mut JsonWriter) {
        w.raw_number(&self.0);
    }
}

/// Parses `n` ASCII digits at `*i`.
fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<u32> {
    let part = b.get(*i..*i + n)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *i += n;
    Some(part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; returns the number of parts.
fn date_part(b: &[u8], i: &mut usize) -> Option<u8> {
    let year = digits(b, i, 4)?;
    if year == 0 {
        return None;
    }
    if b.get(*i) != Some(&b'-') {
        return Some(1);
    }
    *i += 1;
    let month = digits(b, i, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    if b.get(*i) != Some(&b'-') {
        return Some(2);
    }
    *i += 1;
    let day = digits(b, i, 2)?;
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(3)
}

/// `hh:mm:ss(.fff)?`
fn time_part(b: &[u8], i: &mut usize) -> Option<()> {
    let hour = digits(b, i, 2)?;
    (b.get(*i) == Some(&b':')).then_some(())?;
    *i += 1;
    let minute = digits(b, i, 2)?;
    (b.get(*i) == Some(&b':')).then_some(())?;
    *i += 1;
    let second = digits(b, i, 2)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if b.get(*i) == Some(&b'.') {
        *i += 1;
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        (*i > start).then_some(())?;
    }
    Some(())
}

/// `Z` or `+hh:mm` / `-hh:mm`.
fn zone_part(b: &[u8], i: &mut usize) -> Option<()> {
    match b.get(*i) {
        Some(b'Z') => {
            *i += 1;
            Some(())
        }
        Some(b'+' | b'-') => {
            *i += 1;
            let hour = digits(b, i, 2)?;
            (b.get(*i) == Some(&b':')).then_some(())?;
            *i += 1;
            let minute = digits(b, i, 2)?;
            (hour < 14 && minute < 60 || hour == 14 && minute == 0).then_some(())
        }
        _ => None,
    }
}

pub(crate) fn valid_date(s: &str) -> bool {
    let mut i = 0;
    date_part(s.as_bytes(), &mut i).is_some() && i == s.len()
}

pub(crate) fn valid_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let Some(parts) = date_part(b, &mut i) else {
        return false;
    };
    if i == b.len() {
        return true;
    }
    parts == 3
        && b[i] == b'T'
        && {
            i += 1;
            time_part(b, &mut i).is_some()
        }
        && zone_part(b, &mut i).is_some()
        && i == b.len()
}

pub(crate) fn valid_instant(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    date_part(b, &mut i) == Some(3) && b.get(i) == Some(&b'T') && {
        i += 1;
        time_part(b, &mut i).is_some() && zone_part(b, &mut i).is_some() && i == b.len()
    }
}

pub(crate) fn valid_time(s: &str) -> bool {
    let mut i = 0;
    time_part(s.as_bytes(), &mut i).is_some() && i == s.len()
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $fhir:literal, $valid:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The exact text, with the precision it was given in.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if $valid(s) {
                    Ok($name(s.to_string()))
                } else {
                    Err(InvalidValue { type_name: $fhir, text: s.to_string() })
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PrimitiveValue for $name {
            fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self> {
                let start = r.value_start();
                let text = r.read_str()?;
                if $valid(&text) {
                    Ok($name(text.into_owned()))
                } else {
                    Err(r.error_at(start, format!("'{text}' is not a valid FHIR {}", $fhir)))
                }
            }
            fn heap_size(&self) -> usize {
                self.0.capacity()
            }
            fn write_value(&self, w: &mut JsonWriter) {
                w.string(&self.0);
            }
        }
    };
}

text_value!(
    /// A FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, kept with its precision.
    Date, "date", valid_date
);
text_value!(
    /// A FHIR `dateTime`: a date of any precision, or a full date with a time and time zone.
    DateTime, "dateTime", valid_date_time
);
text_value!(
    /// A FHIR `instant`: a full date and time with a time zone.
    Instant, "instant", valid_instant
);
text_value!(
    /// A FHIR `time`: `hh:mm:ss` with optional fractions of a second.
    Time, "time", valid_time
);

fn leading_number(s: &str, start: usize, len: usize) -> Option<u32> {
    s.get(start..start + len)?.parse().ok()
}

impl Date {
    /// The year.
    pub fn year(&self) -> u32 {
        leading_number(&self.0, 0, 4).unwrap_or(0)
    }
    /// The month (1 to 12), when given.
    pub fn month(&self) -> Option<u32> {
        leading_number(&self.0, 5, 2)
    }
    /// The day of the month, when given.
    pub fn day(&self) -> Option<u32> {
        leading_number(&self.0, 8, 2)
    }
}

impl DateTime {
    /// The year.
    pub fn year(&self) -> u32 {
        leading_number(&self.0, 0, 4).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_fhir_grammar() {
        for ok in ["2024", "2024-02", "2024-02-29", "0001"] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in [
            "0000",
            "2024-13",
            "2024-1",
            "24",
            "2024-02-32",
            "2024-02-01T10:00:00Z",
        ] {
            assert!(!valid_date(bad), "{bad}");
        }
        for ok in [
            "2024",
            "2024-02-01",
            "2024-02-01T10:00:00Z",
            "2024-02-01T10:00:00.123+14:00",
        ] {
            assert!(valid_date_time(ok), "{ok}");
        }
        for bad in [
            "2024-02-01T10:00:00",
            "2024-02T10:00:00Z",
            "2024-02-01T25:00:00Z",
            "2024-02-01T10:00:00+15:00",
        ] {
            assert!(!valid_date_time(bad), "{bad}");
        }
        assert!(valid_instant("2015-02-07T13:28:17.239+02:00"));
        assert!(!valid_instant("2015-02-07"));
        assert!(valid_time("23:59:60.5"));
        assert!(!valid_time("24:00:00"));
    }

    #[test]
    fn decimals_keep_their_text() {
        for text in ["1.50", "1e3", "-0.0", "1E-7", "0"] {
            assert_eq!(text.parse::<Decimal>().unwrap().as_str(), text);
        }
        for bad in ["1.", ".5", "01", "+1", "1e", "NaN", ""] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
        assert_eq!(Decimal::from(72.5).as_str(), "72.5");
    }
}
