//! The lean load generator of the whole-server benchmarks (see `bench/CONTENDERS.md`).
//!
//! It speaks raw WebSocket frames over tokio's `TcpStream` and just enough Engine.IO v4 /
//! Socket.IO v5 text to drive the contenders: the handshake, `40`, answering pings (`2` → `3`),
//! `broadcast`, `echo` with an ack, `41`. Nothing is allocated per received message: frames are
//! parsed in place in a small per-connection buffer, so 10,000 connections cost the generator a
//! few tens of megabytes and the CPU time goes to the syscalls.
//!
//! ```text
//! socketio-bench-load <idle|fanout|echo|churn> --port P [--server-pid PID] [options]
//! ```
//!
//! Each run prints one JSON object on stdout with the figures, the generator's own CPU time
//! (user + system, from `/proc/self/stat`) and, given `--server-pid`, the server's CPU time and
//! RSS. Every wait has a timeout: a run that cannot finish fails with a message on stderr and
//! exit status 1.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::{sleep, sleep_until, timeout};

const USAGE: &str = "\
usage: socketio-bench-load <mode> --port P [options]
modes:
  idle    N connections held open; RSS growth of --server-pid per connection
  fanout  N clients in room bench; one sends broadcast: saturation (closed loop, window W)
          then latency at --rate broadcasts/s
  echo    N clients in closed loops of echo with an ack
  churn   sessions (connect + 40 + echo + ack + 41 + close), --parallel K at a time
options (defaults in brackets):
  --host H [127.0.0.1]   --port P   --server-pid PID   --n N [100]   --threads T [1]
  --connect-parallel C [100]   --timeout-ms MS [10000] (every single wait)
  --settle-ms MS [1000] (idle, churn: before reading RSS; fanout, echo: after connecting)
  --warmup-ms MS [500]   --duration-ms MS [3000] (fanout saturation, echo, churn)
  --window W [8]   --rate R [20] (broadcasts/s)   --latency-ms MS [3000]   --parallel K [16]
  --sources S [1 per 20,000 connections] (loopback source addresses 127.0.1.x)
  --port2 P2 --server-pid2 PID2 (fanout across two nodes of a cluster: odd clients on P2,
          the sender and the other even clients on P; the second node's CPU as server2_cores)";

/// A failed run: the message says what and where.
#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

type Result<T> = std::result::Result<T, Error>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error(msg.into()))
}

/// Which scenario the run drives.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Idle,
    Fanout,
    Echo,
    Churn,
}

/// The command line.
#[derive(Clone, Debug)]
struct Options {
    mode: Mode,
    host: Ipv4Addr,
    port: u16,
    server_pid: Option<u32>,
    n: usize,
    threads: usize,
    connect_parallel: usize,
    timeout: Duration,
    settle: Duration,
    warmup: Duration,
    duration: Duration,
    window: u64,
    rate: f64,
    latency: Duration,
    parallel: usize,
    /// Loopback source addresses to spread connections over (default: one per 20,000).
    sources: Option<usize>,
    /// A second node of the same cluster (fanout): odd-numbered clients connect to it.
    port2: Option<u16>,
    /// The second node's process, for its CPU time.
    server_pid2: Option<u32>,
}

