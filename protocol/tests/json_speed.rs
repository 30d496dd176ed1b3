//! A rough timing of the JSON readers on a ~10 KB document. Ignored by default; run with
//! `cargo test --release -p socketio-protocol --test json_speed -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use socketio_protocol::Value;
use socketio_protocol::json;

/// A ~10 KB event payload: a name then a list of chat-like records.
fn document() -> Vec<u8> {
    let mut text = String::from("[\"update\",[");
    let mut i = 0;
    while text.len() < 10_000 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            concat!(
                r#"{{"id":{},"user":"user-{}","text":"Hello \"world\" number {} — ünïcödé 😀","#,
                r#""score":{}.{}5,"ok":{},"tags":["a","bb","ccc"],"meta":{{"n":null,"depth":[1,[2,[3]]]}}}}"#
            ),
            i * 7919,
            i,
            i,
            i,
            i % 10,
            i % 2 == 0
        ));
        i += 1;
    }
    text.push_str("]]");
    text.into_bytes()
}

/// The best per-iteration time over 20 batches (the machine may be busy).
fn time(label: &str, iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let batch = (iterations / 20).max(1);
    let mut best = f64::MAX;
    for _ in 0..20 {
        let start = Instant::now();
        for _ in 0..batch {
            f();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(batch));
    }
    println!("{label:<44} {best:>10.0} ns");
    best
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn parse_vs_validate_on_10kb() {
    let doc = document();
    println!("document: {} bytes", doc.len());
    let n = std::env::var("JSON_SPEED_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    time("calibration: count quotes bytewise", n, || {
        black_box(black_box(&doc).iter().filter(|&&b| b == b'"').count());
    });
    time("core::str::from_utf8 (part of validate)", n, || {
        black_box(core::str::from_utf8(black_box(&doc))).unwrap();
    });
    let validate = time("json::validate", n, || {
        black_box(json::validate(black_box(&doc), 128)).unwrap();
    });
    time("json::validate_event", n, || {
        black_box(json::validate_event(black_box(&doc), 128)).unwrap();
    });
    let parse = time("json::parse", n, || {
        black_box(json::parse(black_box(&doc), 128)).unwrap();
    });
    time("serde_json::from_slice::<Value> (ours)", n, || {
        black_box(serde_json::from_slice::<Value>(black_box(&doc))).unwrap();
    });
    time("serde_json::from_slice::<serde_json::Value>", n, || {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&doc))).unwrap();
    });
    time("serde IgnoredAny (serde_json validation)", n, || {
        black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(
            &doc,
        )))
        .unwrap();
    });
    let value = json::parse(&doc, 128).unwrap();
    let mut out = Vec::with_capacity(doc.len());
    time("json::write", n, || {
        out.clear();
        json::write(black_box(&value), &mut out);
    });
    assert_eq!(out, doc);
    println!("parse / validate = {:.1}x", parse / validate);
}
