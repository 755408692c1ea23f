//! Three server nodes, one Redis, one PostgreSQL (all started by the test):
//! what is posted to one node reaches the clients of every node, in order,
//! each once, and a Redis restart costs nothing posted after it is back.

use std::time::Duration;

use common::Polling;
use pulseboard_server::{spawn, Config, ServerHandle};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

mod common;
mod services;

const WAIT: Duration = Duration::from_secs(60);

struct Cluster {
    nodes: Vec<ServerHandle>,
    redis: services::Redis,
    _pg: services::Postgres,
}

async fn cluster(n: usize) -> Cluster {
    cluster_with(n, |_, _| {}).await
}

/// [`cluster`] with node `i`'s config changed by `tune(i, config)`.
async fn cluster_with(n: usize, tune: impl Fn(usize, &mut Config)) -> Cluster {
    let pg = services::Postgres::start();
    let url = pg.database("pb").await;
    let redis = services::Redis::start();
    let mut nodes = Vec::new();
    for i in 0..n {
        let mut c = Config::new(&url);
        c.simulator = false;
        c.redis = Some(redis.url());
        tune(i, &mut c);
        nodes.push(spawn(c).await.expect("node starts"));
    }
    let http = Client::new();
    for node in &nodes {
        wait_redis(&http, node, "up").await;
    }
    Cluster {
        nodes,
        redis,
        _pg: pg,
    }
}

