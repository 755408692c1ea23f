//! Desktop app benchmark: the real Pulseboard window (release build) under its
//! own Xvfb, side by side with a hello-world Tauri 2 app built in the same run.
//!
//! - Memory: PSS summed over the app process and all its descendants (the
//!   WebKit web and network processes), from `/proc/PID/smaps_rollup`; CPU:
//!   utime+stime of the same processes over a fixed window. Window open and
//!   tray-only (`--hidden`), idle and at 10 KPI updates/s (the server's
//!   simulator at 400 ms: 4 module updates every 0.4 s).
//! - The issue's load (`put`): one `PUT /api/kpis/finance` every 100 ms,
//!   beside the hello-world app's floors at the same 10/s: four numbers its
//!   page changes by itself (no IPC), and four numbers from a message Rust
//!   sends the page over a `tauri::ipc::Channel` (Pulseboard's captured
//!   batch for one finance update, or the four numbers alone).
//! - Start to first painted KPI with a cache: the app is started by
//!   tauri-driver (WebDriver) with a cache on disk and no reachable server;
//!   the page marks the first frame after drawing KPI values
//!   (`pulseboard:kpi-paint`, read as `window.__pulseboardStats.firstKpiPaintAt`),
//!   compared with the process start time from `/proc`; each run also records
//!   where the time went (process start -> navigation start -> main.js running
//!   -> first painted KPI).
//! - Server emit -> DOM updated: `PUT /api/kpis/{module}` with the send time
//!   as the KPI value; a page probe (`window.__pulseboardProbe`, installed via
//!   WebDriver) gets each frame's messages and the time the DOM was updated.
//!   At 100 and 1000 events/s (1 in 100 a notification); the 1000/s run is
//!   also the memory flood (PSS sampled every 10 s).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use pulseboard_e2e::{Driver, Group, Session, Xvfb};
use serde_json::{json, Value};

use crate::util::{self, comm, cpu_secs, percentiles, pss_mb, stat_field, tree};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Pulseboard desktop binary.
    #[arg(long, default_value = "target/release/pulseboard")]
    pub app: PathBuf,
    /// The hello-world Tauri app (bench/hello-tauri).
    #[arg(long, default_value = "target/release/hello-tauri")]
    pub hello: PathBuf,
    /// Seconds of CPU measurement per memory/CPU case under load.
    #[arg(long, default_value_t = 15.0)]
    pub secs: f64,
    /// Seconds of CPU measurement per idle case: idle CPU is a few clock
    /// ticks (10 ms each) per 15 s, so it is measured over longer.
    #[arg(long, default_value_t = 60.0)]
    pub idle_secs: f64,
    /// Seconds to let start-up work settle before measuring.
    #[arg(long, default_value_t = 5.0)]
    pub settle: f64,
    /// Start-up runs for the first-paint measurement.
    #[arg(long, default_value_t = 5)]
    pub paint_runs: usize,
    /// Seconds at 100 events/s.
    #[arg(long, default_value_t = 20.0)]
    pub latency_secs: f64,
    /// Seconds of the 1000 events/s flood (latency + memory over time).
    #[arg(long, default_value_t = 600.0)]
    pub flood_secs: f64,
    /// Run only these parts (comma-separated: mem, paint, latency, sizes;
    /// `load`: only the window open at 10 KPI updates/s as users run it, the
    /// quick A/B of the `mem` part's loaded case; `put`: the window open
    /// under one `PUT /api/kpis/finance` every 100 ms, each its own frame,
    /// beside the hello-world app's floors: four numbers changed every 100
    /// ms by its page, and from a message over a Tauri Channel; `idle`:
    /// Pulseboard, `--app-b` if given, and the hello-world app open side by
    /// side at the same time, idle, over `--idle-windows` windows).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mem,idle,paint,latency,sizes"
    )]
    pub only: Vec<String>,
    /// The `idle` part: a second Pulseboard build run beside the first (an
    /// A/B in one run: same screen, same server, same minutes).
    #[arg(long)]
    pub app_b: Option<PathBuf>,
    /// The `idle` part: measuring windows, each `--idle-secs` long.
    #[arg(long, default_value_t = 3)]
    pub idle_windows: usize,
    /// For information only: start every app with `NO_AT_BRIDGE=1`, which
    /// keeps GTK off the accessibility bus (the installed app does not set
    /// it, so the default is without).
    #[arg(long)]
    pub no_at_bridge: bool,
    /// Append results (JSON lines) here.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: Args) -> Result<(), String> {
    for (what, p) in [("--app", &a.app), ("--hello", &a.hello)] {
        if !p.is_file() {
            return Err(format!(
                "{what} {} not found: build it first (cargo build --release -p pulseboard -p hello-tauri)",
                p.display()
            ));
        }
    }
    for tool in [
        "Xvfb",
        "dbus-run-session",
        "tauri-driver",
        "WebKitWebDriver",
    ] {
        if !pulseboard_e2e::have(tool) {
            return Err(format!(
                "{tool} is missing (scripts/deps-test.sh installs it)"
            ));
        }
    }
    let _ = NO_AT_BRIDGE.set(a.no_at_bridge);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Ctrl-C or SIGTERM drops the measurement, and with it every process
    // group, X server and server it started (their Drop stops them).
    rt.block_on(async {
        tokio::select! {
            r = measure(a) => r,
            s = interrupted() => Err(format!("stopped by {s}; its processes were stopped too")),
        }
    })
}

