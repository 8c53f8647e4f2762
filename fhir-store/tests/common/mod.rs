//! What the HTTP tests of the complete server share: a server on a loopback port over a
//! fresh database of each engine, and requests sent with ureq.

#![allow(dead_code)]

use fhir_model::r4::Resource;
use fhir_rocket::rocket;
use fhir_store::catalog::Catalog;
use fhir_store::server::StoreServer;
use fhir_store::store::Store;

/// A reply: status, headers and body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of a header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A complete R4 server on a loopback port: its base URL.
pub struct Server {
    pub base: String,
    pub engine: &'static str,
    /// The folder of its SQLite file, removed when the test is done with it (the server
    /// runs on until the process ends, on the unlinked file).
    pub dir: Option<std::path::PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Server {
    /// Sends a request, whatever its status, and reads the reply.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        send(&url, method, headers, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.send("POST", path, &[JSON], Some(body))
    }

    pub fn put(&self, path: &str, body: &str) -> Reply {
        self.send("PUT", path, &[JSON], Some(body))
    }

    /// The ids of a searchset's matches (entries in `match` mode), in order.
    pub fn search_ids(&self, path: &str) -> Vec<String> {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "{} {path}: {}", self.engine, reply.body);
        ids(&reply.json(), "match")
    }

    /// The status of a search, and its diagnostics when it is refused.
    pub fn refused(&self, path: &str) -> String {
        let reply = self.get(path);
        assert_eq!(
            reply.status, 400,
            "{} {path} should be refused: {}",
            self.engine, reply.body
        );
        reply.json()["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// The `Type/id` of a Bundle's entries in `mode`, in order.
pub fn ids(bundle: &serde_json::Value, mode: &str) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["search"]["mode"] == mode)
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["resource"]["resourceType"].as_str().unwrap_or(""),
                        e["resource"]["id"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Sends a request, whatever its status, and reads the reply.
pub fn send(url: &str, method: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = match body {
        Some(body) => agent.run(builder.body(body.to_string()).unwrap()),
        None => agent.run(builder.body(()).unwrap()),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Reply {
        status: response.status().as_u16(),
        headers,
        body: response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default(),
    }
}

/// The JSON request body type.
pub const JSON: (&str, &str) = ("Content-Type", "application/fhir+json");

/// Serves `store` on a free loopback port, in a thread of its own.
pub fn launch(store: Store) -> String {
    launch_with(store, |server| server)
}

/// [`launch`], the kit's server configured by `configure` (interceptors, authorization).
pub fn launch_with(
    store: Store,
    configure: impl FnOnce(fhir_rocket::FhirServer<Resource>) -> fhir_rocket::FhirServer<Resource>,
) -> String {
    let figment = rocket::Config::figment().merge(("log_level", "off"));
    let server = StoreServer::<Resource>::new(store);
    let fhir = configure(server.fhir_server("/fhir"));
    let rocket = server.manage(fhir.mount_on(rocket::custom(figment)));
    let address = fhir_rocket::connection::launch_in_background(rocket)
        .unwrap_or_else(|e| panic!("the server did not start: {e}"));
    format!("http://{address}/fhir")
}

/// A complete server over a fresh database of each engine, named after the test.
pub fn servers(name: &str) -> Vec<Server> {
    servers_with(name, |server| server)
}

/// [`servers`], the kit's server configured by `configure` for each.
pub fn servers_with(
    name: &str,
    configure: impl Fn(fhir_rocket::FhirServer<Resource>) -> fhir_rocket::FhirServer<Resource>,
) -> Vec<Server> {
    let dir = std::env::temp_dir().join(format!("fhir-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = Store::open_sqlite(&dir.join("fhir.db"), Catalog::of::<Resource>()).unwrap();
    let url = fhir_tests::postgres::server().database(name);
    let postgres = fhir_store::postgres::open(&url, Catalog::of::<Resource>()).unwrap();
    vec![
        Server {
            base: launch_with(sqlite, &configure),
            engine: "sqlite",
            dir: Some(dir),
        },
        Server {
            base: launch_with(postgres, &configure),
            engine: "postgres",
            dir: None,
        },
    ]
}
