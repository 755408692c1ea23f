//! docs/deploy/nginx-cluster.conf run for real with Debian's nginx in front
//! of three nodes (one PostgreSQL, one Redis, all started by the test):
//! a long-polling session (many requests) stays on its node (sticky on the
//! client address), and what is posted through nginx reaches it.

mod common;
mod services;

use std::{path::Path, time::Duration};

use common::{eventually, repo_root, start_nginx};
use pulseboard_server::{spawn, Config, ServerHandle};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// nginx running the documented cluster config in front of `nodes`.
async fn nginx(
    dir: &Path,
    nodes: &[ServerHandle],
    cert: &Path,
    key: &Path,
) -> (tokio::process::Child, String) {
    let port = pulseboard_testkit::free_port();
    let mut site =
        std::fs::read_to_string(repo_root().join("docs/deploy/nginx-cluster.conf")).unwrap();
    for (i, n) in nodes.iter().enumerate() {
        let addr = n.url().trim_start_matches("http://").to_owned();
        site = site.replace(&format!("10.0.0.1{}:4000", i + 1), &addr);
    }
    let site = site
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
        .replace("/etc/ssl/pulseboard/fullchain.pem", cert.to_str().unwrap())
        .replace("/etc/ssl/pulseboard/privkey.pem", key.to_str().unwrap());
    assert!(!site.contains("10.0.0."), "every upstream substituted");
    let child = start_nginx(dir, &site);
    eventually("nginx to listen", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(drop)
    })
    .await;
    (child, format!("https://127.0.0.1:{port}"))
}

async fn text(r: reqwest::Response) -> String {
    let status = r.status();
    let body = r.text().await.expect("body");
    assert_eq!(
        status,
        StatusCode::OK,
        "a request of the session failed: {body}"
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_through_nginx_sticks_to_one_of_three_nodes() {
    let pg = services::Postgres::start();
    let db = pg.database("pb").await;
    let redis = services::Redis::start();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let mut c = Config::new(&db);
        c.simulator = false;
        c.redis = Some(redis.url());
        nodes.push(spawn(c).await.expect("node"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let (_nginx, base) = nginx(dir.path(), &nodes, &cert, &key).await;
    let pem = std::fs::read(&ca).unwrap();
    let http = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        // One request per connection: without stickiness nginx could pick
        // another node for every request.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();

    let eio = format!("{base}/socket.io/?EIO=4&transport=polling");
    let open = text(http.get(&eio).send().await.expect("handshake")).await;
    let hs: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).unwrap();
    let url = format!("{eio}&sid={}", hs["sid"].as_str().expect("sid"));
    let post = |body: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            text(
                http.post(&url)
                    .header("content-type", "text/plain;charset=UTF-8")
                    .body(body)
                    .send()
                    .await
                    .expect("post"),
            )
            .await
        }
    };
    let poll_until = |needle: &'static str| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let body = text(http.get(&url).send().await.expect("poll")).await;
                if body.contains(needle) {
                    return body;
                }
                assert!(tokio::time::Instant::now() < deadline, "no {needle}");
            }
        }
    };
    post("40".into()).await;
    poll_until("40{").await;
    post(format!(
        "421{}",
        json!(["notification:subscribe", {"afterSeq": 0}])
    ))
    .await;
    poll_until("431[").await;
    // Several more requests of the same session, each on a new connection.
    for _ in 0..5 {
        post(format!(
            "42{}",
            json!(["module:subscribe", {"module": "finance"}])
        ))
        .await;
    }
    let r = http
        .post(format!("{base}/api/notifications"))
        .json(&json!({"title": "through nginx", "body": "b", "severity": "info"}))
        .send()
        .await
        .expect("post notification");
    assert_eq!(r.status(), StatusCode::CREATED);
    let body = poll_until("notification:new").await;
    assert!(body.contains("through nginx"), "{body}");
    for n in nodes {
        n.stop().await.expect("stop");
    }
}
