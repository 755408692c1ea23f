//! Seed values and the built-in KPI simulator.
//!
//! Every KPI tick each module's KPIs take a bounded random-walk step; every
//! dashboard tick the dashboard does the same. Now and then a notification or
//! an alert is raised. All changes go through the same [`App`] methods as the
//! HTTP API.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use pulseboard_protocol::{
    AlertSeverity, Dashboard, Kpi, KpiStatus, Module, ModuleKpis, NewAlert, NewNotification,
    NotificationSeverity,
};
use rand::Rng;
use tokio::{task::JoinHandle, time::MissedTickBehavior};

use crate::App;

/// Shortest simulator period accepted; shorter ones are raised to this.
const MIN_PERIOD: Duration = Duration::from_millis(50);
/// One KPI tick in this many raises a notification.
const NOTIFICATION_ONE_IN: u32 = 12;
/// One KPI tick in this many raises an alert.
const ALERT_ONE_IN: u32 = 60;

/// How one KPI behaves.
struct Spec {
    key: &'static str,
    label: &'static str,
    unit: Option<&'static str>,
    seed: f64,
    min: f64,
    max: f64,
    decimals: i32,
    /// `Some((warning, critical))` thresholds.
    thresholds: Option<(f64, f64)>,
    higher_is_better: bool,
}

#[allow(clippy::too_many_arguments)]
const fn spec(
    key: &'static str,
    label: &'static str,
    unit: Option<&'static str>,
    seed: f64,
    min: f64,
    max: f64,
    decimals: i32,
    thresholds: Option<(f64, f64)>,
    higher_is_better: bool,
) -> Spec {
    Spec {
        key,
        label,
        unit,
        seed,
        min,
        max,
        decimals,
        thresholds,
        higher_is_better,
    }
}

const USD: Option<&str> = Some("USD");
const PCT: Option<&str> = Some("%");

const SPECS: &[Spec] = &[
    // reports
    spec(
        "reports_generated",
        "Reports generated",
        None,
        1240.0,
        800.0,
        2000.0,
        0,
        None,
        true,
    ),
    spec(
        "pending_reviews",
        "Pending reviews",
        None,
        37.0,
        0.0,
        120.0,
        0,
        Some((60.0, 90.0)),
        false,
    ),
    spec(
        "avg_generation_s",
        "Avg. generation time",
        Some("s"),
        4.2,
        1.0,
        15.0,
        1,
        Some((8.0, 12.0)),
        false,
    ),
    spec(
        "export_success",
        "Export success rate",
        PCT,
        98.6,
        85.0,
        100.0,
        1,
        Some((95.0, 90.0)),
        true,
    ),
    // finance
    spec(
        "revenue",
        "Revenue",
        USD,
        1_284_500.0,
        900_000.0,
        1_800_000.0,
        0,
        Some((1_000_000.0, 950_000.0)),
        true,
    ),
    spec(
        "expenses",
        "Expenses",
        USD,
        862_300.0,
        600_000.0,
        1_300_000.0,
        0,
        Some((1_100_000.0, 1_200_000.0)),
        false,
    ),
    spec(
        "profit_margin",
        "Profit margin",
        PCT,
        32.9,
        5.0,
        50.0,
        1,
        Some((20.0, 10.0)),
        true,
    ),
    spec(
        "cash_flow",
        "Cash flow",
        USD,
        214_800.0,
        -100_000.0,
        500_000.0,
        0,
        Some((50_000.0, 0.0)),
        true,
    ),
    // hr
    spec(
        "headcount",
        "Headcount",
        None,
        482.0,
        420.0,
        560.0,
        0,
        None,
        true,
    ),
    spec(
        "open_positions",
        "Open positions",
        None,
        23.0,
        0.0,
        60.0,
        0,
        Some((40.0, 50.0)),
        false,
    ),
    spec(
        "attrition",
        "Attrition",
        PCT,
        8.4,
        2.0,
        25.0,
        1,
        Some((12.0, 18.0)),
        false,
    ),
    spec(
        "satisfaction",
        "Employee satisfaction",
        Some("/5"),
        4.1,
        1.0,
        5.0,
        2,
        Some((3.5, 3.0)),
        true,
    ),
    // security
    spec(
        "threats_blocked",
        "Threats blocked",
        None,
        1873.0,
        1000.0,
        5000.0,
        0,
        None,
        true,
    ),
    spec(
        "open_incidents",
        "Open incidents",
        None,
        3.0,
        0.0,
        20.0,
        0,
        Some((5.0, 10.0)),
        false,
    ),
    spec(
        "vulnerabilities",
        "Vulnerabilities",
        None,
        12.0,
        0.0,
        60.0,
        0,
        Some((25.0, 40.0)),
        false,
    ),
    spec(
        "compliance",
        "Compliance",
        PCT,
        96.2,
        70.0,
        100.0,
        1,
        Some((90.0, 80.0)),
        true,
    ),
    // dashboard only
    spec(
        "total_revenue",
        "Total revenue",
        USD,
        1_284_500.0,
        900_000.0,
        1_800_000.0,
        0,
        Some((1_000_000.0, 950_000.0)),
        true,
    ),
    spec(
        "active_users",
        "Active users",
        None,
        12_480.0,
        8_000.0,
        20_000.0,
        0,
        Some((10_000.0, 9_000.0)),
        true,
    ),
];

