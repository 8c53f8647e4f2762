//! The values of a search parameter in a resource, as a database would index them: the
//! parameter's expression is evaluated, and each item becomes entries of the parameter's
//! type (a `CodeableConcept` gives a token per coding, a `Period` one date range, a
//! `HumanName` a string per part, and so on).
//!
//! ```
//! use fhir_model::fhirpath::extract::{search_values, IndexValue};
//! use fhir_model::{ResourceType, r4::{Patient, Resource}};
//!
//! let resource = Resource::from_json(r#"{"resourceType":"Patient","birthDate":"1974-12",
//!     "name":[{"family":"Chalmérs","given":["Peter"]}]}"#).unwrap();
//! let family = Patient::search_parameter("family").unwrap();
//! let values = search_values(family, resource.as_node(), fhir_model::FhirVersion::R4).unwrap();
//! let IndexValue::String(s) = &values[0] else { panic!() };
//! assert_eq!((s.text, s.normalized.as_str()), ("Chalmérs", "chalmers"));
//!
//! let birthdate = Patient::search_parameter("birthdate").unwrap();
//! let values = search_values(birthdate, resource.as_node(), fhir_model::FhirVersion::R4).unwrap();
//! let IndexValue::Date(d) = &values[0] else { panic!() };
//! assert_eq!(d.low, fhir_model::fhirpath::extract::date_range("1974-12-01").map(|r| r.0));
//! ```

use super::eval::{Ctx, EvalError, Item};
use super::node::{Node, Prim};
use super::{compile, ParseError};
use crate::{FhirVersion, SearchParamKind, SearchParameter};
use std::borrow::Cow;

/// One index entry of a search parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexValue<'a> {
    /// `token`
    Token(Token<'a>),
    /// `string`
    String(StringValue<'a>),
    /// `date`
    Date(DateValue),
    /// `number`
    Number(NumberValue<'a>),
    /// `quantity`
    Quantity(QuantityValue<'a>),
    /// `reference`
    Reference(ReferenceValue<'a>),
    /// `uri`
    Uri(&'a str),
    /// `composite`: for one value of the composite's expression with a value in every
    /// component, each component's values.
    Composite(Vec<Vec<IndexValue<'a>>>),
}

/// A token: a code with its system, and the text `:text` searches.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Token<'a> {
    /// `Coding.system`, `Identifier.system`, `Quantity.system`.
    pub system: Option<&'a str>,
    /// The code (`Coding.code`, `Identifier.value`, a `code`, `true` for a boolean).
    pub code: Option<Cow<'a, str>>,
    /// `Coding.display`, `CodeableConcept.text`, `Identifier.type.text`.
    pub text: Option<&'a str>,
    /// For identifiers, the codings of `Identifier.type` (for `:of-type`).
    pub of_type: Vec<(Option<&'a str>, &'a str)>,
}

/// A string, as written and normalized for the default match.
#[derive(Clone, Debug, PartialEq)]
pub struct StringValue<'a> {
    /// As written.
    pub text: &'a str,
    /// Lowercase, without accents, whitespace collapsed ([`normalize`]).
    pub normalized: String,
}

/// A date or period as an instant range, half-open `[low, high)` in nanoseconds since
/// 1970-01-01T00:00:00Z; `None` is unbounded (a period without start or end). A value
/// without a time zone is taken as UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateValue {
    /// Start of the range.
    pub low: Option<i128>,
    /// End of the range (excluded).
    pub high: Option<i128>,
}

/// A number.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberValue<'a> {
    /// The value.
    pub value: f64,
    /// As written (decimals keep their precision).
    pub text: Cow<'a, str>,
}

/// A quantity, or a range of quantities (`Range`, where low or high may be missing).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantityValue<'a> {
    /// The value, or the range's low value.
    pub low: Option<f64>,
    /// The value, or the range's high value.
    pub high: Option<f64>,
    /// `unit`
    pub unit: Option<&'a str>,
    /// `system`
    pub system: Option<&'a str>,
    /// `code` (for `Money`, the currency).
    pub code: Option<&'a str>,
}

/// A reference.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReferenceValue<'a> {
    /// The reference as written (`Patient/1`, an absolute URL, a canonical), or `Type/id` of
    /// an embedded resource.
    pub reference: Option<Cow<'a, str>>,
    /// The type it names, when the reference has the form `[base/]Type/id[/_history/v]`
    /// (or from `Reference.type`).
    pub resource_type: Option<&'a str>,
    /// The id it names, with the type.
    pub id: Option<&'a str>,
    /// `Reference.identifier`, for `:identifier`.
    pub identifier: Option<Token<'a>>,
}

