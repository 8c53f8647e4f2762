//! Downloader for FHIR definition packages.
//!
//! FHIR packages (the core specification, implementation guides, terminologies) are published
//! as npm-format tarballs on npm-compatible registries. A [`Downloader`] fetches a package by
//! name and exact version, verifies the tarball against the integrity hash the registry
//! publishes, and unpacks it into the standard FHIR package cache
//! (`~/.fhir/packages/<name>#<version>/package`), the same layout other FHIR tools use, so a
//! cache they filled is reused and vice versa.
//!
//! No registry address is built in: the registries come from the `FHIR_PACKAGE_REGISTRY`
//! environment variable or from the machine's npm configuration, see
//! [`Downloader::from_env`].
//!
//! TLS certificates are checked against the machine's CA bundle (`SSL_CERT_FILE`, else the
//! operating system's bundle file) plus `NODE_EXTRA_CA_CERTS`, as curl and npm do, so machines
//! behind a TLS-inspecting proxy work; where no bundle file exists, built-in Mozilla roots are
//! used.
//!
//! ```no_run
//! use fhir_codegen::download::Downloader;
//!
//! let downloader = Downloader::from_env()?;
//! let package = downloader.fetch("hl7.fhir.r4b.core", "4.3.0")?;
//! println!("definitions are in {}", package.display());
//! # Ok::<(), fhir_codegen::download::DownloadError>(())
//! ```

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::Digest as _;

/// Environment variable naming the registries to use: one URL or a comma-separated list,
/// tried in order.
pub const REGISTRY_ENV: &str = "FHIR_PACKAGE_REGISTRY";

/// Environment variable naming the FHIR package cache directory (default `~/.fhir/packages`).
pub const CACHE_ENV: &str = "FHIR_PACKAGE_CACHE";

/// File beside `package/` in a cached package, holding the integrity it was verified against.
const INTEGRITY_FILE: &str = "integrity";

const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
const BODY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const NPM_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_METADATA_BYTES: u64 = 64 << 20;
const MAX_TARBALL_BYTES: u64 = 1 << 30;
const MAX_UNPACKED_BYTES: u64 = 8 << 30;
const MAX_ENTRIES: u64 = 500_000;
const METADATA_ACCEPT: &str =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";
const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// Why fetching a FHIR package failed.
///
/// Its [`Display`](fmt::Display) text is meant for people: it names the package, every
/// registry that was tried and why each failed, and what to do about it.
#[derive(Debug)]
pub struct DownloadError {
    package: Option<String>,
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    /// No registry is configured.
    NoRegistry,
    /// The configuration (environment, npm settings) is unusable.
    Config(String),
    /// The package name or version cannot be used.
    InvalidPackage(String),
    /// A local file-system operation failed.
    Local { action: String, source: io::Error },
    /// Every registry was tried and failed.
    AllRegistriesFailed(Vec<RegistryFailure>),
}

#[derive(Debug)]
struct RegistryFailure {
    registry: String,
    failure: Failure,
}

#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    /// The registry could not be reached (refused, timed out, name not resolved, broken off).
    Connection,
    /// The registry answered with a temporary error (5xx, 429, 408).
    Transient,
    /// The registry does not have the package or the version.
    NotFound,
    /// Anything else: retrying the same registry will not help.
    Permanent,
}

impl Failure {
    fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }

    fn retryable(&self) -> bool {
        matches!(self.kind, FailureKind::Connection | FailureKind::Transient)
    }
}

/// The outcome of one step against one registry.
enum AttemptError {
    /// This registry failed; the next one may succeed.
    Registry(Failure),
    /// Nothing else will succeed either (e.g. the cache directory is not writable).
    Fatal(DownloadError),
}

impl From<Failure> for AttemptError {
    fn from(failure: Failure) -> AttemptError {
        AttemptError::Registry(failure)
    }
}

impl DownloadError {
    fn new(package: Option<&str>, kind: ErrorKind) -> DownloadError {
        DownloadError {
            package: package.map(str::to_owned),
            kind,
        }
    }

    fn local(package: &str, action: String, source: io::Error) -> DownloadError {
        DownloadError::new(Some(package), ErrorKind::Local { action, source })
    }

    /// The package (`name@version`) the error is about, if it is about one.
    pub fn package(&self) -> Option<&str> {
        self.package.as_deref()
    }

    /// True when every registry failed because it could not be reached at all: the machine
    /// appears to be offline or the registries are unreachable.
    pub fn is_offline(&self) -> bool {
        match &self.kind {
            ErrorKind::AllRegistriesFailed(failures) => {
                !failures.is_empty()
                    && failures
                        .iter()
                        .all(|f| f.failure.kind == FailureKind::Connection)
            }
            _ => false,
        }
    }

