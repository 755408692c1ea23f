//! The one seed table: every built-in KPI with its label, unit, starting
//! value, random-walk range, decimals, direction and thresholds.
//!
//! The desktop's demo data ([`crate::sample`]), the server's starting values
//! and simulator, and the browser preview of the window (which loads
//! [`preview_json`], checked in as `preview/seed.json`) are all made from
//! [`KPIS`]. Pure data, no I/O.

use serde_json::{json, Value};

use crate::{Better, Kpi, KpiStatus, Module, Thresholds};

/// Where a dashboard KPI is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    /// One of the dashboard's summary cards.
    Summary,
    /// One of the dashboard's top KPIs.
    Top,
}

/// One built-in KPI.
///
/// A row with both a `module` and a `dashboard` tile is one KPI shown in two
/// places: the dashboard shows the module's value (see [`mirrored`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedKpi {
    /// The module whose card shows it; `None`: dashboard only.
    pub module: Option<Module>,
    /// The dashboard tile showing it, in table order; `None`: not on the dashboard.
    pub dashboard: Option<Tile>,
    /// Stable key, unique in the table.
    pub key: &'static str,
    /// Label for people.
    pub label: &'static str,
    /// Unit, e.g. `USD` or `%`.
    pub unit: Option<&'static str>,
    /// Starting value (demo data and a fresh server).
    pub seed: f64,
    /// The random walk stays at or above this.
    pub min: f64,
    /// The random walk stays at or below this.
    pub max: f64,
    /// Decimals the value is rounded to.
    pub decimals: u8,
    /// Whether a rise is good news.
    pub better: Option<Better>,
    /// Warning from this value on (the bad side follows `better`).
    pub warning: Option<f64>,
    /// Critical from this value on (the bad side follows `better`).
    pub critical: Option<f64>,
}

const USD: Option<&str> = Some("USD");
const PCT: Option<&str> = Some("%");
const UP: Option<Better> = Some(Better::Up);
const DOWN: Option<Better> = Some(Better::Down);

/// A row with the fields most rows share; the table overrides the rest.
const BASE: SeedKpi = SeedKpi {
    module: None,
    dashboard: None,
    key: "",
    label: "",
    unit: None,
    seed: 0.0,
    min: 0.0,
    max: 0.0,
    decimals: 0,
    better: None,
    warning: None,
    critical: None,
};

