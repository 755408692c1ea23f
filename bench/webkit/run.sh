#!/bin/bash
# What WebKitGTK's software path costs for the page at one load, and how much
# each frame repaints (BENCHMARKS.md section 3). From the repository root:
#   bench/webkit/run.sh [MOCK [SECS]]     MOCK: finance10 (default) | bursts | idle | live ...
#   EXTRA_CSS='.module-card{contain:none}' bench/webkit/run.sh finance10 15
#   EXTRA_JS='console.log("PAGE", 1)' SHOW_LOG=PAGE bench/webkit/run.sh
# (SHOW_LOG: print the page's console lines that contain it, at the end).
#   PAINT_SECS=130 POINTER=1279,1023 bench/webkit/run.sh idle 1
# (PAINT_SECS: how long the paint buffers are traced, 3 s unless set; POINTER:
# where the pointer is put first. With no window manager, the window under the
# pointer has the focus: Xvfb puts it in the screen's middle, over the window;
# 1279,1023 is beside it, so the window is inactive, as one in the background.
# WebKit drops its UI-side copy of an inactive view 10 s after a paint, so
# such a window repaints all of itself at its next update: BENCHMARKS.md
# section 3.)
# A whole-view repaint every 100 ms (what one costs; BENCHMARKS.md section 3):
#   EXTRA_JS='let f=0; setInterval(()=>{f^=1; document.body.style.background = f ? "rgb(246,247,249)" : "rgb(246,247,250)";}, 100);' bench/webkit/run.sh idle 20
# Serves the repository (ui/ + preview/) on a free port, opens ui/ with the
# preview's mock in a plain WebKitGTK window (window.py) under its own Xvfb,
# and prints the CPU of the host and web processes over SECS and the sizes of
# the paint buffers of 3 s of frames (each frame on the software path is a
# fresh shared-memory buffer the size of its damaged area: strace ftruncate).
# Needs Xvfb and, not installed by scripts/ (a benchmark, not a test):
#   apt-get install strace python3-gi gir1.2-webkit2-4.1
# CPU figures move between runs: compare runs interleaved in one session.
set -eu
MOCK=${1:-finance10}; SECS=${2:-15}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
cleanup() { kill "${HPID:-}" "${XPID:-}" "${SPID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
DISP=:$((200 + RANDOM % 600))
Xvfb "$DISP" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 & XPID=$!
/usr/bin/python3 - "$ROOT" "$T/port" >/dev/null 2>&1 <<'PY' & SPID=$!
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)
open(sys.argv[2], 'w').write(str(s.server_address[1]))
s.serve_forever()
PY
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$T/port")/ui/index.html?mock=$MOCK"
DISPLAY=$DISP NO_AT_BRIDGE=1 XDG_CACHE_HOME=$T /usr/bin/python3 "$ROOT/bench/webkit/window.py" "$URL" > "$T/log" 2>&1 & HPID=$!
WEB=
for _ in $(seq 100); do WEB=$(pgrep -P $HPID -f WebKitWebProcess | head -1 || true); [ -n "$WEB" ] && break; sleep 0.1; done
[ -n "$WEB" ] || { echo "no web process"; cat "$T/log"; exit 1; }
sleep 4  # start-up work settles (a benchmark, not a test)
[ -z "${POINTER:-}" ] || DISPLAY=$DISP xdotool mousemove "${POINTER%,*}" "${POINTER#*,}"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
timeout "${PAINT_SECS:-3}" strace -f -e trace=ftruncate -p "$WEB" -o "$T/strace" 2>/dev/null || true
a0=$(ticks $HPID); w0=$(ticks "$WEB"); sleep "$SECS"; a1=$(ticks $HPID); w1=$(ticks "$WEB")
HZ=$(getconf CLK_TCK)
pct() { echo "scale=2; ($2 - $1) * 100 / $HZ / $SECS" | bc; }
echo "mock=$MOCK ${EXTRA_CSS:+css=[$EXTRA_CSS] }host%=$(pct "$a0" "$a1") web%=$(pct "$w0" "$w1") frames/${PAINT_SECS:-3}s=$(grep -c ftruncate "$T/strace" || true) paint bytes (count size): $(grep -o 'ftruncate([0-9]*, [0-9]*' "$T/strace" | awk '{print $2}' | sort | uniq -c | sort -rn | head -4 | tr -s ' \n' ' ')"
[ -z "${SHOW_LOG:-}" ] || grep -F -- "$SHOW_LOG" "$T/log" | tail -n 20 || true
