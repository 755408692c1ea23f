//! The real `pulseboard-server` binary with `--config FILE`: it listens where
//! the file says unless a flag or an environment variable says otherwise, and
//! refuses an unknown key with a message naming it (exit status 2, nothing
//! started); the packaged config file starts it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pulseboard-server");
/// A debug build starting on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);

fn healthz(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

/// A running server, stopped on drop (also when an assertion fails).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the server with `args` and return it with the address it printed.
fn start(args: &[&str]) -> (Running, String) {
    start_with_env(args, &[])
}

/// [`start`] with environment variables `env` set.
fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> (Running, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("PULSEBOARD_TOKEN")
        .env_remove("PULSEBOARD_CONFIG")
        .env_remove("PULSEBOARD_DB")
        .env_remove("PULSEBOARD_LISTEN")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    // The log, read all along (a full pipe would stall the server), to say
    // why a server that never listened stopped.
    let err = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let keep = log.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let mut log = keep.lock().unwrap();
            log.push_str(&l);
            log.push('\n');
        }
    });
    let mut child = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let Ok(line) = rx.recv_timeout(WAIT) else {
        let _ = child.0.wait();
        panic!(
            "the server {args:?} never said where it listens: {}",
            log.lock().unwrap()
        );
    };
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected line {line}"))
        .to_string();
    (child, addr)
}

#[test]
fn the_config_file_is_read_and_a_flag_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-file.db");
    let conf = dir.path().join("server.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:0\"\ndb = \"{}\"\nno-simulator = true\n",
            db.display()
        ),
    )
    .unwrap();

    let (server, addr) = start(&["--config", conf.to_str().unwrap()]);
    assert!(healthz(&addr).contains("\"ok\""));
    assert!(db.exists(), "the database the file names");
    drop(server);

    // A flag wins over the file.
    let other = dir.path().join("from-flag.db");
    let (server, addr) = start(&[
        "--config",
        conf.to_str().unwrap(),
        "--db",
        other.to_str().unwrap(),
    ]);
    assert!(healthz(&addr).contains("\"ok\""));
    assert!(other.exists(), "the database the flag names");
    drop(server);

    // So does the setting's environment variable (the service's
    // EnvironmentFile), and a flag wins over both.
    let from_env = dir.path().join("from-env.db");
    let (server, addr) = start_with_env(
        &["--config", conf.to_str().unwrap()],
        &[("PULSEBOARD_DB", from_env.to_str().unwrap())],
    );
    assert!(healthz(&addr).contains("\"ok\""));
    assert!(from_env.exists(), "the database the environment names");
    drop(server);
    let from_flag = dir.path().join("from-flag-over-env.db");
    let (server, addr) = start_with_env(
        &[
            "--config",
            conf.to_str().unwrap(),
            "--db",
            from_flag.to_str().unwrap(),
        ],
        &[("PULSEBOARD_DB", from_env.to_str().unwrap())],
    );
    assert!(healthz(&addr).contains("\"ok\""));
    assert!(from_flag.exists(), "the flag wins over the environment");
    drop(server);
}

#[test]
fn an_unknown_key_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("server.toml");
    std::fs::write(&conf, "listen = \"127.0.0.1:0\"\nport = 4000\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", conf.to_str().unwrap()])
        .env_remove("PULSEBOARD_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key `port`"), "{err}");
    assert!(err.contains(conf.to_str().unwrap()), "{err}");
    assert!(out.stdout.is_empty(), "nothing started");
}

/// The settings file the server package installs as
/// /etc/pulseboard/server.toml, with each commented example (`# key =
/// value`) switched on too, is accepted by the real binary: a flag renamed
/// or removed breaks this test, not the installed service.
#[test]
fn the_packaged_config_and_its_examples_start_the_server() {
    let packaged = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/server/server.toml"
    );
    let text = std::fs::read_to_string(packaged).unwrap();
    let is_example = |l: &str| {
        l.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
    };
    let mut examples = 0;
    let mut all = String::new();
    for l in text.lines() {
        match l.strip_prefix("# ").filter(|rest| is_example(rest)) {
            Some(rest) => {
                examples += 1;
                all.push_str(rest);
            }
            None => all.push_str(l),
        }
        all.push('\n');
    }
    assert!(examples >= 3, "commented examples found: {examples}\n{all}");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("packaged.db");
    for (name, conf) in [("as shipped", &text), ("examples on", &all)] {
        let path = dir.path().join("server.toml");
        std::fs::write(&path, conf).unwrap();
        // Only where to listen and the database are ours (flags win).
        let (server, addr) = start(&[
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
        ]);
        assert!(healthz(&addr).contains("\"ok\""), "{name}");
        drop(server);
    }
}
