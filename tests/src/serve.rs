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
        // Read in a thread of its own to the end, the base URL sent back once told.
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (told, base) = std::sync::mpsc::channel();
        let stdout = std::thread::spawn(move || {
            let mut all = String::new();
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix(LISTENING) {
                    let _ = told.send(url.trim().to_string());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let base = match base.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => base,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "fhir serve did not say where it listens ({why})\nstdout:\n{}\nstderr:\n{}",
                    stdout.join().unwrap_or_default(),
                    stderr.join().unwrap_or_default()
                );
            }
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

fn drain(mut from: impl Read) -> String {
    let mut bytes = Vec::new();
    let _ = from.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}
