//! pulseboard-server driven by the official Node `socket.io-client` 4.8
//! (`interop/client-check.mjs`): every client->server event and ack of the
//! contract, auth failure, broadcasts after HTTP calls, and bad payloads, over
//! WebSocket only and over long-polling only.
//!
//! Needs Node 20 and `npm ci --prefix interop --no-audit --no-fund`; the tests
//! fail (they do not skip) when `interop/node_modules` is missing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use pulseboard_server::{spawn, Config};
use tokio::process::Command;

const TOKEN: &str = "interop-t0k";
/// The script has its own 60 s deadline; this one catches a stuck `node`.
const OVERALL: Duration = Duration::from_secs(90);

fn repo_root() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    root.canonicalize().unwrap_or(root)
}

async fn client_check(transport: &str) {
    let root = repo_root();
    let interop = root.join("interop");
    assert!(
        interop.join("node_modules/socket.io-client").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop --no-audit --no-fund` \
         in {} (the Node interop tests need the official socket.io-client 4.8)",
        root.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("s.db"));
    config.simulator = false;
    config.token = Some(TOKEN.into());
    let server = spawn(config).await.expect("server starts");

    let run = Command::new("node")
        .arg(interop.join("client-check.mjs"))
        .args(["--url", &server.url(), "--token", TOKEN])
        .args(["--transport", transport])
        .current_dir(&interop)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(OVERALL, run)
        .await
        .unwrap_or_else(|_| panic!("client-check.mjs ({transport}) did not finish in {OVERALL:?}"))
        .expect("`node` runs (Node 20 must be on PATH)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Visible with --nocapture, and in the failure report below.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "client-check.mjs --transport {transport} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("PASS [{transport}]")),
        "no PASS line:\n{stdout}\n{stderr}"
    );
    server.stop().await.expect("server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_node_client_over_websocket() {
    client_check("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_node_client_over_polling() {
    client_check("polling").await;
}
