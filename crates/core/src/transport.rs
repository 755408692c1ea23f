//! The rust_socketio 0.6 adapter: the only module that knows that library.
//!
//! [`open`] starts one connection attempt in the background; everything the
//! library reports (the transport up or not, the namespace join, events,
//! acks, errors, the end of the stream) arrives on one channel as
//! [`Raw`] tagged with the attempt's generation, so the supervisor handles
//! all of it in its one loop. Callbacks only push into that channel.

use std::path::Path;
use std::time::Duration;

use futures_util::FutureExt;
use pulseboard_protocol::AuthPayload;
use rust_socketio::asynchronous::{Client as SioClient, ClientBuilder, ReconnectSettings};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::store::TransportKind;

/// What the transport saw.
#[derive(Debug)]
pub(crate) enum Raw {
    /// The transport is up (or could not be brought up).
    Opened(Result<Link, String>),
    /// The namespace was joined.
    Connected,
    /// A server event: its name and first argument (None: no JSON argument).
    Event {
        name: String,
        payload: Option<Value>,
    },
    /// The ack of request `id`: its first argument.
    Ack { id: u64, payload: Option<Value> },
    /// An error the library reported (`connect_error` included).
    Error(String),
    /// The server closed the namespace, or the transport's stream ended.
    Closed,
    /// An engine.io ping from the server arrived (the library answered it).
    Ping,
}

/// `Raw` tagged with the connection generation it belongs to.
pub(crate) type Tagged = (u64, Raw);

/// One open transport.
pub(crate) struct Link {
    client: SioClient,
    /// Which transport it uses.
    pub(crate) kind: TransportKind,
    generation: u64,
    tx: UnboundedSender<Tagged>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("kind", &self.kind)
            .field("generation", &self.generation)
            .finish()
    }
}

fn first_value(p: Payload) -> Option<Value> {
    #[allow(deprecated)]
    match p {
        Payload::Text(mut v) => {
            if v.is_empty() {
                None
            } else {
                Some(v.swap_remove(0))
            }
        }
        Payload::String(s) => serde_json::from_str(&s).ok(),
        Payload::Binary(_) => None,
    }
}

fn payload_text(p: Payload) -> String {
    match first_value(p) {
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// An ack arrives as the argument list `[obj]`; unwrap it.
fn ack_value(p: Payload) -> Option<Value> {
    match first_value(p)? {
        Value::Array(mut a) if !a.is_empty() => Some(a.swap_remove(0)),
        v => Some(v),
    }
}

/// The TLS settings for `https://` servers: the system roots plus the
/// certificate authority in the PEM file `ca` (several certificates allowed).
pub(crate) fn tls_connector(ca: &Path) -> Result<native_tls::TlsConnector, String> {
    let pem = std::fs::read(ca).map_err(|e| {
        format!(
            "cannot read the certificate authority {}: {e}",
            ca.display()
        )
    })?;
    let mut b = native_tls::TlsConnector::builder();
    let text = String::from_utf8_lossy(&pem);
    let mut found = 0;
    for block in text.split_inclusive("-----END CERTIFICATE-----") {
        if !block.contains("-----BEGIN CERTIFICATE-----") {
            continue;
        }
        let cert =
            native_tls::Certificate::from_pem(block.trim_start().as_bytes()).map_err(|e| {
                format!(
                    "the certificate authority {} is not a valid PEM certificate: {e}",
                    ca.display()
                )
            })?;
        b.add_root_certificate(cert);
        found += 1;
    }
    if found == 0 {
        return Err(format!(
            "the certificate authority {} holds no PEM certificate",
            ca.display()
        ));
    }
    b.build()
        .map_err(|e| format!("certificate authority {}: {e}", ca.display()))
}

/// An error with its causes, so a TLS reason deep in the chain is seen.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let c_text = c.to_string();
        if !out.contains(&c_text) {
            out.push_str(": ");
            out.push_str(&c_text);
        }
        cur = c.source();
    }
    out
}

/// True when a connection error says the server's certificate could not be
/// verified (unknown authority, wrong name, expired...).
pub(crate) fn is_certificate_error(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    e.contains("certificate") || e.contains("self signed") || e.contains("self-signed")
}