fn parse_args() -> Result<Options> {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("idle") => Mode::Idle,
        Some("fanout") => Mode::Fanout,
        Some("echo") => Mode::Echo,
        Some("churn") => Mode::Churn,
        Some("-h" | "--help") => {
            println!("{USAGE}");
            std::process::exit(0);
        }
        other => return err(format!("unknown mode {other:?}\n{USAGE}")),
    };
    let mut o = Options {
        mode,
        host: Ipv4Addr::LOCALHOST,
        port: 0,
        server_pid: None,
        n: 100,
        threads: 1,
        // Below the contenders' listen backlog (128): more SYNs in flight overflow it and
        // the dropped ones come back a full second later (the initial SYN retransmit).
        connect_parallel: 100,
        timeout: Duration::from_secs(10),
        settle: Duration::from_millis(1000),
        warmup: Duration::from_millis(500),
        duration: Duration::from_millis(3000),
        window: 8,
        rate: 20.0,
        latency: Duration::from_millis(3000),
        parallel: 16,
        sources: None,
        port2: None,
        server_pid2: None,
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| Error(format!("{flag} needs a value\n{USAGE}")))?;
        let bad = |_| Error(format!("bad value {value:?} for {flag}"));
        let ms = |v: &str| v.parse::<u64>().map(Duration::from_millis);
        match flag.as_str() {
            "--host" => {
                o.host = value
                    .parse()
                    .map_err(|_| Error(format!("bad --host {value}")))?
            }
            "--port" => o.port = value.parse().map_err(bad)?,
            "--server-pid" => o.server_pid = Some(value.parse().map_err(bad)?),
            "--n" => o.n = value.parse().map_err(bad)?,
            "--threads" => o.threads = value.parse().map_err(bad)?,
            "--connect-parallel" => o.connect_parallel = value.parse().map_err(bad)?,
            "--timeout-ms" => o.timeout = ms(&value).map_err(bad)?,
            "--settle-ms" => o.settle = ms(&value).map_err(bad)?,
            "--warmup-ms" => o.warmup = ms(&value).map_err(bad)?,
            "--duration-ms" => o.duration = ms(&value).map_err(bad)?,
            "--window" => o.window = value.parse().map_err(bad)?,
            "--rate" => {
                o.rate = value
                    .parse()
                    .map_err(|_| Error(format!("bad --rate {value}")))?
            }
            "--latency-ms" => o.latency = ms(&value).map_err(bad)?,
            "--parallel" => o.parallel = value.parse().map_err(bad)?,
            "--sources" => o.sources = Some(value.parse().map_err(bad)?),
            "--port2" => o.port2 = Some(value.parse().map_err(bad)?),
            "--server-pid2" => o.server_pid2 = Some(value.parse().map_err(bad)?),
            _ => return err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if o.port == 0 {
        return err(format!("--port is required\n{USAGE}"));
    }
    if o.n == 0 || o.threads == 0 || o.connect_parallel == 0 || o.window == 0 || o.parallel == 0 {
        return err("--n, --threads, --connect-parallel, --window and --parallel must be > 0");
    }
    if !(o.rate.is_finite() && o.rate > 0.0) {
        return err("--rate must be > 0");
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("socketio-bench-load: {e}");
            std::process::exit(2);
        }
    };
    let runtime = if opts.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("socketio-bench-load: error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(run(opts));
    // Connections still open are dropped with the runtime; never wait for them.
    runtime.shutdown_background();
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("socketio-bench-load: error: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(opts: Options) -> Result<Value> {
    let started = Instant::now();
    let cpu_start = cpu_seconds(None);
    let server_cpu_start = opts.server_pid.map(|p| cpu_seconds(Some(p)));
    let mut report = match opts.mode {
        Mode::Idle => idle(&opts).await?,
        Mode::Fanout => fanout(&opts).await?,
        Mode::Echo => echo(&opts).await?,
        Mode::Churn => churn(&opts).await?,
    };
    let wall = started.elapsed().as_secs_f64();
    let fields = report.as_object_mut().expect("reports are objects");
    if let Ok(peak) = status_bytes(std::process::id(), "VmHWM:") {
        fields.insert("generator_rss_peak".into(), json!(peak));
    }
    fields.insert("wall_s".into(), json!(wall));
    if let Ok(start) = cpu_start
        && let Ok(end) = cpu_seconds(None)
    {
        fields.insert("generator_cpu_s".into(), json!(end - start));
    }
    if let (Some(pid), Some(Ok(start))) = (opts.server_pid, server_cpu_start)
        && let Ok(end) = cpu_seconds(Some(pid))
    {
        fields.insert("server_cpu_s".into(), json!(end - start));
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// /proc readings

/// User + system CPU seconds of this process (`None`) or of `pid`, all threads included.
fn cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path).map_err(|e| Error(format!("{path}: {e}")))?;
    // Fields after the command name (which may hold spaces) start with field 3, the state.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        // USER_HZ is 100 on every Linux architecture this runs on.
        (Some(utime), Some(stime)) => Ok((utime + stime) as f64 / 100.0),
        _ => err(format!("{path}: unexpected format")),
    }
}

/// The resident set size of `pid` in bytes (`VmRSS` of `/proc/<pid>/status`).
fn rss_bytes(pid: u32) -> Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in bytes.
fn status_bytes(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|e| Error(format!("{path}: {e} (has the server exited?)")))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| Error(format!("{path}: no {field} line")))
}

// ---------------------------------------------------------------------------------------------
// The connection: raw WebSocket frames, Engine.IO pings answered inside `recv`.

/// One client connection, opened through the Socket.IO `40` handshake.
struct Conn {
    stream: TcpStream,
    /// Received bytes not yet consumed.
    buf: BytesMut,
    /// Bytes of `buf` taken by the message `recv` returned last (consumed on the next call).
    returned: usize,
    /// Frame being written (reused).
    out: Vec<u8>,
    /// Masking-key generator (xorshift32).
    mask: u32,
}

/// Where a connection goes: the server and the source address to bind (when rotating sources).
#[derive(Clone, Copy, Debug)]
struct Target {
    server: SocketAddr,
    source: Option<Ipv4Addr>,
}

const READ_CHUNK: usize = 2048;

impl Conn {
    /// TCP connect, WebSocket upgrade, Engine.IO open packet, `40` and its answer.
    async fn open(target: Target, seed: u32, limit: Duration) -> Result<Conn> {
        match timeout(limit, Self::open_inner(target, seed)).await {
            Ok(r) => r,
            Err(_) => err(format!(
                "opening a connection to {} took more than {limit:?}",
                target.server
            )),
        }
    }

