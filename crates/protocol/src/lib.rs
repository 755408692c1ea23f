//! The Pulseboard wire contract (version 2) as serde types.
//!
//! Every shape, event name and rule of `shared/protocol.md` lives here, with
//! validation, so the server, the client core and the CLI agree by construction.
//! This crate does no I/O.
//!
//! Decoding goes through [`decode`], which parses *and* validates and turns
//! every failure into a [`ProtocolError`] whose message a person can read.

use std::{collections::BTreeMap, fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

pub mod history;
pub mod sample;
pub mod seed;

pub use history::{HistoryPoint, HistoryRange, KpiHistory};

/// Version of the wire contract this crate implements.
pub const PROTOCOL_VERSION: u32 = 2;

/// Event names, exactly as on the wire.
pub mod events {
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
}

/// Size limits. Anything larger is refused with a readable reason.
pub mod limits {
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
}

/// Why a payload was refused. The message is meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Not JSON, or JSON of the wrong shape (serde's reason kept).
    #[error("invalid payload: {0}")]
    Malformed(String),
    /// Well-formed but breaks a rule of the contract.
    #[error("{0}")]
    Invalid(String),
    /// An event name this version does not know.
    #[error("unknown event `{0}`")]
    UnknownEvent(String),
}

fn invalid(msg: impl Into<String>) -> ProtocolError {
    ProtocolError::Invalid(msg.into())
}

/// Types that carry rules beyond their serde shape.
pub trait Validate {
    /// `Ok` when every rule of the contract holds.
    fn validate(&self) -> Result<(), ProtocolError>;
}

/// Parse a JSON value into `T` and validate it.
pub fn decode<T: DeserializeOwned + Validate>(value: Value) -> Result<T, ProtocolError> {
    let t: T =
        serde_json::from_value(value).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    t.validate()?;
    Ok(t)
}

/// Parse JSON bytes into `T` and validate it, refusing oversized input.
pub fn decode_slice<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ProtocolError> {
    if bytes.len() > limits::MAX_BODY_BYTES {
        return Err(invalid(format!(
            "payload of {} bytes is larger than the limit of {} bytes",
            bytes.len(),
            limits::MAX_BODY_BYTES
        )));
    }
    let t: T =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    t.validate()?;
    Ok(t)
}

fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<(), ProtocolError> {
    if required && s.trim().is_empty() {
        return Err(invalid(format!("`{field}` must not be empty")));
    }
    let n = s.chars().count();
    if n > max {
        return Err(invalid(format!(
            "`{field}` is {n} characters long, the limit is {max}"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- modules

/// One of the four business modules.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Module {
    /// Reports.
    Reports,
    /// Finance.
    Finance,
    /// Human resources.
    Hr,
    /// Security.
    Security,
}

impl Module {
    /// All modules, in display order.
    pub const ALL: [Module; 4] = [
        Module::Reports,
        Module::Finance,
        Module::Hr,
        Module::Security,
    ];

    /// The wire key.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Reports => "reports",
            Module::Finance => "finance",
            Module::Hr => "hr",
            Module::Security => "security",
        }
    }

    /// `kpi:update:{module}`.
    pub fn kpi_event(self) -> &'static str {
        match self {
            Module::Reports => "kpi:update:reports",
            Module::Finance => "kpi:update:finance",
            Module::Hr => "kpi:update:hr",
            Module::Security => "kpi:update:security",
        }
    }

    /// Socket.IO room of this module's subscribers.
    pub fn room(self) -> &'static str {
        match self {
            Module::Reports => "module:reports",
            Module::Finance => "module:finance",
            Module::Hr => "module:hr",
            Module::Security => "module:security",
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Module {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Module::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown module `{s}`, expected one of reports, finance, hr, security"
                ))
            })
    }
}

// ---------------------------------------------------------------- KPIs

/// Health of a KPI.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KpiStatus {
    /// Fine.
    Ok,
    /// Needs a look.
    Warning,
    /// Needs action.
    Critical,
}

