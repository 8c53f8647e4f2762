//! `fhir`: check and convert FHIR resources, JSON and XML, with the typed model.

use fhir_model::json::{JsonValue, ReadOptions};
use fhir_model::validate::{Severity, Validator};
use fhir_model::xml::XmlResource;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod load;

/// mimalloc rather than the system's allocator: loading Synthea into the complete server
/// spent a sixth of its time in glibc's `malloc` and `free`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
usage:
  fhir convert [--fhir-version r4|r4b|r5] [--from json|xml] [--to json|xml] [--compact]
               [--lenient] [--out-dir DIR] FILE...
      Read each file into the typed model and write it in the --to format (default json):
      to stdout for one file, into DIR for several (named after the input, with the
      extension of the output format).
  fhir check [--fhir-version r4|r4b|r5] [--from json|xml] [--validate] FILE...
      Read each file strictly; print every failure with its path, then 'N passed, M failed'.
      With --validate, also check the rules of the definitions the reader does not
      (cardinality, formats, calendar dates, required bindings, the narrative's XHTML) and
      print every issue as FILE:LINE:COLUMN: SEVERITY PATH: MESSAGE [RULE]; a file with an
      error fails, warnings are printed only.

  fhir serve [--db FILE|postgres://...] [--fhir-version r4|r4b|r5] [--address IP]
             [--port N] [--db-connections N] [--no-audit]
             [--auth-issuer URL --auth-audience URL [--auth-role CLAIM=VALUE:SCOPES]...
              [--auth-operation NAME=LETTERS]...]
      Run the complete FHIR server at http://127.0.0.1:8000/fhir (Rocket's ROCKET_ADDRESS,
      ROCKET_PORT and Rocket.toml apply; the options win; --port 0 takes a free port, and
      'fhir serve: listening on URL' says which): every resource type and search
      parameter of the version, stored in an SQLite file (default: fhir-<version>.db in
      the working directory, created when missing) or in PostgreSQL, with at most N
      connections reading and N writing (default: twice the cores, from 2 to 16).
      With --auth-issuer, every request but /metadata needs a bearer token (a JWT) of that
      issuer for that audience, and SMART on FHIR scopes that grant it; --auth-role grants
      SCOPES to tokens whose claim CLAIM holds VALUE ('roles=clinician:user/*.rs');
      --auth-operation opens an operation to tokens granted LETTERS on its type
      ('$everything=r'). Rocket's fhir_auth settings do the same. Without either, the
      server is open to anyone who reaches it, and says so. Each request is written to
      standard error as an audit line (JSON) unless --no-audit.

  fhir load [--server URL | --db FILE|postgres://...] [--fhir-version r4|r4b|r5]
            [--batch-size N] [--concurrency N] [--quiet] FILE|DIR...
      Send resources to a FHIR server (default --server http://127.0.0.1:8000/fhir), or
      with --db to the complete server started in-process on that database. Directories
      are read recursively for *.json and *.ndjson files. Transaction and batch Bundles
      are sent as they are; the resources of other Bundles, single resources and NDJSON
      lines go in batch Bundles of --batch-size entries (default 500), by PUT when they
      have an id, else by POST. --concurrency N sends N files at once (default 1: one
      after another, in order; with more, a file may be stored before an earlier one).
      Prints a summary and every failure; exits with 1 when anything failed.

The input format is --from, else the file's extension (.json, .xml), else its first
character ('<' is XML). The FHIR version defaults to r4.";

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

/// A FHIR format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

impl Format {
    fn parse(name: &str) -> Result<Format, String> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "xml" => Ok(Format::Xml),
            other => Err(format!("unknown format '{other}' (json or xml)")),
        }
    }

    /// The format of an input: by extension, else by its first character.
    fn of(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("xml") => Format::Xml,
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            _ if text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('<') =>
            {
                Format::Xml
            }
            _ => Format::Json,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Xml => "xml",
        }
    }
}

/// One FHIR version's entry point: read a resource in one format, write it in another.
type Convert = fn(&str, Format, ReadOptions, Format, bool) -> Result<String, String>;

fn convert_as<R: XmlResource + JsonValue>(
    text: &str,
    from: Format,
    options: ReadOptions,
    to: Format,
    pretty: bool,
) -> Result<String, String> {
    let resource: R = match from {
        Format::Json => fhir_model::json::from_str_with(text, options).map_err(|e| e.to_string()),
        Format::Xml => fhir_model::xml::from_str_with(text, options).map_err(|e| e.to_string()),
    }?;
    match to {
        Format::Json => Ok(fhir_model::json::to_string_with(&resource, pretty)),
        Format::Xml => fhir_model::xml::to_string_with(&resource, pretty)
            .map_err(|e| format!("cannot be written as XML: {e}")),
    }
}

