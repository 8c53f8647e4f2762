//! Connection limits for hostile clients: timeouts for idle connections, slow request heads
//! and slow bodies, and size limits answered with OperationOutcome bodies.
//!
//! Rocket 0.5.2 cannot do this itself: its server builds hyper's HTTP/1 connection with
//! `header_read_timeout(None)` and no timer (`rocket/src/server.rs`, `Rocket::serve`), has no
//! other timeout in its `Config` (`read_timeout` and `write_timeout` are listed as deprecated
//! keys and ignored), and its only way to serve a custom listener, `Rocket::http_server`, is
//! `pub(crate)`. An idle socket, a request head sent a byte at a time or a body that stops
//! half way therefore holds its connection (and file descriptor) for ever, and hyper's own
//! `414` and `431` answers have no body. A timeout around `Data::open(..)` in a handler does
//! not help either: before any fairing or handler runs, Rocket's `preprocess_request` waits,
//! without a timeout, for the first 14 bytes of every body (its `_method` form check), so a
//! body that stops before them never reaches the handler.
//!
//! [`launch`] serves Rocket on a hyper HTTP/1.1 server of its own, in the same process and
//! on the configured address and port, with the limits below. The one public way to hand a
//! request to Rocket without Rocket's server is its local client
//! ([`rocket::local::asynchronous::Client`]), which runs the same code as Rocket's server
//! (`preprocess_request`, `dispatch`: fairings, routing, catchers, `HEAD`, the `Server`
//! header); [`launch`] uses it the way Rocket's server uses hyper: the request's method, URI,
//! headers, cookies, host, client address and body go in, the response's status, headers
//! and body (streamed) come out.
//!
//! * `header_timeout` (10 s): the whole request head must arrive within it (slow headers,
//!   "slowloris"); hyper's `header_read_timeout`. The connection is closed without a reply.
//!   hyper also starts it when a keep-alive connection waits for its next request, so with
//!   `idle_timeout = 0` idle connections still close after `header_timeout`.
//! * `idle_timeout` (5 s): a connection with no request in progress and no bytes in either
//!   direction for this long is closed (new connections that send nothing, keep-alive
//!   connections between requests, request heads that stop).
//! * `body_timeout` (30 s): the whole body must arrive within it after the head; otherwise
//!   `408` with an OperationOutcome, and the connection is closed.
//! * `send_timeout` (30 s): a response write that the client does not take (it stopped
//!   reading, and the socket buffers are full) for this long closes the connection.
//! * `max_uri_length` (8 KiB), `max_header_bytes` (32 KiB, names and values), `max_headers`
//!   (100): `414` and `431` with an OperationOutcome, and the connection is closed. hyper's
//!   own limits stay above them and still answer without a body: a request target over
//!   65534 bytes (`MAX_URI_LEN`, hyper's `proto/h1/role.rs`) and a head larger than the read
//!   buffer, set to twice `max_uri_length + max_header_bytes` (at least 64 KiB).
//! * `max_body` (64 MiB, as `Limits::body`): `413` with an OperationOutcome. Bodies are read in full by the front
//!   end before Rocket sees them, so Rocket's data limits still apply on top.
//!
//! A timeout of `0` turns it off. They are read from Rocket's configuration, table
//! `connection`, in seconds (fractions allowed); sizes take Rocket's byte units:
//!
//! ```toml
//! [default.connection]
//! header_timeout = 10
//! idle_timeout = 5
//! body_timeout = 30
//! send_timeout = 30
//! max_uri_length = "8 KiB"
//! max_header_bytes = "32 KiB"
//! max_headers = 100
//! max_body = "64 MiB"
//! ```
//!
//! or `ROCKET_CONNECTION='{header_timeout=10,idle_timeout=5}'`.
//!
//! What differs from `rocket.launch()`: the front end speaks HTTP/1.1 only (no HTTP/2, no
//! TLS, no protocol upgrades such as WebSockets); request bodies are read in full (up to
//! `max_body`) before Rocket sees them; Rocket logs "launched locally"; Ctrl-C and SIGTERM
//! shut down as with Rocket, honouring `shutdown.ctrlc`, `shutdown.signals` (`term`, `int`,
//! `hup`, `quit`) and `shutdown.grace`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rocket::data::ByteUnit;
use rocket::figment::Figment;
use rocket::http::uri::{Host, Origin};
use rocket::http::{Cookie, Method};
use rocket::local::asynchronous::Client;
use rocket::serde::Deserialize;
use rocket::{Build, Rocket, Shutdown};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Timeouts and size limits of client connections; see the [module](self) documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The time to receive a whole request head. Zero: no limit.
    pub header_timeout: Duration,
    /// The time a connection may stay without a request in progress and without traffic.
    /// Zero: no limit.
    pub idle_timeout: Duration,
    /// The time to receive a whole request body, from the end of its head. Zero: no limit.
    pub body_timeout: Duration,
    /// The longest a write of the response may wait for the client to read. Zero: no
    /// limit.
    pub send_timeout: Duration,
    /// The longest request target (path and query), in bytes.
    pub max_uri_length: usize,
    /// The most bytes of header names and values (with `": "` and CRLF) in a request.
    pub max_header_bytes: usize,
    /// The most header fields in a request.
    pub max_headers: usize,
    /// The largest request body, in bytes.
    pub max_body: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
            max_uri_length: 8 << 10,
            max_header_bytes: 32 << 10,
            max_headers: 100,
            // The same default as the server's own body limit.
            max_body: crate::config::Limits::default().body,
        }
    }
}

