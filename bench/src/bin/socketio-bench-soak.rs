//! The soak: holds N WebSocket clients on each contender for M minutes with churn and
//! broadcasts, samples the server's RSS and open descriptors, and checks every ack.
//! Run by `bench/run-soak.sh` (not by `cargo test`).
//!
//! ```text
//! socketio-bench-soak [--minutes M] [--connections N] [--contenders ours-tokio,ours-smol,node]
//!                     [--write BENCHMARKS.md] [--png bench/soak.png] [--out target/soak] …
//! ```
//!
//! Per contender, one after the other, each in a fresh process:
//!
//! - stable clients (N × (1 − churn fraction) − 1) connect and stay; each sends `echo` with an
//!   ack every `--echo-s` seconds (random phase) and counts the `tick`s of the broadcasts;
//! - one broadcaster sends `broadcast` (`{"seq":S,"pad":…}`, ~100 bytes) every `--broadcast-ms`
//!   to room `bench` (every client);
//! - churn slots (N × churn fraction) loop over sessions: connect, `40`, `join` a room of its
//!   own (ack), `echo` (ack), stay 1 to `--hold-ms` ms, `leave` (ack), then one of four exits in
//!   turn: `41` + close frame (half of them), an abrupt TCP close (FIN, no close frame), a reset
//!   (`SO_LINGER` 0), or a ghost (stops reading and answering pings, dropped after
//!   `--ghost-s` s; the server's ping timeout should close it first);
//! - the server's `VmRSS` and open descriptors (`/proc/<pid>/fd`) are sampled every
//!   `--sample-s` s; after `--warmup-minutes`, the least-squares slopes are the figures;
//! - at the end every client leaves and the descriptors must return to the count before the
//!   first client (within 30 s).
//!
//! A lost ack (no answer within `--ack-timeout-s` on a connection the server kept open), a lost
//! or out-of-order `tick` on a stable client, a stable client or a session dropped by the
//! server, descriptors not back to the baseline, or a server that died fail the run (exit
//! status 1, after the report). The RSS slope is reported, with a verdict, but does not fail it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socketio_bench::chart::{self, Panel, Series};
use socketio_bench::contender::{self, Programs, Server};
use socketio_bench::wsraw::{Conn, WsError, number_after};
use tokio::sync::{Semaphore, watch};
use tokio::time::{sleep, sleep_until, timeout};

const USAGE: &str = "\
usage: socketio-bench-soak [options]
  --minutes M [10]            soak duration per contender (fractions allowed)
  --connections N [5000]      clients held (stable + churn slots + 1 broadcaster)
  --contenders a,b [ours-tokio,ours-smol,node]
  --churn-fraction F [0.1]    share of N that churns
  --hold-ms MS [9000]         a churn session stays 1000..MS ms between its acks
  --ghost-s S [60]            a ghost session is dropped by the client after S s
  --broadcast-ms MS [1000]    broadcast period
  --echo-s S [10]             echo period of each stable client
  --sample-s S [10]           RSS / descriptor sampling period
  --warmup-minutes W [M/5, between 0.5 and 2]
  --ack-timeout-s S [10]      an ack later than this is lost
  --out DIR [target/soak]     samples (CSV per contender) and results.json
  --png FILE [bench/soak.png] the plot
  --write FILE                rewrite the soak section of FILE (else print it)
  --commit C  --date D  --command C   shown in the report";

const BEGIN: &str = "<!-- soak:begin -->";
const END: &str = "<!-- soak:end -->";

