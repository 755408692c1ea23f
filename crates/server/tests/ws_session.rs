//! A WebSocket session's lifetime as an operator sees it in /metrics: the
//! reader and heartbeat of a session share one task, and its frames are
//! written by the code that emits them (vendor/PATCHES.md, patches 5 and 25);
//! a session must still end as soon as its client goes away, not only when
//! the heartbeat gives up (25 s + 20 s later), leave no task behind, and a
//! client that stops reading must not hold up the others.

mod common;

use common::{config, eventually, metric, metrics, start};
use futures_util::{SinkExt, StreamExt};
use pulseboard_server::ServerHandle;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw Engine.IO 4 / Socket.IO 5 client joined to the main namespace.
async fn join(server: &ServerHandle) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(ws_url(server))
        .await
        .expect("ws connect");
    joined(ws).await
}

/// [`join`] over a TCP connection whose receive buffer is `rcvbuf` bytes: a
/// client that stops reading then fills the server's side quickly.
async fn join_small(server: &ServerHandle, rcvbuf: u32) -> Ws {
    let addr: std::net::SocketAddr = server.url().trim_start_matches("http://").parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(rcvbuf).unwrap();
    let tcp = tcp.connect(addr).await.expect("tcp connect");
    let (ws, _) = tokio_tungstenite::client_async(ws_url(server), MaybeTlsStream::Plain(tcp))
        .await
        .expect("ws connect");
    joined(ws).await
}

/// The server's Engine.IO 4 WebSocket URL.
fn ws_url(server: &ServerHandle) -> String {
    format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        server.url().replacen("http", "ws", 1)
    )
}

/// Answer the Engine.IO open with a namespace CONNECT; the joined socket.
async fn joined(mut ws: Ws) -> Ws {
    loop {
        let msg = ws.next().await.expect("open").expect("read");
        let Message::Text(text) = msg else { continue };
        if text.starts_with('0') {
            ws.send(Message::text("40")).await.expect("send connect");
        } else if text.starts_with("40") {
            return ws;
        } else if text.starts_with("44") {
            panic!("connect refused: {text}");
        }
    }
}

