// Generated from the Rust types by src-tauri/src/bridge.rs
// (test `ipc_types_are_current`): do not edit. After changing a type,
// PULSEBOARD_WRITE_TYPES=1 cargo test -p pulseboard --lib ipc_types
// writes it again.

/**
 * `alert:system` payload.
 */
export type Alert = { 
/**
 * Server id, e.g. `a-7`.
 */
id: string, 
/**
 * Severity.
 */
severity: AlertSeverity, 
/**
 * Title.
 */
title: string, 
/**
 * Message.
 */
message: string, 
/**
 * When it was raised.
 */
createdAt: string, };

/**
 * Severity of a system alert.
 */
export type AlertSeverity = "info" | "warning" | "critical";

/**
 * Which direction of change is good news for a KPI (version 2).
 */
export type Better = "up" | "down";

/**
 * Everything a user sees: the client's state. Its serde form is the cache
 * file's (`cache::CacheFile` flattens it) and the window's whole-state
 * messages' (`get_state`, `resync`); renaming the type changes neither
 * (a type's name is not in its JSON).
 */
export type ClientState = { 
/**
 * Per-module KPIs.
 */
modules: { [key in Module]?: ModuleView }, 
/**
 * The dashboard, if known.
 */
dashboard: Dashboard | null, 
/**
 * The dashboard holds built-in demo values.
 */
dashboardDemo: boolean, 
/**
 * Recent values per dashboard KPI key (summary and top KPIs), oldest
 * first, at most [`HISTORY_LEN`]: the dashboard's sparklines. Demo
 * values leave none.
 */
dashboardHistory: { [key in string]: Array<number> }, 
/**
 * Notifications, oldest first, unique by `seq`.
 */
notifications: Array<Notification>, 
/**
 * Unread count (the server's when known, adjusted optimistically).
 */
unreadCount: number, 
/**
 * Highest `seq` seen: the catch-up point.
 */
lastSeq: number, 
/**
 * Recent alerts, oldest first: the alert history the window shows.
 */
alerts: Array<Alert>, 
/**
 * Ids of the kept [`ClientState::alerts`] the user has acknowledged (dismissed).
 * Bounded with them: an alert that falls out of the history leaves it.
 */
acknowledgedAlerts: Array<string>, 
/**
 * Mark-read requests not yet acknowledged by the server.
 */
outbox: Array<{ ids: Array<string> } | { all: true }>, 
/**
 * Connection state.
 */
connection: ConnectionState, 
/**
 * Where the data comes from.
 */
source: DataSource, 
/**
 * Last time anything arrived from the server.
 */
lastUpdate: string | null, 
/**
 * Counters.
 */
counters: Counters, 
/**
 * Identity (`serverId`) of the store the notifications and read state
 * came from; `None` until a version 2 server said it.
 */
serverId: string | null, 
/**
 * The server said notifications after the catch-up point were pruned by
 * retention: some that were missed expired before this client saw them.
 */
notificationsExpired: boolean, };

/**
 * What the connection is doing, as a user should be told.
 */
export type ConnectionState = { "state": "connecting", 
/**
 * Server URL.
 */
server: string, } | { "state": "live", 
/**
 * Since when.
 */
since: string, 
/**
 * Transport in use.
 */
transport: TransportKind, } | { "state": "reconnecting", 
/**
 * Attempt number (1-based) of the next try.
 */
attempt: number, 
/**
 * When the next try starts.
 */
nextRetryAt: string, 
/**
 * Why the last try failed.
 */
reason: string, } | { "state": "offline", 
/**
 * Since when there has been no live connection.
 */
since: string, 
/**
 * Attempt number of the next try.
 */
attempt: number, 
/**
 * When the next try starts.
 */
nextRetryAt: string, 
/**
 * Why the last try failed.
 */
reason: string, } | { "state": "unauthorized", 
/**
 * The server's message.
 */
message: string, } | { "state": "certificate", 
/**
 * What was wrong, in words that say "certificate".
 */
message: string, };

/**
 * What "Test connection" shows.
 */
export type ConnectionTest = { 
/**
 * The answer's kind.
 */
kind: Outcome, 
/**
 * One sentence for a person.
 */
message: string, };

/**
 * The connection as the user is told about it.
 */
export type ConnectionView = { 
/**
 * One line: the pill's text, and the tray's status line after
 * "Pulseboard: ". Demo data is always labelled as such.
 */
text: string, 
/**
 * Its colour.
 */
tone: Tone, 
/**
 * More: since when, the transport, the next try, the last error, what
 * to do (the pill's tooltip, the Settings view's connection line).
 */
detail: string, 
/**
 * The data on screen may be out of date: no live connection is
 * refreshing it and none is about to.
 */
stale: boolean, 
/**
 * A countdown is running: the words change each second.
 */
counting: boolean, };