#[derive(Clone, Debug)]
struct Options {
    minutes: f64,
    connections: usize,
    contenders: Vec<String>,
    churn_fraction: f64,
    hold: Duration,
    ghost: Duration,
    broadcast: Duration,
    echo: Duration,
    sample: Duration,
    warmup_minutes: f64,
    ack_timeout: Duration,
    out: PathBuf,
    png: PathBuf,
    write: Option<PathBuf>,
    commit: String,
    date: String,
    command: String,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        minutes: 10.0,
        connections: 5000,
        contenders: vec!["ours-tokio".into(), "ours-smol".into(), "node".into()],
        churn_fraction: 0.1,
        hold: Duration::from_millis(9000),
        ghost: Duration::from_secs(60),
        broadcast: Duration::from_millis(1000),
        echo: Duration::from_secs(10),
        sample: Duration::from_secs(10),
        warmup_minutes: f64::NAN,
        ack_timeout: Duration::from_secs(10),
        out: PathBuf::from("target/soak"),
        png: PathBuf::from("bench/soak.png"),
        write: None,
        commit: "unknown".into(),
        date: String::new(),
        command: "bash bench/run-soak.sh".into(),
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
        let bad = || format!("bad value {v:?} for {flag}");
        let num = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0);
        let ms = |v: &str| v.parse::<u64>().ok().map(Duration::from_millis);
        let secs = |v: &str| num(v).map(Duration::from_secs_f64);
        match flag.as_str() {
            "--minutes" => o.minutes = num(&v).ok_or_else(bad)?,
            "--connections" => o.connections = v.parse().map_err(|_| bad())?,
            "--contenders" => o.contenders = v.split(',').map(str::to_owned).collect(),
            "--churn-fraction" => {
                o.churn_fraction = v
                    .parse()
                    .ok()
                    .filter(|f| (0.0..0.9).contains(f))
                    .ok_or_else(bad)?
            }
            "--hold-ms" => o.hold = ms(&v).filter(|d| d.as_millis() >= 1000).ok_or_else(bad)?,
            "--ghost-s" => o.ghost = secs(&v).ok_or_else(bad)?,
            "--broadcast-ms" => o.broadcast = ms(&v).filter(|d| !d.is_zero()).ok_or_else(bad)?,
            "--echo-s" => o.echo = secs(&v).ok_or_else(bad)?,
            "--sample-s" => o.sample = secs(&v).ok_or_else(bad)?,
            "--warmup-minutes" => {
                o.warmup_minutes = v.parse().ok().filter(|w: &f64| *w >= 0.0).ok_or_else(bad)?
            }
            "--ack-timeout-s" => o.ack_timeout = secs(&v).ok_or_else(bad)?,
            "--out" => o.out = v.into(),
            "--png" => o.png = v.into(),
            "--write" => o.write = Some(v.into()),
            "--commit" => o.commit = v,
            "--date" => o.date = v,
            "--command" => o.command = v,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if o.connections < 20 {
        return Err("--connections must be at least 20".into());
    }
    if o.warmup_minutes.is_nan() {
        o.warmup_minutes = (o.minutes / 5.0).clamp(0.5, 2.0).min(o.minutes / 2.0);
    }
    if o.warmup_minutes >= o.minutes {
        return Err("--warmup-minutes must be shorter than --minutes".into());
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("socketio-bench-soak: {e}");
            std::process::exit(2);
        }
    };
    match run(&opts) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("socketio-bench-soak: FAILED (see the report above)");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("socketio-bench-soak: error: {e}");
            std::process::exit(1);
        }
    }
}

/// Counters shared by the client tasks of one contender's soak.
#[derive(Default)]
struct Stats {
    stable_connected: AtomicU64,
    stable_dropped: AtomicU64,
    acks_sent: AtomicU64,
    acks_ok: AtomicU64,
    acks_lost: AtomicU64,
    churn_open: AtomicU64,
    sessions: AtomicU64,
    session_connect_failures: AtomicU64,
    sessions_dropped: AtomicU64,
    exits_polite: AtomicU64,
    exits_fin: AtomicU64,
    exits_reset: AtomicU64,
    exits_ghost: AtomicU64,
    broadcasts: AtomicU64,
    ticks_out_of_order: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Stats {
    fn note(&self, what: String) {
        let mut list = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() < 12 {
            list.push(what);
        }
    }

    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// One sample of the server.
#[derive(Clone, Debug)]
struct Sample {
    t_s: f64,
    rss: u64,
    fds: u64,
    cpu_s: f64,
    stable: u64,
    churn_open: u64,
    ghosts: u64,
    sessions: u64,
    acks_ok: u64,
    acks_lost: u64,
    broadcasts: u64,
}

fn run(opts: &Options) -> Result<bool, String> {
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let programs = Programs::find(&root, &opts.contenders)?;
    // Generator: every client, the ghosts (one session in 8, held --ghost-s) and spare; each
    // contender needs the same.
    let mean_session_s = (1.0 + opts.hold.as_secs_f64()) / 2.0;
    let ghosts = (opts.connections as f64 * opts.churn_fraction / mean_session_s / 8.0
        * opts.ghost.as_secs_f64())
    .ceil() as u64;
    contender::require_nofile(opts.connections as u64 + ghosts + 200)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let mut results = Vec::new();
    for name in &opts.contenders {
        eprintln!(
            "soak: {name}: {} connections for {} min (warm-up {} min)",
            opts.connections, opts.minutes, opts.warmup_minutes
        );
        let log = opts.out.join(format!("{name}.stderr.log"));
        let _ = std::fs::remove_file(&log);
        let result = match Server::start(&programs, name, &log) {
            Ok(server) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("tokio runtime: {e}"))?;
                let r = runtime.block_on(soak_one(opts, server));
                runtime.shutdown_timeout(Duration::from_secs(2));
                r
            }
            Err(e) => Err(e),
        };
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("soak: {name}: FAILED: {e}");
                json!({"contender": name, "error": e, "pass": false})
            }
        };
        if let Some(samples) = result["samples"].as_array() {
            write_csv(&opts.out.join(format!("{name}.csv")), samples)?;
        }
        eprintln!("soak: {name}: {}", summary_line(&result));
        results.push(result);
    }
    let all = json!({
        "commit": opts.commit, "date": opts.date, "minutes": opts.minutes,
        "connections": opts.connections, "warmup_minutes": opts.warmup_minutes,
        "results": results,
    });
    let path = opts.out.join("results.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&all).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    plot(opts, &results)?;
    let body = report(opts, &results);
    match &opts.write {
        Some(file) => contender::write_section(file, BEGIN, END, "## Soak", &body)?,
        None => println!("{body}"),
    }
    Ok(results.iter().all(|r| r["pass"] == json!(true)))
}

