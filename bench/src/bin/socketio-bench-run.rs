//! The harness of the whole-server benchmarks (see `bench/CONTENDERS.md`).
//!
//! For every run × scenario × contender it starts a fresh contender (`--port 0`, reads its
//! `LISTENING <port>` line, keeps its stdin as a pipe), runs the load generator
//! (`socketio-bench-load`) against it as a separate process, checks the contender survived,
//! and stops it by closing its stdin (SIGKILL after a grace period). Each measurement is
//! repeated (`--runs`, default 3) with the contenders interleaved, and the report gives the
//! median and the spread (min–max) of every figure, our ratio to every other contender and the
//! targets of issue 8.
//!
//! The `scaling` scenario runs fan-out (`--scaling-fanout`, 1,000 clients) and echo again with
//! every contender limited to 1 worker thread and then to 2 (the contract's `--workers N`), so
//! the report shows who uses the second core. The generator keeps its one thread.
//!
//! The `cluster` scenario (not in the default set: it needs Redis, `--redis`) starts two
//! processes of each contender with their Redis adapters (`--redis URL --redis-key KEY`, a
//! fresh key per measurement), waits until Redis counts both on `<KEY>-request#/#`, and runs
//! the fan-out with half of the clients on each node (`--port2`); its report goes between
//! `<!-- cluster:begin -->` and `<!-- cluster:end -->`, with the targets of issue 14.
//!
//! ```text
//! socketio-bench-run [--quick] [--runs R] [--n N | --big] [--fanout 1000,10000]
//!                    [--echo-clients C] [--churn-parallel K] [--scaling-fanout N]
//!                    [--contenders a,b] [--scenarios idle,fanout,echo,churn,scaling,cluster]
//!                    [--cluster-fanout N] [--redis URL] [--write BENCHMARKS.md]
//! ```
//!
//! The contender binaries and the generator are found next to this executable (the same
//! target directory); the Node contender is `node bench/node/server.js`, which needs
//! `tests/node/node_modules` (`npm ci --prefix tests/node`). `bash bench/run-servers.sh` builds
//! everything and runs this with `--write BENCHMARKS.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socketio_bench::contender::{Server, hwm, rss};

const USAGE: &str = "\
usage: socketio-bench-run [options]
  --quick                 every scenario at small N, 1 run (smoke test)
  --runs R                repetitions of every measurement [3]
  --n N                   idle connections [10000]; --big sets 50000
  --fanout N1,N2          fan-out room sizes [1000,10000]
  --echo-clients C        echo clients [100]
  --churn-parallel K      churn sessions in parallel [16]
  --scaling-fanout N      fan-out room size of the scaling scenario [1000]
  --duration-ms MS        measurement window of fanout/echo/churn/scaling [3000]
  --contenders a,b        among ours-tokio,ours-smol,socketioxide,node,floor [all]
  --scenarios a,b         among idle,fanout,echo,churn,scaling [all], and cluster (opt-in)
  --cluster-fanout N      clients of the cluster scenario, half on each node [1000]
  --redis URL             the Redis of the cluster scenario [redis://127.0.0.1:6379]
  --write FILE            rewrite the servers section of FILE (BENCHMARKS.md)
  --json FILE             write every raw generator result to FILE
  --root DIR              the workspace root [the one this was built from]
  --commit C, --date D, --rustc R, --command C   shown in the report header";

/// The contenders, in report order; the first two are ours.
const CONTENDERS: [&str; 5] = ["ours-tokio", "ours-smol", "socketioxide", "node", "floor"];
const OURS: [&str; 2] = ["ours-tokio", "ours-smol"];
const SCENARIOS: [&str; 5] = ["idle", "fanout", "echo", "churn", "scaling"];
/// Scenarios run only when named in `--scenarios` (they need more than the contenders).
const OPT_IN_SCENARIOS: [&str; 1] = ["cluster"];
/// The worker threads every contender is limited to in the `scaling` scenario, in order.
const SCALING_WORKERS: [usize; 2] = [1, 2];
const BEGIN: &str = "<!-- servers:begin -->";
const END: &str = "<!-- servers:end -->";
const CLUSTER_BEGIN: &str = "<!-- cluster:begin -->";
const CLUSTER_END: &str = "<!-- cluster:end -->";

type Result<T> = std::result::Result<T, String>;

/// The command line.
#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    runs: usize,
    idle_n: usize,
    fanout: Vec<usize>,
    echo_clients: usize,
    churn_parallel: usize,
    /// Fan-out room size of the `scaling` scenario.
    scaling_fanout: usize,
    /// Clients of the `cluster` scenario, over both nodes.
    cluster_fanout: usize,
    /// The Redis of the `cluster` scenario.
    redis: String,
    duration_ms: u64,
    contenders: Vec<String>,
    scenarios: Vec<String>,
    write: Option<PathBuf>,
    json: Option<PathBuf>,
    root: PathBuf,
    commit: Option<String>,
    date: Option<String>,
    rustc: Option<String>,
    command: String,
}

