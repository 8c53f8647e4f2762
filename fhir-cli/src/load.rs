//! `fhir load`: send files of resources and Bundles to a FHIR server, or to the complete
//! server started in-process on a database.

use fhir_store::serve::{Database, ServeOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEFAULT_SERVER: &str = "http://127.0.0.1:8000/fhir";

/// Synthea patient Bundles of several MB take a while to store in one transaction.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A batch or transaction response repeats every resource, so it can be as large as the
/// request; ureq's 10 MB default would cut big ones off.
const MAX_REPLY: u64 = 256 << 20;

struct Options {
    target: Target,
    version: fhir_model::FhirVersion,
    batch_size: usize,
    concurrency: usize,
    quiet: bool,
    inputs: Vec<PathBuf>,
}

enum Target {
    Server(String),
    Database(Database),
}

fn parse(args: &[String], usage: &str) -> Result<Options, String> {
    let mut o = Options {
        target: Target::Server(DEFAULT_SERVER.into()),
        version: fhir_model::FhirVersion::R4,
        batch_size: 500,
        concurrency: 1,
        quiet: false,
        inputs: Vec::new(),
    };
    let (mut server, mut database) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value\n{usage}"))
        };
        match arg.as_str() {
            "--server" => server = Some(value()?),
            "--db" => database = Some(Database::parse(&value()?)),
            "--fhir-version" => {
                o.version = match value()?.to_ascii_lowercase().as_str() {
                    "r4" | "4.0.1" => fhir_model::FhirVersion::R4,
                    "r4b" | "4.3.0" => fhir_model::FhirVersion::R4B,
                    "r5" | "5.0.0" => fhir_model::FhirVersion::R5,
                    other => return Err(format!("unknown FHIR version '{other}' (r4, r4b or r5)")),
                }
            }
            "--batch-size" => {
                let text = value()?;
                o.batch_size = match text.parse() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("'{text}' is not a positive batch size")),
                };
            }
            "--concurrency" => {
                let text = value()?;
                o.concurrency = match text.parse() {
                    Ok(n) if (1..=64).contains(&n) => n,
                    _ => return Err(format!("'{text}' is not a concurrency from 1 to 64")),
                };
            }
            "--quiet" | "-q" => o.quiet = true,
            "--help" | "-h" => return Err(usage.into()),
            a if a.starts_with("--") => return Err(format!("unknown option {a}\n{usage}")),
            _ => o.inputs.push(arg.into()),
        }
    }
    o.target = match (server, database) {
        (Some(_), Some(_)) => return Err("--server and --db exclude each other".into()),
        (Some(url), None) => Target::Server(url.trim_end_matches('/').to_string()),
        (None, Some(db)) => Target::Database(db),
        (None, None) => Target::Server(DEFAULT_SERVER.into()),
    };
    if o.inputs.is_empty() {
        return Err(format!("no input files\n{usage}"));
    }
    Ok(o)
}

/// `fhir load`.
pub fn load(args: &[String], usage: &str) -> Result<ExitCode, String> {
    let o = parse(args, usage)?;
    let files = collect(&o.inputs)?;
    let base = match &o.target {
        Target::Server(url) => url.clone(),
        Target::Database(db) => start_server(db, o.version)?,
    };
    let mut loader = Loader::new(base, o.batch_size, files.len() as u64, o.quiet);
    // The next files are read and parsed on another thread while others are sent: the
    // server then never waits for the loader between two Bundles.
    let (ahead, prepared) = std::sync::mpsc::sync_channel(o.concurrency);
    let reading = files.clone();
    std::thread::spawn(move || {
        for file in reading {
            let read = prepare(&file);
            if ahead.send((file, read)).is_err() {
                break;
            }
        }
    });
    // With --concurrency N, N senders share the files: while the server writes one Bundle
    // (and waits for the disk to confirm it), it reads the next.
    let prepared = Arc::new(Mutex::new(prepared));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..o.concurrency)
        .map(|_| {
            let mut worker = loader.worker();
            let (prepared, stop) = (prepared.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut aborted = None;
                while !stop.load(Ordering::Relaxed) {
                    let next = prepared.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((file, read)) = next else { break };
                    if let Err(message) = worker.file(&file, read) {
                        aborted = Some(message);
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    worker.progress.inc(1);
                    worker.files += 1;
                }
                (worker, aborted)
            })
        })
        .collect();
    let mut aborted = None;
    for handle in workers {
        let (worker, stopped) = handle.join().map_err(|_| "a sender failed".to_string())?;
        loader.files += worker.files;
        loader.bundles += worker.bundles;
        loader.failures.extend(worker.failures);
        aborted = aborted.or(stopped);
    }
    loader.progress.finish_and_clear();
    if let Some(message) = &aborted {
        eprintln!("fhir load: {message}");
    }
    loader.summary();
    Ok(if aborted.is_none() && loader.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A file as read ahead of sending it.
enum Prepared {
    /// NDJSON, read as it is sent.
    NdJson,
    /// Its text and JSON.
    Json(String, Value),
    /// Why it could not be read.
    Failed(String),
}

fn prepare(file: &Path) -> Prepared {
    if extension(file).as_deref() == Some("ndjson") {
        return Prepared::NdJson;
    }
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return Prepared::Failed(e.to_string()),
    };
    match serde_json::from_str(text.trim_start_matches('\u{feff}')) {
        Ok(value) => Prepared::Json(text, value),
        Err(e) => Prepared::Failed(format!("not JSON: {e}")),
    }
}

