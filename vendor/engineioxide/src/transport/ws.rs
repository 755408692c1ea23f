//! The ws transport module is responsible for handling websocket connections
//! The only public function is [`new_req`] which is used to upgrade a http request to a websocket connection
//!
//! Other functions are used internally to handle the websocket connection through tasks and channels
//! and to handle upgrade from polling to ws

use std::{future::Future, sync::Arc};

use futures_util::future::OptionFuture;
use futures_util::{
    SinkExt, StreamExt, TryStreamExt,
    stream::SplitSink,
};
use http::{HeaderValue, Request, Response, StatusCode, request::Parts};
use smallvec::smallvec;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        self, Message,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};
use tokio_util::future::FutureExt as _;

use engineioxide_core::{Packet, ProtocolVersion, Sid, Str, TransportType};

use crate::{
    DisconnectReason, Socket, body::ResponseBody, queue::Next, config::EngineIoConfig, engine::EngineIo,
    errors::Error, handler::EngineIoHandler, socket::InternalRx, transport::make_open_packet,
    transport::direct::{DirectOut, DirectStream},
};

/// Create a response for websocket upgrade
fn ws_response<B>(ws_key: &HeaderValue) -> Response<ResponseBody<B>> {
    let derived = derive_accept_key(ws_key.as_bytes());
    let sec = derived.parse::<HeaderValue>().unwrap();
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, HeaderValue::from_static("websocket"))
        .header(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        )
        .header(http::header::SEC_WEBSOCKET_ACCEPT, sec)
        .body(ResponseBody::empty_response())
        .unwrap() // we are only using constants
}

/// Upgrade a websocket request to create a websocket connection.
///
/// If a sid is provided in the query it means that is is upgraded from an existing HTTP polling request.
/// In this case the http polling request is closed and the SID is kept for the websocket
pub fn new_req<R: Send + 'static, B, H: EngineIoHandler>(
    engine: Arc<EngineIo<H>>,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req: Request<R>,
) -> Result<Response<ResponseBody<B>>, Error> {
    let ws_key = req
        .headers()
        .get("Sec-WebSocket-Key")
        .ok_or(Error::InvalidWebSocketKey)?
        .clone();

    // Take the upgrade handle out of the request now: the connection task then
    // holds neither the request nor a copy of its parts while it waits for the
    // upgrade, and for the rest of the session (an `async` block keeps what it
    // captured for its whole life). The parts are only needed to create a new
    // session; boxed, they cost the task one pointer.
    let mut req = req;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let parts = sid.is_none().then(|| Box::new(req.into_parts().0));

    let fut = async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("ws upgrade error: {}", _e);
                return;
            }
        };
        // A new session on a plain TCP connection writes its frames
        // directly (Pulseboard patch 25).
        let upgraded = if engine.config.ws_direct_write && sid.is_none() {
            match upgraded.downcast::<hyper_util::rt::TokioIo<tokio::net::TcpStream>>() {
                Ok(raw) => {
                    // What hyper read past the request is a slice of its
                    // connection read buffer (8 KiB and up), even when empty:
                    // kept, it would pin that buffer for the whole session.
                    let head = bytes::Bytes::copy_from_slice(&raw.read_buf);
                    drop(raw.read_buf);
                    let res = run_direct(engine.clone(), raw.io.into_inner(), head, protocol, parts).await;
                    if let Err(_e) = res {
                        #[cfg(feature = "tracing")]
                        tracing::debug!("direct ws closed with error: {_e}");
                    }
                    return;
                }
                Err(upgraded) => upgraded,
            }
        } else {
            upgraded
        };
        let conn = hyper_util::rt::TokioIo::new(upgraded);
        let res = run(engine.clone(), conn, protocol, sid, parts).await;

        match res {
            Ok(_) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed")
            }
            Err(Error::MultipleWebsocketRequests) => {}
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed with error: {_e}");
                if let Some(sid) = sid {
                    engine.close_session(sid, DisconnectReason::TransportError);
                }
            }
        }
    };
    tokio::spawn(fut);

    Ok(ws_response(&ws_key))
}

