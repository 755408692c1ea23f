//! The handshake: `auth` and `connection:status`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{check_text, limits, Module, ProtocolError, Validate};

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
