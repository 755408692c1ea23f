//! `pulseboard-floor-server`: the floor of the server fan-out benchmark
//! (`pulseboard-bench server --target floor`, BENCHMARKS.md section 1).
//!
//! The least a Rust server on Pulseboard's stack (tokio, hyper 1 with
//! upgrades, tokio-tungstenite over the vendored tungstenite) can do for that
//! benchmark, with no Socket.IO or Engine.IO library: it speaks just enough
//! Engine.IO 4 / Socket.IO 5 by hand for the benchmark's clients
//! (`bench/src/server_load.rs`):
//!
//! - `GET /socket.io/?EIO=4&transport=websocket`: WebSocket upgrade, then the
//!   Engine.IO open packet; `40` is answered with `40{"sid":..}`; an event
//!   with an ack id (`42<id>["module:subscribe",..]`) is answered with
//!   `43<id>[{"ok":true}]` and subscribes the socket; everything else
//!   (pongs `3`, other events) is ignored. The server sends no pings.
//! - `PUT /api/kpis/finance`: one text frame
//!   `42["kpi:update:finance",{"module":"finance","kpis":..,"updatedAt":..}]`
//!   built once and sent to every subscribed socket: one tokio task per
//!   connection, which owns its stream and receives the frame (a shared
//!   `Bytes`) through a `tokio::sync::broadcast` channel, then writes it with
//!   one `write(2)`.
//! - `GET /healthz`: `ok`.
//!
//! No persistence, no auth, no limits, no heartbeat: it is a floor, not a
//! product. It takes pulseboard-server's command line (`--listen ADDR`) and
//! ignores every other flag, and prints `listening on http://ADDR` first.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
};

use axum::body::Body;
use futures_util::{SinkExt, StreamExt};
use hyper::{body::Incoming, header, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::broadcast};
use tokio_tungstenite::{
    tungstenite::{
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
        Message, Utf8Bytes,
    },
    WebSocketStream,
};

/// Broadcast frames not yet taken by a slow socket before it skips ahead.
const QUEUE: usize = 64;

static SID: AtomicU64 = AtomicU64::new(1);

fn main() -> Result<(), String> {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().expect("valid address");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--listen" {
            let v = args.next().ok_or("--listen needs an address")?;
            listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
        }
        // Every other flag of pulseboard-server (and its value) is ignored.
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(serve(listen))
}

async fn serve(listen: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    let (tx, _) = broadcast::channel::<Utf8Bytes>(QUEUE);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let tx = tx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, tx.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r
}

async fn handle(
    mut req: Request<Incoming>,
    tx: broadcast::Sender<Utf8Bytes>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path();
    Ok(match (req.method(), path) {
        (&Method::GET, "/healthz") => reply(StatusCode::OK, "ok"),
        (&Method::GET, p) if p.starts_with("/socket.io") => {
            let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
                return Ok(reply(StatusCode::BAD_REQUEST, "websocket only"));
            };
            let accept = derive_accept_key(key.as_bytes());
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(io) = upgrade.await {
                    let mut config = WebSocketConfig::default();
                    config.read_buffer_size = 256;
                    let ws = WebSocketStream::from_raw_socket(
                        TokioIo::new(io),
                        Role::Server,
                        Some(config),
                    )
                    .await;
                    socket(ws, tx.subscribe()).await;
                }
            });
            let mut r = reply(StatusCode::SWITCHING_PROTOCOLS, "");
            let h = r.headers_mut();
            h.insert(
                header::UPGRADE,
                header::HeaderValue::from_static("websocket"),
            );
            h.insert(
                header::CONNECTION,
                header::HeaderValue::from_static("Upgrade"),
            );
            h.insert(
                header::SEC_WEBSOCKET_ACCEPT,
                header::HeaderValue::from_str(&accept).expect("base64 is a header value"),
            );
            r
        }
        (&Method::PUT, "/api/kpis/finance") => {
            let body = Body::new(req.into_body());
            let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
                return Ok(reply(StatusCode::BAD_REQUEST, "body"));
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return Ok(reply(StatusCode::BAD_REQUEST, "json"));
            };
            let payload = serde_json::json!({
                "module": "finance",
                "kpis": v.get("kpis").cloned().unwrap_or_default(),
                "updatedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            let frame = format!(r#"42["kpi:update:finance",{payload}]"#);
            // No subscriber is not an error.
            let _ = tx.send(Utf8Bytes::from(frame));
            reply(StatusCode::NO_CONTENT, "")
        }
        _ => reply(StatusCode::NOT_FOUND, "not found"),
    })
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// One connection: the Socket.IO handshake, then every broadcast frame once
/// the socket subscribed.
async fn socket(mut ws: Ws, mut rx: broadcast::Receiver<Utf8Bytes>) {
    let sid = SID.fetch_add(1, Ordering::Relaxed);
    let open = format!(
        r#"0{{"sid":"f{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    if ws.send(Message::Text(open.into())).await.is_err() {
        return;
    }
    let mut subscribed = false;
    loop {
        tokio::select! {
            m = ws.next() => {
                let t = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let reply = if t.as_str() == "40" {
                    Some(format!(r#"40{{"sid":"s{sid}"}}"#))
                } else if let Some(rest) = t.strip_prefix("42") {
                    // `42<ack id>["event",..]`: ack it; the only event the
                    // benchmark sends is `module:subscribe`.
                    let id = &rest[..rest.find('[').unwrap_or(0)];
                    subscribed = true;
                    (!id.is_empty()).then(|| format!(r#"43{id}[{{"ok":true}}]"#))
                } else {
                    None
                };
                if let Some(r) = reply {
                    if ws.send(Message::Text(r.into())).await.is_err() {
                        return;
                    }
                }
            }
            f = rx.recv() => match f {
                Ok(frame) if subscribed => {
                    if ws.send(Message::Text(frame)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => eprintln!("socket {sid}: {n} frames skipped"),
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
