//! Contender `ours-tokio` / `ours-smol` of `bench/CONTENDERS.md`: this project's Socket.IO
//! server serving the benchmark application on loopback.
//!
//! ```text
//! socketio-bench-ours --runtime tokio|smol [--port P] [--workers N]
//!                     [--redis URL --redis-key KEY] [--metrics]
//! ```
//!
//! - `tokio`: `socketio-tokio` on a multi-thread tokio runtime (one worker per core, or N).
//! - `smol`: `socketio-async-std` on a multi-threaded `smol::Executor` run by one thread per
//!   core, or N (smol's global executor would use a single thread unless `SMOL_THREADS` is
//!   set). The executor threads are the main thread and `smol-1` … `smol-<N-1>`; async-io's
//!   reactor may also run on its own `async-io` thread when no executor thread is polling it.
//!
//! `--redis URL --redis-key KEY`: a cluster node on this project's classic Redis adapter
//! (`socketio-redis`, `@socket.io/redis-adapter`'s wire, key KEY), its adapter of `/` made
//! before `LISTENING`.
//!
//! `--metrics`: the server counts its traffic in Prometheus metrics (`socketio::metrics`),
//! served at `/metrics` on the same listener (to measure what metrics cost: run with and
//! without, `bench/run-metrics.sh`).
//!
//! Prints `LISTENING <port>` once it accepts connections; exits when stdin reaches end of file
//! (or on a signal).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use socketio_redis::{RedisAdapterOptions, RedisNode};
use socketio_tokio::metrics::Metrics;
use socketio_tokio::{AckSender, Server, ServerBuilder, Socket, Value};

/// The benchmark application on namespace `/`: join `bench`; `echo` acks with its argument;
/// `broadcast` emits `tick` with its argument to room `bench` (the sender included); `join` and
/// `leave` (used by the soak) join or leave the room named by their string argument and ack
/// with it.
///
/// The argument is taken as a [`Value`] and handed back as an argument list, so the broadcast
/// is encoded once for all recipients and nothing is serialised through serde twice.
fn app(io: &Server) {
    io.ns("/", |socket: Socket| async move {
        socket.join("bench");
        socket.on(
            "echo",
            |_socket: Socket, arg: Value, ack: Option<AckSender>| async move {
                if let Some(ack) = ack {
                    ack.send_args(vec![arg]).ok();
                }
            },
        );
        socket.on(
            "broadcast",
            |socket: Socket, arg: Value, _ack: Option<AckSender>| async move {
                socket
                    .server()
                    .to("bench")
                    .emit_args("tick", vec![arg])
                    .ok();
            },
        );
        socket.on(
            "join",
            |socket: Socket, arg: Value, ack: Option<AckSender>| async move {
                if let Some(room) = arg.as_str() {
                    socket.join(room.to_owned());
                }
                if let Some(ack) = ack {
                    ack.send_args(vec![arg]).ok();
                }
            },
        );
        socket.on(
            "leave",
            |socket: Socket, arg: Value, ack: Option<AckSender>| async move {
                if let Some(room) = arg.as_str() {
                    socket.leave(room);
                }
                if let Some(ack) = ack {
                    ack.send_args(vec![arg]).ok();
                }
            },
        );
    });
}

/// Which executor serves the application.
#[derive(Clone, Copy)]
enum Runtime {
    Tokio,
    Smol,
}

/// The command line.
struct Args {
    runtime: Runtime,
    port: u16,
    /// Worker (executor) threads: `--workers N`, else one per core.
    workers: usize,
    /// `--redis URL` and `--redis-key KEY`: a node of a Redis cluster.
    redis: Option<Redis>,
    /// `--metrics`: Prometheus metrics on, served at `/metrics`.
    metrics: Option<Metrics>,
}

/// Where the Redis adapter goes.
struct Redis {
    url: String,
    key: String,
}

/// Reads `--runtime`, `--port`, `--workers`, `--redis` and `--redis-key` from the command line.
fn parse_args() -> Result<Args, String> {
    let mut runtime = None;
    let mut port = 0u16;
    let mut workers = None;
    let (mut url, mut key) = (None, None);
    let mut metrics = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runtime" => {
                runtime = match args.next().as_deref() {
                    Some("tokio") => Some(Runtime::Tokio),
                    Some("smol") => Some(Runtime::Smol),
                    other => return Err(format!("--runtime tokio|smol, got {other:?}")),
                }
            }
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
            "--metrics" => metrics = Some(Metrics::new()),
            "--redis" => url = Some(args.next().ok_or("--redis needs a URL")?),
            "--redis-key" => key = Some(args.next().ok_or("--redis-key needs a key")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let redis = match (url, key) {
        (Some(url), Some(key)) => Some(Redis { url, key }),
        (None, None) => None,
        _ => return Err("--redis and --redis-key go together".into()),
    };
    Ok(Args {
        runtime: runtime.ok_or("--runtime tokio|smol is required")?,
        port,
        workers: workers.unwrap_or_else(cores),
        redis,
        metrics,
    })
}

