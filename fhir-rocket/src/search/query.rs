//! Query-string decoding ([`parse_query`], [`Query`]) and the search result
//! parameters ([`ResultParams`]).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::lists::{FromSearchParam, Occurrence};
use super::reference::is_resource_type;
use super::SearchError;

/// One `name[:modifier]=value` pair of a query, percent-decoded.
///
/// `name` is the decoded parameter name up to the first `:` or `.`;
/// `modifier` is everything after it: without the `:` for a modifier, but
/// keeping the `.` for a chain. `value` is percent-decoded but still
/// FHIR-escaped (`\,` `\|` `\$` `\\`), because the typed parsers need the
/// escapes to split it.
///
/// | query pair | `name` | `modifier` |
/// |---|---|---|
/// | `family=x` | `family` | `None` |
/// | `family:exact=x` | `family` | `Some("exact")` |
/// | `subject:Patient=1` | `subject` | `Some("Patient")` |
/// | `subject.name=x` | `subject` | `Some(".name")` |
/// | `subject:Patient.name=x` | `subject` | `Some("Patient.name")` |
/// | `_has:Observation:patient:code=x` | `_has` | `Some("Observation:patient:code")` |
/// | `_include:iterate=x` | `_include` | `Some("iterate")` |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParam {
    /// The parameter name.
    pub name: String,
    /// The modifier or chain (see the type docs).
    pub modifier: Option<String>,
    /// The decoded, still FHIR-escaped value (empty for `name` or `name=`).
    pub value: String,
}

impl QueryParam {
    /// Splits a decoded `name[:modifier]` and builds the parameter.
    pub fn new(raw_name: &str, value: impl Into<String>) -> Result<QueryParam, SearchError> {
        let split = raw_name.find([':', '.']);
        let (name, modifier) = match split {
            Some(i) if raw_name.as_bytes()[i] == b':' => (&raw_name[..i], Some(&raw_name[i + 1..])),
            Some(i) => (&raw_name[..i], Some(&raw_name[i..])),
            None => (raw_name, None),
        };
        if name.is_empty() {
            return Err(SearchError::new(format!(
                "'{raw_name}' is not a valid parameter: the name is empty"
            )));
        }
        if modifier == Some("") {
            return Err(SearchError::for_param(name, "empty modifier after ':'"));
        }
        Ok(QueryParam {
            name: name.to_string(),
            modifier: modifier.map(str::to_string),
            value: value.into(),
        })
    }

    /// The `(modifier, value)` pair used by [`FromSearchParam`].
    pub fn occurrence(&self) -> Occurrence<'_> {
        (self.modifier.as_deref(), self.value.as_str())
    }
}

impl fmt::Display for QueryParam {
    /// The decoded `name[:modifier]=value` form (not percent-encoded).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        match self.modifier.as_deref() {
            Some(m) if m.starts_with('.') => f.write_str(m)?,
            Some(m) => write!(f, ":{m}")?,
            None => {}
        }
        write!(f, "={}", self.value)
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` a byte; the bytes must be UTF-8.
fn form_decode(s: &str) -> Result<String, SearchError> {
    percent_decode(s, true)
}

/// Percent-decodes `s` (`%XX` is a byte; the bytes must be UTF-8), with `+` as a space in a
/// form component or as itself in a URL path segment.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, SearchError> {
    let encoded = s.contains('%') || (plus_is_space && s.contains('+'));
    if !encoded {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|&c| hex(c)),
                    b.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        let bad = String::from_utf8_lossy(&b[i..end]);
                        return Err(SearchError::new(format!(
                            "invalid percent escape '{bad}' in '{s}'"
                        )));
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| SearchError::new(format!("'{s}' does not decode to valid UTF-8")))
}

/// Parses a raw query string (without the leading `?`; one is tolerated)
/// as `application/x-www-form-urlencoded`.
///
/// Pairs are separated by `&` (empty pairs are skipped); a pair without `=`
/// has an empty value. `+` decodes to a space and `%XX` to a byte; a
/// malformed escape, invalid UTF-8, an empty name or an empty modifier
/// (`name:=x`) is an error. Parameter order is kept.
///
/// ```
/// use fhir_rocket::search::parse_query;
///
/// let q = parse_query("family:exact=Van+der+Berg&subject.name=peter&code=a%7Cb").unwrap();
/// let p = &q.params()[0];
/// assert_eq!((p.name.as_str(), p.modifier.as_deref(), p.value.as_str()), ("family", Some("exact"), "Van der Berg"));
/// assert_eq!(q.params()[1].modifier.as_deref(), Some(".name"));
/// assert_eq!(q.values("code"), vec!["a|b"]);
/// assert!(parse_query("x=%zz").is_err());
/// ```
pub fn parse_query(query: &str) -> Result<Query, SearchError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut params = Vec::new();
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decode(raw_name)?;
        let value = form_decode(raw_value).map_err(|mut e| {
            if let Ok(p) = QueryParam::new(&name, "") {
                e.parameter = Some(p.name);
            }
            e
        })?;
        params.push(QueryParam::new(&name, value)?);
    }
    Ok(Query { params })
}

