//! Commands the window may call (and nothing else: see capabilities/).
//! A refused or failed command rejects with a [`CommandError`], which the
//! window receives as its readable message (a string).

use chrono::{DateTime, Utc};
use pulseboard_core::{AlertAck, ClientState, Command, Dnd};
use pulseboard_protocol::{
    HistoryPoint, HistoryRange, KpiHistory, MarkRead, Module, NotificationSeverity, ProtocolError,
    Thresholds, Validate,
};
use serde::{Deserialize, Serialize, Serializer};
use tauri::{AppHandle, Manager, Runtime, State};

use crate::settings::{self, Settings, SettingsError};
use crate::tray::Tray;
use crate::AppCore;

/// Why a command refused its input or failed. It reaches the window as its
/// message, a plain string (ui/js/ipc.js `errorMessage` shows it as is).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A setting is not usable (server URL, certificate authority), or the
    /// settings could not be saved.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A request the wire contract refuses (e.g. an empty notification id).
    #[error(transparent)]
    Invalid(#[from] ProtocolError),
    /// More alert ids than [`MAX_ACK_IDS`].
    #[error("too many alert ids ({given}, at most {MAX_ACK_IDS})")]
    TooManyAlertIds {
        /// How many were given.
        given: usize,
    },
    /// `acknowledge_alerts` without ids and without `all: true`.
    #[error("give the alert ids, or all: true")]
    NoAlertIds,
    /// Not a web link ([`web_link`]).
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The default browser could not be started.
    #[error("could not open the browser: {0}")]
    Browser(#[source] std::io::Error),
    /// The path of this program (for the autostart entry) is unknown.
    #[error("{0}")]
    Exe(#[source] std::io::Error),
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Settings as the window sees them: the token never leaves Rust.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct UiSettings {
    /// Server URL.
    pub server: String,
    /// Whether a token is set.
    #[serde(default)]
    pub has_token: bool,
    /// A new token typed by the user (write-only; empty string clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Do not disturb.
    pub dnd: Dnd,
    /// Native notifications for notifications (`"off"` or a severity).
    #[serde(with = "settings::notify_threshold")]
    #[cfg_attr(
        test,
        ts(type = "\"off\" | \"info\" | \"success\" | \"warning\" | \"error\"")
    )]
    pub notify_threshold: Option<NotificationSeverity>,
    /// Start at login.
    pub start_at_login: bool,
    /// PEM file of a private certificate authority trusted in addition to
    /// the system roots. Read: the saved one (null: none). Write: absent or
    /// null keeps it, an empty string removes it, a path sets it.
    #[serde(default)]
    pub ca: Option<String>,
    /// Read-only: the warning to show next to the server field when the
    /// saved token goes over plain http:// to a host that is not loopback
    /// ([`settings::plain_http_warning`]).
    #[serde(default, skip_deserializing)]
    pub plain_http_warning: Option<String>,
}

fn ui_settings(core: &AppCore) -> UiSettings {
    let s = core.settings();
    let has_token = core.has_token();
    UiSettings {
        plain_http_warning: settings::plain_http_warning(&s.server, has_token),
        server: s.server,
        has_token,
        token: None,
        dnd: s.dnd,
        notify_threshold: s.notify_threshold,
        start_at_login: s.start_at_login,
        ca: s.ca.map(|p| p.display().to_string()),
    }
}

/// Everything the window needs at start.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Snapshot {
    /// The core state.
    pub state: ClientState,
    /// Settings.
    pub settings: UiSettings,
    /// Now, so the window's relative times agree with Rust's clock.
    pub now: chrono::DateTime<chrono::Utc>,
    /// What the pill says (later changes come as `connection-view` messages).
    #[serde(rename = "connectionView")]
    pub connection_view: pulseboard_core::ConnectionView,
}

/// What the window gets at start (from `get_state`, and in the page before
/// it loads: see `open_window`).
pub fn snapshot(core: &AppCore) -> Snapshot {
    let state = core.store().snapshot();
    let now = chrono::Utc::now();
    Snapshot {
        connection_view: pulseboard_core::connection_view(&state, now),
        state,
        settings: ui_settings(core),
        now,
    }
}

