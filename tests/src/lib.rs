//! Shared helpers for the cross-crate, interop and conformance tests.
