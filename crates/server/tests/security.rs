//! Roles, the Origin allow-list, the JSON Content-Type rule and the opt-in
//! simulator, against a real server on 127.0.0.1:0.

mod common;

use std::time::Duration;

use common::{auth, config, eventually, start, Polling};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const FULL: &str = "full-token";
const VIEW: &str = "alice-view-token";
const PUBLISH: &str = "ci-publish-token";

fn roles(dir: &tempfile::TempDir) -> pulseboard_server::Config {
    let mut c = config(dir);
    c.token = Some(FULL.into());
    c.view_tokens = vec![("alice".into(), VIEW.into())];
    c.publish_tokens = vec![("ci".into(), PUBLISH.into())];
    c
}

fn notification() -> Value {
    json!({"title": "Disk full", "body": "db1", "severity": "warning"})
}

async fn status_and_body(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn view_token_reads_but_cannot_write_and_publish_token_writes_but_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(roles(&dir)).await;
    let http = Client::new();
    let snap = format!("{}/api/snapshot", server.url());
    let post = format!("{}/api/notifications", server.url());

    // Viewer: may read, a POST is 403 forbidden and changes nothing.
    let resp = http.get(&snap).bearer_auth(VIEW).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (s, b) = status_and_body(
        http.post(&post)
            .bearer_auth(VIEW)
            .json(&notification())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b),
        (StatusCode::FORBIDDEN, json!({"error": "forbidden"}))
    );
    for (method, path, body) in [
        (
            "POST",
            "/api/alerts",
            json!({"title": "t", "message": "m", "severity": "critical"}),
        ),
        ("PUT", "/api/kpis/finance", json!({"kpis": []})),
        (
            "PUT",
            "/api/dashboard",
            json!({"summary": [], "topKpis": []}),
        ),
    ] {
        let resp = http
            .request(method.parse().unwrap(), format!("{}{path}", server.url()))
            .bearer_auth(VIEW)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }

    // Publisher: may write, may not read.
    let resp = http
        .post(&post)
        .bearer_auth(PUBLISH)
        .json(&notification())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (s, b) = status_and_body(http.get(&snap).bearer_auth(PUBLISH).send().await.unwrap()).await;
    assert_eq!(
        (s, b),
        (StatusCode::FORBIDDEN, json!({"error": "forbidden"}))
    );

    // Full token does both; unknown and missing are 401.
    let resp = http.get(&snap).bearer_auth(FULL).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let snapshot: Value = resp.json().await.unwrap();
    assert_eq!(
        snapshot["unreadCount"], 1,
        "exactly one notification stored"
    );
    let (s, b) = status_and_body(http.get(&snap).bearer_auth("nope").send().await.unwrap()).await;
    assert_eq!(
        (s, b),
        (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}))
    );
    let resp = http.post(&post).json(&notification()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn publish_token_on_socket_io_is_forbidden_view_token_connects() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(roles(&dir)).await;

    let mut p = Polling::open(&server, auth(PUBLISH)).await;
    assert_eq!(p.connected().await, Err("forbidden".to_string()));

    let mut p = Polling::open(&server, auth("unknown")).await;
    assert_eq!(p.connected().await, Err("unauthorized".to_string()));

    let mut p = Polling::open(&server, auth(VIEW)).await;
    assert_eq!(p.connected().await, Ok(()));
    let ack = p.call("dashboard:subscribe", Some(json!({}))).await;
    assert_eq!(ack["ok"], true, "{ack}");

    let mut p = Polling::open(&server, auth(FULL)).await;
    assert_eq!(p.connected().await, Ok(()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn token_file_gives_the_same_roles_as_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(
        &file,
        format!("# tokens of this server\ntoken {FULL}\n\nview-token alice={VIEW}\npublish-token ci={PUBLISH}\n"),
    )
    .unwrap();
    let tokens = pulseboard_server::read_token_file(&file).unwrap();
    let mut c = config(&dir);
    c.token = tokens.token;
    c.view_tokens = tokens.view;
    c.publish_tokens = tokens.publish;
    let server = start(c).await;
    let http = Client::new();
    let snap = format!("{}/api/snapshot", server.url());
    assert_eq!(
        http.get(&snap)
            .bearer_auth(VIEW)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        http.get(&snap)
            .bearer_auth(PUBLISH)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        http.get(&snap)
            .bearer_auth(FULL)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        http.get(&snap).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    server.stop().await.unwrap();

    let bad = dir.path().join("bad");
    std::fs::write(&bad, "view-token alice\n").unwrap();
    let err = pulseboard_server::read_token_file(&bad).unwrap_err();
    assert!(err.contains("line 1"), "{err}");
}

const ALLOWED: &str = "https://dash.example.com";
const EVIL: &str = "https://evil.example.net";

#[tokio::test]
async fn cross_origin_post_and_handshake_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.allow_origins = vec![format!("{ALLOWED}/")];
    let server = start(c).await;
    let http = Client::new();
    let post = format!("{}/api/notifications", server.url());

    let resp = http
        .post(&post)
        .header("origin", EVIL)
        .json(&notification())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = http
        .get(format!("{}/api/snapshot", server.url()))
        .header("origin", EVIL)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "cross-origin read");

    // Socket.IO handshake, polling transport.
    let eio = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
    let resp = http.get(&eio).header("origin", EVIL).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "polling handshake");
    // Socket.IO handshake, WebSocket transport (a raw upgrade request).
    assert_eq!(ws_upgrade_status(&server, Some(EVIL)).await, 403);
    assert_eq!(ws_upgrade_status(&server, Some(ALLOWED)).await, 101);
    assert_eq!(ws_upgrade_status(&server, None).await, 101);

    // The allowed origin and non-browser clients (no Origin) pass.
    let resp = http
        .get(&eio)
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = http
        .post(&post)
        .header("origin", ALLOWED)
        .json(&notification())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = http.post(&post).json(&notification()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let snap: Value = http
        .get(format!("{}/api/snapshot", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["unreadCount"], 2, "the refused POST stored nothing");
    server.stop().await.unwrap();
}

/// Status code of a WebSocket upgrade to the Socket.IO endpoint.
async fn ws_upgrade_status(server: &pulseboard_server::ServerHandle, origin: Option<&str>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{origin}\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
        .await
        .expect("answer in time")
        .unwrap();
    std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap()
}

#[tokio::test]
async fn writes_without_json_content_type_are_415() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let http = Client::new();
    let body = notification().to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = http
            .post(format!("{}/api/notifications", server.url()))
            .body(body.clone());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (s, b) = status_and_body(req.send().await.unwrap()).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert!(
            b["error"].as_str().unwrap().contains("application/json"),
            "{b}"
        );
    }
    let resp = http
        .post(format!("{}/api/notifications", server.url()))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let snap: Value = http
        .get(format!("{}/api/snapshot", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["unreadCount"], 1, "only the JSON POST was stored");
    server.stop().await.unwrap();
}

async fn snapshot(http: &Client, url: &str) -> Value {
    http.get(format!("{url}/api/snapshot"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The server binary started with its defaults (only a short simulator
/// period, so the simulator would have run 150 times) changes nothing for
/// 15 s: no KPI, no dashboard, no notification.
#[tokio::test]
async fn default_start_writes_nothing_by_itself_for_15_s() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = common::listening(common::server_command(dir.path()).args([
        "--kpi-interval-ms",
        "100",
        "--dashboard-interval-ms",
        "100",
    ]))
    .await;
    let http = Client::new();
    let first = snapshot(&http, &url).await;
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            snapshot(&http, &url).await,
            first,
            "the store changed by itself"
        );
    }
    assert_eq!(first["unreadCount"], 0);
    child.kill().await.unwrap();
}

/// `--simulate` on a store: the first real write stops the simulator (its
/// KPIs are never overwritten), and a restart with `--simulate` on that store
/// does not start it at all.
#[tokio::test]
async fn simulator_never_writes_over_real_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.simulator = true;
    c.kpi_interval = Duration::from_millis(50);
    c.dashboard_interval = Duration::from_millis(50);
    let server = start(c.clone()).await;
    let http = Client::new();
    let url = server.url();
    let before = snapshot(&http, &url).await;
    // The simulator runs on an empty store.
    eventually("a simulator tick", || {
        let (http, url, before) = (&http, &url, &before);
        async move { (snapshot(http, url).await["dashboard"] != before["dashboard"]).then_some(()) }
    })
    .await;
    let kpis = json!({"kpis": [{"key": "revenue", "label": "Revenue", "value": 42.0}]});
    let resp = http
        .put(format!("{url}/api/kpis/finance"))
        .json(&kpis)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let after_put = snapshot(&http, &url).await;
    assert_eq!(after_put["modules"]["finance"]["kpis"][0]["value"], 42.0);
    // 40 simulator periods later nothing moved.
    let start_t = tokio::time::Instant::now();
    while start_t.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            snapshot(&http, &url).await,
            after_put,
            "the simulator wrote after real data"
        );
    }
    server.stop().await.unwrap();

    // Restart with --simulate on the same store: the simulator stays off.
    let server = start(c).await;
    let url = server.url();
    let first = snapshot(&http, &url).await;
    let start_t = tokio::time::Instant::now();
    while start_t.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            snapshot(&http, &url).await,
            first,
            "simulator ran on a store with real data"
        );
    }
    server.stop().await.unwrap();
}