fn parse_args() -> Result<Options> {
    let argv: Vec<String> = std::env::args().collect();
    let mut o = Options {
        quick: false,
        runs: 3,
        idle_n: 10_000,
        fanout: vec![1_000, 10_000],
        echo_clients: 100,
        churn_parallel: 16,
        scaling_fanout: 1_000,
        cluster_fanout: 1_000,
        redis: "redis://127.0.0.1:6379".into(),
        duration_ms: 3000,
        contenders: CONTENDERS.iter().map(|s| s.to_string()).collect(),
        scenarios: SCENARIOS.iter().map(|s| s.to_string()).collect(),
        write: None,
        json: None,
        root: Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        commit: None,
        date: None,
        rustc: None,
        command: argv.join(" "),
    };
    let (mut runs, mut idle_n, mut fanout, mut scaling_fanout) = (None, None, None, None);
    let mut cluster_fanout = None;
    let mut args = argv.into_iter().skip(1);
    let list = |v: &str| -> Vec<String> { v.split(',').map(|s| s.trim().to_string()).collect() };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--quick" => o.quick = true,
            "--big" => idle_n = Some(50_000),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => {
                let value = args
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
                let num = |v: &str| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("bad value {v:?} for {flag}"))
                };
                match flag.as_str() {
                    "--runs" => runs = Some(num(&value)?),
                    "--n" => idle_n = Some(num(&value)?),
                    "--fanout" => {
                        fanout = Some(list(&value).iter().map(|v| num(v)).collect::<Result<_>>()?)
                    }
                    "--echo-clients" => o.echo_clients = num(&value)?,
                    "--churn-parallel" => o.churn_parallel = num(&value)?,
                    "--scaling-fanout" => scaling_fanout = Some(num(&value)?),
                    "--cluster-fanout" => cluster_fanout = Some(num(&value)?),
                    "--redis" => o.redis = value,
                    "--duration-ms" => o.duration_ms = num(&value)? as u64,
                    "--contenders" => o.contenders = list(&value),
                    "--scenarios" => o.scenarios = list(&value),
                    "--write" => o.write = Some(value.into()),
                    "--json" => o.json = Some(value.into()),
                    "--root" => o.root = value.into(),
                    "--commit" => o.commit = Some(value),
                    "--date" => o.date = Some(value),
                    "--rustc" => o.rustc = Some(value),
                    "--command" => o.command = value,
                    _ => return Err(format!("unknown option {flag}\n{USAGE}")),
                }
            }
        }
    }
    for c in &o.contenders {
        if !CONTENDERS.contains(&c.as_str()) {
            return Err(format!(
                "unknown contender {c:?} (known: {})",
                CONTENDERS.join(",")
            ));
        }
    }
    for s in &o.scenarios {
        if !SCENARIOS.contains(&s.as_str()) && !OPT_IN_SCENARIOS.contains(&s.as_str()) {
            return Err(format!(
                "unknown scenario {s:?} (known: {},{})",
                SCENARIOS.join(","),
                OPT_IN_SCENARIOS.join(",")
            ));
        }
    }
    if o.quick {
        o.runs = runs.unwrap_or(1);
        o.idle_n = idle_n.unwrap_or(200);
        o.fanout = fanout.unwrap_or(vec![100]);
        o.scaling_fanout = scaling_fanout.unwrap_or(100);
        o.cluster_fanout = cluster_fanout.unwrap_or(100);
        o.echo_clients = o.echo_clients.min(10);
        o.churn_parallel = o.churn_parallel.min(4);
        o.duration_ms = o.duration_ms.min(500);
    } else {
        o.runs = runs.unwrap_or(3);
        o.idle_n = idle_n.unwrap_or(o.idle_n);
        o.fanout = fanout.unwrap_or(o.fanout);
        o.scaling_fanout = scaling_fanout.unwrap_or(o.scaling_fanout);
        o.cluster_fanout = cluster_fanout.unwrap_or(o.cluster_fanout);
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("socketio-bench-run: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("socketio-bench-run: error: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Programs

/// Where the programs are.
struct Programs {
    bin_dir: PathBuf,
    node: String,
    node_version: String,
}

impl Programs {
    fn find(opts: &Options) -> Result<Programs> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let bin_dir = exe
            .parent()
            .ok_or("the executable has no directory")?
            .to_path_buf();
        let mut bins = vec!["socketio-bench-load"];
        for c in &opts.contenders {
            match c.as_str() {
                "ours-tokio" | "ours-smol" => bins.push("socketio-bench-ours"),
                "socketioxide" => bins.push("socketio-bench-socketioxide"),
                "floor" => bins.push("socketio-bench-floor"),
                _ => {}
            }
        }
        for b in bins {
            if !bin_dir.join(b).is_file() {
                return Err(format!(
                    "{} is missing: build with `cargo build --release -p socketio-bench --bins`",
                    bin_dir.join(b).display()
                ));
            }
        }
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        let mut node_version = String::new();
        if opts.contenders.iter().any(|c| c == "node") {
            node_version = version_of(&node)?;
            let script = opts.root.join("bench/node/server.js");
            if !script.is_file() {
                return Err(format!("{} is missing", script.display()));
            }
            let module = opts
                .root
                .join("tests/node/node_modules/socket.io/package.json");
            if !module.is_file() {
                return Err(format!(
                    "{} is missing: run `npm ci --prefix tests/node`",
                    module.display()
                ));
            }
        }
        Ok(Programs {
            bin_dir,
            node,
            node_version,
        })
    }

    /// The command line of contender `name`, limited to `workers` worker threads if given.
    fn contender_command(&self, root: &Path, name: &str, workers: Option<usize>) -> Command {
        let mut cmd = match name {
            "ours-tokio" | "ours-smol" => {
                let mut c = Command::new(self.bin_dir.join("socketio-bench-ours"));
                c.args(["--runtime", &name["ours-".len()..]]);
                c
            }
            "socketioxide" => Command::new(self.bin_dir.join("socketio-bench-socketioxide")),
            "floor" => Command::new(self.bin_dir.join("socketio-bench-floor")),
            _ => {
                let mut c = Command::new(&self.node);
                c.arg(root.join("bench/node/server.js"));
                c
            }
        };
        cmd.args(["--port", "0"]);
        if let Some(workers) = workers {
            cmd.args(["--workers", &workers.to_string()]);
        }
        cmd
    }
}

/// `<program> --version`, waiting at most 10 s.
fn version_of(program: &str) -> Result<String> {
    let mut child = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{program} --version`: {e} (is Node.js installed?)"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{program} --version` did not answer within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    Ok(out.trim().to_string())
}

/// The open-files limit this process (and so its children) may use: raised with `prlimit`
/// when the soft limit is below `want`. Returns the limit in force.
fn ensure_nofile(want: u64) -> Result<u64> {
    let current = nofile_limit()?;
    if current >= want {
        return Ok(current);
    }
    let pid = std::process::id().to_string();
    let limit = format!("--nofile={want}:{want}");
    let raised = Command::new("prlimit")
        .args(["--pid", &pid, &limit])
        .stderr(Stdio::piped())
        .output();
    let now = nofile_limit()?;
    if now >= want {
        return Ok(now);
    }
    let why = match raised {
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => format!("prlimit: {e}"),
    };
    Err(format!(
        "need {want} open files per process but RLIMIT_NOFILE is {now} and cannot be raised \
         ({why}); run as root, raise the hard limit (`ulimit -Hn`), or lower --n"
    ))
}

fn nofile_limit() -> Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").map_err(|e| e.to_string())?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "/proc/self/limits: no Max open files line".into())
}

