//! `cargo bench -p socketio-bench --bench codec`: divan, one benchmark per
//! case/codec/operation/implementation (e.g. `codec::codec a/common/decode/ours`).
//!
//! Filter with divan's usual arguments, e.g. `-- a/common`. The side-by-side table of
//! `BENCHMARKS.md` comes from the `compare` bench (interleaved), via `bash bench/run-codec.sh`.

#[allow(dead_code)]
mod cases;

fn main() {
    divan::main();
}

#[divan::bench(args = cases::ids())]
fn codec(bencher: divan::Bencher, id: &str) {
    let mut contender = cases::take(id);
    bencher.bench_local(move || (contender.run)());
}