/// Handle a websocket connection upgrade
///
/// Sends an open packet if it is not an upgrade from a polling request
///
/// Read packets from the websocket and handle them, it will block until the connection is closed
pub fn on_init<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> impl Future<Output = Result<(), Error>> + Send + 'static
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The future keeps its arguments for the whole session: a pointer to the
    // request parts (dropped once the session is created) instead of the parts.
    let req_data = sid.is_none().then(|| Box::new(req_data));
    run(engine, conn, protocol, sid, req_data)
}

/// The connection task of a websocket session: handshake, then the reader,
/// the writer and (for a new session) the heartbeat.
///
/// Everything that is only needed for the handshake lives in a block that
/// ends before the session's loop starts, and the three jobs are built inside
/// the `join3` call: a future keeps a slot for every local that is alive
/// across an `.await`, even one that was moved out, so a future built in a
/// local and then moved into `join3` would be stored twice for the whole
/// session.
async fn run<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Option<Box<Parts>>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (socket, (tx, rx), new_session) = {
        let ws_config = ws_config(&engine.config);

        let ws_init = move || WebSocketStream::from_raw_socket(conn, Role::Server, Some(ws_config));
        match (sid, req_data) {
            (Some(sid), _) => match engine.get_socket(sid) {
                None => return Err(Error::UnknownSessionID(sid)),
                Some(socket) if socket.is_ws() => return Err(Error::MultipleWebsocketRequests),
                Some(socket) => {
                    // The handshake futures are boxed: inline, the largest of them
                    // would size this task's state for the whole session.
                    let mut ws = Box::pin(ws_init()).await;

                    let upgrade_fut = Box::pin(upgrade_handshake::<H, S>(&socket, &mut ws));
                    match tokio::time::timeout(engine.config.upgrade_timeout, upgrade_fut)
                        .with_cancellation_token(&socket.cancellation_token)
                        .await
                    {
                        Some(Ok(res)) => res?,
                        Some(Err(_)) => {
                            #[cfg(feature = "tracing")]
                            tracing::debug!(?sid, "ws upgrade timed out, closing session");
                            engine.close_session(socket.id, DisconnectReason::TransportError);
                            return Err(Error::Upgrade);
                        }
                        None => {
                            #[cfg(feature = "tracing")]
                            tracing::debug!(?sid, "socket is being closed");
                            return Err(Error::Upgrade);
                        }
                    }
                    // The polling transport started the heartbeat job already.
                    (socket, ws.split(), false)
                }
            },
            (None, req_data) => {
                let req_data = req_data.map(|p| *p).unwrap_or_else(|| Request::new(()).into_parts().0);
                let socket =
                    engine.create_session(protocol, TransportType::Websocket, req_data, false);

                #[cfg(feature = "tracing")]
                tracing::debug!("new websocket connection");

                let mut ws = Box::pin(ws_init()).await;
                Box::pin(init_handshake(socket.id, &mut ws, &engine.config)).await?;
                (socket, ws.split(), true)
            }
        }
    };

    // The reader, the writer and (for a new session) the heartbeat run in
    // this one task: a task per connection rather than three. They all end
    // when the session is closed (its cancellation token). A wake-up polls
    // only the job it was for (`join::join3`, Pulseboard patch 18), not all
    // three.
    crate::join::join3(
        // pipe between internal socket channel and websocket; when it ends the
        // session is closed, which ends the writer and the heartbeat too.
        read_session(&engine, rx, &socket),
        forward_to_socket::<H, S>(socket.clone(), tx),
        OptionFuture::from(new_session.then(|| {
            socket
                .clone()
                .heartbeat(engine.config.ping_interval, engine.config.ping_timeout)
        })),
    )
    .await;
    Ok(())
}

