//! The connection supervisor: owns the whole Socket.IO lifecycle.
//!
//! One task, one loop, one input type: every socket event (from the
//! rust_socketio adapter in `transport.rs`), every command and every timer
//! arrives as an [`Input`] and is handled by one function each
//! (`on_socket`, `on_command`, `on_timer`). What it does that the library
//! does not (see docs/ARCHITECTURE.md):
//! - retries the first connect and every later one with backoff + jitter;
//! - waits for the namespace `Connect` and the server's `connection:status`
//!   (its `serverId`) before the first emit;
//! - notices a transport that ended (engine.io close, dead TCP) at once, and
//!   a silent one with a liveness probe after `heartbeat` of silence;
//! - one ack in flight at a time (the library draws ack ids from 0..999 and
//!   mishandles collisions), with the timeout enforced here by tokio; a lost
//!   ack is resent a bounded number of times, then the link counts as dead;
//! - on every connect: resubscribe, catch up (sending the ids shown as
//!   unread, applying which are read now), send the mark-read outbox;
//! - a new `serverId` drops the old store's cursor, notifications and outbox;
//! - a seq gap in the live stream triggers a catch-up at once; catch-up
//!   paging is bounded;
//! - a wrong token ends in `Unauthorized`, not a retry loop.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pulseboard_protocol::{
    decode, decode_ack, events, limits, AckOk, AuthPayload, Dashboard, DashboardSubscribe,
    MarkRead, MarkReadAck, Module, ModuleKpis, ModuleRequest, Notification, NotificationRead,
    NotificationSubscribe, ProtocolError, ServerEvent, SnapshotAck,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use crate::backoff::Backoff;
use crate::store::{ConnectionState, DataSource, Store, TransportKind};
use crate::transport::{self, Link, Raw, Tagged};

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
    /// Base URL, e.g. `http://127.0.0.1:4000`: the preferred server.
    pub server: String,
    /// More URLs of the same service, tried in order when `server` does not
    /// answer (failover). Every round of tries starts again at `server`.
    pub fallback_servers: Vec<String>,
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
    /// Longest wait for an ack, per try (a request is sent at most
    /// [`MAX_TRIES`] times before the link counts as dead).
    pub ack_timeout: Duration,
    /// Silence after which a liveness probe is sent: no event, ack or
    /// engine.io ping from the server for this long.
    pub heartbeat: Duration,
    /// PEM file of a private certificate authority trusted for `https://`
    /// servers in addition to the system roots.
    pub ca: Option<std::path::PathBuf>,
    /// Folder of the caches of other servers (one per `serverId`, see
    /// [`crate::cache::archive_server_state`]); None: a state of another
    /// store is dropped when the client meets a new one.
    pub server_caches: Option<std::path::PathBuf>,
}

impl ClientConfig {
    /// Defaults for a server URL.
    pub fn new(server: impl Into<String>) -> Self {
        ClientConfig {
            server: server.into(),
            fallback_servers: Vec::new(),
            token: None,
            transport: TransportMode::Auto,
            modules: Module::ALL.to_vec(),
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(5),
            heartbeat: Duration::from_secs(15),
            ca: None,
            server_caches: None,
        }
    }
}

impl ClientConfig {
    /// Defaults for a list of server URLs, preferred first (at least one).
    pub fn with_servers(servers: &[String]) -> Self {
        let mut c = ClientConfig::new(servers.first().cloned().unwrap_or_default());
        c.fallback_servers = servers.iter().skip(1).cloned().collect();
        c
    }