/// The `connection` table of Rocket's configuration, as written there.
#[derive(Deserialize)]
#[serde(crate = "rocket::serde", default, deny_unknown_fields)]
struct RawLimits {
    header_timeout: f64,
    idle_timeout: f64,
    body_timeout: f64,
    send_timeout: f64,
    max_uri_length: ByteUnit,
    max_header_bytes: ByteUnit,
    max_headers: usize,
    max_body: ByteUnit,
}

impl Default for RawLimits {
    fn default() -> Self {
        let d = ConnectionLimits::default();
        RawLimits {
            header_timeout: d.header_timeout.as_secs_f64(),
            idle_timeout: d.idle_timeout.as_secs_f64(),
            body_timeout: d.body_timeout.as_secs_f64(),
            send_timeout: d.send_timeout.as_secs_f64(),
            max_uri_length: ByteUnit::from(d.max_uri_length),
            max_header_bytes: ByteUnit::from(d.max_header_bytes),
            max_headers: d.max_headers,
            max_body: ByteUnit::from(d.max_body),
        }
    }
}

impl ConnectionLimits {
    /// The key of the limits' table in Rocket's configuration.
    pub const CONFIG_KEY: &'static str = "connection";

    /// The limits in the `connection` table of `figment`, the defaults for what it leaves out.
    pub fn from_figment(figment: &Figment) -> Result<Self, Box<rocket::figment::Error>> {
        let raw: RawLimits = if figment.contains(Self::CONFIG_KEY) {
            figment.extract_inner(Self::CONFIG_KEY).map_err(Box::new)?
        } else {
            RawLimits::default()
        };
        let secs = |name: &str, s: f64| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                Box::new(rocket::figment::Error::from(format!(
                    "{}.{name}: {s} is not a number of seconds",
                    Self::CONFIG_KEY
                )))
            })
        };
        Ok(ConnectionLimits {
            header_timeout: secs("header_timeout", raw.header_timeout)?,
            idle_timeout: secs("idle_timeout", raw.idle_timeout)?,
            body_timeout: secs("body_timeout", raw.body_timeout)?,
            send_timeout: secs("send_timeout", raw.send_timeout)?,
            max_uri_length: raw.max_uri_length.as_u64() as usize,
            max_header_bytes: raw.max_header_bytes.as_u64() as usize,
            max_headers: raw.max_headers,
            max_body: raw.max_body.as_u64(),
        })
    }
}