async fn readyz(http: &Client, node: &ServerHandle) -> (StatusCode, Value) {
    let r = http
        .get(format!("{}/readyz", node.url()))
        .send()
        .await
        .expect("readyz");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Wait until `/readyz` reports Redis `state` (`up`: 200, `down`: 503).
async fn wait_redis(http: &Client, node: &ServerHandle, state: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = readyz(http, node).await;
        let want = if state == "up" {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        if body["redis"] == state && status == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz never reported redis {state}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send(http: &Client, method: reqwest::Method, url: String, body: Value) -> Value {
    let r = http
        .request(method, url)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "status {}", r.status());
    r.json().await.expect("json")
}

async fn post_notification(http: &Client, node: &ServerHandle, title: &str) -> Value {
    send(
        http,
        reqwest::Method::POST,
        format!("{}/api/notifications", node.url()),
        json!({"title": title, "body": "b", "severity": "info"}),
    )
    .await
}

/// A socket on `node` subscribed to notifications (after everything so
/// far), the finance module and the dashboard.
async fn subscriber(node: &ServerHandle) -> Polling {
    let mut s = Polling::open(node, None).await;
    s.connected().await.expect("connected");
    let ack = s
        .call("notification:subscribe", Some(json!({"afterSeq": 0})))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let ack = s
        .call("module:subscribe", Some(json!({"module": "finance"})))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    s
}

async fn event(s: &mut Polling, name: &str) -> Value {
    tokio::time::timeout(WAIT, s.event(name))
        .await
        .unwrap_or_else(|_| panic!("no {name} within {WAIT:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_to_node_a_reaches_clients_on_b_and_c_and_reads_follow_the_viewer() {
    let c = cluster(3).await;
    let (a, b, cc) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    let http = Client::new();
    let mut on_b = subscriber(b).await;
    let mut on_c = subscriber(cc).await;

    let posted = post_notification(&http, a, "from a").await;
    for s in [&mut on_b, &mut on_c] {
        let n = event(s, "notification:new").await;
        assert_eq!(n["id"], posted["id"]);
        assert_eq!(n["title"], "from a");
    }

    send(
        &http,
        reqwest::Method::POST,
        format!("{}/api/alerts", a.url()),
        json!({"title": "disk", "message": "full", "severity": "critical"}),
    )
    .await;
    for s in [&mut on_b, &mut on_c] {
        assert_eq!(event(s, "alert:system").await["title"], "disk");
    }

    send(
        &http,
        reqwest::Method::PUT,
        format!("{}/api/kpis/finance", a.url()),
        json!({"kpis": [{"key": "cash", "label": "Cash", "value": 42.5}]}),
    )
    .await;
    for s in [&mut on_b, &mut on_c] {
        assert_eq!(
            event(s, "kpi:update:finance").await["kpis"][0]["value"],
            42.5
        );
    }

    // The same viewer (`default`) on B and C: a mark-read on C reaches B.
    let ack = on_c
        .call(
            "notification:mark-read",
            Some(json!({"ids": [posted["id"]]})),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let read = event(&mut on_b, "notification:read").await;
    assert_eq!(read["ids"], json!([posted["id"]]));
    assert_eq!(read["unreadCount"], 0);
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}

/// Every event the server sent `s` before it answers a `module:subscribe`
/// sent now, as `(name, payload)`: whatever was emitted to `s` before that
/// request arrived is in the list, in order.
async fn events_so_far(s: &mut Polling) -> Vec<(String, Value)> {
    s.send(r#"42900["module:subscribe",{"module":"finance"}]"#)
        .await;
    let mut got = Vec::new();
    loop {
        let p = tokio::time::timeout(WAIT, s.next()).await.expect("packet");
        if p.starts_with("43900") {
            return got;
        }
        if let Some(body) = p.strip_prefix("42") {
            let v: Value = serde_json::from_str(body).expect("event JSON");
            got.push((v[0].as_str().unwrap_or_default().to_owned(), v[1].clone()));
        }
    }
}

/// KPI updates, an alert and a mark-read made on node A reach the clients
/// of A itself and of B each once, in order: the adapter's broadcast skips
/// A's own sockets (A delivers to them socket by socket), and B's adapter
/// delivers to B's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_events_reach_every_node_once_in_order_including_the_sending_node() {
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let http = Client::new();
    let mut on_a = subscriber(a).await;
    let mut on_b = subscriber(b).await;
    let posted = post_notification(&http, a, "n").await;
    for s in [&mut on_a, &mut on_b] {
        assert_eq!(event(s, "notification:new").await["id"], posted["id"]);
    }
    let kpi = |v: f64| json!({"kpis": [{"key": "cash", "label": "Cash", "value": v}]});
    let kpis_url = format!("{}/api/kpis/finance", a.url());
    send(&http, reqwest::Method::PUT, kpis_url.clone(), kpi(1.0)).await;
    send(
        &http,
        reqwest::Method::POST,
        format!("{}/api/alerts", a.url()),
        json!({"title": "one", "message": "m", "severity": "info"}),
    )
    .await;
    // The same viewer on a third socket, on A: its read reaches A and B.
    let mut marker = Polling::open(a, None).await;
    marker.connected().await.expect("connected");
    let ack = marker
        .call(
            "notification:mark-read",
            Some(json!({"ids": [posted["id"]]})),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    send(&http, reqwest::Method::PUT, kpis_url, kpi(2.0)).await;
    for (name, sock) in [("A", &mut on_a), ("B", &mut on_b)] {
        // B's events come through Redis: wait for the last one first.
        if name == "B" {
            assert_eq!(
                event(sock, "kpi:update:finance").await["kpis"][0]["value"],
                1.0
            );
        }
        let mut seen: Vec<String> = Vec::new();
        if name == "B" {
            seen.push("kpi 1.0".into());
        }
        loop {
            for (event, payload) in events_so_far(sock).await {
                match event.as_str() {
                    "kpi:update:finance" => {
                        seen.push(format!("kpi {}", payload["kpis"][0]["value"]))
                    }
                    "alert:system" => seen.push(format!("alert {}", payload["title"])),
                    "notification:read" => seen.push(format!("read {}", payload["unreadCount"])),
                    _ => {}
                }
            }
            if seen.iter().any(|e| e == "kpi 2.0") || name == "A" {
                break;
            }
        }
        assert_eq!(
            seen,
            ["kpi 1.0", "alert \"one\"", "read 0", "kpi 2.0"],
            "client on {name}"
        );
    }
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}

/// A client on node B that stops reading while node A floods KPI updates:
/// its send buffer (16 packets here) fills with updates that came through
/// Redis, so B disconnects it (a namespace DISCONNECT, not a silent skip:
/// vendor/PATCHES.md patch 14), and once it reconnects its subscribe ack
/// holds the last value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_socket_on_another_node_is_disconnected_and_catches_up() {
    let c = cluster_with(2, |i, cfg| {
        if i == 1 {
            cfg.socket_buffer = 16;
        }
    })
    .await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let http = Client::new();
    let mut slow = subscriber(b).await;
    // The client reads nothing while A publishes.
    let kpis_url = format!("{}/api/kpis/finance", a.url());
    for v in 1..=100 {
        send(
            &http,
            reqwest::Method::PUT,
            kpis_url.clone(),
            json!({"kpis": [{"key": "cash", "label": "Cash", "value": v}]}),
        )
        .await;
    }
    // Now it reads: some updates, then the server's DISCONNECT (without
    // the patch nothing more comes, and `next` gives up after 10 s).
    let mut updates = 0;
    loop {
        let p = slow.next().await;
        if p.starts_with("41") {
            break;
        }
        if p.starts_with(r#"42["kpi:update:finance""#) {
            updates += 1;
        }
    }
    assert!(updates < 100, "the buffer never filled: {updates} updates");
    let mut again = Polling::open(b, None).await;
    again.connected().await.expect("connected");
    let ack = again
        .call("module:subscribe", Some(json!({"module": "finance"})))
        .await;
    assert_eq!(ack["snapshot"]["kpis"][0]["value"], 100.0, "{ack}");
    // B counted it, once (its disconnect handler runs in a task of its own).
    let deadline = tokio::time::Instant::now() + WAIT;
    let metrics = loop {
        let m = common::metrics(b).await;
        let n = common::metric(&m, "pulseboard_overflow_disconnects_total");
        if n >= 1.0 || tokio::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        common::metric(&metrics, "pulseboard_overflow_disconnects_total"),
        1.0,
        "{metrics}"
    );
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}

/// A client of the cluster that follows notifications like ours does: it
/// subscribes with `afterSeq`, takes the catch-up page and then live
/// `notification:new`, keeps each `seq` once, and checks there is no gap.
struct Follower {
    sock: Polling,
    seqs: Vec<u64>,
}

impl Follower {
    /// Connect to `node` and subscribe after what it already holds.
    async fn attach(node: &ServerHandle, seqs: Vec<u64>) -> Follower {
        let mut sock = Polling::open(node, None).await;
        sock.connected().await.expect("connected");
        let after = seqs.last().copied().unwrap_or(0);
        sock.send(&format!(
            "42900{}",
            json!(["notification:subscribe", {"afterSeq": after}])
        ))
        .await;
        let mut f = Follower { sock, seqs };
        // Events that arrive before the ack are kept and applied after it.
        let mut early = Vec::new();
        loop {
            let p = tokio::time::timeout(WAIT, f.sock.next())
                .await
                .expect("subscribe ack");
            if let Some(body) = p.strip_prefix("43900") {
                let ack: Value = serde_json::from_str(body).expect("ack JSON");
                assert_eq!(ack[0]["ok"], true, "{ack}");
                for n in ack[0]["notifications"].as_array().expect("page") {
                    f.take(n);
                }
                break;
            }
            if let Some(body) = p.strip_prefix("42") {
                early.push(serde_json::from_str::<Value>(body).expect("event JSON"));
            }
        }
        for e in early {
            if e[0] == "notification:new" {
                f.take(&e[1]);
            }
        }
        f
    }

    fn take(&mut self, n: &Value) {
        let seq = n["seq"].as_u64().expect("seq");
        let last = self.seqs.last().copied().unwrap_or(0);
        if seq <= last {
            return; // already held (catch-up and live overlap)
        }
        assert_eq!(seq, last + 1, "a gap: {seq} after {last}");
        self.seqs.push(seq);
    }

    /// Follow live events until it holds `n` notifications.
    async fn until(&mut self, n: usize) {
        while self.seqs.len() < n {
            let e = event(&mut self.sock, "notification:new").await;
            self.take(&e);
        }
    }
}

/// 40 notifications posted to node A at once (A stores them concurrently,
/// no lock across its inserts): a live client on A itself and one on B each
/// receive exactly 1..=40, in `seq` order, each once (no gap, no repeat: the
/// live stream is checked as it comes, nothing deduplicated), and the next
/// one posted is the next one received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_to_one_node_reach_its_own_and_other_clients_once_in_order() {
    let c = cluster(2).await;
    let http = Client::new();
    let mut on_a = subscriber(&c.nodes[0]).await;
    let mut on_b = subscriber(&c.nodes[1]).await;
    let posts: Vec<_> = (0..40)
        .map(|i| {
            let http = http.clone();
            let url = c.nodes[0].url();
            tokio::spawn(async move {
                let r = http
                    .post(format!("{url}/api/notifications"))
                    .json(&json!({"title": format!("p{i}"), "body": "b", "severity": "info"}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), StatusCode::CREATED);
            })
        })
        .collect();
    for p in posts {
        p.await.expect("post task");
    }
    for (name, sock) in [("A", &mut on_a), ("B", &mut on_b)] {
        let mut seqs = Vec::new();
        while seqs.len() < 40 {
            let n = event(sock, "notification:new").await;
            assert_eq!(n["read"], false, "{n}");
            seqs.push(n["seq"].as_u64().expect("seq"));
        }
        assert_eq!(seqs, (1..=40).collect::<Vec<u64>>(), "client on {name}");
    }
    post_notification(&http, &c.nodes[0], "last").await;
    for (name, sock) in [("A", &mut on_a), ("B", &mut on_b)] {
        let n = event(sock, "notification:new").await;
        assert_eq!(n["seq"], 41, "client on {name}: the next one, not a repeat");
    }
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}

/// Three writers, one per node, 100 notifications each at once: a client
/// following live, reconnecting twice in the middle (to other nodes), ends
/// with all 300, each once, in `seq` order, without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_writers_on_three_nodes_reach_one_client_in_seq_order_each_once() {
    let c = cluster(3).await;
    let http = Client::new();
    let mut client = Follower::attach(&c.nodes[2], Vec::new()).await;
    let mut writers = Vec::new();
    for (w, node) in c.nodes.iter().enumerate() {
        let url = node.url();
        let http = http.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..100 {
                let r = http
                    .post(format!("{url}/api/notifications"))
                    .json(&json!({"title": format!("w{w}-{i}"), "body": "b", "severity": "info"}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), StatusCode::CREATED);
            }
        }));
    }
    client.until(60).await;
    client = Follower::attach(&c.nodes[0], client.seqs).await;
    client.until(160).await;
    client = Follower::attach(&c.nodes[1], client.seqs).await;
    client.until(300).await;
    for w in writers {
        w.await.expect("writer");
    }
    assert_eq!(client.seqs, (1..=300).collect::<Vec<u64>>());
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}

