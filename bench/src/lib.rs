//! Side-by-side codec benchmarks (not published).
//!
//! The benchmarks themselves live in `benches/`: `codec` (divan, one benchmark per
//! case × codec × operation × implementation) and `compare` (an interleaved timing loop that
//! prints JSON and writes the table of `BENCHMARKS.md`). The peers, socketioxide's codec
//! crates, are dev-dependencies, so they only build for the benches. This library only holds
//! what does not depend on them: the [`fixtures`], the timing [`harness`] and the [`report`];
//! and, for the soak and the hostile-input binaries, the [`contender`] process handling, a raw
//! WebSocket client ([`wsraw`]) and a PNG line [`chart`].
//!
//! Run `bash bench/run-codec.sh` from the workspace root.

pub mod chart;
pub mod contender;
pub mod fixtures;
pub mod harness;
pub mod report;
pub mod wsraw;
