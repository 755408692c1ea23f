//! The state a user sees, and the typed updates it emits.
//!
//! [`ClientState`] is plain data with pure methods (time is passed in), so every rule
//! (dedupe by `seq`, newest-wins for KPIs, optimistic mark-read, bounded
//! history) is unit-tested without a server. [`Store`] wraps it for sharing
//! between the supervisor, the cache writer and the UI bridge.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use pulseboard_protocol::{
    Alert, Dashboard, MarkRead, Module, ModuleKpis, Notification, NotificationRead, ServerEvent,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Values kept per KPI for sparklines.
pub const HISTORY_LEN: usize = 60;
/// Notifications kept in memory and in the cache; older ones stay on the server.
pub const MAX_NOTIFICATIONS: usize = 500;
/// Recent alerts kept for the banner and for dedupe.
pub const MAX_ALERTS: usize = 100;

/// Which transport a live connection uses.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// WebSocket.
    Websocket,
    /// HTTP long-polling.
    Polling,
}

/// What the connection is doing, as a user should be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "state",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum ConnectionState {
    /// First connection attempt in progress.
    Connecting {
        /// Server URL.
        server: String,
    },
    /// Connected, subscribed and caught up.
    Live {
        /// Since when.
        since: DateTime<Utc>,
        /// Transport in use.
        transport: TransportKind,
    },
    /// Lost or never reached; retrying quickly.
    Reconnecting {
        /// Attempt number (1-based) of the next try.
        attempt: u32,
        /// When the next try starts.
        next_retry_at: DateTime<Utc>,
        /// Why the last try failed.
        reason: String,
    },
    /// The fast retries are used up; still retrying at a capped interval.
    Offline {
        /// Since when there has been no live connection.
        since: DateTime<Utc>,
        /// Attempt number of the next try.
        attempt: u32,
        /// When the next try starts.
        next_retry_at: DateTime<Utc>,
        /// Why the last try failed.
        reason: String,
    },
    /// The server refused the token. No retry until the user acts.
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// The server's TLS certificate could not be verified (or the configured
    /// certificate authority could not be used). No retry until the settings
    /// change or the user asks to reconnect.
    Certificate {
        /// What was wrong, in words that say "certificate".
        message: String,
    },
}

impl ConnectionState {
    /// Short name: `connecting|live|reconnecting|offline|unauthorized|certificate`.
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionState::Connecting { .. } => "connecting",
            ConnectionState::Live { .. } => "live",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Offline { .. } => "offline",
            ConnectionState::Unauthorized { .. } => "unauthorized",
            ConnectionState::Certificate { .. } => "certificate",
        }
    }

    /// True when live.
    pub fn is_live(&self) -> bool {
        matches!(self, ConnectionState::Live { .. })
    }
}

/// Where the data on screen comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "kind",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum DataSource {
    /// Built-in demo data: nothing cached, never connected.
    Demo,
    /// Loaded from the cache written at `saved_at`.
    Cache {
        /// When the cache was written.
        saved_at: DateTime<Utc>,
    },
    /// Received from the server.
    Server,
}

/// One module as shown: latest KPIs plus bounded history per KPI.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleView {
    /// Latest KPIs.
    pub latest: ModuleKpis,
    /// Recent values per KPI key, oldest first, at most [`HISTORY_LEN`].
    #[cfg_attr(feature = "ts", ts(as = "BTreeMap<String, Vec<f64>>"))]
    pub history: BTreeMap<String, VecDeque<f64>>,
    /// When each value of `history` was sent (its update's `updatedAt`),
    /// same keys and order; a value without a time (an older cache) has
    /// none here, so the newest times line up with the newest values.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "BTreeMap<String, Vec<DateTime<Utc>>>"))]
    pub history_at: BTreeMap<String, VecDeque<DateTime<Utc>>>,
    /// Built-in demo values: any server data replaces them, whatever its time.
    #[serde(default)]
    pub demo: bool,
    /// Which generation each kept value was added in (bookkeeping for
    /// [`ClientState::module_added_since`]; not saved, not sent).
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub marks: HistoryMarks,
}

/// When the values of one history (a module's, or the dashboard's) were
/// added: each update adds one value per KPI key and takes the state's next
/// generation ([`ClientState::history_gen`]). So a copy that was sent everything up
/// to generation `G` needs only the values added after `G`, unless the
/// history started over since (created, demo values dropped, another set of
/// KPI keys): then it needs all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryMarks {
    /// Generation of each update whose values are kept, oldest first (at
    /// most [`HISTORY_LEN`]).
    added: VecDeque<u64>,
    /// Generation at which the history last started over.
    restarted: u64,
}

impl HistoryMarks {
    /// One update added a value to each key at generation `gen`; `restart`:
    /// the history started over with it.
    fn push(&mut self, gen: u64, restart: bool) {
        if restart || self.added.is_empty() {
            self.added.clear();
            self.restarted = gen;
        }
        if self.added.len() >= HISTORY_LEN {
            self.added.pop_front();
        }
        self.added.push_back(gen);
    }

    /// How many of each key's newest values were added after generation
    /// `since` (at most [`HISTORY_LEN`]); `None` when the history started
    /// over after `since`: a copy of it must be replaced, not extended.
    pub fn added_since(&self, since: u64) -> Option<usize> {
        if self.restarted > since {
            return None;
        }
        Some(self.added.len() - self.added.partition_point(|&g| g <= since))
    }
}

