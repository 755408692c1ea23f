//! The server on PostgreSQL (`--db postgres://...`), with PostgreSQL started
//! by the test: `/readyz` names the store, several nodes share it, and a
//! PostgreSQL restart costs nothing that was accepted.

use std::time::Duration;

use pulseboard_server::{
    spawn,
    storage::{PostgresStore, Storage, DEFAULT_VIEWER},
    Config, ServerHandle,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

mod common;
mod services;

const WAIT: Duration = Duration::from_secs(60);

fn kpi(key: &str, value: f64) -> Value {
    json!({"key": key, "label": key.to_uppercase(), "value": value})
}

async fn node(url: &str) -> ServerHandle {
    let mut c = Config::new(url);
    c.simulator = false;
    spawn(c).await.expect("server starts on postgres")
}

async fn post(http: &Client, server: &ServerHandle, title: &str) -> (StatusCode, Value) {
    let r = http
        .post(format!("{}/api/notifications", server.url()))
        .json(&json!({"title": title, "body": "b", "severity": "info"}))
        .send()
        .await
        .expect("post");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(http: &Client, server: &ServerHandle, path: &str) -> (StatusCode, Value) {
    let r = http
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .expect("get");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Two nodes on one PostgreSQL database are one server to their clients:
/// the same `serverId`, notifications, unread counts, KPIs and dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_share_notifications_and_server_id() {
    let pg = services::Postgres::start();
    let url = pg.database("pb").await;
    let (a, b) = (node(&url).await, node(&url).await);
    let http = Client::new();

    let (status, ready) = get(&http, &a, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["storage"], "postgresql");

    for i in 0..3 {
        assert_eq!(
            post(&http, &a, &format!("a{i}")).await.0,
            StatusCode::CREATED
        );
        assert_eq!(
            post(&http, &b, &format!("b{i}")).await.0,
            StatusCode::CREATED
        );
    }
    let (_, snap_a) = get(&http, &a, "/api/snapshot").await;
    let (_, snap_b) = get(&http, &b, "/api/snapshot").await;
    assert_eq!(snap_a["unreadCount"], 6, "{snap_a}");
    assert_eq!(snap_b["unreadCount"], 6, "{snap_b}");
    assert_eq!(snap_a["serverId"], snap_b["serverId"]);
    assert!(snap_a["serverId"].as_str().is_some_and(|s| !s.is_empty()));

    // A KPI put on node A is in node B's snapshot and subscribe ack, and
    // so is the dashboard.
    let r = http
        .put(format!("{}/api/kpis/finance", a.url()))
        .json(&json!({"kpis": [{"key": "cash", "label": "Cash", "value": 42.5}]}))
        .send()
        .await
        .expect("put kpis");
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .put(format!("{}/api/dashboard", a.url()))
        .json(&json!({
            "summary": (0..6).map(|i| kpi(&format!("s{i}"), 7.0 + f64::from(i))).collect::<Vec<_>>(),
            "topKpis": (0..4).map(|i| kpi(&format!("t{i}"), 1.0)).collect::<Vec<_>>(),
        }))
        .send()
        .await
        .expect("put dashboard");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, snap_b) = get(&http, &b, "/api/snapshot").await;
    assert_eq!(
        snap_b["modules"]["finance"]["kpis"][0]["value"], 42.5,
        "{snap_b}"
    );
    assert_eq!(snap_b["dashboard"]["summary"][0]["value"], 7.0, "{snap_b}");
    let mut sock = common::Polling::open(&b, None).await;
    sock.connected().await.expect("connect to b");
    let ack = sock
        .call("module:subscribe", Some(json!({"module": "finance"})))
        .await;
    assert_eq!(ack["snapshot"]["kpis"][0]["value"], 42.5, "{ack}");
    let ack = sock.call("dashboard:subscribe", Some(json!({}))).await;
    assert_eq!(ack["snapshot"]["summary"][0]["value"], 7.0, "{ack}");

    let store = PostgresStore::connect(&url).await.expect("connect");
    let all = store
        .notifications_after(DEFAULT_VIEWER, 0)
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|n| n.seq).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<u64>>(),
        "one seq order for both nodes"
    );
    a.stop().await.expect("stop a");
    b.stop().await.expect("stop b");
}

/// PostgreSQL goes away while the server runs: writes answer 503 (not 500,
/// not a hang), `/readyz` is 503 and names the store; when PostgreSQL is back
/// the server recovers by itself and every accepted notification is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_gives_503_then_recovers_losing_nothing_accepted() {
    let pg = services::Postgres::start();
    let url = pg.database("pb").await;
    let server = node(&url).await;
    let http = Client::new();
    let mut accepted = Vec::new();
    for i in 0..5 {
        let (status, body) = post(&http, &server, &format!("before{i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        accepted.push(body["id"].as_str().expect("id").to_owned());
    }

    pg.stop();
    let (status, body) = post(&http, &server, "while-down").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a write while PostgreSQL is gone: {body}"
    );
    let (status, ready) = get(&http, &server, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["storage"], "postgresql");

    pg.start_again();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = post(&http, &server, "after").await;
        if status == StatusCode::CREATED {
            accepted.push(body["id"].as_str().expect("id").to_owned());
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not recover after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..5 {
        let (status, body) = post(&http, &server, &format!("later{i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        accepted.push(body["id"].as_str().expect("id").to_owned());
    }
    let (status, _) = get(&http, &server, "/readyz").await;
    assert_eq!(status, StatusCode::OK);

    let store = PostgresStore::connect(&url).await.expect("connect");
    let stored: Vec<String> = store
        .notifications_after(DEFAULT_VIEWER, 0)
        .await
        .expect("list")
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(
        stored, accepted,
        "every accepted notification, once, in order"
    );
    server.stop().await.expect("stop");
}