/// A running contender.
/// Starts contender `name` (with `--workers`, if set) from the workspace root.
fn start_server(
    programs: &Programs,
    opts: &Options,
    name: &str,
    workers: Option<usize>,
    log: &Path,
) -> Result<Server> {
    let mut command = programs.contender_command(&opts.root, name, workers);
    command.current_dir(&opts.root);
    Server::spawn(name, command, log)
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// One scenario instance: a generator command line and the figures it yields.
#[derive(Clone, Debug)]
struct Scenario {
    /// Stable key, e.g. `fanout-1000` or `scaling-echo-w2`.
    key: String,
    /// Scenarios measured back to back per contender (the worker counts of one scaling
    /// figure); the key itself for the others.
    group: String,
    mode: &'static str,
    args: Vec<String>,
    /// The longest the generator may take.
    limit: Duration,
    /// The contenders' worker threads (`--workers`), in the `scaling` scenario only.
    workers: Option<usize>,
}

impl Scenario {
    /// Whether `contender` takes part: Node runs JavaScript on one thread, so it is measured
    /// with 1 worker only.
    fn applies_to(&self, contender: &str) -> bool {
        if self.is_cluster() {
            // The floor has no adapter.
            return contender != "floor";
        }
        contender != "node" || self.workers.is_none_or(|w| w == 1)
    }

    /// Whether this is the cross-node fan-out (two nodes on Redis).
    fn is_cluster(&self) -> bool {
        self.key.starts_with("cluster-")
    }
}

fn scenarios(opts: &Options) -> Vec<Scenario> {
    let d = opts.duration_ms;
    let (warmup, settle, latency) = if opts.quick {
        (200, 300, 500)
    } else {
        (500, 2000, 3000)
    };
    let timeout: u64 = if opts.quick { 5_000 } else { 10_000 };
    let mut out = Vec::new();
    let ms = |v: u64| v.to_string();
    // Fan-out of `n` clients: saturation, then `latency` ms at a fixed rate.
    let fanout = |n: usize, latency: u64| {
        // The same offered load for every contender: 20,000 deliveries/s, well below the
        // saturation of the slowest contender measured (Node).
        let rate = (20_000.0 / n as f64).clamp(1.0, 50.0);
        let args = vec![
            "--n".into(),
            n.to_string(),
            "--warmup-ms".into(),
            ms(warmup),
            "--duration-ms".into(),
            ms(d),
            "--latency-ms".into(),
            ms(latency),
            "--rate".into(),
            format!("{rate}"),
            "--settle-ms".into(),
            ms(settle.min(500)),
        ];
        let limit = Duration::from_millis(90_000 + warmup + d + latency + n as u64 * 4);
        (args, limit)
    };
    let echo = || {
        let args = vec![
            "--n".into(),
            opts.echo_clients.to_string(),
            "--settle-ms".into(),
            ms(settle.min(500)),
            "--warmup-ms".into(),
            ms(warmup),
            "--duration-ms".into(),
            ms(d),
        ];
        (args, Duration::from_millis(60_000 + warmup + d))
    };
    let single = |key: String, mode, (args, limit)| Scenario {
        group: key.clone(),
        key,
        mode,
        args,
        limit,
        workers: None,
    };
    for s in &opts.scenarios {
        match s.as_str() {
            "idle" => out.push(Scenario {
                key: "idle".into(),
                group: "idle".into(),
                mode: "idle",
                args: vec![
                    "--n".into(),
                    opts.idle_n.to_string(),
                    "--settle-ms".into(),
                    ms(settle),
                ],
                limit: Duration::from_millis(60_000 + settle + opts.idle_n as u64 * 4),
                workers: None,
            }),
            "fanout" => {
                for &n in &opts.fanout {
                    let rate = (20_000.0 / n as f64).clamp(1.0, 50.0);
                    let latency = latency.max((3000.0 / rate) as u64);
                    out.push(single(format!("fanout-{n}"), "fanout", fanout(n, latency)));
                }
            }
            "echo" => out.push(single("echo".into(), "echo", echo())),
            "cluster" => {
                let n = opts.cluster_fanout;
                let rate = (20_000.0 / n as f64).clamp(1.0, 50.0);
                let latency = latency.max((3000.0 / rate) as u64);
                out.push(single(format!("cluster-{n}"), "fanout", fanout(n, latency)));
            }
            "scaling" => {
                // Saturation only: the latency phase shrinks to one timed broadcast.
                let n = opts.scaling_fanout;
                let figures = [
                    (format!("scaling-fanout-{n}"), "fanout", fanout(n, 0)),
                    ("scaling-echo".to_string(), "echo", echo()),
                ];
                for (group, mode, (args, limit)) in figures {
                    for workers in SCALING_WORKERS {
                        out.push(Scenario {
                            key: format!("{group}-w{workers}"),
                            group: group.clone(),
                            mode,
                            args: args.clone(),
                            limit,
                            workers: Some(workers),
                        });
                    }
                }
            }
            _ => out.push(Scenario {
                key: "churn".into(),
                group: "churn".into(),
                mode: "churn",
                args: vec![
                    "--parallel".into(),
                    opts.churn_parallel.to_string(),
                    "--duration-ms".into(),
                    ms(d),
                    "--settle-ms".into(),
                    ms(settle.min(1000)),
                ],
                limit: Duration::from_millis(60_000 + d),
                workers: None,
            }),
        }
    }
    for s in &mut out {
        s.args.extend(["--timeout-ms".into(), timeout.to_string()]);
    }
    out
}

/// Runs the generator against `server`; its JSON, with the server's memory added.
fn measure(programs: &Programs, scenario: &Scenario, server: &mut Server) -> Result<Value> {
    let mut child = Command::new(programs.bin_dir.join("socketio-bench-load"))
        .arg(scenario.mode)
        .args(["--port", &server.port.to_string()])
        .args(["--server-pid", &server.pid().to_string()])
        .args(&scenario.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the generator: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + scenario.limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let err = err_reader.join().unwrap_or_default();
                return Err(server.fail(&format!(
                    "the generator ({}) did not finish within {:?}: {err}",
                    scenario.key, scenario.limit
                )));
            }
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(server.fail(&format!(
            "the generator ({}) failed ({status}): {}",
            scenario.key,
            err.trim()
        )));
    }
    if !server.alive() {
        return Err(server.fail("exited during the measurement"));
    }
    let mut value: Value = serde_json::from_str(out.trim()).map_err(|e| {
        format!(
            "generator output is not JSON ({e}): {:?}",
            &out[..out.len().min(300)]
        )
    })?;
    // Server CPU per operation: steadier than the rates on a shared machine.
    let rate = ["deliveries_per_s", "acks_per_s", "sessions_per_s"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_f64));
    let cores = value.get("server_cores").and_then(Value::as_f64);
    if let (Some(fields), Some(rate), Some(cores)) = (value.as_object_mut(), rate, cores)
        && rate > 0.0
    {
        fields.insert("server_cpu_us_per_op".into(), json!(cores / rate * 1e6));
    }
    if let (Some(fields), Some((rss, hwm))) = (
        value.as_object_mut(),
        rss(server.pid()).zip(hwm(server.pid())),
    ) {
        fields.insert("server_rss_end".into(), json!(rss));
        fields.insert("server_rss_peak".into(), json!(hwm));
    }
    if let (Some(fields), Some(workers)) = (value.as_object_mut(), scenario.workers) {
        fields.insert("server_workers".into(), json!(workers));
    }
    Ok(value)
}

/// A measurement that did not produce figures.
struct Failure {
    scenario: String,
    contender: String,
    run: usize,
    message: String,
}

/// Every result: scenario key → contender → one JSON object per run.
type Results = BTreeMap<String, BTreeMap<String, Vec<Value>>>;