/// Redis killed and started again: `/readyz` says so meanwhile; once it is
/// back, broadcasts resume, and what was posted while it was gone reaches
/// the other nodes' clients too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_broadcasts_resume_and_nothing_is_lost() {
    let c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let http = Client::new();
    let mut on_b = subscriber(b).await;
    let first = post_notification(&http, a, "before").await;
    assert_eq!(
        event(&mut on_b, "notification:new").await["id"],
        first["id"]
    );

    c.redis.kill();
    wait_redis(&http, a, "down").await;
    wait_redis(&http, b, "down").await;
    let during = post_notification(&http, a, "during").await;

    let metrics = common::metrics(a).await;
    assert!(
        common::metric(&metrics, "pulseboard_cluster_messages_unsent_total") >= 1.0,
        "{metrics}"
    );
    c.redis.start_again();
    wait_redis(&http, a, "up").await;
    wait_redis(&http, b, "up").await;
    // Delivered when B's subscription is back, before anything else is posted.
    let got = event(&mut on_b, "notification:new").await;
    assert_eq!(got["id"], during["id"], "posted while redis was gone");
    let after = post_notification(&http, a, "after").await;
    let got = event(&mut on_b, "notification:new").await;
    assert_eq!(got["id"], after["id"], "posted after redis is back");

    send(
        &http,
        reqwest::Method::POST,
        format!("{}/api/alerts", a.url()),
        json!({"title": "back", "message": "m", "severity": "info"}),
    )
    .await;
    assert_eq!(event(&mut on_b, "alert:system").await["title"], "back");
    let metrics = common::metrics(b).await;
    assert!(
        common::metric(&metrics, "pulseboard_cluster_messages_in_total") >= 3.0,
        "{metrics}"
    );
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}

