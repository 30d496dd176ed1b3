//! Running `listen` and `emit` on the client library.

use std::sync::Arc;
use std::time::Duration;

use socketio_protocol::Value;
use socketio_tokio::client::{
    AckSender, Client, ClientSocket, ConnectFailed, ConnectFailedKind, Connector,
};
use socketio_tokio::{AckError, TokioConnector, TokioRuntime, TransportKind};
use tokio::sync::mpsc;

use crate::Output;
use crate::args::{Cli, Command, ConnectArgs, EmitArgs, ListenArgs, Transport};
use crate::exit::Failure;
use crate::values::{ack_line, event_line, parse_auth, parse_json_arg};

/// What the client's handlers report to the command.
enum Note {
    Connected {
        id: Option<String>,
        recovered: bool,
    },
    ConnectError(ConnectFailed),
    /// The reason (with the cap, for `payload too large`) and whether the client reconnects.
    Disconnected(String, bool),
    /// An event, and whether the server asked for an ack (answered already).
    Event(String, Vec<Value>, bool),
    Attempt(u32),
    AttemptFailed,
    Reconnected(u32),
    GaveUp,
}

/// How many notes (events, mostly) may wait for the terminal. A handler waits for room, and
/// the client stops reading from the server while its handlers wait
/// ([`ClientBuilder::max_pending_events`](socketio_tokio::client::ClientBuilder::max_pending_events)),
/// so a slow stdout slows the server down instead of growing `sio`'s memory.
const NOTE_QUEUE: usize = 64;

pub(crate) async fn run(cli: Cli, output: &mut Output) -> Result<(), Failure> {
    match cli.command {
        Command::Listen(listen) => run_listen(listen, output).await,
        Command::Emit(emit) => run_emit(emit, output).await,
    }
}

fn parse_args(args: &[String]) -> Result<Vec<Value>, Failure> {
    args.iter()
        .map(|a| parse_json_arg(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Usage)
}

/// The server URL without a namespace path, and the namespace: `--namespace`, else the
/// URL's path (as the JavaScript client reads `io("http://host/admin")`), else `/`.
pub(crate) fn target(connect: &ConnectArgs) -> Result<(String, String), Failure> {
    let url = connect.url.as_str();
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let (base, rest) = match url[after_scheme..].find(['/', '?']) {
        Some(at) => url.split_at(after_scheme + at),
        None => (url, ""),
    };
    let (path, query) = match rest.find('?') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let from_url = path.trim_end_matches('/');
    let nsp = match (&connect.namespace, from_url.is_empty()) {
        (Some(nsp), _) => nsp.clone(),
        (None, false) => from_url.to_owned(),
        (None, true) => "/".to_owned(),
    };
    if !nsp.starts_with('/') {
        return Err(Failure::Usage(format!(
            "--namespace must start with '/', got {nsp:?}"
        )));
    }
    Ok((format!("{base}{query}"), nsp))
}

/// `NAME:VALUE` and `KEY=VALUE` options, split.
fn pairs(items: &[String], separator: char, what: &str) -> Result<Vec<(String, String)>, Failure> {
    items
        .iter()
        .map(|item| {
            let (name, value) = item.split_once(separator).ok_or_else(|| {
                Failure::Usage(format!("{what} wants NAME{separator}VALUE, got {item:?}"))
            })?;
            let name = name.trim();
            if name.is_empty() {
                return Err(Failure::Usage(format!(
                    "{what} has an empty name: {item:?}"
                )));
            }
            Ok((name.to_owned(), value.trim_start().to_owned()))
        })
        .collect()
}

/// Builds the client and registers the reporting handlers on the namespace's socket
/// (answering ack requests with `ack_reply`).
fn start(
    connect: &ConnectArgs,
    nsp: &str,
    url: String,
    ack_reply: Vec<Value>,
) -> Result<(Client, ClientSocket, mpsc::Receiver<Note>), Failure> {
    let auth = connect
        .auth
        .as_deref()
        .map(parse_auth)
        .transpose()
        .map_err(Failure::Usage)?;
    let mut builder = Client::builder(url)
        .path(connect.path.clone())
        .timeout(connect.timeout());
    for (name, value) in pairs(&connect.headers, ':', "--header")? {
        builder = builder.header(name, value);
    }
    for (key, value) in pairs(&connect.queries, '=', "--query")? {
        builder = builder.query(key, value);
    }
    builder = match connect.transport {
        Transport::Polling => builder.transports([TransportKind::Polling]),
        Transport::Websocket => builder.transports([TransportKind::WebSocket]),
        Transport::Both => builder.transports([TransportKind::Polling, TransportKind::WebSocket]),
    };
    if connect.msgpack {
        builder = builder.msgpack();
    }
    if let Some(auth) = &auth {
        builder = builder.auth(auth);
    }
    if connect.no_reconnect {
        builder = builder.reconnection(false);
    }
    if let Some(n) = connect.reconnect_attempts {
        builder = builder.reconnection_attempts(n);
    }
    let client = builder
        .build(Arc::new(TokioRuntime::new()), connector(connect)?)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let socket = client.socket(nsp);
    // Every handler waits for room in the queue (see `NOTE_QUEUE`).
    let (tx, rx) = mpsc::channel(NOTE_QUEUE);
    let reconnects = !connect.no_reconnect;
    {
        let tx = tx.clone();
        socket.on_connect(move |s: ClientSocket| {
            let note = Note::Connected {
                id: s.id(),
                recovered: s.recovered(),
            };
            let tx = tx.clone();
            async move {
                let _ = tx.send(note).await;
            }
        });
    }
    {
        let tx = tx.clone();
        socket.on_connect_error(move |_s, error: ConnectFailed| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Note::ConnectError(error)).await;
            }
        });
    }
    {
        let tx = tx.clone();
        socket.on_disconnect(move |_s, reason| {
            let note =
                Note::Disconnected(reason.to_string(), reconnects && reason.allows_reconnect());
            let tx = tx.clone();
            async move {
                let _ = tx.send(note).await;
            }
        });
    }
    {
        let tx = tx.clone();
        socket.on_any(
            move |_s, event: String, args: Vec<Value>, ack: Option<AckSender>| {
                let tx = tx.clone();
                let asked = ack.is_some();
                if let Some(ack) = ack {
                    // Answered at once: the server's timeout does not wait for the terminal.
                    if let Err(error) = ack.send_args(ack_reply.clone()) {
                        eprintln!("ack not sent: {error}");
                    }
                }
                async move {
                    let _ = tx.send(Note::Event(event, args, asked)).await;
                }
            },
        );
    }
    {
        let tx = tx.clone();
        client.on_reconnect_attempt(move |n| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Note::Attempt(n)).await;
            }
        });
    }
    {
        let tx = tx.clone();
        client.on_reconnect_error(move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Note::AttemptFailed).await;
            }
        });
    }
    {
        let tx = tx.clone();
        client.on_reconnect(move |n| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Note::Reconnected(n)).await;
            }
        });
    }
    client.on_reconnect_failed(move || {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Note::GaveUp).await;
        }
    });
    socket.connect();
    Ok((client, socket, rx))
}

