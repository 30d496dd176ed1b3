//! Re-entrancy: **no user code runs while a library lock is held**.
//!
//! Every place where the library calls user code (a "place") must let that code call *any*
//! public API of the library without deadlocking, and the server (or client) must keep serving
//! afterwards. The known bug this guards against:
//! `io.ns("/", |socket: Socket| { socket.join("lobby"); async move {} })` runs the closure under
//! the server-wide state mutex, and `join` takes it again: the whole server deadlocks.
//!
//! # The matrix
//!
//! One test function per place and executor (`tokio::…`, `async_std::…`, `smol::…`, from
//! [`executor_tests!`]); each calls every API of its side ([`SERVER_APIS`] or [`CLIENT_APIS`])
//! from that place, each API on a fresh in-process server (and fresh clients):
//!
//! | test | place |
//! |------|-------|
//! | `connect_handler_sync` | (a) a connect handler's synchronous part (before `async move`) |
//! | `connect_handler_async` | (b) a connect handler's async block |
//! | `event_handler_sync` / `event_handler_async` | (c) an event handler (`Socket::on`), sync / async part |
//! | `middleware_sync` / `middleware_async` | (d) a connect middleware (`Namespace::with`), sync / async part |
//! | `allow_request_hook` | (e) the builder's `allow_request` hook |
//! | `dynamic_ns_matcher` | (f) the matcher closure of `Server::dynamic_ns` |
//! | `disconnect_handler_sync` / `disconnect_handler_async` / `disconnecting_handler_sync` | (g) `on_disconnect` (sync / async part), `on_disconnecting` |
//! | `hook_socket_connected` / `hook_room_change` / `hook_transport_event` | (i) the server-wide observers `Server::on_socket_connected` / `on_room_change` / `on_transport_event` |
//! | `hook_any_incoming` / `hook_any_outgoing` | (i) `Socket::on_any_incoming` / `on_any_outgoing` |
//! | `runtime_now` / `runtime_spawn` / `runtime_sleep` | a user [`Runtime`]'s `now` / `spawn` / `sleep` (extra) |
//! | `client_auth_fn_connect` / `client_auth_fn_reconnect` | (h) the client's `auth_fn`, on `connect` / on a reconnection |
//! | `client_event_handler_sync` / `client_event_handler_async` | (h) a client event handler, sync / async part |
//! | `client_connect_handler_sync` / `client_connect_handler_async` | (h) `ClientSocket::on_connect`, sync / async part |
//! | `client_disconnect_handler_sync` | (h) `ClientSocket::on_disconnect` |
//! | `client_connect_error_handler_sync` | (h) `ClientSocket::on_connect_error` |
//! | `client_reconnect_attempt_handler_sync` / `client_reconnect_handler_sync` | (h) `Client::on_reconnect_attempt` / `on_reconnect` |
//! | `client_connector` | a user client [`Connector`]'s `http` / `websocket` (extra) |
//!
//! For each (place, API): the place is armed (it acts once), something makes the library run it
//! (a client connects, emits, disconnects, ...), the place calls the API (a synchronous call; its
//! asynchronous part, e.g. awaiting an ack, is awaited in an async place and spawned in a
//! synchronous one), and then a fresh client must connect, get its CONNECT, a `welcome` event
//! and an event/ack round trip (for client places, the client under test must also answer and
//! do a round trip). Results of the APIs themselves (`Err(Disconnected)`, ...) do not matter:
//! only that the call returns and everything keeps working.
//!
//! # How a deadlock fails instead of hanging
//!
//! A deadlocked `std::sync::Mutex` blocks an executor thread for good (and, with async-std's and
//! smol's global executors, would starve every later test in the process). So the test function
//! (the *parent*) re-runs its own test binary for the work: each *child* process runs a list of
//! APIs for one place (`--exact <test> `, the list in the `REENTRANCY_CHILD_APIS` environment
//! variable) and prints one verdict line per API. Every wait in a child is bounded by
//! [`liveness`] (10 s, `REENTRANCY_LIVENESS_SECS`), and a watchdog thread ends the child
//! (`process::exit`) when nothing progressed for that long plus a grace, even if every executor
//! thread is blocked; it reports the place, the API and the exact call or wait that hung. The
//! parent runs the rest of the list in a new child, kills a child that overruns a hard limit,
//! and fails the test with the list of deadlocking (`DEADLOCK`), failing (`FAIL`) and
//! never-reached (`NOT-REACHED`, a bug of this test) APIs. Run with `-- --nocapture` to also see
//! one `@@matrix` line per (runtime, place, API).
#![allow(missing_docs)]

use std::collections::{BTreeMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::io::{Read, Write};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use ::smol::channel::{Receiver, Sender, unbounded};
use ::smol::future::FutureExt as _;
use socketio_tests::executor::Executor;
use socketio_tests::executor_tests;
use socketio_tokio::client::{
    AckSender as ClientAck, BoxFuture, BoxWebSocket, Client, ClientBuilder, ClientSocket,
    Connector, ConnectorError,
};
use socketio_tokio::tungstenite::http;
use socketio_tokio::{
    AckSender, BoxTask, ConnectError, DynamicNamespace, Handshake, Namespace, Runtime, Server,
    Socket, TransportKind, Value,
};

// ---------------------------------------------------------------------------------------------
// Settings

/// The environment variable that makes a run of this binary a child: the APIs to run, `,`-separated.
const CHILD_ENV: &str = "REENTRANCY_CHILD_APIS";
/// The marker of a child's verdict lines: `@@reentrancy\t<VERDICT>\t<api>\t<detail>`
/// (`VERDICT`: `PASS`, `FAIL`, `STUCK` or `NOT-REACHED`).
const MARKER: &str = "@@reentrancy";
/// What the watchdog adds to [`liveness`] before it ends a child whose executor is frozen.
const WATCHDOG_GRACE: Duration = Duration::from_secs(5);
/// The deadline of every ack the APIs wait for (their clients answer at once).
const ACK: Duration = Duration::from_secs(2);

/// The liveness timeout of every wait (10 s; `REENTRANCY_LIVENESS_SECS` to change it).
fn liveness() -> Duration {
    static SECS: OnceLock<u64> = OnceLock::new();
    Duration::from_secs(*SECS.get_or_init(|| {
        std::env::var("REENTRANCY_LIVENESS_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10)
    }))
}

/// How many child processes one test runs at a time (8; `REENTRANCY_PARALLEL`). A deadlocked
/// child only waits, so this mostly bounds how long the deadlocks of one place take to report.
fn parallel() -> usize {
    std::env::var("REENTRANCY_PARALLEL")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(8)
}

// ---------------------------------------------------------------------------------------------
// Places and APIs

/// Which side a place is on (which APIs it calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// A place where the library runs user code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    ConnectSync,
    ConnectAsync,
    EventSync,
    EventAsync,
    MiddlewareSync,
    MiddlewareAsync,
    AllowRequest,
    DynamicMatcher,
    DisconnectSync,
    DisconnectAsync,
    DisconnectingSync,
    HookSocketConnected,
    HookRoomChange,
    HookTransportEvent,
    HookAnyIncoming,
    HookAnyOutgoing,
    RuntimeNow,
    RuntimeSpawn,
    RuntimeSleep,
    ClientAuthConnect,
    ClientAuthReconnect,
    ClientEventSync,
    ClientEventAsync,
    ClientConnectSync,
    ClientConnectAsync,
    ClientDisconnectSync,
    ClientConnectErrorSync,
    ClientReconnectAttemptSync,
    ClientReconnectSync,
    ClientConnector,
}

impl Place {
    /// The test function's name (the child is run with `--exact <module>::<name>`).
    fn name(self) -> &'static str {
        match self {
            Place::ConnectSync => "connect_handler_sync",
            Place::ConnectAsync => "connect_handler_async",
            Place::EventSync => "event_handler_sync",
            Place::EventAsync => "event_handler_async",
            Place::MiddlewareSync => "middleware_sync",
            Place::MiddlewareAsync => "middleware_async",
            Place::AllowRequest => "allow_request_hook",
            Place::DynamicMatcher => "dynamic_ns_matcher",
            Place::DisconnectSync => "disconnect_handler_sync",
            Place::DisconnectAsync => "disconnect_handler_async",
            Place::DisconnectingSync => "disconnecting_handler_sync",
            Place::HookSocketConnected => "hook_socket_connected",
            Place::HookRoomChange => "hook_room_change",
            Place::HookTransportEvent => "hook_transport_event",
            Place::HookAnyIncoming => "hook_any_incoming",
            Place::HookAnyOutgoing => "hook_any_outgoing",
            Place::RuntimeNow => "runtime_now",
            Place::RuntimeSpawn => "runtime_spawn",
            Place::RuntimeSleep => "runtime_sleep",
            Place::ClientAuthConnect => "client_auth_fn_connect",
            Place::ClientAuthReconnect => "client_auth_fn_reconnect",
            Place::ClientEventSync => "client_event_handler_sync",
            Place::ClientEventAsync => "client_event_handler_async",
            Place::ClientConnectSync => "client_connect_handler_sync",
            Place::ClientConnectAsync => "client_connect_handler_async",
            Place::ClientDisconnectSync => "client_disconnect_handler_sync",
            Place::ClientConnectErrorSync => "client_connect_error_handler_sync",
            Place::ClientReconnectAttemptSync => "client_reconnect_attempt_handler_sync",
            Place::ClientReconnectSync => "client_reconnect_handler_sync",
            Place::ClientConnector => "client_connector",
        }
    }

    /// What the place is, for the messages.
    fn describe(self) -> &'static str {
        match self {
            Place::ConnectSync => "(a) the synchronous part of a connect handler",
            Place::ConnectAsync => "(b) the async block of a connect handler",
            Place::EventSync => "(c) the synchronous part of an event handler",
            Place::EventAsync => "(c) the async part of an event handler",
            Place::MiddlewareSync => "(d) the synchronous part of a connect middleware",
            Place::MiddlewareAsync => "(d) the async part of a connect middleware",
            Place::AllowRequest => "(e) the allow_request hook",
            Place::DynamicMatcher => "(f) the matcher of a dynamic namespace",
            Place::DisconnectSync => "(g) the synchronous part of a disconnect handler",
            Place::DisconnectAsync => "(g) the async part of a disconnect handler",
            Place::DisconnectingSync => "(g) the synchronous part of a disconnecting handler",
            Place::HookSocketConnected => "(i) a Server::on_socket_connected listener",
            Place::HookRoomChange => "(i) a Server::on_room_change listener",
            Place::HookTransportEvent => "(i) a Server::on_transport_event listener",
            Place::HookAnyIncoming => "(i) a Socket::on_any_incoming listener",
            Place::HookAnyOutgoing => "(i) a Socket::on_any_outgoing listener",
            Place::RuntimeNow => "Runtime::now of a user runtime",
            Place::RuntimeSpawn => "Runtime::spawn of a user runtime",
            Place::RuntimeSleep => "Runtime::sleep of a user runtime",
            Place::ClientAuthConnect => "(h) the client's auth_fn, on connect",
            Place::ClientAuthReconnect => "(h) the client's auth_fn, on a reconnection attempt",
            Place::ClientEventSync => "(h) the synchronous part of a client event handler",
            Place::ClientEventAsync => "(h) the async part of a client event handler",
            Place::ClientConnectSync => "(h) the synchronous part of a client connect handler",
            Place::ClientConnectAsync => "(h) the async part of a client connect handler",
            Place::ClientDisconnectSync => {
                "(h) the synchronous part of a client disconnect handler"
            }
            Place::ClientConnectErrorSync => {
                "(h) the synchronous part of a client connect_error handler"
            }
            Place::ClientReconnectAttemptSync => {
                "(h) the synchronous part of a client reconnect_attempt handler"
            }
            Place::ClientReconnectSync => "(h) the synchronous part of a client reconnect handler",
            Place::ClientConnector => "Connector::http / websocket of a user client connector",
        }
    }

    fn side(self) -> Side {
        match self {
            Place::ClientAuthConnect
            | Place::ClientAuthReconnect
            | Place::ClientEventSync
            | Place::ClientEventAsync
            | Place::ClientConnectSync
            | Place::ClientConnectAsync
            | Place::ClientDisconnectSync
            | Place::ClientConnectErrorSync
            | Place::ClientReconnectAttemptSync
            | Place::ClientReconnectSync
            | Place::ClientConnector => Side::Client,
            _ => Side::Server,
        }
    }

    /// Whether the place has an ack callback to answer (an event handler).
    fn has_ack(self) -> bool {
        matches!(
            self,
            Place::EventSync | Place::EventAsync | Place::ClientEventSync | Place::ClientEventAsync
        )
    }

    fn is_runtime(self) -> bool {
        matches!(
            self,
            Place::RuntimeNow | Place::RuntimeSpawn | Place::RuntimeSleep
        )
    }

    /// The APIs this place calls, in order.
    fn apis(self) -> Vec<&'static str> {
        let all: &[&'static str] = match self.side() {
            Side::Server => SERVER_APIS,
            Side::Client => CLIENT_APIS,
        };
        all.iter()
            .copied()
            .filter(|api| self.has_ack() || !ACK_APIS.contains(api))
            .collect()
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.describe(), self.name())
    }
}

