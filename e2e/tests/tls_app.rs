//! The real app against a TLS server whose certificate comes from a private
//! certificate authority made in the test: without the CA the pill says the
//! certificate is not trusted (and stays so: no retry loop), the pill leads
//! to Settings' certificate authority field, and once the CA is saved there
//! the app goes Live. Settings also warns before a token goes over plain
//! http:// to a host that is not loopback.
//!
//! Needs `tauri-driver` and `WebKitWebDriver`, like tests/webview.rs
//! (scripts/test.sh installs both).

use std::time::{Duration, Instant};

use pulseboard_e2e::{Desktop, WAIT};
use serde_json::{json, Value};

const TOKEN: &str = "tls-e2e-token";
/// tauri-driver under its own Xvfb and D-Bus session, with private XDG dirs
/// (no CA from the caller's environment: only what the test gives).
fn desktop() -> Desktop {
    Desktop::start(pulseboard_e2e::SCREEN, &[], |_, _| {})
}

fn settings_json(d: &Desktop) -> Value {
    let p = d.dirs().join("config/pulseboard/settings.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_default()).unwrap_or(Value::Null)
}

/// A pulseboard-server over HTTPS whose certificate comes from a CA made
/// in the test; with the CA's file and the temp dir holding both.
async fn tls_server() -> (
    pulseboard_server::ServerHandle,
    std::path::PathBuf,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut config = pulseboard_server::Config::new(dir.path().join("s.db"));
    config.token = Some(TOKEN.into());
    config.tls = Some((cert, key));
    let server = pulseboard_server::spawn(config).await.expect("TLS server");
    (server, ca, dir)
}

const PILL: &str = "[data-testid=pill]";

/// One app at a time: each brings an X server and WebKit processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_says_so_until_the_ca_is_set_in_settings() {
    let _serial = SERIAL.lock().await;
    let (server, ca, dir) = tls_server().await;
    let url = server.url();
    assert!(url.starts_with("https://"), "{url}");

    let driver = desktop();
    let c = driver.app(&["--server", &url, "--token", TOKEN]).await;

    // Without the CA: the certificate is refused, and the pill says so.
    c.wait_shown_text(PILL, "certificate refused", |t| {
        t.contains("Certificate not trusted")
    })
    .await;
    // No retry loop: with retries capped at 1 s, a retrying app would leave
    // this state within a second or two. It stays.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let t = c.shown_text_of(PILL).await.unwrap_or_default();
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
        .wait_shown_text("#connection-detail", "settings says why", |t| {
            t.contains("certificate")
        })
        .await;
    assert!(detail.contains("certificate authority"), "{detail}");
    // The diagnosis (the same probe as "Test connection", with the saved
    // settings) says the certificate is not trusted and where to fix it.
    let why = c
        .wait_shown_text("[data-testid=connection-diagnosis]", "diagnosis", |t| {
            t.contains("not trusted")
        })
        .await;
    assert!(why.contains("certificate authority in Settings"), "{why}");

    // A file that is not a certificate is refused with a reason.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    c.type_into("#set-ca", junk.to_str().unwrap()).await;
    c.click("[data-testid=settings-save]").await;
    c.wait_shown_text("[data-testid=settings-status]", "junk refused", |t| {
        t.contains("Could not save") && t.contains("certificate authority")
    })
    .await;

    // The CA made for this server: saved, applied at once, Live.
    c.type_into("#set-ca", ca.to_str().unwrap()).await;
    c.click("[data-testid=settings-save]").await;
    c.wait_shown_text(PILL, "live once the CA is trusted", |t| t.ends_with("Live"))
        .await;
    assert_eq!(
        settings_json(&driver)["ca"],
        json!(ca.to_str().unwrap()),
        "the CA is kept in settings.json"
    );

    // A token bound for plain http:// on another host: warned next to the
    // server field before anything is saved or sent.
    c.type_into("#set-server", "http://10.255.0.1:4000").await;
    let w = c
        .wait_shown_text(
            "[data-testid=plain-http-warning]",
            "plain http warning",
            |t| t.contains("plain http://"),
        )
        .await;
    assert!(w.contains("10.255.0.1") && w.contains("https://"), "{w}");
    c.type_into("#set-server", &url).await;
    let deadline = Instant::now() + WAIT;
    while c
        .shown_text_of("[data-testid=plain-http-warning]")
        .await
        .is_some()
    {
        assert!(Instant::now() < deadline, "the warning stays for https://");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await;

    // The next start trusts the saved CA.
    let c = driver.app(&["--server", &url, "--token", TOKEN]).await;
    c.wait_shown_text(PILL, "live from the saved CA", |t| t.ends_with("Live"))
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
    let (server, ca, _dir) = tls_server().await;
    let url = server.url();

    let driver = desktop();
    let c = driver.app(&[]).await;
    c.wait_shown_text("[data-testid=setup]", "setup shown", |t| {
        t.contains("Connect to your Pulseboard server")
    })
    .await;

    const WARNING: &str = "[data-testid=setup-plain-http-warning]";
    c.type_into("[data-testid=setup-server]", "http://10.255.0.1:4000")
        .await;
    c.type_into("[data-testid=setup-token]", TOKEN).await;
    let w = c
        .wait_shown_text(WARNING, "plain http warning in the setup", |t| {
            t.contains("plain http://")
        })
        .await;
    assert!(w.contains("10.255.0.1"), "{w}");

    c.type_into("[data-testid=setup-server]", &url).await;
    let deadline = Instant::now() + WAIT;
    while c.shown_text_of(WARNING).await.is_some() {
        assert!(Instant::now() < deadline, "the warning stays for https://");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.click("[data-testid=setup-test]").await;
    c.wait_shown_text("[data-testid=setup-result]", "certificate refused", |t| {
        t.contains("not trusted")
    })
    .await;

    c.type_into("[data-testid=setup-ca]", ca.to_str().unwrap())
        .await;
    c.click("[data-testid=setup-test]").await;
    c.wait_shown_text("[data-testid=setup-result]", "connects with the CA", |t| {
        t.contains("Connected to the Pulseboard server")
    })
    .await;
    c.click("[data-testid=setup-save]").await;
    c.wait_shown_text(PILL, "live after saving", |t| t.ends_with("Live"))
        .await;
    assert_eq!(settings_json(&driver)["ca"], json!(ca.to_str().unwrap()));
    c.close().await;
    server.stop().await.unwrap();
}
