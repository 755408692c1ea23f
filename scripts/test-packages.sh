#!/usr/bin/env bash
# Build the Debian packages and test them on this machine: dpkg -i, the
# installed desktop app under Xvfb (single instance), the installed server
# with its packaged config, an upgrade, dpkg -r and dpkg --purge.
# Needs root (it installs system-wide); CI runs it after scripts/test.sh.
#
#   scripts/test-packages.sh            release packages (what ships)
#   scripts/test-packages.sh --debug    debug packages (reuses the test build)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/package.sh "$@"
scripts/deps-test.sh
# systemd-analyze (verify the unit) and dbus-daemon/dbus-send come with these.
need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v dbus-send >/dev/null 2>&1 || need+=(dbus-bin)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
if ((${#need[@]})); then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
PULSEBOARD_DIST="$(pwd)/dist" cargo test --locked -p pulseboard-e2e --test packages -- --ignored --nocapture
