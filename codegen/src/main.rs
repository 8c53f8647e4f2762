//! `fhir-codegen`: fetch FHIR packages, recreate `definitions/`, or look at generated code.

use fhir_codegen::definitions::{self, RELEASES};
use fhir_codegen::download::Downloader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  fhir-codegen fetch [--registry URL] [--cache DIR] NAME@VERSION...
      Download FHIR packages into the FHIR package cache and print their folders.
  fhir-codegen definitions [--registry URL] [--cache DIR] [--out DIR]
      Recreate the definitions folder (default: ./definitions) from the pinned packages.
  fhir-codegen generate [--definitions DIR] [--fhir-version r4|r4b|r5] [--out FILE]
      Write the Rust code generated for one version (what fhir-model's build script does).

Registries come from --registry or FHIR_PACKAGE_REGISTRY, else from npm's configuration;
the cache is --cache, FHIR_PACKAGE_CACHE, or ~/.fhir/packages.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    registry: Option<String>,
    cache: Option<PathBuf>,
    out: Option<PathBuf>,
    definitions: Option<PathBuf>,
    version: String,
    positional: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        registry: None,
        cache: None,
        out: None,
        definitions: None,
        version: "r4".into(),
        positional: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--registry" => o.registry = Some(value(arg)?),
            "--cache" => o.cache = Some(value(arg)?.into()),
            "--out" => o.out = Some(value(arg)?.into()),
            "--definitions" => o.definitions = Some(value(arg)?.into()),
            "--fhir-version" => o.version = value(arg)?,
            a if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ => o.positional.push(arg.clone()),
        }
    }
    Ok(o)
}

fn downloader(o: &Options) -> Result<Downloader, String> {
    let mut d = match (&o.registry, &o.cache) {
        (Some(registry), Some(cache)) => Downloader::new(vec![registry.clone()], cache.clone()),
        _ => Downloader::from_env().map_err(|e| e.to_string())?,
    };
    if let Some(registry) = &o.registry {
        d = d.with_registries(vec![registry.clone()]);
    }
    if let Some(cache) = &o.cache {
        d = Downloader::new(d.registries().to_vec(), cache.clone());
    }
    Ok(d)
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    let o = parse(rest)?;
    match command.as_str() {
        "fetch" => {
            if o.positional.is_empty() {
                return Err(USAGE.into());
            }
            let d = downloader(&o)?;
            for spec in &o.positional {
                let (name, version) = spec
                    .split_once('@')
                    .ok_or_else(|| format!("'{spec}': expected NAME@VERSION"))?;
                let dir = d.fetch(name, version).map_err(|e| e.to_string())?;
                println!("{}", dir.display());
            }
            Ok(())
        }
        "definitions" => {
            let d = downloader(&o)?;
            let out = o
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("definitions"));
            recreate_definitions(&d, &out)
        }
        "generate" => {
            let defs = o
                .definitions
                .clone()
                .unwrap_or_else(|| PathBuf::from("definitions"));
            let release = definitions::release(&o.version)
                .ok_or_else(|| format!("unknown FHIR version '{}'", o.version))?;
            let schema = fhir_codegen::schema::Schema::load(&defs.join(release.key))?;
            let code = fhir_codegen::rust::generate(&schema, release.key, release.fhir_version);
            match &o.out {
                Some(path) => {
                    std::fs::write(path, code).map_err(|e| format!("{}: {e}", path.display()))
                }
                None => {
                    print!("{code}");
                    Ok(())
                }
            }
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    }
}

fn recreate_definitions(d: &Downloader, out: &Path) -> Result<(), String> {
    let mut manifest = String::from("{\n  \"note\": \"Pruned from the official FHIR packages by `fhir-codegen definitions`; FHIR definitions are CC0.\",\n  \"versions\": {\n");
    for (i, release) in RELEASES.iter().enumerate() {
        let dir = d
            .fetch(release.package, release.package_version)
            .map_err(|e| e.to_string())?;
        let summary = definitions::prune_package(&dir, &out.join(release.key))?;
        eprintln!(
            "{}: {} structures, {} search parameters, {} closed and {} open value sets ({} more for validation), {} compartments ({} resource types in them)",
            release.key,
            summary.structures,
            summary.search_parameters,
            summary.closed_value_sets,
            summary.open_value_sets,
            summary.bound_value_sets,
            summary.compartments,
            summary.compartment_entries
        );
        let integrity = d
            .integrity(release.package, release.package_version)
            .unwrap_or_default();
        manifest.push_str(&format!(
            "    \"{}\": {{\"fhirVersion\": \"{}\", \"package\": \"{}\", \"packageVersion\": \"{}\", \"integrity\": \"{}\"}}{}\n",
            release.key,
            release.fhir_version,
            release.package,
            release.package_version,
            integrity,
            if i + 1 < RELEASES.len() { "," } else { "" }
        ));
    }
    manifest.push_str("  }\n}\n");
    let path = out.join("manifest.json");
    std::fs::write(&path, manifest).map_err(|e| format!("{}: {e}", path.display()))
}
