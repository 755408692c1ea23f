//! Pulseboard client core: everything the desktop app and the CLI share, with
//! no Tauri in sight. A [`supervisor::Client`] keeps a Socket.IO connection
//! alive and feeds a [`store::Store`]; the [`cache`] keeps what the user saw
//! across restarts. See docs/ARCHITECTURE.md.

pub mod alerts;
pub mod backoff;
pub mod cache;
pub mod files;
pub mod notifier;
pub mod plain_http;
pub mod store;
pub mod supervisor;
mod transport;
pub mod view;

pub use alerts::{
    AlertPolicy, Decision, Dnd, PolicyConfig, PolicyCounters, Toast, ToastKind, Urgency,
};
pub use backoff::Backoff;
pub use notifier::{
    run_alerts, spawn_alerts, AlertsTask, Notifier, PolicySettings, RecordingNotifier,
};
pub use plain_http::{plain_remote_host, plain_token_warning};
pub use store::{AlertAck, ClientState, ConnectionState, DataSource, Store, TransportKind, Update};
pub use supervisor::{Client, ClientConfig, Command, TransportMode};
pub use view::{
    connection_view, dashboard_shown, module_shown, ConnectionView, DashboardShown, ModuleShown,
    Tone,
};
