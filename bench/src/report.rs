//! Results (JSON lines) -> a printed table and BENCHMARKS.md.

use std::{collections::BTreeMap, fmt::Write as _, path::PathBuf, process::Command};

use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Results file written by the other subcommands.
    #[arg(long)]
    pub results: PathBuf,
    /// Markdown file to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
    /// The command that produced the results (shown in the report).
    #[arg(long, default_value = "scripts/bench.sh")]
    pub command: String,
    /// Wall time of the whole run in seconds, if known.
    #[arg(long)]
    pub wall_secs: Option<f64>,
}

fn f(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}
fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}
fn lat(v: &Value, k: &str, q: &str) -> f64 {
    v.get(k).map(|x| f(x, q)).unwrap_or(f64::NAN)
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|s| s.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|s| s.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|k| format!("{:.1} GiB", k / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let sio = std::fs::read_to_string("interop/node_modules/socket.io/package.json")
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v.get("version").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let head = sh("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = if sh("git", &["status", "--porcelain"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    vec![
        (
            "Date (UTC)".into(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string(),
        ),
        ("CPU".into(), format!("{model}, {cores} cores available")),
        ("Memory".into(), mem),
        ("Kernel".into(), format!("Linux {kernel}")),
        ("open files limit".into(), sh("sh", &["-c", "ulimit -n"])),
        ("rustc".into(), sh("rustc", &["-V"])),
        ("node".into(), sh("node", &["--version"])),
        ("socket.io (Node)".into(), sio),
        ("socketioxide".into(), "0.18 (Cargo.lock)".into()),
        ("git".into(), format!("{head}{dirty}")),
    ]
}

/// CPU seconds of one kind per delivery, in µs.
fn per_delivery_us(v: &Value, k: &str) -> f64 {
    let n = u(v, "received");
    if n == 0 {
        f64::NAN
    } else {
        f(v, k) * 1e6 / n as f64
    }
}

fn ratio(node: f64, rust: f64) -> f64 {
    if rust > 0.0 {
        node / rust
    } else {
        f64::INFINITY
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

pub fn run(a: Args) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&a.results).map_err(|e| format!("{}: {e}", a.results.display()))?;
    let rows: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Latest result per key wins.
    let mut server: BTreeMap<(u64, String), Value> = BTreeMap::new();
    let mut apply = None;
    let mut latency = None;
    let mut desktop = crate::report_desktop::Desktop::default();
    let mut cluster = Vec::new();
    for r in rows {
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or_default();
        desktop.add(kind, &r);
        match Some(kind) {
            Some("server") => {
                let t = r
                    .get("target")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                server.insert((u(&r, "clients"), t), r);
            }
            Some("core_apply") => apply = Some(r),
            Some("core_latency") => latency = Some(r),
            Some("cluster") => cluster.push(r),
            _ => {}
        }
    }

    let mut md = String::new();
    let mut table = String::new();
    let _ = writeln!(md, "# Pulseboard benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `{}`{}. Benchmarks are not part of the test run.\n",
        a.command,
        a.wall_secs
            .map(|s| format!(" in {:.0} s", s))
            .unwrap_or_default()
    );
    let _ = writeln!(md, "## Machine\n\n| | |\n|---|---|");
    for (k, v) in machine() {
        let _ = writeln!(md, "| {k} | {v} |");
    }

    // ---------------------------------------------------------------- server
    let _ = writeln!(
        md,
        "\n## 1. Server fan-out: pulseboard-server vs Node socket.io 4.8\n"
    );
    let _ = writeln!(md, "N raw websocket clients (Engine.IO 4 / Socket.IO 5, one tokio task each, separate process) each send \
`module:subscribe {{\"module\":\"finance\"}}` and wait for the ack; then `PUT /api/kpis/finance` is sent over HTTP at a fixed rate \
and every client counts `kpi:update:finance` frames. The KPI value is the sender's wall-clock time in µs; latency = receive time − that \
(same machine clock, so it includes the HTTP request, the server's work and the fan-out to all N sockets). \
Memory/connection = (VmRSS with N subscribed clients − VmRSS idle) / N, from `/proc/PID/status`. \
CPU = utime+stime of the server process (`/proc/PID/stat`) from the first broadcast until every delivery arrived, per 100 000 deliveries. \
pulseboard-server ran with `--no-simulator` (SQLite in a temp file; every PUT is also persisted, as in production); the Node server is \
`bench/node-server.mjs` (same events, same rooms, no persistence).\n");
    let hdr = "| server | N | connected | mem/conn KiB | RSS idle→loaded MiB | CPU s / 100k deliveries | user µs / delivery | sys µs / delivery | latency p50 ms | p99 ms | max ms | delivered / expected | lost |";
    let sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
    let _ = writeln!(md, "{hdr}\n{sep}");
    let _ = writeln!(table, "{hdr}\n{sep}");
    let mut ns: Vec<u64> = server.keys().map(|(n, _)| *n).collect();
    ns.dedup();
    for ((n, t), r) in &server {
        let name = if t == "rust" {
            "pulseboard-server"
        } else {
            "node socket.io"
        };
        let line = format!(
            "| {name} | {n} | {} | {:.1} | {:.1} → {:.1} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} / {} | {} |",
            u(r, "connected"),
            f(r, "mem_per_conn_kib"),
            f(r, "rss_idle_kib") / 1024.0,
            f(r, "rss_loaded_kib") / 1024.0,
            f(r, "cpu_per_100k"),
            per_delivery_us(r, "cpu_user_secs"),
            per_delivery_us(r, "cpu_sys_secs"),
            lat(r, "latency_ms", "p50"),
            lat(r, "latency_ms", "p99"),
            lat(r, "latency_ms", "max"),
            u(r, "received"),
            u(r, "expected"),
            u(r, "lost"),
        );
        let _ = writeln!(md, "{line}");
        let _ = writeln!(table, "{line}");
    }
    let _ = writeln!(md, "\n### Targets (issue #12): ≤ 8 KiB per connection and ≥ 2× better than Node at N = 10000; CPU per delivery ≥ 1.2× better than Node at N = 1000; user-space CPU per delivery ≤ 1/4 of Node's; zero lost\n");
    let thdr = "| N | mem/conn rust KiB | target ≤ 8 | mem/conn node ÷ rust | target ≥ 2× | CPU/delivery node ÷ rust | target ≥ 1.2× | user-space CPU node ÷ rust | target ≥ 4× | lost (rust) | target 0 | lost (node) |";
    let tsep = "|---:|---:|---|---:|---|---:|---|---:|---|---:|---|---:|";
    let _ = writeln!(md, "{thdr}\n{tsep}");
    let _ = writeln!(table, "\n{thdr}\n{tsep}");
    for n in &ns {
        let (Some(r), Some(nd)) = (
            server.get(&(*n, "rust".into())),
            server.get(&(*n, "node".into())),
        ) else {
            continue;
        };
        let mr = ratio(f(nd, "mem_per_conn_kib"), f(r, "mem_per_conn_kib"));
        let cr = ratio(f(nd, "cpu_per_100k"), f(r, "cpu_per_100k"));
        let lost = u(r, "lost") + (u(r, "clients") - u(r, "connected").min(u(r, "clients")));
        let ur = ratio(
            per_delivery_us(nd, "cpu_user_secs"),
            per_delivery_us(r, "cpu_user_secs"),
        );
        let lost_node =
            u(nd, "lost") + (u(nd, "clients") - u(nd, "connected").min(u(nd, "clients")));
        let sat = [r, nd]
            .iter()
            .any(|x| lat(x, "latency_ms", "p50") > 1000.0 / f(x, "rate"));
        let n_label = if sat {
            format!("{n} (saturated, see below)")
        } else {
            n.to_string()
        };
        // The memory goal is set at N = 10000, the CPU goal at N = 1000
        // (not saturated); other rows are shown for information.
        let goal = |at: u64, ok: bool| {
            if *n == at {
                verdict(ok).to_string()
            } else {
                format!("({})", if ok { "met" } else { "not met" })
            }
        };
        let kib = f(r, "mem_per_conn_kib");
        let line = format!(
            "| {n_label} | {kib:.1} | {} | {mr:.2}× | {} | {cr:.2}× | {} | {ur:.2}× | {} | {lost} | {} | {lost_node} |",
            goal(10000, kib <= 8.0),
            goal(10000, mr >= 2.0),
            goal(1000, cr >= 1.2),
            goal(1000, ur >= 4.0),
            verdict(lost == 0 && u(r, "expected") > 0)
        );
        let _ = writeln!(md, "{line}");
        let _ = writeln!(table, "{line}");
    }
    if let Some(r) = server.values().next() {
        let _ = writeln!(md, "\nPer run: {} broadcasts at {}/s; server pinned to CPU `{}`, load generator to the other CPU (see bench.sh).",
            u(r, "broadcasts_sent"), f(r, "rate"), r.get("server_cpu").and_then(Value::as_str).unwrap_or("unpinned"));
    }

    // Where the server gap comes from, with this run's numbers.
    if let Some(n) = ns.iter().find(|n| {
        server.contains_key(&(**n, "rust".into())) && server.contains_key(&(**n, "node".into()))
    }) {
        let r = &server[&(*n, "rust".to_string())];
        let nd = &server[&(*n, "node".to_string())];
        let (ru, rs) = (
            per_delivery_us(r, "cpu_user_secs"),
            per_delivery_us(r, "cpu_sys_secs"),
        );
        let (nu, nsys) = (
            per_delivery_us(nd, "cpu_user_secs"),
            per_delivery_us(nd, "cpu_sys_secs"),
        );
        let _ = writeln!(
            md,
            "\n### Where the gap comes from (N = {n}, not saturated)\n"
        );
        let _ = writeln!(md, "- Kernel (sys) time per delivery: pulseboard-server {rs:.2} µs, Node {nsys:.2} µs. Every delivery is one websocket \
frame written with its own `write(2)` to a loopback TCP socket, and on loopback the sender's syscall also runs the receiver's TCP input \
path, so this cost lands on the server and is about the same for both implementations. It is {:.0} % of pulseboard-server's CPU per \
delivery. Even with zero user-space time, pulseboard-server could be at most {:.2}× better than Node here (Node's total ÷ pulseboard's sys time).",
            100.0 * rs / (ru + rs), (nu + nsys) / rs);
        let _ = writeln!(md, "- User-space time per delivery: pulseboard-server {ru:.2} µs, Node {nu:.2} µs ({:.2}×).", nu / ru);
        let _ = writeln!(md, "- Memory per connection: pulseboard-server {:.1} KiB, Node {:.1} KiB. A websocket connection holds hyper's \
upgraded connection, the tungstenite stream (read buffer 256 B, set by the server), the handshake request parts (copied out of hyper's \
read buffer, which they used to pin), one tokio task (reader, writer and heartbeat together) and the Socket.IO socket state (handlers, \
rooms, ack map). The configuration and the engineioxide patches that got it here, each with its measured effect, are in \
[vendor/PATCHES.md](vendor/PATCHES.md).", f(r, "mem_per_conn_kib"), f(nd, "mem_per_conn_kib"));
        let interval_ms = 1000.0 / f(r, "rate");
        let mut over = Vec::new();
        for ((n2, t), x) in &server {
            if lat(x, "latency_ms", "p50") > interval_ms {
                over.push(format!(
                    "{} N={n2} (p50 {:.0} ms, load generator busy {:.0} % of the time)",
                    if t == "rust" {
                        "pulseboard-server"
                    } else {
                        "node"
                    },
                    lat(x, "latency_ms", "p50"),
                    100.0 * f(x, "loadgen_cpu_share")
                ));
            }
        }
        if !over.is_empty() {
            let _ = writeln!(md, "- Overload regime: in {} the fan-out of one broadcast took longer than the {interval_ms:.0} ms between \
broadcasts, so frames queue up per socket. socketioxide's writer task flushes only when a socket's queue is empty, so several frames go \
out in one `write(2)`; that lowers sys time per delivery, which is why pulseboard-server's CPU/delivery drops at the largest N. Where the \
load generator (one thread on one CPU) is busy more than ~90 % of the time, the latency also includes its own queueing. Treat those \
rows as saturated, not as the steady-state cost; the not-saturated N is the fair comparison.",
                over.join(", "));
        }
        let _ = writeln!(md, "- Latency here is the fan-out time: both servers are pinned to one CPU, and the last of N sockets gets the frame \
after N writes (N × CPU per delivery), so p50/p99 grow with N. It is reported for comparison, not against a target.");
    }

    // ---------------------------------------------------------------- core
    let _ = writeln!(md, "\n## 2. Client core\n");
    if let Some(r) = &apply {
        let v = r.get("variants").cloned().unwrap_or(Value::Null);
        let rate = |k: &str| v.get(k).map(|x| f(x, "events_per_sec")).unwrap_or(f64::NAN);
        let bytes = |k: &str| v.get(k).map(|x| f(x, "avg_json_bytes")).unwrap_or(f64::NAN);
        let _ = writeln!(
            md,
            "### 2a. Events decoded, validated and applied per second (one thread, CPUs `{}`)\n",
            r.get("cpu_affinity").and_then(Value::as_str).unwrap_or("?")
        );
        let _ = writeln!(md, "{} events per run, median of {} runs after a warm-up. Mixed stream: 70 % `kpi:update:*` (4 modules, 3–4 KPIs), \
10 % `dashboard:update`, 10 % `notification:new`, 10 % `alert:system`; every event newer than the last so none is dropped as a repeat \
(the benchmark asserts each one was applied).\n", u(r, "events"), u(r, "runs"));
        let _ = writeln!(
            md,
            "| variant | events/s | target ≥100k/s |\n|---|---:|---|"
        );
        let _ = writeln!(table, "\n| core: decode+validate+apply (1 thread) | events/s | target ≥100k/s |\n|---|---:|---|");
        for (k, label) in [
            ("mixed_value_state", "mixed, JSON value → `ServerEvent::decode` → `State::apply` (what the supervisor does after rust_socketio parsed the frame)"),
            ("mixed_value_store", "mixed, same through `Store::apply` (RwLock + broadcast to a subscriber)"),
            ("mixed_text_state", "mixed, from JSON text (adds `serde_json::from_str`)"),
            ("kpi_value_state", "KPI only, JSON value → decode → apply"),
            ("kpi_text_state", "KPI only, from JSON text"),
        ] {
            let x = rate(k);
            let extra = if k.contains("text") { format!(" (avg {:.0} bytes/event)", bytes(k)) } else { String::new() };
            let line = format!("| {label}{extra} | {:.0} | {} |", x, verdict(x >= 100_000.0));
            let _ = writeln!(md, "{line}");
            let _ = writeln!(table, "{line}");
        }
    }
    if let Some(r) = &latency {
        let _ = writeln!(
            md,
            "\n### 2b. Server emit → core store update latency (loopback, target p99 ≤ 5 ms)\n"
        );
        let _ = writeln!(md, "pulseboard-server in-process (`pulseboard_server::spawn`, simulator off), one `pulseboard_core::Client` \
(websocket, subscribed to `finance`), `PUT /api/kpis/finance` over a keep-alive HTTP connection at {:.0}/s (achieved {:.0}/s) for \
{} updates after a 1 s warm-up; the send time is the KPI value, the receive time is taken when the update comes out of \
`Store::subscribe()`. {} tokio worker threads for everything.\n",
            f(r, "rate_target"), f(r, "rate_achieved"), u(r, "sent"), u(r, "workers"));
        let _ = writeln!(md, "| path | p50 ms | p90 ms | p99 ms | max ms | target p99 ≤5 ms |\n|---|---:|---:|---:|---:|---|");
        let _ = writeln!(table, "\n| core latency | p50 ms | p90 ms | p99 ms | max ms | target p99 ≤5 ms |\n|---|---:|---:|---:|---:|---|");
        for (k, label) in [
            (
                "emit_ms",
                "server `updatedAt` (set in put_kpis, before persist + emit) → store update",
            ),
            (
                "e2e_ms",
                "HTTP PUT sent → store update (adds the HTTP request)",
            ),
        ] {
            let line = format!(
                "| {label} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
                lat(r, k, "p50"),
                lat(r, k, "p90"),
                lat(r, k, "p99"),
                lat(r, k, "max"),
                verdict(lat(r, k, "p99") <= 5.0)
            );
            let _ = writeln!(md, "{line}");
            let _ = writeln!(table, "{line}");
        }
        let _ = writeln!(
            md,
            "\nUpdates sent {}, applied {}, lagged receiver {}, HTTP errors {}.",
            u(r, "sent"),
            u(r, "received"),
            u(r, "lagged"),
            u(r, "http_errors")
        );
    }

    if !desktop.is_empty() {
        crate::report_desktop::section(&mut md, &mut table, &desktop);
    }

    if !cluster.is_empty() {
        let _ = writeln!(
            md,
            "\n## 4. One node vs three nodes behind Redis (one PostgreSQL)\n\n`pulseboard-bench cluster`: N websocket clients spread over the nodes, each subscribed to notifications and `finance`; notifications and KPIs published over HTTP at a fixed rate to one node or to each in turn. Nodes' CPU (`/proc/PID/stat`) per delivery; Redis's and PostgreSQL's (postmaster and backends, `schedstat`) per published event; all servers together per delivery. Nothing pinned: everything shares the machine.\n"
        );
        let _ = writeln!(table);
        crate::cluster::section(&mut md, &mut table, &cluster);
    }

    // ---------------------------------------------------------------- commands
    let _ = writeln!(
        md,
        "\n## Commands that produced these numbers\n\n```sh\n{}",
        a.command
    );
    let _ = writeln!(md, "# which ran, from the workspace root:");
    for r in server.values().chain(apply.iter()).chain(latency.iter()) {
        if let Some(c) = r.get("cmd").and_then(Value::as_str) {
            let _ = writeln!(md, "target/release/{c}");
        }
    }
    if let Some(c) = desktop.cmd() {
        let _ = writeln!(md, "target/release/{c}");
    }
    if let Some(c) = cluster
        .first()
        .and_then(|r| r.get("cmd"))
        .and_then(Value::as_str)
    {
        let _ = writeln!(md, "target/release/{c}");
    }
    let _ = writeln!(md, "```");
    std::fs::write(&a.out, md).map_err(|e| e.to_string())?;
    println!("{table}");
    println!("wrote {}", a.out.display());
    Ok(())
}