fn module_keys(m: Module) -> &'static [&'static str] {
    match m {
        Module::Reports => &[
            "reports_generated",
            "pending_reviews",
            "avg_generation_s",
            "export_success",
        ],
        Module::Finance => &["revenue", "expenses", "profit_margin", "cash_flow"],
        Module::Hr => &["headcount", "open_positions", "attrition", "satisfaction"],
        Module::Security => &[
            "threats_blocked",
            "open_incidents",
            "vulnerabilities",
            "compliance",
        ],
    }
}

const DASHBOARD_SUMMARY: [&str; 6] = [
    "total_revenue",
    "active_users",
    "reports_generated",
    "headcount",
    "open_incidents",
    "compliance",
];
const DASHBOARD_TOP: [&str; 4] = [
    "profit_margin",
    "satisfaction",
    "threats_blocked",
    "cash_flow",
];

fn find(key: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.key == key)
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn status(spec: &Spec, v: f64) -> KpiStatus {
    match spec.thresholds {
        None => KpiStatus::Ok,
        Some((warn, crit)) if spec.higher_is_better => {
            if v < crit {
                KpiStatus::Critical
            } else if v < warn {
                KpiStatus::Warning
            } else {
                KpiStatus::Ok
            }
        }
        Some((warn, crit)) => {
            if v > crit {
                KpiStatus::Critical
            } else if v > warn {
                KpiStatus::Warning
            } else {
                KpiStatus::Ok
            }
        }
    }
}

fn seed_kpi(spec: &Spec) -> Kpi {
    Kpi {
        key: spec.key.into(),
        label: spec.label.into(),
        value: spec.seed,
        unit: spec.unit.map(Into::into),
        delta: Some(0.0),
        status: Some(status(spec, spec.seed)),
        better: None,
        thresholds: None,
    }
}

fn seed_list(keys: &[&str]) -> Vec<Kpi> {
    keys.iter().filter_map(|k| find(k)).map(seed_kpi).collect()
}

/// Plausible starting KPIs of a module.
pub(crate) fn seed_module(m: Module) -> ModuleKpis {
    ModuleKpis {
        module: m,
        kpis: seed_list(module_keys(m)),
        updated_at: Utc::now(),
    }
}

/// Plausible starting dashboard: 6 summary cards and 4 top KPIs.
pub(crate) fn seed_dashboard() -> Dashboard {
    Dashboard {
        summary: seed_list(&DASHBOARD_SUMMARY),
        top_kpis: seed_list(&DASHBOARD_TOP),
        updated_at: Utc::now(),
    }
}