    async fn open_inner(target: Target, seed: u32) -> Result<Conn> {
        let server = target.server;
        let stream = match target.source {
            None => TcpStream::connect(server).await,
            Some(src) => {
                let socket = TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(IpAddr::V4(src), 0))?;
                socket.connect(server).await
            }
        }
        .map_err(|e| Error(format!("connect to {server}: {e}")))?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            returned: 0,
            out: Vec::with_capacity(256),
            mask: seed | 1,
        };
        let request = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {server}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        conn.stream.write_all(request.as_bytes()).await?;
        // The response head; frames may follow it in the same read.
        let head_end = loop {
            if let Some(i) = find(&conn.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if conn.buf.len() > 16 * 1024 {
                return err(format!("{server}: the upgrade response head is too long"));
            }
            conn.fill()
                .await
                .map_err(|e| Error(format!("{server} upgrade: {e}")))?;
        };
        if !conn.buf.starts_with(b"HTTP/1.1 101") {
            let line = conn.buf[..head_end]
                .split(|&b| b == b'\r')
                .next()
                .unwrap_or(&[]);
            return err(format!(
                "{server}: upgrade refused: {}",
                String::from_utf8_lossy(line)
            ));
        }
        conn.buf.advance(head_end);
        let open = conn.recv().await?;
        if !open.starts_with(b"0{") {
            return err(format!(
                "{server}: expected the Engine.IO open packet, got {:?}",
                lossy(open)
            ));
        }
        conn.send(b"40").await?;
        let connected = conn.recv().await?;
        if !connected.starts_with(b"40") {
            return err(format!(
                "{server}: expected the Socket.IO CONNECT answer 40, got {:?}",
                lossy(connected)
            ));
        }
        Ok(conn)
    }

    /// Reads more bytes into `buf`; end of stream is an error.
    async fn fill(&mut self) -> Result<()> {
        self.buf.reserve(READ_CHUNK);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return err("the server closed the connection");
        }
        Ok(())
    }

    /// The next text (or binary) message that is not an Engine.IO ping. Pings are answered with
    /// pongs, WebSocket pings with WebSocket pongs; a close frame is an error.
    ///
    /// Cancel-safe as long as the caller only cancels it to leave (a pong may be half-written).
    async fn recv(&mut self) -> Result<&[u8]> {
        if self.returned > 0 {
            self.buf.advance(self.returned);
            self.returned = 0;
        }
        loop {
            let Some(frame) = parse_frame(&self.buf)? else {
                self.fill().await?;
                continue;
            };
            let (start, end) = (frame.header, frame.header + frame.len);
            match frame.opcode {
                0x1 | 0x2 => {
                    if frame.masked {
                        let key = frame.key;
                        for (i, b) in self.buf[start..end].iter_mut().enumerate() {
                            *b ^= key[i % 4];
                        }
                    }
                    if &self.buf[start..end] == b"2" {
                        self.buf.advance(end);
                        self.send(b"3").await?;
                        continue;
                    }
                    self.returned = end;
                    return Ok(&self.buf[start..end]);
                }
                0x8 => return err("the server sent a WebSocket close frame"),
                0x9 => {
                    let payload = self.buf[start..end].to_vec();
                    self.buf.advance(end);
                    self.send_frame(0xA, &payload).await?;
                }
                0xA => self.buf.advance(end),
                0x0 => return err("the server sent a fragmented message (not supported)"),
                op => return err(format!("the server sent a frame with opcode {op:#x}")),
            }
        }
    }

    /// Sends one text message.
    async fn send(&mut self, text: &[u8]) -> Result<()> {
        self.send_frame(0x1, text).await
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<()> {
        self.out.clear();
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        socketio_bench::wsraw::encode_frame(
            &mut self.out,
            opcode,
            payload,
            self.mask.to_le_bytes(),
        );
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// Socket.IO disconnect (`41`) then a WebSocket close frame; waits (bounded) for the
    /// server's close frame or end of stream.
    async fn leave(mut self, limit: Duration) {
        if self.send(b"41").await.is_err() || self.send_frame(0x8, &[0x03, 0xE8]).await.is_err() {
            return;
        }
        let _ = timeout(limit, async {
            loop {
                if self.returned > 0 {
                    self.buf.advance(self.returned);
                    self.returned = 0;
                }
                match parse_frame(&self.buf) {
                    Ok(Some(f)) if f.opcode == 0x8 => return,
                    Ok(Some(f)) => self.buf.advance(f.header + f.len),
                    Ok(None) => {
                        if self.fill().await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        })
        .await;
    }
}

/// A frame header parsed from the front of a buffer that holds the whole frame.
struct Frame {
    opcode: u8,
    masked: bool,
    key: [u8; 4],
    header: usize,
    len: usize,
}

/// The frame at the front of `buf`, or `None` when more bytes are needed.
fn parse_frame(buf: &[u8]) -> Result<Option<Frame>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] & 0x80 == 0 && buf[0] & 0x0F != 0 {
        return err("the server sent a fragmented message (not supported)");
    }
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let (mut header, len) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let len = u64::from_be_bytes(b);
            if len > 64 * 1024 * 1024 {
                return err(format!("the server sent a {len}-byte frame"));
            }
            (10, len as usize)
        }
        126 | 127 => return Ok(None),
        l => (2, l as usize),
    };
    let mut key = [0u8; 4];
    if masked {
        if buf.len() < header + 4 {
            return Ok(None);
        }
        key.copy_from_slice(&buf[header..header + 4]);
        header += 4;
    }
    if buf.len() < header + len {
        return Ok(None);
    }
    Ok(Some(Frame {
        opcode,
        masked,
        key,
        header,
        len,
    }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Connecting many clients

/// The server addresses and the source addresses to spread `n` connections over (one source
/// address has about 28,000 ephemeral ports). With `--port2` the two servers alternate, the
/// first server at even positions, so client `i` goes to `targets[i % len]`: client 0 (the
/// fan-out sender) and every even client to the first, every odd client to the second.
fn targets(opts: &Options, n: usize) -> Vec<Target> {
    let servers: Vec<SocketAddr> = [Some(opts.port), opts.port2]
        .into_iter()
        .flatten()
        .map(|port| SocketAddr::new(IpAddr::V4(opts.host), port))
        .collect();
    let sources = match opts.sources {
        Some(s) => s.clamp(1, 250),
        None if n > 20_000 => n.div_ceil(20_000) + 1,
        None => 1,
    };
    let sources: Vec<Option<Ipv4Addr>> = if sources == 1 || !opts.host.is_loopback() {
        vec![None]
    } else {
        (0..sources)
            .map(|i| Some(Ipv4Addr::new(127, 0, 1, 1 + i as u8)))
            .collect()
    };
    sources
        .iter()
        .flat_map(|&source| servers.iter().map(move |&server| Target { server, source }))
        .collect()
}

/// What the client tasks share with the controller.
struct Shared {
    /// Set when a client task fails; the controller reports it.
    first_error: Mutex<Option<String>>,
    /// `tick` deliveries so far (fanout), acks so far (echo), sessions so far (churn).
    count: AtomicU64,
    /// Woken every time `count` crosses a multiple of `share` (fanout).
    progress: Notify,
    share: u64,
    /// First broadcast `seq` whose deliveries are timed (fanout), `u64::MAX` before.
    timed_from: AtomicU64,
    /// Whether round trips are being recorded (echo).
    measuring: AtomicBool,
    /// The clock every timestamp is taken against.
    base: Instant,
    /// `tick`s received per client (fanout), to say who lost what when deliveries are missing.
    per_client: Vec<AtomicU64>,
    /// The first few out-of-sequence `tick`s seen (fanout): `client i expected seq a, got b`.
    anomalies: Mutex<Vec<String>>,
    /// `tick`s that did not carry the `seq` after the previous one of the same client.
    out_of_order: AtomicU64,
    /// Turns true when the echo loops may start (every client connected and settled).
    go: watch::Sender<bool>,
}

impl Shared {
    fn new(share: u64) -> Arc<Shared> {
        Self::with_clients(share, 0)
    }

    fn with_clients(share: u64, clients: usize) -> Arc<Shared> {
        Arc::new(Shared {
            first_error: Mutex::new(None),
            count: AtomicU64::new(0),
            progress: Notify::new(),
            share: share.max(1),
            timed_from: AtomicU64::new(u64::MAX),
            measuring: AtomicBool::new(false),
            base: Instant::now(),
            per_client: (0..clients).map(|_| AtomicU64::new(0)).collect(),
            anomalies: Mutex::new(Vec::new()),
            out_of_order: AtomicU64::new(0),
            go: watch::Sender::new(false),
        })
    }

    fn fail(&self, e: &Error) {
        let mut slot = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e.0.clone());
        }
        drop(slot);
        self.progress.notify_one();
    }

    fn error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn anomaly(&self, what: String) {
        let mut list = self.anomalies.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() < 5 {
            list.push(what);
        }
    }

    /// Who is short of `tick`s and the first anomalies, for an error message.
    fn shortfall(&self, per_client: u64) -> String {
        let short: Vec<String> = self
            .per_client
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let got = c.load(Ordering::Relaxed);
                (got != per_client).then(|| format!("client {i}: {got} of {per_client}"))
            })
            .collect();
        let anomalies = self.anomalies.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "{} client(s) off ({}); out of sequence: [{}]",
            short.len(),
            short.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            anomalies.join("; ")
        )
    }

    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// What a client does once connected.