/// Why [`launch`] failed.
#[derive(Debug)]
pub enum LaunchError {
    /// The configuration (`address`, `port` or the `connection` table) is not valid.
    Config(Box<rocket::figment::Error>),
    /// The public address could not be bound.
    Bind(SocketAddr, std::io::Error),
    /// Rocket failed to launch or to shut down.
    Rocket(Box<rocket::Error>),
    /// The server launched in the background did not answer HTTP (and why).
    Unanswered(SocketAddr, String),
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::Config(e) => write!(f, "invalid configuration: {e}"),
            LaunchError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            LaunchError::Rocket(e) => write!(f, "{e}"),
            LaunchError::Unanswered(addr, why) => write!(f, "no answer from {addr}: {why}"),
        }
    }
}

impl std::error::Error for LaunchError {}

/// Launches `rocket` behind the connection limits of its configuration, in place of
/// `rocket.launch()`: on the configured address and port, until Rocket is shut down
/// (Ctrl-C, SIGTERM or [`Shutdown::notify`]).
///
/// ```rust,no_run
/// # fn server() -> rocket::Rocket<rocket::Build> { rocket::build() }
/// #[rocket::main]
/// async fn main() {
///     if let Err(e) = fhir_rocket::connection::launch(server()).await {
///         eprintln!("{e}");
///         std::process::exit(1);
///     }
/// }
/// ```
pub async fn launch(rocket: Rocket<Build>) -> Result<(), LaunchError> {
    let config =
        rocket::Config::try_from(rocket.figment()).map_err(|e| LaunchError::Config(Box::new(e)))?;
    let public = SocketAddr::new(config.address, config.port);
    let listener = TcpListener::bind(public)
        .await
        .map_err(|e| LaunchError::Bind(public, e))?;
    serve(rocket, listener).await
}

/// [`launch`] on a listener already bound, in place of the configured address and port.
///
/// Binding first is how a caller learns the port of port 0 before the server runs, with no
/// moment in which another process could take it: tests and tools that start a server on
/// a free port, and servers handed a socket by their supervisor.
///
/// ```rust,no_run
/// # fn server() -> rocket::Rocket<rocket::Build> { rocket::build() }
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = listener.local_addr().unwrap().port();
/// std::thread::spawn(move || {
///     rocket::execute(fhir_rocket::connection::launch_on(server(), listener))
/// });
/// // Connections to `port` wait in the listener's queue until the server accepts them.
/// println!("serving http://127.0.0.1:{port}");
/// ```
pub async fn launch_on(
    rocket: Rocket<Build>,
    listener: std::net::TcpListener,
) -> Result<(), LaunchError> {
    let public = listener
        .local_addr()
        .map_err(|e| LaunchError::Bind(SocketAddr::from(([0, 0, 0, 0], 0)), e))?;
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(listener))
        .map_err(|e| LaunchError::Bind(public, e))?;
    serve(rocket, listener).await
}

