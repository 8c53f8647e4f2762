//! Walks the JSON form of a resource with the XML table (names, kinds, choices) and checks
//! each element against its rules in the validation table: the shape the JSON format gives
//! it, its cardinality, its primitive's format and code, its required binding, the
//! narrative, and the invariants checked without FHIRPath. Contained resources and Bundle
//! entries are validated as resources of their own type.

use super::table::{ElementRules, PrimitiveRule, ValidationTable};
use super::{binding, formats, xhtml, Issue, Report, Severity};
use crate::json::{PathSegment, Value};
use crate::xml::table::{JsonKind, XmlElement, XmlKind};

/// Validates a resource; each issue's JSON path (for its line and column) at the same index.
pub(super) fn validate(
    table: &'static ValidationTable,
    resource: &Value,
) -> (Report, Vec<Vec<PathSegment>>) {
    let mut w = Walker {
        t: table,
        issues: Vec::new(),
        at: Vec::new(),
        segments: Vec::new(),
    };
    w.resource(resource, None, false);
    (Report { issues: w.issues }, w.at)
}

struct Walker {
    t: &'static ValidationTable,
    issues: Vec<Issue>,
    /// The JSON path of each issue.
    at: Vec<Vec<PathSegment>>,
    /// The JSON path of the value being checked.
    segments: Vec<PathSegment>,
}

/// The members of an object that stand for one element: its value (`birthDate`) and its id
/// and extensions (`_birthDate`).
struct Slot<'v> {
    /// The name used, without `_` (a choice's name with its type: `valueQuantity`).
    key: &'v str,
    kind: XmlKind,
    value: Option<&'v Value>,
    ext: Option<&'v Value>,
}

impl Walker {
    fn push(&mut self, issue: Issue) {
        self.at.push(self.segments.clone());
        self.issues.push(issue);
    }

    fn error(&mut self, code: &'static str, rule: &'static str, path: &str, message: String) {
        self.push(Issue::error(code, rule, path.to_string(), message));
    }

    /// An issue of an invariant checked here, with its text from the definitions.
    fn invariant(&mut self, key: &'static str, path: &str, detail: Option<&str>) {
        let constraint = self.t.constraints.iter().find(|c| c.key == key);
        let human = constraint.map_or(key, |c| c.human);
        let severity = match constraint.map(|c| c.severity) {
            Some("warning") => Severity::Warning,
            _ => Severity::Error,
        };
        let message = match detail {
            Some(detail) => format!("{human} ({detail})"),
            None => human.to_string(),
        };
        self.push(Issue {
            severity,
            code: "invariant",
            message,
            path: path.to_string(),
            rule: key,
            location: None,
        });
    }

    fn resource(&mut self, value: &Value, path: Option<&str>, contained: bool) {
        let at = path.unwrap_or("$");
        let Value::Object(members) = value else {
            let message = format!(
                "expected a resource (a JSON object), found {}",
                value.kind()
            );
            return self.error("structure", "type", at, message);
        };
        let Some(name) = value.get("resourceType").and_then(Value::as_str) else {
            let message = "a resource must name its type in resourceType".to_string();
            return self.error("structure", "type", at, message);
        };
        let Some(ty) = self.t.xml.resource(name) else {
            let message = format!("'{name}' is not a resource type of this FHIR version");
            return self.error("structure", "type", at, message);
        };
        let path = path.map_or_else(|| name.to_string(), str::to_string);
        self.object(ty, members, &path, true);
        if contained {
            // dom-2, dom-4 and dom-5 are stated on the resource that contains.
            if value.get("contained").is_some() {
                self.invariant("dom-2", &format!("{path}.contained"), None);
            }
            if let Some(meta) = value.get("meta") {
                if meta.get("versionId").is_some() || meta.get("lastUpdated").is_some() {
                    self.invariant("dom-4", &format!("{path}.meta"), None);
                }
                if meta.get("security").is_some() {
                    self.invariant("dom-5", &format!("{path}.meta.security"), None);
                }
            }
        } else if self.t.type_has_invariant(ty, "dom-6")
            && value.get("text").and_then(|t| t.get("div")).is_none()
        {
            // A contained resource is described by its container's narrative.
            self.invariant("dom-6", &path, None);
        }
    }