fn summary_line(r: &Value) -> String {
    if let Some(e) = r["error"].as_str() {
        return format!("error: {e}");
    }
    format!(
        "pass={} rss slope {:.0} B/min, fd slope {:.2}/min, acks {}/{} lost {}, sessions {}, fds {} -> {} after close",
        r["pass"],
        r["rss_slope_bytes_per_min"].as_f64().unwrap_or(f64::NAN),
        r["fd_slope_per_min"].as_f64().unwrap_or(f64::NAN),
        r["acks_ok"],
        r["acks_sent"],
        r["acks_lost"],
        r["sessions"],
        r["fds_baseline"],
        r["fds_after_close"],
    )
}

/// A small xorshift generator per task.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The id of an ack packet `43<id>[…]`.
fn ack_id(msg: &[u8]) -> Option<u64> {
    let rest = msg.strip_prefix(b"43")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

const TICK: &[u8] = b"42[\"tick\",";

async fn soak_one(opts: &Options, mut server: Server) -> Result<Value, String> {
    let name = server.name.clone();
    let pid = server.pid();
    GHOSTS_LIVE.store(0, Ordering::Relaxed);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port));
    sleep(Duration::from_secs(1)).await;
    let fds_baseline = contender::open_fds(pid).ok_or("cannot read the server's fds")?;
    let rss_baseline = contender::rss(pid).ok_or("cannot read the server's RSS")?;
    let churn_slots = ((opts.connections as f64 * opts.churn_fraction).round() as usize).max(1);
    let stable_n = opts.connections - churn_slots - 1;
    let stats = Arc::new(Stats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let ticks: Arc<Vec<AtomicU64>> = Arc::new((0..stable_n).map(|_| AtomicU64::new(0)).collect());
    let alive: Arc<Vec<AtomicU64>> = Arc::new((0..stable_n).map(|_| AtomicU64::new(1)).collect());

    // Stable clients, at most 100 handshakes in flight (the listen backlog is 128).
    let connect_started = Instant::now();
    let gate = Arc::new(Semaphore::new(100));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    let mut stable_tasks = Vec::with_capacity(stable_n);
    for i in 0..stable_n {
        let (gate, ready, stats, stop, ticks, alive) = (
            gate.clone(),
            ready_tx.clone(),
            stats.clone(),
            stop_rx.clone(),
            ticks.clone(),
            alive.clone(),
        );
        let o = opts.clone();
        stable_tasks.push(tokio::spawn(async move {
            let conn = {
                let Ok(_permit) = gate.acquire().await else {
                    return;
                };
                Conn::open(addr, 0x9E37_79B9 ^ i as u32, Duration::from_secs(10)).await
            };
            match conn {
                Ok(conn) => {
                    let _ = ready.send(Ok(()));
                    inc(&stats.stable_connected);
                    stable_client(i, conn, &o, &stats, stop, &ticks[i]).await;
                    alive[i].store(0, Ordering::Relaxed);
                    stats.stable_connected.fetch_sub(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let _ = ready.send(Err(format!("stable client {i}: {e}")));
                }
            }
        }));
    }
    drop(ready_tx);
    for done in 0..stable_n {
        match timeout(Duration::from_secs(20), ready_rx.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => {
                let _ = stop_tx.send(true);
                return Err(format!("connecting: {e} (after {done})"));
            }
            _ => {
                let _ = stop_tx.send(true);
                return Err(format!(
                    "connecting {stable_n} clients: no progress for 20 s after {done}"
                ));
            }
        }
    }
    let connect_s = connect_started.elapsed().as_secs_f64();
    eprintln!("soak: {name}: {stable_n} stable clients connected in {connect_s:.1} s");
    // Let every connect handler join `bench` before the first broadcast.
    sleep(Duration::from_secs(1)).await;

    // The broadcaster and the churn slots.
    let broadcaster = {
        let (stats, mut stop, period) = (stats.clone(), stop_rx.clone(), opts.broadcast);
        let mut conn = Conn::open(addr, 0xB0B, Duration::from_secs(10))
            .await
            .map_err(|e| format!("the broadcaster: {e}"))?;
        tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            let mut seq = 0u64;
            loop {
                tokio::select! {
                    r = conn.recv() => if let Err(e) = r {
                        stats.note(format!("the broadcaster was dropped: {e}"));
                        inc(&stats.stable_dropped);
                        return;
                    },
                    _ = sleep_until(next) => {
                        let mut f = format!("42[\"broadcast\",{{\"seq\":{seq},\"pad\":\"").into_bytes();
                        f.extend_from_slice(&[b'x'; 80]);
                        f.extend_from_slice(b"\"}]");
                        if let Err(e) = conn.send(&f).await {
                            stats.note(format!("the broadcaster could not send: {e}"));
                            inc(&stats.stable_dropped);
                            return;
                        }
                        seq += 1;
                        stats.broadcasts.store(seq, Ordering::Relaxed);
                        next += period;
                    }
                    _ = stop.changed() => break,
                }
            }
            conn.leave(Duration::from_millis(500)).await;
        })
    };
    let ghost_tasks = Arc::new(Mutex::new(Vec::new()));
    let mut churn_tasks = Vec::with_capacity(churn_slots);
    for slot in 0..churn_slots {
        let (stats, stop, o, ghosts) = (
            stats.clone(),
            stop_rx.clone(),
            opts.clone(),
            ghost_tasks.clone(),
        );
        churn_tasks.push(tokio::spawn(async move {
            churn_slot(slot, addr, &o, &stats, stop, &ghosts).await;
        }));
    }

    // Sampling.
    let t0 = Instant::now();
    let cpu0 = contender::cpu_seconds(pid).unwrap_or(0.0);
    let take = |stats: &Stats, t0: Instant| -> Option<Sample> {
        Some(Sample {
            t_s: t0.elapsed().as_secs_f64(),
            rss: contender::rss(pid)?,
            fds: contender::open_fds(pid)?,
            cpu_s: contender::cpu_seconds(pid).unwrap_or(0.0) - cpu0,
            stable: Stats::get(&stats.stable_connected),
            churn_open: Stats::get(&stats.churn_open),
            ghosts: GHOSTS_LIVE.load(Ordering::Relaxed),
            sessions: Stats::get(&stats.sessions),
            acks_ok: Stats::get(&stats.acks_ok),
            acks_lost: Stats::get(&stats.acks_lost),
            broadcasts: Stats::get(&stats.broadcasts),
        })
    };
    let mut samples = Vec::new();
    let duration = Duration::from_secs_f64(opts.minutes * 60.0);
    let mut server_died = None;
    let mut k = 0u32;
    loop {
        match take(&stats, t0) {
            Some(s) => {
                eprintln!(
                    "soak: {name}: t={:>5.0}s rss={:>6.1} MiB fds={:>5} stable={} churn={} ghosts={} sessions={} acks={} lost={} bcast={}",
                    s.t_s,
                    s.rss as f64 / 1048576.0,
                    s.fds,
                    s.stable,
                    s.churn_open,
                    s.ghosts,
                    s.sessions,
                    s.acks_ok,
                    s.acks_lost,
                    s.broadcasts
                );
                samples.push(s);
            }
            None => {
                server_died = Some(format!(
                    "the server exited during the soak ({})",
                    server.exit_status().unwrap_or_default()
                ));
                break;
            }
        }
        k += 1;
        let next = t0 + opts.sample * k;
        if next > t0 + duration + Duration::from_millis(100) {
            break;
        }
        sleep_until(next.into()).await;
    }
    let soak_s = t0.elapsed().as_secs_f64();

    // Stop: churn slots finish their session, the broadcaster stops, stable clients collect
    // their last ticks and acks, then everyone leaves.
    let _ = stop_tx.send(true);
    let bounded = opts.hold + opts.ack_timeout * 4 + Duration::from_secs(5);
    if timeout(bounded, futures_util::future::join_all(churn_tasks))
        .await
        .is_err()
    {
        stats.note(format!("churn slots did not stop within {bounded:?}"));
    }
    let _ = timeout(Duration::from_secs(5), broadcaster).await;
    let broadcasts = Stats::get(&stats.broadcasts);
    // Stable clients keep reading until they have every tick (or 10 s pass).
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    let lost_ticks = loop {
        let short: u64 = ticks
            .iter()
            .zip(alive.iter())
            .filter(|(_, a)| a.load(Ordering::Relaxed) == 1)
            .map(|(t, _)| broadcasts.saturating_sub(t.load(Ordering::Relaxed)))
            .sum();
        if short == 0 || Instant::now() > drain_deadline {
            break short;
        }
        sleep(Duration::from_millis(100)).await;
    };
    let _ = stop_tx.send_replace(true);
    STABLE_LEAVE.store(1, Ordering::Relaxed);
    let leave_limit = opts.ack_timeout + Duration::from_secs(10);
    if timeout(leave_limit, futures_util::future::join_all(stable_tasks))
        .await
        .is_err()
    {
        stats.note(format!(
            "stable clients did not leave within {leave_limit:?}"
        ));
    }
    let ghost_handles: Vec<_> =
        std::mem::take(&mut *ghost_tasks.lock().unwrap_or_else(|p| p.into_inner()));
    for g in ghost_handles {
        g.abort();
    }
    GHOSTS_LIVE.store(0, Ordering::Relaxed);
    STABLE_LEAVE.store(0, Ordering::Relaxed);

    // Descriptors back to the baseline?
    let close_started = Instant::now();
    let mut fds_after_close = contender::open_fds(pid);
    while close_started.elapsed() < Duration::from_secs(30) {
        fds_after_close = contender::open_fds(pid);
        match fds_after_close {
            Some(f) if f <= fds_baseline => break,
            None => break,
            _ => sleep(Duration::from_millis(500)).await,
        }
    }
    let fds_close_s = close_started.elapsed().as_secs_f64();
    sleep(Duration::from_secs(1)).await;
    let rss_after_close = contender::rss(pid);
    let alive_at_end = server.alive();
    let stopped = server.stop();

    // Figures.
    let warm = opts.warmup_minutes * 60.0;
    let after: Vec<&Sample> = samples.iter().filter(|s| s.t_s >= warm - 0.5).collect();
    let rss_points: Vec<(f64, f64)> = after.iter().map(|s| (s.t_s / 60.0, s.rss as f64)).collect();
    let fd_points: Vec<(f64, f64)> = after.iter().map(|s| (s.t_s / 60.0, s.fds as f64)).collect();
    let rss_slope = contender::slope(&rss_points);
    let fd_slope = contender::slope(&fd_points);
    let mean_rss = rss_points.iter().map(|p| p.1).sum::<f64>() / rss_points.len().max(1) as f64;
    let window_min =
        rss_points.last().map_or(0.0, |l| l.0) - rss_points.first().map_or(0.0, |f| f.0);
    let growth_pct = rss_slope.map(|s| s * window_min / mean_rss * 100.0);
    // A lasting trend shows in the second half too; a step (a table growing once the
    // population is reached) only in the first.
    let half = opts.minutes * 30.0;
    let second_half: Vec<(f64, f64)> = rss_points
        .iter()
        .copied()
        .filter(|p| p.0 * 60.0 >= half - 0.5)
        .collect();
    let rss_slope_second_half = contender::slope(&second_half);
    let fd_leak = fds_after_close.map(|f| f as i64 - fds_baseline as i64);
    let acks_lost = Stats::get(&stats.acks_lost);
    let stable_dropped = Stats::get(&stats.stable_dropped);
    let sessions_dropped = Stats::get(&stats.sessions_dropped);
    let mut failures = Vec::new();
    if let Some(d) = &server_died {
        failures.push(d.clone());
    } else if !alive_at_end {
        failures.push("the server was not running at the end".into());
    }
    if acks_lost > 0 {
        failures.push(format!("{acks_lost} lost ack(s)"));
    }
    if stable_dropped > 0 {
        failures.push(format!(
            "{stable_dropped} stable client(s) dropped by the server"
        ));
    }
    if sessions_dropped > 0 {
        failures.push(format!(
            "{sessions_dropped} session(s) dropped by the server"
        ));
    }
    if lost_ticks > 0 {
        failures.push(format!("{lost_ticks} tick(s) missing on stable clients"));
    }
    let ooo = Stats::get(&stats.ticks_out_of_order);
    if ooo > 0 {
        failures.push(format!("{ooo} tick(s) out of order"));
    }
    match fd_leak {
        Some(l) if l > 0 => failures.push(format!(
            "{l} descriptor(s) above the baseline 30 s after every client left"
        )),
        None => failures.push("the descriptors could not be read after the close".into()),
        _ => {}
    }
    let errors = stats
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let sample_json: Vec<Value> = samples
        .iter()
        .map(|s| {
            json!({"t_s": s.t_s, "rss": s.rss, "fds": s.fds, "cpu_s": s.cpu_s, "stable": s.stable,
                   "churn_open": s.churn_open, "ghosts": s.ghosts, "sessions": s.sessions,
                   "acks_ok": s.acks_ok, "acks_lost": s.acks_lost, "broadcasts": s.broadcasts})
        })
        .collect();
    Ok(json!({
        "contender": name,
        "pass": failures.is_empty(),
        "failures": failures,
        "errors": errors,
        "stable_clients": stable_n,
        "churn_slots": churn_slots,
        "connect_s": connect_s,
        "soak_s": soak_s,
        "rss_baseline": rss_baseline,
        "fds_baseline": fds_baseline,
        "rss_slope_bytes_per_min": rss_slope,
        "rss_slope_second_half_bytes_per_min": rss_slope_second_half,
        "fd_slope_per_min": fd_slope,
        "rss_growth_pct_over_window": growth_pct,
        "rss_mean_after_warmup": mean_rss,
        "rss_max": samples.iter().map(|s| s.rss).max(),
        "fds_min_after_warmup": after.iter().map(|s| s.fds).min(),
        "fds_max_after_warmup": after.iter().map(|s| s.fds).max(),
        "fds_after_close": fds_after_close,
        "fds_close_s": fds_close_s,
        "rss_after_close": rss_after_close,
        "server_cpu_s": samples.last().map(|s| s.cpu_s),
        "acks_sent": Stats::get(&stats.acks_sent),
        "acks_ok": Stats::get(&stats.acks_ok),
        "acks_lost": acks_lost,
        "stable_dropped": stable_dropped,
        "sessions": Stats::get(&stats.sessions),
        "session_connect_failures": Stats::get(&stats.session_connect_failures),
        "sessions_dropped": sessions_dropped,
        "exits": {"polite": Stats::get(&stats.exits_polite), "fin": Stats::get(&stats.exits_fin),
                  "reset": Stats::get(&stats.exits_reset), "ghost": Stats::get(&stats.exits_ghost)},
        "broadcasts": broadcasts,
        "ticks_lost": lost_ticks,
        "ticks_out_of_order": ooo,
        "server_stopped_cleanly": stopped,
        "samples": sample_json,
    }))
}