/// A decoded query: every parameter in order. See [`parse_query`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    params: Vec<QueryParam>,
}

impl FromStr for Query {
    type Err = SearchError;
    fn from_str(s: &str) -> Result<Query, SearchError> {
        parse_query(s)
    }
}

impl FromIterator<QueryParam> for Query {
    fn from_iter<I: IntoIterator<Item = QueryParam>>(iter: I) -> Query {
        Query {
            params: iter.into_iter().collect(),
        }
    }
}

impl<'a> IntoIterator for &'a Query {
    type Item = &'a QueryParam;
    type IntoIter = std::slice::Iter<'a, QueryParam>;
    fn into_iter(self) -> Self::IntoIter {
        self.params.iter()
    }
}

/// The search result parameters, removed from a [`Query`] by
/// [`Query::take_result_params`].
pub const RESULT_PARAMETERS: [&str; 14] = [
    "_count",
    "_offset",
    "_page",
    "_maxresults",
    "_sort",
    "_include",
    "_revinclude",
    "_format",
    "_pretty",
    "_summary",
    "_elements",
    "_total",
    "_contained",
    "_containedType",
];

/// Percent-encodes a query component: everything but unreserved characters and the ones
/// FHIR queries use plainly (`:` `/` `,` `|` `$` `*`).
fn form_encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/,|$*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

impl Query {
    /// The query as a URL query string (percent-encoded, in order), without the parameters
    /// named in `leave_out`: what links to the same search are written from.
    ///
    /// ```
    /// use fhir_rocket::search::parse_query;
    /// let q = parse_query("name:exact=Van+der+Berg&_count=2&subject.name=a%26b").unwrap();
    /// assert_eq!(q.to_url_query_without(&["_count"]), "name:exact=Van%20der%20Berg&subject.name=a%26b");
    /// ```
    pub fn to_url_query_without(&self, leave_out: &[&str]) -> String {
        let mut out = String::new();
        for p in self
            .params
            .iter()
            .filter(|p| !leave_out.contains(&p.name.as_str()))
        {
            if !out.is_empty() {
                out.push('&');
            }
            form_encode(&p.name, &mut out);
            match p.modifier.as_deref() {
                Some(m) if m.starts_with('.') => form_encode(m, &mut out),
                Some(m) => {
                    out.push(':');
                    form_encode(m, &mut out);
                }
                None => {}
            }
            out.push('=');
            form_encode(&p.value, &mut out);
        }
        out
    }

