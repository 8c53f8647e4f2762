//! HTTP details: content negotiation, response headers (`ETag`, `Last-Modified`, `Location`),
//! conditional reads, OperationOutcome bodies; and, from the module that writes them, the
//! searchset and history Bundles in JSON and in XML.

pub use crate::bundle::{
    history, history_xml, searchset, searchset_xml, BundleUrl, PageRequest, ReportedTotal,
};
use crate::error::FhirError;
use crate::version_model::ServerModel;
use fhir_model::json::JsonWriter;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use std::borrow::Cow;
use std::io::Cursor;

/// The FHIR JSON media type.
pub const FHIR_JSON: &str = "application/fhir+json";
/// The FHIR XML media type.
pub const FHIR_XML: &str = "application/fhir+xml";

/// What `Prefer: return=...` asks a write to answer with.
///
/// ```
/// use fhir_rocket::http::Return;
/// assert_eq!(Return::from_prefer(Some("return=minimal")), Return::Minimal);
/// assert_eq!(Return::from_prefer(None), Return::Representation);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Return {
    /// The resource (the default).
    #[default]
    Representation,
    /// No body.
    Minimal,
    /// An OperationOutcome.
    OperationOutcome,
}

impl Return {
    /// Reads the `Prefer` header.
    pub fn from_prefer(prefer: Option<&str>) -> Return {
        let Some(prefer) = prefer else {
            return Return::Representation;
        };
        let prefer = prefer.replace(' ', "").to_ascii_lowercase();
        if prefer.contains("return=minimal") {
            Return::Minimal
        } else if prefer.contains("return=operationoutcome") {
            Return::OperationOutcome
        } else {
            Return::Representation
        }
    }
}

/// How the response is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    /// Indent the body (`_pretty=true`).
    pub pretty: bool,
    /// Answer in XML rather than JSON.
    pub xml: bool,
}

impl Format {
    /// Whether the JSON body is indented: an XML answer is built from compact JSON and
    /// indented when it is written as XML.
    pub fn pretty_json(&self) -> bool {
        self.pretty && !self.xml
    }
}

/// A media type without its parameters, lower case (`application/fhir+json`).
fn media_type(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json_type(media: &str) -> bool {
    matches!(
        media_type(media).as_str(),
        "json" | "application/json" | "application/fhir+json" | "application/json+fhir"
    )
}

fn is_xml_type(media: &str) -> bool {
    matches!(
        media_type(media).as_str(),
        "xml" | "application/xml" | "application/fhir+xml" | "text/xml" | "application/xml+fhir"
    )
}

/// Picks the response format from `_format` (which wins) or `Accept`.
pub fn negotiate(req: &Request<'_>, raw_query: &str) -> Result<Format, FhirError> {
    negotiate_version(req, raw_query, None)
}

/// The `fhirVersion` parameter of a media type (`application/fhir+json; fhirVersion=4.0`).
fn fhir_version_of(media: &str) -> Option<&str> {
    media.split(';').skip(1).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("fhirVersion")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// Whether a media type's `fhirVersion` (absent, `4.0` or `4.0.1`) names `served` (`4.0.1`).
fn version_fits(media: &str, served: Option<&str>) -> bool {
    match (fhir_version_of(media), served) {
        (None, _) | (_, None) => true,
        (Some(asked), Some(served)) => served == asked || served.starts_with(&format!("{asked}.")),
    }
}

/// The major.minor form of a FHIR version number, as media types name it (`4.0`).
pub(crate) fn short_version(number: &str) -> &str {
    match number.match_indices('.').nth(1) {
        Some((i, _)) => &number[..i],
        None => number,
    }
}

/// [`negotiate`] for a server of FHIR version `served` (`4.0.1`): an `Accept` type whose
/// `fhirVersion` names another version is not acceptable (406 when no other is).
pub fn negotiate_version(
    req: &Request<'_>,
    raw_query: &str,
    served: Option<&str>,
) -> Result<Format, FhirError> {
    // A query that cannot be decoded is reported by the search that reads it. Decoding a
    // whole query allocates, so it is decoded here only when it may name `_format` or
    // `_pretty` (however the underscore is encoded).
    let query = if raw_query.contains("format") || raw_query.contains("pretty") {
        crate::search::parse_query(raw_query).unwrap_or_default()
    } else {
        Default::default()
    };
    let pretty = query.values("_pretty").first() == Some(&"true");
    if let Some(format) = query.values("_format").first() {
        if is_json_type(format) {
            return Ok(Format { pretty, xml: false });
        }
        if is_xml_type(format) {
            return Ok(Format { pretty, xml: true });
        }
        return Err(FhirError::bad_request(format!(
            "_format '{format}' is not a FHIR format (json or xml)"
        )));
    }
    if let Some(accept) = req.headers().get_one("Accept") {
        // The most preferred acceptable type, earlier first among equal weights.
        let mut best: Option<(f32, bool)> = None;
        for media in accept.split(',') {
            if !version_fits(media, served) {
                continue;
            }
            let m = media_type(media);
            let xml = if is_xml_type(&m) {
                true
            } else if is_json_type(&m) || m == "*/*" || m == "application/*" || m.is_empty() {
                false
            } else {
                continue;
            };
            let q = media
                .split(';')
                .skip(1)
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, xml));
            }
        }
        match best {
            Some((_, xml)) => return Ok(Format { pretty, xml }),
            None => {
                let version = served
                    .map(|v| format!(" of FHIR {} (fhirVersion={})", v, short_version(v)))
                    .unwrap_or_default();
                return Err(FhirError::not_acceptable(format!(
                    "cannot answer in any of the accepted types ({accept}); this server writes {FHIR_JSON} and {FHIR_XML}{version}"
                )));
            }
        }
    }
    Ok(Format { pretty, xml: false })
}

