//! Roles and token checks for Socket.IO handshakes and the HTTP API.
//!
//! Three kinds of token (see docs/PROTOCOL.md, "Roles and tokens"):
//! - `--token T`: full rights (view and publish), viewer `default`;
//! - `--view-token NAME=T`: Socket.IO and `GET /api/snapshot`, viewer NAME;
//! - `--publish-token NAME=T`: the HTTP write API only.
//!
//! No token at all configured: the server is open and everyone is the
//! `default` viewer with full rights.

use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header::AUTHORIZATION, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use pulseboard_protocol::{events, AuthPayload};
use socketioxide::{
    adapter::Adapter,
    extract::{SocketRef, TryData},
};
use subtle::ConstantTimeEq;

use crate::{http::ApiError, App};

/// Whose read state a socket or request sees: the viewer NAME of its token
/// (`--view-token NAME=T`), or [`Viewer::DEFAULT`] for the full-rights
/// `--token` and for an open server. Socket handlers find it in the socket's
/// extensions ([`Viewer::of`]); HTTP handlers in the request's extensions.
#[allow(dead_code)] // read by the per-viewer read state work
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Viewer(pub String);

#[allow(dead_code)]
impl Viewer {
    /// The viewer of `--token` and of an open server.
    pub(crate) const DEFAULT: &'static str = "default";

    /// The viewer a socket was admitted as (the default one when none was recorded).
    pub(crate) fn of<A: Adapter>(socket: &SocketRef<A>) -> Viewer {
        socket
            .extensions
            .get::<Viewer>()
            .unwrap_or_else(|| Viewer(Viewer::DEFAULT.to_string()))
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `--token`: everything.
    Full,
    /// `--view-token`: Socket.IO and reading the snapshot.
    View,
    /// `--publish-token`: the HTTP write API.
    Publish,
}

/// The right a route or the Socket.IO handshake needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Right {
    /// Read state: Socket.IO, `GET /api/snapshot`.
    View,
    /// Change state: the HTTP write routes.
    Publish,
}

impl Role {
    fn allows(self, right: Right) -> bool {
        matches!(
            (self, right),
            (Role::Full, _) | (Role::View, Right::View) | (Role::Publish, Right::Publish)
        )
    }
}

/// One configured token.
struct Entry {
    token: Vec<u8>,
    role: Role,
    name: String,
}

/// Every token the server accepts. Built once at start.
pub(crate) struct Tokens {
    entries: Vec<Entry>,
}

/// A role and name that a token was admitted as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admitted {
    pub(crate) role: Role,
    pub(crate) name: String,
}

/// Whether a viewer or publisher NAME is acceptable (it appears in logs and
/// keys the read state).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

impl Tokens {
    /// Collect the tokens of a configuration; refuses empty tokens, bad names
    /// and a token given twice (its role would be ambiguous).
    pub(crate) fn new(
        full: Option<&str>,
        view: &[(String, String)],
        publish: &[(String, String)],
    ) -> Result<Tokens, String> {
        let mut entries = Vec::new();
        if let Some(t) = full {
            entries.push(Entry {
                token: t.as_bytes().to_vec(),
                role: Role::Full,
                name: Viewer::DEFAULT.to_string(),
            });
        }
        for (list, role, flag) in [
            (view, Role::View, "--view-token"),
            (publish, Role::Publish, "--publish-token"),
        ] {
            for (name, token) in list {
                if !valid_name(name) {
                    return Err(format!(
                        "{flag}: name {name:?} must be 1 to 64 letters, digits or - _ . @"
                    ));
                }
                entries.push(Entry {
                    token: token.as_bytes().to_vec(),
                    role,
                    name: name.clone(),
                });
            }
        }
        for (i, e) in entries.iter().enumerate() {
            if e.token.is_empty() {
                return Err(format!("the token of {:?} is empty", e.name));
            }
            if entries[..i].iter().any(|o| o.token == e.token) {
                return Err(format!(
                    "the token of {:?} is configured twice; each token must be unique",
                    e.name
                ));
            }
        }
        Ok(Tokens { entries })
    }

    /// No token configured: the server is open.
    pub(crate) fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// Who `given` is. Compares against every configured token in constant
    /// time (no early exit on the first match or the first differing byte).
    pub(crate) fn admit(&self, given: Option<&str>) -> Option<Admitted> {
        if self.is_open() {
            return Some(Admitted {
                role: Role::Full,
                name: Viewer::DEFAULT.to_string(),
            });
        }
        let given = given.unwrap_or("").as_bytes();
        let mut found = None;
        for e in &self.entries {
            let same = given.len() == e.token.len() && bool::from(e.token.ct_eq(given));
            if same && found.is_none() {
                found = Some(Admitted {
                    role: e.role,
                    name: e.name.clone(),
                });
            }
        }
        found
    }
}

