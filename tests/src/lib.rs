//! Shared helpers for the cross-crate, interop and conformance tests.
//!
//! - [`node`]: runs the pinned Node.js side in `tests/node` (installing it with `npm ci` first
//!   when needed).
//! - [`interop`]: runs the end-to-end client scripts (`tests/node/clients`) with time limits,
//!   the official reference server, and installs Chromium for the browser test.
//! - [`client_suite`]: the test app on the official server or on this project's, behind a TCP
//!   proxy that can cut connections, for the Rust client and `sio` tests.
//! - [`executor`]: the three executors (tokio, async-std, smol) the suites run on, and
//!   [`executor_tests!`], which runs one set of async test bodies on each.
//! - [`raw`]: raw-socket HTTP and WebSocket peers for the hostile-input tests.
//! - [`cluster`]: the cluster conformance app (Redis adapter) on this project's server;
//!   [`cluster_support`]: nodes, recording clients and a Redis of a test's own for the
//!   cluster tests.
//! - [`corpus`]: reads the cross-implementation codec corpus in `tests/data/corpus` and converts
//!   its descriptions to protocol types.

pub mod client_suite;
pub mod cluster;
pub mod cluster_support;
pub mod corpus;
pub mod executor;
pub mod interop;
pub mod node;
pub mod raw;
