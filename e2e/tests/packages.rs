//! The Debian packages as a user and an operator meet them: installed with
//! `dpkg -i` on this machine, the desktop app started from /usr/bin under
//! Xvfb (one instance only), the server started with its packaged config,
//! an upgrade that keeps settings, token and data, `dpkg -r` and
//! `dpkg --purge`.
//!
//! It changes the machine (root, system-wide install), so it is ignored in
//! the workspace run; `scripts/test-packages.sh` builds the packages with
//! `scripts/package.sh` and runs it. `PULSEBOARD_DIST` names the directory of
//! the `.deb` files (default: dist/ in the workspace).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A first start of WebKit under Xvfb on a loaded 2-core machine is slow.
const START: Duration = Duration::from_secs(120);
/// How long a second launch may take to hand over and exit.
const HANDOVER: Duration = Duration::from_secs(3);
/// The D-Bus name the single-instance plugin holds (the app identifier).
const INSTANCE_NAME: &str = "app.pulseboard.desktop.SingleInstance";

fn dist() -> PathBuf {
    std::env::var_os("PULSEBOARD_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist"))
}

fn deb(prefix: &str) -> PathBuf {
    let dir = dist();
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/package.sh first", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(prefix) && n.ends_with(".deb")
        })
        .collect();
    assert_eq!(found.len(), 1, "one {prefix}*.deb in {}", dir.display());
    found.into_iter().next().unwrap()
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    out
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The token the package made at install time.
fn packaged_token() -> String {
    let env = std::fs::read_to_string("/etc/pulseboard/server.env").unwrap();
    env.lines()
        .find_map(|l| l.strip_prefix("PULSEBOARD_TOKEN="))
        .expect("PULSEBOARD_TOKEN in /etc/pulseboard/server.env")
        .to_string()
}

/// Blocking `GET path` on `addr`: (status line, body).
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// Stops a process group on drop.
struct Group(Child);

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

