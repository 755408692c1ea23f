//! The built-in simulator against a real server on 127.0.0.1:0.

mod common;

use std::{collections::HashSet, time::Duration};

use common::{config, start, WAIT};
use pulseboard_protocol::Snapshot;
use reqwest::Client;

async fn snapshot(http: &Client, url: &str) -> Snapshot {
    http.get(format!("{url}/api/snapshot"))
        .send()
        .await
        .expect("snapshot")
        .json()
        .await
        .expect("snapshot shape")
}

/// (key, dashboard value, module value) of every dashboard tile that is also
/// a module's KPI.
fn shared(s: &Snapshot) -> Vec<(String, f64, f64)> {
    let d = &s.dashboard;
    d.summary
        .iter()
        .chain(&d.top_kpis)
        .filter_map(|tile| {
            s.modules.values().find_map(|m| {
                m.kpis
                    .iter()
                    .find(|k| k.key == tile.key)
                    .map(|k| (tile.key.clone(), tile.value, k.value))
            })
        })
        .collect()
}

/// A KPI on both the Dashboard and the Overview (a module card) reads the
/// same there, however the simulator's two ticks interleave: the dashboard
/// shows the module's value instead of walking a copy of its own.
#[tokio::test]
async fn the_dashboard_shows_a_module_kpi_with_the_modules_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir);
    c.simulator = true;
    c.kpi_interval = Duration::from_millis(50);
    c.dashboard_interval = Duration::from_millis(80);
    let server = start(c).await;
    let http = Client::new();
    let url = server.url();
    let first = snapshot(&http, &url).await;
    assert!(
        !shared(&first).is_empty(),
        "the dashboard shows some module KPIs"
    );
    let mut seen = HashSet::new();
    let mut moved = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(moved && seen.len() >= 10) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for ten settled snapshots after the KPIs moved"
        );
        let s = snapshot(&http, &url).await;
        // Taken between a tick's module writes and its dashboard write: not
        // what a window settles on.
        if s.modules
            .values()
            .any(|m| m.updated_at > s.dashboard.updated_at)
        {
            continue;
        }
        for (key, on_dashboard, in_module) in shared(&s) {
            assert_eq!(
                on_dashboard, in_module,
                "{key}: the Dashboard and the Overview disagree"
            );
        }
        moved |= shared(&s) != shared(&first);
        seen.insert(s.dashboard.updated_at);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await.unwrap();
}