/// `--help` shows which variables the token flags read, never their values;
/// nor the database and Redis URLs, which may carry a password.
#[test]
fn server_help_does_not_print_tokens_from_the_environment() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pulseboard-server"))
        .arg("--help")
        .env("PULSEBOARD_TOKEN", "secret-full")
        .env("PULSEBOARD_VIEW_TOKENS", "alice=secret-view")
        .env("PULSEBOARD_PUBLISH_TOKENS", "ci=secret-publish")
        .env(
            "PULSEBOARD_DB",
            "postgres://pulse:secret-pg@db.example/pulse",
        )
        .env(
            "PULSEBOARD_REDIS",
            "redis://:secret-redis@cache.example:6379",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for var in [
        "PULSEBOARD_VIEW_TOKENS",
        "PULSEBOARD_PUBLISH_TOKENS",
        "PULSEBOARD_DB",
        "PULSEBOARD_REDIS",
    ] {
        assert!(text.contains(var), "{var} not named: {text}");
    }
    assert!(!text.contains("secret-"), "{text}");
}

/// The binary wires the role flags, the environment lists and the token file
/// together: every source of tokens works with its role.
#[tokio::test]
async fn server_binary_takes_tokens_from_flags_environment_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "token admin-t\npublish-token ci=ci-t\n").unwrap();
    let (mut child, url) = common::listening(
        common::server_command(dir.path())
            .args(["--view-token", "alice=alice-t", "--token-file"])
            .arg(&file)
            .args(["--allow-origin", "https://dash.example.com"])
            .env("PULSEBOARD_VIEW_TOKENS", "bob=bob-t,carol=carol-t")
            .env("PULSEBOARD_PUBLISH_TOKENS", "billing=billing-t,ops=ops-t"),
    )
    .await;
    let http = Client::new();
    let get = |t: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.get(format!("{url}/api/snapshot"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // A flag replaces its environment variable (as for every flag): alice
    // counts, bob and carol do not. The publish list comes from the
    // environment (comma-separated), the full and ci tokens from the file.
    assert_eq!(get("alice-t").await, StatusCode::OK);
    assert_eq!(get("bob-t").await, StatusCode::UNAUTHORIZED);
    assert_eq!(get("ops-t").await, StatusCode::FORBIDDEN);
    assert_eq!(get("admin-t").await, StatusCode::OK);
    assert_eq!(get("ci-t").await, StatusCode::FORBIDDEN);
    assert_eq!(get("billing-t").await, StatusCode::FORBIDDEN);
    assert_eq!(get("nobody").await, StatusCode::UNAUTHORIZED);
    let resp = http
        .post(format!("{url}/api/notifications"))
        .bearer_auth("billing-t")
        .header("origin", "https://dash.example.com")
        .json(&notification())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = http
        .post(format!("{url}/api/notifications"))
        .bearer_auth("ci-t")
        .header("origin", "https://other.example.com")
        .json(&notification())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    child.kill().await.unwrap();
}

/// `--simulate` turns the simulator on in the binary; `--no-simulator` is
/// still accepted.
#[tokio::test]
async fn simulate_flag_turns_the_simulator_on_and_no_simulator_is_accepted() {
    for (flag, moves) in [("--simulate", true), ("--no-simulator", false)] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, url) = common::listening(common::server_command(dir.path()).args([
            flag,
            "--kpi-interval-ms",
            "50",
        ]))
        .await;
        let http = Client::new();
        let first = snapshot(&http, &url).await;
        if moves {
            eventually("a simulated KPI change", || {
                let (http, url, first) = (&http, &url, &first);
                async move { (snapshot(http, url).await["modules"] != first["modules"]).then_some(()) }
            })
            .await;
        }
        child.kill().await.unwrap();
    }
}