/// Every built-in KPI. Module cards list their rows in table order; so do
/// the dashboard's summary cards (6) and top KPIs (4).
pub const KPIS: &[SeedKpi] = &[
    // ------------------------------------------------------------ reports
    SeedKpi {
        module: Some(Module::Reports),
        dashboard: Some(Tile::Summary),
        key: "reports_generated",
        label: "Reports generated",
        seed: 1284.0,
        min: 800.0,
        max: 2000.0,
        better: UP,
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Reports),
        key: "pending_reviews",
        label: "Pending reviews",
        seed: 37.0,
        min: 0.0,
        max: 120.0,
        better: DOWN,
        warning: Some(30.0),
        critical: Some(60.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Reports),
        key: "avg_generation_s",
        label: "Avg. generation time",
        unit: Some("s"),
        seed: 4.2,
        min: 1.0,
        max: 15.0,
        decimals: 1,
        better: DOWN,
        warning: Some(8.0),
        critical: Some(12.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Reports),
        key: "export_success",
        label: "Export success rate",
        unit: PCT,
        seed: 98.6,
        min: 85.0,
        max: 100.0,
        decimals: 1,
        better: UP,
        warning: Some(95.0),
        critical: Some(90.0),
        ..BASE
    },
    // ------------------------------------------------------------ finance
    SeedKpi {
        module: Some(Module::Finance),
        dashboard: Some(Tile::Summary),
        key: "revenue",
        label: "Revenue",
        unit: USD,
        seed: 1_250_000.0,
        min: 900_000.0,
        max: 1_800_000.0,
        better: UP,
        warning: Some(1_000_000.0),
        critical: Some(950_000.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Finance),
        key: "expenses",
        label: "Expenses",
        unit: USD,
        seed: 830_000.0,
        min: 600_000.0,
        max: 1_300_000.0,
        better: DOWN,
        warning: Some(1_100_000.0),
        critical: Some(1_200_000.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Finance),
        key: "profit_margin",
        label: "Profit margin",
        unit: PCT,
        seed: 33.6,
        min: 5.0,
        max: 50.0,
        decimals: 1,
        better: UP,
        warning: Some(20.0),
        critical: Some(10.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Finance),
        key: "cash_flow",
        label: "Cash flow",
        unit: USD,
        seed: 420_000.0,
        min: -100_000.0,
        max: 700_000.0,
        better: UP,
        warning: Some(50_000.0),
        critical: Some(0.0),
        ..BASE
    },
    // ------------------------------------------------------------ hr
    SeedKpi {
        module: Some(Module::Hr),
        dashboard: Some(Tile::Summary),
        key: "headcount",
        label: "Headcount",
        seed: 412.0,
        min: 350.0,
        max: 500.0,
        better: UP,
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Hr),
        key: "open_positions",
        label: "Open positions",
        seed: 18.0,
        min: 0.0,
        max: 60.0,
        warning: Some(40.0),
        critical: Some(50.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Hr),
        key: "attrition",
        label: "Attrition",
        unit: PCT,
        seed: 7.9,
        min: 2.0,
        max: 25.0,
        decimals: 1,
        better: DOWN,
        warning: Some(7.5),
        critical: Some(12.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Hr),
        key: "satisfaction",
        label: "Satisfaction",
        unit: PCT,
        seed: 78.0,
        min: 40.0,
        max: 100.0,
        better: UP,
        warning: Some(70.0),
        critical: Some(60.0),
        ..BASE
    },
    // ------------------------------------------------------------ security
    SeedKpi {
        module: Some(Module::Security),
        key: "threats_blocked",
        label: "Threats blocked",
        seed: 15_230.0,
        min: 10_000.0,
        max: 25_000.0,
        better: UP,
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Security),
        dashboard: Some(Tile::Summary),
        key: "open_incidents",
        label: "Open incidents",
        seed: 3.0,
        min: 0.0,
        max: 20.0,
        better: DOWN,
        warning: Some(2.0),
        critical: Some(3.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Security),
        key: "vulnerabilities",
        label: "Vulnerabilities",
        seed: 12.0,
        min: 0.0,
        max: 60.0,
        better: DOWN,
        warning: Some(10.0),
        critical: Some(25.0),
        ..BASE
    },
    SeedKpi {
        module: Some(Module::Security),
        key: "compliance",
        label: "Compliance",
        unit: PCT,
        seed: 96.5,
        min: 70.0,
        max: 100.0,
        decimals: 1,
        better: UP,
        warning: Some(90.0),
        critical: Some(80.0),
        ..BASE
    },
    // ------------------------------------------------------------ dashboard only
    SeedKpi {
        dashboard: Some(Tile::Summary),
        key: "active_users",
        label: "Active users",
        seed: 2_840.0,
        min: 1_500.0,
        max: 4_500.0,
        better: UP,
        warning: Some(2_000.0),
        critical: Some(1_700.0),
        ..BASE
    },
    SeedKpi {
        dashboard: Some(Tile::Summary),
        key: "uptime",
        label: "Uptime",
        unit: PCT,
        seed: 99.95,
        min: 99.0,
        max: 100.0,
        decimals: 2,
        better: UP,
        warning: Some(99.9),
        critical: Some(99.5),
        ..BASE
    },
    SeedKpi {
        dashboard: Some(Tile::Top),
        key: "conversion",
        label: "Conversion",
        unit: PCT,
        seed: 3.4,
        min: 1.0,
        max: 6.0,
        decimals: 1,
        better: UP,
        warning: Some(2.5),
        critical: Some(1.5),
        ..BASE
    },
    SeedKpi {
        dashboard: Some(Tile::Top),
        key: "churn",
        label: "Churn",
        unit: PCT,
        seed: 1.8,
        min: 0.5,
        max: 5.0,
        decimals: 1,
        better: DOWN,
        warning: Some(2.5),
        critical: Some(3.5),
        ..BASE
    },
    SeedKpi {
        dashboard: Some(Tile::Top),
        key: "arpu",
        label: "ARPU",
        unit: USD,
        seed: 52.3,
        min: 35.0,
        max: 70.0,
        decimals: 1,
        better: UP,
        ..BASE
    },
    SeedKpi {
        dashboard: Some(Tile::Top),
        key: "latency_p95",
        label: "API latency p95",
        unit: Some("ms"),
        seed: 180.0,
        min: 60.0,
        max: 600.0,
        better: DOWN,
        warning: Some(150.0),
        critical: Some(300.0),
        ..BASE
    },
];

