//! Limits at the edge: HTTP rate limits (per address and per token, with
//! `governor`), the Socket.IO event rate limit per connection, the Origin
//! allow-list, the JSON Content-Type rule for writes, and the TCP connection
//! caps (global and per address).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    clock::Clock, DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use pulseboard_protocol::AckError;
use serde_json::Value;
use socketioxide::{adapter::Adapter, extract::SocketRef};

use crate::{auth, http::ApiError, App};

/// A quota of `per_second` (burst of as many); clamped to 1..=10^9 so the
/// replenish interval never rounds down to zero.
fn quota(per_second: u32) -> Quota {
    let n = per_second.clamp(1, 1_000_000_000);
    Quota::per_second(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// A Socket.IO connection's event budget (kept in the socket's extensions):
/// its own, and the keys of the budgets it shares with the other connections
/// of its token and of its client address.
#[derive(Clone)]
pub(crate) struct EventLimiter {
    own: Arc<DefaultDirectRateLimiter>,
    token: Option<String>,
    addr: Option<IpAddr>,
}

impl EventLimiter {
    /// `token`: the admitted token's key (none on an open server), `addr`:
    /// the client address (none when unknown).
    pub(crate) fn new(per_second: u32, token: Option<String>, addr: Option<IpAddr>) -> Self {
        EventLimiter {
            own: Arc::new(RateLimiter::direct(quota(per_second))),
            token,
            addr,
        }
    }
}

/// The key of an admitted token in the per-token budgets (HTTP and events).
pub(crate) fn token_key(a: &auth::Admitted) -> String {
    format!("{:?}:{}", a.role, a.name)
}

/// The reason given to a client over its event budget.
pub(crate) const RATE_LIMITED: &str = "rate limited";

/// Count one incoming Socket.IO event and check the connection's budget.
/// Over it: the ready-made `{"ok": false, "error": "rate limited"}` ack.
pub(crate) fn event_allowed<A: Adapter>(app: &App, s: &SocketRef<A>) -> Result<(), Value> {
    app.edge.metrics.events_in.inc();
    let Some(limiter) = s.extensions.get::<EventLimiter>() else {
        return Ok(());
    };
    let shared = &app.edge.http_limits;
    let allowed = limiter.own.check().is_ok()
        && limiter
            .token
            .as_ref()
            .is_none_or(|k| shared.events_per_token.check_key(k).is_ok())
        && limiter
            .addr
            .as_ref()
            .is_none_or(|ip| shared.events_per_addr.check_key(ip).is_ok());
    if allowed {
        Ok(())
    } else {
        app.edge.metrics.rate_limited.inc();
        app.drop_input(
            "socket",
            &format_args!("socket {} over its event rate", s.id),
        );
        Err(serde_json::to_value(AckError::new(RATE_LIMITED)).unwrap_or(Value::Null))
    }
}

/// The rate limiters keyed by address and by token: HTTP API requests, and
/// Socket.IO events over all the connections of a token or an address.
pub(crate) struct HttpLimits {
    per_addr: DefaultKeyedRateLimiter<IpAddr>,
    per_token: DefaultKeyedRateLimiter<String>,
    events_per_addr: DefaultKeyedRateLimiter<IpAddr>,
    events_per_token: DefaultKeyedRateLimiter<String>,
    sessions_per_addr: DefaultKeyedRateLimiter<IpAddr>,
}

impl HttpLimits {
    /// `per_second` HTTP requests, `events_per_second` Socket.IO events, per
    /// address and per token.
    pub(crate) fn new(per_second: u32, events_per_second: u32) -> HttpLimits {
        HttpLimits {
            per_addr: RateLimiter::keyed(quota(per_second)),
            per_token: RateLimiter::keyed(quota(per_second)),
            events_per_addr: RateLimiter::keyed(quota(events_per_second)),
            events_per_token: RateLimiter::keyed(quota(events_per_second)),
            sessions_per_addr: RateLimiter::keyed(quota(per_second)),
        }
    }

    /// Forget idle keys (called periodically so memory stays bounded).
    pub(crate) fn forget_idle(&self) {
        self.per_addr.retain_recent();
        self.per_token.retain_recent();
        self.events_per_addr.retain_recent();
        self.events_per_token.retain_recent();
        self.sessions_per_addr.retain_recent();
        self.per_addr.shrink_to_fit();
        self.per_token.shrink_to_fit();
        self.events_per_addr.shrink_to_fit();
        self.events_per_token.shrink_to_fit();
        self.sessions_per_addr.shrink_to_fit();
    }
}

fn peer(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// The client address of a request: the TCP peer, or, when the peer is a
/// `--trusted-proxy`, the right-most `X-Forwarded-For` address that is not
/// itself a trusted proxy (the left part of the header is whatever the client
/// sent and cannot be trusted).
pub(crate) fn client_ip(trusted: &[IpAddr], req: &Request) -> Option<IpAddr> {
    client_ip_of(trusted, peer(req)?.ip(), req.headers())
}

/// [`client_ip`] from the TCP peer and the request headers (a Socket.IO
/// handshake has those, not an axum `Request`).
pub(crate) fn client_ip_of(
    trusted: &[IpAddr],
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
) -> Option<IpAddr> {
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return Some(client);
        };
        for hop in text.split(',').rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !trusted.contains(&ip) {
                        return Some(ip);
                    }
                }
                Err(_) => return Some(client),
            }
        }
    }
    Some(client)
}

