//! Size limits. Anything larger is refused with a readable reason.

/// Largest HTTP body or socket payload accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// KPI key length.
pub const MAX_KEY: usize = 64;
/// KPI label, notification and alert title length.
pub const MAX_LABEL: usize = 200;
/// KPI unit length.
pub const MAX_UNIT: usize = 16;
/// Notification body and alert message length.
pub const MAX_TEXT: usize = 4000;
/// Ids of notifications and alerts.
pub const MAX_ID: usize = 128;
/// KPIs in one module update.
pub const MAX_KPIS: usize = 50;
/// Ids in one mark-read request.
pub const MAX_MARK_READ_IDS: usize = 1000;
/// Ids a client sends as `unread` in `notification:subscribe` (version 2).
pub const MAX_UNREAD_IDS: usize = 1000;
/// Notifications returned by one `notification:subscribe` ack.
pub const MAX_CATCH_UP: usize = 500;
/// Cards in the dashboard summary.
pub const DASHBOARD_SUMMARY: usize = 6;
/// Cards in the dashboard top KPIs.
pub const DASHBOARD_TOP: usize = 4;
