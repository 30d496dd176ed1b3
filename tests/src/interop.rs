//! Harness for the end-to-end interop tests: runs the Node.js scenario scripts in
//! `tests/node/clients` (official `socket.io-client`, raw `ws`, playwright-core) against a server,
//! with a hard time limit, and collects the JSON lines they print.
//!
//! Every script prints one JSON object per line (what it observed), then `{"done":true}` and exits
//! 0, or `{"error":"…"}` and exits 1. [`run_client`] kills a script that outlives its time limit.
//! [`RefServer`] runs the official socket.io 4.8 server with the same test app
//! (`clients/ref-server.js`), the reference that bad-input behaviour is compared against.
//! [`ensure_chromium`] installs Debian's `chromium` when it is missing.
//!
//! The API is blocking (plain threads): from an async test call it through
//! [`Executor::unblock`](crate::executor::Executor::unblock), so the server under test keeps its
//! executor's threads.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::node::{ensure_installed, node_dir, repo_root};

/// Default time limit of one client script (the scripts limit themselves to 20 s).
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(25);

/// What a client script did: its JSON lines, exit status and stderr.
#[derive(Debug)]
pub struct ScriptRun {
    /// The script name and arguments, for messages.
    pub command: String,
    /// Every stdout line that parsed as JSON, in order.
    pub lines: Vec<Value>,
    /// Stdout lines that were not JSON (kept for messages).
    pub other_stdout: Vec<String>,
    /// Everything the script wrote to stderr.
    pub stderr: String,
    /// The exit status (`None` when it was killed at the time limit).
    pub status: Option<ExitStatus>,
    /// How long it ran.
    pub elapsed: Duration,
}

impl ScriptRun {
    /// Whether the script exited 0 and printed `{"done":true}`.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
            && self
                .lines
                .iter()
                .any(|l| l.get("done") == Some(&Value::Bool(true)))
    }

    /// Panics with the whole transcript unless the script succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.succeeded(), "client script failed:\n{self}");
        self
    }

    /// The lines whose `"step"` is `step`.
    pub fn steps<'a>(&'a self, step: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.lines
            .iter()
            .filter(move |l| l.get("step").and_then(Value::as_str) == Some(step))
    }

    /// The first line whose `"step"` is `step`; panics with the transcript if there is none.
    #[track_caller]
    pub fn step<'a>(&'a self, step: &'a str) -> &'a Value {
        match self.steps(step).next() {
            Some(line) => line,
            None => panic!("no step {step:?} in the output of:\n{self}"),
        }
    }
}

impl std::fmt::Display for ScriptRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "$ node {} ({:?}, {:.1} s)",
            self.command,
            self.status
                .map_or("killed at the time limit".into(), |s| s.to_string()),
            self.elapsed.as_secs_f64()
        )?;
        for line in &self.lines {
            let mut text = line.to_string();
            if text.len() > 2000 {
                text.truncate(2000);
                text.push('…');
            }
            writeln!(f, "  {text}")?;
        }
        for line in &self.other_stdout {
            writeln!(f, "  (stdout) {line}")?;
        }
        if !self.stderr.trim().is_empty() {
            writeln!(f, "  stderr:\n{}", self.stderr)?;
        }
        Ok(())
    }
}

/// Runs `node tests/node/clients/<script> <args…>` to completion or until `timeout`, then kills
/// it. Installs the pinned npm packages first when needed.
pub fn run_client<S: AsRef<str>>(script: &str, args: &[S], timeout: Duration) -> ScriptRun {
    run_client_env(script, args, &[], timeout)
}

/// [`run_client`] with extra environment variables.
pub fn run_client_env<S: AsRef<str>>(
    script: &str,
    args: &[S],
    env: &[(&str, &str)],
    timeout: Duration,
) -> ScriptRun {
    ensure_installed();
    let path = node_dir().join("clients").join(script);
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    let command = format!("clients/{script} {}", args.join(" "));
    let start = Instant::now();
    let mut child = spawn_node(&path, &args, env, false);
    let stdout = read_lines(child.stdout.take().expect("stdout is piped"));
    let stderr = read_all(child.stderr.take().expect("stderr is piped"));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for `node {command}`: {e}"),
        }
    };
    let (lines, other_stdout) = split_json(stdout.join().unwrap_or_default());
    ScriptRun {
        command,
        lines,
        other_stdout,
        stderr: stderr.join().unwrap_or_default(),
        status,
        elapsed: start.elapsed(),
    }
}

