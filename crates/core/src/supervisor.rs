//! The connection supervisor: owns the whole Socket.IO lifecycle.
//!
//! rust_socketio 0.6 is used only as a transport. Its own reconnect is off;
//! this supervisor does what it lacks (see docs/ARCHITECTURE.md):
//! - retries the first connect and every later one with backoff + jitter;
//! - waits for the namespace `Connect` before the first emit;
//! - a liveness watchdog: after `heartbeat` of silence it sends a
//!   `notification:subscribe {afterSeq}` probe (which doubles as catch-up);
//!   no ack within `ack_timeout` means the link is dead;
//! - one ack in flight at a time (the library draws ack ids from 0..999 and
//!   mishandles collisions), with the timeout enforced here by tokio;
//! - on every connect: resubscribe, catch up, send the mark-read outbox;
//! - a wrong token ends in `Unauthorized`, not a retry loop.
//!
//! Socket callbacks only push into an unbounded channel tagged with the
//! connection's generation; everything else happens in one task.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use pulseboard_protocol::{
    decode, decode_ack, events, AckOk, Dashboard, MarkRead, MarkReadAck, Module, ModuleKpis,
    Notification, ProtocolError, ServerEvent, SnapshotAck,
};
use rust_socketio::asynchronous::{Client as SioClient, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use crate::backoff::Backoff;
use crate::store::{ConnectionState, Store, TransportKind};

/// Which transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportMode {
    /// WebSocket, falling back to long-polling when it cannot be established.
    #[default]
    Auto,
    /// WebSocket only.
    Websocket,
    /// HTTP long-polling only (for networks that block upgrades).
    Polling,
}

impl std::str::FromStr for TransportMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(TransportMode::Auto),
            "websocket" => Ok(TransportMode::Websocket),
            "polling" => Ok(TransportMode::Polling),
            o => Err(format!(
                "unknown transport `{o}`, expected auto, websocket or polling"
            )),
        }
    }
}

/// How to reach the server and how patient to be.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `http://127.0.0.1:4000`.
    pub server: String,
    /// Shared token, if the server wants one.
    pub token: Option<String>,
    /// Transport choice.
    pub transport: TransportMode,
    /// Modules to subscribe to.
    pub modules: Vec<Module>,
    /// Retry spacing.
    pub backoff: Backoff,
    /// Longest wait for a transport plus namespace join.
    pub connect_timeout: Duration,
    /// Longest wait for any ack.
    pub ack_timeout: Duration,
    /// Silence after which a liveness probe is sent.
    pub heartbeat: Duration,
}

impl ClientConfig {
    /// Defaults for a server URL.
    pub fn new(server: impl Into<String>) -> Self {
        ClientConfig {
            server: server.into(),
            token: None,
            transport: TransportMode::Auto,
            modules: Module::ALL.to_vec(),
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(10),
            heartbeat: Duration::from_secs(15),
        }
    }
}

/// What the app can ask of the supervisor.
#[derive(Debug, Clone)]
pub enum Command {
    /// Mark notifications read: applied locally at once, sent when possible.
    MarkRead(MarkRead),
    /// Start receiving a module's KPIs (kept across reconnects).
    Subscribe(Module),
    /// Stop receiving a module's KPIs.
    Unsubscribe(Module),
    /// Drop the current attempt or wait and connect now.
    Reconnect,
    /// Use another server or token, then reconnect.
    Configure {
        /// New base URL.
        server: String,
        /// New token.
        token: Option<String>,
    },
    /// Disconnect cleanly and stop.
    Shutdown,
}