/// Every public server API, as called from a server place (see [`server_api`]). The socket is
/// the place's own (connect, event and disconnect handlers) or, where there is none, the
/// observer client's socket on `/`.
const SERVER_APIS: &[&str] = &[
    "Server::emit",
    "Server::to().emit",
    "Server::except().emit",
    "Server::local().emit",
    "Server::broadcast().emit",
    "Server::volatile().emit",
    "Server::emit_with_ack",
    "Server::timeout().emit_with_ack",
    "Server::fetch_sockets",
    "Server::server_side_emit/server_count",
    "Server::on_server_side_emit",
    "Server::sockets_join",
    "Server::sockets_leave",
    "Server::disconnect_sockets",
    "Server::of",
    "Server::ns",
    "Server::dynamic_ns",
    "Server::handles/runtime/max_payload",
    "Server::handle_http",
    "Server::accept_websocket",
    "Namespace::name",
    "Namespace::emit",
    "Namespace::to().emit",
    "Namespace::except().emit",
    "Namespace::local().emit",
    "Namespace::broadcast().emit",
    "Namespace::volatile().emit",
    "Namespace::emit_with_ack",
    "Namespace::timeout().emit_with_ack",
    "Namespace::fetch_sockets",
    "Namespace::sockets_join",
    "Namespace::sockets_leave",
    "Namespace::disconnect_sockets",
    "Namespace::with",
    "DynamicNamespace::with",
    "BroadcastOperator::emit_args",
    "BroadcastOperator::within().emit",
    "BroadcastOperator::emit_with_ack",
    "BroadcastOperator::fetch_sockets",
    "BroadcastOperator::sockets_join",
    "BroadcastOperator::sockets_leave",
    "BroadcastOperator::disconnect_sockets",
    "Socket::id/ns/recovered/connected/server",
    "Socket::handshake (every getter)",
    "Socket::emit",
    "Socket::emit_args",
    "Socket::emit_with_ack",
    "Socket::join",
    "Socket::leave",
    "Socket::rooms",
    "Socket::to().emit",
    "Socket::except().emit",
    "Socket::broadcast().emit",
    "Socket::volatile().emit",
    "Socket::data",
    "Socket::set_data",
    "Socket::on/on_any/on_disconnecting/on_disconnect",
    "Socket::disconnect(false)",
    "Socket::disconnect(true)",
    "Socket::close_transport",
    "AckSender::send",
    "AckSender::send_args",
];

/// Every public client API, as called from a client place (see [`client_api`]), on the client
/// under test and its socket on `/`.
const CLIENT_APIS: &[&str] = &[
    "ClientSocket::ns/id/connected/recovered/client",
    "ClientSocket::connect",
    "ClientSocket::disconnect",
    "ClientSocket::wait_connected",
    "ClientSocket::on/on_any/on_connect/on_connect_error/on_disconnect",
    "ClientSocket::emit",
    "ClientSocket::volatile().emit",
    "ClientSocket::emit_args",
    "ClientSocket::emit_with_ack",
    "ClientSocket::emit_with_ack_args",
    "Client::socket",
    "Client::default_socket",
    "Client::is_open/transport",
    "Client::connect",
    "Client::disconnect",
    "Client::close",
    "Client::close_transport",
    "Client::on_reconnect_attempt/on_reconnect/on_reconnect_error/on_reconnect_failed",
    "client AckSender::send",
];

/// APIs that need the ack callback of an event handler.
const ACK_APIS: &[&str] = &[
    "AckSender::send",
    "AckSender::send_args",
    "client AckSender::send",
];

// ---------------------------------------------------------------------------------------------
// The tests

