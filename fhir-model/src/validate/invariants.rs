//! The definitions' FHIRPath invariants ([`ValidationTable::constraints`]) evaluated over the
//! typed form of a resource: each constraint at every instance of the element or type that
//! states it, with `%resource` the resource the instance is in (a Bundle entry is its own
//! resource, and so is a contained resource, whose container is its `%rootResource`). The invariants checked natively
//! ([`NATIVE_INVARIANTS`]) are left out; a constraint the evaluator
//! cannot parse or evaluate (terminology functions, a type error) is never reported, nor is
//! one that evaluates to an empty collection: only `false` breaks a constraint.

use super::table::{Constraint, ValidationTable};
use super::{Issue, Severity, ValidationModel, NATIVE_INVARIANTS};
use crate::fhirpath::{self, Expression, Item, Node};
use crate::json::{self, PathSegment, Value};
use crate::xml::table::XmlKind;
use crate::FhirVersion;

/// The invariants pass of the version of `R`, which [`Validator::of`](super::Validator::of) runs:
/// the JSON form is read as `R`, and each failed invariant is an issue of the constraint's
/// severity, with the message `key: human` and the constraint's key as its rule.
pub fn pass<R: ValidationModel>(
    table: &'static ValidationTable,
    value: &Value,
) -> Vec<(Issue, Vec<PathSegment>)> {
    // What the typed reader rejects is reported by the validator's own rules.
    let Ok(resource) = json::from_str::<R>(&json::to_string(value)) else {
        return Vec::new();
    };
    check(table, R::fhir_version(), resource.node())
}

/// The failed invariants of a typed resource (its `node`), each with its JSON path: what
/// [`pass`] gives once it has read the JSON form, and what a validator of a typed resource
/// runs directly.
pub fn check(
    table: &'static ValidationTable,
    version: FhirVersion,
    node: Node<'_>,
) -> Vec<(Issue, Vec<PathSegment>)> {
    let mut walker = Walker {
        table,
        version,
        out: Vec::new(),
    };
    walker.resource(node, None, node.type_name().to_string(), Vec::new(), &[]);
    walker.out
}

/// Whether a constraint is one the pass evaluates: not checked natively, and its expression
/// parses (the evaluator has every function it calls).
pub fn parsed(constraint: &Constraint, version: FhirVersion) -> Option<&'static Expression> {
    if NATIVE_INVARIANTS.contains(&constraint.key) {
        return None;
    }
    fhirpath::compile(constraint.expression, version).ok()
}

/// The resource an instance is in (`%resource`) and its container, if it is contained
/// (`%rootResource`).
#[derive(Clone, Copy)]
struct Scope<'a> {
    resource: Node<'a>,
    root: Option<Node<'a>>,
}

struct Walker {
    table: &'static ValidationTable,
    version: FhirVersion,
    out: Vec<(Issue, Vec<PathSegment>)>,
}

