//! Sync you can trust: read state catch-up, server identity, gaps, clocks,
//! bounded catch-up, ack timeouts, a dead busy server noticed fast.

mod common;

use std::time::{Duration, Instant};

use common::*;
use pulseboard_core::TransportMode;

async fn busy_server(db: &std::path::Path) -> pulseboard_server::ServerHandle {
    let mut c = pulseboard_server::Config::new(db);
    c.simulator = true;
    c.kpi_interval = Duration::from_millis(200);
    c.dashboard_interval = Duration::from_millis(300);
    pulseboard_server::spawn(c).await.expect("server starts")
}

async fn dead_busy_server_is_noticed(transport: TransportMode, cut: bool) {
    let dir = tempfile::tempdir().unwrap();
    let srv = busy_server(&dir.path().join("s.db")).await;
    let proxy = Proxy::start(srv.addr).await;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    // The app's own patience, not the tests' quick one.
    let url = if cut { proxy.url() } else { srv.url() };
    let mut cfg = config(&url, transport, None);
    cfg.heartbeat = Duration::from_secs(15);
    cfg.ack_timeout = Duration::from_secs(10);
    let mut c = start(cfg);
    until_state(&mut c.rx, "live").await;
    // Traffic is flowing.
    until_event(&mut c.rx, "kpi:update:finance").await;
    until_event(&mut c.rx, "kpi:update:finance").await;
    let t0 = Instant::now();
    if cut {
        proxy.set(Mode::Refuse);
    } else {
        srv.stop().await.unwrap();
        eprintln!("server stopped after {:?}", t0.elapsed());
    }
    until(&mut c.rx, "leaving live", |u| match u {
        pulseboard_core::Update::Connection(s) if !s.is_live() => Some(()),
        _ => None,
    })
    .await;
    let took = t0.elapsed();
    eprintln!("left live after {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "still Live {took:?} after the server went away"
    );
    c.client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_that_stops_is_noticed_within_seconds_websocket() {
    dead_busy_server_is_noticed(TransportMode::Websocket, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_that_stops_is_noticed_within_seconds_polling() {
    dead_busy_server_is_noticed(TransportMode::Polling, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_cut_off_is_noticed_within_seconds() {
    dead_busy_server_is_noticed(TransportMode::Websocket, true).await;
}
