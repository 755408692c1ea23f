//! The Pulseboard server: Socket.IO (WebSocket and long-polling) and a small
//! HTTP API on one port, notifications stored in SQLite, and a KPI simulator.
//!
//! The wire contract lives in `pulseboard-protocol`; this crate implements it.
//! Everything that changes state (put KPIs, put dashboard, add a notification,
//! raise an alert, mark read) goes through one method of the shared app state,
//! whether it is called by an HTTP handler, a socket handler or the simulator.

#![warn(missing_docs)]

mod auth;
mod http;
mod simulator;
mod socket;
pub mod storage;

use std::{
    collections::BTreeMap,
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use chrono::Utc;
use pulseboard_protocol::{
    decode, events, limits, Alert, Dashboard, Kpi, MarkRead, Module, ModuleKpis, NewAlert,
    NewNotification, Notification, NotificationRead, Snapshot,
};
use socketioxide::SocketIo;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use auth::Viewer;
use socketioxide::{extract::SocketRef, SendError, SocketError};
pub use storage::StorageError;
use storage::{MarkReadOutcome, Retention, Storage, Store};

/// Marks a socket that is being disconnected because its buffer was full.
#[derive(Clone, Copy, Debug)]
struct Overflowed;

/// How long to keep trying to disconnect a socket whose buffer is full.
const OVERFLOW_DISCONNECT_TRY: Duration = Duration::from_secs(30);
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
#[derive(Clone)]
pub struct Config {
    /// Shared token required from clients; `None` leaves the server open.
    pub token: Option<String>,
    /// SQLite database file (its parent directory is created).
    pub db_path: PathBuf,
    /// Run the built-in KPI simulator.
    pub simulator: bool,
    /// Simulator period for module KPIs (contract: 5 s).
    pub kpi_interval: Duration,
    /// Simulator period for the dashboard (contract: 10 s).
    pub dashboard_interval: Duration,
    /// Retention: keep at most this many notifications (the newest).
    pub retain_count: Option<u64>,
    /// Retention: delete notifications older than this many days.
    pub retain_days: Option<u64>,
    /// Packets buffered per socket before an emit to it fails; a socket whose
    /// buffer is full is disconnected (it reconnects and catches up by
    /// `afterSeq`). Default [`DEFAULT_SOCKET_BUFFER`].
    pub socket_buffer: usize,
    /// Tests only, until view tokens exist: on an open server, a socket's
    /// viewer is the handshake's `auth.token`.
    #[doc(hidden)]
    pub test_viewer_from_token: bool,
}

impl Config {
    /// Defaults: no token, simulator on, 5 s KPI and 10 s dashboard periods.
    pub fn new(db_path: impl Into<PathBuf>) -> Config {
        Config {
            token: None,
            db_path: db_path.into(),
            simulator: true,
            kpi_interval: Duration::from_millis(5000),
            dashboard_interval: Duration::from_millis(10_000),
            retain_count: None,
            retain_days: None,
            socket_buffer: DEFAULT_SOCKET_BUFFER,
            test_viewer_from_token: false,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("db_path", &self.db_path)
            .field("simulator", &self.simulator)
            .field("kpi_interval", &self.kpi_interval)
            .field("dashboard_interval", &self.dashboard_interval)
            .field("retain_count", &self.retain_count)
            .field("retain_days", &self.retain_days)
            .field("socket_buffer", &self.socket_buffer)
            .finish()
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or used.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Binding or serving failed.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
}

/// The live (in-memory) KPI state.
struct Live {
    modules: BTreeMap<Module, ModuleKpis>,
    dashboard: Dashboard,
}

/// Shared state of a running server.
pub(crate) struct App {
    io: SocketIo,
    store: Arc<dyn Storage>,
    token: Option<String>,
    live: Mutex<Live>,
    /// Serialises KPI/dashboard changes with their broadcast, so subscribers
    /// see updates in the order they were applied.
    publish: tokio::sync::Mutex<()>,
    /// Serialises notification store + broadcast, so `notification:new`
    /// goes out in `seq` order.
    notify: tokio::sync::Mutex<()>,
    dropped: AtomicU64,
    /// Sockets disconnected because their send buffer was full.
    overflow_disconnects: AtomicU64,
    /// What retention keeps (nothing configured: keep everything).
    retain_count: Option<u64>,
    retain_days: Option<u64>,
    /// Wakes the retention task after an insert.
    prune_wake: tokio::sync::Notify,
    /// See [`Config::test_viewer_from_token`].
    pub(crate) test_viewer_from_token: bool,
}

fn kv_module_key(m: Module) -> String {
    format!("kpis:{m}")
}
const KV_DASHBOARD: &str = "dashboard";
const KV_ALERT_SEQ: &str = "alert_seq";

impl App {
    /// Open the store and load the last KPIs (or seed values).
    async fn new(
        io: SocketIo,
        store: Arc<dyn Storage>,
        token: Option<String>,
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
        Ok(App {
            io,
            store,
            token,
            live: Mutex::new(Live { modules, dashboard }),
            publish: tokio::sync::Mutex::new(()),
            notify: tokio::sync::Mutex::new(()),
            dropped: AtomicU64::new(0),
            overflow_disconnects: AtomicU64::new(0),
            retain_count: config.retain_count,
            retain_days: config.retain_days,
            prune_wake: tokio::sync::Notify::new(),
            test_viewer_from_token: config.test_viewer_from_token,
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count and log a refused input.
    pub(crate) fn drop_input(&self, source: &str, reason: &dyn std::fmt::Display) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(source, %reason, dropped_total = n, "refused bad input");
    }

    /// Current KPIs of a module.
    pub(crate) fn module_kpis(&self, m: Module) -> ModuleKpis {
        let live = self.live();
        live.modules
            .get(&m)
            .cloned()
            .unwrap_or_else(|| simulator::seed_module(m))
    }

    /// Current dashboard.
    pub(crate) fn dashboard(&self) -> Dashboard {
        self.live().dashboard.clone()
    }

    /// The store's identity, for `connection:status` and the snapshot.
    pub(crate) fn server_id(&self) -> &str {
        self.store.server_id()
    }

    /// Everything at once, for `GET /api/snapshot`; `unreadCount` is `viewer`'s.
    pub(crate) async fn snapshot(&self, viewer: &Viewer) -> Result<Snapshot, StorageError> {
        let unread_count = self.store.unread_count(&viewer.0).await?;
        let live = self.live();
        Ok(Snapshot {
            modules: live.modules.clone(),
            dashboard: live.dashboard.clone(),
            unread_count,
            server_id: Some(self.server_id().to_owned()),
        })
    }

    /// Send `event` to each of `sockets`. A socket whose send buffer is full
    /// (a slow client) is disconnected and counted, never silently skipped:
    /// it reconnects and catches up (`afterSeq`). Sockets already being
    /// disconnected for that reason get nothing more.
    ///
    /// Emits socket by socket (not one room broadcast) because a broadcast's
    /// error does not say which socket's buffer was full. With a cluster
    /// adapter each node must deliver to its own sockets the same way.
    pub(crate) fn deliver<T: serde::Serialize + ?Sized>(
        &self,
        sockets: Vec<SocketRef>,
        event: &str,
        payload: &T,
    ) {
        for s in sockets {
            if s.extensions.get::<Overflowed>().is_some() {
                continue;
            }
            match s.emit(event, payload) {
                Ok(()) => {}
                Err(SendError::Socket(SocketError::InternalChannelFull)) => self.overflowed(s),
                Err(SendError::Socket(SocketError::Closed)) => {}
                Err(e) => tracing::warn!(%e, sid = %s.id, "could not send {event}"),
            }
        }
    }

    /// A socket's send buffer is full: disconnect it so it reconnects and
    /// catches up. The disconnect packet itself needs a free slot, so keep
    /// trying while the client drains its buffer; a client that drains
    /// nothing is closed by the Engine.IO heartbeat.
    fn overflowed(&self, s: SocketRef) {
        s.extensions.insert(Overflowed);
        let n = self.overflow_disconnects.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            sid = %s.id,
            overflow_disconnects_total = n,
            "send buffer full: disconnecting the socket so it catches up"
        );
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + OVERFLOW_DISCONNECT_TRY;
            loop {
                match s.clone().disconnect() {
                    Err(SocketError::InternalChannelFull)
                        if tokio::time::Instant::now() < deadline =>
                    {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    _ => return,
                }
            }
        });
    }

    /// How many sockets were disconnected because their buffer was full.
    #[allow(dead_code)] // read by metrics
    pub(crate) fn overflow_disconnects(&self) -> u64 {
        self.overflow_disconnects.load(Ordering::Relaxed)
    }

    /// Replace a module's KPIs, persist them and broadcast `kpi:update:{module}`.
    pub(crate) async fn put_kpis(&self, module: Module, kpis: Vec<Kpi>) -> ModuleKpis {
        let _order = self.publish.lock().await;
        let next = ModuleKpis {
            module,
            kpis,
            updated_at: Utc::now(),
        };
        self.live().modules.insert(module, next.clone());
        self.persist(kv_module_key(module), &next).await;
        self.deliver(
            self.io.to(module.room()).sockets(),
            module.kpi_event(),
            &next,
        );
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
        self.live().dashboard = next.clone();
        self.persist(KV_DASHBOARD.to_owned(), &next).await;
        self.deliver(
            self.io.to(socket::DASHBOARD_ROOM).sockets(),
            events::DASHBOARD_UPDATE,
            &next,
        );
        next
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
    pub(crate) async fn add_notification(
        &self,
        new: NewNotification,
    ) -> Result<Notification, StorageError> {
        let _order = self.notify.lock().await;
        let stored = self
            .store
            .insert_notification(new, chrono::SubsecRound::trunc_subsecs(Utc::now(), 3))
            .await?;
        self.deliver(
            self.io.to(socket::NOTIFICATIONS_ROOM).sockets(),
            events::NOTIFICATION_NEW,
            &stored,
        );
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
        self.deliver(self.io.sockets(), events::ALERT_SYSTEM, &alert);
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
            self.deliver(
                self.io.to(socket::viewer_room(viewer)).sockets(),
                events::NOTIFICATION_READ,
                &payload,
            );
        }
        Ok(out)
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
    router: axum::Router,
    config: Config,
}

async fn prepare(config: Config) -> Result<Prepared, Error> {
    let path = config.db_path.clone();
    let store: Arc<dyn Storage> = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(&path))
            .await
            .map_err(|e| StorageError::Task(e.to_string()))??,
    );

    let (layer, io) = SocketIo::builder()
        .max_buffer_size(config.socket_buffer.max(16))
        .max_payload(2 * limits::MAX_BODY_BYTES as u64)
        .ws_max_message_size(2 * limits::MAX_BODY_BYTES)
        .build_layer();

    let token = config.token.clone().filter(|t| !t.is_empty());
    if token.is_none() {
        tracing::warn!("no token configured: the server accepts every client");
    }
    let app = Arc::new(App::new(io.clone(), store, token, &config).await?);
    socket::register(&io, app.clone());
    let router = http::router(app.clone()).layer(layer);
    Ok(Prepared {
        app,
        router,
        config,
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
    } = prepared;
    let sim = config
        .simulator
        .then(|| simulator::spawn(app.clone(), config.kpi_interval, config.dashboard_interval));
    if sim.is_none() {
        tracing::info!("simulator disabled");
    }
    let pruner = App::spawn_pruner(&app);

    let stopping = Arc::new(tokio::sync::Notify::new());
    let io = app.io.clone();
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down");
            stopping.notify_one();
            // Long-polling requests are held open by Socket.IO; close every
            // socket so the graceful shutdown does not wait for them.
            io.close().await;
        }
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(signal);
    let result = tokio::select! {
        r = server => r.map_err(Error::from),
        _ = async { stopping.notified().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!("connections still open after {:?}; stopping anyway", SHUTDOWN_GRACE);
            Ok(())
        }
    };
    if let Some(sim) = sim {
        sim.abort();
    }
    if let Some(pruner) = pruner {
        pruner.abort();
    }
    result
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
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl ServerHandle {
    /// `http://{addr}`, the base URL for HTTP and Socket.IO clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
    let prepared = prepare(config).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(prepared, listener, async move {
        let _ = rx.await;
    }));
    Ok(ServerHandle {
        addr,
        stop: Some(tx),
        task,
    })
}