/// The transport connector of the tokio runtime crate, with `--ca` as an extra root.
fn connector(connect: &ConnectArgs) -> Result<Arc<dyn Connector>, Failure> {
    let mut builder = TokioConnector::builder();
    if let Some(ca) = &connect.ca {
        let pem = std::fs::read_to_string(ca)
            .map_err(|e| Failure::Usage(format!("--ca {}: {e}", ca.display())))?;
        let certs = pem_certificates(&pem)
            .map_err(|e| Failure::Usage(format!("--ca {}: {e}", ca.display())))?;
        for der in certs {
            builder = builder
                .add_root_certificate(der)
                .map_err(|e| Failure::Usage(format!("--ca {}: {e}", ca.display())))?;
        }
    }
    Ok(Arc::new(builder.build()))
}

/// The DER bytes of every `CERTIFICATE` block of a PEM file.
pub(crate) fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine as _;
    let mut certs = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            let b64 = body.take().ok_or("END without BEGIN")?;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("bad base64 in a certificate: {e}"))?;
            certs.push(der);
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    if certs.is_empty() {
        return Err("no PEM CERTIFICATE block found".into());
    }
    Ok(certs)
}

/// Progress lines on stderr; a refusal or giving up ends the command, and so does a failed
/// attempt when the client does not reconnect (`reconnects` false: `--no-reconnect`).
fn progress(note: &Note, nsp: &str, reconnects: bool, output: &mut Output) -> Result<(), Failure> {
    match note {
        Note::Connected { id, recovered } => output.note(&format!(
            "connected to {nsp} as {}{}",
            id.as_deref().unwrap_or("?"),
            if *recovered { " (recovered)" } else { "" }
        )),
        Note::ConnectError(error) => {
            // A refusal by the server is final; a failed attempt (unreachable, timeout) is
            // retried by the client.
            if error.kind == ConnectFailedKind::Refused {
                return Err(Failure::Refused {
                    nsp: nsp.to_owned(),
                    message: error.message.clone(),
                    data: error.data.clone(),
                });
            }
            if !reconnects {
                return Err(Failure::Connect(format!(
                    "cannot connect to {nsp}: {}",
                    describe(error)
                )));
            }
            output.note(&format!("connect_error: {}", describe(error)));
        }
        Note::Disconnected(reason, reconnects) => output.note(&format!(
            "disconnected: {reason}{}",
            if *reconnects { " (reconnecting)" } else { "" }
        )),
        Note::Attempt(n) => output.note(&format!("reconnecting (attempt {n})")),
        Note::AttemptFailed => output.note("reconnection attempt failed"),
        Note::Reconnected(n) => output.note(&format!("reconnected after {n} attempt(s)")),
        Note::GaveUp => return Err(Failure::Connect("gave up reconnecting".into())),
        Note::Event(..) => {}
    }
    Ok(())
}

