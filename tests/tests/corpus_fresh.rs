//! The committed corpus (tests/data/corpus) is exactly what `tests/node/gen-corpus.js` produces
//! with the pinned packages: regenerate it into a temporary directory and compare.

use std::fs;

use socketio_tests::{corpus, node};

const FILES: [&str; 5] = [
    "engine-v4.json",
    "engine-v3.json",
    "socket-v5.json",
    "socket-v4.json",
    "msgpack.json",
];

#[test]
fn committed_corpus_matches_the_generator() {
    let out = std::env::temp_dir().join(format!("socketio-corpus-fresh-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    let output = node::run_script(
        "gen-corpus.js",
        [std::ffi::OsStr::new("--out"), out.as_os_str()],
    );
    assert!(
        output.status.success(),
        "gen-corpus.js failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut stale = Vec::new();
    for file in FILES {
        let fresh = fs::read(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let committed =
            fs::read(corpus::corpus_path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        if fresh != committed {
            stale.push(file);
        }
    }
    let _ = fs::remove_dir_all(&out);
    assert!(
        stale.is_empty(),
        "the committed corpus is out of date ({}): run `node tests/node/gen-corpus.js` and commit \
         tests/data/corpus",
        stale.join(", ")
    );
}