/// [`launch_on`] a free loopback port, in a thread of its own with its own runtime: the
/// server's address once it answers HTTP. For tests, benchmarks and tools that run a server
/// beside themselves; it serves until the process ends or Rocket is shut down.
///
/// An error is the server's own when it stopped before serving (Rocket's ignition failed),
/// or a timeout after 20 seconds without an answer.
///
/// ```rust,no_run
/// # fn server() -> rocket::Rocket<rocket::Build> { rocket::build() }
/// let address = fhir_rocket::connection::launch_in_background(server()).unwrap();
/// let base = format!("http://{address}/fhir");
/// # let _ = base;
/// ```
pub fn launch_in_background(rocket: Rocket<Build>) -> Result<SocketAddr, LaunchError> {
    use std::io::{Read, Write};
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener =
        std::net::TcpListener::bind(loopback).map_err(|e| LaunchError::Bind(loopback, e))?;
    let address = listener
        .local_addr()
        .map_err(|e| LaunchError::Bind(loopback, e))?;
    let server = std::thread::spawn(move || rocket::execute(launch_on(rocket, listener)));
    // Connections wait in the listener's queue from the start; the first answer (of any
    // status) says that Rocket has ignited and serves.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answered = std::net::TcpStream::connect(address).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
            let mut first = [0u8; 5];
            s.read_exact(&mut first)?;
            Ok(&first == b"HTTP/")
        });
        if answered.unwrap_or(false) {
            return Ok(address);
        }
        if server.is_finished() {
            return match server.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(LaunchError::Unanswered(address, "it stopped".into())),
            };
        }
        if Instant::now() > deadline {
            return Err(LaunchError::Unanswered(address, "no answer in 20 s".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn serve(rocket: Rocket<Build>, listener: TcpListener) -> Result<(), LaunchError> {
    let figment = rocket.figment().clone();
    let limits = ConnectionLimits::from_figment(&figment).map_err(LaunchError::Config)?;
    let config = rocket::Config::try_from(figment).map_err(|e| LaunchError::Config(Box::new(e)))?;
    let public = listener
        .local_addr()
        .unwrap_or(SocketAddr::new(config.address, config.port));

    // Ignites Rocket and runs its liftoff fairings.
    let client = Arc::new(Client::untracked(rocket).await.map_err(|e| {
        // Rocket's error panics when dropped unseen; ours is an ordinary value.
        let _ = e.kind();
        LaunchError::Rocket(Box::new(e))
    })?);
    let shutdown = client.rocket().shutdown();
    watch_signals(&config.shutdown, shutdown.clone());
    if config.log_level != rocket::config::LogLevel::Off {
        println!("fhir-rocket: serving http://{public}; {limits}");
    }
    let shared = Arc::new(Shared { client, limits });
    accept_loop(listener, shared.clone(), shutdown).await;

    // Lets connections finish their responses within the grace period, then runs the
    // shutdown fairings.
    let grace = Duration::from_secs(u64::from(config.shutdown.grace));
    let deadline = Instant::now() + grace;
    let mut shared = shared;
    loop {
        match Arc::try_unwrap(shared) {
            Ok(unique) => {
                if let Ok(client) = Arc::try_unwrap(unique.client) {
                    client.terminate().await;
                }
                break;
            }
            Err(still_shared) if Instant::now() < deadline => {
                shared = still_shared;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => break,
        }
    }
    Ok(())
}

/// Notifies `shutdown` on the signals of Rocket's `shutdown` configuration (Ctrl-C, and
/// on Unix `term`, `int`, `hup` and `quit`).
fn watch_signals(config: &rocket::config::Shutdown, shutdown: Shutdown) {
    if config.ctrlc {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                shutdown.notify();
            }
        });
    }
    #[cfg(unix)]
    {
        use rocket::config::Sig;
        use tokio::signal::unix::{signal, SignalKind};
        for sig in &config.signals {
            let kind = match sig {
                Sig::Term => SignalKind::terminate(),
                Sig::Int => SignalKind::interrupt(),
                Sig::Hup => SignalKind::hangup(),
                Sig::Quit => SignalKind::quit(),
                _ => continue,
            };
            if let Ok(mut stream) = signal(kind) {
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    if stream.recv().await.is_some() {
                        shutdown.notify();
                    }
                });
            }
        }
    }
}

impl fmt::Display for ConnectionLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timeouts: header {:?}, idle {:?}, body {:?}, send {:?}; limits: URI {} B, headers {} B / {}, body {} B",
            self.header_timeout,
            self.idle_timeout,
            self.body_timeout,
            self.send_timeout,
            self.max_uri_length,
            self.max_header_bytes,
            self.max_headers,
            self.max_body
        )
    }
}

