//! Contender `socketioxide` of `bench/CONTENDERS.md`: socketioxide (crates.io) serving the
//! benchmark application on tokio (multi-thread) + hyper, written as its hyper example and
//! docs show.
//!
//! ```text
//! socketio-bench-socketioxide [--port P] [--workers N]
//! ```
//!
//! `--workers N`: N tokio worker threads (default: tokio's, one per core).
//!
//! Accepted connections get `TCP_NODELAY`, as in every other contender. socketioxide's
//! defaults otherwise, except `max_payload` raised from its 100 kB to the reference
//! 1 000 000 bytes that the contract (and the other contenders) use.
//!
//! Prints `LISTENING <port>` once it accepts connections; exits when stdin reaches end of file
//! (or on a signal).

use std::io::{Read, Write};
use std::net::Ipv4Addr;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::ConnectHandler;
use tokio::net::TcpListener;

/// On connect: join `bench`; `echo` acks with its argument; `broadcast` emits `tick` with its
/// argument to room `bench`, the sender included (`within`).
///
/// Done in a middleware: socketioxide awaits middlewares before it writes the CONNECT reply,
/// but spawns the connect handler after it, so events a client sends right after its CONNECT
/// could arrive before their handlers exist (and be dropped), and a broadcast could miss a
/// socket not yet in the room. Every other contender has both done when the client sees its
/// CONNECT.
async fn register(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.join("bench");
    socket.on("echo", async |Data(arg): Data<Value>, ack: AckSender| {
        ack.send(&arg).ok();
    });
    socket.on(
        "broadcast",
        async |socket: SocketRef, Data(arg): Data<Value>| {
            socket.within("bench").emit("tick", &arg).await.ok();
        },
    );
    Ok(())
}

/// The connect handler: everything happened in [`register`].
async fn on_connect(_socket: SocketRef) {}

/// Reads `--port` and `--workers` (tokio worker threads; default one per core) from the
/// command line.
fn parse_args() -> Result<(u16, Option<usize>), String> {
    let mut port = 0;
    let mut workers = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a port number")?;
            }
            "--workers" => {
                workers = Some(
                    args.next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--workers needs a number of threads > 0")?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((port, workers))
}

/// Exits the process once stdin reaches end of file (the harness closes it to stop us).
fn exit_on_stdin_eof() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

async fn serve(port: u16) -> std::io::Result<()> {
    let (svc, io) = SocketIo::builder().max_payload(1_000_000).build_svc();
    io.ns("/", on_connect.with(register));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "LISTENING {}", listener.local_addr()?.port())?;
    out.flush()?;
    drop(out);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors and the like: keep accepting.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // As the other contenders (and Node's http server by default): no Nagle delay.
        stream.set_nodelay(true).ok();
        let svc = svc.clone();
        tokio::spawn(async move {
            http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await
                .ok();
        });
    }
}

fn main() {
    let (port, workers) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("socketio-bench-socketioxide: {message}");
            std::process::exit(2);
        }
    };
    exit_on_stdin_eof();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    let served = builder
        .enable_all()
        .build()
        .and_then(|rt| rt.block_on(serve(port)));
    if let Err(error) = served {
        eprintln!("socketio-bench-socketioxide: {error}");
        std::process::exit(1);
    }
}