/// The whole state, once, at window start.
#[tauri::command]
pub fn get_state(core: State<'_, AppCore>, updates: State<'_, crate::bridge::Updates>) -> Snapshot {
    // The page replaces its copy: its next KPI views go whole.
    updates.restart(|| snapshot(&core))
}

/// Mark notifications read (works offline: queued in the outbox).
#[tauri::command]
pub fn mark_read(core: State<'_, AppCore>, ids: Vec<String>) -> Result<(), CommandError> {
    let req = MarkRead::Ids(ids);
    req.validate()?;
    core.command(Command::MarkRead(req));
    Ok(())
}

/// Mark everything read.
#[tauri::command]
pub fn mark_all_read(core: State<'_, AppCore>) {
    core.command(Command::MarkRead(MarkRead::All));
}

/// Most alert ids one `acknowledge_alerts` call takes (the store keeps
/// [`pulseboard_core::store::MAX_ALERTS`]).
pub const MAX_ACK_IDS: usize = 1000;

/// Acknowledge alerts: `ids`, or every kept alert with `all: true`. The
/// acknowledged set lives in the core store (the window and the tray read it
/// from there; it is cached across restarts). Returns every acknowledged id.
#[tauri::command]
pub fn acknowledge_alerts<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    ids: Option<Vec<String>>,
    all: Option<bool>,
) -> Result<Vec<String>, CommandError> {
    let ack = match (ids, all) {
        (_, Some(true)) => AlertAck::All,
        (Some(ids), _) if ids.len() > MAX_ACK_IDS => {
            return Err(CommandError::TooManyAlertIds { given: ids.len() })
        }
        (Some(ids), _) => AlertAck::Ids(ids),
        (None, _) => return Err(CommandError::NoAlertIds),
    };
    core.store().apply(|s| s.acknowledge_alerts(&ack));
    crate::tray::refresh(&app);
    Ok(core
        .store()
        .read(|s| s.acknowledged_alerts.iter().cloned().collect()))
}

/// How long each step of [`diagnose_connection`] waits for the server.
pub const DIAGNOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the connection to the configured server fails, for Settings: the
/// same probe as the first-run "Test connection"
/// ([`crate::connection_test::test_connection`]) with the saved server and
/// token. The core's transport only says what it sees ("EngineIO Error").
#[tauri::command]
pub async fn diagnose_connection(
    core: State<'_, AppCore>,
) -> Result<crate::connection_test::ConnectionTest, CommandError> {
    let s = core.settings();
    let token = core.token();
    Ok(crate::connection_test::test_connection(
        &s.server,
        token.as_deref(),
        s.ca.as_deref(),
        DIAGNOSE_TIMEOUT,
    )
    .await)
}

/// Longest link `open_link` takes.
pub const MAX_LINK_LEN: usize = 2048;

/// Why [`web_link`] refused a link (`short`: its first 80 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Another scheme (file:, javascript:, ...).
    #[error("only web links (http:// or https://) are opened, not \"{short}\"")]
    NotWeb {
        /// The link, shortened.
        short: String,
    },
    /// Longer than [`MAX_LINK_LEN`].
    #[error("the link is longer than {MAX_LINK_LEN} characters")]
    TooLong,
    /// No host, or spaces or control characters.
    #[error("\"{short}\" is not a web link")]
    Malformed {
        /// The link, shortened.
        short: String,
    },
}

/// The link as given when it is an `http(s)://` URL with a host and no
/// spaces or control characters; anything else is refused with a reason.
pub fn web_link(url: &str) -> Result<&str, LinkError> {
    let u = url.trim();
    let short = || u.chars().take(80).collect::<String>();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| LinkError::NotWeb { short: short() })?;
    if u.len() > MAX_LINK_LEN {
        return Err(LinkError::TooLong);
    }
    if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty()
        || u.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(LinkError::Malformed { short: short() });
    }
    Ok(u)
}