async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

async fn measure(a: Args) -> Result<(), String> {
    let x = Xvfb::start().map_err(|e| format!("Xvfb: {e}"))?;
    let app = std::fs::canonicalize(&a.app).map_err(|e| e.to_string())?;
    let hello = std::fs::canonicalize(&a.hello).map_err(|e| e.to_string())?;

    let part = |p: &str| a.only.iter().any(|o| o == p);
    // ------------------------------------------------------------ memory + CPU
    let mem_loads: &[(&str, Option<u64>)] = if part("mem") {
        &[("idle", None), ("10/s", Some(400))]
    } else if part("load") {
        &[("10/s", Some(400))]
    } else {
        &[]
    };
    // The app as users start it (no rendering variable: it picks its path
    // itself and logs it), tray only and window open; then, for
    // information, the window with the software path forced through the
    // app's own override (PULSEBOARD_RENDERING=software).
    let cases: [(&str, bool, Option<&str>); 3] = [
        ("pulseboard", false, None),
        ("pulseboard", true, None),
        (
            "pulseboard (PULSEBOARD_RENDERING=software)",
            false,
            Some("software"),
        ),
    ];
    for &(load, kpi_ms) in mem_loads {
        let server = Server::start(kpi_ms).await?;
        let only_load = !part("mem");
        for (name, hidden, rendering) in cases
            .into_iter()
            .filter(|&(_, hidden, rendering)| !only_load || (!hidden && rendering.is_none()))
        {
            let secs = if kpi_ms.is_some() {
                a.secs
            } else {
                a.idle_secs
            };
            let r = mem_case(&a, &x, &app, &server.url(), hidden, rendering, secs, &[]).await?;
            record_mem(&a, name, load, hidden, secs, &r)?;
        }
        server.stop().await;
    }
    for hidden in [false, true].into_iter().filter(|_| part("mem")) {
        let r = mem_case(&a, &x, &hello, "", hidden, None, a.idle_secs, &[]).await?;
        record_mem(&a, "hello-tauri", "idle", hidden, a.idle_secs, &r)?;
    }

    // The issue's own load: one `PUT /api/kpis/finance` every 100 ms, so
    // every update is a frame of its own (the simulator's 10/s come as
    // 2.5 bursts of four modules). Window open, as users run it.
    if part("put") {
        let server = Server::start(None).await?;
        let putter = tokio::spawn(put_finance(server.url(), Duration::from_millis(100)));
        let r = mem_case(&a, &x, &app, &server.url(), false, None, a.secs, &[]).await;
        let puts = putter.is_finished();
        putter.abort();
        server.stop().await;
        let r = r?;
        if puts {
            return Err("the PUT load stopped early".into());
        }
        record_mem(&a, "pulseboard", PUT_LOAD, false, a.secs, &r)?;
        // The floors, same load of the screen: the hello-world window whose
        // page changes four numbers every 100 ms, by itself (no server, no
        // IPC), as WebKitGTK starts it (compositing) and on the software
        // path Pulseboard takes here (compositing off); then, on that path,
        // from a message Rust sends it every 100 ms over a Tauri Channel
        // (as Pulseboard's bridge does): Pulseboard's own batch for one
        // finance update (the captured fixture, new values each time), and
        // the four numbers alone.
        for (rendering, load, args) in FLOORS {
            let r = mem_case(&a, &x, &hello, "", false, rendering, a.secs, args).await?;
            record_mem(&a, "hello-tauri", load, false, a.secs, &r)?;
        }
    }

    // ------------------------------------------------------------ idle, side by side
    if part("idle") {
        idle_side_by_side(&a, &app, &hello).await?;
    }

    // ------------------------------------------------------------ first paint
    if part("paint") {
        let paint = first_paint(&a, &x, &app).await?;
        eprintln!("[desktop] first paint with a cache: {paint}");
        util::append_result(&a.out, &paint).map_err(|e| e.to_string())?;
    }

    // ------------------------------------------------------------ emit -> DOM
    for (rate, secs) in [(100.0, a.latency_secs), (1000.0, a.flood_secs)]
        .into_iter()
        .filter(|_| part("latency"))
    {
        let r = latency(&x, &app, rate, secs).await?;
        eprintln!("[desktop] emit -> DOM at {rate}/s: {}", r["latency_ms"]);
        util::append_result(&a.out, &r).map_err(|e| e.to_string())?;
    }

    // ------------------------------------------------------------ sizes
    if !part("sizes") {
        return Ok(());
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut sizes = json!({
        "kind": "desktop_sizes",
        "pulseboard_bytes": size(&app),
        "hello_bytes": size(&hello),
        "server_bytes": size(&app.with_file_name("pulseboard-server")),
    });
    if let Some(deb) = newest_deb(&app) {
        sizes["deb_bytes"] = json!(size(&deb));
        sizes["deb_name"] = json!(deb.file_name().map(|n| n.to_string_lossy().into_owned()));
        if let Ok(o) = Command::new("dpkg-deb")
            .args(["-f"])
            .arg(&deb)
            .arg("Installed-Size")
            .output()
        {
            let kib: u64 = String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            sizes["deb_installed_kib"] = json!(kib);
        }
    }
    util::append_result(&a.out, &sizes).map_err(|e| e.to_string())?;
    Ok(())
}

/// The hello-world floor cases of the `put` part: (rendering, load, args).
pub const FLOORS: [(Option<&str>, &str, &[&str]); 4] = [
    (None, FLOOR_TICK_COMPOSITED, &["--tick", "100"]),
    (Some("software"), FLOOR_TICK, &["--tick", "100"]),
    (Some("software"), FLOOR_IPC, &["--ipc-tick", "100"]),
    (
        Some("software"),
        FLOOR_IPC_TINY,
        &["--ipc-tick", "100", "--payload", "tiny"],
    ),
];
/// The page changes four numbers every 100 ms by itself, WebKit's default path.
pub const FLOOR_TICK_COMPOSITED: &str = "4 numbers every 100 ms";
/// The same, compositing off (the software path Pulseboard takes here).
pub const FLOOR_TICK: &str = "4 numbers every 100 ms, compositing off";
/// Pulseboard's finance batch over a Channel every 100 ms, the page shows its four values.
pub const FLOOR_IPC: &str =
    "4 numbers from Pulseboard's finance batch over a Channel every 100 ms, compositing off";
/// Only the four numbers over a Channel every 100 ms.
pub const FLOOR_IPC_TINY: &str = "4 numbers alone over a Channel every 100 ms, compositing off";
/// The issue's load on Pulseboard.
pub const PUT_LOAD: &str = "PUT finance every 100 ms";

/// The newest `.deb` that `cargo tauri build` left next to the binary.
fn newest_deb(app: &Path) -> Option<PathBuf> {
    let dir = app.parent()?.join("bundle/deb");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

// ---------------------------------------------------------------- processes

/// Epoch ms at which `pid` was started (10 ms resolution: clock ticks).
/// `/proc/PID/stat` counts from boot on CLOCK_BOOTTIME; the offset to the
/// wall clock is taken now (`btime` in /proc/stat is whole seconds only).
fn start_epoch_ms(pid: u32) -> Option<f64> {
    let ticks = stat_field(pid, 19)? as f64;
    let ms = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6
    };
    let boot_epoch_ms = ms(libc::CLOCK_REALTIME) - ms(libc::CLOCK_BOOTTIME);
    Some(boot_epoch_ms + ticks * 1000.0 / util::clk_tck())
}

/// `--no-at-bridge`, set once by [`run`].
static NO_AT_BRIDGE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// An app (or tauri-driver) under our Xvfb with private XDG dirs, logging at
/// info. As users run it: GTK may join the accessibility bus (the e2e
/// harness keeps it off for the tests), unless `--no-at-bridge`.
fn app_command(x: &Xvfb, dirs: &Path, program: &str) -> Command {
    let mut c = x.command(dirs, program);
    c.env("RUST_LOG", "info");
    if !NO_AT_BRIDGE.get().copied().unwrap_or(false) {
        c.env_remove("NO_AT_BRIDGE");
    }
    c
}

fn spawn_logged(c: Command, log: &Path) -> Result<Group, String> {
    Group::spawn_logged(c, log).map_err(|e| e.to_string())
}

async fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("timed out waiting for {what}"))
}

