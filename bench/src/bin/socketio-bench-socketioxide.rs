//! Contender `socketioxide` of `bench/CONTENDERS.md`: socketioxide (crates.io) serving the
//! benchmark application on tokio (multi-thread) + hyper, written as its hyper example and
//! docs show.
//!
//! ```text
//! socketio-bench-socketioxide [--port P] [--workers N] [--redis URL --redis-key PREFIX]
//! ```
//!
//! `--workers N`: N tokio worker threads (default: tokio's, one per core).
//!
//! `--redis URL --redis-key PREFIX`: a cluster node on socketioxide's own Redis adapter
//! (`socketioxide-redis`, redis-rs driver, channel prefix PREFIX; it speaks RESP3, so
//! `protocol=resp3` is added to the URL). `LISTENING` comes once the namespace's adapter has
//! subscribed.
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
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::ConnectHandler;
use socketioxide_redis::{RedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::net::TcpListener;

/// On connect: join `bench`; `echo` acks with its argument; `broadcast` emits `tick` with its
/// argument to room `bench`, the sender included (`within`).
///
/// Done in a middleware: socketioxide awaits middlewares before it writes the CONNECT reply,
/// but spawns the connect handler after it, so events a client sends right after its CONNECT
/// could arrive before their handlers exist (and be dropped), and a broadcast could miss a
/// socket not yet in the room. Every other contender has both done when the client sees its
/// CONNECT.
async fn register<A: Adapter>(socket: SocketRef<A>) -> Result<(), std::convert::Infallible> {
    socket.join("bench");
    socket.on("echo", async |Data(arg): Data<Value>, ack: AckSender<A>| {
        ack.send(&arg).ok();
    });
    socket.on(
        "broadcast",
        async |socket: SocketRef<A>, Data(arg): Data<Value>| {
            socket.within("bench").emit("tick", &arg).await.ok();
        },
    );
    Ok(())
}

/// The connect handler: everything happened in [`register`].
async fn on_connect<A: Adapter>(_socket: SocketRef<A>) {}

/// The command line.
struct Args {
    port: u16,
    /// Tokio worker threads (default one per core).
    workers: Option<usize>,
    /// `--redis URL` and `--redis-key PREFIX`: a node of a Redis cluster.
    redis: Option<(String, String)>,
}

/// Reads `--port`, `--workers`, `--redis` and `--redis-key` from the command line.
fn parse_args() -> Result<Args, String> {
    let mut port = 0;
    let mut workers = None;
    let (mut redis, mut redis_key) = (None, None);
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
            "--redis" => redis = Some(args.next().ok_or("--redis needs a URL")?),
            "--redis-key" => redis_key = Some(args.next().ok_or("--redis-key needs a prefix")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let redis = match (redis, redis_key) {
        (Some(url), Some(key)) => Some((url, key)),
        (None, None) => None,
        _ => return Err("--redis and --redis-key go together".into()),
    };
    Ok(Args {
        port,
        workers,
        redis,
    })
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

async fn serve(port: u16, redis: Option<(String, String)>) -> std::io::Result<()> {
    let builder = SocketIo::builder().max_payload(1_000_000);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let Some((url, key)) = redis else {
        let (svc, io) = builder.build_svc();
        io.ns("/", on_connect.with(register));
        return accept(listener, svc).await;
    };
    let other = std::io::Error::other;
    let separator = if url.contains('?') { '&' } else { '?' };
    let client = socketio_redis::redis::Client::open(format!("{url}{separator}protocol=resp3"))
        .map_err(other)?;
    let config = RedisAdapterConfig::new().with_prefix(key);
    let adapter = RedisAdapterCtr::new_with_redis_config(&client, config)
        .await
        .map_err(other)?;
    let (svc, io) = builder.with_adapter::<RedisAdapter<_>>(adapter).build_svc();
    // Subscribes the namespace's adapter: no broadcast from another node is missed after
    // `LISTENING`.
    io.ns("/", on_connect.with(register))
        .await
        .map_err(|e| std::io::Error::other(format!("the Redis adapter of `/`: {e}")))?;
    accept(listener, svc).await
}

/// Prints `LISTENING`, then serves every connection `listener` accepts with `svc` (the
/// socketio service, of either adapter).
async fn accept<S, B>(listener: TcpListener, svc: S) -> std::io::Result<()>
where
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<B>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
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
    let Args {
        port,
        workers,
        redis,
    } = match parse_args() {
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
        .and_then(|rt| rt.block_on(serve(port, redis)));
    if let Err(error) = served {
        eprintln!("socketio-bench-socketioxide: {error}");
        std::process::exit(1);
    }
}
