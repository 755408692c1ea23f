//! The accept loop: connection caps, TLS, HTTP/1.1 with a header-read timeout
//! (which also bounds how long an idle keep-alive connection stays open), and
//! graceful shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{extract::ConnectInfo, Router};
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
    router: Router,
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
            // Best effort, never blocks: the peer may not read at all.
            let _ = stream.try_write(guard::BUSY_RESPONSE);
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
    router: Router,
    net: &Net,
    mut stopping: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = tower::ServiceExt::map_request(router, move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
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