/// Why a parameter's values could not be extracted.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtractError {
    /// The parameter has no expression (special parameters such as `_text`).
    NoExpression,
    /// The expression uses FHIRPath the evaluator does not have.
    Parse(ParseError),
    /// The expression failed on this resource.
    Eval(EvalError),
}

impl std::fmt::Display for ExtractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExtractError::NoExpression => f.write_str("the search parameter has no expression"),
            ExtractError::Parse(e) => write!(f, "the expression cannot be parsed: {e}"),
            ExtractError::Eval(e) => write!(f, "the expression failed: {e}"),
        }
    }
}

impl std::error::Error for ExtractError {}

/// The values of `param` in `resource`, a resource of `version` (through [`Compiled`],
/// parsed once and shared).
pub fn search_values<'a>(
    param: &'static SearchParameter,
    resource: Node<'a>,
    version: FhirVersion,
) -> Result<Vec<IndexValue<'a>>, ExtractError> {
    Compiled::new(param, version)?.values(resource)
}

/// A search parameter with its expressions parsed: what a search evaluates for every
/// resource.
///
/// ```
/// use fhir_model::fhirpath::extract::{Compiled, IndexValue};
/// use fhir_model::{FhirVersion, ResourceType, r4::{Observation, Resource}};
///
/// let code = Compiled::new(Observation::search_parameter("code").unwrap(), FhirVersion::R4).unwrap();
/// let resource = Resource::from_json(r#"{"resourceType":"Observation","status":"final",
///     "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}}"#).unwrap();
/// let values = code.values(resource.as_node()).unwrap();
/// assert!(matches!(&values[..], [IndexValue::Token(t)] if t.code.as_deref() == Some("8867-4")));
/// ```
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The parameter.
    pub param: &'static SearchParameter,
    expression: &'static super::Expression,
    components: Vec<&'static super::Expression>,
}

impl Compiled {
    /// Parses the parameter's expression and its components' (or finds them parsed).
    pub fn new(
        param: &'static SearchParameter,
        version: FhirVersion,
    ) -> Result<Compiled, ExtractError> {
        Compiled::with(param, version, None)
    }

    /// [`Compiled::new`] for resources of one type: the branches of the expression for other
    /// types are left out ([`Expression::parse_for_type`](super::Expression::parse_for_type)),
    /// which a parameter shared by many types (`clinical-code`, `clinical-date`) needs to be
    /// fast.
    pub fn for_type(
        param: &'static SearchParameter,
        version: FhirVersion,
        resource_type: &str,
    ) -> Result<Compiled, ExtractError> {
        Compiled::with(param, version, Some(resource_type))
    }

    fn with(
        param: &'static SearchParameter,
        version: FhirVersion,
        resource_type: Option<&str>,
    ) -> Result<Compiled, ExtractError> {
        if param.expression.is_empty() {
            return Err(ExtractError::NoExpression);
        }
        let expression = match resource_type {
            Some(t) => super::compile_for_type(param.expression, version, t),
            None => compile(param.expression, version),
        }
        .map_err(ExtractError::Parse)?;
        let components = param
            .components
            .iter()
            .map(|c| compile(c.expression, version).map_err(ExtractError::Parse))
            .collect::<Result<_, _>>()?;
        Ok(Compiled {
            param,
            expression,
            components,
        })
    }

