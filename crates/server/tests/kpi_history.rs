//! `GET /api/kpis/{module}/{key}/history` against a real server on
//! 127.0.0.1:0: what an operator or the app sees (the storage side runs on
//! both stores in `tests/storage.rs`).

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{config, eventually, start};
use pulseboard_protocol::{KpiHistory, Module, Snapshot};
use pulseboard_server::storage::{SqliteStore, Storage};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const FULL: &str = "full-token";
const VIEW: &str = "alice-view-token";
const PUBLISH: &str = "ci-publish-token";

fn history_url(server: &pulseboard_server::ServerHandle, path: &str) -> String {
    format!("{}/api/kpis/{path}", server.url())
}

async fn get(http: &Client, url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("get");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn decoded(body: Value) -> KpiHistory {
    pulseboard_protocol::decode(body).expect("a valid history answer")
}

/// History before the server starts, at known times: three values of
/// finance/revenue in the last 3 hours, one 3 days ago, one 8 days ago.
async fn seed(db: &std::path::Path, now: DateTime<Utc>) {
    let store = SqliteStore::open(db).expect("open");
    let hours = |h: i64| now - chrono::Duration::minutes(h);
    for (at, v) in [
        (now - chrono::Duration::days(8), 1.0),
        (now - chrono::Duration::days(3), 5.0),
        (hours(180), 10.0),
        (hours(120), 20.0),
        (hours(90), 30.0),
    ] {
        store
            .record_kpis(Module::Finance, at, vec![("revenue".into(), v)])
            .await
            .expect("seed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_served_downsampled_in_order_pruned_and_guarded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(&dir);
    c.token = Some(FULL.into());
    c.view_tokens = vec![("alice".into(), VIEW.into())];
    c.publish_tokens = vec![("ci".into(), PUBLISH.into())];
    c.retain_days = Some(2);
    seed(&c.db_path, Utc::now()).await;
    let server = start(c).await;
    let http = Client::new();
    let week = history_url(&server, "finance/revenue/history?range=7d");

    // Retention (2 days) deletes the two old values, and the 7 d answer
    // says part of it is gone.
    let h = eventually("retention prunes the old history", || async {
        let (s, b) = get(&http, &week, Some(VIEW)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let h = decoded(b);
        h.truncated.then_some(h)
    })
    .await;
    assert_eq!(
        h.points.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![10.0, 20.0, 30.0]
    );

    // A value put now joins them, last, in time order, with its bucket's
    // lowest and highest.
    let before = Utc::now() - chrono::Duration::seconds(1);
    let resp = http
        .put(history_url(&server, "finance"))
        .bearer_auth(PUBLISH)
        .json(&json!({"kpis": [
            {"key": "revenue", "label": "Revenue", "value": 42.5},
            {"key": "margin", "label": "Margin", "value": 3.0}
        ]}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::OK);
    let (s, body) = get(
        &http,
        &history_url(&server, "finance/revenue/history?range=24h"),
        Some(VIEW),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["module"], "finance");
    assert_eq!(body["key"], "revenue");
    assert_eq!(body["range"], "24h");
    assert_eq!(body["bucketSeconds"], 300);
    assert_eq!(body["points"][3]["value"], 42.5);
    assert_eq!(body["points"][3]["min"], 42.5);
    assert_eq!(body["points"][3]["max"], 42.5);
    assert!(body.get("truncated").is_none(), "24 h lost nothing: {body}");
    let day = decoded(body);
    assert_eq!(
        day.points.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![10.0, 20.0, 30.0, 42.5]
    );
    assert!(day.points.windows(2).all(|w| w[0].at < w[1].at));
    assert!(day.points[3].at >= before && day.points[3].at <= day.to);
    assert!(day.points[0].at >= day.from);
    assert!(day.to - day.from >= chrono::Duration::hours(24));
    assert!(day.to - day.from <= chrono::Duration::hours(24) + chrono::Duration::minutes(5));

    // The last hour holds only the new value; no range means 1 h.
    for path in [
        "finance/revenue/history?range=1h",
        "finance/revenue/history",
    ] {
        let (s, b) = get(&http, &history_url(&server, path), Some(FULL)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let h = decoded(b);
        assert_eq!(h.range.as_str(), "1h");
        assert_eq!(h.bucket_seconds, 20);
        assert_eq!(
            h.points.iter().map(|p| p.value).collect::<Vec<_>>(),
            vec![42.5]
        );
    }

    // A key the server never saw: 200 with no points. A key with a slash
    // or spaces is one path segment when encoded.
    let (s, b) = get(
        &http,
        &history_url(&server, "finance/no%2Fsuch%20key/history?range=24h"),
        Some(VIEW),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["key"], "no/such key");
    assert_eq!(b["points"], json!([]));

    // Bad input: a clear error.
    let (s, b) = get(
        &http,
        &history_url(&server, "finance/revenue/history?range=2h"),
        Some(VIEW),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"].as_str().unwrap_or("").contains("1h, 24h, 7d"),
        "{b}"
    );
    let (s, b) = get(
        &http,
        &history_url(&server, "sales/revenue/history"),
        Some(VIEW),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "unknown module, as for PUT");
    assert!(b["error"].as_str().unwrap_or("").contains("sales"), "{b}");
    let long = "k".repeat(65);
    let (s, _) = get(
        &http,
        &history_url(&server, &format!("finance/{long}/history")),
        Some(VIEW),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The same rules as the other reads: 401 without or with a wrong
    // token, 403 for a publish-only token or a foreign Origin.
    let day_url = history_url(&server, "finance/revenue/history?range=24h");
    assert_eq!(get(&http, &day_url, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&http, &day_url, Some("wrong")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&http, &day_url, Some(PUBLISH)).await,
        (StatusCode::FORBIDDEN, json!({"error": "forbidden"}))
    );
    let resp = http
        .get(&day_url)
        .bearer_auth(VIEW)
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    server.stop().await.expect("stop");
}

/// The simulator's updates are recorded like a publisher's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_kpis_have_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(&dir);
    c.simulator = true;
    c.kpi_interval = Duration::from_millis(50);
    let server = start(c).await;
    let http = Client::new();
    let (_, snap) = get(&http, &format!("{}/api/snapshot", server.url()), None).await;
    let snap: Snapshot = serde_json::from_value(snap).expect("snapshot");
    let key = snap.modules[&Module::Hr].kpis[0].key.clone();
    let url = history_url(&server, &format!("hr/{key}/history?range=1h"));
    eventually("the simulator's values in the history", || async {
        let (s, b) = get(&http, &url, None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let h = decoded(b);
        (!h.points.is_empty()).then_some(())
    })
    .await;
    server.stop().await.expect("stop");
}
