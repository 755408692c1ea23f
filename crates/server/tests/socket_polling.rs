//! Socket.IO tests over plain HTTP long-polling (Engine.IO 4), using a
//! minimal hand-written client (tests/common: `Polling`) so they need no
//! Socket.IO client crate.

mod common;

use common::{auth, Polling};

use pulseboard_protocol::{
    decode_ack, Dashboard, MarkReadAck, ModuleKpis, NotificationSubscribeAck, ServerEvent,
    SnapshotAck,
};
use pulseboard_server::{spawn, Config, ServerHandle};
use reqwest::Client;
use serde_json::{json, Value};

const TOKEN: &str = "tok";

async fn start(token: Option<&str>) -> (tempfile::TempDir, ServerHandle) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Config::new(dir.path().join("db.sqlite"));
    c.token = token.map(Into::into);
    c.simulator = false;
    let server = spawn(c).await.expect("start");
    (dir, server)
}

#[tokio::test]
async fn wrong_or_missing_token_is_unauthorized() {
    let (_dir, server) = start(Some(TOKEN)).await;
    let mut p = Polling::open(&server, auth("nope")).await;
    assert_eq!(p.connected().await, Err("unauthorized".into()));
    let mut p = Polling::open(&server, None).await;
    assert_eq!(p.connected().await, Err("unauthorized".into()));
    let mut p = Polling::open(&server, Some(json!({"token": 5}))).await;
    assert_eq!(p.connected().await, Err("unauthorized".into()));
    let mut p = Polling::open(&server, auth(TOKEN)).await;
    assert_eq!(p.connected().await, Ok(()));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn connect_status_and_module_updates() {
    let (_dir, server) = start(Some(TOKEN)).await;
    let mut p = Polling::open(&server, auth(TOKEN)).await;
    assert_eq!(p.connected().await, Ok(()));
    let status = p.event("connection:status").await;
    match ServerEvent::decode("connection:status", status.clone()).expect("valid") {
        ServerEvent::ConnectionStatus(s) => {
            assert_eq!(s.status, "connected");
            assert_eq!(s.modules.len(), 4);
            assert_eq!(s.server_version, env!("CARGO_PKG_VERSION"));
        }
        other => panic!("unexpected {other:?}"),
    }

    let ack = p
        .call("module:subscribe", Some(json!({"module": "finance"})))
        .await;
    let snap: SnapshotAck<ModuleKpis> = decode_ack(ack).expect("snapshot ack");
    assert_eq!(snap.snapshot.module, pulseboard_protocol::Module::Finance);

    let ack = p.call("dashboard:subscribe", Some(json!({}))).await;
    let dash: SnapshotAck<Dashboard> = decode_ack(ack).expect("dashboard ack");
    assert_eq!(dash.snapshot.summary.len(), 6);
    let ack = p.call("dashboard:subscribe", None).await;
    assert_eq!(ack["ok"], json!(true), "no payload counts as {{}}");

    let resp = Client::new()
        .put(format!("{}/api/kpis/finance", server.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"kpis": [{"key": "revenue", "label": "Revenue", "value": 5.0}]}))
        .send()
        .await
        .expect("put");
    assert!(resp.status().is_success());
    let update = p.event("kpi:update:finance").await;
    match ServerEvent::decode("kpi:update:finance", update).expect("valid") {
        ServerEvent::KpiUpdate(k) => assert_eq!(k.kpis[0].value, 5.0),
        other => panic!("unexpected {other:?}"),
    }

    let ack = p
        .call("module:unsubscribe", Some(json!({"module": "finance"})))
        .await;
    assert_eq!(ack, json!({"ok": true}));

    // Alerts reach every client, subscribed or not.
    let resp = Client::new()
        .post(format!("{}/api/alerts", server.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"title": "T", "message": "M", "severity": "info"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 201);
    let alert = p.event("alert:system").await;
    assert_eq!(alert["id"], json!("a-1"));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn bad_input_gets_ok_false_and_connection_survives() {
    let (_dir, server) = start(None).await;
    let mut p = Polling::open(&server, None).await;
    assert_eq!(p.connected().await, Ok(()));

    let cases = [
        (
            "module:subscribe",
            Some(json!({"module": "sales"})),
            "sales",
        ),
        (
            "module:subscribe",
            Some(json!({"module": 3})),
            "invalid payload",
        ),
        ("module:subscribe", None, "payload"),
        (
            "module:unsubscribe",
            Some(json!("finance")),
            "invalid payload",
        ),
        (
            "notification:subscribe",
            Some(json!({"afterSeq": -1})),
            "invalid payload",
        ),
        (
            "notification:mark-read",
            Some(json!({"ids": "n-1"})),
            "invalid payload",
        ),
        ("notification:mark-read", Some(json!({})), "`ids`"),
        (
            "notification:mark-read",
            Some(json!({"ids": [""]})),
            "must not be empty",
        ),
    ];
    for (event, data, reason) in cases {
        let ack = p.call(event, data.clone()).await;
        assert_eq!(ack["ok"], json!(false), "{event} {data:?}");
        let msg = ack["error"].as_str().expect("error");
        assert!(msg.contains(reason), "{event} {data:?}: {msg}");
    }
    // Oversized (over 1 MiB, under the transport limit).
    let big = "x".repeat(pulseboard_protocol::limits::MAX_BODY_BYTES + 10);
    let ack = p
        .call("notification:mark-read", Some(json!({"ids": [big]})))
        .await;
    assert_eq!(ack["ok"], json!(false));
    assert!(ack["error"].as_str().expect("error").contains("limit"));

    // Still connected and working.
    let ack = p
        .call("module:subscribe", Some(json!({"module": "hr"})))
        .await;
    assert_eq!(ack["ok"], json!(true));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn notifications_catch_up_mark_read_and_broadcasts() {
    let (_dir, server) = start(None).await;
    let http = Client::new();
    let mut seqs = Vec::new();
    for i in 0..3 {
        let n: Value = http
            .post(format!("{}/api/notifications", server.url()))
            .json(&json!({"title": format!("n{i}"), "body": "", "severity": "info"}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        seqs.push(n["seq"].as_u64().expect("seq"));
    }

    let mut a = Polling::open(&server, None).await;
    assert_eq!(a.connected().await, Ok(()));
    let mut b = Polling::open(&server, None).await;
    assert_eq!(b.connected().await, Ok(()));

    let ack = a
        .call("notification:subscribe", Some(json!({"afterSeq": seqs[0]})))
        .await;
    let sub: NotificationSubscribeAck = decode_ack(ack).expect("ack");
    assert_eq!(
        sub.notifications.iter().map(|n| n.seq).collect::<Vec<_>>(),
        seqs[1..]
    );
    assert_eq!(sub.unread_count, 3);
    let ack = b.call("notification:subscribe", None).await;
    let sub: NotificationSubscribeAck = decode_ack(ack).expect("ack");
    assert_eq!(sub.notifications.len(), 3);

    // New notifications reach subscribers once stored.
    http.post(format!("{}/api/notifications", server.url()))
        .json(&json!({"title": "fresh", "body": "b", "severity": "success", "module": "hr"}))
        .send()
        .await
        .expect("post");
    let fresh = a.event("notification:new").await;
    assert_eq!(fresh["title"], json!("fresh"));
    assert_eq!(b.event("notification:new").await, fresh);

    // Mark one read: ack to the sender, notification:read to everyone.
    let id = format!("n-{}", seqs[0]);
    let ack = a
        .call(
            "notification:mark-read",
            Some(json!({"ids": [id, "n-999"]})),
        )
        .await;
    let ack: MarkReadAck = decode_ack(ack).expect("ack");
    assert_eq!(ack.unread_count, 3);
    let read = b.event("notification:read").await;
    assert_eq!(read, json!({"ids": [id], "unreadCount": 3}));

    // Mark all.
    let ack = b
        .call("notification:mark-read", Some(json!({"all": true})))
        .await;
    assert_eq!(ack, json!({"ok": true, "unreadCount": 0}));
    let read = a.event("notification:read").await;
    assert_eq!(read["ids"].as_array().map(Vec::len), Some(3));
    assert_eq!(read["unreadCount"], json!(0));

    let ack = a
        .call("notification:subscribe", Some(json!({"afterSeq": 0})))
        .await;
    let sub: NotificationSubscribeAck = decode_ack(ack).expect("ack");
    assert!(sub.notifications.iter().all(|n| n.read));
    assert_eq!(sub.unread_count, 0);
    server.stop().await.expect("stop");
}
