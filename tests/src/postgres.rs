//! A throwaway PostgreSQL server for tests: one per test process, on a free port of
//! 127.0.0.1, in a fresh temporary directory, gone when the test process ends.
//!
//! The server binaries come from `/usr/lib/postgresql/<highest version>/bin` (Debian's
//! layout) or else from `PATH`; when neither has them, Debian's `postgresql` package is
//! installed with apt (see [`crate::apt_install`]). PostgreSQL refuses to run as root, so
//! a root test process runs the server as the `postgres` user (or `nobody`). The server
//! trusts every local connection of the `postgres` role: no passwords.
//!
//! Each test asks for its own database by a name no other test uses, so tests that run in
//! parallel share the server but not their data:
//!
//! ```
//! let url = fhir_tests::postgres::server().database("patients_search");
//! // url == "postgres://postgres@127.0.0.1:<port>/patients_search"
//! let out = fhir_tests::postgres::server()
//!     .psql("patients_search")
//!     .args(["-tAc", "select 1"])
//!     .output()
//!     .unwrap();
//! assert_eq!(out.stdout, b"1\n");
//! ```
//!
//! Clean-up: libtest never runs the destructors of statics, and a killed test process runs
//! nothing at all, so no `Drop` could stop the server. Instead, starting the server also
//! starts a small watchdog shell, in its own process group so that a Ctrl-C of the test
//! run does not end it first: it waits for the test process to end (however it ends), then
//! stops the server and removes the temporary directory, within a second or two.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running throwaway PostgreSQL server; get it with [`server`].
#[derive(Debug)]
pub struct PgServer {
    /// The folder of the server binaries (`psql` among them when it has it).
    bin: PathBuf,
    /// The TCP port the server listens on, on 127.0.0.1 only.
    port: u16,
    /// The temporary directory: the cluster in `data/`, the log in `log`, the socket.
    dir: PathBuf,
}

/// The test process's server, started on first use and shared by all its tests.
///
/// Panics, with the reason and the tail of the server log when there is one, when the
/// server cannot be started: a test that needs PostgreSQL fails rather than skips.
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(PgServer::start)
}

