//! The conformance server: the configuration the official protocol suites expect
//! (PROTOCOL.md, "The conformance configuration"), so any external suite can be pointed at it.
//!
//! ```text
//! cargo run -p socketio-tests --bin conformance -- --level engine|socket [--eio3] [--msgpack]
//!     [--port 3000] [--runtime tokio|async-std|smol] [--metrics /metrics]
//! cargo run -p socketio-tests --bin conformance -- --level cluster --adapter redis|redis-sharded|redis-streams
//!     --redis-url redis://127.0.0.1:6379 --key <prefix> --node-id <name> --port <N>
//!     [--runtime tokio|async-std|smol] [--msgpack] [--stream-count N] [--sharded-pubsub]
//! add --admin to either for the Admin UI's /admin namespace
//! add --path /p, --cors-credentials (and --recovery at the socket level) to any
//! ```
//! Both levels: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, CORS `*`.
//! - `engine`: path `/engine.io/`, served by [`socketio::engine::EngineServer`]; every message
//!   is echoed back as it came (text as text, binary as binary); `--msgpack` does not apply.
//! - `socket`: path `/socket.io/`, connectTimeout 1000 ms; on connect to `/` or `/custom` emit
//!   `auth` with the handshake auth; `message` → `message-back` with the same arguments;
//!   `message-with-ack` → acked with the same arguments; every other namespace is unknown.
//! - `cluster`: the socket level's options, one node of a cluster on Redis, running the
//!   cluster app of [`socketio_tests::cluster`] (issue 14's handler table) on `/`:
//!   `--adapter redis` is the classic adapter of `socketio-redis` (`key` = `--key`),
//!   `--adapter redis-sharded` the sharded one (`channelPrefix` = `--key`, dynamic
//!   subscription mode), `--adapter redis-streams` the streams one (`streamName` =
//!   `channelPrefix` = `--key`, `sessionKeyPrefix` = `<key>:session:`) with connection state
//!   recovery on (maxDisconnectionDuration 60 s, skipMiddlewares); with it, `--stream-count N`
//!   is its `streamCount` (default 1) and `--sharded-pubsub` turns `useShardedPubSub` on.
//!
//! `--admin` (socket and cluster levels) instruments the server for the official Admin UI
//! (`socketio-admin`: namespace `/admin`, no authentication, development mode; on the cluster
//! level its server id is `--node-id`). The engine level has no namespaces: it refuses it.
//!
//! `--runtime` picks the executor (tokio by default): tokio with `socketio-tokio`'s
//! `HttpServer`, or async-std / smol with `socketio-async-std`'s. `--port 0` binds an
//! ephemeral port. Once listening, the binary prints one line on stdout,
//! `listening on <address>:<port>`; everything else goes to stderr. On tokio, Ctrl-C shuts the
//! server down gracefully; on the others it ends the process.
//!
//! `--path <path>` (every level) serves at that path instead of the level's (`/engine.io`,
//! `/socket.io`); `--cors-credentials` (every level) reflects the request's `Origin` and sends
//! `Access-Control-Allow-Credentials: true`, as a page with `withCredentials: true` needs,
//! instead of `*`; `--recovery` (socket level) turns connection state recovery on (the
//! reference's defaults: maxDisconnectionDuration 2 min, skipMiddlewares).
//!
//! `--metrics <path>` (every level) also serves the server's Prometheus metrics at `path` on
//! the same listener (`socketio::metrics`; at the engine level, the Engine.IO counters only).
//!
//! `RUST_LOG` sets the tracing filter (default `info`).

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use socketio_tokio::{
    AckSender, Cors, CorsOrigin, Endpoint, Server, ServerBuilder, Socket, Value,
    engine::{EngineBuilder, EngineServer, EngineSocket},
    metrics::Metrics,
};

/// Which protocol layer the suite tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Engine,
    Socket,
    Cluster,
}

/// Which executor serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Executor {
    Tokio,
    AsyncStd,
    Smol,
}

#[derive(Debug)]
struct Options {
    level: Level,
    eio3: bool,
    msgpack: bool,
    port: u16,
    runtime: Executor,
    /// Where the metrics are served on the listener, if at all.
    metrics: Option<String>,
    /// `--admin`: instrumented for the Admin UI.
    admin: bool,
    /// `--path`: the server's path instead of the level's default.
    path: Option<String>,
    /// `--recovery`: connection state recovery on at the socket level.
    recovery: bool,
    /// `--cors-credentials`: the request's origin reflected, with credentials allowed.
    cors_credentials: bool,
    /// The cluster level's Redis link.
    cluster: ClusterOptions,
}