    /// True when every registry answered that it does not have the package or version.
    pub fn is_not_found(&self) -> bool {
        match &self.kind {
            ErrorKind::AllRegistriesFailed(failures) => {
                !failures.is_empty()
                    && failures
                        .iter()
                        .all(|f| f.failure.kind == FailureKind::NotFound)
            }
            _ => false,
        }
    }
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(package) = &self.package {
            match &self.kind {
                ErrorKind::AllRegistriesFailed(_) => {
                    write!(f, "could not download FHIR package {package}: ")?
                }
                _ => write!(f, "cannot fetch FHIR package {package}: ")?,
            }
        }
        match &self.kind {
            ErrorKind::NoRegistry => write!(
                f,
                "no package registry is configured. Set {REGISTRY_ENV} to the URL of an \
                 npm-compatible registry that serves FHIR packages (a comma-separated list is \
                 allowed), or configure a registry for npm"
            ),
            ErrorKind::Config(message) | ErrorKind::InvalidPackage(message) => f.write_str(message),
            ErrorKind::Local { action, source } => write!(f, "{action}: {source}"),
            ErrorKind::AllRegistriesFailed(failures) => {
                let count = failures.len();
                let plural = if count == 1 { "y" } else { "ies" };
                write!(f, "{count} registr{plural} tried, none succeeded:")?;
                for failure in failures {
                    write!(f, "\n  - {}: {}", failure.registry, failure.failure.message)?;
                }
                if self.is_offline() {
                    write!(
                        f,
                        "\nThis machine appears to be offline, or the registries are \
                         unreachable. Check the network connection, set {REGISTRY_ENV} to a \
                         reachable registry (a comma-separated list is allowed), or set \
                         {CACHE_ENV} to a pre-filled FHIR package cache (a cache that already \
                         holds the package works offline)."
                    )?;
                } else if self.is_not_found() {
                    write!(
                        f,
                        "\nCheck the package name and version, or add a registry that \
                         publishes it to {REGISTRY_ENV} (a comma-separated list is allowed)."
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for DownloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Local { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Downloads FHIR packages from npm-compatible registries into a FHIR package cache.
///
/// Build one with [`Downloader::from_env`] (registries and cache from the environment) or
/// [`Downloader::new`], then call [`Downloader::fetch`].
///
/// ```
/// use fhir_codegen::download::Downloader;
/// use std::path::PathBuf;
///
/// let downloader = Downloader::new(
///     vec!["http://127.0.0.1:4873/".to_string()],
///     PathBuf::from("/tmp/fhir-packages"),
/// )
/// .with_retries(2)
/// .with_progress(false);
/// assert_eq!(downloader.registries().len(), 1);
/// assert_eq!(downloader.cache_dir(), PathBuf::from("/tmp/fhir-packages"));
/// ```
#[derive(Debug, Clone)]
pub struct Downloader {
    registries: Vec<String>,
    cache_dir: PathBuf,
    progress: bool,
    retries: u32,
    backoff: Duration,
}

impl Downloader {
    /// A downloader configured from the environment.
    ///
    /// Registries, in order of precedence:
    /// 1. the `FHIR_PACKAGE_REGISTRY` environment variable (one URL or a comma-separated list,
    ///    tried in order);
    /// 2. the registry the machine's npm is configured with (`npm config get registry`);
    /// 3. if npm is missing or fails, a `registry=` line in the npm user configuration
    ///    (`$NPM_CONFIG_USERCONFIG`, else `~/.npmrc`).
    ///
    /// It is an error if none of these names a registry; the message tells the user to set
    /// `FHIR_PACKAGE_REGISTRY`.
    ///
    /// The cache directory is `FHIR_PACKAGE_CACHE` if set, else `~/.fhir/packages`, the
    /// standard FHIR package cache. Progress is shown when standard error is a terminal.
    pub fn from_env() -> Result<Downloader, DownloadError> {
        let env = |key: &str| std::env::var(key).ok();
        let registries = configured_registries(&env, &npm_config_registry)?;
        let cache_dir = configured_cache_dir(&env)?;
        Ok(Downloader::new(registries, cache_dir).with_progress(io::stderr().is_terminal()))
    }

    /// A downloader for the given registries (tried in order) and cache directory, with
    /// progress off and 3 attempts per registry.
    pub fn new(registries: Vec<String>, cache_dir: PathBuf) -> Downloader {
        Downloader {
            registries: normalize_registries(registries),
            cache_dir,
            progress: false,
            retries: DEFAULT_RETRIES,
            backoff: DEFAULT_BACKOFF,
        }
    }

    /// Replaces the list of registries (e.g. from a `--registry` command-line flag).
    pub fn with_registries(mut self, registries: Vec<String>) -> Self {
        self.registries = normalize_registries(registries);
        self
    }

    /// Turns the download progress line on standard error on or off.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Sets how many attempts in total are made per registry and request when the failure is
    /// transient (connection failure, timeout, HTTP 5xx or 429). Default 3; 0 counts as 1.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The FHIR package cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The registries, in the order they are tried.
    pub fn registries(&self) -> &[String] {
        &self.registries
    }

    /// The `package` folder of `name#version` if it is already complete in the cache.
    ///
    /// Never touches the network.
    pub fn cached(&self, name: &str, version: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.join(cache_dir_name(name, version));
        is_complete(&dir).then(|| dir.join("package"))
    }

    /// Makes `name` at exactly `version` available in the cache and returns its folder,
    /// `<cache>/<name>#<version>/package`.
    ///
    /// If the package is already complete in the cache, it is returned without any network
    /// access. Otherwise the registries are tried in order: the package metadata is read, the
    /// tarball downloaded and checked against the published integrity hash, and unpacked into
    /// a temporary directory inside the cache that is then renamed into place, so a
    /// half-finished download is never seen as complete.
    ///
    /// ```no_run
    /// use fhir_codegen::download::Downloader;
    ///
    /// let downloader = Downloader::from_env()?;
    /// let folder = downloader.fetch("hl7.fhir.r4b.core", "4.3.0")?;
    /// assert!(folder.join("package.json").is_file());
    /// # Ok::<(), fhir_codegen::download::DownloadError>(())
    /// ```
    pub fn fetch(&self, name: &str, version: &str) -> Result<PathBuf, DownloadError> {
        self.fetch_package(name, version)
    }

    /// The integrity hash a cached package was verified against when it was downloaded (as the
    /// registry published it, e.g. `sha512-<base64>`); `None` for packages that another tool
    /// put in the cache.
    pub fn integrity(&self, name: &str, version: &str) -> Option<String> {
        let record = self
            .cache_dir
            .join(cache_dir_name(name, version))
            .join(INTEGRITY_FILE);
        fs::read_to_string(record).ok()
    }

    fn fetch_package(&self, name: &str, version: &str) -> Result<PathBuf, DownloadError> {
        let package = format!("{name}@{version}");
        if let Err(message) = validate_name(name).and_then(|()| validate_version(version)) {
            return Err(DownloadError::new(
                Some(&package),
                ErrorKind::InvalidPackage(message),
            ));
        }
        let target = self.cache_dir.join(cache_dir_name(name, version));
        if is_complete(&target) {
            return Ok(target.join("package"));
        }
        if self.registries.is_empty() {
            return Err(DownloadError::new(Some(&package), ErrorKind::NoRegistry));
        }
        fs::create_dir_all(&self.cache_dir).map_err(|e| {
            DownloadError::local(
                &package,
                format!(
                    "cannot create the package cache directory {}",
                    self.cache_dir.display()
                ),
                e,
            )
        })?;

        let agent = make_agent();
        let mut failures = Vec::new();
        for registry in &self.registries {
            let request = Request {
                agent: &agent,
                registry,
                name,
                version,
                package: &package,
                target: &target,
            };
            match self.fetch_from(&request) {
                Ok(dir) => return Ok(dir),
                Err(AttemptError::Fatal(error)) => return Err(error),
                Err(AttemptError::Registry(failure)) => failures.push(RegistryFailure {
                    registry: registry.clone(),
                    failure,
                }),
            }
        }
        Err(DownloadError::new(
            Some(&package),
            ErrorKind::AllRegistriesFailed(failures),
        ))
    }

    /// Fetches the package from one registry.
    fn fetch_from(&self, request: &Request<'_>) -> Result<PathBuf, AttemptError> {
        let url = metadata_url(request.registry, request.name);
        let metadata = self.retrying(|| get_metadata(request.agent, &url))?;
        let (tarball_url, expected) = find_dist(&metadata, request.name, request.version)?;

        let tarball = TempPath::new(self.temp_path("download", request), false);
        self.retrying(|| self.download(request, &tarball_url, tarball.path(), &expected))?;

        let unpacked = TempPath::new(self.temp_path("unpack", request), true);
        fs::create_dir(unpacked.path()).map_err(|e| {
            AttemptError::Fatal(DownloadError::local(
                request.package,
                format!("cannot create {}", unpacked.path().display()),
                e,
            ))
        })?;
        unpack(tarball.path(), unpacked.path()).map_err(|message| {
            Failure::new(
                FailureKind::Permanent,
                format!("the tarball {tarball_url} cannot be unpacked: {message}"),
            )
        })?;
        drop(tarball);
        // Recorded so that `definitions/manifest.json` can name what was verified.
        let record = unpacked.path().join(INTEGRITY_FILE);
        fs::write(&record, expected.describe(&expected.digest)).map_err(|e| {
            AttemptError::Fatal(DownloadError::local(
                request.package,
                format!("cannot write {}", record.display()),
                e,
            ))
        })?;
        install(unpacked, request.target, &self.temp_path("stale", request)).map_err(|e| {
            AttemptError::Fatal(DownloadError::local(
                request.package,
                format!("cannot move the package into {}", request.target.display()),
                e,
            ))
        })?;
        Ok(request.target.join("package"))
    }

    /// Runs `op` up to `retries` times while it fails transiently, with growing pauses.
    fn retrying<T>(
        &self,
        mut op: impl FnMut() -> Result<T, AttemptError>,
    ) -> Result<T, AttemptError> {
        let attempts = self.retries.max(1);
        let mut attempt = 1;
        loop {
            match op() {
                Err(AttemptError::Registry(failure)) if failure.retryable() => {
                    if attempt >= attempts {
                        let mut failure = failure;
                        if attempts > 1 {
                            failure
                                .message
                                .push_str(&format!("; gave up after {attempts} attempts"));
                        }
                        return Err(failure.into());
                    }
                    let pause = self
                        .backoff
                        .saturating_mul(1u32 << (attempt - 1).min(16))
                        .min(MAX_BACKOFF);
                    std::thread::sleep(pause);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Streams the tarball at `url` into `dest`, hashing it on the way, and checks the hash.
    fn download(
        &self,
        request: &Request<'_>,
        url: &str,
        dest: &Path,
        expected: &Expected,
    ) -> Result<(), AttemptError> {
        let mut response = request
            .agent
            .get(url)
            .call()
            .map_err(|e| failure_from_ureq(&e, url))?;
        let total = response.body().content_length();
        let mut reader = response
            .body_mut()
            .with_config()
            .limit(MAX_TARBALL_BYTES)
            .reader();
        let mut file = File::create(dest).map_err(|e| {
            AttemptError::Fatal(DownloadError::local(
                request.package,
                format!("cannot create {}", dest.display()),
                e,
            ))
        })?;
        let mut hasher = Hasher::new(expected.algorithm);
        let mut progress = Progress::new(
            self.progress,
            format!("Downloading {}", request.package),
            total,
        );
        let mut buffer = vec![0u8; 64 * 1024];
        let mut received: u64 = 0;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Failure::new(
                        FailureKind::Connection,
                        format!("the download of {url} broke off after {received} bytes: {e}"),
                    )
                    .into())
                }
            };
            let chunk = &buffer[..n];
            hasher.update(chunk);
            file.write_all(chunk).map_err(|e| {
                AttemptError::Fatal(DownloadError::local(
                    request.package,
                    format!("cannot write {}", dest.display()),
                    e,
                ))
            })?;
            received += n as u64;
            progress.update(received);
        }
        progress.finish();
        let actual = hasher.finalize();
        if actual != expected.digest {
            return Err(Failure::new(
                FailureKind::Permanent,
                format!(
                    "integrity mismatch for {} from {}: expected {}, got {}",
                    request.package,
                    request.registry,
                    expected.describe(&expected.digest),
                    expected.describe(&actual)
                ),
            )
            .into());
        }
        Ok(())
    }

    /// A fresh, unique path inside the cache directory for temporary files.
    fn temp_path(&self, purpose: &str, request: &Request<'_>) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.cache_dir.join(format!(
            ".{purpose}-{}@{}-{}-{}-{nanos}",
            request.name.replace('/', "%2f"),
            request.version,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

/// What one fetch is about, handed from registry to registry.
struct Request<'a> {
    agent: &'a ureq::Agent,
    registry: &'a str,
    name: &'a str,
    version: &'a str,
    package: &'a str,
    target: &'a Path,
}

/// Parses a registry list as given in `FHIR_PACKAGE_REGISTRY`: URLs separated by commas,
/// surrounding whitespace and empty items ignored, duplicates dropped.
///
/// Every item must be an `http://` or `https://` URL.
///
/// ```
/// use fhir_codegen::download::parse_registry_list;
///
/// let list = parse_registry_list(" http://127.0.0.1:4873/ , http://127.0.0.1:4874").unwrap();
/// assert_eq!(list, ["http://127.0.0.1:4873/", "http://127.0.0.1:4874"]);
/// assert!(parse_registry_list("not a url").is_err());
/// ```
pub fn parse_registry_list(value: &str) -> Result<Vec<String>, DownloadError> {
    let mut registries: Vec<String> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !is_http_url(item) {
            return Err(DownloadError::new(
                None,
                ErrorKind::Config(format!(
                    "{REGISTRY_ENV} must hold http:// or https:// URLs separated by commas, \
                     but it contains '{item}'"
                )),
            ));
        }
        if !registries.iter().any(|r| r == item) {
            registries.push(item.to_string());
        }
    }
    Ok(registries)
}

fn normalize_registries(registries: Vec<String>) -> Vec<String> {
    registries
        .into_iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect()
}

fn is_http_url(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !value.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The registries from the environment, npm, or the npm user configuration file.
fn configured_registries(
    env: &dyn Fn(&str) -> Option<String>,
    npm: &dyn Fn() -> Option<String>,
) -> Result<Vec<String>, DownloadError> {
    if let Some(value) = env(REGISTRY_ENV) {
        let registries = parse_registry_list(&value)?;
        if !registries.is_empty() {
            return Ok(registries);
        }
    }
    if let Some(registry) = npm().filter(|r| is_http_url(r)) {
        return Ok(vec![registry]);
    }
    let npmrc = env("NPM_CONFIG_USERCONFIG")
        .or_else(|| env("npm_config_userconfig"))
        .filter(|p| !p.trim().is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir(env).map(|home| home.join(".npmrc")));
    if let Some(text) = npmrc.and_then(|path| fs::read_to_string(path).ok()) {
        if let Some(registry) = registry_from_npmrc(&text) {
            return Ok(vec![registry]);
        }
    }
    Err(DownloadError::new(None, ErrorKind::NoRegistry))
}

/// The cache directory from `FHIR_PACKAGE_CACHE`, else `~/.fhir/packages`.
fn configured_cache_dir(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, DownloadError> {
    if let Some(dir) = env(CACHE_ENV).filter(|d| !d.trim().is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match home_dir(env) {
        Some(home) => Ok(home.join(".fhir").join("packages")),
        None => Err(DownloadError::new(
            None,
            ErrorKind::Config(format!(
                "cannot find the home directory for the FHIR package cache; set {CACHE_ENV} \
                 to the cache directory"
            )),
        )),
    }
}

fn home_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("HOME")
        .or_else(|| env("USERPROFILE"))
        .filter(|h| !h.trim().is_empty())
        .map(PathBuf::from)
}

/// The value of the last usable `registry=` line of an npm configuration file.
fn registry_from_npmrc(text: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "registry" {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value)
            .trim();
        if is_http_url(value) {
            found = Some(value.to_string());
        }
    }
    found
}

/// Asks the machine's npm for its registry; `None` if npm is missing, fails or hangs.
fn npm_config_registry() -> Option<String> {
    let program = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let mut child = Command::new(program)
        .args(["config", "get", "registry"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + NPM_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let text = reader.join().ok()?;
                if !status.success() {
                    return None;
                }
                let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
                return is_http_url(line).then(|| line.to_string());
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn validate_name(name: &str) -> Result<(), String> {
    let invalid = || format!("'{name}' is not a valid package name");
    let (scope, bare) = match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((scope, bare)) => (Some(scope), bare),
            None => return Err(invalid()),
        },
        None => (None, name),
    };
    let part_ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~'))
    };
    if name.len() > 214 || !scope.is_none_or(part_ok) || !part_ok(bare) {
        return Err(invalid());
    }
    Ok(())
}

fn validate_version(version: &str) -> Result<(), String> {
    let ok = !version.is_empty()
        && version.len() <= 256
        && !version.starts_with('.')
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!("'{version}' is not a valid package version"))
    }
}

/// The folder name of a package in the FHIR package cache: `<name>#<version>`.
fn cache_dir_name(name: &str, version: &str) -> String {
    format!("{}#{version}", name.replace('/', "%2f"))
}

/// The metadata URL of a package: `<registry>/<name>`, scoped names encoded as npm does.
fn metadata_url(registry: &str, name: &str) -> String {
    format!(
        "{}/{}",
        registry.trim_end_matches('/'),
        name.replace('/', "%2f")
    )
}

/// A package folder is complete once its `package/package.json` exists: packages are only
/// ever moved into place whole.
fn is_complete(dir: &Path) -> bool {
    dir.join("package").join("package.json").is_file()
}

fn make_agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_resolve(Some(CONNECT_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .timeout_recv_body(Some(BODY_TIMEOUT))
        .timeout_global(Some(BODY_TIMEOUT + 2 * RESPONSE_TIMEOUT))
        .user_agent(USER_AGENT)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(system_root_certs().unwrap_or(ureq::tls::RootCerts::WebPki))
                .build(),
        )
        .build();
    ureq::Agent::new_with_config(config)
}

/// CA bundle files of the common operating systems, tried in order.
const CA_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The machine's trusted certificates, as curl and npm see them: `SSL_CERT_FILE` or the
/// operating system's CA bundle file, plus `NODE_EXTRA_CA_CERTS`. This makes machines behind
/// a TLS-inspecting proxy work. `None` where there is no bundle file; the built-in Mozilla
/// roots are used then.
fn system_root_certs() -> Option<ureq::tls::RootCerts> {
    let bundle = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| CA_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()))?;
    let extra = std::env::var_os("NODE_EXTRA_CA_CERTS")
        .map(PathBuf::from)
        .filter(|p| p.is_file() && *p != bundle);
    let mut certs = Vec::new();
    for path in std::iter::once(bundle).chain(extra) {
        let Ok(pem) = fs::read(&path) else { continue };
        certs.extend(ureq::tls::parse_pem(&pem).filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        }));
    }
    (!certs.is_empty()).then(|| ureq::tls::RootCerts::new_with_certs(&certs))
}

fn failure_from_ureq(error: &ureq::Error, url: &str) -> Failure {
    use FailureKind::*;
    match error {
        ureq::Error::StatusCode(code @ (404 | 410)) => Failure::new(
            NotFound,
            format!("the package is not published here (HTTP {code} for {url})"),
        ),
        ureq::Error::StatusCode(code @ (401 | 403)) => Failure::new(
            Permanent,
            format!(
                "access denied (HTTP {code} for {url}); this downloader sends no registry \
                 credentials"
            ),
        ),
        ureq::Error::StatusCode(code @ (408 | 429 | 500..=599)) => Failure::new(
            Transient,
            format!("the registry answered HTTP {code} for {url}"),
        ),
        ureq::Error::StatusCode(code) => Failure::new(
            Permanent,
            format!("the registry answered HTTP {code} for {url}"),
        ),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::InvalidData => Failure::new(
            Permanent,
            format!(
                "the secure connection to {url} failed: {e}. Behind a TLS-inspecting proxy, \
                 set SSL_CERT_FILE to a CA bundle that holds the proxy's certificate"
            ),
        ),
        ureq::Error::Io(e) => Failure::new(Connection, format!("cannot connect: {e}")),
        ureq::Error::Timeout(t) => Failure::new(Connection, format!("timed out: {t}")),
        ureq::Error::HostNotFound => Failure::new(Connection, "the host name cannot be resolved"),
        ureq::Error::ConnectionFailed => Failure::new(Connection, "the connection failed"),
        other => Failure::new(Permanent, format!("request to {url} failed: {other}")),
    }
}

fn get_metadata(agent: &ureq::Agent, url: &str) -> Result<serde_json::Value, AttemptError> {
    let mut response = agent
        .get(url)
        .header("Accept", METADATA_ACCEPT)
        .call()
        .map_err(|e| failure_from_ureq(&e, url))?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_METADATA_BYTES)
        .read_to_vec()
        .map_err(|e| failure_from_ureq(&e, url))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            FailureKind::Permanent,
            format!("the package metadata at {url} is not valid JSON ({e})"),
        )
        .into()
    })
}