/// The input files: the files named, and the `.json` and `.ndjson` files under the
/// directories named, each directory's in sorted path order.
fn collect(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if matches!(extension(&path).as_deref(), Some("json" | "ndjson")) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)?;
            found.sort();
            files.extend(found);
        } else if input.exists() {
            files.push(input.clone());
        } else {
            return Err(format!("{}: no such file or directory", input.display()));
        }
    }
    Ok(files)
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Starts the complete server on `database` on a free local port, and answers its base URL
/// once it serves.
fn start_server(database: &Database, version: fhir_model::FhirVersion) -> Result<String, String> {
    use fhir_model::FhirVersion;
    let mut options = ServeOptions::new();
    options.database = database.clone();
    options.version = version;
    // A private server on loopback for this load only.
    options.audit = false;
    let built = match version {
        FhirVersion::R4 => {
            fhir_store::serve::open::<fhir_model::r4::Resource>(database, None).map(|store| {
                fhir_store::serve::rocket_for::<fhir_model::r4::Resource>(store, &options)
            })
        }
        FhirVersion::R4B => fhir_store::serve::open::<fhir_model::r4b::Resource>(database, None)
            .map(|store| {
                fhir_store::serve::rocket_for::<fhir_model::r4b::Resource>(store, &options)
            }),
        FhirVersion::R5 => {
            fhir_store::serve::open::<fhir_model::r5::Resource>(database, None).map(|store| {
                fhir_store::serve::rocket_for::<fhir_model::r5::Resource>(store, &options)
            })
        }
        #[allow(unreachable_patterns)]
        other => return Err(format!("FHIR {} is not built in", other.number())),
    }??;
    // The server's log would mix with the progress bar and the summary on stdout.
    let figment = built.figment().clone().merge(("log_level", "off"));
    let built = built.configure(figment);
    let address = fhir_rocket::connection::launch_in_background(built)
        .map_err(|e| format!("the server did not start: {e}"))?;
    Ok(format!("http://{address}/fhir"))
}

/// Where an item of a file is, for the failure list.
#[derive(Clone, Copy)]
enum Origin {
    /// The whole file (a transaction, or a file that could not be read).
    File,
    /// The index of an entry of a Bundle, or 0 for a file of one resource.
    Entry(usize),
    /// An NDJSON line, from 1.
    Line(usize),
}

struct Failure {
    file: PathBuf,
    origin: Origin,
    message: String,
}

struct Loader {
    agent: ureq::Agent,
    base: String,
    batch_size: usize,
    progress: ProgressBar,
    start: Instant,
    files: usize,
    bundles: usize,
    /// Resources loaded, by every worker.
    loaded: Arc<AtomicUsize>,
    failures: Vec<Failure>,
}

/// A resource waiting for its batch, with where it came from.
type Item = (Origin, Value);