/// One key performance indicator.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kpi {
    /// Stable key, e.g. `revenue`.
    pub key: String,
    /// Label for people.
    pub label: String,
    /// Current value; must be finite.
    pub value: f64,
    /// Unit, e.g. `USD` or `%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Percent change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// Health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<KpiStatus>,
    /// Whether a rise is good news (version 2; absent: neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub better: Option<Better>,
    /// The values at which the KPI turns warning and critical (version 2;
    /// absent: none known). Which side is bad follows `better`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
}

/// The values at which a KPI turns warning and critical (version 2).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Warning from this value on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<f64>,
    /// Critical from this value on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
}

/// Which direction of change is good news for a KPI (version 2).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// A rise is good (revenue).
    Up,
    /// A fall is good (expenses, attrition, incidents).
    Down,
}

impl Validate for Kpi {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_text("key", &self.key, limits::MAX_KEY, true)?;
        check_text("label", &self.label, limits::MAX_LABEL, true)?;
        if let Some(u) = &self.unit {
            check_text("unit", u, limits::MAX_UNIT, false)?;
        }
        if !self.value.is_finite() {
            return Err(invalid(format!(
                "KPI `{}` has a non-finite value",
                self.key
            )));
        }
        if matches!(self.delta, Some(d) if !d.is_finite()) {
            return Err(invalid(format!(
                "KPI `{}` has a non-finite delta",
                self.key
            )));
        }
        if let Some(t) = &self.thresholds {
            if [t.warning, t.critical]
                .into_iter()
                .flatten()
                .any(|v| !v.is_finite())
            {
                return Err(invalid(format!(
                    "KPI `{}` has a non-finite threshold",
                    self.key
                )));
            }
        }
        Ok(())
    }
}

fn validate_kpis(field: &str, kpis: &[Kpi]) -> Result<(), ProtocolError> {
    if kpis.len() > limits::MAX_KPIS {
        return Err(invalid(format!(
            "`{field}` has {} KPIs, the limit is {}",
            kpis.len(),
            limits::MAX_KPIS
        )));
    }
    for (i, k) in kpis.iter().enumerate() {
        k.validate()
            .map_err(|e| invalid(format!("`{field}[{i}]`: {e}")))?;
    }
    for (i, k) in kpis.iter().enumerate() {
        if kpis[..i].iter().any(|o| o.key == k.key) {
            return Err(invalid(format!("`{field}` has the key `{}` twice", k.key)));
        }
    }
    Ok(())
}

/// `kpi:update:{module}` payload and subscribe snapshot.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleKpis {
    /// Which module.
    pub module: Module,
    /// Its KPIs.
    pub kpis: Vec<Kpi>,
    /// When the server last changed them.
    pub updated_at: DateTime<Utc>,
}

impl Validate for ModuleKpis {
    fn validate(&self) -> Result<(), ProtocolError> {
        validate_kpis("kpis", &self.kpis)
    }
}

/// `dashboard:update` payload and subscribe snapshot.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Six summary cards.
    pub summary: Vec<Kpi>,
    /// Four top KPIs.
    pub top_kpis: Vec<Kpi>,
    /// When the server last changed it.
    pub updated_at: DateTime<Utc>,
}

fn validate_dashboard(summary: &[Kpi], top: &[Kpi]) -> Result<(), ProtocolError> {
    if summary.len() != limits::DASHBOARD_SUMMARY {
        return Err(invalid(format!(
            "`summary` must hold {} KPIs, it holds {}",
            limits::DASHBOARD_SUMMARY,
            summary.len()
        )));
    }
    if top.len() != limits::DASHBOARD_TOP {
        return Err(invalid(format!(
            "`topKpis` must hold {} KPIs, it holds {}",
            limits::DASHBOARD_TOP,
            top.len()
        )));
    }
    validate_kpis("summary", summary)?;
    validate_kpis("topKpis", top)
}

impl Validate for Dashboard {
    fn validate(&self) -> Result<(), ProtocolError> {
        validate_dashboard(&self.summary, &self.top_kpis)
    }
}

// ---------------------------------------------------------------- notifications

/// Severity of a notification.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationSeverity {
    /// Information.
    Info,
    /// Something went well.
    Success,
    /// Needs a look.
    Warning,
    /// Something failed.
    Error,
}

