//! The blocking client from the command line.
//!
//! `cargo run -p socketio-blocking --example blocking -- <url> [--auth JSON]`
//!
//! Connects (the URL's path is the namespace), prints every event it receives as one JSON line
//! `{"event":…,"args":[…]}`, emits `message-with-ack` with `[1,"x",{"y":[1]}]`, prints the ack
//! as `{"ack":[…]}`, then disconnects and exits 0. Exits 1 on an error (message on stderr).

use std::process::ExitCode;
use std::time::Duration;

use socketio_blocking::{Client, ClientEvent, Value, json};

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
                auth = Some(json::parse(text.as_bytes(), 64).map_err(|e| format!("--auth: {e}"))?);
            }
            _ if url.is_none() => url = Some(arg),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let url = url.ok_or("usage: blocking <url> [--auth JSON]")?;
    let mut builder = Client::builder(&url)
        .reconnection(false)
        .connect_timeout(Duration::from_secs(10));
    if let Some(auth) = auth {
        builder = builder.auth(auth);
    }
    let mut client = builder.connect().map_err(|e| e.to_string())?;
    let args = vec![
        Value::from(1u64),
        Value::from("x"),
        Value::Object(vec![("y".into(), Value::Array(vec![Value::from(1u64)]))]),
    ];
    let reply = client.emit_with_ack("message-with-ack", args, Duration::from_secs(10));
    // Events that came before the ack, in order, then the ack.
    while let Some(event) = client
        .recv(Some(Duration::ZERO))
        .map_err(|e| e.to_string())?
    {
        print_event(event);
    }
    let reply = reply.map_err(|e| e.to_string())?;
    let line = Value::Object(vec![("ack".into(), Value::Array(reply))]);
    println!("{}", json::to_string(&line));
    client.disconnect();
    Ok(())
}

fn print_event(event: ClientEvent) {
    if let ClientEvent::Event { name, args, .. } = event {
        let line = Value::Object(vec![
            ("event".into(), Value::String(name)),
            ("args".into(), Value::Array(args)),
        ]);
        println!("{}", json::to_string(&line));
    }
}
