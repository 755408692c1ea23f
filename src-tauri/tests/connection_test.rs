//! "Test connection" (the first-run setup's answer) against real servers:
//! ours with and without a token, a plain HTTP server answering 404, a port
//! where nothing listens, a server that never answers, a bad URL.

mod common;

use std::time::Duration;

use common::{plain_http_404, pulseboard};

use pulseboard_app::connection_test::{test_connection, Outcome};
use tokio::net::TcpListener;

/// Generous: the machine is loaded, and each step gets this much.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_with_the_right_token_is_reachable() {
    let srv = pulseboard(Some("s3cret")).await;
    let t = test_connection(&srv.url, Some("s3cret"), None, WAIT).await;
    assert_eq!(t.kind, Outcome::Reachable, "{t:?}");
    assert!(t.message.contains(&srv.url), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_server_is_reachable_without_a_token() {
    let srv = pulseboard(None).await;
    let t = test_connection(&format!("{}/", srv.url), None, None, WAIT).await;
    assert_eq!(t.kind, Outcome::Reachable, "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_token_is_unauthorized() {
    let srv = pulseboard(Some("s3cret")).await;
    let t = test_connection(&srv.url, Some("wrong"), None, WAIT).await;
    assert_eq!(t.kind, Outcome::Unauthorized, "{t:?}");
    assert!(t.message.contains("refused the token"), "{t:?}");
    let t = test_connection(&srv.url, None, None, WAIT).await;
    assert_eq!(t.kind, Outcome::Unauthorized, "{t:?}");
    assert!(t.message.contains("wants a token"), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_server_answering_404_is_not_pulseboard() {
    let url = plain_http_404().await;
    let t = test_connection(&url, None, None, WAIT).await;
    assert_eq!(t.kind, Outcome::NotPulseboard, "{t:?}");
    assert!(t.message.contains("404"), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_has_nothing_listening() {
    let port = pulseboard_testkit::free_port();
    let t = test_connection(&format!("http://127.0.0.1:{port}"), None, None, WAIT).await;
    assert_eq!(t.kind, Outcome::NothingListening, "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (keep_tx, mut keep_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Accept and hold every connection, never writing a byte.
        while let Ok((s, _)) = listener.accept().await {
            let _ = keep_tx.send(s);
        }
    });
    let t = test_connection(&url, None, None, Duration::from_secs(1)).await;
    assert_eq!(t.kind, Outcome::Timeout, "{t:?}");
    keep_rx.close();
}

#[tokio::test]
async fn a_url_that_is_not_http_is_refused_before_any_network() {
    let t = test_connection("ftp://example.com", None, None, WAIT).await;
    assert_eq!(t.kind, Outcome::InvalidUrl, "{t:?}");
    assert!(t.message.contains("http://"), "{t:?}");
}

/// An HTTPS server whose certificate no one trusts (self-signed, made for
/// 127.0.0.1 with `openssl req -x509`; the files are in tests/fixtures).
async fn https_self_signed() -> String {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{crypto::ring, ServerConfig};

    let certs =
        vec![
            CertificateDer::from_pem_slice(include_bytes!("fixtures/self-signed-cert.pem"))
                .unwrap(),
        ];
    let key =
        PrivateKeyDer::from_pem_slice(include_bytes!("fixtures/self-signed-key.pem")).unwrap();
    let config = ServerConfig::builder_with_provider(std::sync::Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // The client gives up at the certificate; nothing more to serve.
                let _ = acceptor.accept(s).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_certificate_problem() {
    let url = https_self_signed().await;
    let t = test_connection(&url, None, None, WAIT).await;
    assert_eq!(t.kind, Outcome::Certificate, "{t:?}");
    assert!(t.message.contains("not trusted"), "{t:?}");
}

/// The probe trusts the CA the app trusts: with it our TLS server is
/// reachable (both steps: the HTTP handshake and the core connection);
/// without it, a certificate problem; an unusable CA file says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_trusts_the_configured_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pulseboard_testkit::make_certs(dir.path());
    let mut config = pulseboard_server::Config::new(dir.path().join("s.db"));
    config.token = Some("s3cret".into());
    config.tls = Some((cert, key));
    let server = pulseboard_server::spawn(config).await.unwrap();
    let url = server.url();
    assert!(url.starts_with("https://"), "{url}");

    let t = test_connection(&url, Some("s3cret"), Some(&ca), WAIT).await;
    assert_eq!(t.kind, Outcome::Reachable, "{t:?}");

    let t = test_connection(&url, Some("s3cret"), None, WAIT).await;
    assert_eq!(t.kind, Outcome::Certificate, "{t:?}");
    assert!(
        t.message.contains("certificate authority in Settings"),
        "{t:?}"
    );

    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "no certificate here").unwrap();
    let t = test_connection(&url, Some("s3cret"), Some(&junk), WAIT).await;
    assert_eq!(t.kind, Outcome::Certificate, "{t:?}");
    assert!(t.message.contains("holds no PEM certificate"), "{t:?}");
    server.stop().await.unwrap();
}