executor_tests! {
    /// (a) The synchronous part of a connect handler (the known `socket.join` deadlock).
    async fn connect_handler_sync(exec: Executor) {
        check(exec, Place::ConnectSync).await;
    }

    /// (b) The async block of a connect handler (its first poll).
    async fn connect_handler_async(exec: Executor) {
        check(exec, Place::ConnectAsync).await;
    }

    /// (c) The synchronous part of an event handler.
    async fn event_handler_sync(exec: Executor) {
        check(exec, Place::EventSync).await;
    }

    /// (c) The async part of an event handler.
    async fn event_handler_async(exec: Executor) {
        check(exec, Place::EventAsync).await;
    }

    /// (d) The synchronous part of a connect middleware (`Namespace::with`).
    async fn middleware_sync(exec: Executor) {
        check(exec, Place::MiddlewareSync).await;
    }

    /// (d) The async part of a connect middleware.
    async fn middleware_async(exec: Executor) {
        check(exec, Place::MiddlewareAsync).await;
    }

    /// (e) The builder's `allow_request` hook.
    async fn allow_request_hook(exec: Executor) {
        check(exec, Place::AllowRequest).await;
    }

    /// (f) The matcher closure of `Server::dynamic_ns`.
    async fn dynamic_ns_matcher(exec: Executor) {
        check(exec, Place::DynamicMatcher).await;
    }

    /// (g) The synchronous part of a disconnect handler.
    async fn disconnect_handler_sync(exec: Executor) {
        check(exec, Place::DisconnectSync).await;
    }

    /// (g) The async part of a disconnect handler.
    async fn disconnect_handler_async(exec: Executor) {
        check(exec, Place::DisconnectAsync).await;
    }

    /// (g) The synchronous part of a disconnecting handler.
    async fn disconnecting_handler_sync(exec: Executor) {
        check(exec, Place::DisconnectingSync).await;
    }

    /// (i) A `Server::on_socket_connected` listener (the new socket's).
    async fn hook_socket_connected(exec: Executor) {
        check(exec, Place::HookSocketConnected).await;
    }

    /// (i) A `Server::on_room_change` listener (a new socket joins its own room).
    async fn hook_room_change(exec: Executor) {
        check(exec, Place::HookRoomChange).await;
    }

    /// (i) A `Server::on_transport_event` listener (a connection opens).
    async fn hook_transport_event(exec: Executor) {
        check(exec, Place::HookTransportEvent).await;
    }

    /// (i) A `Socket::on_any_incoming` listener.
    async fn hook_any_incoming(exec: Executor) {
        check(exec, Place::HookAnyIncoming).await;
    }

    /// (i) A `Socket::on_any_outgoing` listener (the socket's handler of `poke` emits).
    async fn hook_any_outgoing(exec: Executor) {
        check(exec, Place::HookAnyOutgoing).await;
    }

    /// `Runtime::now` of a user runtime (the server's clock).
    async fn runtime_now(exec: Executor) {
        check(exec, Place::RuntimeNow).await;
    }

    /// `Runtime::spawn` of a user runtime.
    async fn runtime_spawn(exec: Executor) {
        check(exec, Place::RuntimeSpawn).await;
    }

    /// `Runtime::sleep` of a user runtime.
    async fn runtime_sleep(exec: Executor) {
        check(exec, Place::RuntimeSleep).await;
    }

    /// (h) The client's `auth_fn`, when a socket connects.
    async fn client_auth_fn_connect(exec: Executor) {
        check(exec, Place::ClientAuthConnect).await;
    }

    /// (h) The client's `auth_fn`, on a reconnection attempt.
    async fn client_auth_fn_reconnect(exec: Executor) {
        check(exec, Place::ClientAuthReconnect).await;
    }

    /// (h) The synchronous part of a client event handler.
    async fn client_event_handler_sync(exec: Executor) {
        check(exec, Place::ClientEventSync).await;
    }

    /// (h) The async part of a client event handler.
    async fn client_event_handler_async(exec: Executor) {
        check(exec, Place::ClientEventAsync).await;
    }

    /// (h) The synchronous part of a client connect handler.
    async fn client_connect_handler_sync(exec: Executor) {
        check(exec, Place::ClientConnectSync).await;
    }

    /// (h) The async part of a client connect handler.
    async fn client_connect_handler_async(exec: Executor) {
        check(exec, Place::ClientConnectAsync).await;
    }

    /// (h) The synchronous part of a client disconnect handler.
    async fn client_disconnect_handler_sync(exec: Executor) {
        check(exec, Place::ClientDisconnectSync).await;
    }

    /// (h) The synchronous part of a client connect_error handler.
    async fn client_connect_error_handler_sync(exec: Executor) {
        check(exec, Place::ClientConnectErrorSync).await;
    }

    /// (h) The synchronous part of a client reconnect_attempt handler.
    async fn client_reconnect_attempt_handler_sync(exec: Executor) {
        check(exec, Place::ClientReconnectAttemptSync).await;
    }

    /// (h) The synchronous part of a client reconnect handler.
    async fn client_reconnect_handler_sync(exec: Executor) {
        check(exec, Place::ClientReconnectSync).await;
    }

    /// `Connector::http` / `Connector::websocket` of a user client connector.
    async fn client_connector(exec: Executor) {
        check(exec, Place::ClientConnector).await;
    }
}

/// The body of every test: the child's work when [`CHILD_ENV`] is set, else the parent's.
async fn check(exec: Executor, place: Place) {
    match std::env::var(CHILD_ENV) {
        Ok(apis) => child_main(exec, place, &apis).await,
        Err(_) => exec.unblock(move || supervise(exec, place)).await,
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: runs the APIs in child processes, gathers the verdicts

/// A verdict on one API.
#[derive(Clone, Debug)]
enum Outcome {
    Pass,
    Deadlock(String),
    Fail(String),
    NotReached(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Deadlock(_) => "DEADLOCK",
            Outcome::Fail(_) => "FAIL",
            Outcome::NotReached(_) => "NOT-REACHED",
        }
    }

    fn detail(&self) -> &str {
        match self {
            Outcome::Pass => "",
            Outcome::Deadlock(d) | Outcome::Fail(d) | Outcome::NotReached(d) => d,
        }
    }
}

/// The test module of an executor (`executor_tests!` names them so).
fn module(exec: Executor) -> &'static str {
    match exec {
        Executor::Tokio => "tokio",
        Executor::AsyncStd => "async_std",
        Executor::Smol => "smol",
    }
}

/// The work queue of one test's child processes.
struct Sched {
    queue: VecDeque<Vec<&'static str>>,
    active: usize,
    results: BTreeMap<&'static str, Outcome>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs every API of `place` in child processes ([`parallel`] at a time) and fails with the
/// list of those that deadlock or fail.
fn supervise(exec: Executor, place: Place) {
    let apis = place.apis();
    let test = format!("{}::{}", module(exec), place.name());
    let exe = std::env::current_exe().expect("the path of the test binary");
    let workers = parallel().min(apis.len()).max(1);
    let per_chunk = apis.len().div_ceil(workers);
    let sched = Mutex::new(Sched {
        queue: apis.chunks(per_chunk).map(<[_]>::to_vec).collect(),
        active: 0,
        results: BTreeMap::new(),
    });
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| worker(&exe, &test, &sched));
        }
    });
    let results = std::mem::take(&mut locked(&sched).results);

    let mut failures = Vec::new();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for api in &apis {
        let outcome = results
            .get(api)
            .cloned()
            .unwrap_or_else(|| Outcome::Fail("no verdict (the test's scheduler lost it)".into()));
        *counts.entry(outcome.label()).or_default() += 1;
        println!(
            "@@matrix\t{}\t{}\t{}\t{}\t{}",
            exec.name(),
            place.name(),
            api,
            outcome.label(),
            outcome.detail()
        );
        if !matches!(outcome, Outcome::Pass) {
            failures.push(format!(
                "  {:<11} {api}\n              {}",
                outcome.label(),
                outcome.detail()
            ));
        }
    }
    let summary = counts
        .iter()
        .map(|(label, n)| format!("{n} {label}"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!("[{}] {place}: {summary}", exec.name());
    assert!(
        failures.is_empty(),
        "[{}] {place}: user code must be able to call every API without a deadlock, and the \
         server/client must keep serving afterwards; {} of {} APIs do not ({summary}):\n{}",
        exec.name(),
        failures.len(),
        apis.len(),
        failures.join("\n")
    );
}

/// One worker thread of [`supervise`]: takes a list of APIs, runs it in a child, records the
/// verdicts and puts back what the child did not get to.
fn worker(exe: &std::path::Path, test: &str, sched: &Mutex<Sched>) {
    loop {
        let chunk = {
            let mut s = locked(sched);
            match s.queue.pop_front() {
                Some(chunk) => {
                    s.active += 1;
                    chunk
                }
                None if s.active == 0 => return,
                None => {
                    drop(s);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
        };
        let run = run_child(exe, test, &chunk);
        let mut s = locked(sched);
        s.active -= 1;
        let mut ended_on_purpose = false;
        for (verdict, api, detail) in &run.verdicts {
            let Some(api) = chunk.iter().copied().find(|a| a == api) else {
                continue;
            };
            let outcome = match verdict.as_str() {
                "PASS" => Outcome::Pass,
                "STUCK" => {
                    ended_on_purpose = true;
                    Outcome::Deadlock(detail.clone())
                }
                "NOT-REACHED" => {
                    ended_on_purpose = true;
                    Outcome::NotReached(detail.clone())
                }
                _ => Outcome::Fail(detail.clone()),
            };
            s.results.insert(api, outcome);
        }
        let mut left: Vec<&'static str> = chunk
            .iter()
            .copied()
            .filter(|api| !s.results.contains_key(api))
            .collect();
        if left.is_empty() {
            continue;
        }
        if !ended_on_purpose {
            // The child ended without finishing its list and without saying why: the first API
            // it did not report is the culprit.
            let culprit = left.remove(0);
            let outcome = if run.killed {
                Outcome::Deadlock(format!(
                    "the child was killed after the hard limit; its watchdog did not fire \
                     (last output: {})",
                    run.tail()
                ))
            } else {
                Outcome::Fail(format!(
                    "the child process ended ({:?}) without a verdict: {}",
                    run.status,
                    run.tail()
                ))
            };
            s.results.insert(culprit, outcome);
        }
        // The rest again, in two halves so that idle workers share them.
        if !left.is_empty() {
            let half = left.len().div_ceil(2);
            let second = left.split_off(half);
            s.queue.push_front(left);
            if !second.is_empty() {
                s.queue.push_back(second);
            }
        }
    }
}

/// What a child process did.
struct ChildRun {
    verdicts: Vec<(String, String, String)>,
    status: Option<ExitStatus>,
    killed: bool,
    stdout: String,
    stderr: String,
}

impl ChildRun {
    /// The end of the child's output, for a message.
    fn tail(&self) -> String {
        let all = format!("{}\n{}", self.stdout.trim(), self.stderr.trim());
        let lines: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(12)..].join(" | ")
    }
}

/// Runs `test` of this binary in a child process on the APIs `chunk`; kills it after a hard
/// limit (its own watchdog normally ends it much earlier).
fn run_child(exe: &std::path::Path, test: &str, chunk: &[&'static str]) -> ChildRun {
    let mut child = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, chunk.join(","))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the test binary as a child");
    let read = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stream.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("piped stderr")));
    let per_api = liveness() * 3 + WATCHDOG_GRACE;
    let deadline = Instant::now() + Duration::from_secs(30) + per_api * chunk.len() as u32;
    let (status, killed) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (Some(status), false),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(25)),
            _ => {
                let _ = child.kill();
                break (child.wait().ok(), true);
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let verdicts = stdout
        .lines()
        .filter_map(|line| {
            // (The first one follows libtest's `test <name> ... ` on the same line.)
            let at = line.find(MARKER)?;
            let mut parts = line[at + MARKER.len()..]
                .strip_prefix('\t')?
                .splitn(3, '\t');
            Some((
                parts.next()?.to_owned(),
                parts.next()?.to_owned(),
                parts.next().unwrap_or("").to_owned(),
            ))
        })
        .collect::<Vec<_>>();
    assert!(
        !(verdicts.is_empty() && stdout.contains("running 0 tests")),
        "the child `{test}` matched no test: Place::name must be the test function's name"
    );
    ChildRun {
        verdicts,
        status,
        killed,
        stdout,
        stderr,
    }
}