/// A running client: the supervisor task plus its command channel.
pub struct Client {
    store: Store,
    cmd: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl Client {
    /// Start supervising a connection; updates land in `store`. Needs a tokio runtime.
    pub fn start(config: ClientConfig, store: Store) -> Client {
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let sup = Supervisor::new(config, store.clone(), cmd_rx);
        let task = tokio::spawn(sup.run());
        Client { store, cmd, task }
    }

    /// The store this client feeds.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Send a command (ignored once shut down).
    pub fn send(&self, c: Command) {
        let _ = self.cmd.send(c);
    }

    /// Mark notifications read (offline too: kept in the outbox).
    pub fn mark_read(&self, req: MarkRead) {
        self.send(Command::MarkRead(req));
    }

    /// Reconnect now.
    pub fn reconnect(&self) {
        self.send(Command::Reconnect);
    }

    /// A cheap handle for sending commands from elsewhere.
    pub fn commands(&self) -> mpsc::UnboundedSender<Command> {
        self.cmd.clone()
    }

    /// Disconnect cleanly and wait for the supervisor to end.
    pub async fn shutdown(self) {
        let _ = self.cmd.send(Command::Shutdown);
        let _ = self.task.await;
    }
}

/// What a socket callback saw.
#[derive(Debug)]
enum Raw {
    Connected,
    Event { name: String, payload: Payload },
    Ack { id: u64, payload: Payload },
    Error(String),
    Closed,
}

/// `Raw` tagged with the connection generation it belongs to.
type Tagged = (u64, Raw);

/// A request sent with an ack.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Module(Module),
    Unsubscribe(Module),
    Dashboard,
    Notifications { after_seq: u64 },
    MarkRead(MarkRead),
}

impl Req {
    fn wire(&self) -> (&'static str, Value) {
        match self {
            Req::Module(m) => (events::MODULE_SUBSCRIBE, json!({ "module": m })),
            Req::Unsubscribe(m) => (events::MODULE_UNSUBSCRIBE, json!({ "module": m })),
            Req::Dashboard => (events::DASHBOARD_SUBSCRIBE, json!({})),
            Req::Notifications { after_seq } => (
                events::NOTIFICATION_SUBSCRIBE,
                json!({ "afterSeq": after_seq }),
            ),
            Req::MarkRead(m) => (
                events::NOTIFICATION_MARK_READ,
                serde_json::to_value(m).unwrap_or(Value::Null),
            ),
        }
    }
}

struct InFlight {
    id: u64,
    req: Req,
    deadline: Instant,
}

/// Why a connection attempt failed.
enum AttemptError {
    Unauthorized(String),
    Failed(String),
    /// A command (reconnect, configure, shutdown) interrupted it.
    Interrupted(Command),
}

/// Why a live session ended.
enum SessionEnd {
    Lost(String),
    Command(Command),
}

struct Supervisor {
    config: ClientConfig,
    store: Store,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
    tx: mpsc::UnboundedSender<Tagged>,
    rx: mpsc::UnboundedReceiver<Tagged>,
    gen: u64,
    next_ack: u64,
}

fn first_value(p: Payload) -> Option<Value> {
    #[allow(deprecated)]
    match p {
        Payload::Text(mut v) => {
            if v.is_empty() {
                None
            } else {
                Some(v.swap_remove(0))
            }
        }
        Payload::String(s) => serde_json::from_str(&s).ok(),
        Payload::Binary(_) => None,
    }
}