/// Set while the stable clients are told to leave (they then stop waiting for their acks).
static STABLE_LEAVE: AtomicU64 = AtomicU64::new(0);

/// A stable client: counts ticks (in order), sends an echo every `--echo-s` and checks its ack.
async fn stable_client(
    i: usize,
    mut conn: Conn,
    o: &Options,
    stats: &Stats,
    mut stop: watch::Receiver<bool>,
    ticks: &AtomicU64,
) {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let period = o.echo;
    let mut next_echo =
        tokio::time::Instant::now() + Duration::from_millis(rng.below(period.as_millis() as u64));
    let mut pending: Option<(u64, tokio::time::Instant)> = None;
    let mut id = 0u64;
    let mut stopping = false;
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    loop {
        let deadline = pending.map_or(far, |(_, at)| at + o.ack_timeout);
        tokio::select! {
            r = conn.recv() => match r {
                Ok(msg) => {
                    if msg.starts_with(TICK) {
                        let seq = number_after(msg, b"\"seq\":");
                        let got = ticks.load(Ordering::Relaxed);
                        if seq != Some(got) {
                            inc(&stats.ticks_out_of_order);
                            stats.note(format!("stable client {i}: tick {seq:?}, expected {got}"));
                        }
                        ticks.store(got + 1, Ordering::Relaxed);
                    } else if let Some(a) = ack_id(msg) {
                        match pending {
                            Some((p, _)) if p == a => {
                                inc(&stats.acks_ok);
                                pending = None;
                            }
                            _ => stats.note(format!("stable client {i}: unexpected ack {a}")),
                        }
                    }
                }
                Err(e) => {
                    inc(&stats.stable_dropped);
                    stats.note(format!("stable client {i} dropped by the server: {e}"));
                    if pending.take().is_some() {
                        // The connection did not stay: not a lost ack, but the drop fails the run.
                    }
                    return;
                }
            },
            _ = sleep_until(next_echo), if pending.is_none() && !stopping => {
                id += 1;
                let frame = format!("42{id}[\"echo\",{{\"c\":{i},\"k\":{id}}}]");
                inc(&stats.acks_sent);
                if let Err(e) = conn.send(frame.as_bytes()).await {
                    inc(&stats.stable_dropped);
                    stats.note(format!("stable client {i}: send failed: {e}"));
                    return;
                }
                pending = Some((id, tokio::time::Instant::now()));
                next_echo += period;
            }
            _ = sleep_until(deadline), if pending.is_some() => {
                inc(&stats.acks_lost);
                stats.note(format!("stable client {i}: no ack {id} within {:?}", o.ack_timeout));
                pending = None;
            }
            _ = stop.changed(), if !stopping => stopping = true,
            _ = sleep(Duration::from_millis(100)), if stopping => {}
        }
        // Leave once told to and no ack is outstanding (the drain of ticks happens before).
        if stopping && pending.is_none() && STABLE_LEAVE.load(Ordering::Relaxed) == 1 {
            break;
        }
    }
    conn.leave(Duration::from_secs(2)).await;
}