/// Counters a user or a test can read.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Server events dropped because they were malformed or unknown.
    pub dropped_events: u64,
    /// Acks refused or malformed.
    pub bad_acks: u64,
    /// Connections established.
    pub connects: u64,
}

/// Everything a user sees: the client's state. Its serde form is the cache
/// file's (`cache::CacheFile` flattens it) and the window's whole-state
/// messages' (`get_state`, `resync`); renaming the type changes neither
/// (a type's name is not in its JSON).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientState {
    /// Per-module KPIs.
    pub modules: BTreeMap<Module, ModuleView>,
    /// The dashboard, if known.
    pub dashboard: Option<Dashboard>,
    /// The dashboard holds built-in demo values.
    #[serde(default)]
    pub dashboard_demo: bool,
    /// Recent values per dashboard KPI key (summary and top KPIs), oldest
    /// first, at most [`HISTORY_LEN`]: the dashboard's sparklines. Demo
    /// values leave none.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "BTreeMap<String, Vec<f64>>"))]
    pub dashboard_history: BTreeMap<String, VecDeque<f64>>,
    /// Notifications, oldest first, unique by `seq`.
    #[cfg_attr(feature = "ts", ts(as = "Vec<Notification>"))]
    pub notifications: VecDeque<Notification>,
    /// Unread count (the server's when known, adjusted optimistically).
    pub unread_count: u64,
    /// Highest `seq` seen: the catch-up point.
    pub last_seq: u64,
    /// Recent alerts, oldest first: the alert history the window shows.
    #[cfg_attr(feature = "ts", ts(as = "Vec<Alert>"))]
    pub alerts: VecDeque<Alert>,
    /// Ids of the kept [`ClientState::alerts`] the user has acknowledged (dismissed).
    /// Bounded with them: an alert that falls out of the history leaves it.
    #[serde(default)]
    pub acknowledged_alerts: BTreeSet<String>,
    /// Mark-read requests not yet acknowledged by the server.
    #[cfg_attr(
        feature = "ts",
        ts(type = "Array<{ ids: Array<string> } | { all: true }>")
    )]
    pub outbox: Vec<MarkRead>,
    /// Connection state.
    pub connection: ConnectionState,
    /// Where the data comes from.
    pub source: DataSource,
    /// Last time anything arrived from the server.
    pub last_update: Option<DateTime<Utc>>,
    /// Counters.
    pub counters: Counters,
    /// Identity (`serverId`) of the store the notifications and read state
    /// came from; `None` until a version 2 server said it.
    #[serde(default)]
    pub server_id: Option<String>,
    /// The server said notifications after the catch-up point were pruned by
    /// retention: some that were missed expired before this client saw them.
    #[serde(default)]
    pub notifications_expired: bool,
    /// The last generation a history value was added in (see
    /// [`HistoryMarks`]); counts from 0 for each state, not saved.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) history_gen: u64,
    /// When the values of [`ClientState::dashboard_history`] were added.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) dashboard_marks: HistoryMarks,
}

/// A change a subscriber may care about.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The connection state changed.
    Connection(ConnectionState),
    /// A server event was accepted (after validation and dedupe). Catch-up
    /// notifications arrive here as `NotificationNew`, each `seq` once.
    Event(ServerEvent),
    /// Local read state changed (optimistic mark-read, or server count).
    UnreadCount(u64),
    /// Data source changed (demo/cache -> server).
    Source(DataSource),
    /// The whole state, to replace any copy a subscriber keeps: sent when
    /// the client goes Live on a connection that started over demo values
    /// (snapshots and catch-up applied, demo values gone) and when another
    /// server's store replaced the notifications. A copy that merged updates by its own rules
    /// (newest-wins, sparklines) is then exactly Rust's again.
    Reset(Box<ClientState>),
    /// The user acknowledged alerts: every acknowledged id now kept, sorted.
    AlertsAcknowledged(Vec<String>),
    /// Notifications marked read here at once (optimistic mark-read): the
    /// ids that turned read, so a copy can follow without re-deciding.
    NotificationsRead(Vec<String>),
}

/// Which alerts to acknowledge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AlertAck {
    /// These ids (unknown ones are ignored).
    Ids(Vec<String>),
    /// Every alert kept.
    All,
}

impl ClientState {
    /// An empty state (no modules, no dashboard).
    pub fn empty(server: &str) -> Self {
        ClientState {
            modules: BTreeMap::new(),
            dashboard: None,
            dashboard_demo: false,
            dashboard_history: BTreeMap::new(),
            notifications: VecDeque::new(),
            unread_count: 0,
            last_seq: 0,
            alerts: VecDeque::new(),
            acknowledged_alerts: BTreeSet::new(),
            outbox: Vec::new(),
            connection: ConnectionState::Connecting {
                server: server.to_string(),
            },
            source: DataSource::Demo,
            last_update: None,
            counters: Counters::default(),
            server_id: None,
            notifications_expired: false,
            history_gen: 0,
            dashboard_marks: HistoryMarks::default(),
        }
    }

    /// The last generation a history value (module or dashboard) was added
    /// in: a copy sent the views read now has everything up to it.
    pub fn history_gen(&self) -> u64 {
        self.history_gen
    }

