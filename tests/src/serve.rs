//! `fhir serve` as a child process on a port the system chooses (`--port 0`), for tests.
//!
//! The server binds before it says where it listens, so the address read from its output
//! is its own: no port picked by the test and released, which another test's server, a
//! client's ephemeral port or a connection to itself could take in between.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

/// The line `fhir serve` prints once its listener is bound.
const LISTENING: &str = "fhir serve: listening on ";

/// A running `fhir serve`, killed when dropped.
pub struct FhirServe {
    child: Child,
    /// The FHIR base URL, `http://127.0.0.1:PORT/fhir`.
    pub base: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl FhirServe {
    /// Starts `binary serve --address 127.0.0.1 --port 0 args...` in `dir` with `env`, and
    /// waits until it has bound its port. Panics with the server's output if it stops first
    /// or has not bound it in two minutes.
    pub fn start(binary: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> FhirServe {
        let mut child = Command::new(binary)
            .args(["serve", "--address", "127.0.0.1", "--port", "0"])
            .args(args)
            // The working directory also keeps a developer's Rocket.toml out.
            .current_dir(dir)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fhir serve starts");
        // Drained from the start, so that the server never blocks on a full pipe.
        let stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || drain(stderr));
        let (base, stdout) = watch_for(
            child.stdout.take().unwrap(),
            LISTENING,
            Duration::from_secs(120),
        );
        let Some(base) = base else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "fhir serve did not say where it listens\nstdout:\n{}\nstderr:\n{}",
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        };
        FhirServe {
            child,
            base,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// Stops the server: everything it wrote on stdout and on stderr.
    pub fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let out = self.stdout.take().unwrap().join().unwrap_or_default();
        let err = self.stderr.take().unwrap().join().unwrap_or_default();
        (out, err)
    }
}

impl Drop for FhirServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a child's output to its end on a thread of its own (so that the child never
/// blocks on a full pipe): what follows `marker` on the first line holding it (trimmed), as
/// soon as it comes, or `None` when the output ends or `within` passes first; and the whole
/// output, once it ends.
pub fn watch_for(
    from: impl Read + Send + 'static,
    marker: &'static str,
    within: Duration,
) -> (Option<String>, JoinHandle<String>) {
    let (told, heard) = std::sync::mpsc::channel();
    let output = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if let Some((_, after)) = line.split_once(marker) {
                let _ = told.send(after.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (heard.recv_timeout(within).ok(), output)
}

fn drain(mut from: impl Read) -> String {
    let mut bytes = Vec::new();
    let _ = from.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}