    /// Keeps only the parameters `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&QueryParam) -> bool) {
        self.params.retain(keep);
    }

    /// Adds a parameter at the end.
    pub fn push(&mut self, param: QueryParam) {
        self.params.push(param);
    }

    /// All parameters, in query order.
    pub fn params(&self) -> &[QueryParam] {
        &self.params
    }

    /// Consumes the query, returning its parameters.
    pub fn into_params(self) -> Vec<QueryParam> {
        self.params
    }

    /// Iterates over the parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, QueryParam> {
        self.params.iter()
    }

    /// The number of parameters (occurrences).
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Every occurrence of the parameter `name` (any modifier), in order:
    /// several occurrences form an AND list.
    pub fn get(&self, name: &str) -> Vec<&QueryParam> {
        self.params.iter().filter(|p| p.name == name).collect()
    }

    /// The values of every occurrence of `name`, in order.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.value.as_str())
            .collect()
    }

    /// The `(modifier, value)` pairs of every occurrence of `name`, in order.
    pub fn occurrences(&self, name: &str) -> Vec<Occurrence<'_>> {
        self.params
            .iter()
            .filter(|p| p.name == name)
            .map(QueryParam::occurrence)
            .collect()
    }

    /// The distinct parameter names.
    pub fn names(&self) -> BTreeSet<&str> {
        self.params.iter().map(|p| p.name.as_str()).collect()
    }

    /// Whether the parameter `name` occurs.
    pub fn contains(&self, name: &str) -> bool {
        self.params.iter().any(|p| p.name == name)
    }

    /// Removes and returns every occurrence of `name`.
    pub fn remove(&mut self, name: &str) -> Vec<QueryParam> {
        let (taken, kept) = std::mem::take(&mut self.params)
            .into_iter()
            .partition(|p| p.name == name);
        self.params = kept;
        taken
    }

    /// Parses the parameter `name` as `T` (see [`FromSearchParam`]).
    ///
    /// ```
    /// use fhir_rocket::search::{parse_query, DateParam};
    ///
    /// let q = parse_query("birthdate=ge2020-13-01").unwrap();
    /// let err = q.extract::<Option<DateParam>>("birthdate").unwrap_err();
    /// assert_eq!(err.to_string(), "parameter 'birthdate': 'ge2020-13-01' is not a valid date");
    /// ```
    pub fn extract<T: FromSearchParam>(&self, name: &str) -> Result<T, SearchError> {
        T::from_values(name, &self.occurrences(name))
    }

    /// Parses and removes the result parameters ([`RESULT_PARAMETERS`]).
    ///
    /// On error the query is left unchanged. Single-valued parameters may
    /// occur once; `_include`, `_revinclude` and `_elements` may repeat.
    /// Only `_include`/`_revinclude` take a modifier (`:iterate`, or its
    /// older name `:recurse`). Empty values are ignored.
    ///
    /// ```
    /// use fhir_rocket::search::parse_query;
    ///
    /// let mut q = parse_query("name=x&_count=5&_sort=-date,name&_include:iterate=Patient:general-practitioner:Practitioner").unwrap();
    /// let r = q.take_result_params().unwrap();
    /// assert_eq!(r.count, Some(5));
    /// assert_eq!((r.sort[0].name.as_str(), r.sort[0].descending), ("date", true));
    /// assert!(r.include[0].iterate);
    /// assert_eq!(r.include[0].target_type.as_deref(), Some("Practitioner"));
    /// assert_eq!(q.names().into_iter().collect::<Vec<_>>(), vec!["name"]);
    /// assert!(parse_query("_count=abc").unwrap().take_result_params().is_err());
    /// ```
    pub fn take_result_params(&mut self) -> Result<ResultParams, SearchError> {
        let mut r = ResultParams::default();
        for p in self
            .params
            .iter()
            .filter(|p| RESULT_PARAMETERS.contains(&p.name.as_str()))
        {
            if p.value.is_empty() {
                continue;
            }
            r.apply(p)
                .map_err(|m| SearchError::for_param(p.name.as_str(), m))?;
        }
        self.params
            .retain(|p| !RESULT_PARAMETERS.contains(&p.name.as_str()));
        Ok(r)
    }
}

/// One `_sort` key: `-date` is `date`, descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The search parameter to sort by.
    pub name: String,
    /// Whether the order is descending (`-` prefix).
    pub descending: bool,
}

/// An `_include` or `_revinclude` value, `Source:param[:Target]`, e.g.
/// `MedicationRequest:patient` or `Patient:general-practitioner:Practitioner`.
///
/// `param` may be `*` (all reference parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The resource type the search parameter belongs to.
    pub source_type: String,
    /// The reference search parameter (or `*`).
    pub param: String,
    /// The target resource type, if restricted.
    pub target_type: Option<String>,
    /// `:iterate` (or `:recurse`) was given.
    pub iterate: bool,
}