impl Loader {
    fn new(base: String, batch_size: usize, files: u64, quiet: bool) -> Loader {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            // Error statuses carry OperationOutcomes, read like any answer.
            .http_status_as_error(false)
            .build()
            .into();
        let progress = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(files), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} files, {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        };
        let loader = Loader {
            agent,
            base,
            batch_size,
            progress,
            start: Instant::now(),
            files: 0,
            bundles: 0,
            loaded: Arc::new(AtomicUsize::new(0)),
            failures: Vec::new(),
        };
        loader.show();
        loader
    }

    /// Another sender with this one's connection pool, progress and count of resources,
    /// and its own list of failures.
    fn worker(&self) -> Loader {
        Loader {
            agent: self.agent.clone(),
            base: self.base.clone(),
            batch_size: self.batch_size,
            progress: self.progress.clone(),
            start: self.start,
            files: 0,
            bundles: 0,
            loaded: self.loaded.clone(),
            failures: Vec::new(),
        }
    }

    fn rate(&self) -> f64 {
        let seconds = self.start.elapsed().as_secs_f64();
        if seconds > 0.0 {
            self.loaded.load(Ordering::Relaxed) as f64 / seconds
        } else {
            0.0
        }
    }

    fn show(&self) {
        self.progress.set_message(format!(
            "{} resources, {:.0} resources/s",
            self.loaded.load(Ordering::Relaxed),
            self.rate()
        ));
    }

    fn fail(&mut self, file: &Path, origin: Origin, message: impl Into<String>) {
        self.failures.push(Failure {
            file: file.to_path_buf(),
            origin,
            message: message.into(),
        });
    }

    /// Loads one file. An error is a transport failure, which ends the load: every later
    /// request would fail the same way.
    fn file(&mut self, file: &Path, read: Prepared) -> Result<(), String> {
        let (text, value) = match read {
            Prepared::NdJson => return self.ndjson(file),
            Prepared::Failed(message) => {
                self.fail(file, Origin::File, message);
                return Ok(());
            }
            Prepared::Json(text, value) => (text, value),
        };
        if value["resourceType"] != "Bundle" {
            return self.batches(file, vec![(Origin::Entry(0), value)]);
        }
        match value["type"].as_str() {
            Some("transaction") => self.transaction(file, text, &value),
            Some("batch") => {
                let origins = (0..entries(&value).len()).map(Origin::Entry).collect();
                self.batch(file, text, entries(&value).to_vec(), origins)
            }
            _ => {
                let mut items = Vec::new();
                for (i, entry) in entries(&value).iter().enumerate() {
                    match entry.get("resource") {
                        Some(resource) => items.push((Origin::Entry(i), resource.clone())),
                        None => self.fail(file, Origin::Entry(i), "an entry without a resource"),
                    }
                }
                self.batches(file, items)
            }
        }
    }

    /// NDJSON, read as it goes: bulk exports can be larger than memory.
    fn ndjson(&mut self, file: &Path) -> Result<(), String> {
        let reader = match std::fs::File::open(file) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => {
                self.fail(file, Origin::File, e.to_string());
                return Ok(());
            }
        };
        let mut items = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let origin = Origin::Line(i + 1);
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    self.fail(file, origin, e.to_string());
                    break;
                }
            };
            let line = line.trim().trim_start_matches('\u{feff}');
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(value) => items.push((origin, value)),
                Err(e) => self.fail(file, origin, format!("not JSON: {e}")),
            }
            if items.len() == self.batch_size {
                self.batches(file, std::mem::take(&mut items))?;
            }
        }
        self.batches(file, items)
    }

    /// Sends `items` as batch Bundles of at most the batch size.
    fn batches(&mut self, file: &Path, items: Vec<Item>) -> Result<(), String> {
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let mut entries = Vec::new();
            let mut origins = Vec::new();
            for (origin, resource) in items.by_ref() {
                let Some(kind) = resource["resourceType"].as_str().map(str::to_string) else {
                    self.fail(file, origin, "no resourceType");
                    continue;
                };
                let request = match resource["id"].as_str() {
                    Some(id) => json!({"method": "PUT", "url": format!("{kind}/{id}")}),
                    None => json!({"method": "POST", "url": kind}),
                };
                entries.push(json!({"resource": resource, "request": request}));
                origins.push(origin);
                if entries.len() == self.batch_size {
                    break;
                }
            }
            if entries.is_empty() {
                break;
            }
            let body = batch_bundle(&entries);
            self.batch(file, body, entries, origins)?;
        }
        Ok(())
    }

    /// Sends `body`, a batch Bundle of `entries` which came from `origins`, and records
    /// each entry's outcome.
    fn batch(
        &mut self,
        file: &Path,
        body: String,
        entries: Vec<Value>,
        origins: Vec<Origin>,
    ) -> Result<(), String> {
        let (status, reply) = self.post(body)?;
        let answers = self::entries(&reply);
        if (400..500).contains(&status) && entries.len() > 1 {
            // The server rejects a whole batch when one entry's resource does not parse, so
            // halves are sent until the bad entries stand alone and the good ones load.
            let half = entries.len() / 2;
            let (mut entries, mut origins) = (entries, origins);
            let (rest, rest_origins) = (entries.split_off(half), origins.split_off(half));
            self.batch(file, batch_bundle(&entries), entries, origins)?;
            return self.batch(file, batch_bundle(&rest), rest, rest_origins);
        }
        if !(200..300).contains(&status) || answers.len() != origins.len() {
            let message = reply_message(status, &reply);
            match origins.as_slice() {
                [one] => self.fail(file, *one, message),
                _ => {
                    let message = format!(
                        "batch of {} entries from {}: {message}",
                        origins.len(),
                        origins.first().map_or(String::new(), |o| place(file, *o)),
                    );
                    self.fail(file, Origin::File, message)
                }
            }
        } else {
            for (origin, answer) in origins.into_iter().zip(answers) {
                let response = &answer["response"];
                let entry_status = response["status"]
                    .as_str()
                    .and_then(|s| s.get(..3))
                    .and_then(|s| s.parse::<u16>().ok())
                    .unwrap_or(0);
                if (200..300).contains(&entry_status) {
                    self.loaded.fetch_add(1, Ordering::Relaxed);
                } else {
                    let status = response["status"].as_str().unwrap_or("no status");
                    let message = match diagnostics(&response["outcome"]) {
                        Some(d) => format!("{status}: {d}"),
                        None => status.to_string(),
                    };
                    self.fail(file, origin, message);
                }
            }
        }
        self.show();
        Ok(())
    }

    fn transaction(&mut self, file: &Path, body: String, bundle: &Value) -> Result<(), String> {
        let (status, reply) = self.post(body)?;
        if (200..300).contains(&status) {
            self.loaded
                .fetch_add(entries(bundle).len(), Ordering::Relaxed);
        } else {
            self.fail(file, Origin::File, reply_message(status, &reply));
        }
        self.show();
        Ok(())
    }

    /// POSTs a Bundle to the base; the answer's status and body (Null when not JSON).
    fn post(&mut self, body: String) -> Result<(u16, Value), String> {
        let fail = |e: ureq::Error| format!("cannot send to {}: {e}", self.base);
        let mut response = self
            .agent
            .post(&self.base)
            .header("Content-Type", "application/fhir+json")
            .header("Accept", "application/fhir+json")
            // Each entry's status is all a load reads back: the server need not write every
            // resource into its answer again.
            .header("Prefer", "return=minimal")
            .send(body)
            .map_err(fail)?;
        self.bundles += 1;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY)
            .read_to_string()
            .map_err(fail)?;
        let reply = serde_json::from_str(&text).unwrap_or_else(|_| {
            // Not FHIR (a proxy's error page, say): keep the start for the message.
            Value::String(text.chars().take(200).collect())
        });
        Ok((status, reply))
    }

    fn summary(&self) {
        let seconds = self.start.elapsed().as_secs_f64();
        println!(
            "{} files, {} bundles sent, {} resources loaded, {} failures in {seconds:.2} s ({:.1} resources/s)",
            self.files,
            self.bundles,
            self.loaded.load(Ordering::Relaxed),
            self.failures.len(),
            self.rate()
        );
        // Local failures (unparsable lines) are found before the server's answers to
        // earlier lines come back; the list reads better in file order.
        let mut failures: Vec<&Failure> = self.failures.iter().collect();
        failures.sort_by_key(|f| {
            let position = match f.origin {
                Origin::File => 0,
                Origin::Entry(i) => i + 1,
                Origin::Line(n) => n,
            };
            (&f.file, position)
        });
        for failure in failures {
            println!(
                "{}: {}",
                place(&failure.file, failure.origin),
                failure.message
            );
        }
    }
}

