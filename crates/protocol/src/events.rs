//! Event names, exactly as on the wire.

/// Server -> client, right after connect.
pub const CONNECTION_STATUS: &str = "connection:status";
/// Prefix of the per-module KPI event: `kpi:update:{module}`.
pub const KPI_UPDATE_PREFIX: &str = "kpi:update:";
/// Server -> dashboard subscribers.
pub const DASHBOARD_UPDATE: &str = "dashboard:update";
/// Server -> notification subscribers, once stored.
pub const NOTIFICATION_NEW: &str = "notification:new";
/// Server -> notification subscribers when any client marks read.
pub const NOTIFICATION_READ: &str = "notification:read";
/// Server -> every connected client.
pub const ALERT_SYSTEM: &str = "alert:system";

/// Client -> server (ack: snapshot).
pub const MODULE_SUBSCRIBE: &str = "module:subscribe";
/// Client -> server.
pub const MODULE_UNSUBSCRIBE: &str = "module:unsubscribe";
/// Client -> server (ack: snapshot).
pub const DASHBOARD_SUBSCRIBE: &str = "dashboard:subscribe";
/// Client -> server (ack: notifications after `afterSeq`).
pub const NOTIFICATION_SUBSCRIBE: &str = "notification:subscribe";
/// Client -> server (ack: unread count).
pub const NOTIFICATION_MARK_READ: &str = "notification:mark-read";

/// The `connect_error` message a server sends for a wrong or missing token.
pub const UNAUTHORIZED: &str = "unauthorized";
/// The `connect_error` message for a token without the view right
/// (a publish-only token) and for a refused `Origin` (version 2).
pub const FORBIDDEN: &str = "forbidden";