impl Include {
    /// Parses an include value with its modifier.
    pub fn parse(modifier: Option<&str>, value: &str) -> Result<Include, String> {
        let iterate = match modifier {
            None => false,
            Some("iterate" | "recurse") => true,
            Some(m) => {
                return Err(format!(
                    "modifier ':{m}' is not supported (only ':iterate')"
                ))
            }
        };
        let parts: Vec<&str> = value.split(':').collect();
        let invalid = || {
            format!("'{value}' is not a valid include: expected 'SourceType:searchParam' or 'SourceType:searchParam:TargetType'")
        };
        let valid_param = |p: &str| {
            p == "*"
                || (!p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'))
        };
        let (source, param, target) = match parts.as_slice() {
            [s, p] => (*s, *p, None),
            [s, p, t] if is_resource_type(t) => (*s, *p, Some(t.to_string())),
            _ => return Err(invalid()),
        };
        if !is_resource_type(source) || !valid_param(param) {
            return Err(invalid());
        }
        Ok(Include {
            source_type: source.to_string(),
            param: param.to_string(),
            target_type: target,
            iterate,
        })
    }
}

impl fmt::Display for Include {
    /// `Source:param[:Target]` (without the modifier).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source_type, self.param)?;
        if let Some(t) = &self.target_type {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

/// The `_summary` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SummaryMode {
    /// `true`: only summary elements.
    True,
    /// `false`: everything.
    False,
    /// `text`: text, id, meta and mandatory elements.
    Text,
    /// `data`: everything but the text.
    Data,
    /// `count`: only the count of matches.
    Count,
}

/// The `_total` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TotalMode {
    /// `none`: no total needed.
    None,
    /// `estimate`: an estimate is fine.
    Estimate,
    /// `accurate`: an exact total.
    Accurate,
}

/// The `_contained` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainedMode {
    /// `false`: do not search contained resources (the default).
    False,
    /// `true`: search only contained resources.
    True,
    /// `both`: search both.
    Both,
}

/// The `_containedType` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainedType {
    /// `container`: return the containing resources.
    Container,
    /// `contained`: return the contained resources themselves.
    Contained,
}

/// The search result parameters of a query (see [`Query::take_result_params`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultParams {
    /// `_count`: page size.
    pub count: Option<u32>,
    /// `_offset`: index of the first result.
    pub offset: Option<u32>,
    /// `_page`: page number.
    pub page: Option<u32>,
    /// `_maxresults`: cap on the total number of results.
    pub max_results: Option<u32>,
    /// `_sort`: sort keys in priority order.
    pub sort: Vec<SortKey>,
    /// `_include`s, in order.
    pub include: Vec<Include>,
    /// `_revinclude`s, in order.
    pub revinclude: Vec<Include>,
    /// `_format`: the requested format (e.g. `json`, `application/fhir+xml`).
    pub format: Option<String>,
    /// `_pretty`.
    pub pretty: Option<bool>,
    /// `_summary`.
    pub summary: Option<SummaryMode>,
    /// `_elements`: element names, in order (repetitions are concatenated).
    pub elements: Vec<String>,
    /// `_total`.
    pub total: Option<TotalMode>,
    /// `_contained`.
    pub contained: Option<ContainedMode>,
    /// `_containedType`.
    pub contained_type: Option<ContainedType>,
}

fn parse_u32(value: &str) -> Result<u32, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{value}' is not a valid non-negative integer"));
    }
    value
        .parse()
        .map_err(|_| format!("'{value}' is too large (at most {})", u32::MAX))
}

fn one_of<T: Copy>(value: &str, options: &[(&str, T)]) -> Result<T, String> {
    options
        .iter()
        .find(|(code, _)| *code == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let codes: Vec<&str> = options.iter().map(|(c, _)| *c).collect();
            format!("'{value}' is not one of {}", codes.join(", "))
        })
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err("may only be given once".to_string());
    }
    *slot = Some(value);
    Ok(())
}

