#!/usr/bin/env bash
# The hostile-input table (bench/src/bin/socketio-bench-hostile.rs): ping flood, dripping
# POST bodies with and without sid, 1 MB events next to idle bystanders, a client that never
# reads, a polling handshake flood and slowloris heads, each against a fresh process of ours on
# tokio, ours on smol and the official Node server. Records what the client saw and the
# server's peak RSS; rewrites the section of BENCHMARKS.md between <!-- hostile:begin --> and
# <!-- hostile:end -->. About 3 × 7 cases of at most ~30 s each (7-10 minutes).
#
#   bash bench/run-hostile.sh                         # everything, writes BENCHMARKS.md
#   bash bench/run-hostile.sh --no-write --cases ping-flood,slowloris --contenders ours-tokio
#
# Raw results and the contenders' stderr: target/hostile/.
set -euo pipefail
cd "$(dirname "$0")/.."

write=(--write BENCHMARKS.md)
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-write) write=(); shift ;;
    --cases|--contenders) args+=("$1" "$2"); shift 2 ;;
    *) echo "run-hostile.sh: unknown argument $1 (--cases a,b, --contenders a,b, --no-write)" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p socketio-bench --bins

if [ ! -f tests/node/node_modules/socket.io/package.json ]; then
  npm ci --prefix tests/node --no-audit --no-fund
fi

# 1,000 connections per case on each side, plus spare: raise the soft limit to the hard one.
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ]; then hard=1048576; fi
ulimit -n "$hard"
if [ "$hard" -lt 2500 ]; then
  echo "run-hostile.sh: needs 2,500 open files per process; the hard limit is $hard" >&2
  exit 1
fi

if [ -n "${BENCH_COMMIT:-}" ]; then
  commit="$BENCH_COMMIT"
elif commit="$(git rev-parse --short HEAD 2>/dev/null)"; then
  git diff --quiet HEAD -- protocol socketio runtime-tokio runtime-async-std bench \
    || commit="$commit+dirty"
else
  commit=unknown
fi

mkdir -p target/hostile
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
# Each case bounds itself (60 s backstop each); the whole run is bounded too.
exec timeout --signal=TERM --kill-after=30 1800 "$target_dir/release/socketio-bench-hostile" \
  "${write[@]}" \
  --out target/hostile \
  --commit "$commit" \
  --date "$(date -u +'%Y-%m-%d %H:%M UTC')" \
  --command "bash bench/run-hostile.sh${args[*]:+ ${args[*]}}" \
  "${args[@]}"
