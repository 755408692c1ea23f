//! "Test connection" in the first-run setup: one clear answer about a server
//! URL and token, decided here (the page only shows it).
//!
//! Two steps, each with a deadline:
//! 1. The Engine.IO handshake over plain HTTP (`GET /socket.io/?EIO=4&
//!    transport=polling`): tells "nothing listening", "certificate problem",
//!    "timeout" and "answers HTTP but is not a Pulseboard (Socket.IO)
//!    server" apart. It works for any server of the wire contract, not only
//!    ours (no `/healthz` needed).
//! 2. A real connection through `pulseboard_core` with the token, exactly as
//!    the app will connect: live means reachable; `unauthorized` means the
//!    token was refused.

use std::error::Error as _;
use std::path::Path;
use std::time::Duration;

use pulseboard_core::{Client, ClientConfig, ClientState, ConnectionState, Store, TransportMode};
use serde::Serialize;

use crate::settings;

/// The answer's kind, for the page to pick a style (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Connected with this token.
    Reachable,
    /// The server refused the token (or wants one and got none).
    Unauthorized,
    /// TLS failed: unknown issuer, expired, wrong name...
    Certificate,
    /// Something answers, but it is not a Pulseboard (Socket.IO) server.
    NotPulseboard,
    /// Nothing listens at that address (connection refused).
    NothingListening,
    /// No answer in time.
    Timeout,
    /// The host name does not resolve, or the network is unreachable.
    Unreachable,
    /// Not a usable URL.
    InvalidUrl,
}

/// What "Test connection" shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConnectionTest {
    /// The answer's kind.
    pub kind: Outcome,
    /// One sentence for a person.
    pub message: String,
}

impl ConnectionTest {
    fn new(kind: Outcome, message: impl Into<String>) -> Self {
        ConnectionTest {
            kind,
            message: message.into(),
        }
    }
}

/// The certificates in the PEM file `ca` (a private certificate authority),
/// or why it cannot be used, in words that say "certificate authority".
pub fn ca_certificates(ca: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(ca).map_err(|e| {
        format!(
            "cannot read the certificate authority {}: {e}",
            ca.display()
        )
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        format!(
            "the certificate authority {} is not a valid PEM certificate: {e}",
            ca.display()
        )
    })?;
    if certs.is_empty() {
        return Err(format!(
            "the certificate authority {} holds no PEM certificate",
            ca.display()
        ));
    }
    Ok(certs)
}

/// Test `server` with `token`, trusting the system roots plus the private
/// certificate authority `ca` (the same the app's connection trusts), giving
/// each step at most `wait`.
pub async fn test_connection(
    server: &str,
    token: Option<&str>,
    ca: Option<&Path>,
    wait: Duration,
) -> ConnectionTest {
    let server = server.trim().trim_end_matches('/');
    if let Err(e) = settings::validate_server(server) {
        return ConnectionTest::new(Outcome::InvalidUrl, e.to_string());
    }
    let roots = match ca.map(ca_certificates).transpose() {
        Ok(r) => r.unwrap_or_default(),
        Err(message) => return ConnectionTest::new(Outcome::Certificate, format!("{message}.")),
    };
    if let Some(bad) = engine_io_handshake(server, roots, wait).await {
        return bad;
    }
    socket_io_connect(server, token.filter(|t| !t.is_empty()), ca, wait).await
}

/// Step 1. `None` when a Socket.IO server answered.
async fn engine_io_handshake(
    server: &str,
    roots: Vec<reqwest::Certificate>,
    wait: Duration,
) -> Option<ConnectionTest> {
    let mut builder = reqwest::Client::builder()
        .timeout(wait)
        .connect_timeout(wait)
        .redirect(reqwest::redirect::Policy::none());
    for c in roots {
        builder = builder.add_root_certificate(c);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return Some(classify_error(server, &e)),
    };
    let url = format!("{server}/socket.io/?EIO=4&transport=polling");
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => return Some(classify_error(server, &e)),
    };
    let status = resp.status();
    let body = match resp.text().await {
        Ok(b) => b,
        Err(e) => return Some(classify_error(server, &e)),
    };
    // An Engine.IO v4 "open" packet: `0{"sid":...}`.
    if status.is_success() && body.starts_with('0') && body.contains("\"sid\"") {
        return None;
    }
    Some(ConnectionTest::new(
        Outcome::NotPulseboard,
        format!(
            "{server} answers, but it is not a Pulseboard server (no Socket.IO endpoint: HTTP {}).",
            status.as_u16()
        ),
    ))
}