/// A new websocket session on a plain TCP connection whose packets are
/// written straight to the stream by the code that emits them (Pulseboard
/// patch 25, `transport::direct`). The connection task runs the reader, the
/// heartbeat, and a job that closes the write side when the session ends;
/// there is no writer job.
async fn run_direct<H: EngineIoHandler>(
    engine: Arc<EngineIo<H>>,
    tcp: tokio::net::TcpStream,
    head: bytes::Bytes,
    protocol: ProtocolVersion,
    req_data: Option<Box<Parts>>,
) -> Result<(), Error> {
    let (socket, out, ws) = {
        let out = DirectOut::new(Arc::new(tcp), engine.config.max_buffer_size);
        let ws_config = ws_config(&engine.config);
        let stream = DirectStream::new(head, out.clone());
        let ws = Box::pin(WebSocketStream::from_raw_socket(stream, Role::Server, Some(ws_config))).await;

        let req_data = req_data.map(|p| *p).unwrap_or_else(|| Request::new(()).into_parts().0);
        let socket = engine.create_session(protocol, TransportType::Websocket, req_data, false);
        #[cfg(feature = "tracing")]
        tracing::debug!("new direct websocket connection");

        // The open packet first, then what the handler's `on_connect` may
        // have queued, in order; from then on packets are written as they
        // are emitted. Nothing else can address the session before its
        // reader and heartbeat start below.
        let open = Packet::Open(Box::new(make_open_packet(TransportType::Websocket, socket.id, &engine.config)));
        let _ = out.send(smallvec![open], protocol, true);
        {
            let mut rx = socket.internal_rx.lock().await;
            let _ = socket.direct.set(out.clone());
            while let Ok(packets) = rx.buffered_rx.try_recv() {
                let _ = out.send(packets, protocol, true);
            }
        }
        (socket, out, ws)
    };

    crate::join::join3(
        read_session(&engine, ws, &socket),
        async {
            // The queue's receiver is held for the session, as the queued
            // path's writer holds it, so that `close_session` closes the
            // queue (and `Socket::closed` resolves) once the write side is
            // done. That ends with the session: a close frame behind what
            // waits, then the TCP write side is shut down.
            let _rx = socket.internal_rx.lock().await;
            socket.cancellation_token.cancelled().await;
            out.close(engine.config.ping_timeout).await;
        },
        socket
            .clone()
            .heartbeat(engine.config.ping_interval, engine.config.ping_timeout),
    )
    .await;
    Ok(())
}

/// The websocket settings of a session, from the engine's config.
fn ws_config(config: &EngineIoConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(config.ws_read_buffer_size)
        .max_message_size(Some(config.ws_max_message_size))
        .max_frame_size(Some(config.ws_max_frame_size))
}

/// A session's reader job: forwards what the client sends until the
/// connection ends, then closes the session (which ends the other jobs), or
/// stops at once when the session is being closed.
async fn read_session<H: EngineIoHandler>(
    engine: &Arc<EngineIo<H>>,
    rx: impl futures_util::Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
    socket: &Arc<Socket<H::Data>>,
) {
    match forward_to_handler(engine, rx, socket)
        .with_cancellation_token(&socket.cancellation_token)
        .await
    {
        Some(Err(ref e)) => {
            let reason =
                Option::<DisconnectReason>::from(e).unwrap_or(DisconnectReason::TransportError);

            #[cfg(feature = "tracing")]
            tracing::debug!("error when handling packet: {:?}", e);
            engine.close_session(socket.id, reason);
        }
        Some(Ok(())) => {
            #[cfg(feature = "tracing")]
            tracing::debug!(sid = %socket.id, "ws transport was closed");
            engine.close_session(socket.id, DisconnectReason::TransportClose);
        }
        None => {
            #[cfg(feature = "tracing")]
            tracing::debug!(sid = %socket.id, "socket is closing");
        }
    }
}

