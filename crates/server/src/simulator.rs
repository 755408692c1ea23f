//! Seed values and the built-in KPI simulator, both from the seed table
//! ([`pulseboard_protocol::seed`]).
//!
//! Every KPI tick each module's KPIs take a bounded random-walk step, and the
//! dashboard's tiles of module KPIs take the modules' new KPIs (one value in
//! both places); every dashboard tick the dashboard's own KPIs take a step.
//! Now and then a notification or an alert is raised. All changes go through
//! the same [`App`] methods as the HTTP API.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use pulseboard_protocol::{
    sample, seed, AlertSeverity, Dashboard, Kpi, Module, ModuleKpis, NewAlert, NewNotification,
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

/// Plausible starting KPIs of a module (the seed table's).
pub(crate) fn seed_module(m: Module) -> ModuleKpis {
    sample::module_kpis(m, Utc::now())
}

/// Plausible starting dashboard: 6 summary cards and 4 top KPIs (the seed
/// table's).
pub(crate) fn seed_dashboard() -> Dashboard {
    sample::dashboard(Utc::now())
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// One random-walk step of a KPI. KPIs of the seed table stay within their
/// bounds, lean back toward their seed value, get a status from their
/// thresholds and carry the table's `better` and `thresholds`; unknown ones
/// (set over HTTP) move by at most 2 % and keep their status.
pub(crate) fn drift<R: Rng + ?Sized>(kpi: &Kpi, rng: &mut R) -> Kpi {
    let old = kpi.value;
    let mut next = kpi.clone();
    match seed::find(&kpi.key) {
        Some(spec) => {
            let span = spec.max - spec.min;
            let step = span * 0.02 * rng.random_range(-1.0..=1.0);
            let pull = (spec.seed - old) * 0.05;
            let v = spec.round((old + step + pull).clamp(spec.min, spec.max));
            next.value = v;
            next.status = Some(spec.status(v));
            next.better = spec.better;
            next.thresholds = spec.thresholds();
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

/// The dashboard's KPIs, where a tile of a module's KPI is that module's
/// KPI as it is now (one value in both places) and every other tile is
/// what `own` makes of it.
fn dashboard_kpis(app: &App, tiles: &[Kpi], mut own: impl FnMut(&Kpi) -> Kpi) -> Vec<Kpi> {
    tiles
        .iter()
        .map(|tile| {
            seed::mirrored(&tile.key)
                .and_then(|m| {
                    app.module_kpis(m)
                        .kpis
                        .into_iter()
                        .find(|k| k.key == tile.key)
                })
                .unwrap_or_else(|| own(tile))
        })
        .collect()
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
    // The dashboard's tiles of module KPIs follow at once: the Dashboard and
    // the Overview never show two values of one KPI.
    let current = app.dashboard();
    let summary = dashboard_kpis(app, &current.summary, Kpi::clone);
    let top = dashboard_kpis(app, &current.top_kpis, Kpi::clone);
    if summary != current.summary || top != current.top_kpis {
        app.put_dashboard(summary, top).await;
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
        let summary = dashboard_kpis(app, &current.summary, |k| drift(k, &mut rng));
        let top = dashboard_kpis(app, &current.top_kpis, |k| drift(k, &mut rng));
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
    use pulseboard_protocol::{limits, KpiStatus, Validate};

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
                let spec = seed::find(&k.key).expect("known key");
                assert!(
                    k.value >= spec.min && k.value <= spec.max,
                    "{} = {}",
                    k.key,
                    k.value
                );
                k.validate().expect("valid kpi");
                assert!(k.delta.is_some() && k.status.is_some());
                assert_eq!(k.status, Some(spec.status(k.value)), "{}", k.key);
                assert_eq!(k.better, spec.better, "{}", k.key);
                assert_eq!(k.thresholds, spec.thresholds(), "{}", k.key);
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
        let margin = seed::find("profit_margin").expect("spec");
        assert_eq!(margin.status(30.0), KpiStatus::Ok);
        assert_eq!(margin.status(15.0), KpiStatus::Warning);
        assert_eq!(margin.status(5.0), KpiStatus::Critical);
        let positions = seed::find("open_positions").expect("spec");
        assert_eq!(positions.status(2.0), KpiStatus::Ok);
        assert_eq!(positions.status(45.0), KpiStatus::Warning);
        assert_eq!(positions.status(55.0), KpiStatus::Critical);
    }
}