impl PgServer {
    /// The TCP port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates the empty database `name` (dropping any database of that name first) and
    /// returns its connection URL, `postgres://postgres@127.0.0.1:<port>/<name>`.
    ///
    /// Panics when `name` is not made of `a-z`, `0-9` and `_` only, or when PostgreSQL
    /// refuses the database.
    pub fn database(&self, name: &str) -> String {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "invalid test database name {name:?}: use only a-z, 0-9 and _"
        );
        let output = self
            .psql("postgres")
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ])
            .args(["-c", &format!("CREATE DATABASE {name} TEMPLATE template0")])
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(
            output.status.success(),
            "cannot create the test database {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A `psql` command connected to `database` as `postgres`, ignoring any `~/.psqlrc`
    /// and stopping at the first error; add the arguments (such as `-tAc <sql>`) and run it.
    pub fn psql(&self, database: &str) -> Command {
        let mut command = Command::new(tool(&self.bin, "psql"));
        command
            .args([
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", database]);
        command
    }

    /// Finds (or installs) the binaries, creates the cluster, starts the server and its
    /// watchdog, and waits until the server accepts connections.
    fn start() -> PgServer {
        let bin = binaries();
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!(
            "fhir-pg-{pid}-{}",
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        // Left over from an earlier process of the same pid: not ours any more.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        // The watchdog compares it with the working directories of processes.
        let dir = fs::canonicalize(&dir)
            .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", dir.display()));
        // First the watchdog, so that even a failure below leaves nothing behind.
        watchdog(pid, &dir);

        let user = if running_as_root() {
            let user = if Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                "postgres"
            } else {
                "nobody"
            };
            let chown = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&dir)
                .status();
            assert!(
                chown.is_ok_and(|s| s.success()),
                "cannot give {} to the user {user}",
                dir.display()
            );
            Some(user)
        } else {
            None
        };
        // Runs a server binary as `user` (when root), from the temporary directory so
        // that the unprivileged user can always resolve its working directory.
        let as_user = |program: PathBuf| {
            let mut command = match user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(program);
                    c
                }
                None => Command::new(program),
            };
            command.current_dir(&dir);
            command
        };

        let data = dir.join("data");
        let output = as_user(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
        assert!(
            output.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        // The port is chosen here and released before postgres binds it; if another
        // process takes it in between, postgres stops and another port is tried.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap_or_else(|e| panic!("cannot find a free TCP port: {e}"))
                .port();
            let server = PgServer {
                bin: bin.clone(),
                port,
                dir: dir.clone(),
            };
            match server.run(as_user(bin.join("postgres")), &data) {
                Ok(()) => return server,
                Err(why) if attempt < 3 && why.contains("could not bind") => {}
                Err(why) => panic!("{why}"),
            }
        }
    }

    /// Runs `postgres` (the command, as the right user) on the cluster `data` and this
    /// server's port, logging to its folder, and waits until it accepts connections; an
    /// error says why not, with the end of the log.
    fn run(&self, mut postgres: Command, data: &Path) -> Result<(), String> {
        let log_path = self.dir.join("log");
        let log = fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share the log file: {e}"));
        // Left running when this returns: the watchdog stops it once the tests end.
        #[allow(clippy::zombie_processes)]
        let mut child = postgres
            .arg("-D")
            .arg(data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"])
            .args(["-c", "max_connections=100", "-c", "shared_buffers=32MB"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Not in the test run's process group: the watchdog alone stops it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres: {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(tool(&self.bin, "pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-U", "postgres"])
                .args(["-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "postgres exited ({status}) before accepting connections; log:\n{}",
                    self.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "postgres did not accept connections within 60 s; log:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the server log, for panic messages.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Whether this process runs as root (`id -u` is 0).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A binary of the server's folder, or else the one of `PATH` of that name.
fn tool(bin: &Path, name: &str) -> PathBuf {
    let path = bin.join(name);
    if path.exists() {
        path
    } else {
        PathBuf::from(name)
    }
}

/// The folder holding `initdb` and `postgres`, installing Debian's `postgresql` package
/// when none has them.
fn binaries() -> PathBuf {
    fn find() -> Option<PathBuf> {
        let complete = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
        // Debian's layout: /usr/lib/postgresql/<version>/bin, the highest version first.
        let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let version = name
                    .split('.')
                    .map(|part| part.parse().ok())
                    .collect::<Option<Vec<u32>>>()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versions.sort();
        let debian = versions.into_iter().rev().map(|(_, bin)| bin);
        let path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        debian.chain(path).find(|dir| complete(dir))
    }
    if let Some(bin) = find() {
        return bin;
    }
    let installed = crate::apt_install(&["postgresql"]);
    find().unwrap_or_else(|| {
        panic!(
            "the PostgreSQL server binaries (initdb, postgres) are missing{}: install the \
             Debian package postgresql",
            if installed {
                " even after installing Debian's postgresql package"
            } else {
                " and could not be installed"
            }
        )
    })
}

/// Starts the watchdog: a shell, in its own process group and with no inherited output,
/// that waits for the test process `pid` to end, then stops the server of `dir` and
/// removes `dir`.
///
/// The server is asked for a fast shutdown (`SIGINT` to the pid in `postmaster.pid`).
/// Removing `dir` waits until no process works in it (their working directory, read from
/// `/proc`, is `dir` or below): an `initdb` or server start that the test process left
/// running would otherwise recreate parts of it. After 30 s, what remains is killed.
// Never waited for: it must outlive the test process, which init then reaps.
#[allow(clippy::zombie_processes)]
fn watchdog(pid: u32, dir: &Path) {
    const SCRIPT: &str = r#"
trap '' INT HUP
# Alive and not a zombie waiting for its parent to reap it.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
}
# The processes whose working directory is the directory $1 or below.
users() {
  ls -l /proc/[0-9]*/cwd 2>/dev/null | awk -v d="$1" '
    $NF == d || index($NF, d "/") == 1 { split($(NF - 2), p, "/"); print p[3] }'
}
while alive "$1"; do sleep 1; done
i=0
while :; do
  pg=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null)
  [ -n "$pg" ] && kill -INT "$pg" 2>/dev/null
  left=$(users "$2")
  [ -z "$left" ] && break
  i=$((i + 1))
  if [ "$i" -ge 300 ]; then
    kill -KILL $left 2>/dev/null
    sleep 1
    break
  fi
  sleep 0.1
done
rm -rf "$2"
"#;
    Command::new("sh")
        .args(["-c", SCRIPT, "fhir-pg-watchdog"])
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the PostgreSQL watchdog: {e}"));
}
