//! `fhir-fuzz-to-xml OUT_DIR FILE...`: reads each FILE as an R4 JSON resource and writes it as
//! FHIR XML to OUT_DIR/NAME.xml. Files that do not read or write are skipped (and counted).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fhir_model::r4::Resource;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: fhir-fuzz-to-xml OUT_DIR FILE...");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let (mut written, mut skipped) = (0, 0);
    for file in args.map(PathBuf::from) {
        match convert(&file, &out) {
            Ok(()) => written += 1,
            Err(e) => {
                skipped += 1;
                eprintln!("skipped {}: {e}", file.display());
            }
        }
    }
    eprintln!("{written} written as XML, {skipped} skipped");
    ExitCode::SUCCESS
}

fn convert(file: &Path, out: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let resource = Resource::from_json(&text).map_err(|e| e.to_string())?;
    let xml = resource.to_xml().map_err(|e| e.to_string())?;
    let name = file.file_stem().ok_or("no file name")?.to_string_lossy();
    // Not `with_extension`: it would cut names with dots (`a.b` -> `a.xml`) and merge files.
    let target = out.join(format!("{name}.xml"));
    std::fs::write(&target, xml).map_err(|e| e.to_string())
}