    /// The parsed expression.
    pub fn expression(&self) -> &'static super::Expression {
        self.expression
    }

    /// The parameter's values in `resource` (a resource of the version it was compiled for).
    pub fn values<'a>(&self, resource: Node<'a>) -> Result<Vec<IndexValue<'a>>, ExtractError> {
        let mut out = Vec::new();
        self.values_into(resource, &mut out)?;
        Ok(out)
    }

    /// [`Compiled::values`], appended to `out`.
    pub fn values_into<'a>(
        &self,
        resource: Node<'a>,
        out: &mut Vec<IndexValue<'a>>,
    ) -> Result<(), ExtractError> {
        let items = self
            .expression
            .evaluate(resource)
            .map_err(ExtractError::Eval)?;
        let ctx = Ctx {
            table: self.expression.table,
            resource: Some(resource),
            root_resource: None,
            context: &[],
            resolver: None,
            scratch: Default::default(),
        };
        if self.param.kind == SearchParamKind::Composite {
            // A composite value is a tuple with a value in every component: a search names
            // one for each, so a tuple missing one could never match (an Observation gives no
            // `code-value-date` without a `valueDateTime`). Such items give no value, which is
            // also what `:missing` sees.
            'items: for item in &items {
                let mut parts = Vec::with_capacity(self.components.len());
                for (component, e) in self.param.components.iter().zip(&self.components) {
                    let values = e
                        .evaluate_with(std::slice::from_ref(item), Some(resource), None)
                        .map_err(ExtractError::Eval)?;
                    let mut entries = Vec::new();
                    for v in &values {
                        ctx.values(component.kind, v, &mut entries);
                    }
                    if entries.is_empty() {
                        continue 'items;
                    }
                    parts.push(entries);
                }
                out.push(IndexValue::Composite(parts));
            }
            return Ok(());
        }
        for item in &items {
            ctx.values(self.param.kind, item, out);
        }
        Ok(())
    }
}

/// Lowercase, accents and other combining marks removed (by a table of Latin letters with
/// diacritics), runs of whitespace as one space: the form FHIR's default string search
/// compares.
///
/// ```
/// assert_eq!(fhir_model::fhirpath::extract::normalize("  Zoë  Ångström "), "zoe angstrom");
/// ```
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            for l in c.to_lowercase() {
                match strip_accent(l) {
                    Some(plain) => out.push_str(plain),
                    None => out.push(l),
                }
            }
        }
    }
    out
}

/// The letter without its accent, for Latin letters with diacritics and lone combining marks.
fn strip_accent(c: char) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("àáâãäåāăą", "a"),
        ("æ", "ae"),
        ("çćĉċč", "c"),
        ("ďđ", "d"),
        ("èéêëēĕėęě", "e"),
        ("ĝğġģ", "g"),
        ("ĥħ", "h"),
        ("ìíîïĩīĭįı", "i"),
        ("ĵ", "j"),
        ("ķ", "k"),
        ("ĺļľŀł", "l"),
        ("ñńņňŉ", "n"),
        ("òóôõöøōŏő", "o"),
        ("œ", "oe"),
        ("ŕŗř", "r"),
        ("śŝşš", "s"),
        ("ß", "ss"),
        ("ţťŧ", "t"),
        ("ùúûüũūŭůűų", "u"),
        ("ŵ", "w"),
        ("ýÿŷ", "y"),
        ("źżž", "z"),
        ("\u{300}\u{301}\u{302}\u{303}\u{308}\u{30a}\u{327}", ""),
    ];
    for (from, to) in TABLE {
        if from.contains(c) {
            return Some(to);
        }
    }
    None
}

