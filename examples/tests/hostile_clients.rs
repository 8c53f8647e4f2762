//! Hostile clients against the in-memory server launched with
//! `fhir_rocket::connection::launch_on` and short limits: idle and slow connections are
//! closed, oversized requests get OperationOutcome answers. Loopback only; every wait is
//! bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const HEADER_TIMEOUT: f64 = 1.0;
const IDLE_TIMEOUT: f64 = 0.5;
const BODY_TIMEOUT: f64 = 1.0;
const SEND_TIMEOUT: f64 = 1.0;
/// No test waits longer than this for the server to close a connection.
const LIMIT: Duration = Duration::from_secs(6);

/// The port of one server shared by all tests.
fn port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let figment = rocket::Config::figment()
            .merge(("connection.header_timeout", HEADER_TIMEOUT))
            .merge(("connection.idle_timeout", IDLE_TIMEOUT))
            .merge(("connection.body_timeout", BODY_TIMEOUT))
            .merge(("connection.send_timeout", SEND_TIMEOUT))
            .merge(("connection.max_uri_length", "2 KiB"))
            .merge(("connection.max_header_bytes", "4 KiB"))
            .merge(("connection.max_body", "64 KiB"));
        let rocket = fhir_examples::memory_server()
            .mount("/test", rocket::routes![slow, big])
            .configure(figment);
        let root = fhir_examples::launch_on_loopback(rocket);
        root.rsplit(':').next().unwrap().parse().expect("a port")
    })
}

fn connect() -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

/// Reads until the server closes `s` (or [`LIMIT`] passes), calling `drip` every 100 ms
/// while it is open; returns what was read and when the connection was closed.
fn until_closed(s: &mut TcpStream, drip: impl FnMut(&mut TcpStream)) -> (String, Duration) {
    let (got, _, closed) = answer_and_close(s, drip);
    (got, closed)
}