    /// How many of module `m`'s newest history values (per key) were added
    /// after generation `since`; `None` when that history started over
    /// after `since` (or the module is unknown): send it whole.
    pub fn module_added_since(&self, m: Module, since: u64) -> Option<usize> {
        self.modules.get(&m)?.marks.added_since(since)
    }

    /// [`ClientState::module_added_since`] for the dashboard's history.
    pub fn dashboard_added_since(&self, since: u64) -> Option<usize> {
        self.dashboard.as_ref()?;
        self.dashboard_marks.added_since(since)
    }

    /// Record the `serverId` a server announced. Another id than the one
    /// this state came from means another store (database replaced or
    /// restored, another server configured): the seq cursor, the
    /// notifications (the dedupe memory), the alerts and the mark-read outbox
    /// belonged to the old one and are dropped, so nothing of the new store
    /// is skipped and nothing seen on one is marked read on the other.
    /// Returns true when that happened. A state with no id yet adopts it.
    pub fn adopt_server_id(&mut self, id: &str) -> (bool, Vec<Update>) {
        match &self.server_id {
            Some(cur) if cur == id => return (false, Vec::new()),
            None => {
                self.server_id = Some(id.to_string());
                return (false, Vec::new());
            }
            Some(_) => {}
        }
        self.server_id = Some(id.to_string());
        self.last_seq = 0;
        self.notifications.clear();
        self.alerts.clear();
        self.outbox.clear();
        self.notifications_expired = false;
        let mut out = Vec::new();
        if self.unread_count != 0 {
            self.unread_count = 0;
            out.push(Update::UnreadCount(0));
        }
        (true, out)
    }

    /// The store went back to `last` (restored from a backup: same
    /// `serverId`, but its highest `seq` is below this state's cursor). What
    /// came after `last` is gone from it and those seqs and ids will be given
    /// to new notifications: forget them (and queued mark-reads of them) so
    /// the new ones are not taken for repeats. Returns true when anything
    /// was dropped.
    pub fn rolled_back_to(&mut self, last: u64) -> bool {
        if self.last_seq <= last {
            return false;
        }
        let gone: Vec<String> = self
            .notifications
            .iter()
            .filter(|n| n.seq > last)
            .map(|n| n.id.clone())
            .collect();
        self.notifications.retain(|n| n.seq <= last);
        self.last_seq = last;
        for m in self.outbox.iter_mut() {
            if let MarkRead::Ids(ids) = m {
                ids.retain(|id| !gone.contains(id));
            }
        }
        self.outbox
            .retain(|m| !matches!(m, MarkRead::Ids(ids) if ids.is_empty()));
        self.unread_count = self.local_unread();
        true
    }

    /// Ids shown as unread, newest first, at most `limit`.
    pub fn unread_ids(&self, limit: usize) -> Vec<String> {
        self.notifications
            .iter()
            .rev()
            .filter(|n| !n.read)
            .take(limit)
            .map(|n| n.id.clone())
            .collect()
    }

    /// Apply module KPIs as the server ordered them (a live event or a
    /// subscribe snapshot): whatever their `updatedAt`, they replace what is
    /// shown, so a KPI stamped in the future (server clock stepped back
    /// later) does not freeze every later update. Only an exact repeat (same
    /// `updatedAt` and values, e.g. an update also contained in a snapshot)
    /// adds nothing.
    pub fn apply_kpis_in_order(&mut self, kpis: ModuleKpis, now: DateTime<Utc>) -> Vec<Update> {
        let repeat = self
            .modules
            .get(&kpis.module)
            .is_some_and(|v| !v.demo && v.latest == kpis);
        if repeat {
            let mut out = Vec::new();
            self.mark_server(now, &mut out);
            return out;
        }
        self.put_kpis(kpis, now)
    }

    /// Apply a dashboard as the server ordered it (see [`ClientState::apply_kpis_in_order`]).
    pub fn apply_dashboard_in_order(&mut self, d: Dashboard, now: DateTime<Utc>) -> Vec<Update> {
        if !self.dashboard_demo && self.dashboard.as_ref() == Some(&d) {
            let mut out = Vec::new();
            self.mark_server(now, &mut out);
            return out;
        }
        self.put_dashboard(d, now)
    }

    fn mark_server(&mut self, now: DateTime<Utc>, out: &mut Vec<Update>) {
        self.last_update = Some(now);
        if self.source != DataSource::Server {
            self.source = DataSource::Server;
            out.push(Update::Source(DataSource::Server));
        }
    }

    /// Apply module KPIs (event or snapshot). Older than what we have: ignored.
    pub fn apply_kpis(&mut self, kpis: ModuleKpis, now: DateTime<Utc>) -> Vec<Update> {
        let from_server_before = self.source == DataSource::Server;
        if let Some(view) = self.modules.get(&kpis.module) {
            // After the first server data, equal or older timestamps are repeats.
            if from_server_before && !view.demo && kpis.updated_at <= view.latest.updated_at {
                return Vec::new();
            }
        }
        self.put_kpis(kpis, now)
    }

