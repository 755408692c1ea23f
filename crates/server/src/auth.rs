//! Token checks for Socket.IO handshakes and the HTTP API.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header::AUTHORIZATION, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use pulseboard_protocol::{events, AuthPayload};
use socketioxide::extract::{SocketRef, TryData};
use subtle::ConstantTimeEq;

use crate::{http::ApiError, App};

/// Whose read state a socket or request sees: the viewer NAME of its token
/// (`--view-token NAME=T`), or [`Viewer::DEFAULT`] for the full-rights
/// `--token` and for an open server. Socket handlers find it in the socket's
/// extensions ([`Viewer::of`]); HTTP handlers in the request's extensions.
#[allow(dead_code)] // wired up by the roles and read-state work
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Viewer(pub String);

#[allow(dead_code)]
impl Viewer {
    /// The viewer of `--token` and of an open server.
    pub(crate) const DEFAULT: &'static str = "default";

    /// The viewer a socket was admitted as (the default one when none was recorded).
    pub(crate) fn of(socket: &SocketRef) -> Viewer {
        socket
            .extensions
            .get::<Viewer>()
            .unwrap_or_else(|| Viewer(Viewer::DEFAULT.to_string()))
    }
}

/// Whether `given` is acceptable when the server expects `expected`.
/// Compares in constant time; a length mismatch is a failure.
pub(crate) fn token_matches(expected: Option<&str>, given: Option<&str>) -> bool {
    match expected {
        None => true,
        Some(expected) => {
            let given = given.unwrap_or("").as_bytes();
            let expected = expected.as_bytes();
            given.len() == expected.len() && bool::from(expected.ct_eq(given))
        }
    }
}

/// The handshake was refused. Displays exactly as `unauthorized`, which is the
/// `connect_error` message the contract requires.
#[derive(Debug)]
pub(crate) struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(events::UNAUTHORIZED)
    }
}

/// Socket.IO connect middleware body: checks the handshake `auth.token`.
pub(crate) fn check_handshake(
    app: &App,
    socket: &SocketRef,
    auth: TryData<AuthPayload>,
) -> Result<(), Unauthorized> {
    let given = match &auth.0 {
        Ok(a) => Some(a.token.as_str()),
        Err(_) => None,
    };
    if token_matches(app.token.as_deref(), given) {
        Ok(())
    } else {
        app.drop_input(
            "handshake",
            &format_args!("socket {} unauthorized", socket.id),
        );
        Err(Unauthorized)
    }
}

/// Extract the token of an `Authorization: Bearer <token>` header.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Axum middleware for every API route: 401 JSON without the right token.
pub(crate) async fn require_token(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    if token_matches(app.token.as_deref(), bearer(&req)) {
        next.run(req).await
    } else {
        app.drop_input(
            "http",
            &format_args!("{} {} unauthorized", req.method(), req.uri().path()),
        );
        ApiError::new(StatusCode::UNAUTHORIZED, events::UNAUTHORIZED).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn tokens() {
        assert!(token_matches(None, None));
        assert!(token_matches(None, Some("x")));
        assert!(token_matches(Some("secret"), Some("secret")));
        assert!(!token_matches(Some("secret"), Some("secreT")));
        assert!(!token_matches(Some("secret"), Some("secret2")));
        assert!(!token_matches(Some("secret"), Some("")));
        assert!(!token_matches(Some("secret"), None));
    }
}
