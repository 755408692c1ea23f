//! System alerts (`alert:system`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{check_text, limits, ProtocolError, Validate};

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