/// The format of a request body by its `Content-Type` (JSON when there is none); 415 for
/// anything but FHIR JSON and XML.
pub fn body_format(req: &Request<'_>) -> Result<Format, FhirError> {
    body_format_version(req, None)
}

/// [`body_format`] for a server of FHIR version `served`: a `Content-Type` whose
/// `fhirVersion` names another version is a 415.
pub fn body_format_version(req: &Request<'_>, served: Option<&str>) -> Result<Format, FhirError> {
    if let Some(t) = req.headers().get_one("Content-Type") {
        if !version_fits(t, served) {
            return Err(FhirError::unsupported_media_type(format!(
                "the body is of another FHIR version ({t}); this server takes FHIR {} (fhirVersion={})",
                served.unwrap_or_default(),
                short_version(served.unwrap_or_default())
            )));
        }
    }
    match req.headers().get_one("Content-Type") {
        None => Ok(Format::default()),
        Some(t) if is_json_type(t) => Ok(Format::default()),
        Some(t) if is_xml_type(t) => Ok(Format {
            pretty: false,
            xml: true,
        }),
        Some(t) => Err(FhirError::unsupported_media_type(format!(
            "the body's Content-Type '{t}' is not supported; send {FHIR_JSON} or {FHIR_XML}"
        ))),
    }
}

/// The `Content-Type` of a FHIR JSON body.
const JSON_BODY: &str = "application/fhir+json; charset=utf-8";
/// The `Content-Type` of a FHIR XML body.
const XML_BODY: &str = "application/fhir+xml; charset=utf-8";

/// A response under construction.
pub struct Reply {
    status: u16,
    body: Option<Vec<u8>>,
    /// The body's `Content-Type`.
    content_type: Cow<'static, str>,
    headers: Vec<(Cow<'static, str>, String)>,
}

impl Reply {
    /// A JSON body.
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Reply {
            status,
            body: Some(body),
            content_type: Cow::Borrowed(JSON_BODY),
            headers: Vec::new(),
        }
    }

    /// An XML body, written as XML already.
    pub(crate) fn xml(status: u16, body: Vec<u8>) -> Self {
        Reply::json(status, Vec::new()).with_body(XML_BODY, body)
    }

    /// No body.
    pub fn empty(status: u16) -> Self {
        Reply {
            status,
            body: None,
            content_type: Cow::Borrowed(JSON_BODY),
            headers: Vec::new(),
        }
    }

    /// The JSON body rewritten as FHIR XML, for a client that asked for XML: every body but
    /// a whole resource (which `resource_reply` writes as XML from the model) is built as JSON
    /// and converted here, in one place; a resource XML cannot carry answers 500.
    pub fn into_xml(mut self, table: &fhir_model::xml::table::XmlTable, pretty: bool) -> Self {
        let Some(json) = &self.body else {
            return self;
        };
        // Written as XML already (a resource, straight from the model).
        if self.content_type == XML_BODY {
            return self;
        }
        match fhir_model::xml::from_json_form(json, table, pretty) {
            Ok(xml) => {
                self.body = Some(xml);
                self.content_type = Cow::Borrowed(XML_BODY);
                self
            }
            Err(e) => {
                let error =
                    FhirError::internal(format!("the answer cannot be written as XML: {e}"));
                let outcome = operation_outcome("error", error.issue_code(), error.message());
                Reply {
                    status: 500,
                    body: fhir_model::xml::from_json_form(&outcome, table, pretty).ok(),
                    content_type: Cow::Borrowed(XML_BODY),
                    headers: Vec::new(),
                }
            }
        }
    }

