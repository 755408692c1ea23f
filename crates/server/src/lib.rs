//! The Pulseboard server: Socket.IO (WebSocket and long-polling) and a small
//! HTTP API on one port, notifications stored in SQLite, and a KPI simulator.
//!
//! The wire contract lives in `pulseboard-protocol`; this crate implements it.
//! Everything that changes state (put KPIs, put dashboard, add a notification,
//! raise an alert, mark read) goes through one method of the shared app state,
//! whether it is called by an HTTP handler, a socket handler or the simulator.

#![warn(missing_docs)]

mod auth;
pub mod config_file;
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

pub use storage::StorageError;
use storage::{MarkReadOutcome, Store};

/// Version reported in `connection:status`.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

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
    store: Store,
    token: Option<String>,
    live: Mutex<Live>,
    /// Serialises KPI/dashboard changes with their broadcast, so subscribers
    /// see updates in the order they were applied.
    publish: tokio::sync::Mutex<()>,
    /// Serialises notification store + broadcast, so `notification:new`
    /// goes out in `seq` order.
    notify: tokio::sync::Mutex<()>,
    dropped: AtomicU64,
}

fn kv_module_key(m: Module) -> String {
    format!("kpis:{m}")
}
const KV_DASHBOARD: &str = "dashboard";
const KV_ALERT_SEQ: &str = "alert_seq";

impl App {
    /// Open the store and load the last KPIs (or seed values).
    async fn new(io: SocketIo, store: Store, token: Option<String>) -> Result<App, Error> {
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

    /// Everything at once, for `GET /api/snapshot`.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, StorageError> {
        let unread_count = self.store.unread_count().await?;
        let live = self.live();
        Ok(Snapshot {
            modules: live.modules.clone(),
            dashboard: live.dashboard.clone(),
            unread_count,
            server_id: None,
        })
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
        if let Err(e) = self
            .io
            .to(module.room())
            .emit(module.kpi_event(), &next)
            .await
        {
            tracing::warn!(%e, "broadcast of {} failed", module.kpi_event());
        }
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
        if let Err(e) = self
            .io
            .to(socket::DASHBOARD_ROOM)
            .emit(events::DASHBOARD_UPDATE, &next)
            .await
        {
            tracing::warn!(%e, "broadcast of dashboard:update failed");
        }
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
        if let Err(e) = self
            .io
            .to(socket::NOTIFICATIONS_ROOM)
            .emit(events::NOTIFICATION_NEW, &stored)
            .await
        {
            tracing::warn!(%e, "broadcast of notification:new failed");
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
        if let Err(e) = self.io.emit(events::ALERT_SYSTEM, &alert).await {
            tracing::warn!(%e, "broadcast of alert:system failed");
        }
        Ok(alert)
    }

    /// Mark notifications read and tell notification subscribers.
    pub(crate) async fn mark_read(&self, req: MarkRead) -> Result<MarkReadOutcome, StorageError> {
        let _order = self.notify.lock().await;
        let out = match req {
            MarkRead::Ids(ids) => self.store.mark_read_ids(ids).await?,
            MarkRead::All => self.store.mark_all_read().await?,
        };
        if !out.changed.is_empty() {
            let payload = NotificationRead {
                ids: out.changed.clone(),
                unread_count: out.unread,
            };
            if let Err(e) = self
                .io
                .to(socket::NOTIFICATIONS_ROOM)
                .emit(events::NOTIFICATION_READ, &payload)
                .await
            {
                tracing::warn!(%e, "broadcast of notification:read failed");
            }
        }
        Ok(out)
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
    let store = tokio::task::spawn_blocking(move || Store::open(&path))
        .await
        .map_err(|e| StorageError::Task(e.to_string()))??;

    let (layer, io) = SocketIo::builder()
        .max_payload(2 * limits::MAX_BODY_BYTES as u64)
        .ws_max_message_size(2 * limits::MAX_BODY_BYTES)
        .build_layer();

    let token = config.token.clone().filter(|t| !t.is_empty());
    if token.is_none() {
        tracing::warn!("no token configured: the server accepts every client");
    }
    let app = Arc::new(App::new(io.clone(), store, token).await?);
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
