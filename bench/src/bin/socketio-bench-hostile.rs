//! The hostile-input table: each case against a fresh contender process, recording what the
//! client saw and the server's peak memory. Run by `bench/run-hostile.sh` (not by `cargo test`).
//!
//! ```text
//! socketio-bench-hostile [--contenders ours-tokio,ours-smol,node] [--cases a,b]
//!                        [--write BENCHMARKS.md] [--out target/hostile]
//! ```
//!
//! Cases (each bounded to about 30 s):
//!
//! - `ping-flood`: one WebSocket writes up to 1,000,000 ping frames as fast as it can and
//!   never reads the pongs; then it reads what came back.
//! - `drip-nosid`: 1,000 chunked `POST`s to the polling path without `sid`, one byte a second.
//! - `drip-sid`: the same, each with the `sid` of a polling handshake made on its connection.
//! - `big-events`: 20 clients each send one ~1 MB `42["big",[0,0,…]]` at once while 3
//!   bystanders `echo` with an ack every 200 ms.
//! - `slow-consumer`: a client that never reads while another broadcasts 1,000 × 100 kB.
//! - `handshake-flood`: 20,000 polling handshakes over 50 keep-alive connections, never polled.
//! - `slowloris`: 1,000 connections sending a request head one byte a second.
//!
//! Peak memory is `VmHWM` at the end of the case minus `VmRSS` before it (a fresh process per
//! case, so the high-water mark is the case's).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socketio_bench::contender::{self, Programs, Server};
use socketio_bench::wsraw::{self, Conn, WsError, find, io_kind, parse_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{sleep, sleep_until, timeout};

const USAGE: &str = "\
usage: socketio-bench-hostile [options]
  --contenders a,b [ours-tokio,ours-smol,node]
  --cases a,b [ping-flood,drip-nosid,drip-sid,big-events,slow-consumer,handshake-flood,slowloris]
  --out DIR [target/hostile]   results.json and the contenders' stderr
  --write FILE                 rewrite the hostile section of FILE (else print it)
  --commit C  --date D  --command C";

const BEGIN: &str = "<!-- hostile:begin -->";
const END: &str = "<!-- hostile:end -->";

const CASES: [&str; 7] = [
    "ping-flood",
    "drip-nosid",
    "drip-sid",
    "big-events",
    "slow-consumer",
    "handshake-flood",
    "slowloris",
];

struct Options {
    contenders: Vec<String>,
    cases: Vec<String>,
    out: PathBuf,
    write: Option<PathBuf>,
    commit: String,
    date: String,
    command: String,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        contenders: vec!["ours-tokio".into(), "ours-smol".into(), "node".into()],
        cases: CASES.iter().map(|c| c.to_string()).collect(),
        out: PathBuf::from("target/hostile"),
        write: None,
        commit: "unknown".into(),
        date: String::new(),
        command: "bash bench/run-hostile.sh".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let v = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--contenders" => o.contenders = v.split(',').map(str::to_owned).collect(),
            "--cases" => {
                o.cases = v.split(',').map(str::to_owned).collect();
                if let Some(bad) = o.cases.iter().find(|c| !CASES.contains(&c.as_str())) {
                    return Err(format!("unknown case {bad:?}\n{USAGE}"));
                }
            }
            "--out" => o.out = v.into(),
            "--write" => o.write = Some(v.into()),
            "--commit" => o.commit = v,
            "--date" => o.date = v,
            "--command" => o.command = v,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("socketio-bench-hostile: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("socketio-bench-hostile: error: {e}");
        std::process::exit(1);
    }
}

/// What one case reports: the behaviour in words, plus details for the JSON.
struct Outcome {
    seen: String,
    details: Value,
}

fn run(opts: &Options) -> Result<(), String> {
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let programs = Programs::find(&root, &opts.contenders)?;
    contender::require_nofile(2500)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let mut results = Vec::new();
    for case in &opts.cases {
        for name in &opts.contenders {
            eprintln!("hostile: {case} against {name}");
            let log = opts.out.join(format!("{name}.{case}.stderr.log"));
            let _ = std::fs::remove_file(&log);
            let r = one(&programs, name, case, &log);
            let r = match r {
                Ok(r) => r,
                Err(e) => json!({"case": case, "contender": name, "error": e}),
            };
            eprintln!(
                "hostile: {case} / {name}: {}",
                cell(&r).replace("<br>", "; ")
            );
            results.push(r);
        }
    }
    let path = opts.out.join("results.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(
            &json!({"commit": opts.commit, "date": opts.date, "results": results}),
        )
        .unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let body = report(opts, &results);
    match &opts.write {
        Some(file) => contender::write_section(file, BEGIN, END, "## Hostile input", &body)?,
        None => println!("{body}"),
    }
    Ok(())
}

/// One case against a fresh contender.
fn one(
    programs: &Programs,
    name: &str,
    case: &str,
    log: &std::path::Path,
) -> Result<Value, String> {
    let mut server = Server::start(programs, name, log)?;
    let pid = server.pid();
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = contender::rss(pid).ok_or("cannot read the server's RSS")?;
    let fds_before = contender::open_fds(pid).unwrap_or(0);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port));
    // Sample the descriptor count (to time a disconnection) and RSS, every 20 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let fd_trace: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let sampler = {
        let (stop, trace) = (stop.clone(), fd_trace.clone());
        std::thread::spawn(move || {
            let mut peak_rss = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Some(f) = contender::open_fds(pid) {
                    let mut t = trace.lock().unwrap_or_else(|p| p.into_inner());
                    if t.last().is_none_or(|l| l.1 != f) {
                        t.push((Instant::now(), f));
                    }
                }
                peak_rss = peak_rss.max(contender::rss(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak_rss
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        let case_fut = async {
            match case {
                "ping-flood" => ping_flood(addr).await,
                "drip-nosid" => drip_post(addr, false).await,
                "drip-sid" => drip_post(addr, true).await,
                "big-events" => big_events(addr).await,
                "slow-consumer" => slow_consumer(addr, pid, &fd_trace).await,
                "handshake-flood" => handshake_flood(addr).await,
                _ => slowloris(addr).await,
            }
        };
        // Every case bounds itself; this is the backstop.
        match timeout(Duration::from_secs(60), case_fut).await {
            Ok(o) => o,
            Err(_) => Outcome {
                seen: "the case did not finish within 60 s".into(),
                details: Value::Null,
            },
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    let case_s = started.elapsed().as_secs_f64();
    let hwm = contender::hwm(pid);
    let rss_after = contender::rss(pid);
    stop.store(true, Ordering::Relaxed);
    let peak_sampled = sampler.join().unwrap_or(0);
    let alive = server.alive();
    let exit = server.exit_status();
    server.stop();
    let peak = hwm.unwrap_or(peak_sampled).max(peak_sampled);
    Ok(json!({
        "case": case,
        "contender": name,
        "seen": outcome.seen,
        "details": outcome.details,
        "case_s": case_s,
        "rss_before": rss_before,
        "fds_before": fds_before,
        "peak_rss": peak,
        "peak_delta": peak as i64 - rss_before as i64,
        "rss_after": rss_after,
        "server_alive": alive,
        "server_exit": exit,
    }))
}

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / 1048576.0)
}

fn cell(r: &Value) -> String {
    if let Some(e) = r["error"].as_str() {
        return format!("error: {}", e.lines().next().unwrap_or(""));
    }
    let mut s = r["seen"].as_str().unwrap_or("").to_string();
    if r["server_alive"] == json!(false) {
        s.push_str(&format!(
            "; **the server died** ({})",
            r["server_exit"].as_str().unwrap_or("?")
        ));
    }
    format!(
        "{s}<br>peak +{}",
        mib(r["peak_delta"].as_f64().unwrap_or(f64::NAN))
    )
}

fn report(opts: &Options, results: &[Value]) -> String {
    let mut s = format!(
        "\nEach case against a fresh process of each contender (defaults: pingInterval 25 s, \
         pingTimeout 20 s, maxHttpBufferSize 1e6); \"peak\" is the server's `VmHWM` at the end of \
         the case minus its `VmRSS` before. Commit `{}`, {}; `{}`. Raw results: \
         `target/hostile/results.json`.\n\n| case |",
        opts.commit, opts.date, opts.command
    );
    for c in &opts.contenders {
        s.push_str(&format!(" {c} |"));
    }
    s.push_str("\n|---|");
    for _ in &opts.contenders {
        s.push_str("---|");
    }
    s.push('\n');
    let describe = |case: &str| match case {
        "ping-flood" => {
            "ping flood: up to 1,000,000 WebSocket pings as fast as possible, pongs never read"
        }
        "drip-nosid" => {
            "1,000 chunked polling `POST`s without `sid`, one byte a second: state at 10 s"
        }
        "drip-sid" => {
            "1,000 chunked polling `POST`s with a valid `sid`, one byte a second: state at 10 s"
        }
        "big-events" => {
            "20 clients send one ~1 MB `42[\"big\",[0,0,…]]` each at once; 3 bystanders `echo` every 200 ms"
        }
        "slow-consumer" => {
            "a client never reads while another broadcasts 1,000 × 100 kB (100 MB to it)"
        }
        "handshake-flood" => "20,000 polling handshakes (50 keep-alive connections), never polled",
        _ => "slowloris: 1,000 connections send a request head one byte a second: state at 10 s",
    };
    for case in &opts.cases {
        s.push_str(&format!("| {} |", describe(case)));
        for c in &opts.contenders {
            let r = results
                .iter()
                .find(|r| r["case"] == json!(case) && r["contender"] == json!(c));
            let text = r.map_or(String::new(), cell).replace('|', "\\|");
            s.push_str(&format!(" {text} |"));
        }
        s.push('\n');
    }
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The status code of the first response in `buf`, if its status line has arrived.
fn status(buf: &[u8]) -> Option<u16> {
    let line = buf.strip_prefix(b"HTTP/1.1 ")?;
    std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()
}

/// Every status line in `buf` (responses on a keep-alive connection).
fn statuses(buf: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = find(&buf[at..], b"HTTP/1.1 ") {
        if let Some(s) = status(&buf[at + i..]) {
            out.push(s);
        }
        at += i + 9;
    }
    out
}

fn count_map(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} ×{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a client still holding `conn` sees within `limit`: frames until a close frame, end of
/// stream, reset, or nothing more (`still open`).
async fn fate(stream: &mut TcpStream, limit: Duration) -> (String, u64) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        // Look for a close frame among the frames read so far.
        loop {
            match parse_frame(&buf) {
                Ok(Some(f)) => {
                    if f.opcode == 0x8 {
                        let code = (f.len >= 2)
                            .then(|| u16::from_be_bytes([buf[f.header], buf[f.header + 1]]));
                        return (
                            code.map_or("close frame".into(), |c| format!("close {c}")),
                            bytes,
                        );
                    }
                    buf.drain(..f.header + f.len);
                }
                Ok(None) => break,
                Err(_) => {
                    buf.clear();
                    break;
                }
            }
        }
        match timeout(
            deadline.saturating_duration_since(tokio::time::Instant::now()),
            stream.read(&mut chunk),
        )
        .await
        {
            Err(_) => return ("still open".into(), bytes),
            Ok(Ok(0)) => return ("EOF".into(), bytes),
            Ok(Ok(n)) => {
                bytes += n as u64;
                buf.extend_from_slice(&chunk[..n]);
            }
            Ok(Err(e)) => return (io_kind(&e), bytes),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

async fn ping_flood(addr: SocketAddr) -> Outcome {
    const TOTAL: u64 = 1_000_000;
    const BATCH: u64 = 1000;
    let mut conn = match Conn::open(addr, 7, Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                seen: format!("could not connect: {e}"),
                details: Value::Null,
            };
        }
    };
    let mut batch = Vec::with_capacity(BATCH as usize * 6);
    for i in 0..BATCH {
        wsraw::encode_frame(&mut batch, 0x9, &[], (i as u32).to_le_bytes());
    }
    let started = Instant::now();
    let mut sent = 0u64;
    let end = loop {
        if sent >= TOTAL {
            break "all sent".to_string();
        }
        if started.elapsed() > Duration::from_secs(25) {
            break "25 s limit".to_string();
        }
        match timeout(Duration::from_secs(5), conn.stream.write_all(&batch)).await {
            Ok(Ok(())) => sent += BATCH,
            Ok(Err(e)) => break format!("write failed: {}", io_kind(&e)),
            Err(_) => break "writes blocked for 5 s (the server stopped reading)".to_string(),
        }
    };
    let write_s = started.elapsed().as_secs_f64();
    let (fate, read_bytes) = fate(&mut conn.stream, Duration::from_secs(3)).await;
    Outcome {
        seen: format!(
            "{} after {sent} pings in {write_s:.1} s; then: {fate} ({} bytes read back)",
            end, read_bytes
        ),
        details: json!({"pings_written": sent, "write_s": write_s, "end": end, "fate": fate, "read_back": read_bytes}),
    }
}

/// State of one dripping connection.
#[derive(Default)]
struct DripState {
    /// `EOF`, `reset`, … once the server ended it.
    closed: Mutex<BTreeMap<String, u64>>,
    /// Status codes of the responses seen.
    statuses: Mutex<BTreeMap<String, u64>>,
    open: AtomicU64,
    failed_setup: AtomicU64,
}

/// Opens `n` connections (100 at a time), writes `setup(conn)` then `drip(k)` every second;
/// returns the state `at` after the last setup.
async fn drip_many(
    addr: SocketAddr,
    n: usize,
    at: Duration,
    with_sid: bool,
    head: fn(Option<&str>) -> Vec<u8>,
    drip: fn(u64) -> Vec<u8>,
) -> (Arc<DripState>, f64) {
    let state = Arc::new(DripState::default());
    let gate = Arc::new(Semaphore::new(100));
    let ready = Arc::new(AtomicU64::new(0));
    let done_setup = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    let setup_started = Instant::now();
    for _ in 0..n {
        let (state, gate, ready, done_setup) = (
            state.clone(),
            gate.clone(),
            ready.clone(),
            done_setup.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire().await;
            let setup = async {
                let mut s = TcpStream::connect(addr).await.ok()?;
                let mut buf = Vec::new();
                let sid = if with_sid {
                    s.write_all(
                        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    )
                    .await
                    .ok()?;
                    let mut chunk = [0u8; 2048];
                    let sid = loop {
                        let k = s.read(&mut chunk).await.ok()?;
                        if k == 0 {
                            return None;
                        }
                        buf.extend_from_slice(&chunk[..k]);
                        if let Some(i) = find(&buf, b"\"sid\":\"") {
                            let rest = &buf[i + 7..];
                            if let Some(j) = rest.iter().position(|&b| b == b'"') {
                                break String::from_utf8_lossy(&rest[..j]).into_owned();
                            }
                        }
                    };
                    // Let the rest of the handshake response arrive, then forget it.
                    sleep(Duration::from_millis(50)).await;
                    let _ = timeout(Duration::from_millis(1), s.read(&mut chunk)).await;
                    Some(sid)
                } else {
                    None
                };
                s.write_all(&head(sid.as_deref())).await.ok()?;
                Some(s)
            };
            let stream = timeout(Duration::from_secs(10), setup).await.ok().flatten();
            drop(permit);
            let Some(mut s) = stream else {
                state.failed_setup.fetch_add(1, Ordering::Relaxed);
                if ready.fetch_add(1, Ordering::Relaxed) + 1 == n as u64 {
                    done_setup.notify_one();
                }
                return;
            };
            state.open.fetch_add(1, Ordering::Relaxed);
            if ready.fetch_add(1, Ordering::Relaxed) + 1 == n as u64 {
                done_setup.notify_one();
            }
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut k = 0u64;
            let mut next = tokio::time::Instant::now() + Duration::from_secs(1);
            let mut seen_statuses = 0;
            let end = loop {
                tokio::select! {
                    r = s.read(&mut chunk) => {
                        let n = match r {
                            Ok(0) => break "EOF".to_string(),
                            Ok(n) => n,
                            Err(e) => break io_kind(&e),
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        let all = statuses(&buf);
                        for st in &all[seen_statuses..] {
                            *state.statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(st.to_string()).or_default() += 1;
                        }
                        seen_statuses = all.len();
                        if buf.len() > 64 * 1024 {
                            buf.drain(..buf.len() - 1024);
                            seen_statuses = statuses(&buf).len();
                        }
                    }
                    _ = sleep_until(next) => {
                        if let Err(e) = s.write_all(&drip(k)).await {
                            break format!("write: {}", io_kind(&e));
                        }
                        k += 1;
                        next += Duration::from_secs(1);
                    }
                }
            };
            state.open.fetch_sub(1, Ordering::Relaxed);
            *state
                .closed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(end)
                .or_default() += 1;
        }));
    }
    let _ = timeout(Duration::from_secs(20), done_setup.notified()).await;
    let setup_s = setup_started.elapsed().as_secs_f64();
    sleep(at).await;
    for t in &tasks {
        t.abort();
    }
    (state, setup_s)
}

fn drip_outcome(state: &DripState, n: usize, setup_s: f64) -> Outcome {
    let open = state.open.load(Ordering::Relaxed);
    let failed = state.failed_setup.load(Ordering::Relaxed);
    let closed = state
        .closed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let statuses = state
        .statuses
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut seen = format!("open at 10 s: {open} of {n}");
    if failed > 0 {
        seen.push_str(&format!("; {failed} could not be set up"));
    }
    if !closed.is_empty() {
        seen.push_str(&format!("; closed: {}", count_map(&closed)));
    }
    seen.push_str(&format!(
        "; responses: {}",
        if statuses.is_empty() {
            "none".into()
        } else {
            count_map(&statuses)
        }
    ));
    Outcome {
        seen,
        details: json!({"open": open, "failed_setup": failed, "closed": closed, "statuses": statuses, "setup_s": setup_s}),
    }
}

fn post_head(sid: Option<&str>) -> Vec<u8> {
    let query = match sid {
        Some(s) => format!("EIO=4&transport=polling&sid={s}"),
        None => "EIO=4&transport=polling".into(),
    };
    format!(
        "POST /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes()
}

fn chunk_byte(_k: u64) -> Vec<u8> {
    b"1\r\n4\r\n".to_vec()
}

async fn drip_post(addr: SocketAddr, with_sid: bool) -> Outcome {
    let (state, setup_s) = drip_many(
        addr,
        1000,
        Duration::from_secs(10),
        with_sid,
        post_head,
        chunk_byte,
    )
    .await;
    drip_outcome(&state, 1000, setup_s)
}

const SLOW_HEAD: &[u8] = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris/1.0 (one byte a second)\r\nAccept: */*\r\n\r\n";

async fn slowloris(addr: SocketAddr) -> Outcome {
    fn nothing(_: Option<&str>) -> Vec<u8> {
        Vec::new()
    }
    fn byte(k: u64) -> Vec<u8> {
        // The head is longer than the 10 s window: it never completes.
        vec![SLOW_HEAD[(k as usize) % (SLOW_HEAD.len() - 4)]]
    }
    let (state, setup_s) =
        drip_many(addr, 1000, Duration::from_secs(10), false, nothing, byte).await;
    drip_outcome(&state, 1000, setup_s)
}

async fn big_events(addr: SocketAddr) -> Outcome {
    // `42["big",[` + 499,994 zeros separated by commas + `]]`: 999,999 bytes.
    let mut big = b"42[\"big\",[".to_vec();
    for i in 0..499_994 {
        if i > 0 {
            big.push(b',');
        }
        big.push(b'0');
    }
    big.extend_from_slice(b"]]");
    let big = Arc::new(big);
    let mut bystanders = Vec::new();
    for b in 0..3u32 {
        match Conn::open(addr, 100 + b, Duration::from_secs(10)).await {
            Ok(c) => bystanders.push(c),
            Err(e) => {
                return Outcome {
                    seen: format!("a bystander could not connect: {e}"),
                    details: Value::Null,
                };
            }
        }
    }
    let mut senders = Vec::new();
    for s in 0..20u32 {
        match Conn::open(addr, 200 + s, Duration::from_secs(10)).await {
            Ok(c) => senders.push(c),
            Err(e) => {
                return Outcome {
                    seen: format!("a sender could not connect: {e}"),
                    details: Value::Null,
                };
            }
        }
    }
    let window = Duration::from_secs(15);
    let started = Instant::now();
    let by_tasks: Vec<_> = bystanders
        .into_iter()
        .enumerate()
        .map(|(b, mut c)| {
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut id = 0u64;
                let mut acks = 0u64;
                while started.elapsed() < window {
                    id += 1;
                    let sent = Instant::now();
                    let frame = format!("42{id}[\"echo\",{b}]");
                    if let Err(e) = c.send(frame.as_bytes()).await {
                        return (Some(e.to_string()), worst, acks);
                    }
                    let r = timeout(Duration::from_secs(20), async {
                        loop {
                            let msg = c.recv().await?;
                            if msg.starts_with(format!("43{id}[").as_bytes()) {
                                return Ok::<(), WsError>(());
                            }
                        }
                    })
                    .await;
                    match r {
                        Ok(Ok(())) => {
                            acks += 1;
                            worst = worst.max(sent.elapsed());
                        }
                        Ok(Err(e)) => return (Some(e.to_string()), worst, acks),
                        Err(_) => {
                            return (
                                Some("no ack for 20 s".into()),
                                Duration::from_secs(20),
                                acks,
                            );
                        }
                    }
                    sleep(Duration::from_millis(200)).await;
                }
                (None, worst, acks)
            })
        })
        .collect();
    sleep(Duration::from_millis(500)).await;
    let send_tasks: Vec<_> = senders
        .into_iter()
        .map(|mut c| {
            let big = big.clone();
            tokio::spawn(async move {
                if let Err(e) = c.send(&big).await {
                    return format!("send failed: {e}");
                }
                let rest = window.saturating_sub(started.elapsed());
                match timeout(rest, async {
                    loop {
                        if let Err(e) = c.recv().await {
                            return e;
                        }
                    }
                })
                .await
                {
                    Ok(e) => e.to_string(),
                    Err(_) => "still open".into(),
                }
            })
        })
        .collect();
    let mut dropped = 0;
    let mut worst = Duration::ZERO;
    let mut why = BTreeMap::<String, u64>::new();
    let mut acks = 0;
    for t in by_tasks {
        if let Ok((e, w, a)) = t.await {
            worst = worst.max(w);
            acks += a;
            if let Some(e) = e {
                dropped += 1;
                *why.entry(e).or_default() += 1;
            }
        }
    }
    let mut senders_fate = BTreeMap::<String, u64>::new();
    for t in send_tasks {
        let f = t.await.unwrap_or_else(|_| "task failed".into());
        *senders_fate.entry(f).or_default() += 1;
    }
    let mut seen = format!(
        "bystanders dropped: {dropped} of 3; slowest bystander ack {:.0} ms; senders: {}",
        worst.as_secs_f64() * 1000.0,
        count_map(&senders_fate)
    );
    if !why.is_empty() {
        seen.push_str(&format!("; bystanders: {}", count_map(&why)));
    }
    Outcome {
        seen,
        details: json!({"bystanders_dropped": dropped, "worst_ack_ms": worst.as_secs_f64() * 1000.0,
                        "bystander_acks": acks, "senders": senders_fate, "bystander_errors": why}),
    }
}

async fn slow_consumer(
    addr: SocketAddr,
    pid: u32,
    fd_trace: &Mutex<Vec<(Instant, u64)>>,
) -> Outcome {
    const COUNT: u64 = 1000;
    let mut sleeper = match Conn::open(addr, 11, Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                seen: format!("could not connect: {e}"),
                details: Value::Null,
            };
        }
    };
    let mut sender = match Conn::open(addr, 12, Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                seen: format!("could not connect: {e}"),
                details: Value::Null,
            };
        }
    };
    sleep(Duration::from_millis(300)).await;
    let fds_connected = contender::open_fds(pid).unwrap_or(0);
    let mut frame = b"42[\"broadcast\",\"".to_vec();
    frame.extend(std::iter::repeat_n(b'x', 100_000));
    frame.extend_from_slice(b"\"]");
    let started = Instant::now();
    let (mut sent, mut got) = (0u64, 0u64);
    let mut sender_end = None;
    while got < COUNT {
        if started.elapsed() > Duration::from_secs(25) {
            sender_end = Some("25 s limit".to_string());
            break;
        }
        if sent < COUNT && sent - got < 4 {
            if let Err(e) = sender.send(&frame).await {
                sender_end = Some(format!("the sender failed: {e}"));
                break;
            }
            sent += 1;
            continue;
        }
        match timeout(Duration::from_secs(5), sender.recv()).await {
            Ok(Ok(m)) => {
                if m.starts_with(b"42[\"tick\",") {
                    got += 1;
                }
            }
            Ok(Err(e)) => {
                sender_end = Some(format!("the sender was dropped: {e}"));
                break;
            }
            Err(_) => {
                sender_end = Some(format!("the sender got no tick for 5 s ({got} of {sent})"));
                break;
            }
        }
    }
    let send_s = started.elapsed().as_secs_f64();
    // When the server's descriptor count first fell below its count with both clients
    // connected (the sleeper's connection closed, most likely), relative to the first send.
    let t_start = {
        let trace = fd_trace.lock().unwrap_or_else(|p| p.into_inner());
        trace
            .iter()
            .find(|(t, f)| *t > started && *f < fds_connected)
            .map(|(t, _)| t.duration_since(started).as_secs_f64())
    };
    // The sleeper wakes up: what does it find?
    let (fate, bytes) = fate(&mut sleeper.stream, Duration::from_secs(3)).await;
    let mut seen = format!(
        "the sender got {got} of {COUNT} ticks in {send_s:.1} s{}; the sleeper then read {} and found: {fate}",
        sender_end
            .as_deref()
            .map_or(String::new(), |e| format!(" ({e})")),
        mib(bytes as f64)
    );
    if let Some(t) = t_start {
        seen.push_str(&format!(
            "; the server's descriptor count fell {:.0} ms after the first broadcast",
            t * 1000.0
        ));
    }
    Outcome {
        seen,
        details: json!({"ticks_to_sender": got, "send_s": send_s, "sleeper_fate": fate,
                        "sleeper_bytes": bytes, "fd_drop_s": t_start}),
    }
}

async fn handshake_flood(addr: SocketAddr) -> Outcome {
    const TOTAL: u64 = 20_000;
    const CONNS: u64 = 50;
    let next = Arc::new(AtomicU64::new(0));
    let codes = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(25);
    let tasks: Vec<_> = (0..CONNS)
        .map(|_| {
            let (next, codes) = (next.clone(), codes.clone());
            tokio::spawn(async move {
                let mut s: Option<TcpStream> = None;
                let mut buf = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                let note = |k: String| {
                    *codes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(k)
                        .or_default() += 1;
                };
                while next.fetch_add(1, Ordering::Relaxed) < TOTAL && Instant::now() < deadline {
                    if s.is_none() {
                        match TcpStream::connect(addr).await {
                            Ok(c) => s = Some(c),
                            Err(e) => {
                                note(format!("connect: {}", io_kind(&e)));
                                sleep(Duration::from_millis(100)).await;
                                continue;
                            }
                        }
                    }
                    let Some(c) = s.as_mut() else { continue };
                    let r = timeout(Duration::from_secs(5), async {
                        c.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await?;
                        buf.clear();
                        // One response: head, then Content-Length bytes or chunks up to `0\r\n\r\n`.
                        loop {
                            let n = c.read(&mut chunk).await?;
                            if n == 0 {
                                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "EOF"));
                            }
                            buf.extend_from_slice(&chunk[..n]);
                            let Some(h) = find(&buf, b"\r\n\r\n") else { continue };
                            let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok());
                            let complete = match len {
                                Some(l) => buf.len() >= h + 4 + l,
                                None if head.contains("transfer-encoding: chunked") => {
                                    find(&buf[h..], b"\r\n0\r\n\r\n").is_some()
                                }
                                None => false,
                            };
                            if complete {
                                let keep = !head.contains("connection: close");
                                return Ok((status(&buf).unwrap_or(0), keep));
                            }
                        }
                    })
                    .await;
                    match r {
                        Ok(Ok((code, keep))) => {
                            note(code.to_string());
                            if !keep {
                                s = None;
                            }
                        }
                        Ok(Err(e)) => {
                            note(io_kind(&e));
                            s = None;
                        }
                        Err(_) => {
                            note("no response within 5 s".into());
                            s = None;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let codes = codes.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let ok = codes.get("200").copied().unwrap_or(0);
    Outcome {
        seen: format!(
            "{ok} handshakes answered 200 in {secs:.1} s ({:.0}/s); all results: {}",
            ok as f64 / secs,
            count_map(&codes)
        ),
        details: json!({"codes": codes, "secs": secs}),
    }
}