    fn put_kpis(&mut self, kpis: ModuleKpis, now: DateTime<Utc>) -> Vec<Update> {
        let mut out = Vec::new();
        self.mark_server(now, &mut out);
        self.history_gen += 1;
        let gen = self.history_gen;
        let view = self
            .modules
            .entry(kpis.module)
            .or_insert_with(|| ModuleView {
                latest: kpis.clone(),
                history: BTreeMap::new(),
                history_at: BTreeMap::new(),
                demo: false,
                marks: HistoryMarks::default(),
            });
        // Another set of keys (or a key twice: two values in one update)
        // starts the history over as far as a copy is concerned.
        // (No allocation: a module has a handful of KPIs.)
        let same_keys = kpis.kpis.len() == view.history.len()
            && kpis.kpis.iter().enumerate().all(|(i, k)| {
                view.history.contains_key(&k.key) && kpis.kpis[..i].iter().all(|o| o.key != k.key)
            });
        let restart = view.demo || !same_keys;
        if view.demo {
            view.history.clear();
            view.history_at.clear();
            view.demo = false;
        }
        view.marks.push(gen, restart);
        for k in &kpis.kpis {
            let h = view.history.entry(k.key.clone()).or_default();
            if h.len() == HISTORY_LEN {
                h.pop_front();
            }
            h.push_back(k.value);
            let t = view.history_at.entry(k.key.clone()).or_default();
            while t.len() >= HISTORY_LEN {
                t.pop_front();
            }
            t.push_back(kpis.updated_at);
        }
        view.history
            .retain(|key, _| kpis.kpis.iter().any(|k| &k.key == key));
        view.history_at
            .retain(|key, _| kpis.kpis.iter().any(|k| &k.key == key));
        view.latest = kpis.clone();
        out.push(Update::Event(ServerEvent::KpiUpdate(kpis)));
        out
    }

    /// Apply a dashboard (event or snapshot). Older than what we have: ignored.
    pub fn apply_dashboard(&mut self, d: Dashboard, now: DateTime<Utc>) -> Vec<Update> {
        if self.source == DataSource::Server && !self.dashboard_demo {
            if let Some(cur) = &self.dashboard {
                if d.updated_at <= cur.updated_at {
                    return Vec::new();
                }
            }
        }
        self.put_dashboard(d, now)
    }

    fn put_dashboard(&mut self, d: Dashboard, now: DateTime<Utc>) -> Vec<Update> {
        let mut out = Vec::new();
        self.mark_server(now, &mut out);
        let restart = self.dashboard_demo;
        if self.dashboard_demo {
            // Never a sparkline from a demo value to a real one.
            self.dashboard_history.clear();
        }
        // A key in both lists counts once (the later value).
        let values: BTreeMap<&str, f64> = d
            .summary
            .iter()
            .chain(&d.top_kpis)
            .map(|k| (k.key.as_str(), k.value))
            .collect();
        let restart = restart
            || values.len() != self.dashboard_history.len()
            || !self
                .dashboard_history
                .keys()
                .all(|k| values.contains_key(k.as_str()));
        self.history_gen += 1;
        self.dashboard_marks.push(self.history_gen, restart);
        for (key, value) in &values {
            let h = self.dashboard_history.entry(key.to_string()).or_default();
            if h.len() >= HISTORY_LEN {
                h.pop_front();
            }
            h.push_back(*value);
        }
        self.dashboard_history
            .retain(|key, _| values.contains_key(key.as_str()));
        self.dashboard = Some(d.clone());
        self.dashboard_demo = false;
        out.push(Update::Event(ServerEvent::DashboardUpdate(d)));
        out
    }

    /// Apply a notification; one already seen (same `seq` or id) is ignored.
    pub fn apply_notification(&mut self, n: Notification, now: DateTime<Utc>) -> Vec<Update> {
        let mut out = Vec::new();
        if self
            .notifications
            .iter()
            .any(|x| x.seq == n.seq || x.id == n.id)
        {
            return out;
        }
        // Older than everything kept and the list is full: it was pruned, skip.
        if n.seq <= self.last_seq
            && self.notifications.len() >= MAX_NOTIFICATIONS
            && self.notifications.front().is_some_and(|f| n.seq < f.seq)
        {
            return out;
        }
        self.mark_server(now, &mut out);
        let mut n = n;
        if self.pending_read(&n.id) {
            n.read = true;
        }
        if !n.read {
            self.unread_count += 1;
        }
        self.last_seq = self.last_seq.max(n.seq);
        let pos = self
            .notifications
            .iter()
            .position(|x| x.seq > n.seq)
            .unwrap_or(self.notifications.len());
        self.notifications.insert(pos, n.clone());
        while self.notifications.len() > MAX_NOTIFICATIONS {
            self.notifications.pop_front();
        }
        out.push(Update::Event(ServerEvent::NotificationNew(n)));
        out
    }

    fn pending_read(&self, id: &str) -> bool {
        self.outbox.iter().any(|m| match m {
            MarkRead::All => true,
            MarkRead::Ids(ids) => ids.iter().any(|x| x == id),
        })
    }

    /// Set the server's unread count (from an ack), keeping optimistic reads.
    pub fn set_unread_count(&mut self, n: u64) -> Vec<Update> {
        // While mark-reads are queued the server's count is stale: trust ours.
        let n = if self.outbox.is_empty() {
            n
        } else {
            n.min(self.local_unread())
        };
        if n == self.unread_count {
            return Vec::new();
        }
        self.unread_count = n;
        vec![Update::UnreadCount(n)]
    }

    fn local_unread(&self) -> u64 {
        self.notifications.iter().filter(|n| !n.read).count() as u64
    }

