//! Sync you can trust, checked with the official Node `socket.io-client` 4.8
//! (`interop/sync-check.mjs`): nothing dropped right after connect, a slow
//! long-polling client loses nothing, read state per viewer, `serverId`,
//! `truncated` after retention.
//!
//! Needs Node 20 and `npm ci --prefix interop --no-audit --no-fund`; the tests
//! fail (they do not skip) when `interop/node_modules` is missing.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use pulseboard_server::{
    spawn,
    storage::{Storage as _, Store},
    Config, ServerHandle,
};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The script has its own deadline; this one catches a stuck `node`.
const OVERALL: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    root.canonicalize().unwrap_or(root)
}

fn node(args: &[&str]) -> Child {
    let interop = repo_root().join("interop");
    assert!(
        interop.join("node_modules/socket.io-client").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop --no-audit --no-fund`"
    );
    Command::new("node")
        .arg(interop.join("sync-check.mjs"))
        .args(args)
        .current_dir(&interop)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("`node` runs (Node 20 must be on PATH)")
}

/// Read the child's lines until `RESULT {...}` (returned) or `FAIL` (panics).
/// `on_ready` runs when the script prints `READY`.
async fn result<F, Fut>(child: &mut Child, on_ready: F) -> Value
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut on_ready = Some(on_ready);
    let mut log = String::new();
    let run = async {
        while let Some(line) = lines.next_line().await.expect("read node output") {
            log.push_str(&line);
            log.push('\n');
            if line == "READY" {
                if let Some(f) = on_ready.take() {
                    f().await;
                }
            } else if let Some(r) = line.strip_prefix("RESULT ") {
                return serde_json::from_str::<Value>(r).expect("RESULT JSON");
            } else if line.starts_with("FAIL") {
                panic!("sync-check.mjs failed:\n{log}");
            }
        }
        panic!("sync-check.mjs ended without a result:\n{log}");
    };
    tokio::time::timeout(OVERALL, run)
        .await
        .unwrap_or_else(|_| panic!("sync-check.mjs did not finish in {OVERALL:?}"))
}

fn config(dir: &tempfile::TempDir) -> Config {
    let mut c = Config::new(dir.path().join("s.db"));
    c.simulator = false;
    // Hundreds of test clients share one address and connect at once: lift
    // the connection caps and rate limits (tested on their own in limits.rs).
    c.max_connections = 10_000;
    c.max_connections_per_addr = 10_000;
    c.rate_limit = 1_000_000;
    c.event_rate_limit = 1_000_000;
    c.shared_event_rate_limit = 1_000_000;
    c
}

/// Full-rights token of the servers that have one (open servers ignore it).
const ADMIN: &str = "admin";

async fn post(client: &reqwest::Client, server: &ServerHandle, title: &str) -> Value {
    let resp = client
        .post(format!("{}/api/notifications", server.url()))
        .bearer_auth(ADMIN)
        .json(&json!({"title": title, "body": "b", "severity": "info"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 201, "post {title}");
    resp.json().await.expect("json")
}

/// Listeners are registered before the CONNECT reply: 500 official clients
/// that emit two events each in their `connect` callback get every ack.
/// (Node is too slow to hit the bare race of listeners registered in the
/// connect handler: the raw client test below does. This one fails when the
/// connect handler awaits anything, such as a storage query, before
/// registering: 88 of 1000 acks were missing in that case.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ack_arrives_for_events_sent_right_after_connect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = spawn(config(&dir)).await.expect("server");
    for transport in ["websocket", "polling"] {
        let mut child = node(&[
            "burst",
            "--url",
            &server.url(),
            "--count",
            "500",
            "--transport",
            transport,
        ]);
        let r = result(&mut child, || async {}).await;
        assert_eq!(r["missing"], 0, "{transport}: acks missing: {r}");
        assert_eq!(r["acked"], 1000, "{transport}: {r}");
    }
    server.stop().await.expect("stop");
}

/// 300 notifications posted as fast as the API takes them to a slow
/// polling-only client: it ends with all 300, each once. Returns the
/// script's result and the server's `pulseboard_overflow_disconnects_total`
/// once it has counted every server disconnect the client saw (or after a
/// deadline).
async fn slow_polling_client_gets_everything(buffer: Option<usize>) -> (Value, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(&dir);
    if let Some(b) = buffer {
        cfg.socket_buffer = b;
    }
    let server = spawn(cfg).await.expect("server");
    let client = reqwest::Client::new();
    let mut child = node(&[
        "slow",
        "--url",
        &server.url(),
        "--count",
        "300",
        "--slow-ms",
        "4",
        "--transport",
        "polling",
    ]);
    let posted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = {
        let posted = posted.clone();
        let client = client.clone();
        let url = server.url();
        result(&mut child, move || async move {
            // Posted concurrently in the background while the script reads.
            tokio::spawn(async move {
                for i in 0..300 {
                    let resp = client
                        .post(format!("{url}/api/notifications"))
                        .json(&json!({"title": format!("n{i}"), "body": "b", "severity": "info"}))
                        .send()
                        .await
                        .expect("post");
                    assert_eq!(resp.status(), 201);
                    let n: Value = resp.json().await.expect("json");
                    posted.lock().unwrap().push(n["seq"].as_u64().expect("seq"));
                }
            });
        })
        .await
    };
    let posted = posted.lock().unwrap().clone();
    assert_eq!(r["distinct"], 300, "{r}");
    assert_eq!(r["first"], 1, "{r}");
    assert_eq!(r["last"], 300, "{r}");
    assert_eq!(posted.len(), 300, "every post answered");
    let seen = r["serverDisconnects"].as_u64().unwrap_or(0) as f64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let overflows = loop {
        let text = client
            .get(format!("{}/metrics", server.url()))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix("pulseboard_overflow_disconnects_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no overflow counter in:\n{text}"));
        if n >= seen || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    server.stop().await.expect("stop");
    (r, overflows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_polling_client_gets_all_300_notifications() {
    let (r, overflows) = slow_polling_client_gets_everything(None).await;
    println!("{r}");
    assert_eq!(overflows, 0.0, "no buffer overflowed, none counted: {r}");
}

/// With a tiny buffer the server must disconnect the slow socket (not drop
/// what does not fit): the client reconnects, catches up, ends with all 300.
/// Every such disconnect is counted in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_whose_buffer_overflows_is_disconnected_and_catches_up() {
    let (r, overflows) = slow_polling_client_gets_everything(Some(16)).await;
    let seen = r["serverDisconnects"].as_u64().unwrap_or(0);
    assert!(
        seen > 0,
        "the buffer never overflowed, so this proves nothing: {r}"
    );
    assert!(
        overflows >= seen as f64,
        "{seen} server disconnects seen by the client, {overflows} counted: {r}"
    );
}

/// Alice's two desktops share read state; Bob's is his own. `serverId` is in
/// `connection:status` and the snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_state_is_per_viewer_and_reaches_all_of_a_viewers_sockets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(&dir);
    // Viewers are named by their view tokens; "admin" has full rights
    // (viewer `default`) for the HTTP calls below.
    cfg.token = Some(ADMIN.into());
    cfg.view_tokens = vec![
        ("alice".into(), "alice".into()),
        ("bob".into(), "bob".into()),
    ];
    let server = spawn(cfg).await.expect("server");
    let client = reqwest::Client::new();
    for t in ["a", "b", "c"] {
        post(&client, &server, t).await;
    }
    let mut child = node(&["viewers", "--url", &server.url()]);
    let r = result(&mut child, || async {}).await;
    let snap: Value = client
        .get(format!("{}/api/snapshot", server.url()))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("snapshot")
        .json()
        .await
        .expect("json");
    assert_eq!(snap["serverId"], r["serverId"], "snapshot and socket agree");
    // The default viewer read nothing.
    assert_eq!(snap["unreadCount"], 3);
    server.stop().await.expect("stop");

    // Same store, new process: same serverId. Another store: another one.
    let server = spawn(config(&dir)).await.expect("restart");
    let again: Value = client
        .get(format!("{}/api/snapshot", server.url()))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("snapshot")
        .json()
        .await
        .expect("json");
    assert_eq!(again["serverId"], r["serverId"]);
    server.stop().await.expect("stop");
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = spawn(config(&other_dir)).await.expect("other");
    let other_snap: Value = client
        .get(format!("{}/api/snapshot", other.url()))
        .send()
        .await
        .expect("snapshot")
        .json()
        .await
        .expect("json");
    assert_ne!(other_snap["serverId"], r["serverId"]);
    other.stop().await.expect("stop");
}

/// Retention by count prunes in the background; a client catching up from
/// before the pruned range is told `truncated`; one after it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_and_catch_up_says_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(&dir);
    cfg.retain_count = Some(5);
    let server = spawn(cfg).await.expect("server");
    let client = reqwest::Client::new();
    for i in 0..12 {
        post(&client, &server, &format!("n{i}")).await;
    }
    // Wait (with a deadline) until the background task has pruned.
    let store = Store::open(&dir.path().join("s.db")).expect("open beside the server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.notification_count().await.expect("count") > 5 {
        assert!(Instant::now() < deadline, "retention did not prune in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ack = |after: u64| {
        let url = server.url();
        async move {
            let payload = json!({"afterSeq": after}).to_string();
            let mut child = node(&[
                "ack",
                "--url",
                &url,
                "--event",
                "notification:subscribe",
                "--payload",
                &payload,
            ]);
            result(&mut child, || async {}).await["ack"].clone()
        }
    };
    let a = ack(0).await;
    assert_eq!(a["truncated"], true, "{a}");
    let seqs: Vec<u64> = a["notifications"]
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, vec![8, 9, 10, 11, 12]);
    assert_eq!(a["unreadCount"], 5, "pruned ones no longer count as unread");
    let a = ack(7).await;
    assert!(
        a.get("truncated").is_none(),
        "nothing after 7 was pruned: {a}"
    );
    // seq is never reused after pruning.
    let n = post(&client, &server, "after").await;
    assert_eq!(n["seq"], 13);
    server.stop().await.expect("stop");
}

/// One raw Engine.IO/Socket.IO client over WebSocket, as fast as a client can
/// be: it emits `notification:subscribe` the instant the CONNECT reply is
/// read and reports whether the ack came.
async fn raw_connect_and_emit(url: String) -> Result<(), String> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .map_err(|e| format!("ws connect: {e}"))?;
    let mut sent_connect = false;
    let mut sent_event = false;
    while let Some(msg) = ws.next().await {
        let text = match msg.map_err(|e| format!("ws read: {e}"))? {
            Message::Text(t) => t.to_string(),
            Message::Close(_) => return Err("closed".into()),
            _ => continue,
        };
        if text.starts_with('0') && !sent_connect {
            sent_connect = true;
            ws.send(Message::text("40"))
                .await
                .map_err(|e| e.to_string())?;
        } else if text.starts_with("40") && !sent_event {
            sent_event = true;
            ws.send(Message::text(r#"421["notification:subscribe",{}]"#))
                .await
                .map_err(|e| e.to_string())?;
        } else if text == "2" {
            ws.send(Message::text("3"))
                .await
                .map_err(|e| e.to_string())?;
        } else if text.starts_with("431") {
            let _ = ws.close(None).await;
            return Ok(());
        }
    }
    Err("connection ended without the ack".into())
}

/// The same race with the fastest possible client: 10 rounds of 400
/// connections at once (400 keeps both ends under a 1024 open-files limit).
/// With listeners registered in the connect handler, 1 to 11 acks went
/// missing within the first two rounds in each of three runs on a 2-core
/// machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn every_ack_arrives_for_raw_clients_that_emit_the_instant_they_connect() {
    const PER_ROUND: usize = 400;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = spawn(config(&dir)).await.expect("server");
    for round in 0..10 {
        let mut tasks = Vec::new();
        for _ in 0..PER_ROUND {
            let url = server.url();
            tasks.push(tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(20), raw_connect_and_emit(url))
                    .await
                    .unwrap_or_else(|_| Err("no ack within 20 s".into()))
            }));
        }
        let mut missing = Vec::new();
        for t in tasks {
            if let Err(e) = t.await.expect("task") {
                missing.push(e);
            }
        }
        assert!(
            missing.is_empty(),
            "round {round}: {} of {PER_ROUND} acks missing: {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
    server.stop().await.expect("stop");
}

/// Retention by age runs when the server starts: notifications older than
/// `retain_days` go, newer ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_by_days_prunes_old_notifications_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    {
        let store = Store::open(&path).expect("open");
        let now = chrono::Utc::now();
        for age_days in [40, 30, 3, 0] {
            store
                .insert_notification(
                    pulseboard_protocol::NewNotification {
                        title: format!("{age_days} days old"),
                        body: String::new(),
                        severity: pulseboard_protocol::NotificationSeverity::Info,
                        module: None,
                    },
                    now - chrono::Duration::days(age_days),
                )
                .await
                .expect("insert");
        }
    }
    let mut cfg = config(&dir);
    cfg.retain_days = Some(7);
    let server = spawn(cfg).await.expect("server");
    let store = Store::open(&path).expect("open beside the server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.notification_count().await.expect("count") > 2 {
        assert!(Instant::now() < deadline, "retention did not prune in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = store.notifications_after("default", 0).await.expect("list");
    let titles: Vec<&str> = left.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(titles, vec!["3 days old", "0 days old"]);
    server.stop().await.expect("stop");
}
