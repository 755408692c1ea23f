use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use engineioxide_core::{ProtocolVersion, Sid, TransportType};
use http::request::Parts;

use crate::{
    config::EngineIoConfig,
    handler::EngineIoHandler,
    socket::{DisconnectReason, Socket},
};

/// Give the request parts kept by a socket their own memory.
///
/// hyper parses the URI and every header value as slices of the connection's
/// read buffer (8 KiB or more). A socket keeps its handshake request's parts
/// for the whole session, so without this copy every session pins that whole
/// buffer. The copy costs a few small allocations per new session.
///
/// hyper's `OnUpgrade` handle is dropped too: the upgrade has been taken from
/// the request by then and the handle is of no further use. So are the
/// headers that only carry the WebSocket handshake ([`HANDSHAKE_ONLY`]): they
/// are used up once the connection is upgraded, and for a client that sends
/// little else (tungstenite-based clients send `Host` and these) they were
/// most of the header map a socket keeps.
pub(crate) fn own_request_parts(mut parts: Parts) -> Parts {
    if let Ok(uri) = http::Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
    let kept = |name: &http::HeaderName| !HANDSHAKE_ONLY.contains(name);
    let len = parts.headers.iter().filter(|(n, _)| kept(n)).count();
    let mut headers = http::HeaderMap::with_capacity(len);
    for (name, value) in parts.headers.iter().filter(|(n, _)| kept(n)) {
        // `from_bytes` copies the bytes; they were a valid value already.
        if let Ok(mut copy) = http::HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            headers.append(name.clone(), copy);
        }
    }
    parts.headers = headers;
    parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    parts
}

/// Request headers a socket does not keep: the WebSocket handshake's own.
/// (`Sec-WebSocket-Protocol` is kept: an application may look at it.)
pub(crate) const HANDSHAKE_ONLY: [http::HeaderName; 5] = [
    http::header::CONNECTION,
    http::header::UPGRADE,
    http::header::SEC_WEBSOCKET_KEY,
    http::header::SEC_WEBSOCKET_VERSION,
    http::header::SEC_WEBSOCKET_EXTENSIONS,
];

type SocketMap<T> = RwLock<HashMap<Sid, Arc<T>>>;

/// The [`EngineIo`] struct holds the state of the engine.io server as well as utility methods to manage the state
pub struct EngineIo<H: EngineIoHandler> {
    /// A map of all the sockets connected to the server
    sockets: SocketMap<Socket<H::Data>>,

    /// The handler for the engine.io server that will be called when events are received
    pub handler: Arc<H>,

    /// The config for the engine.io server
    pub config: EngineIoConfig,
}

impl<H: EngineIoHandler> EngineIo<H> {
    /// Create a new Engine.IO server with a [`EngineIoHandler`] and a [`EngineIoConfig`]
    pub fn new(handler: Arc<H>, config: EngineIoConfig) -> Self {
        Self {
            sockets: RwLock::new(HashMap::new()),
            config,
            handler,
        }
    }
}

impl<H: EngineIoHandler> EngineIo<H> {
    /// Create a new engine.io session and a new socket and add it to the socket map
    pub(crate) fn create_session(
        self: &Arc<Self>,
        protocol: ProtocolVersion,
        transport: TransportType,
        req: Parts,
        supports_binary: bool,
    ) -> Arc<Socket<H::Data>> {
        let engine = self.clone();
        let close_fn = Box::new(move |sid, reason| engine.close_session(sid, reason));

        let socket = Socket::new(
            protocol,
            transport,
            &self.config,
            own_request_parts(req),
            close_fn,
            supports_binary,
        );
        let socket = Arc::new(socket);
        self.sockets
            .write()
            .unwrap()
            .insert(socket.id, socket.clone());
        self.handler.clone().on_connect(socket.clone());
        socket
    }

    /// Get a socket by its sid
    /// Clones the socket ref to avoid holding the lock
    pub fn get_socket(&self, sid: Sid) -> Option<Arc<Socket<H::Data>>> {
        self.sockets.read().unwrap().get(&sid).cloned()
    }

