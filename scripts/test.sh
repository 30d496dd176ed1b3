#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, the no_std build, every test of every crate
# (including the interop tests against the official npm packages, installed from the committed
# lock file on first use, and the Redis cluster tests, starting redis-server when nothing
# answers on 127.0.0.1:6379). Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is required but not installed" >&2; exit 1; }; }
need cargo
need node
need npm

# The Redis cluster tests (tests/tests/cluster_redis*.rs, socketio-redis) need Redis on
# 127.0.0.1:6379; they fail (never skip) without it. Start one when nothing answers there.
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
if ! redis_up; then
  need redis-server
  echo "==> starting redis-server on 127.0.0.1:6379 (nothing answered there)"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/socketio-test-redis.log
  for _ in $(seq 100); do redis_up && break; sleep 0.1; done
  redis_up || { echo "error: redis-server did not start (see /tmp/socketio-test-redis.log)" >&2; exit 1; }
fi

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
