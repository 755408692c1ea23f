//! Shared test helpers: a real server on 127.0.0.1:0 with a temp database, a
//! TCP proxy that can cut or black-hole the link, update waiters, and the
//! reconnect-and-catch-up scenario over any [`TestServer`].
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pulseboard_core::{
    Backoff, Client, ClientConfig, ClientState, ConnectionState, Store, TransportMode, Update,
};
use pulseboard_server::{Config, ServerHandle};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

/// Generous upper bound for anything a test awaits; a hang fails, not blocks.
pub const WAIT: Duration = Duration::from_secs(15);

pub async fn server(db: &Path, token: Option<&str>) -> ServerHandle {
    let mut c = Config::new(db);
    c.simulator = false;
    c.token = token.map(str::to_string);
    // Tests post bursts "as fast as the API takes them"; the server's rate
    // limits are tested on their own (crates/server/tests/limits.rs).
    c.rate_limit = 1_000_000;
    pulseboard_server::spawn(c).await.expect("server starts")
}

/// A client tuned for tests: quick retries, quick liveness checks.
pub fn config(url: &str, transport: TransportMode, token: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new(url);
    c.transport = transport;
    c.token = token.map(str::to_string);
    c.backoff = Backoff {
        initial: Duration::from_millis(100),
        cap: Duration::from_millis(400),
        ..Backoff::default()
    };
    c.connect_timeout = Duration::from_secs(3);
    c.ack_timeout = Duration::from_secs(2);
    c.heartbeat = Duration::from_secs(1);
    c
}

pub struct Running {
    pub client: Client,
    pub store: Store,
    pub rx: broadcast::Receiver<Update>,
}

pub fn start(config: ClientConfig) -> Running {
    let store = Store::new(ClientState::empty(&config.server));
    let rx = store.subscribe();
    let client = Client::start(config, store.clone());
    Running { client, store, rx }
}

/// Wait for the first update matching `pred`; panics with `what` on timeout.
pub async fn until<T>(
    rx: &mut broadcast::Receiver<Update>,
    what: &str,
    mut pred: impl FnMut(&Update) -> Option<T>,
) -> T {
    // The last updates seen, so a timeout says what happened instead.
    let mut seen = std::collections::VecDeque::new();
    let fut = async {
        loop {
            match rx.recv().await {
                Ok(u) => {
                    if let Some(t) = pred(&u) {
                        return t;
                    }
                    let line: String = format!("{u:?}").chars().take(200).collect();
                    if seen.len() == 20 {
                        seen.pop_front();
                    }
                    seen.push_back(line);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("update stream ended: {e}"),
            }
        }
    };
    match tokio::time::timeout(WAIT, fut).await {
        Ok(t) => t,
        Err(_) => panic!("timed out waiting for {what}; the last updates: {seen:#?}"),
    }
}

/// Wait until `cond` holds, for state changes that publish no update;
/// panics with `what` after [`WAIT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn until_state(rx: &mut broadcast::Receiver<Update>, name: &str) -> ConnectionState {
    until(rx, &format!("state {name}"), |u| match u {
        Update::Connection(c) if c.name() == name => Some(c.clone()),
        _ => None,
    })
    .await
}

pub async fn until_event(rx: &mut broadcast::Receiver<Update>, name: &str) -> Value {
    until(rx, &format!("event {name}"), |u| match u {
        Update::Event(e) if e.name() == name => Some(e.payload()),
        _ => None,
    })
    .await
}

/// Titles of the notifications that arrive until the client is Live again.
pub async fn titles_until_live(rx: &mut broadcast::Receiver<Update>) -> Vec<String> {
    let mut seen = vec![];
    until(rx, "live again with catch-up", |u| {
        if let Update::Event(e) = u {
            if e.name() == "notification:new" {
                seen.push(
                    e.payload()["title"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
        matches!(u, Update::Connection(ConnectionState::Live { .. })).then_some(())
    })
    .await;
    seen
}

// ---------------------------------------------------------------- HTTP

pub struct Http {
    pub base: String,
    pub token: Option<String>,
    client: reqwest::Client,
}

impl Http {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        Http {
            base: base.to_string(),
            token: token.map(str::to_string),
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("http request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.send(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(s, 201, "POST {path}: {v}");
        v
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.send(reqwest::Method::PUT, path, Some(body)).await;
        assert_eq!(s, 200, "PUT {path}: {v}");
        v
    }

    pub async fn snapshot(&self) -> Value {
        self.send(reqwest::Method::GET, "/api/snapshot", None)
            .await
            .1
    }

    pub async fn notify(&self, title: &str) -> Value {
        self.post(
            "/api/notifications",
            serde_json::json!({"title": title, "body": "b", "severity": "info"}),
        )
        .await
    }
}

// ---------------------------------------------------------------- proxy

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pass bytes both ways.
    Forward,
    /// Close every connection; accept new ones and close them at once.
    Refuse,
    /// Keep connections open but pass nothing: a silent drop.
    Blackhole,
}

/// A TCP proxy in front of the server, so tests can break the network.
pub struct Proxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    target: watch::Sender<SocketAddr>,
    accepted: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, mode_rx) = watch::channel(Mode::Forward);
        let (target, target_rx) = watch::channel(target);
        let accepted = Arc::new(AtomicUsize::new(0));
        let acc = accepted.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                acc.fetch_add(1, Ordering::SeqCst);
                let mode_rx = mode_rx.clone();
                let to = *target_rx.borrow();
                tokio::spawn(pipe(inbound, to, mode_rx));
            }
        });
        Proxy {
            addr,
            mode,
            target,
            accepted,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, m: Mode) {
        self.mode.send_replace(m);
    }

    pub fn retarget(&self, to: SocketAddr) {
        self.target.send_replace(to);
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn pipe(mut inbound: TcpStream, to: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let start = *mode.borrow_and_update();
    match start {
        Mode::Refuse => return,
        Mode::Blackhole => {
            // Hold until the mode changes, passing nothing.
            let _ = mode.changed().await;
            return;
        }
        Mode::Forward => {}
    }
    let Ok(mut outbound) = TcpStream::connect(to).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = mode.changed() => {
            if *mode.borrow() == Mode::Blackhole {
                // Freeze: keep both sockets open, pass nothing.
                let _ = mode.changed().await;
            }
        }
    }
}

