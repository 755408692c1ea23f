//! `/metrics` counts what happened; `/readyz` follows the database.

mod common;

use std::{path::Path, process::Command};

use common::{auth, config, eventually, metric, metrics, start, Polling};
use reqwest::{Client, StatusCode};
use serde_json::json;

#[tokio::test]
async fn metrics_count_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.token = Some("tok".into());
    c.rate_limit = 1000;
    let server = start(c).await;
    let http = Client::new();

    let resp = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let before = resp.text().await.unwrap();
    assert_eq!(metric(&before, "pulseboard_auth_refused_total"), 0.0);
    assert_eq!(metric(&before, "pulseboard_events_out_total"), 0.0);

    // Two subscribers, one notification: one event out, two deliveries.
    let mut a = Polling::open(&server, auth("tok")).await;
    let mut b = Polling::open(&server, auth("tok")).await;
    for p in [&mut a, &mut b] {
        assert_eq!(p.connected().await, Ok(()));
        let ack = p.call("notification:subscribe", Some(json!({}))).await;
        assert_eq!(ack["ok"], true);
    }
    let resp = http
        .post(format!("{}/api/notifications", server.url()))
        .bearer_auth("tok")
        .json(&json!({"title": "t", "body": "b", "severity": "info"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    a.event("notification:new").await;
    // Three refused: wrong token twice over HTTP, once on Socket.IO.
    for _ in 0..2 {
        let resp = http
            .get(format!("{}/api/snapshot", server.url()))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let mut bad = Polling::open(&server, auth("wrong")).await;
    assert!(bad.connected().await.is_err());

    let m = metrics(&server).await;
    assert_eq!(metric(&m, "pulseboard_auth_refused_total"), 3.0, "{m}");
    assert_eq!(metric(&m, "pulseboard_events_out_total"), 1.0, "{m}");
    assert_eq!(metric(&m, "pulseboard_deliveries_total"), 2.0, "{m}");
    assert_eq!(metric(&m, "pulseboard_events_in_total"), 2.0, "{m}");
    assert_eq!(metric(&m, "pulseboard_connections"), 2.0, "{m}");
    assert_eq!(metric(&m, "pulseboard_http_requests_total"), 3.0, "{m}");
    assert_eq!(metric(&m, "pulseboard_rate_limited_total"), 0.0, "{m}");
    assert_eq!(
        metric(&m, "pulseboard_overflow_disconnects_total"),
        0.0,
        "{m}"
    );
    assert_eq!(metric(&m, "pulseboard_storage_errors_total"), 0.0, "{m}");
    assert!(m.contains("# TYPE pulseboard_events_in counter"), "{m}");
    server.stop().await.unwrap();
}

async fn readyz(http: &Client, server: &pulseboard_server::ServerHandle) -> StatusCode {
    http.get(format!("{}/readyz", server.url()))
        .send()
        .await
        .unwrap()
        .status()
}

/// Clears the immutable attribute even when the test fails, so the temp dir
/// can be removed.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

/// `/readyz` is 503 while the database file cannot be written and 200 again
/// once it can. Tests run as root, for whom permission bits do not matter, so
/// two root-proof ways are used: the database's directory moved away (the
/// file is no longer where the server writes it; works on any filesystem),
/// and the file made immutable with `chattr +i` (where the filesystem
/// supports it; skipped with a note otherwise).
#[tokio::test]
async fn readyz_goes_503_when_the_database_becomes_unwritable_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let http = Client::new();
    assert_eq!(readyz(&http, &server).await, StatusCode::OK);
    let data = dir.path().join("data");
    let away = dir.path().join("data.away");

    std::fs::rename(&data, &away).unwrap();
    let resp = http
        .get(format!("{}/readyz", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(
        reqwest::get(format!("{}/healthz", server.url()))
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "healthz is liveness only"
    );
    std::fs::rename(&away, &data).unwrap();
    eventually("readyz 200 after restore", || {
        let (http, server) = (&http, &server);
        async move { (readyz(http, server).await == StatusCode::OK).then_some(()) }
    })
    .await;

    let db = data.join("server.db");
    let chattr = Command::new("chattr").arg("+i").arg(&db).status();
    if matches!(chattr, Ok(s) if s.success()) {
        let guard = Immutable(&db);
        assert_eq!(
            readyz(&http, &server).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(guard);
        assert_eq!(readyz(&http, &server).await, StatusCode::OK);
    } else {
        eprintln!("note: chattr +i not available here; checked the moved-directory case only");
    }
    let m = metrics(&server).await;
    assert!(metric(&m, "pulseboard_storage_errors_total") >= 1.0, "{m}");
    server.stop().await.unwrap();
}

/// Start the server binary with `args` and `RUST_LOG=info`, stderr piped;
/// returns the child and its base URL.
async fn server_binary(dir: &tempfile::TempDir, args: &[&str]) -> (tokio::process::Child, String) {
    common::listening(
        common::server_command(dir.path())
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped()),
    )
    .await
}

/// With `--log-format json` every log line is a JSON object; 50 refused
/// logins in a burst give one warn line carrying the count, not 50 lines.
#[tokio::test]
async fn json_logs_and_refused_logins_logged_at_warn_without_flooding() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = server_binary(&dir, &["--token", "tok", "--log-format", "json"]).await;
    let http = Client::new();
    for _ in 0..50 {
        let resp = http
            .get(format!("{url}/api/snapshot"))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let m = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(metric(&m, "pulseboard_auth_refused_total"), 50.0);
    child.start_kill().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty());
    let refused: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("refused authentication"))
        })
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["level"], "WARN");
    assert_eq!(
        refused[0]["fields"]["refused"], 1,
        "the first one is logged at once"
    );
}

/// Without any token the server will not listen on a non-loopback address
/// unless told to.
#[tokio::test]
async fn an_open_server_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pulseboard-server"))
        .args(["--listen", "0.0.0.0:0", "--db"])
        .arg(dir.path().join("server.db"))
        .env_remove("PULSEBOARD_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no token configured"), "{err}");
}
