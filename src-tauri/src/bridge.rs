//! Core updates -> the window's update channel. One enum of front-end
//! messages, with its names in one place; the core never sees an AppHandle.
//! The tray (its look and its menu) is `tray.rs`'s: this loop only tells it
//! when what it shows may have changed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pulseboard_core::{
    connection_view, dashboard_shown, module_shown, ClientState, ConnectionState, ConnectionView,
    DashboardShown, DataSource, ModuleShown, Store, Update,
};
use pulseboard_protocol::{Alert, Dashboard, Module, ModuleKpis, Notification, ServerEvent};
use serde::Serialize;
use serde_json::Value;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use crate::tray;
use crate::{AppCore, MAIN_WINDOW};

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
        state: Box<ClientState>,
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
/// a channel delivers in order, large batches by fetch instead of a script),
/// and what that page was sent of each KPI history.
#[derive(Default)]
pub struct Updates(Mutex<Page>);

#[derive(Default)]
struct Page {
    channel: Option<Channel>,
    sent: Sent,
}

/// What the page was sent of each KPI history: the store's history
/// generation ([`ClientState::history_gen`]) when the last view of it was read.
/// The next view carries only the values added after that; a history not
/// here goes whole (and so does one that started over).
#[derive(Debug, Default)]
struct Sent {
    modules: BTreeMap<Module, u64>,
    dashboard: Option<u64>,
}

impl Updates {
    /// Send the batches over `channel` from now on (a new page replaces the
    /// channel of the one before it, and gets each history whole first).
    pub fn subscribe(&self, channel: Channel) {
        let mut page = self.page();
        page.channel = Some(channel);
        page.sent = Sent::default();
    }

    /// The page takes a whole state (`get_state`'s, read by `read`): what
    /// it was sent before is replaced, so the next view of each history goes
    /// whole. No batch is made while `read` runs, so every view made after
    /// it is whole until the page was sent one.
    pub fn restart<T>(&self, read: impl FnOnce() -> T) -> T {
        let mut page = self.page();
        page.sent = Sent::default();
        read()
    }