impl Walker {
    /// A resource at `path`, checked with itself as `%resource` (in `root` when contained).
    fn resource<'a>(
        &mut self,
        node: Node<'a>,
        root: Option<Node<'a>>,
        path: String,
        at: Vec<PathSegment>,
        inv: &[u16],
    ) {
        let scope = Scope {
            resource: node,
            root,
        };
        self.object(node, scope, path, at, inv);
    }

    /// A struct: the invariants of its element (`inv`) and of its type, then its members.
    fn object<'a>(
        &mut self,
        node: Node<'a>,
        scope: Scope<'a>,
        path: String,
        at: Vec<PathSegment>,
        inv: &[u16],
    ) {
        let Node::Object(object, _) = node else {
            return self.check(inv, node, scope, &path, &at);
        };
        let ty = object.type_index() as usize;
        let (Some(rules), Some(xml)) = (self.table.types.get(ty), self.table.xml.types.get(ty))
        else {
            return;
        };
        let mut all: Vec<u16> = inv.to_vec();
        all.extend(rules.invariants.iter().filter(|i| !inv.contains(i)));
        self.check(&all, node, scope, &path, &at);
        let mut nodes = Vec::new();
        for (i, element) in xml.elements.iter().enumerate() {
            nodes.clear();
            object.member(i, &mut nodes);
            let inv = rules.elements.get(i).map_or(&[][..], |e| e.invariants);
            for (j, &child) in nodes.iter().enumerate() {
                let (name, shown) = match element.kind {
                    XmlKind::Choice(_) => {
                        let ty = child.type_name();
                        let suffix = upper_first(ty);
                        (
                            format!("{}{suffix}", element.name),
                            format!("{}.ofType({ty})", element.name),
                        )
                    }
                    _ => (element.name.to_string(), element.name.to_string()),
                };
                let mut child_at = at.clone();
                child_at.push(PathSegment::Member(name));
                let mut child_path = format!("{path}.{shown}");
                if element.repeated {
                    child_at.push(PathSegment::Index(j));
                    child_path.push_str(&format!("[{j}]"));
                }
                match (element.kind, child) {
                    (XmlKind::Resource, _) => {
                        self.check(inv, child, scope, &child_path, &child_at);
                        // A contained resource's references to `#id` are to its container's
                        // other contained resources (ref-1 reads `%rootResource.contained`).
                        let root = (element.name == "contained")
                            .then(|| scope.root.unwrap_or(scope.resource));
                        self.resource(child, root, child_path, child_at, &[]);
                    }
                    (_, Node::Object(..)) => self.object(child, scope, child_path, child_at, inv),
                    _ => self.primitive(child, scope, &child_path, &child_at, inv),
                }
            }
        }
    }

    /// A primitive: the invariants of its element and of its type.
    fn primitive<'a>(
        &mut self,
        node: Node<'a>,
        scope: Scope<'a>,
        path: &str,
        at: &[PathSegment],
        inv: &[u16],
    ) {
        let mut all: Vec<u16> = inv.to_vec();
        if let Some(p) = self.table.primitive(node.type_name()) {
            all.extend(p.invariants.iter().filter(|i| !inv.contains(i)));
        }
        self.check(&all, node, scope, path, at);
    }

    /// Evaluates the constraints `inv` at one instance.
    fn check<'a>(
        &mut self,
        inv: &[u16],
        node: Node<'a>,
        scope: Scope<'a>,
        path: &str,
        at: &[PathSegment],
    ) {
        for &i in inv {
            let Some(c) = self.table.constraints.get(i as usize) else {
                continue;
            };
            let Some(expr) = parsed(c, self.version) else {
                continue;
            };
            let context = [Item::Node(node)];
            let found = expr.evaluate_contained(&context, Some(scope.resource), scope.root, None);
            let Ok(found) = found else {
                continue;
            };
            // Only `false` breaks a constraint: an empty result means it does not apply (as
            // the definitions intend, e.g. R4's ref-1 on a reference with a display alone,
            // which R5 states with `reference.exists() implies`).
            if !matches!(found.as_slice(), [Item::Bool(false)]) {
                continue;
            }
            let severity = match c.severity {
                "error" => Severity::Error,
                _ => Severity::Warning,
            };
            let issue = Issue {
                severity,
                code: "invariant",
                message: format!("{}: {}", c.key, c.human),
                path: path.to_string(),
                rule: c.key,
                location: None,
            };
            self.out.push((issue, at.to_vec()));
        }
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How many of a version's constraints the pass evaluates: (all, native, evaluated by
/// FHIRPath, skipped keys). A skipped constraint's expression calls a function the evaluator
/// does not have (terminology: `memberOf`, `conformsTo`; or a rarer one).
pub fn coverage(
    table: &'static ValidationTable,
    version: FhirVersion,
) -> (usize, usize, usize, Vec<&'static str>) {
    let mut native = 0;
    let mut evaluated = 0;
    let mut skipped = Vec::new();
    for c in table.constraints {
        if NATIVE_INVARIANTS.contains(&c.key) {
            native += 1;
        } else if parsed(c, version).is_some() {
            evaluated += 1;
        } else {
            skipped.push(c.key);
        }
    }
    (table.constraints.len(), native, evaluated, skipped)
}

#[cfg(all(test, feature = "r4"))]
mod tests {
    use super::super::{Severity, Validator};
    use crate::r4;

    fn validator() -> Validator {
        Validator::of::<r4::Resource>()
    }

    /// (severity, rule, path, message) of the invariant issues of R4 JSON text.
    fn invariants(text: &str) -> Vec<(Severity, &'static str, String, String)> {
        let report = validator().json(text);
        report
            .issues
            .into_iter()
            .filter(|i| i.code == "invariant" && !i.rule.starts_with("dom-"))
            .map(|i| (i.severity, i.rule, i.path, i.message))
            .collect()
    }

    #[test]
    fn pat_1_on_each_contact() {
        let text =
            r#"{"resourceType":"Patient","contact":[{"name":{"family":"A"}},{"gender":"male"}]}"#;
        assert_eq!(
            invariants(text),
            [(
                Severity::Error,
                "pat-1",
                "Patient.contact[1]".to_string(),
                "pat-1: SHALL at least contain a contact's details or a reference to an organization".to_string()
            )]
        );
    }

    #[test]
    fn per_1_on_a_period_anywhere() {
        let text = r#"{"resourceType":"Patient","name":[{"family":"A","period":{"start":"2020-01-02","end":"2020-01-01"}}]}"#;
        let found = invariants(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].1, "per-1");
        assert_eq!(found[0].2, "Patient.name[0].period");
        assert!(found[0]
            .3
            .starts_with("per-1: If present, start SHALL have a lower value than end"));
        let report = validator().json(text);
        let issue = report.issues.iter().find(|i| i.rule == "per-1").unwrap();
        assert_eq!(issue.location, Some((1, 58)));
    }

    #[test]
    fn obs_6_and_choices() {
        let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},
            "valueQuantity":{"value":1,"comparator":"<","code":"mg"},"dataAbsentReason":{"text":"no"}}"#;
        let found = invariants(text);
        let rules: Vec<(&str, &str)> = found.iter().map(|f| (f.1, f.2.as_str())).collect();
        assert_eq!(
            rules,
            [
                ("obs-6", "Observation"),
                ("qty-3", "Observation.value.ofType(Quantity)")
            ]
        );
    }

    #[test]
    fn ref_1_in_a_contained_resource() {
        let text = r##"{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"x",
            "endpoint":[{"reference":"#nothere"}]}],"managingOrganization":{"reference":"#o"}}"##;
        let found = invariants(text);
        let rules: Vec<(&str, &str)> = found.iter().map(|f| (f.1, f.2.as_str())).collect();
        assert_eq!(rules, [("ref-1", "Patient.contained[0].endpoint[0]")]);
    }

    #[test]
    fn a_typed_resource_gives_the_issues_of_its_json() {
        let text = r##"{"resourceType":"Patient","contact":[{"gender":"male"}],
            "name":[{"period":{"start":"2020-02-01","end":"2020-01-01"}}],
            "contained":[{"resourceType":"Organization","id":"o","name":"x","endpoint":[{"reference":"#q"}]}],
            "managingOrganization":{"reference":"#o"}}"##;
        let typed = r4::Resource::from_json(text).unwrap();
        let of = |r: super::super::Report| -> Vec<(&'static str, String)> {
            r.issues.into_iter().map(|i| (i.rule, i.path)).collect()
        };
        let from_text = of(validator().json(text));
        assert_eq!(from_text.len(), 4, "{from_text:?}");
        assert_eq!(of(validator().resource(&typed)), from_text);
    }

    #[test]
    fn contained_resources_see_their_container_as_root() {
        // Patient.contained[0] refers to its sibling: valid; to a missing id: ref-1.
        let text = r##"{"resourceType":"Patient","contained":[
            {"resourceType":"Organization","id":"o","name":"x","partOf":{"reference":"#p"}},
            {"resourceType":"Organization","id":"p","name":"y","endpoint":[{"reference":"#q"}]}],
            "managingOrganization":{"reference":"#o"},"generalPractitioner":[{"reference":"#p"}]}"##;
        let found = invariants(text);
        let rules: Vec<(&str, &str)> = found.iter().map(|f| (f.1, f.2.as_str())).collect();
        assert_eq!(rules, [("ref-1", "Patient.contained[1].endpoint[0]")]);
        // In R5 a contained resource may refer to its container as "#".
        #[cfg(feature = "r5")]
        {
            let text = r##"{"resourceType":"Patient","contained":[{"resourceType":"Observation",
                "id":"o","status":"final","code":{"text":"x"},"subject":{"reference":"#"}}],
                "link":[{"other":{"reference":"#o"},"type":"seealso"}]}"##;
            let report = Validator::of::<crate::r5::Resource>().json(text);
            let errors: Vec<_> = report.errors().collect();
            assert!(errors.is_empty(), "{errors:#?}");
            let text = text.replace(
                r##""subject":{"reference":"#"}"##,
                r##""subject":{"reference":"#x"}"##,
            );
            let report = Validator::of::<crate::r5::Resource>().json(&text);
            let rules: Vec<&str> = report.errors().map(|i| i.rule).collect();
            assert_eq!(rules, ["ref-1"]);
        }
    }

    #[test]
    fn dates_compare_at_their_precision_and_zone() {
        let period = |start: &str, end: &str| {
            let text = format!(
                r#"{{"resourceType":"Patient","name":[{{"period":{{"start":"{start}","end":"{end}"}}}}]}}"#
            );
            invariants(&text)
                .into_iter()
                .map(|i| i.1)
                .collect::<Vec<_>>()
        };
        // 10:00 at +02:00 is 08:00 UTC, before 09:30 UTC.
        assert!(period("2020-01-01T10:00:00+02:00", "2020-01-01T09:30:00Z").is_empty());
        assert_eq!(
            period("2020-01-01T10:00:00Z", "2020-01-01T09:30:00Z"),
            ["per-1"]
        );
        // A month against a day in it: unknown, so not broken; a later month: broken.
        assert!(period("2020-01", "2020-01-15").is_empty());
        assert_eq!(period("2020-02", "2020-01-15"), ["per-1"]);
        assert!(period("2020", "2020").is_empty());
    }

    #[test]
    fn quantities_compare_in_one_unit() {
        let range = |low: &str, high: &str| {
            let text = format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueRange":{{"low":{low},"high":{high}}}}}"#
            );
            invariants(&text)
                .into_iter()
                .map(|i| i.1)
                .collect::<Vec<_>>()
        };
        let mg =
            |v: u32| format!(r#"{{"value":{v},"system":"http://unitsofmeasure.org","code":"mg"}}"#);
        let g =
            |v: u32| format!(r#"{{"value":{v},"system":"http://unitsofmeasure.org","code":"g"}}"#);
        assert!(range(&mg(1), &mg(2)).is_empty());
        assert_eq!(range(&mg(3), &mg(2)), ["rng-2"]);
        // Units are not converted: 3 mg against 2 g is not known, so not reported.
        assert!(range(&mg(3), &g(2)).is_empty());
    }

    #[test]
    fn every_version_keeps_its_coverage() {
        use super::super::ValidationModel;
        use crate::FhirVersion;
        let (all, native, evaluated, skipped) =
            super::coverage(r4::Resource::validation_table(), FhirVersion::R4);
        eprintln!("R4 {all} {native} {evaluated} {skipped:?}");
        assert_eq!((all, native, evaluated), (241, 10, 231), "{skipped:?}");
        #[cfg(feature = "r4b")]
        {
            let (all, native, evaluated, skipped) =
                super::coverage(crate::r4b::Resource::validation_table(), FhirVersion::R4B);
            eprintln!("R4B {all} {native} {evaluated} {skipped:?}");
            assert_eq!((all, native, evaluated), (390, 10, 380), "{skipped:?}");
        }
        #[cfg(feature = "r5")]
        {
            let (all, native, evaluated, skipped) =
                super::coverage(crate::r5::Resource::validation_table(), FhirVersion::R5);
            eprintln!("R5 {all} {native} {evaluated} {skipped:?}");
            // exs-1 and opd-3 call memberOf(), which needs a terminology server.
            assert_eq!(skipped, ["exs-1", "opd-3"]);
            assert_eq!((all, native, evaluated), (380, 10, 368));
        }
    }
}
