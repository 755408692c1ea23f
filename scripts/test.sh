#!/usr/bin/env bash
# Run every test of Pulseboard. Installs what the tests need first.
#   scripts/test.sh
# Every server a test needs is started by the test itself (on 127.0.0.1:0),
# the desktop smoke tests bring their own Xvfb and D-Bus session.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/deps-test.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A test run is one build: incremental state would only take disk space.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Rust tests (protocol, server, core, cli, desktop)"
cargo test --workspace --locked

echo "== the patched Socket.IO crates' own tests (vendor/: engineioxide, socketioxide; see vendor/PATCHES.md)"
# Their own workspace (vendor/Cargo.toml, its own lock file): the root one only
# patches them in, so `cargo test --workspace` above does not run their suites.
# --all-features: their integration tests need the crates' test harness.
# Built in the same target directory (shared dependencies are reused).
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" cargo test --manifest-path vendor/Cargo.toml --workspace --all-features --locked

echo "== UI tests (node --test) and types (tsc against ui/js/types.d.ts, generated from Rust)"
node --test ui/test/
node_modules/.bin/tsc -p tsconfig.json