/// The measurements of run number `run` (from 0), in order. Contenders are interleaved within
/// each scenario; the scenarios of one group (the worker counts of one scaling figure) are
/// measured back to back per contender, which goes first alternating from run to run, so
/// that drift on a shared machine hits both sides of a ratio alike.
fn schedule<'a>(
    scenarios: &'a [Scenario],
    contenders: &'a [String],
    run: usize,
) -> Vec<(&'a Scenario, &'a String)> {
    let mut jobs = Vec::new();
    for group in scenarios.chunk_by(|a, b| a.group == b.group) {
        for name in contenders {
            let mut members: Vec<&Scenario> = group.iter().collect();
            if run % 2 == 1 {
                members.reverse();
            }
            for s in members {
                if s.applies_to(name) {
                    jobs.push((s, name));
                }
            }
        }
    }
    jobs
}

fn run(opts: &Options) -> Result<()> {
    let programs = Programs::find(opts)?;
    let biggest = opts
        .fanout
        .iter()
        .copied()
        .chain([opts.idle_n, opts.scaling_fanout, opts.cluster_fanout])
        .max()
        .unwrap_or(0) as u64;
    let nofile = ensure_nofile(biggest + 4096)?;
    let out_dir = opts.root.join("target/server-bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let scenarios = scenarios(opts);
    if scenarios.iter().any(Scenario::is_cluster) {
        redis_ping(&opts.redis)?;
    }
    let started = Instant::now();
    let mut results: Results = BTreeMap::new();
    let mut failures = Vec::new();
    eprintln!(
        "== {} runs × {} scenarios × {} contenders (open-files limit {nofile}); logs in {}",
        opts.runs,
        scenarios.len(),
        opts.contenders.len(),
        out_dir.display()
    );
    for run in 0..opts.runs {
        for (scenario, name) in schedule(&scenarios, &opts.contenders, run) {
            let log = out_dir.join(format!("{name}.log"));
            let t = Instant::now();
            let measured = if scenario.is_cluster() {
                measure_cluster(&programs, opts, scenario, name, &log)
            } else {
                start_server(&programs, opts, name, scenario.workers, &log).and_then(
                    |mut server| {
                        let value = measure(&programs, scenario, &mut server);
                        value.map(|v| (v, server.stop()))
                    },
                )
            };
            let (value, clean) = match measured {
                Ok(m) => m,
                Err(message) => {
                    eprintln!(
                        "run {}/{} {:<21} {:<12} FAILED: {message}",
                        run + 1,
                        opts.runs,
                        scenario.key,
                        name
                    );
                    failures.push(Failure {
                        scenario: scenario.key.clone(),
                        contender: name.clone(),
                        run: run + 1,
                        message,
                    });
                    continue;
                }
            };
            eprintln!(
                "run {}/{} {:<21} {:<12} {:>6.1}s {}{}",
                run + 1,
                opts.runs,
                scenario.key,
                name,
                t.elapsed().as_secs_f64(),
                headline(&value),
                if clean {
                    ""
                } else {
                    " (killed: did not exit on stdin EOF)"
                }
            );
            results
                .entry(scenario.key.clone())
                .or_default()
                .entry(name.clone())
                .or_default()
                .push(value);
        }
    }
    let elapsed = started.elapsed();
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let raw = out_dir.join("results.json");
    let _ = std::fs::write(
        &raw,
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    );
    // The cluster scenario has its own section: a run of it alone leaves the others as they are.
    let servers = scenarios.iter().any(|s| !s.is_cluster());
    let report = if servers {
        report(opts, &programs, &scenarios, &results, &failures, elapsed)
    } else {
        String::new()
    };
    let cluster = cluster_report(opts, &programs, &scenarios, &results, &failures, elapsed);
    match &opts.write {
        Some(path) => {
            if servers {
                socketio_bench::contender::write_section(
                    path,
                    BEGIN,
                    END,
                    "# Whole-server benchmarks",
                    &report,
                )?;
            }
            if let Some(cluster) = &cluster {
                socketio_bench::contender::write_section(
                    path,
                    CLUSTER_BEGIN,
                    CLUSTER_END,
                    "## Cross-node fan-out",
                    cluster,
                )?;
            }
            eprintln!(
                "== {} updated (raw results in {})",
                path.display(),
                raw.display()
            );
        }
        None => print!("{report}{}", cluster.unwrap_or_default()),
    }
    if !failures.is_empty() {
        return Err(format!(
            "{} measurement(s) failed (listed above and in the report)",
            failures.len()
        ));
    }
    Ok(())
}

fn headline(v: &Value) -> String {
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    match v.get("mode").and_then(Value::as_str) {
        Some("idle") => format!("{:.0} B/conn", f("bytes_per_connection")),
        Some("fanout") => format!(
            "{:.0} deliveries/s, p50 {:.0} µs, p99 {:.0} µs",
            f("deliveries_per_s"),
            f("p50_us"),
            f("p99_us")
        ),
        Some("echo") => format!("{:.0} acks/s, p99 {:.0} µs", f("acks_per_s"), f("p99_us")),
        Some("churn") => format!(
            "{:.0} sessions/s, RSS after {:.1} MB",
            f("sessions_per_s"),
            f("rss_after") / 1e6
        ),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The report

/// Median, min and max of one figure over the runs.
#[derive(Clone, Copy, Debug)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

fn stat(runs: &[Value], key: &str) -> Option<Stat> {
    let mut v: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.get(key).and_then(Value::as_f64))
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if !v.len().is_multiple_of(2) {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[v.len() - 1],
    })
}

/// CPU use (cores) of `who` (`generator` or `server`) per run: over the measurement window
/// when the generator reported it, else over its whole run.
fn cpu_stat(runs: &[Value], who: &str) -> Option<Stat> {
    if let Some(s) = stat(runs, &format!("{who}_cores")) {
        return Some(s);
    }
    let per: Vec<Value> = runs
        .iter()
        .filter_map(|r| {
            let cpu = r.get(format!("{who}_cpu_s"))?.as_f64()?;
            let wall = r.get("wall_s")?.as_f64()?;
            Some(json!({ "x": cpu / wall }))
        })
        .collect();
    stat(&per, "x")
}

/// How a figure compares: which direction is better.
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

/// Ours over theirs, oriented so that above 1 means ours is better.
fn advantage(ours: f64, theirs: f64, better: Better) -> f64 {
    match better {
        Better::Higher => ours / theirs,
        Better::Lower => theirs / ours,
    }
}

/// One column of figures in a table.
struct Column {
    key: &'static str,
    title: &'static str,
    scale: f64,
    decimals: usize,
}

fn fmt_num(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let s = format!("{x:.decimals$}");
    // Thousands separators for readability of large integers.
    if decimals == 0 && x.abs() >= 1_000.0 {
        let digits: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0
                && (digits.len() - i).is_multiple_of(3)
                && c.is_ascii_digit()
                && digits[i - 1] != '-'
            {
                out.push(',');
            }
            out.push(*c);
        }
        return out;
    }
    s
}

fn fmt_stat(s: Option<Stat>, col: &Column) -> String {
    match s {
        None => "–".into(),
        Some(s) => {
            let m = fmt_num(s.median / col.scale, col.decimals);
            let lo = fmt_num(s.min / col.scale, col.decimals);
            let hi = fmt_num(s.max / col.scale, col.decimals);
            if lo == hi {
                m
            } else {
                format!("{m} ({lo}–{hi})")
            }
        }
    }
}

