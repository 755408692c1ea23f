//! One app per desktop session, checked on a real binary (the debug build in
//! `src-tauri/tests/single_instance.rs`, the installed `/usr/bin/pulseboard`
//! in `e2e/tests/packages.rs`): a private X server and session bus, the app
//! started `--hidden`, then launched again.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Xvfb;

/// The D-Bus name the single-instance plugin holds (the app identifier).
pub const INSTANCE_NAME: &str = "app.pulseboard.desktop.SingleInstance";

/// Stops a process group on drop (TERM, then KILL after 10 s).
pub struct Group(pub Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pg = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pg]).status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pg]).status();
        let _ = self.0.wait();
    }
}

/// Poll `done` every 50 ms until it holds; panics after `deadline`.
pub fn wait_until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private session bus (the single-instance lock lives on it), stopped on drop.
pub struct Bus {
    child: Child,
    /// `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
}

impl Bus {
    /// Start a private `dbus-daemon --session`.
    pub fn start() -> Bus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        assert!(!address.trim().is_empty(), "dbus-daemon printed no address");
        Bus {
            child,
            address: address.trim().to_string(),
        }
    }

    /// True when someone holds `name` on this bus.
    pub fn has_owner(&self, name: &str) -> bool {
        let out = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &format!("string:{name}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The app `bin` on the display and bus with `args`, private XDG dirs under
/// `dirs` (`config/`, `cache/`, `data/`), its log in `log`, in its own
/// process group ([`Group`]).
pub fn app(bin: &Path, x: &Xvfb, bus: &Bus, dirs: &Path, log: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args)
        .env("DISPLAY", &x.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("XDG_CONFIG_HOME", dirs.join("config"))
        .env("XDG_CACHE_HOME", dirs.join("cache"))
        .env("XDG_DATA_HOME", dirs.join("data"))
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env("NO_AT_BRIDGE", "1")
        .env("RUST_LOG", "info")
        .env_remove("PULSEBOARD_TOKEN")
        .env_remove("PULSEBOARD_SERVER")
        .env_remove("PULSEBOARD_E2E")
        .env_remove("PULSEBOARD_CA")
        .env_remove("PULSEBOARD_RENDERING")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .process_group(0);
    c
}

/// True when the log file `log` holds `text`.
pub fn log_has(log: &Path, text: &str) -> bool {
    std::fs::read_to_string(log).is_ok_and(|l| l.contains(text))
}

/// Where nothing listens: the single-instance check needs no server.
pub const NO_SERVER: &str = "http://127.0.0.1:9";
/// What the first app logs when a second launch hands over to it.
pub const HANDED_OVER: &str = "another launch handed over to this one";
/// What the app logs when it opens its window.
pub const WINDOW_OPENED: &str = "dashboard window opened";

/// `bin` started hidden, then launched again twice: each second launch hands
/// over and exits 0 within `handover` while the first keeps running; the one
/// with `--hidden` opens nothing, the plain one opens the first's window.
/// `start` bounds the first start.
pub fn check(bin: &Path, handover: Duration, start: Duration) {
    let dirs = tempfile::tempdir().unwrap();
    let x = Xvfb::start().expect("start Xvfb");
    let bus = Bus::start();
    let first_log = dirs.path().join("first.log");
    let mut first = Group(
        app(
            bin,
            &x,
            &bus,
            dirs.path(),
            &first_log,
            &["--server", NO_SERVER, "--hidden"],
        )
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display())),
    );
    wait_until(
        "the first app holds the single-instance name",
        start,
        || {
            if let Ok(Some(s)) = first.0.try_wait() {
                panic!(
                    "the first app exited ({s}): {}",
                    std::fs::read_to_string(&first_log).unwrap_or_default()
                );
            }
            bus.has_owner(INSTANCE_NAME)
        },
    );

    let launches: [(u32, &[&str]); 2] = [
        (2, &["--server", NO_SERVER, "--hidden"]),
        (3, &["--server", NO_SERVER]),
    ];
    for (n, args) in launches {
        let log = dirs.path().join(format!("launch-{n}.log"));
        let t0 = Instant::now();
        let mut again = app(bin, &x, &bus, dirs.path(), &log, args).spawn().unwrap();
        let status = loop {
            if let Some(s) = again.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > handover {
                let _ = again.kill();
                let _ = again.wait();
                panic!(
                    "launch {n} {args:?} still running after {handover:?}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        eprintln!(
            "launch {n} {args:?} exited {status} after {:?}",
            t0.elapsed()
        );
        assert!(
            status.success(),
            "launch {n}: {status}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert!(
            first.0.try_wait().unwrap().is_none(),
            "the first app is still running after launch {n}"
        );
    }
    wait_until(
        "the plain launch opens the first app's window",
        start,
        || log_has(&first_log, WINDOW_OPENED),
    );
    // The order in the first app's log says what opened the window: the
    // hidden start and the --hidden launch did not (no window before the
    // second hand-over), the plain launch did (once).
    let text = std::fs::read_to_string(&first_log).unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            [HANDED_OVER, WINDOW_OPENED]
                .into_iter()
                .find(|e| l.contains(e))
        })
        .collect();
    assert_eq!(
        events,
        [HANDED_OVER, HANDED_OVER, WINDOW_OPENED],
        "started --hidden and a --hidden launch open no window; a plain launch opens it: {text}"
    );
    assert!(bus.has_owner(INSTANCE_NAME));
    drop(first);
}