enum Role {
    /// Answer pings until told to stop.
    Idle,
    /// Count `tick` deliveries; the sender also writes the frames it is handed.
    Fanout {
        index: usize,
        sends: Option<mpsc::Receiver<Vec<u8>>>,
    },
    /// A closed loop of `echo` with an ack.
    Echo,
}

/// What a client task hands back: timed `(seq, arrival ns)` pairs (fanout) or round trips in
/// nanoseconds (echo).
#[derive(Default)]
struct ClientReport {
    arrivals: Vec<(u64, u64)>,
    round_trips: Vec<u64>,
}

/// Opens `n` clients with at most `--connect-parallel` handshakes in flight, gives each its
/// role, and returns once all are connected (or fails at the first error or stall).
async fn connect_all(
    opts: &Options,
    n: usize,
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
    mut role_of: impl FnMut(usize) -> Role,
) -> Result<(Vec<tokio::task::JoinHandle<ClientReport>>, f64)> {
    let started = Instant::now();
    let targets = targets(opts, n);
    let gate = Arc::new(Semaphore::new(opts.connect_parallel));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<()>>();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let target = targets[i % targets.len()];
        let (gate, ready, shared, stop) =
            (gate.clone(), ready_tx.clone(), shared.clone(), stop.clone());
        let role = role_of(i);
        let limit = opts.timeout;
        handles.push(tokio::spawn(async move {
            let conn = {
                let Ok(_permit) = gate.acquire().await else {
                    return ClientReport::default();
                };
                Conn::open(target, 0x9E37_79B9 ^ i as u32, limit).await
            };
            match conn {
                Ok(conn) => {
                    let _ = ready.send(Ok(()));
                    client(conn, role, shared, stop, limit).await
                }
                Err(e) => {
                    let _ = ready.send(Err(Error(format!("client {i}: {e}"))));
                    ClientReport::default()
                }
            }
        }));
    }
    drop(ready_tx);
    for done in 0..n {
        match timeout(opts.timeout, ready_rx.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => {
                return err(format!("connecting {n} clients failed after {done}: {e}"));
            }
            Ok(None) => return err("connecting: the client tasks ended"),
            Err(_) => {
                return err(format!(
                    "connecting {n} clients: no progress for {:?} after {done} connected",
                    opts.timeout
                ));
            }
        }
    }
    if let Some(e) = shared.error() {
        return err(format!("a client failed while the others connected: {e}"));
    }
    Ok((handles, started.elapsed().as_secs_f64()))
}

