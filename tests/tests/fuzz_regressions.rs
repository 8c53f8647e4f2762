//! Every input the fuzz targets (fuzz/, docs/reliability.md) found a failure with, replayed
//! through the same checks in the normal test run, plus the hand-written seeds of fuzz/seeds/.
//!
//! The checks are fuzz/src/lib.rs itself, included here, so a regression input is checked
//! against exactly the properties the fuzzer checked: reading must not panic, and what reads
//! must round-trip. An input that fails to parse passes, as long as it fails with an error.
//! Inputs live in tests/data/fuzz/TARGET/, one file each, named after what they found.

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// The files of a folder; none when it does not exist (git keeps no empty folder, so a target
/// that never failed has no `tests/data/fuzz/TARGET/` in a fresh clone).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `check` on every file of the given folders (relative to the repository root) and
/// fails naming every input whose check panicked.
fn replay(folders: &[&str], check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut failed = Vec::new();
    let mut count = 0;
    for folder in folders {
        for file in inputs(&root.join(folder)) {
            let data = std::fs::read(&file).unwrap();
            count += 1;
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(count > 0, "no inputs in {folders:?}");
    assert!(
        failed.is_empty(),
        "checks failed (see the panics above) for {failed:#?}"
    );
}

#[test]
fn json_reader_regressions() {
    replay(&["tests/data/fuzz/json"], |data| {
        checks::json::<fhir_model::r4::Resource>(data);
        checks::json::<fhir_model::r5::Resource>(data);
    });
}

#[test]
fn xml_reader_regressions() {
    replay(&["tests/data/fuzz/xml"], |data| {
        checks::xml::<fhir_model::r4::Resource>(data);
        checks::xml::<fhir_model::r5::Resource>(data);
    });
}

#[test]
fn search_query_regressions() {
    replay(
        &["tests/data/fuzz/search", "fuzz/seeds/search"],
        checks::search,
    );
}

#[test]
fn json_patch_regressions() {
    replay(
        &["tests/data/fuzz/patch", "fuzz/seeds/patch"],
        checks::patch,
    );
}