/// What every connection shares.
struct Shared {
    client: Arc<Client>,
    limits: ConnectionLimits,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: Shutdown) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.clone() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(
                    stream,
                    peer,
                    shared.clone(),
                    shutdown.clone(),
                ));
            }
            // Out of file descriptors, most likely: wait for connections to close.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// When a connection last moved bytes, and how many requests are in progress on it.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// When a write to the client started to wait (ms since `start`, plus one); 0: none is.
    blocked_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            blocked_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    fn write_blocked(&self, blocked: bool) {
        let now = if blocked {
            self.start.elapsed().as_millis() as u64 + 1
        } else {
            0
        };
        let was = self.blocked_ms.load(Ordering::Relaxed);
        if blocked != (was != 0) {
            self.blocked_ms.store(now, Ordering::Relaxed);
        }
    }

    /// Resolves when the connection has had no request in progress and no traffic for
    /// `idle`, or a write has waited for the client for `send`; zero turns either off.
    async fn expired(&self, idle: Duration, send: Duration) {
        if idle.is_zero() && send.is_zero() {
            return std::future::pending().await;
        }
        loop {
            let mut wait = Duration::from_secs(3600);
            if !idle.is_zero() {
                let quiet = self.quiet_for();
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    if quiet >= idle {
                        return;
                    }
                    wait = wait.min(idle - quiet);
                } else {
                    wait = wait.min(idle);
                }
            }
            if !send.is_zero() {
                match self.blocked_ms.load(Ordering::Relaxed) {
                    0 => wait = wait.min(send),
                    since => {
                        let since = Duration::from_millis(since - 1);
                        let blocked = self.start.elapsed().saturating_sub(since);
                        if blocked >= send {
                            return;
                        }
                        wait = wait.min(send - blocked);
                    }
                }
            }
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

/// A request in progress, until its response body has been written (or dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The client's socket, noting each read and write in its [`Activity`].
///
/// Its shutdown lingers: it sends FIN, then reads and drops what the client still sends
/// (at most [`LINGER_BYTES`], for at most [`LINGER`]) until the client closes too. Closing
/// with unread bytes would send a reset, which makes the client's kernel drop the error
/// response the client has not read yet (a `413` sent before the body was read, say).
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
    drained: usize,
}

