//! The complete server, as `fhir serve` runs it: a database (an SQLite file, or PostgreSQL),
//! one FHIR version, served at `/fhir` on Rocket's address and port (`127.0.0.1:8000`
//! unless `ROCKET_ADDRESS`, `ROCKET_PORT`, `Rocket.toml` or the options say otherwise).

use crate::catalog::Catalog;
use crate::server::StoreServer;
use crate::store::Store;
use fhir_model::FhirVersion;
use fhir_rocket::auth::audit::AuditLog;
use fhir_rocket::auth::settings::AuthSettings;
use fhir_rocket::rocket;
use fhir_rocket::ServerModel;

/// Where the data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created when missing.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection URL (`postgres://user@host:port/db`).
    Postgres(String),
}

impl Database {
    /// `postgres://...` or `postgresql://...` is PostgreSQL; anything else a file path.
    ///
    /// ```
    /// use fhir_store::serve::Database;
    /// assert!(matches!(Database::parse("postgres://me@localhost/fhir"), Database::Postgres(_)));
    /// assert!(matches!(Database::parse("data/fhir.db"), Database::Sqlite(_)));
    /// ```
    pub fn parse(text: &str) -> Database {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Database::Postgres(text.to_string())
        } else {
            Database::Sqlite(text.into())
        }
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The database.
    pub database: Database,
    /// The FHIR version served.
    pub version: FhirVersion,
    /// The address to listen on, over Rocket's configuration.
    pub address: Option<std::net::IpAddr>,
    /// The port, over Rocket's configuration.
    pub port: Option<u16>,
    /// The base path (`/fhir`).
    pub base_path: String,
    /// PostgreSQL connections per pool (readers, and as many writers), over
    /// [`crate::postgres::default_connections`]; SQLite has its own (one writer, four
    /// readers).
    pub connections: Option<usize>,
    /// SMART on FHIR: whose bearer tokens are taken, and what roles grant. `None` serves
    /// every request without authorization.
    pub auth: Option<AuthSettings>,
    /// Whether each request is recorded as a JSON line on standard error
    /// ([`AuditLog::to_stderr`]): who, what, which resources, the outcome.
    pub audit: bool,
}

impl ServeOptions {
    /// R4 from `fhir-r4.db` in the working directory, at `/fhir`.
    pub fn new() -> ServeOptions {
        ServeOptions {
            database: Database::Sqlite("fhir-r4.db".into()),
            version: FhirVersion::R4,
            address: None,
            port: None,
            base_path: "/fhir".into(),
            connections: None,
            auth: None,
            audit: true,
        }
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions::new()
    }
}

/// Opens the store of `R`'s version on `database`, with `connections` per PostgreSQL pool
/// (or [`crate::postgres::default_connections`]).
pub fn open<R: ServerModel>(
    database: &Database,
    connections: Option<usize>,
) -> Result<Store, String> {
    let catalog = Catalog::of::<R>();
    match database {
        // Not ignored: SQLite's pools are not sized by the caller.
        Database::Sqlite(_) if connections.is_some() => Err(
            "the number of connections is for PostgreSQL: SQLite has one writer and four readers"
                .into(),
        ),
        Database::Sqlite(path) => {
            Store::open_sqlite(path, catalog).map_err(|e| format!("{}: {e}", path.display()))
        }
        Database::Postgres(url) => crate::postgres::open_with_connections(
            url,
            catalog,
            connections.unwrap_or_else(crate::postgres::default_connections),
        )
        .map_err(|e| format!("{e}")),
    }
}

/// The Rocket instance of the complete server of version `R` on `store`, configured from
/// Rocket's figment with `options`' address and port over it, protected by `options.auth`
/// and audited when `options.audit`. An error names a malformed setting.
pub fn rocket_for<R: ServerModel>(
    store: Store,
    options: &ServeOptions,
) -> Result<rocket::Rocket<rocket::Build>, String> {
    let mut figment = rocket::Config::figment();
    if let Some(address) = options.address {
        figment = figment.merge(("address", address));
    }
    if let Some(port) = options.port {
        figment = figment.merge(("port", port));
    }
    let server = StoreServer::<R>::new(store);
    let mut fhir = server
        .fhir_server(&options.base_path)
        .intercept(fhir_rocket::BrowserView::new());
    if let Some(auth) = &options.auth {
        fhir = fhir.authorize(auth.clone().into_auth()?);
    }
    if options.audit {
        fhir = fhir.intercept(AuditLog::to_stderr());
    }
    Ok(server.manage(fhir.mount_on(rocket::custom(figment))))
}

