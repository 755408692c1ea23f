//! The accept loop: connection caps, TLS, HTTP/1.1 with a header-read timeout
//! (which also bounds how long an idle keep-alive connection stays open), and
//! graceful shutdown.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{extract::ConnectInfo, response::Response};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::{mpsc, watch},
};
use tokio_rustls::TlsAcceptor;

use crate::{guard, metrics::Metrics};

/// The whole HTTP service a connection is served by.
pub(crate) type Service =
    tower::util::BoxCloneSyncService<axum::extract::Request, Response, Infallible>;

/// Box a service (origin check, Socket.IO layer, axum Router) for the accept loop.
pub(crate) fn service<S>(svc: S) -> Service
where
    S: tower::Service<axum::extract::Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    Service::new(svc)
}

/// What the accept loop needs.
pub(crate) struct Net {
    pub(crate) caps: Arc<guard::ConnCaps>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) header_timeout: Duration,
    pub(crate) metrics: Arc<Metrics>,
}

/// Accept and serve until `stop` completes; then let open connections finish
/// for up to `grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Service,
    net: Net,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    // Every connection task holds a clone of `done_tx`; once they have all
    // ended, `done_rx` yields None (the mini-redis shutdown pattern).
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let net = Arc::new(net);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin, then go on serving.
                    tracing::warn!(%e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Some(slot) = net.caps.admit(peer.ip()) else {
            net.metrics.connections_refused.inc();
            tracing::debug!(%peer, "connection cap reached; refusing");
            // Best effort, never blocks: the peer may not read at all. A TLS
            // port only closes: plain HTTP would reach a TLS client as a
            // corrupt record, and a handshake per refused connection would
            // cost what the cap is there to save.
            if net.tls.is_none() {
                let _ = stream.try_write(guard::BUSY_RESPONSE);
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (done, stopping) = (done_tx.clone(), stop_rx.clone());
        let router = router.clone();
        let net = net.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _done = done;
            match &net.tls {
                None => serve_one(stream, peer, router, &net, stopping).await,
                Some(acceptor) => {
                    match tokio::time::timeout(net.header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_one(tls, peer, router, &net, stopping).await,
                        Ok(Err(e)) => tracing::debug!(%peer, %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_tx);
    tokio::select! {
        _ = done_rx.recv() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("connections still open after {:?}; stopping anyway", grace);
        }
    }
}

async fn serve_one<S>(
    stream: S,
    peer: SocketAddr,
    router: Service,
    net: &Net,
    mut stopping: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = tower::ServiceExt::map_request(router, move |req: hyper::Request<Incoming>| {
        let mut req = unpin_read_buffer(req);
        req.extensions_mut().insert(ConnectInfo(peer));
        req.map(axum::body::Body::new)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(net.header_timeout)
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc))
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
            // Finish the request in flight, then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, %e, "connection ended with an error");
    }
}

/// Give a request its own copies of the URI and header values.
///
/// hyper parses the URI and every header value as slices (`Bytes`) of the
/// connection's read buffer (8 KiB and up). Engine.IO keeps the handshake
/// request's parts in its socket for the whole session, so without this copy
/// each WebSocket connection keeps that whole buffer alive: about 4 KiB per
/// connection measured (BENCHMARKS.md, vendor/PATCHES.md). Copying costs a
/// few small allocations per request.
pub(crate) fn unpin_read_buffer<B>(req: hyper::Request<B>) -> hyper::Request<B> {
    let (mut parts, body) = req.into_parts();
    if let Ok(uri) = hyper::Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
    let mut headers = hyper::HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        // from_bytes copies; it cannot fail on bytes that were a valid value.
        if let Ok(mut copy) = hyper::header::HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            headers.append(name.clone(), copy);
        }
    }
    parts.headers = headers;
    hyper::Request::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_request_keeps_no_slice_of_the_read_buffer() {
        // hyper builds the URI and header values as slices of one buffer.
        let buffer = bytes::Bytes::from_static(b"/socket.io/?EIO=4&transport=websocketAbc def");
        let uri = hyper::Uri::from_maybe_shared(buffer.slice(0..37)).unwrap();
        let value = hyper::header::HeaderValue::from_maybe_shared(buffer.slice(37..44)).unwrap();
        let mut req = hyper::Request::builder().uri(uri).body(()).unwrap();
        req.headers_mut().append("x-test", value.clone());
        req.headers_mut().append("x-test", value);
        let range = buffer.as_ptr_range();
        let copied = unpin_read_buffer(req);
        assert_eq!(copied.uri(), "/socket.io/?EIO=4&transport=websocket");
        let values: Vec<_> = copied.headers().get_all("x-test").iter().collect();
        assert_eq!(values, ["Abc def", "Abc def"]);
        let path = copied.uri().path_and_query().unwrap().as_str().as_ptr();
        assert!(
            !range.contains(&path),
            "the URI still points into the read buffer"
        );
        for v in values {
            assert!(
                !range.contains(&v.as_bytes().as_ptr()),
                "a header value still points into the read buffer"
            );
        }
    }
}