/// Axum middleware for the HTTP API: 429 with `Retry-After` once an address
/// or a (known) token is over `--rate-limit` requests per second.
pub(crate) async fn rate_limit(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    match over_rate(&app, &req) {
        None => next.run(req).await,
        Some(refused) => refused,
    }
}

/// Count an HTTP API request and check the address and token budgets: the
/// 429 answer when over one of them.
pub(crate) fn over_rate(app: &App, req: &Request) -> Option<Response> {
    app.edge.metrics.http_requests.inc();
    let limits = &app.edge.http_limits;
    let mut refused = None;
    if let Some(ip) = client_ip(&app.edge.trusted_proxies, req) {
        if let Err(not_until) = limits.per_addr.check_key(&ip) {
            refused = Some(not_until.wait_time_from(limits.per_addr.clock().now()));
        }
    }
    if refused.is_none() {
        // Only known tokens get a bucket: random tokens must not fill memory.
        if let Some(a) = app.edge.tokens.admit(auth::bearer(req)) {
            if !app.edge.tokens.is_open() {
                let key = token_key(&a);
                if let Err(not_until) = limits.per_token.check_key(&key) {
                    refused = Some(not_until.wait_time_from(limits.per_token.clock().now()));
                }
            }
        }
    }
    refused.map(|wait| {
        app.edge.metrics.rate_limited.inc();
        too_many(wait)
    })
}

/// Tower middleware in front of the Socket.IO layer: a request that opens a
/// new Engine.IO session (`/socket.io/` without `sid`, either transport)
/// counts against `--rate-limit` per client address; over it, 429 with
/// `Retry-After`. Requests of an existing session pass: its events have
/// their own budgets. Without this, one keep-alive connection could open
/// thousands of sessions a second, each living until the handshake timeout.
pub(crate) async fn limit_new_sessions(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    let new_session = req.uri().path().starts_with("/socket.io/")
        && !req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|p| p.starts_with("sid="));
    if new_session {
        if let Some(ip) = client_ip(&app.edge.trusted_proxies, &req) {
            let limits = &app.edge.http_limits;
            if let Err(not_until) = limits.sessions_per_addr.check_key(&ip) {
                app.edge.metrics.rate_limited.inc();
                return too_many(not_until.wait_time_from(limits.sessions_per_addr.clock().now()));
            }
        }
    }
    next.run(req).await
}

fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut resp =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many requests").into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    resp
}

