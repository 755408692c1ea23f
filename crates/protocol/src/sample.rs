//! Plausible sample data: the desktop's built-in demo data and the server's
//! starting values. Pure data, no I/O.

use chrono::{DateTime, Utc};

use crate::{Dashboard, Kpi, KpiStatus, Module, ModuleKpis};

fn kpi(key: &str, label: &str, value: f64, unit: Option<&str>) -> Kpi {
    Kpi {
        key: key.to_string(),
        label: label.to_string(),
        value,
        unit: unit.map(str::to_string),
        delta: Some(0.0),
        status: Some(KpiStatus::Ok),
        better: None,
        thresholds: None,
    }
}

/// Sample KPIs of one module.
pub fn module_kpis(module: Module, at: DateTime<Utc>) -> ModuleKpis {
    let kpis = match module {
        Module::Reports => vec![
            kpi("reports_generated", "Reports generated", 1284.0, None),
            kpi("pending_reviews", "Pending reviews", 37.0, None),
            kpi("avg_generation_s", "Avg generation time", 4.2, Some("s")),
        ],
        Module::Finance => vec![
            kpi("revenue", "Revenue", 1_250_000.0, Some("USD")),
            kpi("expenses", "Expenses", 830_000.0, Some("USD")),
            kpi("profit_margin", "Profit margin", 33.6, Some("%")),
            kpi("cash_flow", "Cash flow", 420_000.0, Some("USD")),
        ],
        Module::Hr => vec![
            kpi("headcount", "Headcount", 412.0, None),
            kpi("open_positions", "Open positions", 18.0, None),
            kpi("attrition", "Attrition", 7.9, Some("%")),
            kpi("satisfaction", "Satisfaction", 78.0, Some("%")),
        ],
        Module::Security => vec![
            kpi("threats_blocked", "Threats blocked", 15_230.0, None),
            kpi("open_incidents", "Open incidents", 3.0, None),
            kpi("vulnerabilities", "Vulnerabilities", 12.0, None),
            kpi("compliance", "Compliance", 96.5, Some("%")),
        ],
    };
    ModuleKpis {
        module,
        kpis,
        updated_at: at,
    }
}

/// A sample dashboard: 6 summary cards and 4 top KPIs.
pub fn dashboard(at: DateTime<Utc>) -> Dashboard {
    Dashboard {
        summary: vec![
            kpi("active_users", "Active users", 2_840.0, None),
            kpi("revenue_today", "Revenue today", 48_200.0, Some("USD")),
            kpi("orders", "Orders", 1_126.0, None),
            kpi("uptime", "Uptime", 99.95, Some("%")),
            kpi("tickets_open", "Open tickets", 42.0, None),
            kpi("nps", "NPS", 61.0, None),
        ],
        top_kpis: vec![
            kpi("conversion", "Conversion", 3.4, Some("%")),
            kpi("churn", "Churn", 1.8, Some("%")),
            kpi("arpu", "ARPU", 52.3, Some("USD")),
            kpi("latency_p95", "API latency p95", 180.0, Some("ms")),
        ],
        updated_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Validate;

    #[test]
    fn samples_satisfy_the_contract() {
        let now = Utc::now();
        for m in Module::ALL {
            module_kpis(m, now).validate().unwrap();
        }
        dashboard(now).validate().unwrap();
    }
}