    /// Checks the members of an object of struct `ty` and the cardinality of its elements.
    fn object(&mut self, ty: u16, members: &[(String, Value)], path: &str, resource: bool) {
        let xml = self.t.xml;
        let Some(xml_type) = xml.types.get(ty as usize) else {
            return;
        };
        let rules = self.t.types[ty as usize].elements;
        let mut slots: Vec<Option<Slot<'_>>> = xml_type.elements.iter().map(|_| None).collect();
        let mut from = 0;
        for (key, value) in members {
            if resource && key == "resourceType" {
                continue;
            }
            let (name, underscore) = match key.strip_prefix('_') {
                Some(name) => (name, true),
                None => (key.as_str(), false),
            };
            let found = xml
                .element_from(ty, name, from)
                .filter(|(_, _, kind)| !underscore || matches!(kind, XmlKind::Primitive(_)));
            let Some((i, element, kind)) = found else {
                self.segments.push(PathSegment::Member(key.clone()));
                let message = format!("unknown element '{key}'");
                self.error("structure", "element", &format!("{path}.{key}"), message);
                self.segments.pop();
                continue;
            };
            from = i;
            let slot = slots[i].get_or_insert(Slot {
                key: name,
                kind,
                value: None,
                ext: None,
            });
            if slot.key != name {
                let message = format!(
                    "{}[x] takes one type, but has both '{}' and '{name}'",
                    element.name, slot.key
                );
                self.segments.push(PathSegment::Member(key.clone()));
                self.error(
                    "structure",
                    "max",
                    &format!("{path}.{}", element.name),
                    message,
                );
                self.segments.pop();
                continue;
            }
            if underscore {
                slot.ext = Some(value);
            } else {
                slot.value = Some(value);
            }
        }
        for (i, element) in xml_type.elements.iter().enumerate() {
            let r = &rules[i];
            let count = match &slots[i] {
                Some(slot) => self.element(element, r, slot, path),
                None => 0,
            };
            let at = format!("{path}.{}", element.name);
            if count < r.min as usize {
                let message = if count == 0 {
                    format!("{at} is required (min {}), but is missing", r.min)
                } else {
                    format!("{at} needs at least {} values, but has {count}", r.min)
                };
                self.push(Issue::error("required", "min", at.clone(), message));
            }
            if let Some(max) = r.max {
                if count > max as usize {
                    let message = format!("{at} allows at most {max} values, but has {count}");
                    self.push(Issue::error("structure", "max", at, message));
                }
            }
        }
        if !resource {
            let empty = members.iter().all(|(k, _)| k == "id");
            if empty && self.t.type_has_invariant(ty, "ele-1") {
                self.invariant("ele-1", path, Some("the element is empty"));
            }
            if ty == xml.extension && !empty {
                let extensions = matches!(members.iter().find(|(k, _)| k == "extension"), Some((_, Value::Array(a))) if !a.is_empty());
                let value = members
                    .iter()
                    .any(|(k, _)| k.trim_start_matches('_').starts_with("value"));
                if extensions == value && self.t.type_has_invariant(ty, "ext-1") {
                    self.invariant("ext-1", path, None);
                }
            }
        }
    }

    /// Checks the values of one element; how many there are.
    fn element(
        &mut self,
        element: &XmlElement,
        r: &ElementRules,
        slot: &Slot<'_>,
        path: &str,
    ) -> usize {
        // A choice is named by its type in FHIRPath: `Observation.value.ofType(Quantity)`.
        let choice_type = match element.kind {
            XmlKind::Choice(_) => {
                let suffix = &slot.key[element.name.len().min(slot.key.len())..];
                Some(match slot.kind {
                    XmlKind::Primitive(_) => lower_first(suffix),
                    _ => suffix.to_string(),
                })
            }
            _ => None,
        };
        let at = match &choice_type {
            Some(t) => format!("{path}.{}.ofType({t})", element.name),
            None => format!("{path}.{}", element.name),
        };
        let key = match slot.value {
            Some(_) => slot.key.to_string(),
            None => format!("_{}", slot.key),
        };
        self.segments.push(PathSegment::Member(key.clone()));
        let contained = element.name == "contained";
        let count = if element.repeated {
            self.repeated(slot, r, &at, &key, choice_type.as_deref(), contained)
        } else {
            self.single(slot, r, &at, choice_type.as_deref())
        };
        self.segments.pop();
        count
    }

