//! Helpers shared by the server integration tests (edge, long-polling, nginx).
#![allow(dead_code)]

use std::{collections::VecDeque, future::Future, time::Duration};

use pulseboard_server::{spawn, Config, ServerHandle};
use reqwest::Client;
use serde_json::{json, Value};

/// The longest any condition in these tests is waited for.
pub const WAIT: Duration = Duration::from_secs(20);

/// A config on a fresh database in `dir`, simulator off.
pub fn config(dir: &tempfile::TempDir) -> Config {
    let mut c = Config::new(dir.path().join("data/server.db"));
    c.simulator = false;
    c
}

pub async fn start(c: Config) -> ServerHandle {
    spawn(c).await.expect("server starts")
}

pub fn auth(token: &str) -> Option<Value> {
    Some(json!({"token": token, "client": "pulseboard/test"}))
}

/// Poll `check` until it returns Some, or panic after [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of a metric line `name value` in a Prometheus text answer.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(' ')?;
            (n == name).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("metric {name} missing in:\n{text}"))
}

pub async fn metrics(server: &ServerHandle) -> String {
    reqwest::get(format!("{}/metrics", server.url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// One Socket.IO connection over long-polling.
pub struct Polling {
    http: Client,
    url: String,
    queue: VecDeque<String>,
    next_ack: u64,
}

impl Polling {
    /// Engine.IO handshake, then a Socket.IO connect with `auth`.
    pub async fn open(server: &ServerHandle, auth: Option<Value>) -> Polling {
        Polling::open_from(server, auth, None).await
    }

    /// [`Polling::open`] from the local address `from` (any 127.x.y.z on
    /// Linux loopback), so one test can be several client addresses.
    pub async fn open_from(
        server: &ServerHandle,
        auth: Option<Value>,
        from: Option<std::net::IpAddr>,
    ) -> Polling {
        let http = Client::builder()
            .local_address(from)
            .build()
            .expect("http client");
        let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
        let open = http
            .get(&base)
            .send()
            .await
            .expect("handshake")
            .text()
            .await
            .expect("text");
        let body = open.strip_prefix('0').expect("engine.io open packet");
        let hs: Value = serde_json::from_str(body).expect("handshake JSON");
        let sid = hs["sid"].as_str().expect("sid");
        let p = Polling {
            http,
            url: format!("{base}&sid={sid}"),
            queue: VecDeque::new(),
            next_ack: 1,
        };
        match auth {
            Some(a) => p.send(&format!("40{a}")).await,
            None => p.send("40").await,
        }
        p
    }

    pub async fn send(&self, packet: &str) {
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(packet.to_owned())
            .send()
            .await
            .expect("post");
        assert!(resp.status().is_success(), "post status {}", resp.status());
    }

    /// Next Socket.IO packet (engine pings are answered and skipped).
    pub async fn next(&mut self) -> String {
        loop {
            if let Some(p) = self.queue.pop_front() {
                if p == "2" {
                    self.send("3").await;
                    continue;
                }
                return p;
            }
            let body = tokio::time::timeout(Duration::from_secs(10), async {
                self.http
                    .get(&self.url)
                    .send()
                    .await
                    .expect("poll")
                    .text()
                    .await
                    .expect("text")
            })
            .await
            .expect("packet within 10 s");
            self.queue.extend(body.split('\u{1e}').map(str::to_owned));
        }
    }

    /// Skip packets until an event named `name` arrives; returns its payload.
    pub async fn event(&mut self, name: &str) -> Value {
        loop {
            let p = self.next().await;
            if let Some(body) = p.strip_prefix("42") {
                let v: Value = serde_json::from_str(body).expect("event JSON");
                if v[0] == json!(name) {
                    return v[1].clone();
                }
            }
        }
    }

    /// Emit `event` with an ack and wait for the ack's single argument.
    pub async fn call(&mut self, event: &str, data: Option<Value>) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        let args = match data {
            Some(d) => json!([event, d]),
            None => json!([event]),
        };
        self.send(&format!("42{id}{args}")).await;
        let prefix = format!("43{id}");
        loop {
            let p = self.next().await;
            if let Some(body) = p.strip_prefix(&prefix) {
                let v: Value = serde_json::from_str(body).expect("ack JSON");
                return v[0].clone();
            }
        }
    }

    /// Wait for the Socket.IO connect answer: `Ok(())` or the error message.
    pub async fn connected(&mut self) -> Result<(), String> {
        loop {
            let p = self.next().await;
            if p.starts_with("40") {
                return Ok(());
            }
            if let Some(body) = p.strip_prefix("44") {
                let v: Value = serde_json::from_str(body).expect("error JSON");
                return Err(v["message"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
}

/// The repository root (docs/deploy/ holds the configs the nginx tests run).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nginx_binary() -> std::path::PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("nginx not found: run scripts/deps-test.sh (installs nginx-light)");
}

/// Start Debian's nginx in `dir` (pid, logs and temp files there, no
/// daemon) serving `site` (a `server { ... }` config); killed on drop.
pub fn start_nginx(dir: &std::path::Path, site: &str) -> tokio::process::Child {
    std::fs::write(dir.join("pulseboard.conf"), site).unwrap();
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let t = tmp.display();
    let d = dir.display();
    let main = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {t};\n proxy_temp_path {t};\n\
         fastcgi_temp_path {t};\n uwsgi_temp_path {t};\n scgi_temp_path {t};\n\
         include {d}/pulseboard.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    tokio::process::Command::new(nginx_binary())
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx starts")
}

/// A TLS connection to `addr` for the name `localhost`, trusting only the
/// certificate authority `ca_pem` (a PEM made by `pulseboard_testkit`).
pub async fn tls_connect(
    addr: impl tokio::net::ToSocketAddrs,
    ca_pem: &[u8],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
    use tokio_rustls::rustls::{self, crypto::ring, RootCertStore};
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem).expect("a PEM certificate"))
        .expect("a CA certificate");
    let cfg =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(ServerName::try_from("localhost").expect("a name"), tcp)
        .await
}

/// The server binary listening on 127.0.0.1:0 with its database in `dir`,
/// no token taken from the environment, stdout piped: add flags, then
/// [`listening`].
pub fn server_command(dir: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pulseboard-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join("server.db"))
        .env_remove("PULSEBOARD_TOKEN")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Start `cmd` (see [`server_command`]) and wait for its first line,
/// `listening on URL`: the child and its base URL.
pub async fn listening(cmd: &mut tokio::process::Command) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = cmd.spawn().expect("the server binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a listening line in time")
        .expect("stdout readable")
        .expect("the server exited before it listened");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {line}"))
        .to_string();
    (child, url)
}