/// Parse a token file: one token per line, in the forms of the flags.
///
/// ```text
/// # comments and blank lines are ignored
/// token         T          (same as --token T)
/// view-token    alice=T    (same as --view-token alice=T)
/// publish-token ci=T       (same as --publish-token ci=T)
/// ```
/// A leading `--` on the keyword is accepted. Returns (full, view, publish).
pub fn parse_token_file(text: &str) -> Result<TokenFile, String> {
    let mut out = TokenFile::default();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kind, value) = line
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .ok_or_else(|| format!("line {}: expected `KIND VALUE`", n + 1))?;
        match kind.trim_start_matches("--") {
            "token" => {
                if out.token.is_some() {
                    return Err(format!("line {}: a second `token` line", n + 1));
                }
                out.token = Some(value.to_string());
            }
            "view-token" => out
                .view
                .push(name_token(value).map_err(|e| format!("line {}: {e}", n + 1))?),
            "publish-token" => out
                .publish
                .push(name_token(value).map_err(|e| format!("line {}: {e}", n + 1))?),
            other => {
                return Err(format!(
                    "line {}: unknown kind {other:?} (expected token, view-token or publish-token)",
                    n + 1
                ))
            }
        }
    }
    Ok(out)
}

/// The tokens read from a `--token-file`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TokenFile {
    /// The full-rights token (`token T`).
    pub token: Option<String>,
    /// `(NAME, T)` of each `view-token NAME=T`.
    pub view: Vec<(String, String)>,
    /// `(NAME, T)` of each `publish-token NAME=T`.
    pub publish: Vec<(String, String)>,
}

/// Read a token file from disk (see [`parse_token_file`]).
pub fn read_token_file(path: &Path) -> Result<TokenFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    parse_token_file(&text).map_err(|e| format!("token file {}: {e}", path.display()))
}

/// Split `NAME=TOKEN` (the value of `--view-token` and `--publish-token`).
pub fn name_token(s: &str) -> Result<(String, String), String> {
    let (name, token) = s
        .split_once('=')
        .ok_or_else(|| "expected NAME=TOKEN".to_string())?;
    let (name, token) = (name.trim(), token.trim());
    if !valid_name(name) {
        return Err(format!(
            "name {name:?} must be 1 to 64 letters, digits or - _ . @"
        ));
    }
    if token.is_empty() {
        return Err(format!("the token of {name:?} is empty"));
    }
    Ok((name.to_string(), token.to_string()))
}

/// Refused-login log lines are rate limited: at most one per this period,
/// carrying the count of the ones folded into it.
const AUTH_LOG_EVERY: Duration = Duration::from_secs(10);

/// Logs refused logins at warn without one line per attempt under attack.
pub(crate) struct RefusalLog {
    state: Mutex<(Option<Instant>, u64)>,
}

impl RefusalLog {
    pub(crate) fn new() -> RefusalLog {
        RefusalLog {
            state: Mutex::new((None, 0)),
        }
    }

    /// Record one refusal; logs at most once per [`AUTH_LOG_EVERY`].
    pub(crate) fn refused(&self, what: &str, peer: Option<IpAddr>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.1 += 1;
        let now = Instant::now();
        if st
            .0
            .is_none_or(|last| now.duration_since(last) >= AUTH_LOG_EVERY)
        {
            let count = std::mem::take(&mut st.1);
            st.0 = Some(now);
            drop(st);
            let peer = peer.map(|p| p.to_string()).unwrap_or_default();
            tracing::warn!(
                refused = count,
                latest = what,
                peer,
                "refused authentication (logged at most every {}s)",
                AUTH_LOG_EVERY.as_secs()
            );
        }
    }
}

/// Why a handshake was refused. Displays as the `connect_error` message the
/// contract requires: `unauthorized` or `forbidden`.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Unknown or missing token.
    Unauthorized,
    /// A token without the right to connect (a publish token).
    Forbidden,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::Unauthorized => events::UNAUTHORIZED,
            Refused::Forbidden => events::FORBIDDEN,
        })
    }
}