    /// Apply `notification:read` from the server.
    pub fn apply_read(&mut self, r: NotificationRead, now: DateTime<Utc>) -> Vec<Update> {
        let mut out = Vec::new();
        self.mark_server(now, &mut out);
        for n in self.notifications.iter_mut() {
            if r.ids.iter().any(|id| id == &n.id) {
                n.read = true;
            }
        }
        self.unread_count = if self.outbox.is_empty() {
            r.unread_count
        } else {
            r.unread_count.min(self.local_unread())
        };
        out.push(Update::Event(ServerEvent::NotificationRead(r)));
        out
    }

    /// Apply an alert; one already seen (same id) is ignored.
    pub fn apply_alert(&mut self, a: Alert, now: DateTime<Utc>) -> Vec<Update> {
        let mut out = Vec::new();
        if self.alerts.iter().any(|x| x.id == a.id) {
            return out;
        }
        self.mark_server(now, &mut out);
        self.alerts.push_back(a.clone());
        while self.alerts.len() > MAX_ALERTS {
            if let Some(old) = self.alerts.pop_front() {
                self.acknowledged_alerts.remove(&old.id);
            }
        }
        out.push(Update::Event(ServerEvent::AlertSystem(a)));
        out
    }

    /// Acknowledge alerts (the user dismissed them). Only kept alerts can be
    /// acknowledged; returns an update when the acknowledged set grew.
    pub fn acknowledge_alerts(&mut self, ack: &AlertAck) -> Vec<Update> {
        let before = self.acknowledged_alerts.len();
        for a in &self.alerts {
            let hit = match ack {
                AlertAck::All => true,
                AlertAck::Ids(ids) => ids.iter().any(|id| id == &a.id),
            };
            if hit {
                self.acknowledged_alerts.insert(a.id.clone());
            }
        }
        if self.acknowledged_alerts.len() == before {
            return Vec::new();
        }
        vec![Update::AlertsAcknowledged(
            self.acknowledged_alerts.iter().cloned().collect(),
        )]
    }

    /// Kept alerts the user has not acknowledged yet, oldest first.
    pub fn unacknowledged_alerts(&self) -> impl DoubleEndedIterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| !self.acknowledged_alerts.contains(&a.id))
    }

    /// The newest critical alert the user has not acknowledged: what the
    /// window's banner leads with and what marks the tray icon. The one
    /// notion of an unseen critical alert.
    pub fn unseen_critical(&self) -> Option<&Alert> {
        self.unacknowledged_alerts()
            .rev()
            .find(|a| a.severity == pulseboard_protocol::AlertSeverity::Critical)
    }

    /// Apply any server event.
    pub fn apply(&mut self, ev: ServerEvent, now: DateTime<Utc>) -> Vec<Update> {
        match ev {
            ServerEvent::KpiUpdate(k) => self.apply_kpis(k, now),
            ServerEvent::DashboardUpdate(d) => self.apply_dashboard(d, now),
            ServerEvent::NotificationNew(n) => self.apply_notification(n, now),
            ServerEvent::NotificationRead(r) => self.apply_read(r, now),
            ServerEvent::AlertSystem(a) => self.apply_alert(a, now),
            ServerEvent::ConnectionStatus(_) => {
                let mut out = Vec::new();
                self.last_update = Some(now);
                out.push(Update::Event(ev));
                out
            }
        }
    }

    /// Mark read locally at once and queue the request for the server.
    pub fn mark_read_local(&mut self, req: MarkRead) -> Vec<Update> {
        let mut turned = Vec::new();
        for n in self.notifications.iter_mut() {
            let hit = match &req {
                MarkRead::All => true,
                MarkRead::Ids(ids) => ids.iter().any(|id| id == &n.id),
            };
            if hit && !n.read {
                n.read = true;
                turned.push(n.id.clone());
            }
        }
        let changed = !turned.is_empty();
        let before = self.unread_count;
        self.unread_count = match &req {
            MarkRead::All => 0,
            MarkRead::Ids(_) if changed => self.local_unread().min(self.unread_count),
            MarkRead::Ids(_) => self.unread_count,
        };
        if matches!(req, MarkRead::All) {
            self.outbox.clear();
        }
        self.outbox.push(req);
        let mut out = Vec::new();
        if changed {
            out.push(Update::NotificationsRead(turned));
        }
        if self.unread_count != before {
            out.push(Update::UnreadCount(self.unread_count));
        }
        out
    }

    /// The server acknowledged the oldest outbox entry.
    pub fn outbox_acked(&mut self, req: &MarkRead) {
        if let Some(pos) = self.outbox.iter().position(|m| m == req) {
            self.outbox.remove(pos);
        }
    }

    /// Set the connection state; returns an update when it changed.
    pub fn set_connection(&mut self, c: ConnectionState) -> Vec<Update> {
        if self.connection == c {
            return Vec::new();
        }
        self.connection = c.clone();
        vec![Update::Connection(c)]
    }
}

/// Shared handle to the state plus the update stream.
#[derive(Clone)]
pub struct Store {
    state: Arc<RwLock<ClientState>>,
    tx: broadcast::Sender<Update>,
}

/// Updates buffered per subscriber before it lags (then it should re-read the snapshot).
pub const UPDATE_BUFFER: usize = 8192;

impl Store {
    /// Wrap a state.
    pub fn new(state: ClientState) -> Self {
        let (tx, _) = broadcast::channel(UPDATE_BUFFER);
        Store {
            state: Arc::new(RwLock::new(state)),
            tx,
        }
    }

    /// Receive every update from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.tx.subscribe()
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> ClientState {
        self.read(|s| s.clone())
    }

