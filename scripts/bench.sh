#!/usr/bin/env bash
# Benchmarks for pulseboard-server and pulseboard-core; writes BENCHMARKS.md.
# Not part of the test run (scripts/test.sh, .ci/run).
#
#   scripts/bench.sh            full run: N = 1000, 5000, 10000 (about 5-8 min incl. build)
#   scripts/bench.sh --quick    N = 1000 only
#
# Needs: cargo, node >= 20 and npm (socket.io 4.8 from interop/package-lock.json).
# Everything listens on 127.0.0.1 only. With 2+ CPUs the server under test is
# pinned to CPU 0 and the load generator to CPU 1 (taskset), so the server's
# CPU time and RSS come from its own process only.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 1 ]; then SIZES=(1000); else SIZES=(1000 5000 10000); fi

start=$(date +%s)

# One fd per client in the load generator and in the server, plus a margin.
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" || true
need=$(( ${SIZES[-1]} + 1000 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  echo "open files limit $(ulimit -n) is below $need; raise it (ulimit -Hn) first" >&2
  exit 1
fi

cargo build --release -p pulseboard-bench -p pulseboard-server
if [ ! -f interop/node_modules/socket.io/package.json ]; then
  npm ci --prefix interop --no-audit --no-fund
fi

BIN=target/release/pulseboard-bench
mkdir -p target/bench
RESULTS=target/bench/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl
: > "$RESULTS"

if [ "$(nproc)" -ge 2 ]; then
  LOADGEN=(taskset -c 1)
  SERVER_CPU=(--server-cpu 0)
  ONE_CORE=(taskset -c 1)
else
  LOADGEN=()
  SERVER_CPU=()
  ONE_CORE=()
fi

for n in "${SIZES[@]}"; do
  for target in rust node; do
    echo "== server fan-out: $target, N=$n"
    "${LOADGEN[@]}" "$BIN" server --target "$target" --clients "$n" "${SERVER_CPU[@]}" \
      --rate 10 --broadcasts 100 --out "$RESULTS"
  done
done

echo "== core: decode + validate + apply, one core"
"${ONE_CORE[@]}" "$BIN" core-apply --out "$RESULTS"

echo "== core: server emit -> store update latency at 1000/s"
"$BIN" core-latency --rate 1000 --secs 10 --out "$RESULTS"

cmd="scripts/bench.sh${1:+ $*}"
"$BIN" report --results "$RESULTS" --out BENCHMARKS.md --command "$cmd" --wall-secs "$(( $(date +%s) - start ))"
echo "results: $RESULTS"
