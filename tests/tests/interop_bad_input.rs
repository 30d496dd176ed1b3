//! Every bad Socket.IO input of PROTOCOL.md over a real WebSocket (a raw `ws` client:
//! `tests/node/clients/badinput.js`), sent to the official socket.io 4.8 server and to the Rust
//! server with the same test app: what the client sees (frames, whether and how the server closed)
//! and the server-side disconnect reason must match the reference, case by case.

mod interop_support;

use std::collections::BTreeMap;
use std::time::Duration;

use interop_support::{AppOptions, start};
use serde_json::{Value, json};
use socketio_tests::interop::{RefServer, ScriptRun, run_client};

fn cases(run: &ScriptRun) -> BTreeMap<String, Value> {
    run.lines
        .iter()
        .filter_map(|l| Some((l.get("case")?.as_str()?.to_owned(), l.clone())))
        .collect()
}

/// The close codes a server may use to end a WebSocket "without a reason": engine.io closes with
/// no status (the client reads 1005); 1000 says the same thing.
fn same_close(reference: &Value, ours: &Value) -> bool {
    let norm = |c: &Value| match c.as_u64() {
        Some(1000 | 1005) => json!("normal"),
        _ => c.clone(),
    };
    norm(reference) == norm(ours)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_reference_close_and_reason() {
    let app = start(AppOptions {
        connect_timeout: Some(Duration::from_millis(1000)),
        ..AppOptions::default()
    })
    .await;
    let url = app.url.clone();
    let (reference, ours) = tokio::task::spawn_blocking(move || {
        let server = RefServer::start(&json!({"connectTimeout": 1000}));
        let ref_url = server.url();
        let reference = std::thread::spawn(move || {
            run_client("badinput.js", &[ref_url], Duration::from_secs(25))
        });
        let ours = run_client("badinput.js", &[url], Duration::from_secs(25));
        let reference = reference.join().expect("reference run");
        let reasons: BTreeMap<String, Option<String>> = cases(&reference)
            .into_iter()
            .map(|(name, obs)| {
                let reason = obs["sid"]
                    .as_str()
                    .and_then(|sid| server.disconnect_reason(sid, Duration::from_secs(2)));
                (name, reason)
            })
            .collect();
        ((reference, reasons), ours)
    })
    .await
    .expect("the node runs");
    let (reference, ref_reasons) = reference;
    reference.assert_success();
    ours.assert_success();

    let want = cases(&reference);
    let got = cases(&ours);
    let mut failures = Vec::new();
    for (name, expected) in &want {
        let Some(actual) = got.get(name) else {
            failures.push(format!("{name}: no observation"));
            continue;
        };
        if expected["received"] != actual["received"] {
            failures.push(format!(
                "{name}: received {} but the reference sends {}",
                actual["received"], expected["received"]
            ));
        }
        if expected["closed"] != actual["closed"] || !same_close(&expected["code"], &actual["code"])
        {
            failures.push(format!(
                "{name}: closed={} code={} but the reference closed={} code={}",
                actual["closed"], actual["code"], expected["closed"], expected["code"]
            ));
        }
        let reason = match actual["sid"].as_str() {
            Some(sid) => app.log.disconnect_reason(sid).await,
            None => None,
        };
        let ref_reason = ref_reasons.get(name).cloned().flatten();
        if reason != ref_reason {
            failures.push(format!(
                "{name}: server-side disconnect reason {reason:?}, reference {ref_reason:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ from the official server:\n  {}\n\nreference:\n{reference}\nours:\n{ours}",
        failures.len(),
        failures.join("\n  ")
    );
}