    /// Read part of the state without copying all of it.
    pub fn read<T>(&self, f: impl FnOnce(&ClientState) -> T) -> T {
        let guard = self.state.read().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    /// Change the state and publish the updates the change returns.
    pub fn update<T>(&self, f: impl FnOnce(&mut ClientState) -> (T, Vec<Update>)) -> T {
        let (t, updates) = {
            let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        };
        for u in updates {
            // No subscriber is fine.
            let _ = self.tx.send(u);
        }
        t
    }

    /// Change the state where only the updates matter.
    pub fn apply(&self, f: impl FnOnce(&mut ClientState) -> Vec<Update>) {
        self.update(|s| ((), f(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use pulseboard_protocol::{Kpi, NotificationSeverity};

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn dash(at: i64) -> Dashboard {
        pulseboard_protocol::sample::dashboard(t(at))
    }

    fn notif(seq: u64) -> Notification {
        Notification {
            id: format!("n-{seq}"),
            seq,
            title: "t".into(),
            body: "b".into(),
            severity: NotificationSeverity::Info,
            module: None,
            created_at: t(0),
            read: false,
        }
    }

    fn kpis(m: Module, v: f64, at: i64) -> ModuleKpis {
        ModuleKpis {
            module: m,
            kpis: vec![Kpi {
                key: "k".into(),
                label: "K".into(),
                value: v,
                unit: None,
                delta: None,
                status: None,
                better: None,
                thresholds: None,
            }],
            updated_at: t(at),
        }
    }

    #[test]
    fn notifications_dedupe_by_seq_and_count_unread() {
        let mut s = ClientState::empty("x");
        assert_eq!(s.apply_notification(notif(2), t(1)).len(), 2); // source + event
        assert_eq!(s.apply_notification(notif(1), t(1)).len(), 1);
        assert!(
            s.apply_notification(notif(2), t(1)).is_empty(),
            "a repeat is dropped"
        );
        assert_eq!(s.unread_count, 2);
        assert_eq!(s.last_seq, 2);
        let seqs: Vec<u64> = s.notifications.iter().map(|n| n.seq).collect();
        assert_eq!(seqs, vec![1, 2], "kept in seq order");
    }

    #[test]
    fn notification_list_is_bounded() {
        let mut s = ClientState::empty("x");
        for i in 1..=(MAX_NOTIFICATIONS as u64 + 10) {
            s.apply_notification(notif(i), t(0));
        }
        assert_eq!(s.notifications.len(), MAX_NOTIFICATIONS);
        assert_eq!(s.notifications.front().unwrap().seq, 11);
        // a pruned one coming back by catch-up is not re-added
        assert!(s.apply_notification(notif(3), t(0)).is_empty());
    }

    #[test]
    fn mark_read_is_optimistic_and_queued() {
        let mut s = ClientState::empty("x");
        s.apply_notification(notif(1), t(0));
        s.apply_notification(notif(2), t(0));
        let u = s.mark_read_local(MarkRead::Ids(vec!["n-1".into()]));
        assert_eq!(
            u,
            vec![
                Update::NotificationsRead(vec!["n-1".into()]),
                Update::UnreadCount(1)
            ],
            "which ids turned read, and the count"
        );
        let u = s.mark_read_local(MarkRead::Ids(vec!["n-1".into()]));
        assert!(u.is_empty(), "already read: nothing to tell");
        s.outbox.pop();
        assert_eq!(s.outbox.len(), 1);
        // a stale server count does not undo the local read while queued
        s.set_unread_count(2);
        assert_eq!(s.unread_count, 1);
        s.outbox_acked(&MarkRead::Ids(vec!["n-1".into()]));
        assert!(s.outbox.is_empty());
        s.set_unread_count(1);
        assert_eq!(s.unread_count, 1);
        s.mark_read_local(MarkRead::All);
        assert_eq!(s.unread_count, 0);
        assert_eq!(s.outbox, vec![MarkRead::All], "all supersedes queued ids");
        // catch-up of a notification covered by a queued mark-all stays read
        s.apply_notification(notif(3), t(0));
        assert_eq!(s.unread_count, 0);
    }

    #[test]
    fn kpis_keep_bounded_history_and_ignore_stale() {
        let mut s = ClientState::empty("x");
        for i in 0..(HISTORY_LEN as i64 + 5) {
            s.apply_kpis(kpis(Module::Hr, i as f64, i + 1), t(0));
        }
        let v = &s.modules[&Module::Hr];
        assert_eq!(v.history["k"].len(), HISTORY_LEN);
        assert_eq!(*v.history["k"].back().unwrap(), (HISTORY_LEN + 4) as f64);
        // Each kept value has the time of its update, for the detail view.
        assert_eq!(v.history_at["k"].len(), HISTORY_LEN);
        assert_eq!(*v.history_at["k"].back().unwrap(), v.latest.updated_at);
        assert!(v.history_at["k"][0] < v.history_at["k"][1]);
        assert!(
            s.apply_kpis(kpis(Module::Hr, 0.0, 1), t(0)).is_empty(),
            "stale"
        );
    }

    #[test]
    fn server_data_replaces_demo_and_says_so() {
        let mut s = ClientState::empty("x");
        s.apply_kpis(kpis(Module::Hr, 1.0, 100), t(0)); // from the cache/demo
        s.source = DataSource::Demo;
        let u = s.apply_kpis(kpis(Module::Hr, 2.0, 50), t(1));
        assert!(
            u.contains(&Update::Source(DataSource::Server)),
            "older server data still replaces demo"
        );
        assert_eq!(s.last_update, Some(t(1)));
    }

    #[test]
    fn server_data_replaces_every_demo_module_whatever_its_time() {
        let mut s = crate::cache::demo_state("x", t(1000));
        let old = |m| ModuleKpis {
            updated_at: t(5),
            ..kpis(m, 7.0, 5)
        };
        // The first snapshot makes the source "server"; the others must still land.
        for m in Module::ALL {
            assert!(!s.apply_kpis(old(m), t(1001)).is_empty(), "{m} replaced");
            assert_eq!(s.modules[&m].latest.kpis[0].value, 7.0);
            assert!(!s.modules[&m].demo);
            assert_eq!(
                s.modules[&m].history["k"],
                VecDeque::from([7.0]),
                "demo values are not part of the sparkline"
            );
        }
        let mut d = s.dashboard.clone().unwrap();
        d.updated_at = t(5);
        assert!(
            !s.apply_dashboard(d, t(1001)).is_empty(),
            "demo dashboard replaced"
        );
        assert!(!s.dashboard_demo);
    }

    #[test]
    fn the_dashboard_keeps_a_bounded_history_with_no_demo_point() {
        let mut s = ClientState::empty("x");
        s.apply_dashboard(dash(1000), t(0));
        s.dashboard_demo = true;
        let mut d = dash(2000);
        d.summary[0].value = 7.0;
        s.apply_dashboard(d.clone(), t(1));
        let key = d.summary[0].key.clone();
        assert_eq!(s.dashboard_history[&key], [7.0], "no demo point kept");
        for i in 0..(HISTORY_LEN as i64 + 5) {
            let mut d = dash(3000 + i);
            d.summary[0].value = i as f64;
            s.apply_dashboard(d, t(2));
        }
        let h = s.dashboard_history[&key].clone();
        assert_eq!(h.len(), HISTORY_LEN, "bounded");
        assert_eq!(h.back(), Some(&(HISTORY_LEN as f64 + 4.0)), "newest kept");
        let keys = d.summary.len() + d.top_kpis.len();
        assert!(s.dashboard_history.len() <= keys);
        // An older dashboard is a repeat: no point added.
        s.source = DataSource::Server;
        s.apply_dashboard(dash(1), t(3));
        assert_eq!(s.dashboard_history[&key], h);
    }

    #[test]
    fn another_server_id_drops_cursor_dedupe_memory_and_outbox() {
        let mut s = ClientState::empty("x");
        assert_eq!(s.adopt_server_id("a"), (false, vec![]), "first id adopted");
        for i in 1..=3 {
            s.apply_notification(notif(i), t(0));
        }
        s.mark_read_local(MarkRead::Ids(vec!["n-1".into()]));
        assert_eq!(s.adopt_server_id("a"), (false, vec![]), "same store");
        assert_eq!(s.last_seq, 3);
        let (other, updates) = s.adopt_server_id("b");
        assert!(other);
        assert_eq!(updates, vec![Update::UnreadCount(0)]);
        assert_eq!((s.last_seq, s.unread_count), (0, 0));
        assert!(s.notifications.is_empty() && s.outbox.is_empty());
        assert_eq!(s.server_id.as_deref(), Some("b"));
        // The new store's 1 is not a repeat of the old store's 1.
        assert!(!s.apply_notification(notif(1), t(0)).is_empty());
    }

    #[test]
    fn a_store_gone_back_forgets_what_came_after_and_its_queued_reads() {
        let mut s = ClientState::empty("x");
        for seq in 1..=5 {
            s.apply_notification(notif(seq), t(0));
        }
        s.mark_read_local(MarkRead::Ids(vec!["n-2".into(), "n-5".into()]));
        s.mark_read_local(MarkRead::Ids(vec!["n-4".into()]));
        assert!(!s.rolled_back_to(5), "not behind: nothing to do");
        assert!(s.rolled_back_to(3));
        let seqs: Vec<u64> = s.notifications.iter().map(|n| n.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(s.last_seq, 3);
        assert_eq!(s.outbox, vec![MarkRead::Ids(vec!["n-2".into()])]);
        assert_eq!(s.unread_count, 2);
        // A new n-4 is new, not a repeat.
        assert!(!s.apply_notification(notif(4), t(1)).is_empty());
    }

    #[test]
    fn unread_ids_are_newest_first_and_bounded() {
        let mut s = ClientState::empty("x");
        for i in 1..=5 {
            s.apply_notification(notif(i), t(0));
        }
        s.mark_read_local(MarkRead::Ids(vec!["n-4".into()]));
        assert_eq!(s.unread_ids(3), vec!["n-5", "n-3", "n-2"]);
    }

    #[test]
    fn in_order_kpis_follow_the_server_not_the_timestamps() {
        let mut s = ClientState::empty("x");
        s.apply_kpis_in_order(kpis(Module::Hr, 1.0, 3600), t(0)); // an hour ahead
        assert!(!s
            .apply_kpis_in_order(kpis(Module::Hr, 2.0, 5), t(1))
            .is_empty());
        assert_eq!(s.modules[&Module::Hr].latest.kpis[0].value, 2.0);
        assert_eq!(
            s.apply_kpis_in_order(kpis(Module::Hr, 2.0, 5), t(2)),
            vec![],
            "an exact repeat adds nothing"
        );
        assert_eq!(
            s.modules[&Module::Hr].history["k"],
            VecDeque::from([1.0, 2.0])
        );
    }

    #[test]
    fn history_marks_say_what_was_added_since_and_when_a_history_started_over() {
        let mut s = ClientState::empty("x");
        s.apply_kpis(kpis(Module::Hr, 1.0, 1), t(0));
        let g1 = s.history_gen();
        assert_eq!(s.module_added_since(Module::Hr, 0), None, "new since 0");
        assert_eq!(s.module_added_since(Module::Hr, g1), Some(0));
        s.apply_kpis(kpis(Module::Hr, 2.0, 2), t(0));
        s.apply_kpis(kpis(Module::Hr, 3.0, 3), t(0));
        assert_eq!(s.module_added_since(Module::Hr, g1), Some(2));
        // Another module's update takes a generation, adds nothing here.
        s.apply_kpis(kpis(Module::Finance, 1.0, 4), t(0));
        assert_eq!(s.module_added_since(Module::Hr, g1), Some(2));
        // A stale update adds nothing.
        s.apply_kpis(kpis(Module::Hr, 9.0, 1), t(0));
        assert_eq!(s.module_added_since(Module::Hr, g1), Some(2));
        // Another set of keys: started over.
        let g = s.history_gen();
        let mut two = kpis(Module::Hr, 4.0, 5);
        let mut x = two.kpis[0].clone();
        x.key = "x".into();
        two.kpis.push(x);
        s.apply_kpis(two, t(0));
        assert_eq!(s.module_added_since(Module::Hr, g), None);
        // A key twice in one update (as many entries as kept keys) adds two
        // values to it: started over.
        let g = s.history_gen();
        let mut dup = kpis(Module::Hr, 4.5, 6);
        dup.kpis.push(dup.kpis[0].clone());
        s.apply_kpis(dup, t(0));
        assert_eq!(s.module_added_since(Module::Hr, g), None);
        // Another key: started over too.
        let g = s.history_gen();
        let mut other = kpis(Module::Hr, 5.0, 7);
        other.kpis[0].key = "other".into();
        s.apply_kpis(other, t(0));
        assert_eq!(s.module_added_since(Module::Hr, g), None);
        let g = s.history_gen();
        let mut other = kpis(Module::Hr, 6.0, 8);
        other.kpis[0].key = "other".into();
        s.apply_kpis(other, t(0));
        assert_eq!(s.module_added_since(Module::Hr, g), Some(1));
        assert_eq!(s.module_added_since(Module::Reports, 0), None, "unknown");
    }

    #[test]
    fn alerts_dedupe_by_id() {
        let mut s = ClientState::empty("x");
        let a = Alert {
            id: "a-1".into(),
            severity: pulseboard_protocol::AlertSeverity::Critical,
            title: "t".into(),
            message: "m".into(),
            created_at: t(0),
        };
        assert!(!s.apply_alert(a.clone(), t(0)).is_empty());
        assert!(s.apply_alert(a, t(0)).is_empty());
    }

    fn alert(id: &str, severity: pulseboard_protocol::AlertSeverity) -> Alert {
        Alert {
            id: id.into(),
            severity,
            title: format!("title {id}"),
            message: "m".into(),
            created_at: t(0),
        }
    }

    #[test]
    fn alerts_are_acknowledged_by_id_or_all_and_stay_bounded() {
        use pulseboard_protocol::AlertSeverity::{Critical, Info, Warning};
        let mut s = ClientState::empty("x");
        s.apply_alert(alert("a-1", Critical), t(0));
        s.apply_alert(alert("a-2", Warning), t(0));
        s.apply_alert(alert("a-3", Info), t(0));
        let u = s.acknowledge_alerts(&AlertAck::Ids(vec!["a-2".into(), "nope".into()]));
        assert_eq!(u, vec![Update::AlertsAcknowledged(vec!["a-2".into()])]);
        let open: Vec<&str> = s.unacknowledged_alerts().map(|a| a.id.as_str()).collect();
        assert_eq!(open, vec!["a-1", "a-3"], "the others stay open");
        assert!(
            s.acknowledge_alerts(&AlertAck::Ids(vec!["a-2".into()]))
                .is_empty(),
            "acknowledging twice changes nothing"
        );
        s.acknowledge_alerts(&AlertAck::All);
        assert_eq!(s.unacknowledged_alerts().count(), 0);
        assert_eq!(s.alerts.len(), 3, "history keeps acknowledged alerts");
        for i in 0..MAX_ALERTS {
            s.apply_alert(alert(&format!("b-{i}"), Info), t(0));
        }
        assert_eq!(s.alerts.len(), MAX_ALERTS);
        assert!(
            s.acknowledged_alerts.is_empty(),
            "acknowledgements leave with their alerts"
        );
        let v = serde_json::to_value(&s).unwrap();
        assert!(v["acknowledgedAlerts"].is_array());
    }

    #[test]
    fn connection_state_serialises_for_people_and_programs() {
        let c = ConnectionState::Reconnecting {
            attempt: 2,
            next_retry_at: t(0),
            reason: "refused".into(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["state"], "reconnecting");
        assert_eq!(v["attempt"], 2);
        assert!(v.get("nextRetryAt").is_some());
    }
}