/// Nodes started while Redis is down serve (writes work), say Redis is
/// down, and join the cluster once it is there: what was posted before
/// and after reaches the other node's client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_while_redis_is_down_join_when_it_comes() {
    let pg = services::Postgres::start();
    let url = pg.database("pb").await;
    let redis = services::Redis::start();
    redis.kill();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let mut c = Config::new(&url);
        c.simulator = false;
        c.redis = Some(redis.url());
        nodes.push(spawn(c).await.expect("node starts without redis"));
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let http = Client::new();
    wait_redis(&http, a, "down").await;
    let mut on_b = subscriber(b).await;
    let early = post_notification(&http, a, "early").await;
    redis.start_again();
    wait_redis(&http, a, "up").await;
    wait_redis(&http, b, "up").await;
    assert_eq!(
        event(&mut on_b, "notification:new").await["id"],
        early["id"],
        "posted before redis came"
    );
    send(
        &http,
        reqwest::Method::PUT,
        format!("{}/api/kpis/finance", a.url()),
        json!({"kpis": [{"key": "cash", "label": "Cash", "value": 7.0}]}),
    )
    .await;
    assert_eq!(
        event(&mut on_b, "kpi:update:finance").await["kpis"][0]["value"],
        7.0
    );
    for n in nodes {
        n.stop().await.expect("stop");
    }
}

/// A node as a child process of the server binary (so it can be killed -9).
struct NodeProcess {
    child: std::process::Child,
    url: String,
}

