#!/usr/bin/env python3
"""Desktop app memory and CPU: PSS summed over the app and its WebKit child
processes, window open and tray-only (--hidden); CPU idle and at 10 KPI
updates/s. Runs everything on 127.0.0.1 under its own Xvfb.

  python3 scripts/bench_desktop.py [--profile release|debug] [--seconds 20]

Prints a Markdown table (append it to BENCHMARKS.md by hand or via bench.sh).
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total


def wait_for(path, needle, timeout=90):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path) as f:
                if needle in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def run_case(exe, server_url, display, hidden, seconds):
    tmp = tempfile.mkdtemp()
    log = os.path.join(tmp, "app.log")
    env = dict(os.environ, DISPLAY=display, XDG_CONFIG_HOME=f"{tmp}/c", XDG_CACHE_HOME=f"{tmp}/k",
               WEBKIT_DISABLE_COMPOSITING_MODE="1", NO_AT_BRIDGE="1", RUST_LOG="info")
    args = [exe, "--server", server_url] + (["--hidden"] if hidden else [])
    with open(log, "w") as out:
        app = subprocess.Popen(["dbus-run-session", "--"] + args, env=env, stdout=out, stderr=out,
                               start_new_session=True)
    try:
        if not wait_for(log, 'state="live"'):
            raise SystemExit(f"app never went live; see {log}")
        if not hidden and not wait_for(log, "dashboard window opened"):
            raise SystemExit("window never opened")
        time.sleep(5)  # let start-up work settle before measuring
        pids = descendants(app.pid)
        c0, t0 = cpu_ticks(pids), time.time()
        time.sleep(seconds)
        pids = descendants(app.pid)
        c1, t1 = cpu_ticks(pids), time.time()
        return pss_kb(pids) / 1024.0, 100.0 * (c1 - c0) / TICKS / (t1 - t0)
    finally:
        os.killpg(app.pid, signal.SIGTERM)
        app.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="release")
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    exe = os.path.join(ROOT, "target", a.profile, "pulseboard")
    server = os.path.join(ROOT, "target", a.profile, "pulseboard-server")
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    display = ":" + xvfb.stdout.readline().decode().strip()
    rows = []
    try:
        for label, kpi_ms in (("idle (simulator off)", None), ("10 KPI updates/s", 400)):
            port = 47000 + (0 if kpi_ms is None else 1)
            db = tempfile.mktemp(suffix=".db")
            sargs = [server, "--listen", f"127.0.0.1:{port}", "--db", db]
            sargs += ["--no-simulator"] if kpi_ms is None else ["--kpi-interval-ms", str(kpi_ms), "--dashboard-interval-ms", "100000"]
            srv = subprocess.Popen(sargs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(1)
                for hidden in (False, True):
                    pss, cpu = run_case(exe, f"http://127.0.0.1:{port}", display, hidden, a.seconds)
                    rows.append((label, "tray only (--hidden)" if hidden else "window open", pss, cpu))
            finally:
                srv.terminate()
                srv.wait()
    finally:
        xvfb.terminate()
    print(f"| load | mode | PSS (app + WebKit), MB | CPU, % of one core ({a.profile} build, {a.seconds:.0f} s) |")
    print("|---|---|---|---|")
    for label, mode, pss, cpu in rows:
        print(f"| {label} | {mode} | {pss:.0f} | {cpu:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