/// [`until_closed`], and when the first byte of an answer came.
fn answer_and_close(
    s: &mut TcpStream,
    mut drip: impl FnMut(&mut TcpStream),
) -> (String, Option<Duration>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut first = None;
    let mut buf = [0u8; 4096];
    while start.elapsed() < LIMIT {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into(), first, start.elapsed()),
            Ok(n) => {
                first.get_or_insert(start.elapsed());
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => drip(s),
            Err(_) => return (String::from_utf8_lossy(&got).into(), first, start.elapsed()),
        }
    }
    panic!(
        "still open after {LIMIT:?}; read: {}",
        String::from_utf8_lossy(&got)
    );
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let mut s = connect();
    let (got, after) = until_closed(&mut s, |_| {});
    assert_eq!(got, "");
    assert!(after >= secs(IDLE_TIMEOUT * 0.8), "{after:?}");
    assert!(after < secs(IDLE_TIMEOUT + 2.0), "{after:?}");
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_cut_off_after_the_header_timeout() {
    let mut s = connect();
    s.write_all(b"GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .unwrap();
    // A byte every 100 ms keeps the connection busy, never idle.
    let (got, after) = until_closed(&mut s, |s| {
        let _ = s.write_all(b"a");
    });
    assert_eq!(got, "");
    assert!(after >= secs(HEADER_TIMEOUT * 0.8), "{after:?}");
    assert!(after < secs(HEADER_TIMEOUT + 2.0), "{after:?}");
}

#[test]
fn a_body_that_stops_half_way_gets_408_and_is_closed() {
    let mut s = connect();
    let body = br#"{"resourceType":"Patient","name":[{"family":"Slow"}]}"#;
    let head = format!(
        "POST /fhir/Patient HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    let (got, answered, closed) = answer_and_close(&mut s, |_| {});
    assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
    assert!(
        got.contains("\"resourceType\":\"OperationOutcome\""),
        "{got}"
    );
    assert!(got.contains("\"code\":\"timeout\""), "{got}");
    let answered = answered.unwrap();
    assert!(answered >= secs(BODY_TIMEOUT * 0.8), "{answered:?}");
    assert!(answered < secs(BODY_TIMEOUT + 1.0), "{answered:?}");
    // Closed after at most 2 s of lingering for the rest of the body.
    assert!(closed < answered + secs(2.0 + 1.0), "{closed:?}");
}

#[test]
fn a_body_that_stops_within_rockets_peek_gets_408() {
    // Rocket itself waits for the first 14 body bytes before any handler runs, without a
    // timeout; the front end reads bodies first.
    let mut s = connect();
    s.write_all(
        b"POST /fhir/Patient HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/fhir+json\r\nContent-Length: 50\r\n\r\n{\"re",
    )
    .unwrap();
    let (got, answered, _) = answer_and_close(&mut s, |_| {});
    assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
    assert!(answered.unwrap() < secs(BODY_TIMEOUT + 1.0));
}

#[test]
fn a_body_sent_a_byte_at_a_time_is_cut_off_after_the_body_timeout() {
    let mut s = connect();
    s.write_all(
        b"POST /fhir/Patient HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/fhir+json\r\nContent-Length: 10000\r\n\r\n{",
    )
    .unwrap();
    let (got, answered, closed) = answer_and_close(&mut s, |s| {
        let _ = s.write_all(b" ");
    });
    assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
    let answered = answered.unwrap();
    assert!(answered < secs(BODY_TIMEOUT + 1.0), "{answered:?}");
    assert!(closed < answered + secs(2.0 + 1.0), "{closed:?}");
}

#[test]
fn a_keep_alive_connection_is_closed_when_idle_after_its_response() {
    let mut s = connect();
    s.write_all(b"GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let (got, after) = until_closed(&mut s, |_| {});
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    assert!(got.contains("CapabilityStatement"), "{got}");
    assert!(after < secs(IDLE_TIMEOUT + 2.0), "{after:?}");
    assert!(start.elapsed() >= secs(IDLE_TIMEOUT * 0.8));
}

/// Sends `request` on `s` and reads until the answer contains `end`.
fn exchange(s: &mut TcpStream, request: &str, end: &str) -> (String, Duration) {
    s.write_all(request.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let start = Instant::now();
    while !String::from_utf8_lossy(&got).contains(end) {
        assert!(start.elapsed() < LIMIT, "{}", String::from_utf8_lossy(&got));
        match s.read(&mut buf) {
            Ok(0) => panic!("closed: {}", String::from_utf8_lossy(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&got).into(), start.elapsed())
}

#[test]
fn a_keep_alive_connection_serves_requests_within_the_idle_timeout() {
    let mut s = connect();
    for _ in 0..3 {
        let request = "GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\n\r\n";
        exchange(&mut s, request, "CapabilityStatement");
        std::thread::sleep(secs(IDLE_TIMEOUT * 0.5));
    }
}

#[rocket::get("/slow")]
async fn slow() -> &'static str {
    rocket::tokio::time::sleep(secs(IDLE_TIMEOUT * 3.0)).await;
    "done"
}

/// More than the socket buffers of a loopback connection hold.
const BIG: usize = 32 << 20;

#[rocket::get("/big")]
fn big() -> String {
    "b".repeat(BIG)
}

#[test]
fn a_client_that_stops_reading_is_cut_off_after_the_send_timeout() {
    let mut s = connect();
    s.write_all(b"GET /test/big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    // Not reading: the server's writes wait until the send timeout closes the connection.
    std::thread::sleep(secs(SEND_TIMEOUT + 2.0));
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let start = Instant::now();
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        assert!(start.elapsed() < LIMIT, "{total} bytes read, still open");
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{e} after {total} bytes"),
        }
    }
    assert!(total < BIG, "{total} bytes: the whole response came");
}

#[test]
fn a_slow_response_is_not_an_idle_connection() {
    let mut s = connect();
    let request = "GET /test/slow HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let (got, took) = exchange(&mut s, request, "done");
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    assert!(took >= secs(IDLE_TIMEOUT * 3.0), "{took:?}");
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn get(path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut request = agent().get(format!("http://127.0.0.1:{}{path}", port()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().expect("a response");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), content_type, body)
}

fn diagnostics(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(v["issue"][0]["code"], "too-long", "{body}");
    v["issue"][0]["diagnostics"].as_str().unwrap().to_string()
}

#[test]
fn a_uri_over_the_limit_gets_414_with_an_operation_outcome() {
    let family = "x".repeat(3000);
    let (status, content_type, body) = get(&format!("/fhir/Patient?family={family}"), &[]);
    assert_eq!(status, 414, "{body}");
    assert!(
        content_type.starts_with("application/fhir+json"),
        "{content_type}"
    );
    assert!(diagnostics(&body).contains("at most 2048 bytes"), "{body}");

    let (status, content_type, body) = get(
        &format!("/fhir/Patient?family={family}"),
        &[("Accept", "application/fhir+xml")],
    );
    assert_eq!(status, 414);
    assert!(
        content_type.starts_with("application/fhir+xml"),
        "{content_type}"
    );
    assert!(
        body.starts_with("<OperationOutcome xmlns=\"http://hl7.org/fhir\">"),
        "{body}"
    );
}

#[test]
fn headers_over_the_limit_get_431_with_an_operation_outcome() {
    let big = "y".repeat(5000);
    let (status, content_type, body) = get("/fhir/metadata", &[("X-Big", &big)]);
    assert_eq!(status, 431, "{body}");
    assert!(
        content_type.starts_with("application/fhir+json"),
        "{content_type}"
    );
    assert!(
        diagnostics(&body).contains("at most 100 fields of 4096 bytes"),
        "{body}"
    );
}

#[test]
fn a_body_over_the_limit_gets_413_with_an_operation_outcome() {
    let body = format!(
        r#"{{"resourceType":"Patient","text":{{"status":"generated","div":"{}"}}}}"#,
        "z".repeat(70 << 10)
    );
    let mut response = agent()
        .post(format!("http://127.0.0.1:{}/fhir/Patient", port()))
        .header("Content-Type", "application/fhir+json")
        .send(&body)
        .expect("a response");
    assert_eq!(response.status().as_u16(), 413);
    let body = response.body_mut().read_to_string().unwrap();
    assert!(body.contains("\"code\":\"too-long\""), "{body}");
}

#[test]
fn requests_within_the_limits_are_served_by_rocket() {
    let patient = r#"{"resourceType":"Patient","name":[{"family":"Within"}]}"#;
    let mut created = agent()
        .post(format!("http://127.0.0.1:{}/fhir/Patient", port()))
        .header("Content-Type", "application/fhir+json")
        .send(patient)
        .expect("a response");
    assert_eq!(created.status().as_u16(), 201);
    let location = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_string();
    let _ = created.body_mut().read_to_string();
    let path = location
        .split("/fhir/")
        .nth(1)
        .map(|p| format!("/fhir/{}", p.split("/_history").next().unwrap()))
        .expect("a path in the Location");
    let (status, _, body) = get(&path, &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Within"), "{body}");
    // Long, but within the limits.
    let (status, _, body) = get(&format!("/fhir/Patient?family={}", "w".repeat(1500)), &[]);
    assert_eq!(status, 200, "{body}");
}

#[rocket::get("/same")]
fn same_one() -> &'static str {
    "one"
}

#[rocket::get("/same")]
fn same_two() -> &'static str {
    "two"
}

#[test]
fn a_server_that_cannot_ignite_is_told_at_once_not_waited_for() {
    let figment = rocket::Config::figment().merge(("log_level", "off"));
    // Two routes on one path and rank: Rocket refuses to ignite.
    let rocket = rocket::custom(figment).mount("/", rocket::routes![same_one, same_two]);
    let start = Instant::now();
    let error = fhir_rocket::connection::launch_in_background(rocket)
        .expect_err("colliding routes cannot be served");
    assert!(
        matches!(error, fhir_rocket::connection::LaunchError::Rocket(_)),
        "{error}"
    );
    assert_eq!(error.to_string(), "collisions detected");
    assert!(start.elapsed() < LIMIT, "{:?}", start.elapsed());
}
