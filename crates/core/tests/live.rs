//! The core client against a real pulseboard-server on 127.0.0.1:0.

mod common;

use common::*;
use pulseboard_core::{ConnectionState, TransportKind, TransportMode, Update};
use pulseboard_protocol::{MarkRead, Module};
use serde_json::{json, Value};

fn kpis(v: f64) -> Value {
    json!({"kpis": [{"key": "revenue", "label": "Revenue", "value": v, "unit": "USD", "delta": 1.5, "status": "ok"}]})
}

fn dashboard(v: f64) -> Value {
    let card = |k: &str| json!({"key": k, "label": k, "value": v});
    let summary: Vec<Value> = ["a", "b", "c", "d", "e", "f"].map(card).into();
    let top: Vec<Value> = ["w", "x", "y", "z"].map(card).into();
    json!({"summary": summary, "topKpis": top})
}

/// Every event of the contract in both directions, over one transport.
async fn every_event(transport: TransportMode, expect: TransportKind) {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), Some("t0k")).await;
    let http = Http::new(&srv.url(), Some("t0k"));
    http.notify("before connect").await;

    let mut c = start(config(&srv.url(), transport, Some("t0k")));
    // connection:status, then snapshots from the subscribe acks, then catch-up.
    let status = until_event(&mut c.rx, "connection:status").await;
    assert_eq!(status["status"], "connected");
    let mut snapshots = std::collections::BTreeSet::new();
    while snapshots.len() < 4 {
        let m = until(&mut c.rx, "kpi snapshot", |u| match u {
            Update::Event(e) if e.name().starts_with("kpi:update:") => Some(e.payload()),
            _ => None,
        })
        .await;
        snapshots.insert(m["module"].as_str().unwrap().to_string());
    }
    let n = until_event(&mut c.rx, "notification:new").await;
    assert_eq!(
        n["title"], "before connect",
        "catch-up delivers stored notifications"
    );
    let live = until_state(&mut c.rx, "live").await;
    assert!(matches!(live, ConnectionState::Live { transport, .. } if transport == expect));
    assert!(
        c.store.read(|s| s.dashboard.is_some()),
        "dashboard snapshot applied"
    );

    // server -> client
    http.put("/api/kpis/finance", kpis(42.0)).await;
    let k = until_event(&mut c.rx, "kpi:update:finance").await;
    assert_eq!(k["kpis"][0]["value"], 42.0);
    http.put("/api/dashboard", dashboard(7.0)).await;
    let d = until_event(&mut c.rx, "dashboard:update").await;
    assert_eq!(d["summary"][0]["value"], 7.0);
    let posted = http.notify("hello").await;
    let n = until_event(&mut c.rx, "notification:new").await;
    assert_eq!(n["seq"], posted["seq"]);
    assert_eq!(c.store.read(|s| s.unread_count), 2);
    http.post(
        "/api/alerts",
        json!({"title": "Disk", "message": "full", "severity": "critical"}),
    )
    .await;
    let a = until_event(&mut c.rx, "alert:system").await;
    assert_eq!(a["severity"], "critical");

    // client -> server: mark-read (ack + notification:read broadcast)
    c.client
        .mark_read(MarkRead::Ids(vec![posted["id"].as_str().unwrap().into()]));
    let r = until_event(&mut c.rx, "notification:read").await;
    assert_eq!(r["unreadCount"], 1);
    assert_eq!(http.snapshot().await["unreadCount"], 1);
    c.client.mark_read(MarkRead::All);
    let r = until_event(&mut c.rx, "notification:read").await;
    assert_eq!(r["unreadCount"], 0);

    // module:unsubscribe stops that module's updates; others keep coming.
    // Requests are answered in order, so once the mark-read queued after the
    // unsubscribe is echoed, the unsubscribe has been acked.
    http.notify("fence").await;
    until_event(&mut c.rx, "notification:new").await;
    c.client
        .send(pulseboard_core::Command::Unsubscribe(Module::Finance));
    c.client.mark_read(MarkRead::All);
    until_event(&mut c.rx, "notification:read").await;
    http.put("/api/kpis/finance", kpis(1.0)).await;
    http.put("/api/kpis/hr", kpis(2.0)).await;
    let next = until(&mut c.rx, "next kpi update", |u| match u {
        Update::Event(e) if e.name().starts_with("kpi:update") => Some(e.name()),
        _ => None,
    })
    .await;
    assert_eq!(
        next, "kpi:update:hr",
        "finance updates stopped after unsubscribe"
    );

    assert_eq!(c.store.read(|s| s.counters.dropped_events), 0);
    c.client.shutdown().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_over_websocket() {
    every_event(TransportMode::Websocket, TransportKind::Websocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_over_polling_only() {
    every_event(TransportMode::Polling, TransportKind::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_unauthorized_quickly_without_retry_loop() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), Some("right")).await;
    let proxy = Proxy::start(srv.addr).await;
    let mut c = start(config(
        &proxy.url(),
        TransportMode::Websocket,
        Some("wrong"),
    ));
    let started = std::time::Instant::now();
    let st = until_state(&mut c.rx, "unauthorized").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(st, ConnectionState::Unauthorized { message } if message == "unauthorized"));
    let tries = proxy.accepted();
    // Observe a window several times the retry delay: no new connection, no new state.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(1500), c.rx.recv()).await;
    assert!(
        quiet.is_err(),
        "no state change after unauthorized: {quiet:?}"
    );
    assert_eq!(proxy.accepted(), tries, "no retry loop");
    c.client.shutdown().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_stream_catches_up_each_notification_once() {
    restart_catches_up_each_missed_notification_once(
        RustServer::start().await,
        TransportMode::Auto,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_drop_is_noticed_by_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), None).await;
    let proxy = Proxy::start(srv.addr).await;
    let mut c = start(config(&proxy.url(), TransportMode::Websocket, None));
    until_state(&mut c.rx, "live").await;
    proxy.set(Mode::Blackhole);
    // No FIN, no RST: only the heartbeat probe can tell.
    let st = until_state(&mut c.rx, "reconnecting").await;
    assert!(
        matches!(&st, ConnectionState::Reconnecting { reason, .. } if reason.contains("no answer")),
        "{st:?}"
    );
    proxy.set(Mode::Forward);
    until_state(&mut c.rx, "live").await;
    c.client.shutdown().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_read_while_offline_reaches_the_server_after_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), None).await;
    let http = Http::new(&srv.url(), None);
    let a = http.notify("a").await;
    http.notify("b").await;
    let proxy = Proxy::start(srv.addr).await;
    let mut c = start(config(&proxy.url(), TransportMode::Websocket, None));
    until_state(&mut c.rx, "live").await;
    assert_eq!(c.store.read(|s| s.unread_count), 2);

    proxy.set(Mode::Refuse);
    until_state(&mut c.rx, "reconnecting").await;
    c.client
        .mark_read(MarkRead::Ids(vec![a["id"].as_str().unwrap().into()]));
    let local = until(&mut c.rx, "local unread count", |u| match u {
        Update::UnreadCount(n) => Some(*n),
        _ => None,
    })
    .await;
    assert_eq!(local, 1, "the user sees it read at once, offline");
    assert_eq!(
        http.snapshot().await["unreadCount"],
        2,
        "server not told yet"
    );

    proxy.set(Mode::Forward);
    let r = until_event(&mut c.rx, "notification:read").await;
    assert_eq!(r["ids"], json!([a["id"]]));
    assert_eq!(http.snapshot().await["unreadCount"], 1);
    // The server's `notification:read` broadcast may overtake its ack.
    // Emptying the outbox publishes no update: poll it.
    eventually("the outbox emptied by the ack", || {
        c.store.read(|s| s.outbox.is_empty())
    })
    .await;
    c.client.shutdown().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_and_read_state_survive_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let srv = server(&db, None).await;
    let http = Http::new(&srv.url(), None);
    let first = http.notify("first").await;
    http.notify("second").await;
    let (s, _) = http.send(reqwest::Method::GET, "/healthz", None).await;
    assert_eq!(s, 200);
    let mut c = start(config(&srv.url(), TransportMode::Websocket, None));
    until_state(&mut c.rx, "live").await;
    c.client
        .mark_read(MarkRead::Ids(vec![first["id"].as_str().unwrap().into()]));
    until_event(&mut c.rx, "notification:read").await;
    c.client.shutdown().await;
    srv.stop().await.unwrap();

    let srv = server(&db, None).await;
    let http = Http::new(&srv.url(), None);
    let third = http.notify("third").await;
    assert_eq!(third["seq"], 3, "seq continues after the restart");
    let mut c = start(config(&srv.url(), TransportMode::Polling, None));
    until_state(&mut c.rx, "live").await;
    let got = shown(&c.store);
    assert_eq!(
        got,
        vec![
            ("first".into(), true),
            ("second".into(), false),
            ("third".into(), false)
        ]
    );
    assert_eq!(c.store.read(|s| s.unread_count), 2);
    c.client.shutdown().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_connect_is_retried_until_the_server_appears() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), None).await;
    let proxy = Proxy::start(srv.addr).await;
    proxy.set(Mode::Refuse);
    let mut c = start(config(&proxy.url(), TransportMode::Auto, None));
    let st = until_state(&mut c.rx, "reconnecting").await;
    assert!(matches!(
        st,
        ConnectionState::Reconnecting { attempt: 1, .. }
    ));
    // Fast tries used up -> Offline, still retrying at the capped interval.
    let st = until_state(&mut c.rx, "offline").await;
    assert!(
        matches!(st, ConnectionState::Offline { attempt: 6, .. }),
        "{st:?}"
    );
    proxy.set(Mode::Forward);
    until_state(&mut c.rx, "live").await;
    c.client.shutdown().await;
    srv.stop().await.unwrap();
}
