//! The Pulseboard server: Socket.IO (WebSocket and long-polling) and a small
//! HTTP API on one port, notifications stored in SQLite, and a KPI simulator.
//!
//! The wire contract lives in `pulseboard-protocol`; this crate implements it.
//! Everything that changes state (put KPIs, put dashboard, add a notification,
//! raise an alert, mark read) goes through one method of the shared app state,
//! whether it is called by an HTTP handler, a socket handler or the simulator.

#![warn(missing_docs)]

mod auth;
mod cluster;
pub mod config_file;
mod guard;
mod http;
mod metrics;
mod net;
mod simulator;
mod socket;
pub mod storage;
mod tls;

pub use auth::{name_token, parse_token_file, read_token_file, TokenFile};

use std::{
    collections::BTreeMap,
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use chrono::Utc;
use pulseboard_protocol::{
    decode, events, limits, Alert, Dashboard, Kpi, MarkRead, Module, ModuleKpis, NewAlert,
    NewNotification, Notification, NotificationRead, Snapshot,
};
use socketioxide::{adapter::Adapter, SocketIo};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use auth::Viewer;
pub use storage::StorageError;
use storage::{MarkReadOutcome, Retention, Storage};

/// Retention runs at least this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// After an insert, retention waits this long to gather a burst.
const PRUNE_GATHER: Duration = Duration::from_millis(200);

/// Version reported in `connection:status`.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Packets buffered per socket by default (socketioxide's own default is 128,
/// which a burst of notifications to a long-polling client can fill). Memory
/// bound: about 4096 x the event size per socket that stops reading (a
/// notification is well under 10 KiB), until the Engine.IO heartbeat or the
/// overflow disconnect closes it.
pub const DEFAULT_SOCKET_BUFFER: usize = 4096;

/// How long connections get to finish after shutdown was requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Server configuration. The listen address is given by the caller's listener.
///
/// Every limit has a default that a real backend does not hit; see
/// SECURITY.md for what each one protects.
#[derive(Clone)]
pub struct Config {
    /// Full-rights token (`--token`), viewer `default`. With no token of any
    /// kind configured the server is open.
    pub token: Option<String>,
    /// `(NAME, TOKEN)` of each `--view-token NAME=TOKEN`: Socket.IO and
    /// `GET /api/snapshot`, read state per NAME.
    pub view_tokens: Vec<(String, String)>,
    /// `(NAME, TOKEN)` of each `--publish-token NAME=TOKEN`: the HTTP write API only.
    pub publish_tokens: Vec<(String, String)>,
    /// SQLite database file (its parent directory is created).
    pub db_path: PathBuf,
    /// Run the built-in demo simulator (`--simulate`; off by default).
    pub simulator: bool,
    /// Let the simulator run on a store that real data went into
    /// (`--simulate-on-real-data`). Without it the simulator does not start on
    /// such a store and stops at the first real write.
    pub simulate_on_real_data: bool,
    /// Simulator period for module KPIs (contract: 5 s).
    pub kpi_interval: Duration,
    /// Simulator period for the dashboard (contract: 10 s).
    pub dashboard_interval: Duration,
    /// Keep at most this many notifications (`--retain-count`).
    pub retain_count: Option<u64>,
    /// Keep notifications at most this many days (`--retain-days`).
    pub retain_days: Option<u64>,
    /// Browser origins allowed (`--allow-origin`); a request with any other
    /// `Origin` header gets 403. Empty: no browser origin is allowed.
    pub allow_origins: Vec<String>,
    /// HTTP API requests per second per address and per token before 429.
    pub rate_limit: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client address for
    /// the per-address rate limit and the logs (`--trusted-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Socket.IO events per second per connection before `rate limited`.
    pub event_rate_limit: u32,
    /// Socket.IO events per second per token and per client address, over
    /// all their connections, before `rate limited`.
    pub shared_event_rate_limit: u32,
    /// Open TCP connections at most, all addresses together.
    pub max_connections: usize,
    /// Open TCP connections at most from one IP address.
    pub max_connections_per_addr: usize,
    /// Time a client gets to send a request's headers; also how long an idle
    /// keep-alive connection stays open, and the TLS handshake deadline.
    pub header_timeout: Duration,
    /// Longest an HTTP API request (body included) may take (408 after).
    pub request_timeout: Duration,
    /// Life of an Engine.IO session that has not joined the namespace (not
    /// authenticated) yet.
    pub handshake_timeout: Duration,
    /// PEM certificate chain and private key: serve HTTPS and WSS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Packets buffered per socket before an emit to it fails; a socket whose
    /// buffer is full is disconnected (it reconnects and catches up by
    /// `afterSeq`). Default [`DEFAULT_SOCKET_BUFFER`].
    pub socket_buffer: usize,
    /// Redis URL of a cluster (`--redis`): live events reach the sockets of
    /// every node sharing it (and the PostgreSQL store).
    pub redis: Option<String>,
    /// Unit tests: the connect handler waits this long before it sends
    /// `connection:status`, as a busy server's spawned handler task may.
    #[cfg(test)]
    pub(crate) status_delay: Option<Duration>,
}

impl Config {
    /// Defaults: no token, simulator off, 5 s KPI and 10 s dashboard
    /// periods, the default limits.
    pub fn new(db_path: impl Into<PathBuf>) -> Config {
        Config {
            token: None,
            view_tokens: Vec::new(),
            publish_tokens: Vec::new(),
            db_path: db_path.into(),
            simulator: false,
            simulate_on_real_data: false,
            kpi_interval: Duration::from_millis(5000),
            dashboard_interval: Duration::from_millis(10_000),
            retain_count: None,
            retain_days: None,
            socket_buffer: DEFAULT_SOCKET_BUFFER,
            allow_origins: Vec::new(),
            rate_limit: 200,
            trusted_proxies: Vec::new(),
            event_rate_limit: 50,
            shared_event_rate_limit: 1000,
            max_connections: 10_000,
            max_connections_per_addr: 100,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            tls: None,
            redis: None,
            #[cfg(test)]
            status_delay: None,
        }
    }

    /// Whether any token is configured (the server is not open).
    pub fn has_tokens(&self) -> bool {
        self.token.as_deref().is_some_and(|t| !t.is_empty())
            || !self.view_tokens.is_empty()
            || !self.publish_tokens.is_empty()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names =
            |v: &Vec<(String, String)>| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        f.debug_struct("Config")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("view_tokens", &names(&self.view_tokens))
            .field("publish_tokens", &names(&self.publish_tokens))
            .field("db_path", &self.db_path)
            .field("simulator", &self.simulator)
            .field("simulate_on_real_data", &self.simulate_on_real_data)
            .field("kpi_interval", &self.kpi_interval)
            .field("dashboard_interval", &self.dashboard_interval)
            .field("retain_count", &self.retain_count)
            .field("retain_days", &self.retain_days)
            .field("socket_buffer", &self.socket_buffer)
            .field("allow_origins", &self.allow_origins)
            .field("rate_limit", &self.rate_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("event_rate_limit", &self.event_rate_limit)
            .field("shared_event_rate_limit", &self.shared_event_rate_limit)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_addr", &self.max_connections_per_addr)
            .field("header_timeout", &self.header_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("tls", &self.tls)
            .field("redis", &self.redis.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// The server's edge policy, shared by the auth, limit and metrics code.
pub(crate) struct Edge {
    pub(crate) tokens: auth::Tokens,
    pub(crate) refusals: auth::RefusalLog,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) http_limits: guard::HttpLimits,
    pub(crate) event_rate: u32,
    pub(crate) allow_origins: Vec<String>,
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,
    pub(crate) db_path: PathBuf,
    /// Real (non-simulated) data went into this store.
    pub(crate) real_data: AtomicBool,
    /// Held by a simulator tick and by the first real write, so the simulator
    /// never writes after real data arrived.
    pub(crate) sim_gate: tokio::sync::Mutex<()>,
    pub(crate) simulate_on_real_data: bool,
}

/// Key of the "real data went into this store" marker.
const KV_REAL_DATA: &str = "real_data";

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or used.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The configuration is not usable (tokens, TLS files).
    #[error("configuration: {0}")]
    Config(String),
    /// Binding or serving failed.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
}

/// The latest KPIs and dashboard, in memory (what a subscriber is sent
/// first). Not "live" in the client's sense (`ConnectionState::Live`).
struct Latest {
    modules: BTreeMap<Module, ModuleKpis>,
    dashboard: Dashboard,
}

/// Shared state of a running server.
pub(crate) struct App {
    io: Io,
    store: Arc<dyn Storage>,
    edge: Edge,
    latest: Mutex<Latest>,
    /// Serialises KPI/dashboard changes with their broadcast, so subscribers
    /// see updates in the order they were applied.
    publish: tokio::sync::Mutex<()>,
    /// One node: serialises notification store + broadcast, so
    /// `notification:new` goes out in `seq` order. (A cluster node does not
    /// take it to store: its fan-in task delivers in `seq` order.)
    notify: tokio::sync::Mutex<()>,
    dropped: AtomicU64,
    /// What retention keeps (nothing configured: keep everything).
    retain_count: Option<u64>,
    retain_days: Option<u64>,
    /// Wakes the retention task after an insert.
    prune_wake: tokio::sync::Notify,
    /// The connection caps of the accept loop (for `/metrics`).
    conn_caps: Mutex<Option<Arc<crate::guard::ConnCaps>>>,
    /// The Redis side of a cluster node (`--redis`).
    bus: Option<cluster::Bus>,
    /// Cluster: the `seq` this node's fan-in starts after (the last one
    /// stored when the node started; the fan-in task then keeps its cursor).
    fan_from: u64,
    /// Cluster: wakes the fan-in task ([`cluster::spawn_fan_in`]); wake-ups
    /// while it reads coalesce into one more read.
    fan_wake: Arc<tokio::sync::Notify>,
    /// The store is shared with other nodes (PostgreSQL): KPIs and the
    /// dashboard another node put are read from it before answering.
    shared: bool,
    /// Woken whenever a connect handler has dealt with its socket's
    /// `connection:status`: an event that raced socketioxide's CONNECT reply
    /// waits on it before it is answered ([`socket`]'s `status_first`).
    pub(crate) status_sent: tokio::sync::Notify,
    /// See [`Config::status_delay`].
    #[cfg(test)]
    status_delay: Option<Duration>,
}

fn kv_module_key(m: Module) -> String {
    format!("kpis:{m}")
}
const KV_DASHBOARD: &str = "dashboard";
const KV_ALERT_SEQ: &str = "alert_seq";

impl App {
    /// Open the store and load the last KPIs (or seed values).
    async fn new(
        io: Io,
        bus: Option<cluster::Bus>,
        fan_wake: Arc<tokio::sync::Notify>,
        store: Arc<dyn Storage>,
        edge: Edge,
        config: &Config,
    ) -> Result<App, Error> {
        let mut modules = BTreeMap::new();
        for m in Module::ALL {
            let stored = store
                .kv_get(&kv_module_key(m))
                .await?
                .and_then(|s| serde_json::from_str(&s).ok())
                .and_then(|v| decode::<ModuleKpis>(v).ok())
                .filter(|k| k.module == m);
            modules.insert(m, stored.unwrap_or_else(|| simulator::seed_module(m)));
        }
        let dashboard = store
            .kv_get(KV_DASHBOARD)
            .await?
            .and_then(|s| serde_json::from_str(&s).ok())
            .and_then(|v| decode::<Dashboard>(v).ok())
            .unwrap_or_else(simulator::seed_dashboard);
        let fan_from = if bus.is_some() {
            store.last_seq().await?
        } else {
            0
        };
        Ok(App {
            io,
            store,
            edge,
            latest: Mutex::new(Latest { modules, dashboard }),
            publish: tokio::sync::Mutex::new(()),
            notify: tokio::sync::Mutex::new(()),
            dropped: AtomicU64::new(0),
            retain_count: config.retain_count,
            retain_days: config.retain_days,
            prune_wake: tokio::sync::Notify::new(),
            conn_caps: Mutex::new(None),
            bus,
            fan_from,
            fan_wake,
            shared: config
                .db_path
                .to_str()
                .is_some_and(storage::is_postgres_url),
            status_sent: tokio::sync::Notify::new(),
            #[cfg(test)]
            status_delay: config.status_delay,
        })
    }

    fn latest(&self) -> std::sync::MutexGuard<'_, Latest> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count and log a refused input.
    pub(crate) fn drop_input(&self, source: &str, reason: &dyn std::fmt::Display) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(source, %reason, dropped_total = n, "refused bad input");
    }

    /// Count and log a storage failure; the caller answers with an error.
    pub(crate) fn storage_failed(&self, e: &StorageError) {
        self.edge.metrics.storage_errors.inc();
        tracing::error!(%e, "storage failure");
    }

    /// Record that real (non-simulated) data is about to go into the store.
    /// The first time, waits for a simulator tick in flight and persists the
    /// marker, so the simulator never writes over it (unless
    /// `--simulate-on-real-data`).
    pub(crate) async fn note_real_data(&self) {
        if self.edge.real_data.load(Ordering::SeqCst) {
            return;
        }
        let _gate = self.edge.sim_gate.lock().await;
        if !self.edge.real_data.swap(true, Ordering::SeqCst) {
            if let Err(e) = self
                .store
                .kv_put(KV_REAL_DATA, Utc::now().to_rfc3339())
                .await
            {
                self.storage_failed(&e);
            }
        }
    }

    /// Whether the simulator must stop: real data arrived and it was not
    /// told to run anyway.
    pub(crate) fn simulator_must_stop(&self) -> bool {
        self.edge.real_data.load(Ordering::SeqCst) && !self.edge.simulate_on_real_data
    }

    /// Render `/metrics`, refreshing the gauges first.
    pub(crate) fn metrics_text(&self) -> String {
        let m = &self.edge.metrics;
        m.connections.set(self.io.socket_count() as i64);
        if let Some(caps) = &*self.conn_caps.lock().unwrap_or_else(|p| p.into_inner()) {
            m.tcp_connections.set(caps.open() as i64);
        }
        m.render()
    }

    /// `/readyz`: a real write through the live connection, and a fresh
    /// read-write open of the database file at its path (so a database file
    /// that became unwritable or went away is noticed even though the open
    /// connection still holds it).
    pub(crate) async fn ready(&self) -> Result<(), String> {
        if let Err(e) = self.store.kv_put("readyz", Utc::now().to_rfc3339()).await {
            self.storage_failed(&e);
            return Err(e.to_string());
        }
        let path = self.edge.db_path.clone();
        if let Some(bus) = &self.bus {
            if !bus.is_up() {
                return Err("redis unavailable: cluster channels not subscribed".into());
            }
        }
        if path.to_str().is_some_and(storage::is_postgres_url) {
            // No file to probe: the write above went through the pool.
            return Ok(());
        }
        let probe = tokio::task::spawn_blocking(move || storage_probe(&path))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        if let Err(e) = &probe {
            self.edge.metrics.storage_errors.inc();
            tracing::warn!(e, "storage not ready");
        }
        probe
    }

    /// Cluster: the room of this node's sockets ([`cluster::node_room`]);
    /// `None` on a single node (its sockets join no such room).
    pub(crate) fn node_room(&self) -> Option<String> {
        match &self.io {
            Io::Local(_) => None,
            Io::Cluster(io) => Some(cluster::node_room(io.config().server_id)),
        }
    }

    /// The cluster's Redis: `None` without `--redis`, else whether it is up.
    pub(crate) fn redis_up(&self) -> Option<bool> {
        self.bus.as_ref().map(|b| b.is_up())
    }

    /// Which store this server runs on: `sqlite` or `postgresql`.
    pub(crate) fn storage_kind(&self) -> &'static str {
        if self
            .edge
            .db_path
            .to_str()
            .is_some_and(storage::is_postgres_url)
        {
            "postgresql"
        } else {
            "sqlite"
        }
    }

    /// Read `key` from the store as a `T` (a storage failure is counted and
    /// logged; `None` then, like a missing or undecodable value).
    async fn load<T: serde::de::DeserializeOwned + pulseboard_protocol::Validate>(
        &self,
        key: &str,
    ) -> Option<T> {
        match self.store.kv_get(key).await {
            Ok(v) => v
                .and_then(|s| serde_json::from_str(&s).ok())
                .and_then(|v| decode::<T>(v).ok()),
            Err(e) => {
                self.storage_failed(&e);
                None
            }
        }
    }

    /// A module's KPIs as the cluster knows them: with a shared store, the
    /// newest of what this node holds and what any node stored.
    pub(crate) async fn current_kpis(&self, m: Module) -> ModuleKpis {
        if self.shared {
            if let Some(k) = self
                .load::<ModuleKpis>(&kv_module_key(m))
                .await
                .filter(|k| k.module == m)
            {
                let mut latest = self.latest();
                let cur = latest.modules.entry(m).or_insert_with(|| k.clone());
                if k.updated_at > cur.updated_at {
                    *cur = k;
                }
            }
        }
        self.module_kpis(m)
    }

    /// The dashboard as the cluster knows it (see [`App::current_kpis`]).
    pub(crate) async fn current_dashboard(&self) -> Dashboard {
        if self.shared {
            if let Some(d) = self.load::<Dashboard>(KV_DASHBOARD).await {
                let mut latest = self.latest();
                if d.updated_at > latest.dashboard.updated_at {
                    latest.dashboard = d;
                }
            }
        }
        self.dashboard()
    }

    /// Current KPIs of a module.
    pub(crate) fn module_kpis(&self, m: Module) -> ModuleKpis {
        let latest = self.latest();
        latest
            .modules
            .get(&m)
            .cloned()
            .unwrap_or_else(|| simulator::seed_module(m))
    }

    /// Current dashboard.
    pub(crate) fn dashboard(&self) -> Dashboard {
        self.latest().dashboard.clone()
    }

    /// The store's identity, for `connection:status` and the snapshot.
    pub(crate) fn server_id(&self) -> &str {
        self.store.server_id()
    }

    /// Everything at once, for `GET /api/snapshot`; `unreadCount` is `viewer`'s.
    pub(crate) async fn snapshot(&self, viewer: &Viewer) -> Result<Snapshot, StorageError> {
        let unread_count = self.store.unread_count(&viewer.0).await?;
        if self.shared {
            for m in Module::ALL {
                self.current_kpis(m).await;
            }
            self.current_dashboard().await;
        }
        let latest = self.latest();
        Ok(Snapshot {
            modules: latest.modules.clone(),
            dashboard: latest.dashboard.clone(),
            unread_count,
            server_id: Some(self.server_id().to_owned()),
        })
    }

    /// Send `event` to this node's sockets of `room` (every socket: `None`):
    /// one broadcast, the payload encoded once for all of them, counted in
    /// `pulseboard_deliveries_total` by the sockets it was handed to. Local
    /// to this node in a cluster too (the other nodes get it through
    /// [`App::tell_cluster`]). A socket whose send buffer is full (a slow
    /// client) is disconnected, never silently skipped, and gets nothing
    /// more: it reconnects and catches up (`afterSeq`); it is counted and
    /// logged when it goes (`socket::gone`). Both come from our
    /// socketioxide patches 14 and 15 (vendor/PATCHES.md), which every
    /// broadcast on this node goes through, a cluster's remote ones too.
    /// Nothing once shutdown has closed the namespace (socketioxide's
    /// `SocketIo::to` panics then, and an HTTP write or a simulator tick may
    /// still be finishing).
    pub(crate) fn deliver<T: serde::Serialize + ?Sized>(
        &self,
        room: Option<&str>,
        event: &str,
        payload: &T,
    ) {
        let sent = match &self.io {
            Io::Local(io) => emit_here(io, room, event, payload),
            Io::Cluster(io) => emit_here(io, room, event, payload),
        };
        self.edge.metrics.broadcast(sent);
    }

    /// Replace a module's KPIs, persist them and broadcast `kpi:update:{module}`.
    pub(crate) async fn put_kpis(&self, module: Module, kpis: Vec<Kpi>) -> ModuleKpis {
        let _order = self.publish.lock().await;
        let next = ModuleKpis {
            module,
            kpis,
            updated_at: Utc::now(),
        };
        self.latest().modules.insert(module, next.clone());
        self.persist(kv_module_key(module), &next).await;
        self.record_history(&next).await;
        self.deliver(Some(module.room()), module.kpi_event(), &next);
        self.tell_cluster(Some(module.room()), module.kpi_event(), &next)
            .await;
        next
    }

    /// Replace the dashboard, persist it and broadcast `dashboard:update`.
    pub(crate) async fn put_dashboard(&self, summary: Vec<Kpi>, top_kpis: Vec<Kpi>) -> Dashboard {
        let _order = self.publish.lock().await;
        let next = Dashboard {
            summary,
            top_kpis,
            updated_at: Utc::now(),
        };
        self.latest().dashboard = next.clone();
        self.persist(KV_DASHBOARD.to_owned(), &next).await;
        self.deliver(
            Some(socket::DASHBOARD_ROOM),
            events::DASHBOARD_UPDATE,
            &next,
        );
        self.tell_cluster(
            Some(socket::DASHBOARD_ROOM),
            events::DASHBOARD_UPDATE,
            &next,
        )
        .await;
        next
    }

    /// Add an accepted KPI update to the stored history (a failure is
    /// counted and logged; the update itself still goes out).
    async fn record_history(&self, kpis: &ModuleKpis) {
        let values = kpis.kpis.iter().map(|k| (k.key.clone(), k.value)).collect();
        if let Err(e) = self
            .store
            .record_kpis(kpis.module, kpis.updated_at, values)
            .await
        {
            self.storage_failed(&e);
        }
    }

    /// Delete KPI history older than [`storage::history_cutoff`].
    async fn prune_history(&self) {
        let before = storage::history_cutoff(Utc::now(), self.retain_days);
        match self
            .store
            .prune_kpi_history(before, storage::MAX_HISTORY_ROWS)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "retention deleted old KPI history"),
            Err(e) => self.storage_failed(&e),
        }
    }

    async fn persist<T: serde::Serialize>(&self, key: String, value: &T) {
        match serde_json::to_string(value) {
            Ok(s) => {
                if let Err(e) = self.store.kv_put(&key, s).await {
                    tracing::warn!(%e, key, "could not persist latest values");
                }
            }
            Err(e) => tracing::warn!(%e, key, "could not serialise latest values"),
        }
    }

    /// Store a notification, then broadcast `notification:new`.
    ///
    /// In a cluster no lock is held across the insert: `seq` is allocated
    /// in commit order by the store, and this node's fan-in task (woken
    /// here) delivers everything after its cursor in `seq` order, each once,
    /// like the other nodes (woken through Redis) do.
    pub(crate) async fn add_notification(
        &self,
        new: NewNotification,
    ) -> Result<Notification, StorageError> {
        let now = || chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
        if let Some(bus) = &self.bus {
            let stored = self.store.insert_notification(new, now()).await?;
            self.fan_in();
            bus.wake_others().await;
            if self.retain_count.is_some() {
                self.prune_wake.notify_one();
            }
            return Ok(stored);
        }
        let order = self.notify.lock().await;
        let stored = self.store.insert_notification(new, now()).await?;
        self.deliver(
            Some(socket::NOTIFICATIONS_ROOM),
            events::NOTIFICATION_NEW,
            &stored,
        );
        drop(order);
        if self.retain_count.is_some() {
            self.prune_wake.notify_one();
        }
        Ok(stored)
    }

    /// Raise a system alert and broadcast `alert:system` to every client.
    pub(crate) async fn raise_alert(&self, new: NewAlert) -> Result<Alert, StorageError> {
        let n = self.store.next_counter(KV_ALERT_SEQ).await?;
        let alert = Alert {
            id: format!("a-{n}"),
            severity: new.severity,
            title: new.title,
            message: new.message,
            created_at: Utc::now(),
        };
        self.deliver(None, events::ALERT_SYSTEM, &alert);
        self.tell_cluster(None, events::ALERT_SYSTEM, &alert).await;
        Ok(alert)
    }

    /// Mark notifications read for `viewer` and tell that viewer's
    /// notification subscribers (every desktop of that viewer, nobody else).
    pub(crate) async fn mark_read(
        &self,
        viewer: &Viewer,
        req: MarkRead,
    ) -> Result<MarkReadOutcome, StorageError> {
        let _order = self.notify.lock().await;
        let out = match req {
            MarkRead::Ids(ids) => self.store.mark_read_ids(&viewer.0, ids).await?,
            MarkRead::All => self.store.mark_all_read(&viewer.0).await?,
        };
        if !out.changed.is_empty() {
            let payload = NotificationRead {
                ids: out.changed.clone(),
                unread_count: out.unread,
            };
            let room = socket::viewer_room(viewer);
            self.deliver(Some(&room), events::NOTIFICATION_READ, &payload);
            self.tell_cluster(Some(&room), events::NOTIFICATION_READ, &payload)
                .await;
        }
        Ok(out)
    }

    /// Cluster: the other nodes deliver `event` to their sockets of `room`
    /// (every socket: `None`), through the Redis adapter. This node's
    /// sockets are in its node room ([`cluster::node_room`]), which the
    /// broadcast skips: it delivered to them itself ([`App::deliver`]).
    /// Nothing without `--redis`. A failure (Redis down) is counted by the
    /// bus and logged: a node that missed a KPI or dashboard value has it in
    /// its snapshot (the store); see the module doc of [`cluster`].
    async fn tell_cluster<T: serde::Serialize + ?Sized>(
        &self,
        room: Option<&str>,
        event: &str,
        payload: &T,
    ) {
        let Io::Cluster(io) = &self.io else { return };
        let Some(op) = io.of("/") else { return };
        let op = match room {
            Some(r) => op.to(r.to_owned()),
            None => op,
        };
        let own = cluster::node_room(io.config().server_id);
        if let Err(e) = op.except(own).emit(event, payload).await {
            if self.bus.as_ref().is_some_and(|b| b.is_up()) {
                tracing::warn!(%e, event, "cluster broadcast not sent");
            } else {
                // Said once when Redis went down (cluster::Bus).
                tracing::debug!(%e, event, "redis down: cluster broadcast not sent");
            }
        }
    }

    /// Cluster: ask the fan-in task to deliver to this node's notification
    /// subscribers every notification stored after its cursor, in `seq`
    /// order (see [`cluster::spawn_fan_in`]). Does not wait.
    pub(crate) fn fan_in(&self) {
        self.fan_wake.notify_one();
    }

    /// Cluster: read the notifications after `cursor` from the store, page
    /// by page until a short page, and deliver them to this node's
    /// notification subscribers in `seq` order. Returns the new cursor, or
    /// `Err` with the cursor reached when the store failed (the rest is
    /// read at the next try).
    pub(crate) async fn fan_in_from(&self, mut cursor: u64) -> Result<u64, u64> {
        loop {
            let page = match self
                .store
                .notifications_since(cursor, cluster::FAN_IN_PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    self.storage_failed(&e);
                    return Err(cursor);
                }
            };
            for n in &page.notifications {
                self.deliver(
                    Some(socket::NOTIFICATIONS_ROOM),
                    events::NOTIFICATION_NEW,
                    n,
                );
            }
            cursor = page.upto.max(cursor);
            if !page.full {
                return Ok(cursor);
            }
        }
    }

    /// Retention in the background: after inserts (when a count is kept)
    /// and every [`PRUNE_EVERY`], delete what is beyond `retain_count` or
    /// older than `retain_days`, in bounded batches (see
    /// [`Storage::prune`]). Returns `None` when no retention is configured.
    fn spawn_pruner(app: &Arc<App>) -> Option<JoinHandle<()>> {
        if app.retain_count.is_none() && app.retain_days.is_none() {
            return None;
        }
        let app = app.clone();
        Some(tokio::spawn(async move {
            loop {
                let policy = Retention {
                    count: app.retain_count,
                    // A span too long to represent keeps everything.
                    before: app
                        .retain_days
                        .and_then(|d| chrono::Duration::try_days(i64::try_from(d).ok()?))
                        .and_then(|d| Utc::now().checked_sub_signed(d)),
                };
                match app.store.prune(policy).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "retention deleted old notifications"),
                    Err(e) => tracing::warn!(%e, "retention failed; will retry"),
                }
                tokio::select! {
                    _ = app.prune_wake.notified() => {
                        // Gather a burst of inserts into one run.
                        tokio::time::sleep(PRUNE_GATHER).await;
                    }
                    _ = tokio::time::sleep(PRUNE_EVERY) => {}
                }
            }
        }))
    }
}

