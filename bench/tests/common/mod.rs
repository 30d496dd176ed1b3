//! What the harness tests share: running `socketio-bench-run` in `--quick` mode.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs the harness with `--quick`, `args` and `--json target/server-bench/<name>.json`
/// (Node's packages checked first: `node_modules_file` under `tests/node/node_modules`);
/// returns its report (stdout) and the raw results. Fails with the harness's stderr when it
/// does.
pub fn quick_run(args: &[&str], name: &str, node_modules_file: &str) -> (String, Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "Node.js is required by the `node` contender: {node:?}"
    );
    assert!(
        root.join("tests/node/node_modules")
            .join(node_modules_file)
            .is_file(),
        "tests/node/node_modules is missing: run `npm ci --prefix tests/node`"
    );
    let out_dir = root.join("target/server-bench");
    std::fs::create_dir_all(&out_dir).unwrap();
    let json = out_dir.join(format!("{name}.json"));
    let _ = std::fs::remove_file(&json);
    let run = Command::new(env!("CARGO_BIN_EXE_socketio-bench-run"))
        .arg("--quick")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the harness starts");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the harness failed:\n{stderr}");
    let report = String::from_utf8_lossy(&run.stdout).into_owned();
    let results = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (report, results)
}
