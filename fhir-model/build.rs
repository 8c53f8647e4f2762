//! Generates the enabled FHIR versions from `definitions/` into OUT_DIR.

use fhir_codegen::definitions::{
    BOUND_VALUE_SETS_FILE, COMPARTMENTS_FILE, RELEASES, SEARCH_PARAMETERS_FILE, STRUCTURES_FILE,
    VALUE_SETS_FILE,
};
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let definitions = std::env::var_os("FHIR_DEFINITIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../definitions"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-env-changed=FHIR_DEFINITIONS_DIR");
    for release in RELEASES {
        if std::env::var_os(format!("CARGO_FEATURE_{}", release.key.to_uppercase())).is_none() {
            continue;
        }
        let dir = definitions.join(release.key);
        for file in [
            STRUCTURES_FILE,
            SEARCH_PARAMETERS_FILE,
            VALUE_SETS_FILE,
            COMPARTMENTS_FILE,
            BOUND_VALUE_SETS_FILE,
        ] {
            println!("cargo:rerun-if-changed={}", dir.join(file).display());
        }
        let schema = match fhir_codegen::schema::Schema::load(&dir) {
            Ok(schema) => schema,
            Err(e) => {
                eprintln!(
                    "error: cannot read the FHIR definitions in {}: {e}",
                    dir.display()
                );
                std::process::exit(1);
            }
        };
        let code = fhir_codegen::rust::generate(&schema, release.key, release.fhir_version);
        let target = out_dir.join(format!("{}.rs", release.key));
        if let Err(e) = std::fs::write(&target, code) {
            eprintln!("error: cannot write {}: {e}", target.display());
            std::process::exit(1);
        }
    }
}