/// The tarball URL and expected hash of `version` in a package's registry metadata.
fn find_dist(
    metadata: &serde_json::Value,
    name: &str,
    version: &str,
) -> Result<(String, Expected), Failure> {
    let permanent = |message: String| Failure::new(FailureKind::Permanent, message);
    let Some(versions) = metadata.get("versions").and_then(|v| v.as_object()) else {
        return Err(Failure::new(
            FailureKind::NotFound,
            format!("the registry's metadata for {name} lists no versions"),
        ));
    };
    let Some(entry) = versions.get(version) else {
        let available: Vec<&str> = versions.keys().map(String::as_str).collect();
        let shown = &available[available.len().saturating_sub(10)..];
        let more = if available.len() > shown.len() {
            format!("{} more and ", available.len() - shown.len())
        } else {
            String::new()
        };
        return Err(Failure::new(
            FailureKind::NotFound,
            format!(
                "version {version} of {name} is not published here (available: {more}{})",
                shown.join(", ")
            ),
        ));
    };
    let Some(dist) = entry.get("dist").and_then(|d| d.as_object()) else {
        return Err(permanent(format!(
            "the metadata of {name}@{version} has no 'dist' section"
        )));
    };
    let tarball = match dist.get("tarball").and_then(|t| t.as_str()) {
        Some(url) if is_http_url(url) => url.to_string(),
        Some(url) => {
            return Err(permanent(format!(
                "the tarball address of {name}@{version} is not an http(s) URL: '{url}'"
            )))
        }
        None => {
            return Err(permanent(format!(
                "the metadata of {name}@{version} has no dist.tarball"
            )))
        }
    };
    let integrity = dist.get("integrity").and_then(|i| i.as_str());
    let shasum = dist.get("shasum").and_then(|s| s.as_str());
    let expected = integrity
        .and_then(Expected::from_integrity)
        .or_else(|| shasum.and_then(Expected::from_shasum));
    match expected {
        Some(expected) => Ok((tarball, expected)),
        None => Err(permanent(match (integrity, shasum) {
            (None, None) => format!(
                "the registry publishes neither dist.integrity nor dist.shasum for \
                 {name}@{version}; refusing to install a package that cannot be verified"
            ),
            _ => format!(
                "the integrity of {name}@{version} ({}) uses no supported hash (sha512, \
                 sha384, sha256, sha1); refusing to install a package that cannot be verified",
                integrity.or(shasum).unwrap_or("")
            ),
        })),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Algorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn from_prefix(prefix: &str) -> Option<Algorithm> {
        match prefix {
            "sha1" => Some(Algorithm::Sha1),
            "sha256" => Some(Algorithm::Sha256),
            "sha384" => Some(Algorithm::Sha384),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
        }
    }
}

/// The hash a tarball must have.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    algorithm: Algorithm,
    digest: Vec<u8>,
    /// From `dist.shasum` (hex) rather than `dist.integrity` (SRI, base64).
    hex: bool,
}