/// One random-walk step of a KPI. Known KPIs stay within their bounds, lean
/// back toward their seed value and get a status from their thresholds;
/// unknown ones (set over HTTP) move by at most 2 % and keep their status.
pub(crate) fn drift<R: Rng + ?Sized>(kpi: &Kpi, rng: &mut R) -> Kpi {
    let old = kpi.value;
    let mut next = kpi.clone();
    match find(&kpi.key) {
        Some(spec) => {
            let span = spec.max - spec.min;
            let step = span * 0.02 * rng.random_range(-1.0..=1.0);
            let pull = (spec.seed - old) * 0.05;
            let v = round((old + step + pull).clamp(spec.min, spec.max), spec.decimals);
            next.value = v;
            next.status = Some(status(spec, v));
        }
        None => {
            let factor = 1.0 + rng.random_range(-0.02..=0.02);
            next.value = round(old * factor, 2);
        }
    }
    let delta = if old.abs() > f64::EPSILON {
        round((next.value - old) / old.abs() * 100.0, 2)
    } else {
        0.0
    };
    next.delta = delta.is_finite().then_some(delta);
    if !next.value.is_finite() {
        next.value = old;
    }
    next
}

fn pick_notification<R: Rng + ?Sized>(rng: &mut R) -> NewNotification {
    const TEMPLATES: &[(Module, NotificationSeverity, &str, &str)] = &[
        (
            Module::Reports,
            NotificationSeverity::Success,
            "Report ready",
            "The weekly operations report has been generated.",
        ),
        (
            Module::Reports,
            NotificationSeverity::Info,
            "Review requested",
            "A quarterly report is waiting for your review.",
        ),
        (
            Module::Finance,
            NotificationSeverity::Warning,
            "Expense spike",
            "Expenses are above the monthly forecast.",
        ),
        (
            Module::Finance,
            NotificationSeverity::Success,
            "Invoice paid",
            "A large customer invoice has been settled.",
        ),
        (
            Module::Hr,
            NotificationSeverity::Info,
            "New hire",
            "A new team member starts on Monday.",
        ),
        (
            Module::Hr,
            NotificationSeverity::Warning,
            "Position open too long",
            "A key position has been open for 60 days.",
        ),
        (
            Module::Security,
            NotificationSeverity::Error,
            "Failed logins",
            "Repeated failed logins were detected on an admin account.",
        ),
        (
            Module::Security,
            NotificationSeverity::Info,
            "Scan complete",
            "The nightly vulnerability scan has finished.",
        ),
    ];
    let (module, severity, title, body) = TEMPLATES[rng.random_range(0..TEMPLATES.len())];
    NewNotification {
        title: title.into(),
        body: body.into(),
        severity,
        module: Some(module),
    }
}

fn pick_alert<R: Rng + ?Sized>(rng: &mut R) -> NewAlert {
    const TEMPLATES: &[(AlertSeverity, &str, &str)] = &[
        (
            AlertSeverity::Info,
            "Maintenance window",
            "Scheduled maintenance tonight from 22:00 to 23:00 UTC.",
        ),
        (
            AlertSeverity::Warning,
            "Degraded performance",
            "Report generation is slower than usual.",
        ),
        (
            AlertSeverity::Critical,
            "Intrusion attempt",
            "An intrusion attempt was blocked at the edge firewall.",
        ),
    ];
    let (severity, title, message) = TEMPLATES[rng.random_range(0..TEMPLATES.len())];
    NewAlert {
        title: title.into(),
        message: message.into(),
        severity,
    }
}

async fn kpi_tick(app: &App) {
    for m in Module::ALL {
        let current = app.module_kpis(m);
        let next: Vec<Kpi> = {
            let mut rng = rand::rng();
            current.kpis.iter().map(|k| drift(k, &mut rng)).collect()
        };
        app.put_kpis(m, next).await;
    }
    let (notify, alert) = {
        let mut rng = rand::rng();
        let notify = rng.random_range(0..NOTIFICATION_ONE_IN) == 0;
        let alert = rng.random_range(0..ALERT_ONE_IN) == 0;
        (
            notify.then(|| pick_notification(&mut rng)),
            alert.then(|| pick_alert(&mut rng)),
        )
    };
    if let Some(n) = notify {
        if let Err(e) = app.add_notification(n).await {
            tracing::warn!(%e, "simulator could not store a notification");
        }
    }
    if let Some(a) = alert {
        if let Err(e) = app.raise_alert(a).await {
            tracing::warn!(%e, "simulator could not raise an alert");
        }
    }
}

