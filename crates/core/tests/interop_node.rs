//! The core client against a backend written with the official Node
//! `socket.io` 4.8 server (`interop/server.mjs`), so the client is checked
//! against the reference implementation of the protocol, not only against our
//! own socketioxide server.
//!
//! Needs Node 20 and `npm ci --prefix interop --no-audit --no-fund`; the tests
//! fail (they do not skip) when `interop/node_modules` is missing.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;

use common::*;
use pulseboard_core::{ConnectionState, TransportKind, TransportMode, Update};
use pulseboard_protocol::MarkRead;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn repo_root() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    root.canonicalize().unwrap_or(root)
}

/// `interop/server.mjs` running as a child process (killed when dropped).
struct NodeServer {
    child: Child,
    addr: SocketAddr,
    http: reqwest::Client,
    /// What it was started with (a restart starts the same).
    args: Vec<String>,
}

impl NodeServer {
    async fn start(args: &[&str]) -> NodeServer {
        let root = repo_root();
        let interop = root.join("interop");
        assert!(
            interop.join("node_modules/socket.io").is_dir(),
            "interop/node_modules is missing: run `npm ci --prefix interop --no-audit --no-fund` \
             in {} (the Node interop tests need the official socket.io 4.8 packages)",
            root.display()
        );
        let mut child = Command::new("node")
            .arg(interop.join("server.mjs"))
            .args(["--port", "0"])
            .args(args)
            .current_dir(&interop)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("`node` runs (Node 20 must be on PATH)");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        // Server logs end up in the test's captured output.
        tokio::spawn(async move {
            while let Ok(Some(l)) = stderr.next_line().await {
                eprintln!("{l}");
            }
        });
        let port = tokio::time::timeout(WAIT, async {
            while let Some(l) = stdout.next_line().await.expect("read node stdout") {
                if let Some(p) = l.strip_prefix("LISTENING ") {
                    return p.trim().parse::<u16>().expect("port number");
                }
            }
            panic!("node server exited before printing LISTENING");
        })
        .await
        .expect("node server prints LISTENING <port>");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        NodeServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            http: reqwest::Client::new(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.url()));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("control request");
        let status = resp.status();
        let v: Value = resp.json().await.expect("control answer is JSON");
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    async fn notify(&self, title: &str) -> Value {
        self.control("/control/notify", json!({ "title": title }))
            .await
    }

    /// SIGKILL, no goodbye: what survives must already be on disk.
    async fn kill(mut self) {
        self.child.kill().await.expect("kill node server");
    }
}

impl TestServer for NodeServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn notify(&self, title: &str) -> Value {
        NodeServer::notify(self, title).await
    }

    /// Killed, then a new process with the same arguments (its `--state`
    /// file is the storage).
    async fn restart(self) -> Self {
        let args = self.args.clone();
        self.kill().await;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        NodeServer::start(&args).await
    }

    async fn stop(self) {
        self.kill().await;
    }
}

