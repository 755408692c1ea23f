//! Server emit -> client-core update latency on loopback.
//!
//! pulseboard-server runs in this process (`pulseboard_server::spawn`, no
//! simulator); a `pulseboard_core::Client` subscribes to `finance` over
//! websocket; KPI updates are pushed with `PUT /api/kpis/finance` (HTTP
//! keep-alive) at a fixed rate with the send time (µs since the epoch) as the
//! KPI value. The receive time is taken when the update comes out of
//! `Store::subscribe()`.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use pulseboard_core::{Client, ClientConfig, ClientState, Store, TransportMode, Update};
use pulseboard_protocol::{Module, ServerEvent};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::util::{self, percentiles};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// KPI updates per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Measured seconds (after a 1 s warm-up that is not counted).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Tokio worker threads for server + client + sender.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Append the result (one JSON line) here.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Default)]
struct Samples {
    /// HTTP send -> store update, ms.
    e2e: Vec<f64>,
    /// Server `updatedAt` (set in put_kpis just before persist + emit) -> store update, ms.
    emit: Vec<f64>,
    received: u64,
    lagged: u64,
}

pub fn run(a: Args) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.workers)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(measure(a))
}

async fn measure(a: Args) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut config = pulseboard_server::Config::new(dir.path().join("server.db"));
    config.simulator = false;
    // 1000 PUTs per second from one address: above the default rate limit.
    config.rate_limit = u32::MAX;
    let server = pulseboard_server::spawn(config)
        .await
        .map_err(|e| e.to_string())?;
    let url = server.url();

    let store = Store::new(ClientState::empty(&url));
    let mut cc = ClientConfig::new(url.clone());
    cc.transport = TransportMode::Websocket;
    cc.modules = vec![Module::Finance];
    let client = Client::start(cc, store.clone());

    // Wait until the finance snapshot from the server is in the store.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = store.read(|s| {
            s.connection.is_live()
                && s.source == pulseboard_core::DataSource::Server
                && s.modules.contains_key(&Module::Finance)
        });
        if ok {
            break;
        }
        if Instant::now() > deadline {
            return Err("client did not come up within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let samples = Arc::new(Mutex::new(Samples::default()));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut rx = store.subscribe();
    let recv = {
        let (samples, measuring) = (samples.clone(), measuring.clone());
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(Update::Event(ServerEvent::KpiUpdate(k))) if k.module == Module::Finance => {
                        let now = util::now_us();
                        let Some(first) = k.kpis.first().filter(|x| x.key == "sent_us") else {
                            continue;
                        };
                        if !measuring.load(std::sync::atomic::Ordering::Relaxed) {
                            continue;
                        }
                        let sent = first.value as u64;
                        let upd = k.updated_at.timestamp_micros().max(0) as u64;
                        let mut s = samples.lock().unwrap();
                        s.received += 1;
                        s.e2e.push(now.saturating_sub(sent) as f64 / 1000.0);
                        s.emit.push(now.saturating_sub(upd) as f64 / 1000.0);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => samples.lock().unwrap().lagged += n,
                    Err(RecvError::Closed) => break,
                }
            }
        })
    };

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let put = format!("{url}/api/kpis/finance");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / a.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let warmup = a.rate as u64; // 1 s
    let total = warmup + (a.rate * a.secs) as u64;
    let mut sent = 0u64;
    let mut errors = 0u64;
    let mut t_measure = Instant::now();
    for i in 0..total {
        if i == warmup {
            // Let warm-up deliveries land before counting.
            tokio::time::sleep(Duration::from_millis(200)).await;
            measuring.store(true, std::sync::atomic::Ordering::Relaxed);
            tick.reset();
            t_measure = Instant::now();
        }
        tick.tick().await;
        let body = json!({"kpis": [{"key": "sent_us", "label": "Sent at (us)", "value": util::now_us() as f64}]});
        match http.put(&put).json(&body).send().await {
            Ok(r) if r.status().is_success() => {
                if i >= warmup {
                    sent += 1;
                }
            }
            _ => errors += 1,
        }
    }
    let send_secs = t_measure.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(5);
    while samples.lock().unwrap().received < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (e2e, emit, received, lagged) = {
        let mut s = samples.lock().unwrap();
        (
            percentiles(&mut s.e2e),
            percentiles(&mut s.emit),
            s.received,
            s.lagged,
        )
    };
    recv.abort();
    client.shutdown().await;
    let _ = server.stop().await;

    eprintln!(
        "[core-latency] {sent} sent at {:.0}/s, {received} applied; HTTP send->store p50 {:.3} ms p99 {:.3} ms; server updatedAt->store p50 {:.3} ms p99 {:.3} ms",
        sent as f64 / send_secs, e2e.p50, e2e.p99, emit.p50, emit.p99
    );
    let result = json!({
        "kind": "core_latency",
        "rate_target": a.rate,
        "rate_achieved": sent as f64 / send_secs,
        "sent": sent,
        "received": received,
        "http_errors": errors,
        "lagged": lagged,
        "e2e_ms": e2e,
        "emit_ms": emit,
        "workers": a.workers,
        "cmd": util::command_line(),
    });
    util::append_result(&a.out, &result).map_err(|e| e.to_string())
}
