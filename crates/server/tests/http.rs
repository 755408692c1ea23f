//! HTTP API tests against a real server on 127.0.0.1:0.

use std::time::Duration;

use pulseboard_protocol::Snapshot;
use pulseboard_server::{spawn, Config, ServerHandle};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-token";

fn config(dir: &tempfile::TempDir, token: Option<&str>) -> Config {
    let mut c = Config::new(dir.path().join("data/server.db"));
    c.token = token.map(Into::into);
    c.simulator = false;
    c
}

async fn start(dir: &tempfile::TempDir, token: Option<&str>) -> ServerHandle {
    spawn(config(dir, token)).await.expect("server starts")
}

fn authed(client: &Client, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    client.request(method, url).bearer_auth(TOKEN)
}

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json::<Value>().await.expect("JSON body")
}

fn kpi(key: &str, value: f64) -> Value {
    json!({"key": key, "label": key.to_uppercase(), "value": value})
}

async fn snapshot(client: &Client, server: &ServerHandle) -> Snapshot {
    let resp = authed(
        client,
        reqwest::Method::GET,
        format!("{}/api/snapshot", server.url()),
    )
    .send()
    .await
    .expect("snapshot");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("snapshot shape")
}

async fn post_notification(client: &Client, server: &ServerHandle, title: &str) -> Value {
    let resp = authed(
        client,
        reqwest::Method::POST,
        format!("{}/api/notifications", server.url()),
    )
    .json(&json!({"title": title, "body": "body text", "severity": "warning", "module": "finance"}))
    .send()
    .await
    .expect("post");
    assert_eq!(resp.status(), StatusCode::CREATED);
    json_of(resp).await
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let resp = reqwest::get(format!("{}/healthz", server.url()))
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json_of(resp).await, json!({"status": "ok"}));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn api_requires_the_right_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let client = Client::new();
    let url = format!("{}/api/snapshot", server.url());

    let resp = client.get(&url).send().await.expect("no token");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(resp).await, json!({"error": "unauthorized"}));

    let resp = client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .expect("wrong");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(resp).await, json!({"error": "unauthorized"}));

    let resp = client
        .get(&url)
        .bearer_auth(format!("{TOKEN}x"))
        .send()
        .await
        .expect("longer");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Writes are protected too, and change nothing.
    let resp = client
        .post(format!("{}/api/notifications", server.url()))
        .json(&json!({"title": "t", "body": "b", "severity": "info"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let resp = client
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("right");
    assert_eq!(resp.status(), StatusCode::OK);
    let snap: Snapshot = resp.json().await.expect("shape");
    assert_eq!(snap.unread_count, 0);
    assert_eq!(snap.modules.len(), 4);
    assert_eq!(snap.dashboard.summary.len(), 6);
    assert_eq!(snap.dashboard.top_kpis.len(), 4);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn open_server_accepts_requests_without_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, None).await;
    let resp = reqwest::get(format!("{}/api/snapshot", server.url()))
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn notifications_get_increasing_seq() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let client = Client::new();
    let mut last = 0;
    for i in 0..5 {
        let n = post_notification(&client, &server, &format!("title {i}")).await;
        let seq = n["seq"].as_u64().expect("seq");
        assert!(seq > last, "seq {seq} after {last}");
        last = seq;
        assert_eq!(n["id"], json!(format!("n-{seq}")));
        assert_eq!(n["read"], json!(false));
        assert_eq!(n["title"], json!(format!("title {i}")));
        assert_eq!(n["severity"], json!("warning"));
        assert_eq!(n["module"], json!("finance"));
        assert!(n["createdAt"].as_str().is_some());
    }
    assert_eq!(snapshot(&client, &server).await.unread_count, 5);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn bad_bodies_get_readable_400s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let client = Client::new();
    let url = format!("{}/api/notifications", server.url());

    let cases: &[(&str, &str)] = &[
        ("{not json", "invalid payload"),
        (
            r#"{"body": "b", "severity": "info"}"#,
            "missing field `title`",
        ),
        (
            r#"{"title": "t", "body": "b", "severity": "fatal"}"#,
            "unknown variant `fatal`",
        ),
        (
            r#"{"title": "", "body": "b", "severity": "info"}"#,
            "`title` must not be empty",
        ),
        (
            r#"{"title": "t", "body": "b", "severity": "info", "module": "sales"}"#,
            "unknown variant `sales`",
        ),
        ("", "EOF"),
    ];
    for (body, reason) in cases {
        let resp = authed(&client, reqwest::Method::POST, url.clone())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let err = json_of(resp).await;
        let msg = err["error"].as_str().expect("error string");
        assert!(msg.contains(reason), "{body}: {msg}");
    }

    let resp = authed(
        &client,
        reqwest::Method::POST,
        format!("{}/api/alerts", server.url()),
    )
    .json(&json!({"title": "t", "message": "m", "severity": "error"}))
    .send()
    .await
    .expect("alert");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Nothing was stored.
    assert_eq!(snapshot(&client, &server).await.unread_count, 0);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn oversized_body_is_413_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let client = Client::new();
    let big = format!(
        r#"{{"title": "t", "severity": "info", "body": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    for path in ["/api/notifications", "/api/alerts"] {
        let resp = authed(
            &client,
            reqwest::Method::POST,
            format!("{}{path}", server.url()),
        )
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("post");
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let err = json_of(resp).await;
        assert!(
            err["error"].as_str().expect("error").contains("limit"),
            "{err}"
        );
    }
    // Chunked bodies (no Content-Length) are limited too.
    let (status, body) = chunked_put(&server, "/api/dashboard", 20, 64 * 1024).await;
    assert_eq!(status, 413, "{body}");
    let err: Value = serde_json::from_str(&body).expect("JSON body");
    assert!(err["error"].is_string());
    server.stop().await.expect("stop");
}

/// Send a chunked PUT over a raw TCP stream; returns status and body.
async fn chunked_put(
    server: &ServerHandle,
    path: &str,
    chunks: usize,
    chunk: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let data = vec![b' '; chunk];
    for _ in 0..chunks {
        // The server may answer and stop reading early; that is fine.
        if stream
            .write_all(format!("{chunk:x}\r\n").as_bytes())
            .await
            .is_err()
            || stream.write_all(&data).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn unknown_module_and_routes_are_404_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let client = Client::new();
    let resp = authed(
        &client,
        reqwest::Method::PUT,
        format!("{}/api/kpis/sales", server.url()),
    )
    .json(&json!({"kpis": [kpi("a", 1.0)]}))
    .send()
    .await
    .expect("put");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let err = json_of(resp).await;
    assert!(
        err["error"].as_str().expect("error").contains("sales"),
        "{err}"
    );

    let resp = authed(
        &client,
        reqwest::Method::GET,
        format!("{}/nope", server.url()),
    )
    .send()
    .await
    .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(json_of(resp).await["error"].is_string());

    let resp = client
        .delete(format!("{}/healthz", server.url()))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(json_of(resp).await["error"].is_string());
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn put_kpis_and_dashboard_are_reflected_in_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let client = Client::new();
    let before = snapshot(&client, &server).await;

    let resp = authed(&client, reqwest::Method::PUT, format!("{}/api/kpis/finance", server.url()))
        .json(&json!({"kpis": [
            {"key": "revenue", "label": "Revenue", "value": 42.5, "unit": "USD", "delta": 1.5, "status": "warning"},
            kpi("other", 7.0)
        ]}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_of(resp).await;
    assert_eq!(body["module"], json!("finance"));
    assert_eq!(body["kpis"][0]["value"], json!(42.5));
    assert_eq!(body["kpis"][0]["status"], json!("warning"));
    assert!(body["updatedAt"].is_string());

    let after = snapshot(&client, &server).await;
    let finance = &after.modules[&pulseboard_protocol::Module::Finance];
    assert_eq!(finance.kpis.len(), 2);
    assert_eq!(finance.kpis[0].value, 42.5);
    assert!(finance.updated_at >= before.modules[&pulseboard_protocol::Module::Finance].updated_at);
    // Other modules are untouched.
    assert_eq!(
        after.modules[&pulseboard_protocol::Module::Hr],
        before.modules[&pulseboard_protocol::Module::Hr]
    );

    // Duplicate keys and non-numbers are refused.
    for bad in [
        json!({"kpis": [kpi("a", 1.0), kpi("a", 2.0)]}),
        json!({"kpis": [{"key": "a", "label": "A", "value": "1"}]}),
        json!({"kpis": "nope"}),
    ] {
        let resp = authed(
            &client,
            reqwest::Method::PUT,
            format!("{}/api/kpis/hr", server.url()),
        )
        .json(&bad)
        .send()
        .await
        .expect("put");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    // Dashboard: wrong counts are refused, right ones accepted.
    let six: Vec<Value> = (0..6).map(|i| kpi(&format!("s{i}"), i as f64)).collect();
    let four: Vec<Value> = (0..4).map(|i| kpi(&format!("t{i}"), i as f64)).collect();
    let url = format!("{}/api/dashboard", server.url());
    let resp = authed(&client, reqwest::Method::PUT, url.clone())
        .json(&json!({"summary": &six[..5], "topKpis": four}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(json_of(resp).await["error"]
        .as_str()
        .expect("e")
        .contains("summary"));
    let resp = authed(&client, reqwest::Method::PUT, url.clone())
        .json(&json!({"summary": six, "topKpis": &four[..3]}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&client, &server).await.dashboard, after.dashboard);

    let resp = authed(&client, reqwest::Method::PUT, url)
        .json(&json!({"summary": six, "topKpis": four}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_of(resp).await;
    assert_eq!(body["summary"].as_array().map(Vec::len), Some(6));
    assert_eq!(body["topKpis"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        snapshot(&client, &server).await.dashboard.summary[5].key,
        "s5"
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn alerts_get_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, Some(TOKEN)).await;
    let client = Client::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let resp = authed(
            &client,
            reqwest::Method::POST,
            format!("{}/api/alerts", server.url()),
        )
        .json(&json!({"title": "Disk", "message": "Disk almost full", "severity": "critical"}))
        .send()
        .await
        .expect("post");
        assert_eq!(resp.status(), StatusCode::CREATED);
        let a = json_of(resp).await;
        assert_eq!(a["severity"], json!("critical"));
        assert_eq!(a["message"], json!("Disk almost full"));
        assert!(a["createdAt"].is_string());
        ids.push(a["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids, vec!["a-1", "a-2"]);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = Client::new();

    let server = start(&dir, Some(TOKEN)).await;
    let a = post_notification(&client, &server, "a").await;
    let b = post_notification(&client, &server, "b").await;
    let resp = authed(
        &client,
        reqwest::Method::PUT,
        format!("{}/api/kpis/hr", server.url()),
    )
    .json(&json!({"kpis": [kpi("headcount", 999.0)]}))
    .send()
    .await
    .expect("put");
    assert_eq!(resp.status(), StatusCode::OK);
    server.stop().await.expect("stop");

    // Mark one read directly in the database while the server is down.
    {
        use pulseboard_server::storage::Storage as _;
        let store = pulseboard_server::storage::Store::open(&dir.path().join("data/server.db"))
            .expect("open");
        let out = store
            .mark_read_ids("default", vec![a["id"].as_str().expect("id").to_owned()])
            .await
            .expect("mark");
        assert_eq!(out.unread, 1);
        let all = store.notifications_after("default", 0).await.expect("list");
        assert_eq!(all.len(), 2);
    }

    let server = start(&dir, Some(TOKEN)).await;
    let snap = snapshot(&client, &server).await;
    assert_eq!(snap.unread_count, 1);
    let hr = &snap.modules[&pulseboard_protocol::Module::Hr];
    assert_eq!(hr.kpis.len(), 1);
    assert_eq!(hr.kpis[0].value, 999.0);

    let c = post_notification(&client, &server, "c").await;
    assert!(c["seq"].as_u64() > b["seq"].as_u64());
    assert_ne!(c["id"], a["id"]);
    assert_ne!(c["id"], b["id"]);
    assert_eq!(snapshot(&client, &server).await.unread_count, 2);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn simulator_runs_when_on_and_not_when_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = Client::new();
    let mut cfg = config(&dir, Some(TOKEN));
    cfg.simulator = true;
    cfg.kpi_interval = Duration::from_millis(50);
    cfg.dashboard_interval = Duration::from_millis(50);
    let server = spawn(cfg).await.expect("start");
    let first = snapshot(&client, &server).await;
    // Poll until the simulator has moved both the modules and the dashboard.
    let moved = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let now = snapshot(&client, &server).await;
            if Module::ALL
                .iter()
                .all(|m| now.modules[m].updated_at > first.modules[m].updated_at)
                && now.dashboard.updated_at > first.dashboard.updated_at
            {
                return now;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("simulator ticks");
    for m in Module::ALL {
        let k = &moved.modules[&m];
        assert!((3..=5).contains(&k.kpis.len()));
        assert!(k
            .kpis
            .iter()
            .all(|k| k.delta.is_some() && k.status.is_some()));
    }
    server.stop().await.expect("stop");

    // Off: nothing changes during many would-be ticks.
    let mut cfg = config(&dir, Some(TOKEN));
    cfg.kpi_interval = Duration::from_millis(20);
    cfg.dashboard_interval = Duration::from_millis(20);
    let server = spawn(cfg).await.expect("start");
    let first = snapshot(&client, &server).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshot(&client, &server).await, first);
    server.stop().await.expect("stop");
}

use pulseboard_protocol::Module;
