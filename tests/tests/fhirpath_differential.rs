//! The FHIRPath evaluator of fhir-model against an independent engine, HL7's `fhirpath`
//! JavaScript package (installed from npm by this test into the target directory): every
//! core SearchParameter expression of R4 and R5, on every official example whose type the
//! parameter applies to, must give the same values.
//!
//! Both sides' results are written as canonical JSON text (object keys sorted, numbers as
//! `f64`, the `_name` siblings of primitives left out, since fhirpath.js hands back objects
//! as they were read) and compared as sets (a union keeps one of equal values: fhirpath.js
//! compares objects deeply, the Rust side by identity).
//!
//! The Rust side parses each expression for the example's type
//! ([`fhirpath::compile_for_type`]), which leaves out the union branches of other types, as
//! searches do; fhirpath.js evaluates the whole expression, so this checks that pruning too.
//!
//! `resolve()` belongs to the host: fhirpath.js gets one written in the JS file beside this
//! test that does what the Rust evaluator does without a resolver (a contained resource for
//! `#id`, else a resource that has only the type the reference names).

use fhir_model::fhirpath::{self, Item, Node};
use fhir_model::xml::table::{XmlKind, XmlTable};
use fhir_model::FhirVersion;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const FHIRPATH_JS_VERSION: &str = "5.2.2";

/// Node.js and npm, installed with apt (Debian packages nodejs and npm) when missing, so the
/// test command works on a fresh machine; panics when they cannot be had.
fn node() {
    let found = || {
        ["node", "npm"].iter().all(|tool| {
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    };
    if found() {
        return;
    }
    let installed = fhir_tests::apt_install(&["nodejs", "npm"]);
    assert!(
        installed && found(),
        "Node.js and npm are missing and could not be installed: install the Debian packages nodejs and npm"
    );
}

/// The directory holding `node_modules/fhirpath`, installed with npm on first use (once for
/// both tests, which run in parallel).
fn fhirpath_js() -> PathBuf {
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(install_fhirpath_js).clone()
}

fn install_fhirpath_js() -> PathBuf {
    node();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhirpath-js");
    let installed = dir.join("node_modules/fhirpath/package.json");
    let has_version = std::fs::read_to_string(&installed)
        .is_ok_and(|t| t.contains(&format!("\"version\": \"{FHIRPATH_JS_VERSION}\"")));
    if !has_version {
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .arg(format!("fhirpath@{FHIRPATH_JS_VERSION}"))
            .status()
            .unwrap_or_else(|e| {
                panic!("npm is needed to install fhirpath.js (Node.js 18 or later): {e}")
            });
        assert!(
            status.success(),
            "npm install fhirpath@{FHIRPATH_JS_VERSION} failed"
        );
    }
    dir
}

/// A JSON value as canonical text: keys sorted, `_name` members left out, numbers as `f64`.
fn canonical(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(&n.to_string()),
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        Value::Object(o) => {
            let mut members: Vec<(String, String)> = o
                .iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect();
            members.sort();
            object(members)
        }
    }
}

fn number(text: &str) -> String {
    format!("{}", text.parse::<f64>().unwrap_or(f64::NAN))
}

fn object(members: Vec<(String, String)>) -> String {
    let inner: Vec<String> = members
        .into_iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A node as canonical JSON text, walked through the version's table and the generated
/// `Navigate` impls (so this checks the navigation too: every element, by index).
fn node_text(node: Node<'_>, table: &XmlTable) -> Option<String> {
    match node {
        Node::Primitive(..) | Node::Text(..) => {
            let p = node.primitive()?;
            Some(match p {
                fhirpath::Prim::Bool(b) => b.to_string(),
                // integer64 is a JSON string.
                fhirpath::Prim::Integer(i) if node.type_name() == "integer64" => format!("\"{i}\""),
                fhirpath::Prim::Integer(i) => number(&i.to_string()),
                fhirpath::Prim::Decimal(d) => number(d),
                other => serde_json::to_string(other.as_str().unwrap()).unwrap(),
            })
        }
        Node::Object(o, ty) => {
            let index = o.type_index();
            let mut members = Vec::new();
            if table.resource(ty) == Some(index) {
                members.push((
                    "resourceType".to_string(),
                    serde_json::to_string(ty).unwrap(),
                ));
            }
            for (i, element) in table.types[index as usize].elements.iter().enumerate() {
                let mut nodes = Vec::new();
                o.member(i, &mut nodes);
                if nodes.is_empty() {
                    continue;
                }
                let name = match element.kind {
                    XmlKind::Choice(_) => {
                        let t = nodes[0].type_name();
                        let mut suffix = t[..1].to_uppercase();
                        suffix.push_str(&t[1..]);
                        format!("{}{suffix}", element.name)
                    }
                    _ => element.name.to_string(),
                };
                let texts: Vec<Option<String>> =
                    nodes.iter().map(|n| node_text(*n, table)).collect();
                if element.repeated {
                    if texts.iter().all(Option::is_none) {
                        continue;
                    }
                    let items: Vec<String> = texts
                        .into_iter()
                        .map(|t| t.unwrap_or_else(|| "null".into()))
                        .collect();
                    members.push((name, format!("[{}]", items.join(","))));
                } else if let Some(Some(t)) = texts.into_iter().next() {
                    members.push((name, t));
                }
            }
            members.sort();
            Some(object(members))
        }
    }
}

fn item_text(item: &Item<'_>, table: &XmlTable) -> String {
    match item {
        Item::Node(n) => node_text(*n, table).unwrap_or_else(|| "null".into()),
        Item::Bool(b) => b.to_string(),
        Item::Integer(i) => number(&i.to_string()),
        Item::Decimal(d) => format!("{d}"),
        Item::String(s) => serde_json::to_string(s).unwrap(),
        Item::Reference(t) => format!("{{\"resourceType\":{}}}", serde_json::to_string(t).unwrap()),
        // Only lowBoundary() and highBoundary() make these, which no search parameter calls:
        // shown as they are, they would differ from fhirpath.js and fail the test.
        Item::Instant(_) | Item::Quantity(..) => format!("{item:?}"),
    }
}

/// (example file, a part of the expression, reason): cases whose results differ for a known
/// reason in the other engine; each is counted and not compared.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[(
    "Observation-decimal.json",
    " | ",
    "fhirpath.js's union drops a quantity whose value (1e-245, 1e-24) it finds equal to \
     another's (its decimal equality rounds); the evaluator keeps both",
)];

