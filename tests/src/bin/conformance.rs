//! The conformance server: the configuration the official protocol suites expect
//! (PROTOCOL.md, "The conformance configuration"), so any external suite can be pointed at it.
//!
//! ```text
//! cargo run -p socketio-tests --bin conformance -- --level engine|socket [--eio3] [--msgpack] [--port 3000]
//! ```
//! Both levels: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, CORS `*`.
//! - `engine`: path `/engine.io/`; every message is echoed back as it came (text as text, binary
//!   as binary).
//! - `socket`: path `/socket.io/`, connectTimeout 1000 ms; on connect to `/` or `/custom` emit
//!   `auth` with the handshake auth; `message` → `message-back` with the same arguments;
//!   `message-with-ack` → acked with the same arguments; every other namespace is unknown.
//!
//! `RUST_LOG` sets the tracing filter (default `info`).

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use socketio_tokio::{
    AckSender, Cors, CorsOrigin, Server, ServerBuilder, ServerBuilderExt, ServerExt, Socket, Value,
};

/// Which protocol layer the suite tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Engine,
    Socket,
}

#[derive(Debug)]
struct Options {
    level: Level,
    eio3: bool,
    msgpack: bool,
    port: u16,
}

/// maxPayload of the conformance configuration, in bytes.
const MAX_PAYLOAD: usize = 1_000_000;

const USAGE: &str = "usage: conformance --level engine|socket [--eio3] [--msgpack] [--port 3000]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        level: Level::Socket,
        eio3: false,
        msgpack: false,
        port: 3000,
    };
    let mut level = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--level" => {
                level = Some(match args.next().as_deref() {
                    Some("engine") => Level::Engine,
                    Some("socket") => Level::Socket,
                    other => return Err(format!("--level wants engine or socket, got {other:?}")),
                });
            }
            "--eio3" => options.eio3 = true,
            "--msgpack" => options.msgpack = true,
            "--port" => {
                let value = args.next().ok_or("--port wants a number")?;
                options.port = value.parse().map_err(|_| format!("bad port {value:?}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    options.level = level.ok_or_else(|| format!("--level is required\n{USAGE}"))?;
    Ok(options)
}

/// The options shared by both levels.
fn base(options: &Options) -> ServerBuilder {
    let builder = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(MAX_PAYLOAD)
        .cors(Cors::new(CorsOrigin::Any))
        .allow_eio3(options.eio3);
    if options.msgpack {
        builder.msgpack()
    } else {
        builder
    }
}

/// Runs `$body` with `$tuple` bound to `$args` spread as a tuple (so `emit` and `ack.send` send
/// them as separate arguments, not as one array). Up to 8 arguments; more go as one array.
// TODO: replace with a `Vec<Value>` argument-list API of `socketio` once there is one.
macro_rules! with_spread {
    ($args:expr, |$tuple:ident| $body:expr) => {{
        let args: Vec<Value> = $args;
        let mut it = args.clone().into_iter();
        let mut n = || it.next().expect("length checked");
        match args.len() {
            0 => {
                let $tuple = ();
                $body
            }
            1 => {
                let $tuple = (n(),);
                $body
            }
            2 => {
                let $tuple = (n(), n());
                $body
            }
            3 => {
                let $tuple = (n(), n(), n());
                $body
            }
            4 => {
                let $tuple = (n(), n(), n(), n());
                $body
            }
            5 => {
                let $tuple = (n(), n(), n(), n(), n());
                $body
            }
            6 => {
                let $tuple = (n(), n(), n(), n(), n(), n());
                $body
            }
            7 => {
                let $tuple = (n(), n(), n(), n(), n(), n(), n());
                $body
            }
            8 => {
                let $tuple = (n(), n(), n(), n(), n(), n(), n(), n());
                $body
            }
            _ => {
                let $tuple = args;
                $body
            }
        }
    }};
}

/// Sends `args` back under `event` as the same argument list.
fn emit_same(socket: &Socket, event: &str, args: Vec<Value>) {
    if let Err(error) = with_spread!(args, |tuple| socket.emit(event, &tuple)) {
        eprintln!("emit {event}: {error}");
    }
}

/// Acks with the same argument list.
fn ack_same(ack: AckSender, args: Vec<Value>) {
    if let Err(error) = with_spread!(args, |tuple| ack.send(&tuple)) {
        eprintln!("ack: {error}");
    }
}

async fn on_connect(socket: Socket) {
    let auth = socket.handshake().auth_value().clone();
    if let Err(error) = socket.emit("auth", &auth) {
        eprintln!("emit auth: {error}");
    }
    socket.on_any(
        |socket: Socket, event: String, args: Vec<Value>, ack: Option<AckSender>| async move {
            match (event.as_str(), ack) {
                ("message", _) => emit_same(&socket, "message-back", args),
                ("message-with-ack", Some(ack)) => ack_same(ack, args),
                _ => {}
            }
        },
    );
}

/// The Socket.IO level server.
fn socket_server(options: &Options) -> Server {
    let io = base(options)
        .path("/socket.io")
        .connect_timeout(Duration::from_millis(1000))
        .build_tokio();
    io.ns("/", on_connect);
    io.ns("/custom", on_connect);
    io
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let io = match options.level {
        Level::Socket => socket_server(&options),
        Level::Engine => {
            eprintln!("--level engine needs the engine-level API of `socketio` (not there yet)");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from(([0, 0, 0, 0], options.port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bind {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "conformance server ({:?} level{}{}) on http://localhost:{}",
        options.level,
        if options.eio3 { ", EIO 3 allowed" } else { "" },
        if options.msgpack { ", msgpack" } else { "" },
        options.port
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // WebSocket messages are capped at maxPayload, as the reference server's `ws` does.
    let http = io.http().websocket_config(
        socketio_tokio::default_websocket_config()
            .max_message_size(Some(MAX_PAYLOAD))
            .max_frame_size(Some(MAX_PAYLOAD)),
    );
    match http.serve_with_shutdown(listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_the_documented_flags() {
        let options = parse(args("--level engine --eio3 --msgpack --port 4000")).unwrap();
        assert_eq!(options.level, Level::Engine);
        assert!(options.eio3 && options.msgpack);
        assert_eq!(options.port, 4000);
        let options = parse(args("--level socket")).unwrap();
        assert_eq!(
            (options.level, options.port, options.eio3),
            (Level::Socket, 3000, false)
        );
        assert!(parse(args("")).is_err());
        assert!(parse(args("--level http")).is_err());
        assert!(parse(args("--level socket --port x")).is_err());
    }
}
