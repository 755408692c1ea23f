//! Fan-out load against a Socket.IO server (pulseboard-server or the Node
//! reference server): N raw Engine.IO v4 / Socket.IO v5 websocket clients,
//! each subscribed to `finance`, then KPI broadcasts triggered over HTTP.
//!
//! This process starts the server as a child process (optionally pinned to a
//! CPU with `taskset`) and measures it through /proc, so the server's RSS and
//! CPU time contain nothing of the load generator.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::{connect_async_with_config, tungstenite::Message};

use crate::util::{self, percentiles};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which server: `rust` (pulseboard-server), `node` (bench/node-server.mjs,
    /// socket.io 4.8) or `floor` (pulseboard-floor-server: Engine.IO/Socket.IO
    /// by hand on tokio + hyper + tungstenite, no library, no persistence).
    #[arg(long)]
    pub target: String,
    /// Connected clients.
    #[arg(long)]
    pub clients: usize,
    /// Path of the pulseboard-server binary.
    #[arg(long, default_value = "target/release/pulseboard-server")]
    pub server_bin: PathBuf,
    /// Path of the floor server (`--target floor`); default: next to this binary.
    #[arg(long)]
    pub floor_bin: Option<PathBuf>,
    /// Node reference server script.
    #[arg(long, default_value = "bench/node-server.mjs")]
    pub node_script: PathBuf,
    /// Node executable.
    #[arg(long, default_value = "node")]
    pub node_bin: String,
    /// Pin the server to these CPUs (`taskset -c LIST`).
    #[arg(long)]
    pub server_cpu: Option<String>,
    /// Connections opened concurrently per batch (below the 128 accept backlog
    /// of a std/tokio listener).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// KPI broadcasts per second.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Number of KPI broadcasts.
    #[arg(long, default_value_t = 100)]
    pub broadcasts: u64,
    /// Pause after the last connection before measuring RSS, in ms.
    #[arg(long, default_value_t = 3000)]
    pub settle_ms: u64,
    /// Longest wait for outstanding deliveries after the last broadcast, in s.
    #[arg(long, default_value_t = 20)]
    pub drain_timeout_s: u64,
    /// Append the result (one JSON line) here.
    #[arg(long)]
    pub out: PathBuf,
}

/// What the clients count: frames that start with `prefix`; the sender's
/// clock (µs since the epoch) is the number right after `stamp`.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    pub prefix: &'static str,
    pub stamp: &'static str,
}

/// `kpi:update:finance`, stamped in the first KPI's value (see [`kpi_body`]).
pub const KPI_FINANCE: Watch = Watch {
    prefix: r#"42["kpi:update:finance","#,
    stamp: r#""value":"#,
};

/// `module:subscribe` to `finance`: what every client of [`run`] sends.
pub const SUBSCRIBE_FINANCE: &str = r#"["module:subscribe",{"module":"finance"}]"#;

/// The body of `PUT /api/kpis/finance`, stamped with the sender's clock.
pub fn kpi_body() -> Value {
    json!({"kpis": [{"key": "sent_us", "label": "Sent at (us)", "value": util::now_us() as f64}]})
}

/// The clients' counters, shared by their tasks and the measuring code.
pub struct Shared {
    pub ready: AtomicU64,
    pub failed: AtomicU64,
    pub closed: AtomicU64,
    pub received: AtomicU64,
    /// Counted frames per client.
    pub counts: Vec<AtomicU32>,
    /// Latency samples in microseconds (sender clock -> receive clock).
    pub lat_us: Mutex<Vec<u32>>,
    pub first_error: Mutex<Option<String>>,
    /// Ids of the clients whose subscriptions were all acknowledged.
    pub ready_ids: Mutex<Vec<usize>>,
    /// Events each client sends after CONNECT, one after the other, each
    /// acknowledged with `{"ok": true}` (JSON arrays `["event", payload]`).
    subscribe: Vec<String>,
    /// Frames counted.
    watch: Vec<Watch>,
}

impl Shared {
    pub fn new(clients: usize, subscribe: Vec<String>, watch: Vec<Watch>) -> Arc<Shared> {
        Arc::new(Shared {
            ready: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            received: AtomicU64::new(0),
            counts: (0..clients).map(|_| AtomicU32::new(0)).collect(),
            lat_us: Mutex::new(Vec::new()),
            first_error: Mutex::new(None),
            ready_ids: Mutex::new(Vec::new()),
            subscribe,
            watch,
        })
    }