/// Forwards all packets received from a websocket to a EngineIo [`Socket`]
async fn forward_to_handler<H: EngineIoHandler>(
    engine: &Arc<EngineIo<H>>,
    mut rx: impl futures_util::Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
    socket: &Arc<Socket<H::Data>>,
) -> Result<(), Error> {
    while let Some(msg) = rx.try_next().await? {
        match msg {
            Message::Text(msg) => match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
                Packet::Close => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!("[sid={}] closing session", socket.id);
                    engine.close_session(socket.id, DisconnectReason::TransportClose);
                    break;
                }
                Packet::Pong | Packet::Ping => {
                    // A full channel means that the client is already known to be alive.
                    socket.heartbeat.notify_one();
                    Ok::<(), Error>(())
                }
                Packet::Message(msg) => {
                    engine.handler.on_message(msg, socket.clone());
                    Ok(())
                }
                p => return Err(Error::BadPacket(p)),
            },
            Message::Binary(mut data) => {
                if socket.protocol == ProtocolVersion::V3 && !data.is_empty() {
                    // The first byte is the message type, which we don't need.
                    data = data.split_off(1);
                }
                engine.handler.on_binary(data, socket.clone());
                Ok(())
            }
            Message::Close(_) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("websocket closed, closing session");
                engine.close_session(socket.id, DisconnectReason::TransportClose);
                break;
            }
            _ => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = ?socket.id, "unexpected ws message");
                Ok(())
            }
        }?
    }
    Ok(())
}

/// Forwards all packets waiting to be sent to the websocket
///
/// The websocket stream is flushed only when the internal channel is drained
async fn forward_to_socket<H: EngineIoHandler, S>(
    socket: Arc<Socket<H::Data>>,
    mut tx: SplitSink<WebSocketStream<S>, Message>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // A polling request that was in progress during the upgrade may still hold the lock.
    let lock = socket.internal_rx.lock();
    let Some(mut internal_rx) = lock
        .with_cancellation_token(&socket.cancellation_token)
        .await
    else {
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = %socket.id, "session closed before starting the ws writer");
        return;
    };
    let InternalRx { buffered_rx, .. } = &mut *internal_rx;

    // map a packet to a websocket message
    // It is declared as a macro rather than a closure to avoid ownership issues
    macro_rules! map_fn {
            ($item:ident) => {
                let res = match $item {
                    Packet::Binary(bin) | Packet::BinaryV3(bin) => {
                        if socket.protocol == ProtocolVersion::V3 {
                            // v3 protocol requires packet type as the first byte.
                            // This requires a new buffer. This is OK as it is only for the V3 protocol.
                            let mut buff = Vec::with_capacity(bin.len() + 1);
                            buff.push(0x04);
                            buff.extend(bin);
                            tx.feed(Message::Binary(buff.into())).await
                        } else {
                            tx.feed(Message::Binary(bin)).await
                        }
                    }
                    // A Noop Packet maybe sent by the server to upgrade from a polling connection
                    // In the case that the packet was not poll in time it will remain in the buffer and therefore
                    // it should be discarded here
                    Packet::Noop => Ok(()),
                    // Encoded once for every socket of a broadcast: the frame's
                    // payload is the shared text itself, no copy per socket
                    // (Pulseboard patch 20).
                    Packet::EncodedMessage(text) => {
                        // SAFETY: a `Str` is always valid UTF-8.
                        let text = unsafe { tungstenite::Utf8Bytes::from_bytes_unchecked(text.into()) };
                        tx.feed(Message::Text(text)).await
                    }
                    _ => {
                        let packet: String = $item.try_into().unwrap();
                        tx.feed(Message::Text(packet.into())).await
                    }
                };
                if let Err(_e) = res {
                    #[cfg(feature = "tracing")]
                    tracing::debug!("[sid={}] error sending packet: {}", socket.id, _e);
                }
            };
        }

    // Forward buffered packets until the channel is closed or the session is
    // closing. The packets are written after the wait, not inside it.
    //
    // The writer learns that the session is closing from its queue
    // (`recv_until_stopped`: `EngineIo::close_session` stops the receiver
    // when it cancels the session's token), not from a cancellation future
    // beside the queue in a `select!` (Pulseboard patch 19): that future
    // was polled on every wait, two locks of the token per delivery (and
    // before patch 17 it registered and unregistered itself each time).
    // The order is the same as the biased `select!` had: queued packets,
    // then the volatile one, then the end.
    loop {
        let (packets, buffered) = match buffered_rx.recv_until_stopped().await {
            Some(Next::Queued(packets)) => (packets, true),
            Some(Next::Volatile(packets)) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = ?socket.id, "ws volatile flush: {} packets", packets.len());
                (packets, false)
            }
            None => break,
        };
        for item in packets {
            map_fn!(item);
        }
        if buffered {
            while let Ok(packets) = buffered_rx.try_recv() {
                for item in packets {
                    map_fn!(item);
                }
            }
        }

        #[cfg(feature = "tracing")]
        tracing::trace!(sid = %socket.id, "ws flush");
        tx.flush().await.ok();
    }

    #[cfg(feature = "tracing")]
    tracing::trace!(sid = %socket.id, "ws closing flush");

    tx.flush().await.ok();
    tx.close().await.ok();
}
/// Send a Engine.IO [`OpenPacket`] to initiate a websocket connection
async fn init_handshake<S>(
    sid: Sid,
    ws: &mut WebSocketStream<S>,
    config: &EngineIoConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let packet = Packet::Open(Box::new(make_open_packet(
        TransportType::Websocket,
        sid,
        config,
    )));
    let packet: String = packet.into();
    ws.send(Message::Text(packet.into())).await?;
    Ok(())
}

