//! A websocket session's frames written straight to its TCP stream from the
//! code that emits them (Pulseboard patch 25).
//!
//! The ws transport queues every packet and wakes the connection task, whose
//! writer takes it from the queue and hands it to tungstenite through the
//! split stream's lock and tokio-tungstenite's `Sink`, which frames it, copies
//! it into its write buffer and writes it. For a broadcast to N sockets that
//! is N task wake-ups and N trips through those layers, which cost more user
//! CPU than the write itself (BENCHMARKS.md section 1).
//!
//! Here the emitting code frames the packet itself (a server's frames are not
//! masked: a header of 2-10 bytes before the payload) and writes header and
//! payload with one vectored non-blocking `write(2)` on the spot, under a
//! per-session lock that keeps frames whole and in the order they were
//! emitted. Only what the kernel does not take at once (a client that reads
//! slower than the server sends) is kept, in order, and a task of its own
//! writes it once the socket is writable again; while anything is kept, new
//! frames queue behind it. The reader still runs tungstenite over the read
//! side; the few bytes tungstenite itself writes (a pong to a websocket ping)
//! go through the same lock ([`DirectStream`]).
//!
//! Used for new websocket sessions on a plain TCP connection when
//! [`EngineIoConfig::ws_direct_write`](crate::config::EngineIoConfig) is set.
//! A session upgraded from polling, and a TLS connection, take the queued
//! path.

use std::{
    collections::VecDeque,
    io::{self, IoSlice},
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, ready},
};

use bytes::{Bytes, BytesMut};
use engineioxide_core::{Packet, PacketBuf, ProtocolVersion};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    runtime::Handle,
};

/// Why a packet was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `capacity` frames are waiting for a client that does not read.
    Full,
    /// The session is closing or the connection is broken.
    Closed,
}

/// The write side of a websocket session on a TCP stream.
#[derive(Debug)]
pub(crate) struct DirectOut {
    tcp: Arc<TcpStream>,
    state: Mutex<OutState>,
    /// How many frames may wait (the queue's `max_buffer_size`).
    capacity: usize,
    /// Where the task that writes what waits is spawned (a packet may be
    /// emitted from a thread outside the runtime).
    runtime: Handle,
}

#[derive(Debug, Default)]
struct OutState {
    /// Bytes accepted and not written yet, in order: whole frames, the first
    /// one possibly started. Not empty means a drain task is running.
    waiting: VecDeque<Bytes>,
    /// No new frame is accepted: the session is closing, or a write failed.
    closed: bool,
}

impl OutState {
    /// The connection is broken: nothing more is accepted or written.
    fn broken(&mut self) {
        self.closed = true;
        self.waiting.clear();
    }
}

/// A frame's header, plus one byte of payload prefix (engine.io v3 binary).
struct Header {
    bytes: [u8; 11],
    len: usize,
}

