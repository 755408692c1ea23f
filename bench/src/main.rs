//! `pulseboard-bench`: benchmarks for pulseboard-server and pulseboard-core.
//! Run them all with `scripts/bench.sh`; they are not part of the test run.

mod cluster;
mod core_apply;
mod core_latency;
mod desktop;
mod report;
mod report_desktop;
mod server_load;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "pulseboard-bench", about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Fan-out load (N websocket clients, KPI broadcasts) against one server.
    Server(server_load::Args),
    /// One node vs a cluster (nodes + Redis, one PostgreSQL): fan-out of
    /// notifications and KPIs to N clients spread over the nodes.
    Cluster(cluster::Args),
    /// Client core: events decoded + validated + applied per second, one thread.
    CoreApply(core_apply::Args),
    /// Client core: server emit -> store update latency on loopback.
    CoreLatency(core_latency::Args),
    /// Desktop app vs a hello-world Tauri app: memory, CPU, first paint, emit -> DOM.
    Desktop(desktop::Args),
    /// Turn a results file into a table and BENCHMARKS.md.
    Report(report::Args),
}

fn main() -> ExitCode {
    let r = match Cli::parse().cmd {
        Cmd::Server(a) => server_load::run(a),
        Cmd::Cluster(a) => cluster::run(a),
        Cmd::CoreApply(a) => core_apply::run(a),
        Cmd::CoreLatency(a) => core_latency::run(a),
        Cmd::Desktop(a) => desktop::run(a),
        Cmd::Report(a) => report::run(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
