#!/usr/bin/env bash
# Benchmarks for pulseboard-server, pulseboard-core and the desktop app;
# writes BENCHMARKS.md. Not part of the test run (scripts/test.sh, .ci/run).
#
#   scripts/bench.sh                full run: N = 1000, 5000, 10000, the cluster
#                                   (4 min) and a 10-minute desktop flood (about
#                                   25 min once built)
#   scripts/bench.sh --quick        N = 1000 only, 1-minute desktop flood
#   scripts/bench.sh --no-desktop   server and core only
#
# Needs what scripts/deps.sh and scripts/deps-test.sh install (it runs them:
# Xvfb, WebKitWebDriver, tauri-driver, node + socket.io 4.8, PostgreSQL and
# redis-server for the cluster benchmark) and cargo-tauri
# for the .deb (installed here when missing: one-time, ~10 min).
# Everything listens on 127.0.0.1 only. With 2+ CPUs the server under test is
# pinned to CPU 0 and the load generator to CPU 1 (taskset), so the server's
# CPU time and RSS come from its own process only.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
DESKTOP=1
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --no-desktop) DESKTOP=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 1 ]; then SIZES=(1000); FLOOD=60; else SIZES=(1000 5000 10000); FLOOD=600; fi

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

scripts/deps.sh
scripts/deps-test.sh
if [ "$DESKTOP" = 1 ]; then
  if ! cargo tauri --version >/dev/null 2>&1; then
    cargo install tauri-cli --locked --version 2.12.4
  fi
  # The release app and its .deb (target/release/bundle/deb/), as shipped.
  (cd src-tauri && cargo tauri build --bundles deb)
fi
cargo build --release -p pulseboard-bench -p pulseboard-server -p hello-tauri
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

echo "== cluster: one node vs 3 nodes + Redis on one PostgreSQL (started here)"
"$BIN" cluster --clients 600 --rate 20,100,200 --secs 10 --out "$RESULTS"

echo "== core: decode + validate + apply, one core"
"${ONE_CORE[@]}" "$BIN" core-apply --out "$RESULTS"

echo "== core: server emit -> store update latency at 1000/s"
"$BIN" core-latency --rate 1000 --secs 10 --out "$RESULTS"

if [ "$DESKTOP" = 1 ]; then
  echo "== desktop: pulseboard vs hello-world Tauri (memory, CPU, first paint, emit -> DOM, ${FLOOD} s flood)"
  "$BIN" desktop --flood-secs "$FLOOD" --out "$RESULTS"
fi

cmd="scripts/bench.sh${1:+ $*}"
"$BIN" report --results "$RESULTS" --out BENCHMARKS.md --command "$cmd" --wall-secs "$(( $(date +%s) - start ))"
echo "results: $RESULTS"
