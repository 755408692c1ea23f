//! Client-core throughput: server events decoded, validated and applied to the
//! state, on one thread (pin the process with `taskset -c N` for one core).

use std::{path::PathBuf, time::Instant};

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use pulseboard_core::{ClientState, Store};
use pulseboard_protocol::{
    sample, Alert, AlertSeverity, Module, Notification, NotificationSeverity, ServerEvent,
};
use serde_json::{json, Value};

use crate::util;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events per measured run.
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
    /// Measured runs per variant (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Append the result (one JSON line) here.
    #[arg(long)]
    pub out: PathBuf,
}

fn at(base: DateTime<Utc>, i: usize) -> DateTime<Utc> {
    base + ChronoDuration::milliseconds(i as i64)
}

/// A realistic stream: 70 % module KPIs (all four modules, 3-4 KPIs each),
/// 10 % dashboards, 10 % notifications, 10 % alerts; every one newer than the
/// last, so none is dropped as a repeat.
fn event(i: usize, base: DateTime<Utc>, kpi_only: bool) -> ServerEvent {
    let t = at(base, i);
    let kind = if kpi_only { 9 } else { i % 10 };
    match kind {
        0 => {
            let mut d = sample::dashboard(t);
            for (j, k) in d.summary.iter_mut().enumerate() {
                k.value += (i + j) as f64;
            }
            ServerEvent::DashboardUpdate(d)
        }
        1 => ServerEvent::NotificationNew(Notification {
            id: format!("n-{}", i + 1),
            seq: i as u64 + 1,
            title: "Invoice paid".into(),
            body: format!("ACME paid INV-{i}."),
            severity: NotificationSeverity::Success,
            module: Some(Module::Finance),
            created_at: t,
            read: false,
        }),
        2 => ServerEvent::AlertSystem(Alert {
            id: format!("a-{i}"),
            severity: AlertSeverity::Warning,
            title: "Disk usage".into(),
            message: format!("Volume {i} is 91% full."),
            created_at: t,
        }),
        _ => {
            let m = Module::ALL[i % 4];
            let mut k = sample::module_kpis(m, t);
            for (j, kpi) in k.kpis.iter_mut().enumerate() {
                kpi.value += ((i * 7 + j) % 1000) as f64 / 10.0;
                kpi.delta = Some(((i + j) % 50) as f64 / 10.0 - 2.5);
            }
            ServerEvent::KpiUpdate(k)
        }
    }
}

fn build(n: usize, base: DateTime<Utc>, kpi_only: bool) -> Vec<(&'static str, Value)> {
    (0..n)
        .map(|i| {
            let e = event(i, base, kpi_only);
            (e.name(), e.payload())
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Run one variant `runs` times; returns events/s (median) and the runs.
fn measure(a: &Args, kpi_only: bool, variant: &str) -> (f64, Vec<f64>, f64) {
    let mut rates = Vec::new();
    let mut bytes_per_event = 0.0;
    for run in 0..a.runs + 1 {
        // Each run gets a fresh state and a stream newer than anything before.
        let base = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let events = build(a.events, base, kpi_only);
        let texts: Vec<(&'static str, String)> = if variant == "text" {
            events
                .iter()
                .map(|(n, v)| (*n, serde_json::to_string(v).unwrap()))
                .collect()
        } else {
            Vec::new()
        };
        if variant == "text" {
            bytes_per_event =
                texts.iter().map(|(_, s)| s.len()).sum::<usize>() as f64 / texts.len() as f64;
        }
        let now = Utc::now();
        let mut accepted = 0usize;
        let t0;
        match variant {
            "state" => {
                let mut state = ClientState::empty("bench");
                t0 = Instant::now();
                for (name, v) in events {
                    let ev = ServerEvent::decode(name, v).expect("valid event");
                    accepted += state.apply(ev, now).len().min(1);
                }
            }
            "store" => {
                let store = Store::new(ClientState::empty("bench"));
                let _rx = store.subscribe(); // one subscriber, as in the app
                t0 = Instant::now();
                for (name, v) in events {
                    let ev = ServerEvent::decode(name, v).expect("valid event");
                    store.apply(|s| {
                        let u = s.apply(ev, now);
                        accepted += u.len().min(1);
                        u
                    });
                }
            }
            "text" => {
                drop(events);
                let mut state = ClientState::empty("bench");
                t0 = Instant::now();
                for (name, s) in texts {
                    let v: Value = serde_json::from_str(&s).expect("json");
                    let ev = ServerEvent::decode(name, v).expect("valid event");
                    accepted += state.apply(ev, now).len().min(1);
                }
            }
            _ => unreachable!(),
        }
        let secs = t0.elapsed().as_secs_f64();
        assert_eq!(accepted, a.events, "every event must be applied");
        if run > 0 {
            // run 0 is a warm-up
            rates.push(a.events as f64 / secs);
        }
    }
    (median(rates.clone()), rates, bytes_per_event)
}

pub fn run(a: Args) -> Result<(), String> {
    let mut out = serde_json::Map::new();
    for (label, kpi_only, variant) in [
        ("mixed_value_state", false, "state"),
        ("mixed_value_store", false, "store"),
        ("mixed_text_state", false, "text"),
        ("kpi_value_state", true, "state"),
        ("kpi_text_state", true, "text"),
    ] {
        let (med, runs, bytes) = measure(&a, kpi_only, variant);
        eprintln!(
            "[core-apply] {label}: {:.0} events/s (median of {})",
            med,
            runs.len()
        );
        out.insert(
            label.into(),
            json!({"events_per_sec": med, "runs": runs, "avg_json_bytes": bytes}),
        );
    }
    let result = json!({
        "kind": "core_apply",
        "events": a.events,
        "runs": a.runs,
        "variants": out,
        "cpu_affinity": affinity(),
        "cmd": util::command_line(),
    });
    util::append_result(&a.out, &result).map_err(|e| e.to_string())
}

/// The CPUs this process may run on (from /proc/self/status).
pub fn affinity() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}
