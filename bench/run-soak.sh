#!/usr/bin/env bash
# The soak (bench/src/bin/socketio-bench-soak.rs): N WebSocket clients with churn and
# broadcasts for M minutes per contender (ours on tokio, ours on smol, the official Node
# server, one after the other), the server's RSS and open descriptors sampled every 10 s.
# Writes target/soak/ (CSV per contender, results.json, stderr logs), bench/soak.png, and the
# section of BENCHMARKS.md between <!-- soak:begin --> and <!-- soak:end -->.
#
#   bash bench/run-soak.sh                          # 10 minutes × 5,000 connections × 3
#   bash bench/run-soak.sh --minutes 3 --connections 2000
#   bash bench/run-soak.sh --contenders ours-tokio --minutes 1 --no-write
#   bash bench/run-soak.sh -- --churn-fraction 0.2  # anything after -- goes to the binary
#
# Exit status 1 if a contender lost an ack or a tick, had a client dropped, leaked a descriptor
# or died (the report is written first).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
connections=5000
contenders=ours-tokio,ours-smol,node
write=(--write BENCHMARKS.md)
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --contenders) contenders="$2"; shift 2 ;;
    --no-write) write=(); shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "run-soak.sh: unknown argument $1 (--minutes M, --connections N, --contenders a,b, --no-write, -- ...)" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p socketio-bench --bins

# Node's socket.io is pinned by tests/node/package-lock.json.
case ",$contenders," in
  *,node,*)
    if [ ! -f tests/node/node_modules/socket.io/package.json ]; then
      npm ci --prefix tests/node --no-audit --no-fund
    fi ;;
esac

# Each process (the soak's clients, and each contender) holds every connection plus ghosts:
# raise the soft open-files limit to the hard one.
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ]; then hard=1048576; fi
ulimit -n "$hard"
need=$((connections + connections / 5 + 500))
if [ "$hard" -lt "$need" ]; then
  echo "run-soak.sh: $connections connections need about $need open files per process; the hard limit is $hard" >&2
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

mkdir -p target/soak
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
# The run takes minutes × contenders plus about a minute each to connect and drain: bound it.
n_contenders=$(echo "$contenders" | tr ',' '\n' | grep -c .)
limit=$(awk -v m="$minutes" -v c="$n_contenders" 'BEGIN { printf "%d", (m * 60 + 180) * c + 60 }')
exec timeout --signal=TERM --kill-after=30 "$limit" "$target_dir/release/socketio-bench-soak" \
  "${write[@]}" \
  --minutes "$minutes" \
  --connections "$connections" \
  --contenders "$contenders" \
  --out target/soak \
  --png bench/soak.png \
  --commit "$commit" \
  --date "$(date -u +'%Y-%m-%d %H:%M UTC')" \
  --command "bash bench/run-soak.sh --minutes $minutes --connections $connections" \
  "${extra[@]}"
