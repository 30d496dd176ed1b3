//! The side-by-side run behind `BENCHMARKS.md` (driven by `bash bench/run-codec.sh`).
//!
//! ```text
//! cargo bench -p socketio-bench --bench compare -- fixtures <out.json>
//! cargo bench -p socketio-bench --bench compare -- run [--quick] [--filter S] [--json <out.json>]
//! cargo bench -p socketio-bench --bench compare -- report --rust <rust.json> --node <node.json>
//!     --markdown <BENCHMARKS.md> [--command <text>] [--rustc <text>] [--date <text>]
//!     [--commit <text>]
//! ```
//!
//! `run` first cross-checks that every implementation encodes/decodes the same bytes, then
//! times each operation with the interleaved loop of `socketio_bench::harness`.

#[allow(dead_code)]
mod cases;

use std::process::ExitCode;

use socketio_bench::harness::{self, Config};
use socketio_bench::report::{self, Meta, NodeResults, Record};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn write(path: &str, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Versions of the peer crates, from the workspace lock file.
fn crate_versions() -> Vec<(String, String)> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .unwrap_or_default();
    let wanted = [
        "socketioxide-parser-common",
        "socketioxide-parser-msgpack",
        "socketioxide-core",
        "engineioxide-core",
    ];
    let mut out = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line
            .strip_prefix("name = \"")
            .and_then(|r| r.strip_suffix('"'))
            && wanted.contains(&name)
            && let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|r| r.strip_suffix('"'))
        {
            out.push((name.to_owned(), version.to_owned()));
        }
    }
    out
}

fn run(args: &[String]) -> ExitCode {
    let config = if args.iter().any(|a| a == "--quick") {
        Config::QUICK
    } else {
        Config::FULL
    };
    let filter = flag(args, "--filter");
    let problems = cases::check();
    for problem in &problems {
        eprintln!("CHECK FAILED: {problem}");
    }
    let mut records = Vec::new();
    for mut op in cases::all() {
        let key = format!("{}/{}/{}", op.case, op.codec, op.op);
        if filter.as_deref().is_some_and(|f| !key.contains(f)) {
            continue;
        }
        let results = harness::measure(&mut op.contenders, config);
        let line: Vec<String> = results
            .iter()
            .map(|m| format!("{} {:.1} ns", m.name, m.median_ns))
            .collect();
        let ratio = match results.as_slice() {
            [ours, theirs, ..] => format!("  ratio {:.2}", theirs.median_ns / ours.median_ns),
            _ => String::new(),
        };
        eprintln!("{key:<28} {}{ratio}", line.join("  "));
        records.extend(results.iter().map(|m| Record {
            case: op.case.into(),
            codec: op.codec.into(),
            op: op.op.into(),
            implementation: m.name.into(),
            ns: m.median_ns,
        }));
    }
    let json = serde_json::to_string_pretty(&records).expect("records serialize");
    match flag(args, "--json") {
        Some(path) => write(&path, &json),
        None => println!("{json}"),
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report(args: &[String]) -> ExitCode {
    let rust: Vec<Record> =
        serde_json::from_str(&read(&flag(args, "--rust").expect("--rust <file>"))).expect("rust");
    let node: NodeResults = match flag(args, "--node") {
        Some(path) => serde_json::from_str(&read(&path)).expect("node results"),
        None => NodeResults::default(),
    };
    let meta = Meta {
        date: flag(args, "--date").unwrap_or_default(),
        nproc: std::thread::available_parallelism().map_or("?".into(), |n| n.to_string()),
        rustc: flag(args, "--rustc").unwrap_or_default(),
        command: flag(args, "--command").unwrap_or_else(|| "bash bench/run-codec.sh".into()),
        commit: flag(args, "--commit").unwrap_or_else(|| "unknown".into()),
        crates: crate_versions(),
    };
    let section = report::render(&meta, &rust, &node);
    match flag(args, "--markdown") {
        Some(path) => {
            let document = std::fs::read_to_string(&path).unwrap_or_default();
            write(&path, &report::splice(&document, &section));
        }
        None => println!("{section}"),
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    // `cargo bench` appends `--bench`; ignore it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("fixtures") => {
            let path = args.get(1).expect("fixtures <out.json>");
            write(
                path,
                &serde_json::to_string_pretty(&cases::node_fixtures()).unwrap(),
            );
            ExitCode::SUCCESS
        }
        Some("report") => report(&args),
        Some("run") | None => run(&args),
        Some("list") => {
            cases::ids().iter().for_each(|id| println!("{id}"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command {other}; expected fixtures, run, report or list");
            ExitCode::FAILURE
        }
    }
}