fn batch_bundle(entries: &[Value]) -> String {
    json!({"resourceType": "Bundle", "type": "batch", "entry": entries}).to_string()
}

fn entries(bundle: &Value) -> &[Value] {
    bundle["entry"].as_array().map_or(&[], Vec::as_slice)
}

fn place(file: &Path, origin: Origin) -> String {
    match origin {
        Origin::File => file.display().to_string(),
        Origin::Entry(i) => format!("{} entry {i}", file.display()),
        Origin::Line(n) => format!("{}:{n}", file.display()),
    }
}

/// The diagnostics of an OperationOutcome's issues, else their codes.
fn diagnostics(outcome: &Value) -> Option<String> {
    let issues = outcome["issue"].as_array()?;
    let texts: Vec<String> = issues
        .iter()
        .map(|issue| {
            let text = issue["diagnostics"]
                .as_str()
                .or_else(|| issue["details"]["text"].as_str())
                .or_else(|| issue["code"].as_str())
                .unwrap_or("?");
            match issue["expression"][0].as_str() {
                Some(path) => format!("{path}: {text}"),
                None => text.to_string(),
            }
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

fn reply_message(status: u16, reply: &Value) -> String {
    match (diagnostics(reply), reply) {
        (Some(d), _) => format!("HTTP {status}: {d}"),
        (None, Value::String(text)) => format!("HTTP {status}: {text}"),
        (None, _) => format!("HTTP {status}"),
    }
}
