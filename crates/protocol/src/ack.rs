//! Acks of the client's requests.

use std::fmt;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

use crate::{decode, invalid, limits, Notification, ProtocolError, Validate};

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
    /// With an empty page after a non-zero `afterSeq`: the highest `seq` the
    /// store has assigned (Pulseboard extension). Lower than `afterSeq`: the
    /// store went back (restored from a backup) and the seqs above it will be
    /// given again, to new notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
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