/// A failed attempt's reason, with what the connector said (`transport error (connection
/// refused)`, a TLS certificate refusal, ...).
fn describe(error: &ConnectFailed) -> String {
    match &error.detail {
        Some(detail) => format!("{} ({detail})", error.message),
        None => error.message.clone(),
    }
}

/// The failure when no connection came within `--timeout`: a connection failure (code 3) if
/// attempts failed, else a timeout (code 4).
fn not_connected(nsp: &str, timeout_ms: u64, last_error: Option<&str>) -> Failure {
    match last_error {
        Some(error) => Failure::Connect(format!(
            "cannot connect to {nsp} within {timeout_ms} ms (last error: {error})"
        )),
        None => Failure::Timeout(format!("not connected to {nsp} within {timeout_ms} ms")),
    }
}

/// Keeps the most telling reason of the failed attempts: a `connect_error` (with what the
/// connector said) rather than the bare "reconnection attempt failed" that follows it.
fn record_attempt_error(note: &Note, last_error: &mut Option<String>) {
    match note {
        Note::ConnectError(error) => *last_error = Some(describe(error)),
        Note::AttemptFailed if last_error.is_none() => {
            *last_error = Some("reconnection attempt failed".into())
        }
        _ => {}
    }
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
}

async fn run_listen(args: ListenArgs, output: &mut Output) -> Result<(), Failure> {
    let ack_reply = match &args.ack_reply {
        Some(json) => match parse_json_arg(json).map_err(Failure::Usage)? {
            Value::Array(items) => items,
            one => vec![one],
        },
        None => Vec::new(),
    };
    let (url, nsp) = target(&args.connect)?;
    let (client, _socket, mut rx) = start(&args.connect, &nsp, url, ack_reply)?;
    let wait = args.wait.map(Duration::from_millis);
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    let connect_deadline = tokio::time::Instant::now() + args.connect.timeout();
    let mut connected_once = false;
    let mut last_error: Option<String> = None;
    let mut printed = 0u64;
    let result = loop {
        if args.count.is_some_and(|n| printed >= n) {
            break Ok(());
        }
        let until = match (deadline, connected_once) {
            (Some(d), true) => Some(d),
            (Some(d), false) => Some(d.min(connect_deadline)),
            (None, true) => None,
            (None, false) => Some(connect_deadline),
        };
        // Ctrl-C ends a listen normally (exit 0), in every state.
        let timer = tokio::time::sleep_until(until.unwrap_or_else(far_future));
        let note = tokio::select! {
            note = rx.recv() => note,
            () = timer, if until.is_some() => {
                if !connected_once && until == Some(connect_deadline) {
                    break Err(not_connected(&nsp, args.connect.timeout, last_error.as_deref()));
                }
                break Err(Failure::Timeout(format!(
                    "--wait {} ms passed after {printed} event(s)",
                    args.wait.unwrap_or_default()
                )));
            }
            _ = tokio::signal::ctrl_c() => break Ok(()),
        };
        let Some(note) = note else {
            break Err(Failure::Other("the client stopped".into()));
        };
        if let Note::Connected { .. } = note {
            connected_once = true;
        }
        record_attempt_error(&note, &mut last_error);
        if let Err(failure) = progress(&note, &nsp, !args.connect.no_reconnect, output) {
            break Err(failure);
        }
        match note {
            Note::Event(event, event_args, asked) => {
                printed += 1;
                if !output.line(&event_line(&nsp, &event, &event_args, asked)) {
                    break Ok(());
                }
            }
            Note::Disconnected(reason, false) => {
                break Err(Failure::Connect(format!("disconnected: {reason}")));
            }
            _ => {}
        }
    };
    // Leave cleanly (the server sees `client namespace disconnect`), without lingering.
    let _ = client.close(Duration::from_secs(1)).await;
    result
}