impl NodeProcess {
    fn start(db: &str, redis: &str) -> NodeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pulseboard-server"))
            .args(["--listen", "127.0.0.1:0", "--db", db, "--redis", redis])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start pulseboard-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        NodeProcess { child, url }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node a client is on is killed -9 while 300 notifications are posted
/// to the other two: our client (core, several server URLs) fails over and
/// ends with all 300, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_clients_node_costs_no_notification() {
    use pulseboard_core::{Client as Desktop, ClientConfig, ClientState, ConnectionState, Store};

    let pg = services::Postgres::start();
    let db = pg.database("pb").await;
    let redis = services::Redis::start();
    let mut b = NodeProcess::start(&db, &redis.url());
    let (a, c) = (
        NodeProcess::start(&db, &redis.url()),
        NodeProcess::start(&db, &redis.url()),
    );
    let http = Client::new();
    for url in [&a.url, &b.url, &c.url] {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let up = match http.get(format!("{url}/readyz")).send().await {
                Ok(r) => r.status() == StatusCode::OK,
                Err(_) => false,
            };
            if up {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{url} not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let store = Store::new(ClientState::empty(&b.url));
    let desktop = Desktop::start(
        ClientConfig::with_servers(&[b.url.clone(), c.url.clone()]),
        store.clone(),
    );
    let live = |store: &Store| store.read(|s| matches!(s.connection, ConnectionState::Live { .. }));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !live(&store) {
        assert!(tokio::time::Instant::now() < deadline, "client never live");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (posted_tx, mut posted_rx) = tokio::sync::watch::channel(0usize);
    let writer = {
        let targets = [a.url.clone(), c.url.clone()];
        let http = http.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let r = http
                    .post(format!("{}/api/notifications", targets[i % 2]))
                    .json(&json!({"title": format!("n{i}"), "body": "b", "severity": "info"}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), StatusCode::CREATED);
                let _ = posted_tx.send(i + 1);
            }
        })
    };
    posted_rx
        .wait_for(|n| *n >= 100)
        .await
        .expect("writer running");
    b.child.kill().expect("kill -9 node b");
    b.child.wait().expect("reap node b");
    writer.await.expect("writer");

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (count, live_now) = store.read(|s| {
            (
                s.notifications.len(),
                matches!(s.connection, ConnectionState::Live { .. }),
            )
        });
        if count >= 300 && live_now {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "client has {count} of 300 notifications"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seqs: Vec<u64> = store.read(|s| s.notifications.iter().map(|n| n.seq).collect());
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>(), "all 300, each once");
    desktop.shutdown().await;
}

/// The official Node socket.io-client on nodes B and C receives a
/// notification, an alert and KPIs posted over HTTP to node A; its mark-read
/// on C reaches the same viewer's socket on B (interop/cluster-check.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_on_b_and_c_receives_what_is_posted_to_a() {
    use tokio::io::AsyncBufReadExt;
    let c = cluster(3).await;
    let (a, b, cc) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let interop = root.join("interop");
    assert!(
        interop.join("node_modules/socket.io-client").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop --no-audit --no-fund`"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(interop.join("cluster-check.mjs"))
        .args(["--b", &b.url(), "--c", &cc.url()])
        .current_dir(&interop)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("`node` runs (Node 20 must be on PATH)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let http = Client::new();
    let mut log = String::new();
    let result = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read node output") {
            log.push_str(&line);
            log.push('\n');
            if line == "READY" {
                post_notification(&http, a, "to a").await;
                send(
                    &http,
                    reqwest::Method::POST,
                    format!("{}/api/alerts", a.url()),
                    json!({"title": "disk", "message": "full", "severity": "critical"}),
                )
                .await;
                send(
                    &http,
                    reqwest::Method::PUT,
                    format!("{}/api/kpis/finance", a.url()),
                    json!({"kpis": [{"key": "cash", "label": "Cash", "value": 42.5}]}),
                )
                .await;
            } else if let Some(r) = line.strip_prefix("RESULT ") {
                return serde_json::from_str::<Value>(r).expect("RESULT JSON");
            } else if line.starts_with("FAIL") {
                panic!("cluster-check.mjs failed:\n{log}");
            }
        }
        panic!("cluster-check.mjs ended without a result:\n{log}");
    })
    .await
    .expect("cluster-check.mjs finishes");
    assert_eq!(result["notification"], json!(["to a", "to a"]));
    assert_eq!(result["alert"], json!(["disk", "disk"]));
    assert_eq!(result["kpi"], json!([42.5, 42.5]));
    assert_eq!(result["readOnB"]["unreadCount"], 0);
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}