/// The life of one connected client, until `stop` turns true.
async fn client(
    mut conn: Conn,
    role: Role,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    limit: Duration,
) -> ClientReport {
    let mut report = ClientReport::default();
    let result: Result<()> = async {
        match role {
            Role::Idle => loop {
                tokio::select! {
                    r = conn.recv() => { r?; }
                    _ = stopped(&mut stop) => return Ok(()),
                }
            },
            Role::Fanout { index, mut sends } => {
                let mut next_seq = 0;
                loop {
                tokio::select! {
                    r = conn.recv() => {
                        let msg = r?;
                        if msg.starts_with(b"42[\"tick\",") {
                            let seq = parse_seq(msg);
                            if seq != Some(next_seq) {
                                shared.out_of_order.fetch_add(1, Ordering::Relaxed);
                                shared.anomaly(format!(
                                    "client {index} expected seq {next_seq}, got {seq:?}"
                                ));
                            }
                            next_seq = seq.unwrap_or(next_seq) + 1;
                            let timed_from = shared.timed_from.load(Ordering::Relaxed);
                            if timed_from != u64::MAX
                                && let Some(seq) = seq
                                && seq >= timed_from
                            {
                                report.arrivals.push((seq, shared.now_ns()));
                            }
                            if let Some(c) = shared.per_client.get(index) {
                                c.fetch_add(1, Ordering::Relaxed);
                            }
                            let c = shared.count.fetch_add(1, Ordering::Relaxed) + 1;
                            if c.is_multiple_of(shared.share) {
                                shared.progress.notify_one();
                            }
                        }
                    }
                    frame = async { sends.as_mut()?.recv().await }, if sends.is_some() => {
                        match frame {
                            Some(f) => conn.send(&f).await?,
                            None => sends = None,
                        }
                    }
                    _ = stopped(&mut stop) => return Ok(()),
                }
                }
            }
            Role::Echo => {
                let mut go = shared.go.subscribe();
                tokio::select! {
                    _ = stopped(&mut go) => {}
                    _ = stopped(&mut stop) => return Ok(()),
                }
                let mut id: u64 = 0;
                let mut frame = Vec::with_capacity(160);
                let mut expect = Vec::with_capacity(24);
                loop {
                    id += 1;
                    frame.clear();
                    frame.extend_from_slice(format!("42{id}[\"echo\",").as_bytes());
                    push_payload(&mut frame, id);
                    frame.push(b']');
                    expect.clear();
                    expect.extend_from_slice(format!("43{id}[").as_bytes());
                    let sent = Instant::now();
                    conn.send(&frame).await?;
                    loop {
                        tokio::select! {
                            r = timeout(limit, conn.recv()) => {
                                let msg = r.map_err(|_| Error(format!("no ack {id} within {limit:?}")))??;
                                if msg.starts_with(&expect) {
                                    break;
                                }
                            }
                            _ = stopped(&mut stop) => return Ok(()),
                        }
                    }
                    if shared.measuring.load(Ordering::Relaxed) {
                        report.round_trips.push(sent.elapsed().as_nanos() as u64);
                        shared.count.fetch_add(1, Ordering::Relaxed);
                    }
                    if *stop.borrow() {
                        return Ok(());
                    }
                }
            }
        }
    }
    .await;
    match result {
        Ok(()) => {
            // Leaving politely is not measured: do not wait long for the server.
            tokio::spawn(conn.leave(Duration::from_millis(200)));
        }
        Err(e) => shared.fail(&e),
    }
    report
}