/// The row of `key`.
pub fn find(key: &str) -> Option<&'static SeedKpi> {
    KPIS.iter().find(|s| s.key == key)
}

/// The rows of one module, in table order.
pub fn module(m: Module) -> impl Iterator<Item = &'static SeedKpi> {
    KPIS.iter().filter(move |s| s.module == Some(m))
}

/// The rows of one dashboard tile kind, in table order.
pub fn dashboard(tile: Tile) -> impl Iterator<Item = &'static SeedKpi> {
    KPIS.iter().filter(move |s| s.dashboard == Some(tile))
}

/// The module whose value a dashboard KPI with this key shows, if the key is
/// one of a module's KPIs: the dashboard then shows that module's value, never
/// its own. Any module KPI counts, not only the table's tiles, so a dashboard
/// stored by an older version agrees with the modules too.
pub fn mirrored(key: &str) -> Option<Module> {
    find(key).and_then(|s| s.module)
}

impl Thresholds {
    /// The status of `value`: critical or warning from the threshold on,
    /// on the bad side (below for [`Better::Up`], above otherwise).
    pub fn status(&self, value: f64, better: Option<Better>) -> KpiStatus {
        let reached = |t: Option<f64>| {
            t.is_some_and(|t| match better {
                Some(Better::Up) => value <= t,
                _ => value >= t,
            })
        };
        if reached(self.critical) {
            KpiStatus::Critical
        } else if reached(self.warning) {
            KpiStatus::Warning
        } else {
            KpiStatus::Ok
        }
    }
}

impl SeedKpi {
    /// The thresholds on the wire (`None` when the row has neither).
    pub fn thresholds(&self) -> Option<Thresholds> {
        (self.warning.is_some() || self.critical.is_some()).then_some(Thresholds {
            warning: self.warning,
            critical: self.critical,
        })
    }

    /// The status of `value` by this row's thresholds (ok without any).
    pub fn status(&self, value: f64) -> KpiStatus {
        self.thresholds()
            .map_or(KpiStatus::Ok, |t| t.status(value, self.better))
    }

    /// `value` rounded to this row's decimals.
    pub fn round(&self, value: f64) -> f64 {
        let f = 10f64.powi(i32::from(self.decimals));
        (value * f).round() / f
    }

    /// The KPI at `value`: status from the thresholds, no change yet.
    pub fn kpi_at(&self, value: f64) -> Kpi {
        Kpi {
            key: self.key.to_string(),
            label: self.label.to_string(),
            value,
            unit: self.unit.map(str::to_string),
            delta: Some(0.0),
            status: Some(self.status(value)),
            better: self.better,
            thresholds: self.thresholds(),
        }
    }

    /// The KPI at its seed value.
    pub fn kpi(&self) -> Kpi {
        self.kpi_at(self.seed)
    }
}