struct Options {
    convert: Convert,
    validator: Validator,
    validate: bool,
    from: Option<Format>,
    to: Format,
    pretty: bool,
    read: ReadOptions,
    out_dir: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        convert: convert_as::<fhir_model::r4::Resource>,
        validator: Validator::of::<fhir_model::r4::Resource>(),
        validate: false,
        from: None,
        to: Format::Json,
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
                (o.convert, o.validator) = match value()?.to_ascii_lowercase().as_str() {
                    "r4" | "4.0.1" | "4.0" => (
                        convert_as::<fhir_model::r4::Resource> as Convert,
                        Validator::of::<fhir_model::r4::Resource>(),
                    ),
                    "r4b" | "4.3.0" | "4.3" => (
                        convert_as::<fhir_model::r4b::Resource> as Convert,
                        Validator::of::<fhir_model::r4b::Resource>(),
                    ),
                    "r5" | "5.0.0" | "5.0" => (
                        convert_as::<fhir_model::r5::Resource> as Convert,
                        Validator::of::<fhir_model::r5::Resource>(),
                    ),
                    other => return Err(format!("unknown FHIR version '{other}' (r4, r4b or r5)")),
                }
            }
            "--from" => o.from = Some(Format::parse(&value()?)?),
            "--to" => o.to = Format::parse(&value()?)?,
            "--out-dir" => o.out_dir = Some(value()?.into()),
            "--compact" => o.pretty = false,
            "--lenient" => o.read = ReadOptions::LENIENT,
            "--validate" => o.validate = true,
            "--help" | "-h" => return Err(USAGE.into()),
            a if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ => o.files.push(arg.into()),
        }
    }
    if o.files.is_empty() {
        return Err(format!("no input files\n{USAGE}"));
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
        "serve" => serve(rest),
        "load" => load::load(rest, USAGE),
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
            let from = o.from.unwrap_or_else(|| Format::of(file, &text));
            (o.convert)(&text, from, o.read, o.to, o.pretty)
                .map_err(|e| format!("{}: {e}", file.display()))
        });
        match (result, &o.out_dir) {
            (Ok(out), None) => println!("{out}"),
            (Ok(out), Some(dir)) => {
                let name = file
                    .file_stem()
                    .ok_or_else(|| format!("{}: not a file", file.display()))?;
                let mut name = name.to_os_string();
                name.push(".");
                name.push(o.to.extension());
                let target = dir.join(name);
                std::fs::write(&target, out + "\n")
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
    if o.validate {
        return validate(o);
    }
    let (mut passed, mut failed) = (0, 0);
    for file in &o.files {
        match read(file).and_then(|text| {
            let from = o.from.unwrap_or_else(|| Format::of(file, &text));
            (o.convert)(&text, from, ReadOptions::STRICT, Format::Json, false)
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

/// `check --validate`: every issue of every file, with its place.
fn validate(o: &Options) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for file in &o.files {
        let text = match read(file) {
            Ok(text) => text,
            Err(message) => {
                println!("{message}");
                failed += 1;
                continue;
            }
        };
        let report = match o.from.unwrap_or_else(|| Format::of(file, &text)) {
            Format::Json => o.validator.json(&text),
            Format::Xml => o.validator.xml(&text),
        };
        for issue in &report.issues {
            let place = match issue.location {
                Some((line, column)) => format!("{}:{line}:{column}", file.display()),
                None => file.display().to_string(),
            };
            let severity = match issue.severity {
                Severity::Fatal | Severity::Error => "error",
                other => other.as_str(),
            };
            println!(
                "{place}: {severity} {}: {} [{}]",
                issue.path, issue.message, issue.rule
            );
        }
        if report.is_valid() {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn serve(args: &[String]) -> Result<ExitCode, String> {
    use fhir_rocket::auth::settings::{AuthSettings, OperationSetting, RoleSetting};
    use fhir_store::serve::{Database, ServeOptions};
    let mut options = ServeOptions::new();
    let mut auth = AuthSettings::default();
    let mut database = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--db" => database = Some(Database::parse(&value()?)),
            "--fhir-version" => {
                options.version = match value()?.to_ascii_lowercase().as_str() {
                    "r4" | "4.0.1" => fhir_model::FhirVersion::R4,
                    "r4b" | "4.3.0" => fhir_model::FhirVersion::R4B,
                    "r5" | "5.0.0" => fhir_model::FhirVersion::R5,
                    other => return Err(format!("unknown FHIR version '{other}' (r4, r4b or r5)")),
                }
            }
            "--address" => {
                let text = value()?;
                options.address = Some(
                    text.parse()
                        .map_err(|_| format!("'{text}' is not an IP address"))?,
                );
            }
            "--port" => {
                let text = value()?;
                options.port = Some(
                    text.parse()
                        .map_err(|_| format!("'{text}' is not a port"))?,
                );
            }
            "--db-connections" => {
                let text = value()?;
                options.connections = Some(
                    text.parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or_else(|| format!("'{text}' is not a number of connections"))?,
                );
            }
            "--no-audit" => options.audit = false,
            "--auth-issuer" => auth.issuer = value()?,
            "--auth-audience" => auth.audience = value()?,
            "--auth-role" => {
                let text = value()?;
                let (claim, rest) = text.split_once('=').unwrap_or((&text, ""));
                let Some((role, scopes)) = rest.split_once(':') else {
                    return Err(format!(
                        "--auth-role '{text}' is not CLAIM=VALUE:SCOPES ('roles=clinician:user/*.rs')"
                    ));
                };
                auth.roles.push(RoleSetting {
                    claim: claim.to_string(),
                    value: role.to_string(),
                    scopes: scopes.to_string(),
                });
            }
            "--auth-operation" => {
                let text = value()?;
                let Some((name, needs)) = text.split_once('=') else {
                    return Err(format!(
                        "--auth-operation '{text}' is not NAME=LETTERS ('$everything=r')"
                    ));
                };
                auth.operations.push(OperationSetting {
                    name: name.to_string(),
                    needs: needs.to_string(),
                });
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if auth != AuthSettings::default() {
        // Checked now, so that a mistake is told before the server starts.
        auth.clone().into_auth()?;
        options.auth = Some(auth);
    }
    options.database = database.unwrap_or_else(|| {
        let name = match options.version {
            fhir_model::FhirVersion::R4 => "r4",
            fhir_model::FhirVersion::R4B => "r4b",
            fhir_model::FhirVersion::R5 => "r5",
        };
        Database::Sqlite(format!("fhir-{name}.db").into())
    });
    fhir_store::serve::serve(options)?;
    Ok(ExitCode::SUCCESS)
}