    /// An error as an OperationOutcome.
    pub fn error(e: &FhirError) -> Self {
        let mut reply = Reply::json(e.status(), e.to_operation_outcome());
        if let Some(allow) = e.allow() {
            reply.headers.push(("Allow".into(), allow.to_string()));
        }
        if let Some(challenge) = e.challenge() {
            reply
                .headers
                .push(("WWW-Authenticate".into(), challenge.to_string()));
        }
        reply
    }

    /// What a provider added: a success status in place of the interaction's own (when both
    /// are successes), and headers.
    pub(crate) fn with_extras(
        mut self,
        status: Option<u16>,
        headers: Vec<(String, String)>,
    ) -> Self {
        if let Some(status) = status {
            if (200..300).contains(&self.status) {
                self.status = status;
            }
        }
        for (name, value) in headers {
            self.headers.push((name.into(), value));
        }
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<Cow<'static, str>>, value: String) -> Self {
        self.headers.push((name.into(), value));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body, if there is one: FHIR JSON until the reply is written in another form.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The body's `Content-Type` (`application/fhir+json; charset=utf-8` until the reply is
    /// written in another form).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The same reply (status and headers) with another body, of another `Content-Type`: for
    /// an interceptor that writes replies in a form of its own
    /// ([`Interceptor::write_reply`](crate::Interceptor::write_reply)).
    ///
    /// ```
    /// use fhir_rocket::http::Reply;
    /// let reply = Reply::json(200, b"{}".to_vec()).with_body("text/plain", b"{}".to_vec());
    /// assert_eq!(reply.content_type(), "text/plain");
    /// assert_eq!(reply.body(), Some(&b"{}"[..]));
    /// ```
    pub fn with_body(mut self, content_type: impl Into<Cow<'static, str>>, body: Vec<u8>) -> Self {
        self.content_type = content_type.into();
        self.body = Some(body);
        self
    }

    /// Into a Rocket response.
    pub fn into_response(self) -> ReplyResponder {
        ReplyResponder(self)
    }
}

/// A [`Reply`] as a Rocket [`Responder`].
pub struct ReplyResponder(Reply);

impl<'r> Responder<'r, 'static> for ReplyResponder {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let reply = self.0;
        let mut response = Response::build();
        response.status(Status::new(reply.status));
        for (name, value) in reply.headers {
            response.header(Header::new(name, value));
        }
        if let Some(body) = reply.body {
            // A header value, static for FHIR bodies: building a `ContentType` with a
            // parameter costs allocations and formatting on every response.
            response.header(Header::new("Content-Type", reply.content_type));
            response.sized_body(body.len(), Cursor::new(body));
        }
        response.ok()
    }
}

/// An OperationOutcome with one issue, as FHIR JSON (the same in R4, R4B and R5).
pub fn operation_outcome(severity: &'static str, code: &'static str, diagnostics: &str) -> Vec<u8> {
    outcome_of(
        &[crate::error::Issue::new(severity, code, diagnostics)],
        None,
    )
}