/// A server that is set up (database open, state loaded) but not yet serving.
struct Prepared {
    app: Arc<App>,
    router: net::Service,
    config: Config,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

async fn prepare(config: Config) -> Result<Prepared, Error> {
    let tokens = auth::Tokens::new(
        config.token.as_deref().filter(|t| !t.is_empty()),
        &config.view_tokens,
        &config.publish_tokens,
    )
    .map_err(Error::Config)?;
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key).map_err(Error::Config)?),
        None => None,
    };

    let store: Arc<dyn Storage> = storage::open(&config.db_path).await?;

    if tokens.is_open() {
        tracing::warn!("no token configured: the server accepts every client");
    }
    let real_data = store.kv_get(KV_REAL_DATA).await?.is_some();
    let metrics = Arc::new(metrics::Metrics::new());
    let edge = Edge {
        tokens,
        refusals: auth::RefusalLog::new(),
        metrics: metrics.clone(),
        http_limits: crate::guard::HttpLimits::new(
            config.rate_limit,
            config.shared_event_rate_limit,
        ),
        event_rate: config.event_rate_limit,
        allow_origins: config
            .allow_origins
            .iter()
            .map(|o| crate::guard::normalize_origin(o))
            .collect(),
        trusted_proxies: config.trusted_proxies.clone(),
        db_path: config.db_path.clone(),
        real_data: AtomicBool::new(real_data),
        sim_gate: tokio::sync::Mutex::new(()),
        simulate_on_real_data: config.simulate_on_real_data,
    };
    let builder = SocketIo::builder()
        .max_buffer_size(config.socket_buffer.max(16))
        .max_payload(2 * limits::MAX_BODY_BYTES as u64)
        .ws_max_message_size(2 * limits::MAX_BODY_BYTES)
        // Frames here are small; tungstenite grows the buffer for a big one.
        // The default 4 KiB is held by every idle connection.
        .ws_read_buffer_size(256)
        // A broadcast writes each socket's frame on the spot instead of
        // waking every connection's task (vendor/PATCHES.md, patch 25).
        .ws_direct_write(true)
        // An Engine.IO session must join the namespace (authenticate) soon.
        .connect_timeout(config.handshake_timeout)
        // For the disconnect handler, which counts slow sockets (`socket::gone`).
        .with_state(metrics.clone());
    let fan_wake = Arc::new(tokio::sync::Notify::new());
    let (app, router) = match &config.redis {
        None => {
            let (layer, io) = builder.build_layer();
            let app = Arc::new(
                App::new(Io::Local(io.clone()), None, fan_wake, store, edge, &config).await?,
            );
            socket::register(&io, app.clone());
            let router = service_stack(layer, &app, &config);
            (app, router)
        }
        Some(url) => {
            let bus =
                cluster::Bus::new(url, metrics.clone(), fan_wake.clone()).map_err(Error::Config)?;
            let (layer, io) = builder
                .with_adapter::<cluster::Adapter>(bus.adapter())
                .build_layer();
            bus.set_uid(io.config().server_id);
            let app = Arc::new(
                App::new(
                    Io::Cluster(io.clone()),
                    Some(bus),
                    fan_wake,
                    store,
                    edge,
                    &config,
                )
                .await?,
            );
            // Subscribes the adapter's channels (for real once Redis
            // answers: `cluster::spawn_health`); never fails on a Redis that
            // is down.
            socket::register(&io, app.clone())
                .await
                .map_err(|e| Error::Config(format!("--redis: {e}")))?;
            let router = service_stack(layer, &app, &config);
            (app, router)
        }
    };
    Ok(Prepared {
        app,
        router,
        config,
        tls,
    })
}

