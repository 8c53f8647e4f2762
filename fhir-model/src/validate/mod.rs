//! Validation of resources against the rules of their FHIR version's definitions, beyond what
//! the reader checks: cardinality (min and max, inside every element present), the formats of
//! primitives (the definitions' regexes, real calendar dates, time zones), required bindings,
//! the narrative's XHTML rules, and the invariants that need no FHIRPath (`ele-1`, `ext-1`,
//! `txt-1`, `txt-2`, `dom-2`, `dom-4`, `dom-5`, `dom-6`).
//!
//! The rules are data: codegen writes a [`table::ValidationTable`] per version beside its XML
//! table, and one shared validator walks the JSON form of a resource ([`json::Value`]) with
//! them. XML is validated through its JSON form, a typed resource through its JSON.
//!
//! ```
//! use fhir_model::validate::Validator;
//! let validator = Validator::of::<fhir_model::r4::Resource>();
//! let report = validator.json(r#"{"resourceType":"Patient","id":"has space","birthDate":"1970-02-30"}"#);
//! assert!(!report.is_valid());
//! let errors: Vec<(&str, &str)> = report.errors().map(|i| (i.path.as_str(), i.message.as_str())).collect();
//! assert_eq!(errors, [
//!     ("Patient.id", "'has space' is not a valid id"),
//!     ("Patient.birthDate", "'1970-02-30' is not a valid date: February 1970 has 28 days"),
//! ]);
//! assert_eq!(report.issues[1].location, Some((1, 56)));
//! // Without a narrative, dom-6 warns; a warning leaves a resource valid.
//! assert_eq!(report.issues[2].rule, "dom-6");
//! ```
//!
//! Issues are collected in a [`Report`], each with its severity, its OperationOutcome issue
//! type, a message, a FHIRPath-style path (`Patient.name[0].given[1]`, a choice as
//! `Observation.value.ofType(Quantity)`) and the rule broken (the constraint key for
//! invariants), so that a later pass evaluating the definitions' FHIRPath invariants
//! ([`table::ValidationTable::constraints`]) adds to the same report.

mod binding;
mod formats;
pub mod invariants;
mod locate;
pub mod table;
mod walk;
mod xhtml;

use crate::json::{self, JsonError, JsonValue, Value};
use crate::xml::XmlResource;
use std::fmt;
use table::ValidationTable;

/// How serious an issue is (OperationOutcome's `issue.severity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The resource could not be read at all.
    Fatal,
    /// The resource breaks a rule: it is not valid.
    Error,
    /// The resource breaks a recommendation (`dom-6`, invariants of severity warning).
    Warning,
    /// For information only.
    Information,
}

impl Severity {
    /// The code in OperationOutcome: `fatal`, `error`, `warning` or `information`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding of validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// How serious it is.
    pub severity: Severity,
    /// The OperationOutcome issue type: `structure` (not the shape the definitions give),
    /// `required` (a required element missing), `value` (a primitive's value), `code-invalid`
    /// (a required binding), `invariant`, `security` (script in a narrative).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where: a FHIRPath-style path from the resource (`Patient.name[0].given[1]`).
    pub path: String,
    /// The rule broken: the invariant's key (`ele-1`, `txt-1`) or the kind of rule (`min`,
    /// `max`, `type`, `format`, `date`, `code`, `binding`, `element`, `read`).
    pub rule: &'static str,
    /// The line and column (from 1) in the text validated, when validating text.
    pub location: Option<(usize, usize)>,
}

impl Issue {
    /// An error.
    pub fn error(code: &'static str, rule: &'static str, path: String, message: String) -> Self {
        Issue {
            severity: Severity::Error,
            code,
            message,
            path,
            rule,
            location: None,
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.path, self.message)?;
        if let Some((line, column)) = self.location {
            write!(f, " (line {line}, column {column})")?;
        }
        write!(f, " [{}]", self.rule)
    }
}