/// The `"seq":` number of a `tick`.
fn parse_seq(msg: &[u8]) -> Option<u64> {
    let at = find(msg, b"\"seq\":")? + 6;
    let digits = msg[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    std::str::from_utf8(&msg[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// The ~100-byte argument `{"seq":S,"pad":"…"}`.
fn push_payload(out: &mut Vec<u8>, seq: u64) {
    out.extend_from_slice(format!("{{\"seq\":{seq},\"pad\":\"").as_bytes());
    out.extend_from_slice(&[b'x'; 80]);
    out.extend_from_slice(b"\"}");
}

/// Stops every client and collects their reports (bounded wait).
async fn finish(
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<ClientReport>>,
    limit: Duration,
) -> Result<Vec<ClientReport>> {
    let _ = stop.send(true);
    let n = handles.len();
    match timeout(limit, futures_util::future::join_all(handles)).await {
        Ok(results) => Ok(results.into_iter().filter_map(|r| r.ok()).collect()),
        Err(_) => err(format!("{n} clients did not stop within {limit:?}")),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[i] as f64
}

fn server_rss(opts: &Options) -> Result<Option<u64>> {
    opts.server_pid.map(rss_bytes).transpose()
}

/// CPU use of the generator and of the server (and of the second node, with `--port2`) over
/// a measurement window.
struct CpuWindow {
    started: Instant,
    generator: Option<f64>,
    server: Option<f64>,
    pid: Option<u32>,
    server2: Option<f64>,
    pid2: Option<u32>,
}

impl CpuWindow {
    fn start(opts: &Options) -> CpuWindow {
        CpuWindow {
            started: Instant::now(),
            generator: cpu_seconds(None).ok(),
            server: opts.server_pid.and_then(|p| cpu_seconds(Some(p)).ok()),
            pid: opts.server_pid,
            server2: opts.server_pid2.and_then(|p| cpu_seconds(Some(p)).ok()),
            pid2: opts.server_pid2,
        }
    }

    /// Adds `generator_cores` and `server_cores` (CPU seconds ÷ window seconds) to `report`,
    /// and `server2_cores` with `--server-pid2`.
    fn finish(&self, report: &mut Value) {
        let secs = self.started.elapsed().as_secs_f64();
        let generator = self
            .generator
            .and_then(|a| Some((cpu_seconds(None).ok()? - a) / secs));
        let server = self
            .server
            .and_then(|a| Some((cpu_seconds(Some(self.pid?)).ok()? - a) / secs));
        if let Some(fields) = report.as_object_mut() {
            fields.insert("generator_cores".into(), json!(generator));
            fields.insert("server_cores".into(), json!(server));
            if self.pid2.is_some() {
                let server2 = self
                    .server2
                    .and_then(|a| Some((cpu_seconds(Some(self.pid2?)).ok()? - a) / secs));
                fields.insert("server2_cores".into(), json!(server2));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async fn idle(opts: &Options) -> Result<Value> {
    let rss_before = server_rss(opts)?;
    let shared = Shared::new(1);
    let (stop_tx, stop) = watch::channel(false);
    let cpu = CpuWindow::start(opts);
    let (handles, connect_s) = connect_all(opts, opts.n, &shared, &stop, |_| Role::Idle).await?;
    let mut cpu_report = json!({});
    cpu.finish(&mut cpu_report);
    sleep(opts.settle).await;
    if let Some(e) = shared.error() {
        return err(format!("a client failed while idle: {e}"));
    }
    let rss_after = server_rss(opts)?;
    finish(stop_tx, handles, opts.timeout).await?;
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) => json!((a as f64 - b as f64) / opts.n as f64),
        _ => Value::Null,
    };
    Ok(json!({
        "mode": "idle",
        "n": opts.n,
        "connect_s": connect_s,
        "connections_per_s": opts.n as f64 / connect_s,
        "generator_cores": cpu_report["generator_cores"],
        "server_cores": cpu_report["server_cores"],
        "rss_before": rss_before,
        "rss_after": rss_after,
        "bytes_per_connection": per_conn,
    }))
}

async fn fanout(opts: &Options) -> Result<Value> {
    let n = opts.n as u64;
    let shared = Shared::with_clients(n, opts.n);
    let (stop_tx, stop) = watch::channel(false);
    let (send_tx, send_rx) = mpsc::channel::<Vec<u8>>(1024);
    let mut send_rx = Some(send_rx);
    let (handles, connect_s) = connect_all(opts, opts.n, &shared, &stop, |i| Role::Fanout {
        index: i,
        sends: if i == 0 { send_rx.take() } else { None },
    })
    .await?;
    // Ours and socketioxide write `40` before the connect handler has joined the room: let
    // every handler run before the first broadcast.
    sleep(opts.settle).await;
    let broadcast = |seq: u64| {
        let mut f = Vec::with_capacity(140);
        f.extend_from_slice(b"42[\"broadcast\",");
        push_payload(&mut f, seq);
        f.push(b']');
        f
    };
    let check = |shared: &Shared| match shared.error() {
        Some(e) => err(format!("a client failed: {e}")),
        None => Ok(()),
    };
    let mut sent: u64 = 0;

    // Saturation: at most `window` broadcasts in flight; warm up, then measure.
    let warmup_end = Instant::now() + opts.warmup;
    let mut measured: Option<(Instant, u64)> = None;
    let mut cpu = None;
    let sat_end = warmup_end + opts.duration;
    loop {
        let now = Instant::now();
        if measured.is_none() && now >= warmup_end {
            measured = Some((now, shared.count.load(Ordering::Relaxed)));
            cpu = Some(CpuWindow::start(opts));
        }
        if now >= sat_end {
            break;
        }
        let done = shared.count.load(Ordering::Relaxed) / n;
        while sent.saturating_sub(done) < opts.window {
            send_tx
                .send(broadcast(sent))
                .await
                .map_err(|_| Error("the sending client has stopped".into()))?;
            sent += 1;
        }
        let before = shared.count.load(Ordering::Relaxed);
        if timeout(opts.timeout, shared.progress.notified())
            .await
            .is_err()
            && shared.count.load(Ordering::Relaxed) == before
        {
            check(&shared)?;
            return err(format!(
                "saturation: no delivery for {:?} ({} of {} deliveries)",
                opts.timeout,
                before,
                sent * n
            ));
        }
        check(&shared)?;
    }
    let (t0, c0) = measured.unwrap_or((warmup_end, 0));
    let c1 = shared.count.load(Ordering::Relaxed);
    let sat_secs = t0.elapsed().as_secs_f64();
    let deliveries_per_s = (c1 - c0) as f64 / sat_secs;
    let mut cpu_report = json!({});
    if let Some(cpu) = cpu {
        cpu.finish(&mut cpu_report);
    }
    // Drain the window so latency starts from an idle server.
    drain(&shared, sent * n, opts.timeout, "after saturation").await?;

    // Latency: a fixed rate, each `seq`'s send time recorded.
    let first_timed = sent;
    shared.timed_from.store(first_timed, Ordering::Relaxed);
    let count = ((opts.latency.as_secs_f64() * opts.rate).ceil() as u64).max(1);
    let period = Duration::from_secs_f64(1.0 / opts.rate);
    let start = Instant::now();
    let mut sent_at = Vec::with_capacity(count as usize);
    for k in 0..count {
        sleep_until((start + period * k as u32).into()).await;
        check(&shared)?;
        let frame = broadcast(sent);
        sent_at.push(shared.now_ns());
        send_tx
            .send(frame)
            .await
            .map_err(|_| Error("the sending client has stopped".into()))?;
        sent += 1;
    }
    drain(&shared, sent * n, opts.timeout, "after the latency phase").await?;
    let reports = finish(stop_tx, handles, opts.timeout).await?;
    let mut latencies: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.arrivals.iter())
        .filter_map(|&(seq, at)| {
            let sent = *sent_at.get(seq.checked_sub(first_timed)? as usize)?;
            Some(at.saturating_sub(sent))
        })
        .collect();
    if latencies.len() as u64 != count * n {
        return err(format!(
            "latency: {} timed deliveries, expected {}",
            latencies.len(),
            count * n
        ));
    }
    latencies.sort_unstable();
    Ok(json!({
        "mode": "fanout",
        "n": opts.n,
        "connect_s": connect_s,
        "window": opts.window,
        "saturation_s": sat_secs,
        "deliveries": c1 - c0,
        "deliveries_per_s": deliveries_per_s,
        "generator_cores": cpu_report["generator_cores"],
        "server_cores": cpu_report["server_cores"],
        "server2_cores": cpu_report.get("server2_cores"),
        "broadcasts_per_s": deliveries_per_s / n as f64,
        "out_of_order": shared.out_of_order.load(Ordering::Relaxed),
        "latency_rate": opts.rate,
        "latency_broadcasts": count,
        "latency_samples": latencies.len(),
        "p50_us": percentile(&latencies, 0.50) / 1000.0,
        "p99_us": percentile(&latencies, 0.99) / 1000.0,
        "max_us": percentile(&latencies, 1.0) / 1000.0,
    }))
}

/// Waits until `count` reaches `target`, failing when it stops moving for `limit`.
async fn drain(shared: &Shared, target: u64, limit: Duration, when: &str) -> Result<()> {
    let mut last = shared.count.load(Ordering::Relaxed);
    let mut since = Instant::now();
    while last < target {
        if let Some(e) = shared.error() {
            return err(format!("a client failed {when}: {e}"));
        }
        sleep(Duration::from_millis(2)).await;
        let now = shared.count.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() > limit {
            return err(format!(
                "{when}: {last} of {target} deliveries, none for {limit:?} (lost messages?): {}",
                shared.shortfall(target / shared.share)
            ));
        }
    }
    if last > target {
        return err(format!(
            "{when}: {last} deliveries, expected {target} (duplicates?): {}",
            shared.shortfall(target / shared.share)
        ));
    }
    Ok(())
}

async fn echo(opts: &Options) -> Result<Value> {
    let shared = Shared::new(1);
    let (stop_tx, stop) = watch::channel(false);
    let (handles, connect_s) = connect_all(opts, opts.n, &shared, &stop, |_| Role::Echo).await?;
    // socketioxide runs the connect handler (which registers `echo`) in a task spawned after
    // writing `40`: give every server the settle time before the first event.
    sleep(opts.settle).await;
    let _ = shared.go.send(true);
    sleep(opts.warmup).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    let cpu = CpuWindow::start(opts);
    sleep(opts.duration).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let mut cpu_report = json!({});
    cpu.finish(&mut cpu_report);
    let secs = t0.elapsed().as_secs_f64();
    let acks = shared.count.load(Ordering::Relaxed);
    if let Some(e) = shared.error() {
        return err(format!("a client failed: {e}"));
    }
    let reports = finish(stop_tx, handles, opts.timeout).await?;
    let mut rtts: Vec<u64> = reports.into_iter().flat_map(|r| r.round_trips).collect();
    rtts.sort_unstable();
    if acks == 0 {
        return err("echo: no ack in the measurement window");
    }
    Ok(json!({
        "mode": "echo",
        "n": opts.n,
        "connect_s": connect_s,
        "measure_s": secs,
        "acks": acks,
        "acks_per_s": acks as f64 / secs,
        "generator_cores": cpu_report["generator_cores"],
        "server_cores": cpu_report["server_cores"],
        "p50_us": percentile(&rtts, 0.50) / 1000.0,
        "p99_us": percentile(&rtts, 0.99) / 1000.0,
    }))
}

async fn churn(opts: &Options) -> Result<Value> {
    let rss_before = server_rss(opts)?;
    let shared = Shared::new(1);
    let targets = targets(opts, 1);
    let started = Instant::now();
    let cpu = CpuWindow::start(opts);
    let deadline = started + opts.duration;
    let mut tasks = Vec::with_capacity(opts.parallel);
    for w in 0..opts.parallel {
        let shared = shared.clone();
        let limit = opts.timeout;
        let target = targets[w % targets.len()];
        tasks.push(tokio::spawn(async move {
            let mut i: u32 = 0;
            while Instant::now() < deadline {
                i = i.wrapping_add(1);
                if let Err(e) = session(target, (w as u32) << 20 ^ i, limit).await {
                    shared.fail(&Error(format!("session: {e}")));
                    return;
                }
                shared.count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let limit = opts.duration + opts.timeout * 2;
    if timeout(limit, futures_util::future::join_all(tasks))
        .await
        .is_err()
    {
        return err(format!("churn did not finish within {limit:?}"));
    }
    let secs = started.elapsed().as_secs_f64();
    let mut cpu_report = json!({});
    cpu.finish(&mut cpu_report);
    if let Some(e) = shared.error() {
        return err(format!("churn: {e}"));
    }
    let sessions = shared.count.load(Ordering::Relaxed);
    sleep(opts.settle).await;
    let rss_after = server_rss(opts)?;
    Ok(json!({
        "mode": "churn",
        "parallel": opts.parallel,
        "churn_s": secs,
        "sessions": sessions,
        "sessions_per_s": sessions as f64 / secs,
        "generator_cores": cpu_report["generator_cores"],
        "server_cores": cpu_report["server_cores"],
        "rss_before": rss_before,
        "rss_after": rss_after,
    }))
}

/// One churn session: connect + `40` + one `echo` and its ack + `41` + close.
async fn session(target: Target, seed: u32, limit: Duration) -> Result<()> {
    let mut conn = Conn::open(target, seed, limit).await?;
    let mut frame = b"421[\"echo\",".to_vec();
    push_payload(&mut frame, seed as u64);
    frame.push(b']');
    conn.send(&frame).await?;
    loop {
        let msg = timeout(limit, conn.recv()).await.map_err(|_| {
            Error(format!(
                "no ack within {limit:?} for the echo sent right after receiving `40`"
            ))
        })??;
        if msg.starts_with(b"431[") {
            break;
        }
    }
    conn.leave(limit).await;
    Ok(())
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
