//! The core client against hand-made servers that misbehave or limit
//! themselves: garbage payloads, refused acks, no WebSocket.

mod common;

use common::*;
use pulseboard_core::{ConnectionState, TransportKind, TransportMode, Update};
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::{SocketIo, TransportType};

const TS: &str = "2026-11-25T10:00:00Z";

fn notification(seq: u64) -> Value {
    json!({"id": format!("n-{seq}"), "seq": seq, "title": format!("N{seq}"), "body": "",
           "severity": "info", "createdAt": TS, "read": false})
}

/// Garbage the server sends after the catch-up ack; each must be dropped.
fn garbage() -> Vec<(&'static str, Value)> {
    vec![
        (
            "kpi:update:finance",
            json!({"module": "hr", "kpis": [], "updatedAt": TS}),
        ),
        ("kpi:update:finance", json!("not an object")),
        (
            "kpi:update:payroll",
            json!({"module": "finance", "kpis": [], "updatedAt": TS}),
        ),
        ("notification:new", json!({"id": "x"})),
        (
            "notification:new",
            json!({"id": "n-9", "seq": 9, "title": 5, "body": "", "severity": "info", "createdAt": TS}),
        ),
        (
            "alert:system",
            json!({"id": "a-1", "severity": "apocalyptic", "title": "t", "message": "m", "createdAt": TS}),
        ),
        ("dashboard:update", json!([1, 2, 3])),
        (
            "notification:read",
            json!({"ids": "n-1", "unreadCount": -1}),
        ),
        ("what:ever", json!({})),
    ]
}

