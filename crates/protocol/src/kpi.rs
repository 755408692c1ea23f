//! KPIs: one value with its status, thresholds and direction, and a
//! module's KPIs (`kpi:update:{module}`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{check_text, invalid, limits, Module, ProtocolError, Validate};

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

pub(crate) fn validate_kpis(field: &str, kpis: &[Kpi]) -> Result<(), ProtocolError> {
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