    fn repeated(
        &mut self,
        slot: &Slot<'_>,
        r: &ElementRules,
        at: &str,
        key: &str,
        choice_type: Option<&str>,
        contained: bool,
    ) -> usize {
        let mut arrays: [&[Value]; 2] = [&[], &[]];
        for (n, part) in [slot.value, slot.ext].into_iter().enumerate() {
            match part {
                Some(Value::Array(items)) if items.is_empty() => {
                    let message = "an array must not be empty: leave the element out".to_string();
                    self.error("structure", "type", at, message);
                }
                Some(Value::Array(items)) => arrays[n] = items,
                Some(other) => {
                    let message =
                        format!("'{key}' repeats: expected an array, found {}", other.kind());
                    self.error("structure", "type", at, message);
                    return 1;
                }
                None => {}
            }
        }
        let [values, exts] = arrays;
        if !values.is_empty() && !exts.is_empty() && values.len() != exts.len() {
            let message = format!(
                "'_{}' has {} items but '{}' has {}: they must align",
                slot.key,
                exts.len(),
                slot.key,
                values.len()
            );
            self.error("structure", "type", at, message);
        }
        let mut count = 0;
        for i in 0..values.len().max(exts.len()) {
            let value = values.get(i).filter(|v| **v != Value::Null);
            let ext = exts.get(i).filter(|v| **v != Value::Null);
            self.segments.push(PathSegment::Index(i));
            let item = format!("{at}[{i}]");
            if value.is_none() && ext.is_none() {
                let message = "null is not an item: leave it out".to_string();
                self.error("structure", "type", &item, message);
            } else {
                count += 1;
                self.item(slot.kind, r, value, ext, &item, choice_type, contained);
            }
            self.segments.pop();
        }
        count
    }

    fn single(
        &mut self,
        slot: &Slot<'_>,
        r: &ElementRules,
        at: &str,
        choice_type: Option<&str>,
    ) -> usize {
        for part in [slot.value, slot.ext].into_iter().flatten() {
            match part {
                Value::Array(items) => {
                    let message = format!(
                        "{at} allows at most 1 value, but has an array of {}",
                        items.len()
                    );
                    self.error("structure", "max", at, message);
                    return 1;
                }
                Value::Null => {
                    let message = "null is not a value: leave the element out".to_string();
                    self.error("structure", "type", at, message);
                }
                _ => {}
            }
        }
        let value = slot.value.filter(|v| **v != Value::Null);
        let ext = slot.ext.filter(|v| **v != Value::Null);
        if value.is_none() && ext.is_none() {
            return 0;
        }
        self.item(slot.kind, r, value, ext, at, choice_type, false);
        1
    }