/// Read text frames until one matches, answering pings; panic after WAIT.
async fn next_text(ws: &mut Ws, what: &str, want: impl Fn(&str) -> bool) {
    tokio::time::timeout(common::WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if want(&t) => return,
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    ws.send(Message::text("3")).await.expect("pong");
                }
                Some(Ok(_)) => {}
                other => panic!("{what}: connection ended: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

async fn gauge(server: &ServerHandle, name: &str) -> f64 {
    metric(&metrics(server).await, name)
}

async fn wait_connections(server: &ServerHandle, want: f64, what: &str) {
    eventually(what, || async {
        (gauge(server, "pulseboard_connections").await == want).then_some(())
    })
    .await;
}

#[tokio::test]
async fn session_ends_when_the_client_drops_the_tcp_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let a = join(&server).await;
    let b = join(&server).await;
    wait_connections(&server, 2.0, "two sessions").await;

    // No close frame, no Engine.IO close packet: the TCP connection just goes.
    drop(a);
    wait_connections(&server, 1.0, "the dropped session to end").await;

    // The other session still works both ways: a request is answered.
    let mut b = b;
    b.send(Message::text(
        r#"421["module:subscribe",{"module":"finance"}]"#,
    ))
    .await
    .unwrap();
    next_text(&mut b, "the subscribe ack", |t| t.starts_with("431")).await;
    drop(b);
    wait_connections(&server, 0.0, "all sessions to end").await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn session_ends_on_a_websocket_close_frame_and_on_a_close_packet() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let mut a = join(&server).await;
    let mut b = join(&server).await;
    wait_connections(&server, 2.0, "two sessions").await;

    a.close(None).await.unwrap();
    wait_connections(&server, 1.0, "the session closed by a close frame").await;
    // Engine.IO close packet.
    b.send(Message::text("1")).await.unwrap();
    wait_connections(&server, 0.0, "the session closed by a close packet").await;
    // The server closes the WebSocket too.
    tokio::time::timeout(common::WAIT, async {
        loop {
            match b.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the server closes the websocket");
    server.stop().await.unwrap();
}

/// Sessions that ended, however they ended, leave no task behind: a writer
/// (or reader, or heartbeat) that outlived its session would hold the
/// socket's memory for as long as the server runs, one per connection that
/// ever came and went.
#[tokio::test]
async fn ended_sessions_leave_no_task_behind() {
    const N: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    wait_connections(&server, 0.0, "no session yet").await;
    // Beyond the server's own tasks, at most the metrics request's HTTP
    // connection (its client and server tasks, ending) is counted here: a
    // leak of N is not hidden by it.
    let before = tasks();

    let mut sessions = Vec::new();
    for _ in 0..N {
        let mut ws = join(&server).await;
        ws.send(Message::text(
            r#"421["module:subscribe",{"module":"finance"}]"#,
        ))
        .await
        .unwrap();
        next_text(&mut ws, "the subscribe ack", |t| t.starts_with("431")).await;
        sessions.push(ws);
    }
    wait_connections(&server, N as f64, "every session").await;
    assert!(
        tasks() + 2 >= before + N,
        "each session runs a task of its own, counted here"
    );

    // A third of them drop the TCP connection, a third send a close frame,
    // a third an Engine.IO close packet.
    for (i, mut ws) in sessions.into_iter().enumerate() {
        match i % 3 {
            0 => drop(ws),
            1 => ws.close(None).await.unwrap(),
            _ => ws.send(Message::text("1")).await.unwrap(),
        }
    }
    wait_connections(&server, 0.0, "every session to end").await;
    eventually("the sessions' tasks to end", || async {
        (tasks() <= before).then_some(())
    })
    .await;
    server.stop().await.unwrap();
}

/// A client that stops reading, on the direct write path (vendor/PATCHES.md
/// patch 25): once the kernel's buffers are full, its session's waiting
/// frames reach the socket buffer (16 here), and the next update disconnects
/// it (patch 14), counted once. A client beside it that reads gets every
/// update, in order, whole; the slow one, reading again, gets the updates
/// that were written, in order, then its DISCONNECT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_and_the_others_get_everything() {
    const SUBSCRIBE: &str = r#"421["module:subscribe",{"module":"finance"}]"#;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.socket_buffer = 16;
    let server = start(cfg).await;
    let mut slow = join_small(&server, 4096).await;
    slow.send(Message::text(SUBSCRIBE)).await.unwrap();
    next_text(&mut slow, "the slow client's subscribe ack", |t| {
        t.starts_with("431")
    })
    .await;
    let mut fast = join(&server).await;
    fast.send(Message::text(SUBSCRIBE)).await.unwrap();
    next_text(&mut fast, "the subscribe ack", |t| t.starts_with("431")).await;

    // Each update ~12 KB: 50 KPIs with long labels; the first one's value
    // numbers the update.
    let update = |n: usize| {
        let kpis: Vec<_> = (0..50)
            .map(|i| {
                serde_json::json!({
                    "key": format!("k{i}"),
                    "label": "x".repeat(200),
                    "value": if i == 0 { n } else { i },
                })
            })
            .collect();
        serde_json::json!({ "kpis": kpis })
    };
    let first_value = |t: &str| -> Option<u64> {
        let body = t.strip_prefix("42")?;
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        (v[0] == "kpi:update:finance").then(|| v[1]["kpis"][0]["value"].as_f64().unwrap() as u64)
    };

    let (last_tx, mut last_rx) = tokio::sync::watch::channel(None::<u64>);
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            if let Some(last) = *last_rx.borrow_and_update() {
                if seen.last() == Some(&last) {
                    return seen;
                }
            }
            tokio::select! {
                msg = fast.next() => match msg {
                    Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                        fast.send(Message::text("3")).await.expect("pong");
                    }
                    Some(Ok(Message::Text(t))) => {
                        if let Some(v) = first_value(&t) {
                            seen.push(v);
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("the reading client's connection ended: {other:?}"),
                },
                _ = last_rx.changed() => {}
            }
        }
    });

    // Updates until one reaches the reading client alone (a broadcast
    // counts the sockets it was handed to): the slow one's buffer was full.
    let http = reqwest::Client::new();
    let url = format!("{}/api/kpis/finance", server.url());
    let deliveries = || async { metric(&metrics(&server).await, "pulseboard_deliveries_total") };
    let before = deliveries().await;
    let mut sent = 0u64;
    loop {
        for _ in 0..10 {
            let r = http
                .put(&url)
                .json(&update(sent as usize))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "PUT: {}", r.status());
            sent += 1;
        }
        let delivered = deliveries().await - before;
        if delivered < 2.0 * sent as f64 {
            break;
        }
        assert!(
            sent < 2000,
            "the slow client's buffer never filled: {sent} updates"
        );
    }
    last_tx.send(Some(sent - 1)).unwrap();
    let seen = tokio::time::timeout(common::WAIT, reader)
        .await
        .expect("the reading client gets every update")
        .unwrap();
    assert_eq!(
        seen,
        (0..sent).collect::<Vec<_>>(),
        "every update, in order"
    );

    // The slow client reads again: what was written reaches it in order,
    // then the namespace DISCONNECT.
    let mut got = Vec::new();
    tokio::time::timeout(common::WAIT, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Text(t))) if t.starts_with("41") => break,
                Some(Ok(Message::Text(t))) => got.extend(first_value(&t)),
                Some(Ok(_)) => {}
                other => panic!("no DISCONNECT before the end: {other:?}"),
            }
        }
    })
    .await
    .expect("the slow client gets its DISCONNECT");
    assert!(
        !got.is_empty() && (got.len() as u64) < sent,
        "{} of {sent}",
        got.len()
    );
    assert_eq!(
        got,
        (0..got.len() as u64).collect::<Vec<_>>(),
        "in order, none lost before the cut"
    );
    // Counted once, as a slow client.
    eventually("the overflow to be counted", || async {
        (metric(
            &metrics(&server).await,
            "pulseboard_overflow_disconnects_total",
        ) == 1.0)
            .then_some(())
    })
    .await;
    server.stop().await.unwrap();
}