/// Open a web link from a notification or alert in the default browser. The
/// window asks the user first; this checks it is a web link.
#[tauri::command]
pub async fn open_link(url: String) -> Result<(), CommandError> {
    let u = web_link(&url)?.to_string();
    tauri::async_runtime::spawn_blocking(move || open::that(&u))
        .await
        .map_err(std::io::Error::other)
        .and_then(|opened| opened)
        .map_err(CommandError::Browser)
}

/// Reconnect now.
#[tauri::command]
pub fn reconnect(core: State<'_, AppCore>) {
    core.command(Command::Reconnect);
}

/// Current settings.
#[tauri::command]
pub fn get_settings(core: State<'_, AppCore>) -> UiSettings {
    ui_settings(&core)
}

/// The server URL as typed, with a scheme added when none was typed:
/// `http://` for this machine (a local server rarely has a certificate),
/// `https://` for anything else. Anything with a scheme is left to
/// [`settings::validate_server`].
pub fn with_scheme(typed: &str) -> String {
    let t = typed.trim();
    if t.is_empty() || t.contains("://") {
        return t.to_string();
    }
    let host = t.split(['/', '?', '#']).next().unwrap_or("");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h));
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    format!("{}://{t}", if local { "http" } else { "https" })
}

/// Validate, save and apply settings. A new server or token reconnects.
#[tauri::command]
pub fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    settings: UiSettings,
) -> Result<UiSettings, CommandError> {
    let server = with_scheme(&settings.server);
    settings::validate_server(&server)?;
    let old = core.settings();
    let ca = match settings.ca.as_deref().map(str::trim) {
        None => old.ca.clone(),
        Some("") => None,
        Some(p) => {
            let p = std::path::PathBuf::from(p);
            settings::validate_ca(&p)?;
            Some(p)
        }
    };
    let new = Settings {
        server,
        dnd: settings.dnd,
        notify_threshold: settings.notify_threshold,
        start_at_login: settings.start_at_login,
        // Not in the window's form: kept as it is.
        rendering: old.rendering,
        ca,
    };
    core.settings_dir().save(&new)?;
    let token = settings.token.as_deref().map(|t| {
        let t = t.trim();
        Some(t.to_string()).filter(|t| !t.is_empty())
    });
    if let Some(t) = &token {
        core.settings_dir().save_token(t.as_deref())?;
    }
    if new.start_at_login != old.start_at_login {
        let exe = std::env::current_exe().map_err(CommandError::Exe)?;
        settings::set_autostart(new.start_at_login, &exe)?;
    }
    apply_settings(&app, &core, new, token);
    // A server is configured now: no more first-run setup.
    if let Some(f) = app.try_state::<crate::FirstRun>() {
        f.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(ui_settings(&core))
}

/// Make the running app follow `new` settings (already saved, or not
/// savable: the caller says so): the alert policy, the tray's
/// Do-not-disturb ticks, and the connection, which reconnects for a new
/// server or token (`token`: `Some` when it changed, `Some(None)` when it
/// was removed) and for a new certificate authority. The one place settings
/// take effect: the window's Save and the tray's Do-not-disturb menu use it.
pub fn apply_settings<R: Runtime>(
    app: &AppHandle<R>,
    core: &AppCore,
    new: Settings,
    token: Option<Option<String>>,
) {
    let token_changed = token.is_some();
    let (server, dnd, ca) = (new.server.clone(), new.dnd, new.ca.clone());
    let old = core.replace_settings(new, token);
    if let Some(t) = app.try_state::<Tray<R>>() {
        t.set_dnd(dnd);
    }
    if ca != old.ca {
        // Reconnects with the new trust (also out of the certificate state).
        core.command(Command::SetCa(ca));
    }
    if token_changed || server != old.server {
        core.command(Command::Configure {
            server,
            token: core.token(),
        });
    }
}

/// Whether the window should show the first-run setup (no server configured
/// yet). Rust decides; the page asks.
#[tauri::command]
pub fn setup_needed<R: Runtime>(app: AppHandle<R>) -> bool {
    app.try_state::<crate::FirstRun>()
        .is_some_and(|f| f.0.load(std::sync::atomic::Ordering::SeqCst))
}

/// "Test connection" in the setup: reach `server` with `token` (empty or
/// absent: the saved token), trusting the certificate authority `ca` (empty
/// or absent: the saved one), and answer in one sentence. Saves nothing.
#[tauri::command]
pub async fn test_connection(
    core: State<'_, AppCore>,
    server: String,
    token: Option<String>,
    ca: Option<String>,
) -> Result<crate::connection_test::ConnectionTest, CommandError> {
    let token = token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| core.token());
    let ca = match ca.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            let p = std::path::PathBuf::from(c);
            settings::validate_ca(&p)?;
            Some(p)
        }
        None => core.settings().ca,
    };
    Ok(crate::connection_test::test_connection(
        &server,
        token.as_deref(),
        ca.as_deref(),
        std::time::Duration::from_secs(5),
    )
    .await)
}

