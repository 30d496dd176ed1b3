//! Contender `ours-tokio` / `ours-smol` of `bench/CONTENDERS.md`: this project's Socket.IO
//! server serving the benchmark application on loopback.
//!
//! ```text
//! socketio-bench-ours --runtime tokio|smol [--port P] [--workers N]
//! ```
//!
//! - `tokio`: `socketio-tokio` on a multi-thread tokio runtime (one worker per core, or N).
//! - `smol`: `socketio-async-std` on a multi-threaded `smol::Executor` run by one thread per
//!   core, or N (smol's global executor would use a single thread unless `SMOL_THREADS` is
//!   set). The executor threads are the main thread and `smol-1` … `smol-<N-1>`; async-io's
//!   reactor may also run on its own `async-io` thread when no executor thread is polling it.
//!
//! Prints `LISTENING <port>` once it accepts connections; exits when stdin reaches end of file
//! (or on a signal).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use socketio_tokio::{AckSender, Server, Socket, Value};

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
}

/// Reads `--runtime`, `--port` and `--workers` from the command line.
fn parse_args() -> Result<Args, String> {
    let mut runtime = None;
    let mut port = 0u16;
    let mut workers = None;
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
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        runtime: runtime.ok_or("--runtime tokio|smol is required")?,
        port,
        workers: workers.unwrap_or_else(cores),
    })
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

fn run_tokio(port: u16, workers: usize) -> std::io::Result<()> {
    use socketio_tokio::{ServerBuilderExt, ServerExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let io = Server::builder().build_tokio();
        app(&io);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        announce(listener.local_addr()?);
        io.serve(listener).await
    })
}

/// The executor every task of the smol contender runs on.
static EXECUTOR: OnceLock<smol::Executor<'static>> = OnceLock::new();

fn run_smol(port: u16, workers: usize) -> std::io::Result<()> {
    use socketio_async_std::{AsyncIoRuntime, HttpServer};
    let executor = EXECUTOR.get_or_init(smol::Executor::new);
    // `workers` threads run the executor: this thread and `workers - 1` more.
    for i in 1..workers {
        std::thread::Builder::new()
            .name(format!("smol-{i}"))
            .spawn(|| smol::block_on(executor.run(smol::future::pending::<()>())))?;
    }
    let runtime = AsyncIoRuntime::new(|task| executor.spawn(task).detach());
    smol::block_on(executor.run(async {
        let io = socketio_async_std::Server::builder().build(Arc::new(runtime));
        app(&io);
        let listener = smol::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        announce(listener.local_addr()?);
        HttpServer::new(io).serve(listener).await
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
        Runtime::Tokio => run_tokio(args.port, args.workers),
        Runtime::Smol => run_smol(args.port, args.workers),
    };
    if let Err(error) = served {
        eprintln!("socketio-bench-ours: {error}");
        std::process::exit(1);
    }
}