/// One table: the figures of every contender, the primary figure's ratios from each of ours.
fn table(
    out: &mut String,
    runs: &BTreeMap<String, Vec<Value>>,
    contenders: &[String],
    columns: &[Column],
    better: Better,
    cpu: bool,
) {
    let ours: Vec<&String> = contenders
        .iter()
        .filter(|c| OURS.contains(&c.as_str()))
        .collect();
    let primary = &columns[0];
    let _ = write!(out, "| contender |");
    for c in columns {
        let _ = write!(out, " {} |", c.title);
    }
    for o in &ours {
        let _ = write!(out, " {o} vs this |");
    }
    if cpu {
        let _ = write!(out, " generator CPU | server CPU |");
    }
    let _ = write!(out, "\n| --- |");
    let cpu_columns = if cpu { 2 } else { 0 };
    for _ in 0..columns.len() + ours.len() + cpu_columns {
        let _ = write!(out, " ---: |");
    }
    let _ = writeln!(out);
    for name in contenders {
        let Some(r) = runs.get(name) else {
            let _ = write!(out, "| {name} | failed (see below) |");
            let cells = columns.len() - 1 + ours.len() + if cpu { 2 } else { 0 };
            let _ = writeln!(out, "{}", " – |".repeat(cells));
            continue;
        };
        let _ = write!(out, "| {name} |");
        for c in columns {
            let _ = write!(out, " {} |", fmt_stat(stat(r, c.key), c));
        }
        for o in &ours {
            let ratio = if *o == name {
                "–".to_string()
            } else {
                match (
                    runs.get(*o).and_then(|x| stat(x, primary.key)),
                    stat(r, primary.key),
                ) {
                    (Some(a), Some(b)) => {
                        format!("{:.2}×", advantage(a.median, b.median, better))
                    }
                    _ => "–".into(),
                }
            };
            let _ = write!(out, " {ratio} |");
        }
        let cores = |who| {
            cpu_stat(r, who)
                .map(|s| format!("{:.2}", s.median))
                .unwrap_or_else(|| "–".into())
        };
        if cpu {
            let _ = write!(out, " {} | {} |", cores("generator"), cores("server"));
        }
        let _ = writeln!(out);
    }
}

/// A target of issue 8: our advantage over `peer` on `key` of `scenario` must reach `goal`.
struct Target {
    text: String,
    scenario: String,
    key: &'static str,
    better: Better,
    peer: &'static str,
    goal: f64,
}

fn targets(scenarios: &[Scenario]) -> Vec<Target> {
    let mut t = Vec::new();
    for peer in ["socketioxide", "node"] {
        t.push(Target {
            text: format!("memory per idle connection ≤ 1/4 of {peer}'s"),
            scenario: "idle".into(),
            key: "bytes_per_connection",
            better: Better::Lower,
            peer,
            goal: 4.0,
        });
    }
    for s in scenarios
        .iter()
        .filter(|s| s.mode == "fanout" && s.workers.is_none() && !s.is_cluster())
    {
        let n = &s.key["fanout-".len()..];
        for (peer, goal) in [("socketioxide", 2.0), ("node", 4.0), ("floor", 0.8)] {
            t.push(Target {
                text: format!("fan-out deliveries/s at {n} clients ≥ {goal}× {peer}"),
                scenario: s.key.clone(),
                key: "deliveries_per_s",
                better: Better::Higher,
                peer,
                goal,
            });
        }
    }
    t.push(Target {
        text: "echo acks/s ≥ 1.5× socketioxide".into(),
        scenario: "echo".into(),
        key: "acks_per_s",
        better: Better::Higher,
        peer: "socketioxide",
        goal: 1.5,
    });
    t
}

fn report(
    opts: &Options,
    programs: &Programs,
    scenarios: &[Scenario],
    results: &Results,
    failures: &[Failure],
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "Whole servers side by side (see `bench/CONTENDERS.md`): this project on tokio \
         (`ours-tokio`) and on smol (`ours-smol`), socketioxide, the official Node server and \
         the floor (raw tokio-tungstenite doing the same writes), each a fresh process on \
         loopback per measurement, driven by the lean load generator `socketio-bench-load` \
         (raw WebSocket frames, one thread) in its own process. Reproduce with \
         `bash bench/run-servers.sh` (builds, installs `tests/node/node_modules`, runs the \
         harness `socketio-bench-run` and rewrites this section; extra arguments go to the \
         harness: `--runs`, `--big`, `--contenders`, `--scenarios`, `--quick`…; see \
         `bench/README.md`).\n"
    );
    out.push_str(&measured(opts, programs, cores, elapsed));
    let _ = writeln!(
        out,
        "Figures are medians, with the spread (min–max) over the runs in parentheses. \
         \"ours vs this\" is the advantage of ours on the first figure of the table: ours ÷ \
         theirs for a throughput, theirs ÷ ours for memory and latency, so above 1× ours is \
         better. The machine is shared and noisy: the ratios are what counts. CPU columns are \
         the median cores used during the measurement window (CPU seconds ÷ wall seconds, \
         from `/proc`; for idle connections, while connecting): the generator is one thread, \
         so near 1.00 it would be the bottleneck. The server's CPU time per delivery, ack or \
         session over the same window is steadier than the rates when other work shares the \
         machine.\n"
    );
    let mut scaling_done = false;
    for s in scenarios {
        if s.is_cluster() {
            continue; // in its own section: `cluster_report`
        }
        if s.workers.is_some() {
            // The scaling scenarios make one section, where the first of them was.
            if !scaling_done {
                scaling_section(&mut out, opts, scenarios, results, cores);
                scaling_done = true;
            }
            continue;
        }
        let no_runs = BTreeMap::new();
        let runs = results.get(&s.key).unwrap_or(&no_runs);
        let arg = |flag: &str| arg_of(s, flag);
        let col = |key, title, scale, decimals| Column {
            key,
            title,
            scale,
            decimals,
        };
        match s.mode {
            "idle" => {
                let _ = writeln!(
                    out,
                    "### Memory per idle connection ({} connections)\n\nServer RSS growth \
                     from before connecting to {} ms after the last `40`, divided by N.\n",
                    arg("--n"),
                    arg("--settle-ms")
                );
                table(
                    &mut out,
                    runs,
                    &opts.contenders,
                    &[
                        col("bytes_per_connection", "bytes per connection", 1.0, 0),
                        col("rss_after", "RSS with N open (MB)", 1e6, 1),
                        col("connections_per_s", "connections/s", 1.0, 0),
                        col("generator_rss_peak", "generator peak RSS (MB)", 1e6, 1),
                    ],
                    Better::Lower,
                    true,
                );
            }
            "fanout" => {
                let _ = writeln!(
                    out,
                    "### Broadcast fan-out, {} clients in one room\n\nSaturation: one client \
                     sends `broadcast` (~100-byte argument) with at most 8 in flight, {} ms \
                     measured after a {} ms warm-up; every socket (the sender too) receives \
                     `tick`. Every delivery is checked (a lost or duplicated `tick` fails \
                     the run); \"out of order\" counts the `tick`s that did not follow the \
                     previous `seq` a client received (both phases; not zero when a server \
                     handles one socket's events concurrently, so that consecutive broadcasts \
                     overtake each other).\n",
                    arg("--n"),
                    arg("--duration-ms"),
                    arg("--warmup-ms")
                );
                table(
                    &mut out,
                    runs,
                    &opts.contenders,
                    &[
                        col("deliveries_per_s", "deliveries/s", 1.0, 0),
                        col("broadcasts_per_s", "broadcasts/s", 1.0, 1),
                        col("server_cpu_us_per_op", "server CPU µs per delivery", 1.0, 2),
                        col("out_of_order", "out of order", 1.0, 0),
                    ],
                    Better::Higher,
                    true,
                );
                latency_table(&mut out, s, runs, &opts.contenders, "each delivery");
            }
            "echo" => {
                let _ = writeln!(
                    out,
                    "### Echo with an ack, {} clients in closed loops\n\nEach client keeps \
                     one `echo` outstanding (`421[\"echo\",X]` → `431[X]`); {} ms measured \
                     after a {} ms warm-up.\n",
                    arg("--n"),
                    arg("--duration-ms"),
                    arg("--warmup-ms")
                );
                table(
                    &mut out,
                    runs,
                    &opts.contenders,
                    &[
                        col("acks_per_s", "acks/s", 1.0, 0),
                        col("server_cpu_us_per_op", "server CPU µs per ack", 1.0, 1),
                        col("p99_us", "p99 µs", 1.0, 0),
                        col("p50_us", "p50 µs", 1.0, 0),
                    ],
                    Better::Higher,
                    true,
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "### Connection churn, {} sessions in parallel\n\nEach session: connect, \
                     `40`, one `echo` and its ack, `41`, close; for {} ms. RSS read {} ms \
                     after the last session.\n",
                    arg("--parallel"),
                    arg("--duration-ms"),
                    arg("--settle-ms")
                );
                table(
                    &mut out,
                    runs,
                    &opts.contenders,
                    &[
                        col("sessions_per_s", "sessions/s", 1.0, 0),
                        col("server_cpu_us_per_op", "server CPU µs per session", 1.0, 0),
                        col("rss_after", "RSS after (MB)", 1e6, 1),
                        col("rss_before", "RSS before (MB)", 1e6, 1),
                    ],
                    Better::Higher,
                    true,
                );
            }
        }
        let _ = writeln!(out);
    }

    // Targets.
    let ours: Vec<&String> = opts
        .contenders
        .iter()
        .filter(|c| OURS.contains(&c.as_str()))
        .collect();
    targets_table(&mut out, "issue 8", &targets(scenarios), results, &ours);
    failures_list(
        &mut out,
        failures
            .iter()
            .filter(|f| !f.scenario.starts_with("cluster-")),
    );
    out
}

