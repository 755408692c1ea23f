//! What the window draws, as the core decided it: the KPI views it swaps
//! in ([`module_shown`], [`dashboard_shown`]), and what the user is told
//! about the connection, worded once. The tray's
//! status line and the window's pill (and its tooltip, and the Settings
//! view's connection line) all show [`connection_view`]: no other place
//! words a connection state.
//!
//! Countdowns ("Reconnecting in 5s") are words too: the shell computes the
//! view again each second while one runs and sends it when it changed, so
//! the page never counts on its own.

use chrono::{DateTime, Local, TimeZone, Utc};
use serde::Serialize;

use std::collections::{BTreeMap, VecDeque};

use pulseboard_protocol::{Dashboard, Module, ModuleKpis};

use crate::store::{ConnectionState, DataSource, State, TransportKind};

/// One module as the window draws it: the core's latest KPIs and the bounded
/// history it keeps (the window swaps it in; it decides nothing).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModuleShown {
    /// Latest KPIs.
    pub latest: ModuleKpis,
    /// Recent values per KPI key, oldest first (at most
    /// [`crate::store::HISTORY_LEN`]).
    #[cfg_attr(feature = "ts", ts(as = "BTreeMap<String, Vec<f64>>"))]
    pub history: BTreeMap<String, VecDeque<f64>>,
}

/// The dashboard as the window draws it: the core's latest and the bounded
/// history per KPI key it keeps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DashboardShown {
    /// Latest dashboard.
    pub latest: Dashboard,
    /// Recent values per KPI key, oldest first (at most
    /// [`crate::store::HISTORY_LEN`]).
    #[cfg_attr(feature = "ts", ts(as = "BTreeMap<String, Vec<f64>>"))]
    pub history: BTreeMap<String, VecDeque<f64>>,
}

/// Module `m` as the window draws it, if the core has it.
pub fn module_shown(s: &State, m: Module) -> Option<ModuleShown> {
    s.modules.get(&m).map(|v| ModuleShown {
        latest: v.latest.clone(),
        history: v.history.clone(),
    })
}

/// The dashboard as the window draws it, if the core has one.
pub fn dashboard_shown(s: &State) -> Option<DashboardShown> {
    s.dashboard.as_ref().map(|d| DashboardShown {
        latest: d.clone(),
        history: s.dashboard_history.clone(),
    })
}

/// How the state looks: the pill's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Connected, server data.
    Live,
    /// Retrying soon.
    Warn,
    /// Offline, or something the user must fix.
    Error,
    /// Demo data (and no connection problem to show instead).
    Demo,
    /// Connecting.
    Neutral,
}

/// The connection as the user is told about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    /// One line: the pill's text, and the tray's status line after
    /// "Pulseboard: ". Demo data is always labelled as such.
    pub text: String,
    /// Its colour.
    pub tone: Tone,
    /// More: since when, the transport, the next try, the last error, what
    /// to do (the pill's tooltip, the Settings view's connection line).
    pub detail: String,
    /// The data on screen may be out of date: no live connection is
    /// refreshing it and none is about to.
    pub stale: bool,
    /// A countdown is running: the words change each second.
    pub counting: bool,
}

/// The view of `s` at `now`, times in the local time zone.
pub fn connection_view(s: &State, now: DateTime<Utc>) -> ConnectionView {
    connection_view_in(s, now, &Local)
}

/// Whole seconds until `t`, rounded up (never "0" while time is left), never
/// negative.
fn secs_until(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let ms = (t - now).num_milliseconds();
    if ms <= 0 {
        0
    } else {
        (ms + 999) / 1000
    }
}

fn retry_phrase(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match secs_until(t, now) {
        0 => "now".into(),
        n => format!("in {n}s"),
    }
}

