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
    let pg = services::Postgres::start();
    let url = pg.database("pb").await;
    let redis = services::Redis::start();
    let mut nodes = Vec::new();
    for _ in 0..n {
        let mut c = Config::new(&url);
        c.simulator = false;
        c.redis = Some(redis.url());
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

/// Three writers, one per node, 100 notifications each at once: a client on
/// one node gets all 300 live, each once, in `seq` order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_writers_on_three_nodes_reach_one_client_in_seq_order_each_once() {
    let c = cluster(3).await;
    let http = Client::new();
    let mut client = subscriber(&c.nodes[2]).await;
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
    let mut seqs = Vec::new();
    while seqs.len() < 300 {
        let n = event(&mut client, "notification:new").await;
        seqs.push(n["seq"].as_u64().expect("seq"));
    }
    for w in writers {
        w.await.expect("writer");
    }
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>());
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
    for n in c.nodes {
        n.stop().await.expect("stop");
    }
}
