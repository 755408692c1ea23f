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

use crate::store::{ClientState, ConnectionState, DataSource, TransportKind, HISTORY_LEN};

/// One module as the window draws it: the core's latest KPIs and what the
/// window needs of the bounded history the core keeps (the window swaps the
/// latest in and extends or replaces its history as told; it decides
/// nothing).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModuleShown {
    /// Latest KPIs; absent in a message whose `data` is them (the usual
    /// case: the page takes that instead of a second copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub latest: Option<ModuleKpis>,
    /// Per KPI key, oldest first: the whole history the core keeps when
    /// `full`, otherwise only the values added since the previous view of
    /// this module sent to the window. A key missing here is no longer kept.
    #[cfg_attr(feature = "ts", ts(as = "BTreeMap<String, Vec<f64>>"))]
    pub history: BTreeMap<String, Vec<f64>>,
    /// `history` is the whole history (replace the window's); false: append
    /// it to the window's.
    pub full: bool,
    /// Keep at most this many values per key (the core's bound,
    /// [`crate::store::HISTORY_LEN`]): the window drops older ones.
    pub keep: usize,
}

/// The dashboard as the window draws it: the core's latest and its history
/// per KPI key, whole or only what was added (as in [`ModuleShown`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DashboardShown {
    /// Latest dashboard; absent in a message whose `data` is it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub latest: Option<Dashboard>,
    /// Per KPI key, oldest first: whole when `full`, otherwise the values
    /// added since the previous dashboard view sent to the window.
    #[cfg_attr(feature = "ts", ts(as = "BTreeMap<String, Vec<f64>>"))]
    pub history: BTreeMap<String, Vec<f64>>,
    /// `history` is the whole history (replace); false: append.
    pub full: bool,
    /// Keep at most this many values per key.
    pub keep: usize,
}

/// Each key's newest `n` values, or all of them (`None`).
fn newest(
    history: &BTreeMap<String, VecDeque<f64>>,
    n: Option<usize>,
) -> BTreeMap<String, Vec<f64>> {
    history
        .iter()
        .map(|(k, h)| {
            let skip = n.map_or(0, |n| h.len().saturating_sub(n));
            (k.clone(), h.iter().skip(skip).copied().collect())
        })
        .collect()
}

/// Module `m` as the window draws it, if the core has it: with the values
/// added after generation `since` (what the window was sent last, see
/// [`ClientState::history_gen`]), or its whole history when `since` is `None` or
/// the history started over after it.
pub fn module_shown(s: &ClientState, m: Module, since: Option<u64>) -> Option<ModuleShown> {
    let v = s.modules.get(&m)?;
    let added = since.and_then(|g| s.module_added_since(m, g));
    Some(ModuleShown {
        latest: Some(v.latest.clone()),
        history: newest(&v.history, added),
        full: added.is_none(),
        keep: HISTORY_LEN,
    })
}