async fn until_live(rx: &mut tokio::sync::broadcast::Receiver<Update>) -> TransportKind {
    until(rx, "live", |u| match u {
        Update::Connection(ConnectionState::Live { transport, .. }) => Some(*transport),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_live_updates_notifications_and_mark_read() {
    let node = NodeServer::start(&["--token", "t0k"]).await;
    node.notify("before connect").await;
    let mut c = start(config(&node.url(), TransportMode::Websocket, Some("t0k")));

    let status = until_event(&mut c.rx, "connection:status").await;
    assert_eq!(status["status"], "connected");
    let caught_up = until_event(&mut c.rx, "notification:new").await;
    assert_eq!(caught_up["title"], "before connect", "catch-up from seq 0");
    assert_eq!(until_live(&mut c.rx).await, TransportKind::Websocket);
    c.store.read(|s| {
        assert_eq!(s.modules.len(), 4, "4 module snapshots from the acks");
        assert!(s.dashboard.is_some(), "dashboard snapshot applied");
        assert_eq!(s.unread_count, 1);
    });

    // server -> client: kpi:update:{module}, dashboard:update, notification:new, alert:system
    node.control("/control/kpi", json!({"module": "finance", "value": 42.5}))
        .await;
    let k = until_event(&mut c.rx, "kpi:update:finance").await;
    assert_eq!(k["kpis"][0]["value"], 42.5);
    node.control("/control/dashboard", json!({"value": 7}))
        .await;
    let d = until_event(&mut c.rx, "dashboard:update").await;
    assert_eq!(d["summary"].as_array().unwrap().len(), 6);
    let posted = node.notify("hello").await;
    let n = until_event(&mut c.rx, "notification:new").await;
    assert_eq!(n["id"], posted["id"]);
    assert_eq!(n["seq"], 2);
    assert_eq!(c.store.read(|s| s.unread_count), 2);
    node.control(
        "/control/alert",
        json!({"title": "Disk", "severity": "critical"}),
    )
    .await;
    let a = until_event(&mut c.rx, "alert:system").await;
    assert_eq!(a["title"], "Disk");

    // client -> server: mark-read by id, then all; ack + notification:read echo
    c.client
        .mark_read(MarkRead::Ids(vec![posted["id"].as_str().unwrap().into()]));
    let r = until_event(&mut c.rx, "notification:read").await;
    assert_eq!(r, json!({"ids": [posted["id"]], "unreadCount": 1}));
    c.client.mark_read(MarkRead::All);
    let r = until_event(&mut c.rx, "notification:read").await;
    assert_eq!(r, json!({"ids": ["n-1"], "unreadCount": 0}));
    assert_eq!(c.store.read(|s| s.unread_count), 0);

    c.store.read(|s| {
        assert!(s.connection.is_live(), "{:?}", s.connection);
        assert_eq!(s.counters.connects, 1, "never reconnected");
        assert_eq!(s.counters.dropped_events, 0, "every Node payload accepted");
        assert_eq!(s.counters.bad_acks, 0, "every Node ack accepted");
    });
    c.client.shutdown().await;
}

async fn polling_only(mode: TransportMode) {
    let node = NodeServer::start(&["--polling-only"]).await;
    let mut c = start(config(&node.url(), mode, None));
    assert_eq!(
        until_live(&mut c.rx).await,
        TransportKind::Polling,
        "{mode:?} against a polling-only server"
    );
    node.control("/control/kpi", json!({"module": "hr", "value": 3.0}))
        .await;
    let k = until_event(&mut c.rx, "kpi:update:hr").await;
    assert_eq!(k["kpis"][0]["value"], 3.0);
    let posted = node.notify("over polling").await;
    let n = until_event(&mut c.rx, "notification:new").await;
    assert_eq!(n["id"], posted["id"]);
    c.client.mark_read(MarkRead::All);
    let r = until_event(&mut c.rx, "notification:read").await;
    assert_eq!(r["unreadCount"], 0);
    c.store.read(|s| {
        assert_eq!(s.counters.dropped_events, 0);
        assert_eq!(s.counters.bad_acks, 0);
    });
    c.client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only_server_with_polling_transport() {
    polling_only(TransportMode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only_server_with_auto_falls_back_to_polling() {
    polling_only(TransportMode::Auto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_state_file_catches_up_each_missed_notification_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let node = NodeServer::start(&["--state", state.to_str().unwrap()]).await;
    restart_catches_up_each_missed_notification_once(node, TransportMode::Websocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_from_node_are_dropped_counted_and_the_link_stays_live() {
    let node = NodeServer::start(&["--garbage"]).await;
    let garbage = node
        .request(reqwest::Method::GET, "/control/garbage", None)
        .await;
    let garbage = garbage.as_array().expect("garbage list").len() as u64;
    assert!(garbage >= 10, "a real list of malformed events");

    let mut c = start(config(&node.url(), TransportMode::Websocket, None));
    let alert = until_event(&mut c.rx, "alert:system").await;
    assert_eq!(
        alert["id"], "a-after-garbage",
        "the first alert to get through is the valid one after the garbage"
    );
    c.store.read(|s| {
        assert!(s.connection.is_live(), "{:?}", s.connection);
        assert_eq!(s.counters.connects, 1, "never reconnected");
        assert_eq!(
            s.counters.dropped_events, garbage,
            "every malformed event dropped and counted, nothing else"
        );
        assert_eq!(s.counters.bad_acks, 0);
        assert!(s.notifications.is_empty(), "no garbage notification kept");
        assert_eq!(s.alerts.len(), 1, "only the valid alert kept");
    });
    // Still usable after the garbage.
    node.control("/control/kpi", json!({"module": "security", "value": 9.0}))
        .await;
    let k = until_event(&mut c.rx, "kpi:update:security").await;
    assert_eq!(k["kpis"][0]["value"], 9.0);
    c.client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_unauthorized_over_both_transports() {
    let node = NodeServer::start(&["--token", "right"]).await;
    for mode in [TransportMode::Websocket, TransportMode::Polling] {
        let mut c = start(config(&node.url(), mode, Some("wrong")));
        let st = until_state(&mut c.rx, "unauthorized").await;
        assert!(
            matches!(&st, ConnectionState::Unauthorized { message } if message == "unauthorized"),
            "{mode:?}: {st:?}"
        );
        c.client.shutdown().await;
    }
}