/// The cluster level's options.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClusterOptions {
    redis_url: String,
    key: String,
    node_id: String,
    /// `redis-sharded`: the sharded adapter.
    sharded: bool,
    /// `redis-streams`: the streams adapter (and connection state recovery).
    streams: bool,
    /// Its `streamCount`.
    stream_count: usize,
    /// Its `useShardedPubSub`.
    sharded_pub_sub: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            redis_url: "redis://127.0.0.1:6379".to_owned(),
            key: "socket.io".to_owned(),
            node_id: "node".to_owned(),
            sharded: false,
            streams: false,
            stream_count: 1,
            sharded_pub_sub: false,
        }
    }
}

/// maxPayload of the conformance configuration, in bytes.
const MAX_PAYLOAD: usize = 1_000_000;

const USAGE: &str = "usage: conformance --level engine|socket|cluster [--eio3] [--msgpack] \
                     [--port 3000] [--runtime tokio|async-std|smol] [--metrics /metrics] [--adapter redis|redis-sharded|redis-streams] \
                     [--redis-url redis://127.0.0.1:6379] [--key socket.io] [--node-id node] \
                     [--stream-count 1] [--sharded-pubsub] [--admin] [--path /socket.io] \
                     [--recovery] [--cors-credentials]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        level: Level::Socket,
        eio3: false,
        msgpack: false,
        port: 3000,
        runtime: Executor::Tokio,
        metrics: None,
        admin: false,
        path: None,
        recovery: false,
        cors_credentials: false,
        cluster: ClusterOptions::default(),
    };
    let mut level = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--level" => {
                level = Some(match args.next().as_deref() {
                    Some("engine") => Level::Engine,
                    Some("socket") => Level::Socket,
                    Some("cluster") => Level::Cluster,
                    other => {
                        return Err(format!(
                            "--level wants engine, socket or cluster, got {other:?}"
                        ));
                    }
                });
            }
            "--runtime" => {
                options.runtime = match args.next().as_deref() {
                    Some("tokio") => Executor::Tokio,
                    Some("async-std") => Executor::AsyncStd,
                    Some("smol") => Executor::Smol,
                    other => {
                        return Err(format!(
                            "--runtime wants tokio, async-std or smol, got {other:?}"
                        ));
                    }
                };
            }
            "--adapter" => match args.next().as_deref() {
                Some("redis") => {
                    (options.cluster.sharded, options.cluster.streams) = (false, false)
                }
                Some("redis-sharded") => {
                    (options.cluster.sharded, options.cluster.streams) = (true, false)
                }
                Some("redis-streams") => {
                    (options.cluster.sharded, options.cluster.streams) = (false, true)
                }
                other => {
                    return Err(format!(
                        "--adapter wants redis, redis-sharded or redis-streams, got {other:?}"
                    ));
                }
            },
            "--redis-url" => {
                options.cluster.redis_url = args.next().ok_or("--redis-url wants a URL")?;
            }
            "--key" => options.cluster.key = args.next().ok_or("--key wants a prefix")?,
            "--node-id" => options.cluster.node_id = args.next().ok_or("--node-id wants a name")?,
            "--stream-count" => {
                let value = args.next().ok_or("--stream-count wants a number")?;
                options.cluster.stream_count = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("bad stream count {value:?}"))?;
            }
            "--sharded-pubsub" => options.cluster.sharded_pub_sub = true,
            "--metrics" => {
                let path = args.next().ok_or("--metrics wants a path")?;
                if !path.starts_with('/') {
                    return Err(format!(
                        "--metrics wants a path starting with '/', got {path:?}"
                    ));
                }
                options.metrics = Some(path);
            }
            "--admin" => options.admin = true,
            "--path" => {
                let path = args.next().ok_or("--path wants a path")?;
                if !path.starts_with('/') || path.len() < 2 {
                    return Err(format!("--path wants a path such as /ws, got {path:?}"));
                }
                options.path = Some(path.trim_end_matches('/').to_owned());
            }
            "--recovery" => options.recovery = true,
            "--cors-credentials" => options.cors_credentials = true,
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
    if options.recovery && options.level != Level::Socket {
        return Err(
            "--recovery is for the socket level (the cluster level has it with redis-streams)"
                .to_owned(),
        );
    }
    if options.admin && options.level == Level::Engine {
        return Err(
            "--admin needs the socket or cluster level (the engine level has no namespaces)"
                .to_owned(),
        );
    }
    Ok(options)
}

