//! Shared helpers for the integration tests: the official FHIR packages, fetched with the
//! project's own downloader into the FHIR package cache (never committed), and a JSON
//! comparison that treats numbers as their exact text.

use fhir_codegen::download::Downloader;
use std::path::{Path, PathBuf};

/// The unpacked `package/` folder of an official package, downloaded on first use.
///
/// Panics with the downloader's message when the package cannot be had: a test that needs
/// the examples fails rather than skips.
pub fn package(name: &str, version: &str) -> PathBuf {
    let downloader = Downloader::from_env()
        .unwrap_or_else(|e| panic!("cannot set up the FHIR package downloader: {e}"));
    downloader
        .fetch(name, version)
        .unwrap_or_else(|e| panic!("cannot fetch {name}@{version}: {e}"))
}

/// The JSON resource files of a package folder, sorted by name.
pub fn json_resources(dir: &Path) -> Vec<PathBuf> {
    fhir_codegen::definitions::package_resource_files(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses JSON keeping each number's exact text, so `1.50` and `1.5` differ.
pub fn exact_json(text: &str) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str(text)
}

/// Where two JSON values first differ, as a path and both sides; `None` when equal.
pub fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &mut String) -> Option<String> {
        use serde_json::Value::{Array, Object};
        match (a, b) {
            (Object(x), Object(y)) => {
                for (k, v) in x {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    match y.get(k) {
                        Some(w) => {
                            if let Some(d) = walk(v, w, path) {
                                return Some(d);
                            }
                        }
                        None => return Some(format!("{path}: missing in the output")),
                    }
                    path.truncate(len);
                }
                y.keys()
                    .find(|k| !x.contains_key(*k))
                    .map(|k| format!("{path}.{k}: not in the input"))
            }
            (Array(x), Array(y)) if x.len() == y.len() => {
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    if let Some(d) = walk(v, w, path) {
                        return Some(d);
                    }
                    path.truncate(len);
                }
                None
            }
            _ if a == b => None,
            _ => Some(format!("{path}: input {a} but output {b}")),
        }
    }
    walk(a, b, &mut String::from("$"))
}

/// Reads every JSON resource of a package with `roundtrip` (parse strictly, write back) and
/// returns the files that failed with the reason, sorted by file name.
pub fn roundtrip_failures(
    dir: &Path,
    roundtrip: impl Fn(&str) -> Result<String, String>,
) -> (usize, Vec<(String, String)>) {
    let files = json_resources(dir);
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let problem = match roundtrip(&text) {
            Err(e) => Some(format!("read: {e}")),
            Ok(out) => {
                let input = exact_json(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
                match exact_json(&out) {
                    Err(e) => Some(format!("the output is not JSON: {e}")),
                    Ok(output) => first_difference(&input, &output),
                }
            }
        };
        if let Some(problem) = problem {
            failures.push((name, problem));
        }
    }
    (files.len(), failures)
}