async fn run_emit(args: EmitArgs, output: &mut Output) -> Result<(), Failure> {
    let values = parse_args(&args.args)?;
    let (url, nsp) = target(&args.connect)?;
    let (client, socket, mut rx) = start(&args.connect, &nsp, url, Vec::new())?;
    let timeout = args.connect.timeout();
    // Wait for the connection.
    let mut last_error: Option<String> = None;
    let connected = tokio::time::timeout(timeout, async {
        loop {
            let Some(note) = rx.recv().await else {
                return Err(Failure::Other("the client stopped".into()));
            };
            record_attempt_error(&note, &mut last_error);
            progress(&note, &nsp, !args.connect.no_reconnect, output)?;
            match note {
                Note::Connected { .. } => return Ok(()),
                Note::Disconnected(reason, _) => {
                    return Err(Failure::Connect(format!("disconnected: {reason}")));
                }
                _ => {}
            }
        }
    })
    .await;
    let result = match connected {
        Err(_) => Err(not_connected(
            &nsp,
            args.connect.timeout,
            last_error.as_deref(),
        )),
        Ok(Err(failure)) => Err(failure),
        Ok(Ok(())) if args.ack => {
            match emit_with_ack(&socket, &args.event, values, timeout).await {
                Ok(reply) => {
                    output.line(&ack_line(&reply));
                    Ok(())
                }
                Err(AckError::Timeout) => Err(Failure::Timeout(format!(
                    "no ack for {:?} within {} ms",
                    args.event, args.connect.timeout
                ))),
                Err(e) => Err(Failure::Other(format!("emit {:?}: {e}", args.event))),
            }
        }
        Ok(Ok(())) => match emit(&socket, &args.event, values) {
            // The event must reach the server before the process ends: wait until it is
            // written, and end with the transport rather than a namespace DISCONNECT, which
            // the Node server would let overtake the event (see `Client::close`).
            Ok(()) => client
                .close_transport(CLOSE_LIMIT)
                .await
                .map_err(|e| Failure::Other(format!("emit {:?}: {e}", args.event))),
            Err(e) => Err(Failure::Other(format!("emit {:?}: {e}", args.event))),
        },
    };
    // After an ack or a failure nothing is left to deliver; close without lingering.
    let _ = client.close(CLOSE_LIMIT).await;
    result
}

/// How long `emit` waits for its last writes (the event, the disconnect) to reach the server.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// Emits `args`, each item as its own argument.
fn emit(socket: &ClientSocket, event: &str, args: Vec<Value>) -> Result<(), Failure> {
    socket
        .emit_args(event, args)
        .map_err(|e| Failure::Other(e.to_string()))
}

/// Emits `args`, waits for the ack and returns its arguments exactly as the server sent them
/// (`ack([1,2])` gives `[[1,2]]`, `ack(1,2)` gives `[1,2]`).
async fn emit_with_ack(
    socket: &ClientSocket,
    event: &str,
    args: Vec<Value>,
    timeout: Duration,
) -> Result<Vec<Value>, AckError> {
    socket
        .emit_with_ack_args(event, args)
        .timeout(timeout)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_comes_from_the_url_path() {
        use clap::Parser;
        let target_of = |line: &str| {
            let cli = crate::args::Cli::try_parse_from(line.split(' ')).unwrap();
            let crate::args::Command::Listen(listen) = cli.command else {
                panic!("listen");
            };
            match target(&listen.connect) {
                Ok(pair) => pair,
                Err(_) => ("error".to_owned(), String::new()),
            }
        };
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(target_of("sio listen http://h:1"), pair("http://h:1", "/"));
        assert_eq!(target_of("sio listen http://h:1/"), pair("http://h:1", "/"));
        assert_eq!(
            target_of("sio listen http://h:1/admin"),
            pair("http://h:1", "/admin")
        );
        assert_eq!(
            target_of("sio listen https://h/a/b/?x=1"),
            pair("https://h?x=1", "/a/b")
        );
        assert_eq!(
            target_of("sio listen http://h:1/admin --namespace /other"),
            pair("http://h:1", "/other")
        );
        assert_eq!(target_of("sio listen http://h:1 -n bad").0, "error");
    }

    #[test]
    fn pem_blocks() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nBQ==\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_certificates(pem).unwrap(),
            vec![vec![1, 2, 3, 4], vec![5]]
        );
        assert!(pem_certificates("nothing").is_err());
    }
}
