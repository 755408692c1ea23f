//! The nginx configuration of docs/deploy/nginx.conf, run for real: TLS at
//! nginx, HTTPS, long-polling and WebSocket through it, the Origin check
//! still applied, and `--trusted-proxy` making the per-address rate limit
//! see each client instead of nginx. Needs nginx (scripts/deps-test.sh
//! installs Debian's nginx-light).

mod common;

use std::{net::IpAddr, path::Path};

use common::{config, eventually, repo_root, start, start_nginx};
use reqwest::{Client, StatusCode};

/// nginx running the documented config in front of `upstream`; killed on drop.
struct Nginx {
    _child: tokio::process::Child,
    port: u16,
}

impl Nginx {
    async fn start(dir: &Path, upstream: std::net::SocketAddr, cert: &Path, key: &Path) -> Nginx {
        let port = pulseboard_testkit::free_port();
        let site = std::fs::read_to_string(repo_root().join("docs/deploy/nginx.conf")).unwrap();
        let site = site
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
            .replace("http://127.0.0.1:4000", &format!("http://{upstream}"))
            .replace("/etc/ssl/pulseboard/fullchain.pem", cert.to_str().unwrap())
            .replace("/etc/ssl/pulseboard/privkey.pem", key.to_str().unwrap());
        let child = start_nginx(dir, &site);
        let n = Nginx {
            _child: child,
            port,
        };
        let url = n.url();
        eventually("nginx to listen", || {
            let url = url.clone();
            async move {
                tokio::net::TcpStream::connect(url.trim_start_matches("https://"))
                    .await
                    .ok()
                    .map(drop)
            }
        })
        .await;
        n
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

fn client(ca: &Path, from: Option<IpAddr>) -> Client {
    let pem = std::fs::read(ca).unwrap();
    let mut b =
        Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    if let Some(ip) = from {
        b = b.local_address(ip);
    }
    b.build().unwrap()
}

async fn wss_open_packet(port: u16, ca: &Path) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = common::tls_connect(("127.0.0.1", port), &std::fs::read(ca).unwrap())
        .await
        .unwrap();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost:{port}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    // Read the 101 head and the first WebSocket frame (the Engine.IO open packet).
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(common::WAIT, async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if text.contains("\r\n\r\n") && text.contains("\"sid\"") {
                break;
            }
        }
    })
    .await
    .expect("101 and the open packet through nginx");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_nginx_config_proxies_https_polling_and_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut c = config(&dir);
    // Open server: only the per-address limit applies, not the per-token one.
    c.rate_limit = 3;
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = start(c).await;
    let nginx = Nginx::start(dir.path(), server.addr, &cert, &key).await;
    let url = nginx.url();
    let http = client(&ca, None);

    let resp = http.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let open = http
        .get(format!("{url}/socket.io/?EIO=4&transport=polling"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(open.starts_with("0{"), "polling through nginx: {open}");
    let resp = http
        .get(format!("{url}/socket.io/?EIO=4&transport=polling"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "Origin reaches the server"
    );

    let head = wss_open_packet(nginx.port, &ca).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");

    // Per-address limit sees each client through the trusted proxy: a
    // burst from 127.0.0.2 is limited, 127.0.0.3 is not.
    let a = client(&ca, Some("127.0.0.2".parse().unwrap()));
    let mut limited = false;
    for _ in 0..10 {
        let s = a
            .get(format!("{url}/api/snapshot"))
            .send()
            .await
            .unwrap()
            .status();
        limited |= s == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "client .2 limited");
    let b = client(&ca, Some("127.0.0.3".parse().unwrap()));
    let s = b
        .get(format!("{url}/api/snapshot"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, StatusCode::OK, "client .3 has its own budget");
    drop(nginx);
    server.stop().await.unwrap();
}
