#!/usr/bin/env bash
# What only the tests need, beyond scripts/deps.sh:
# - tsc (TypeScript, npm, from the root package.json) for the type check of ui/js,
# - WebKitWebDriver (Debian webkit2gtk-driver) and tauri-driver for the webview e2e tests,
# - the official Node socket.io / socket.io-client 4.8 for the interop tests,
# - nginx (Debian nginx-light) for the reverse-proxy test of docs/deploy/nginx.conf,
# - PostgreSQL and redis-server, which the storage and cluster tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

# WebKitWebDriver (webkit2gtk-driver) drives the webview; `import` (imagemagick)
# takes the e2e screenshots from the virtual screen; desktop-file-validate
# (desktop-file-utils) checks the autostart entry; trayer (an XEmbed tray),
# dunst (a notification daemon) and xdotool (clicks, keys) are the real
# desktop parts of e2e/tests/desktop_parts.rs; xdotool also puts the desktop
# benchmark's idle windows side by side.
if ! command -v WebKitWebDriver >/dev/null 2>&1 || ! command -v import >/dev/null 2>&1 \
    || ! command -v desktop-file-validate >/dev/null 2>&1 || ! command -v xdotool >/dev/null 2>&1 \
    || ! command -v trayer >/dev/null 2>&1 || ! command -v dunst >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends webkit2gtk-driver imagemagick desktop-file-utils xdotool trayer dunst
fi
# nginx runs docs/deploy/nginx.conf in crates/server/tests/nginx.rs.
if ! [ -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light
fi
# PostgreSQL (initdb/pg_ctl in /usr/lib/postgresql/*/bin) and Redis 7: the
# storage suite and the cluster tests run them as plain processes in temp dirs.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql redis-server
  # Debian starts system-wide services on install; the tests start their own.
  $SUDO systemctl disable --now postgresql redis-server >/dev/null 2>&1 || true
fi
if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install tauri-driver --locked --version 2.1.0
fi
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
npm ci --prefix interop --no-audit --no-fund --loglevel=error
# TypeScript (tsc) checks ui/js against the IPC types generated from Rust
# (package.json at the root: development only, outside ui/, which ships as it is).
npm ci --no-audit --no-fund --loglevel=error
