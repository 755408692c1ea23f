//! Plausible sample data: the desktop's built-in demo data and the server's
//! starting values, both made from the one seed table ([`crate::seed`]).
//! Pure data, no I/O.

use chrono::{DateTime, Utc};

use crate::{
    seed::{self, SeedKpi, Tile},
    Dashboard, Module, ModuleKpis,
};

/// Sample KPIs of one module.
pub fn module_kpis(module: Module, at: DateTime<Utc>) -> ModuleKpis {
    ModuleKpis {
        module,
        kpis: seed::module(module).map(SeedKpi::kpi).collect(),
        updated_at: at,
    }
}

/// A sample dashboard: 6 summary cards and 4 top KPIs. A tile of a module's
/// KPI has that module's sample value.
pub fn dashboard(at: DateTime<Utc>) -> Dashboard {
    Dashboard {
        summary: seed::dashboard(Tile::Summary).map(SeedKpi::kpi).collect(),
        top_kpis: seed::dashboard(Tile::Top).map(SeedKpi::kpi).collect(),
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

    #[test]
    fn the_dashboard_and_the_modules_agree() {
        let now = Utc::now();
        let d = dashboard(now);
        let mut mirrored = 0;
        for tile in d.summary.iter().chain(&d.top_kpis) {
            if let Some(m) = seed::mirrored(&tile.key) {
                let k = module_kpis(m, now)
                    .kpis
                    .into_iter()
                    .find(|k| k.key == tile.key)
                    .expect("the module has it");
                assert_eq!(&k, tile);
                mirrored += 1;
            }
        }
        assert!(mirrored > 0, "some tiles show module KPIs");
    }
}
