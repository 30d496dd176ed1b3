//! The embedded client on a PC, over std's TcpStream through the `host` adapter and
//! `futures_executor::block_on`.
//!
//! `cargo run -p socketio-embedded --example host -- <url> [--auth JSON]`
//!
//! Connects (the URL's path is the namespace), prints every event it receives as one JSON line
//! `{"event":…,"args":[…]}`, emits `message-with-ack` with `[1,"x",{"y":[1]}]`, prints the ack
//! as `{"ack":[…]}`, then disconnects and exits 0. Exits 1 on an error (message on stderr).

use std::process::ExitCode;
use std::time::Duration;

use socketio_embedded::host::{StdConnection, StdTimer, Url};
use socketio_embedded::{Buffers, Client, Config, Event, Value};
use socketio_protocol::json;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut auth = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--auth" => {
                let text = args.next().ok_or("--auth needs a JSON object")?;
                let value = json::parse(text.as_bytes(), 64).map_err(|e| format!("--auth: {e}"))?;
                auth = Some(value);
            }
            _ if url.is_none() => url = Some(arg),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let url = url.ok_or("usage: host <url> [--auth JSON]")?;
    let url = Url::parse(&url).map_err(|e| e.to_string())?;
    let query: Vec<(&str, &str)> = url
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut config = Config::new(&url.host);
    config.namespace = &url.namespace;
    config.query = &query;
    config.auth = auth;
    config.reconnection = false;
    config.seed = seed();
    let mut rx = vec![0u8; 64 * 1024];
    let mut tx = vec![0u8; 1024];
    let buffers = Buffers {
        rx: &mut rx,
        tx: &mut tx,
    };
    let mut client = Client::new(
        config,
        StdConnection::new(&url.host),
        StdTimer::new(),
        buffers,
    )
    .map_err(|e| e.to_string())?;
    futures_executor::block_on(async {
        let mut asked = None;
        loop {
            let event = client
                .next_event()
                .await
                .map_err(|e| match client.last_error() {
                    Some(last) => format!("{e} ({last})"),
                    None => e.to_string(),
                })?;
            match event {
                Event::Connect { .. } if asked.is_none() => {
                    let args = vec![
                        Value::from(1u64),
                        Value::from("x"),
                        Value::Object(vec![("y".into(), Value::Array(vec![Value::from(1u64)]))]),
                    ];
                    let id = client
                        .emit_with_ack("message-with-ack", args, Duration::from_secs(10))
                        .await
                        .map_err(|e| e.to_string())?;
                    asked = Some(id);
                }
                Event::Event { data, .. } => {
                    let value = data.to_value().map_err(|e| e.to_string())?;
                    let items = value.as_array().unwrap_or_default();
                    let (name, args) = match items.split_first() {
                        Some((name, args)) => (name.clone(), args.to_vec()),
                        None => (Value::Null, Vec::new()),
                    };
                    let line = Value::Object(vec![
                        ("event".into(), name),
                        ("args".into(), Value::Array(args)),
                    ]);
                    println!("{}", json::to_string(&line));
                }
                Event::Ack { id, data, .. } if Some(id) == asked => {
                    let value = data.to_value().map_err(|e| e.to_string())?;
                    let line = Value::Object(vec![("ack".into(), value)]);
                    println!("{}", json::to_string(&line));
                    client.disconnect().await;
                    return Ok(());
                }
                Event::AckTimeout { .. } | Event::AckDisconnected { .. } => {
                    return Err("no ack".to_string());
                }
                Event::ConnectError { message, .. } => {
                    return Err(format!("connect error: {message}"));
                }
                Event::Disconnect { reason, .. } => {
                    return Err(format!("disconnected: {reason:?}"));
                }
                _ => {}
            }
        }
    })
}

/// A seed for keys and masks from the std hasher's random keys.
fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