    /// Checks one value (with its `_` part for a primitive).
    #[allow(clippy::too_many_arguments)]
    fn item(
        &mut self,
        kind: XmlKind,
        r: &ElementRules,
        value: Option<&Value>,
        ext: Option<&Value>,
        at: &str,
        choice_type: Option<&str>,
        contained: bool,
    ) {
        match kind {
            XmlKind::Primitive(json_kind) => {
                let primitive = match choice_type {
                    Some(t) => self.t.primitive(t),
                    None => r.primitive.and_then(|i| self.t.primitives.get(i as usize)),
                };
                if let Some(value) = value {
                    self.primitive(json_kind, primitive, r, value, at);
                }
                if let Some(ext) = ext {
                    self.primitive_parts(ext, value.is_some(), at);
                }
            }
            XmlKind::Plain => match value {
                Some(Value::String(text)) => {
                    let primitive = r.primitive.and_then(|i| self.t.primitives.get(i as usize));
                    if let Some((rule, message)) = primitive.and_then(|p| formats::check(p, text)) {
                        self.error("value", rule, at, message);
                    }
                }
                Some(other) => {
                    let message = format!("expected a string, found {}", other.kind());
                    self.error("structure", "type", at, message);
                }
                None => {}
            },
            XmlKind::Xhtml => match value {
                Some(Value::String(div)) => {
                    for (code, rule, message) in xhtml::check(div) {
                        self.error(code, rule, at, message);
                    }
                }
                Some(other) => {
                    let message = format!("expected the XHTML as a string, found {}", other.kind());
                    self.error("structure", "type", at, message);
                }
                None => {}
            },
            XmlKind::Complex(ty) => match value {
                Some(object @ Value::Object(members)) => {
                    self.object(ty, members, at, false);
                    if let Some(vs) = r.value_set.and_then(|i| self.t.value_sets.get(i as usize)) {
                        let type_name = self.t.xml.types[ty as usize].name;
                        if let Some(message) = binding::check(vs, type_name, object) {
                            self.error("code-invalid", "binding", at, message);
                        }
                    }
                }
                Some(other) => {
                    let message = format!("expected an object, found {}", other.kind());
                    self.error("structure", "type", at, message);
                }
                None => {}
            },
            XmlKind::Resource => {
                if let Some(value) = value {
                    self.resource(value, Some(at), contained);
                }
            }
            // The table resolves a choice to the type its name chooses.
            XmlKind::Choice(_) => {}
        }
    }

    fn primitive(
        &mut self,
        json_kind: JsonKind,
        primitive: Option<&'static PrimitiveRule>,
        r: &ElementRules,
        value: &Value,
        at: &str,
    ) {
        let text = match (json_kind, value) {
            (JsonKind::Bool, Value::Bool(_)) => return,
            (JsonKind::Number, Value::Number(n)) => n.as_str(),
            (JsonKind::String, Value::String(s)) => s.as_str(),
            _ => {
                let expected = match json_kind {
                    JsonKind::Bool => "a boolean",
                    JsonKind::Number => "a number",
                    JsonKind::String => "a string",
                };
                let message = format!("expected {expected}, found {}", value.kind());
                return self.error("structure", "type", at, message);
            }
        };
        if let Some((rule, message)) = primitive.and_then(|p| formats::check(p, text)) {
            return self.error("value", rule, at, message);
        }
        if let Some(codes) = r.codes {
            if !(codes.is_code)(text) {
                let message = format!(
                    "'{text}' is not a code of the required value set {}",
                    codes.value_set
                );
                self.error("code-invalid", "code", at, message);
            }
        }
    }

    /// The `_name` part of a primitive: its id and extensions.
    fn primitive_parts(&mut self, ext: &Value, has_value: bool, at: &str) {
        let Value::Object(members) = ext else {
            let message = format!(
                "the id and extensions of a primitive are an object, found {}",
                ext.kind()
            );
            return self.error("structure", "type", at, message);
        };
        let extension_type = self.t.xml.extension;
        let mut extensions = 0;
        for (key, value) in members {
            self.segments.push(PathSegment::Member(key.clone()));
            match (key.as_str(), value) {
                ("id", Value::String(id)) if id.is_empty() => {
                    let message = "an id must not be empty: leave it out".to_string();
                    self.error("value", "format", &format!("{at}.id"), message);
                }
                ("id", Value::String(_)) => {}
                ("extension", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        self.segments.push(PathSegment::Index(i));
                        let item_at = format!("{at}.extension[{i}]");
                        match item {
                            Value::Object(m) => {
                                extensions += 1;
                                self.object(extension_type, m, &item_at, false);
                            }
                            other => {
                                let message =
                                    format!("expected an Extension object, found {}", other.kind());
                                self.error("structure", "type", &item_at, message);
                            }
                        }
                        self.segments.pop();
                    }
                }
                _ => {
                    let message = format!(
                        "unknown element '{key}': a primitive's '_' object holds its id and extension"
                    );
                    self.error("structure", "element", &format!("{at}.{key}"), message);
                }
            }
            self.segments.pop();
        }
        if !has_value && extensions == 0 {
            self.invariant("ele-1", at, Some("neither a value nor extensions"));
        }
    }
}

/// `DateTime` -> `dateTime`: the FHIR type of a choice's primitive suffix.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
