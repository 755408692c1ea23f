//! Notifications (`notification:new`, `notification:read`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{check_text, invalid, limits, Module, ProtocolError, Validate};

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
