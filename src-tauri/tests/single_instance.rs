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

/// The instance a launch hands over to goes away without answering (it was
/// quitting, or was killed a moment before): the launch starts on its own
/// instead of ending with an error. Before, it printed "failed to forward
/// arguments to the running instance: ... NoReply" and exited 1 (seen in the
/// e2e suite when an app was started right after the previous one was
/// killed). A stand-in holds the single-instance name and drops off the bus
/// as soon as the hand-over call reaches it, without answering.
#[test]
fn a_launch_whose_first_instance_dies_without_answering_starts_itself() {
    use futures_util::StreamExt;
    use pulseboard_e2e::single_instance::{app, wait_until, Bus, Group, INSTANCE_NAME, NO_SERVER};
    for tool in ["Xvfb", "dbus-daemon", "dbus-send"] {
        assert!(
            pulseboard_e2e::have(tool),
            "{tool} is missing: run scripts/test.sh, which installs it"
        );
    }
    let dirs = tempfile::tempdir().unwrap();
    let x = pulseboard_e2e::Xvfb::start().expect("start Xvfb");
    let bus = Bus::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conn = rt.block_on(async {
        let conn = zbus::connection::Builder::address(bus.address.as_str())
            .build()
            .await?;
        conn.request_name(INSTANCE_NAME).await?;
        Ok::<_, zbus::Error>(conn)
    });
    let conn = conn.expect("the stand-in takes the name");
    let stand_in = rt.spawn(async move {
        let mut messages = zbus::MessageStream::from(&conn);
        while let Some(Ok(m)) = messages.next().await {
            if m.header()
                .member()
                .is_some_and(|name| name.as_str() == "ExecuteCallback")
            {
                break;
            }
        }
        // Gone without an answer: the caller gets NoReply.
        drop(messages);
        drop(conn);
    });
    let log = dirs.path().join("launch.log");
    let mut launch = Group(
        app(
            Path::new(BIN),
            &x,
            &bus,
            dirs.path(),
            &log,
            &["--server", NO_SERVER, "--hidden"],
        )
        .spawn()
        .expect("start the app"),
    );
    rt.block_on(stand_in)
        .expect("the hand-over reached the stand-in");
    wait_until(
        "the launch holds the single-instance name itself",
        Duration::from_secs(120),
        || {
            if let Ok(Some(s)) = launch.0.try_wait() {
                panic!(
                    "the launch exited ({s}) instead of starting: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            bus.has_owner(INSTANCE_NAME)
        },
    );
    assert!(
        pulseboard_e2e::single_instance::log_has(&log, "starting again"),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