/// The installed server, as the service runs it: user `pulseboard`, the
/// packaged config and token. Only the port is ours (a flag, which wins over
/// the file), so a running service or another test is never in the way.
fn installed_server_answers_healthz() {
    let mut child = Command::new("setpriv")
        .args([
            "--reuid=pulseboard",
            "--regid=pulseboard",
            "--init-groups",
            "--",
            "/usr/bin/pulseboard-server",
            "--config",
            "/etc/pulseboard/server.toml",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("PULSEBOARD_TOKEN", packaged_token())
        .env_remove("HOME")
        .env_remove("XDG_DATA_HOME")
        .current_dir("/var/lib/pulseboard")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .expect("start the installed server");
    let stdout = child.stdout.take().unwrap();
    let server = Group(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let line = rx
        .recv_timeout(START)
        .expect("the installed server says where it listens");
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    let (status, body) = http_get(&addr, "/healthz");
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("\"ok\""), "{body}");
    // The packaged config put the database in the service's state directory.
    let db = Path::new("/var/lib/pulseboard/server.db");
    assert!(db.exists(), "{} made by the packaged config", db.display());
    let owner = ok("stat", &["-c", "%U", "/var/lib/pulseboard/server.db"]);
    assert_eq!(owner.trim(), "pulseboard");
    drop(server);
}

/// A private session bus (the single-instance lock lives on it), stopped on drop.
struct Bus {
    child: Child,
    address: String,
}

impl Bus {
    fn start() -> Bus {
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

    fn has_owner(&self, name: &str) -> bool {
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

/// `/usr/bin/pulseboard` on the display and bus, with private XDG dirs, a
/// server address where nothing listens, its log in `log`.
fn app(x: &pulseboard_e2e::Xvfb, bus: &Bus, dirs: &Path, log: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("/usr/bin/pulseboard");
    c.args(["--server", "http://127.0.0.1:9"])
        .args(args)
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
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .process_group(0);
    c
}

fn log_has(log: &Path, text: &str) -> bool {
    std::fs::read_to_string(log).is_ok_and(|l| l.contains(text))
}

/// Started hidden, then launched again: the second hands over and exits 0
/// within 3 s, the first opens its window and keeps running.
fn installed_app_is_single_instance() {
    let dirs = tempfile::tempdir().unwrap();
    let x = pulseboard_e2e::Xvfb::start().expect("start Xvfb");
    let bus = Bus::start();
    let first_log = dirs.path().join("first.log");
    let mut first = Group(
        app(&x, &bus, dirs.path(), &first_log, &["--hidden"])
            .spawn()
            .expect("start /usr/bin/pulseboard"),
    );
    wait_until(
        "the first app holds the single-instance name",
        START,
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
    assert!(
        !log_has(&first_log, "dashboard window opened"),
        "--hidden opened no window"
    );

    for (n, args) in [(2, &[][..]), (3, &["--hidden"][..])] {
        let log = dirs.path().join(format!("launch-{n}.log"));
        let t0 = Instant::now();
        let mut again = app(&x, &bus, dirs.path(), &log, args).spawn().unwrap();
        let status = loop {
            if let Some(s) = again.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > HANDOVER {
                let _ = again.kill();
                let _ = again.wait();
                panic!(
                    "launch {n} {args:?} still running after {HANDOVER:?}: {}",
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
            "the first app is still running"
        );
        if n == 2 {
            wait_until("the first app opens its window", START, || {
                log_has(&first_log, "dashboard window opened")
            });
        }
    }
    assert!(bus.has_owner(INSTANCE_NAME));
    drop(first);
}

fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

/// What the packages install (beyond DEBIAN/).
const SERVER_FILES: &[&str] = &[
    "/usr/bin/pulseboard-server",
    "/usr/bin/pulseboard-cli",
    "/usr/lib/systemd/system/pulseboard-server.service",
    "/usr/share/bash-completion/completions/pulseboard-server",
    "/usr/share/bash-completion/completions/pulseboard-cli",
    "/usr/share/zsh/vendor-completions/_pulseboard-server",
    "/usr/share/fish/vendor_completions.d/pulseboard-cli.fish",
    "/usr/share/man/man1/pulseboard-server.1.gz",
    "/usr/share/man/man1/pulseboard-cli.1.gz",
    "/usr/share/man/man1/pulseboard-cli-tail.1.gz",
];
const APP_FILES: &[&str] = &[
    "/usr/bin/pulseboard",
    "/usr/share/applications/Pulseboard.desktop",
    "/usr/share/icons/hicolor/128x128/apps/pulseboard.png",
];

#[test]
#[ignore = "installs the packages system-wide as root: scripts/test-packages.sh runs it"]
fn packages_install_run_upgrade_remove_and_purge() {
    assert_eq!(
        ok("id", &["-u"]).trim(),
        "0",
        "dpkg -i needs root: run as root (CI does)"
    );
    let server_deb = deb("pulseboard-server_");
    let app_deb = deb("Pulseboard_");
    let (server_deb, app_deb) = (server_deb.to_str().unwrap(), app_deb.to_str().unwrap());

    // A clean slate, whatever an earlier run left.
    let _ = run("dpkg", &["--purge", "pulseboard", "pulseboard-server"]);

    ok("dpkg", &["-i", server_deb, app_deb]);
    for f in SERVER_FILES.iter().chain(APP_FILES) {
        assert!(exists(f), "{f} installed");
    }
    let bash = std::fs::read_to_string(SERVER_FILES[3]).unwrap();
    assert!(bash.contains("--config"), "completion knows --config");
    let man = ok(
        "sh",
        &["-c", "zcat /usr/share/man/man1/pulseboard-server.1.gz"],
    );
    assert!(man.contains("config"), "man page documents --config");
    ok(
        "desktop-file-validate",
        &["/usr/share/applications/Pulseboard.desktop"],
    );
    let desktop = std::fs::read_to_string(APP_FILES[1]).unwrap();
    assert!(desktop.contains("Exec=pulseboard"), "{desktop}");
    assert!(desktop.contains("Icon=pulseboard"), "{desktop}");
    ok("getent", &["passwd", "pulseboard"]);
    let mode = ok("stat", &["-c", "%a %U:%G", "/etc/pulseboard/server.env"]);
    assert_eq!(
        mode.trim(),
        "640 root:pulseboard",
        "the token is not world-readable"
    );
    let token = packaged_token();
    assert!(token.len() >= 32, "a random token: {token}");

    if pulseboard_e2e::have("systemd-analyze") {
        // --man=no: the unit's Documentation= man page is checked by dpkg, not here.
        let out = Command::new("systemd-analyze")
            .args([
                "verify",
                "--man=no",
                "/usr/lib/systemd/system/pulseboard-server.service",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "systemd-analyze verify: {err}");
        assert!(!err.contains("pulseboard-server.service:"), "{err}");
    } else {
        eprintln!("systemd-analyze not installed: unit not verified");
    }

    installed_server_answers_healthz();
    installed_app_is_single_instance();

    // An upgrade (here: the same version again) keeps the operator's
    // settings, the token and the data.
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open("/etc/pulseboard/server.toml")
        .unwrap();
    writeln!(conf, "kpi-interval-ms = 4321").unwrap();
    drop(conf);
    ok("dpkg", &["-i", server_deb, app_deb]);
    assert!(std::fs::read_to_string("/etc/pulseboard/server.toml")
        .unwrap()
        .contains("kpi-interval-ms = 4321"));
    assert_eq!(packaged_token(), token, "the token survives an upgrade");
    assert!(
        exists("/var/lib/pulseboard/server.db"),
        "data survives an upgrade"
    );

    // Remove: every installed file goes, settings, token and data stay.
    ok("dpkg", &["-r", "pulseboard", "pulseboard-server"]);
    for f in SERVER_FILES.iter().chain(APP_FILES) {
        assert!(!exists(f), "{f} removed");
    }
    assert!(exists("/etc/pulseboard/server.toml"));
    assert!(exists("/etc/pulseboard/server.env"));
    assert!(exists("/var/lib/pulseboard/server.db"));

    // Purge: the server's settings, token and data go too.
    ok("dpkg", &["--purge", "pulseboard", "pulseboard-server"]);
    assert!(!exists("/etc/pulseboard"), "/etc/pulseboard purged");
    assert!(!exists("/var/lib/pulseboard"), "/var/lib/pulseboard purged");
}