/// Step 2: connect as the app would, with the token.
async fn socket_io_connect(
    server: &str,
    token: Option<&str>,
    ca: Option<&Path>,
    wait: Duration,
) -> ConnectionTest {
    let mut config = ClientConfig::new(server);
    config.token = token.map(str::to_string);
    config.ca = ca.map(Path::to_path_buf);
    config.transport = TransportMode::Auto;
    config.connect_timeout = wait;
    let store = Store::new(ClientState::empty(server));
    let mut updates = store.subscribe();
    let client = Client::start(config, store.clone());
    let answer = tokio::time::timeout(wait * 2, async {
        loop {
            let state = store.read(|s| s.connection.clone());
            match state {
                ConnectionState::Live { transport, .. } => {
                    let how = serde_json::to_value(transport)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    return ConnectionTest::new(
                        Outcome::Reachable,
                        format!(
                            "Connected to the Pulseboard server at {server}{}.",
                            if how.is_empty() {
                                String::new()
                            } else {
                                format!(" ({how})")
                            }
                        ),
                    );
                }
                ConnectionState::Unauthorized { message } => {
                    return ConnectionTest::new(
                        Outcome::Unauthorized,
                        if token.is_none() {
                            format!("The server at {server} wants a token: enter the one its operator gave you ({message}).")
                        } else {
                            format!("The server at {server} refused the token ({message}): enter the token you were given.")
                        },
                    );
                }
                ConnectionState::Reconnecting { reason, .. }
                | ConnectionState::Offline { reason, .. } => {
                    return ConnectionTest::new(
                        Outcome::NotPulseboard,
                        format!("{server} answers Socket.IO, but the Pulseboard handshake failed: {reason}."),
                    );
                }
                ConnectionState::Certificate { message } => {
                    return ConnectionTest::new(Outcome::Certificate, message);
                }
                ConnectionState::Connecting { .. } => {}
            }
            if updates.recv().await.is_err() {
                // Lagged or closed: read the state again.
                updates = store.subscribe();
            }
        }
    })
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(2), client.shutdown()).await;
    answer.unwrap_or_else(|_| {
        ConnectionTest::new(
            Outcome::Timeout,
            format!(
                "{server} did not finish the Pulseboard handshake within {} s.",
                (wait * 2).as_secs()
            ),
        )
    })
}

/// Turn an HTTP client error into an answer a person can act on.
pub(crate) fn classify_error(server: &str, e: &reqwest::Error) -> ConnectionTest {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    classify(server, e.is_timeout(), &chain)
}

/// The decision, on the error's text (its whole source chain).
pub fn classify(server: &str, timed_out: bool, chain: &str) -> ConnectionTest {
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("invalidcert")
        || lower.contains("tls handshake")
    {
        return ConnectionTest::new(
            Outcome::Certificate,
            format!(
                "The certificate of {server} is not trusted ({}). Use the address the certificate was made for; if its operator runs a private certificate authority, set its PEM file as the certificate authority in Settings.",
                cert_detail(&lower)
            ),
        );
    }
    if timed_out || lower.contains("timed out") {
        return ConnectionTest::new(
            Outcome::Timeout,
            format!("{server} did not answer in time."),
        );
    }
    if lower.contains("connection refused") {
        return ConnectionTest::new(
            Outcome::NothingListening,
            format!("Nothing listens at {server}: is the server running, and is the port right?"),
        );
    }
    if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
        || lower.contains("unreachable")
    {
        return ConnectionTest::new(
            Outcome::Unreachable,
            format!("Cannot reach {server}: {}", last(chain)),
        );
    }
    if lower.contains("invalid http") || lower.contains("invalid status") || lower.contains("parse")
    {
        return ConnectionTest::new(
            Outcome::NotPulseboard,
            format!(
                "{server} answers, but not as an HTTP server would: it is not a Pulseboard server."
            ),
        );
    }
    ConnectionTest::new(
        Outcome::Unreachable,
        format!("Cannot reach {server}: {}", last(chain)),
    )
}

/// Why a certificate was refused, in words (rustls or OpenSSL, whichever
/// TLS backend the HTTP client was built with).
fn cert_detail(lower: &str) -> &'static str {
    if lower.contains("unknownissuer")
        || lower.contains("self-signed")
        || lower.contains("self signed")
    {
        "issued by an unknown authority, or self-signed"
    } else if lower.contains("expired") {
        "expired"
    } else if lower.contains("notvalidforname") || lower.contains("hostname mismatch") {
        "made for another host name"
    } else if lower.contains("notvalidyet") {
        "not valid yet"
    } else if lower.contains("revoked") {
        "revoked"
    } else {
        "verification failed"
    }
}

/// The innermost cause: usually the most specific words.
fn last(chain: &str) -> &str {
    chain.rsplit(": ").next().unwrap_or(chain).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_told_apart_by_their_causes() {
        let s = "https://pb.example";
        let c = |t, m| classify(s, t, m).kind;
        assert_eq!(
            c(false, "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer"),
            Outcome::Certificate
        );
        assert_eq!(
            c(true, "error sending request: operation timed out"),
            Outcome::Timeout
        );
        assert_eq!(
            c(
                false,
                "error sending request: tcp connect error: Connection refused (os error 111)"
            ),
            Outcome::NothingListening
        );
        assert_eq!(
            c(false, "error sending request: dns error: failed to lookup address information: Name or service not known"),
            Outcome::Unreachable
        );
        let m = classify(s, false, "a: b: invalid peer certificate: Expired").message;
        assert!(m.contains("not trusted (expired)"), "{m}");
        let m = classify(
            s,
            false,
            "error sending request: error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed",
        );
        assert_eq!(m.kind, Outcome::Certificate);
    }

    #[test]
    fn outcomes_serialise_for_the_page() {
        let t = ConnectionTest::new(Outcome::NothingListening, "x");
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            serde_json::json!({"kind": "nothingListening", "message": "x"})
        );
    }
}
