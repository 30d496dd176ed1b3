#!/usr/bin/env bash
# Whole-server benchmarks side by side (bench/CONTENDERS.md): ours on tokio and on smol,
# socketioxide, the official Node server and the raw floor, driven by the lean load generator.
# Builds everything, makes sure Node's packages are installed, runs the harness and rewrites
# the section of BENCHMARKS.md between <!-- servers:begin --> and <!-- servers:end -->.
#
#   bash bench/run-servers.sh                       # full run (3 runs; ~15-20 minutes on 2 cores)
#   bash bench/run-servers.sh --runs 5 --big        # extra arguments go to socketio-bench-run
#   bash bench/run-servers.sh --quick                # smoke run (~50 s), prints the report only
#   bash bench/run-servers.sh --scenarios scaling    # 1 vs 2 worker threads per contender
#   bash bench/run-servers.sh --scenarios cluster    # 2 nodes on Redis (127.0.0.1:6379, or --redis URL);
#                                                    # rewrites <!-- cluster:begin --> … <!-- cluster:end --> only
#   bash bench/run-servers.sh --contenders ours-tokio,socketioxide --scenarios fanout
#
# Raw results are left in target/server-bench/ (results.json, one log per contender).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p socketio-bench --bins

# Node's socket.io is pinned by tests/node/package-lock.json.
if [ ! -f tests/node/node_modules/socket.io/package.json ]; then
  npm ci --prefix tests/node --no-audit --no-fund
fi

# The commit measured; BENCH_COMMIT overrides it (e.g. when run from an exported tree).
if [ -n "${BENCH_COMMIT:-}" ]; then
  commit="$BENCH_COMMIT"
elif commit="$(git rev-parse --short HEAD 2>/dev/null)"; then
  git diff --quiet HEAD -- protocol socketio runtime-tokio runtime-async-std adapter-redis bench \
    || commit="$commit+dirty"
else
  commit=unknown
fi

# A --quick run is a smoke test: print its report, do not write it.
write=(--write BENCHMARKS.md)
for arg in "$@"; do
  if [ "$arg" = --quick ]; then write=(); fi
done

target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
exec "$target_dir/release/socketio-bench-run" \
  "${write[@]}" \
  --commit "$commit" \
  --date "$(date -u +'%Y-%m-%d %H:%M UTC')" \
  --rustc "$(rustc --version)" \
  --command "bash bench/run-servers.sh${*:+ $*}" \
  "$@"