// ---------------------------------------------------------------------------------------------
// The child: progress, watchdog, verdicts

/// What the child is doing, for the watchdog and the messages.
struct Watch {
    place: Place,
    api: &'static str,
    /// What the driver (the test) does or waits for.
    stage: String,
    /// What the place is calling, once it ran (so a hang before that is this test's bug).
    call: Option<String>,
    since: Instant,
}

impl Watch {
    fn describe(&self) -> String {
        match &self.call {
            Some(call) => format!("the place was in {call}; the test was at: {}", self.stage),
            None => format!("the place did not run; the test was at: {}", self.stage),
        }
    }
}

static WATCH: Mutex<Option<Watch>> = Mutex::new(None);

/// Records progress of the driver: what it does now.
fn set_stage(stage: impl Into<String>) {
    if let Some(watch) = locked(&WATCH).as_mut() {
        watch.stage = stage.into();
        watch.since = Instant::now();
    }
}

/// Records that the place ran and calls the API (`how`).
fn set_fired(how: &str) {
    if let Some(watch) = locked(&WATCH).as_mut() {
        watch.call = Some(format!("{} ({how})", watch.api));
        watch.since = Instant::now();
    }
}

/// Inside an API: records which call of it runs now.
fn sub(call: &str) {
    if let Some(watch) = locked(&WATCH).as_mut() {
        watch.call = Some(format!("{}: {call}", watch.api));
        watch.since = Instant::now();
    }
}

/// Prints one verdict line for the parent.
fn report(verdict: &str, api: &str, detail: &str) {
    let detail = detail.replace(['\n', '\t'], " ");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{MARKER}\t{verdict}\t{api}\t{detail}");
    let _ = out.flush();
}

/// Reports the current API as hung (`note`: who noticed) and ends the child: its executor may
/// be blocked for good, so nothing else can run in this process.
fn stuck(note: &str) -> ! {
    let (api, verdict, detail) = match locked(&WATCH).as_ref() {
        Some(w) => (
            w.api,
            if w.call.is_some() {
                "STUCK"
            } else {
                "NOT-REACHED"
            },
            format!(
                "{}: no progress for {:?}; {} [{note}]",
                w.place,
                liveness(),
                w.describe()
            ),
        ),
        None => ("?", "STUCK", note.to_owned()),
    };
    report(verdict, api, &detail);
    std::process::exit(3);
}

/// Ends the child when nothing progressed for [`liveness`] + [`WATCHDOG_GRACE`], whatever the
/// executor threads are doing.
fn start_watchdog() {
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let frozen = locked(&WATCH)
                .as_ref()
                .is_some_and(|w| w.since.elapsed() > liveness() + WATCHDOG_GRACE);
            if frozen {
                stuck("noticed by the watchdog: the test's own timers stopped too");
            }
        }
    });
}

/// `future`, or the end of the child (as a deadlock) if it takes longer than [`liveness`].
async fn step<F: Future>(exec: Executor, what: impl Into<String>, future: F) -> F::Output {
    set_stage(what);
    match exec.timeout(liveness(), future).await {
        Ok(output) => output,
        Err(_) => stuck("noticed by the test's timeout"),
    }
}

async fn child_main(exec: Executor, place: Place, apis: &str) {
    start_watchdog();
    let known = place.apis();
    for name in apis.split(',').filter(|a| !a.is_empty()) {
        let Some(api) = known.iter().copied().find(|a| *a == name) else {
            report("FAIL", name, "unknown API for this place");
            continue;
        };
        *locked(&WATCH) = Some(Watch {
            place,
            api,
            stage: "setting up".into(),
            call: None,
            since: Instant::now(),
        });
        match run_one(exec, place, api).await {
            Ok(()) => report("PASS", api, ""),
            Err(error) => report("FAIL", api, &format!("{place}: {error}")),
        }
    }
    *locked(&WATCH) = None;
}

// ---------------------------------------------------------------------------------------------
// The probe: the armed place and what it calls the API with

/// The asynchronous part of an API call (awaiting an ack, ...).
type Remainder = Pin<Box<dyn Future<Output = ()> + Send>>;

fn later(future: impl Future<Output = ()> + Send + 'static) -> Option<Remainder> {
    Some(Box::pin(future))
}

/// What the place tells the driver.
enum Signal {
    /// The API call returned (or panicked).
    Returned(Result<(), String>),
    /// Its asynchronous part finished (or panicked).
    Done(Result<(), String>),
}

/// One (place, API) run: the place acts once after [`arm`](Self::arm).
struct Probe {
    exec: Executor,
    place: Place,
    api: &'static str,
    armed: AtomicBool,
    signals: Sender<Signal>,
    io: OnceLock<Server>,
    nsp: OnceLock<Namespace>,
    other: OnceLock<Namespace>,
    dyn_ns: OnceLock<DynamicNamespace>,
    observer: OnceLock<Socket>,
    client: OnceLock<(Client, ClientSocket)>,
}

/// What a server place calls the API with.
struct ServerCtx {
    io: Server,
    nsp: Namespace,
    other: Namespace,
    dyn_ns: DynamicNamespace,
    socket: Socket,
    ack: Option<AckSender>,
}

/// What a client place calls the API with.
struct ClientCtx {
    exec: Executor,
    client: Client,
    socket: ClientSocket,
    ack: Option<ClientAck>,
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

impl Probe {
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// True once, after [`arm`](Self::arm).
    fn take(&self) -> bool {
        self.armed.swap(false, Ordering::SeqCst)
    }

    fn signal(&self, signal: Signal) {
        let _ = self.signals.try_send(signal);
    }

    fn server_ctx(&self, socket: Option<Socket>, ack: Option<AckSender>) -> Option<ServerCtx> {
        Some(ServerCtx {
            io: self.io.get()?.clone(),
            nsp: self.nsp.get()?.clone(),
            other: self.other.get()?.clone(),
            dyn_ns: self.dyn_ns.get()?.clone(),
            socket: socket.or_else(|| self.observer.get().cloned())?,
            ack,
        })
    }

    fn client_ctx(&self, ack: Option<ClientAck>) -> Option<ClientCtx> {
        let (client, socket) = self.client.get()?.clone();
        Some(ClientCtx {
            exec: self.exec,
            client,
            socket,
            ack,
        })
    }

    /// Reports a synchronous call; spawns its asynchronous part.
    fn finish_sync(&self, result: std::thread::Result<Option<Remainder>>) {
        match result {
            Ok(Some(rest)) => {
                self.signal(Signal::Returned(Ok(())));
                let signals = self.signals.clone();
                self.exec.spawn(async move {
                    let done = AssertUnwindSafe(rest).catch_unwind().await;
                    let _ = signals.try_send(Signal::Done(done.map_err(panic_message)));
                });
            }
            Ok(None) => {
                self.signal(Signal::Returned(Ok(())));
                self.signal(Signal::Done(Ok(())));
            }
            Err(panic) => {
                self.signal(Signal::Returned(Err(panic_message(panic))));
                self.signal(Signal::Done(Ok(())));
            }
        }
    }