/// The range `[low, high)` in nanoseconds since the epoch that a FHIR date, dateTime or
/// instant stands for at its precision (a value without a zone is UTC); `None` when the
/// text is not one.
///
/// ```
/// use fhir_model::fhirpath::extract::date_range;
/// let (low, high) = date_range("2020").unwrap();
/// assert_eq!((low, high - low), (1_577_836_800_000_000_000, 366 * 86_400_000_000_000));
/// let (low, high) = date_range("2020-01-01T10:00:00+01:00").unwrap();
/// assert_eq!((low, high - low), (1_577_869_200_000_000_000, 1_000_000_000));
/// ```
pub fn date_range(text: &str) -> Option<(i128, i128)> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = b.get(from..from + len)?;
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| s.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')))
    };
    const SEC: i128 = 1_000_000_000;
    const DAY: i128 = 86_400 * SEC;
    let year = num(0, 4)?;
    if b.len() == 4 {
        let start = i128::from(days_from_civil(year, 1, 1)) * DAY;
        return Some((start, i128::from(days_from_civil(year + 1, 1, 1)) * DAY));
    }
    if b.get(4) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2).filter(|m| (1..=12).contains(m))?;
    if b.len() == 7 {
        let (ny, nm) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        return Some((
            i128::from(days_from_civil(year, month, 1)) * DAY,
            i128::from(days_from_civil(ny, nm, 1)) * DAY,
        ));
    }
    if b.get(7) != Some(&b'-') {
        return None;
    }
    let day = num(8, 2).filter(|d| (1..=31).contains(d))?;
    let midnight = i128::from(days_from_civil(year, month, day)) * DAY;
    if b.len() == 10 {
        return Some((midnight, midnight + DAY));
    }
    if b.get(10) != Some(&b'T') {
        return None;
    }
    let hour = num(11, 2)?;
    let minute = num(14, 2)?;
    let mut i = 16;
    let mut width = 60 * SEC;
    let mut seconds = 0i128;
    let mut nanos = 0i128;
    if b.get(16) == Some(&b':') {
        seconds = i128::from(num(17, 2)?);
        width = SEC;
        i = 19;
        if b.get(19) == Some(&b'.') {
            i = 20;
            let mut digits = 0u32;
            while i < b.len() && b[i].is_ascii_digit() {
                if digits < 9 {
                    nanos = nanos * 10 + i128::from(b[i] - b'0');
                    digits += 1;
                }
                i += 1;
            }
            if digits == 0 {
                return None;
            }
            width = 10i128.pow(9 - digits);
            nanos *= width;
        }
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == i + 6 => {
            let minutes = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            let minutes = i128::from(minutes) * 60 * SEC;
            if sign == b'+' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let start = midnight
        + i128::from(hour) * 3600 * SEC
        + i128::from(minute) * 60 * SEC
        + seconds * SEC
        + nanos
        + offset;
    Some((start, start + width))
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

impl<'a> Ctx<'a, '_> {
    fn child(&self, node: Node<'a>, name: &str) -> Option<Node<'a>> {
        self.first_child(node, name)
    }

    fn child_str(&self, node: Node<'a>, name: &str) -> Option<&'a str> {
        self.child(node, name)?.primitive()?.as_str()
    }

    fn child_prim(&self, node: Node<'a>, name: &str) -> Option<Prim<'a>> {
        self.child(node, name)?.primitive()
    }

    fn each_child(&self, node: Node<'a>, name: &str) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        self.children(node, name, &mut out);
        out
    }

    /// Pushes the entries of kind `kind` that `item` gives.
    pub(crate) fn values(
        &self,
        kind: SearchParamKind,
        item: &Item<'a>,
        out: &mut Vec<IndexValue<'a>>,
    ) {
        let node = match item {
            Item::Node(n) => *n,
            Item::Bool(b) => {
                if kind == SearchParamKind::Token {
                    out.push(IndexValue::Token(Token {
                        code: Some(Cow::Borrowed(if *b { "true" } else { "false" })),
                        ..Token::default()
                    }));
                }
                return;
            }
            Item::String(s) => {
                match kind {
                    SearchParamKind::Token => out.push(IndexValue::Token(Token {
                        code: Some(s.clone()),
                        ..Token::default()
                    })),
                    SearchParamKind::String => {
                        // A computed string has no place in the resource to borrow from.
                    }
                    _ => {}
                }
                return;
            }
            Item::Integer(i) => {
                if kind == SearchParamKind::Number {
                    out.push(IndexValue::Number(NumberValue {
                        value: *i as f64,
                        text: Cow::Owned(i.to_string()),
                    }));
                }
                return;
            }
            Item::Decimal(_) | Item::Reference(_) | Item::Instant(_) | Item::Quantity(..) => return,
        };
        match kind {
            SearchParamKind::Token => self.tokens(node, out),
            SearchParamKind::String => self.strings(node, out),
            SearchParamKind::Date => {
                if let Some(d) = self.date(node) {
                    out.push(IndexValue::Date(d));
                }
            }
            SearchParamKind::Number => match node.primitive() {
                Some(p @ (Prim::Integer(_) | Prim::Decimal(_))) => {
                    let (value, text) = match p {
                        Prim::Integer(i) => (i as f64, Cow::Owned(i.to_string())),
                        Prim::Decimal(d) => (d.parse().unwrap_or(f64::NAN), Cow::Borrowed(d)),
                        _ => unreachable!(),
                    };
                    out.push(IndexValue::Number(NumberValue { value, text }));
                }
                _ => {
                    if let Some(q) = self.quantity(node) {
                        if let Some(v) = q.low {
                            out.push(IndexValue::Number(NumberValue {
                                value: v,
                                text: Cow::Owned(v.to_string()),
                            }));
                        }
                    }
                }
            },
            SearchParamKind::Quantity => {
                if let Some(q) = self.quantity(node) {
                    out.push(IndexValue::Quantity(q));
                }
            }
            SearchParamKind::Reference => {
                if let Some(r) = self.reference(node) {
                    out.push(IndexValue::Reference(r));
                }
            }
            SearchParamKind::Uri => {
                if let Some(s) = node.primitive().and_then(|p| p.as_str()) {
                    out.push(IndexValue::Uri(s));
                }
            }
            SearchParamKind::Composite | SearchParamKind::Special => {}
        }
    }

    fn tokens(&self, node: Node<'a>, out: &mut Vec<IndexValue<'a>>) {
        let coding = |n: Node<'a>| Token {
            system: self.child_str(n, "system"),
            code: self.child_str(n, "code").map(Cow::Borrowed),
            text: self.child_str(n, "display"),
            of_type: Vec::new(),
        };
        match node.type_name() {
            "Coding" => out.push(IndexValue::Token(coding(node))),
            "CodeableConcept" => {
                let text = self.child_str(node, "text");
                let codings = self.each_child(node, "coding");
                for c in &codings {
                    out.push(IndexValue::Token(coding(*c)));
                }
                if text.is_some() {
                    out.push(IndexValue::Token(Token {
                        text,
                        ..Token::default()
                    }));
                }
            }
            "CodeableReference" => {
                if let Some(c) = self.child(node, "concept") {
                    self.tokens(c, out);
                }
            }
            "Identifier" => {
                let mut of_type = Vec::new();
                let mut text = None;
                if let Some(t) = self.child(node, "type") {
                    text = self.child_str(t, "text");
                    for c in self.each_child(t, "coding") {
                        if let Some(code) = self.child_str(c, "code") {
                            of_type.push((self.child_str(c, "system"), code));
                        }
                    }
                }
                out.push(IndexValue::Token(Token {
                    system: self.child_str(node, "system"),
                    code: self.child_str(node, "value").map(Cow::Borrowed),
                    text,
                    of_type,
                }));
            }
            "ContactPoint" => out.push(IndexValue::Token(Token {
                system: None,
                code: self.child_str(node, "value").map(Cow::Borrowed),
                ..Token::default()
            })),
            "Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity" => {
                out.push(IndexValue::Token(Token {
                    system: self.child_str(node, "system"),
                    code: self.child_str(node, "code").map(Cow::Borrowed),
                    ..Token::default()
                }))
            }
            "Reference" => {
                if let Some(i) = self.child(node, "identifier") {
                    self.tokens(i, out);
                }
            }
            _ => match node.primitive() {
                Some(Prim::Bool(b)) => out.push(IndexValue::Token(Token {
                    code: Some(Cow::Borrowed(if b { "true" } else { "false" })),
                    ..Token::default()
                })),
                Some(Prim::Integer(i)) => out.push(IndexValue::Token(Token {
                    code: Some(Cow::Owned(i.to_string())),
                    ..Token::default()
                })),
                Some(Prim::Code(code, system)) => out.push(IndexValue::Token(Token {
                    system: (!system.is_empty()).then_some(system),
                    code: Some(Cow::Borrowed(code)),
                    ..Token::default()
                })),
                Some(p) => {
                    if let Some(s) = p.as_str() {
                        out.push(IndexValue::Token(Token {
                            code: Some(Cow::Borrowed(s)),
                            ..Token::default()
                        }))
                    }
                }
                None => {}
            },
        }
    }

    fn strings(&self, node: Node<'a>, out: &mut Vec<IndexValue<'a>>) {
        let mut push = |s: &'a str| {
            out.push(IndexValue::String(StringValue {
                text: s,
                normalized: normalize(s),
            }))
        };
        let parts: &[&str] = match node.type_name() {
            "HumanName" => &["text", "family", "given", "prefix", "suffix"],
            "Address" => &[
                "text",
                "line",
                "city",
                "district",
                "state",
                "postalCode",
                "country",
            ],
            "CodeableConcept" => &["text"],
            "Coding" => &["display"],
            "Identifier" => &["value"],
            "Reference" => &["display"],
            "Annotation" => &["text"],
            _ => {
                if let Some(s) = node.primitive().and_then(|p| p.as_str()) {
                    push(s);
                }
                return;
            }
        };
        for part in parts {
            for n in self.each_child(node, part) {
                if let Some(s) = n.primitive().and_then(|p| p.as_str()) {
                    push(s);
                }
            }
        }
    }

    fn date(&self, node: Node<'a>) -> Option<DateValue> {
        let range = |s: &str| date_range(s);
        match node.type_name() {
            "Period" => {
                let low = self.child_str(node, "start").and_then(range).map(|r| r.0);
                let high = self.child_str(node, "end").and_then(range).map(|r| r.1);
                (low.is_some() || high.is_some()).then_some(DateValue { low, high })
            }
            "Timing" => {
                let mut low: Option<i128> = None;
                let mut high: Option<i128> = None;
                let mut widen = |l: Option<i128>, h: Option<i128>| {
                    if let Some(l) = l {
                        low = Some(low.map_or(l, |x| x.min(l)));
                    }
                    if let Some(h) = h {
                        high = Some(high.map_or(h, |x| x.max(h)));
                    }
                };
                for e in self.each_child(node, "event") {
                    if let Some((l, h)) = e.primitive().and_then(|p| p.as_str()).and_then(range) {
                        widen(Some(l), Some(h));
                    }
                }
                if let Some(repeat) = self.child(node, "repeat") {
                    if let Some(bounds) = self.child(repeat, "bounds") {
                        if let Some(d) = self.date(bounds) {
                            widen(d.low, d.high);
                        }
                    }
                }
                (low.is_some() || high.is_some()).then_some(DateValue { low, high })
            }
            _ => match node.primitive()? {
                Prim::Date(s) | Prim::DateTime(s) | Prim::Instant(s) | Prim::String(s) => {
                    let (low, high) = range(s)?;
                    Some(DateValue {
                        low: Some(low),
                        high: Some(high),
                    })
                }
                _ => None,
            },
        }
    }

    fn quantity(&self, node: Node<'a>) -> Option<QuantityValue<'a>> {
        let number = |n: Node<'a>, name: &str| match self.child_prim(n, name)? {
            Prim::Decimal(d) => d.parse().ok(),
            Prim::Integer(i) => Some(i as f64),
            _ => None,
        };
        match node.type_name() {
            "Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity"
            | "MoneyQuantity" => {
                let v = number(node, "value");
                Some(QuantityValue {
                    low: v,
                    high: v,
                    unit: self.child_str(node, "unit"),
                    system: self.child_str(node, "system"),
                    code: self.child_str(node, "code"),
                })
            }
            "Money" => {
                let v = number(node, "value");
                Some(QuantityValue {
                    low: v,
                    high: v,
                    unit: None,
                    system: Some("urn:iso:std:iso:4217"),
                    code: self.child_str(node, "currency"),
                })
            }
            "Range" => {
                let low = self.child(node, "low");
                let high = self.child(node, "high");
                let q = low.or(high)?;
                Some(QuantityValue {
                    low: low.and_then(|l| number(l, "value")),
                    high: high.and_then(|h| number(h, "value")),
                    unit: self.child_str(q, "unit"),
                    system: self.child_str(q, "system"),
                    code: self.child_str(q, "code"),
                })
            }
            _ => match node.primitive()? {
                Prim::Decimal(d) => {
                    let v = d.parse().ok();
                    Some(QuantityValue {
                        low: v,
                        high: v,
                        unit: None,
                        system: None,
                        code: None,
                    })
                }
                Prim::Integer(i) => Some(QuantityValue {
                    low: Some(i as f64),
                    high: Some(i as f64),
                    unit: None,
                    system: None,
                    code: None,
                }),
                _ => None,
            },
        }
    }

    fn reference(&self, node: Node<'a>) -> Option<ReferenceValue<'a>> {
        let is_type = |t: &str| self.table.resource(t).is_some();
        match node {
            Node::Object(_, "Reference") => {
                let reference = self.child_str(node, "reference");
                let mut value = ReferenceValue {
                    reference: reference.map(Cow::Borrowed),
                    ..ReferenceValue::default()
                };
                if let Some(r) = reference {
                    if let Some((t, id)) = split_reference(r, is_type) {
                        value.resource_type = Some(t);
                        value.id = Some(id);
                    }
                }
                if value.resource_type.is_none() {
                    value.resource_type = self.child_str(node, "type").filter(|t| is_type(t));
                }
                if let Some(i) = self.child(node, "identifier") {
                    let mut tokens = Vec::new();
                    self.tokens(i, &mut tokens);
                    if let Some(IndexValue::Token(t)) = tokens.into_iter().next() {
                        value.identifier = Some(t);
                    }
                }
                (value.reference.is_some() || value.identifier.is_some()).then_some(value)
            }
            Node::Object(..) if is_type(node.type_name()) => {
                // A resource in place (Bundle.entry.resource): Type/id.
                let ty = node.type_name();
                let id = self.child_str(node, "id")?;
                Some(ReferenceValue {
                    reference: Some(Cow::Owned(format!("{ty}/{id}"))),
                    resource_type: Some(ty),
                    id: Some(id),
                    identifier: None,
                })
            }
            _ => {
                let s = node.primitive()?.as_str()?;
                let mut value = ReferenceValue {
                    reference: Some(Cow::Borrowed(s)),
                    ..ReferenceValue::default()
                };
                if let Some((t, id)) = split_reference(s, is_type) {
                    value.resource_type = Some(t);
                    value.id = Some(id);
                }
                Some(value)
            }
        }
    }
}

/// The type and id of a literal reference `[base/]Type/id[/_history/version]`.
///
/// ```
/// use fhir_model::fhirpath::extract::split_reference;
/// let is_type = |t: &str| t == "Patient";
/// assert_eq!(split_reference("Patient/1", is_type), Some(("Patient", "1")));
/// assert_eq!(split_reference("http://x/fhir/Patient/1/_history/2", is_type), Some(("Patient", "1")));
/// assert_eq!(split_reference("#p1", is_type), None);
/// ```
pub fn split_reference(reference: &str, is_type: impl Fn(&str) -> bool) -> Option<(&str, &str)> {
    let path = reference.split(['?', '#']).next().unwrap_or_default();
    let mut parts = path.rsplit('/');
    let (last, before) = (parts.next()?, parts.next()?);
    let (ty, id) = if before == "_history" {
        (parts.nth(1)?, parts_id(path)?)
    } else {
        (before, last)
    };
    (is_type(ty) && !id.is_empty()).then_some((ty, id))
}

/// The id of `[base/]Type/id/_history/version`.
fn parts_id(path: &str) -> Option<&str> {
    path.rsplit('/').nth(2)
}