impl Header {
    fn new(opcode: u8, prefix: Option<u8>, payload_len: usize) -> Self {
        let len = payload_len + usize::from(prefix.is_some());
        let mut bytes = [0u8; 11];
        bytes[0] = 0x80 | opcode; // FIN, no fragments
        let mut at = if len < 126 {
            bytes[1] = len as u8;
            2
        } else if len <= usize::from(u16::MAX) {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        };
        if let Some(p) = prefix {
            bytes[at] = p;
            at += 1;
        }
        Self { bytes, len: at }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;

/// At most this many waiting chunks are handed to one `writev`.
const MAX_SLICES: usize = 32;

impl DirectOut {
    /// Must be called inside a tokio runtime.
    pub(crate) fn new(tcp: Arc<TcpStream>, capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            tcp,
            state: Mutex::new(OutState::default()),
            capacity: capacity.max(1),
            runtime: Handle::current(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, OutState> {
        // A panic while the lock was held cannot leave a frame half queued
        // (each push is one operation), so the state is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether one more packet would be accepted now (what `reserve` asks).
    pub(crate) fn room(&self) -> Result<(), Refused> {
        let s = self.lock();
        if s.closed {
            Err(Refused::Closed)
        } else if s.waiting.len() >= self.capacity {
            Err(Refused::Full)
        } else {
            Ok(())
        }
    }

    /// Frames and writes `packets`, all of them or none, in order. With
    /// `reserved`, room was checked by [`DirectOut::room`] before (a permit):
    /// only a closed session refuses.
    pub(crate) fn send(
        self: &Arc<Self>,
        packets: PacketBuf,
        protocol: ProtocolVersion,
        reserved: bool,
    ) -> Result<(), (Refused, PacketBuf)> {
        let mut s = self.lock();
        if s.closed {
            return Err((Refused::Closed, packets));
        }
        if !reserved && s.waiting.len() >= self.capacity {
            return Err((Refused::Full, packets));
        }
        for packet in packets {
            self.frame_packet(&mut s, packet, protocol);
        }
        Ok(())
    }

    /// Writes `packets` only if nothing is waiting (a volatile message is
    /// dropped rather than queued behind a slow client); `false` when
    /// dropped or closed, as `Socket::emit_volatile` says.
    pub(crate) fn send_volatile(
        self: &Arc<Self>,
        packets: PacketBuf,
        protocol: ProtocolVersion,
    ) -> bool {
        let mut s = self.lock();
        if s.closed || !s.waiting.is_empty() {
            return false;
        }
        for packet in packets {
            self.frame_packet(&mut s, packet, protocol);
        }
        true
    }

    fn frame_packet(self: &Arc<Self>, s: &mut OutState, packet: Packet, protocol: ProtocolVersion) {
        match packet {
            Packet::Binary(bin) | Packet::BinaryV3(bin) => {
                // Engine.io v3 puts the packet type before the binary payload.
                let prefix = (protocol == ProtocolVersion::V3).then_some(0x04);
                self.write_frame(s, Header::new(OP_BINARY, prefix, bin.len()), bin);
            }
            // Sent to end a pending polling request; nothing to do on a websocket.
            Packet::Noop => {}
            // A broadcast's text, encoded once for every socket (patch 20).
            Packet::EncodedMessage(text) => {
                let text: Bytes = text.into();
                self.write_frame(s, Header::new(OP_TEXT, None, text.len()), text);
            }
            packet => {
                let text = Bytes::from(String::from(packet));
                self.write_frame(s, Header::new(OP_TEXT, None, text.len()), text);
            }
        }
    }

    /// Writes a frame now if nothing is waiting; what the kernel does not
    /// take (and any frame behind waiting bytes) waits for the drain task.
    /// A broken connection closes the session: the reader sees it too and
    /// ends it.
    fn write_frame(self: &Arc<Self>, s: &mut OutState, header: Header, payload: Bytes) {
        if let Err(_e) = self.put(s, header.as_slice(), payload) {
            #[cfg(feature = "tracing")]
            tracing::debug!("direct ws write failed: {_e}");
        }
    }

    /// Bytes tungstenite writes itself (a pong to a websocket ping): queued
    /// in order with the frames, written like them.
    fn write_raw(self: &Arc<Self>, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.lock();
        if s.closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.put(&mut s, &[], Bytes::copy_from_slice(bytes))
    }

    /// `head` then `payload`: behind what waits, or written now with one
    /// `writev`, the rest left waiting for a drain task spawned for it.
    fn put(self: &Arc<Self>, s: &mut OutState, head: &[u8], payload: Bytes) -> io::Result<()> {
        if !s.waiting.is_empty() {
            s.waiting.push_back(joined(head, payload));
            return Ok(());
        }
        let written = match self
            .tcp
            .try_write_vectored(&[IoSlice::new(head), IoSlice::new(&payload)])
        {
            Ok(n) => n,
            Err(e) if retry(&e) => 0,
            Err(e) => {
                s.broken();
                return Err(e);
            }
        };
        if written >= head.len() + payload.len() {
            return Ok(());
        }
        let rest = if written < head.len() {
            joined(&head[written..], payload)
        } else {
            payload.slice(written - head.len()..)
        };
        s.waiting.push_back(rest);
        self.runtime.spawn(Arc::clone(self).drain());
        Ok(())
    }

    /// Writes what waits until nothing does; the task spawned when bytes
    /// first had to wait. Ends when the connection breaks.
    async fn drain(self: Arc<Self>) {
        let _ = self.flush().await;
    }

    /// Writes what waits, in order, waiting for the socket as needed.
    async fn flush(&self) -> io::Result<()> {
        loop {
            {
                let mut s = self.lock();
                loop {
                    if s.waiting.is_empty() {
                        return Ok(());
                    }
                    let written = {
                        let slices: smallvec::SmallVec<[IoSlice<'_>; MAX_SLICES]> = s
                            .waiting
                            .iter()
                            .take(MAX_SLICES)
                            .map(|b| IoSlice::new(b))
                            .collect();
                        self.tcp.try_write_vectored(&slices)
                    };
                    match written {
                        Ok(mut n) => {
                            while n > 0 {
                                let Some(front) = s.waiting.front_mut() else {
                                    break;
                                };
                                if n >= front.len() {
                                    n -= front.len();
                                    s.waiting.pop_front();
                                } else {
                                    let _ = front.split_to(n);
                                    n = 0;
                                }
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            s.broken();
                            return Err(e);
                        }
                    }
                }
            }
            if let Err(e) = self.tcp.writable().await {
                self.lock().broken();
                return Err(e);
            }
        }
    }

    /// Ends the write side: no new frame is accepted, what waits is written,
    /// then a websocket close frame, then the TCP write side is shut down
    /// (the client sees the end of the stream after the close frame).
    pub(crate) async fn close(&self, timeout: std::time::Duration) {
        let broken = {
            let mut s = self.lock();
            let broken = s.closed;
            s.closed = true;
            if !broken {
                // Behind whatever waits; `flush` below writes it.
                s.waiting
                    .push_back(Bytes::from_static(&[0x80 | OP_CLOSE, 0]));
            }
            broken
        };
        if !broken {
            // A client that stopped reading does not hold the session open.
            let _ = tokio::time::timeout(timeout, self.flush()).await;
        }
        let _ = socket2::SockRef::from(&*self.tcp).shutdown(std::net::Shutdown::Write);
    }
}

/// `head` and `payload` as one waiting chunk (`payload` itself when there is
/// no head).
fn joined(head: &[u8], payload: Bytes) -> Bytes {
    if head.is_empty() {
        return payload;
    }
    let mut b = BytesMut::with_capacity(head.len() + payload.len());
    b.extend_from_slice(head);
    b.extend_from_slice(&payload);
    b.freeze()
}

/// A write that took nothing now and may take it later.
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// What tungstenite reads from and writes to in a direct session: the TCP
/// stream's read side (after the bytes hyper had already read past the
/// upgrade request), and writes through the session's [`DirectOut`].
pub(crate) struct DirectStream {
    /// Read by hyper past the HTTP upgrade request: the client's first bytes.
    head: Bytes,
    /// The session's write side; its stream is the one read here.
    out: Arc<DirectOut>,
}

impl DirectStream {
    pub(crate) fn new(head: Bytes, out: Arc<DirectOut>) -> Self {
        Self { head, out }
    }
}

impl AsyncRead for DirectStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.head.is_empty() {
            let n = this.head.len().min(buf.remaining());
            buf.put_slice(&this.head.split_to(n));
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.out.tcp.poll_read_ready(cx))?;
            // tokio-tungstenite hands over an initialised buffer: this is free.
            match this.out.tcp.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Readiness was cleared: poll it again (registers the waker).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for DirectStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.out.write_raw(buf).map(|()| buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use smallvec::smallvec;
    use tokio::net::TcpListener;
    use tokio_tungstenite::{
        WebSocketStream,
        tungstenite::{Message, protocol::Role},
    };

    async fn pair(capacity: usize) -> (Arc<DirectOut>, WebSocketStream<TcpStream>, Arc<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr);
        let (server, client) = tokio::join!(listener.accept(), client);
        let tcp = Arc::new(server.unwrap().0);
        let out = DirectOut::new(tcp.clone(), capacity);
        let client = WebSocketStream::from_raw_socket(client.unwrap(), Role::Client, None).await;
        (out, client, tcp)
    }

    #[test]
    fn headers_use_the_shortest_length() {
        assert_eq!(Header::new(OP_TEXT, None, 5).as_slice(), &[0x81, 5]);
        assert_eq!(Header::new(OP_TEXT, None, 125).as_slice(), &[0x81, 125]);
        assert_eq!(
            Header::new(OP_TEXT, None, 126).as_slice(),
            &[0x81, 126, 0, 126]
        );
        assert_eq!(
            Header::new(OP_BINARY, None, 65535).as_slice(),
            &[0x82, 126, 0xff, 0xff]
        );
        assert_eq!(
            Header::new(OP_BINARY, None, 65536).as_slice(),
            &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(
            Header::new(OP_BINARY, Some(4), 124).as_slice(),
            &[0x82, 125, 4]
        );
        assert_eq!(
            Header::new(OP_BINARY, Some(4), 125).as_slice(),
            &[0x82, 126, 0, 126, 4]
        );
    }

    /// What a websocket client reads is the packets in the order they were
    /// emitted, whole, also when the kernel's buffer fills and the rest waits.
    #[tokio::test]
    async fn a_client_reads_every_frame_in_order_also_after_a_full_buffer() {
        let (out, mut client, _tcp) = pair(1 << 20).await;
        let big = "x".repeat(70_000);
        // Far more than a loopback socket buffer takes while the client reads nothing.
        let n = 400;
        for i in 0..n {
            let text = Packet::encode_message(&format!("{i}:{big}"));
            out.send(
                smallvec![Packet::EncodedMessage(text)],
                ProtocolVersion::V4,
                false,
            )
            .unwrap();
        }
        assert!(
            !out.lock().waiting.is_empty(),
            "the test should fill the socket buffer"
        );
        out.send(
            smallvec![Packet::Binary(Bytes::from_static(b"\x01\x02"))],
            ProtocolVersion::V4,
            false,
        )
        .unwrap();
        out.send(smallvec![Packet::Ping], ProtocolVersion::V4, false)
            .unwrap();
        for i in 0..n {
            let msg = client.next().await.unwrap().unwrap();
            assert_eq!(msg, Message::text(format!("4{i}:{big}")), "frame {i}");
        }
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2])
        );
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("2"));
        out.close(std::time::Duration::from_secs(10)).await;
        assert!(matches!(
            client.next().await.unwrap().unwrap(),
            Message::Close(_)
        ));
        assert!(
            out.send(smallvec![Packet::Ping], ProtocolVersion::V4, false)
                .is_err(),
            "a closed session takes no packet"
        );
    }

    /// The same while the client reads all along on another thread: the
    /// kernel's buffer fills and empties again and again, so a frame is
    /// often emitted while earlier bytes wait and the socket has room; it
    /// must still go behind them (written at once, it would be out of order
    /// or cut into a frame that was written in part).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_stay_whole_and_in_order_while_the_client_reads() {
        let (out, mut client, _tcp) = pair(1 << 20).await;
        let n = 3000;
        let reader = tokio::spawn(async move {
            for i in 0..n {
                let msg = client.next().await.unwrap().unwrap();
                let text = msg.into_text().unwrap();
                let got = text.split(':').next().unwrap().to_owned();
                assert_eq!(got, format!("4{i}"), "frame {i}");
                assert_eq!(
                    text.len(),
                    got.len() + 1 + 20_000 + i % 7,
                    "frame {i} whole"
                );
            }
        });
        let mut waited = 0;
        for i in 0..n {
            let text = Packet::encode_message(&format!("{i}:{}", "y".repeat(20_000 + i % 7)));
            out.send(
                smallvec![Packet::EncodedMessage(text)],
                ProtocolVersion::V4,
                true,
            )
            .unwrap();
            waited += usize::from(!out.lock().waiting.is_empty());
            tokio::task::yield_now().await;
        }
        tokio::time::timeout(std::time::Duration::from_secs(60), reader)
            .await
            .expect("the client reads every frame")
            .unwrap();
        assert!(
            waited > 0,
            "the socket buffer never filled: the test tested nothing"
        );
    }

    /// A client that does not read fills `capacity` waiting frames; then a
    /// send is refused as full (a broadcast drops such a socket, patch 14).
    #[tokio::test]
    async fn a_client_that_does_not_read_makes_the_session_full() {
        let (out, _client, _tcp) = pair(4).await;
        let big = Packet::encode_message(&"y".repeat(1 << 20));
        let mut refused = None;
        for _ in 0..1000 {
            if let Err((why, _)) = out.send(
                smallvec![Packet::EncodedMessage(big.clone())],
                ProtocolVersion::V4,
                false,
            ) {
                refused = Some(why);
                break;
            }
        }
        assert_eq!(refused, Some(Refused::Full));
        assert_eq!(out.room(), Err(Refused::Full));
        // A volatile message is dropped behind waiting frames, not queued.
        let before = out.lock().waiting.len();
        assert!(
            !out.send_volatile(smallvec![Packet::Ping], ProtocolVersion::V4),
            "dropped, and said so"
        );
        assert_eq!(out.lock().waiting.len(), before);
    }

    /// Engine.io v3 sends a binary payload after a 0x04 byte.
    #[tokio::test]
    async fn a_v3_binary_frame_starts_with_its_packet_type() {
        let (out, mut client, _tcp) = pair(8).await;
        out.send(
            smallvec![Packet::BinaryV3(Bytes::from_static(b"ab"))],
            ProtocolVersion::V3,
            false,
        )
        .unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::binary(vec![4u8, b'a', b'b'])
        );
    }
}