async fn serve(
    prepared: Prepared,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let Prepared {
        app,
        router,
        config,
        tls,
    } = prepared;
    let sim = if !config.simulator {
        tracing::info!("simulator off (--simulate turns it on)");
        None
    } else if app.edge.real_data.load(Ordering::SeqCst) && !config.simulate_on_real_data {
        tracing::warn!(
            "simulator not started: real data went into this store \
             (--simulate-on-real-data overrides)"
        );
        None
    } else {
        Some(simulator::spawn(
            app.clone(),
            config.kpi_interval,
            config.dashboard_interval,
        ))
    };
    // Keep the rate limiters' memory and the KPI history bounded.
    let sweeper = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                app.edge.http_limits.forget_idle();
                app.prune_history().await;
            }
        })
    };
    let pruner = App::spawn_pruner(&app);
    let subscriber = app.bus.clone().map(|bus| {
        (
            cluster::spawn_health(bus),
            cluster::spawn_fan_in(app.clone()),
        )
    });

    let io = app.io.clone();
    let stop = async move {
        shutdown.await;
        tracing::info!("shutting down");
        // Long-polling requests are held open by Socket.IO; close every
        // socket so the graceful shutdown does not wait for them. Bounded:
        // a test run under heavy load once waited here for minutes, and a
        // stopping server must stop (systemd, an operator's Ctrl-C).
        if tokio::time::timeout(SHUTDOWN_GRACE, io.close())
            .await
            .is_err()
        {
            tracing::warn!(
                "Socket.IO sockets still closing after {:?}; stopping anyway",
                SHUTDOWN_GRACE
            );
        }
    };
    let net = net::Net {
        caps: crate::guard::ConnCaps::new(config.max_connections, config.max_connections_per_addr),
        tls,
        header_timeout: config.header_timeout,
        metrics: app.edge.metrics.clone(),
    };
    *app.conn_caps.lock().unwrap_or_else(|p| p.into_inner()) = Some(net.caps.clone());
    net::serve(listener, router, net, stop, SHUTDOWN_GRACE).await;
    sweeper.abort();
    if let Some(sim) = sim {
        sim.abort();
    }
    if let Some((subscriber, fan_in)) = subscriber {
        subscriber.abort();
        fan_in.abort();
    }
    if let Some(pruner) = pruner {
        pruner.abort();
    }
    Ok(())
}