impl ResultParams {
    /// Applies one (non-empty) result parameter.
    fn apply(&mut self, p: &QueryParam) -> Result<(), String> {
        let v = p.value.as_str();
        let name = p.name.as_str();
        if let Some(m) = &p.modifier {
            if name != "_include" && name != "_revinclude" {
                return Err(format!(
                    "does not take a modifier (got ':{}')",
                    m.trim_start_matches('.')
                ));
            }
        }
        match name {
            "_count" => set_once(&mut self.count, parse_u32(v)?),
            "_offset" => set_once(&mut self.offset, parse_u32(v)?),
            "_page" => set_once(&mut self.page, parse_u32(v)?),
            "_maxresults" => set_once(&mut self.max_results, parse_u32(v)?),
            "_format" => set_once(&mut self.format, v.to_string()),
            "_pretty" => set_once(
                &mut self.pretty,
                one_of(v, &[("true", true), ("false", false)])?,
            ),
            "_summary" => set_once(
                &mut self.summary,
                one_of(
                    v,
                    &[
                        ("true", SummaryMode::True),
                        ("false", SummaryMode::False),
                        ("text", SummaryMode::Text),
                        ("data", SummaryMode::Data),
                        ("count", SummaryMode::Count),
                    ],
                )?,
            ),
            "_total" => set_once(
                &mut self.total,
                one_of(
                    v,
                    &[
                        ("none", TotalMode::None),
                        ("estimate", TotalMode::Estimate),
                        ("accurate", TotalMode::Accurate),
                    ],
                )?,
            ),
            "_contained" => set_once(
                &mut self.contained,
                one_of(
                    v,
                    &[
                        ("false", ContainedMode::False),
                        ("true", ContainedMode::True),
                        ("both", ContainedMode::Both),
                    ],
                )?,
            ),
            "_containedType" => set_once(
                &mut self.contained_type,
                one_of(
                    v,
                    &[
                        ("container", ContainedType::Container),
                        ("contained", ContainedType::Contained),
                    ],
                )?,
            ),
            "_sort" => {
                if !self.sort.is_empty() {
                    return Err(
                        "may only be given once (list several keys with commas)".to_string()
                    );
                }
                for item in v.split(',') {
                    let (descending, key) = match item.strip_prefix('-') {
                        Some(k) => (true, k),
                        None => (false, item),
                    };
                    if key.is_empty()
                        || !key.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')
                        })
                    {
                        return Err(format!("'{item}' is not a valid sort key in '{v}'"));
                    }
                    self.sort.push(SortKey {
                        name: key.to_string(),
                        descending,
                    });
                }
                Ok(())
            }
            "_include" => {
                self.include.push(Include::parse(p.modifier.as_deref(), v)?);
                Ok(())
            }
            "_revinclude" => {
                self.revinclude
                    .push(Include::parse(p.modifier.as_deref(), v)?);
                Ok(())
            }
            "_elements" => {
                for e in v.split(',') {
                    let e = e.trim();
                    if e.is_empty() {
                        return Err(format!("'{v}' contains an empty element name"));
                    }
                    self.elements.push(e.to_string());
                }
                Ok(())
            }
            other => Err(format!("'{other}' is not a result parameter")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        parse_query(s).unwrap()
    }

    fn triple(p: &QueryParam) -> (&str, Option<&str>, &str) {
        (p.name.as_str(), p.modifier.as_deref(), p.value.as_str())
    }

    #[test]
    fn decoding() {
        assert_eq!(form_decode("a+b%20c").unwrap(), "a b c");
        assert_eq!(form_decode("%7C%7c%2B").unwrap(), "||+");
        assert_eq!(form_decode("M%C3%BCller").unwrap(), "Müller");
        assert_eq!(form_decode("Müller").unwrap(), "Müller");
        assert!(form_decode("%").unwrap_err().message.contains("'%'"));
        assert!(form_decode("%4").is_err());
        assert!(form_decode("%4g").is_err());
        assert!(form_decode("%zz").unwrap_err().message.contains("'%zz'"));
        assert!(form_decode("%C3").unwrap_err().message.contains("UTF-8"));
        assert!(form_decode("%FF%FE").is_err());
        assert!(form_decode("%E2%82").is_err());
    }

    #[test]
    fn pairs_and_order() {
        let query = q("a=1&b=2&a=3&&c&d=&e=x=y");
        let names: Vec<&str> = query.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b", "a", "c", "d", "e"]);
        assert_eq!(query.values("a"), vec!["1", "3"]);
        assert_eq!(query.values("c"), vec![""]);
        assert_eq!(query.values("e"), vec!["x=y"]);
        assert_eq!(query.values("zz"), Vec::<&str>::new());
        assert_eq!(query.len(), 6);
        assert_eq!(
            query.names().into_iter().collect::<Vec<_>>(),
            vec!["a", "b", "c", "d", "e"]
        );
        assert!(query.contains("b") && !query.contains("z"));
        assert!(q("").is_empty());
        assert!(q("&&").is_empty());
        assert_eq!(q("?a=1").values("a"), vec!["1"]);
        assert_eq!("a=1".parse::<Query>().unwrap().len(), 1);
    }