/// Normalise an origin for comparison: lowercase, no trailing slash.
pub(crate) fn normalize_origin(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Axum middleware for every route, Socket.IO included: a request that carries
/// an `Origin` not in `--allow-origin` gets 403. Requests without `Origin`
/// (non-browser clients) pass.
pub(crate) async fn check_origin(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .map(|o| {
                let o = normalize_origin(o);
                app.edge.allow_origins.contains(&o)
            })
            .unwrap_or(false);
        if !ok {
            app.edge.metrics.requests_refused.inc();
            app.drop_input(
                "http",
                &format_args!(
                    "{} {} from origin {:?} not in the allow-list",
                    req.method(),
                    req.uri().path(),
                    origin
                ),
            );
            return ApiError::new(StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    next.run(req).await
}

/// Axum middleware for the write routes: 415 unless `Content-Type` is
/// `application/json` (parameters such as `charset` allowed).
pub(crate) async fn require_json(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            app.edge.metrics.requests_refused.inc();
            app.drop_input("http", &"write without Content-Type: application/json");
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Connection caps: at most `total` open connections, `per_addr` of them from
/// one IP address.
pub(crate) struct ConnCaps {
    total: usize,
    per_addr: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; releases its slot when dropped.
pub(crate) struct ConnSlot {
    caps: Arc<ConnCaps>,
    ip: IpAddr,
}

impl ConnCaps {
    pub(crate) fn new(total: usize, per_addr: usize) -> Arc<ConnCaps> {
        Arc::new(ConnCaps {
            total: total.max(1),
            per_addr: per_addr.max(1),
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A slot for a new connection from `ip`, or `None` when a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let from_ip = open.1.get(&ip).copied().unwrap_or(0);
        if open.0 >= self.total || from_ip >= self.per_addr {
            return None;
        }
        open.0 += 1;
        open.1.insert(ip, from_ip + 1);
        Some(ConnSlot {
            caps: self.clone(),
            ip,
        })
    }

    /// Open connections now.
    pub(crate) fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|p| p.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// What a connection over the caps is told before it is closed.
pub(crate) const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 32\r\n\r\n\
{\"error\":\"too many connections\"}";

#[cfg(test)]
mod tests {
    use super::*;

    fn req_from(peer: &str, xff: &[&str]) -> Request {
        let mut b = axum::http::Request::builder();
        for v in xff {
            b = b.header("x-forwarded-for", *v);
        }
        let mut r = b.body(axum::body::Body::empty()).unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 5555)));
        r
    }

    #[test]
    fn forwarded_for_is_used_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // Untrusted peer: the header is ignored.
        assert_eq!(
            client_ip(&[proxy], &req_from("192.0.2.9", &["1.2.3.4"])),
            ip("192.0.2.9")
        );
        // Trusted proxy: the right-most untrusted hop; a client-sent prefix is ignored.
        assert_eq!(
            client_ip(&[proxy], &req_from("10.0.0.1", &["6.6.6.6, 198.51.100.7"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(
                &[proxy],
                &req_from("10.0.0.1", &["198.51.100.7", "10.0.0.1"])
            ),
            ip("198.51.100.7")
        );
        // Trusted proxy without the header: the proxy itself.
        assert_eq!(
            client_ip(&[proxy], &req_from("10.0.0.1", &[])),
            ip("10.0.0.1")
        );
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_ip(&[proxy], &req_from("10.0.0.1", &["junk, 198.51.100.7"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn huge_quotas_do_not_break_the_limiter() {
        let l = HttpLimits::new(u32::MAX, u32::MAX);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for _ in 0..1000 {
            assert!(l.per_addr.check_key(&ip).is_ok());
        }
        let one = HttpLimits::new(0, 0);
        assert!(one.per_addr.check_key(&ip).is_ok());
        assert!(one.per_addr.check_key(&ip).is_err());
    }

    #[test]
    fn caps_count_and_release() {
        let caps = ConnCaps::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = caps.admit(a).unwrap();
        let _s2 = caps.admit(a).unwrap();
        assert!(caps.admit(a).is_none(), "per address cap");
        let _s3 = caps.admit(b).unwrap();
        assert!(caps.admit(b).is_none(), "global cap");
        drop(s1);
        let _s4 = caps.admit(b).expect("a slot was released");
        assert_eq!(caps.open(), 3);
    }

    #[test]
    fn busy_response_is_well_formed() {
        let text = std::str::from_utf8(BUSY_RESPONSE).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body.len(), 32);
        serde_json::from_str::<Value>(body).unwrap();
    }
}
