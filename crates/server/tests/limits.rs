//! Limits at the edge: half-open connections, connection caps, HTTP rate
//! limits, the Socket.IO event rate limit and the life of unauthenticated
//! Engine.IO sessions.

mod common;

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use common::{auth, config, eventually, metric, metrics, start, Polling};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// Connect to `server` from the local address `from` (any 127.x.y.z works
/// on Linux loopback), so one test can be several clients.
async fn connect_from(from: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(from, 0))?;
    s.connect(server).await
}

/// Whether the peer closed the connection (EOF or reset), reading whatever
/// it sent before.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue,
        }
    }
}

async fn healthz(http: &Client, server: &pulseboard_server::ServerHandle) -> StatusCode {
    http.get(format!("{}/healthz", server.url()))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

/// 1000 connections that send nothing or half a request header, from ten
/// addresses (100 each, the default per-address cap, so every one of them is
/// admitted and held: none is refused), against the default connection caps:
/// `/healthz` from another address still answers at once, and every one of
/// them is closed by the server after the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_do_not_stop_healthz_and_are_closed_after_the_timeout() {
    rlimit::increase_nofile_limit(u64::MAX).ok();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    // Long enough that all 1000 are open at once on a loaded machine.
    c.header_timeout = Duration::from_secs(5);
    let server = start(c).await;
    let mut conns = Vec::new();
    for i in 0..1000u16 {
        let attacker = IpAddr::from([127, 0, 2, 1 + (i / 100) as u8]);
        let mut s = connect_from(attacker, server.addr).await.expect("connect");
        if i % 2 == 0 {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
        }
        conns.push(s);
    }
    let http = Client::new();
    assert_eq!(
        healthz(&http, &server).await,
        StatusCode::OK,
        "healthz while under attack"
    );
    // None of the 1000 was turned away by a cap: what closes them below is
    // the header timeout.
    let m = metrics(&server).await;
    assert_eq!(
        metric(&m, "pulseboard_connections_refused_total"),
        0.0,
        "{m}"
    );

    // Every half-open connection is closed by the server, well before the
    // test's own deadline (header timeout 5 s).
    let started = tokio::time::Instant::now();
    let all = futures_closed(conns);
    tokio::time::timeout(common::WAIT, all)
        .await
        .expect("all half-open connections closed by the server");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(healthz(&http, &server).await, StatusCode::OK);
    server.stop().await.unwrap();
}

/// An idle keep-alive connection (one request answered, then nothing) is
/// closed by the server after the header timeout.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.header_timeout = Duration::from_secs(1);
    let server = start(c).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(common::WAIT, s.read(&mut buf))
        .await
        .expect("answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        !answer.contains("connection: close"),
        "kept alive: {answer}"
    );
    let started = tokio::time::Instant::now();
    tokio::time::timeout(common::WAIT, closed_by_server(&mut s))
        .await
        .expect("the idle connection closed by the server");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    server.stop().await.unwrap();
}

async fn futures_closed(conns: Vec<TcpStream>) {
    let mut set = tokio::task::JoinSet::new();
    for mut s in conns {
        set.spawn(async move { assert!(closed_by_server(&mut s).await) });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

/// Over the per-address cap a connection gets a clean 503 and is closed;
/// another address is unaffected.
#[tokio::test]
async fn connections_over_the_per_address_cap_get_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.max_connections_per_addr = 3;
    let server = start(c).await;
    let from: IpAddr = "127.0.0.3".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(from, server.addr).await.unwrap());
    }
    let mut extra = connect_from(from, server.addr).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(common::WAIT, extra.read_to_string(&mut answer))
        .await
        .expect("answered and closed")
        .ok();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    assert_eq!(healthz(&Client::new(), &server).await, StatusCode::OK);
    let m = metrics(&server).await;
    assert!(
        metric(&m, "pulseboard_connections_refused_total") >= 1.0,
        "{m}"
    );
    drop(held);
    server.stop().await.unwrap();
}