    #[test]
    fn encoded_separators_stay_in_values() {
        let query = q("a=x%26b%3Dc&b%3Ac=1&n%2Ex=2");
        assert_eq!(query.values("a"), vec!["x&b=c"]);
        // Encoded ':' and '.' in names are decoded before splitting.
        assert_eq!(triple(query.get("b")[0]), ("b", Some("c"), "1"));
        assert_eq!(triple(query.get("n")[0]), ("n", Some(".x"), "2"));
        // FHIR escapes survive percent-decoding.
        assert_eq!(q("code=a%5C%2Cb").values("code"), vec![r"a\,b"]);
        assert_eq!(q(r"code=a\,b").values("code"), vec![r"a\,b"]);
    }

    #[test]
    fn names_and_modifiers() {
        let query = q("subject:Patient=1&code:text=x&family:exact=Y&subject.name=p&subject:Patient.name=p&_has:Observation:patient:code=1234&_include:iterate=A:b");
        let t: Vec<_> = query.iter().map(triple).collect();
        assert_eq!(
            t,
            vec![
                ("subject", Some("Patient"), "1"),
                ("code", Some("text"), "x"),
                ("family", Some("exact"), "Y"),
                ("subject", Some(".name"), "p"),
                ("subject", Some("Patient.name"), "p"),
                ("_has", Some("Observation:patient:code"), "1234"),
                ("_include", Some("iterate"), "A:b"),
            ]
        );
        assert_eq!(query.get("subject").len(), 3);
        assert_eq!(query.params()[3].to_string(), "subject.name=p");
        assert_eq!(query.params()[0].to_string(), "subject:Patient=1");
        assert_eq!(query.occurrences("code"), vec![(Some("text"), "x")]);
    }