/**
 * Counters a user or a test can read.
 */
export type Counters = { 
/**
 * Server events dropped because they were malformed or unknown.
 */
droppedEvents: number, 
/**
 * Acks refused or malformed.
 */
badAcks: number, 
/**
 * Connections established.
 */
connects: number, };

/**
 * `dashboard:update` payload and subscribe snapshot.
 */
export type Dashboard = { 
/**
 * Six summary cards.
 */
summary: Array<Kpi>, 
/**
 * Four top KPIs.
 */
topKpis: Array<Kpi>, 
/**
 * When the server last changed it.
 */
updatedAt: string, };

/**
 * The dashboard as the window draws it: the core's latest and its history
 * per KPI key, whole or only what was added (as in [`ModuleShown`]).
 */
export type DashboardShown = { 
/**
 * Latest dashboard; absent in a message whose `data` is it.
 */
latest?: Dashboard, 
/**
 * Per KPI key, oldest first: whole when `full`, otherwise the values
 * added since the previous dashboard view sent to the window.
 */
history: { [key in string]: Array<number> }, 
/**
 * `history` is the whole history (replace); false: append.
 */
full: boolean, 
/**
 * Keep at most this many values per key.
 */
keep: number, };

/**
 * Where the data on screen comes from.
 */
export type DataSource = { "kind": "demo" } | { "kind": "cache", 
/**
 * When the cache was written.
 */
savedAt: string, } | { "kind": "server" };

/**
 * Do-not-disturb mode: the one enum for the policy, the desktop's settings
 * file (`"dnd": "off" | "on" | "silence_all"`), its window and its tray.
 */
export type Dnd = "off" | "on" | "silence_all";

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * One key performance indicator.
 */
export type Kpi = { 
/**
 * Stable key, e.g. `revenue`.
 */
key: string, 
/**
 * Label for people.
 */
label: string, 
/**
 * Current value; must be finite.
 */
value: number, 
/**
 * Unit, e.g. `USD` or `%`.
 */
unit?: string | null, 
/**
 * Percent change.
 */
delta?: number | null, 
/**
 * Health.
 */
status?: KpiStatus | null, 
/**
 * Whether a rise is good news (version 2; absent: neither).
 */
better?: Better | null, 
/**
 * The values at which the KPI turns warning and critical (version 2;
 * absent: none known). Which side is bad follows `better`.
 */
thresholds?: Thresholds | null, };

/**
 * Health of a KPI.
 */
export type KpiStatus = "ok" | "warning" | "critical";

/**
 * One of the four business modules.
 */
export type Module = "reports" | "finance" | "hr" | "security";

/**
 * `kpi:update:{module}` payload and subscribe snapshot.
 */
export type ModuleKpis = { 
/**
 * Which module.
 */
module: Module, 
/**
 * Its KPIs.
 */
kpis: Array<Kpi>, 
/**
 * When the server last changed them.
 */
updatedAt: string, };

/**
 * One module as the window draws it: the core's latest KPIs and what the
 * window needs of the bounded history the core keeps (the window swaps the
 * latest in and extends or replaces its history as told; it decides
 * nothing).
 */
export type ModuleShown = { 
/**
 * Latest KPIs; absent in a message whose `data` is them (the usual
 * case: the page takes that instead of a second copy).
 */
latest?: ModuleKpis, 
/**
 * Per KPI key, oldest first: the whole history the core keeps when
 * `full`, otherwise only the values added since the previous view of
 * this module sent to the window. A key missing here is no longer kept.
 */
history: { [key in string]: Array<number> }, 
/**
 * `history` is the whole history (replace the window's); false: append
 * it to the window's.
 */
full: boolean, 
/**
 * Keep at most this many values per key (the core's bound,
 * [`crate::store::HISTORY_LEN`]): the window drops older ones.
 */
keep: number, };

/**
 * One module as shown: latest KPIs plus bounded history per KPI.
 */
export type ModuleView = { 
/**
 * Latest KPIs.
 */
latest: ModuleKpis, 
/**
 * Recent values per KPI key, oldest first, at most [`HISTORY_LEN`].
 */
history: { [key in string]: Array<number> }, 
/**
 * When each value of `history` was sent (its update's `updatedAt`),
 * same keys and order; a value without a time (an older cache) has
 * none here, so the newest times line up with the newest values.
 */
historyAt: { [key in string]: Array<string> }, 
/**
 * Built-in demo values: any server data replaces them, whatever its time.
 */
demo: boolean, };

/**
 * A stored notification.
 */