/// Over the global cap a connection from a new address gets a clean 503 and
/// is closed; once a slot is free the next one is served.
#[tokio::test]
async fn connections_over_the_global_cap_get_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.max_connections = 3;
    let server = start(c).await;
    let mut held = Vec::new();
    for i in 1..=3 {
        let from = IpAddr::from([127, 0, 4, i]);
        held.push(connect_from(from, server.addr).await.unwrap());
    }
    let mut extra = connect_from(IpAddr::from([127, 0, 4, 9]), server.addr)
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(common::WAIT, extra.read_to_string(&mut answer))
        .await
        .expect("answered and closed")
        .ok();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    // A slot freed: the next connection is served.
    drop(held.pop());
    let http = Client::builder()
        .local_address(IpAddr::from([127, 0, 4, 10]))
        .build()
        .unwrap();
    eventually("a freed slot to be reused", || {
        let (http, server) = (&http, &server);
        async move { (healthz(http, server).await == StatusCode::OK).then_some(()) }
    })
    .await;
    drop(held);
    server.stop().await.unwrap();
}

/// A burst over `--rate-limit` gets 429 with `Retry-After`; `/healthz` stays
/// 200; the limit is per address and per token.
#[tokio::test]
async fn a_burst_over_the_rate_limit_gets_429_and_the_server_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.token = Some("tok".into());
    c.rate_limit = 5;
    let server = start(c).await;
    let url = format!("{}/api/snapshot", server.url());

    // Per address: one client, 30 requests at once (sent together, so a
    // slow machine cannot spread them over more than the budget refills).
    let http = Client::new();
    let burst =
        futures_util::future::join_all((0..30).map(|_| http.get(&url).bearer_auth("tok").send()))
            .await;
    let mut limited = None;
    for resp in burst {
        let resp = resp.unwrap();
        match resp.status() {
            StatusCode::TOO_MANY_REQUESTS => limited = Some(resp),
            s => assert_eq!(s, StatusCode::OK),
        }
    }
    let resp = limited.expect("a 429 among 30 requests at once at 5/s");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "Retry-After {retry}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"error": "too many requests"}));
    for _ in 0..5 {
        assert_eq!(healthz(&http, &server).await, StatusCode::OK);
    }

    // Per token: the same token from 30 addresses at once (each address is
    // new, so only the token's budget can refuse).
    let burst = futures_util::future::join_all((0..30u8).map(|i| {
        let client = Client::builder()
            .local_address(IpAddr::from([127, 0, 1, i + 1]))
            .build()
            .unwrap();
        let url = url.clone();
        async move { client.get(&url).bearer_auth("tok").send().await.unwrap() }
    }))
    .await;
    let refused: Vec<_> = burst
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        !refused.is_empty(),
        "one token from 30 addresses is limited too"
    );
    assert!(refused
        .iter()
        .all(|r| r.headers().contains_key("retry-after")));
    let m = metrics(&server).await;
    assert!(metric(&m, "pulseboard_rate_limited_total") >= 2.0, "{m}");
    server.stop().await.unwrap();
}