    /// `", first: ERROR"` when a client failed, for a message.
    pub fn first_error(&self) -> String {
        self.first_error
            .lock()
            .unwrap()
            .as_deref()
            .map(|e| format!(", first: {e}"))
            .unwrap_or_default()
    }
}

/// The command line of pulseboard-server for a load test on `db` (a file
/// or a postgres:// URL): simulator off, per-address and rate limits lifted.
pub fn rust_server_argv(server_bin: &Path, db: &str) -> Vec<String> {
    vec![
        server_bin.display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--db".into(),
        db.into(),
        "--no-simulator".into(),
        // A load test is one address opening thousands of connections
        // and posting fast: lift the per-address and rate limits.
        "--max-connections".into(),
        "1000000".into(),
        "--max-connections-per-addr".into(),
        "1000000".into(),
        "--rate-limit".into(),
        "1000000".into(),
        "--event-rate-limit".into(),
        "1000000".into(),
        "--shared-event-rate-limit".into(),
        "1000000".into(),
    ]
}

fn start_server(a: &Args) -> Result<(Child, u16), String> {
    let mut argv: Vec<String> = Vec::new();
    if let Some(cpu) = &a.server_cpu {
        argv.extend(["taskset".into(), "-c".into(), cpu.clone()]);
    }
    let db = std::env::temp_dir().join(format!("pulseboard-bench-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    match a.target.as_str() {
        "rust" => argv.extend(rust_server_argv(&a.server_bin, &db.display().to_string())),
        "node" => argv.extend([
            a.node_bin.clone(),
            a.node_script.display().to_string(),
            "--port".into(),
            "0".into(),
        ]),
        "floor" => {
            let bin = match &a.floor_bin {
                Some(b) => b.clone(),
                None => std::env::current_exe()
                    .map_err(|e| e.to_string())?
                    .with_file_name("pulseboard-floor-server"),
            };
            // The same command line as pulseboard-server; it ignores all but --listen.
            argv.extend(rust_server_argv(&bin, &db.display().to_string()))
        }
        t => return Err(format!("unknown target `{t}` (rust, node or floor)")),
    }
    spawn_server(&argv)
}

/// Start a server (`argv`) as a child process and read its port from the
/// first line it prints.
pub fn spawn_server(argv: &[String]) -> Result<(Child, u16), String> {
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {argv:?}: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(l)) = lines.next() {
            let _ = tx.send(l);
        }
        // Keep draining so the server never writes into a closed pipe.
        for _ in lines {}
    });
    let line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) => l,
        Err(_) => {
            stop_server(&mut child);
            return Err(format!("{argv:?} did not report its port"));
        }
    };
    // "listening on http://127.0.0.1:PORT" or "LISTENING PORT": the last number.
    let port = line
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no port in {line:?}"))?;
    Ok((child, port))
}