export type Notification = { 
/**
 * Server id, e.g. `n-42`.
 */
id: string, 
/**
 * Strictly increasing, never reused; lets a client catch up.
 */
seq: number, 
/**
 * Title.
 */
title: string, 
/**
 * Body text.
 */
body: string, 
/**
 * Severity.
 */
severity: NotificationSeverity, 
/**
 * Module it concerns, if any.
 */
module?: Module | null, 
/**
 * When the server stored it.
 */
createdAt: string, 
/**
 * Read state.
 */
read: boolean, };

/**
 * Severity of a notification.
 */
export type NotificationSeverity = "info" | "success" | "warning" | "error";

/**
 * The answer's kind, for the page to pick a style (`kind`).
 */
export type Outcome = "reachable" | "unauthorized" | "certificate" | "notPulseboard" | "nothingListening" | "timeout" | "unreachable" | "invalidUrl";

/**
 * Everything the window needs at start.
 */
export type Snapshot = { 
/**
 * The core state.
 */
state: ClientState, 
/**
 * Settings.
 */
settings: UiSettings, 
/**
 * Now, so the window's relative times agree with Rust's clock.
 */
now: string, 
/**
 * What the pill says (later changes come as `connection-view` messages).
 */
connectionView: ConnectionView, };

/**
 * The values at which a KPI turns warning and critical (version 2).
 */
export type Thresholds = { 
/**
 * Warning from this value on.
 */
warning?: number | null, 
/**
 * Critical from this value on.
 */
critical?: number | null, };

/**
 * How the state looks: the pill's colour.
 */
export type Tone = "live" | "warn" | "error" | "demo" | "neutral";

/**
 * Which transport a live connection uses.
 */
export type TransportKind = "websocket" | "polling";

/**
 * What the window is told. Payloads were validated in Rust before this.
 */
export type UiMessage = { "type": "connection", 
/**
 * New state.
 */
state: ConnectionState, } | { "type": "module", 
/**
 * Wire name (`kpi:update:{module}`), for probes and logs.
 */
event: string, 
/**
 * The update as accepted.
 */
data: ModuleKpis, 
/**
 * On the batch's last message of this module: the module as the
 * core keeps it now (latest KPIs, bounded history), for the page
 * to swap in. Absent on the earlier ones, which it includes.
 */
view?: ModuleShown, } | { "type": "dashboard", 
/**
 * Wire name (`dashboard:update`).
 */
event: string, 
/**
 * The update as accepted.
 */
data: Dashboard, 
/**
 * On the batch's last dashboard message: the dashboard as the core
 * keeps it now (with its bounded history), for the page to swap in.
 */
view?: DashboardShown, } | { "type": "event", 
/**
 * Wire name.
 */
event: string, 
/**
 * Wire payload.
 */
data: JsonValue, } | { "type": "notifications", 
/**
 * Accepted as new and still kept, oldest first, as the core holds
 * them now (read or not): each goes in its `seq`'s place, replacing
 * one with the same `seq`.
 */
added: Array<Notification>, 
/**
 * Ids the core now shows as read.
 */
read: Array<string>, 
/**
 * The core keeps no notification with a lower `seq` (it pruned
 * them): the page drops those.
 */
keepFrom: number, 
/**
 * The unread count, as the core has it.
 */
unread: number, } | { "type": "source", 
/**
 * New source.
 */
source: DataSource, } | { "type": "alerts", 
/**
 * Every kept alert.
 */
alerts: Array<Alert>, } | { "type": "acknowledged", 
/**
 * Alert ids.
 */
ids: Array<string>, } | { "type": "resync", 
/**
 * Full state.
 */
state: ClientState, 
/**
 * The connection's words, when they changed too (absent: as
 * before), so a resync stays one message.
 */
view?: ConnectionView, } | { "type": "connection-view", 
/**
 * The words, the tone, whether the data is stale.
 */
view: ConnectionView, };

/**
 * Settings as the window sees them: the token never leaves Rust.
 */
export type UiSettings = { 
/**
 * Server URL.
 */
server: string, 
/**
 * Whether a token is set.
 */
hasToken: boolean, 
/**
 * A new token typed by the user (write-only; empty string clears it).
 */
token?: string | null, 
/**
 * Do not disturb.
 */
dnd: Dnd, 
/**
 * Native notifications for notifications (`"off"` or a severity).
 */
notifyThreshold: "off" | "info" | "success" | "warning" | "error", 
/**
 * Start at login.
 */
startAtLogin: boolean, 
/**
 * PEM file of a private certificate authority trusted in addition to
 * the system roots. Read: the saved one (null: none). Write: absent or
 * null keeps it, an empty string removes it, a path sets it.
 */
ca: string | null, 
/**
 * Read-only: the warning to show next to the server field when the
 * saved token goes over plain http:// to a host that is not loopback
 * ([`settings::plain_http_warning`]).
 */
plainHttpWarning: string | null, };