fn spawn_node(path: &Path, args: &[String], env: &[(&str, &str)], stdin: bool) -> Child {
    let mut command = Command::new("node");
    command
        .arg(path)
        .args(args)
        .current_dir(repo_root())
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node {}`: {e}", path.display()))
}

fn read_lines(stdout: impl Read + Send + 'static) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect()
    })
}

fn read_all(mut stream: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn split_json(lines: Vec<String>) -> (Vec<Value>, Vec<String>) {
    let mut json = Vec::new();
    let mut other = Vec::new();
    for line in lines {
        match serde_json::from_str::<Value>(&line) {
            Ok(v @ Value::Object(_)) => json.push(v),
            _ => other.push(line),
        }
    }
    (json, other)
}

/// The official socket.io 4.8 server running the test app (`clients/ref-server.js`) on an
/// ephemeral loopback port; killed on drop.
pub struct RefServer {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl RefServer {
    /// Starts it with `options` (`{"recovery","msgpack","eio3","connectTimeout",…}`) and waits
    /// (10 s at most) for it to listen.
    pub fn start(options: &Value) -> RefServer {
        RefServer::start_script("clients/ref-server.js", options)
    }

    /// Starts another server script of `tests/node` (`script` relative to it, e.g.
    /// `servers/cluster-redis.js`) that prints `{"listening":<port>}` on stdout and exits
    /// when its stdin closes, with `options` as its argument.
    pub fn start_script(script: &str, options: &Value) -> RefServer {
        RefServer::start_script_with(script, options, &[], "listening")
    }

    /// Starts any script of `tests/node` (`script` relative to it) with `options` as its
    /// argument and `env`, and waits (10 s at most) for a stdout line with key `ready` (its
    /// value is the port when it is a number, else the port is 0). Killed on drop.
    pub fn start_script_with(
        script: &str,
        options: &Value,
        env: &[(&str, &str)],
        ready: &str,
    ) -> RefServer {
        ensure_installed();
        let path = node_dir().join(script);
        let mut child = spawn_node(&path, &[options.to_string()], env, true);
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_sink = Arc::clone(&stderr);
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut chunk) {
                stderr_sink
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&lines);
        let ready_key = ready.to_owned();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(at) = value.get(&ready_key) {
                    let _ = ready_tx.send(at.as_u64().unwrap_or(0));
                }
                sink.lock().unwrap().push(value);
            }
        });
        let port = match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(port) => u16::try_from(port).expect("a port"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                // (Its stderr is read to its end once it is gone.)
                thread::sleep(Duration::from_millis(50));
                panic!(
                    "node {script} never printed {ready:?}:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        RefServer {
            child,
            _stdin: stdin,
            port,
            lines,
            stderr,
        }
    }

    /// Waits (at most `wait`) for a line with key `key` and returns it; panics with what
    /// the script printed if none comes or it printed an `error`.
    pub fn wait_line(&self, key: &str, wait: Duration) -> Value {
        let start = Instant::now();
        loop {
            let lines = self.lines();
            if let Some(line) = lines.iter().find(|l| l.get(key).is_some()) {
                return line.clone();
            }
            let failed = lines.iter().any(|l| l.get("error").is_some());
            if failed || start.elapsed() >= wait {
                let mut text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                for t in &mut text {
                    if t.len() > 2000 {
                        t.truncate(2000);
                    }
                }
                panic!(
                    "no {key:?} line within {wait:?}; the script printed:\n{}\nstderr:\n{}",
                    text.join("\n"),
                    self.stderr.lock().unwrap()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything it printed so far (`{"connect"…}`, `{"disconnect":reason,"nsp","id"}`).
    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// The server-side disconnect reason of socket `id`, waiting up to `wait` for it.
    pub fn disconnect_reason(&self, id: &str, wait: Duration) -> Option<String> {
        let start = Instant::now();
        loop {
            let found = self.lines().into_iter().find_map(|l| {
                (l.get("id").and_then(Value::as_str) == Some(id))
                    .then(|| {
                        l.get("disconnect")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .flatten()
            });
            if found.is_some() || start.elapsed() >= wait {
                return found;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the chat test finds Chromium (Debian's `chromium` package).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Makes sure `/usr/bin/chromium` exists, installing Debian's `chromium` package with apt-get
/// (after an `apt-get update` if the first attempt fails). Panics loudly if it cannot: the
/// browser test is never skipped.
pub fn ensure_chromium() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| ensure_debian_package(CHROMIUM, "chromium"));
}

/// Where the drain test finds nginx (Debian's `nginx` package).
pub const NGINX: &str = "/usr/sbin/nginx";

/// Makes sure `/usr/sbin/nginx` exists, installing Debian's `nginx` package with apt-get when
/// it is missing. Panics loudly if it cannot: the load-balancer test is never skipped.
pub fn ensure_nginx() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| ensure_debian_package(NGINX, "nginx"));
}

/// Installs Debian's `package` with apt-get unless `binary` exists (after an `apt-get
/// update` if the first attempt fails); panics with apt-get's output if it is still missing.
fn ensure_debian_package(binary: &str, package: &str) {
    if Path::new(binary).exists() {
        return;
    }
    let apt = |args: &[&str]| {
        eprintln!("socketio-tests: running `apt-get {}`", args.join(" "));
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
    };
    let install = ["install", "-y", "--no-install-recommends", package];
    let first = apt(&install);
    if !first.as_ref().is_ok_and(|o| o.status.success()) || !Path::new(binary).exists() {
        let update = apt(&["update"]);
        let second = apt(&install);
        let describe = |r: &std::io::Result<std::process::Output>| match r {
            Ok(o) => format!(
                "{}\n{}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => e.to_string(),
        };
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing and `apt-get install {package}` failed; the test that needs it \
             is never skipped. Install Debian's `{package}` package (as root: `apt-get update && \
             apt-get install -y {package}`).\napt-get update: {}\napt-get install: {}",
            describe(&update),
            describe(&second)
        );
    }
}
