//! Core updates -> webview events and tray state. One enum of front-end
//! messages, with its names in one place; the core never sees an AppHandle.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pulseboard_core::{
    connection_view, Command, ConnectionState, ConnectionView, DataSource, Dnd, State, Store,
    Update,
};
use pulseboard_protocol::{Alert, MarkRead, ServerEvent};
use serde::Serialize;
use serde_json::Value;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::sync::mpsc;

use crate::tray::{self, MenuId, Tray};
use crate::{open_window, AppCore, View, MAIN_WINDOW};

/// Event carrying a batch (JSON array) of [`UiMessage`]s, oldest first.
pub const EVENT_UPDATE: &str = "pb:update";
/// Shortest time between two `pb:update` emits while updates keep coming.
/// Each emit is a script evaluation in the webview, which draws at most once
/// per display frame anyway: under a flood, one batch per frame instead of
/// one evaluation per event. A quiet stream is emitted after [`GATHER`].
pub const EMIT_INTERVAL: Duration = Duration::from_millis(16);
/// How long the first message of a quiet stream waits for the rest of its
/// burst (the simulator's four modules, a backend's batch), so one burst is
/// one batch and one redraw, not two.
pub const GATHER: Duration = Duration::from_millis(4);
/// Most messages in one batch.
const MAX_BATCH: usize = 1024;
/// Event asking the window to show a view (`home|dashboard|notifications|settings`).
pub const EVENT_NAVIGATE: &str = "pb:navigate";

/// What the window is told. Payloads were validated in Rust before this.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum UiMessage {
    /// Connection state changed.
    Connection {
        /// New state.
        state: ConnectionState,
    },
    /// A server event was accepted.
    Event {
        /// Wire name.
        event: &'static str,
        /// Wire payload.
        data: Value,
    },
    /// Unread count changed.
    Unread {
        /// New count.
        count: u64,
    },
    /// Data source changed.
    Source {
        /// New source.
        source: DataSource,
    },
    /// The alert history as the core keeps it (oldest first, unique ids, at
    /// most `MAX_ALERTS`): replaces the page's. Sent instead of each
    /// `alert:system` event, once per batch.
    Alerts {
        /// Every kept alert.
        alerts: Vec<Alert>,
    },
    /// Alerts acknowledged (every acknowledged id kept, sorted).
    Acknowledged {
        /// Alert ids.
        ids: Vec<String>,
    },
    /// Replace everything (after falling behind, and on going Live, so the
    /// window shows exactly what the core holds once caught up).
    Resync {
        /// Full state.
        state: Box<State>,
        /// The connection's words, when they changed too (absent: as
        /// before), so a resync stays one message.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        view: Option<ConnectionView>,
    },
    /// What the user is told about the connection changed (the pill, its
    /// tooltip): sent after any change, and each second while a countdown
    /// runs. The page draws it as it is.
    #[serde(rename = "connection-view")]
    ConnectionView {
        /// The words, the tone, whether the data is stale.
        view: ConnectionView,
    },
}

impl From<Update> for UiMessage {
    fn from(u: Update) -> Self {
        match u {
            Update::Connection(state) => UiMessage::Connection { state },
            Update::Event(e) => UiMessage::Event {
                event: e.name(),
                data: e.payload(),
            },
            Update::UnreadCount(count) => UiMessage::Unread { count },
            Update::Source(source) => UiMessage::Source { source },
            Update::Reset(state) => UiMessage::Resync { state, view: None },
            Update::AlertsAcknowledged(ids) => UiMessage::Acknowledged { ids },
        }
    }
}

/// Ask the open window to show a view.
pub fn emit_navigate<R: Runtime>(app: &AppHandle<R>, view: &str) {
    let _ = app.emit_to(MAIN_WINDOW, EVENT_NAVIGATE, view);
}

fn emit<R: Runtime>(app: &AppHandle<R>, batch: &[UiMessage]) {
    if batch.is_empty() {
        return;
    }
    if app.get_webview_window(MAIN_WINDOW).is_some() {
        if let Err(e) = app.emit_to(MAIN_WINDOW, EVENT_UPDATE, batch) {
            tracing::debug!("could not reach the window: {e}");
        }
    }
}

