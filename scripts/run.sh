#!/usr/bin/env bash
# Run Pulseboard: the server with its demo simulator (--simulate), and the desktop app connected to it.
#   scripts/run.sh            (Ctrl-C stops both)
# Env: PULSEBOARD_PORT (default 4000), PULSEBOARD_TOKEN (default: a fresh random token).
# On a machine without a display it starts a virtual one (Xvfb) and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cargo build --locked -p pulseboard-server -p pulseboard -p pulseboard-cli

PORT="${PULSEBOARD_PORT:-4000}"
TOKEN="${PULSEBOARD_TOKEN:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}/pulseboard"
mkdir -p "$DATA"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

PULSEBOARD_TOKEN="$TOKEN" target/debug/pulseboard-server \
  --listen "127.0.0.1:$PORT" --db "$DATA/demo.db" --simulate &
pids+=($!)
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "Server with simulator on http://127.0.0.1:$PORT (token in \$PULSEBOARD_TOKEN for this run)."
echo "Send something:  target/debug/pulseboard-cli send --server http://127.0.0.1:$PORT --token $TOKEN alert --title 'Disk full' --severity critical"

export PULSEBOARD_SERVER="http://127.0.0.1:$PORT" PULSEBOARD_TOKEN="$TOKEN"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: starting the app on a virtual X display (Xvfb :77)."
  Xvfb :77 -screen 0 1400x900x24 >/dev/null 2>&1 &
  pids+=($!)
  export DISPLAY=:77  # the app picks its rendering path itself (no GPU here: software)
  dbus-run-session -- target/debug/pulseboard &
else
  target/debug/pulseboard &
fi
pids+=($!)
wait "${pids[-1]}"
