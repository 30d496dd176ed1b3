#!/usr/bin/env bash
# What Prometheus metrics cost: our contender (`socketio-bench-ours --runtime tokio`) with
# `--metrics` and without, interleaved (the order alternates each repetition), on the fan-out
# (saturation: deliveries/s) and echo-with-ack (acks/s) scenarios of socketio-bench-load.
# Prints each measurement (the rate, and the server's CPU time per delivery or ack in ns, which
# other load on the machine disturbs less) and the ratios of the medians (on / off).
#
#   bash bench/run-metrics.sh [--reps N] [--fanout-clients N] [--echo-clients N] [--duration-ms MS]
#
# Defaults: 5 repetitions, 1,000 fan-out clients, 100 echo clients, 3 s per measurement
# (about a minute and a half in all).
set -euo pipefail

reps=5
fanout_clients=1000
echo_clients=100
duration_ms=3000
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reps) reps=$2; shift 2 ;;
        --fanout-clients) fanout_clients=$2; shift 2 ;;
        --echo-clients) echo_clients=$2; shift 2 ;;
        --duration-ms) duration_ms=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --locked -p socketio-bench --bin socketio-bench-ours --bin socketio-bench-load \
    --manifest-path "$root/Cargo.toml" >&2
bin=$target/release
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# measure <on|off> <mode>: one fresh server, one generator run; appends `<metrics> <mode> <value>`.
measure() {
    local metrics=$1 mode=$2 flag=()
    [[ $metrics == on ]] && flag=(--metrics)
    coproc SERVER { exec "$bin/socketio-bench-ours" --runtime tokio "${flag[@]}"; }
    local line port pid=$SERVER_PID
    read -r line <&"${SERVER[0]}"
    port=${line#LISTENING }
    local out
    if [[ $mode == fanout ]]; then
        out=$("$bin/socketio-bench-load" fanout --port "$port" --server-pid "$pid" \
            --n "$fanout_clients" --duration-ms "$duration_ms" --latency-ms 1000)
    else
        out=$("$bin/socketio-bench-load" echo --port "$port" --server-pid "$pid" \
            --n "$echo_clients" --duration-ms "$duration_ms")
    fi
    exec {SERVER[1]}>&-
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local value
    value=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); n=r.get("deliveries") or r.get("acks"); print(r.get("deliveries_per_s") or r.get("acks_per_s"), r["server_cpu_s"] / n * 1e9)' "$out")
    echo "$metrics $mode $value" | tee -a "$results"
}

for rep in $(seq 1 "$reps"); do
    if (( rep % 2 )); then order=(off on); else order=(on off); fi
    for mode in fanout echo; do
        for metrics in "${order[@]}"; do
            measure "$metrics" "$mode"
        done
    done
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
for mode, unit in (("fanout", "deliveries/s"), ("echo", "acks/s")):
    for at, what in ((2, unit), (3, "server CPU ns per op")):
        off = [float(r[at]) for r in rows if r[0] == "off" and r[1] == mode]
        on = [float(r[at]) for r in rows if r[0] == "on" and r[1] == mode]
        moff, mon = statistics.median(off), statistics.median(on)
        print(f"{mode}: {what}: off median {moff:,.0f} (n={len(off)}), on median {mon:,.0f} "
              f"(n={len(on)}), on/off = {mon / moff:.3f}")
EOF