    /// Reports a call made in an async place, its asynchronous part awaited there.
    async fn finish_async(&self, result: std::thread::Result<Option<Remainder>>) {
        match result {
            Ok(Some(rest)) => {
                sub("its asynchronous part (awaited in the place)");
                let done = AssertUnwindSafe(rest).catch_unwind().await;
                self.signal(Signal::Returned(done.map_err(panic_message)));
            }
            Ok(None) => self.signal(Signal::Returned(Ok(()))),
            Err(panic) => self.signal(Signal::Returned(Err(panic_message(panic)))),
        }
        self.signal(Signal::Done(Ok(())));
    }

    /// A synchronous server place: calls the API once armed.
    fn fire_server_sync(&self, socket: Option<Socket>, ack: Option<AckSender>) {
        if !self.take() {
            return;
        }
        let Some(cx) = self.server_ctx(socket, ack) else {
            return self.signal(Signal::Returned(Err("the probe is not set up".into())));
        };
        set_fired("synchronously");
        let api = self.api;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| server_api(api, cx)));
        self.finish_sync(result);
    }

    /// An async server place: calls the API once armed and awaits its asynchronous part.
    async fn fire_server_async(&self, socket: Option<Socket>, ack: Option<AckSender>) {
        if !self.take() {
            return;
        }
        let Some(cx) = self.server_ctx(socket, ack) else {
            return self.signal(Signal::Returned(Err("the probe is not set up".into())));
        };
        set_fired("in an async block");
        let api = self.api;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| server_api(api, cx)));
        self.finish_async(result).await;
    }

    /// A synchronous client place.
    fn fire_client_sync(&self, ack: Option<ClientAck>) {
        if !self.take() {
            return;
        }
        let Some(cx) = self.client_ctx(ack) else {
            return self.signal(Signal::Returned(Err("the probe is not set up".into())));
        };
        set_fired("synchronously");
        let api = self.api;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| client_api(api, cx)));
        self.finish_sync(result);
    }

    /// An async client place.
    async fn fire_client_async(&self, ack: Option<ClientAck>) {
        if !self.take() {
            return;
        }
        let Some(cx) = self.client_ctx(ack) else {
            return self.signal(Signal::Returned(Err("the probe is not set up".into())));
        };
        set_fired("in an async block");
        let api = self.api;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| client_api(api, cx)));
        self.finish_async(result).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The APIs

/// Calls server API `api`; returns its asynchronous part, if any. The results of the calls do
/// not matter (a socket that left answers `Err(Disconnected)`), only that they return.
fn server_api(api: &str, cx: ServerCtx) -> Option<Remainder> {
    let ServerCtx {
        io,
        nsp,
        other,
        dyn_ns,
        socket: s,
        ack,
    } = cx;
    match api {
        "Server::emit" => drop(io.emit("probe", &1)),
        "Server::to().emit" => drop(io.to("lobby").emit("probe", &1)),
        "Server::except().emit" => drop(io.except("nobody").emit("probe", &1)),
        "Server::local().emit" => drop(io.local().emit("probe", &1)),
        "Server::broadcast().emit" => drop(io.broadcast().emit("probe", &1)),
        "Server::volatile().emit" => drop(io.volatile().emit("probe", &1)),
        "Server::emit_with_ack" => {
            return later(async move {
                let _ = io.emit_with_ack::<Value, _>("probe", &1).await;
            });
        }
        "Server::timeout().emit_with_ack" => {
            let op = io.timeout(ACK);
            return later(async move {
                let _ = op.emit_with_ack::<Value, _>("probe", &1).await;
            });
        }
        "Server::fetch_sockets" => {
            return later(async move {
                let _ = io.fetch_sockets().await;
            });
        }
        "Server::server_side_emit/server_count" => {
            return later(async move {
                sub("Server::server_side_emit");
                let _ = io.server_side_emit("probe", &1).await;
                sub("Server::server_count");
                let _ = io.server_count().await;
            });
        }
        "Server::on_server_side_emit" => {
            io.on_server_side_emit(|_event: String, _args: Vec<Value>| async {})
        }
        "Server::sockets_join" => io.sockets_join("lobby"),
        "Server::sockets_leave" => io.sockets_leave("lobby"),
        "Server::disconnect_sockets" => io.disconnect_sockets(false),
        "Server::of" => drop(io.of("/place")),
        "Server::ns" => drop(io.ns("/defined-by-the-place", |_s: Socket| async {})),
        "Server::dynamic_ns" => drop(io.dynamic_ns(
            |name: &str| name == "/never-requested",
            |_s: Socket| async {},
        )),
        "Server::handles/runtime/max_payload" => {
            sub("Server::handles");
            let _ = io.handles("/socket.io/");
            sub("Server::runtime");
            let _ = io.runtime();
            sub("Server::max_payload");
            let _ = io.max_payload();
        }
        "Server::handle_http" => {
            return later(async move {
                // An unknown session: answered at once with an error.
                let request = http::Request::get("/socket.io/?EIO=4&transport=polling&sid=unknown")
                    .body(String::new())
                    .expect("a request");
                let _ = io.handle_http(request, None).await;
            });
        }
        "Server::accept_websocket" => {
            let (parts, ()) =
                http::Request::get("/socket.io/?EIO=4&transport=websocket&sid=unknown")
                    .header("connection", "Upgrade")
                    .header("upgrade", "websocket")
                    .header("sec-websocket-version", "13")
                    .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
                    .body(())
                    .expect("a request")
                    .into_parts();
            drop(io.accept_websocket(&parts, None));
        }
        "Namespace::name" => drop(nsp.name().len()),
        "Namespace::emit" => drop(nsp.emit("probe", &1)),
        "Namespace::to().emit" => drop(nsp.to("lobby").emit("probe", &1)),
        "Namespace::except().emit" => drop(nsp.except("nobody").emit("probe", &1)),
        "Namespace::local().emit" => drop(nsp.local().emit("probe", &1)),
        "Namespace::broadcast().emit" => drop(nsp.broadcast().emit("probe", &1)),
        "Namespace::volatile().emit" => drop(nsp.volatile().emit("probe", &1)),
        "Namespace::emit_with_ack" => {
            return later(async move {
                let _ = nsp.emit_with_ack::<Value, _>("probe", &1).await;
            });
        }
        "Namespace::timeout().emit_with_ack" => {
            let op = nsp.timeout(ACK);
            return later(async move {
                let _ = op.emit_with_ack::<Value, _>("probe", &1).await;
            });
        }
        "Namespace::fetch_sockets" => {
            return later(async move {
                let _ = nsp.fetch_sockets().await;
            });
        }
        "Namespace::sockets_join" => nsp.sockets_join("lobby"),
        "Namespace::sockets_leave" => nsp.sockets_leave("lobby"),
        "Namespace::disconnect_sockets" => nsp.disconnect_sockets(false),
        "Namespace::with" => {
            drop(other.with(|_hs: Handshake| async { Ok::<(), ConnectError>(()) }))
        }
        "DynamicNamespace::with" => {
            drop(dyn_ns.with(|_hs: Handshake| async { Ok::<(), ConnectError>(()) }))
        }
        "BroadcastOperator::emit_args" => {
            drop(io.to("lobby").emit_args("probe", vec![Value::from(1i64)]));
        }
        "BroadcastOperator::within().emit" => {
            drop(io.local().within("lobby").emit("probe", &1));
        }
        "BroadcastOperator::emit_with_ack" => {
            let op = io.to("lobby").timeout(ACK);
            return later(async move {
                let _ = op.emit_with_ack::<Value, _>("probe", &1).await;
            });
        }
        "BroadcastOperator::fetch_sockets" => {
            let op = io.to("lobby");
            return later(async move {
                let _ = op.fetch_sockets().await;
            });
        }
        "BroadcastOperator::sockets_join" => io.except("nobody").sockets_join("lobby"),
        "BroadcastOperator::sockets_leave" => io.to("lobby").sockets_leave("lobby"),
        "BroadcastOperator::disconnect_sockets" => io.to("lobby").disconnect_sockets(false),
        "Socket::id/ns/recovered/connected/server" => {
            sub("Socket::id");
            let _ = s.id().len();
            sub("Socket::ns");
            let _ = s.ns().len();
            sub("Socket::recovered");
            let _ = s.recovered();
            sub("Socket::connected");
            let _ = s.connected();
            sub("Socket::server");
            drop(s.server());
        }
        "Socket::handshake (every getter)" => {
            let h = s.handshake();
            sub("Handshake::headers");
            let _ = h.headers().len();
            sub("Handshake::uri");
            let _ = h.uri().path().len();
            sub("Handshake::query");
            let _ = h.query().len();
            sub("Handshake::query_param");
            let _ = h.query_param("EIO");
            sub("Handshake::address");
            let _ = h.address();
            sub("Handshake::time");
            let _ = h.time();
            sub("Handshake::protocol");
            let _ = h.protocol();
            sub("Handshake::namespace");
            let _ = h.namespace().len();
            sub("Handshake::auth_value");
            let _ = h.auth_value().clone();
            sub("Handshake::auth");
            let _ = h.auth::<Value>();
            sub("Handshake::auth_field");
            let _ = h.auth_field::<String>("token");
        }
        "Socket::emit" => drop(s.emit("probe", &1)),
        "Socket::emit_args" => drop(s.emit_args("probe", vec![Value::from(1i64)])),
        "Socket::emit_with_ack" => {
            let request = s.emit_with_ack::<Value, _>("probe", &1).timeout(ACK);
            return later(async move {
                let _ = request.await;
            });
        }
        "Socket::join" => s.join("lobby"),
        "Socket::leave" => s.leave("lobby"),
        "Socket::rooms" => drop(s.rooms()),
        "Socket::to().emit" => drop(s.to("lobby").emit("probe", &1)),
        "Socket::except().emit" => drop(s.except("nobody").emit("probe", &1)),
        "Socket::broadcast().emit" => drop(s.broadcast().emit("probe", &1)),
        "Socket::volatile().emit" => drop(s.volatile().emit("probe", &1)),
        "Socket::data" => drop(s.data::<String>()),
        "Socket::set_data" => drop(s.set_data(&"set by the place")),
        "Socket::on/on_any/on_disconnecting/on_disconnect" => {
            sub("Socket::on");
            s.on(
                "registered-by-the-place",
                |_s: Socket, _: (), _ack: Option<AckSender>| async {},
            );
            sub("Socket::on_any");
            s.on_any(
                |_s: Socket, _event: String, _args: Vec<Value>, _ack: Option<AckSender>| async {},
            );
            sub("Socket::on_disconnecting");
            s.on_disconnecting(|_s: Socket, _reason| async {});
            sub("Socket::on_disconnect");
            s.on_disconnect(|_s: Socket, _reason| async {});
        }
        "Socket::disconnect(false)" => s.disconnect(false),
        "Socket::disconnect(true)" => s.disconnect(true),
        "Socket::close_transport" => s.close_transport(),
        "AckSender::send" => {
            let ack = ack.expect("an event handler's ack");
            drop(ack.send(&"acked by the place"));
        }
        "AckSender::send_args" => {
            let ack = ack.expect("an event handler's ack");
            drop(ack.send_args(vec![Value::from("acked by the place")]));
        }
        other => panic!("unknown server API {other}"),
    }
    None
}

