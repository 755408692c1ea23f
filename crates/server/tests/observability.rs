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
