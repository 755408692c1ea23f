//! An in-process pulseboard-server for the shell's tests.
#![allow(dead_code)]

pub mod mock;

use pulseboard_server::{Config, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server on 127.0.0.1:0 with its database in a temp dir (kept while the
/// value lives).
pub struct Server {
    /// Its base URL.
    pub url: String,
    _handle: ServerHandle,
    _dir: tempfile::TempDir,
}

/// Start one without the simulator, with `token` as its full-rights token.
pub async fn pulseboard(token: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("s.db"));
    config.simulator = false;
    config.token = token.map(str::to_string);
    let handle = pulseboard_server::spawn(config)
        .await
        .expect("server starts");
    Server {
        url: handle.url(),
        _handle: handle,
        _dir: dir,
    }
}

/// A web server that answers every request with 404.
pub async fn plain_http_404() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found")
                    .await;
            });
        }
    });
    url
}
