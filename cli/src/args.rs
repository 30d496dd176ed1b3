//! The command line (clap derive).

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Arguments and output are JSON. Binary values (Buffer / ArrayBuffer on the JavaScript side,
msgpack bin with --msgpack) are written {\"$bin\":\"<base64>\"} (standard alphabet, padded),
at any depth, both ways: `sio emit URL upload '{\"$bin\":\"AQID\"}'` sends the bytes 01 02 03,
and a received Buffer prints as {\"$bin\":\"AQID\"}. An object with \"$bin\" and other keys is
a plain object.

Exit codes: 0 success, 2 usage error (bad arguments or JSON), 3 connection failed or refused
(the server's connect_error message and data go to stderr), 4 timeout, 1 anything else.
Connection and reconnection progress goes to stderr, events and acks to stdout.

Examples:
  sio listen http://localhost:3000 --count 1
  sio listen https://example.org/admin --auth '{\"token\":\"abc\"}' -H 'Authorization: Bearer x'
  sio listen http://localhost:3000 --ack-reply '[\"ok\"]' --query room=lobby
  sio emit http://localhost:3000 chat '\"hello\"' '{\"room\":1}'
  sio emit http://localhost:3000 message-with-ack 1 '\"x\"' --ack";

/// `sio`: a Socket.IO command-line client.
#[derive(Debug, Parser)]
#[command(name = "sio", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect and print every received event as one JSON line:
    /// {"nsp":"/","event":"auth","args":[{"t":1}]}
    Listen(ListenArgs),
    /// Connect, emit one event, and (with --ack) print the ack's arguments as one JSON array.
    Emit(EmitArgs),
}

/// How to reach the server (shared by both subcommands).
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The server URL: http://host:port or https://host:port (ws:// and wss:// too); a path
    /// names the namespace, as with the JavaScript client (http://host:3000/admin joins
    /// /admin).
    pub url: String,
    /// The namespace to join (default: the URL's path, or /).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// An extra HTTP header for every request and the WebSocket handshake, as NAME:VALUE
    /// (e.g. 'Authorization: Bearer abc'); repeatable.
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// An extra query parameter, as KEY=VALUE; repeatable.
    #[arg(short, long = "query", value_name = "KEY=VALUE")]
    pub queries: Vec<String>,
    /// The auth object of the CONNECT packet, as JSON (e.g. '{"token":"abc"}').
    #[arg(short, long, value_name = "JSON")]
    pub auth: Option<String>,
    /// Transports: long-polling only, WebSocket only, or polling then an upgrade (like the
    /// JavaScript client).
    #[arg(short, long, value_enum, default_value_t = Transport::Both)]
    pub transport: Transport,
    /// Use the msgpack parser (socket.io-msgpack-parser) instead of the default one.
    #[arg(long)]
    pub msgpack: bool,
    /// The Engine.IO path on the server.
    #[arg(long, default_value = "/socket.io/")]
    pub path: String,
    /// Time limit in milliseconds for connecting, and (emit --ack) for the ack.
    #[arg(long, value_name = "MS", default_value_t = 20_000)]
    pub timeout: u64,
    /// Extra trusted root certificate (PEM file) for https:// servers, e.g. a test certificate.
    #[arg(long, value_name = "PEM_FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// Do not reconnect after the connection is lost.
    #[arg(long)]
    pub no_reconnect: bool,
    /// Give up after this many failed reconnection attempts (default: never).
    #[arg(long, value_name = "N")]
    pub reconnect_attempts: Option<u32>,
}

impl ConnectArgs {
    /// `--timeout` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout)
    }
}

/// `sio listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Connection options.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Exit (0) after printing this many events.
    #[arg(short, long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit with code 4 if still running after this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub wait: Option<u64>,
    /// What to answer when the server asks for an ack: the ack's arguments as a JSON array
    /// (a single non-array value is one argument). Without it the ack has no arguments.
    /// Events that asked for one print with "ack":true.
    #[arg(long, value_name = "JSON")]
    pub ack_reply: Option<String>,
}

/// `sio emit`.
#[derive(Debug, Args)]
pub struct EmitArgs {
    /// Connection options.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The event name.
    pub event: String,
    /// The event's arguments, each one JSON value ({"$bin":"<base64>"} for binary).
    #[arg(value_name = "ARG_JSON", allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// Ask for an ack and print its arguments as one JSON array.
    #[arg(long)]
    pub ack: bool,
}

/// `--transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// HTTP long-polling only.
    Polling,
    /// WebSocket only.
    Websocket,
    /// Long-polling first, then an upgrade to WebSocket.
    Both,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn listen() {
        let cli = Cli::try_parse_from([
            "sio",
            "listen",
            "http://x",
            "--namespace",
            "/a",
            "--auth",
            r#"{"t":1}"#,
            "--transport",
            "websocket",
            "--msgpack",
            "--count",
            "3",
        ])
        .unwrap();
        let Command::Listen(args) = cli.command else {
            panic!("listen")
        };
        assert_eq!(args.connect.url, "http://x");
        assert_eq!(args.connect.namespace.as_deref(), Some("/a"));
        assert_eq!(args.connect.auth.as_deref(), Some(r#"{"t":1}"#));
        assert_eq!(args.connect.transport, Transport::Websocket);
        assert!(args.connect.msgpack);
        assert_eq!(args.count, Some(3));
    }

    #[test]
    fn emit() {
        let cli = Cli::try_parse_from([
            "sio",
            "emit",
            "http://x",
            "ev",
            "1",
            "-2",
            r#""s""#,
            "--ack",
            "--timeout",
            "50",
        ])
        .unwrap();
        let Command::Emit(args) = cli.command else {
            panic!("emit")
        };
        assert_eq!(args.event, "ev");
        assert_eq!(args.args, ["1", "-2", r#""s""#]);
        assert!(args.ack);
        assert_eq!(args.connect.timeout(), Duration::from_millis(50));
        assert_eq!(args.connect.transport, Transport::Both);
        assert_eq!(args.connect.namespace, None);
    }

    #[test]
    fn usage_errors() {
        assert!(Cli::try_parse_from(["sio", "emit", "http://x"]).is_err());
        assert!(Cli::try_parse_from(["sio", "listen", "http://x", "--transport", "x"]).is_err());
        assert!(Cli::try_parse_from(["sio", "listen"]).is_err());
    }

    #[test]
    fn help_documents_binary_and_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("$bin"), "{help}");
        assert!(help.contains("Exit codes"), "{help}");
    }
}