const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl Watched {
    fn wrote(&self, poll: &Poll<std::io::Result<usize>>) {
        match poll {
            Poll::Ready(Ok(n)) => {
                if *n > 0 {
                    self.activity.touch();
                }
                self.activity.write_blocked(false);
            }
            Poll::Ready(Err(_)) => self.activity.write_blocked(false),
            Poll::Pending => self.activity.write_blocked(true),
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&poll);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut scratch = [0u8; 8192];
        loop {
            if let Some(linger) = this.linger.as_mut() {
                if linger.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Ok(()));
                }
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    this.drained += buf.filled().len();
                    if this.drained > LINGER_BYTES {
                        return Poll::Ready(Ok(()));
                    }
                }
                // The client closed its side too, or the connection is gone.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// One client connection.
struct Proxy {
    shared: Arc<Shared>,
    peer: SocketAddr,
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) {
    let activity = Arc::new(Activity::new());
    let limits = &shared.limits;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(Some(limits.header_timeout).filter(|d| !d.is_zero()))
        // hyper's own limits, which answer without a body, lie above ours.
        .max_headers(limits.max_headers.saturating_mul(2).max(100))
        .max_buf_size(
            (limits.max_uri_length + limits.max_header_bytes)
                .saturating_mul(2)
                .max(64 << 10),
        );
    let proxy = Arc::new(Proxy {
        shared: shared.clone(),
        peer,
    });
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |req| {
        let proxy = proxy.clone();
        let in_flight = InFlight::new(service_activity.clone());
        async move {
            let response = proxy.respond(req).await;
            Ok::<_, Infallible>(response.map(|body| Guarded {
                body,
                _in_flight: in_flight,
            }))
        }
    });
    let io = TokioIo::new(Watched {
        io: stream,
        activity: activity.clone(),
        linger: None,
        drained: 0,
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        // Dropping the connection closes the socket.
        _ = activity.expired(shared.limits.idle_timeout, shared.limits.send_timeout) => {}
        _ = shutdown => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

/// The response body, holding the request's [`InFlight`] until it is written.
struct Guarded<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

type ProxyBody = Either<Full<Bytes>, Streamed>;

/// A response body streamed from the task that reads Rocket's response.
struct Streamed {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    size: Option<u64>,
}

impl Body for Streamed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        match self.size {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// Headers that belong to one connection, not to the request or response.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Reads a whole request body of at most `max` bytes into one buffer, sized from the declared
/// Content-Length so that a large body is not grown and copied again as it arrives (collecting
/// hyper's frames and joining them cost a tenth of a large transaction's time).
async fn read_body(
    body: Incoming,
    max: usize,
    declared: Option<u64>,
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(max).min(max));
    let mut buffer = Vec::with_capacity(capacity);
    let mut body = Limited::new(body, max);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer)
}

impl Proxy {
    async fn respond(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let limits = &self.shared.limits;
        let xml = wants_xml(&req);

        let uri_length = req
            .uri()
            .path_and_query()
            .map_or(req.uri().to_string().len(), |p| p.as_str().len());
        if uri_length > limits.max_uri_length {
            return outcome(
                StatusCode::URI_TOO_LONG,
                "too-long",
                &format!(
                    "the request URI is {uri_length} bytes long; this server accepts at most {} bytes",
                    limits.max_uri_length
                ),
                xml,
            );
        }
        let header_count = req.headers().len();
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        if header_count > limits.max_headers || header_bytes > limits.max_header_bytes {
            return outcome(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too-long",
                &format!(
                    "the request has {header_count} header fields of {header_bytes} bytes; this server accepts at most {} fields of {} bytes",
                    limits.max_headers, limits.max_header_bytes
                ),
                xml,
            );
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_body) {
            return too_large(limits.max_body, xml);
        }

        let (mut parts, body) = req.into_parts();
        let body = read_body(body, limits.max_body as usize, declared);
        let body = if limits.body_timeout.is_zero() {
            body.await
        } else {
            match tokio::time::timeout(limits.body_timeout, body).await {
                Ok(body) => body,
                Err(_) => {
                    return outcome(
                        StatusCode::REQUEST_TIMEOUT,
                        "timeout",
                        &format!(
                            "the request body did not arrive within {} s",
                            limits.body_timeout.as_secs_f64()
                        ),
                        xml,
                    )
                }
            }
        };
        let body = match body {
            Ok(body) => body,
            Err(e) if e.is::<LengthLimitError>() => return too_large(limits.max_body, xml),
            Err(e) => {
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    &format!("the request body could not be read: {e}"),
                    xml,
                )
            }
        };

        let Ok(method) = parts.method.as_str().parse::<Method>() else {
            return outcome(
                StatusCode::NOT_IMPLEMENTED,
                "not-supported",
                &format!("the method {} is not supported", parts.method),
                xml,
            );
        };
        strip_hop_by_hop(&mut parts.headers);
        if !body.is_empty() || declared.is_some() {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        self.dispatch(method, parts, body).await
    }

    /// Hands the request to Rocket through its local client, as Rocket's own server does
    /// with hyper's requests (`rocket/src/server.rs`, `hyper_service_fn`, and
    /// `Request::from_hyp`), and streams the response back.
    async fn dispatch(
        &self,
        method: Method,
        parts: hyper::http::request::Parts,
        body: Vec<u8>,
    ) -> Response<ProxyBody> {
        let (head_tx, head_rx) = tokio::sync::oneshot::channel();
        let client = self.shared.client.clone();
        let peer = self.peer;
        // Rocket's response borrows the request, which borrows the client: one task owns
        // them all and sends the response head, then the body in chunks.
        tokio::spawn(async move {
            let path = parts.uri.path().to_string();
            let query = parts.uri.query().map(str::to_string);
            // Rocket makes its `Origin` from hyper's URI the same way, without parsing it
            // again (`Request::from_hyp`).
            let origin = Origin::new(path, query);
            let mut request = client.req(method, origin).remote(peer);
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| Host::parse_owned(h.to_string()).ok());
            if let Some(host) = host {
                request.inner_mut().set_host(host);
            }
            for cookies in parts.headers.get_all(header::COOKIE) {
                let Ok(cookies) = cookies.to_str() else {
                    continue;
                };
                for cookie in cookies.split(';').map(str::trim) {
                    if let Ok(cookie) = Cookie::parse_encoded(cookie.to_string()) {
                        request = request.cookie(cookie);
                    }
                }
            }
            for (name, value) in parts.headers.iter() {
                // As Rocket: header values must be UTF-8.
                if let Ok(value) = value.to_str() {
                    request.add_header(rocket::http::Header::new(
                        name.as_str().to_string(),
                        value.to_string(),
                    ));
                }
            }
            let mut response = request.body(body).dispatch().await;

            let mut head = Response::builder().status(response.status().code);
            for h in response.headers().iter() {
                head = head.header(h.name.as_str(), h.value.as_bytes());
            }
            let size = if response.headers().contains("Transfer-Encoding") {
                None
            } else {
                response.body().preset_size().map(|n| n as u64)
            };
            let (body_tx, body_rx) = tokio::sync::mpsc::channel(2);
            let streamed = Streamed { rx: body_rx, size };
            let Ok(head) = head.body(streamed) else {
                let _ = head_tx.send(None);
                return;
            };
            if head_tx.send(Some(head)).is_err() {
                return;
            }
            let mut buf = vec![0u8; 16 << 10];
            loop {
                match response.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if body_tx
                            .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = body_tx.send(Err(e)).await;
                        break;
                    }
                }
            }
        });
        match head_rx.await {
            Ok(Some(mut response)) => {
                strip_hop_by_hop(response.headers_mut());
                response.map(Either::Right)
            }
            _ => outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "internal server error",
                false,
            ),
        }
    }
}