/// Messages for the window, gathered between two emits.
#[derive(Default)]
struct Batch {
    messages: Vec<UiMessage>,
    /// Something the tray shows changed.
    tray: bool,
    /// The core is gone.
    closed: bool,
    /// The data may have been replaced wholesale (Live after a catch-up, or
    /// another data source): send the whole state after this batch.
    resync: bool,
    /// The alert history changed: send it after this batch.
    alerts: bool,
    /// Updates taken.
    taken: usize,
}

impl Batch {
    fn add(&mut self, r: Result<Update, RecvError>, store: &Store) {
        self.taken += 1;
        match r {
            Ok(u) => {
                if !matches!(
                    u,
                    Update::Event(ServerEvent::KpiUpdate(_))
                        | Update::Event(ServerEvent::DashboardUpdate(_))
                ) {
                    self.tray = true;
                }
                if matches!(
                    u,
                    Update::Connection(ConnectionState::Live { .. }) | Update::Source(_)
                ) {
                    self.resync = true;
                }
                if matches!(u, Update::Event(ServerEvent::AlertSystem(_))) {
                    self.alerts = true;
                } else {
                    self.messages.push(UiMessage::from(u));
                }
            }
            Err(RecvError::Lagged(_)) => {
                // Missed updates: the full state replaces everything before it.
                self.messages.clear();
                let state = Box::new(store.snapshot());
                self.messages.push(UiMessage::Resync { state, view: None });
                self.tray = true;
                self.alerts = false;
            }
            Err(RecvError::Closed) => self.closed = true,
        }
    }

    /// The messages to emit: after a wholesale change, the whole state
    /// (which includes every message gathered before it); the alert history
    /// once if it changed.
    fn finish(&mut self, store: &Store) {
        if self.resync {
            self.messages.clear();
            let state = Box::new(store.snapshot());
            self.messages.push(UiMessage::Resync { state, view: None });
        } else if self.alerts {
            let alerts = store.read(|s| s.alerts.iter().cloned().collect());
            self.messages.push(UiMessage::Alerts { alerts });
        }
    }

    /// Take what is already waiting, without blocking.
    fn drain(&mut self, rx: &mut Receiver<Update>, store: &Store) {
        while self.taken < MAX_BATCH && !self.closed {
            match rx.try_recv() {
                Ok(u) => self.add(Ok(u), store),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(n)) => self.add(Err(RecvError::Lagged(n)), store),
                Err(TryRecvError::Closed) => self.add(Err(RecvError::Closed), store),
            }
        }
    }
}

/// Show the current state in the tray (no-op without a tray).
pub fn refresh_tray<R: Runtime>(app: &AppHandle<R>, core: &AppCore) {
    refresh_tray_at(app, core, Utc::now());
}

/// Show the state at `now` in the tray (no-op without a tray).
fn refresh_tray_at<R: Runtime>(app: &AppHandle<R>, core: &AppCore, now: DateTime<Utc>) {
    if let Some(t) = app.try_state::<Tray<R>>() {
        let dnd = core.settings().dnd;
        let look = core.store().read(|s| tray::look(s, dnd, now));
        t.show(look);
    }
}

/// The connection view at `now`, when it differs from the one last sent.
fn changed_view(
    store: &Store,
    now: DateTime<Utc>,
    sent: &mut Option<ConnectionView>,
) -> Option<ConnectionView> {
    let view = store.read(|s| connection_view(s, now));
    if sent.as_ref() == Some(&view) {
        return None;
    }
    *sent = Some(view.clone());
    Some(view)
}