/// Calls client API `api` on the client under test; returns its asynchronous part, if any.
fn client_api(api: &str, cx: ClientCtx) -> Option<Remainder> {
    let ClientCtx {
        exec,
        client: c,
        socket: s,
        ack,
    } = cx;
    match api {
        "ClientSocket::ns/id/connected/recovered/client" => {
            sub("ClientSocket::ns");
            let _ = s.ns().len();
            sub("ClientSocket::id");
            let _ = s.id();
            sub("ClientSocket::connected");
            let _ = s.connected();
            sub("ClientSocket::recovered");
            let _ = s.recovered();
            sub("ClientSocket::client");
            drop(s.client());
        }
        "ClientSocket::connect" => s.connect(),
        "ClientSocket::disconnect" => s.disconnect(),
        "ClientSocket::wait_connected" => {
            let wait = s.wait_connected();
            // (In a disconnect handler it waits for the next connection: bounded.)
            return later(async move {
                let _ = exec.timeout(ACK, wait).await;
            });
        }
        "ClientSocket::on/on_any/on_connect/on_connect_error/on_disconnect" => {
            sub("ClientSocket::on");
            s.on(
                "registered-by-the-place",
                |_s: ClientSocket, _: (), _ack: Option<ClientAck>| async {},
            );
            sub("ClientSocket::on_any");
            s.on_any(
                |_s: ClientSocket, _e: String, _a: Vec<Value>, _ack: Option<ClientAck>| async {},
            );
            sub("ClientSocket::on_connect");
            s.on_connect(|_s: ClientSocket| async {});
            sub("ClientSocket::on_connect_error");
            s.on_connect_error(|_s: ClientSocket, _e| async {});
            sub("ClientSocket::on_disconnect");
            s.on_disconnect(|_s: ClientSocket, _r| async {});
        }
        "ClientSocket::emit" => drop(s.emit("noop", &1)),
        "ClientSocket::volatile().emit" => drop(s.volatile().emit("noop", &1)),
        "ClientSocket::emit_args" => drop(s.emit_args("noop", vec![Value::from(1i64)])),
        "ClientSocket::emit_with_ack" => {
            let request = s.emit_with_ack::<Value, _>("echo", &1).timeout(ACK);
            return later(async move {
                let _ = request.await;
            });
        }
        "ClientSocket::emit_with_ack_args" => {
            let request = s
                .emit_with_ack_args("echo", vec![Value::from(1i64)])
                .timeout(ACK);
            return later(async move {
                let _ = request.await;
            });
        }
        "Client::socket" => drop(c.socket("/extra")),
        "Client::default_socket" => drop(c.default_socket()),
        "Client::is_open/transport" => {
            sub("Client::is_open");
            let _ = c.is_open();
            sub("Client::transport");
            let _ = c.transport();
        }
        "Client::connect" => c.connect(),
        "Client::disconnect" => c.disconnect(),
        "Client::close" => {
            return later(async move {
                let _ = c.close(ACK).await;
            });
        }
        "Client::close_transport" => {
            return later(async move {
                let _ = c.close_transport(ACK).await;
            });
        }
        "Client::on_reconnect_attempt/on_reconnect/on_reconnect_error/on_reconnect_failed" => {
            sub("Client::on_reconnect_attempt");
            c.on_reconnect_attempt(|_n| async {});
            sub("Client::on_reconnect");
            c.on_reconnect(|_n| async {});
            sub("Client::on_reconnect_error");
            c.on_reconnect_error(|| async {});
            sub("Client::on_reconnect_failed");
            c.on_reconnect_failed(|| async {});
        }
        "client AckSender::send" => {
            let ack = ack.expect("a client event handler's ack");
            drop(ack.send(&"acked by the place"));
        }
        other => panic!("unknown client API {other}"),
    }
    None
}

/// The client APIs after which the client is closed on purpose: its liveness check reconnects
/// a fresh client instead of expecting this one to answer.
fn closes_client(api: &str) -> bool {
    matches!(
        api,
        "Client::disconnect" | "Client::close" | "Client::close_transport"
    )
}

// ---------------------------------------------------------------------------------------------
// User-supplied runtime and connector

/// A user [`Runtime`]: the executor's, running the place in `now`, `spawn` or `sleep`.
struct HookRuntime {
    inner: Arc<dyn Runtime>,
    probe: Weak<Probe>,
}

impl HookRuntime {
    fn hook(&self, place: Place) {
        if let Some(probe) = self.probe.upgrade()
            && probe.place == place
        {
            probe.fire_server_sync(None, None);
        }
    }
}

impl Runtime for HookRuntime {
    fn spawn(&self, task: BoxTask) {
        self.hook(Place::RuntimeSpawn);
        self.inner.spawn(task);
    }

    fn sleep(&self, duration: Duration) -> BoxTask {
        self.hook(Place::RuntimeSleep);
        self.inner.sleep(duration)
    }

    fn now(&self) -> std::time::Instant {
        self.hook(Place::RuntimeNow);
        self.inner.now()
    }
}

/// A user client [`Connector`]: the executor's, running the place when a request starts.
struct HookConnector {
    inner: Arc<dyn Connector>,
    probe: Weak<Probe>,
}

impl HookConnector {
    fn hook(&self) {
        if let Some(probe) = self.probe.upgrade() {
            probe.fire_client_sync(None);
        }
    }
}

