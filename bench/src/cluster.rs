//! One node against a cluster (three nodes, Redis, one PostgreSQL), in one
//! run: N raw websocket clients spread over the nodes, each subscribed to
//! notifications and to the `finance` module; notifications
//! (`POST /api/notifications`) and KPIs (`PUT /api/kpis/finance`) published
//! over HTTP at a fixed rate, to one node or round-robin to every node.
//!
//! This process starts PostgreSQL and redis-server itself (the helpers of the
//! server's tests, `pulseboard_testkit::services`) and the nodes as child
//! processes, and reads their CPU time and RSS from /proc: the nodes
//! together, Redis, and PostgreSQL (the postmaster and its backends)
//! separately. The clients are [`crate::server_load`]'s.

use std::{
    fmt::Write as _,
    path::PathBuf,
    process::Child,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use pulseboard_testkit::services::{Postgres, Redis};
use serde_json::{json, Value};

use crate::{
    server_load::{self, Shared, Watch, KPI_FINANCE, SUBSCRIBE_FINANCE},
    util::{self, percentiles},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Connected clients (spread evenly over the nodes).
    #[arg(long, default_value_t = 600)]
    pub clients: usize,
    /// Nodes of the cluster setup.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Events published per second in each phase (a list: each rate is a
    /// phase of its own).
    #[arg(long, value_delimiter = ',', default_value = "20")]
    pub rate: Vec<f64>,
    /// Seconds of publishing per phase (rate x secs events).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Path of the pulseboard-server binary.
    #[arg(long, default_value = "target/release/pulseboard-server")]
    pub server_bin: PathBuf,
    /// Connections opened concurrently per batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Pause after the last connection before measuring RSS, in ms (the
    /// idle CPU is measured over it).
    #[arg(long, default_value_t = 5000)]
    pub settle_ms: u64,
    /// Longest wait for outstanding deliveries after a phase's last event, in s.
    #[arg(long, default_value_t = 20)]
    pub drain_timeout_s: u64,
    /// Append the results (one JSON line per phase) here.
    #[arg(long)]
    pub out: PathBuf,
}

/// `notification:new`, stamped in the title (see [`notification_body`]).
const NOTIFICATION_NEW: Watch = Watch {
    prefix: r#"42["notification:new","#,
    stamp: r#""title":""#,
};

const SUBSCRIBE_NOTIFICATIONS: &str = r#"["notification:subscribe",{"afterSeq":0}]"#;

/// A notification whose title is the sender's clock in µs.
fn notification_body() -> Value {
    json!({"title": util::now_us().to_string(), "body": "cluster benchmark", "severity": "info"})
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Notification,
    Kpi,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::Notification => "notification",
            Event::Kpi => "kpi",
        }
    }
}

/// The server side of one setup: its nodes, and Redis when it has one.
struct Setup {
    label: String,
    nodes: Vec<(Child, u16)>,
    redis: Option<u32>,
    pg: u32,
}