/// Start one attempt in the background: the outcome arrives as
/// `(generation, Raw::Opened(..))`, then `Connected` (or an error) when the
/// namespace is joined.
pub(crate) fn open(
    url: String,
    auth: AuthPayload,
    kind: TransportKind,
    tls: Option<native_tls::TlsConnector>,
    timeout: Duration,
    generation: u64,
    tx: UnboundedSender<Tagged>,
) {
    let on = |raw: fn(Payload) -> Raw| {
        let tx = tx.clone();
        move |p: Payload, _c: SioClient| {
            let _ = tx.send((generation, raw(p)));
            async {}.boxed()
        }
    };
    let tx_any = tx.clone();
    let tx_end = tx.clone();
    let tx_ping = tx.clone();
    let builder = ClientBuilder::new(url)
        .auth(serde_json::to_value(&auth).unwrap_or(Value::Null))
        .transport_type(match kind {
            TransportKind::Websocket => TransportType::Websocket,
            TransportKind::Polling => TransportType::Polling,
        })
        // The library reports the end of its stream only through its own
        // reconnect loop: `on_reconnect` is called when the stream ended for
        // any reason but our own disconnect or a server DISCONNECT packet
        // (an engine.io close, a dead TCP link). That is the "transport is
        // gone" signal; the reconnect itself is made to fail at once (no
        // address) and the supervisor does the real retrying. Without this a
        // server that closes the engine.io session is noticed only by the
        // next liveness probe.
        .reconnect(true)
        .reconnect_on_disconnect(false)
        .max_reconnect_attempts(1)
        // Only paces the library's loop if a link were ever left open.
        .reconnect_delay(1000, 1000)
        .on_reconnect(move || {
            let _ = tx_end.send((generation, Raw::Closed));
            async {
                let mut s = ReconnectSettings::new();
                s.address("");
                s
            }
            .boxed()
        })
        // Pings count as traffic for the liveness probe (vendor/PATCHES.md
        // patch 23): an idle link is probed between pings, not every
        // `heartbeat` regardless.
        .on_ping(move || {
            let _ = tx_ping.send((generation, Raw::Ping));
        })
        .on(Event::Connect, on(|_| Raw::Connected))
        .on(Event::Close, on(|_| Raw::Closed))
        .on(Event::Error, on(|p| Raw::Error(payload_text(p))))
        .on_any(move |ev: Event, p: Payload, _c: SioClient| {
            let _ = tx_any.send((
                generation,
                Raw::Event {
                    name: ev.as_str().to_string(),
                    payload: first_value(p),
                },
            ));
            async {}.boxed()
        });
    let builder = match tls {
        Some(tls) => builder.tls_config(tls),
        None => builder,
    };
    tokio::spawn(async move {
        // Bounded, so an attempt nobody waits for any more cannot hang here.
        let r = match tokio::time::timeout(timeout, builder.connect()).await {
            Ok(Ok(client)) => Ok(Link {
                client,
                kind,
                generation,
                tx: tx.clone(),
            }),
            Ok(Err(e)) => Err(error_chain(&e)),
            Err(_) => Err("timed out connecting".to_string()),
        };
        if let Err(tokio::sync::mpsc::error::SendError((_, Raw::Opened(Ok(link))))) =
            tx.send((generation, Raw::Opened(r)))
        {
            // Nobody is listening any more (the client shut down): disconnect.
            link.close().await;
        }
    });
}

impl Link {
    /// Emit `event` with an ack; the ack arrives as `Raw::Ack { id }`.
    /// `lib_timeout` only lets the library forget a late ack; the real
    /// timeout is the supervisor's.
    pub(crate) async fn emit_with_ack(
        &self,
        event: &str,
        payload: Value,
        id: u64,
        lib_timeout: Duration,
    ) -> Result<(), String> {
        let (generation, tx) = (self.generation, self.tx.clone());
        let cb = move |p: Payload, _c: SioClient| {
            let _ = tx.send((
                generation,
                Raw::Ack {
                    id,
                    payload: ack_value(p),
                },
            ));
            async {}.boxed()
        };
        self.client
            .emit_with_ack(event, Payload::Text(vec![payload]), lib_timeout, cb)
            .await
            .map_err(|e| format!("send failed: {e}"))
    }

    /// Disconnect (bounded wait); also stops the library's stream task.
    pub(crate) async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.disconnect()).await;
    }

    /// Close without waiting (for links nobody wants any more).
    pub(crate) fn close_in_background(self) {
        tokio::spawn(self.close());
    }
}