fn log_has(log: &Path, needle: &str) -> bool {
    std::fs::read_to_string(log).is_ok_and(|s| s.contains(needle))
}

/// An in-process pulseboard-server; the temp dir holds its database.
struct Server(
    pulseboard_server::ServerHandle,
    #[allow(dead_code)] tempfile::TempDir,
);

impl Server {
    async fn start(kpi_ms: Option<u64>) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut c = pulseboard_server::Config::new(dir.path().join("server.db"));
        c.simulator = kpi_ms.is_some();
        // The benchmark posts from one address as fast as it is told to.
        c.rate_limit = u32::MAX;
        if let Some(ms) = kpi_ms {
            c.kpi_interval = Duration::from_millis(ms);
            // The dashboard stays out of the 10/s load.
            c.dashboard_interval = Duration::from_secs(3600);
        }
        let h = pulseboard_server::spawn(c)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Server(h, dir))
    }

    fn url(&self) -> String {
        self.0.url()
    }

    async fn stop(self) {
        let _ = self.0.stop().await;
    }
}

/// CPU seconds per process name (`comm`).
fn cpu_by_comm(pids: &[u32]) -> std::collections::BTreeMap<String, f64> {
    let mut m = std::collections::BTreeMap::new();
    for p in pids {
        if let Some((u, s)) = util::cpu_seconds(*p) {
            *m.entry(comm(*p)).or_insert(0.0) += u + s;
        }
    }
    m
}