/// Upgrade a session from a polling request to a websocket request.
///
/// Before upgrading the session the server should send a NOOP packet to any pending polling request.
///
/// ## Handshake :
/// ```text
/// CLIENT                                                 SERVER
///│                                                      │
///│   GET /engine.io/?EIO=4&transport=websocket&sid=...  │
///│ ───────────────────────────────────────────────────► │
///│  ◄─────────────────────────────────────────────────┘ │
///│            HTTP 101 (WebSocket handshake)            │
///│                                                      │
///│            -----  WebSocket frames -----             │
///│  ─────────────────────────────────────────────────►  │
///│                         2probe                       │ (ping packet)
///│  ◄─────────────────────────────────────────────────  │
///│                         3probe                       │ (pong packet)
///│  ─────────────────────────────────────────────────►  │
///│                         5                            │ (upgrade packet)
///│                                                      │
///│            -----  WebSocket frames -----             │
/// ```
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", skip(socket, ws))
)]
async fn upgrade_handshake<H: EngineIoHandler, S>(
    socket: &Arc<Socket<H::Data>>,
    ws: &mut WebSocketStream<S>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    #[cfg(feature = "tracing")]
    tracing::debug!("starting websocket connection upgrade");

    // The socket is upgrading, from now on all polling
    // request will return a `Packet::Noop`
    socket.start_upgrade();

    // We send a last Noop request to close a potential waiting polling request.
    socket
        .internal_tx
        .send(smallvec![Packet::Noop])
        .await
        .map_err(|_| Error::Upgrade)?;

    // wait for any current polling connection to finish by waiting for the socket to be unlocked
    // All other polling connection will be immediately closed with a NOOP packet.
    let _lock = socket.internal_rx.lock().await;

    // Fetch the next packet from the ws stream, it should be a PingUpgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        _ => Err(Error::Upgrade)?,
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::PingUpgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("received first ping upgrade");
            // Respond with a PongUpgrade packet
            ws.send(Message::Text(String::from(Packet::PongUpgrade).into()))
                .await?;
        }
        p => Err(Error::BadPacket(p))?,
    };

    // Fetch the next packet from the ws stream, it should be an Upgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        Some(Ok(Message::Close(_))) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws stream closed before upgrade");
            Err(Error::Upgrade)?
        }
        _ => {
            #[cfg(feature = "tracing")]
            tracing::debug!("unexpected ws message before upgrade");
            Err(Error::Upgrade)?
        }
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::Upgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws upgraded successfully")
        }
        p => Err(Error::BadPacket(p))?,
    };

    socket.upgrade_to_websocket();
    Ok(())
}

