//! The whole-server benchmark harness in `--quick` mode, as a smoke test: every contender
//! (ours on tokio and on smol, socketioxide, Node, the floor) serves every scenario at small N
//! and produces finite, non-zero figures. Nothing here asserts a time.
//!
//! Needs Node.js and `tests/node/node_modules` (`npm ci --prefix tests/node`); fails loudly
//! without them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The figures every run of a scenario must carry, all finite and > 0.
fn figures(mode: &str) -> &'static [&'static str] {
    match mode {
        "idle" => &["bytes_per_connection", "rss_after", "connections_per_s"],
        "fanout" => &["deliveries_per_s", "p50_us", "p99_us", "latency_samples"],
        "echo" => &["acks_per_s", "p50_us", "p99_us"],
        "churn" => &["sessions_per_s", "sessions", "rss_after"],
        other => panic!("unexpected mode {other}"),
    }
}

#[test]
fn every_contender_produces_figures_for_every_scenario() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "Node.js is required by the `node` contender: {node:?}"
    );
    assert!(
        root.join("tests/node/node_modules/socket.io/package.json")
            .is_file(),
        "tests/node/node_modules is missing: run `npm ci --prefix tests/node`"
    );
    let out_dir = root.join("target/server-bench");
    std::fs::create_dir_all(&out_dir).unwrap();
    let json = out_dir.join("quick-test.json");
    let _ = std::fs::remove_file(&json);
    let run = Command::new(env!("CARGO_BIN_EXE_socketio-bench-run"))
        .args(["--quick", "--json"])
        .arg(&json)
        .output()
        .expect("the harness starts");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the harness failed:\n{stderr}");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        report.contains("### Targets of issue 8"),
        "no report:\n{report}"
    );

    let results: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let scenarios = results.as_object().expect("scenario → contender → runs");
    let keys: Vec<&str> = scenarios.keys().map(String::as_str).collect();
    assert_eq!(keys, ["churn", "echo", "fanout-100", "idle"], "{stderr}");
    for (scenario, contenders) in scenarios {
        let names: Vec<&str> = contenders
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names,
            ["floor", "node", "ours-smol", "ours-tokio", "socketioxide"],
            "{scenario}"
        );
        for (name, runs) in contenders.as_object().unwrap() {
            let runs = runs.as_array().unwrap();
            assert_eq!(runs.len(), 1, "{scenario} / {name}");
            for r in runs {
                let mode = r["mode"].as_str().unwrap();
                // CPU time has a 10 ms resolution: present and finite, possibly zero.
                let cpu = r["generator_cpu_s"].as_f64();
                assert!(
                    matches!(cpu, Some(x) if x.is_finite() && x >= 0.0),
                    "{scenario} / {name}: generator_cpu_s in {r}"
                );
                for key in figures(mode).iter().chain(&["wall_s"]) {
                    let v = r[key].as_f64();
                    assert!(
                        matches!(v, Some(x) if x.is_finite() && x > 0.0),
                        "{scenario} / {name}: {key} = {:?} in {r}",
                        r[key]
                    );
                }
            }
        }
    }
}