/// A small server: valid `connection:status`; with `garbage`, refused and
/// malformed acks and a burst of malformed events, then one valid alert.
async fn odd_server(polling_only: bool, garbage_mode: bool) -> std::net::SocketAddr {
    let builder = SocketIo::builder();
    let builder = if polling_only {
        builder.transports([TransportType::Polling])
    } else {
        builder
    };
    let (layer, io) = builder.build_layer();
    io.ns("/", move |s: SocketRef| async move {
        let _ = s.emit(
            "connection:status",
            &json!({"status": "connected", "serverTime": TS, "serverVersion": "odd", "modules": ["finance"]}),
        );
        s.on("module:subscribe", move |ack: AckSender| async move {
            let a = if garbage_mode {
                json!({"ok": false, "error": "not today"})
            } else {
                json!({"ok": true, "snapshot": {"module": "finance", "kpis": [], "updatedAt": TS}})
            };
            let _ = ack.send(&a);
        });
        s.on("dashboard:subscribe", move |ack: AckSender| async move {
            let _ = ack.send(&json!({"ok": true, "snapshot": "garbage"}));
        });
        s.on("notification:subscribe", move |s: SocketRef, ack: AckSender| async move {
            let list = if garbage_mode {
                json!([notification(1), {"garbage": true}, notification(2)])
            } else {
                json!([])
            };
            let _ = ack.send(&json!({"ok": true, "notifications": list, "unreadCount": 2}));
            if garbage_mode {
                // Sent in the catch-up and again as an event (a server may race
                // like this between joining the room and reading its store).
                let _ = s.emit("notification:new", &notification(2));
                for (ev, payload) in garbage() {
                    let _ = s.emit(ev, &payload);
                }
                let _ = s.emit(
                    "alert:system",
                    &json!({"id": "a-ok", "severity": "critical", "title": "after garbage", "message": "", "createdAt": TS}),
                );
            }
        });
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_dropped_counted_and_the_link_stays_up() {
    let addr = odd_server(false, true).await;
    let mut c = start(config(
        &format!("http://{addr}"),
        TransportMode::Websocket,
        None,
    ));
    let alert = until_event(&mut c.rx, "alert:system").await;
    assert_eq!(
        alert["id"], "a-ok",
        "the first alert to get through is the valid one"
    );
    let s = c.store.snapshot();
    assert!(s.connection.is_live(), "{:?}", s.connection);
    assert_eq!(s.counters.connects, 1, "never reconnected");
    // every garbage event plus the one bad catch-up element
    assert_eq!(s.counters.dropped_events, garbage().len() as u64 + 1);
    // 4 refused module subscribes + 1 malformed dashboard snapshot
    assert_eq!(s.counters.bad_acks, 5);
    let seqs: Vec<u64> = s.notifications.iter().map(|n| n.seq).collect();
    assert_eq!(
        seqs,
        vec![1, 2],
        "good catch-up items kept around the bad one"
    );
    c.client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_to_long_polling_when_websocket_is_refused() {
    let addr = odd_server(true, false).await;
    let mut c = start(config(&format!("http://{addr}"), TransportMode::Auto, None));
    let st = until(&mut c.rx, "live", |u| match u {
        Update::Connection(s @ ConnectionState::Live { .. }) => Some(s.clone()),
        _ => None,
    })
    .await;
    assert!(
        matches!(
            st,
            ConnectionState::Live {
                transport: TransportKind::Polling,
                ..
            }
        ),
        "{st:?}"
    );
    c.client.shutdown().await;

    // Forcing WebSocket against the same server never goes live.
    let mut c = start(config(
        &format!("http://{addr}"),
        TransportMode::Websocket,
        None,
    ));
    let st = until_state(&mut c.rx, "reconnecting").await;
    assert!(matches!(
        st,
        ConnectionState::Reconnecting { attempt: 1, .. }
    ));
    c.client.shutdown().await;
}

/// A server that starts a binary event (`451-[..]`: one attachment to
/// follow) and closes the WebSocket before the attachment: the client must
/// see the link end and reconnect at once. rust_socketio 0.6 unwrapped the
/// missing attachment and its reader task panicked, so the link was taken
/// for alive until an ack timed out (vendor/PATCHES.md patch 22).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_event_cut_off_by_the_server_closing_is_noticed_at_once() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut_tx, cut_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let text = |s: &str| Message::text(s.to_string());
        // Engine.IO open; pings far apart, so only the close can end the link.
        let open = r#"0{"sid":"e1","upgrades":[],"pingInterval":300000,"pingTimeout":200000,"maxPayload":1000000}"#;
        ws.send(text(open)).await.unwrap();
        // The Socket.IO CONNECT, answered; then the status.
        while let Some(Ok(m)) = ws.next().await {
            if m.to_text().unwrap_or("").starts_with("40") {
                break;
            }
        }
        ws.send(text(r#"40{"sid":"s1"}"#)).await.unwrap();
        let status = json!(["connection:status", {"status": "connected", "serverTime": TS,
            "serverVersion": "odd", "serverId": "odd", "modules": ["finance"]}]);
        ws.send(text(&format!("42{status}"))).await.unwrap();
        // The client's first request (left unanswered) says the session began.
        while let Some(Ok(m)) = ws.next().await {
            if m.to_text().unwrap_or("").starts_with("42") {
                break;
            }
        }
        let header = r#"451-["alert:system",{"_placeholder":true,"num":0}]"#;
        ws.send(text(header)).await.unwrap();
        // A close frame, then the TCP connection closed, as a server does.
        ws.close(None).await.unwrap();
        drop(ws);
        let _ = cut_tx.send(());
        // Later attempts get nothing.
        let _keep = listener;
        std::future::pending::<()>().await;
    });
    let mut cfg = config(&format!("http://{addr}"), TransportMode::Websocket, None);
    // Nothing but the close may end the session within the test's wait.
    cfg.ack_timeout = std::time::Duration::from_secs(600);
    cfg.heartbeat = std::time::Duration::from_secs(600);
    cfg.connect_timeout = std::time::Duration::from_secs(600);
    let mut c = start(cfg);
    tokio::time::timeout(WAIT, cut_rx)
        .await
        .expect("the client never got as far as its first request")
        .unwrap();
    let st = until_state(&mut c.rx, "reconnecting").await;
    assert!(
        format!("{st:?}").contains("closed the connection"),
        "the close was the reason: {st:?}"
    );
    assert!(
        c.store.read(|s| s.alerts.is_empty()),
        "nothing made up from a cut-off event"
    );
    c.client.shutdown().await;
}