fn serve_version<R: ServerModel>(options: &ServeOptions) -> Result<(), String> {
    let store = open::<R>(&options.database, options.connections)?;
    let where_ = match &options.database {
        Database::Sqlite(path) => format!("SQLite file {}", path.display()),
        Database::Postgres(url) => format!("PostgreSQL at {}", redact(url)),
    };
    println!(
        "fhir serve: FHIR {} from {where_}, at {}",
        options.version.number(),
        options.base_path
    );
    match &options.auth {
        Some(auth) => println!(
            "fhir serve: SMART on FHIR: bearer tokens of {} for {}",
            auth.issuer, auth.audience
        ),
        None => println!(
            "fhir serve: WARNING: no authorization (no --auth-issuer, no fhir_auth in Rocket's configuration): every request is served to anyone who can reach the server"
        ),
    }
    let connections = store.connections();
    let rocket = rocket_for::<R>(store, options)?;
    // Rocket's configuration with the options over it, as `rocket_for` merged them.
    let figment = rocket.figment().clone();
    let config: rocket::Config = figment.extract().map_err(|e| e.to_string())?;
    let address = std::net::SocketAddr::new(config.address, config.port);
    let listener = std::net::TcpListener::bind(address)
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    // Said whatever the log level, and after binding: with port 0 this is where the
    // system's choice is told (a supervisor or a test reads it).
    let bound = listener.local_addr().unwrap_or(address);
    println!(
        "fhir serve: listening on http://{bound}{}",
        options.base_path
    );
    let runtime = runtime(&figment, &config, connections)?;
    let served =
        runtime.block_on(async move { fhir_rocket::connection::launch_on(rocket, listener).await });
    // As Rocket's own runtime does with `shutdown.force` (its default): tasks still
    // running do not hold the process up; without it, dropping the runtime waits for them.
    if config.shutdown.force {
        runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    }
    served.map_err(|e| e.to_string())
}

/// The runtime Rocket would make from its configuration (`ROCKET_WORKERS`,
/// `ROCKET_MAX_BLOCKING`, `Rocket.toml`), except that unless configured, its blocking threads
/// are as many as the store's connections instead of 512: the database work waits in the
/// queue of a few threads that each take the next at once, rather than on many threads
/// woken by turns (see `server::blocking`). Searches under 16 concurrent requests ran 40%
/// faster.
fn runtime(
    figment: &rocket::figment::Figment,
    config: &rocket::Config,
    connections: usize,
) -> Result<rocket::tokio::runtime::Runtime, String> {
    let configured = figment
        .find_metadata(rocket::Config::MAX_BLOCKING)
        .is_some_and(|m| m.name != "rocket::Config::default()");
    let blocking = if configured {
        config.max_blocking
    } else {
        connections
    };
    rocket::tokio::runtime::Builder::new_multi_thread()
        .thread_name("rocket-worker-thread")
        .worker_threads(config.workers)
        .max_blocking_threads(blocking.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("the runtime did not start: {e}"))
}

/// A connection URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Runs the complete server until it is stopped (Ctrl-C or SIGTERM), on a runtime of its
/// own. Without `options.auth`, the `fhir_auth` settings of Rocket's configuration apply
/// when there are some.
pub fn serve(mut options: ServeOptions) -> Result<(), String> {
    if options.auth.is_none() {
        options.auth = AuthSettings::from_figment(&rocket::Config::figment())?;
    }
    match options.version {
        #[cfg(feature = "r4")]
        FhirVersion::R4 => serve_version::<fhir_model::r4::Resource>(&options),
        #[cfg(feature = "r4b")]
        FhirVersion::R4B => serve_version::<fhir_model::r4b::Resource>(&options),
        #[cfg(feature = "r5")]
        FhirVersion::R5 => serve_version::<fhir_model::r5::Resource>(&options),
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "FHIR {} is not built into this server",
            other.number()
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            super::redact("postgres://me:secret@db:5432/fhir"),
            "postgres://me:***@db:5432/fhir"
        );
        assert_eq!(
            super::redact("postgres://me@db/fhir"),
            "postgres://me@db/fhir"
        );
    }

    #[test]
    fn a_number_of_connections_for_sqlite_is_refused_not_ignored() {
        let path = std::env::temp_dir().join(format!("fhir-serve-{}.db", std::process::id()));
        let database = super::Database::Sqlite(path.clone());
        let refused = super::open::<fhir_model::r4::Resource>(&database, Some(4));
        assert!(refused.is_err_and(|e| e.contains("PostgreSQL")));
        assert!(!path.exists(), "nothing was created");
    }
}