/// Whether an error for `req` should be FHIR XML: `_format` or `Accept` asks for XML and
/// not for JSON.
fn wants_xml<B>(req: &Request<B>) -> bool {
    let format = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("_format="))
            .map(|v| v.to_ascii_lowercase())
    });
    if let Some(format) = format {
        return format.contains("xml");
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    accept.contains("xml") && !accept.contains("json")
}

fn too_large(max: u64, xml: bool) -> Response<ProxyBody> {
    outcome(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-long",
        &format!("the request body is larger than {max} bytes"),
        xml,
    )
}

/// An error answered by the front end: an OperationOutcome, and the connection is closed
/// (its request may not have been read to the end).
fn outcome(
    status: StatusCode,
    code: &'static str,
    diagnostics: &str,
    xml: bool,
) -> Response<ProxyBody> {
    let (body, content_type) = if xml {
        let escaped = diagnostics
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        (
            format!(
                r#"<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/><code value="{code}"/><diagnostics value="{escaped}"/></issue></OperationOutcome>"#
            )
            .into_bytes(),
            "application/fhir+xml; charset=utf-8",
        )
    } else {
        (
            crate::http::operation_outcome("error", code, diagnostics),
            "application/fhir+json; charset=utf-8",
        )
    };
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_configuration() {
        let figment = rocket::Config::figment();
        assert_eq!(
            ConnectionLimits::from_figment(&figment).unwrap(),
            ConnectionLimits::default()
        );
        let figment = figment
            .merge(("connection.header_timeout", 0.5))
            .merge(("connection.idle_timeout", 0))
            .merge(("connection.max_uri_length", "1 KiB"))
            .merge(("connection.max_body", 1000));
        let limits = ConnectionLimits::from_figment(&figment).unwrap();
        assert_eq!(limits.header_timeout, Duration::from_millis(500));
        assert_eq!(limits.idle_timeout, Duration::ZERO);
        assert_eq!(limits.body_timeout, Duration::from_secs(30));
        assert_eq!(limits.max_uri_length, 1024);
        assert_eq!(limits.max_body, 1000);
        let bad = rocket::Config::figment().merge(("connection.header_timeout", -1.0));
        assert!(ConnectionLimits::from_figment(&bad).is_err());
        let unknown = rocket::Config::figment().merge(("connection.read_timeout", 1));
        assert!(ConnectionLimits::from_figment(&unknown).is_err());
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close, x-private"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("accept", HeaderValue::from_static("application/fhir+json"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("accept"));
    }
}