    #[test]
    fn query_errors() {
        let e = parse_query("=1").unwrap_err();
        assert!(e.message.contains("name is empty"), "{e}");
        assert!(parse_query(":exact=1").is_err());
        assert!(parse_query(".x=1").is_err());
        let e = parse_query("name:=1").unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("name"));
        let e = parse_query("name=%G0").unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("name"));
        assert!(
            e.to_string()
                .starts_with("parameter 'name': invalid percent escape"),
            "{e}"
        );
        let e = parse_query("na%ZZme=1").unwrap_err();
        assert_eq!(e.parameter, None);
        assert!(parse_query("a=%FF").is_err());
    }

    #[test]
    fn remove_and_from_iter() {
        let mut query = q("a=1&b=2&a=3");
        let removed = query.remove("a");
        assert_eq!(removed.len(), 2);
        assert_eq!(query.len(), 1);
        let rebuilt: Query = removed.into_iter().collect();
        assert_eq!(rebuilt.values("a"), vec!["1", "3"]);
        assert_eq!(rebuilt.into_params().len(), 2);
    }

    #[test]
    fn result_params_all() {
        let mut query = q("name=x&_count=10&_offset=20&_page=3&_maxresults=100&_sort=-date,name,_id&_format=json&_pretty=true&_summary=count&_elements=id,name&_elements=+birthDate&_total=accurate&_contained=both&_containedType=contained&_include=Patient:organization&_revinclude:iterate=Provenance:target&_include:recurse=Patient:general-practitioner:Practitioner");
        let r = query.take_result_params().unwrap();
        assert_eq!(r.count, Some(10));
        assert_eq!(r.offset, Some(20));
        assert_eq!(r.page, Some(3));
        assert_eq!(r.max_results, Some(100));
        assert_eq!(
            r.sort,
            vec![
                SortKey {
                    name: "date".into(),
                    descending: true
                },
                SortKey {
                    name: "name".into(),
                    descending: false
                },
                SortKey {
                    name: "_id".into(),
                    descending: false
                },
            ]
        );
        assert_eq!(r.format.as_deref(), Some("json"));
        assert_eq!(r.pretty, Some(true));
        assert_eq!(r.summary, Some(SummaryMode::Count));
        assert_eq!(r.elements, vec!["id", "name", "birthDate"]);
        assert_eq!(r.total, Some(TotalMode::Accurate));
        assert_eq!(r.contained, Some(ContainedMode::Both));
        assert_eq!(r.contained_type, Some(ContainedType::Contained));
        assert_eq!(r.include.len(), 2);
        assert_eq!(
            r.include[0],
            Include {
                source_type: "Patient".into(),
                param: "organization".into(),
                target_type: None,
                iterate: false
            }
        );
        assert_eq!(r.include[1].target_type.as_deref(), Some("Practitioner"));
        assert!(r.include[1].iterate);
        assert_eq!(
            r.include[1].to_string(),
            "Patient:general-practitioner:Practitioner"
        );
        assert_eq!(r.revinclude.len(), 1);
        assert!(r.revinclude[0].iterate);
        assert_eq!(r.revinclude[0].source_type, "Provenance");
        assert_eq!(query.len(), 1);
        assert_eq!(query.values("name"), vec!["x"]);
    }

    #[test]
    fn result_params_defaults_and_empty() {
        let mut query = q("a=1&_count=&_sort=");
        let r = query.take_result_params().unwrap();
        assert_eq!(r, ResultParams::default());
        assert_eq!(query.len(), 1);
        let r = q("_summary=text&_include=Observation:*")
            .take_result_params()
            .unwrap();
        assert_eq!(r.summary, Some(SummaryMode::Text));
        assert_eq!(r.include[0].param, "*");
        assert_eq!(q("_count=0").take_result_params().unwrap().count, Some(0));
    }

    fn result_err(s: &str) -> SearchError {
        let mut query = q(s);
        let before = query.clone();
        let e = query.take_result_params().unwrap_err();
        assert_eq!(query, before, "query must be unchanged on error");
        e
    }

    #[test]
    fn result_params_errors() {
        let e = result_err("a=1&_count=abc");
        assert_eq!(
            e.to_string(),
            "parameter '_count': 'abc' is not a valid non-negative integer"
        );
        assert!(result_err("_count=-1").message.contains("'-1'"));
        assert!(result_err("_count=%2B5").message.contains("'+5'"));
        assert!(result_err("_count=99999999999")
            .message
            .contains("too large"));
        assert!(result_err("_count=1&_count=2").message.contains("once"));
        assert!(result_err("_count:exact=1").message.contains("modifier"));
        assert!(result_err("_sort.x=1").message.contains("modifier"));
        assert!(result_err("_sort=a&_sort=b").message.contains("once"));
        assert!(result_err("_sort=a,,b").message.contains("sort key"));
        assert!(result_err("_sort=-").message.contains("sort key"));
        assert!(result_err("_sort=a+b").message.contains("sort key"));
        assert!(result_err("_summary=maybe")
            .message
            .contains("true, false, text, data, count"));
        assert!(result_err("_total=all").message.contains("'all'"));
        assert!(!result_err("_pretty=1").message.is_empty());
        assert!(!result_err("_contained=yes").message.is_empty());
        assert!(!result_err("_containedType=x").message.is_empty());
        assert!(!result_err("_elements=a,,b").message.is_empty());
        assert!(!result_err("_format=a&_format=b").message.is_empty());
        assert_eq!(result_err("_page=x").parameter.as_deref(), Some("_page"));
    }

    #[test]
    fn include_errors() {
        for bad in [
            "Patient",
            "patient:organization",
            "Patient:",
            ":organization",
            "Patient:org:practitioner",
            "Patient:a:B:C",
            "Patient:a b",
            "*",
        ] {
            let e = Include::parse(None, bad).unwrap_err();
            assert!(e.contains("not a valid include"), "{bad}: {e}");
        }
        assert!(Include::parse(Some("exact"), "Patient:organization")
            .unwrap_err()
            .contains(":exact"));
        let e = result_err("_include:iterated=Patient:organization");
        assert_eq!(e.parameter.as_deref(), Some("_include"));
        assert!(!result_err("_revinclude=Bad").message.is_empty());
        assert!(
            Include::parse(Some("iterate"), "Patient:link:Patient")
                .unwrap()
                .iterate
        );
    }
}
