//! The real desktop app under Xvfb with a private D-Bus session: it starts
//! with no server, with a server and with a wrong token, and stays up in all
//! three. Needs `Xvfb` and `dbus-run-session` (scripts/test.sh installs them).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pulseboard");
/// First start of a debug WebKit build on 2 cores can be slow.
const WAIT: Duration = Duration::from_secs(90);
/// One app at a time: each brings its own X server and WebKit processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct App {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    _dirs: tempfile::TempDir,
    /// The app's X server, stopped after the app (fields drop after `drop`).
    _xvfb: pulseboard_e2e::Xvfb,
}

impl App {
    fn start(args: &[&str]) -> App {
        for tool in ["Xvfb", "dbus-run-session"] {
            assert!(
                pulseboard_e2e::have(tool),
                "{tool} is missing: run scripts/test.sh, which installs it"
            );
        }
        let dirs = tempfile::tempdir().unwrap();
        let xvfb = pulseboard_e2e::Xvfb::start().expect("start Xvfb");
        let mut child = xvfb
            .command(dirs.path(), BIN)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the app");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        App {
            child,
            lines,
            log: vec![],
            _dirs: dirs,
            _xvfb: xvfb,
        }
    }

    /// Wait for a log line containing `needle`; panics with the log so far.
    fn expect_line(&mut self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.log.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; log:\n{}", self.log.join("\n")),
            }
        }
    }

    /// Wait until every needle has been seen, in any order.
    fn expect_all(&mut self, needles: &[&str]) {
        let mut missing: Vec<&str> = needles.to_vec();
        missing.retain(|n| !self.log.iter().any(|l| l.contains(n)));
        while let Some(n) = missing.first().copied() {
            self.expect_line(n);
            missing.retain(|n| !self.log.iter().any(|l| l.contains(n)));
        }
    }

    /// Lines with `needle` arriving within `d`.
    fn count_within(&mut self, needle: &str, d: Duration) -> usize {
        let deadline = Instant::now() + d;
        let mut n = 0;
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            n += usize::from(l.contains(needle));
            self.log.push(l);
        }
        n
    }

    fn assert_running(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the app exited; log:\n{}",
            self.log.join("\n")
        );
    }

    fn cache_file(&self) -> std::path::PathBuf {
        self._dirs.path().join("cache/pulseboard/state.json")
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let pg = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pg]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pg]).status();
        let _ = self.child.wait();
    }
}

async fn server(dir: &tempfile::TempDir, token: Option<&str>) -> pulseboard_server::ServerHandle {
    let mut c = pulseboard_server::Config::new(dir.path().join("s.db"));
    c.simulator = false;
    c.token = token.map(str::to_string);
    pulseboard_server::spawn(c).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_without_a_server_and_keeps_retrying() {
    let _serial = SERIAL.lock().await;
    // A port nothing listens on.
    let port = pulseboard_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut app = tokio::task::block_in_place(|| App::start(&["--server", &url]));
    tokio::task::block_in_place(|| {
        app.expect_line("dashboard window opened");
        app.expect_line("state=\"reconnecting\"");
        app.expect_line("state=\"reconnecting\"");
        app.expect_line("state=\"reconnecting\"");
        app.assert_running();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goes_live_with_a_server_and_caches_what_arrives() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, Some("tok")).await;
    let url = srv.url();
    let mut app = tokio::task::block_in_place(|| App::start(&["--server", &url, "--token", "tok"]));
    tokio::task::block_in_place(|| {
        app.expect_all(&["dashboard window opened", "state=\"live\""]);
    });
    let posted: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/api/notifications"))
        .bearer_auth("tok")
        .json(&serde_json::json!({"title": "smoke", "body": "b", "severity": "info"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The app received it and wrote it to its cache (debounced ~1 s).
    let deadline = Instant::now() + WAIT;
    loop {
        let cached = std::fs::read_to_string(app.cache_file()).unwrap_or_default();
        if cached.contains(posted["id"].as_str().unwrap()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "notification never reached the cache"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.assert_running();
    drop(app);
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_shows_unauthorized_and_stays_up_without_retrying() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, Some("right")).await;
    let url = srv.url();
    let mut app =
        tokio::task::block_in_place(|| App::start(&["--server", &url, "--token", "wrong"]));
    tokio::task::block_in_place(|| {
        app.expect_all(&["state=\"unauthorized\"", "dashboard window opened"]);
        assert_eq!(
            app.count_within("state=", Duration::from_secs(3)),
            0,
            "no retry loop"
        );
        app.assert_running();
    });
    drop(app);
    srv.stop().await.unwrap();
}

/// The app process itself (dbus-run-session's child running BIN).
fn app_pid(session: u32) -> Option<u32> {
    let want = std::fs::canonicalize(BIN).ok()?;
    let children =
        std::fs::read_to_string(format!("/proc/{session}/task/{session}/children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .find(|p| std::fs::read_link(format!("/proc/{p}/exe")).ok().as_ref() == Some(&want))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_quits_cleanly_and_saves_what_arrived() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, Some("tok")).await;
    let url = srv.url();
    let resp = reqwest::Client::new()
        .put(format!("{url}/api/kpis/finance"))
        .bearer_auth("tok")
        .json(&serde_json::json!({"kpis": [{"key": "revenue", "label": "Revenue", "value": 4321987}]}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let mut app = tokio::task::block_in_place(|| App::start(&["--server", &url, "--token", "tok"]));
    tokio::task::block_in_place(|| {
        app.expect_all(&["dashboard window opened", "state=\"live\""]);
        // Right away: before the cache writer's 1 s debounce has run.
        let pid = app_pid(app.child.id()).expect("the app's pid");
        let ok = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok);
        app.expect_line("SIGTERM: quitting");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = app.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not quit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status {status}");
    });
    let cached = std::fs::read_to_string(app.cache_file()).unwrap_or_default();
    assert!(
        cached.contains("4321987"),
        "the server's values were saved on the way out: {}",
        cached.chars().take(200).collect::<String>()
    );
    drop(app);
    srv.stop().await.unwrap();
}
