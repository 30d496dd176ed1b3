//! Running the pinned Node.js side of the tests (`tests/node`).
//!
//! [`ensure_installed`] runs `npm ci` in `tests/node` when its `node_modules` is missing or older
//! than `package-lock.json`; [`run_script`] runs one of its scripts. Interop tests are never
//! skipped: if `node` or `npm` is missing, they panic with a message saying what to install.

use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// How long to wait for another process's `npm ci` before giving up.
const INSTALL_WAIT: Duration = Duration::from_secs(600);

/// The `tests/` directory of the workspace.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root (the parent of `tests/`).
pub fn repo_root() -> PathBuf {
    tests_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(tests_dir)
}

/// The Node.js package directory, `tests/node`.
pub fn node_dir() -> PathBuf {
    tests_dir().join("node")
}

/// Makes sure `node` and `npm` exist and `tests/node/node_modules` matches the lock file,
/// running `npm ci --no-audit --no-fund` if needed. Panics loudly on any problem.
pub fn ensure_installed() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(install);
}

/// Runs `node tests/node/<script> <args>` from the workspace root and returns its output.
pub fn run_script<I, S>(script: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ensure_installed();
    let path = node_dir().join(script);
    Command::new("node")
        .arg(&path)
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node {}`: {e}", path.display()))
}

fn require_tool(tool: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        ok,
        "`{tool}` was not found on PATH. The interop tests compare against the official \
         JavaScript packages and are never skipped: install Node.js >= 18 with npm \
         (Debian/Ubuntu: `apt-get install nodejs npm`) and run the tests again."
    );
}

fn is_installed(dir: &Path) -> bool {
    let modified = |path: PathBuf| fs::metadata(path).and_then(|m| m.modified()).ok();
    match (
        modified(dir.join("node_modules").join(".package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    }
}

fn install() {
    require_tool("node");
    let dir = node_dir();
    if is_installed(&dir) {
        return;
    }
    require_tool("npm");
    let _lock = InstallLock::acquire(&dir.join(".npm-ci.lock"));
    if is_installed(&dir) {
        return; // another process installed while we waited
    }
    eprintln!("socketio-tests: running `npm ci` in {}", dir.display());
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `npm ci` in {}: {e}", dir.display()));
    assert!(
        output.status.success(),
        "`npm ci` failed in {} ({}):\n{}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// A lock directory, so concurrent test processes do not run `npm ci` at the same time.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> InstallLock {
        let start = Instant::now();
        loop {
            match fs::create_dir(path) {
                Ok(()) => return InstallLock(path.to_path_buf()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > INSTALL_WAIT);
                    if stale {
                        let _ = fs::remove_dir(path);
                        continue;
                    }
                    assert!(
                        start.elapsed() < INSTALL_WAIT,
                        "timed out waiting for {} (remove it if no `npm ci` is running)",
                        path.display()
                    );
                    thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}
