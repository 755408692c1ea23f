//! A WebSocket session's lifetime as an operator sees it in /metrics: the
//! reader, writer and heartbeat of a session share one task (vendor/PATCHES.md),
//! and a session must still end as soon as its client goes away, not only
//! when the heartbeat gives up (25 s + 20 s later), and leave no task behind.

mod common;

use common::{config, eventually, metric, metrics, start};
use futures_util::{SinkExt, StreamExt};
use pulseboard_server::ServerHandle;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw Engine.IO 4 / Socket.IO 5 client joined to the main namespace.
async fn join(server: &ServerHandle) -> Ws {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        server.url().replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
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