/// Serve on `listener` until `shutdown` completes, then stop gracefully.
///
/// Opens (or creates) the database at `config.db_path` first; a database that
/// cannot be opened is an [`Error::Storage`].
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let prepared = prepare(config).await?;
    serve(prepared, listener, shutdown).await
}

/// A server started with [`spawn`], for tests and embedding.
#[derive(Debug)]
pub struct ServerHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl ServerHandle {
    /// `http://{addr}` (`https://` with TLS), the base URL for HTTP and
    /// Socket.IO clients.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Ask the server to stop and wait until it has.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(Error::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

/// Bind `127.0.0.1:0`, set the server up and serve in a background task.
///
/// Returns once the database is open and the port is bound, so a client can
/// connect right away.
pub async fn spawn(config: Config) -> Result<ServerHandle, Error> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let tls = config.tls.is_some();
    let prepared = prepare(config).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(prepared, listener, async move {
        let _ = rx.await;
    }));
    Ok(ServerHandle {
        addr,
        tls,
        stop: Some(tx),
        task,
    })
}

/// The HTTP service: origin check, session limit, Socket.IO, the router.
/// Socket.IO sits outside the axum Router: its requests never go through
/// routing, so a WebSocket session keeps none of the Router's per-request
/// extensions (vendor/PATCHES.md). The origin check still covers both.
fn service_stack<A: Adapter>(
    layer: socketioxide::layer::SocketIoLayer<A>,
    app: &Arc<App>,
    config: &Config,
) -> net::Service {
    net::service(
        tower::ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(
                app.clone(),
                crate::guard::check_origin,
            ))
            .layer(axum::middleware::from_fn_with_state(
                app.clone(),
                crate::guard::limit_new_sessions,
            ))
            .layer(layer)
            .service(http::router(app.clone(), config.request_timeout)),
    )
}

