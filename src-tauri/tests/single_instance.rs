//! One app per desktop session, on the debug build (the README's test
//! command): started `--hidden`, a second launch with `--hidden` hands over
//! and exits 0 opening nothing, a plain one hands over, exits 0 and opens the
//! first's window; the first keeps running. `e2e/tests/packages.rs` runs the
//! same check on the installed `/usr/bin/pulseboard` with the 3 s
//! bound; here a debug build on a loaded test machine gets more.

use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pulseboard");

#[test]
fn a_second_launch_hands_over_to_the_first_and_exits_0() {
    for tool in ["Xvfb", "dbus-daemon", "dbus-send"] {
        assert!(
            pulseboard_e2e::have(tool),
            "{tool} is missing: run scripts/test.sh, which installs it"
        );
    }
    pulseboard_e2e::single_instance::check(
        Path::new(BIN),
        Duration::from_secs(10),
        Duration::from_secs(120),
    );
}