/// The warning to show next to the server field before a token goes to
/// `server` (as typed: a scheme is added as `save_settings` would) over plain
/// http:// to a host that is not loopback; null when there is nothing to
/// warn about. Rust decides ([`settings::plain_http_warning`]); nothing is
/// sent anywhere.
#[tauri::command]
pub fn plain_http_warning(server: String, has_token: bool) -> Option<String> {
    settings::plain_http_warning(&with_scheme(&server), has_token)
}

/// How long the KPI detail view waits for the server's history.
pub const HISTORY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the points of a KPI history come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HistorySource {
    /// The server's stored history for the range.
    Server,
    /// What this app received itself (the server could not be asked).
    Local,
}

/// A KPI's history as the detail view draws it. Rust decides where it comes
/// from and what the caption says; the page only draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// Where the points come from.
    pub source: HistorySource,
    /// The range asked for.
    pub range: HistoryRange,
    /// One line saying where the points come from and what span they cover.
    pub caption: String,
    /// Start of the time axis.
    pub from: DateTime<Utc>,
    /// End of the time axis.
    pub to: DateTime<Utc>,
    /// Oldest first (`min`/`max`: the bucket's lowest and highest, server
    /// points only).
    pub points: Vec<HistoryPoint>,
    /// Retention deleted part of the range on the server.
    pub truncated: bool,
    /// The KPI's thresholds as last received (lines on the chart).
    pub thresholds: Option<Thresholds>,
}

/// Why the server's history could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryMiss {
    /// Not connected, or no answer in time.
    Offline,
    /// The server answers but serves no history (an older or third-party
    /// server: no such route).
    NotServed,
    /// Refused or broken, in words.
    Failed(String),
}