/// CORS: any origin, or with `--cors-credentials` the request's origin reflected and
/// `Access-Control-Allow-Credentials: true` (what a page with `withCredentials: true` needs).
fn cors(options: &Options) -> Cors {
    if options.cors_credentials {
        Cors {
            credentials: true,
            ..Cors::new(CorsOrigin::Reflect)
        }
    } else {
        Cors::new(CorsOrigin::Any)
    }
}

/// The server's path: `--path`, or the level's `default`.
fn path<'a>(options: &'a Options, default: &'a str) -> &'a str {
    options.path.as_deref().unwrap_or(default)
}

/// The Socket.IO options shared with the engine level.
fn base(options: &Options, metrics: Option<&Metrics>) -> ServerBuilder {
    let builder = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(MAX_PAYLOAD)
        .cors(cors(options))
        .allow_eio3(options.eio3);
    let builder = match metrics {
        Some(metrics) => builder.metrics(metrics),
        None => builder,
    };
    if options.msgpack {
        builder.msgpack()
    } else {
        builder
    }
}

/// Sends `args` back under `event` as the same argument list.
fn emit_same(socket: &Socket, event: &str, args: Vec<Value>) {
    if let Err(error) = socket.emit_args(event, args) {
        eprintln!("emit {event}: {error}");
    }
}