/// SIGTERM, up to 10 s to exit, then SIGKILL.
pub fn stop_server(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Open `clients` websocket clients, client `i` on `urls[i % urls.len()]`,
/// `batch` at a time; each sends the subscriptions of `sh` and then counts
/// what it receives until the connection ends. Returns once every client is
/// subscribed or failed (the seconds it took).
pub async fn connect_all(
    urls: &[String],
    clients: usize,
    batch: usize,
    sh: &Arc<Shared>,
) -> Result<f64, String> {
    let t0 = Instant::now();
    let mut started = 0;
    while started < clients {
        let end = (started + batch.max(1)).min(clients);
        for id in started..end {
            let (url, sh) = (urls[id % urls.len()].clone(), sh.clone());
            tokio::spawn(async move {
                if let Err(e) = client(id, url, sh.clone()).await {
                    sh.failed.fetch_add(1, Ordering::Relaxed);
                    sh.first_error.lock().unwrap().get_or_insert(e);
                }
            });
        }
        started = end;
        let deadline = Instant::now() + Duration::from_secs(60);
        while (sh.ready.load(Ordering::Relaxed) + sh.failed.load(Ordering::Relaxed)) < end as u64 {
            if Instant::now() > deadline {
                return Err(format!(
                    "batch up to {end} did not finish connecting in 60 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(t0.elapsed().as_secs_f64())
}

async fn client(id: usize, url: String, sh: Arc<Shared>) -> Result<(), String> {
    let stage = Arc::new(AtomicU32::new(0));
    let st = stage.clone();
    let mut ws = match tokio::time::timeout(
        Duration::from_secs(20),
        handshake(url, st, &sh.subscribe),
    )
    .await
    {
        Ok(r) => r?,
        Err(_) => {
            return Err(format!(
            "handshake timed out in stage {} (0 ws connect, 1 open, 2 CONNECT, 3+ subscribe ack)",
            stage.load(Ordering::Relaxed)
        ))
        }
    };
    sh.ready_ids.lock().unwrap().push(id);
    sh.ready.fetch_add(1, Ordering::Relaxed);
    receive(id, &mut ws, &sh).await;
    sh.closed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn handshake(url: String, st: Arc<AtomicU32>, subscribe: &[String]) -> Result<Ws, String> {
    let (mut ws, _) = connect_async_with_config(&url, None, true)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    st.store(1, Ordering::Relaxed);
    // Engine.IO open packet.
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with('0') => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("before open: {e}")),
            None => return Err("closed before open".into()),
        }
    }
    ws.send(Message::Text("40".into()))
        .await
        .map_err(|e| e.to_string())?;
    st.store(2, Ordering::Relaxed);
    // None: waiting for CONNECT; Some(i): waiting for the ack of subscription i.
    let mut waiting: Option<usize> = None;
    loop {
        let t = match ws.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("handshake: {e}")),
            None => return Err("closed during handshake".into()),
        };
        let next = if t.as_str() == "2" {
            ws.send(Message::Text("3".into()))
                .await
                .map_err(|e| e.to_string())?;
            None
        } else if t.starts_with("44") {
            return Err(format!("connect_error: {t}"));
        } else if waiting.is_none() && t.starts_with("40") {
            Some(0)
        } else if let Some(i) = waiting.filter(|i| t.starts_with(&format!("43{i}["))) {
            if !t.contains(r#""ok":true"#) {
                return Err(format!("subscribe refused: {t}"));
            }
            Some(i + 1)
        } else {
            None
        };
        if let Some(i) = next {
            let Some(sub) = subscribe.get(i) else {
                return Ok(ws);
            };
            ws.send(Message::Text(format!("42{i}{sub}").into()))
                .await
                .map_err(|e| e.to_string())?;
            waiting = Some(i);
            st.store(3 + i as u32, Ordering::Relaxed);
        }
    }
}

async fn receive(id: usize, ws: &mut Ws, sh: &Shared) {
    while let Some(m) = ws.next().await {
        let t = match m {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(_) => break,
        };
        if t.as_str() == "2" {
            if ws.send(Message::Text("3".into())).await.is_err() {
                break;
            }
        } else if let Some(w) = sh.watch.iter().find(|w| t.starts_with(w.prefix)) {
            let now = util::now_us();
            sh.counts[id].fetch_add(1, Ordering::Relaxed);
            sh.received.fetch_add(1, Ordering::Relaxed);
            if let Some(sent) = sent_us(&t, w.stamp) {
                let l = now.saturating_sub(sent).min(u32::MAX as u64) as u32;
                sh.lat_us.lock().unwrap().push(l);
            }
        }
    }
}

/// The sender timestamp: the number right after the first `stamp`.
pub(crate) fn sent_us(frame: &str, stamp: &str) -> Option<u64> {
    let i = frame.find(stamp)? + stamp.len();
    let rest = &frame[i..];
    let end = rest
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')
        })
        .unwrap_or(rest.len());
    rest[..end].parse::<f64>().ok().map(|v| v as u64)
}

pub fn run(a: Args) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (mut child, port) = start_server(&a)?;
    let pid = child.id();
    let r = rt.block_on(load(&a, pid, port));
    stop_server(&mut child);
    // Drop the client tasks without waiting for them.
    rt.shutdown_background();
    r
}

