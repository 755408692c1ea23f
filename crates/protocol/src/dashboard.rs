//! The dashboard (`dashboard:update`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{invalid, limits, validate_kpis, Kpi, ProtocolError, Validate};

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

pub(crate) fn validate_dashboard(summary: &[Kpi], top: &[Kpi]) -> Result<(), ProtocolError> {
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
