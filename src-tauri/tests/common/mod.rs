//! An in-process pulseboard-server for the shell's tests.

use pulseboard_server::{Config, ServerHandle};

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
