//! Every server -> client event, decoded by its wire name.

use serde_json::Value;

use crate::{
    decode, events, invalid, Alert, ConnectionStatus, Dashboard, Module, ModuleKpis, Notification,
    NotificationRead, ProtocolError,
};

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