/// `builder` with the Redis adapter when `redis` is set, its connections on `runtime`.
fn with_redis(
    builder: ServerBuilder,
    redis: Option<&Redis>,
    runtime: Arc<dyn socketio_tokio::Runtime>,
) -> std::io::Result<ServerBuilder> {
    let Some(redis) = redis else {
        return Ok(builder);
    };
    let client = socketio_redis::redis::Client::open(redis.url.as_str())
        .map_err(|e| std::io::Error::other(format!("--redis {}: {e}", redis.url)))?;
    let node = RedisNode::new(
        client,
        runtime,
        RedisAdapterOptions::with_key(redis.key.as_str()),
    );
    Ok(builder.adapter(node.factory()))
}

/// Makes the adapter of `/` now (it is made on first use), so that it subscribes before the
/// first client comes, and waits (10 s at most) until it reaches Redis (it connects in the
/// background); the harness then waits until Redis counts every node.
async fn make_adapter(io: &Server) -> std::io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match io.server_count().await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(std::io::Error::other(format!(
                    "the adapter of `/` did not reach Redis within 10 s: {e}"
                )));
            }
            Err(_) => io.runtime().sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Prints the `LISTENING` line (the only thing this process writes on stdout).
fn announce(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "LISTENING {}", addr.port()).ok();
    out.flush().ok();
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

/// Cores to use by default: one worker (or executor thread) per core.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `builder` counting in `metrics`, if any.
fn with_metrics(builder: ServerBuilder, metrics: Option<&Metrics>) -> ServerBuilder {
    match metrics {
        Some(metrics) => builder.metrics(metrics),
        None => builder,
    }
}

fn run_tokio(
    port: u16,
    workers: usize,
    redis: Option<&Redis>,
    metrics: Option<&Metrics>,
) -> std::io::Result<()> {
    use socketio_tokio::{HttpServer, TokioRuntime};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let runtime: Arc<dyn socketio_tokio::Runtime> = Arc::new(TokioRuntime::new());
        let builder = with_metrics(Server::builder(), metrics);
        let io = with_redis(builder, redis, runtime.clone())?.build(runtime);
        app(&io);
        make_adapter(&io).await?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        announce(listener.local_addr()?);
        let mut http = HttpServer::new(io);
        if let Some(metrics) = metrics {
            http = http.metrics("/metrics", metrics);
        }
        http.serve(listener).await
    })
}

/// The executor every task of the smol contender runs on.
static EXECUTOR: OnceLock<smol::Executor<'static>> = OnceLock::new();

fn run_smol(
    port: u16,
    workers: usize,
    redis: Option<&Redis>,
    metrics: Option<&Metrics>,
) -> std::io::Result<()> {
    use socketio_async_std::{AsyncIoRuntime, HttpServer};
    let executor = EXECUTOR.get_or_init(smol::Executor::new);
    // `workers` threads run the executor: this thread and `workers - 1` more.
    for i in 1..workers {
        std::thread::Builder::new()
            .name(format!("smol-{i}"))
            .spawn(|| smol::block_on(executor.run(smol::future::pending::<()>())))?;
    }
    let runtime: Arc<dyn socketio_tokio::Runtime> =
        Arc::new(AsyncIoRuntime::new(|task| executor.spawn(task).detach()));
    smol::block_on(executor.run(async {
        let builder = with_metrics(socketio_async_std::Server::builder(), metrics);
        let io = with_redis(builder, redis, runtime.clone())?.build(runtime);
        app(&io);
        make_adapter(&io).await?;
        let listener = smol::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        announce(listener.local_addr()?);
        let mut http = HttpServer::new(io);
        if let Some(metrics) = metrics {
            http = http.metrics("/metrics", metrics);
        }
        http.serve(listener).await
    }))
}

fn main() {
    let args = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("socketio-bench-ours: {message}");
            std::process::exit(2);
        }
    };
    exit_on_stdin_eof();
    let served = match args.runtime {
        Runtime::Tokio => run_tokio(
            args.port,
            args.workers,
            args.redis.as_ref(),
            args.metrics.as_ref(),
        ),
        Runtime::Smol => run_smol(
            args.port,
            args.workers,
            args.redis.as_ref(),
            args.metrics.as_ref(),
        ),
    };
    if let Err(error) = served {
        eprintln!("socketio-bench-ours: {error}");
        std::process::exit(1);
    }
}
