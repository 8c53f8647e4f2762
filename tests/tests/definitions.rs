//! `definitions/` is exactly what `fhir-codegen definitions` makes from the official packages.

use fhir_codegen::definitions::{prune_package, RELEASES};
use fhir_codegen::download::Downloader;
use std::path::Path;

#[test]
fn committed_definitions_are_recreated_from_the_packages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions");
    let manifest = std::fs::read_to_string(root.join("manifest.json")).unwrap();
    let downloader = Downloader::from_env().unwrap_or_else(|e| panic!("{e}"));
    for release in RELEASES {
        let package = downloader
            .fetch(release.package, release.package_version)
            .unwrap_or_else(|e| panic!("{e}"));
        let out = std::env::temp_dir().join(format!(
            "fhir-definitions-{}-{}",
            std::process::id(),
            release.key
        ));
        let summary = prune_package(&package, &out).unwrap();
        assert!(
            summary.structures > 200 && summary.search_parameters > 1000,
            "{summary:?}"
        );
        for file in [
            "structure-definitions.json",
            "search-parameters.json",
            "value-sets.json",
            "bound-value-sets.json",
            "compartments.json",
        ] {
            let made = std::fs::read_to_string(out.join(file)).unwrap();
            let committed = std::fs::read_to_string(root.join(release.key).join(file)).unwrap();
            assert!(made == committed, "definitions/{}/{file} differs from what the package gives: run `cargo run -p fhir-codegen -- definitions`", release.key);
        }
        std::fs::remove_dir_all(&out).unwrap();
        if let Some(integrity) = downloader.integrity(release.package, release.package_version) {
            assert!(
                manifest.contains(&integrity),
                "manifest.json lacks {} {integrity}",
                release.package
            );
        }
        assert!(manifest.contains(&format!("\"package\": \"{}\"", release.package)));
    }
}
