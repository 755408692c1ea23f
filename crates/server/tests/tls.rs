//! HTTPS, WSS and polling over TLS on the same port, with a private CA and a
//! server certificate made in the test.

mod common;

use std::time::Duration;

use common::{config, start};
use reqwest::StatusCode;

#[tokio::test]
async fn https_polling_and_wss_on_one_port_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut c = config(&dir);
    c.tls = Some((cert, key));
    let server = start(c).await;
    assert!(server.url().starts_with("https://"));

    let ca_pem = std::fs::read(&ca).unwrap();
    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).unwrap())
        .build()
        .unwrap();
    let resp = trusted
        .get(format!("{}/healthz", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Socket.IO long-polling handshake over HTTPS.
    let open = trusted
        .get(format!(
            "{}/socket.io/?EIO=4&transport=polling",
            server.url()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(open.starts_with("0{"), "{open}");

    // Without the CA the certificate cannot be verified.
    let err = reqwest::Client::new()
        .get(format!("{}/healthz", server.url()))
        .send()
        .await
        .unwrap_err();
    let chain = format!("{:?}", err);
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("certificate"),
        "{chain}"
    );

    // WSS: a WebSocket upgrade through rustls with the CA trusted.
    assert_eq!(wss_upgrade_status(&server, &ca_pem).await, 101);
    // Plain HTTP on the TLS port gets nowhere.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", server.addr))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.map(|r| r.status() != StatusCode::OK).unwrap_or(true));
    server.stop().await.unwrap();
}

async fn wss_upgrade_status(server: &pulseboard_server::ServerHandle, ca_pem: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = common::tls_connect(server.addr, ca_pem).await.unwrap();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
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
async fn a_bad_key_file_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, _) = pulseboard_testkit::make_certs(dir.path());
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a key").unwrap();
    let mut c = config(&dir);
    c.tls = Some((cert, bad));
    let err = pulseboard_server::spawn(c).await.unwrap_err().to_string();
    assert!(err.contains("private key"), "{err}");
}

/// Over the connection cap a TLS port closes the connection without writing
/// anything (a plain-text 503 would reach a TLS client as a corrupt record);
/// a client under the cap is served.
#[tokio::test]
async fn over_the_cap_a_tls_port_closes_without_plain_text() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut c = config(&dir);
    c.tls = Some((cert, key));
    c.max_connections_per_addr = 1;
    let server = start(c).await;
    let held = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut extra = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(common::WAIT, extra.read_to_end(&mut got))
        .await
        .expect("closed in time")
        .ok();
    assert!(
        got.is_empty(),
        "wrote to a TLS client: {:?}",
        String::from_utf8_lossy(&got)
    );
    drop(held);
    let ca_pem = std::fs::read(&ca).unwrap();
    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).unwrap())
        .build()
        .unwrap();
    common::eventually("a slot for a TLS client", || {
        let (trusted, url) = (&trusted, server.url());
        async move {
            let r = trusted.get(format!("{url}/healthz")).send().await.ok()?;
            (r.status() == StatusCode::OK).then_some(())
        }
    })
    .await;
    server.stop().await.unwrap();
}

/// A connection to the TLS port that never sends its TLS hello, and one that
/// completes the TLS handshake but sends no request, are both closed by the
/// server after the header timeout.
#[tokio::test]
async fn silent_connections_to_the_tls_port_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut c = config(&dir);
    c.tls = Some((cert, key));
    c.header_timeout = Duration::from_secs(1);
    let server = start(c).await;

    let started = tokio::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(common::WAIT, silent.read_to_end(&mut buf))
        .await
        .expect("closed by the server")
        .ok();
    assert!(started.elapsed() < Duration::from_secs(10));

    let mut tls = common::tls_connect(server.addr, &std::fs::read(&ca).unwrap())
        .await
        .expect("TLS handshake");
    let started = tokio::time::Instant::now();
    tokio::time::timeout(common::WAIT, tls.read_to_end(&mut buf))
        .await
        .expect("closed by the server")
        .ok();
    assert!(started.elapsed() < Duration::from_secs(10));
    server.stop().await.unwrap();
}