impl Connector for HookConnector {
    fn http(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> BoxFuture<Result<http::Response<bytes::Bytes>, ConnectorError>> {
        self.hook();
        self.inner.http(request)
    }

    fn websocket(
        &self,
        request: http::Request<()>,
    ) -> BoxFuture<Result<BoxWebSocket, ConnectorError>> {
        self.hook();
        self.inner.websocket(request)
    }
}

// ---------------------------------------------------------------------------------------------
// One (place, API) run

/// The test app, with the place's hooks:
/// - `/`: the app of the observer and of the liveness clients (`welcome` on connect, `echo`
///   answered by ack, `close-my-transport`, `kick-me`, `poke-me` → `poke` with an ack);
/// - `/place`: the connect, event, disconnect handlers and middleware of the server places;
/// - `/other`: a namespace for `Namespace::with`; `/refused`: refused by its middleware;
/// - `/dyn-*`: the dynamic namespaces, whose matcher is a place.
///
/// The app's own handlers call the library only in their async parts.
fn build_server(exec: Executor, probe: &Arc<Probe>) -> Server {
    let place = probe.place;
    let mut builder = Server::builder()
        .ack_timeout(ACK)
        .shutdown_timeout(Duration::from_secs(1));
    if place == Place::AllowRequest {
        let p = Arc::downgrade(probe);
        builder = builder.allow_request(move |_parts, _remote| {
            if let Some(p) = p.upgrade() {
                p.fire_server_sync(None, None);
            }
            Ok(())
        });
    }
    let runtime: Arc<dyn Runtime> = if place.is_runtime() {
        Arc::new(HookRuntime {
            inner: exec.runtime(),
            probe: Arc::downgrade(probe),
        })
    } else {
        exec.runtime()
    };
    let io = builder.build(runtime);
    // (i) The server-wide observers; the room and transport ones have no socket of their own.
    let w = Arc::downgrade(probe);
    match place {
        Place::HookSocketConnected => io.on_socket_connected(move |socket| {
            if let Some(p) = w.upgrade() {
                p.fire_server_sync(Some(socket.clone()), None);
            }
        }),
        Place::HookRoomChange => io.on_room_change(move |_change| {
            if let Some(p) = w.upgrade() {
                p.fire_server_sync(None, None);
            }
        }),
        Place::HookTransportEvent => io.on_transport_event(move |_event| {
            if let Some(p) = w.upgrade() {
                p.fire_server_sync(None, None);
            }
        }),
        _ => {}
    }

    io.ns("/", |socket: Socket| async move {
        socket.on(
            "echo",
            |_s: Socket, value: Value, ack: Option<AckSender>| async move {
                if let Some(ack) = ack {
                    let _ = ack.send(&value);
                }
            },
        );
        socket.on(
            "close-my-transport",
            |s: Socket, _: (), _ack: Option<AckSender>| async move { s.close_transport() },
        );
        socket.on(
            "kick-me",
            |s: Socket, _: (), _ack: Option<AckSender>| async move { s.disconnect(false) },
        );
        socket.on(
            "poke-me",
            |s: Socket, _: (), _ack: Option<AckSender>| async move {
                let _ = s.emit_with_ack::<Value, _>("poke", &()).timeout(ACK).await;
            },
        );
        let _ = socket.emit("welcome", &"hi");
    });

    let weak = Arc::downgrade(probe);
    let nsp = io.ns("/place", move |socket: Socket| {
        let probe = weak.upgrade();
        if let Some(p) = &probe {
            let w = Arc::downgrade(p);
            match p.place {
                Place::ConnectSync => p.fire_server_sync(Some(socket.clone()), None),
                Place::HookAnyIncoming => socket.on_any_incoming(move |s, _event, _args| {
                    if let Some(p) = w.upgrade() {
                        p.fire_server_sync(Some(s.clone()), None);
                    }
                }),
                Place::HookAnyOutgoing => {
                    socket.on_any_outgoing(move |s, _event, _args| {
                        if let Some(p) = w.upgrade() {
                            p.fire_server_sync(Some(s.clone()), None);
                        }
                    });
                    socket.on("poke", |s: Socket, _: (), ack: Option<AckSender>| {
                        let _ = s.emit("poked", &());
                        if let Some(ack) = ack {
                            let _ = ack.send(&());
                        }
                        async {}
                    });
                }
                _ => {}
            }
        }
        async move {
            let Some(p) = probe else { return };
            let w = Arc::downgrade(&p);
            match p.place {
                Place::ConnectAsync => p.fire_server_async(Some(socket), None).await,
                Place::EventSync => {
                    socket.on("poke", move |s: Socket, _: (), ack: Option<AckSender>| {
                        if let Some(p) = w.upgrade() {
                            p.fire_server_sync(Some(s), ack);
                        }
                        async {}
                    })
                }
                Place::EventAsync => {
                    socket.on("poke", move |s: Socket, _: (), ack: Option<AckSender>| {
                        let w = w.clone();
                        async move {
                            if let Some(p) = w.upgrade() {
                                p.fire_server_async(Some(s), ack).await;
                            }
                        }
                    })
                }
                Place::DisconnectSync => socket.on_disconnect(move |s: Socket, _reason| {
                    if let Some(p) = w.upgrade() {
                        p.fire_server_sync(Some(s), None);
                    }
                    async {}
                }),
                Place::DisconnectAsync => socket.on_disconnect(move |s: Socket, _reason| {
                    let w = w.clone();
                    async move {
                        if let Some(p) = w.upgrade() {
                            p.fire_server_async(Some(s), None).await;
                        }
                    }
                }),
                Place::DisconnectingSync => socket.on_disconnecting(move |s: Socket, _reason| {
                    if let Some(p) = w.upgrade() {
                        p.fire_server_sync(Some(s), None);
                    }
                    async {}
                }),
                _ => {}
            }
        }
    });
    let nsp = match place {
        Place::MiddlewareSync => {
            let w = Arc::downgrade(probe);
            nsp.with(move |_hs: Handshake| {
                if let Some(p) = w.upgrade() {
                    p.fire_server_sync(None, None);
                }
                async { Ok::<(), ConnectError>(()) }
            })
        }
        Place::MiddlewareAsync => {
            let w = Arc::downgrade(probe);
            nsp.with(move |_hs: Handshake| {
                let w = w.clone();
                async move {
                    if let Some(p) = w.upgrade() {
                        p.fire_server_async(None, None).await;
                    }
                    Ok::<(), ConnectError>(())
                }
            })
        }
        _ => nsp,
    };
    let other = io.ns("/other", |_s: Socket| async {});
    io.ns("/refused", |_s: Socket| async {})
        .with(|_hs: Handshake| async { Err(ConnectError::new("refused by the test")) });
    let w = Arc::downgrade(probe);
    let dyn_ns = io.dynamic_ns(
        move |name: &str| {
            if name == "/dyn-trigger"
                && let Some(p) = w.upgrade()
                && p.place == Place::DynamicMatcher
            {
                p.fire_server_sync(None, None);
            }
            name.starts_with("/dyn-")
        },
        |_s: Socket| async {},
    );

    let _ = probe.io.set(io.clone());
    let _ = probe.nsp.set(nsp);
    let _ = probe.other.set(other);
    let _ = probe.dyn_ns.set(dyn_ns);
    io
}

fn client_builder(url: &str) -> ClientBuilder {
    Client::builder(url)
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(300))
        .randomization_factor(0.0)
        .timeout(Duration::from_secs(5))
}

fn build_client(exec: Executor, builder: ClientBuilder) -> Client {
    builder
        .build(exec.runtime(), exec.connector())
        .expect("client options")
}

/// Answers every event that asks for an ack (so that the server's `emit_with_ack` completes).
fn ack_everything(socket: &ClientSocket) {
    socket.on_any(
        |_s: ClientSocket, _event: String, _args: Vec<Value>, ack: Option<ClientAck>| {
            if let Some(ack) = ack {
                let _ = ack.send(&"ok");
            }
            async {}
        },
    );
}

/// Runs `api` from `place` on a fresh server and checks that everything keeps working.
async fn run_one(exec: Executor, place: Place, api: &'static str) -> Result<(), String> {
    let (signals, received) = unbounded();
    let probe = Arc::new(Probe {
        exec,
        place,
        api,
        armed: AtomicBool::new(false),
        signals,
        io: OnceLock::new(),
        nsp: OnceLock::new(),
        other: OnceLock::new(),
        dyn_ns: OnceLock::new(),
        observer: OnceLock::new(),
        client: OnceLock::new(),
    });
    set_stage("setup: starting the server");
    let io = build_server(exec, &probe);
    let served = exec.serve(io.clone()).await;
    let url = served.url();
    let mut clients = Vec::new();

    match place.side() {
        Side::Server => server_trigger(exec, &probe, &io, &url, &mut clients).await?,
        Side::Client => client_trigger(exec, &probe, &url, &mut clients).await?,
    }
    check_signals(exec, place, api, &received).await?;

    server_alive(exec, &url).await?;
    if place.side() == Side::Client {
        client_alive(exec, &probe, api).await?;
    }

    set_stage("cleanup: disconnecting the clients");
    for client in &clients {
        client.disconnect();
    }
    step(exec, "cleanup: Server::shutdown", io.shutdown()).await;
    drop(served);
    Ok(())
}

/// Waits for the place to call the API and for the call (and its asynchronous part) to end.
async fn check_signals(
    exec: Executor,
    place: Place,
    api: &str,
    received: &Receiver<Signal>,
) -> Result<(), String> {
    let what = format!("waiting for {} to call {api} and return", place.describe());
    match step(exec, what, received.recv()).await {
        Ok(Signal::Returned(Ok(()))) => {}
        Ok(Signal::Returned(Err(panic))) => return Err(format!("{api} panicked: {panic}")),
        Ok(Signal::Done(_)) | Err(_) => return Err("the place signalled out of order".into()),
    }
    let what = format!("waiting for the asynchronous part of {api} to end");
    match step(exec, what, received.recv()).await {
        Ok(Signal::Done(Ok(()))) => Ok(()),
        Ok(Signal::Done(Err(panic))) => Err(format!("the async part of {api} panicked: {panic}")),
        Ok(Signal::Returned(_)) | Err(_) => Err("the place signalled out of order".into()),
    }
}

