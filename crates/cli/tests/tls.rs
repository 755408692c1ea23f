//! The CLI against a TLS server whose certificate comes from a private CA
//! made in the test; the plain-http token warning; no token in --help.

use std::process::Output;

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

const BIN: &str = env!("CARGO_BIN_EXE_pulseboard-cli");

async fn cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("PULSEBOARD_TOKEN")
        .env_remove("PULSEBOARD_CA")
        .output()
        .await
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn snapshot_over_tls_needs_the_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut c = pulseboard_server::Config::new(dir.path().join("s.db"));
    c.token = Some("tok".into());
    c.tls = Some((cert, key));
    let server = pulseboard_server::spawn(c).await.unwrap();
    let url = server.url();
    assert!(url.starts_with("https://"));
    let ca = ca.to_str().unwrap();

    let out = cli(&["snapshot", "--server", &url, "--token", "tok", "--ca", ca]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let snap: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(snap["unreadCount"], 0);

    let out = cli(&["snapshot", "--server", &url, "--token", "tok"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains("--ca"), "{err}");

    // `send` uses the CA too.
    let out = cli(&[
        "send",
        "--server",
        &url,
        "--token",
        "tok",
        "--ca",
        ca,
        "notification",
        "--title",
        "over tls",
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    // `tail` without the CA refuses the certificate and says so (exit 2)...
    let out = cli(&["tail", "--server", &url, "--token", "tok"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
    // ...and with it goes live.
    let mut child = Command::new(BIN)
        .args(["tail", "--server", &url, "--token", "tok", "--ca", ca])
        .env_remove("PULSEBOARD_SERVER")
        .env_remove("PULSEBOARD_TOKEN")
        .env_remove("PULSEBOARD_CA")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let live = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            let v: Value = serde_json::from_str(&l).unwrap();
            if v["event"] == "state" && v["data"]["state"] == "live" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(live, Ok(true), "tail --ca never went live");
    child.kill().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn token_over_plain_http_to_a_remote_host_is_warned_about() {
    // 0.0.0.0 is not loopback by name; connecting to port 1 fails at once.
    let out = cli(&["snapshot", "--server", "http://0.0.0.0:1", "--token", "tok"]).await;
    assert!(
        stderr(&out).contains("warning: sending the token over plain http://"),
        "{}",
        stderr(&out)
    );
    let out = cli(&[
        "snapshot",
        "--server",
        "http://127.0.0.1:1",
        "--token",
        "tok",
    ])
    .await;
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    // `send` and `tail` warn too (`tail` before its first connection attempt).
    let out = cli(&[
        "send",
        "--server",
        "http://0.0.0.0:1",
        "--token",
        "tok",
        "notification",
        "--title",
        "t",
    ])
    .await;
    assert!(
        stderr(&out).contains("warning: sending the token over plain http://"),
        "{}",
        stderr(&out)
    );
    let mut child = Command::new(BIN)
        .args(["tail", "--server", "http://0.0.0.0:1", "--token", "tok"])
        .env_remove("PULSEBOARD_TOKEN")
        .env_remove("PULSEBOARD_CA")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let warned = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.contains("warning: sending the token over plain http://") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(warned, Ok(true), "tail did not warn");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn help_does_not_print_the_token_from_the_environment() {
    for sub in ["tail", "snapshot", "send"] {
        let out = Command::new(BIN)
            .args([sub, "--help"])
            .env("PULSEBOARD_TOKEN", "very-secret-value")
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("PULSEBOARD_TOKEN"), "{text}");
        assert!(!text.contains("very-secret-value"), "{text}");
    }
}
