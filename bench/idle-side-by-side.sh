#!/bin/bash
# Idle CPU of two Pulseboard builds and the hello-world app, side by side under one Xvfb
# screen (none covering another), each started directly as users run it (private XDG dirs and
# D-Bus session, no rendering variable), connected to one local pulseboard-server that sends
# nothing. Prints utime + stime ticks (10 ms) of each app and its WebKit processes per window.
#
#   bench/idle-side-by-side.sh APP_A APP_B HELLO SERVER [WINDOWS] [SECS]
#   e.g. bench/idle-side-by-side.sh /tmp/pb-before target/release/pulseboard \
#          target/release/hello-tauri target/release/pulseboard-server 3 180
set -u
[ $# -ge 4 ] || { sed -n 2,9p "$0"; exit 2; }
A=$(realpath "$1"); B=$(realpath "$2"); H=$(realpath "$3"); S=$(realpath "$4")
WINDOWS=${5:-3}; SECS=${6:-180}
for t in Xvfb dbus-run-session xdotool xwininfo pstree curl; do
  command -v $t >/dev/null || { echo "$t is missing (scripts/deps-test.sh installs it)"; exit 2; }
done
W=$(mktemp -d)
DISP=:$((90 + RANDOM % 100))
PORT=$((40000 + RANDOM % 20000))
Xvfb $DISP -screen 0 3700x900x24 -nolisten tcp >/dev/null 2>&1 &
XPID=$!
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -- -"$p" 2>/dev/null; done
  kill $SPID $XPID 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -e /tmp/.X11-unix/X${DISP#:} ] && break; sleep 0.1; done
"$S" --listen 127.0.0.1:$PORT --token idle --db "$W/server.db" > "$W/server.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/healthz && break; sleep 0.1; done
start() { # name exe args...
  local n=$1; shift
  mkdir -p "$W/$n"
  DISPLAY=$DISP XDG_CONFIG_HOME="$W/$n/config" XDG_CACHE_HOME="$W/$n/cache" \
    XDG_DATA_HOME="$W/$n/data" NO_AT_BRIDGE=1 RUST_LOG=info \
    setsid dbus-run-session -- "$@" > "$W/$n/log" 2>&1 &
  PIDS+=($!)
  echo $! > "$W/$n/pid"
  echo "$1" > "$W/$n/exe"
}
start a "$A" --server http://127.0.0.1:$PORT --token idle
start b "$B" --server http://127.0.0.1:$PORT --token idle
start hello "$H"
for _ in $(seq 300); do
  grep -q 'state="live"' "$W/a/log" && grep -q 'state="live"' "$W/b/log" && break
  sleep 0.2
done
grep -h "rendering path" "$W/a/log" "$W/b/log"
sleep 5
x=0
for n in a b hello; do
  exe=$(sed -n 1p "$W/$n/exe")
  app=$(pgrep -P "$(cat "$W/$n/pid")" -f "^$exe" | head -1)
  for w in $(DISPLAY=$DISP xdotool search --pid "$app" 2>/dev/null); do
    width=$(DISPLAY=$DISP xwininfo -id $w | awk '/Width:/{print $2}')
    if [ "${width:-0}" -gt 100 ]; then DISPLAY=$DISP xdotool windowmove $w $x 0; x=$((x + 1220)); fi
  done
done
DISPLAY=$DISP xwininfo -root -children | grep -E '"(Pulseboard|Hello)"' | sed 's/^ */window: /'
sleep 15
# utime + stime of each process (not thread) of the tree: the app, its WebKit processes,
# its session bus
ticks() {
  local total=0
  for p in $(pstree -p "$1" | grep -o '([0-9]*)' | tr -d '()'); do
    [ -r /proc/$p/status ] || continue
    # threads share their process's figures: count thread-group leaders only
    [ "$(awk '/^Tgid:/{print $2}' /proc/$p/status)" = "$p" ] || continue
    set -- $(sed 's/.*) //' /proc/$p/stat)
    total=$((total + ${12} + ${13}))
  done
  echo $total
}
for w in $(seq "$WINDOWS"); do
  a0=$(ticks $(cat "$W/a/pid")); b0=$(ticks $(cat "$W/b/pid")); h0=$(ticks $(cat "$W/hello/pid"))
  t0=$(date -u +%T)
  sleep "$SECS"
  a1=$(ticks $(cat "$W/a/pid")); b1=$(ticks $(cat "$W/b/pid")); h1=$(ticks $(cat "$W/hello/pid"))
  echo "window $w $t0-$(date -u +%T) UTC, ${SECS} s, ticks: A $((a1 - a0))  B $((b1 - b0))  hello $((h1 - h0))  (load $(cut -d' ' -f1 /proc/loadavg))"
done