/// Ask `server` for the history of `module`/`key` over `range` with `token`,
/// trusting the system roots plus the certificate authority `ca` (as the
/// connection does), waiting at most `wait`.
pub async fn fetch_history(
    server: &str,
    token: Option<&str>,
    ca: Option<&std::path::Path>,
    module: Module,
    key: &str,
    range: HistoryRange,
    wait: std::time::Duration,
) -> Result<KpiHistory, HistoryMiss> {
    let mut url = reqwest::Url::parse(server.trim().trim_end_matches('/'))
        .map_err(|e| HistoryMiss::Failed(format!("the server URL is not valid: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| HistoryMiss::Failed("the server URL is not valid".into()))?
        .pop_if_empty()
        .extend(["api", "kpis", module.as_str(), key, "history"]);
    url.query_pairs_mut().append_pair("range", range.as_str());
    let mut builder = reqwest::Client::builder()
        .timeout(wait)
        .connect_timeout(wait)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca {
        for c in crate::connection_test::ca_certificates(ca).map_err(HistoryMiss::Failed)? {
            builder = builder.add_root_certificate(c);
        }
    }
    let client = builder
        .build()
        .map_err(|e| HistoryMiss::Failed(e.to_string()))?;
    let mut req = client.get(url);
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| {
        use crate::connection_test::Outcome;
        // The same reading of the error as "Test connection".
        match crate::connection_test::classify_error(server, &e).kind {
            Outcome::Certificate => {
                HistoryMiss::Failed("the server's certificate is not trusted".into())
            }
            Outcome::NothingListening | Outcome::Timeout | Outcome::Unreachable => {
                HistoryMiss::Offline
            }
            _ => HistoryMiss::Failed(format!("the history request failed: {e}")),
        }
    })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| {
        if e.is_timeout() {
            HistoryMiss::Offline
        } else {
            HistoryMiss::Failed(format!("the history request failed: {e}"))
        }
    })?;
    let reason = || {
        serde_json::from_slice::<pulseboard_protocol::HttpError>(&body)
            .map(|e| e.error.chars().take(200).collect::<String>())
            .unwrap_or_default()
    };
    match status.as_u16() {
        200 => {}
        // No such route: a server without history.
        404 | 405 if reason().is_empty() || reason() == "not found" => {
            return Err(HistoryMiss::NotServed)
        }
        401 => return Err(HistoryMiss::Failed("the server refused the token".into())),
        403 => {
            return Err(HistoryMiss::Failed(
                "the server does not let this token read history".into(),
            ))
        }
        code => {
            let r = reason();
            return Err(HistoryMiss::Failed(if r.is_empty() {
                format!("the server answered HTTP {code}")
            } else {
                format!("the server answered HTTP {code} ({r})")
            }));
        }
    }
    let answer: KpiHistory = pulseboard_protocol::decode_slice(&body)
        .map_err(|e| HistoryMiss::Failed(format!("the server's history is not valid: {e}")))?;
    if answer.module != module || answer.key != key || answer.range != range {
        return Err(HistoryMiss::Failed(
            "the server answered about another KPI".into(),
        ));
    }
    Ok(answer)
}

/// "1 h", "24 h", "7 d".
fn range_words(range: HistoryRange) -> &'static str {
    match range {
        HistoryRange::Hour => "1 h",
        HistoryRange::Day => "24 h",
        HistoryRange::Week => "7 d",
    }
}

/// "14:05" in `tz`, with the day ("26 Nov 14:05") when it is not `now`'s.
pub fn clock_text<Tz: chrono::TimeZone>(t: DateTime<Utc>, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let (t, now) = (t.with_timezone(tz), now.with_timezone(tz));
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%-d %b %H:%M").to_string()
    }
}

/// What the detail view shows for `range`: the server's answer when there
/// is one, else what this app received (`local`: time and value, oldest
/// first), saying which and why. Times in captions are in `tz`.
pub fn history_view<Tz: chrono::TimeZone>(
    range: HistoryRange,
    fetched: Result<KpiHistory, HistoryMiss>,
    local: Vec<(DateTime<Utc>, f64)>,
    thresholds: Option<Thresholds>,
    now: DateTime<Utc>,
    tz: &Tz,
) -> HistoryView
where
    Tz::Offset: std::fmt::Display,
{
    let why = match fetched {
        Ok(h) => {
            let mut caption = format!("From the server, {}", range_words(range));
            if h.points.is_empty() {
                caption.push_str(": no values in this range");
            } else if h.truncated {
                caption.push_str(" (older values expired)");
            }
            return HistoryView {
                source: HistorySource::Server,
                range,
                caption,
                from: h.from,
                to: h.to,
                points: h.points,
                truncated: h.truncated,
                thresholds,
            };
        }
        Err(HistoryMiss::Offline) => "Offline".to_string(),
        Err(HistoryMiss::NotServed) => "This server keeps no history".to_string(),
        Err(HistoryMiss::Failed(r)) => {
            let mut c = r.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    };
    let points: Vec<HistoryPoint> = local
        .into_iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(at, value)| HistoryPoint {
            at,
            value,
            min: None,
            max: None,
        })
        .collect();
    let caption = match points.first() {
        Some(p) => format!(
            "{why}: what this app saw since {}",
            clock_text(p.at, now, tz)
        ),
        None => format!("{why}: this app has seen no value of it yet"),
    };
    HistoryView {
        source: HistorySource::Local,
        range,
        caption,
        from: points.first().map_or(now, |p| p.at.min(now)),
        to: points.last().map_or(now, |p| p.at.max(now)),
        points,
        truncated: false,
        thresholds,
    }
}