/// A stored notification.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Server id, e.g. `n-42`.
    pub id: String,
    /// Strictly increasing, never reused; lets a client catch up.
    pub seq: u64,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Severity.
    pub severity: NotificationSeverity,
    /// Module it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<Module>,
    /// When the server stored it.
    pub created_at: DateTime<Utc>,
    /// Read state.
    #[serde(default)]
    pub read: bool,
}

impl Validate for Notification {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_text("id", &self.id, limits::MAX_ID, true)?;
        check_text("title", &self.title, limits::MAX_LABEL, true)?;
        check_text("body", &self.body, limits::MAX_TEXT, false)?;
        if self.seq == 0 {
            return Err(invalid("`seq` must be at least 1"));
        }
        Ok(())
    }
}

/// `notification:read` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRead {
    /// Ids now read (all of them for a mark-all).
    pub ids: Vec<String>,
    /// Unread count after the change.
    pub unread_count: u64,
}

impl Validate for NotificationRead {
    fn validate(&self) -> Result<(), ProtocolError> {
        for id in &self.ids {
            check_text("ids[]", id, limits::MAX_ID, true)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- alerts

/// Severity of a system alert.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    /// Information.
    Info,
    /// Needs a look.
    Warning,
    /// Needs action now.
    Critical,
}

/// `alert:system` payload.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Server id, e.g. `a-7`.
    pub id: String,
    /// Severity.
    pub severity: AlertSeverity,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
}

impl Validate for Alert {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_text("id", &self.id, limits::MAX_ID, true)?;
        check_text("title", &self.title, limits::MAX_LABEL, true)?;
        check_text("message", &self.message, limits::MAX_TEXT, false)
    }
}

// ---------------------------------------------------------------- connection

/// `connection:status` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    /// Always `connected`.
    pub status: String,
    /// Server clock.
    pub server_time: DateTime<Utc>,
    /// Server version string.
    pub server_version: String,
    /// Modules this server serves.
    pub modules: Vec<Module>,
    /// Identity of the server's store (version 2; absent from a version 1 server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
}

impl Validate for ConnectionStatus {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_text(
            "serverVersion",
            &self.server_version,
            limits::MAX_LABEL,
            false,
        )?;
        if let Some(id) = &self.server_id {
            check_text("serverId", id, limits::MAX_ID, true)?;
        }
        check_text("status", &self.status, limits::MAX_LABEL, true)
    }
}

/// The handshake `auth` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthPayload {
    /// Shared token ("" when the server is open).
    #[serde(default)]
    pub token: String,
    /// `pulseboard/<version>`.
    #[serde(default)]
    pub client: String,
}

// ---------------------------------------------------------------- client -> server

/// `module:subscribe` / `module:unsubscribe` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleRequest {
    /// Which module.
    pub module: Module,
}

impl Validate for ModuleRequest {
    fn validate(&self) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// `dashboard:subscribe` payload (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardSubscribe {}

impl Validate for DashboardSubscribe {
    fn validate(&self) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// `notification:subscribe` payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSubscribe {
    /// Only notifications with a larger `seq`; 0 or absent: from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// Ids the client still shows as unread (version 2, at most 1000): the
    /// ack's `read` says which of them are read now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<Vec<String>>,
}

impl Validate for NotificationSubscribe {
    fn validate(&self) -> Result<(), ProtocolError> {
        match &self.unread {
            Some(ids) => check_ids("unread", ids, limits::MAX_UNREAD_IDS),
            None => Ok(()),
        }
    }
}

/// `notification:mark-read` payload: some ids, or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    /// `{"ids": [...]}`
    Ids(Vec<String>),
    /// `{"all": true}`
    All,
}

// Unknown fields are ignored, as everywhere: the contract may grow.
#[derive(Serialize, Deserialize)]
struct MarkReadWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<bool>,
}

