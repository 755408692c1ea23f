//! HTTP API bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    check_text, limits, validate_dashboard, validate_kpis, AlertSeverity, Dashboard, Kpi, Module,
    ModuleKpis, NotificationSeverity, ProtocolError, Validate,
};

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
