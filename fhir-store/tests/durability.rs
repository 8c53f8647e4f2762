//! An acknowledged write survives `kill -9` of the server: a stream of creates runs against a
//! server process on an SQLite file, the process is killed in the middle of it, and after a
//! restart every create that was answered 201 is there.
//!
//! The server process is this test binary itself, started again with `DURABILITY_SERVE` set:
//! the `serve_when_asked` test then serves the database it names until it is killed.

mod common;

use fhir_model::r4::Resource;
use fhir_store::catalog::Catalog;
use fhir_store::store::Store;
use std::process::{Child, Command};
use std::time::Duration;

const SERVE: &str = "DURABILITY_SERVE";
/// What the server process prints before its port.
const LISTENING: &str = "durability server on port ";

/// In the child process: serves the database named by `DURABILITY_SERVE` on a port of the
/// system's choice, told on stdout, until killed. In the test process: nothing.
#[test]
fn serve_when_asked() {
    let Some(path) = std::env::var_os(SERVE) else {
        return;
    };
    let store = Store::open_sqlite(path.as_ref(), Catalog::of::<Resource>()).unwrap();
    let figment = fhir_rocket::rocket::Config::figment().merge(("log_level", "off"));
    let rocket = fhir_store::server::StoreServer::<Resource>::new(store)
        .mount_on(fhir_rocket::rocket::custom(figment), "/fhir");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{LISTENING}{}", listener.local_addr().unwrap().port());
    let _ = fhir_rocket::rocket::execute(fhir_rocket::connection::launch_on(rocket, listener));
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server process on `path`: it and its base URL, once it has bound its port.
fn start(path: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "serve_when_asked",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SERVE, path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The test harness may have begun the line ("test serve_when_asked ... ").
    let (port, _) = fhir_tests::serve::watch_for(
        child.stdout.take().unwrap(),
        LISTENING,
        Duration::from_secs(60),
    );
    let Some(port) = port else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server process did not tell its port within 60 s");
    };
    (Server(child), format!("http://127.0.0.1:{port}/fhir"))
}

#[test]
fn acknowledged_creates_survive_kill_9() {
    let dir = std::env::temp_dir().join(format!("fhir-store-{}-durability", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fhir.db");
    let (mut server, base) = start(&path);
    // Four clients create Patients as fast as they can, remembering each id answered 201.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (base, stop) = (base.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                let mut acknowledged = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let body = format!(
                        r#"{{"resourceType":"Patient","name":[{{"family":"Durable{c}x{i}"}}]}}"#
                    );
                    let reply = agent
                        .post(&format!("{base}/Patient"))
                        .header("Content-Type", "application/fhir+json")
                        .send(&body);
                    match reply {
                        Ok(mut r) if r.status() == 201 => {
                            let text = r.body_mut().read_to_string().unwrap_or_default();
                            let v: serde_json::Value = match serde_json::from_str(&text) {
                                Ok(v) => v,
                                // Killed while the body was on its way: the 201 was not
                                // read whole, so it was not acknowledged to this client.
                                Err(_) => break,
                            };
                            acknowledged.push(v["id"].as_str().unwrap().to_string());
                        }
                        // The server is gone.
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Kill it in the middle of the stream, once some writes were acknowledged.
    std::thread::sleep(Duration::from_millis(1500));
    // SIGKILL: no destructor, no flush, no shutdown.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        acknowledged.len() > 20,
        "only {} creates",
        acknowledged.len()
    );
    drop(server);
    // Restarted on the same file: every acknowledged create is there.
    let (_server, base) = start(&path);
    let mut missing = Vec::new();
    for id in &acknowledged {
        let reply = common::send(&format!("{base}/Patient/{id}"), "GET", &[], None);
        if reply.status != 200 {
            missing.push(id.clone());
        }
    }
    eprintln!("{} acknowledged creates before kill -9", acknowledged.len());
    assert!(
        missing.is_empty(),
        "{} of {} lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
