#!/usr/bin/env bash
# Install what Pulseboard needs to build, run and test on Debian/Ubuntu.
# Installs only what is missing; needs root or sudo for that.
set -euo pipefail

PACKAGES=(
  # build: Rust crates with C parts, Tauri/WebKitGTK, tray, notifications
  build-essential pkg-config libssl-dev curl
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  # run and test headless: X server, private D-Bus sessions
  xvfb xauth dbus dbus-x11
  # UI tests
  nodejs
)

missing=()
for p in "${PACKAGES[@]}"; do
  # dpkg-query prints "install ok installed" for installed packages
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
# A Node.js installed outside apt (nvm, tarball) is fine too.
if command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))

if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: no Rust toolchain found. Install Rust (stable >= 1.88) from https://rustup.rs, then run this again." >&2
  exit 1
fi