    fn page(&self) -> std::sync::MutexGuard<'_, Page> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current(&self) -> Option<Channel> {
        self.page().channel.clone()
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
    /// The KPI views carry only the history values the page was not sent
    /// (`sent`, which this updates), or whole histories after a resync.
    fn finish(&mut self, store: &Store, sent: &mut Sent) {
        if self.resync {
            self.messages.clear();
            let state = Box::new(store.snapshot());
            self.messages.push(UiMessage::Resync { state, view: None });
            *sent = Sent::default();
            return;
        }
        // A whole state in the batch (the bridge fell behind, or the core
        // replaced its state): the page's copies before it are gone, so the
        // views after it, and the next of every other history, go whole.
        let after = match self
            .messages
            .iter()
            .rposition(|m| matches!(m, UiMessage::Resync { .. }))
        {
            Some(i) => {
                *sent = Sent::default();
                i + 1
            }
            None => 0,
        };
        store.read(|s| attach_views(s, &mut self.messages[after..], sent));
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
/// the view the core keeps now: the latest values and the history values
/// added since the page's last view of it (`sent`), or the whole history
/// when it has none or the history started over. The page swaps the latest
/// in, extends its history and trims it to the bound sent; it decides
/// nothing (newest-wins, the bound and the demo reset are the core's).
fn attach_views(s: &ClientState, messages: &mut [UiMessage], sent: &mut Sent) {
    let gen = s.history_gen();
    let mut modules: Vec<Module> = Vec::new();
    let mut dashboard = false;
    for m in messages.iter_mut().rev() {
        match m {
            UiMessage::Module { data, view, .. } if !modules.contains(&data.module) => {
                modules.push(data.module);
                *view = module_shown(s, data.module, sent.modules.get(&data.module).copied());
                if let Some(v) = view {
                    sent.modules.insert(data.module, gen);
                    if v.latest.as_ref() == Some(data) {
                        v.latest = None;
                    }
                }
            }
            UiMessage::Dashboard { data, view, .. } if !dashboard => {
                dashboard = true;
                *view = dashboard_shown(s, sent.dashboard);
                if let Some(v) = view {
                    sent.dashboard = Some(gen);
                    if v.latest.as_ref() == Some(data) {
                        v.latest = None;
                    }
                }
            }
            _ => {}
        }
    }
}

/// The change of the core's notification list: the ones accepted as new
/// (`added` seqs) that it still keeps, as it keeps them now; the ids marked
/// read; where the kept list starts; the unread count.
fn notifications_change(s: &ClientState, added: &[u64], mut read: Vec<String>) -> UiMessage {
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

/// Start forwarding core updates to the window (and telling the tray when
/// what it shows may have changed).
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    let core = app.state::<AppCore>();
    let mut rx = core.store().subscribe();
    tray::refresh(&app);
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
                    match app.try_state::<Updates>() {
                        Some(u) => batch.finish(core.store(), &mut u.page().sent),
                        None => batch.finish(core.store(), &mut Sent::default()),
                    }
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
                        tray::refresh_at(&app, now);
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
                        tray::refresh_at(&app, now);
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulseboard_protocol::{sample, MarkRead, Module};

    /// An idle window (Live, nothing arriving) is never woken by the bridge's
    /// clock; a countdown is, once a second.
    #[test]
    fn only_a_countdown_wakes_the_bridge() {
        let now = Utc::now();
        let view = |c: ConnectionState| {
            let mut s = ClientState::empty("http://x");
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
        let mut state = ClientState::empty("http://x");
        state.source = DataSource::Server;
        let store = Store::new(state);
        let mut rx = store.subscribe();
        store.apply(|s| s.apply_alert(alert("a-1"), Utc::now()));
        store.apply(|s| s.apply_alert(alert("a-1"), Utc::now()));
        store.apply(|s| s.apply_alert(alert("a-2"), Utc::now()));
        let mut batch = Batch::default();
        batch.drain(&mut rx, &store);
        batch.finish(&store, &mut Sent::default());
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

    /// A store already on server data (going there is a resync) that still
    /// holds the demo values.
    fn server_store(now: DateTime<Utc>) -> Store {
        let mut state = pulseboard_core::cache::demo_state("http://x", now);
        state.source = DataSource::Server;
        Store::new(state)
    }

    /// Each accepted KPI update goes out in order (what the benchmark probe
    /// times), and the batch's last one per module carries the module as the
    /// core keeps it (bounded history, demo values gone), as does the last
    /// dashboard: the page swaps those in.
    #[test]
    fn kpis_go_out_in_order_with_the_cores_view_on_the_last_of_each_module() {
        use pulseboard_core::store::HISTORY_LEN;
        let now = Utc::now();
        let store = server_store(now);
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
        batch.finish(&store, &mut Sent::default());
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
        assert!(
            view.get("latest").is_none(),
            "the latest is the message's data: not sent twice"
        );
        assert_eq!(view["full"], true, "a first view is whole");
        let key = finance[n - 1]["data"]["kpis"][0]["key"].as_str().unwrap();
        let history: Vec<f64> = view["history"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let want: Vec<f64> = (5..n).map(|i| i as f64).collect();
        assert_eq!(history, want, "bounded by the core, no demo point");
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

    /// One update of each module, at step `i`, values moving as a
    /// simulator's do (two decimals).
    fn burst(store: &Store, i: usize, now: DateTime<Utc>) {
        for m in Module::ALL {
            let mut k = sample::module_kpis(m, now);
            for (j, kpi) in k.kpis.iter_mut().enumerate() {
                let wave = ((i * 7 + j * 13) % 17) as f64 / 100.0;
                kpi.value = (kpi.value * (1.0 + wave) * 100.0).round() / 100.0;
            }
            k.updated_at = now + chrono::Duration::milliseconds(i as i64 + 1);
            store.apply(|s| s.apply_kpis(k, now));
        }
    }

    /// The page's copy of each module's history, kept from the `module`
    /// messages as ui/js/state.js keeps it: a whole history replaces it,
    /// added values are appended and trimmed to the bound the message says.
    fn take_views(page: &mut BTreeMap<String, Value>, messages: &[Value]) {
        for m in messages.iter().filter(|m| m["type"] == "module") {
            let Some(view) = m.get("view") else { continue };
            let latest = view.get("latest").unwrap_or(&m["data"]);
            let module = latest["module"].as_str().unwrap().to_string();
            let keep = view["keep"].as_u64().unwrap() as usize;
            let old = page.remove(&module).unwrap_or(Value::Null);
            let mut next = serde_json::Map::new();
            for (key, added) in view["history"].as_object().unwrap() {
                let mut h: Vec<Value> = match (view["full"].as_bool().unwrap(), &old[key]) {
                    (false, Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                };
                h.extend(added.as_array().unwrap().iter().cloned());
                let drop = h.len().saturating_sub(keep);
                next.insert(key.clone(), Value::Array(h.split_off(drop)));
            }
            page.insert(module, Value::Object(next));
        }
    }

    /// Under a stream of bursts, the page is sent only the history values
    /// it has not got, and what it builds from them is the history the core
    /// holds; a new page (or one that took get_state) gets it whole again.
    /// Prints a four-module burst's batch size with whole histories (as
    /// before) and with only what was added (BENCHMARKS.md).
    #[test]
    fn kpi_views_carry_only_what_the_page_lacks_and_rebuild_the_cores_history() {
        use pulseboard_core::store::HISTORY_LEN;
        let now = Utc::now();
        let store = server_store(now);
        let mut rx = store.subscribe();
        let mut sent = Sent::default();
        let mut page = BTreeMap::new();
        let mut i = 0;
        for bursts in [1, 2, 1, HISTORY_LEN + 3, 1, 5, 1] {
            for _ in 0..bursts {
                i += 1;
                burst(&store, i, now);
            }
            let mut batch = Batch::default();
            batch.drain(&mut rx, &store);
            batch.finish(&store, &mut sent);
            let v = serde_json::to_value(&batch.messages).unwrap();
            take_views(&mut page, v.as_array().unwrap());
            let core: BTreeMap<String, Value> = store.read(|s| {
                s.modules
                    .iter()
                    .map(|(m, v)| (m.to_string(), serde_json::to_value(&v.history).unwrap()))
                    .collect()
            });
            assert_eq!(page, core, "after {i} bursts");
        }
        // Full histories; now one more burst, sent both ways.
        let mut fresh = store.subscribe();
        i += 1;
        burst(&store, i, now);
        let size = |rx: &mut Receiver<Update>, sent: &mut Sent| {
            let mut batch = Batch::default();
            batch.drain(rx, &store);
            batch.finish(&store, sent);
            let json = serde_json::to_string(&batch.messages).unwrap();
            let v: Value = serde_json::from_str(&json).unwrap();
            (json.len(), v)
        };
        let (whole, v) = size(&mut fresh, &mut Sent::default());
        let views = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m.get("view").is_some());
        assert_eq!(views.clone().count(), 4);
        assert!(views.clone().all(|m| m["view"]["full"] == true));
        // The same batch as it went before only the added values were sent:
        // each view with the whole history and the latest KPIs again.
        let mut before = v.clone();
        for m in before.as_array_mut().unwrap() {
            let data = m["data"].clone();
            if let Some(view) = m.get_mut("view").and_then(Value::as_object_mut) {
                view.remove("full");
                view.remove("keep");
                view.insert("latest".into(), data);
            }
        }
        let before = serde_json::to_string(&before).unwrap().len();
        let (added, v) = size(&mut rx, &mut sent);
        let views: Vec<&Value> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m.get("view").is_some())
            .collect();
        assert_eq!(views.len(), 4);
        for m in &views {
            assert_eq!(m["view"]["full"], false);
            for h in m["view"]["history"].as_object().unwrap().values() {
                assert_eq!(h.as_array().unwrap().len(), 1, "one value per key: {m}");
            }
        }
        take_views(&mut page, v.as_array().unwrap());
        let core = store.read(|s| serde_json::to_value(&s.modules[&Module::Hr].history).unwrap());
        assert_eq!(page["hr"], core);
        println!(
            "four-module burst, batch JSON: {before} bytes as before (whole histories, latest twice), \
             {whole} bytes whole, {added} bytes with only the added values"
        );
        assert!(added * 2 < whole, "{added} vs {whole}");
        // Below Tauri's 8 KiB limit for a channel message sent by script.
        assert!(added < 8192, "{added}");
        // A page that took a whole state gets whole histories next.
        let updates = Updates::default();
        updates.page().sent = sent;
        updates.restart(|| ());
        i += 1;
        burst(&store, i, now);
        let (_, v) = size(&mut rx, &mut updates.page().sent);
        assert!(v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m.get("view"))
            .all(|view| view["full"] == true));
    }

    /// A whole state in the middle of a batch (the core's `Reset`) replaces
    /// the page's copies: no view before it, whole views after it and next.
    #[test]
    fn after_a_whole_state_in_a_batch_the_kpi_views_go_whole() {
        let now = Utc::now();
        let store = server_store(now);
        let mut rx = store.subscribe();
        let mut sent = Sent::default();
        let views = |rx: &mut Receiver<Update>, sent: &mut Sent| {
            let mut batch = Batch::default();
            batch.drain(rx, &store);
            batch.finish(&store, sent);
            let v = serde_json::to_value(&batch.messages).unwrap();
            v.as_array()
                .unwrap()
                .iter()
                .filter(|m| m["type"] == "module")
                .map(|m| {
                    (
                        m["data"]["module"].as_str().unwrap().to_string(),
                        m["view"]["full"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        burst(&store, 1, now);
        burst(&store, 2, now);
        assert!(views(&mut rx, &mut sent)
            .iter()
            .all(|(_, f)| f.is_null() || f == true));
        burst(&store, 3, now);
        let got = views(&mut rx, &mut sent);
        assert!(got.iter().all(|(_, f)| f == false), "warm: {got:?}");
        // finance, then the core's whole state, then hr.
        let mut k = sample::module_kpis(Module::Finance, now);
        k.updated_at = now + chrono::Duration::seconds(10);
        store.apply(|s| s.apply_kpis(k, now));
        store.apply(|s| vec![Update::Reset(Box::new(s.clone()))]);
        let mut k = sample::module_kpis(Module::Hr, now);
        k.updated_at = now + chrono::Duration::seconds(10);
        store.apply(|s| s.apply_kpis(k, now));
        let got = views(&mut rx, &mut sent);
        assert_eq!(
            got,
            vec![
                ("finance".to_string(), Value::Null),
                ("hr".to_string(), Value::Bool(true))
            ],
            "no view before the whole state, a whole one after"
        );
        burst(&store, 4, now);
        let got = views(&mut rx, &mut sent);
        assert!(
            got.iter().all(|(_, f)| f == true),
            "every history whole next: {got:?}"
        );
    }

    /// What a page receives of the KPIs under bursts of updates (every
    /// message with a view, in order, from its `get_state` on, with one more
    /// `get_state` midway), and the histories the core holds after it:
    /// `src-tauri/tests/fixtures/kpi-views.json`, which the page's own test
    /// (ui/test/state.test.js) replays through ui/js/state.js and compares.
    fn kpi_views_fixture() -> String {
        use chrono::TimeZone;
        use pulseboard_core::store::HISTORY_LEN;
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let mut state = pulseboard_core::cache::demo_state("http://x", t0);
        state.connection = ConnectionState::Connecting {
            server: String::new(),
        };
        let store = Store::new(state);
        let mut rx = store.subscribe();
        let updates = Updates::default();
        let get_state = || {
            let state = updates.restart(|| store.snapshot());
            serde_json::json!({"type": "resync", "state": state})
        };
        let mut stream = vec![get_state()];
        let mut i: usize = 0;
        for bursts in [1, 2, HISTORY_LEN + 1, 1, 3, 0, 2, 1, 4] {
            if bursts == 0 {
                stream.push(get_state());
                continue;
            }
            for _ in 0..bursts {
                i += 1;
                let at = t0 + chrono::Duration::seconds(i as i64);
                for m in [Module::Hr] {
                    let mut k = sample::module_kpis(m, at);
                    for (j, kpi) in k.kpis.iter_mut().enumerate() {
                        kpi.value = (i * 10 + j) as f64 + 0.25;
                    }
                    // Another set of keys for a while: the history starts over.
                    if m == Module::Hr && (66..=67).contains(&i) {
                        k.kpis.truncate(2);
                    }
                    store.apply(|s| s.apply_kpis(k, t0));
                }
                let mut d = sample::dashboard(at);
                d.summary[0].value = i as f64;
                store.apply(|s| s.apply_dashboard(d, t0));
            }
            let mut batch = Batch::default();
            batch.drain(&mut rx, &store);
            batch.finish(&store, &mut updates.page().sent);
            let v = serde_json::to_value(&batch.messages).unwrap();
            stream.extend(
                v.as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m.get("view").is_some())
                    .cloned(),
            );
        }
        let core = store.read(|s| {
            serde_json::json!({
                "modules": { "hr": s.modules[&Module::Hr].history },
                "dashboard": s.dashboard_history,
            })
        });
        // One message a line: small, and a change shows where it is.
        let line = |v: &Value| serde_json::to_string(v).unwrap();
        let messages: Vec<String> = stream.iter().map(line).collect();
        format!(
            "{{\"about\": {},\n\"messages\": [\n{}\n],\n\"core\": {}\n}}\n",
            line(&Value::from(
                "Generated by src-tauri/src/bridge.rs (test kpi_views_fixture_is_current): what a page \
                 receives of the KPIs under bursts, and the histories the core holds after it. \
                 PULSEBOARD_WRITE_TYPES=1 cargo test -p pulseboard --lib kpi_views_fixture writes it again."
            )),
            messages.join(",\n"),
            line(&core)
        )
    }

    /// The page's replay of Rust's KPI views (ui/test/state.test.js) runs on
    /// what this Rust sends now.
    #[test]
    fn kpi_views_fixture_is_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kpi-views.json");
        let want = kpi_views_fixture();
        let v: Value = serde_json::from_str(&want).unwrap();
        let views = v["messages"].as_array().unwrap();
        assert!(views.iter().any(|m| m["view"]["full"] == false));
        assert!(views.iter().any(|m| m["view"]["full"] == true));
        if std::env::var_os("PULSEBOARD_WRITE_TYPES").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run PULSEBOARD_WRITE_TYPES=1 cargo test -p pulseboard --lib kpi_views_fixture",
            path.display()
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
        batch.finish(store, &mut Sent::default());
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
        let mut state = ClientState::empty("http://x");
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
        let mut s = ClientState::empty("http://x");
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