/// The dashboard as the window draws it, if the core has one (history as in
/// [`module_shown`]).
pub fn dashboard_shown(s: &ClientState, since: Option<u64>) -> Option<DashboardShown> {
    let d = s.dashboard.as_ref()?;
    let added = since.and_then(|g| s.dashboard_added_since(g));
    Some(DashboardShown {
        latest: Some(d.clone()),
        history: newest(&s.dashboard_history, added),
        full: added.is_none(),
        keep: HISTORY_LEN,
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
pub fn connection_view(s: &ClientState, now: DateTime<Utc>) -> ConnectionView {
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
pub fn connection_view_in<Tz>(s: &ClientState, now: DateTime<Utc>, tz: &Tz) -> ConnectionView
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

    fn state(connection: ConnectionState, source: DataSource) -> ClientState {
        let mut s = ClientState::empty("http://x");
        s.connection = connection;
        s.source = source;
        s
    }

    fn view(s: &ClientState, now: DateTime<Utc>) -> ConnectionView {
        connection_view_in(s, now, &Utc)
    }

    fn text(s: &ClientState, now: DateTime<Utc>) -> String {
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

    /// The window's copy of one history, kept as the page keeps it (ui/js/state.js):
    /// a full view replaces it; otherwise each key's values are appended and
    /// the oldest dropped past `keep`; a key not sent is no longer kept.
    #[derive(Default, Debug)]
    struct PageCopy(BTreeMap<String, Vec<f64>>);

    impl PageCopy {
        fn take(&mut self, history: &BTreeMap<String, Vec<f64>>, full: bool, keep: usize) {
            if full {
                self.0 = history.clone();
                return;
            }
            let mut next = BTreeMap::new();
            for (k, added) in history {
                let mut h = self.0.remove(k).unwrap_or_default();
                h.extend(added);
                let drop = h.len().saturating_sub(keep);
                h.drain(..drop);
                next.insert(k.clone(), h);
            }
            self.0 = next;
        }
    }

    fn as_vecs(h: &BTreeMap<String, VecDeque<f64>>) -> BTreeMap<String, Vec<f64>> {
        h.iter()
            .map(|(k, v)| (k.clone(), v.iter().copied().collect()))
            .collect()
    }

    fn finance(keys: &[&str], v: f64, at: i64) -> ModuleKpis {
        let mut k = pulseboard_protocol::sample::module_kpis(Module::Finance, at_secs(at));
        let template = k.kpis[0].clone();
        k.kpis = keys
            .iter()
            .map(|key| pulseboard_protocol::Kpi {
                key: (*key).into(),
                value: v,
                ..template.clone()
            })
            .collect();
        k
    }

    fn at_secs(s: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(s)
    }

    /// What the window holds after any number of updates, sent in batches
    /// of any size with only the values added since the last one, is the
    /// history the core holds: across the bound, a change of KPI keys and
    /// the drop of the demo values.
    #[test]
    fn the_values_added_since_the_last_view_rebuild_the_cores_history() {
        let mut s = crate::cache::demo_state("http://x", t0());
        s.source = DataSource::Server;
        let mut page = PageCopy::default();
        let mut dash_page = PageCopy::default();
        let mut since = None;
        let mut dash_since = None;
        let (mut full, mut deltas) = (0, 0);
        // The page starts from the demo state (get_state), then views.
        let first = module_shown(&s, Module::Finance, None).unwrap();
        page.take(&first.history, first.full, first.keep);
        let mut i = 0i64;
        for batch in [1usize, 3, 1, 70, 2, 1, 5, 59, 60, 61, 1, 1, 13, 4, 1] {
            for _ in 0..batch {
                i += 1;
                let keys: &[&str] = if (100..160).contains(&i) {
                    &["a", "c"]
                } else {
                    &["a", "b"]
                };
                s.apply_kpis(finance(keys, i as f64, i), t0());
                // Another module's updates take generations too.
                let mut hr = pulseboard_protocol::sample::module_kpis(Module::Hr, at_secs(i));
                hr.kpis[0].value = i as f64;
                s.apply_kpis(hr, t0());
                let mut d = pulseboard_protocol::sample::dashboard(at_secs(i));
                d.summary[0].value = -(i as f64);
                s.apply_dashboard(d, t0());
            }
            let v = module_shown(&s, Module::Finance, since).unwrap();
            if v.full {
                full += 1;
            } else {
                deltas += 1;
                assert!(
                    v.history.values().all(|h| h.len() <= batch),
                    "only what the batch added: {batch} {v:?}"
                );
            }
            assert_eq!(v.keep, crate::store::HISTORY_LEN);
            page.take(&v.history, v.full, v.keep);
            since = Some(s.history_gen());
            assert_eq!(
                page.0,
                as_vecs(&s.modules[&Module::Finance].history),
                "after {i} updates"
            );
            assert_eq!(page.0.len(), 2);
            let d = dashboard_shown(&s, dash_since).unwrap();
            dash_page.take(&d.history, d.full, d.keep);
            dash_since = Some(s.history_gen());
            assert_eq!(dash_page.0, as_vecs(&s.dashboard_history), "after {i}");
        }
        // Full: the first (demo values dropped) and each change of keys.
        assert_eq!(full, 3, "{deltas} deltas");
        assert!(deltas >= 10);
        // One update after the last view: one value per key, not 60.
        s.apply_kpis(finance(&["a", "b"], 0.5, i + 1), t0());
        let v = module_shown(&s, Module::Finance, since).unwrap();
        assert!(!v.full);
        assert!(v.history.values().all(|h| h == &vec![0.5]), "{v:?}");
        // Sent again without a new update: nothing to add.
        let since = Some(s.history_gen());
        let v = module_shown(&s, Module::Finance, since).unwrap();
        assert!(!v.full && v.history.values().all(Vec::is_empty), "{v:?}");
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