/// Server places: an observer client on `/` (whose server-side socket is in room `lobby`, and
/// is the socket of the places that have none), then the trigger of the place.
async fn server_trigger(
    exec: Executor,
    probe: &Arc<Probe>,
    io: &Server,
    url: &str,
    clients: &mut Vec<Client>,
) -> Result<(), String> {
    let observer = build_client(exec, client_builder(url));
    clients.push(observer.clone());
    let observer_socket = observer.default_socket();
    ack_everything(&observer_socket);
    observer.connect();
    step(
        exec,
        "setup: the observer client connects to /",
        observer_socket.wait_connected(),
    )
    .await
    .map_err(|e| format!("setup: the observer could not connect: {e}"))?;
    set_stage("setup: fetching the observer's socket");
    let sockets: Vec<Socket> = io
        .fetch_sockets()
        .await
        .map_err(|e| format!("setup: fetch_sockets: {e}"))?
        .iter()
        .filter_map(|s| s.as_local().cloned())
        .collect();
    let [socket] = sockets.as_slice() else {
        return Err(format!(
            "setup: {} sockets on / instead of 1",
            sockets.len()
        ));
    };
    socket.join("lobby");
    let _ = probe.observer.set(socket.clone());

    let trigger = build_client(exec, client_builder(url));
    clients.push(trigger.clone());
    probe.arm();
    match probe.place {
        Place::ConnectSync
        | Place::ConnectAsync
        | Place::MiddlewareSync
        | Place::MiddlewareAsync
        | Place::HookSocketConnected
        | Place::HookRoomChange => {
            set_stage("trigger: a client connects to /place");
            let s = trigger.socket("/place");
            ack_everything(&s);
            s.connect();
        }
        Place::AllowRequest
        | Place::RuntimeNow
        | Place::RuntimeSpawn
        | Place::RuntimeSleep
        | Place::HookTransportEvent => {
            set_stage("trigger: a new client connects to /");
            ack_everything(&trigger.default_socket());
            trigger.connect();
        }
        Place::DynamicMatcher => {
            set_stage("trigger: a client connects to /dyn-trigger");
            trigger.socket("/dyn-trigger").connect();
        }
        Place::EventSync | Place::EventAsync | Place::HookAnyIncoming | Place::HookAnyOutgoing => {
            let s = trigger.socket("/place");
            ack_everything(&s);
            s.connect();
            step(
                exec,
                "trigger: a client connects to /place",
                s.wait_connected(),
            )
            .await
            .map_err(|e| format!("trigger: could not connect to /place: {e}"))?;
            set_stage("trigger: the client emits poke (with an ack)");
            let request = s.emit_with_ack::<Value, _>("poke", &()).timeout(ACK);
            exec.spawn(async move {
                let _ = request.await;
            });
        }
        Place::DisconnectSync | Place::DisconnectAsync | Place::DisconnectingSync => {
            let s = trigger.socket("/place");
            ack_everything(&s);
            s.connect();
            step(
                exec,
                "trigger: a client connects to /place",
                s.wait_connected(),
            )
            .await
            .map_err(|e| format!("trigger: could not connect to /place: {e}"))?;
            set_stage("trigger: the client leaves /place");
            s.disconnect();
        }
        _ => unreachable!("a client place"),
    }
    Ok(())
}

/// Client places: the client under test (on `/`), its handlers, then the trigger.
async fn client_trigger(
    exec: Executor,
    probe: &Arc<Probe>,
    url: &str,
    clients: &mut Vec<Client>,
) -> Result<(), String> {
    let place = probe.place;
    let weak = Arc::downgrade(probe);
    let mut builder = client_builder(url);
    if matches!(place, Place::ClientAuthConnect | Place::ClientAuthReconnect) {
        let w = weak.clone();
        builder = builder.auth_fn(move || {
            if let Some(p) = w.upgrade() {
                p.fire_client_sync(None);
            }
            serde_json::json!({ "token": "t" })
        });
    }
    let client = if place == Place::ClientConnector {
        // Polling only: every emit is a request through the connector.
        builder
            .transports([TransportKind::Polling])
            .build(
                exec.runtime(),
                Arc::new(HookConnector {
                    inner: exec.connector(),
                    probe: weak.clone(),
                }),
            )
            .expect("client options")
    } else {
        build_client(exec, builder)
    };
    clients.push(client.clone());
    let socket = client.default_socket();
    let refused = client.socket("/refused");
    let w = weak.clone();
    match place {
        Place::ClientEventSync => socket.on(
            "poke",
            move |_s: ClientSocket, _: (), ack: Option<ClientAck>| {
                if let Some(p) = w.upgrade() {
                    p.fire_client_sync(ack);
                }
                async {}
            },
        ),
        Place::ClientEventAsync => socket.on(
            "poke",
            move |_s: ClientSocket, _: (), ack: Option<ClientAck>| {
                let w = w.clone();
                async move {
                    if let Some(p) = w.upgrade() {
                        p.fire_client_async(ack).await;
                    }
                }
            },
        ),
        Place::ClientConnectSync => socket.on_connect(move |_s: ClientSocket| {
            if let Some(p) = w.upgrade() {
                p.fire_client_sync(None);
            }
            async {}
        }),
        Place::ClientConnectAsync => socket.on_connect(move |_s: ClientSocket| {
            let w = w.clone();
            async move {
                if let Some(p) = w.upgrade() {
                    p.fire_client_async(None).await;
                }
            }
        }),
        Place::ClientDisconnectSync => socket.on_disconnect(move |_s: ClientSocket, _reason| {
            if let Some(p) = w.upgrade() {
                p.fire_client_sync(None);
            }
            async {}
        }),
        Place::ClientConnectErrorSync => refused.on_connect_error(move |_s: ClientSocket, _e| {
            if let Some(p) = w.upgrade() {
                p.fire_client_sync(None);
            }
            async {}
        }),
        Place::ClientReconnectAttemptSync => client.on_reconnect_attempt(move |_n| {
            if let Some(p) = w.upgrade() {
                p.fire_client_sync(None);
            }
            async {}
        }),
        Place::ClientReconnectSync => client.on_reconnect(move |_n| {
            if let Some(p) = w.upgrade() {
                p.fire_client_sync(None);
            }
            async {}
        }),
        _ => {}
    }
    let _ = probe.client.set((client.clone(), socket.clone()));

    if matches!(
        place,
        Place::ClientAuthConnect | Place::ClientConnectSync | Place::ClientConnectAsync
    ) {
        probe.arm();
        set_stage("trigger: the client connects to / (from a spawned task)");
        exec.spawn(async move { socket.connect() });
        return Ok(());
    }
    socket.connect();
    step(
        exec,
        "setup: the client under test connects to /",
        socket.wait_connected(),
    )
    .await
    .map_err(|e| format!("setup: the client under test could not connect: {e}"))?;
    probe.arm();
    set_stage("trigger: started from a spawned task");
    exec.spawn(async move {
        let _ = match place {
            Place::ClientAuthReconnect
            | Place::ClientReconnectAttemptSync
            | Place::ClientReconnectSync => socket.emit("close-my-transport", &()),
            Place::ClientEventSync | Place::ClientEventAsync => socket.emit("poke-me", &()),
            Place::ClientDisconnectSync => socket.emit("kick-me", &()),
            Place::ClientConnectErrorSync => {
                refused.connect();
                Ok(())
            }
            _ => socket.emit("noop", &()),
        };
    });
    Ok(())
}

/// The server keeps serving: a fresh client connects (gets its CONNECT), gets the `welcome`
/// event and does an event/ack round trip.
async fn server_alive(exec: Executor, url: &str) -> Result<(), String> {
    let client = build_client(exec, client_builder(url));
    let socket = client.default_socket();
    let (welcome_tx, welcome) = unbounded();
    socket.on(
        "welcome",
        move |_s: ClientSocket, _: Value, _ack: Option<ClientAck>| {
            let _ = welcome_tx.try_send(());
            async {}
        },
    );
    client.connect();
    step(
        exec,
        "liveness: a fresh client connects to / (gets its CONNECT)",
        socket.wait_connected(),
    )
    .await
    .map_err(|e| format!("liveness: a fresh client could not connect: {e}"))?;
    step(
        exec,
        "liveness: the fresh client gets the welcome event",
        welcome.recv(),
    )
    .await
    .map_err(|e| format!("liveness: no welcome event: {e}"))?;
    let echo = step(
        exec,
        "liveness: an event/ack round trip of the fresh client",
        socket
            .emit_with_ack::<i64, _>("echo", &42)
            .timeout(liveness())
            .into_future(),
    )
    .await
    .map_err(|e| format!("liveness: the echo round trip failed: {e}"))?;
    if echo != 42 {
        return Err(format!("liveness: the echo came back as {echo}"));
    }
    set_stage("liveness: disconnecting the fresh client");
    client.disconnect();
    Ok(())
}

/// The client under test keeps working: its state can be read and, unless the API closed it on
/// purpose, it (re)connects and does an event/ack round trip.
async fn client_alive(exec: Executor, probe: &Probe, api: &str) -> Result<(), String> {
    let Some((client, socket)) = probe.client.get().cloned() else {
        return Err("the client under test is gone".into());
    };
    set_stage("client liveness: Client::is_open and ClientSocket::connected");
    let _ = client.is_open();
    let connected = socket.connected();
    if closes_client(api) {
        return Ok(());
    }
    if !connected {
        set_stage("client liveness: ClientSocket::connect");
        socket.connect();
    }
    step(
        exec,
        "client liveness: the client under test is connected to /",
        socket.wait_connected(),
    )
    .await
    .map_err(|e| format!("client liveness: the client under test could not connect: {e}"))?;
    let echo = step(
        exec,
        "client liveness: an event/ack round trip of the client under test",
        socket
            .emit_with_ack::<i64, _>("echo", &7)
            .timeout(liveness())
            .into_future(),
    )
    .await
    .map_err(|e| format!("client liveness: the echo round trip failed: {e}"))?;
    if echo != 7 {
        return Err(format!("client liveness: the echo came back as {echo}"));
    }
    Ok(())
}