impl Serialize for MarkRead {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MarkRead::Ids(ids) => MarkReadWire {
                ids: Some(ids.clone()),
                all: None,
            },
            MarkRead::All => MarkReadWire {
                ids: None,
                all: Some(true),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MarkRead {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = MarkReadWire::deserialize(d)?;
        match (w.ids, w.all) {
            (Some(_), Some(true)) => Err(D::Error::custom(
                "give either `ids` or `all: true`, not both",
            )),
            (_, Some(true)) => Ok(MarkRead::All),
            (Some(ids), _) => Ok(MarkRead::Ids(ids)),
            _ => Err(D::Error::custom("expected `ids` (an array) or `all: true`")),
        }
    }
}

impl Validate for MarkRead {
    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            MarkRead::Ids(ids) => check_ids("ids", ids, limits::MAX_MARK_READ_IDS),
            MarkRead::All => Ok(()),
        }
    }
}

/// A list of notification ids in field `field`: at most `max` of them, each a
/// non-blank id of at most [`limits::MAX_ID`] characters.
fn check_ids(field: &str, ids: &[String], max: usize) -> Result<(), ProtocolError> {
    if ids.len() > max {
        return Err(invalid(format!(
            "`{field}` has {} entries, the limit is {max}",
            ids.len()
        )));
    }
    for id in ids {
        check_text(&format!("{field}[]"), id, limits::MAX_ID, true)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- acks

/// An ack as sent by the server: `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckError {
    /// Always false.
    pub ok: bool,
    /// Human-readable reason.
    pub error: String,
}

impl AckError {
    /// `{"ok": false, "error": reason}`.
    pub fn new(reason: impl fmt::Display) -> Self {
        AckError {
            ok: false,
            error: reason.to_string(),
        }
    }
}

/// Ack of `module:unsubscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckOk {
    /// Always true.
    pub ok: bool,
}

impl Validate for AckOk {
    fn validate(&self) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// Ack of `module:subscribe` / `dashboard:subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotAck<T> {
    /// Always true.
    pub ok: bool,
    /// The current state.
    pub snapshot: T,
}

impl<T: Validate> Validate for SnapshotAck<T> {
    fn validate(&self) -> Result<(), ProtocolError> {
        self.snapshot.validate()
    }
}

/// Ack of `notification:subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSubscribeAck {
    /// Always true.
    pub ok: bool,
    /// Notifications with `seq > afterSeq`, oldest first, at most 500.
    pub notifications: Vec<Notification>,
    /// Unread count.
    pub unread_count: u64,
    /// Of the request's `unread` ids, those that are read now (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Vec<String>>,
    /// True when notifications after `afterSeq` were pruned by retention (version 2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Validate for NotificationSubscribeAck {
    fn validate(&self) -> Result<(), ProtocolError> {
        // Elements are validated one by one by the client, which drops only the bad ones.
        if self.notifications.len() > limits::MAX_CATCH_UP {
            return Err(invalid(format!(
                "catch-up holds {} notifications, the limit is {}",
                self.notifications.len(),
                limits::MAX_CATCH_UP
            )));
        }
        Ok(())
    }
}

/// Ack of `notification:mark-read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkReadAck {
    /// Always true.
    pub ok: bool,
    /// Unread count after the change.
    pub unread_count: u64,
}

impl Validate for MarkReadAck {
    fn validate(&self) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// Checks an ack object: `{"ok": false, "error"}` becomes `Err(reason)`,
/// anything else is decoded into `T`.
pub fn decode_ack<T: DeserializeOwned + Validate>(value: Value) -> Result<T, ProtocolError> {
    match value.get("ok") {
        Some(Value::Bool(true)) => decode(value),
        Some(Value::Bool(false)) => Err(invalid(format!(
            "server refused: {}",
            value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
        ))),
        _ => Err(ProtocolError::Malformed(
            "ack is not an object with a boolean `ok`".into(),
        )),
    }
}

// ---------------------------------------------------------------- HTTP bodies

/// `POST /api/notifications` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNotification {
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Severity.
    pub severity: NotificationSeverity,
    /// Module it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<Module>,
}

impl Validate for NewNotification {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_text("title", &self.title, limits::MAX_LABEL, true)?;
        check_text("body", &self.body, limits::MAX_TEXT, false)
    }
}

/// `POST /api/alerts` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// Severity.
    pub severity: AlertSeverity,
}

impl Validate for NewAlert {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_text("title", &self.title, limits::MAX_LABEL, true)?;
        check_text("message", &self.message, limits::MAX_TEXT, false)
    }
}