/// The peer address of a Socket.IO handshake, when known.
fn socket_peer<A: Adapter>(socket: &SocketRef<A>) -> Option<IpAddr> {
    socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Socket.IO connect middleware body: checks the handshake `auth.token`,
/// records the [`Viewer`] and the per-connection event limiter.
pub(crate) fn check_handshake<A: Adapter>(
    app: &App,
    socket: &SocketRef<A>,
    auth: TryData<AuthPayload>,
) -> Result<(), Refused> {
    let given = match &auth.0 {
        Ok(a) => Some(a.token.as_str()),
        Err(_) => None,
    };
    match app.edge.tokens.admit(given) {
        Some(a) if a.role.allows(Right::View) => {
            let token = (!app.edge.tokens.is_open()).then(|| crate::guard::token_key(&a));
            let parts = socket.req_parts();
            let addr = socket_peer(socket).and_then(|peer| {
                crate::guard::client_ip_of(&app.edge.trusted_proxies, peer, &parts.headers)
            });
            socket.extensions.insert(Viewer(a.name));
            socket.extensions.insert(crate::guard::EventLimiter::new(
                app.edge.event_rate,
                token,
                addr,
            ));
            Ok(())
        }
        Some(a) => {
            app.edge.metrics.auth_refused.inc();
            app.edge.refusals.refused(
                &format!("socket.io handshake with publish token of {:?}", a.name),
                socket_peer(socket),
            );
            Err(Refused::Forbidden)
        }
        None => {
            app.edge.metrics.auth_refused.inc();
            app.edge.refusals.refused(
                "socket.io handshake with unknown or missing token",
                socket_peer(socket),
            );
            Err(Refused::Unauthorized)
        }
    }
}

/// Extract the token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Axum middleware for API routes: 401 for an unknown or missing token, 403
/// for a token without `right`. Puts the [`Viewer`] into the request's
/// extensions.
pub(crate) async fn authorize(
    State((app, right)): State<(Arc<App>, Right)>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = crate::guard::client_ip(&app.edge.trusted_proxies, &req);
    match app.edge.tokens.admit(bearer(&req)) {
        Some(a) if a.role.allows(right) => {
            req.extensions_mut().insert(Viewer(a.name));
            next.run(req).await
        }
        Some(a) => {
            app.edge.metrics.auth_refused.inc();
            app.edge.refusals.refused(
                &format!(
                    "{} {} by {:?} without the right",
                    req.method(),
                    req.uri().path(),
                    a.name
                ),
                peer,
            );
            ApiError::new(StatusCode::FORBIDDEN, events::FORBIDDEN).into_response()
        }
        None => unauthorized(&app, &req, peer),
    }
}

/// 401 for an unknown or missing token: counted and logged (rate-limited).
fn unauthorized(app: &App, req: &Request, peer: Option<IpAddr>) -> Response {
    app.edge.metrics.auth_refused.inc();
    app.edge.refusals.refused(
        &format!(
            "{} {} with unknown or missing token",
            req.method(),
            req.uri().path()
        ),
        peer,
    );
    ApiError::new(StatusCode::UNAUTHORIZED, events::UNAUTHORIZED).into_response()
}

/// For a path no route serves: the 401 a request without a known token
/// gets (so only token holders learn which paths exist), or `None`.
pub(crate) fn unknown_token(app: &App, req: &Request) -> Option<Response> {
    if app.edge.tokens.admit(bearer(req)).is_some() {
        return None;
    }
    let peer = crate::guard::client_ip(&app.edge.trusted_proxies, req);
    Some(unauthorized(app, req, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn roles_and_names() {
        let t = Tokens::new(
            Some("secret"),
            &pairs(&[("alice", "va")]),
            &pairs(&[("ci", "pc")]),
        )
        .unwrap();
        assert_eq!(t.admit(Some("secret")).unwrap().role, Role::Full);
        assert_eq!(t.admit(Some("secret")).unwrap().name, "default");
        let a = t.admit(Some("va")).unwrap();
        assert_eq!((a.role, a.name.as_str()), (Role::View, "alice"));
        assert_eq!(t.admit(Some("pc")).unwrap().role, Role::Publish);
        assert!(t.admit(Some("secreT")).is_none());
        assert!(t.admit(Some("secret2")).is_none());
        assert!(t.admit(Some("")).is_none());
        assert!(t.admit(None).is_none());
        assert!(!Role::View.allows(Right::Publish));
        assert!(!Role::Publish.allows(Right::View));
        assert!(Role::Full.allows(Right::Publish));
    }

    #[test]
    fn open_server_admits_everyone_as_default() {
        let t = Tokens::new(None, &[], &[]).unwrap();
        assert!(t.is_open());
        assert_eq!(t.admit(None).unwrap().role, Role::Full);
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(Tokens::new(Some("x"), &pairs(&[("bob", "x")]), &[]).is_err());
        assert!(Tokens::new(None, &pairs(&[("b o b", "x")]), &[]).is_err());
        assert!(Tokens::new(Some(""), &[], &[]).is_err());
    }

    #[test]
    fn token_file_forms() {
        let f = parse_token_file(
            "# ops tokens\n\ntoken  full-one\nview-token alice=va\n--publish-token ci=pc\n",
        )
        .unwrap();
        assert_eq!(f.token.as_deref(), Some("full-one"));
        assert_eq!(f.view, pairs(&[("alice", "va")]));
        assert_eq!(f.publish, pairs(&[("ci", "pc")]));
        assert!(parse_token_file("view-token alice").is_err());
        assert!(parse_token_file("admin x").is_err());
        assert!(parse_token_file("token").is_err());
    }
}
