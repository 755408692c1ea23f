//! The real `pulseboard-server` binary with `--config FILE`: it listens where
//! the file says unless a flag says otherwise, and refuses an unknown key
//! with a message naming it (exit status 2, nothing started).

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
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("PULSEBOARD_TOKEN")
        .env_remove("PULSEBOARD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let child = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let line = rx
        .recv_timeout(WAIT)
        .expect("the server says where it listens");
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