fn ws_bytes_to_str(bytes: tungstenite::Utf8Bytes) -> Str {
    // SAFETY: the bytes are guaranteed to be valid UTF-8 by the tungstenite parser
    unsafe { Str::from_bytes_unchecked(bytes.into()) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::StreamExt;
    use http::Request;
    use tokio::io::DuplexStream;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);
    /// What the test below waits for at most (a loaded machine is slow).
    const DEADLINE: Duration = Duration::from_secs(10);

    #[derive(Debug)]
    struct StubHandler;
    impl EngineIoHandler for StubHandler {
        type Data = ();
        fn on_connect(self: Arc<Self>, _: Arc<Socket<()>>) {}
        fn on_disconnect(&self, _: Arc<Socket<()>>, _: DisconnectReason) {}
        fn on_message(self: &Arc<Self>, _: Str, _: Arc<Socket<()>>) {}
        fn on_binary(self: &Arc<Self>, _: Bytes, _: Arc<Socket<()>>) {}
    }

    fn socket() -> Arc<Socket<()>> {
        Arc::new(Socket::new(
            ProtocolVersion::V4,
            TransportType::Websocket,
            &EngineIoConfig::default(),
            Request::<()>::default().into_parts().0,
            Box::new(|_, _| ()),
            false,
        ))
    }

    async fn ws_pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (server, client) = tokio::io::duplex(1024);
        (
            WebSocketStream::from_raw_socket(server, Role::Server, None).await,
            WebSocketStream::from_raw_socket(client, Role::Client, None).await,
        )
    }

    /// A polling request can still hold the lock at the end of an upgrade.
    #[tokio::test]
    async fn writer_waits_for_the_lock_of_a_polling_request() {
        let socket = socket();
        let (server, mut client) = ws_pair().await;
        let (tx, _rx) = server.split();

        let polling = socket.internal_rx.lock().await;
        let writer = tokio::spawn(forward_to_socket::<StubHandler, _>(socket.clone(), tx));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!writer.is_finished(), "the writer should wait for the lock");

        drop(polling);
        socket.emit(Str::from("hello")).unwrap();
        let msg = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("the writer should send the packet")
            .unwrap()
            .unwrap();
        assert_eq!(msg, Message::text("4hello"));
    }

    /// A message encoded once for a broadcast (Pulseboard patch 20) goes out
    /// as the same text frame as a message encoded by the writer.
    #[tokio::test]
    async fn an_encoded_message_is_sent_as_its_text() {
        let socket = socket();
        let (server, mut client) = ws_pair().await;
        let (tx, _rx) = server.split();
        let _writer = tokio::spawn(forward_to_socket::<StubHandler, _>(socket.clone(), tx));

        let text = crate::socket::Permit::encode_message("2[\"kpi\",1]€");
        socket.reserve().unwrap().emit_encoded(text.clone());
        socket.reserve().unwrap().emit_encoded(text);
        socket.emit(Str::from("2[\"kpi\",1]€")).unwrap();
        for _ in 0..3 {
            let msg = tokio::time::timeout(DEADLINE, client.next())
                .await
                .expect("the writer should send the packet")
                .unwrap()
                .unwrap();
            assert_eq!(msg, Message::text("42[\"kpi\",1]€"));
        }
    }

    #[tokio::test]
    async fn writer_waiting_for_the_lock_stops_with_the_session() {
        let socket = socket();
        let (server, _client) = ws_pair().await;
        let (tx, _rx) = server.split();

        let _polling = socket.internal_rx.lock().await;
        let writer = tokio::spawn(forward_to_socket::<StubHandler, _>(socket.clone(), tx));
        tokio::time::sleep(Duration::from_millis(20)).await;

        socket.cancellation_token.cancel();
        tokio::time::timeout(TIMEOUT, writer)
            .await
            .expect("the writer should stop")
            .unwrap();
    }
}