/// A Socket.IO client over its event rate gets `{ok: false, error: "rate
/// limited"}`; the connection stays up and later events are served.
#[tokio::test]
async fn socket_events_over_the_rate_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.event_rate_limit = 5;
    let server = start(c).await;
    let mut p = Polling::open(&server, auth("")).await;
    assert_eq!(p.connected().await, Ok(()));
    let mut refused = 0;
    for _ in 0..20 {
        let ack = p
            .call("module:subscribe", Some(json!({"module": "finance"})))
            .await;
        if ack == json!({"ok": false, "error": "rate limited"}) {
            refused += 1;
        } else {
            assert_eq!(ack["ok"], true, "{ack}");
        }
    }
    assert!(refused >= 10, "only {refused} of 20 refused at 5/s");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let ack = loop {
        let ack = p
            .call("module:subscribe", Some(json!({"module": "hr"})))
            .await;
        if ack["ok"] == true {
            break ack;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "budget never refilled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ack["snapshot"]["module"], "hr");
    let m = metrics(&server).await;
    assert!(metric(&m, "pulseboard_rate_limited_total") >= 10.0, "{m}");
    assert!(metric(&m, "pulseboard_events_in_total") >= 21.0, "{m}");
    server.stop().await.unwrap();
}

/// Socket.IO events count against budgets shared by all the connections of
/// a token and of a client address (`--shared-event-rate-limit`): four
/// connections of one token from four addresses, or of four tokens from one
/// address, each sending 5 events (within its own rate, its address's or
/// token's budget when those are not shared), are refused together once the
/// shared budget of 5 is spent; another token from another address is
/// unaffected.
#[tokio::test]
async fn socket_events_are_limited_per_token_and_per_address_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.view_tokens = ["alice", "bob", "t1", "t2", "t3", "t4"]
        .into_iter()
        .map(|n| (n.to_string(), format!("{n}-token")))
        .collect();
    c.event_rate_limit = 1000;
    c.shared_event_rate_limit = 5;
    let server = start(c).await;
    let ip = |n: u8| Some(IpAddr::from([127, 0, 5, n]));
    async fn open_all(
        server: &pulseboard_server::ServerHandle,
        who: &[(&str, Option<IpAddr>)],
    ) -> Vec<Polling> {
        let mut conns = Vec::new();
        for (name, from) in who {
            let mut p = Polling::open_from(server, auth(&format!("{name}-token")), *from).await;
            assert_eq!(p.connected().await, Ok(()), "{name}");
            conns.push(p);
        }
        conns
    }
    /// 20 events, 5 on each of the four connections in turn; how many were
    /// refused.
    async fn refused(conns: &mut [Polling]) -> usize {
        let mut refused = 0;
        for i in 0..20 {
            let p = &mut conns[i % conns.len()];
            let ack = p
                .call("module:subscribe", Some(json!({"module": "finance"})))
                .await;
            if ack == json!({"ok": false, "error": "rate limited"}) {
                refused += 1;
            } else {
                assert_eq!(ack["ok"], true, "{ack}");
            }
        }
        refused
    }

    // One token from four addresses.
    let mut alice = open_all(
        &server,
        &[
            ("alice", ip(1)),
            ("alice", ip(2)),
            ("alice", ip(3)),
            ("alice", ip(4)),
        ],
    )
    .await;
    let n = refused(&mut alice).await;
    assert!(n >= 10, "only {n} of 20 refused for one token at 5/s");
    // Another token from another address has its own budgets.
    let mut bob = open_all(&server, &[("bob", ip(5))]).await;
    let ack = bob[0]
        .call("module:subscribe", Some(json!({"module": "hr"})))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");

    // Four tokens from one address.
    let mut shared = open_all(
        &server,
        &[("t1", ip(6)), ("t2", ip(6)), ("t3", ip(6)), ("t4", ip(6))],
    )
    .await;
    let n = refused(&mut shared).await;
    assert!(n >= 10, "only {n} of 20 refused for one address at 5/s");
    let m = metrics(&server).await;
    assert!(metric(&m, "pulseboard_rate_limited_total") >= 20.0, "{m}");
    server.stop().await.unwrap();
}

