#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, the no_std build, every test of every crate
# (including the interop tests against the official npm packages, installed from the committed
# lock file on first use). Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required but not installed" >&2; exit 1; }; }
need cargo
need node
need npm

if [ ! -d tests/node/node_modules ]; then
  echo "==> installing the pinned npm packages (tests/node/package-lock.json)"
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (workspace, all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> no_std build of the protocol core"
cargo build -p socketio-protocol --no-default-features --locked

echo "==> no_std build of the embedded client"
cargo build -p socketio-embedded --no-default-features --locked

echo "==> cargo test (workspace)"
cargo test --workspace --locked --no-fail-fast