/// The list of `failures`, each with the first line of its message; nothing when empty.
fn failures_list<'a>(out: &mut String, failures: impl Iterator<Item = &'a Failure>) {
    let mut failures = failures.peekable();
    if failures.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "\n### Failed measurements\n");
    for f in failures {
        let first = f.message.lines().next().unwrap_or("");
        let first = first.split("; its stderr is in").next().unwrap_or(first);
        let _ = writeln!(
            out,
            "- {} / {} (run {}): {}",
            f.scenario,
            f.contender,
            f.run,
            first.chars().take(400).collect::<String>()
        );
    }
}

/// The table of `targets` (of `issue`): our advantage (medians) on each, met or missed, per
/// contender of ours; nothing when no target has figures.
fn targets_table(
    out: &mut String,
    issue: &str,
    targets: &[Target],
    results: &Results,
    ours: &[&String],
) {
    let mut rows = String::new();
    for t in targets {
        let Some(runs) = results.get(&t.scenario) else {
            continue;
        };
        let Some(peer) = runs.get(t.peer).and_then(|r| stat(r, t.key)) else {
            continue;
        };
        let _ = write!(rows, "| {} |", t.text);
        for o in ours {
            let cell = match runs.get(*o).and_then(|r| stat(r, t.key)) {
                Some(s) => {
                    let a = advantage(s.median, peer.median, t.better);
                    let verdict = if a >= t.goal { "met" } else { "**missed**" };
                    // A miss that would round up to the goal shows a third decimal.
                    let shown = format!("{a:.2}");
                    if a < t.goal && shown == format!("{:.2}", t.goal) {
                        format!("{a:.3}× {verdict}")
                    } else {
                        format!("{shown}× {verdict}")
                    }
                }
                None => "–".into(),
            };
            let _ = write!(rows, " {cell} |");
        }
        let _ = writeln!(rows);
    }
    if rows.is_empty() || ours.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### Targets of {issue}\n\nOur advantage (medians; above 1× ours is better) against \
         the goal.\n"
    );
    let _ = write!(out, "| target |");
    for o in ours {
        let _ = write!(out, " {o} |");
    }
    let _ = write!(out, "\n| --- |");
    for _ in ours {
        let _ = write!(out, " --- |");
    }
    let _ = writeln!(out);
    out.push_str(&rows);
}

/// The paragraph saying when, where and how the figures were measured.
fn measured(opts: &Options, programs: &Programs, cores: usize, elapsed: Duration) -> String {
    let date = opts.date.clone().unwrap_or_else(|| {
        Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    });
    format!(
        "Measured {date}{} on a {cores}-core machine (`nproc`; the generator and the server \
         share it){}{}, {} run(s) per figure, interleaved; {:.0} s in all. Command: `{}`.\n\n",
        opts.commit
            .as_ref()
            .map(|c| format!(" at commit `{c}`"))
            .unwrap_or_default(),
        opts.rustc
            .as_ref()
            .map(|r| format!(", `{r}`"))
            .unwrap_or_default(),
        if programs.node_version.is_empty() {
            String::new()
        } else {
            format!(", Node {}", programs.node_version)
        },
        opts.runs,
        elapsed.as_secs_f64(),
        opts.command
    )
}

/// The latency phase of fan-out `scenario`: p99 and p50 of `deliveries` per contender, the
/// ratios on p99.
fn latency_table(
    out: &mut String,
    scenario: &Scenario,
    runs: &BTreeMap<String, Vec<Value>>,
    contenders: &[String],
    deliveries: &str,
) {
    let _ = writeln!(
        out,
        "\nLatency at a fixed {} broadcasts/s for {} ms (the same offered load for every \
         contender): arrival − send time of {deliveries}, in µs; the ratio is on p99.\n",
        arg_of(scenario, "--rate"),
        arg_of(scenario, "--latency-ms")
    );
    let column = |key, title| Column {
        key,
        title,
        scale: 1.0,
        decimals: 0,
    };
    table(
        out,
        runs,
        contenders,
        &[column("p99_us", "p99 µs"), column("p50_us", "p50 µs")],
        Better::Lower,
        false,
    );
}