async fn load(a: &Args, pid: u32, port: u16) -> Result<(), String> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..100 {
        if http.get(&health).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let rss_idle = util::rss_kib(pid).ok_or("no RSS for server")?;

    let sh = Shared::new(
        a.clients,
        vec![SUBSCRIBE_FINANCE.to_string()],
        vec![KPI_FINANCE],
    );
    sh.lat_us
        .lock()
        .unwrap()
        .reserve(a.clients * a.broadcasts as usize);
    let connect_secs = connect_all(&[url], a.clients, a.batch, &sh).await?;
    let connected = sh.ready.load(Ordering::Relaxed);
    let failed = sh.failed.load(Ordering::Relaxed);
    eprintln!(
        "[{}] {connected}/{} clients subscribed in {connect_secs:.1} s ({failed} failed{})",
        a.target,
        a.clients,
        sh.first_error()
    );
    tokio::time::sleep(Duration::from_millis(a.settle_ms)).await;
    let rss_loaded = util::rss_kib(pid).ok_or("no RSS for server")?;

    // Broadcast phase.
    let kpi_url = format!("http://127.0.0.1:{port}/api/kpis/finance");
    let cpu0 = util::cpu_seconds(pid).ok_or("no CPU time for server")?;
    let me0 = util::cpu_seconds(std::process::id()).unwrap_or_default();
    let b0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / a.rate));
    let mut sent_ok = 0u64;
    let mut http_errors = 0u64;
    for _ in 0..a.broadcasts {
        tick.tick().await;
        match http.put(&kpi_url).json(&kpi_body()).send().await {
            Ok(r) if r.status().is_success() => sent_ok += 1,
            Ok(r) => {
                http_errors += 1;
                eprintln!("PUT answered {}", r.status());
            }
            Err(e) => {
                http_errors += 1;
                eprintln!("PUT failed: {e}");
            }
        }
    }
    let send_secs = b0.elapsed().as_secs_f64();
    let expected = connected * sent_ok;
    let deadline = Instant::now() + Duration::from_secs(a.drain_timeout_s);
    while sh.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let broadcast_secs = b0.elapsed().as_secs_f64();
    let cpu1 = util::cpu_seconds(pid).ok_or("no CPU time for server")?;
    let me1 = util::cpu_seconds(std::process::id()).unwrap_or_default();
    let loadgen_cpu_share = ((me1.0 + me1.1) - (me0.0 + me0.1)) / broadcast_secs;
    let rss_after = util::rss_kib(pid).unwrap_or(0);
    let received = sh.received.load(Ordering::Relaxed);
    let ids = sh.ready_ids.lock().unwrap().clone();
    let lost: u64 = ids
        .iter()
        .map(|&i| sent_ok.saturating_sub(sh.counts[i].load(Ordering::Relaxed) as u64))
        .sum();
    let duplicates: u64 = ids
        .iter()
        .map(|&i| (sh.counts[i].load(Ordering::Relaxed) as u64).saturating_sub(sent_ok))
        .sum();
    let closed = sh.closed.load(Ordering::Relaxed);
    let mut lat: Vec<f64> = sh
        .lat_us
        .lock()
        .unwrap()
        .iter()
        .map(|&u| u as f64 / 1000.0)
        .collect();
    let p = percentiles(&mut lat);
    let (user, sys) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let cpu = user + sys;
    let mem_per_conn = if connected > 0 {
        (rss_loaded as f64 - rss_idle as f64) / connected as f64
    } else {
        0.0
    };
    let cpu_per_100k = if received > 0 {
        cpu / (received as f64 / 100_000.0)
    } else {
        0.0
    };
    let result = json!({
        "kind": "server",
        "target": a.target,
        "clients": a.clients,
        "connected": connected,
        "connect_failed": failed,
        "connect_secs": connect_secs,
        "rss_idle_kib": rss_idle,
        "rss_loaded_kib": rss_loaded,
        "rss_after_kib": rss_after,
        "mem_per_conn_kib": mem_per_conn,
        "rate": a.rate,
        "broadcasts_sent": sent_ok,
        "http_errors": http_errors,
        "send_secs": send_secs,
        "broadcast_secs": broadcast_secs,
        "expected": expected,
        "received": received,
        "lost": lost,
        "duplicates": duplicates,
        "closed_during_run": closed,
        "cpu_secs": cpu,
        "cpu_user_secs": user,
        "cpu_sys_secs": sys,
        "loadgen_cpu_share": loadgen_cpu_share,
        "cpu_per_100k": cpu_per_100k,
        "latency_ms": p,
        "server_cpu": a.server_cpu,
        "cmd": util::command_line(),
    });
    eprintln!(
        "[{}] N={connected}: mem/conn {mem_per_conn:.1} KiB, CPU {cpu:.2} s (user {user:.2} sys {sys:.2}) for {received} deliveries ({cpu_per_100k:.3} s/100k), latency p50 {:.2} ms p99 {:.2} ms, lost {lost}",
        a.target, p.p50, p.p99
    );
    util::append_result(&a.out, &result).map_err(|e| e.to_string())?;
    Ok(())
}