/// [`connection_view`] with times shown in `tz`.
pub fn connection_view_in<Tz>(s: &State, now: DateTime<Utc>, tz: &Tz) -> ConnectionView
where
    Tz: TimeZone,
    Tz::Offset: std::fmt::Display,
{
    let clock = |t: DateTime<Utc>| t.with_timezone(tz).format("%H:%M").to_string();
    let time = |t: DateTime<Utc>| t.with_timezone(tz).format("%H:%M:%S").to_string();
    let demo = matches!(s.source, DataSource::Demo);
    let (text, tone, detail) = match &s.connection {
        ConnectionState::Connecting { server } => (
            "Connecting…".to_string(),
            Tone::Neutral,
            if server.is_empty() {
                "Connecting".to_string()
            } else {
                format!("Connecting to {server}")
            },
        ),
        ConnectionState::Live { since, transport } => (
            "Live".to_string(),
            Tone::Live,
            format!(
                "Connected since {} via {}",
                time(*since),
                match transport {
                    TransportKind::Websocket => "WebSocket",
                    TransportKind::Polling => "HTTP long-polling",
                }
            ),
        ),
        ConnectionState::Reconnecting {
            attempt,
            next_retry_at,
            reason,
        } => (
            format!(
                "Reconnecting {}, attempt {attempt}",
                retry_phrase(*next_retry_at, now)
            ),
            Tone::Warn,
            retry_detail(*next_retry_at, *attempt, reason, now),
        ),
        ConnectionState::Offline {
            since,
            attempt,
            next_retry_at,
            reason,
        } => {
            let cached_at = match s.source {
                DataSource::Cache { saved_at } => Some(saved_at),
                DataSource::Server => s.last_update,
                DataSource::Demo => None,
            };
            (
                match cached_at {
                    Some(t) => format!(
                        "Offline since {}, cached data from {}",
                        clock(*since),
                        clock(t)
                    ),
                    None => format!(
                        "Offline since {}, retrying {}",
                        clock(*since),
                        retry_phrase(*next_retry_at, now)
                    ),
                },
                Tone::Error,
                retry_detail(*next_retry_at, *attempt, reason, now),
            )
        }
        ConnectionState::Unauthorized { message } => (
            "Unauthorized, check the token".to_string(),
            Tone::Error,
            if message.is_empty() {
                "The server refused the token".to_string()
            } else {
                format!("The server refused the token: {message}")
            },
        ),
        // The core's message says what was wrong with the certificate (or
        // the certificate authority file); no retry until the settings change.
        ConnectionState::Certificate { message } => (
            "Certificate not trusted, check the settings".to_string(),
            Tone::Error,
            format!(
                "{}. Set the server\u{2019}s certificate authority (PEM file) in Settings, or use an address its certificate was made for.",
                if message.is_empty() {
                    "The server\u{2019}s certificate could not be verified"
                } else {
                    message
                }
            ),
        ),
    };
    let tone = if demo && matches!(tone, Tone::Live | Tone::Neutral) {
        Tone::Demo
    } else {
        tone
    };
    ConnectionView {
        text: if demo {
            format!("Demo data · {text}")
        } else {
            text
        },
        tone,
        detail,
        stale: matches!(
            s.connection,
            ConnectionState::Offline { .. }
                | ConnectionState::Unauthorized { .. }
                | ConnectionState::Certificate { .. }
        ),
        counting: matches!(
            s.connection,
            ConnectionState::Reconnecting { .. } | ConnectionState::Offline { .. }
        ),
    }
}