/// The issues validation found, element by element in the order of the definitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Every issue.
    pub issues: Vec<Issue>,
}

impl Report {
    /// Whether no issue is an error (or fatal): warnings and information leave a resource valid.
    ///
    /// ```
    /// use fhir_model::validate::{Report, Severity, Validator};
    /// // A Patient without a narrative: a warning (dom-6) only.
    /// let report = Validator::of::<fhir_model::r4::Resource>().json(r#"{"resourceType":"Patient"}"#);
    /// assert_eq!(report.issues[0].severity, Severity::Warning);
    /// assert!(report.is_valid());
    /// assert!(Report::default().is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        !self
            .issues
            .iter()
            .any(|i| matches!(i.severity, Severity::Error | Severity::Fatal))
    }

    /// The errors (and fatal issues).
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(|i| matches!(i.severity, Severity::Error | Severity::Fatal))
    }
}

/// A version's `Resource` enum, whose definitions validation reads.
pub trait ValidationModel: XmlResource {
    /// The version's validation table.
    fn validation_table() -> &'static ValidationTable;
    /// The FHIR version.
    fn fhir_version() -> crate::FhirVersion;
    /// The resource as a FHIRPath node.
    fn node(&self) -> crate::fhirpath::Node<'_>;
}

/// Validates resources of one FHIR version.
///
/// ```
/// use fhir_model::validate::Validator;
/// let report = Validator::of::<fhir_model::r4::Resource>()
///     .json(r#"{"resourceType":"Observation","status":"final"}"#);
/// assert_eq!(report.issues[0].path, "Observation.code");
/// assert_eq!(report.issues[0].message, "Observation.code is required (min 1), but is missing");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Validator {
    table: &'static ValidationTable,
    /// The typed reader's check of JSON text, when the validator knows the model.
    typed: Option<ReadTyped>,
    /// A further pass over the resource (the FHIRPath invariants), after the rules here.
    pass: Option<Pass>,
    /// Whether `pass` is the invariants pass of [`Validator::of`], which a typed resource
    /// runs without being read again from its JSON.
    invariants: bool,
}

/// The typed reader's check of JSON text.
type ReadTyped = fn(&str) -> Result<(), JsonError>;