/// An OperationOutcome of several issues; `details` codes the first one.
pub(crate) fn outcome_of(
    issues: &[crate::error::Issue],
    details: Option<&(String, String)>,
) -> Vec<u8> {
    let mut w = JsonWriter::new(Vec::with_capacity(256), false);
    w.begin_object();
    w.resource_type("OperationOutcome");
    w.key("issue");
    w.begin_array();
    for (i, issue) in issues.iter().enumerate() {
        w.item();
        w.begin_object();
        w.key("severity");
        w.string(issue.severity);
        w.key("code");
        w.string(issue.code);
        if let (0, Some((system, code))) = (i, details) {
            w.key("details");
            w.begin_object();
            w.key("coding");
            w.begin_array();
            w.item();
            w.begin_object();
            w.key("system");
            w.string(system);
            w.key("code");
            w.string(code);
            w.end_object();
            w.end_array();
            w.end_object();
        }
        if !issue.diagnostics.is_empty() {
            w.key("diagnostics");
            w.string(&issue.diagnostics);
        }
        if !issue.expression.is_empty() {
            w.key("expression");
            w.begin_array();
            for e in &issue.expression {
                w.item();
                w.string(e);
            }
            w.end_array();
        }
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.into_inner()
}

/// What a resource reply answers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sent<'a> {
    /// A read (or an operation's answer): the resource, whole or in part.
    Read(Option<&'a fhir_model::json::Subset>),
    /// A write: the resource as `Prefer: return` asks.
    Written(Return),
}

/// The response for one resource: body, `ETag`, `Last-Modified`, and for writes `Location`
/// (create) or `Content-Location`; honours `Prefer: return=minimal|OperationOutcome`.
pub(crate) fn resource_reply<R: ServerModel>(
    resource: &R,
    status: u16,
    format: &Format,
    base_url: &str,
    sent: Sent<'_>,
    warnings: &[crate::error::Issue],
) -> Reply {
    let (written, subset) = match sent {
        Sent::Read(subset) => (false, subset),
        Sent::Written(_) => (true, None),
    };
    let mut reply = match sent {
        Sent::Written(Return::Minimal) => Reply::empty(status),
        Sent::Written(Return::OperationOutcome) => {
            let mut issues = vec![crate::error::Issue::information(
                "informational",
                "the resource was stored",
            )];
            issues.extend(warnings.iter().cloned());
            Reply::json(status, outcome_of(&issues, None))
        }
        // In XML, a whole resource is written straight from the model; a part of one (a
        // subset), or one XML cannot carry (answered 500 by `into_xml`), goes through JSON.
        _ => match (format.xml, subset) {
            (true, None) => match fhir_model::xml::to_vec(resource, format.pretty) {
                Ok(xml) => Reply::json(status, Vec::new()).with_body(XML_BODY, xml),
                Err(_) => Reply::json(status, crate::subset::to_vec(resource, None, false)),
            },
            _ => Reply::json(
                status,
                crate::subset::to_vec(resource, subset, format.pretty_json()),
            ),
        },
    };
    if let Some(version) = resource.version_id() {
        reply = reply.header("ETag", format!("W/\"{version}\""));
    }
    if let Some(date) = resource.last_updated().and_then(|i| http_date(i.as_str())) {
        reply = reply.header("Last-Modified", date);
    }
    if written {
        if let Some(id) = resource.id() {
            let mut location = format!("{base_url}/{}/{id}", resource.resource_type());
            if let Some(version) = resource.version_id() {
                location.push_str(&format!("/_history/{version}"));
            }
            let name = if status == 201 {
                "Location"
            } else {
                "Content-Location"
            };
            reply = reply.header(name, location);
        }
    }
    reply
}

/// Now, as a FHIR instant in UTC (`2026-11-22T00:54:03Z`).
pub fn instant_now() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    instant_from_micros(secs * 1_000_000)
}

/// A time in microseconds since the Unix epoch as a FHIR instant in UTC, with the fraction
/// of a second when there is one (a store that keeps microseconds writes them all).
///
/// ```
/// use fhir_rocket::http::instant_from_micros;
/// assert_eq!(instant_from_micros(0), "1970-01-01T00:00:00Z");
/// assert_eq!(instant_from_micros(1_500_000), "1970-01-01T00:00:01.500000Z");
/// ```
pub fn instant_from_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if fraction != 0 {
        text.push_str(&format!(".{fraction:06}"));
    }
    text.push('Z');
    text
}

/// The civil date (year, month, day) of a day count since 1970-01-01; the inverse of
/// [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the Unix epoch of a FHIR instant (`2015-02-07T13:28:17.239+02:00`).
pub fn unix_seconds(instant: &str) -> Option<i64> {
    let b = instant.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { instant.get(r)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let minutes = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP date (`Sat, 07 Feb 2015 11:28:17 GMT`) for a FHIR instant.
pub fn http_date(instant: &str) -> Option<String> {
    let t = unix_seconds(instant)?;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Some(format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

/// Seconds since the Unix epoch of an HTTP date in the IMF-fixdate form.
pub fn parse_http_date(text: &str) -> Option<i64> {
    // "Sat, 07 Feb 2015 11:28:17 GMT"
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u32 = parts[1].parse().ok()?;
    let month = MONTHS.iter().position(|m| *m == parts[2])? as u32 + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    if hms.len() != 3 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_become_http_dates_and_back() {
        assert_eq!(
            http_date("2015-02-07T13:28:17.239+02:00").as_deref(),
            Some("Sat, 07 Feb 2015 11:28:17 GMT")
        );
        assert_eq!(
            http_date("1970-01-01T00:00:00Z").as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        assert_eq!(
            http_date("2024-02-29T23:59:59-01:00").as_deref(),
            Some("Fri, 01 Mar 2024 00:59:59 GMT")
        );
        let t = unix_seconds("2015-02-07T13:28:17Z").unwrap();
        assert_eq!(parse_http_date("Sat, 07 Feb 2015 13:28:17 GMT"), Some(t));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn operation_outcomes_are_fhir_json() {
        let oo = String::from_utf8(operation_outcome("error", "not-found", "no \"x\"")).unwrap();
        assert_eq!(
            oo,
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"no \"x\""}]}"#
        );
    }
}