// ---------------------------------------------------------------- catch-up

/// A server the reconnect-and-catch-up scenario runs against: our own
/// pulseboard-server in-process ([`RustServer`]) or the Node reference
/// server (`interop_node.rs`). No token.
#[allow(async_fn_in_trait)]
pub trait TestServer: Sized {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
    /// Post a notification titled `title` through the server's own way in;
    /// returns it as stored (with its `seq`).
    async fn notify(&self, title: &str) -> Value;
    /// Go away and come back as a new server on the same storage (on
    /// another port).
    async fn restart(self) -> Self;
    /// Stop for good.
    async fn stop(self);
}

/// pulseboard-server in-process on a temp database.
pub struct RustServer {
    handle: ServerHandle,
    db: PathBuf,
    _dir: tempfile::TempDir,
}

impl RustServer {
    pub async fn start() -> RustServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        RustServer {
            handle: server(&db, None).await,
            db,
            _dir: dir,
        }
    }
}

impl TestServer for RustServer {
    fn addr(&self) -> SocketAddr {
        self.handle.addr
    }

    async fn notify(&self, title: &str) -> Value {
        Http::new(&self.handle.url(), None).notify(title).await
    }

    /// A graceful stop, then a new server on the same database.
    async fn restart(self) -> Self {
        self.handle.stop().await.unwrap();
        RustServer {
            handle: server(&self.db, None).await,
            ..self
        }
    }

    async fn stop(self) {
        self.handle.stop().await.unwrap();
    }
}

/// The link drops and the server restarts on the same storage, getting
/// notifications while the client cannot reach it. Once the link is back the
/// client catches up each missed notification once, in order, and goes on
/// live with the next `seq`: no gap, no duplicate.
pub async fn restart_catches_up_each_missed_notification_once(
    srv: impl TestServer,
    transport: TransportMode,
) {
    let proxy = Proxy::start(srv.addr()).await;
    let mut c = start(config(&proxy.url(), transport, None));
    until_state(&mut c.rx, "live").await;
    srv.notify("one").await;
    until_event(&mut c.rx, "notification:new").await;

    proxy.set(Mode::Refuse);
    until_state(&mut c.rx, "reconnecting").await;
    let srv = srv.restart().await;
    for t in ["two", "three", "four"] {
        srv.notify(t).await;
    }
    proxy.retarget(srv.addr());
    proxy.set(Mode::Forward);

    let seen = titles_until_live(&mut c.rx).await;
    assert_eq!(
        seen,
        vec!["two", "three", "four"],
        "each missed notification once, in order"
    );
    // Live again: a new one arrives as an event, with the next seq.
    let five = srv.notify("five").await;
    assert_eq!(five["seq"], 5, "seq continues across the restart");
    let n = until_event(&mut c.rx, "notification:new").await;
    assert_eq!(n["title"], "five");
    let seqs: Vec<u64> = c
        .store
        .read(|s| s.notifications.iter().map(|n| n.seq).collect());
    assert_eq!(seqs, vec![1, 2, 3, 4, 5], "no gap, no duplicate");
    assert_eq!(c.store.read(|s| s.unread_count), 5);
    c.client.shutdown().await;
    srv.stop().await;
}

/// The notifications `store` shows, oldest first: (title, read).
pub fn shown(store: &Store) -> Vec<(String, bool)> {
    store.read(|s| {
        s.notifications
            .iter()
            .map(|n| (n.title.clone(), n.read))
            .collect()
    })
}