/// How a churn session ended on the client side.
enum Outcome {
    Done,
    ConnectFailed,
    Dropped,
    Lost,
}

/// Waits for the ack `43<id>`: `Outcome::Done`, `Lost` (timeout on a live connection) or
/// `Dropped` (the server closed it).
async fn await_ack(conn: &mut Conn, id: u64, limit: Duration) -> Result<(), Outcome> {
    let r = timeout(limit, async {
        loop {
            let msg = conn.recv().await?;
            if ack_id(msg) == Some(id) {
                return Ok::<(), WsError>(());
            }
        }
    })
    .await;
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Outcome::Dropped),
        Err(_) => Err(Outcome::Lost),
    }
}

/// Holds a connection for `d`, reading (ticks ignored, pings answered).
async fn hold(conn: &mut Conn, d: Duration) -> Result<(), Outcome> {
    let r = timeout(d, async {
        loop {
            if let Err(e) = conn.recv().await {
                return e;
            }
        }
    })
    .await;
    match r {
        Err(_) => Ok(()),
        Ok(_dropped) => Err(Outcome::Dropped),
    }
}

async fn churn_slot(
    slot: usize,
    addr: SocketAddr,
    o: &Options,
    stats: &Stats,
    stop: watch::Receiver<bool>,
    ghosts: &Mutex<Vec<tokio::task::JoinHandle<()>>>,
) {
    let mut rng = Rng(0xDEAD_BEEF_0000_0001 ^ (slot as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Spread the first sessions over the first hold period.
    sleep(Duration::from_millis(rng.below(o.hold.as_millis() as u64))).await;
    let mut k = 0u64;
    while !*stop.borrow() {
        k += 1;
        let outcome = session(slot, k, addr, o, stats, &mut rng, ghosts).await;
        match outcome {
            Outcome::Done => inc(&stats.sessions),
            Outcome::ConnectFailed => {
                inc(&stats.session_connect_failures);
                sleep(Duration::from_millis(500)).await;
            }
            Outcome::Dropped => inc(&stats.sessions_dropped),
            Outcome::Lost => {}
        }
    }
}

async fn session(
    slot: usize,
    k: u64,
    addr: SocketAddr,
    o: &Options,
    stats: &Stats,
    rng: &mut Rng,
    ghosts: &Mutex<Vec<tokio::task::JoinHandle<()>>>,
) -> Outcome {
    let mut conn = match Conn::open(addr, rng.next() as u32, Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => {
            stats.note(format!("churn slot {slot}: connect failed: {e}"));
            return Outcome::ConnectFailed;
        }
    };
    stats.churn_open.fetch_add(1, Ordering::Relaxed);
    let room = format!("r{slot}-{k}");
    let hold_for = Duration::from_millis(1000 + rng.below(o.hold.as_millis() as u64 - 999));
    let steps = async {
        let what = |s: &str, id: u64| format!("42{id}[\"{s}\",\"{room}\"]");
        for (step, id) in [("join", 1u64), ("echo", 2), ("leave", 3)] {
            if step == "leave" {
                hold(&mut conn, hold_for).await.map_err(|e| (e, "hold"))?;
            }
            let frame = if step == "echo" {
                format!("42{id}[\"echo\",{{\"slot\":{slot},\"k\":{k}}}]")
            } else {
                what(step, id)
            };
            inc(&stats.acks_sent);
            conn.send(frame.as_bytes())
                .await
                .map_err(|_| (Outcome::Dropped, step))?;
            await_ack(&mut conn, id, o.ack_timeout)
                .await
                .map_err(|e| (e, step))?;
            inc(&stats.acks_ok);
        }
        Ok::<(), (Outcome, &str)>(())
    }
    .await;
    stats.churn_open.fetch_sub(1, Ordering::Relaxed);
    if let Err((outcome, step)) = steps {
        match outcome {
            Outcome::Lost => {
                inc(&stats.acks_lost);
                stats.note(format!(
                    "churn slot {slot} session {k}: no ack for {step} within {:?}",
                    o.ack_timeout
                ));
            }
            Outcome::Dropped => stats.note(format!(
                "churn slot {slot} session {k}: dropped by the server during {step}"
            )),
            _ => {}
        }
        return outcome;
    }
    // The exits in turn: polite, FIN, polite, reset, polite, FIN, polite, ghost.
    match k % 8 {
        1 | 3 | 5 | 7 => {
            inc(&stats.exits_polite);
            conn.leave(Duration::from_secs(2)).await;
        }
        2 | 6 => {
            inc(&stats.exits_fin);
            drop(conn);
        }
        4 => {
            inc(&stats.exits_reset);
            let _ = conn.stream.set_zero_linger();
            drop(conn);
        }
        _ => {
            inc(&stats.exits_ghost);
            let ghost = o.ghost;
            // The ghost holds its socket without reading (the counter is a static: the task
            // outlives this borrow of `stats`).
            GHOSTS_LIVE.fetch_add(1, Ordering::Relaxed);
            let handle = tokio::spawn(async move {
                sleep(ghost).await;
                drop(conn);
                GHOSTS_LIVE.fetch_sub(1, Ordering::Relaxed);
            });
            let mut list = ghosts.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|h| !h.is_finished());
            list.push(handle);
        }
    }
    Outcome::Done
}

/// Ghost sessions holding their socket right now.
static GHOSTS_LIVE: AtomicU64 = AtomicU64::new(0);

fn write_csv(path: &Path, samples: &[Value]) -> Result<(), String> {
    let cols = [
        "t_s",
        "rss",
        "fds",
        "cpu_s",
        "stable",
        "churn_open",
        "ghosts",
        "sessions",
        "acks_ok",
        "acks_lost",
        "broadcasts",
    ];
    let mut out = cols.join(",");
    out.push('\n');
    for s in samples {
        let row: Vec<String> = cols.iter().map(|c| s[*c].to_string()).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

fn plot(opts: &Options, results: &[Value]) -> Result<(), String> {
    let series = |field: &str, scale: f64| -> Vec<Series> {
        results
            .iter()
            .filter_map(|r| {
                let samples = r["samples"].as_array()?;
                Some(Series {
                    name: r["contender"].as_str()?.to_owned(),
                    points: samples
                        .iter()
                        .filter_map(|s| {
                            Some((s["t_s"].as_f64()? / 60.0, s[field].as_f64()? / scale))
                        })
                        .collect(),
                })
            })
            .collect()
    };
    let panels = [
        Panel {
            title: "server RSS (MiB)".into(),
            series: series("rss", 1048576.0),
        },
        Panel {
            title: "server open fds".into(),
            series: series("fds", 1.0),
        },
    ];
    if let Some(dir) = opts.png.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    chart::render(
        &opts.png,
        &panels,
        "minutes (dashes: end of warm-up)",
        Some(opts.warmup_minutes),
    )
}

fn mib(v: &Value) -> String {
    v.as_f64()
        .map_or("n/a".into(), |b| format!("{:.1}", b / 1048576.0))
}

fn report(opts: &Options, results: &[Value]) -> String {
    let mut s = String::new();
    let first = results.iter().find(|r| r["error"].is_null());
    let stable = first.map_or(Value::Null, |r| r["stable_clients"].clone());
    let churn = first.map_or(Value::Null, |r| r["churn_slots"].clone());
    s.push_str(&format!(
        "\n{} min per contender, {} connections: {stable} stable clients (an `echo` with an ack \
         every {} s each, random phase), 1 broadcaster (a ~100-byte `broadcast` to all every {} ms) \
         and {churn} churn slots (connect, `40`, `join` a new room, `echo`, stay 1–{} s, `leave`, \
         each with an ack, then in turn: `41` + close frame ×4, TCP close without a close frame ×2, \
         reset ×1, ghost ×1 (stops reading and answering pings; the client drops it after {} s)). \
         Server sampled every {} s (`VmRSS`, entries of `/proc/<pid>/fd`); slopes are least \
         squares over the samples after a {} min warm-up. Commit `{}`, {}; `{}`. Samples: \
         `target/soak/<contender>.csv`.\n\n",
        opts.minutes,
        opts.connections,
        opts.echo.as_secs_f64(),
        opts.broadcast.as_millis(),
        opts.hold.as_secs_f64(),
        opts.ghost.as_secs_f64(),
        opts.sample.as_secs_f64(),
        opts.warmup_minutes,
        opts.commit,
        opts.date,
        opts.command,
    ));
    s.push_str(
        "| contender | RSS slope after warm-up | RSS slope, second half | RSS (mean after warm-up, max) | growth over the window | fd slope | fds (baseline → held min–max → after close) | acks (sent / lost) | sessions (exits: polite / FIN / reset / ghost) | broadcasts (ticks lost) | result |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let name = r["contender"].as_str().unwrap_or("?");
        if let Some(e) = r["error"].as_str() {
            let e = e.lines().next().unwrap_or("").replace('|', "\\|");
            s.push_str(&format!("| {name} | | | | | | | | | | **failed**: {e} |\n"));
            continue;
        }
        let slope = r["rss_slope_bytes_per_min"]
            .as_f64()
            .map_or("n/a".into(), |b| format!("{:+.1} KiB/min", b / 1024.0));
        let slope_second_half = r["rss_slope_second_half_bytes_per_min"]
            .as_f64()
            .map_or("n/a".into(), |b| format!("{:+.1} KiB/min", b / 1024.0));
        let growth = r["rss_growth_pct_over_window"].as_f64();
        let verdict = match growth {
            Some(g) if g.abs() < 5.0 => format!("{g:+.1}% (flat)"),
            Some(g) => format!("{g:+.1}% (**trend**)"),
            None => "n/a".into(),
        };
        let fd_slope = r["fd_slope_per_min"]
            .as_f64()
            .map_or("n/a".into(), |f| format!("{f:+.2}/min"));
        let result = if r["pass"] == json!(true) {
            "pass".to_string()
        } else {
            let f: Vec<&str> = r["failures"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("**fail**: {}", f.join("; "))
        };
        let ex = &r["exits"];
        s.push_str(&format!(
            "| {name} | {slope} | {slope_second_half} | {} / {} MiB | {verdict} | {fd_slope} | {} → {}–{} → {} | {} / {} | {} ({} / {} / {} / {}) | {} ({}) | {result} |\n",
            mib(&r["rss_mean_after_warmup"]),
            mib(&r["rss_max"]),
            r["fds_baseline"],
            r["fds_min_after_warmup"],
            r["fds_max_after_warmup"],
            r["fds_after_close"],
            r["acks_sent"],
            r["acks_lost"],
            r["sessions"],
            ex["polite"],
            ex["fin"],
            ex["reset"],
            ex["ghost"],
            r["broadcasts"],
            r["ticks_lost"],
        ));
    }
    s.push_str(&format!(
        "\n\"Growth over the window\" is the fitted slope × the post-warm-up window, as a share of \
         the mean RSS over it; under 5% reads as flat. The held descriptor count includes the \
         ghosts not yet dropped, so it moves with them.\n\n![RSS and open descriptors over the soak]({})\n\n",
        opts.png
            .file_name()
            .map_or("soak.png".into(), |f| format!("bench/{}", f.to_string_lossy()))
    ));
    s
}
