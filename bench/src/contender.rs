//! Starting and stopping a contender of `bench/CONTENDERS.md`, reading its memory and open
//! descriptors from `/proc`, and rewriting a marked section of `BENCHMARKS.md`: shared by the
//! soak (`socketio-bench-soak`) and the hostile-input table (`socketio-bench-hostile`).
//!
//! (`socketio-bench-run` has its own copy of the process handling, written first.)

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where the programs are: the directory of the running executable (the release binaries) and
/// `node` (or `$NODE`).
#[derive(Clone, Debug)]
pub struct Programs {
    /// Directory of `socketio-bench-ours` and the other binaries.
    pub bin_dir: PathBuf,
    /// The Node.js executable.
    pub node: String,
    /// The workspace root (where `bench/node/server.js` is).
    pub root: PathBuf,
}

impl Programs {
    /// Finds the programs contenders `names` need; the message says what is missing.
    pub fn find(root: &Path, names: &[String]) -> Result<Programs, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let bin_dir = exe
            .parent()
            .ok_or("the executable has no directory")?
            .to_path_buf();
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        for name in names {
            match name.as_str() {
                "ours-tokio" | "ours-smol" => {
                    let ours = bin_dir.join("socketio-bench-ours");
                    if !ours.is_file() {
                        return Err(format!(
                            "{} is missing: build with `cargo build --release -p socketio-bench --bins`",
                            ours.display()
                        ));
                    }
                }
                "node" => {
                    let module = root.join("tests/node/node_modules/socket.io/package.json");
                    if !module.is_file() {
                        return Err(format!(
                            "{} is missing: run `npm ci --prefix tests/node`",
                            module.display()
                        ));
                    }
                }
                other => {
                    return Err(format!(
                        "unknown contender {other:?} (ours-tokio, ours-smol, node)"
                    ));
                }
            }
        }
        Ok(Programs {
            bin_dir,
            node,
            root: root.to_path_buf(),
        })
    }

    fn command(&self, name: &str) -> Command {
        let mut cmd = match name {
            "ours-tokio" | "ours-smol" => {
                let mut c = Command::new(self.bin_dir.join("socketio-bench-ours"));
                c.args(["--runtime", &name["ours-".len()..]]);
                c
            }
            _ => {
                let mut c = Command::new(&self.node);
                c.arg(self.root.join("bench/node/server.js"));
                c
            }
        };
        cmd.args(["--port", "0"]).current_dir(&self.root);
        cmd
    }
}

/// A running contender; killed when dropped.
pub struct Server {
    /// `ours-tokio`, `ours-smol` or `node`.
    pub name: String,
    child: Option<Child>,
    /// The port it listens on (loopback).
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts contender `name` with its stderr appended to `log`, and waits (30 s at most) for
    /// its `LISTENING <port>` line.
    pub fn start(programs: &Programs, name: &str, log: &Path) -> Result<Server, String> {
        Server::spawn(name, programs.command(name), log)
    }

    /// Starts contender `name` from `command` (the harness adds `--workers`), with its stderr
    /// appended to `log`, and waits (30 s at most) for its `LISTENING <port>` line.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Server, String> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut first = String::new();
            let _ = tx.send(lines.read_line(&mut first).map(|_| first));
            // Keep draining: the contract says nothing else comes, but never block the server.
            let _ = std::io::copy(&mut lines, &mut std::io::sink());
        });
        let mut server = Server {
            name: name.to_string(),
            child: Some(child),
            port: 0,
            log: log.to_path_buf(),
        };
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(server.fail(&format!("reading its stdout: {e}"))),
            Err(_) => return Err(server.fail("no LISTENING line within 30 s")),
        };
        match line
            .trim()
            .strip_prefix("LISTENING ")
            .map(str::parse::<u16>)
        {
            Some(Ok(port)) if port > 0 => server.port = port,
            _ => return Err(server.fail(&format!("expected `LISTENING <port>`, got {line:?}"))),
        }
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// How it exited, if it has.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(s))) => Some(s.to_string()),
            _ => None,
        }
    }

    /// Error text for `what` with the tail of the server's log; kills the server.
    pub fn fail(&mut self, what: &str) -> String {
        let status = self
            .exit_status()
            .map(|s| format!(" (it exited: {s})"))
            .unwrap_or_default();
        self.kill();
        format!(
            "contender {}: {what}{status}; its stderr is in {}:\n{}",
            self.name,
            self.log.display(),
            tail(&self.log, 15)
        )
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Closes stdin, waits up to 3 s for the exit, then SIGKILL. True if it exited by itself.
    pub fn stop(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        drop(child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// `VmRSS` of `pid` in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS:")
}

/// `VmHWM` (peak resident set) of `pid` in bytes.
pub fn hwm(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmHWM:")
}

/// Open file descriptors of `pid` (entries of `/proc/<pid>/fd`).
pub fn open_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// User + system CPU seconds of `pid`, all threads.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The soft open-files limit of this process.
pub fn nofile_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

/// Fails unless this process (and so the contenders it starts) may open `want` files.
pub fn require_nofile(want: u64) -> Result<u64, String> {
    let have = nofile_limit().ok_or("/proc/self/limits: no Max open files line")?;
    if have < want {
        return Err(format!(
            "need {want} open files per process but the limit is {have}: raise it (`ulimit -n {want}`; \
             the scripts raise the soft limit to the hard limit) or lower the connection count"
        ));
    }
    Ok(have)
}

/// Replaces the text between `begin` and `end` in `path` (appending `heading` and the markers
/// when they are missing); nothing else of the file changes.
pub fn write_section(
    path: &Path,
    begin: &str,
    end: &str,
    heading: &str,
    body: &str,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (text.find(begin), text.find(end)) {
        (Some(b), Some(e)) if b < e => format!("{}{begin}\n{body}{}", &text[..b], &text[e..]),
        (None, None) => {
            let mut t = text.trim_end().to_string();
            if !t.is_empty() {
                t.push_str("\n\n");
            }
            format!("{t}{heading}\n\n{begin}\n{body}{end}\n")
        }
        _ => {
            return Err(format!(
                "{}: the markers {begin} / {end} are unbalanced; fix them by hand",
                path.display()
            ));
        }
    };
    let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(new.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `<program> --version` (10 s at most), for the report.
pub fn version_of(program: &str) -> String {
    let Ok(mut child) = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return "unknown".into();
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return "unknown".into();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    out.trim().to_string()
}

/// Least-squares slope of `y` over `x` (`None` with fewer than two distinct `x`).
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}
