//! `fhir`: check and convert FHIR resources with the typed model.

use fhir_model::json::{JsonError, ReadOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  fhir convert [--fhir-version r4|r4b|r5] [--to json] [--compact] [--lenient] [--out-dir DIR] FILE...
      Read each file into the typed model and write it back: to stdout for one file,
      into DIR under the same file names for several.
  fhir check [--fhir-version r4|r4b|r5] FILE...
      Read each file strictly; print every failure with its path, then 'N passed, M failed'.

The FHIR version defaults to r4.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("fhir: {message}");
            ExitCode::from(2)
        }
    }
}

/// One FHIR version's entry points: read a resource, then write it back.
type Convert = fn(&str, ReadOptions, bool) -> Result<String, JsonError>;

fn convert_r4(text: &str, options: ReadOptions, pretty: bool) -> Result<String, JsonError> {
    let resource = fhir_model::r4::Resource::from_json_with(text, options)?;
    Ok(fhir_model::json::to_string_with(&resource, pretty))
}

fn convert_r4b(text: &str, options: ReadOptions, pretty: bool) -> Result<String, JsonError> {
    let resource = fhir_model::r4b::Resource::from_json_with(text, options)?;
    Ok(fhir_model::json::to_string_with(&resource, pretty))
}

fn convert_r5(text: &str, options: ReadOptions, pretty: bool) -> Result<String, JsonError> {
    let resource = fhir_model::r5::Resource::from_json_with(text, options)?;
    Ok(fhir_model::json::to_string_with(&resource, pretty))
}

struct Options {
    convert: Convert,
    to: String,
    pretty: bool,
    read: ReadOptions,
    out_dir: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        convert: convert_r4,
        to: "json".into(),
        pretty: true,
        read: ReadOptions::STRICT,
        out_dir: None,
        files: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--fhir-version" => {
                o.convert = match value()?.to_ascii_lowercase().as_str() {
                    "r4" | "4.0.1" | "4.0" => convert_r4,
                    "r4b" | "4.3.0" | "4.3" => convert_r4b,
                    "r5" | "5.0.0" | "5.0" => convert_r5,
                    other => return Err(format!("unknown FHIR version '{other}' (r4, r4b or r5)")),
                }
            }
            "--to" => o.to = value()?,
            "--out-dir" => o.out_dir = Some(value()?.into()),
            "--compact" => o.pretty = false,
            "--lenient" => o.read = ReadOptions::LENIENT,
            "--help" | "-h" => return Err(USAGE.into()),
            a if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ => o.files.push(arg.into()),
        }
    }
    if o.files.is_empty() {
        return Err(format!("no input files\n{USAGE}"));
    }
    if o.to != "json" {
        return Err(format!("--to {}: only json is supported", o.to));
    }
    Ok(o)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    match command.as_str() {
        "convert" => convert(&parse(rest)?),
        "check" => Ok(check(&parse(rest)?)),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    }
}

fn convert(o: &Options) -> Result<ExitCode, String> {
    if o.files.len() > 1 && o.out_dir.is_none() {
        return Err("several input files need --out-dir".into());
    }
    if let Some(dir) = &o.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut failed = false;
    for file in &o.files {
        let result = read(file).and_then(|text| {
            (o.convert)(&text, o.read, o.pretty).map_err(|e| format!("{}: {e}", file.display()))
        });
        match (result, &o.out_dir) {
            (Ok(json), None) => println!("{json}"),
            (Ok(json), Some(dir)) => {
                let name = file
                    .file_name()
                    .ok_or_else(|| format!("{}: not a file", file.display()))?;
                let target = dir.join(name);
                std::fs::write(&target, json + "\n")
                    .map_err(|e| format!("{}: {e}", target.display()))?;
            }
            (Err(message), _) => {
                eprintln!("{message}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn check(o: &Options) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for file in &o.files {
        match read(file).and_then(|text| {
            (o.convert)(&text, ReadOptions::STRICT, false)
                .map_err(|e| format!("{}: {e}", file.display()))
        }) {
            Ok(_) => passed += 1,
            Err(message) => {
                println!("{message}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