/// The KPI detail view's history of `module`/`key` over `range` (`1h`,
/// `24h`, `7d`): asked from the configured server (its URL, token and
/// certificate authority) while the connection is live, else (or when that
/// fails) what this app received itself. The answer says which.
#[tauri::command]
pub async fn kpi_history(
    core: State<'_, AppCore>,
    module: String,
    key: String,
    range: String,
) -> Result<HistoryView, String> {
    let module = module.parse::<Module>().map_err(|e| e.to_string())?;
    let range = range.parse::<HistoryRange>().map_err(|e| e.to_string())?;
    if key.is_empty() || key.chars().count() > pulseboard_protocol::limits::MAX_KEY {
        return Err("not a KPI key".into());
    }
    let (not_live, local, thresholds) = core.store().read(|s| {
        use pulseboard_core::ConnectionState as C;
        // Not connected: say why without asking (a refused token or a bad
        // certificate would be refused again).
        let not_live = match &s.connection {
            C::Live { .. } => None,
            C::Unauthorized { .. } => {
                Some(HistoryMiss::Failed("the server refused the token".into()))
            }
            C::Certificate { .. } => Some(HistoryMiss::Failed(
                "the server's certificate is not trusted".into(),
            )),
            _ => Some(HistoryMiss::Offline),
        };
        let view = s.modules.get(&module);
        let values = view.and_then(|v| v.history.get(&key));
        let times = view.and_then(|v| v.history_at.get(&key));
        // The newest values with the newest times (an older cache may have
        // values without times: those are left out).
        let local: Vec<(DateTime<Utc>, f64)> = match (values, times) {
            (Some(v), Some(t)) => {
                let mut pairs: Vec<_> = t
                    .iter()
                    .rev()
                    .zip(v.iter().rev())
                    .map(|(t, v)| (*t, *v))
                    .collect();
                pairs.reverse();
                pairs
            }
            _ => Vec::new(),
        };
        let thresholds = view
            .and_then(|v| v.latest.kpis.iter().find(|k| k.key == key))
            .and_then(|k| k.thresholds);
        (not_live, local, thresholds)
    });
    let fetched = if let Some(miss) = not_live {
        Err(miss)
    } else {
        let s = core.settings();
        let token = core.token();
        fetch_history(
            &s.server,
            token.as_deref(),
            s.ca.as_deref(),
            module,
            &key,
            range,
            HISTORY_TIMEOUT,
        )
        .await
    };
    Ok(history_view(
        range,
        fetched,
        local,
        thresholds,
        chrono::Utc::now(),
        &chrono::Local,
    ))
}

#[cfg(test)]
mod tests {
    use super::{web_link, with_scheme};

    #[test]
    fn only_web_links_are_opened() {
        assert_eq!(
            web_link(" https://a.example/x?y=1 "),
            Ok("https://a.example/x?y=1")
        );
        assert!(web_link("http://10.0.0.1:8080").is_ok());
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://",
            "https:///x",
            "https://a b",
            "ftp://x",
            "",
        ] {
            assert!(web_link(bad).is_err(), "{bad} refused");
        }
        assert!(web_link(&format!("https://a.example/{}", "x".repeat(3000))).is_err());
    }

    #[test]
    fn a_url_without_a_scheme_gets_one() {
        assert_eq!(with_scheme(" 127.0.0.1:4000 "), "http://127.0.0.1:4000");
        assert_eq!(with_scheme("localhost:4000/x"), "http://localhost:4000/x");
        assert_eq!(with_scheme("[::1]:4000"), "http://[::1]:4000");
        assert_eq!(
            with_scheme("pulse.example.com"),
            "https://pulse.example.com"
        );
        assert_eq!(with_scheme("http://10.0.0.1"), "http://10.0.0.1");
        assert_eq!(
            with_scheme("ftp://x"),
            "ftp://x",
            "left for validation to refuse"
        );
        assert_eq!(with_scheme(""), "");
    }
}
