#!/usr/bin/env bash
# Side-by-side codec benchmarks: ours vs socketioxide's codec crates vs Node's reference parsers,
# on byte-identical inputs, in one invocation. Rewrites the section of BENCHMARKS.md between
# <!-- codec:begin --> and <!-- codec:end -->.
#
#   bash bench/run-codec.sh            # full run (~1-2 minutes after the build), writes BENCHMARKS.md
#   bash bench/run-codec.sh --quick    # smoke run (a few seconds), prints the table only
#   bash bench/run-codec.sh --no-write # full run, prints the table only
#
# Raw results are left in target/codec-bench/ (rust.json, node.json, fixtures.json).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
write=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick="--quick"; write=0 ;;
    --no-write) write=0 ;;
    *) echo "usage: bash bench/run-codec.sh [--quick] [--no-write]" >&2; exit 2 ;;
  esac
done

root="$PWD"
out="$root/target/codec-bench"  # absolute: cargo runs benches from the package directory
mkdir -p "$out"

# Node's packages are pinned by tests/node/package-lock.json.
if [ ! -d tests/node/node_modules/socket.io-parser ] || [ ! -d tests/node/node_modules/engine.io-parser ] \
  || [ ! -d tests/node/node_modules/socket.io-msgpack-parser ]; then
  (cd tests/node && npm ci --no-audit --no-fund)
fi

cargo bench -p socketio-bench --bench compare --no-run
compare() { cargo bench -q -p socketio-bench --bench compare -- "$@"; }

compare fixtures "$out/fixtures.json"
echo "== Rust: ours vs socketioxide (interleaved)" >&2
compare run $quick --json "$out/rust.json"
echo "== Node: socket.io-parser, socket.io-msgpack-parser, engine.io-parser" >&2
node bench/node/codec-bench.js "$out/fixtures.json" $quick > "$out/node.json"

# The commit measured; BENCH_COMMIT overrides it (e.g. when run from an exported tree).
if [ -n "${BENCH_COMMIT:-}" ]; then
  commit="$BENCH_COMMIT"
elif commit="$(git rev-parse --short HEAD 2>/dev/null)"; then
  git diff --quiet HEAD -- protocol bench || commit="$commit+dirty"
else
  commit=unknown
fi
report=(report --rust "$out/rust.json" --node "$out/node.json" --commit "$commit"
  --date "$(date -u +'%Y-%m-%d %H:%M UTC')" --rustc "$(rustc --version)"
  --command "bash bench/run-codec.sh")
if [ "$write" = 1 ]; then
  compare "${report[@]}" --markdown "$root/BENCHMARKS.md"
  echo "== BENCHMARKS.md updated" >&2
else
  compare "${report[@]}"
fi
