//! `https://` servers: a private certificate authority trusted in addition to
//! the system roots, and a certificate that cannot be verified refused with a
//! state that says so (no retry loop). The TLS endpoint is a proxy made in the
//! test (a CA and a `localhost` certificate from rcgen) in front of a real
//! server.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use pulseboard_core::{Command, ConnectionState, TransportKind, TransportMode, Update};
use tokio::net::{TcpListener, TcpStream};

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Pulseboard test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: leaf.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A TLS endpoint on 127.0.0.1:0 forwarding to `target` in plain TCP.
async fn tls_proxy(pki: &Pki, target: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let id = native_tls::Identity::from_pkcs8(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes())
        .expect("identity");
    let acceptor =
        tokio_native_tls::TlsAcceptor::from(native_tls::TlsAcceptor::new(id).expect("acceptor"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(inbound).await else {
                    return;
                };
                let Ok(mut out) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut out).await;
            });
        }
    });
    (addr, accepted)
}

fn write_ca(dir: &tempfile::TempDir, pem: &str) -> PathBuf {
    let p = dir.path().join("ca.pem");
    std::fs::write(&p, pem).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_over_websocket_and_polling() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), None).await;
    let pki = pki();
    let (addr, _) = tls_proxy(&pki, srv.addr).await;
    let ca = write_ca(&dir, &pki.ca_pem);
    for (mode, kind) in [
        (TransportMode::Websocket, TransportKind::Websocket),
        (TransportMode::Polling, TransportKind::Polling),
    ] {
        let mut cfg = config(&format!("https://localhost:{}", addr.port()), mode, None);
        cfg.ca = Some(ca.clone());
        let mut c = start(cfg);
        let st = until_state(&mut c.rx, "live").await;
        assert!(
            matches!(st, ConnectionState::Live { transport, .. } if transport == kind),
            "{st:?}"
        );
        c.client.shutdown().await;
    }
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverifiable_certificate_is_refused_with_a_state_that_says_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), None).await;
    let pki = pki();
    let (addr, accepted) = tls_proxy(&pki, srv.addr).await;
    let url = format!("https://localhost:{}", addr.port());
    for mode in [
        TransportMode::Websocket,
        TransportMode::Polling,
        TransportMode::Auto,
    ] {
        let mut c = start(config(&url, mode, None));
        let st = until(&mut c.rx, "a terminal state", |u| match u {
            Update::Connection(s @ ConnectionState::Certificate { .. }) => Some(s.clone()),
            Update::Connection(s @ ConnectionState::Live { .. }) => Some(s.clone()),
            _ => None,
        })
        .await;
        let ConnectionState::Certificate { message } = &st else {
            panic!("{mode:?}: an unknown authority was trusted: {st:?}");
        };
        assert!(message.contains("certificate"), "{message}");
        // No retry loop: a window several times the retry delay stays quiet.
        let tries = accepted.load(Ordering::SeqCst);
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(1200), c.rx.recv()).await;
        assert!(
            quiet.is_err(),
            "{mode:?}: a state change after refusing: {quiet:?}"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), tries, "{mode:?}: no retry");

        // Trusting the CA (a settings change) connects.
        c.client
            .send(Command::SetCa(Some(write_ca(&dir, &pki.ca_pem))));
        until_state(&mut c.rx, "live").await;
        c.client.shutdown().await;
    }
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_ca_file_is_a_certificate_state_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_ca(&dir, "not a certificate");
    let mut cfg = config("https://localhost:9", TransportMode::Websocket, None);
    cfg.ca = Some(bad);
    let mut c = start(cfg);
    let st = until_state(&mut c.rx, "certificate").await;
    assert!(
        matches!(&st, ConnectionState::Certificate { message } if message.contains("certificate authority")),
        "{st:?}"
    );
    c.client.shutdown().await;
}