/// What the browser preview of the window (`preview/mock.js`) loads: the
/// demo KPIs exactly as the desktop shows them, and how each may walk.
/// Checked in as `preview/seed.json`; a protocol test fails when it is stale.
pub fn preview_json() -> String {
    let modules: serde_json::Map<String, Value> = Module::ALL
        .iter()
        .map(|&m| {
            let kpis: Vec<Kpi> = module(m).map(SeedKpi::kpi).collect();
            (m.as_str().to_string(), json!(kpis))
        })
        .collect();
    let tiles = |t: Tile| -> Vec<Kpi> { dashboard(t).map(SeedKpi::kpi).collect() };
    let walk: serde_json::Map<String, Value> = KPIS
        .iter()
        .map(|s| {
            (
                s.key.to_string(),
                json!({
                    "module": s.module,
                    "min": s.min,
                    "max": s.max,
                    "decimals": s.decimals,
                }),
            )
        })
        .collect();
    let doc = json!({
        "generated": "from crates/protocol/src/seed.rs by `PULSEBOARD_WRITE_PREVIEW=1 cargo test -p pulseboard-protocol --test preview_seed`; do not edit",
        "modules": modules,
        "dashboard": {"summary": tiles(Tile::Summary), "topKpis": tiles(Tile::Top)},
        "walk": walk,
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("plain JSON");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{limits, Validate};
    use std::collections::HashSet;

    #[test]
    fn keys_are_unique_and_every_row_is_shown_somewhere() {
        let mut seen = HashSet::new();
        for s in KPIS {
            assert!(seen.insert(s.key), "{} twice", s.key);
            assert!(
                s.module.is_some() || s.dashboard.is_some(),
                "{} is shown nowhere",
                s.key
            );
        }
    }

    #[test]
    fn seeds_are_within_their_walk_and_rounded_and_valid() {
        for s in KPIS {
            assert!(s.min < s.max, "{}", s.key);
            assert!((s.min..=s.max).contains(&s.seed), "{}", s.key);
            assert_eq!(s.round(s.seed), s.seed, "{}: seed has more decimals", s.key);
            s.kpi().validate().expect("valid seed KPI");
        }
    }

    #[test]
    fn every_module_has_kpis_and_the_dashboard_has_its_tiles() {
        for m in Module::ALL {
            assert!((3..=5).contains(&module(m).count()), "{m}");
        }
        assert_eq!(dashboard(Tile::Summary).count(), limits::DASHBOARD_SUMMARY);
        assert_eq!(dashboard(Tile::Top).count(), limits::DASHBOARD_TOP);
    }

    #[test]
    fn thresholds_follow_the_direction_and_count_from_the_value_on() {
        let margin = find("profit_margin").expect("row");
        assert_eq!(margin.status(30.0), KpiStatus::Ok);
        assert_eq!(margin.status(20.0), KpiStatus::Warning);
        assert_eq!(margin.status(15.0), KpiStatus::Warning);
        assert_eq!(margin.status(10.0), KpiStatus::Critical);
        assert_eq!(margin.status(5.0), KpiStatus::Critical);
        let incidents = find("vulnerabilities").expect("row");
        assert_eq!(incidents.status(2.0), KpiStatus::Ok);
        assert_eq!(incidents.status(10.0), KpiStatus::Warning);
        assert_eq!(incidents.status(30.0), KpiStatus::Critical);
        let plain = find("threats_blocked").expect("row");
        assert_eq!(plain.status(0.0), KpiStatus::Ok);
        assert_eq!(plain.kpi().thresholds, None);
        // Only a warning: never critical.
        let t = Thresholds {
            warning: Some(5.0),
            critical: None,
        };
        assert_eq!(t.status(100.0, None), KpiStatus::Warning);
        assert_eq!(t.status(1.0, None), KpiStatus::Ok);
    }

    #[test]
    fn seed_kpis_carry_direction_and_thresholds() {
        let k = find("expenses").expect("row").kpi();
        assert_eq!(k.better, Some(Better::Down));
        assert_eq!(
            k.thresholds,
            Some(Thresholds {
                warning: Some(1_100_000.0),
                critical: Some(1_200_000.0)
            })
        );
        // The demo shows every colour.
        for want in [KpiStatus::Ok, KpiStatus::Warning, KpiStatus::Critical] {
            assert!(
                KPIS.iter().any(|s| s.status(s.seed) == want),
                "{want:?} in the demo"
            );
        }
    }

    #[test]
    fn a_dashboard_tile_of_a_module_kpi_is_mirrored() {
        assert_eq!(mirrored("reports_generated"), Some(Module::Reports));
        assert_eq!(mirrored("active_users"), None, "dashboard only");
        assert_eq!(
            mirrored("compliance"),
            Some(Module::Security),
            "an older dashboard's tile"
        );
        assert_eq!(mirrored("nope"), None);
    }
}
