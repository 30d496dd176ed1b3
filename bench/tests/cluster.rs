//! The harness's `cluster` scenario in `--quick` mode: two nodes of each contender (ours on
//! tokio and on smol, socketioxide, Node) on the Redis at 127.0.0.1:6379, 100 clients split
//! over both, one broadcasting. The generator fails a run when any client misses a `tick` or
//! gets one twice; this checks every contender's run succeeded and that every timed delivery
//! of both nodes arrived. Nothing here asserts a time.
//!
//! Needs Redis on 127.0.0.1:6379 (fails, never skips, when it does not answer), Node.js and
//! `tests/node/node_modules` (`npm ci --prefix tests/node`).

use std::time::Duration;

mod common;

const REDIS: &str = "redis://127.0.0.1:6379";

#[test]
fn every_contender_delivers_every_tick_across_two_nodes() {
    let pong: Result<String, _> = socketio_redis::redis::Client::open(REDIS)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .and_then(|mut conn| socketio_redis::redis::cmd("PING").query(&mut conn));
    assert!(
        matches!(&pong, Ok(p) if p == "PONG"),
        "the cluster scenario needs Redis at {REDIS}: {pong:?}"
    );
    let (report, results) = common::quick_run(
        &["--scenarios", "cluster", "--redis", REDIS],
        "cluster-test",
        "@socket.io/redis-adapter/package.json",
    );
    for heading in [
        "### Cross-node fan-out over Redis (issue 14)",
        "Fan-out to 100 clients on 2 nodes (50 + 50) in one room.",
        "### Targets of issue 14",
    ] {
        assert!(report.contains(heading), "no {heading:?} in:\n{report}");
    }
    // Only the cluster section: a run of it alone leaves the servers section alone.
    assert!(!report.contains("### Memory per idle"), "{report}");

    let contenders = results["cluster-100"]
        .as_object()
        .unwrap_or_else(|| panic!("no cluster-100 results: {results}"));
    let names: Vec<&str> = contenders.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["node", "ours-smol", "ours-tokio", "socketioxide"],
        "the floor has no adapter; everyone else takes part"
    );
    for (name, runs) in contenders {
        let runs = runs.as_array().unwrap();
        assert_eq!(runs.len(), 1, "{name}");
        let r = &runs[0];
        let number = |key: &str| {
            r[key]
                .as_f64()
                .filter(|x| x.is_finite() && *x > 0.0)
                .unwrap_or_else(|| panic!("{name}: {key} = {:?} in {r}", r[key]))
        };
        // Every timed broadcast reached all 100 clients, on both nodes.
        assert_eq!(
            number("latency_samples"),
            number("latency_broadcasts") * 100.0,
            "{name}: {r}"
        );
        for key in [
            "deliveries_per_s",
            "p50_us",
            "p99_us",
            "cluster_cpu_us_per_op",
        ] {
            number(key);
        }
        // CPU time has a 10 ms resolution: present and finite, possibly zero.
        for key in ["server_cores", "server2_cores"] {
            assert!(
                matches!(r[key].as_f64(), Some(x) if x.is_finite() && x >= 0.0),
                "{name}: {key} in {r}"
            );
        }
    }
}