/// `PUT /api/kpis/{module}` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutKpis {
    /// The module's KPIs.
    pub kpis: Vec<Kpi>,
}

impl Validate for PutKpis {
    fn validate(&self) -> Result<(), ProtocolError> {
        validate_kpis("kpis", &self.kpis)
    }
}

/// `PUT /api/dashboard` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutDashboard {
    /// Six summary cards.
    pub summary: Vec<Kpi>,
    /// Four top KPIs.
    pub top_kpis: Vec<Kpi>,
}

impl Validate for PutDashboard {
    fn validate(&self) -> Result<(), ProtocolError> {
        validate_dashboard(&self.summary, &self.top_kpis)
    }
}

/// `GET /api/snapshot` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Every module's KPIs.
    pub modules: BTreeMap<Module, ModuleKpis>,
    /// The dashboard.
    pub dashboard: Dashboard,
    /// Unread notifications.
    pub unread_count: u64,
    /// Identity of the server's store (version 2; absent from a version 1 server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
}

impl Validate for Snapshot {
    fn validate(&self) -> Result<(), ProtocolError> {
        for m in self.modules.values() {
            m.validate()?;
        }
        self.dashboard.validate()
    }
}

/// HTTP error body: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpError {
    /// Human-readable reason.
    pub error: String,
}

// ---------------------------------------------------------------- server events

/// Every server -> client event, decoded and validated.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// `connection:status`
    ConnectionStatus(ConnectionStatus),
    /// `kpi:update:{module}`
    KpiUpdate(ModuleKpis),
    /// `dashboard:update`
    DashboardUpdate(Dashboard),
    /// `notification:new`
    NotificationNew(Notification),
    /// `notification:read`
    NotificationRead(NotificationRead),
    /// `alert:system`
    AlertSystem(Alert),
}

impl ServerEvent {
    /// Decode an event by its wire name. For `kpi:update:{module}` the payload's
    /// `module` must match the name.
    pub fn decode(name: &str, payload: Value) -> Result<Self, ProtocolError> {
        Ok(match name {
            events::CONNECTION_STATUS => ServerEvent::ConnectionStatus(decode(payload)?),
            events::DASHBOARD_UPDATE => ServerEvent::DashboardUpdate(decode(payload)?),
            events::NOTIFICATION_NEW => ServerEvent::NotificationNew(decode(payload)?),
            events::NOTIFICATION_READ => ServerEvent::NotificationRead(decode(payload)?),
            events::ALERT_SYSTEM => ServerEvent::AlertSystem(decode(payload)?),
            other => match other.strip_prefix(events::KPI_UPDATE_PREFIX) {
                Some(m) => {
                    let module: Module = m.parse()?;
                    let kpis: ModuleKpis = decode(payload)?;
                    if kpis.module != module {
                        return Err(invalid(format!(
                            "event `{other}` carries KPIs of module `{}`",
                            kpis.module
                        )));
                    }
                    ServerEvent::KpiUpdate(kpis)
                }
                None => return Err(ProtocolError::UnknownEvent(other.to_string())),
            },
        })
    }

    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::ConnectionStatus(_) => events::CONNECTION_STATUS,
            ServerEvent::KpiUpdate(k) => k.module.kpi_event(),
            ServerEvent::DashboardUpdate(_) => events::DASHBOARD_UPDATE,
            ServerEvent::NotificationNew(_) => events::NOTIFICATION_NEW,
            ServerEvent::NotificationRead(_) => events::NOTIFICATION_READ,
            ServerEvent::AlertSystem(_) => events::ALERT_SYSTEM,
        }
    }

    /// The payload as JSON, exactly as on the wire.
    pub fn payload(&self) -> Value {
        let r = match self {
            ServerEvent::ConnectionStatus(v) => serde_json::to_value(v),
            ServerEvent::KpiUpdate(v) => serde_json::to_value(v),
            ServerEvent::DashboardUpdate(v) => serde_json::to_value(v),
            ServerEvent::NotificationNew(v) => serde_json::to_value(v),
            ServerEvent::NotificationRead(v) => serde_json::to_value(v),
            ServerEvent::AlertSystem(v) => serde_json::to_value(v),
        };
        r.unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests;
