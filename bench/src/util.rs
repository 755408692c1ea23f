//! Small helpers shared by the benchmarks: /proc readers, clocks, percentiles,
//! and the JSON-lines result file.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

/// Wall-clock time in microseconds since the Unix epoch (same clock for every
/// process on the machine, so it can be embedded in a payload by one process
/// and compared by another).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// (utime, stime) of a process (all its threads), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) is 11, stime (15) is 12.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime as f64 / clk_tck(), stime as f64 / clk_tck()))
}

/// Clock ticks per second (`/proc` times are in these).
pub fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// p50/p90/p99/max of a sample set (sorts it).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Pct {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn percentiles(v: &mut [f64]) -> Pct {
    if v.is_empty() {
        return Pct::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[(((v.len() as f64) * q).ceil() as usize).clamp(1, v.len()) - 1];
    Pct {
        n: v.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: v[v.len() - 1],
    }
}

/// Append one result object as a line of JSON.
pub fn append_result(path: &Path, v: &Value) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{}", serde_json::to_string(v).unwrap_or_default())
}

/// The command line that produced a result, for the report.
pub fn command_line() -> String {
    let mut args = std::env::args();
    let first = args.next().unwrap_or_default();
    let bin = Path::new(&first)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or(first);
    std::iter::once(bin)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------- processes

/// Every descendant of `pid`, and `pid` itself.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut kids: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Some(pp) = stat_field(p, 1) {
                kids.entry(pp as u32).or_default().push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        out.push(p);
        if let Some(k) = kids.get(&p) {
            todo.extend(k);
        }
    }
    out
}

/// Every process in process group `pgid`: an app started in a group of its
/// own, with what it started that left its tree (D-Bus activates the
/// accessibility bus and registry as orphans, still in the group).
pub fn group(pgid: u32) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| stat_field(*p, 2) == Some(pgid as u64))
        .collect()
}

/// Field `i` after the command name of `/proc/PID/stat` (0 = state, 1 = ppid, 19 = starttime).
pub fn stat_field(pid: u32, i: usize) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 2..]
        .split_whitespace()
        .nth(i)?
        .parse()
        .ok()
}

pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn pss_mb(pids: &[u32]) -> f64 {
    let mut kib = 0u64;
    for p in pids {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            kib += s
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    kib as f64 / 1024.0
}

pub fn cpu_secs(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|p| cpu_seconds(*p))
        .map(|(u, s)| u + s)
        .sum()
}

/// CPU seconds (user + sys) of `pid`, its live descendants, and the children
/// it has already reaped (`cutime` + `cstime`: PostgreSQL backends that
/// ended). A difference of two readings is the tree's CPU in between.
///
/// Live processes are read from `/proc/PID/task/TID/schedstat` (nanoseconds)
/// rather than `/proc/PID/stat` (clock ticks, 10 ms): a PostgreSQL or Redis
/// process uses a few ms in a phase, which ticks would round to zero. A
/// thread that ended in between is lost (PostgreSQL's processes have one
/// thread, Redis's threads live as long as it does).
pub fn tree_cpu_secs(pid: u32) -> f64 {
    let reaped = stat_field(pid, 13).unwrap_or(0) + stat_field(pid, 14).unwrap_or(0);
    let live: u64 = tree(pid).into_iter().map(run_ns).sum();
    live as f64 / 1e9 + reaped as f64 / clk_tck()
}

/// Nanoseconds on a CPU of every live thread of `pid` (`schedstat`), or its
/// `/proc/PID/stat` time when schedstat is not available.
pub fn run_ns(pid: u32) -> u64 {
    let ns: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| {
            // A thread that ended since the listing is skipped.
            std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        })
        .collect();
    if ns.is_empty() {
        cpu_seconds(pid)
            .map(|(u, s)| ((u + s) * 1e9) as u64)
            .unwrap_or(0)
    } else {
        ns.into_iter().sum()
    }
}

/// A cgroup (v2) of its own for one program and everything it starts. Its
/// `cpu.stat` counts, in microseconds, every thread and process that ran in
/// it, ended or not: per-thread `schedstat` loses a thread once it ends
/// (WebKit's JIT workers and GC helpers end ~10 s after their work), `/proc/PID/stat`
/// counts in 10 ms ticks. Removed on drop (once its processes are gone).
#[derive(Debug)]
pub struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    /// A new cgroup named after this process and `name` under the cgroup2
    /// mount; None where there is none or it is not writable (not root).
    pub fn new(name: &str) -> Option<Cgroup> {
        let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
        let root = mounts.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })?;
        let dir = root.join(format!("pulseboard-bench-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let cg = Cgroup { dir };
        cg.usage_us()?;
        Some(cg)
    }

    /// `c`, started inside the cgroup: a shell moves itself in, then runs
    /// `c`'s program in its place (same arguments, environment and dir), in
    /// a process group of its own (as `Xvfb::command` starts a program, for
    /// `Group` to stop).
    pub fn wrap(&self, c: &Command) -> Command {
        use std::os::unix::process::CommandExt;
        let mut w = Command::new("sh");
        w.process_group(0);
        w.arg("-c")
            .arg(r#"echo $$ > "$0" && exec "$@""#)
            .arg(self.dir.join("cgroup.procs"))
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => w.env(k, v),
                None => w.env_remove(k),
            };
        }
        if let Some(d) = c.get_current_dir() {
            w.current_dir(d);
        }
        w
    }

    /// CPU time (user + system) of everything that ran in it, in µs.
    pub fn usage_us(&self) -> Option<u64> {
        std::fs::read_to_string(self.dir.join("cpu.stat"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Its processes were stopped before; the kernel may still be
        // reaping the last ones for a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
