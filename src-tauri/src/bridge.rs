//! Core updates -> the window's update channel and tray state. One enum of
//! front-end messages, with its names in one place; the core never sees an
//! AppHandle.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pulseboard_core::{
    connection_view, dashboard_shown, module_shown, Command, ConnectionState, ConnectionView,
    DashboardShown, DataSource, Dnd, ModuleShown, State, Store, Update,
};
use pulseboard_protocol::{
    Alert, Dashboard, MarkRead, Module, ModuleKpis, Notification, ServerEvent,
};
use serde::Serialize;
use serde_json::Value;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::sync::mpsc;

use crate::tray::{self, MenuId, Tray};
use crate::{open_window, AppCore, View, MAIN_WINDOW};

/// Shortest time between two update batches while updates keep coming.
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
    /// Module KPIs the core accepted (it decided which are newer), in
    /// order, one message each.
    Module {
        /// Wire name (`kpi:update:{module}`), for probes and logs.
        event: &'static str,
        /// The update as accepted.
        data: ModuleKpis,
        /// On the batch's last message of this module: the module as the
        /// core keeps it now (latest KPIs, bounded history), for the page
        /// to swap in. Absent on the earlier ones, which it includes.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        view: Option<ModuleShown>,
    },
    /// A dashboard the core accepted, in order, one message each.
    Dashboard {
        /// Wire name (`dashboard:update`).
        event: &'static str,
        /// The update as accepted.
        data: Dashboard,
        /// On the batch's last dashboard message: the dashboard as the core
        /// keeps it now (with its bounded history), for the page to swap in.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        view: Option<DashboardShown>,
    },
    /// Another server event was accepted (`connection:status`).
    Event {
        /// Wire name.
        event: &'static str,
        /// Wire payload.
        data: Value,
    },
    /// What the core changed in its notification list in this batch: the
    /// page applies it as it is (no dedupe, no bound, no count of its own).
    /// The list stays sorted by `seq` with unique ids, as the core keeps it.
    Notifications {
        /// Accepted as new and still kept, oldest first, as the core holds
        /// them now (read or not): each goes in its `seq`'s place, replacing
        /// one with the same `seq`.
        added: Vec<Notification>,
        /// Ids the core now shows as read.
        read: Vec<String>,
        /// The core keeps no notification with a lower `seq` (it pruned
        /// them): the page drops those.
        #[serde(rename = "keepFrom")]
        keep_from: u64,
        /// The unread count, as the core has it.
        unread: u64,
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

impl UiMessage {
    /// The message for an update the page takes as it is; `None` for the
    /// ones a batch gathers into one message of the core's state
    /// (notifications, alerts).
    fn of(u: Update) -> Option<Self> {
        Some(match u {
            Update::Connection(state) => UiMessage::Connection { state },
            Update::Event(
                ServerEvent::NotificationNew(_)
                | ServerEvent::NotificationRead(_)
                | ServerEvent::AlertSystem(_),
            )
            | Update::UnreadCount(_)
            | Update::NotificationsRead(_) => return None,
            Update::Event(e) => {
                let event = e.name();
                match e {
                    ServerEvent::KpiUpdate(data) => UiMessage::Module {
                        event,
                        data,
                        view: None,
                    },
                    ServerEvent::DashboardUpdate(data) => UiMessage::Dashboard {
                        event,
                        data,
                        view: None,
                    },
                    e => UiMessage::Event {
                        event,
                        data: e.payload(),
                    },
                }
            }
            Update::Source(source) => UiMessage::Source { source },
            Update::Reset(state) => UiMessage::Resync { state, view: None },
            Update::AlertsAcknowledged(ids) => UiMessage::Acknowledged { ids },
        })
    }
}

/// Ask the open window to show a view.
pub fn emit_navigate<R: Runtime>(app: &AppHandle<R>, view: &str) {
    let _ = app.emit_to(MAIN_WINDOW, EVENT_NAVIGATE, view);
}

/// Where the window's updates go: the [`Channel`] its page gave with
/// [`subscribe_updates`] (Tauri's event system is not made for throughput;
/// a channel delivers in order, large batches by fetch instead of a script).
#[derive(Default)]
pub struct Updates(Mutex<Option<Channel>>);

impl Updates {
    /// Send the batches over `channel` from now on (a new page replaces the
    /// channel of the one before it).
    pub fn subscribe(&self, channel: Channel) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(channel);
    }

    fn current(&self) -> Option<Channel> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The page asks for its updates: each batch (a JSON array of
/// [`UiMessage`]s, oldest first) goes over `channel`. It subscribes before
/// it asks `get_state`, so nothing falls between the two.
#[tauri::command]
pub fn subscribe_updates(updates: tauri::State<'_, Updates>, channel: Channel) {
    updates.subscribe(channel);
}

fn emit<R: Runtime>(app: &AppHandle<R>, batch: &[UiMessage]) {
    if batch.is_empty() || app.get_webview_window(MAIN_WINDOW).is_none() {
        return;
    }
    // No page listening yet: its get_state answer will hold all of this.
    let Some(channel) = app.try_state::<Updates>().and_then(|u| u.current()) else {
        return;
    };
    match serde_json::to_string(batch) {
        Ok(json) => {
            if let Err(e) = channel.send(InvokeResponseBody::Json(json)) {
                tracing::debug!("could not reach the window: {e}");
            }
        }
        Err(e) => tracing::warn!("cannot serialise an update batch: {e}"),
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
    /// The notifications or the unread count changed: send the change
    /// after this batch.
    notes: bool,
    /// `seq`s of the notifications the core accepted as new.
    added: Vec<u64>,
    /// Ids the core marked read (the server's or the user's).
    read: Vec<String>,
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
                match &u {
                    Update::Event(ServerEvent::AlertSystem(_)) => self.alerts = true,
                    Update::Event(ServerEvent::NotificationNew(n)) => {
                        self.notes = true;
                        self.added.push(n.seq);
                    }
                    Update::Event(ServerEvent::NotificationRead(r)) => {
                        self.notes = true;
                        self.read.extend(r.ids.iter().cloned());
                    }
                    Update::NotificationsRead(ids) => {
                        self.notes = true;
                        self.read.extend(ids.iter().cloned());
                    }
                    Update::UnreadCount(_) => self.notes = true,
                    _ => {}
                }
                self.messages.extend(UiMessage::of(u));
            }
            Err(RecvError::Lagged(_)) => {
                // Missed updates: the full state replaces everything before it.
                self.messages.clear();
                let state = Box::new(store.snapshot());
                self.messages.push(UiMessage::Resync { state, view: None });
                self.tray = true;
                self.alerts = false;
                self.notes = false;
                self.added.clear();
                self.read.clear();
            }
            Err(RecvError::Closed) => self.closed = true,
        }
    }

    /// The messages to emit: after a wholesale change, the whole state
    /// (which includes every message gathered before it); otherwise the
    /// alert history once if it changed, and the notification list's change
    /// (work in proportion to the change, not to the list).
    fn finish(&mut self, store: &Store) {
        if self.resync {
            self.messages.clear();
            let state = Box::new(store.snapshot());
            self.messages.push(UiMessage::Resync { state, view: None });
            return;
        }
        store.read(|s| attach_views(s, &mut self.messages));
        if self.alerts {
            let alerts = store.read(|s| s.alerts.iter().cloned().collect());
            self.messages.push(UiMessage::Alerts { alerts });
        }
        if self.notes {
            let added = std::mem::take(&mut self.added);
            let read = std::mem::take(&mut self.read);
            self.messages
                .push(store.read(|s| notifications_change(s, &added, read)));
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

/// Give the last message of each module, and the last dashboard message,
/// the view the core keeps now: the page swaps those in and decides nothing
/// (newest-wins, the history's bound and its demo reset are the core's).
fn attach_views(s: &State, messages: &mut [UiMessage]) {
    let mut modules: Vec<Module> = Vec::new();
    let mut dashboard = false;
    for m in messages.iter_mut().rev() {
        match m {
            UiMessage::Module { data, view, .. } if !modules.contains(&data.module) => {
                modules.push(data.module);
                *view = module_shown(s, data.module);
            }
            UiMessage::Dashboard { view, .. } if !dashboard => {
                dashboard = true;
                *view = dashboard_shown(s);
            }
            _ => {}
        }
    }
}

/// The change of the core's notification list: the ones accepted as new
/// (`added` seqs) that it still keeps, as it keeps them now; the ids marked
/// read; where the kept list starts; the unread count.
fn notifications_change(s: &State, added: &[u64], mut read: Vec<String>) -> UiMessage {
    let list = &s.notifications;
    // Kept sorted by seq: each lookup is a binary search.
    let added = added
        .iter()
        .filter_map(|seq| list.binary_search_by_key(seq, |n| n.seq).ok())
        .map(|i| list[i].clone())
        .collect();
    read.sort_unstable();
    read.dedup();
    UiMessage::Notifications {
        added,
        read,
        keep_from: list.front().map_or(s.last_seq + 1, |n| n.seq),
        unread: s.unread_count,
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

/// Whether the connection view can change with the clock alone ("Reconnecting
/// in 3s"): only then does the bridge look at it every second. None: nothing
/// sent yet.
fn counting(sent: Option<&ConnectionView>) -> bool {
    sent.is_none_or(|v| v.counting)
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
                // Only while the view counts down: an idle window gets no
                // wakeups from here (the first tick sends the first view).
                _ = tick.tick(), if counting(sent_view.as_ref()) => {
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

    /// An idle window (Live, nothing arriving) is never woken by the bridge's
    /// clock; a countdown is, once a second.
    #[test]
    fn only_a_countdown_wakes_the_bridge() {
        let now = Utc::now();
        let view = |c: ConnectionState| {
            let mut s = State::empty("http://x");
            s.connection = c;
            s.source = DataSource::Server;
            connection_view(&s, now)
        };
        let live = view(ConnectionState::Live {
            since: now,
            transport: pulseboard_core::TransportKind::Websocket,
        });
        assert!(!counting(Some(&live)), "live: nothing on screen moves");
        let connecting = view(ConnectionState::Connecting {
            server: "http://x".into(),
        });
        assert!(!counting(Some(&connecting)));
        let retrying = view(ConnectionState::Reconnecting {
            attempt: 2,
            next_retry_at: now + chrono::Duration::seconds(5),
            reason: "refused".into(),
        });
        assert!(
            counting(Some(&retrying)),
            "\"Reconnecting in 5s\" counts down"
        );
        assert!(counting(None), "the first tick sends the first view");
    }

    #[test]
    fn messages_have_the_shapes_the_window_reads() {
        let u = Update::Event(ServerEvent::KpiUpdate(sample::module_kpis(
            Module::Hr,
            Utc::now(),
        )));
        let v = serde_json::to_value(UiMessage::of(u)).unwrap();
        assert_eq!(v["type"], "module");
        assert_eq!(v["event"], "kpi:update:hr");
        assert_eq!(v["data"]["module"], "hr");
        assert!(
            UiMessage::of(Update::UnreadCount(3)).is_none(),
            "the count goes in the batch's `notifications` message"
        );
        let v = serde_json::to_value(UiMessage::of(Update::Connection(
            ConnectionState::Unauthorized {
                message: "unauthorized".into(),
            },
        )))
        .unwrap();
        assert_eq!(v["type"], "connection");
        assert_eq!(v["state"]["state"], "unauthorized");
        let v = serde_json::to_value(UiMessage::of(Update::Source(DataSource::Server))).unwrap();
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

    /// Each accepted KPI update goes out in order (what the benchmark probe
    /// times), and the batch's last one per module carries the module as the
    /// core keeps it (bounded history, demo values gone), as does the last
    /// dashboard: the page swaps those in.
    #[test]
    fn kpis_go_out_in_order_with_the_cores_view_on_the_last_of_each_module() {
        use pulseboard_core::store::HISTORY_LEN;
        let now = Utc::now();
        let mut state = pulseboard_core::cache::demo_state("http://x", now);
        // Already on server data (going there is a resync), demo values kept.
        state.source = DataSource::Server;
        let store = Store::new(state);
        let mut rx = store.subscribe();
        let n = HISTORY_LEN + 5;
        for i in 0..n {
            let mut k = sample::module_kpis(Module::Finance, now);
            k.kpis[0].value = i as f64;
            k.updated_at = now + chrono::Duration::seconds(i as i64 + 1);
            store.apply(|s| s.apply_kpis(k, now));
        }
        // Older than what the core has: not accepted, not sent.
        let old = sample::module_kpis(Module::Finance, now);
        store.apply(|s| s.apply_kpis(old, now));
        store.apply(|s| s.apply_kpis(sample::module_kpis(Module::Hr, now), now));
        let mut d = sample::dashboard(now);
        d.summary[0].value = 1.0;
        d.updated_at = now + chrono::Duration::seconds(1);
        store.apply(|s| s.apply_dashboard(d.clone(), now));
        d.summary[0].value = 2.0;
        d.updated_at = now + chrono::Duration::seconds(2);
        store.apply(|s| s.apply_dashboard(d.clone(), now));
        let mut batch = Batch::default();
        batch.drain(&mut rx, &store);
        batch.finish(&store);
        let v = serde_json::to_value(&batch.messages).unwrap();
        let v = v.as_array().unwrap();
        let finance: Vec<&Value> = v
            .iter()
            .filter(|m| m["type"] == "module" && m["data"]["module"] == "finance")
            .collect();
        let values: Vec<f64> = finance
            .iter()
            .map(|m| m["data"]["kpis"][0]["value"].as_f64().unwrap())
            .collect();
        let want: Vec<f64> = (0..n).map(|i| i as f64).collect();
        assert_eq!(values, want, "each accepted one, in order; the old one not");
        assert!(finance[..n - 1].iter().all(|m| m.get("view").is_none()));
        let view = &finance[n - 1]["view"];
        let key = view["latest"]["kpis"][0]["key"].as_str().unwrap();
        let history: Vec<f64> = view["history"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let want: Vec<f64> = (5..n).map(|i| i as f64).collect();
        assert_eq!(history, want, "bounded by the core, no demo point");
        assert_eq!(view["latest"]["kpis"][0]["value"], (n - 1) as f64);
        let hr: Vec<&Value> = v.iter().filter(|m| m["data"]["module"] == "hr").collect();
        assert!(hr.is_empty() || hr.last().unwrap().get("view").is_some());
        let dash: Vec<&Value> = v.iter().filter(|m| m["type"] == "dashboard").collect();
        assert_eq!(dash.len(), 2);
        assert!(dash[0].get("view").is_none());
        let key = d.summary[0].key.as_str();
        assert_eq!(
            dash[1]["view"]["history"][key],
            serde_json::json!([1.0, 2.0])
        );
        assert!(
            !v.iter().any(|m| m["type"] == "event"),
            "no raw KPI event for the page to re-decide: {v:?}"
        );
    }

    /// No rule of the core's store is copied in the page any more.
    #[test]
    fn the_page_holds_no_copy_of_the_stores_bounds() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js/state.js");
        let js = std::fs::read_to_string(path).unwrap();
        for name in ["HISTORY_LEN", "MAX_NOTIFICATIONS"] {
            assert!(!js.contains(name), "ui/js/state.js still has {name}");
        }
    }

    fn note(seq: u64) -> Notification {
        Notification {
            id: format!("n-{seq}"),
            seq,
            title: "t".into(),
            body: "b".into(),
            severity: pulseboard_protocol::NotificationSeverity::Info,
            module: None,
            created_at: Utc::now(),
            read: false,
        }
    }

    /// The batch's `notifications` messages, as JSON.
    fn notes_sent(rx: &mut Receiver<Update>, store: &Store) -> Vec<Value> {
        let mut batch = Batch::default();
        batch.drain(rx, store);
        batch.finish(store);
        let v = serde_json::to_value(&batch.messages).unwrap();
        let all = v.as_array().unwrap();
        assert!(
            !all.iter().any(|m| m["type"] == "event"
                && m["event"].as_str().unwrap().starts_with("notification")),
            "no raw notification event for the page to re-decide: {v}"
        );
        all.iter()
            .filter(|m| m["type"] == "notifications")
            .cloned()
            .collect()
    }

    fn seqs(m: &Value) -> Vec<u64> {
        m["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["seq"].as_u64().unwrap())
            .collect()
    }

    /// The page gets what the core decided about notifications, once per
    /// batch: the ones it accepted (not the repeats, not the ones it pruned
    /// at once), the ids it marked read, where its list starts, its count.
    #[test]
    fn notifications_go_out_as_the_cores_decisions_once_per_batch() {
        use pulseboard_core::store::MAX_NOTIFICATIONS;
        let mut state = State::empty("http://x");
        state.source = DataSource::Server;
        let store = Store::new(state);
        let mut rx = store.subscribe();
        let now = Utc::now();
        store.apply(|s| s.apply_notification(note(2), now));
        store.apply(|s| s.apply_notification(note(1), now));
        store.apply(|s| s.apply_notification(note(2), now));
        let sent = notes_sent(&mut rx, &store);
        assert_eq!(sent.len(), 1, "one message per batch: {sent:?}");
        let mut got = seqs(&sent[0]);
        got.sort_unstable();
        assert_eq!(got, [1, 2], "the repeat of 2 was not sent");
        assert_eq!(sent[0]["unread"], 2);
        assert_eq!(sent[0]["keepFrom"], 1);

        // The user marks one read: Rust's optimistic mark-read, as ids.
        store.apply(|s| s.mark_read_local(MarkRead::Ids(vec!["n-1".into()])));
        let sent = notes_sent(&mut rx, &store);
        assert_eq!(sent[0]["read"], serde_json::json!(["n-1"]));
        assert_eq!(sent[0]["unread"], 1);
        assert!(seqs(&sent[0]).is_empty());

        // Past the bound, the core prunes the oldest: the page is told
        // where the kept list starts, and gets only what is still kept.
        let last = MAX_NOTIFICATIONS as u64 + 10;
        for seq in 3..=last {
            store.apply(|s| s.apply_notification(note(seq), now));
        }
        let mut added = Vec::new();
        let mut keep_from = 0;
        let mut unread = 0;
        while added.len() < MAX_NOTIFICATIONS - 2 {
            let sent = notes_sent(&mut rx, &store);
            assert!(!sent.is_empty(), "every accepted one arrives");
            added.extend(seqs(&sent[0]));
            keep_from = sent[0]["keepFrom"].as_u64().unwrap();
            unread = sent[0]["unread"].as_u64().unwrap();
        }
        assert_eq!(keep_from, 11);
        assert_eq!(added.first(), Some(&11), "the pruned ones are not sent");
        assert_eq!(added.last(), Some(&last));
        assert_eq!(unread, store.read(|s| s.unread_count));
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