/// The value of `flag` on the generator command line of `scenario`.
fn arg_of(scenario: &Scenario, flag: &str) -> String {
    scenario
        .args
        .iter()
        .position(|a| a == flag)
        .and_then(|i| scenario.args.get(i + 1))
        .cloned()
        .unwrap_or_default()
}

/// The scaling section: every contender's fan-out and echo with its runtime limited to 1
/// worker thread and to 2, and the ratio 2w / 1w.
fn scaling_section(
    out: &mut String,
    opts: &Options,
    scenarios: &[Scenario],
    results: &Results,
    cores: usize,
) {
    let [one, two] = SCALING_WORKERS;
    let scaling: Vec<&Scenario> = scenarios.iter().filter(|s| s.workers.is_some()).collect();
    let Some(first) = scaling.first() else {
        return;
    };
    let fanout_n = scaling
        .iter()
        .find(|s| s.mode == "fanout")
        .map(|s| arg_of(s, "--n"));
    let echo_n = scaling
        .iter()
        .find(|s| s.mode == "echo")
        .map(|s| arg_of(s, "--n"));
    let mut measured = Vec::new();
    if let Some(n) = fanout_n {
        measured.push(format!(
            "fan-out to {n} clients in one room (saturation only: at most 8 broadcasts in \
             flight)"
        ));
    }
    if let Some(n) = echo_n {
        measured.push(format!("echo with an ack from {n} clients in closed loops"));
    }
    let _ = writeln!(
        out,
        "### Scaling: {one} worker thread vs {two}\n\n{}, each measured again with the \
         contender's runtime limited to {one} worker thread and then to {two} (`--workers N` \
         of `bench/CONTENDERS.md`: tokio's `worker_threads`; for `ours-smol`, the threads \
         running its executor); {} ms measured after a {} ms warm-up. The ratio {two}w / \
         {one}w (of the medians) shows who uses the second core: 1.00× means none of it. \
         Node runs JavaScript on one thread: it is measured once, with {one}, as a reference. \
         Threads other than the workers are not limited (tokio's blocking pool, async-io's \
         reactor thread under smol, Node's libuv pool and V8's helpers), so a server can use \
         a little more than 1.00 core with 1 worker. The generator keeps its one thread and \
         shares the machine's {cores} cores with the server: with {two} workers the server \
         has at most about {cores} − generator CPU cores, so even perfect scaling reads under \
         {two}×. CPU columns are the median cores used during the measurement window.\n",
        capitalize(&measured.join("; ")),
        arg_of(first, "--duration-ms"),
        arg_of(first, "--warmup-ms"),
    );
    for group in scaling.chunk_by(|a, b| a.group == b.group) {
        let (key, figure, title) = match group[0].mode {
            "fanout" => (
                "deliveries_per_s",
                "deliveries/s",
                format!("Fan-out, {} clients", arg_of(group[0], "--n")),
            ),
            _ => (
                "acks_per_s",
                "acks/s",
                format!("Echo with an ack, {} clients", arg_of(group[0], "--n")),
            ),
        };
        let column = Column {
            key,
            title: figure,
            scale: 1.0,
            decimals: 0,
        };
        let _ = writeln!(
            out,
            "{title}:\n\n| contender | {figure}, {one} worker | {figure}, {two} workers | \
             {two}w / {one}w | server CPU, {one}w | server CPU, {two}w | generator CPU, {one}w \
             | generator CPU, {two}w |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        /// One contender at one worker count.
        enum Side<'a> {
            /// Not measured so (Node with 2 workers).
            NotApplicable,
            /// Measured, with no successful run.
            Failed,
            Runs(&'a [Value]),
        }
        for name in &opts.contenders {
            let side = |workers: usize| match group.iter().find(|s| s.workers == Some(workers)) {
                Some(s) if s.applies_to(name) => {
                    match results.get(&s.key).and_then(|r| r.get(name)) {
                        Some(runs) => Side::Runs(runs),
                        None => Side::Failed,
                    }
                }
                _ => Side::NotApplicable,
            };
            let (a, b) = (side(one), side(two));
            let figure_cell = |side: &Side| match side {
                Side::NotApplicable => "n/a".to_string(),
                Side::Failed => "failed".to_string(),
                Side::Runs(r) => fmt_stat(stat(r, key), &column),
            };
            let cpu_cell = |side: &Side, who| match side {
                Side::NotApplicable => "n/a".to_string(),
                Side::Failed => "–".to_string(),
                Side::Runs(r) => cpu_stat(r, who)
                    .map(|s| format!("{:.2}", s.median))
                    .unwrap_or_else(|| "–".into()),
            };
            let ratio = match (&a, &b) {
                (Side::NotApplicable, _) | (_, Side::NotApplicable) => "n/a".to_string(),
                (Side::Runs(x), Side::Runs(y)) => match (stat(x, key), stat(y, key)) {
                    (Some(x), Some(y)) if x.median > 0.0 => format!("{:.2}×", y.median / x.median),
                    _ => "–".into(),
                },
                _ => "–".into(),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {ratio} | {} | {} | {} | {} |",
                figure_cell(&a),
                figure_cell(&b),
                cpu_cell(&a, "server"),
                cpu_cell(&b, "server"),
                cpu_cell(&a, "generator"),
                cpu_cell(&b, "generator"),
            );
        }
        let _ = writeln!(out);
    }
}

/// `text` with its first letter in upper case.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster scenario: cross-node fan-out over Redis

/// Fails unless the Redis at `url` answers `PING`.
fn redis_ping(url: &str) -> Result<()> {
    let answer: Result<String> = redis_connection(url).and_then(|mut conn| {
        socketio_redis::redis::cmd("PING")
            .query(&mut conn)
            .map_err(|e| e.to_string())
    });
    match answer {
        Ok(pong) if pong == "PONG" => Ok(()),
        Ok(other) => Err(format!("Redis at {url} answered PING with {other:?}")),
        Err(e) => Err(format!(
            "the cluster scenario needs Redis, and {url} is not answering: {e}"
        )),
    }
}

/// A connection to the Redis at `url` (5 s to connect, 5 s per answer).
fn redis_connection(url: &str) -> Result<socketio_redis::redis::Connection> {
    let limit = Duration::from_secs(5);
    let client = socketio_redis::redis::Client::open(url).map_err(|e| e.to_string())?;
    let conn = client
        .get_connection_with_timeout(limit)
        .map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Waits (10 s at most) until Redis counts `nodes` subscribers on `channel`: every adapter
/// (ours, Node's, socketioxide's) subscribes to `<key>-request#/#`, on the connection that
/// also receives the broadcasts, after or with the broadcast subscription.
fn wait_subscribers(url: &str, channel: &str, nodes: usize) -> Result<()> {
    let mut conn = redis_connection(url)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counts: Vec<(String, usize)> = socketio_redis::redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut conn)
            .map_err(|e| format!("PUBSUB NUMSUB {channel}: {e}"))?;
        let count = counts.first().map_or(0, |c| c.1);
        if count >= nodes {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Redis counts {count} subscriber(s) on {channel} after 10 s, expected {nodes}"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Two nodes of contender `name` on one fresh Redis key, the generator's clients split over
/// both (`--port2`); its JSON with the second node's memory and the CPU time per delivery of
/// both nodes added, and whether both exited by themselves.
fn measure_cluster(
    programs: &Programs,
    opts: &Options,
    scenario: &Scenario,
    name: &str,
    log: &Path,
) -> Result<(Value, bool)> {
    // Fresh per measurement: no node of an earlier one (or of anyone else) shares it.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let key = format!("sio-bench-{}-{nanos}", std::process::id());
    let start = || {
        let mut command = programs.contender_command(&opts.root, name, None);
        command
            .args(["--redis", &opts.redis, "--redis-key", &key])
            .current_dir(&opts.root);
        Server::spawn(name, command, log)
    };
    let mut a = start()?;
    let mut b = start()?;
    let channel = format!("{key}-request#/#");
    if let Err(e) = wait_subscribers(&opts.redis, &channel, 2) {
        return Err(a.fail(&e));
    }
    let mut two = scenario.clone();
    two.args.extend([
        "--port2".into(),
        b.port.to_string(),
        "--server-pid2".into(),
        b.pid().to_string(),
    ]);
    let mut value = measure(programs, &two, &mut a)?;
    if !b.alive() {
        return Err(b.fail("(the second node) exited during the measurement"));
    }
    let f = |k: &str| value.get(k).and_then(Value::as_f64);
    let per_delivery = match (f("server_cores"), f("server2_cores"), f("deliveries_per_s")) {
        (Some(a), Some(b), Some(rate)) if rate > 0.0 => Some((a + b) / rate * 1e6),
        _ => None,
    };
    if let Some(fields) = value.as_object_mut() {
        fields.insert("cluster_cpu_us_per_op".into(), json!(per_delivery));
        fields.insert("server2_rss_peak".into(), json!(hwm(b.pid())));
        fields.insert("redis_key".into(), json!(key));
    }
    let clean = a.stop();
    Ok((value, b.stop() && clean))
}

/// The targets of issue 14 on the cross-node fan-out.
fn cluster_targets(scenarios: &[Scenario]) -> Vec<Target> {
    let mut t = Vec::new();
    for s in scenarios.iter().filter(|s| s.is_cluster()) {
        let n = arg_of(s, "--n");
        for (peer, goal) in [("node", 3.0), ("socketioxide", 1.3)] {
            t.push(Target {
                text: format!(
                    "cross-node fan-out deliveries/s, {n} clients on 2 nodes, ≥ {goal}× {peer}"
                ),
                scenario: s.key.clone(),
                key: "deliveries_per_s",
                better: Better::Higher,
                peer,
                goal,
            });
        }
    }
    t
}

/// The section of the cluster scenario, if it was run.
fn cluster_report(
    opts: &Options,
    programs: &Programs,
    scenarios: &[Scenario],
    results: &Results,
    failures: &[Failure],
    elapsed: Duration,
) -> Option<String> {
    let cluster: Vec<&Scenario> = scenarios.iter().filter(|s| s.is_cluster()).collect();
    let first = cluster.first()?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let contenders: Vec<String> = opts
        .contenders
        .iter()
        .filter(|c| first.applies_to(c))
        .cloned()
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Cross-node fan-out over Redis (issue 14)\n\nTwo processes of the same \
         contender, each with its Redis adapter, on the same Redis ({}, a fresh key prefix \
         per measurement): ours with \
         `socketio-redis` (the classic adapter, `@socket.io/redis-adapter`'s wire), Node with \
         the official `@socket.io/redis-adapter` 8.3 (`createAdapter`, node-redis clients), \
         socketioxide with `socketioxide-redis` 0.4 (its own protocol over redis-rs, RESP3). \
         The floor has no adapter and does not take part. The harness starts both nodes, \
         waits until Redis counts both on `<key>-request#/#`, and the generator connects \
         half of the clients to each, all in room `bench`. Reproduce with \
         `bash bench/run-servers.sh --scenarios cluster` (see `bench/README.md`).\n",
        opts.redis
    );
    out.push_str(&measured(opts, programs, cores, elapsed));
    for s in &cluster {
        let no_runs = BTreeMap::new();
        let runs = results.get(&s.key).unwrap_or(&no_runs);
        let arg = |flag: &str| arg_of(s, flag);
        let n: usize = arg("--n").parse().unwrap_or(0);
        let col = |key, title, scale, decimals| Column {
            key,
            title,
            scale,
            decimals,
        };
        let _ = writeln!(
            out,
            "Fan-out to {n} clients on 2 nodes ({} + {}) in one room. Saturation: one client \
             on node A sends `broadcast` (~100-byte argument) with at most 8 in flight, {} ms \
             measured after a {} ms warm-up; every socket on both \
             nodes (the sender too) receives `tick`, those on node B through Redis. Every \
             delivery is checked (a lost or duplicated `tick` fails the run); \"out of \
             order\" counts the `tick`s that did not follow the previous `seq` a client \
             received. Server CPU per delivery is that of both nodes; the CPU columns are \
             median cores over the measurement window (the generator is one thread).\n",
            n.div_ceil(2),
            n / 2,
            arg("--duration-ms"),
            arg("--warmup-ms")
        );
        table(
            &mut out,
            runs,
            &contenders,
            &[
                col("deliveries_per_s", "deliveries/s", 1.0, 0),
                col("broadcasts_per_s", "broadcasts/s", 1.0, 1),
                col(
                    "cluster_cpu_us_per_op",
                    "server CPU µs per delivery (both nodes)",
                    1.0,
                    2,
                ),
                col("out_of_order", "out of order", 1.0, 0),
                col("server_cores", "CPU node A", 1.0, 2),
                col("server2_cores", "CPU node B", 1.0, 2),
                col("generator_cores", "generator CPU", 1.0, 2),
            ],
            Better::Higher,
            false,
        );
        latency_table(
            &mut out,
            s,
            runs,
            &contenders,
            "each delivery on both nodes",
        );
        let _ = writeln!(out);
    }
    let ours: Vec<&String> = contenders
        .iter()
        .filter(|c| OURS.contains(&c.as_str()))
        .collect();
    targets_table(
        &mut out,
        "issue 14",
        &cluster_targets(scenarios),
        results,
        &ours,
    );
    failures_list(
        &mut out,
        failures
            .iter()
            .filter(|f| f.scenario.starts_with("cluster-")),
    );
    Some(out)
}
