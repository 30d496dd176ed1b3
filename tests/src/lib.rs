//! Shared helpers for the cross-crate, interop and conformance tests.
//!
//! - [`node`]: runs the pinned Node.js side in `tests/node` (installing it with `npm ci` first
//!   when needed).
//! - [`interop`]: runs the end-to-end client scripts (`tests/node/clients`) with time limits,
//!   the official reference server, and installs Chromium for the browser test.
//! - [`corpus`]: reads the cross-implementation codec corpus in `tests/data/corpus` and converts
//!   its descriptions to protocol types.

pub mod corpus;
pub mod interop;
pub mod node;