fn retry_detail(next: DateTime<Utc>, attempt: u32, reason: &str, now: DateTime<Utc>) -> String {
    let mut parts = vec![
        format!("Next try {}", retry_phrase(next, now)),
        format!("attempt {attempt}"),
    ];
    if !reason.is_empty() {
        parts.push(format!("last error: {reason}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    /// 2024-05-01T12:00:00Z.
    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(secs)
    }

    fn ms(ms: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::milliseconds(ms)
    }

    fn state(connection: ConnectionState, source: DataSource) -> State {
        let mut s = State::empty("http://x");
        s.connection = connection;
        s.source = source;
        s
    }

    fn view(s: &State, now: DateTime<Utc>) -> ConnectionView {
        connection_view_in(s, now, &Utc)
    }

    fn text(s: &State, now: DateTime<Utc>) -> String {
        view(s, now).text
    }

    fn reconnecting(attempt: u32, in_secs: i64, reason: &str) -> ConnectionState {
        ConnectionState::Reconnecting {
            attempt,
            next_retry_at: at(in_secs),
            reason: reason.into(),
        }
    }

    fn offline() -> ConnectionState {
        ConnectionState::Offline {
            since: at(-600),
            attempt: 9,
            next_retry_at: at(30),
            reason: "refused".into(),
        }
    }

    fn live(transport: TransportKind) -> ConnectionState {
        ConnectionState::Live {
            since: at(-60),
            transport,
        }
    }

    #[test]
    fn live_says_live_and_how() {
        let s = state(live(TransportKind::Websocket), DataSource::Server);
        let v = view(&s, t0());
        assert_eq!((v.text.as_str(), v.tone), ("Live", Tone::Live));
        assert_eq!(v.detail, "Connected since 11:59:00 via WebSocket");
        assert!(!v.stale && !v.counting);
        let s = state(live(TransportKind::Polling), DataSource::Server);
        assert!(view(&s, t0()).detail.ends_with("HTTP long-polling"));
    }

    #[test]
    fn reconnecting_counts_down_and_shows_the_attempt() {
        let s = state(reconnecting(3, 5, "connection refused"), DataSource::Server);
        assert_eq!(text(&s, t0()), "Reconnecting in 5s, attempt 3");
        assert_eq!(text(&s, at(1)), "Reconnecting in 4s, attempt 3");
        assert_eq!(
            text(&s, ms(4200)),
            "Reconnecting in 1s, attempt 3",
            "rounds up, never shows 0 early"
        );
        assert_eq!(
            text(&s, at(9)),
            "Reconnecting now, attempt 3",
            "never negative"
        );
        let v = view(&s, t0());
        assert_eq!(v.tone, Tone::Warn);
        assert!(v.counting && !v.stale);
        assert_eq!(
            v.detail,
            "Next try in 5s, attempt 3, last error: connection refused"
        );
    }

    #[test]
    fn offline_says_when_the_data_on_screen_is_from() {
        let cache = DataSource::Cache {
            saved_at: Utc.with_ymd_and_hms(2024, 5, 1, 9, 41, 30).unwrap(),
        };
        let s = state(offline(), cache.clone());
        let v = view(&s, t0());
        assert_eq!(v.text, "Offline since 11:50, cached data from 09:41");
        assert_eq!(v.tone, Tone::Error);
        assert!(v.stale && v.counting);
        // In the local time zone (here UTC+05:30).
        let kolkata = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        assert_eq!(
            connection_view_in(&s, t0(), &kolkata).text,
            "Offline since 17:20, cached data from 15:11"
        );
        // After live server data, the last update is the data's time.
        let mut s = state(offline(), DataSource::Server);
        s.last_update = Some(Utc.with_ymd_and_hms(2024, 5, 1, 11, 48, 10).unwrap());
        assert_eq!(
            text(&s, t0()),
            "Offline since 11:50, cached data from 11:48"
        );
        // Nothing cached: when it retries.
        s.last_update = None;
        assert_eq!(text(&s, t0()), "Offline since 11:50, retrying in 30s");
        let s = state(offline(), DataSource::Demo);
        assert_eq!(
            text(&s, at(10)),
            "Demo data · Offline since 11:50, retrying in 20s"
        );
        assert_eq!(
            view(&s, at(10)).tone,
            Tone::Error,
            "the problem wins over demo"
        );
    }

    #[test]
    fn demo_data_is_always_labelled() {
        let connecting = ConnectionState::Connecting { server: "x".into() };
        let s = state(connecting, DataSource::Demo);
        assert_eq!(text(&s, t0()), "Demo data · Connecting…");
        assert_eq!(view(&s, t0()).tone, Tone::Demo);
        let s = state(reconnecting(1, 2, ""), DataSource::Demo);
        assert_eq!(text(&s, t0()), "Demo data · Reconnecting in 2s, attempt 1");
        let s = state(live(TransportKind::Websocket), DataSource::Demo);
        assert_eq!(text(&s, t0()), "Demo data · Live");
        assert_eq!(view(&s, t0()).tone, Tone::Demo);
    }

    #[test]
    fn a_refused_token_or_certificate_says_what_to_fix() {
        let s = state(
            ConnectionState::Unauthorized {
                message: "unauthorized".into(),
            },
            DataSource::Server,
        );
        let v = view(&s, t0());
        assert_eq!(v.text, "Unauthorized, check the token");
        assert_eq!(v.detail, "The server refused the token: unauthorized");
        assert_eq!(v.tone, Tone::Error);
        assert!(v.stale && !v.counting);

        let s = state(
            ConnectionState::Certificate {
                message: "invalid peer certificate: UnknownIssuer".into(),
            },
            DataSource::Demo,
        );
        let v = view(&s, t0());
        assert_eq!(
            v.text,
            "Demo data · Certificate not trusted, check the settings"
        );
        assert_eq!(v.tone, Tone::Error);
        assert!(v.detail.contains("UnknownIssuer"), "{}", v.detail);
        assert!(v.detail.contains("certificate authority"), "{}", v.detail);
        let s = state(
            ConnectionState::Certificate {
                message: String::new(),
            },
            DataSource::Server,
        );
        assert!(view(&s, t0()).detail.contains("could not be verified"));
    }

    #[test]
    fn connecting_names_the_server() {
        let s = state(
            ConnectionState::Connecting {
                server: "https://pb.example".into(),
            },
            DataSource::Server,
        );
        let v = view(&s, t0());
        assert_eq!((v.text.as_str(), v.tone), ("Connecting…", Tone::Neutral));
        assert_eq!(v.detail, "Connecting to https://pb.example");
        assert!(!v.stale && !v.counting);
    }

    #[test]
    fn every_state_has_its_own_words() {
        let states = [
            ConnectionState::Connecting { server: "x".into() },
            live(TransportKind::Websocket),
            reconnecting(1, 5, "x"),
            offline(),
            ConnectionState::Unauthorized {
                message: "x".into(),
            },
            ConnectionState::Certificate {
                message: "x".into(),
            },
        ];
        let texts: Vec<String> = states
            .iter()
            .map(|c| text(&state(c.clone(), DataSource::Server), t0()))
            .collect();
        for (i, a) in texts.iter().enumerate() {
            assert!(!a.is_empty());
            for b in &texts[i + 1..] {
                assert_ne!(a, b);
            }
            // Only Live says "Live" (leaving Live is seen by its absence).
            assert_eq!(a.contains("Live"), i == 1, "{a}");
        }
    }

    #[test]
    fn the_view_has_the_shape_the_page_reads() {
        let s = state(reconnecting(2, 7, ""), DataSource::Server);
        let v = serde_json::to_value(view(&s, t0())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "text": "Reconnecting in 7s, attempt 2",
                "tone": "warn",
                "detail": "Next try in 7s, attempt 2",
                "stale": false,
                "counting": true,
            })
        );
    }
}