/// What one memory/CPU case measured.
struct MemCase {
    pss_mb: f64,
    /// % of one core.
    cpu_pct: f64,
    /// % of one core per process name.
    by_process: Value,
    /// The rendering path the app logged (`gpu`/`software`), or what
    /// WebKit does by itself for an app that does not choose.
    render_path: String,
}

/// The path from Pulseboard's "rendering path" log line.
fn logged_render_path(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| l.contains("rendering path"))?;
    let rest = &line[line.find("path=\"")? + 6..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Memory and CPU of one app, window open or not; `rendering` forces the
/// app's rendering path (`PULSEBOARD_RENDERING`), None: as users run it.
#[allow(clippy::too_many_arguments)]
async fn mem_case(
    a: &Args,
    x: &Xvfb,
    exe: &Path,
    server: &str,
    hidden: bool,
    rendering: Option<&str>,
    secs: f64,
    args: &[&str],
) -> Result<MemCase, String> {
    let dirs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let log = dirs.path().join("app.log");
    let mut c = app_command(x, dirs.path(), &exe.to_string_lossy());
    c.args(args);
    if !server.is_empty() {
        c.args(["--server", server]);
    }
    if hidden {
        c.arg("--hidden");
    }
    let pulseboard = !server.is_empty();
    // What WebKit does by itself for an app that does not choose (hello-world).
    let mut webkit_path = "WebKit default";
    if let Some(r) = rendering {
        if pulseboard {
            c.env("PULSEBOARD_RENDERING", r);
        } else if r == "software" {
            // The hello-world app has no rendering choice of its own: the
            // software path is WebKitGTK's switch (the comparison app only).
            c.env("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
            webkit_path = "software (WEBKIT_DISABLE_COMPOSITING_MODE=1)";
        }
    }
    let g = spawn_logged(c, &log)?;
    started(&g, &log, pulseboard, !hidden).await?;
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    // CPU: the whole process group, with the D-Bus services the app had
    // started (the accessibility bus and registry leave its tree).
    let pids = util::group(g.pid());
    let (c0, by0) = (cpu_secs(&pids), cpu_by_comm(&pids));
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let pids = util::group(g.pid());
    let (c1, by1) = (cpu_secs(&pids), cpu_by_comm(&pids));
    let dt = t0.elapsed().as_secs_f64();
    let by: serde_json::Map<String, Value> = by1
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!(100.0 * (v - by0.get(k).unwrap_or(&0.0)) / dt),
            )
        })
        .filter(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
        .collect();
    let render_path = if pulseboard {
        logged_render_path(&log).unwrap_or_else(|| "not logged".into())
    } else {
        webkit_path.into()
    };
    Ok(MemCase {
        // Memory: the app and its WebKit processes (a desktop session's
        // buses are shared by all its apps).
        pss_mb: pss_mb(&tree(g.pid())),
        cpu_pct: 100.0 * (c1 - c0) / dt,
        by_process: Value::Object(by),
        render_path,
    })
}