/// Opening Engine.IO sessions counts against `--rate-limit` per address
/// (either transport): a burst of handshakes from one address gets 429 with
/// `Retry-After`, while the session it already has goes on polling and
/// another address can still open one.
#[tokio::test]
async fn new_engine_io_sessions_are_rate_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.rate_limit = 3;
    let server = start(c).await;
    let from = |n: u8| {
        Client::builder()
            .local_address(IpAddr::from([127, 0, 7, n]))
            .build()
            .unwrap()
    };
    let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
    let a = from(1);
    let open = a.get(&base).send().await.unwrap().text().await.unwrap();
    let hs: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    let session = format!("{base}&sid={}", hs["sid"].as_str().unwrap());
    let mut limited = None;
    for _ in 0..10 {
        let resp = a.get(&base).send().await.unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(resp);
            break;
        }
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = limited.expect("a 429 within 10 handshakes at 3/s");
    assert!(resp.headers().contains_key("retry-after"));
    // The WebSocket transport's handshake too.
    let mut s = connect_from(IpAddr::from([127, 0, 7, 1]), server.addr)
        .await
        .unwrap();
    s.write_all(
        format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(common::WAIT, s.read_exact(&mut head))
        .await
        .expect("answer in time")
        .unwrap();
    assert_eq!(&head[9..12], b"429");
    // The open session is not limited; another address opens its own.
    for _ in 0..5 {
        let resp = a.post(&session).body("3").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "the existing session");
    }
    let resp = from(2).get(&base).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "another address");
    server.stop().await.unwrap();
}

/// An Engine.IO session that never sends the Socket.IO connect (with the
/// token) is closed after the handshake timeout.
#[tokio::test]
async fn unauthenticated_engine_io_sessions_are_short_lived() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.token = Some("tok".into());
    c.handshake_timeout = Duration::from_secs(1);
    let server = start(c).await;
    let http = Client::new();
    let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
    let open = http.get(&base).send().await.unwrap().text().await.unwrap();
    let hs: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    let sid = hs["sid"].as_str().unwrap().to_string();
    let url = format!("{base}&sid={sid}");
    let started = tokio::time::Instant::now();
    // Polls go on answering until the server drops the session.
    eventually("the session to be closed", || {
        let (http, url) = (&http, &url);
        async move {
            let resp = http.get(url).send().await.ok()?;
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            // 400 unknown sid, or a close packet ("1").
            (status == StatusCode::BAD_REQUEST || body.split('\u{1e}').any(|p| p == "1"))
                .then_some(())
        }
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    server.stop().await.unwrap();
}

/// Behind a `--trusted-proxy`, the per-address limit counts the client named
/// by `X-Forwarded-For`; from any other peer the header is ignored.
#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.rate_limit = 3;
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = start(c).await;
    let url = format!("{}/api/snapshot", server.url());
    // The proxy forwards 10 different clients: none is limited.
    let proxy = Client::new();
    for i in 1..=10 {
        let resp = proxy
            .get(&url)
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "client {i}");
    }
    // One forwarded client over its rate is.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let resp = proxy
            .get(&url)
            .header("x-forwarded-for", "198.51.100.77")
            .send()
            .await
            .unwrap();
        statuses.push(resp.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // An untrusted peer cannot dodge its limit by inventing the header.
    let direct = Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 5]))
        .build()
        .unwrap();
    let mut limited = false;
    for i in 1..=10 {
        let resp = direct
            .get(&url)
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap();
        limited |= resp.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "a forged X-Forwarded-For was believed");
    server.stop().await.unwrap();
}

/// An API request whose body never finishes gets 408 after the request
/// timeout (the headers arrived in time, so the header timeout does not
/// apply), and nothing is stored.
#[tokio::test]
async fn a_request_body_that_never_finishes_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.request_timeout = Duration::from_secs(1);
    let server = start(c).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /api/notifications HTTP/1.1\r\nHost: x\r\n\
          content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"title\":",
    )
    .await
    .unwrap();
    let started = tokio::time::Instant::now();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(common::WAIT, s.read(&mut buf))
        .await
        .expect("answered in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (_, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert_eq!(body, json!({"error": "request timed out"}), "{answer}");
    let snap: Value = Client::new()
        .get(format!("{}/api/snapshot", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["unreadCount"], 0);
    server.stop().await.unwrap();
}