/// Acks with the same argument list.
fn ack_same(ack: AckSender, args: Vec<Value>) {
    if let Err(error) = ack.send_args(args) {
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
fn socket_server(
    options: &Options,
    runtime: Arc<dyn socketio_tokio::Runtime>,
    metrics: Option<&Metrics>,
) -> Server {
    let builder = base(options, metrics)
        .path(path(options, "/socket.io"))
        .connect_timeout(Duration::from_millis(1000));
    let builder = if options.recovery {
        builder.connection_state_recovery(socketio_tokio::RecoveryConfig::default())
    } else {
        builder
    };
    let io = builder.build(runtime);
    io.ns("/", on_connect);
    io.ns("/custom", on_connect);
    if options.admin {
        instrument(&io, None);
    }
    io
}

/// `--admin`: the Admin UI's `/admin` namespace, no authentication, development mode.
fn instrument(io: &Server, server_id: Option<&str>) {
    let mut admin = socketio_admin::AdminOptions::default();
    if let Some(id) = server_id {
        admin = admin.server_id(id);
    }
    match socketio_admin::instrument(io, admin) {
        Ok(admin) => eprintln!(
            "admin UI namespace /admin (server id {})",
            admin.server_id()
        ),
        Err(error) => eprintln!("admin: {error}"),
    }
}

/// The cluster level server: the cluster app on `/` with the Redis adapter.
fn cluster_server(
    options: &Options,
    runtime: Arc<dyn socketio_tokio::Runtime>,
    metrics: Option<&Metrics>,
) -> std::io::Result<Server> {
    let client = socketio_redis::redis::Client::open(options.cluster.redis_url.as_str())
        .map_err(|error| std::io::Error::other(format!("--redis-url: {error}")))?;
    let mut adapter = socketio_redis::RedisAdapterOptions::with_key(options.cluster.key.clone());
    if options.cluster.sharded {
        // `channelPrefix` = the key; the default (dynamic) subscription mode.
        adapter.flavor =
            socketio_redis::Flavor::Sharded(socketio_redis::SubscriptionMode::default());
    }
    if options.cluster.streams {
        // `streamName` = `channelPrefix` = the key; sessions under `<key>:session:`.
        adapter.flavor = socketio_redis::Flavor::Streams(socketio_redis::StreamsOptions {
            session_key_prefix: format!("{}:session:", options.cluster.key),
            stream_count: options.cluster.stream_count,
            use_sharded_pub_sub: options.cluster.sharded_pub_sub,
            ..socketio_redis::StreamsOptions::default()
        });
    }
    let node = socketio_redis::RedisNode::new(client, runtime.clone(), adapter);
    let mut builder =
        socketio_tests::cluster::builder(&node, options.msgpack, options.cluster.streams)
            .path(path(options, "/socket.io"))
            .cors(cors(options));
    if let Some(metrics) = metrics {
        builder = builder.metrics(metrics);
    }
    let io = builder.build(runtime);
    socketio_tests::cluster::install(&io, &node, &options.cluster.node_id);
    if options.admin {
        instrument(&io, Some(&options.cluster.node_id));
    }
    Ok(io)
}

/// The Engine.IO level server: path `/engine.io/`, every message echoed as it came.
fn engine_server(
    options: &Options,
    runtime: Arc<dyn socketio_tokio::Runtime>,
    metrics: Option<&Metrics>,
) -> EngineServer {
    let mut builder = EngineBuilder::new();
    if let Some(metrics) = metrics {
        builder = builder.metrics(metrics);
    }
    let engine = builder
        .path(path(options, "/engine.io"))
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_http_buffer_size(MAX_PAYLOAD)
        .cors(cors(options))
        .allow_eio3(options.eio3)
        .build(runtime);
    engine.on_connection(|socket: EngineSocket| async move {
        while let Some(message) = socket.recv().await {
            if let Err(error) = socket.send(message) {
                eprintln!("echo: {error}");
            }
        }
    });
    engine
}

/// Announces the bound address: the one line on stdout, the details on stderr.
fn announce(local: SocketAddr, options: &Options) {
    eprintln!(
        "conformance server ({:?} level{}{}, {:?} runtime)",
        options.level,
        if options.eio3 { ", EIO 3 allowed" } else { "" },
        if options.msgpack { ", msgpack" } else { "" },
        options.runtime,
    );
    println!("listening on {local}");
}

/// Serves the level of `options` on tokio until Ctrl-C.
async fn run_tokio(options: &Options) -> ExitCode {
    let addr = SocketAddr::from(([0, 0, 0, 0], options.port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bind {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = Arc::new(socketio_tokio::TokioRuntime::new());
    let made = options.metrics.as_ref().map(|_| Metrics::new());
    let metrics = made.as_ref();
    let served = options.metrics.as_deref().zip(metrics);
    let result = match listener.local_addr() {
        Ok(local) => {
            announce(local, options);
            match options.level {
                Level::Socket => {
                    serve_tokio(socket_server(options, runtime, metrics), listener, served).await
                }
                Level::Cluster => match cluster_server(options, runtime, metrics) {
                    Ok(io) => serve_tokio(io, listener, served).await,
                    Err(error) => Err(error),
                },
                Level::Engine => {
                    serve_tokio(engine_server(options, runtime, metrics), listener, served).await
                }
            }
        }
        Err(error) => Err(error),
    };
    exit(result)
}

async fn serve_tokio<E: Endpoint>(
    endpoint: E,
    listener: tokio::net::TcpListener,
    metrics: Option<(&str, &Metrics)>,
) -> std::io::Result<()> {
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // WebSocket messages are capped at maxPayload, as the reference server's `ws` does.
    let mut http = socketio_tokio::HttpServer::new(endpoint).websocket_config(
        socketio_tokio::default_websocket_config()
            .max_message_size(Some(MAX_PAYLOAD))
            .max_frame_size(Some(MAX_PAYLOAD)),
    );
    if let Some((path, metrics)) = metrics {
        http = http.metrics(path, metrics);
    }
    http.serve_with_shutdown(listener, shutdown).await
}

/// Serves the level of `options` on async-io (async-std or smol, as `runtime` spawns) until
/// the process ends.
async fn run_async_io(options: &Options, runtime: socketio_async_std::AsyncIoRuntime) -> ExitCode {
    let addr = SocketAddr::from(([0, 0, 0, 0], options.port));
    let listener = match smol::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bind {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime: Arc<dyn socketio_tokio::Runtime> = Arc::new(runtime);
    let made = options.metrics.as_ref().map(|_| Metrics::new());
    let metrics = made.as_ref();
    let served = options.metrics.as_deref().zip(metrics);
    let result = match listener.local_addr() {
        Ok(local) => {
            announce(local, options);
            match options.level {
                Level::Socket => {
                    serve_async_io(socket_server(options, runtime, metrics), listener, served).await
                }
                Level::Cluster => match cluster_server(options, runtime, metrics) {
                    Ok(io) => serve_async_io(io, listener, served).await,
                    Err(error) => Err(error),
                },
                Level::Engine => {
                    serve_async_io(engine_server(options, runtime, metrics), listener, served).await
                }
            }
        }
        Err(error) => Err(error),
    };
    exit(result)
}

async fn serve_async_io<E: Endpoint>(
    endpoint: E,
    listener: smol::net::TcpListener,
    metrics: Option<(&str, &Metrics)>,
) -> std::io::Result<()> {
    let mut http = socketio_async_std::HttpServer::new(endpoint).websocket_config(
        socketio_async_std::default_websocket_config()
            .max_message_size(Some(MAX_PAYLOAD))
            .max_frame_size(Some(MAX_PAYLOAD)),
    );
    if let Some((path, metrics)) = metrics {
        http = http.metrics(path, metrics);
    }
    http.serve(listener).await
}

fn exit(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("serve: {error}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match options.runtime {
        Executor::Tokio => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(run_tokio(&options)),
            Err(error) => {
                eprintln!("tokio runtime: {error}");
                ExitCode::FAILURE
            }
        },
        Executor::AsyncStd => async_std::task::block_on(run_async_io(
            &options,
            socketio_async_std::AsyncIoRuntime::async_std(),
        )),
        Executor::Smol => smol::block_on(run_async_io(
            &options,
            socketio_async_std::AsyncIoRuntime::smol(),
        )),
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
            (options.level, options.port, options.eio3, options.runtime),
            (Level::Socket, 3000, false, Executor::Tokio)
        );
        let options = parse(args("--runtime smol --level engine --port 0")).unwrap();
        assert_eq!(
            (options.level, options.port, options.runtime),
            (Level::Engine, 0, Executor::Smol)
        );
        let options = parse(args("--level engine --metrics /metrics")).unwrap();
        assert_eq!(options.metrics.as_deref(), Some("/metrics"));
        assert!(parse(args("--level socket --metrics")).is_err());
        assert!(parse(args("--level socket --metrics metrics")).is_err());
        let options = parse(args("--level socket --runtime async-std")).unwrap();
        assert_eq!(options.runtime, Executor::AsyncStd);
        assert!(parse(args("--level socket --runtime glommio")).is_err());
        assert!(parse(args("--level socket --runtime")).is_err());
        assert!(parse(args("")).is_err());
        assert!(parse(args("--level http")).is_err());
        let options = parse(args(
            "--level cluster --adapter redis --redis-url redis://127.0.0.1:7000 --key k1 \
             --node-id n1 --port 4001 --runtime smol --msgpack",
        ))
        .unwrap();
        assert_eq!(options.level, Level::Cluster);
        assert_eq!(
            options.cluster,
            ClusterOptions {
                redis_url: "redis://127.0.0.1:7000".to_owned(),
                key: "k1".to_owned(),
                node_id: "n1".to_owned(),
                sharded: false,
                streams: false,
                stream_count: 1,
                sharded_pub_sub: false,
            }
        );
        assert!(options.msgpack && options.port == 4001 && options.runtime == Executor::Smol);
        let options = parse(args("--level cluster --adapter redis-sharded --key k2")).unwrap();
        assert!(options.cluster.sharded && options.cluster.key == "k2");
        let options = parse(args("--level cluster --adapter redis-streams")).unwrap();
        assert!(options.cluster.streams && !options.cluster.sharded);
        let options = parse(args(
            "--level cluster --adapter redis-streams --stream-count 3 --sharded-pubsub",
        ))
        .unwrap();
        assert!(options.cluster.stream_count == 3 && options.cluster.sharded_pub_sub);
        assert!(parse(args("--level cluster --stream-count 0")).is_err());
        assert!(parse(args("--level cluster --stream-count x")).is_err());
        assert!(parse(args("--level cluster --adapter memory")).is_err());
        assert!(parse(args("--level cluster --adapter")).is_err());
        assert!(parse(args("--level socket --port x")).is_err());
        assert!(parse(args("--level socket --admin")).unwrap().admin);
        assert!(
            parse(args("--level cluster --admin --node-id a"))
                .unwrap()
                .admin
        );
        assert!(!parse(args("--level socket")).unwrap().admin);
        assert!(parse(args("--level engine --admin")).is_err());
        let options = parse(args(
            "--level socket --path /rt/ --recovery --cors-credentials",
        ))
        .unwrap();
        assert_eq!(options.path.as_deref(), Some("/rt"));
        assert!(options.recovery && options.cors_credentials);
        assert!(parse(args("--level socket --path rt")).is_err());
        assert!(parse(args("--level engine --recovery")).is_err());
    }
}

/// The engine level over loopback: echo over polling and WebSocket, upgrade, violations.
#[cfg(test)]
mod engine_tests {
    use std::{
        io::{Read, Write},
        net::{SocketAddr, TcpStream},
        time::Duration,
    };

    use socketio_tokio::{HttpServer, tungstenite};

    use super::{
        ClusterOptions, Executor, Level, Options, cluster_server, engine_server, socket_server,
    };

    /// Starts the engine-level server on a loopback port, on its own runtime thread.
    fn start() -> SocketAddr {
        start_level(Level::Engine)
    }

    /// Starts the server of `level` on a loopback port, on its own runtime thread.
    fn start_level(level: Level) -> SocketAddr {
        start_with(level, false)
    }

    /// Starts the server of `level` (with `--admin` when `admin`) on a loopback port.
    fn start_with(level: Level, admin: bool) -> SocketAddr {
        start_configured(level, move |options| options.admin = admin)
    }

    /// Starts the server of `level`, its options changed by `configure`, on a loopback port.
    fn start_configured(
        level: Level,
        configure: impl FnOnce(&mut Options) + Send + 'static,
    ) -> SocketAddr {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut options = Options {
                    level,
                    eio3: false,
                    msgpack: false,
                    port: 0,
                    runtime: Executor::Tokio,
                    metrics: None,
                    admin: false,
                    path: None,
                    recovery: false,
                    cors_credentials: false,
                    cluster: ClusterOptions {
                        key: socketio_tests::cluster_support::unique_key("conformance"),
                        node_id: "conf-1".to_owned(),
                        ..ClusterOptions::default()
                    },
                };
                configure(&mut options);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let runtime = std::sync::Arc::new(socketio_tokio::TokioRuntime::new());
                let _ = match level {
                    Level::Engine => {
                        HttpServer::new(engine_server(&options, runtime, None))
                            .serve(listener)
                            .await
                    }
                    Level::Socket => {
                        HttpServer::new(socket_server(&options, runtime, None))
                            .serve(listener)
                            .await
                    }
                    Level::Cluster => {
                        HttpServer::new(cluster_server(&options, runtime, None).unwrap())
                            .serve(listener)
                            .await
                    }
                };
            });
        });
        rx.recv().unwrap()
    }

    /// One HTTP/1.1 exchange on a fresh connection: status and body.
    fn http(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let (status, _, body) = http_with(addr, method, target, "", body);
        (status, body)
    }

    /// [`http`] with `extra` head lines (each ending in `\r\n`); also gives the head.
    fn http_with(
        addr: SocketAddr,
        method: &str,
        target: &str,
        extra: &str,
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let status = std::str::from_utf8(&response[9..12])
            .unwrap()
            .parse()
            .unwrap();
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        (status, head, response[split + 4..].to_vec())
    }

    fn text(body: Vec<u8>) -> String {
        String::from_utf8(body).unwrap()
    }

    fn open(addr: SocketAddr) -> String {
        let (status, body) = http(addr, "GET", "/engine.io/?EIO=4&transport=polling", b"");
        assert_eq!(status, 200);
        let body = text(body);
        let json: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        assert_eq!(json["pingInterval"], 300);
        assert_eq!(json["maxPayload"], 1_000_000);
        json["sid"].as_str().unwrap().to_owned()
    }

    type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

    fn ws(addr: SocketAddr, query: &str) -> Ws {
        ws_at(addr, "/engine.io/", query)
    }

    fn ws_at(addr: SocketAddr, path: &str, query: &str) -> Ws {
        let url = format!("ws://{addr}{path}?EIO=4&transport=websocket{query}");
        let (socket, _) = tungstenite::connect(url).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
        }
        socket
    }

    /// The next message that is not a ping (pings are answered).
    fn next(socket: &mut Ws) -> tungstenite::Message {
        loop {
            let message = socket.read().unwrap();
            if message.to_text().ok() == Some("2") {
                socket.send(tungstenite::Message::text("3")).unwrap();
                continue;
            }
            return message;
        }
    }

    #[test]
    fn polling_echoes_text_and_binary() {
        let addr = start();
        let sid = open(addr);
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let (status, body) = http(addr, "POST", &target, b"4hello\x1ebAQIDBA==");
        assert_eq!((status, text(body).as_str()), (200, "ok"));
        let (status, body) = http(addr, "GET", &target, b"");
        assert_eq!(
            (status, text(body).as_str()),
            (200, "4hello\u{1e}bAQIDBA==")
        );
    }

    #[test]
    fn polling_invalid_packet_and_duplicate_poll_close_the_session() {
        let addr = start();
        let sid = open(addr);
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        // The reference answers the POST `ok` and closes the session (`parse error`).
        let (status, _) = http(addr, "POST", &target, b"abc");
        assert!(status == 200 || status == 400, "{status}");
        assert_eq!(http(addr, "GET", &target, b"").0, 400);

        let sid = open(addr);
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let first = std::thread::spawn({
            let target = target.clone();
            move || http(addr, "GET", &target, b"")
        });
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(http(addr, "GET", &target, b"").0, 400);
        let (status, body) = first.join().unwrap();
        assert_eq!((status, text(body).as_str()), (200, "1"));
        assert_eq!(http(addr, "GET", &target, b"").0, 400);
    }

    #[test]
    fn websocket_echoes_text_and_binary() {
        let addr = start();
        let mut socket = ws(addr, "");
        let open = next(&mut socket);
        assert!(open.to_text().unwrap().starts_with("0{"));
        socket.send(tungstenite::Message::text("4hello")).unwrap();
        assert_eq!(next(&mut socket).to_text().unwrap(), "4hello");
        socket
            .send(tungstenite::Message::binary(vec![1u8, 2, 3, 4]))
            .unwrap();
        assert_eq!(next(&mut socket).into_data().as_ref(), &[1, 2, 3, 4]);
    }

    #[test]
    fn upgrade_then_echo_over_websocket() {
        let addr = start();
        let sid = open(addr);
        let mut socket = ws(addr, &format!("&sid={sid}"));
        socket.send(tungstenite::Message::text("2probe")).unwrap();
        assert_eq!(next(&mut socket).to_text().unwrap(), "3probe");
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let (status, body) = http(addr, "GET", &target, b"");
        assert_eq!((status, text(body).as_str()), (200, "6"));
        socket.send(tungstenite::Message::text("5")).unwrap();
        socket.send(tungstenite::Message::text("4hello")).unwrap();
        assert_eq!(next(&mut socket).to_text().unwrap(), "4hello");
        assert_eq!(http(addr, "GET", &target, b"").0, 400);
    }

    #[test]
    fn websocket_ping_timeout_closes() {
        let addr = start();
        let mut socket = ws(addr, "");
        // Read without answering pings: the server ends the connection after 300 + 200 ms.
        let ended = (0..10).any(|_| {
            !matches!(
                socket.read(),
                Ok(tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))
            )
        });
        assert!(ended);
    }

    #[test]
    fn socket_level_echoes_arguments_acks_and_attachments() {
        let addr = start_level(Level::Socket);
        let mut socket = ws_at(addr, "/socket.io/", "");
        let _open = next(&mut socket);
        let send = |socket: &mut Ws, text: &str| {
            socket.send(tungstenite::Message::text(text)).unwrap();
        };
        send(&mut socket, r#"40{"token":"123"}"#);
        assert!(next(&mut socket).to_text().unwrap().starts_with("40{"));
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"42["auth",{"token":"123"}]"#
        );
        send(&mut socket, r#"42["message",1,"2",{"3":[true]}]"#);
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"42["message-back",1,"2",{"3":[true]}]"#
        );
        send(
            &mut socket,
            r#"42456["message-with-ack",1,"2",{"3":[false]}]"#,
        );
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"43456[1,"2",{"3":[false]}]"#
        );
        send(&mut socket, r#"42["message",[1,2]]"#);
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"42["message-back",[1,2]]"#
        );
        send(
            &mut socket,
            r#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        );
        socket
            .send(tungstenite::Message::binary(vec![1u8, 2, 3]))
            .unwrap();
        socket
            .send(tungstenite::Message::binary(vec![4u8, 5, 6]))
            .unwrap();
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(next(&mut socket).into_data().as_ref(), &[1, 2, 3]);
        assert_eq!(next(&mut socket).into_data().as_ref(), &[4, 5, 6]);
        send(&mut socket, "40/random,");
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"44/random,{"message":"Invalid namespace"}"#
        );
    }

    /// `--path`, `--cors-credentials` and `--recovery` at the socket level.
    #[test]
    fn socket_level_path_credentialed_cors_and_recovery() {
        let addr = start_configured(Level::Socket, |options| {
            options.path = Some("/rt".to_owned());
            options.cors_credentials = true;
            options.recovery = true;
        });
        let (status, head, body) = http_with(
            addr,
            "GET",
            "/rt/?EIO=4&transport=polling",
            "Origin: http://page.example\r\n",
            b"",
        );
        assert_eq!(status, 200, "{head}");
        assert!(text(body).starts_with("0{"));
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("access-control-allow-origin: http://page.example"),
            "{head}"
        );
        assert!(
            head.contains("access-control-allow-credentials: true"),
            "{head}"
        );
        // The default path is not served.
        let (status, _) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"");
        assert_ne!(status, 200);
        // Recovery on: the CONNECT reply carries a private session id.
        let mut socket = ws_at(addr, "/rt/", "");
        let _open = next(&mut socket);
        socket.send(tungstenite::Message::text("40")).unwrap();
        let reply = next(&mut socket).to_text().unwrap().to_owned();
        assert!(
            reply.starts_with("40{") && reply.contains("\"pid\""),
            "{reply}"
        );
    }

    #[test]
    fn socket_level_with_admin_serves_the_admin_namespace() {
        let addr = start_with(Level::Socket, true);
        let mut socket = ws_at(addr, "/socket.io/", "");
        let _open = next(&mut socket);
        socket
            .send(tungstenite::Message::text("40/admin,"))
            .unwrap();
        assert!(
            next(&mut socket)
                .to_text()
                .unwrap()
                .starts_with("40/admin,{")
        );
        // Its own socket_connected and room_joined come too, as the reference's; the stats
        // every 2 s.
        let wanted = [
            "config",
            "all_sockets",
            "socket_connected",
            "room_joined",
            "server_stats",
        ];
        let mut seen = Vec::new();
        while !wanted.iter().all(|w| {
            seen.iter()
                .any(|m: &String| m.starts_with(&format!("42/admin,[\"{w}\"")))
        }) {
            assert!(seen.len() < 20, "{seen:?}");
            seen.push(next(&mut socket).to_text().unwrap().to_owned());
        }
        assert!(
            seen.iter()
                .any(|m| m.starts_with(r#"42/admin,["config",{"supportedFeatures":["EMIT""#)),
            "{seen:?}"
        );
    }

    #[test]
    fn cluster_level_runs_the_cluster_app_on_redis() {
        socketio_tests::cluster_support::require_redis();
        let addr = start_level(Level::Cluster);
        let mut socket = ws_at(addr, "/socket.io/", "");
        let _open = next(&mut socket);
        socket.send(tungstenite::Message::text("40")).unwrap();
        let connected = next(&mut socket).to_text().unwrap().to_owned();
        assert!(connected.starts_with("40{"), "{connected}");
        let hello = next(&mut socket).to_text().unwrap().to_owned();
        assert!(hello.starts_with(r#"42["hello","conf-1",""#), "{hello}");
        socket
            .send(tungstenite::Message::text(r#"421["join","r"]"#))
            .unwrap();
        assert_eq!(next(&mut socket).to_text().unwrap(), r#"431["ok"]"#);
        socket
            .send(tungstenite::Message::text(r#"42["to-room","r",1]"#))
            .unwrap();
        assert_eq!(
            next(&mut socket).to_text().unwrap(),
            r#"42["room-event",1]"#
        );
        // One node of its own cluster (its key is unique), once its subscription is up.
        let counted = (2..200).any(|id| {
            socket
                .send(tungstenite::Message::text(format!(
                    r#"42{id}["server-count"]"#
                )))
                .unwrap();
            let answer = next(&mut socket).to_text().unwrap().to_owned();
            assert!(answer.starts_with(&format!("43{id}[")), "{answer}");
            if answer.ends_with("[1]") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
            false
        });
        assert!(counted, "the node never counted itself");
    }
}