/// Idle CPU of Pulseboard (and `--app-b`) beside the hello-world app: all
/// open at the same time on one wide screen, none covering another, each
/// started as users start it, Pulseboard connected to a server that sends
/// nothing but its pings. Idle CPU is a few ms per second, so the apps are
/// measured in the same minutes (the machine's own background moves
/// sequential cases more than the apps differ), in nanoseconds (schedstat),
/// over `--idle-windows` windows of `--idle-secs`.
async fn idle_side_by_side(a: &Args, app: &Path, hello: &Path) -> Result<(), String> {
    if !pulseboard_e2e::have("xdotool") {
        return Err("xdotool is missing (scripts/deps-test.sh installs it)".into());
    }
    let x = Xvfb::start_screen(IDLE_SCREEN).map_err(|e| format!("Xvfb: {e}"))?;
    let server = Server::start(None).await?;
    let mut apps: Vec<(String, PathBuf)> = vec![("pulseboard".into(), app.to_path_buf())];
    if let Some(b) = &a.app_b {
        let b = std::fs::canonicalize(b).map_err(|e| format!("--app-b: {e}"))?;
        apps.push((format!("pulseboard B ({})", b.display()), b));
    }
    apps.push(("hello-tauri".into(), hello.to_path_buf()));
    let mut running = Vec::new();
    for (i, (name, exe)) in apps.iter().enumerate() {
        let dirs = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = dirs.path().join("app.log");
        let mut c = app_command(&x, dirs.path(), &exe.to_string_lossy());
        let pulseboard = i + 1 < apps.len();
        if pulseboard {
            c.args(["--server", &server.url()]);
        }
        // Each app in a cgroup of its own where there is one: its CPU time
        // then counts every thread, also those that ended (see Cgroup).
        let cg = util::Cgroup::new(&format!("idle{i}"));
        let c = match &cg {
            Some(cg) => cg.wrap(&c),
            None => c,
        };
        let g = spawn_logged(c, &log)?;
        started(&g, &log, pulseboard, true).await?;
        let pid = g.pid();
        let exe_pid = tree(pid)
            .into_iter()
            .find(|p| comm(*p) == exe_comm(exe))
            .ok_or_else(|| format!("{name}: its process not found"))?;
        let w = wait_window(&x, exe_pid).await?;
        let path = if pulseboard {
            logged_render_path(&log).unwrap_or_else(|| "not logged".into())
        } else {
            "WebKit default".into()
        };
        running.push((name.clone(), g, cg, w, dirs, path));
    }
    // Side by side: the window in place i at x = i * 1220 (1180 wide). With
    // two Pulseboard builds, they swap places every window. The pointer goes
    // to a corner beside every window: with no window manager the window
    // under the pointer has the focus, and a focused WebKitGTK view repaints
    // less at an idle update than an inactive one (BENCHMARKS.md section 3:
    // what made the middle place cheaper than the left). All inactive, as
    // windows in the background are.
    let place = |window: usize| -> Result<(), String> {
        for (i, (_, _, _, w, _, _)) in running.iter().enumerate() {
            let at = idle_place(a.app_b.is_some(), window, i);
            x.xdotool(&["windowmove", w, &(at * 1220).to_string(), "0"])?;
        }
        x.xdotool(&["mousemove", IDLE_POINTER.0, IDLE_POINTER.1])?;
        Ok(())
    };
    place(1)?;
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    // Per process name, from the live threads' schedstat (what ended is not
    // in it): where the time goes, for information.
    let ns = |g: &Group| -> std::collections::BTreeMap<String, u64> {
        let mut m = std::collections::BTreeMap::new();
        for p in util::group(g.pid()) {
            *m.entry(comm(p)).or_insert(0) += util::run_ns(p);
        }
        m
    };
    // The whole app: its cgroup's µs, or else `/proc/PID/stat`'s ticks
    // (complete, but in 10 ms steps).
    let total = |g: &Group, cg: &Option<util::Cgroup>| -> f64 {
        match cg.as_ref().and_then(util::Cgroup::usage_us) {
            Some(us) => us as f64 / 1e6,
            None => cpu_secs(&util::group(g.pid())),
        }
    };
    for window in 1..=a.idle_windows {
        if window > 1 && a.app_b.is_some() {
            place(window)?;
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: f64 = load
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        let before: Vec<_> = running
            .iter()
            .map(|(_, g, cg, _, _, _)| (ns(g), total(g, cg)))
            .collect();
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(a.idle_secs)).await;
        let dt = t0.elapsed().as_secs_f64();
        for (i, ((name, g, cg, _, _, path), (b, t_before))) in
            running.iter().zip(before).enumerate()
        {
            let after = ns(g);
            let pct = |k: &String, v: &u64| {
                let d = v.saturating_sub(*b.get(k).unwrap_or(&0));
                100.0 * d as f64 / 1e9 / dt
            };
            let cpu = 100.0 * (total(g, cg) - t_before) / dt;
            let by: serde_json::Map<String, Value> = after
                .iter()
                .map(|(k, v)| (k.clone(), json!(pct(k, v))))
                .filter(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
                .collect();
            let at = idle_place(a.app_b.is_some(), window, i);
            let rec = json!({
                "kind": "desktop_idle", "app": name, "window": window,
                "windows": a.idle_windows, "secs": dt, "cpu_pct": cpu,
                "cpu_source": if cg.is_some() { "cgroup" } else { "proc stat ticks" },
                "place": at, "pointer": "beside every window",
                "cpu_by_process_live_threads": by, "render_path": path,
                "at_bridge": !a.no_at_bridge, "load_avg_1m": load,
                "cmd": util::command_line(),
            });
            eprintln!(
                "[desktop] idle side by side, window {window}: {name} {cpu:.3} % CPU (place {at}, {path})"
            );
            util::append_result(&a.out, &rec).map_err(|e| e.to_string())?;
        }
    }
    drop(running);
    server.stop().await;
    Ok(())
}

/// The place (0 = left) of app `i` in measuring window `window`: with two
/// Pulseboard builds (`swap`), the first two swap places every other window.
fn idle_place(swap: bool, window: usize, i: usize) -> usize {
    if swap && window.is_multiple_of(2) && i < 2 {
        1 - i
    } else {
        i
    }
}

/// Room for three 1180-wide windows side by side.
const IDLE_SCREEN: &str = "3700x900x24";
/// The screen's bottom right corner, beside every window (800 high, the
/// last one ending at x = 3620).
const IDLE_POINTER: (&str, &str) = ("3699", "899");

/// The process name (`comm`, 15 bytes at most) of an executable.
fn exe_comm(exe: &Path) -> String {
    let n = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    n.chars().take(15).collect()
}

/// The first visible window of `pid`, once it is mapped.
async fn wait_window(x: &Xvfb, pid: u32) -> Result<String, String> {
    let mut found = None;
    wait_until("the app's window", 90, || {
        found = x.visible(&["--pid", &pid.to_string()]).into_iter().next();
        found.is_some()
    })
    .await?;
    found.ok_or_else(|| "no window".into())
}

/// Wait until the app `g` (logging to `log`) is live (Pulseboard) and its
/// window is up (once its web process is).
async fn started(g: &Group, log: &Path, pulseboard: bool, window: bool) -> Result<(), String> {
    if pulseboard {
        wait_until("the app to go live", 90, || log_has(log, "state=\"live\"")).await?;
    }
    if window {
        let pid = g.pid();
        wait_until("a web process", 90, || {
            tree(pid)
                .iter()
                .any(|p| comm(*p).starts_with("WebKitWebProces"))
        })
        .await?;
    }
    Ok(())
}

/// Append one memory/CPU case to the results and say it on stderr.
fn record_mem(
    a: &Args,
    app: &str,
    load: &str,
    hidden: bool,
    secs: f64,
    r: &MemCase,
) -> Result<(), String> {
    let mode = if hidden { "tray" } else { "window" };
    let rec = json!({
        "kind": "desktop_mem", "app": app, "load": load, "mode": mode,
        "pss_mb": r.pss_mb, "cpu_pct": r.cpu_pct, "cpu_by_process": r.by_process,
        "render_path": r.render_path, "secs": secs,
        "cmd": util::command_line(),
    });
    eprintln!(
        "[desktop] {app} {load} \"{mode}\": {:.0} MB, {:.2} % CPU, rendering: {}",
        r.pss_mb, r.cpu_pct, r.render_path
    );
    util::append_result(&a.out, &rec).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- WebDriver

/// tauri-driver (and WebKitWebDriver) under our Xvfb, with private XDG dirs.
fn driver(x: &Xvfb, dirs: &Path) -> Result<Driver, String> {
    Driver::spawn(app_command(x, dirs, "tauri-driver")).map_err(|e| format!("tauri-driver: {e}"))
}

/// The app process started for the driver's current session.
fn app_pid(d: &Driver) -> Option<u32> {
    tree(d.pid()).into_iter().find(|p| comm(*p) == "pulseboard")
}

/// Start to first painted KPI, with a cache on disk and no reachable server.
async fn first_paint(a: &Args, x: &Xvfb, app: &Path) -> Result<Value, String> {
    let dirs = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Prime the cache: run once against a live server, quit cleanly.
    {
        let server = Server::start(Some(400)).await?;
        let log = dirs.path().join("prime.log");
        let mut c = app_command(x, dirs.path(), &app.to_string_lossy());
        c.args(["--server", &server.url(), "--hidden"]);
        let g = spawn_logged(c, &log)?;
        wait_until("the app to go live", 90, || log_has(&log, "state=\"live\"")).await?;
        let cache = dirs.path().join("cache/pulseboard/state.json");
        tokio::time::sleep(Duration::from_secs(3)).await;
        wait_until("the cache file", 30, || cache.is_file()).await?;
        drop(g);
        server.stop().await;
    }
    let d = driver(x, dirs.path())?;
    let mut ms = Vec::new();
    // Per run: process start -> navigation start, navigation start -> main.js
    // running, main.js -> first painted KPI (ms).
    let mut phases = Vec::new();
    let mut pill = String::new();
    for _ in 0..a.paint_runs {
        // Nothing listens on port 9: only the cache can paint KPIs.
        let s = d.session(app, &["--server", "http://127.0.0.1:9"]).await?;
        let pid = app_pid(&d).ok_or("app process not found")?;
        let start = start_epoch_ms(pid).ok_or("no start time")?;
        let end = Instant::now() + Duration::from_secs(30);
        let (painted, nav, script, page) = loop {
            let v = s
                .execute(
                    "const s = window.__pulseboardStats; \
                     if (!s) return [0, 0, 0, null]; \
                     const n = performance.getEntriesByType('navigation')[0] || {}; \
                     const r = performance.getEntriesByType('resource'); \
                     return [s.firstKpiPaintAt, performance.timeOrigin, s.startup.script, { \
                       responseEnd: n.responseEnd, domInteractive: n.domInteractive, \
                       domContentLoaded: n.domContentLoadedEventStart, \
                       resources: r.length, lastResourceEnd: Math.max(0, ...r.map((e) => e.responseEnd)), \
                       paints: Object.fromEntries(performance.getEntriesByType('paint') \
                         .map((m) => [m.name, m.startTime])), \
                       marks: Object.fromEntries(performance.getEntriesByType('mark') \
                         .map((m) => [m.name, m.startTime])) }]",
                    vec![],
                )
                .await?;
            let at = |i: usize| v.get(i).and_then(Value::as_f64).unwrap_or(0.0);
            if at(0) > 0.0 {
                break (
                    at(0),
                    at(1),
                    at(2),
                    v.get(3).cloned().unwrap_or(Value::Null),
                );
            }
            if Instant::now() > end {
                return Err("no KPI painted within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        pill = s
            .execute(
                "return document.getElementById('pill-text').textContent",
                vec![],
            )
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string();
        ms.push(painted - start);
        phases.push(json!({
            "start_to_navigation_ms": nav - start,
            "navigation_to_script_ms": script,
            "script_to_paint_ms": painted - nav - script,
            // ms after navigation start, from the page's own timings.
            "page": page,
        }));
        s.close().await;
        // Let the previous app exit before the next start.
        wait_until("the app to exit", 30, || app_pid(&d).is_none()).await?;
    }
    let mut sorted = ms.clone();
    let p = percentiles(&mut sorted);
    Ok(
        json!({"kind": "desktop_paint", "runs_ms": ms, "median_ms": p.p50, "max_ms": p.max, "phases": phases, "pill": pill}),
    )
}

/// `PUT /api/kpis/finance` (four KPIs, new values each time) every `every`
/// until aborted.
async fn put_finance(url: String, every: Duration) {
    let Ok(http) = reqwest::Client::builder().build() else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0u64.. {
        tick.tick().await;
        let wave = (i % 40) as f64;
        let body = json!({"kpis": [
            {"key": "revenue", "label": "Revenue", "value": 120_000.0 + 350.0 * wave, "unit": "USD"},
            {"key": "expenses", "label": "Expenses", "value": 80_000.0 - 120.0 * wave, "unit": "USD"},
            {"key": "margin", "label": "Margin", "value": 30.0 + wave / 10.0, "unit": "%"},
            {"key": "cash", "label": "Cash", "value": 900_000.0 + 1_000.0 * wave, "unit": "USD"}
        ]});
        // A refused or slow request is the server's business, not this load's.
        let _ = http
            .put(format!("{url}/api/kpis/finance"))
            .json(&body)
            .send()
            .await;
    }
}

/// Server emit -> DOM updated latency at `rate` events/s for `secs`, window
/// open on the overview; PSS and CPU sampled every 10 s.
async fn latency(x: &Xvfb, app: &Path, rate: f64, secs: f64) -> Result<Value, String> {
    let dirs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let server = Server::start(None).await?;
    let d = driver(x, dirs.path())?;
    let s = d.session(app, &["--server", &server.url()]).await?;
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let v = s
            .execute(
                "return document.getElementById('pill-text').textContent",
                vec![],
            )
            .await?;
        if v.as_str().is_some_and(|t| t.starts_with("Live")) {
            break;
        }
        if Instant::now() > end {
            return Err(format!("app not live: pill {v}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.execute(PROBE, vec![]).await?;
    let app_pid = app_pid(&d).ok_or("app process not found")?;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let url = server.url();
    let modules = ["finance", "reports", "hr", "security"];
    let total = (rate * secs) as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (mut sent, mut errors, mut kpis_sent) = (0u64, 0u64, 0u64);
    let mut lat: Vec<f64> = Vec::with_capacity(total as usize);
    let mut drawn = 0u64;
    let mut samples: Vec<Value> = Vec::new();
    let t0 = Instant::now();
    let mut next_sample = t0;
    let cpu_start = cpu_secs(&tree(app_pid));
    let mut cpu_prev = (cpu_start, t0);
    for i in 0..total {
        tick.tick().await;
        let req = if i % 100 == 99 {
            // 1 % notifications: the capped lists (core 500, window 200 drawn) fill up.
            let body = json!({"title": format!("Bench notification {i}"), "body": "Flood", "severity": "info"});
            http.post(format!("{url}/api/notifications")).json(&body)
        } else {
            let m = modules[(i % 4) as usize];
            let sent_ms = util::now_us() as f64 / 1000.0;
            let body = json!({"kpis": [
                {"key": "sent_ms", "label": "Sent at (ms)", "value": sent_ms},
                {"key": "seq", "label": "Sequence", "value": i as f64}
            ]});
            http.put(format!("{url}/api/kpis/{m}")).json(&body)
        };
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                sent += 1;
                if i % 100 != 99 {
                    kpis_sent += 1;
                }
            }
            _ => errors += 1,
        }
        if Instant::now() >= next_sample {
            // Drain the probe so the page holds at most 10 s of samples.
            drawn += drain(&s, &mut lat).await?;
            let pids = tree(app_pid);
            let now = Instant::now();
            let c = cpu_secs(&pids);
            let cpu = 100.0 * (c - cpu_prev.0) / (now - cpu_prev.1).as_secs_f64().max(1e-3);
            cpu_prev = (c, now);
            samples.push(
                json!({"t": (now - t0).as_secs_f64(), "pss_mb": pss_mb(&pids), "cpu_pct": cpu}),
            );
            next_sample += Duration::from_secs(10);
        }
    }
    let send_secs = t0.elapsed().as_secs_f64();
    // Let the last updates land.
    let end = Instant::now() + Duration::from_secs(10);
    while drawn < kpis_sent && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        drawn += drain(&s, &mut lat).await?;
    }
    let pids = tree(app_pid);
    let final_pss = pss_mb(&pids);
    let cpu_total = cpu_secs(&pids) - cpu_start;
    let stats = s.execute("return window.__pulseboardStats", vec![]).await?;
    s.close().await;
    drop(d);
    server.stop().await;
    let p = percentiles(&mut lat);
    Ok(json!({
        "kind": "desktop_latency",
        "rate_target": rate,
        "rate_achieved": sent as f64 / send_secs,
        "secs": secs,
        "sent": sent,
        "kpis_sent": kpis_sent,
        "drawn": drawn,
        "http_errors": errors,
        "latency_ms": p,
        "cpu_pct": 100.0 * cpu_total / t0.elapsed().as_secs_f64(),
        "pss_samples": samples,
        "pss_final_mb": final_pss,
        "page_stats": stats,
    }))
}

/// Installed in the page: keeps (DOM updated - sent) for each KPI message drawn.
const PROBE: &str = r#"
window.__pbLat = [];
window.__pulseboardProbe = (msgs, at) => {
  for (const m of msgs) {
    if (m && m.type === 'module' && typeof m.event === 'string' && m.event.startsWith('kpi:update:')) {
      const k = m.data && m.data.kpis && m.data.kpis[0];
      if (k && k.key === 'sent_ms') window.__pbLat.push(at - k.value);
    }
  }
};
return true;
"#;

async fn drain(s: &Session, into: &mut Vec<f64>) -> Result<u64, String> {
    let v = s
        .execute(
            "const l = window.__pbLat; window.__pbLat = []; return l",
            vec![],
        )
        .await?;
    let arr = v.as_array().ok_or("probe gone")?;
    into.extend(arr.iter().filter_map(Value::as_f64));
    Ok(arr.len() as u64)
}

#[cfg(test)]
mod tests {
    use pulseboard_core::{store::HISTORY_LEN, ModuleShown};
    use pulseboard_protocol::{Module, ModuleKpis};

    use super::*;

    /// With two Pulseboard builds, each is on the left in every other
    /// window; the hello-world app keeps its own.
    #[test]
    fn two_builds_swap_places_every_other_window() {
        let places = |w| (0..3).map(|i| idle_place(true, w, i)).collect::<Vec<_>>();
        assert_eq!(places(1), [0, 1, 2]);
        assert_eq!(places(2), [1, 0, 2]);
        assert_eq!(places(3), [0, 1, 2]);
        assert_eq!(idle_place(false, 2, 0), 0, "one build: no swap");
    }

    /// Pulseboard's update batch for one finance update, as captured from
    /// the app: the hello-world app's `--ipc-tick` floor sends this shape.
    const FINANCE_BATCH: &str = include_str!("../hello-tauri/fixtures/finance-batch.json");

    /// The fixture is what the app's bridge makes of one finance update
    /// (one `UiMessage::Module` with its view), field for field: the data
    /// as the protocol's type writes it, the view as the core's; small
    /// enough for Tauri's Channel to evaluate it as a script, as the app's.
    #[test]
    fn the_ipc_floor_sends_pulseboards_batch_for_one_finance_update() {
        let batch: Value = serde_json::from_str(FINANCE_BATCH).expect("JSON");
        let [m] = batch.as_array().expect("a batch: an array").as_slice() else {
            panic!("one message: {batch}");
        };
        assert_eq!(m["type"], "module");
        assert_eq!(m["event"], Module::Finance.kpi_event());
        let data: ModuleKpis = serde_json::from_value(m["data"].clone()).expect("ModuleKpis");
        assert_eq!(data.module, Module::Finance);
        let keys: Vec<&str> = data.kpis.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["revenue", "expenses", "margin", "cash"]);
        assert_eq!(serde_json::to_value(&data).unwrap(), m["data"]);
        let view = ModuleShown {
            latest: None,
            history: data
                .kpis
                .iter()
                .map(|k| (k.key.clone(), vec![k.value]))
                .collect(),
            full: false,
            keep: HISTORY_LEN,
        };
        assert_eq!(serde_json::to_value(&view).unwrap(), m["view"]);
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "type, event, data, view: {keys:?}");
        // Tauri 2 evaluates a Channel's JSON message under 8192 bytes as a
        // script; larger ones go by a fetch.
        let sent = serde_json::to_string(&batch).unwrap();
        assert!(sent.len() < 8192, "{} bytes", sent.len());
    }
}