/// Start draining core updates and view requests.
pub fn spawn<R: Runtime>(app: AppHandle<R>, mut ui_rx: mpsc::UnboundedReceiver<View>) {
    let core = app.state::<AppCore>();
    let mut rx = core.store().subscribe();
    refresh_tray(&app, &core);
    let app2 = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(view) = ui_rx.recv().await {
            if let Err(e) = open_window(&app2, view) {
                tracing::warn!("cannot open the window: {e}");
            }
        }
    });
    tauri::async_runtime::spawn(async move {
        // Countdowns ("Reconnecting in 3s") move once a second, in the tray
        // and in the window: Rust words them, the page only draws.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_emit: Option<Instant> = None;
        let mut sent_view: Option<ConnectionView> = None;
        loop {
            let core = app.state::<AppCore>();
            tokio::select! {
                r = rx.recv() => {
                    let mut batch = Batch::default();
                    batch.add(r, core.store());
                    // Under load, wait out the interval and take everything
                    // that came meanwhile; a quiet stream waits only for the
                    // rest of its burst.
                    let wait = last_emit
                        .map(|t| EMIT_INTERVAL.saturating_sub(t.elapsed()))
                        .unwrap_or_default()
                        .max(GATHER);
                    tokio::time::sleep(wait).await;
                    batch.drain(&mut rx, core.store());
                    batch.finish(core.store());
                    let now = Utc::now();
                    if let Some(view) = batch
                        .tray
                        .then(|| changed_view(core.store(), now, &mut sent_view))
                        .flatten()
                    {
                        // A resync carries it; otherwise it goes on its own.
                        match batch.messages.last_mut() {
                            Some(UiMessage::Resync { view: v, .. }) => *v = Some(view),
                            _ => batch.messages.push(UiMessage::ConnectionView { view }),
                        }
                    }
                    emit(&app, &batch.messages);
                    last_emit = Some(Instant::now());
                    if batch.tray {
                        refresh_tray_at(&app, &core, now);
                    }
                    if batch.closed {
                        break;
                    }
                },
                _ = tick.tick() => {
                    let now = Utc::now();
                    if let Some(view) = changed_view(core.store(), now, &mut sent_view) {
                        emit(&app, &[UiMessage::ConnectionView { view }]);
                        refresh_tray_at(&app, &core, now);
                    }
                }
            }
        }
    });
}

fn set_dnd<R: Runtime>(app: &AppHandle<R>, core: &AppCore, dnd: Dnd) {
    let mut s = core.settings();
    s.dnd = dnd;
    // Applied even when it cannot be saved: the click still counts for now.
    if let Err(e) = core.settings_dir().save(&s) {
        tracing::warn!("could not save settings: {e}");
    }
    crate::commands::apply_settings(app, core, s, None);
}

