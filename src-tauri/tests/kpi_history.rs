//! The KPI detail view's history (`kpi_history`): asked from a real server
//! with the app's server URL and token, and what the view shows when the
//! server cannot be asked (nothing listening, a server without history, a
//! refused token).

mod common;

use std::time::Duration;

use common::{plain_http_404, pulseboard, Server};

use chrono::{TimeZone, Utc};
use pulseboard_app::commands::{
    fetch_history, history_view, HistoryMiss, HistorySource, HISTORY_TIMEOUT,
};
use pulseboard_protocol::{HistoryRange, Module};

const TOKEN: &str = "history-token";

/// Put `value` as finance's KPI `key`, retrying until the server listens.
async fn put(server: &Server, key: &str, value: f64) {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let sent = http
            .put(format!("{}/api/kpis/finance", server.url))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"kpis": [{"key": key, "label": "K", "value": value}]}))
            .send()
            .await;
        match sent {
            Ok(r) => {
                assert!(r.status().is_success(), "{}", r.status());
                return;
            }
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "server never answered: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_history_is_fetched_with_the_apps_token() {
    let server = pulseboard(Some(TOKEN)).await;
    // A key that needs encoding in the path.
    let key = "net/rev €";
    put(&server, key, 7.5).await;
    put(&server, key, 9.0).await;
    let h = fetch_history(
        &format!("{}/", server.url),
        Some(TOKEN),
        None,
        Module::Finance,
        key,
        HistoryRange::Day,
        HISTORY_TIMEOUT,
    )
    .await
    .expect("history");
    assert_eq!(h.key, key);
    assert_eq!(h.points.len(), 1, "one 5 min bucket");
    assert_eq!(h.points[0].value, 9.0);
    assert_eq!(h.points[0].min, Some(7.5));
    let view = history_view(
        HistoryRange::Day,
        Ok(h),
        vec![(Utc::now(), 9.0)],
        None,
        Utc::now(),
        &Utc,
    );
    assert_eq!(view.source, HistorySource::Server);
    assert_eq!(view.caption, "From the server, 24 h");

    // A refused token is said in words, not mistaken for "offline".
    let refused = fetch_history(
        &server.url,
        Some("wrong"),
        None,
        Module::Finance,
        key,
        HistoryRange::Hour,
        HISTORY_TIMEOUT,
    )
    .await;
    assert_eq!(
        refused,
        Err(HistoryMiss::Failed("the server refused the token".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_server_the_view_says_what_it_shows_instead() {
    // Nothing listens there.
    let port = pulseboard_testkit::free_port();
    let down = fetch_history(
        &format!("http://127.0.0.1:{port}"),
        Some(TOKEN),
        None,
        Module::Hr,
        "headcount",
        HistoryRange::Hour,
        HISTORY_TIMEOUT,
    )
    .await;
    assert_eq!(down, Err(HistoryMiss::Offline));

    // A server that answers 404 to everything: no history served.
    let url = plain_http_404().await;
    let old = fetch_history(
        &url,
        None,
        None,
        Module::Hr,
        "headcount",
        HistoryRange::Hour,
        HISTORY_TIMEOUT,
    )
    .await;
    assert_eq!(old, Err(HistoryMiss::NotServed));

    // The view then shows what the app saw, and says so with the time of
    // its first value.
    let tz = chrono::FixedOffset::east_opt(3600).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 5, 4, 13, 30, 0).unwrap();
    let local = vec![
        (Utc.with_ymd_and_hms(2026, 5, 4, 13, 5, 0).unwrap(), 1.0),
        (Utc.with_ymd_and_hms(2026, 5, 4, 13, 10, 0).unwrap(), 2.0),
    ];
    let v = history_view(HistoryRange::Day, down, local.clone(), None, now, &tz);
    assert_eq!(v.source, HistorySource::Local);
    assert_eq!(v.caption, "Offline: what this app saw since 14:05");
    assert_eq!(v.points.len(), 2);
    assert_eq!(v.from, local[0].0);
    assert_eq!(v.to, now);
    let v = history_view(HistoryRange::Week, old, local, None, now, &tz);
    assert_eq!(
        v.caption,
        "This server keeps no history: what this app saw since 14:05"
    );
    let v = history_view(
        HistoryRange::Hour,
        Err(HistoryMiss::Offline),
        vec![(Utc.with_ymd_and_hms(2026, 5, 2, 8, 0, 0).unwrap(), 1.0)],
        None,
        now,
        &tz,
    );
    assert_eq!(v.caption, "Offline: what this app saw since 2 May 09:00");
    let v = history_view(
        HistoryRange::Hour,
        Err(HistoryMiss::Offline),
        vec![],
        None,
        now,
        &tz,
    );
    assert_eq!(v.caption, "Offline: this app has seen no value of it yet");
    assert!(v.points.is_empty());
}

/// Over HTTPS the history trusts the configured private certificate
/// authority, as the connection does; without it, it says the certificate is
/// not trusted (not "offline").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_trusts_the_configured_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut config = pulseboard_server::Config::new(dir.path().join("s.db"));
    config.token = Some(TOKEN.into());
    config.tls = Some((cert, key));
    let server = pulseboard_server::spawn(config).await.unwrap();
    let url = server.url();
    assert!(url.starts_with("https://"), "{url}");
    let ask = |ca: Option<std::path::PathBuf>| {
        let url = url.clone();
        async move {
            fetch_history(
                &url,
                Some(TOKEN),
                ca.as_deref(),
                Module::Reports,
                "queue",
                HistoryRange::Hour,
                HISTORY_TIMEOUT,
            )
            .await
        }
    };
    let h = ask(Some(ca)).await.expect("history over https");
    assert!(h.points.is_empty(), "nothing stored yet");
    assert_eq!(
        ask(None).await,
        Err(HistoryMiss::Failed(
            "the server's certificate is not trusted".into()
        ))
    );
    server.stop().await.unwrap();
}