fn payload_text(p: Payload) -> String {
    match first_value(p) {
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// An ack arrives as the argument list `[obj]`; unwrap it.
fn ack_value(p: Payload) -> Option<Value> {
    match first_value(p)? {
        Value::Array(mut a) if !a.is_empty() => Some(a.swap_remove(0)),
        v => Some(v),
    }
}

impl Supervisor {
    fn new(config: ClientConfig, store: Store, cmd_rx: mpsc::UnboundedReceiver<Command>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Supervisor {
            config,
            store,
            cmd_rx,
            tx,
            rx,
            gen: 0,
            next_ack: 0,
        }
    }

    fn set_state(&self, c: ConnectionState) {
        let name = c.name();
        let changed = self.store.update(|s| {
            let u = s.set_connection(c);
            (!u.is_empty(), u)
        });
        if changed {
            tracing::info!(state = name, server = %self.config.server, "connection");
        }
    }

    /// Commands that need no connection; returns the ones that end a wait.
    fn local_command(&mut self, c: Command) -> Option<Command> {
        match c {
            Command::MarkRead(m) => {
                self.store.apply(|s| s.mark_read_local(m));
                None
            }
            Command::Subscribe(m) => {
                self.set_module(m, true);
                None
            }
            Command::Unsubscribe(m) => {
                self.set_module(m, false);
                None
            }
            other => Some(other),
        }
    }

    /// Record whether `m` is wanted; true when that changed anything.
    fn set_module(&mut self, m: Module, on: bool) -> bool {
        let has = self.config.modules.contains(&m);
        match (has, on) {
            (false, true) => self.config.modules.push(m),
            (true, false) => self.config.modules.retain(|x| *x != m),
            _ => return false,
        }
        true
    }

    fn configure(&mut self, server: String, token: Option<String>) {
        self.config.server = server;
        self.config.token = token;
    }

    async fn run(mut self) {
        // Failed tries since the last live session (0: none yet).
        let mut attempt: u32 = 0;
        let mut offline_since = Utc::now();
        let mut delay: Option<Duration> = None;
        loop {
            if let Some(d) = delay.take() {
                match self.wait(d).await {
                    Some(Command::Shutdown) => return,
                    Some(Command::Configure { server, token }) => {
                        self.configure(server, token);
                        attempt = 0;
                    }
                    // Reconnect now: skip the rest of the wait.
                    Some(_) | None => {}
                }
            }
            if attempt == 0 {
                self.set_state(ConnectionState::Connecting {
                    server: self.config.server.clone(),
                });
            }
            match self.connect().await {
                Ok((client, transport)) => {
                    let end = self.session(&client, transport).await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), client.disconnect()).await;
                    self.gen += 1;
                    attempt = 0;
                    match end {
                        SessionEnd::Command(Command::Shutdown) => return,
                        SessionEnd::Command(Command::Configure { server, token }) => {
                            self.configure(server, token)
                        }
                        SessionEnd::Command(_) => {}
                        SessionEnd::Lost(reason) => {
                            tracing::info!("connection lost: {reason}");
                            offline_since = Utc::now();
                            attempt = 1;
                            delay = Some(self.schedule_retry(attempt, offline_since, reason));
                        }
                    }
                }
                Err(AttemptError::Unauthorized(message)) => {
                    tracing::warn!("server refused the token: {message}");
                    self.set_state(ConnectionState::Unauthorized { message });
                    // No retry loop: wait for the user to act.
                    match self.next_command().await {
                        Command::Shutdown => return,
                        Command::Configure { server, token } => self.configure(server, token),
                        _ => {}
                    }
                    attempt = 0;
                }
                Err(AttemptError::Interrupted(Command::Shutdown)) => return,
                Err(AttemptError::Interrupted(Command::Configure { server, token })) => {
                    self.configure(server, token);
                    attempt = 0;
                }
                Err(AttemptError::Interrupted(_)) => attempt = 0,
                Err(AttemptError::Failed(reason)) => {
                    tracing::debug!("connect attempt failed: {reason}");
                    if attempt == 0 {
                        offline_since = Utc::now();
                    }
                    attempt += 1;
                    delay = Some(self.schedule_retry(attempt, offline_since, reason));
                }
            }
        }
    }

    /// Publish Reconnecting / Offline for the wait before retry `attempt`;
    /// returns the (jittered) wait.
    fn schedule_retry(
        &self,
        attempt: u32,
        since: chrono::DateTime<Utc>,
        reason: String,
    ) -> Duration {
        let delay = self.config.backoff.delay(attempt, rand::random::<f64>());
        let next_retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let state = if self.config.backoff.is_offline(attempt) {
            ConnectionState::Offline {
                since,
                attempt,
                next_retry_at,
                reason,
            }
        } else {
            ConnectionState::Reconnecting {
                attempt,
                next_retry_at,
                reason,
            }
        };
        self.set_state(state);
        delay
    }

    /// Wait `d`, handling commands; returns a command that cut the wait short.
    async fn wait(&mut self, d: Duration) -> Option<Command> {
        let until = Instant::now() + d;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return None,
                c = self.cmd_rx.recv() => match c {
                    None => return Some(Command::Shutdown),
                    Some(c) => if let Some(c) = self.local_command(c) { return Some(c) },
                },
                // Stale socket traffic from dead generations is discarded.
                Some(_) = self.rx.recv() => {}
            }
        }
    }

    async fn connect(&mut self) -> Result<(SioClient, TransportKind), AttemptError> {
        match self.config.transport {
            TransportMode::Websocket => self.connect_with(TransportKind::Websocket).await,
            TransportMode::Polling => self.connect_with(TransportKind::Polling).await,
            TransportMode::Auto => match self.connect_with(TransportKind::Websocket).await {
                Err(AttemptError::Failed(ws)) => {
                    tracing::debug!("websocket failed ({ws}); trying long-polling");
                    self.connect_with(TransportKind::Polling)
                        .await
                        .map_err(|e| match e {
                            AttemptError::Failed(p) => {
                                AttemptError::Failed(format!("websocket: {ws}; polling: {p}"))
                            }
                            other => other,
                        })
                }
                other => other,
            },
        }
    }

    fn builder(&self, transport: TransportKind) -> ClientBuilder {
        let gen = self.gen;
        let tx = self.tx.clone();
        let on = move |raw: fn(Payload) -> Raw| {
            let tx = tx.clone();
            move |p: Payload, _c: SioClient| {
                let _ = tx.send((gen, raw(p)));
                async {}.boxed()
            }
        };
        let tx_any = self.tx.clone();
        ClientBuilder::new(self.config.server.clone())
            .auth(json!({
                "token": self.config.token.clone().unwrap_or_default(),
                "client": concat!("pulseboard/", env!("CARGO_PKG_VERSION")),
            }))
            .transport_type(match transport {
                TransportKind::Websocket => TransportType::Websocket,
                TransportKind::Polling => TransportType::Polling,
            })
            .reconnect(false)
            .reconnect_on_disconnect(false)
            .on(Event::Connect, on(|_| Raw::Connected))
            .on(Event::Close, on(|_| Raw::Closed))
            .on(Event::Error, on(|p| Raw::Error(payload_text(p))))
            .on_any(move |ev: Event, p: Payload, _c: SioClient| {
                let _ = tx_any.send((
                    gen,
                    Raw::Event {
                        name: ev.as_str().to_string(),
                        payload: p,
                    },
                ));
                async {}.boxed()
            })
    }

    /// One try: transport up, then wait for the namespace join.
    async fn connect_with(
        &mut self,
        transport: TransportKind,
    ) -> Result<(SioClient, TransportKind), AttemptError> {
        self.gen += 1;
        let gen = self.gen;
        let deadline = Instant::now() + self.config.connect_timeout;
        let builder = self.builder(transport);
        let client = tokio::select! {
            r = tokio::time::timeout_at(deadline, builder.connect()) => match r {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(AttemptError::Failed(e.to_string())),
                Err(_) => return Err(AttemptError::Failed("timed out connecting".into())),
            },
            c = self.next_command() => {
                return Err(AttemptError::Interrupted(c));
            }
        };
        let fail = |client: SioClient, e: AttemptError| async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), client.disconnect()).await;
            Err(e)
        };
        loop {
            tokio::select! {
                _ = sleep_until(deadline) => {
                    return fail(client, AttemptError::Failed("timed out joining the namespace".into())).await;
                }
                c = self.cmd_rx.recv() => {
                    let c = match c {
                        None => Some(Command::Shutdown),
                        Some(c) => self.local_command(c),
                    };
                    if let Some(c) = c {
                        return fail(client, AttemptError::Interrupted(c)).await;
                    }
                }
                m = self.rx.recv() => match m {
                    Some((g, raw)) if g == gen => match raw {
                        Raw::Connected => return Ok((client, transport)),
                        Raw::Closed => return fail(client, AttemptError::Failed("server closed the connection".into())).await,
                        Raw::Error(e) if e.contains("ConnectError") => {
                            let e = if e.contains(events::UNAUTHORIZED) {
                                AttemptError::Unauthorized(events::UNAUTHORIZED.into())
                            } else {
                                AttemptError::Failed(e)
                            };
                            return fail(client, e).await;
                        }
                        Raw::Error(e) => tracing::debug!("error while joining: {e}"),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
    }

    /// Next command that needs the supervisor (mark-reads are handled inline).
    async fn next_command(&mut self) -> Command {
        loop {
            match self.cmd_rx.recv().await {
                None => return Command::Shutdown,
                Some(c) => {
                    if let Some(c) = self.local_command(c) {
                        return c;
                    }
                }
            }
        }
    }

    /// Live session: subscribe, catch up, flush the outbox, then serve.
    async fn session(&mut self, client: &SioClient, transport: TransportKind) -> SessionEnd {
        let gen = self.gen;
        self.store.apply(|s| {
            s.counters.connects += 1;
            Vec::new()
        });
        let mut pending: VecDeque<Req> = self
            .config
            .modules
            .iter()
            .map(|m| Req::Module(*m))
            .collect();
        pending.push_back(Req::Dashboard);
        // Catch up first: that also joins the notifications room, so the
        // `notification:read` echo of the outbox below reaches us too.
        pending.push_back(Req::Notifications {
            after_seq: self.store.read(|s| s.last_seq),
        });
        for m in self.store.read(|s| s.outbox.clone()) {
            pending.push_back(Req::MarkRead(m));
        }
        let mut inflight: Option<InFlight> = None;
        let mut live = false;
        let mut last_rx = Instant::now();
        loop {
            if inflight.is_none() {
                if let Some(req) = pending.pop_front() {
                    match self.send_req(client, gen, req).await {
                        Ok(f) => inflight = Some(f),
                        Err(e) => return SessionEnd::Lost(e),
                    }
                } else if !live {
                    live = true;
                    self.set_state(ConnectionState::Live {
                        since: Utc::now(),
                        transport,
                    });
                }
            }
            let probe_at = last_rx + self.config.heartbeat;
            let ack_deadline = inflight.as_ref().map(|f| f.deadline);
            tokio::select! {
                m = self.rx.recv() => {
                    let Some((g, raw)) = m else { return SessionEnd::Lost("channel closed".into()) };
                    if g != gen { continue; }
                    last_rx = Instant::now();
                    match raw {
                        Raw::Event { name, payload } => self.on_event(&name, payload),
                        Raw::Ack { id, payload } => {
                            if inflight.as_ref().is_some_and(|f| f.id == id) {
                                let f = inflight.take().expect("checked above");
                                if let Some(next) = self.on_ack(f.req, payload) {
                                    pending.push_front(next);
                                }
                            }
                        }
                        Raw::Closed => return SessionEnd::Lost("server closed the connection".into()),
                        Raw::Error(e) => {
                            tracing::debug!("socket error: {e}");
                            // Maybe dead: probe now rather than at the next heartbeat.
                            if inflight.is_none() && pending.is_empty() {
                                pending.push_back(Req::Notifications { after_seq: self.store.read(|s| s.last_seq) });
                            }
                        }
                        Raw::Connected => {}
                    }
                }
                c = self.cmd_rx.recv() => match c {
                    None => return SessionEnd::Command(Command::Shutdown),
                    Some(Command::MarkRead(m)) => {
                        self.store.apply(|s| s.mark_read_local(m.clone()));
                        pending.push_back(Req::MarkRead(m));
                    }
                    Some(Command::Subscribe(m)) => {
                        if self.set_module(m, true) {
                            pending.push_back(Req::Module(m));
                        }
                    }
                    Some(Command::Unsubscribe(m)) => {
                        if self.set_module(m, false) {
                            pending.push_back(Req::Unsubscribe(m));
                        }
                    }
                    Some(c) => return SessionEnd::Command(c),
                },
                _ = sleep_until(ack_deadline.unwrap_or(probe_at)), if ack_deadline.is_some() => {
                    return SessionEnd::Lost("no answer from the server (ack timed out)".into());
                }
                _ = sleep_until(probe_at), if inflight.is_none() && pending.is_empty() => {
                    pending.push_back(Req::Notifications { after_seq: self.store.read(|s| s.last_seq) });
                    // Count the probe's own wait from now.
                    last_rx = Instant::now();
                }
            }
        }
    }

    async fn send_req(
        &mut self,
        client: &SioClient,
        gen: u64,
        req: Req,
    ) -> Result<InFlight, String> {
        self.next_ack += 1;
        let id = self.next_ack;
        let (event, payload) = req.wire();
        let tx = self.tx.clone();
        let cb = move |p: Payload, _c: SioClient| {
            let _ = tx.send((gen, Raw::Ack { id, payload: p }));
            async {}.boxed()
        };
        // The library only drops late acks; the real timeout is ours.
        let lib_timeout = self.config.ack_timeout * 2;
        client
            .emit_with_ack(event, Payload::Text(vec![payload]), lib_timeout, cb)
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        Ok(InFlight {
            id,
            req,
            deadline: Instant::now() + self.config.ack_timeout,
        })
    }

    fn drop_event(&self, what: &str, e: &ProtocolError) {
        tracing::debug!("dropped {what}: {e}");
        self.store.apply(|s| {
            s.counters.dropped_events += 1;
            Vec::new()
        });
    }

    fn on_event(&self, name: &str, payload: Payload) {
        let Some(v) = first_value(payload) else {
            self.drop_event(name, &ProtocolError::Malformed("no JSON payload".into()));
            return;
        };
        match ServerEvent::decode(name, v) {
            Ok(ev) => self.store.apply(|s| s.apply(ev, Utc::now())),
            Err(e) => self.drop_event(name, &e),
        }
    }

    fn bad_ack(&self, req: &Req, e: &ProtocolError) {
        tracing::warn!("{:?}: {e}", req);
        self.store.apply(|s| {
            s.counters.bad_acks += 1;
            Vec::new()
        });
    }

    /// Apply an ack; may return a follow-up request (more catch-up).
    fn on_ack(&self, req: Req, payload: Payload) -> Option<Req> {
        let v = ack_value(payload).unwrap_or(Value::Null);
        let now = Utc::now();
        match &req {
            Req::Module(m) => match decode_ack::<SnapshotAck<ModuleKpis>>(v) {
                Ok(a) if a.snapshot.module == *m => {
                    self.store.apply(|s| s.apply_kpis(a.snapshot, now));
                }
                Ok(_) => self.bad_ack(
                    &req,
                    &ProtocolError::Invalid("snapshot of another module".into()),
                ),
                Err(e) => self.bad_ack(&req, &e),
            },
            Req::Unsubscribe(_) => {
                if let Err(e) = decode_ack::<AckOk>(v) {
                    self.bad_ack(&req, &e);
                }
            }
            Req::Dashboard => match decode_ack::<SnapshotAck<Dashboard>>(v) {
                Ok(a) => self.store.apply(|s| s.apply_dashboard(a.snapshot, now)),
                Err(e) => self.bad_ack(&req, &e),
            },
            Req::MarkRead(m) => {
                let r = decode_ack::<MarkReadAck>(v);
                self.store.apply(|s| {
                    // Refused requests are not retried: they would be refused again.
                    s.outbox_acked(m);
                    match &r {
                        Ok(a) => s.set_unread_count(a.unread_count),
                        Err(_) => Vec::new(),
                    }
                });
                if let Err(e) = r {
                    self.bad_ack(&req, &e);
                }
            }
            Req::Notifications { .. } => return self.on_catch_up(&req, v, now),
        }
        None
    }

    fn on_catch_up(&self, req: &Req, v: Value, now: chrono::DateTime<Utc>) -> Option<Req> {
        if v.get("ok") != Some(&Value::Bool(true)) {
            let e = decode_ack::<MarkReadAck>(v)
                .err()
                .unwrap_or(ProtocolError::Malformed("bad ack".into()));
            self.bad_ack(req, &e);
            return None;
        }
        let list = match v.get("notifications") {
            Some(Value::Array(a)) => a.clone(),
            _ => {
                self.bad_ack(
                    req,
                    &ProtocolError::Malformed("`notifications` is not an array".into()),
                );
                return None;
            }
        };
        let full = list.len() >= pulseboard_protocol::limits::MAX_CATCH_UP;
        for item in list {
            match decode::<Notification>(item) {
                Ok(n) => self.store.apply(|s| s.apply_notification(n, now)),
                Err(e) => self.drop_event(events::NOTIFICATION_NEW, &e),
            }
        }
        if let Some(c) = v.get("unreadCount").and_then(Value::as_u64) {
            self.store.apply(|s| s.set_unread_count(c));
        }
        full.then(|| Req::Notifications {
            after_seq: self.store.read(|s| s.last_seq),
        })
    }
}