async fn dashboard_tick(app: &App) {
    let current = app.dashboard();
    let (summary, top) = {
        let mut rng = rand::rng();
        let summary: Vec<Kpi> = current.summary.iter().map(|k| drift(k, &mut rng)).collect();
        let top: Vec<Kpi> = current
            .top_kpis
            .iter()
            .map(|k| drift(k, &mut rng))
            .collect();
        (summary, top)
    };
    app.put_dashboard(summary, top).await;
}

/// Start the simulator; abort the handle to stop it.
pub(crate) fn spawn(
    app: Arc<App>,
    kpi_every: Duration,
    dashboard_every: Duration,
) -> JoinHandle<()> {
    let kpi_every = kpi_every.max(MIN_PERIOD);
    let dashboard_every = dashboard_every.max(MIN_PERIOD);
    tracing::info!(?kpi_every, ?dashboard_every, "simulator running");
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut kpi = tokio::time::interval_at(start + kpi_every, kpi_every);
        let mut dash = tokio::time::interval_at(start + dashboard_every, dashboard_every);
        kpi.set_missed_tick_behavior(MissedTickBehavior::Delay);
        dash.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let dashboard = tokio::select! {
                _ = kpi.tick() => false,
                _ = dash.tick() => true,
            };
            // Held for the whole tick: the first real write waits for it, so
            // nothing simulated lands after real data (see App::note_real_data).
            let _gate = app.edge.sim_gate.lock().await;
            if app.simulator_must_stop() {
                tracing::warn!(
                    "simulator stopped: real data went into this store \
                     (--simulate-on-real-data keeps it running)"
                );
                return;
            }
            if dashboard {
                dashboard_tick(&app).await;
            } else {
                kpi_tick(&app).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulseboard_protocol::{limits, Validate};

    #[test]
    fn seeds_are_valid() {
        for m in Module::ALL {
            let k = seed_module(m);
            assert!((3..=5).contains(&k.kpis.len()), "{m}");
            k.validate().expect("valid module seed");
        }
        let d = seed_dashboard();
        assert_eq!(d.summary.len(), limits::DASHBOARD_SUMMARY);
        assert_eq!(d.top_kpis.len(), limits::DASHBOARD_TOP);
        d.validate().expect("valid dashboard seed");
    }

    #[test]
    fn drift_stays_bounded_and_valid() {
        let mut rng = rand::rng();
        for m in Module::ALL {
            let mut kpis = seed_module(m).kpis;
            for _ in 0..2000 {
                kpis = kpis.iter().map(|k| drift(k, &mut rng)).collect();
            }
            for k in &kpis {
                let spec = find(&k.key).expect("known key");
                assert!(
                    k.value >= spec.min && k.value <= spec.max,
                    "{} = {}",
                    k.key,
                    k.value
                );
                k.validate().expect("valid kpi");
                assert!(k.delta.is_some() && k.status.is_some());
            }
        }
        let unknown = Kpi {
            key: "custom".into(),
            label: "Custom".into(),
            value: 100.0,
            unit: None,
            delta: None,
            status: Some(KpiStatus::Warning),
            better: None,
            thresholds: None,
        };
        let next = drift(&unknown, &mut rng);
        assert!((98.0..=102.0).contains(&next.value));
        assert_eq!(next.status, Some(KpiStatus::Warning));
        let zero = Kpi {
            value: 0.0,
            ..unknown
        };
        assert_eq!(drift(&zero, &mut rng).delta, Some(0.0));
    }

    #[test]
    fn status_thresholds() {
        let margin = find("profit_margin").expect("spec");
        assert_eq!(status(margin, 30.0), KpiStatus::Ok);
        assert_eq!(status(margin, 15.0), KpiStatus::Warning);
        assert_eq!(status(margin, 5.0), KpiStatus::Critical);
        let incidents = find("open_incidents").expect("spec");
        assert_eq!(status(incidents, 2.0), KpiStatus::Ok);
        assert_eq!(status(incidents, 7.0), KpiStatus::Warning);
        assert_eq!(status(incidents, 11.0), KpiStatus::Critical);
    }
}
