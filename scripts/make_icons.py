#!/usr/bin/env python3
"""Draw Pulseboard's app and tray icons (PNG, RGBA) with no dependencies.

A coloured disc with a white pulse line; the tray icons differ by colour and
mark so the state is readable at 22 px (Linux trays show no tooltip).
Run: python3 scripts/make_icons.py  (writes into icons/)
"""
import math
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "icons")

PULSE = [(0.12, 0.55), (0.34, 0.55), (0.43, 0.30), (0.55, 0.78), (0.64, 0.45), (0.70, 0.55), (0.88, 0.55)]


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def draw(size, colour, mark=None, badge=None, unread=False):
    ss = 4
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(ss):
                for sx in range(ss):
                    u = (x + (sx + 0.5) / ss) / size
                    v = (y + (sy + 0.5) / ss) / size
                    px = None
                    if math.hypot(u - 0.5, v - 0.5) <= 0.47:
                        px = colour
                        line = PULSE if mark is None else mark
                        d = min(seg_dist(u, v, *line[i], *line[i + 1]) for i in range(len(line) - 1))
                        if d <= 0.045:
                            px = (255, 255, 255)
                    if unread and math.hypot(u - 0.80, v - 0.80) <= 0.19:
                        px = (255, 255, 255) if math.hypot(u - 0.80, v - 0.80) > 0.14 else UNREAD
                    if badge and math.hypot(u - 0.80, v - 0.20) <= 0.19:
                        px = (255, 255, 255) if math.hypot(u - 0.80, v - 0.20) > 0.14 else badge
                    if px:
                        acc[0] += px[0]
                        acc[1] += px[1]
                        acc[2] += px[2]
                        acc[3] += 255
            n = ss * ss
            a = acc[3] / n
            if a:
                row += bytes([int(acc[0] / (acc[3] / 255)), int(acc[1] / (acc[3] / 255)), int(acc[2] / (acc[3] / 255)), int(a)])
            else:
                row += bytes(4)
        rows.append(bytes(row))
    return rows


def png(path, rows):
    h, w = len(rows), len(rows[0]) // 4
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


BLUE, GREEN, AMBER, GREY, RED = (37, 99, 235), (22, 163, 74), (217, 119, 6), (107, 114, 128), (220, 38, 38)
# The unread dot (bottom right): darker than the app blue so it stands out on
# every state's colour.
UNREAD = (30, 64, 175)
FLAT = [(0.14, 0.55), (0.86, 0.55)]
CROSS = [(0.32, 0.32), (0.68, 0.68), (0.5, 0.5), (0.32, 0.68), (0.68, 0.32)]

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for s in (32, 128, 256):
        png(os.path.join(OUT, f"{s}x{s}.png" if s != 256 else "icon.png"), draw(s, BLUE))
    png(os.path.join(OUT, "tray-live.png"), draw(64, GREEN))
    png(os.path.join(OUT, "tray-reconnecting.png"), draw(64, AMBER))
    png(os.path.join(OUT, "tray-offline.png"), draw(64, GREY, mark=FLAT))
    png(os.path.join(OUT, "tray-unauthorized.png"), draw(64, RED, mark=CROSS))
    # A critical alert not dismissed adds a red dot to the state's icon.
    png(os.path.join(OUT, "tray-critical.png"), draw(64, GREEN, badge=RED))
    png(os.path.join(OUT, "tray-reconnecting-critical.png"), draw(64, AMBER, badge=RED))
    png(os.path.join(OUT, "tray-offline-critical.png"), draw(64, GREY, mark=FLAT, badge=RED))
    # Unread notifications add a blue dot at the bottom right, with or
    # without the alert's red dot (the title beside the icon carries the
    # count where the desktop shows titles).
    for name, colour, mark in (("live", GREEN, None), ("reconnecting", AMBER, None), ("offline", GREY, FLAT)):
        crit = "critical" if name == "live" else f"{name}-critical"
        png(os.path.join(OUT, f"tray-{name}-unread.png"), draw(64, colour, mark=mark, unread=True))
        png(os.path.join(OUT, f"tray-{crit}-unread.png"), draw(64, colour, mark=mark, badge=RED, unread=True))
    print("icons written to", os.path.normpath(OUT))
