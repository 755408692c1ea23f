//! The real app against a TLS server whose certificate comes from a private
//! certificate authority made in the test: without the CA the pill says the
//! certificate is not trusted (and stays so: no retry loop), the pill leads
//! to Settings' certificate authority field, and once the CA is saved there
//! the app goes Live. Settings also warns before a token goes over plain
//! http:// to a host that is not loopback.
//!
//! Needs `tauri-driver` and `WebKitWebDriver`, like tests/webview.rs
//! (scripts/test.sh installs both).

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TOKEN: &str = "tls-e2e-token";
/// Upper bound for anything awaited; a first debug WebKit start is slow.
const WAIT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn app_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let p = target.join("debug/pulseboard");
    assert!(
        p.exists(),
        "{} missing: build with `cargo build -p pulseboard`",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// tauri-driver under its own Xvfb and D-Bus session, with private XDG dirs.
struct Driver {
    _xvfb: pulseboard_e2e::Xvfb,
    child: Child,
    port: u16,
    dirs: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        for tool in [
            "Xvfb",
            "dbus-run-session",
            "tauri-driver",
            "WebKitWebDriver",
        ] {
            assert!(
                pulseboard_e2e::have(tool),
                "{tool} is missing: run scripts/test.sh, which installs it"
            );
        }
        let xvfb = pulseboard_e2e::Xvfb::start().expect("start Xvfb");
        let dirs = tempfile::tempdir().unwrap();
        let port = free_port();
        let native = free_port();
        let child = xvfb
            .command(dirs.path(), "tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            // Only what the test gives: no CA from the caller's environment.
            .env_remove("PULSEBOARD_CA")
            // A retry loop would show within a second.
            .env("PULSEBOARD_RETRY_MAX_MS", "1000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tauri-driver");
        Driver {
            _xvfb: xvfb,
            child,
            port,
            dirs,
        }
    }

    /// Start the app (a new WebDriver session) with these arguments.
    async fn app(&self, args: &[&str]) -> Client {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app_binary(), "args": args}
        }}});
        let base = format!("http://127.0.0.1:{}", self.port);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            match http
                .post(format!("{base}/session"))
                .json(&caps)
                .send()
                .await
            {
                Ok(resp) => {
                    let v: Value = resp.json().await.expect("session answer");
                    let sid = v["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no session: {v}"))
                        .to_string();
                    return Client {
                        http,
                        base: format!("{base}/session/{sid}"),
                    };
                }
                // tauri-driver not listening yet: retry until the deadline.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        }
    }

    fn settings_json(&self) -> Value {
        let p = self.dirs.path().join("config/pulseboard/settings.json");
        serde_json::from_slice(&std::fs::read(&p).unwrap_or_default()).unwrap_or(Value::Null)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let pg = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &pg])
            .status();
        let _ = self.child.wait();
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// Run `script` in the page (`arguments[i]` are `args`).
    async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        let r = self
            .http
            .post(format!("{}/execute/sync", self.base))
            .timeout(Duration::from_secs(30))
            .json(&json!({"script": script, "args": args}));
        pulseboard_e2e::webdriver(r).await
    }

    async fn close(self) {
        let _ = pulseboard_e2e::webdriver(self.http.delete(&self.base)).await;
    }

    async fn text_of(&self, css: &str) -> Option<String> {
        self.execute(
            "const e = document.querySelector(arguments[0]); return e && !e.hidden ? e.innerText : null;",
            vec![json!(css)],
        )
        .await
        .ok()?
        .as_str()
        .map(|s| s.trim().to_string())
    }

    /// Poll until `css`'s text satisfies `ok` (WebDriver has no push).
    async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let t = self.text_of(css).await;
            if let Some(t) = t.as_deref().filter(|t| ok(t)) {
                return t.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: `{css}` never matched; last text {t:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let found = self
            .execute(
                "const e = document.querySelector(arguments[0]); if (!e) return false; e.click(); return true;",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        assert_eq!(found, json!(true), "nothing to click at {css}");
    }

    /// Set a form field's value as typing would leave it.
    async fn type_into(&self, css: &str, value: &str) {
        let found = self
            .execute(
                "const e = document.querySelector(arguments[0]); if (!e) return false; e.value = arguments[1]; e.dispatchEvent(new Event('input', {bubbles: true})); return true;",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        assert_eq!(found, json!(true), "no field at {css}");
    }
}

const PILL: &str = "[data-testid=pill]";

/// One app at a time: each brings an X server and WebKit processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_says_so_until_the_ca_is_set_in_settings() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut config = pulseboard_server::Config::new(dir.path().join("s.db"));
    config.token = Some(TOKEN.into());
    config.tls = Some((cert, key));
    let server = pulseboard_server::spawn(config).await.expect("TLS server");
    let url = server.url();
    assert!(url.starts_with("https://"), "{url}");

    let driver = Driver::start();
    let c = driver.app(&["--server", &url, "--token", TOKEN]).await;

    // Without the CA: the certificate is refused, and the pill says so.
    c.wait_text(PILL, "certificate refused", |t| {
        t.contains("Certificate not trusted")
    })
    .await;
    // No retry loop: with retries capped at 1 s, a retrying app would leave
    // this state within a second or two. It stays.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let t = c.text_of(PILL).await.unwrap_or_default();
        assert!(
            t.contains("Certificate not trusted"),
            "left the certificate state by itself: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The pill leads to Settings, to the certificate authority field, and
    // Settings says what was wrong.
    c.click(PILL).await;
    let focused = c
        .execute(
            "return document.activeElement && document.activeElement.id",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, json!("set-ca"), "the pill leads to the CA field");
    let detail = c
        .wait_text("#connection-detail", "settings says why", |t| {
            t.contains("certificate")
        })
        .await;
    assert!(detail.contains("certificate authority"), "{detail}");
    // The diagnosis (the same probe as "Test connection", with the saved
    // settings) says the certificate is not trusted and where to fix it.
    let why = c
        .wait_text("[data-testid=connection-diagnosis]", "diagnosis", |t| {
            t.contains("not trusted")
        })
        .await;
    assert!(why.contains("certificate authority in Settings"), "{why}");

    // A file that is not a certificate is refused with a reason.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    c.type_into("#set-ca", junk.to_str().unwrap()).await;
    c.click("[data-testid=settings-save]").await;
    c.wait_text("[data-testid=settings-status]", "junk refused", |t| {
        t.contains("Could not save") && t.contains("certificate authority")
    })
    .await;

    // The CA made for this server: saved, applied at once, Live.
    c.type_into("#set-ca", ca.to_str().unwrap()).await;
    c.click("[data-testid=settings-save]").await;
    c.wait_text(PILL, "live once the CA is trusted", |t| t.ends_with("Live"))
        .await;
    assert_eq!(
        driver.settings_json()["ca"],
        json!(ca.to_str().unwrap()),
        "the CA is kept in settings.json"
    );

    // A token bound for plain http:// on another host: warned next to the
    // server field before anything is saved or sent.
    c.type_into("#set-server", "http://10.255.0.1:4000").await;
    let w = c
        .wait_text(
            "[data-testid=plain-http-warning]",
            "plain http warning",
            |t| t.contains("plain http://"),
        )
        .await;
    assert!(w.contains("10.255.0.1") && w.contains("https://"), "{w}");
    c.type_into("#set-server", &url).await;
    let deadline = Instant::now() + WAIT;
    while c
        .text_of("[data-testid=plain-http-warning]")
        .await
        .is_some()
    {
        assert!(Instant::now() < deadline, "the warning stays for https://");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await;

    // The next start trusts the saved CA.
    let c = driver.app(&["--server", &url, "--token", TOKEN]).await;
    c.wait_text(PILL, "live from the saved CA", |t| t.ends_with("Live"))
        .await;
    c.close().await;
    server.stop().await.unwrap();
}

/// First run against the TLS server: "Test connection" says the certificate
/// is not trusted, then, with the CA typed in the setup, connects; saving
/// goes Live. The setup warns about a token over plain http:// to another
/// host before anything is tested or saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_takes_the_ca_and_warns_about_plain_http() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut config = pulseboard_server::Config::new(dir.path().join("s.db"));
    config.token = Some(TOKEN.into());
    config.tls = Some((cert, key));
    let server = pulseboard_server::spawn(config).await.expect("TLS server");
    let url = server.url();

    let driver = Driver::start();
    let c = driver.app(&[]).await;
    c.wait_text("[data-testid=setup]", "setup shown", |t| {
        t.contains("Connect to your Pulseboard server")
    })
    .await;

    const WARNING: &str = "[data-testid=setup-plain-http-warning]";
    c.type_into("[data-testid=setup-server]", "http://10.255.0.1:4000")
        .await;
    c.type_into("[data-testid=setup-token]", TOKEN).await;
    let w = c
        .wait_text(WARNING, "plain http warning in the setup", |t| {
            t.contains("plain http://")
        })
        .await;
    assert!(w.contains("10.255.0.1"), "{w}");

    c.type_into("[data-testid=setup-server]", &url).await;
    let deadline = Instant::now() + WAIT;
    while c.text_of(WARNING).await.is_some() {
        assert!(Instant::now() < deadline, "the warning stays for https://");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.click("[data-testid=setup-test]").await;
    c.wait_text("[data-testid=setup-result]", "certificate refused", |t| {
        t.contains("not trusted")
    })
    .await;

    c.type_into("[data-testid=setup-ca]", ca.to_str().unwrap())
        .await;
    c.click("[data-testid=setup-test]").await;
    c.wait_text("[data-testid=setup-result]", "connects with the CA", |t| {
        t.contains("Connected to the Pulseboard server")
    })
    .await;
    c.click("[data-testid=setup-save]").await;
    c.wait_text(PILL, "live after saving", |t| t.ends_with("Live"))
        .await;
    assert_eq!(driver.settings_json()["ca"], json!(ca.to_str().unwrap()));
    c.close().await;
    server.stop().await.unwrap();
}