/// A path no route serves, or a wrong method on an API route, tells nothing
/// without a token (401, as every route but the probes), is rate-limited
/// like the API (no unlimited token-guessing through it), and is 404 / 405
/// with one. The probes keep a plain 405.
#[tokio::test]
async fn unknown_paths_and_methods_need_the_token_and_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = roles(&dir);
    c.rate_limit = 3;
    let server = start(c).await;
    let url = server.url();
    let http = Client::new();
    let (s, b) = status_and_body(http.get(format!("{url}/nope")).send().await.unwrap()).await;
    assert_eq!(
        (s, b),
        (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}))
    );
    let resp = http
        .delete(format!("{url}/api/snapshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = http.delete(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Token guesses through unknown paths run into the rate limit.
    let from = |n: u8| {
        Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 6, n]))
            .build()
            .unwrap()
    };
    let guesser = from(1);
    let mut statuses = Vec::new();
    for i in 0..10 {
        let resp = guesser
            .get(format!("{url}/nope"))
            .bearer_auth(format!("guess-{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // With a token: 404 and 405 as before.
    let client = from(2);
    let resp = client
        .get(format!("{url}/nope"))
        .bearer_auth(VIEW)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = client
        .delete(format!("{url}/api/snapshot"))
        .bearer_auth(VIEW)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    server.stop().await.unwrap();
}