impl Setup {
    fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|(c, _)| c.id()).collect()
    }

    fn stop(&mut self) {
        for (mut c, _) in self.nodes.drain(..) {
            server_load::stop_server(&mut c);
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Start a service helper that panics on failure (it prints why) as a
/// `Result`.
fn start<T>(what: &str, f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    std::panic::catch_unwind(f).map_err(|_| format!("{what} did not start (see above)"))
}

pub fn run(a: Args) -> Result<(), String> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if a.clients == 0 || a.nodes == 0 || !positive(a.secs) || !a.rate.iter().all(|r| positive(*r)) {
        return Err("--clients, --nodes, --secs and --rate must be positive".into());
    }
    if !a.server_bin.exists() {
        return Err(format!(
            "{} not found: cargo build --release -p pulseboard-server",
            a.server_bin.display()
        ));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let pg = start("PostgreSQL", Postgres::start)?;
    let pg_pid = pg.pid().ok_or("no postmaster.pid")?;
    let (single_db, cluster_db) = start(
        "PostgreSQL databases",
        std::panic::AssertUnwindSafe(|| {
            rt.block_on(async { (pg.database("single").await, pg.database("cluster").await) })
        }),
    )?;
    let mut rows = Vec::new();

    // (a) One node on PostgreSQL, no Redis.
    let mut argv = server_load::rust_server_argv(&a.server_bin, &single_db);
    let setup = Setup {
        label: "1 node".into(),
        nodes: vec![server_load::spawn_server(&argv)?],
        redis: None,
        pg: pg_pid,
    };
    rows.extend(measure(&rt, &a, setup)?);

    // (b) `nodes` nodes on the same PostgreSQL (a fresh database) and Redis.
    let redis = start("redis-server", Redis::start)?;
    argv = server_load::rust_server_argv(&a.server_bin, &cluster_db);
    argv.extend(["--redis".into(), redis.url()]);
    // Nodes go into the setup as they start: a failed start stops the others.
    let mut setup = Setup {
        label: format!("{} nodes + Redis", a.nodes),
        nodes: Vec::new(),
        redis: redis.pid(),
        pg: pg_pid,
    };
    for _ in 0..a.nodes {
        setup.nodes.push(server_load::spawn_server(&argv)?);
    }
    rows.extend(measure(&rt, &a, setup)?);
    rt.shutdown_background();

    for r in &rows {
        util::append_result(&a.out, r).map_err(|e| e.to_string())?;
    }
    let (mut md, mut table) = (String::new(), String::new());
    section(&mut md, &mut table, &rows);
    println!("{table}");
    drop(redis);
    drop(pg);
    Ok(())
}

/// Connect the clients to `setup`, run its phases, stop it.
fn measure(rt: &tokio::runtime::Runtime, a: &Args, mut setup: Setup) -> Result<Vec<Value>, String> {
    // Ctrl-C ends the run through the normal path: the nodes, Redis and
    // PostgreSQL (a daemon, which would outlive this process) are stopped.
    let r = rt.block_on(async {
        tokio::select! {
            r = phases(a, &setup) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    setup.stop();
    r
}

async fn phases(a: &Args, setup: &Setup) -> Result<Vec<Value>, String> {
    let http = reqwest::Client::new();
    for (_, port) in &setup.nodes {
        wait_ready(&http, *port, setup.redis.is_some()).await?;
    }
    let pids = setup.pids();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_sum(&pids);
    let sh = Shared::new(
        a.clients,
        vec![
            SUBSCRIBE_NOTIFICATIONS.to_string(),
            SUBSCRIBE_FINANCE.to_string(),
        ],
        vec![NOTIFICATION_NEW, KPI_FINANCE],
    );
    let urls: Vec<String> = setup
        .nodes
        .iter()
        .map(|(_, p)| format!("ws://127.0.0.1:{p}/socket.io/?EIO=4&transport=websocket"))
        .collect();
    let connect_secs = server_load::connect_all(&urls, a.clients, a.batch, &sh).await?;
    let connected = sh.ready.load(Ordering::Relaxed);
    eprintln!(
        "[{}] {connected}/{} clients subscribed in {connect_secs:.1} s ({} failed{})",
        setup.label,
        a.clients,
        sh.failed.load(Ordering::Relaxed),
        sh.first_error()
    );
    if connected == 0 {
        return Err(format!("[{}] no client connected", setup.label));
    }
    // Idle with every client connected: what the processes use with
    // nothing published (heartbeats, Redis's and PostgreSQL's timers).
    let idle0 = (
        nodes_cpu(&pids),
        setup.redis.map(util::tree_cpu_secs),
        util::tree_cpu_secs(setup.pg),
    );
    let t_idle = Instant::now();
    tokio::time::sleep(Duration::from_millis(a.settle_ms)).await;
    let idle_secs = t_idle.elapsed().as_secs_f64();
    let (n1, p1) = (nodes_cpu(&pids), util::tree_cpu_secs(setup.pg));
    let idle = json!({
        "secs": idle_secs,
        "nodes_cpu_share": (n1.0 + n1.1 - idle0.0 .0 - idle0.0 .1) / idle_secs,
        "redis_cpu_share": setup.redis.map(util::tree_cpu_secs).zip(idle0.1).map(|(b, a)| (b - a) / idle_secs),
        "pg_cpu_share": (p1 - idle0.2) / idle_secs,
    });
    let rss_loaded = rss_sum(&pids);

    // Warm-up (prepared statements, pools, Redis connections): not counted.
    for ev in [Event::Notification, Event::Kpi] {
        phase(a, setup, &sh, &http, ev, false, 10.0, 5).await?;
    }
    let mut rows = Vec::new();
    let spread: &[bool] = if setup.nodes.len() > 1 {
        &[false, true]
    } else {
        &[false]
    };
    for &rate in &a.rate {
        for &all in spread {
            for ev in [Event::Notification, Event::Kpi] {
                let events = (rate * a.secs).round().max(1.0) as u64;
                let mut r = phase(a, setup, &sh, &http, ev, all, rate, events).await?;
                r["clients"] = json!(a.clients);
                r["connected"] = json!(connected);
                r["connect_secs"] = json!(connect_secs);
                r["nodes_rss_idle_kib"] = json!(rss_idle);
                r["nodes_rss_loaded_kib"] = json!(rss_loaded);
                r["idle"] = idle.clone();
                r["cmd"] = json!(util::command_line());
                eprintln!("{}", summary(&r));
                rows.push(r);
            }
        }
    }
    Ok(rows)
}

/// Until every node answers `/readyz` 200 (with Redis up when it has one).
async fn wait_ready(http: &reqwest::Client, port: u16, redis: bool) -> Result<(), String> {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(r) = http.get(&url).send().await {
            let ok = r.status().is_success();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if ok && (!redis || body["redis"] == "up") {
                return Ok(());
            }
            last = body.to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("node on port {port} not ready in 60 s: {last}"))
}

fn rss_sum(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|p| util::rss_kib(*p)).sum()
}

/// CPU seconds (user, sys) of every node together.
fn nodes_cpu(pids: &[u32]) -> (f64, f64) {
    pids.iter()
        .filter_map(|p| util::cpu_seconds(*p))
        .fold((0.0, 0.0), |(u, s), (u1, s1)| (u + u1, s + s1))
}

/// Publish `events` events of kind `ev` at `rate`/s (to the first node, or
/// round-robin to every node with `all`), wait until every client got each
/// one, and measure.
#[allow(clippy::too_many_arguments)]
async fn phase(
    a: &Args,
    setup: &Setup,
    sh: &Arc<Shared>,
    http: &reqwest::Client,
    ev: Event,
    all: bool,
    rate: f64,
    events: u64,
) -> Result<Value, String> {
    let pids = setup.pids();
    let ids = sh.ready_ids.lock().unwrap().clone();
    let counts0: Vec<u64> = ids
        .iter()
        .map(|&i| sh.counts[i].load(Ordering::Relaxed) as u64)
        .collect();
    let received0 = sh.received.load(Ordering::Relaxed);
    sh.lat_us.lock().unwrap().clear();
    let nodes0 = nodes_cpu(&pids);
    let redis0 = setup.redis.map(util::tree_cpu_secs).unwrap_or(0.0);
    let pg0 = util::tree_cpu_secs(setup.pg);
    let me0 = util::cpu_seconds(std::process::id()).unwrap_or_default();

    let t0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut sends = Vec::with_capacity(events as usize);
    for i in 0..events as usize {
        tick.tick().await;
        let port = setup.nodes[if all { i % setup.nodes.len() } else { 0 }].1;
        // Each request on its own task: a slow answer does not hold back
        // the next event (the rate stays what was asked for).
        let req = match ev {
            Event::Notification => http
                .post(format!("http://127.0.0.1:{port}/api/notifications"))
                .json(&notification_body()),
            Event::Kpi => http
                .put(format!("http://127.0.0.1:{port}/api/kpis/finance"))
                .json(&server_load::kpi_body()),
        };
        sends.push(tokio::spawn(async move {
            match req.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("answered {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        }));
    }
    let mut sent_ok = 0u64;
    let mut http_errors = 0u64;
    for s in sends {
        match s.await {
            Ok(Ok(())) => sent_ok += 1,
            Ok(Err(e)) => {
                http_errors += 1;
                eprintln!("publish failed: {e}");
            }
            Err(e) => {
                http_errors += 1;
                eprintln!("publish task failed: {e}");
            }
        }
    }
    let send_secs = t0.elapsed().as_secs_f64();
    let connected = ids.len() as u64;
    let expected = connected * sent_ok;
    let deadline = Instant::now() + Duration::from_secs(a.drain_timeout_s);
    while sh.received.load(Ordering::Relaxed) - received0 < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let (nu, ns) = nodes_cpu(&pids);
    let (nu, ns) = (nu - nodes0.0, ns - nodes0.1);
    let redis = setup
        .redis
        .map(|p| util::tree_cpu_secs(p) - redis0)
        .unwrap_or(0.0);
    let pg = util::tree_cpu_secs(setup.pg) - pg0;
    let me1 = util::cpu_seconds(std::process::id()).unwrap_or_default();
    let loadgen = (me1.0 + me1.1) - (me0.0 + me0.1);

    let received = sh.received.load(Ordering::Relaxed) - received0;
    let got: Vec<u64> = ids
        .iter()
        .zip(&counts0)
        .map(|(&i, c0)| sh.counts[i].load(Ordering::Relaxed) as u64 - c0)
        .collect();
    let lost: u64 = got.iter().map(|g| sent_ok.saturating_sub(*g)).sum();
    let duplicates: u64 = got.iter().map(|g| g.saturating_sub(sent_ok)).sum();
    let mut lat: Vec<f64> = sh
        .lat_us
        .lock()
        .unwrap()
        .iter()
        .map(|&u| u as f64 / 1000.0)
        .collect();
    let p = percentiles(&mut lat);
    let per = |cpu: f64, n: u64| if n > 0 { cpu * 1e6 / n as f64 } else { 0.0 };
    Ok(json!({
        "kind": "cluster",
        "setup": setup.label,
        "nodes": setup.nodes.len(),
        "redis": setup.redis.is_some(),
        "event": ev.name(),
        "publish_to": if all { "all" } else { "one" },
        "rate": rate,
        "events_sent": sent_ok,
        "http_errors": http_errors,
        "send_secs": send_secs,
        "secs": secs,
        "expected": expected,
        "received": received,
        "lost": lost,
        "duplicates": duplicates,
        "closed_during_run": sh.closed.load(Ordering::Relaxed),
        "deliveries_per_sec": received as f64 / secs,
        "latency_ms": p,
        "nodes_cpu_user_secs": nu,
        "nodes_cpu_sys_secs": ns,
        "redis_cpu_secs": redis,
        "pg_cpu_secs": pg,
        "loadgen_cpu_share": loadgen / secs,
        "nodes_us_per_delivery": per(nu + ns, received),
        "redis_us_per_delivery": per(redis, received),
        "pg_us_per_delivery": per(pg, received),
        "total_us_per_delivery": per(nu + ns + redis + pg, received),
        "redis_us_per_event": per(redis, sent_ok),
        "pg_us_per_event": per(pg, sent_ok),
        "nodes_rss_after_kib": rss_sum(&pids),
        "redis_rss_kib": setup.redis.and_then(util::rss_kib),
        "pg_pss_mib": util::pss_mb(&util::tree(setup.pg)),
    }))
}

fn f(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("?")
}

fn lat(v: &Value, q: &str) -> f64 {
    v.get("latency_ms").map(|x| f(x, q)).unwrap_or(f64::NAN)
}

/// One line for the log.
fn summary(r: &Value) -> String {
    format!(
        "[{}] {} to {} at {}/s: {:.0} deliveries/s, p50 {:.2} ms p99 {:.2} ms, nodes {:.2} µs/delivery, Redis {:.1} µs/event, PostgreSQL {:.1} µs/event, lost {}",
        s(r, "setup"),
        s(r, "event"),
        s(r, "publish_to"),
        f(r, "rate"),
        f(r, "deliveries_per_sec"),
        lat(r, "p50"),
        lat(r, "p99"),
        f(r, "nodes_us_per_delivery"),
        f(r, "redis_us_per_event"),
        f(r, "pg_us_per_event"),
        u(r, "lost"),
    )
}

/// The results table (BENCHMARKS.md, the printed table) of `rows` (`kind:
/// cluster`), in run order.
pub fn section(md: &mut String, table: &mut String, rows: &[Value]) {
    let hdr = "| setup | event | published to | N | events/s | deliveries/s | p50 ms | p99 ms | nodes µs / delivery (user + sys) | Redis µs / event | PostgreSQL µs / event | all servers µs / delivery | nodes RSS idle → loaded MiB | Redis RSS MiB | delivered / expected | lost |";
    let sep = "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
    let _ = writeln!(md, "{hdr}\n{sep}");
    let _ = writeln!(table, "{hdr}\n{sep}");
    for r in rows.iter().filter(|r| r["kind"] == "cluster") {
        let n = u(r, "received");
        let per = |k: &str| {
            if n > 0 {
                f(r, k) * 1e6 / n as f64
            } else {
                f64::NAN
            }
        };
        let to = if s(r, "publish_to") == "all" {
            "every node, in turn"
        } else {
            "one node"
        };
        let redis_rss = r
            .get("redis_rss_kib")
            .and_then(Value::as_f64)
            .map(|k| format!("{:.1}", k / 1024.0))
            .unwrap_or_else(|| "-".into());
        let redis_cpu = if r["redis"] == true {
            format!("{:.1}", f(r, "redis_us_per_event"))
        } else {
            "-".into()
        };
        let line = format!(
            "| {} | {} | {to} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} ({:.2} + {:.2}) | {redis_cpu} | {:.1} | {:.2} | {:.1} → {:.1} | {redis_rss} | {} / {} | {} |",
            s(r, "setup"),
            s(r, "event"),
            u(r, "connected"),
            u(r, "events_sent") as f64 / f(r, "send_secs"),
            f(r, "deliveries_per_sec"),
            lat(r, "p50"),
            lat(r, "p99"),
            f(r, "nodes_us_per_delivery"),
            per("nodes_cpu_user_secs"),
            per("nodes_cpu_sys_secs"),
            f(r, "pg_us_per_event"),
            f(r, "total_us_per_delivery"),
            f(r, "nodes_rss_idle_kib") / 1024.0,
            f(r, "nodes_rss_loaded_kib") / 1024.0,
            n,
            u(r, "expected"),
            u(r, "lost"),
        );
        let _ = writeln!(md, "{line}");
        let _ = writeln!(table, "{line}");
    }
    // Idle, every client connected, nothing published: the base cost.
    let mut seen = Vec::new();
    for r in rows.iter().filter(|r| r["kind"] == "cluster") {
        let setup = s(r, "setup");
        if seen.contains(&setup) {
            continue;
        }
        seen.push(setup);
        let idle = &r["idle"];
        let pct = |k: &str| {
            idle.get(k)
                .and_then(Value::as_f64)
                .map(|x| format!("{:.1} %", (100.0 * x).max(0.0)))
                .unwrap_or_else(|| "-".into())
        };
        let line = format!(
            "\nIdle ({setup}, {} clients connected, nothing published, {:.0} s): nodes {}, Redis {}, PostgreSQL {} of one core.",
            u(r, "connected"),
            f(idle, "secs"),
            pct("nodes_cpu_share"),
            pct("redis_cpu_share"),
            pct("pg_cpu_share"),
        );
        let _ = writeln!(md, "{line}");
        let _ = writeln!(table, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use pulseboard_protocol::{events, Module, ModuleKpis, Notification};

    use super::*;
    use crate::server_load::sent_us;

    /// A frame as the server sends it: `42["event",payload]` (fields in
    /// the types' order).
    fn frame(event: &str, payload: impl serde::Serialize) -> String {
        format!("42{}", serde_json::to_string(&(event, payload)).unwrap())
    }

    /// The clients count the frames the server really sends and find the
    /// sender's clock where the publisher put it: built from the protocol's
    /// own types, from the bodies this benchmark publishes.
    #[test]
    fn published_stamps_come_back_in_the_frames_clients_count() {
        let mut n = notification_body();
        let sent: u64 = n["title"].as_str().unwrap().parse().unwrap();
        for (k, v) in [
            ("id", json!("n-7")),
            ("seq", json!(7)),
            ("createdAt", json!("2026-11-27T08:00:00Z")),
            ("read", json!(false)),
        ] {
            n[k] = v;
        }
        let n: Notification = serde_json::from_value(n).expect("a notification");
        let f = frame(events::NOTIFICATION_NEW, &n);
        assert!(f.starts_with(NOTIFICATION_NEW.prefix), "{f}");
        assert_eq!(sent_us(&f, NOTIFICATION_NEW.stamp), Some(sent), "{f}");

        let body = server_load::kpi_body();
        let sent = body["kpis"][0]["value"].as_f64().unwrap() as u64;
        let kpis = ModuleKpis {
            module: Module::Finance,
            kpis: serde_json::from_value(body["kpis"].clone()).expect("KPIs"),
            updated_at: chrono::Utc::now(),
        };
        let f = frame(Module::Finance.kpi_event(), &kpis);
        assert!(f.starts_with(KPI_FINANCE.prefix), "{f}");
        assert_eq!(sent_us(&f, KPI_FINANCE.stamp), Some(sent), "{f}");
    }
}