impl Expected {
    /// The strongest supported hash of a Subresource Integrity string such as
    /// `sha512-<base64> sha1-<base64>`.
    fn from_integrity(integrity: &str) -> Option<Expected> {
        integrity
            .split_whitespace()
            .filter_map(|item| {
                let (prefix, rest) = item.split_once('-')?;
                let algorithm = Algorithm::from_prefix(&prefix.to_ascii_lowercase())?;
                let encoded = rest.split('?').next().unwrap_or("");
                let digest = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()?;
                (digest.len() == algorithm.digest_len()).then_some(Expected {
                    algorithm,
                    digest,
                    hex: false,
                })
            })
            .max_by_key(|e| e.algorithm)
    }

    /// A sha1 hex digest as in `dist.shasum`.
    fn from_shasum(shasum: &str) -> Option<Expected> {
        let digest = hex_decode(shasum.trim())?;
        (digest.len() == 20).then_some(Expected {
            algorithm: Algorithm::Sha1,
            digest,
            hex: true,
        })
    }

    /// A digest written the way the registry wrote the expected one.
    fn describe(&self, digest: &[u8]) -> String {
        if self.hex {
            format!("sha1 {}", hex_encode(digest))
        } else {
            format!(
                "{}-{}",
                self.algorithm.prefix(),
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        }
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.is_ascii() {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some((hex_digit(*high)? << 4) | hex_digit(*low)?),
            _ => None,
        })
        .collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

enum Hasher {
    Sha1(Box<Sha1>),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha1 => Hasher::Sha1(Box::default()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// SHA-1, only to check `dist.shasum` of registries that publish no `dist.integrity`.
struct Sha1 {
    state: [u32; 5],
    buffer: [u8; 64],
    buffered: usize,
    length: u64,
}

impl Default for Sha1 {
    fn default() -> Sha1 {
        Sha1 {
            state: [
                0x6745_2301,
                0xEFCD_AB89,
                0x98BA_DCFE,
                0x1032_5476,
                0xC3D2_E1F0,
            ],
            buffer: [0; 64],
            buffered: 0,
            length: 0,
        }
    }
}

impl Sha1 {
    fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (64 - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < 64 {
                return;
            }
            let block = self.buffer;
            self.compress(&block);
            self.buffered = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            self.compress(block);
        }
        let rest = blocks.remainder();
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    fn finalize(mut self) -> [u8; 20] {
        let bits = self.length.wrapping_mul(8);
        self.update(&[0x80]);
        while self.buffered != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut out = [0u8; 20];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    fn compress(&mut self, block: &[u8]) {
        let mut w = [0u32; 80];
        for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = self.state;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d, e]) {
            *s = s.wrapping_add(v);
        }
    }
}

/// One updating progress line on standard error.
struct Progress {
    enabled: bool,
    label: String,
    total: Option<u64>,
    last_draw: Option<Instant>,
    width: usize,
}

impl Progress {
    fn new(enabled: bool, label: String, total: Option<u64>) -> Progress {
        Progress {
            enabled,
            label,
            total,
            last_draw: None,
            width: 0,
        }
    }

    fn update(&mut self, received: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let due = self
            .last_draw
            .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        if !due && Some(received) != self.total {
            return;
        }
        self.last_draw = Some(now);
        let line = progress_line(&self.label, received, self.total);
        let pad = self.width.saturating_sub(line.len());
        self.width = line.len();
        let mut stderr = io::stderr().lock();
        let _ = write!(stderr, "\r{line}{:pad$}", "");
        let _ = stderr.flush();
    }

    fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            eprintln!();
        }
        self.last_draw = None;
        self.enabled = false;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn progress_line(label: &str, received: u64, total: Option<u64>) -> String {
    match total {
        Some(total) if total > 0 => format!(
            "{label}: {} / {} ({}%)",
            human_bytes(received),
            human_bytes(total),
            received.saturating_mul(100) / total
        ),
        _ => format!("{label}: {}", human_bytes(received)),
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A temporary file or directory that is removed when dropped, unless kept.
struct TempPath {
    path: Option<PathBuf>,
    dir: bool,
}

impl TempPath {
    fn new(path: PathBuf, dir: bool) -> TempPath {
        TempPath {
            path: Some(path),
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = if self.dir {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// The relative path of a tarball entry, or `None` if it would leave the target directory
/// (absolute paths, drive prefixes, `..`).
fn safe_relative_path(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => {
                let text = part.to_string_lossy();
                if text.contains('\\') || text.contains(':') {
                    return None;
                }
                out.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Unpacks the gzip tarball at `archive` into the directory `dest`, then makes sure the
/// result has the npm layout: everything under `package/`, with a `package/package.json`.
fn unpack(archive: &Path, dest: &Path) -> Result<(), String> {
    let file = File::open(archive).map_err(|e| format!("cannot open it ({e})"))?;
    let gzip = flate2::read::MultiGzDecoder::new(BufReader::new(file));
    let mut tar = tar::Archive::new(gzip);
    let entries = tar
        .entries()
        .map_err(|e| format!("it is not a gzip tar archive ({e})"))?;
    let mut total: u64 = 0;
    let mut count: u64 = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("it is not a valid gzip tar archive ({e})"))?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(format!("it has more than {MAX_ENTRIES} entries"));
        }
        let raw = entry
            .path()
            .map_err(|e| format!("an entry has an unreadable path ({e})"))?
            .into_owned();
        let Some(relative) = safe_relative_path(&raw) else {
            return Err(format!(
                "the entry '{}' points outside the package directory",
                raw.display()
            ));
        };
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&relative);
        if kind.is_dir() {
            fs::create_dir_all(&target)
                .map_err(|e| format!("cannot create {} ({e})", target.display()))?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {} ({e})", parent.display()))?;
            }
            let mut out = File::create(&target)
                .map_err(|e| format!("cannot create {} ({e})", target.display()))?;
            loop {
                let n = match entry.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(format!(
                            "the entry '{}' cannot be read ({e})",
                            raw.display()
                        ))
                    }
                };
                total += n as u64;
                if total > MAX_UNPACKED_BYTES {
                    return Err(format!(
                        "it unpacks to more than {MAX_UNPACKED_BYTES} bytes"
                    ));
                }
                out.write_all(&buffer[..n])
                    .map_err(|e| format!("cannot write {} ({e})", target.display()))?;
            }
        } else {
            return Err(format!(
                "the entry '{}' is a {kind:?}, which a package may not contain",
                raw.display()
            ));
        }
    }

    // npm takes the first path component as the package folder whatever its name; the FHIR
    // package cache wants it called `package`.
    let package = dest.join("package");
    if !package.exists() {
        let top: Vec<PathBuf> = fs::read_dir(dest)
            .map_err(|e| format!("cannot list {} ({e})", dest.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        if let [only] = top.as_slice() {
            if only.is_dir() {
                fs::rename(only, &package)
                    .map_err(|e| format!("cannot rename {} ({e})", only.display()))?;
            }
        }
    }
    if !package.join("package.json").is_file() {
        return Err("it has no package/package.json".to_string());
    }
    Ok(())
}

/// Moves the unpacked package into place. If another process finished first, its copy is
/// used and ours removed; an incomplete leftover at `target` is replaced.
fn install(unpacked: TempPath, target: &Path, stale: &Path) -> io::Result<()> {
    let first = match fs::rename(unpacked.path(), target) {
        Ok(()) => {
            unpacked.keep();
            return Ok(());
        }
        Err(e) => e,
    };
    if is_complete(target) {
        return Ok(());
    }
    if !target.exists() {
        return Err(first);
    }
    // An incomplete folder from elsewhere: move it aside and remove it, then try again.
    if fs::rename(target, stale).is_ok() {
        drop(TempPath::new(stale.to_path_buf(), true));
    }
    match fs::rename(unpacked.path(), target) {
        Ok(()) => {
            unpacked.keep();
            Ok(())
        }
        Err(_) if is_complete(target) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;

    const NAME: &str = "example.fhir.test";
    const VERSION: &str = "1.0.0";

    // ---- scratch directories -------------------------------------------------------------

    struct TestDir(PathBuf);

    impl TestDir {
        fn new(tag: &str) -> TestDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let path = std::env::temp_dir().join(format!(
                "fhir-download-test-{tag}-{}-{}-{nanos}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&path).unwrap();
            TestDir(path)
        }

        fn cache(&self) -> PathBuf {
            self.0.join("cache")
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Names in a directory, sorted; empty if it does not exist.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    // ---- a tiny HTTP/1.1 server on 127.0.0.1 ---------------------------------------------

    struct Reply {
        status: u16,
        body: Vec<u8>,
    }

    fn ok(body: Vec<u8>) -> Reply {
        Reply { status: 200, body }
    }

    fn status(code: u16) -> Reply {
        Reply {
            status: code,
            body: format!("{{\"error\":\"HTTP {code}\"}}").into_bytes(),
        }
    }

    type Handler = Box<dyn Fn(&str, &str) -> Reply + Send>;

    /// Serves requests one at a time until stopped, for at most 60 s and 500 requests.
    struct TestServer {
        base: String,
        log: Arc<Mutex<Vec<String>>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl TestServer {
        /// `handler(path, base_url)` answers each request.
        fn start(handler: impl Fn(&str, &str) -> Reply + Send + 'static) -> TestServer {
            let handler: Handler = Box::new(handler);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let log = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let thread = {
                let (base, log, stop) = (base.clone(), log.clone(), stop.clone());
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let mut served = 0;
                    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && served < 500
                    {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                served += 1;
                                let _ = serve_one(stream, &handler, &base, &log);
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(2))
                            }
                            Err(_) => break,
                        }
                    }
                })
            };
            TestServer {
                base,
                log,
                stop,
                thread: Some(thread),
            }
        }

        fn requests(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }

        fn stop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.stop();
        }
    }

    fn serve_one(
        mut stream: TcpStream,
        handler: &Handler,
        base: &str,
        log: &Mutex<Vec<String>>,
    ) -> io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk)?;
            if n == 0 || request.len() > 64 * 1024 {
                return Ok(());
            }
            request.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&request);
        let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
        log.lock().unwrap().push(path.clone());
        let reply = handler(&path, base);
        let reason = match reply.status {
            200 => "OK",
            404 => "Not Found",
            503 => "Service Unavailable",
            _ => "Status",
        };
        write!(
            stream,
            "HTTP/1.1 {} {reason}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            reply.status,
            reply.body.len()
        )?;
        stream.write_all(&reply.body)?;
        stream.flush()
    }

    // ---- package fixtures ----------------------------------------------------------------

    const PACKAGE_JSON: &[u8] = br#"{"name":"example.fhir.test","version":"1.0.0"}"#;
    const PATIENT_JSON: &[u8] = br#"{"resourceType":"StructureDefinition","id":"Patient-x"}"#;

    fn gzip(tar_bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(tar_bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A gzip tarball built the normal way.
    fn tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        gzip(&builder.into_inner().unwrap())
    }

    /// A gzip tarball whose entry names are written raw, bypassing the builder's checks.
    fn raw_tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_old();
            header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        gzip(&builder.into_inner().unwrap())
    }

    fn good_tarball() -> Vec<u8> {
        tarball(&[
            ("package/package.json", PACKAGE_JSON),
            ("package/Patient-x.json", PATIENT_JSON),
        ])
    }

    fn integrity(bytes: &[u8]) -> String {
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes))
        )
    }

    fn tarball_path() -> String {
        format!("/{NAME}/-/{NAME}-{VERSION}.tgz")
    }

    fn metadata(base: &str, dist: serde_json::Value) -> Vec<u8> {
        let mut dist = dist;
        dist["tarball"] = serde_json::Value::String(format!("{base}{}", tarball_path()));
        serde_json::json!({
            "name": NAME,
            "dist-tags": { "latest": VERSION },
            "versions": { "0.9.0": {}, VERSION: { "name": NAME, "version": VERSION, "dist": dist } }
        })
        .to_string()
        .into_bytes()
    }

    /// A registry serving one package: its metadata (with `dist` fields) and its tarball.
    fn registry(tgz: Vec<u8>, dist: serde_json::Value) -> TestServer {
        TestServer::start(move |path, base| {
            if path == format!("/{NAME}") {
                ok(metadata(base, dist.clone()))
            } else if path == tarball_path() {
                ok(tgz.clone())
            } else {
                status(404)
            }
        })
    }

    fn good_registry() -> TestServer {
        let tgz = good_tarball();
        let dist = serde_json::json!({ "integrity": integrity(&tgz) });
        registry(tgz, dist)
    }

    fn downloader(registries: &[&str], cache: PathBuf) -> Downloader {
        let mut d = Downloader::new(registries.iter().map(|r| r.to_string()).collect(), cache);
        d.backoff = Duration::from_millis(1);
        d
    }

    fn closed_port_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    fn assert_installed(dir: &TestDir, path: &Path) {
        let expected = dir
            .cache()
            .join(format!("{NAME}#{VERSION}"))
            .join("package");
        assert_eq!(path, expected);
        assert_eq!(fs::read(path.join("package.json")).unwrap(), PACKAGE_JSON);
        assert_eq!(fs::read(path.join("Patient-x.json")).unwrap(), PATIENT_JSON);
    }

    // ---- fetching ------------------------------------------------------------------------

    #[test]
    fn fetch_installs_package_in_cache_layout() {
        let dir = TestDir::new("layout");
        let server = good_registry();
        let d = downloader(&[&server.base], dir.cache());
        let path = d.fetch(NAME, VERSION).unwrap();
        assert_installed(&dir, &path);
        // Nothing but the package folder is left in the cache: no temporary files.
        assert_eq!(listing(&dir.cache()), [format!("{NAME}#{VERSION}")]);
        assert_eq!(
            listing(&path),
            ["Patient-x.json".to_string(), "package.json".to_string()]
        );
        assert_eq!(d.cached(NAME, VERSION), Some(path));
        assert_eq!(
            server.requests(),
            [format!("/{NAME}"), tarball_path()],
            "one metadata and one tarball request"
        );
    }

    #[test]
    fn second_fetch_is_served_from_cache_with_server_stopped() {
        let dir = TestDir::new("cached");
        let mut server = good_registry();
        let d = downloader(&[&server.base], dir.cache());
        let first = d.fetch(NAME, VERSION).unwrap();
        server.stop();
        let requests = server.requests().len();
        let second = d.fetch(NAME, VERSION).unwrap();
        assert_eq!(first, second);
        assert_installed(&dir, &second);
        assert_eq!(server.requests().len(), requests);
        // Even with only an unreachable registry configured.
        let offline = downloader(&[&closed_port_url()], dir.cache());
        assert_eq!(offline.fetch(NAME, VERSION).unwrap(), first);
    }

    #[test]
    fn wrong_integrity_is_rejected_and_cache_left_empty() {
        let dir = TestDir::new("integrity");
        let tgz = good_tarball();
        let wrong = integrity(b"some other bytes");
        let server = registry(tgz, serde_json::json!({ "integrity": wrong }));
        let d = downloader(&[&server.base], dir.cache());
        let err = d.fetch(NAME, VERSION).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "integrity mismatch for {NAME}@{VERSION} from {}: expected {wrong}, got sha512-",
                server.base
            )),
            "{text}"
        );
        assert!(!err.is_offline());
        assert_eq!(
            listing(&dir.cache()),
            Vec::<String>::new(),
            "cache left empty"
        );
        assert_eq!(d.cached(NAME, VERSION), None);
    }

    #[test]
    fn shasum_is_used_when_integrity_is_missing() {
        let dir = TestDir::new("shasum");
        let tgz = good_tarball();
        let mut sha1 = Sha1::default();
        sha1.update(&tgz);
        let shasum = hex_encode(&sha1.finalize());
        let server = registry(tgz.clone(), serde_json::json!({ "shasum": shasum }));
        let d = downloader(&[&server.base], dir.cache());
        assert_installed(&dir, &d.fetch(NAME, VERSION).unwrap());

        let dir = TestDir::new("shasum-bad");
        let bad = registry(tgz, serde_json::json!({ "shasum": "00".repeat(20) }));
        let d = downloader(&[&bad.base], dir.cache());
        let text = d.fetch(NAME, VERSION).unwrap_err().to_string();
        assert!(text.contains("integrity mismatch"), "{text}");
        assert!(
            text.contains(&format!("expected sha1 {}", "00".repeat(20))),
            "{text}"
        );
    }

    #[test]
    fn unverifiable_package_is_refused() {
        let dir = TestDir::new("noverify");
        let server = registry(good_tarball(), serde_json::json!({}));
        let d = downloader(&[&server.base], dir.cache());
        let text = d.fetch(NAME, VERSION).unwrap_err().to_string();
        assert!(
            text.contains("neither dist.integrity nor dist.shasum"),
            "{text}"
        );
        assert!(listing(&dir.cache()).is_empty());
    }

    #[test]
    fn first_registry_404_then_second_registry_succeeds() {
        let dir = TestDir::new("fallback");
        let missing = TestServer::start(|_, _| status(404));
        let good = good_registry();
        let d = downloader(&[&missing.base, &good.base], dir.cache());
        assert_installed(&dir, &d.fetch(NAME, VERSION).unwrap());
        assert_eq!(
            missing.requests(),
            [format!("/{NAME}")],
            "404 is not retried"
        );
    }

    #[test]
    fn registry_lacking_the_version_is_skipped() {
        let dir = TestDir::new("noversion");
        let older = TestServer::start(|path, _| {
            if path == format!("/{NAME}") {
                ok(serde_json::json!({ "versions": { "0.1.0": {} } })
                    .to_string()
                    .into_bytes())
            } else {
                status(404)
            }
        });
        let good = good_registry();
        let d = downloader(&[&older.base, &good.base], dir.cache());
        assert_installed(&dir, &d.fetch(NAME, VERSION).unwrap());

        // When no registry has it, the error lists what is available.
        let err = d.fetch(NAME, "9.9.9").unwrap_err();
        let text = err.to_string();
        assert!(err.is_not_found());
        assert!(text.contains(&format!("{NAME}@9.9.9")), "{text}");
        assert!(text.contains("available: 0.1.0"), "{text}");
        assert!(text.contains("available: 0.9.0, 1.0.0"), "{text}");
        assert!(
            text.contains(&older.base) && text.contains(&good.base),
            "{text}"
        );
        assert!(
            text.contains("Check the package name and version"),
            "{text}"
        );
    }

    #[test]
    fn transient_503_is_retried() {
        let dir = TestDir::new("retry");
        let tgz = good_tarball();
        let dist = serde_json::json!({ "integrity": integrity(&tgz) });
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let server = TestServer::start(move |path, base| {
            if path == format!("/{NAME}") {
                if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                    status(503)
                } else {
                    ok(metadata(base, dist.clone()))
                }
            } else if path == tarball_path() {
                ok(tgz.clone())
            } else {
                status(404)
            }
        });
        let d = downloader(&[&server.base], dir.cache());
        assert_installed(&dir, &d.fetch(NAME, VERSION).unwrap());
        assert_eq!(hits.load(Ordering::SeqCst), 3, "two 503s, then success");
    }

    #[test]
    fn persistent_503_gives_up_after_the_configured_attempts() {
        let dir = TestDir::new("giveup");
        let server = TestServer::start(|_, _| status(503));
        let d = downloader(&[&server.base], dir.cache()).with_retries(2);
        let err = d.fetch(NAME, VERSION).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("HTTP 503"), "{text}");
        assert!(text.contains("gave up after 2 attempts"), "{text}");
        assert!(!err.is_offline(), "the server answered: not offline");
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn unreachable_registries_give_the_offline_message() {
        let dir = TestDir::new("offline");
        let first = closed_port_url();
        let second = format!("{}/", closed_port_url());
        let d = downloader(&[&first, &second], dir.cache());
        let err = d.fetch(NAME, VERSION).unwrap_err();
        let text = err.to_string();
        assert!(err.is_offline(), "{text}");
        assert_eq!(err.package(), Some(format!("{NAME}@{VERSION}").as_str()));
        for needle in [
            NAME,
            first.as_str(),
            second.as_str(),
            "appears to be offline",
            "unreachable",
            REGISTRY_ENV,
            CACHE_ENV,
            "gave up after 3 attempts",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in: {text}");
        }
        assert!(listing(&dir.cache()).is_empty());
    }

    #[test]
    fn tls_failure_is_reported_as_such_not_as_offline() {
        // A plain-text server behind an https:// URL: the TLS handshake fails.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                        let mut sink = [0u8; 1024];
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                        let _ = stream.read(&mut sink);
                        return;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        let dir = TestDir::new("tls");
        let d = downloader(&[&url], dir.cache());
        let err = d.fetch(NAME, VERSION).unwrap_err();
        server.join().unwrap();
        let text = err.to_string();
        assert!(!err.is_offline(), "{text}");
        assert!(text.contains("secure connection"), "{text}");
        assert!(text.contains("SSL_CERT_FILE"), "{text}");
    }

    #[test]
    fn tarball_entry_with_parent_dir_is_rejected() {
        let dir = TestDir::new("dotdot");
        let tgz = raw_tarball(&[
            ("package/package.json", PACKAGE_JSON),
            ("package/../../evil.json", b"{}"),
        ]);
        let server = registry(
            tgz.clone(),
            serde_json::json!({ "integrity": integrity(&tgz) }),
        );
        let d = downloader(&[&server.base], dir.cache());
        let text = d.fetch(NAME, VERSION).unwrap_err().to_string();
        assert!(
            text.contains("'package/../../evil.json' points outside the package directory"),
            "{text}"
        );
        assert!(listing(&dir.cache()).is_empty(), "nothing installed");
        assert_eq!(listing(&dir.0), ["cache".to_string()], "nothing escaped");
    }

    #[test]
    fn tarball_entry_with_absolute_path_is_rejected() {
        let dir = TestDir::new("absolute");
        let archive = dir.0.join("a.tgz");
        fs::write(
            &archive,
            raw_tarball(&[("package/package.json", PACKAGE_JSON), ("/abs.json", b"{}")]),
        )
        .unwrap();
        let dest = dir.0.join("out");
        fs::create_dir(&dest).unwrap();
        let err = unpack(&archive, &dest).unwrap_err();
        assert!(err.contains("'/abs.json' points outside"), "{err}");
        assert_eq!(safe_relative_path(Path::new("/etc/passwd")), None);
        assert_eq!(safe_relative_path(Path::new("a/../b")), None);
        assert_eq!(
            safe_relative_path(Path::new("./package/x.json")),
            Some(PathBuf::from("package/x.json"))
        );
    }

    #[test]
    fn top_folder_of_other_name_becomes_package() {
        let dir = TestDir::new("topdir");
        let archive = dir.0.join("a.tgz");
        fs::write(&archive, tarball(&[("example/package.json", PACKAGE_JSON)])).unwrap();
        let dest = dir.0.join("out");
        fs::create_dir(&dest).unwrap();
        unpack(&archive, &dest).unwrap();
        assert!(dest.join("package/package.json").is_file());
    }

    #[test]
    fn registry_url_with_and_without_trailing_slash() {
        let server = good_registry();
        for base in [server.base.clone(), format!("{}/", server.base)] {
            let dir = TestDir::new("slash");
            let d = downloader(&[&base], dir.cache());
            assert_installed(&dir, &d.fetch(NAME, VERSION).unwrap());
        }
        let requests = server.requests();
        assert_eq!(requests.len(), 4);
        assert!(
            requests.iter().all(|p| !p.starts_with("//")),
            "{requests:?}"
        );
    }

    #[test]
    fn bad_metadata_and_bad_tarballs_are_errors_not_panics() {
        let not_json = TestServer::start(|_, _| ok(b"<html>oops</html>".to_vec()));
        let no_dist = TestServer::start(|_, _| {
            ok(
                serde_json::json!({ "versions": { VERSION: { "dist": 5 } } })
                    .to_string()
                    .into_bytes(),
            )
        });
        let garbage = b"this is not gzip".to_vec();
        let not_gzip = registry(
            garbage.clone(),
            serde_json::json!({ "integrity": integrity(&garbage) }),
        );
        let no_manifest_tgz = tarball(&[("package/other.json", b"{}")]);
        let no_manifest = registry(
            no_manifest_tgz.clone(),
            serde_json::json!({ "integrity": integrity(&no_manifest_tgz) }),
        );
        let cases = [
            (&not_json, "is not valid JSON"),
            (&no_dist, "has no 'dist' section"),
            (&not_gzip, "cannot be unpacked"),
            (&no_manifest, "has no package/package.json"),
        ];
        for (server, needle) in cases {
            let dir = TestDir::new("bad");
            let d = downloader(&[&server.base], dir.cache());
            let text = d.fetch(NAME, VERSION).unwrap_err().to_string();
            assert!(text.contains(needle), "missing {needle:?} in: {text}");
            assert!(
                listing(&dir.cache()).is_empty(),
                "{:?}",
                listing(&dir.cache())
            );
        }
    }

    #[test]
    fn invalid_names_and_versions_are_refused_before_any_request() {
        let dir = TestDir::new("names");
        let server = TestServer::start(|_, _| status(500));
        let d = downloader(&[&server.base], dir.cache());
        for (name, version) in [
            ("../escape", VERSION),
            ("a b", VERSION),
            ("", VERSION),
            (NAME, "1.0/../.."),
            (NAME, ""),
            (NAME, ".."),
        ] {
            let text = d.fetch(name, version).unwrap_err().to_string();
            assert!(text.contains("is not a valid package"), "{text}");
        }
        assert!(server.requests().is_empty());
        assert!(validate_name("@scope/name.x").is_ok());
        assert!(validate_version("1.0.0-ballot+2").is_ok());
    }

    #[test]
    fn no_registry_at_all_is_an_error() {
        let dir = TestDir::new("none");
        let d = downloader(&[], dir.cache());
        let text = d.fetch(NAME, VERSION).unwrap_err().to_string();
        assert!(text.contains(REGISTRY_ENV), "{text}");
    }

    #[test]
    fn incomplete_leftover_is_replaced_and_complete_target_kept() {
        let dir = TestDir::new("leftover");
        let target = dir.cache().join(format!("{NAME}#{VERSION}"));
        fs::create_dir_all(target.join("package")).unwrap();
        fs::write(target.join("package/half.json"), b"{").unwrap();
        let server = good_registry();
        let d = downloader(&[&server.base], dir.cache());
        let path = d.fetch(NAME, VERSION).unwrap();
        assert_installed(&dir, &path);
        assert!(!path.join("half.json").exists());
        assert_eq!(listing(&dir.cache()), [format!("{NAME}#{VERSION}")]);

        // Another process won the race: its complete copy stays, ours is removed.
        let ours = dir.cache().join(".unpack-ours");
        fs::create_dir_all(ours.join("package")).unwrap();
        fs::write(ours.join("package/package.json"), b"{}").unwrap();
        install(
            TempPath::new(ours.clone(), true),
            &target,
            &dir.cache().join(".stale"),
        )
        .unwrap();
        assert!(!ours.exists());
        assert_eq!(fs::read(path.join("package.json")).unwrap(), PACKAGE_JSON);
    }

    // ---- configuration -------------------------------------------------------------------

    #[test]
    fn registry_list_parsing() {
        assert_eq!(
            parse_registry_list("http://127.0.0.1:1/").unwrap(),
            ["http://127.0.0.1:1/"]
        );
        assert_eq!(
            parse_registry_list(" http://127.0.0.1:1 ,, https://127.0.0.1:2/npm/ ,").unwrap(),
            ["http://127.0.0.1:1", "https://127.0.0.1:2/npm/"]
        );
        assert_eq!(
            parse_registry_list("http://127.0.0.1:1,http://127.0.0.1:1").unwrap(),
            ["http://127.0.0.1:1"]
        );
        assert!(parse_registry_list(" , ").unwrap().is_empty());
        for bad in [
            "127.0.0.1:1",
            "ftp://127.0.0.1",
            "http://",
            "http://127.0.0.1/a b",
        ] {
            let text = parse_registry_list(bad).unwrap_err().to_string();
            assert!(text.contains(REGISTRY_ENV), "{text}");
        }
    }

    #[test]
    fn registry_configuration_precedence() {
        let dir = TestDir::new("config");
        let npmrc = dir.0.join("npmrc");
        fs::write(&npmrc, "; comment\nregistry = \"http://127.0.0.1:3/\"\n").unwrap();
        let npmrc_str = npmrc.to_string_lossy().into_owned();
        let vars = |pairs: Vec<(&'static str, String)>| {
            move |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.clone())
            }
        };
        let npm = || Some("http://127.0.0.1:2/".to_string());
        let no_npm = || None;

        let env = vars(vec![(
            REGISTRY_ENV,
            "http://127.0.0.1:1, http://127.0.0.1:4".into(),
        )]);
        assert_eq!(
            configured_registries(&env, &npm).unwrap(),
            ["http://127.0.0.1:1", "http://127.0.0.1:4"]
        );
        let env = vars(vec![(REGISTRY_ENV, " ".into())]);
        assert_eq!(
            configured_registries(&env, &npm).unwrap(),
            ["http://127.0.0.1:2/"]
        );
        let env = vars(vec![("NPM_CONFIG_USERCONFIG", npmrc_str.clone())]);
        assert_eq!(
            configured_registries(&env, &npm).unwrap(),
            ["http://127.0.0.1:2/"]
        );
        let undefined = || Some("undefined".to_string());
        assert_eq!(
            configured_registries(&env, &undefined).unwrap(),
            ["http://127.0.0.1:3/"]
        );
        let env = vars(vec![(
            "HOME",
            dir.0.join("nohome").to_string_lossy().into(),
        )]);
        let err = configured_registries(&env, &no_npm).unwrap_err();
        assert!(err.to_string().contains(REGISTRY_ENV), "{err}");
        let env = vars(vec![(REGISTRY_ENV, "nonsense".into())]);
        assert!(configured_registries(&env, &npm).is_err());
    }

    #[test]
    fn npmrc_parsing() {
        let text = "\
# registry=http://127.0.0.1:9/
@scope:registry=http://127.0.0.1:8/
//127.0.0.1:7/:_authToken=secret
registry=http://127.0.0.1:1/
strict-ssl=false
registry = 'http://127.0.0.1:2/'
";
        assert_eq!(
            registry_from_npmrc(text),
            Some("http://127.0.0.1:2/".into())
        );
        assert_eq!(registry_from_npmrc("color=false\n"), None);
        assert_eq!(registry_from_npmrc("registry=\n"), None);
    }

    #[test]
    fn cache_dir_configuration() {
        let env = |key: &str| match key {
            "FHIR_PACKAGE_CACHE" => Some("/somewhere/cache".to_string()),
            "HOME" => Some("/home/me".to_string()),
            _ => None,
        };
        assert_eq!(
            configured_cache_dir(&env).unwrap(),
            PathBuf::from("/somewhere/cache")
        );
        let env = |key: &str| (key == "HOME").then(|| "/home/me".to_string());
        assert_eq!(
            configured_cache_dir(&env).unwrap(),
            Path::new("/home/me").join(".fhir").join("packages")
        );
        let env = |_: &str| None;
        let text = configured_cache_dir(&env).unwrap_err().to_string();
        assert!(text.contains(CACHE_ENV), "{text}");
    }

    // ---- hashing and helpers -------------------------------------------------------------

    #[test]
    fn sha1_known_answers() {
        let sha1 = |data: &[u8]| {
            let mut h = Sha1::default();
            h.update(data);
            hex_encode(&h.finalize())
        };
        assert_eq!(sha1(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        let mut h = Sha1::default();
        for _ in 0..1000 {
            h.update(&[b'a'; 1000][..999]);
            h.update(b"a");
        }
        assert_eq!(
            hex_encode(&h.finalize()),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn integrity_parsing_picks_the_strongest_hash() {
        let sha512 = integrity(b"x");
        let sha1 = format!(
            "sha1-{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 20])
        );
        let both = Expected::from_integrity(&format!("{sha1} {sha512}")).unwrap();
        assert_eq!(both.algorithm, Algorithm::Sha512);
        assert_eq!(both.describe(&both.digest), sha512);
        assert_eq!(
            Expected::from_integrity(&sha1).unwrap().algorithm,
            Algorithm::Sha1
        );
        assert_eq!(Expected::from_integrity("md5-AAAA"), None);
        assert_eq!(Expected::from_integrity("sha512-notbase64!"), None);
        assert_eq!(
            Expected::from_integrity("sha512-AAAA"),
            None,
            "wrong length"
        );
        assert_eq!(Expected::from_shasum("xyz"), None);
    }

    #[test]
    fn progress_line_format() {
        assert_eq!(progress_line("D", 512, None), "D: 512 B");
        assert_eq!(
            progress_line("D", 3 << 20, Some(12 << 20)),
            "D: 3.0 MiB / 12.0 MiB (25%)"
        );
    }

    #[test]
    fn builder_methods() {
        let d = Downloader::new(vec![" http://127.0.0.1:1 ".into(), "".into()], "c".into())
            .with_registries(vec!["http://127.0.0.1:2".into()])
            .with_progress(true)
            .with_retries(5);
        assert_eq!(d.registries(), ["http://127.0.0.1:2"]);
        assert_eq!(d.cache_dir(), Path::new("c"));
        assert!(d.progress);
        assert_eq!(d.retries, 5);
        assert_eq!(
            metadata_url("http://127.0.0.1:1/npm/", "@s/p"),
            "http://127.0.0.1:1/npm/@s%2fp"
        );
    }
}
