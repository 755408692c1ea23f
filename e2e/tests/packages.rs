//! The Debian packages as a user and an operator meet them: installed with
//! `dpkg -i` on this machine, the desktop app started from /usr/bin under
//! Xvfb (one instance only), the server started with its packaged config,
//! an upgrade to a newer version that keeps the server's settings, token and
//! data and the desktop user's settings, token and cache, `dpkg -r` and
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
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pulseboard_e2e::single_instance::{self, app, wait_until, Bus, Group};

/// A first start of WebKit under Xvfb on a loaded 2-core machine is slow.
const START: Duration = Duration::from_secs(120);
/// How long a second launch may take to hand over and exit.
const HANDOVER: Duration = Duration::from_secs(3);
/// The installed desktop app.
const APP: &str = "/usr/bin/pulseboard";

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

/// The token the package made at install time.
fn packaged_token() -> String {
    let env = std::fs::read_to_string("/etc/pulseboard/server.env").unwrap();
    env.lines()
        .find_map(|l| l.strip_prefix("PULSEBOARD_TOKEN="))
        .expect("PULSEBOARD_TOKEN in /etc/pulseboard/server.env")
        .to_string()
}

/// Blocking HTTP/1.0 request on `addr`: (status line, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or_default());
    s.write_all(req.as_bytes()).unwrap();
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

fn http_get(addr: &str, path: &str) -> (String, String) {
    http(addr, "GET", path, None, None)
}

/// The value of the Prometheus sample `name` in `/metrics` on `addr`.
fn metric(addr: &str, name: &str) -> f64 {
    let (_, text) = http_get(addr, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(-1.0)
}

/// The installed server, as the service runs it: user `pulseboard`, the
/// packaged config and token. Only the address is ours (a flag, which wins
/// over the file), so a running service or another test is never in the way.
/// Returns the server (stopped on drop) and the address it listens on.
fn start_installed_server(listen: &str) -> (Group, String) {
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
            listen,
        ])
        .env("PULSEBOARD_TOKEN", packaged_token())
        .env_remove("HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("PULSEBOARD_CONFIG")
        .env_remove("PULSEBOARD_DB")
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
    (server, addr)
}

fn installed_server_answers_healthz() {
    let (server, addr) = start_installed_server("127.0.0.1:0");
    let (status, body) = http_get(&addr, "/healthz");
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("\"ok\""), "{body}");
    // The packaged token is the one in force: without it the API refuses.
    let (status, _) = http(&addr, "GET", "/api/snapshot", None, None);
    assert!(status.contains(" 401 "), "no token: {status}");
    let (status, _) = http(&addr, "GET", "/api/snapshot", Some(&packaged_token()), None);
    assert!(status.contains(" 200 "), "the packaged token: {status}");
    // The packaged config put the database in the service's state directory.
    let db = Path::new("/var/lib/pulseboard/server.db");
    assert!(db.exists(), "{} made by the packaged config", db.display());
    let owner = ok("stat", &["-c", "%U", "/var/lib/pulseboard/server.db"]);
    assert_eq!(owner.trim(), "pulseboard");
    drop(server);
}

fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

/// `deb` repacked as version `<its version>+upgrade`: a newer release, as
/// dpkg sees it (the real upgrade path: `prerm upgrade`, `postrm upgrade`,
/// `postinst configure <old version>`, conffiles kept).
fn newer(deb: &str, dir: &Path) -> String {
    let name = Path::new(deb)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let tree = dir.join(&name);
    ok("dpkg-deb", &["-R", deb, tree.to_str().unwrap()]);
    let control = tree.join("DEBIAN/control");
    let text: String = std::fs::read_to_string(&control)
        .unwrap()
        .lines()
        .map(|l| match l.strip_prefix("Version: ") {
            Some(v) => format!("Version: {v}+upgrade\n"),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&control, text).unwrap();
    let out = dir.join(format!("{name}+upgrade.deb"));
    let out = out.to_str().unwrap().to_string();
    ok(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "-Zgzip",
            "-z1",
            "--build",
            tree.to_str().unwrap(),
            &out,
        ],
    );
    std::fs::remove_dir_all(&tree).unwrap();
    out
}