/// A further pass of validation over the JSON form of a resource, such as the evaluation of
/// the definitions' FHIRPath invariants ([`ValidationTable::constraints`], from each type's
/// and element's `invariants`, skipping [`NATIVE_INVARIANTS`]): its issues, each with the JSON
/// path of its value (members and items from the root, for its line and column), join the same
/// report after the rules checked here.
pub type Pass = fn(&'static ValidationTable, &Value) -> Vec<(Issue, Vec<json::PathSegment>)>;

fn read_typed<R: JsonValue>(text: &str) -> Result<(), JsonError> {
    json::from_str::<R>(text).map(|_| ())
}

impl Validator {
    /// The validator of the version of `R` (a version's `Resource` enum): the rules here, the
    /// definitions' FHIRPath invariants ([`invariants::pass`]), and the typed reader on text
    /// so that nothing it rejects passes.
    ///
    /// ```
    /// use fhir_model::validate::Validator;
    /// let validator = Validator::of::<fhir_model::r4::Resource>();
    /// // per-1: a period's start is not after its end.
    /// let text = r#"{"resourceType":"Patient","name":[{"period":{"start":"2020-02-01","end":"2020-01-01"}}]}"#;
    /// let report = validator.json(text);
    /// let found: Vec<(&str, &str)> = report.errors().map(|i| (i.rule, i.path.as_str())).collect();
    /// assert_eq!(found, [("per-1", "Patient.name[0].period")]);
    /// ```
    pub fn of<R: ValidationModel>() -> Self {
        Validator {
            table: R::validation_table(),
            typed: Some(read_typed::<R>),
            pass: Some(invariants::pass::<R>),
            invariants: true,
        }
    }

    /// A validator of the rules of `table` alone (text is not also read by the typed reader).
    ///
    /// ```
    /// use fhir_model::validate::{ValidationModel, Validator};
    /// let table = <fhir_model::r4::Resource as ValidationModel>::validation_table();
    /// let report = Validator::new(table).json(r#"{"resourceType":"Basic","code":{"text":"x"}}"#);
    /// assert!(report.is_valid());
    /// ```
    pub fn new(table: &'static ValidationTable) -> Self {
        Validator {
            table,
            typed: None,
            pass: None,
            invariants: false,
        }
    }

    /// The validator with another further pass after its own rules, in place of the one it
    /// had (the invariants, for [`Validator::of`]).
    ///
    /// ```
    /// use fhir_model::json::{PathSegment, Value};
    /// use fhir_model::validate::{table::ValidationTable, Issue, ValidationModel, Validator};
    /// /// A pass of one invariant: a Patient has a name.
    /// fn named(_: &'static ValidationTable, v: &Value) -> Vec<(Issue, Vec<PathSegment>)> {
    ///     match v.get("name") {
    ///         Some(_) => vec![],
    ///         None => vec![(Issue::error("invariant", "x-1", "Patient".into(), "no name".into()), vec![])],
    ///     }
    /// }
    /// let table = <fhir_model::r4::Resource as ValidationModel>::validation_table();
    /// let validator = Validator::new(table).with_pass(named);
    /// let report = validator.json(r#"{"resourceType":"Patient","birthDate":"2023-02-29"}"#);
    /// let rules: Vec<&str> = report.errors().map(|i| i.rule).collect();
    /// assert_eq!(rules, ["date", "x-1"]);
    /// assert_eq!(report.issues.last().unwrap().location, Some((1, 1)));
    /// ```
    pub fn with_pass(mut self, pass: Pass) -> Self {
        self.pass = Some(pass);
        self.invariants = false;
        self
    }

    /// Every issue of the rules and of the further pass, with their JSON paths.
    fn run(&self, value: &Value) -> (Report, Vec<Vec<json::PathSegment>>) {
        let (mut report, mut segments) = walk::validate(self.table, value);
        if let Some(pass) = self.pass {
            for (issue, at) in pass(self.table, value) {
                report.issues.push(issue);
                segments.push(at);
            }
        }
        (report, segments)
    }

    /// The rules it checks.
    pub fn table(&self) -> &'static ValidationTable {
        self.table
    }

    /// Validates the JSON form of a resource.
    ///
    /// ```
    /// use fhir_model::{json::Value, r4, validate::Validator};
    /// let value = Value::parse(r#"{"resourceType":"Patient","name":[{}]}"#).unwrap();
    /// let report = Validator::of::<r4::Resource>().value(&value);
    /// let issue = report.errors().next().unwrap();
    /// assert_eq!((issue.rule, issue.path.as_str()), ("ele-1", "Patient.name[0]"));
    /// ```
    pub fn value(&self, resource: &Value) -> Report {
        self.run(resource).0
    }

    /// Validates a typed resource: the rules through its JSON form, the invariants over the
    /// resource itself (it is not read again from its JSON).
    ///
    /// ```
    /// use fhir_model::{r4, validate::Validator};
    /// let observation = r4::Observation::default();
    /// let report = Validator::of::<r4::Resource>().resource(&r4::Resource::from(observation));
    /// let missing: Vec<&str> = report.errors().map(|i| i.path.as_str()).collect();
    /// assert_eq!(missing, ["Observation.status", "Observation.code"]);
    /// ```
    pub fn resource<R: ValidationModel>(&self, resource: &R) -> Report {
        let value = match Value::parse(&json::to_string(resource)) {
            Ok(value) => value,
            Err(e) => return read_failure(&e.to_string(), "$", None),
        };
        if !(self.invariants && std::ptr::eq(self.table, R::validation_table())) {
            return self.value(&value);
        }
        let (mut report, _) = walk::validate(self.table, &value);
        let found = invariants::check(self.table, R::fhir_version(), resource.node());
        report
            .issues
            .extend(found.into_iter().map(|(issue, _)| issue));
        report
    }

    /// Validates FHIR JSON text: issues carry their line and column. Text the JSON reader
    /// cannot read is one fatal issue; what the typed reader rejects and the rules do not
    /// find (a duplicate member) is an error.
    pub fn json(&self, text: &str) -> Report {
        let value = match Value::parse(text) {
            Ok(value) => value,
            Err(e) => {
                return read_failure(e.message(), &e.path(), Some((e.line(), e.column())));
            }
        };
        let (mut report, segments) = self.run(&value);
        let locations = locate::json(text, &segments);
        for (issue, location) in report.issues.iter_mut().zip(locations) {
            issue.location = location;
        }
        if report.is_valid() {
            if let Some(Err(e)) = self.typed.map(|read| read(text)) {
                let mut issue = Issue::error("structure", "read", e.path(), e.message().into());
                issue.location = Some((e.line(), e.column()));
                report.issues.push(issue);
            }
        }
        report
    }

    /// Validates FHIR XML text through its JSON form: issues carry their line and column in
    /// the XML (the first hundred issues: each is looked for from the document's start).
    ///
    /// ```
    /// use fhir_model::{r4, validate::Validator};
    /// let xml = "<Patient xmlns=\"http://hl7.org/fhir\">\n  <birthDate value=\"2023-02-29\"/>\n</Patient>";
    /// let report = Validator::of::<r4::Resource>().xml(xml);
    /// let issue = report.errors().next().unwrap();
    /// assert_eq!(issue.message, "'2023-02-29' is not a valid date: February 2023 has 28 days");
    /// assert_eq!(issue.location, Some((2, 3)));
    /// ```
    pub fn xml(&self, text: &str) -> Report {
        let form = crate::xml::to_json_form(text, self.table.xml, json::ReadOptions::STRICT)
            .map_err(|e| e.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()));
        let form = match form {
            Ok(form) => form,
            Err(message) => return read_failure(&message, "$", None),
        };
        let value = match Value::parse(&form) {
            Ok(value) => value,
            Err(e) => return read_failure(e.message(), &e.path(), None),
        };
        let (mut report, segments) = self.run(&value);
        // Each issue is found by reading the XML from its start: the first ones only.
        for (issue, segments) in report.issues.iter_mut().zip(&segments).take(XML_LOCATED) {
            issue.location = crate::xml::locate_position(text, self.table.xml, segments);
        }
        if report.is_valid() {
            if let Some(Err(e)) = self.typed.map(|read| read(&form)) {
                let mut issue = Issue::error("structure", "read", e.path(), e.message().into());
                let segments: Vec<json::PathSegment> = e.segments().cloned().collect();
                issue.location = crate::xml::locate_position(text, self.table.xml, &segments);
                report.issues.push(issue);
            }
        }
        report
    }
}

/// How many issues of an XML document get their line and column.
const XML_LOCATED: usize = 100;

/// The report of text that cannot be read.
fn read_failure(message: &str, path: &str, location: Option<(usize, usize)>) -> Report {
    Report {
        issues: vec![Issue {
            severity: Severity::Fatal,
            code: "structure",
            message: message.to_string(),
            path: path.to_string(),
            rule: "read",
            location,
        }],
    }
}

/// The invariants this validator checks without FHIRPath, by key: a later FHIRPath pass skips
/// them.
pub const NATIVE_INVARIANTS: &[&str] = &[
    "ele-1", "ext-1", "txt-1", "txt-2", "dom-2", "dom-4", "dom-5", "dom-6",
];

#[cfg(all(test, feature = "r4"))]
mod tests;
