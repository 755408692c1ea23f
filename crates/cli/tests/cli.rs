//! The CLI binary against a real server on 127.0.0.1:0.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_pulseboard-cli");
const WAIT: Duration = Duration::from_secs(15);

async fn server(dir: &tempfile::TempDir, token: &str) -> pulseboard_server::ServerHandle {
    let mut c = pulseboard_server::Config::new(dir.path().join("s.db"));
    c.simulator = false;
    c.token = Some(token.to_string());
    pulseboard_server::spawn(c).await.unwrap()
}

/// Next JSON line whose "event" is `event`.
async fn next_event(lines: &mut Lines<BufReader<ChildStdout>>, event: &str) -> Value {
    let fut = async {
        loop {
            let l = lines
                .next_line()
                .await
                .unwrap()
                .expect("tail still running");
            let v: Value = serde_json::from_str(&l).expect("each line is JSON");
            if v["event"] == event {
                return v["data"].clone();
            }
        }
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("no {event} line"))
}

async fn run(args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("PULSEBOARD_TOKEN")
        .output()
        .await
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn tail_prints_states_and_events_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, "tok").await;
    let url = srv.url();
    let (ok, n, _) = run(&[
        "send",
        "--server",
        &url,
        "--token",
        "tok",
        "notification",
        "--title",
        "early",
        "--severity",
        "warning",
    ])
    .await;
    assert!(ok);
    assert_eq!(n["seq"], 1);

    let mut child = Command::new(BIN)
        .args([
            "tail",
            "--server",
            &url,
            "--token",
            "tok",
            "--transport",
            "polling",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let st = next_event(&mut lines, "state").await;
    assert_eq!(st["state"], "connecting");
    let caught_up = next_event(&mut lines, "notification:new").await;
    assert_eq!(
        caught_up["title"], "early",
        "catch-up printed as notification:new"
    );
    assert_eq!(next_event(&mut lines, "state").await["state"], "live");

    let (ok, a, _) = run(&[
        "send",
        "--server",
        &url,
        "--token",
        "tok",
        "alert",
        "--title",
        "Disk full",
        "--severity",
        "critical",
    ])
    .await;
    assert!(ok);
    let got = next_event(&mut lines, "alert:system").await;
    assert_eq!(got["id"], a["id"]);
    assert_eq!(got["severity"], "critical");

    let (ok, snap, _) = run(&["snapshot", "--server", &url, "--token", "tok"]).await;
    assert!(ok);
    assert_eq!(snap["unreadCount"], 1);
    child.kill().await.unwrap();
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn tail_with_wrong_token_prints_unauthorized_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, "tok").await;
    let out = tokio::time::timeout(
        WAIT,
        Command::new(BIN)
            .args(["tail", "--server", &srv.url(), "--token", "nope"])
            .output(),
    )
    .await
    .expect("tail exits by itself")
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let last: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "state");
    assert_eq!(last["data"]["state"], "unauthorized");
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn send_reports_refusals_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, "tok").await;
    let (ok, _, err) = run(&[
        "send",
        "--server",
        &srv.url(),
        "--token",
        "bad",
        "alert",
        "--title",
        "x",
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("401"), "{err}");
    let (ok, _, err) = run(&[
        "send",
        "--server",
        &srv.url(),
        "notification",
        "--title",
        "x",
        "--severity",
        "fatal",
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("fatal"), "{err}");
    srv.stop().await.unwrap();
}

/// A version 2 server in miniature: one stored notification, read elsewhere
/// while the client was away (it drops the first connection after the
/// catch-up, the way a network drop would).
async fn read_elsewhere_server() -> std::net::SocketAddr {
    use serde_json::json;
    use socketioxide::extract::{AckSender, Data, SocketRef};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const TS: &str = "2026-11-25T10:00:00Z";
    let (layer, io) = socketioxide::SocketIo::builder().build_layer();
    let subscribes = Arc::new(AtomicUsize::new(0));
    io.ns("/", move |s: SocketRef| {
        let subscribes = subscribes.clone();
        async move {
            s.on(
                "module:subscribe",
                |Data(d): Data<Value>, ack: AckSender| async move {
                    let snap = json!({"module": d["module"], "kpis": [], "updatedAt": TS});
                    let _ = ack.send(&json!({"ok": true, "snapshot": snap}));
                },
            );
            s.on("dashboard:subscribe", |ack: AckSender| async move {
                let card = |k: &str| json!({"key": k, "label": k, "value": 1});
                let summary: Vec<Value> = ["a", "b", "c", "d", "e", "f"].map(card).into();
                let top: Vec<Value> = ["w", "x", "y", "z"].map(card).into();
                let snap = json!({"summary": summary, "topKpis": top, "updatedAt": TS});
                let _ = ack.send(&json!({"ok": true, "snapshot": snap}));
            });
            s.on(
                "notification:subscribe",
                move |s: SocketRef, Data(d): Data<Value>, ack: AckSender| async move {
                    let first = subscribes.fetch_add(1, Ordering::SeqCst) == 0;
                    let n = json!({"id": "n-1", "seq": 1, "title": "t", "body": "",
                                   "severity": "info", "createdAt": TS, "read": !first});
                    let list = if d["afterSeq"] == 0 { vec![n] } else { vec![] };
                    let mut a = json!({"ok": true, "notifications": list,
                                       "unreadCount": if first { 1 } else { 0 }});
                    if !first && d["unread"] == json!(["n-1"]) {
                        a["read"] = json!(["n-1"]);
                    }
                    let _ = ack.send(&a);
                    if first {
                        let _ = s.disconnect();
                    }
                },
            );
        }
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn tail_prints_read_state_learned_during_catch_up() {
    let addr = read_elsewhere_server().await;
    let mut child = Command::new(BIN)
        .args(["tail", "--server", &format!("http://{addr}")])
        .env_remove("PULSEBOARD_TOKEN")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let n = next_event(&mut lines, "notification:new").await;
    assert_eq!(
        (n["id"].as_str(), n["read"].as_bool()),
        (Some("n-1"), Some(false))
    );
    let read = next_event(&mut lines, "notification:read").await;
    assert_eq!(read, serde_json::json!({"ids": ["n-1"], "unreadCount": 0}));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn tail_fails_over_to_the_next_server_given_by_flag_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, "tok").await;
    // Nothing listens there: connections are refused at once.
    let dead = format!("http://127.0.0.1:{}", pulseboard_testkit::free_port());
    let flags = [
        "tail",
        "--server",
        &dead,
        "--server",
        &srv.url(),
        "--token",
        "tok",
    ];
    let list = format!("{dead},{}", srv.url());
    for (args, env) in [
        (&flags[..], None),
        (&["tail", "--token", "tok"][..], Some(&list)),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(args).env_remove("PULSEBOARD_SERVER");
        if let Some(list) = env {
            cmd.env("PULSEBOARD_SERVER", list);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let st = next_event(&mut lines, "state").await;
            if st["state"] == "live" {
                break;
            }
        }
        child.kill().await.unwrap();
    }
    srv.stop().await.unwrap();
}