/// The most cases fhirpath.js may fail on (it refuses a Quantity with a comparator in a
/// union): a rise means a change.
const MAX_JS_FAILURES: usize = 2;

struct Case {
    file: PathBuf,
    exprs: Vec<&'static str>,
}

fn run(version: FhirVersion, key: &str, package: &str, package_version: &str, floor: usize) {
    let table = fhirpath::table(version).unwrap();
    let dir = fhir_tests::package(package, package_version);
    let files = fhir_tests::json_resources(&dir);
    let by_type: &[(&str, &[fhir_model::SearchParameter])] = match version {
        FhirVersion::R4 => fhir_model::r4::Resource::SEARCH_PARAMETERS_BY_TYPE,
        _ => fhir_model::r5::Resource::SEARCH_PARAMETERS_BY_TYPE,
    };
    // Parse every expression once: an expression the evaluator cannot parse is counted.
    let mut unparsed = BTreeSet::new();
    let mut cases = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let ty = serde_json::from_str::<serde_json::Value>(&text).unwrap()["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some((_, params)) = by_type.iter().find(|(t, _)| *t == ty) else {
            continue;
        };
        let mut exprs = Vec::new();
        for p in params.iter().filter(|p| !p.expression.is_empty()) {
            match fhirpath::compile(p.expression, version) {
                Ok(_) => exprs.push(p.expression),
                Err(e) => {
                    unparsed.insert(format!("{}: {} ({e})", p.code, p.expression));
                }
            }
        }
        cases.push(Case {
            file: file.clone(),
            exprs,
        });
    }
    let js_dir = fhirpath_js();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fhirpath-diff-{key}"));
    std::fs::create_dir_all(&work).unwrap();
    let jobs = work.join("jobs.jsonl");
    let out = work.join("out.jsonl");
    let lines: Vec<String> = cases
        .iter()
        .map(|c| serde_json::json!({"file": c.file, "exprs": c.exprs}).to_string())
        .collect();
    std::fs::write(&jobs, lines.join("\n") + "\n").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fhirpath_differential.js");
    let status = Command::new("node")
        .arg(&script)
        .arg(&js_dir)
        .arg(key)
        .arg(&jobs)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("node is needed for the differential test: {e}"));
    assert!(status.success(), "the fhirpath.js side failed");
    let answers = std::fs::read_to_string(&out).unwrap();
    let answers: Vec<&str> = answers.lines().collect();
    assert_eq!(answers.len(), cases.len());

    let (mut compared, mut nonempty, mut js_errors) = (0usize, 0usize, Vec::new());
    let (mut rewritten, mut known) = (0usize, 0usize);
    let mut mismatches = Vec::new();
    for (case, answer) in cases.iter().zip(answers) {
        let text = std::fs::read_to_string(&case.file).unwrap();
        let resource = match version {
            FhirVersion::R4 => Resources::R4(fhir_model::r4::Resource::from_json(&text).unwrap()),
            _ => Resources::R5(fhir_model::r5::Resource::from_json(&text).unwrap()),
        };
        let node = match &resource {
            Resources::R4(r) => r.as_node(),
            Resources::R5(r) => r.as_node(),
        };
        let answer: Vec<serde_json::Value> = serde_json::from_str(answer).unwrap();
        for (expr, js) in case.exprs.iter().zip(answer) {
            let name = case.file.file_name().unwrap().to_string_lossy();
            // Parsed for the example's type, as searches do: the union branches of other
            // types left out (fhirpath.js evaluates them all).
            let ours = fhirpath::compile_for_type(expr, version, node.type_name())
                .unwrap()
                .evaluate(node);
            let js_answer = js.clone();
            let Some(js) = js.get("ok") else {
                js_errors.push(format!("{name}: {expr}: {}", js["error"]));
                continue;
            };
            let theirs: BTreeSet<String> = js.as_array().unwrap().iter().map(canonical).collect();
            let ours: BTreeSet<String> = match ours {
                // fhirpath.js leaves out a primitive that has extensions but no value; such a
                // node gives no search value here either, so it is not compared.
                Ok(items) => items
                    .iter()
                    .map(|i| item_text(i, table))
                    .filter(|t| t != "null")
                    .collect(),
                Err(e) => {
                    mismatches.push(format!(
                        "{name}: {expr}: Rust failed: {e}; fhirpath.js: {theirs:?}"
                    ));
                    continue;
                }
            };
            let listed = KNOWN_DIFFERENCES
                .iter()
                .any(|(f, e, _)| *f == name && expr.contains(e));
            if listed {
                known += 1;
                continue;
            }
            compared += 1;
            if js_answer.get("rewritten").is_some() {
                rewritten += 1;
            }
            if !theirs.is_empty() {
                nonempty += 1;
            }
            if ours != theirs {
                // Only what one side has and the other has not.
                let (ours, theirs): (BTreeSet<String>, BTreeSet<String>) = (
                    ours.difference(&theirs).cloned().collect(),
                    theirs.difference(&ours).cloned().collect(),
                );
                let short = |s: &BTreeSet<String>| {
                    let t = format!("{s:?}");
                    if t.len() > 400 {
                        format!("{}…", &t[..t.floor_char_boundary(400)])
                    } else {
                        t
                    }
                };
                mismatches.push(format!(
                    "{name}: {expr}:\n    Rust:          {}\n    fhirpath.js:   {}",
                    short(&ours),
                    short(&theirs)
                ));
            }
        }
    }
    eprintln!(
        "FHIRPath {key}: {} examples, {compared} (example, expression) cases compared, {nonempty} with values; \
         {rewritten} of them rewritten for fhirpath.js (`as` as `ofType`, `hasExtension`); {} expressions not parsed, \
         {} cases fhirpath.js failed on, {known} known differences not compared",
        cases.len(),
        unparsed.len(),
        js_errors.len(),
    );
    for u in &unparsed {
        eprintln!("  not parsed: {u}");
    }
    for e in js_errors.iter().take(20) {
        eprintln!("  fhirpath.js failed: {e}");
    }
    assert!(
        mismatches.is_empty(),
        "{} of {compared} cases differ:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        compared >= floor,
        "only {compared} cases compared (floor {floor})"
    );
    assert!(
        js_errors.len() <= MAX_JS_FAILURES,
        "fhirpath.js failed on {} cases (at most {MAX_JS_FAILURES} expected)",
        js_errors.len()
    );
}

enum Resources {
    R4(fhir_model::r4::Resource),
    R5(fhir_model::r5::Resource),
}

#[test]
fn r4_search_parameters_match_fhirpath_js() {
    run(
        FhirVersion::R4,
        "r4",
        "hl7.fhir.r4.examples",
        "4.0.1",
        135_000,
    );
}

#[test]
fn r5_search_parameters_match_fhirpath_js() {
    run(
        FhirVersion::R5,
        "r5",
        "hl7.fhir.r5.examples",
        "5.0.0",
        83_000,
    );
}