fn installed_version(package: &str) -> String {
    ok("dpkg-query", &["-W", "-f=${Version}", package])
}

/// A desktop user's files (under `home`, their XDG dirs): settings, token
/// and cache, as the app left them.
fn user_files(home: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    [
        "config/pulseboard/settings.json",
        "config/pulseboard/token",
        "cache/pulseboard/state.json",
    ]
    .iter()
    .map(|f| {
        let p = home.join(f);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        (p, bytes)
    })
    .collect()
}

/// The installed app, started hidden with no `--server`, `--token` or
/// environment for them, connects to the server at `addr` with the settings
/// and token saved under `home` (a refused token would not count as a
/// connection), then quits on SIGTERM, saving its cache.
fn desktop_user_connects_with_saved_settings(home: &Path, addr: &str, log: &Path) {
    let x = pulseboard_e2e::Xvfb::start().expect("start Xvfb");
    let bus = Bus::start();
    let mut app = Group(
        app(Path::new(APP), &x, &bus, home, log, &["--hidden"])
            .spawn()
            .expect("start the installed app"),
    );
    wait_until(
        "the app connects with its saved settings and token",
        START,
        || {
            if let Ok(Some(s)) = app.0.try_wait() {
                panic!(
                    "the app exited ({s}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            metric(addr, "pulseboard_connections") >= 1.0
        },
    );
    let cache = home.join("cache/pulseboard/state.json");
    wait_until("the app caches the server's notification", START, || {
        std::fs::read_to_string(&cache).is_ok_and(|c| c.contains(BEFORE_UPGRADE))
    });
    drop(app);
}

const BEFORE_UPGRADE: &str = "Posted before the upgrade";

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
    "/usr/share/icons/hicolor/32x32/apps/pulseboard.png",
    "/usr/share/icons/hicolor/128x128/apps/pulseboard.png",
    "/usr/share/icons/hicolor/256x256/apps/pulseboard.png",
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

    // What a fresh machine needs is declared, so apt pulls it in.
    let depends = ok("dpkg-deb", &["-f", app_deb, "Depends"]);
    for lib in [
        "libwebkit2gtk-4.1-0",
        "libgtk-3-0",
        "libayatana-appindicator3-1",
    ] {
        assert!(depends.contains(lib), "the app depends on {lib}: {depends}");
    }
    let depends = ok("dpkg-deb", &["-f", server_deb, "Depends"]);
    assert!(depends.contains("libc6 (>= "), "{depends}");

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
    let unit = std::fs::read_to_string(SERVER_FILES[2]).unwrap();
    for line in [
        "User=pulseboard",
        "StateDirectory=pulseboard",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecStart=/usr/bin/pulseboard-server --config /etc/pulseboard/server.toml",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit has {line}");
    }
    // Every file the packages installed, to check `dpkg -r` removes them all.
    let installed: Vec<String> = ok("dpkg", &["-L", "pulseboard", "pulseboard-server"])
        .lines()
        .filter(|f| Path::new(f).is_file())
        .map(str::to_string)
        .collect();
    assert!(
        installed.len() > SERVER_FILES.len() + APP_FILES.len(),
        "{installed:?}"
    );

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
        // The hardening, as systemd rates it: each of these is a pass (a
        // weaker ProtectSystem= than strict, or root, is a fail).
        let out = Command::new("systemd-analyze")
            .args([
                "security",
                "--offline=true",
                "/usr/lib/systemd/system/pulseboard-server.service",
            ])
            .output()
            .unwrap();
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "systemd-analyze security: {table}");
        for check in [
            "User=/DynamicUser=",
            "NoNewPrivileges=",
            "ProtectSystem=",
            "ProtectHome=",
            "PrivateTmp=",
            "PrivateDevices=",
            "CapabilityBoundingSet=~CAP_SYS_ADMIN",
            "SystemCallFilter=~@mount",
        ] {
            assert!(
                table
                    .lines()
                    .any(|l| l.starts_with(&format!("\u{2713} {check} "))),
                "the unit passes {check}:\n{table}"
            );
        }
    } else {
        eprintln!("systemd-analyze not installed: unit not verified");
    }

    installed_server_answers_healthz();
    single_instance::check(Path::new(APP), HANDOVER, START);

    // An upgrade to a newer version keeps the operator's settings, the
    // token and the data, and the desktop user's settings, token and cache.
    let work = tempfile::tempdir().unwrap();
    let (new_server_deb, new_app_deb) =
        (newer(server_deb, work.path()), newer(app_deb, work.path()));
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open("/etc/pulseboard/server.toml")
        .unwrap();
    writeln!(conf, "kpi-interval-ms = 4321").unwrap();
    drop(conf);
    // The same address before and after: the desktop's saved server.
    let listen = format!("127.0.0.1:{}", pulseboard_testkit::free_port());
    let home = tempfile::tempdir().unwrap();
    let settings = home.path().join("config/pulseboard");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(
        settings.join("settings.json"),
        format!("{{\"server\": \"http://{listen}\"}}\n"),
    )
    .unwrap();
    std::fs::write(settings.join("token"), &token).unwrap();
    {
        let (server, addr) = start_installed_server(&listen);
        let body = format!(r#"{{"title":"{BEFORE_UPGRADE}","body":"kept","severity":"info"}}"#);
        let (status, answer) = http(
            &addr,
            "POST",
            "/api/notifications",
            Some(&token),
            Some(&body),
        );
        assert!(status.contains(" 201 "), "{status} {answer}");
        desktop_user_connects_with_saved_settings(
            home.path(),
            &addr,
            &work.path().join("app-before.log"),
        );
        drop(server);
    }
    let user_before = user_files(home.path());

    ok("dpkg", &["-i", &new_server_deb, &new_app_deb]);
    for p in ["pulseboard-server", "pulseboard"] {
        assert!(installed_version(p).ends_with("+upgrade"), "{p} upgraded");
    }
    assert!(
        std::fs::read_to_string("/etc/pulseboard/server.toml")
            .unwrap()
            .contains("kpi-interval-ms = 4321"),
        "the operator's settings survive an upgrade"
    );
    assert_eq!(packaged_token(), token, "the token survives an upgrade");
    for (path, bytes) in &user_before {
        assert_eq!(
            &std::fs::read(path).unwrap(),
            bytes,
            "{} kept by the upgrade",
            path.display()
        );
    }
    {
        // The upgraded server has the data; the upgraded app uses the user's
        // saved settings and token.
        let (server, addr) = start_installed_server(&listen);
        let (status, snap) = http(&addr, "GET", "/api/snapshot", Some(&token), None);
        assert!(status.contains(" 200 "), "{status}");
        let unread =
            serde_json::from_str::<serde_json::Value>(&snap).unwrap()["unreadCount"].clone();
        assert_eq!(
            unread, 1,
            "the notification posted before the upgrade is still there (data kept)"
        );
        desktop_user_connects_with_saved_settings(
            home.path(),
            &addr,
            &work.path().join("app-after.log"),
        );
        drop(server);
    }

    // Remove: every installed file goes, settings, token and data stay.
    ok("dpkg", &["-r", "pulseboard", "pulseboard-server"]);
    for f in SERVER_FILES.iter().chain(APP_FILES) {
        assert!(!exists(f), "{f} removed");
    }
    for f in &installed {
        assert!(
            f.starts_with("/etc/pulseboard/") || !exists(f),
            "{f} removed by dpkg -r"
        );
    }
    assert!(exists("/etc/pulseboard/server.toml"));
    assert!(exists("/etc/pulseboard/server.env"));
    assert!(exists("/var/lib/pulseboard/server.db"));

    // Purge: the server's settings, token and data go too.
    ok("dpkg", &["--purge", "pulseboard", "pulseboard-server"]);
    assert!(!exists("/etc/pulseboard"), "/etc/pulseboard purged");
    assert!(!exists("/var/lib/pulseboard"), "/var/lib/pulseboard purged");
}