/// Handle a tray menu click.
pub fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(core) = app.try_state::<AppCore>() else {
        return;
    };
    let open = |v| {
        if let Err(e) = open_window(app, v) {
            tracing::warn!("cannot open the window: {e}");
        }
    };
    match MenuId::parse(id) {
        Some(MenuId::Open) => open(View::Home),
        Some(MenuId::Alert) => open(View::Alerts),
        Some(MenuId::Unread) => open(View::Notifications),
        Some(MenuId::Settings) => open(View::Settings),
        Some(MenuId::MarkAllRead) => core.command(Command::MarkRead(MarkRead::All)),
        Some(MenuId::Reconnect) => core.command(Command::Reconnect),
        Some(MenuId::DndOff) => set_dnd(app, &core, Dnd::Off),
        Some(MenuId::DndOn) => set_dnd(app, &core, Dnd::On),
        Some(MenuId::DndSilence) => set_dnd(app, &core, Dnd::SilenceAll),
        Some(MenuId::Quit) => {
            core.set_quitting();
            app.exit(0);
        }
        Some(MenuId::Status) | None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulseboard_protocol::{sample, Module};

    #[test]
    fn messages_have_the_shapes_the_window_reads() {
        let u = Update::Event(ServerEvent::KpiUpdate(sample::module_kpis(
            Module::Hr,
            Utc::now(),
        )));
        let v = serde_json::to_value(UiMessage::from(u)).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["event"], "kpi:update:hr");
        assert_eq!(v["data"]["module"], "hr");
        let v = serde_json::to_value(UiMessage::from(Update::UnreadCount(3))).unwrap();
        assert_eq!(v, serde_json::json!({"type": "unread", "count": 3}));
        let v = serde_json::to_value(UiMessage::from(Update::Connection(
            ConnectionState::Unauthorized {
                message: "unauthorized".into(),
            },
        )))
        .unwrap();
        assert_eq!(v["type"], "connection");
        assert_eq!(v["state"]["state"], "unauthorized");
        let v = serde_json::to_value(UiMessage::from(Update::Source(DataSource::Server))).unwrap();
        assert_eq!(v["source"]["kind"], "server");
    }

    /// Every type declaration `T` needs (itself included), once each.
    #[derive(Default)]
    struct Decls {
        seen: std::collections::BTreeSet<String>,
        out: std::collections::BTreeMap<String, String>,
    }

    impl ts_rs::TypeVisitor for Decls {
        fn visit<T: ts_rs::TS + 'static + ?Sized>(&mut self) {
            let cfg = ts_rs::Config::new().with_large_int("number");
            if T::output_path().is_none() || !self.seen.insert(T::name(&cfg)) {
                return;
            }
            let docs = T::docs()
                .map(|d| format!("{}\n", d.trim_end()))
                .unwrap_or_default();
            self.out
                .insert(T::name(&cfg), format!("{docs}export {}\n", T::decl(&cfg)));
            T::visit_dependencies(self);
        }
    }

    /// ui/js/types.d.ts as the Rust types make it.
    fn ipc_types() -> String {
        use ts_rs::TypeVisitor;
        let mut d = Decls::default();
        d.visit::<UiMessage>();
        d.visit::<crate::commands::Snapshot>();
        d.visit::<crate::commands::UiSettings>();
        d.visit::<crate::connection_test::ConnectionTest>();
        let mut out = String::from(
            "// Generated from the Rust types by src-tauri/src/bridge.rs\n\
             // (test `ipc_types_are_current`): do not edit. After changing a type,\n\
             // PULSEBOARD_WRITE_TYPES=1 cargo test -p pulseboard --lib ipc_types\n\
             // writes it again.\n\n",
        );
        for decl in d.out.values() {
            out.push_str(decl);
            out.push('\n');
        }
        out
    }

    /// What the page reads is what Rust sends: ui/js/types.d.ts (which tsc
    /// checks ui/js against) must match the Rust types.
    #[test]
    fn ipc_types_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js/types.d.ts");
        let want = ipc_types();
        if std::env::var_os("PULSEBOARD_WRITE_TYPES").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "ui/js/types.d.ts is stale: run PULSEBOARD_WRITE_TYPES=1 cargo test -p pulseboard --lib ipc_types"
        );
    }

    fn alert(id: &str) -> Alert {
        Alert {
            id: id.into(),
            severity: pulseboard_protocol::AlertSeverity::Critical,
            title: "Disk full".into(),
            message: "/var at 97%".into(),
            created_at: Utc::now(),
        }
    }

    /// The alert history goes out as the core keeps it (deduped, bounded),
    /// once per batch, instead of the events: the page only swaps it.
    #[test]
    fn alerts_go_out_as_the_cores_list_once_per_batch() {
        let mut state = State::empty("http://x");
        state.source = DataSource::Server;
        let store = Store::new(state);
        let mut rx = store.subscribe();
        store.apply(|s| s.apply_alert(alert("a-1"), Utc::now()));
        store.apply(|s| s.apply_alert(alert("a-1"), Utc::now()));
        store.apply(|s| s.apply_alert(alert("a-2"), Utc::now()));
        let mut batch = Batch::default();
        batch.drain(&mut rx, &store);
        batch.finish(&store);
        let v = serde_json::to_value(&batch.messages).unwrap();
        let alerts: Vec<&Value> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == "alerts")
            .collect();
        assert_eq!(alerts.len(), 1, "{v}");
        let ids: Vec<&str> = alerts[0]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a-1", "a-2"], "the repeat of a-1 was not kept");
        assert!(
            !v.as_array().unwrap().iter().any(|m| m["type"] == "event"),
            "no raw alert:system event for the page to dedupe: {v}"
        );
    }

    /// The page still applies two bounds of the core store to the events it
    /// gets (KPI history, notifications kept). Until those rules move to
    /// Rust, the copies must not drift: this fails when one side changes.
    #[test]
    fn the_pages_copies_of_the_stores_bounds_match_the_core() {
        use pulseboard_core::store::{HISTORY_LEN, MAX_NOTIFICATIONS};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js/state.js");
        let js = std::fs::read_to_string(path).unwrap();
        for (name, want) in [
            ("HISTORY_LEN", HISTORY_LEN),
            ("MAX_NOTIFICATIONS", MAX_NOTIFICATIONS),
        ] {
            let line = format!("export const {name} = {want};");
            assert!(js.contains(&line), "ui/js/state.js must say `{line}`");
        }
    }

    #[test]
    fn the_connection_view_goes_out_as_rust_worded_it() {
        let mut s = State::empty("http://x");
        s.source = DataSource::Server;
        s.connection = ConnectionState::Unauthorized {
            message: "unauthorized".into(),
        };
        let view = connection_view(&s, Utc::now());
        let v = serde_json::to_value(UiMessage::ConnectionView { view }).unwrap();
        assert_eq!(v["type"], "connection-view");
        assert_eq!(v["view"]["text"], "Unauthorized, check the token");
        assert_eq!(v["view"]["tone"], "error");
        assert_eq!(v["view"]["stale"], true);
    }
}