    /// Close an engine.io session by removing the socket from the socket map and closing the socket.
    ///
    /// It should be the only way to close a session and to remove a socket from the socket map.
    #[cfg_attr(feature = "tracing", tracing::instrument(skip(self)))]
    pub fn close_session(&self, sid: Sid, reason: DisconnectReason) {
        let socket = { self.sockets.write().unwrap().remove(&sid) };
        let Some(socket) = socket else {
            #[cfg(feature = "tracing")]
            tracing::debug!(
                ?sid,
                socket_len = self.sockets.read().unwrap().len(),
                "socket not found"
            );
            return;
        };

        // Notify every transport task listening on this token to stop. Cancellation-aware
        // transports (the ws `forward_to_socket` task and pending polling requests) will release
        // the `internal_rx` lock as soon as they observe the cancellation.
        socket.cancellation_token.cancel();
        // The websocket writer waits on its queue alone (Pulseboard patch 19).
        socket.internal_tx.stop_receiver();

        let handler = self.handler.clone();
        tokio::spawn(async move {
            // Wait for the cancelled transport task to yield the `internal_rx` lock, then close the
            // channel so that `Socket::closed` resolves and no more packets can be buffered.
            // When no transport holds the lock (e.g. polling between requests) this resolves
            // immediately.
            socket.internal_rx.lock().await.buffered_rx.close();

            #[cfg(feature = "tracing")]
            tracing::debug!(sid = %socket.id, "session closed, notifying handler");
            handler.on_disconnect(socket, reason);
        });

        #[cfg(feature = "tracing")]
        tracing::debug!(
            rem_sockets = self.sockets.read().unwrap().len(),
            "remaining sockets",
        );
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use engineioxide_core::Str;
    use http::Request;

    use super::*;

    #[derive(Debug, Clone)]
    struct MockHandler;

    impl EngineIoHandler for MockHandler {
        type Data = ();

        fn on_connect(self: Arc<Self>, socket: Arc<Socket<Self::Data>>) {
            println!("socket connect {}", socket.id);
        }

        fn on_disconnect(&self, socket: Arc<Socket<Self::Data>>, reason: DisconnectReason) {
            println!("socket disconnect {} {:?}", socket.id, reason);
        }

        fn on_message(self: &Arc<Self>, msg: Str, socket: Arc<Socket<Self::Data>>) {
            println!("Ping pong message {msg:?}");
            socket.emit(msg).ok();
        }

        fn on_binary(self: &Arc<Self>, data: Bytes, socket: Arc<Socket<Self::Data>>) {
            println!("Ping pong binary message {data:?}");
            socket.emit_binary(data).ok();
        }
    }

    fn create_engine() -> Arc<EngineIo<MockHandler>> {
        let config = EngineIoConfig::default();
        Arc::new(EngineIo::new(Arc::new(MockHandler), config))
    }

    #[tokio::test]
    async fn create_session() {
        let engine = create_engine();
        let socket = engine.create_session(
            ProtocolVersion::V4,
            TransportType::Polling,
            Request::<()>::default().into_parts().0,
            true,
        );
        assert_eq!(engine.sockets.read().unwrap().len(), 1);
        assert_eq!(socket.protocol, ProtocolVersion::V4);
        assert!(socket.is_http());
    }

    /// The futures a websocket session keeps for its whole life (vendor
    /// patches 9 and 10, BENCHMARKS.md section 1): the connection task and
    /// the heartbeat job inside it. Before the patches they were about twice
    /// these bounds, because moved-from futures kept their slots.
    #[tokio::test]
    async fn session_futures_stay_small() {
        use std::{mem::size_of_val, time::Duration};
        let engine = create_engine();
        let socket = engine.create_session(
            ProtocolVersion::V4,
            TransportType::Websocket,
            Request::<()>::default().into_parts().0,
            false,
        );
        let heartbeat = socket
            .clone()
            .heartbeat(Duration::from_secs(25), Duration::from_secs(20));
        let heartbeat_size = size_of_val(&heartbeat);
        let (conn, _client) = tokio::io::duplex(64);
        let task = crate::transport::ws::on_init(
            engine.clone(),
            conn,
            ProtocolVersion::V4,
            None,
            Request::<()>::default().into_parts().0,
        );
        let task_size = size_of_val(&task);
        println!("heartbeat {heartbeat_size} B, connection task {task_size} B");
        assert!(heartbeat_size <= 640, "heartbeat future {heartbeat_size} B");
        assert!(task_size <= 2560, "connection task future {task_size} B");
    }

    #[tokio::test]
    async fn close_session() {
        let engine = create_engine();
        let socket = engine.create_session(
            ProtocolVersion::V4,
            TransportType::Polling,
            Request::<()>::default().into_parts().0,
            true,
        );
        assert_eq!(engine.sockets.read().unwrap().len(), 1);
        engine.close_session(socket.id, DisconnectReason::TransportClose);
        assert_eq!(engine.sockets.read().unwrap().len(), 0);
    }

    #[tokio::test]
    async fn get_socket() {
        let engine = create_engine();
        let socket = engine.create_session(
            ProtocolVersion::V4,
            TransportType::Polling,
            Request::<()>::default().into_parts().0,
            true,
        );
        assert_eq!(engine.sockets.read().unwrap().len(), 1);
        let socket = engine.get_socket(socket.id).unwrap();
        assert_eq!(socket.protocol, ProtocolVersion::V4);
        assert!(socket.is_http());
    }
}

#[cfg(test)]
mod own_parts_tests {
    use super::own_request_parts;
    use bytes::Bytes;

    #[test]
    fn copied_parts_keep_no_slice_of_the_read_buffer() {
        let buffer = Bytes::from_static(b"/socket.io/?EIO=4&transport=websocketsecret");
        let uri = http::Uri::from_maybe_shared(buffer.slice(0..37)).unwrap();
        let value = http::HeaderValue::from_maybe_shared(buffer.slice(37..43)).unwrap();
        let mut req = http::Request::builder().uri(uri).body(()).unwrap();
        req.headers_mut().append("x-a", value.clone());
        req.headers_mut().append("x-a", value);
        let (parts, _) = req.into_parts();
        let parts = own_request_parts(parts);
        let range = buffer.as_ptr_range();
        assert_eq!(parts.uri, "/socket.io/?EIO=4&transport=websocket");
        let pq = parts.uri.path_and_query().unwrap().as_str().as_ptr();
        assert!(!range.contains(&pq));
        let values: Vec<_> = parts.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["secret", "secret"]);
        for v in values {
            assert!(!range.contains(&v.as_bytes().as_ptr()));
        }
    }
    #[test]
    fn kept_parts_leave_out_the_websocket_handshake_headers() {
        let req = http::Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("host", "127.0.0.1:3000")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-extensions", "permessage-deflate")
            .header("sec-websocket-protocol", "chat")
            .body(())
            .unwrap();
        let parts = own_request_parts(req.into_parts().0);
        let names: Vec<_> = parts.headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["host", "sec-websocket-protocol"]);
        // The map is sized for what it keeps.
        assert!(parts.headers.capacity() < 7, "{}", parts.headers.capacity());
    }
}