    /// Every server URL, preferred first.
    pub fn servers(&self) -> Vec<String> {
        std::iter::once(self.server.clone())
            .chain(self.fallback_servers.iter().cloned())
            .collect()
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
    /// Use another server (the only one: fallbacks are dropped) or token,
    /// then reconnect.
    Configure {
        /// New base URL.
        server: String,
        /// New token.
        token: Option<String>,
    },
    /// Trust this private certificate authority (PEM file; None: system
    /// roots only), then reconnect.
    SetCa(Option<std::path::PathBuf>),
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

/// Times one request is sent on one connection before the link counts as
/// dead (an event the server dropped is resent, never waited on for ever).
pub const MAX_TRIES: u32 = 2;

/// Catch-up pages asked for in a row; a server that keeps answering full
/// pages cannot keep the client from going Live.
pub const MAX_CATCH_UP_PAGES: u32 = 100;

/// Everything the supervisor reacts to.
#[derive(Debug)]
enum Input {
    /// Something the transport saw, tagged with its connection generation.
    Socket(u64, Raw),
    /// Something the app asked for.
    Command(Command),
    /// The earliest deadline of the current phase passed.
    Timer,
}

/// A request sent with an ack.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Module(Module),
    Unsubscribe(Module),
    Dashboard,
    /// `notification:subscribe`: from `after` (None: the cursor when sent),
    /// with the ids shown as unread when `unread`; `page` counts the pages
    /// of one catch-up.
    Notifications {
        after: Option<u64>,
        unread: bool,
        page: u32,
    },
    MarkRead(MarkRead),
}

impl Req {
    fn catch_up(after: Option<u64>) -> Req {
        Req::Notifications {
            after,
            unread: false,
            page: 0,
        }
    }
}

struct InFlight {
    /// Ack ids of every try (a late ack of an earlier try counts too).
    ids: Vec<u64>,
    req: Req,
    /// The wire event and payload, for a resend.
    event: &'static str,
    payload: Value,
    /// For a catch-up: the `afterSeq` it was sent with.
    after_seq: u64,
    tries: u32,
    deadline: Instant,
}

/// Why a connection attempt failed.
enum AttemptError {
    /// The server refused the token (`unauthorized`, `forbidden`).
    Refused(String),
    /// The server's certificate could not be verified.
    Certificate(String),
    Failed(String),
}

/// A transport being opened and the namespace joined.
struct Opening {
    kind: TransportKind,
    link: Option<Link>,
    joined: bool,
    /// `connection:status` arrived: the server's identity is known before
    /// anything is asked of it (a late status would let the catch-up and
    /// the mark-read outbox of one store reach another).
    status: bool,
    deadline: Instant,
    /// In `Auto` mode: why WebSocket failed before this polling try.
    ws_error: Option<String>,
}

/// A joined connection: subscribing and catching up, then live.
struct Session {
    link: Link,
    pending: VecDeque<Req>,
    inflight: Option<InFlight>,
    live: bool,
    last_rx: Instant,
    /// Demo values were shown when it started: publish the whole state on
    /// Live, so copies drop every demo value.
    reset_on_live: bool,
}

enum Phase {
    /// Waiting until `at` to retry, or for the user (`None`: refused).
    Waiting {
        at: Option<Instant>,
    },
    Opening(Opening),
    Live(Session),
}

enum Flow {
    Continue,
    Stop,
}

struct Supervisor {
    config: ClientConfig,
    store: Store,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
    tx: mpsc::UnboundedSender<Tagged>,
    rx: mpsc::UnboundedReceiver<Tagged>,
    /// Generation of the current attempt; traffic of older ones is stale.
    generation: u64,
    next_ack: u64,
    phase: Phase,
    /// Failed tries since the last live session (0: none yet).
    attempt: u32,
    offline_since: DateTime<Utc>,
    /// Index in `config.servers()` of the server being tried or used.
    server_index: usize,
    /// Servers still to try in this round before waiting.
    round_left: usize,
    /// TLS settings made from `config.ca` (Err: the CA file is unusable).
    tls: Result<Option<native_tls::TlsConnector>, String>,
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
            generation: 0,
            next_ack: 0,
            phase: Phase::Waiting { at: None },
            attempt: 0,
            offline_since: Utc::now(),
            server_index: 0,
            round_left: 0,
            tls: Ok(None),
        }
    }

    fn load_tls(&mut self) {
        self.tls = match &self.config.ca {
            Some(ca) => transport::tls_connector(ca).map(Some),
            None => Ok(None),
        };
    }

    /// The URL being tried or used.
    fn current_server(&self) -> String {
        self.config
            .servers()
            .get(self.server_index)
            .cloned()
            .unwrap_or_else(|| self.config.server.clone())
    }

    async fn run(mut self) {
        self.load_tls();
        self.begin_attempt();
        loop {
            let input = self.next_input().await;
            let flow = match input {
                Input::Command(c) => self.on_command(c).await,
                Input::Socket(generation, raw) => {
                    self.on_socket(generation, raw);
                    Flow::Continue
                }
                Input::Timer => {
                    self.on_timer();
                    Flow::Continue
                }
            };
            if let Flow::Stop = flow {
                return;
            }
            self.pump().await;
        }
    }

    /// The one place that waits.
    async fn next_input(&mut self) -> Input {
        let deadline = self.deadline();
        tokio::select! {
            c = self.cmd_rx.recv() => Input::Command(c.unwrap_or(Command::Shutdown)),
            Some((generation, raw)) = self.rx.recv() => Input::Socket(generation, raw),
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => Input::Timer,
        }
    }

    /// The earliest deadline of the current phase.
    fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Waiting { at } => *at,
            Phase::Opening(o) => Some(o.deadline),
            Phase::Live(s) => match &s.inflight {
                Some(f) => Some(f.deadline),
                None if s.pending.is_empty() => Some(s.last_rx + self.config.heartbeat),
                None => None,
            },
        }
    }

    /// Publish the whole state (see [`crate::store::Update::Reset`]).
    fn publish_reset(&self) {
        self.store
            .apply(|s| vec![crate::store::Update::Reset(Box::new(s.clone()))]);
    }

    fn set_state(&self, c: ConnectionState) {
        let name = c.name();
        let changed = self.store.update(|s| {
            let u = s.set_connection(c);
            (!u.is_empty(), u)
        });
        if changed {
            tracing::info!(state = name, server = %self.current_server(), "connection");
        }
    }

    // ------------------------------------------------------------ commands

    /// The one command handler, whatever the phase.
    async fn on_command(&mut self, c: Command) -> Flow {
        match c {
            Command::MarkRead(m) => {
                self.store.apply(|s| s.mark_read_local(m.clone()));
                if let Phase::Live(s) = &mut self.phase {
                    s.pending.push_back(Req::MarkRead(m));
                }
            }
            Command::Subscribe(m) => {
                if self.set_module(m, true) {
                    if let Phase::Live(s) = &mut self.phase {
                        s.pending.push_back(Req::Module(m));
                    }
                }
            }
            Command::Unsubscribe(m) => {
                if self.set_module(m, false) {
                    if let Phase::Live(s) = &mut self.phase {
                        s.pending.push_back(Req::Unsubscribe(m));
                    }
                }
            }
            Command::Reconnect => {
                // A fixed CA file is picked up too.
                self.load_tls();
                self.drop_connection().await;
                self.attempt = 0;
                self.begin_attempt();
            }
            Command::Configure { server, token } => {
                self.config.server = server;
                self.config.fallback_servers.clear();
                self.config.token = token;
                self.load_tls();
                self.drop_connection().await;
                self.attempt = 0;
                self.begin_attempt();
            }
            Command::SetCa(ca) => {
                self.config.ca = ca;
                self.load_tls();
                self.drop_connection().await;
                self.attempt = 0;
                self.begin_attempt();
            }
            Command::Shutdown => {
                self.drop_connection().await;
                return Flow::Stop;
            }
        }
        Flow::Continue
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

    /// Disconnect whatever is open (bounded wait) and forget it.
    async fn drop_connection(&mut self) {
        self.generation += 1;
        match std::mem::replace(&mut self.phase, Phase::Waiting { at: None }) {
            Phase::Live(s) => s.link.close().await,
            Phase::Opening(Opening {
                link: Some(link), ..
            }) => link.close().await,
            _ => {}
        }
    }

    // ------------------------------------------------------------ attempts

    /// A round of tries: every server in order, the preferred one first.
    fn begin_attempt(&mut self) {
        if let Err(message) = &self.tls {
            tracing::warn!("{message}");
            self.set_state(ConnectionState::Certificate {
                message: message.clone(),
            });
            self.phase = Phase::Waiting { at: None };
            return;
        }
        self.server_index = 0;
        self.round_left = self.config.servers().len();
        self.try_server();
    }

    fn try_server(&mut self) {
        if self.attempt == 0 {
            self.set_state(ConnectionState::Connecting {
                server: self.current_server(),
            });
        }
        let kind = match self.config.transport {
            TransportMode::Polling => TransportKind::Polling,
            TransportMode::Websocket | TransportMode::Auto => TransportKind::Websocket,
        };
        self.open(kind, None);
    }

    fn open(&mut self, kind: TransportKind, ws_error: Option<String>) {
        self.generation += 1;
        let auth = AuthPayload {
            token: self.config.token.clone().unwrap_or_default(),
            client: concat!("pulseboard/", env!("CARGO_PKG_VERSION")).to_string(),
        };
        let tls = self.tls.clone().ok().flatten();
        transport::open(
            self.current_server(),
            auth,
            kind,
            tls,
            self.config.connect_timeout,
            self.generation,
            self.tx.clone(),
        );
        self.phase = Phase::Opening(Opening {
            kind,
            link: None,
            joined: false,
            status: false,
            deadline: Instant::now() + self.config.connect_timeout,
            ws_error,
        });
    }

    fn attempt_failed(&mut self, e: AttemptError) {
        let Phase::Opening(o) = std::mem::replace(&mut self.phase, Phase::Waiting { at: None })
        else {
            return;
        };
        if let Some(link) = o.link {
            link.close_in_background();
        }
        self.generation += 1;
        let reason = match e {
            AttemptError::Refused(message) => {
                tracing::warn!("server refused the token: {message}");
                self.set_state(ConnectionState::Unauthorized { message });
                // No retry loop: wait for the user to act.
                return;
            }
            AttemptError::Certificate(message) => {
                tracing::warn!("{message}");
                self.set_state(ConnectionState::Certificate { message });
                // Retrying cannot help until the settings change.
                return;
            }
            AttemptError::Failed(reason) => reason,
        };
        if self.config.transport == TransportMode::Auto && o.kind == TransportKind::Websocket {
            tracing::debug!("websocket failed ({reason}); trying long-polling");
            self.open(TransportKind::Polling, Some(reason));
            return;
        }
        let reason = match o.ws_error {
            Some(ws) => format!("websocket: {ws}; polling: {reason}"),
            None => reason,
        };
        tracing::debug!("connect attempt failed: {reason}");
        self.round_left = self.round_left.saturating_sub(1);
        if self.round_left > 0 {
            // Fail over to the next server at once.
            self.server_index += 1;
            tracing::info!(server = %self.current_server(), "trying the next server");
            self.try_server();
            return;
        }
        if self.attempt == 0 {
            self.offline_since = Utc::now();
        }
        self.attempt += 1;
        let delay = self.schedule_retry(reason);
        self.phase = Phase::Waiting {
            at: Some(Instant::now() + delay),
        };
    }

    fn session_lost(&mut self, reason: String) {
        if let Phase::Live(s) = std::mem::replace(&mut self.phase, Phase::Waiting { at: None }) {
            s.link.close_in_background();
        }
        self.generation += 1;
        tracing::info!("connection lost: {reason}");
        self.offline_since = Utc::now();
        self.attempt = 1;
        let delay = self.schedule_retry(reason);
        self.phase = Phase::Waiting {
            at: Some(Instant::now() + delay),
        };
    }

    /// Publish Reconnecting / Offline for the wait before retry
    /// `self.attempt`; returns the (jittered) wait.
    fn schedule_retry(&self, reason: String) -> Duration {
        let attempt = self.attempt;
        let delay = self.config.backoff.delay(attempt, rand::random::<f64>());
        let next_retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let state = if self.config.backoff.is_offline(attempt) {
            ConnectionState::Offline {
                since: self.offline_since,
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

    // ------------------------------------------------------------ socket

    fn on_socket(&mut self, generation: u64, raw: Raw) {
        if generation != self.generation {
            // Stale traffic of a dead generation; a late link is closed.
            if let Raw::Opened(Ok(link)) = raw {
                link.close_in_background();
            }
            return;
        }
        // The server is heard from (an event, an ack or an engine.io ping):
        // no liveness probe is needed before `heartbeat` from now.
        if let (Raw::Event { .. } | Raw::Ack { .. } | Raw::Ping, Phase::Live(s)) =
            (&raw, &mut self.phase)
        {
            s.last_rx = Instant::now();
        }
        match raw {
            Raw::Event { name, payload } => {
                self.on_event(&name, payload);
                return;
            }
            Raw::Ping => return,
            Raw::Ack { id, payload } => {
                let Phase::Live(s) = &mut self.phase else {
                    return;
                };
                if !s.inflight.as_ref().is_some_and(|f| f.ids.contains(&id)) {
                    return;
                }
                let f = s.inflight.take().expect("checked above");
                if let Some(next) = self.on_ack(&f, payload) {
                    if let Phase::Live(s) = &mut self.phase {
                        s.pending.push_front(next);
                    }
                }
                return;
            }
            _ => {}
        }
        match &mut self.phase {
            Phase::Opening(o) => match raw {
                Raw::Opened(Ok(link)) => {
                    o.link = Some(link);
                    self.maybe_start_session();
                }
                Raw::Opened(Err(e)) if transport::is_certificate_error(&e) => {
                    self.attempt_failed(AttemptError::Certificate(format!(
                        "the server's certificate could not be verified: {e}"
                    )))
                }
                Raw::Opened(Err(e)) => self.attempt_failed(AttemptError::Failed(e)),
                Raw::Connected => {
                    o.joined = true;
                    // The status comes right after the join; a server that
                    // sends none is waited for one ack timeout, not more.
                    o.deadline = o.deadline.min(Instant::now() + self.config.ack_timeout);
                    self.maybe_start_session();
                }
                Raw::Closed => {
                    self.attempt_failed(AttemptError::Failed("server closed the connection".into()))
                }
                Raw::Error(e) if e.contains("ConnectError") => {
                    let e = if e.contains(events::UNAUTHORIZED) {
                        AttemptError::Refused(events::UNAUTHORIZED.into())
                    } else if e.contains(events::FORBIDDEN) {
                        AttemptError::Refused(events::FORBIDDEN.into())
                    } else {
                        AttemptError::Failed(e)
                    };
                    self.attempt_failed(e);
                }
                Raw::Error(e) => tracing::debug!("error while joining: {e}"),
                Raw::Event { .. } | Raw::Ack { .. } | Raw::Ping => {}
            },
            Phase::Live(s) => match raw {
                Raw::Closed => self.session_lost("server closed the connection".into()),
                Raw::Error(e) => {
                    tracing::debug!("socket error: {e}");
                    // Maybe dead: probe now rather than at the next heartbeat.
                    if s.inflight.is_none() && s.pending.is_empty() {
                        s.pending.push_back(Req::catch_up(None));
                    }
                }
                Raw::Opened(Ok(link)) => link.close_in_background(),
                _ => {}
            },
            Phase::Waiting { .. } => {
                if let Raw::Opened(Ok(link)) = raw {
                    link.close_in_background();
                }
            }
        }
    }

    fn maybe_start_session(&mut self) {
        let ready =
            matches!(&self.phase, Phase::Opening(o) if o.joined && o.status && o.link.is_some());
        if !ready {
            return;
        }
        let Phase::Opening(o) = std::mem::replace(&mut self.phase, Phase::Waiting { at: None })
        else {
            return;
        };
        let link = o.link.expect("checked above");
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
            after: None,
            unread: true,
            page: 0,
        });
        for m in self.store.read(|s| s.outbox.clone()) {
            pending.push_back(Req::MarkRead(m));
        }
        self.attempt = 0;
        let reset_on_live = self.store.read(|s| {
            s.source == DataSource::Demo || s.dashboard_demo || s.modules.values().any(|v| v.demo)
        });
        self.phase = Phase::Live(Session {
            link,
            pending,
            inflight: None,
            live: false,
            last_rx: Instant::now(),
            reset_on_live,
        });
    }

    // ------------------------------------------------------------ timers

    fn on_timer(&mut self) {
        let now = Instant::now();
        match &mut self.phase {
            Phase::Waiting { at: Some(at) } if *at <= now => self.begin_attempt(),
            Phase::Waiting { .. } => {}
            Phase::Opening(o) if o.deadline <= now && o.joined && o.link.is_some() => {
                tracing::warn!(
                    "the server sent no connection:status; going on without its serverId"
                );
                o.status = true;
                self.maybe_start_session();
            }
            Phase::Opening(o) if o.deadline <= now => {
                let what = if o.link.is_some() {
                    "timed out joining the namespace"
                } else {
                    "timed out connecting"
                };
                self.attempt_failed(AttemptError::Failed(what.into()));
            }
            Phase::Opening(_) => {}
            Phase::Live(s) => match &mut s.inflight {
                Some(f) if f.deadline <= now => {
                    if f.tries >= MAX_TRIES {
                        self.session_lost("no answer from the server (ack timed out)".into());
                    } else {
                        // Resent by `pump`, with a new ack id.
                        tracing::debug!("no ack for {:?}; resending", f.req);
                        f.tries += 1;
                        f.deadline = now;
                    }
                }
                Some(_) => {}
                None => {
                    if s.pending.is_empty() && s.last_rx + self.config.heartbeat <= now {
                        s.pending.push_back(Req::catch_up(None));
                        // Count the probe's own wait from now.
                        s.last_rx = now;
                    }
                }
            },
        }
    }

    // ------------------------------------------------------------ requests

    /// Send what is due: a resend, or the next request; go Live when all is
    /// answered.
    async fn pump(&mut self) {
        let Phase::Live(s) = &mut self.phase else {
            return;
        };
        let now = Instant::now();
        if let Some(f) = &mut s.inflight {
            if f.deadline > now {
                return;
            }
            // A resend (see `on_timer`).
            self.next_ack += 1;
            let id = self.next_ack;
            f.ids.push(id);
            f.deadline = now + self.config.ack_timeout;
            let r = s
                .link
                .emit_with_ack(f.event, f.payload.clone(), id, self.config.ack_timeout * 2)
                .await;
            if let Err(e) = r {
                self.session_lost(e);
            }
            return;
        }
        let Some(req) = s.pending.pop_front() else {
            if !s.live {
                s.live = true;
                let transport = s.link.kind;
                let reset = s.reset_on_live;
                self.set_state(ConnectionState::Live {
                    since: Utc::now(),
                    transport,
                });
                if reset {
                    self.publish_reset();
                }
            }
            return;
        };
        let (event, payload, after_seq) = self.wire(&req);
        self.next_ack += 1;
        let id = self.next_ack;
        let Phase::Live(s) = &mut self.phase else {
            return;
        };
        let r = s
            .link
            .emit_with_ack(event, payload.clone(), id, self.config.ack_timeout * 2)
            .await;
        if let Err(e) = r {
            self.session_lost(e);
            return;
        }
        s.inflight = Some(InFlight {
            ids: vec![id],
            req,
            event,
            payload,
            after_seq,
            tries: 1,
            deadline: Instant::now() + self.config.ack_timeout,
        });
    }

    /// The wire form of a request, built from the protocol's types.
    fn wire(&self, req: &Req) -> (&'static str, Value, u64) {
        fn json<T: serde::Serialize>(t: &T) -> Value {
            serde_json::to_value(t).unwrap_or(Value::Null)
        }
        match req {
            Req::Module(m) => (
                events::MODULE_SUBSCRIBE,
                json(&ModuleRequest { module: *m }),
                0,
            ),
            Req::Unsubscribe(m) => (
                events::MODULE_UNSUBSCRIBE,
                json(&ModuleRequest { module: *m }),
                0,
            ),
            Req::Dashboard => (events::DASHBOARD_SUBSCRIBE, json(&DashboardSubscribe {}), 0),
            Req::Notifications { after, unread, .. } => {
                let (after_seq, ids) = self.store.read(|s| {
                    let ids = if *unread {
                        s.unread_ids(limits::MAX_UNREAD_IDS)
                    } else {
                        Vec::new()
                    };
                    (after.unwrap_or(s.last_seq), ids)
                });
                let sub = NotificationSubscribe {
                    after_seq: Some(after_seq),
                    unread: (!ids.is_empty()).then_some(ids),
                };
                (events::NOTIFICATION_SUBSCRIBE, json(&sub), after_seq)
            }
            Req::MarkRead(m) => (events::NOTIFICATION_MARK_READ, json(m), 0),
        }
    }

    // ------------------------------------------------------------ server data

    fn drop_event(&self, what: &str, e: &ProtocolError) {
        tracing::debug!("dropped {what}: {e}");
        self.store.apply(|s| {
            s.counters.dropped_events += 1;
            Vec::new()
        });
    }

    fn on_event(&mut self, name: &str, payload: Option<Value>) {
        let Some(v) = payload else {
            self.drop_event(name, &ProtocolError::Malformed("no JSON payload".into()));
            return;
        };
        let ev = match ServerEvent::decode(name, v) {
            Ok(ev) => ev,
            Err(e) => return self.drop_event(name, &e),
        };
        let now = Utc::now();
        match ev {
            // The live stream of one connection is in the server's order.
            ServerEvent::KpiUpdate(k) => self.store.apply(|s| s.apply_kpis_in_order(k, now)),
            ServerEvent::DashboardUpdate(d) => {
                self.store.apply(|s| s.apply_dashboard_in_order(d, now))
            }
            ServerEvent::ConnectionStatus(cs) => {
                if let Some(id) = &cs.server_id {
                    self.meet_server_id(id);
                }
                self.store
                    .apply(|s| s.apply(ServerEvent::ConnectionStatus(cs), now));
                if let Phase::Opening(o) = &mut self.phase {
                    o.status = true;
                    self.maybe_start_session();
                }
            }
            ServerEvent::NotificationNew(n) => {
                let last = self.store.read(|s| s.last_seq);
                if n.seq > last + 1 {
                    // A gap: what came in between is asked for at once.
                    if let Phase::Live(s) = &mut self.phase {
                        let covered = s.pending.iter().any(|r| {
                            matches!(r, Req::Notifications { after: Some(a), .. } if *a <= last)
                        });
                        if !covered {
                            tracing::debug!("seq {} after {last}: catching up", n.seq);
                            s.pending.push_front(Req::catch_up(Some(last)));
                        }
                    }
                }
                self.store
                    .apply(|s| s.apply(ServerEvent::NotificationNew(n), now));
            }
            other => self.store.apply(|s| s.apply(other, now)),
        }
    }

    /// The server says which store it serves. Another one than the state's:
    /// keep the state of the old store in its own cache, then show the new
    /// store's own cache if one was kept (its cursor, notifications and
    /// queued mark-reads) or nothing of it; catch up from that cursor.
    fn meet_server_id(&mut self, id: &str) {
        let old = self.store.read(|s| match &s.server_id {
            Some(cur) if cur != id => Some(s.clone()),
            _ => None,
        });
        let restored = match (&old, &self.config.server_caches) {
            (Some(old), Some(dir)) => {
                if let Err(e) = crate::cache::archive_server_state(dir, old) {
                    tracing::warn!("could not keep the cache of the old server: {e}");
                }
                crate::cache::take_server_state(dir, id, &self.current_server())
            }
            _ => None,
        };
        let other_store = self.store.update(|s| {
            let (other, out) = s.adopt_server_id(id);
            if let (true, Some(mut kept)) = (other, restored) {
                kept.connection = s.connection.clone();
                kept.counters = s.counters.clone();
                *s = kept;
            }
            (other, out)
        });
        if !other_store {
            return;
        }
        self.publish_reset();
        tracing::info!(
            "server {id} is another store: its own cursor, notifications and outbox are used"
        );
        if let Phase::Live(s) = &mut self.phase {
            // Queued mark-reads and catch-ups were about the other store.
            s.pending
                .retain(|r| !matches!(r, Req::MarkRead(_) | Req::Notifications { .. }));
            s.pending.push_front(Req::Notifications {
                after: None,
                unread: true,
                page: 0,
            });
            for m in self.store.read(|s| s.outbox.clone()) {
                s.pending.push_back(Req::MarkRead(m));
            }
        }
    }

    fn bad_ack(&self, req: &Req, e: &ProtocolError) {
        tracing::warn!("{:?}: {e}", req);
        self.store.apply(|s| {
            s.counters.bad_acks += 1;
            Vec::new()
        });
    }

    /// Apply an ack; may return a follow-up request (the next catch-up page).
    fn on_ack(&mut self, f: &InFlight, payload: Option<Value>) -> Option<Req> {
        let v = payload.unwrap_or(Value::Null);
        let now = Utc::now();
        let req = &f.req;
        match req {
            Req::Module(m) => match decode_ack::<SnapshotAck<ModuleKpis>>(v) {
                // A snapshot answers this connection's subscribe: it replaces
                // what is shown, whatever its time.
                Ok(a) if a.snapshot.module == *m => {
                    self.store.apply(|s| s.apply_kpis_in_order(a.snapshot, now));
                }
                Ok(_) => self.bad_ack(
                    req,
                    &ProtocolError::Invalid("snapshot of another module".into()),
                ),
                Err(e) => self.bad_ack(req, &e),
            },
            Req::Unsubscribe(_) => {
                if let Err(e) = decode_ack::<AckOk>(v) {
                    self.bad_ack(req, &e);
                }
            }
            Req::Dashboard => match decode_ack::<SnapshotAck<Dashboard>>(v) {
                Ok(a) => self
                    .store
                    .apply(|s| s.apply_dashboard_in_order(a.snapshot, now)),
                Err(e) => self.bad_ack(req, &e),
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
                    self.bad_ack(req, &e);
                }
            }
            Req::Notifications { page, .. } => {
                return self.on_catch_up(req, f.after_seq, *page, v, now)
            }
        }
        None
    }

    fn on_catch_up(
        &mut self,
        req: &Req,
        after_seq: u64,
        page: u32,
        v: Value,
        now: DateTime<Utc>,
    ) -> Option<Req> {
        if v.get("ok") != Some(&Value::Bool(true)) {
            let e = decode_ack::<MarkReadAck>(v)
                .err()
                .unwrap_or(ProtocolError::Malformed("bad ack".into()));
            self.bad_ack(req, &e);
            return None;
        }
        let mut list = match v.get("notifications") {
            Some(Value::Array(a)) => a.clone(),
            _ => {
                self.bad_ack(
                    req,
                    &ProtocolError::Malformed("`notifications` is not an array".into()),
                );
                return None;
            }
        };
        if list.len() > limits::MAX_CATCH_UP {
            // The page size is capped: the rest comes with the next page.
            self.bad_ack(
                req,
                &ProtocolError::Invalid(format!(
                    "catch-up page of {} notifications, the limit is {}",
                    list.len(),
                    limits::MAX_CATCH_UP
                )),
            );
            list.truncate(limits::MAX_CATCH_UP);
        }
        if let Some(last) = v.get("lastSeq").and_then(Value::as_u64) {
            if last < after_seq && self.store.update(|s| (s.rolled_back_to(last), Vec::new())) {
                // Restored from a backup: the seqs above `last` come again.
                tracing::warn!("the server's store went back from seq {after_seq} to {last}");
                self.publish_reset();
                if let Phase::Live(s) = &mut self.phase {
                    // Queued mark-reads as the outbox now has them.
                    s.pending.retain(|r| !matches!(r, Req::MarkRead(_)));
                    for m in self.store.read(|s| s.outbox.clone()) {
                        s.pending.push_back(Req::MarkRead(m));
                    }
                }
            }
        }
        let full = list.len() >= limits::MAX_CATCH_UP;
        let mut page_max = after_seq;
        for item in list {
            match decode::<Notification>(item) {
                Ok(n) => {
                    page_max = page_max.max(n.seq);
                    self.store.apply(|s| s.apply_notification(n, now));
                }
                Err(e) => self.drop_event(events::NOTIFICATION_NEW, &e),
            }
        }
        let count = v.get("unreadCount").and_then(Value::as_u64);
        // Read elsewhere while this client was away: applied like the live event.
        let read: Vec<String> = match v.get("read") {
            Some(Value::Array(ids)) => ids
                .iter()
                .filter_map(|x| x.as_str())
                .filter(|x| !x.is_empty() && x.len() <= limits::MAX_ID)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        if !read.is_empty() {
            let unread_count = count.unwrap_or_else(|| self.store.read(|s| s.unread_count));
            self.store.apply(|s| {
                s.apply_read(
                    NotificationRead {
                        ids: read,
                        unread_count,
                    },
                    now,
                )
            });
        }
        if let Some(c) = count {
            self.store.apply(|s| s.set_unread_count(c));
        }
        if v.get("truncated") == Some(&Value::Bool(true)) {
            self.store.apply(|s| {
                s.notifications_expired = true;
                Vec::new()
            });
        }
        if !full {
            return None;
        }
        if page_max <= after_seq {
            // A page that does not move the cursor forward would be asked
            // for again and again: stop here.
            self.bad_ack(
                req,
                &ProtocolError::Invalid(format!(
                    "catch-up page after seq {after_seq} did not move forward"
                )),
            );
            return None;
        }
        if page + 1 >= MAX_CATCH_UP_PAGES {
            tracing::warn!("catch-up stopped after {MAX_CATCH_UP_PAGES} pages");
            return None;
        }
        Some(Req::Notifications {
            after: Some(page_max),
            unread: false,
            page: page + 1,
        })
    }
}
