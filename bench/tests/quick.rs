//! The whole-server benchmark harness in `--quick` mode, as a smoke test: every contender
//! (ours on tokio and on smol, socketioxide, Node, the floor) serves every scenario at small N
//! and produces finite, non-zero figures, with 1 and 2 worker threads in the `scaling`
//! scenario (Node with 1 only), and the report shows the scaling table. Nothing here asserts a
//! time.
//!
//! Needs Node.js and `tests/node/node_modules` (`npm ci --prefix tests/node`); fails loudly
//! without them.

mod common;

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
    let (report, results) = common::quick_run(&[], "quick-test", "socket.io/package.json");
    assert!(
        report.contains("### Targets of issue 8"),
        "no report:\n{report}"
    );
    check_scaling_section(&report);

    let scenarios = results.as_object().expect("scenario → contender → runs");
    let keys: Vec<&str> = scenarios.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "churn",
            "echo",
            "fanout-100",
            "idle",
            "scaling-echo-w1",
            "scaling-echo-w2",
            "scaling-fanout-100-w1",
            "scaling-fanout-100-w2",
        ],
        "{report}"
    );
    for (scenario, contenders) in scenarios {
        let names: Vec<&str> = contenders
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // Node runs JavaScript on one thread: measured with 1 worker only.
        let workers = scenario
            .rsplit_once("-w")
            .filter(|_| scenario.starts_with("scaling-"))
            .map(|(_, w)| w.parse::<u64>().unwrap());
        let expected: &[&str] = if workers.is_some_and(|w| w > 1) {
            &["floor", "ours-smol", "ours-tokio", "socketioxide"]
        } else {
            &["floor", "node", "ours-smol", "ours-tokio", "socketioxide"]
        };
        assert_eq!(names, expected, "{scenario}");
        for (name, runs) in contenders.as_object().unwrap() {
            let runs = runs.as_array().unwrap();
            assert_eq!(runs.len(), 1, "{scenario} / {name}");
            for r in runs {
                assert_eq!(
                    r["server_workers"].as_u64(),
                    workers,
                    "{scenario} / {name}: server_workers in {r}"
                );
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

/// The scaling section of the report: a fan-out and an echo table, each with a row per
/// contender; every contender but Node has finite figures with 1 and 2 workers and a finite
/// ratio; Node has its 1-worker figure and n/a for 2.
fn check_scaling_section(report: &str) {
    let start = report
        .find("### Scaling: 1 worker thread vs 2")
        .unwrap_or_else(|| panic!("no scaling section:\n{report}"));
    let section = &report[start..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |e| e + 4)];
    for (table, unit) in [
        ("Fan-out, 100 clients", "deliveries/s"),
        ("Echo with an ack, 10 clients", "acks/s"),
    ] {
        let at = section
            .find(&format!("{table}:"))
            .unwrap_or_else(|| panic!("no {table} table:\n{section}"));
        let rows: Vec<Vec<&str>> = section[at..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        assert!(
            rows[0][1].starts_with(unit) && rows[0][3] == "2w / 1w",
            "{table}: header {:?}",
            rows[0]
        );
        let number = |cell: &str| {
            cell.split(' ')
                .next()
                .unwrap()
                .trim_end_matches('×')
                .replace(',', "")
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
        };
        for name in ["ours-tokio", "ours-smol", "socketioxide", "node", "floor"] {
            let row = rows
                .iter()
                .find(|r| r[0] == name)
                .unwrap_or_else(|| panic!("{table}: no row for {name}:\n{section}"));
            assert!(number(row[1]).is_some(), "{table} / {name}: {row:?}");
            if name == "node" {
                assert_eq!(row[2..4], ["n/a", "n/a"], "{table} / {name}: {row:?}");
            } else {
                assert!(
                    number(row[2]).is_some() && number(row[3]).is_some(),
                    "{table} / {name}: {row:?}"
                );
            }
        }
    }
}