/// The Socket.IO server of a node: socketioxide's `LocalAdapter` on one
/// node, the Redis adapter with `--redis` ([`cluster`]).
#[derive(Clone)]
enum Io {
    Local(SocketIo),
    Cluster(SocketIo<cluster::Adapter>),
}

impl Io {
    /// How many sockets this node has (none once the namespace is closed).
    fn socket_count(&self) -> usize {
        match self {
            // `SocketIo::sockets` panics once the namespace is closed.
            Io::Local(io) => io.of("/").map_or(0, |op| op.sockets().len()),
            Io::Cluster(io) => io.of("/").map_or(0, |op| op.sockets().len()),
        }
    }

    async fn close(&self) {
        match self {
            Io::Local(io) => io.close().await,
            Io::Cluster(io) => io.close().await,
        }
    }
}

/// [`App::deliver`] on one adapter: this node's sockets of `room` (every
/// socket: `None`), how many were handed the event.
fn emit_here<A: Adapter, T: serde::Serialize + ?Sized>(
    io: &SocketIo<A>,
    room: Option<&str>,
    event: &str,
    payload: &T,
) -> usize {
    let Some(op) = io.of("/") else {
        return 0;
    };
    let op = match room {
        Some(r) => op.to(r.to_owned()),
        None => op,
    };
    op.emit_local(event, payload).unwrap_or_else(|e| {
        tracing::warn!(%e, "could not encode {event}");
        0
    })
}

/// Open the database file afresh for writing (nothing is written): fails when
/// the file is gone from its path or cannot be written (read-only mount,
/// immutable, permissions). Done with a plain open rather than SQLite, which
/// reuses file descriptors it already holds for the same file.
fn storage_probe(path: &std::path::Path) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("cannot open {} for writing: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shutdown closes the Socket.IO namespace while an HTTP write or a
    /// simulator tick may still be delivering: that must not panic.
    #[tokio::test]
    async fn delivering_after_the_namespace_closed_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("s.db"));
        config.simulator = false;
        let prepared = prepare(config).await.unwrap();
        let app = prepared.app.clone();
        app.io.close().await;
        assert_eq!(app.io.socket_count(), 0);
        app.deliver(Some(socket::NOTIFICATIONS_ROOM), "x", &1);
        let raised = app
            .raise_alert(NewAlert {
                title: "Disk full".into(),
                message: "m".into(),
                severity: pulseboard_protocol::AlertSeverity::Critical,
            })
            .await;
        assert!(raised.is_ok(), "{raised:?}");
    }
}
