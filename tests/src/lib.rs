//! Shared helpers for the integration tests: the official FHIR packages, fetched with the
//! project's own downloader into the FHIR package cache (never committed), a JSON
//! comparison that treats numbers as their exact text, a throwaway PostgreSQL server
//! ([`postgres`]), and `fhir serve` on a port of the system's choice ([`serve`]).

pub mod issuer;
pub mod postgres;
pub mod serve;

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

/// Round-trips every JSON resource of package `name@version` with `roundtrip` and fails
/// unless all pass except exactly the `expected_failures` (file, reason) listed, and at least
/// `minimum` resources were found.
pub fn check_package_roundtrip(
    name: &str,
    version: &str,
    minimum: usize,
    expected_failures: &[(&str, &str)],
    roundtrip: impl Fn(&str) -> Result<String, String>,
) {
    let dir = package(name, version);
    let (count, failures) = roundtrip_failures(&dir, roundtrip);
    assert!(
        count >= minimum,
        "{name}@{version}: only {count} JSON resources found in {}",
        dir.display()
    );
    let unexpected: Vec<_> = failures
        .iter()
        .filter(|(file, _)| !expected_failures.iter().any(|(f, _)| f == file))
        .collect();
    let fixed: Vec<_> = expected_failures
        .iter()
        .filter(|(f, _)| !failures.iter().any(|(file, _)| file == f))
        .collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{name}@{version}: {} of {count} files failed unexpectedly:\n{}\nlisted exceptions that now pass: {fixed:?}",
        unexpected.len(),
        unexpected.iter().take(40).map(|(f, p)| format!("  {f}: {p}")).collect::<Vec<_>>().join("\n"),
    );
    eprintln!(
        "{name}@{version}: {} of {count} resources round-trip exactly",
        count - failures.len()
    );
}

/// Installs Debian `packages` with apt (through `sudo` when not root), after updating the
/// package lists; whether it worked. Tests that need a tool call it when the tool is missing,
/// so the test command works on a fresh machine.
pub fn apt_install(packages: &[&str]) -> bool {
    use std::process::Command;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        command.args(args).status().is_ok_and(|s| s.success())
    };
    apt(&["update", "-qq"]) && apt(&[&["install", "-y", "-qq"][..], packages].concat())
}

/// The `xmllint` command, installed with apt (Debian package libxml2-utils) when missing, so
/// the test command works on a fresh machine; panics when it cannot be had.
pub fn xmllint() -> &'static str {
    use std::process::Command;
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let found = |_: ()| {
            Command::new("xmllint")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if found(()) {
            return;
        }
        let installed = apt_install(&["libxml2-utils"]);
        assert!(
            installed && found(()),
            "xmllint is missing and could not be installed: install the Debian package libxml2-utils"
        );
    });
    "xmllint"
}

/// A Python with `packages` (pinned, `name==version`) installed by pip into a virtual
/// environment of its own under `dir`, made on first use; its interpreter's path. Python 3
/// and its `venv` module are installed with apt when missing.
pub fn python_with(dir: &Path, packages: &[&str]) -> PathBuf {
    use std::process::Command;
    let python = dir.join("bin/python");
    let marker = dir.join("installed.txt");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|t| t == wanted) && python.exists() {
        return python;
    }
    let venv = |dir: &Path| {
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !venv(dir) {
        assert!(
            apt_install(&["python3", "python3-venv"]) && venv(dir),
            "python3 with its venv module is missing and could not be installed"
        );
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip install {packages:?} failed");
    std::fs::write(&marker, wanted).unwrap();
    python
}
