//! The on-disk cache: what the user saw last, plus queued mark-reads.
//!
//! Saved atomically (write a temp file beside it, fsync, rename), debounced so a
//! flood of updates costs one write per interval. A missing cache means demo
//! data, labelled as such; a corrupt one is set aside (`.corrupt`) with a clear
//! error and demo data is used, so a bad file never stops the app.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pulseboard_protocol::{sample, Module};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::store::{ClientState, DataSource, ModuleView, Store};

/// Version of the cache file format.
pub const CACHE_VERSION: u32 = 1;

/// The file's content: the state a user saw, with a version and a date.
/// Connection state and counters are written too but reset on load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheFile {
    /// Format version.
    pub version: u32,
    /// When it was written.
    pub saved_at: DateTime<Utc>,
    /// What the user saw, including the mark-read outbox.
    #[serde(flatten)]
    pub state: ClientState,
}

/// Why a cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Could not read or write.
    #[error("cache {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a cache this version understands.
    #[error("cache {path} is unreadable ({reason}); it was moved aside and demo data is shown")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
}

impl CacheFile {
    /// Capture what should survive a restart.
    pub fn from_state(s: &ClientState, now: DateTime<Utc>) -> Self {
        CacheFile {
            version: CACHE_VERSION,
            saved_at: now,
            state: s.clone(),
        }
    }

    /// A state showing this cache, labelled with when it was saved.
    pub fn into_state(self, server: &str) -> ClientState {
        let fresh = ClientState::empty(server);
        ClientState {
            connection: fresh.connection,
            counters: fresh.counters,
            source: DataSource::Cache {
                saved_at: self.saved_at,
            },
            ..self.state
        }
    }
}

/// Built-in demo data, labelled [`DataSource::Demo`].
///
/// Demo values are stamped at the Unix epoch, whatever `now` is, and start no
/// history: any server data is newer under any newest-wins rule (the store's
/// or a consumer's), so going Live replaces every demo value and no sparkline
/// joins a demo value to a real one.
pub fn demo_state(server: &str, now: DateTime<Utc>) -> ClientState {
    let _ = now;
    let stamp = DateTime::<Utc>::UNIX_EPOCH;
    let mut s = ClientState::empty(server);
    for m in Module::ALL {
        let latest = sample::module_kpis(m, stamp);
        let history = latest
            .kpis
            .iter()
            .map(|k| (k.key.clone(), VecDeque::new()))
            .collect();
        s.modules.insert(
            m,
            ModuleView {
                latest,
                history,
                history_at: Default::default(),
                demo: true,
                marks: Default::default(),
            },
        );
    }
    s.dashboard = Some(sample::dashboard(stamp));
    s.dashboard_demo = true;
    s.source = DataSource::Demo;
    s
}

/// Read a cache file. `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<CacheFile>, CacheError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CacheError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    let parsed: Result<CacheFile, String> =
        serde_json::from_slice(&bytes).map_err(|e| e.to_string());
    match parsed {
        Ok(c) if c.version == CACHE_VERSION => Ok(Some(c)),
        Ok(c) => Err(CacheError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("format version {} is not {CACHE_VERSION}", c.version),
        }),
        Err(reason) => Err(CacheError::Corrupt {
            path: path.to_path_buf(),
            reason,
        }),
    }
}

/// The state to start with: the cache if usable, else demo data. A corrupt
/// cache is renamed to `<name>.corrupt` and reported, never fatal.
pub fn initial_state(
    path: &Path,
    server: &str,
    now: DateTime<Utc>,
) -> (ClientState, Option<CacheError>) {
    match load(path) {
        Ok(Some(c)) => (c.into_state(server), None),
        Ok(None) => (demo_state(server, now), None),
        Err(e) => {
            if matches!(e, CacheError::Corrupt { .. }) {
                let mut aside = path.as_os_str().to_owned();
                aside.push(".corrupt");
                let _ = std::fs::rename(path, PathBuf::from(aside));
            }
            (demo_state(server, now), Some(e))
        }
    }
}

/// Create `dir` (and missing parents) private to the user: 0700 on Unix.
/// An existing directory keeps its mode (it may be shared on purpose).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Write atomically and privately: a 0600 file in a folder created 0700
/// ([`crate::files::write_atomically`]: temp file, fsync, rename, fsync the
/// folder).
pub fn save(path: &Path, cache: &CacheFile) -> Result<(), CacheError> {
    let io = |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_private_dir(dir).map_err(io)?;
    let json = serde_json::to_vec(cache).map_err(|e| io(std::io::Error::other(e)))?;
    crate::files::write_atomically(path, &json, 0o600).map_err(io)
}

/// Save the store's state now (unless it only holds demo data).
pub fn save_store(store: &Store, path: &Path) -> Result<bool, CacheError> {
    let cache = store.read(|s| {
        (s.source != DataSource::Demo || !s.outbox.is_empty())
            .then(|| CacheFile::from_state(s, Utc::now()))
    });
    match cache {
        Some(c) => save(path, &c).map(|_| true),
        None => Ok(false),
    }
}

/// Cached states of other servers kept at most (the least recently left
/// go first).
pub const MAX_SERVER_CACHES: usize = 16;

/// The file of the cache of the store `server_id` in `dir`. None for an id
/// that is not a plain name (`[A-Za-z0-9_-]`, at most 128 characters): the
/// id comes from the server and must not choose a path.
pub fn server_cache_path(dir: &Path, server_id: &str) -> Option<PathBuf> {
    let plain = !server_id.is_empty()
        && server_id.len() <= 128
        && server_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then(|| dir.join(format!("{server_id}.json")))
}

/// One cache per server: keep `state` (what was shown of the store it names,
/// its cursor and its queued mark-reads) in `dir` when the client leaves that
/// store for another, so coming back shows it again and sends what was
/// queued for it. A state with no `serverId` or only demo data is not kept.
/// Only the [`MAX_SERVER_CACHES`] most recently left are kept.
pub fn archive_server_state(dir: &Path, state: &ClientState) -> Result<bool, CacheError> {
    let Some(path) = state
        .server_id
        .as_deref()
        .and_then(|id| server_cache_path(dir, id))
    else {
        return Ok(false);
    };
    if state.source == DataSource::Demo && state.outbox.is_empty() {
        return Ok(false);
    }
    save(&path, &CacheFile::from_state(state, Utc::now()))?;
    prune_server_caches(dir, &path);
    Ok(true)
}

/// Keep the newest [`MAX_SERVER_CACHES`] files of `dir` (and `keep`).
fn prune_server_caches(dir: &Path, keep: &Path) {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p != keep)
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort();
    let extra = (files.len() + 1).saturating_sub(MAX_SERVER_CACHES);
    for (_, p) in files.into_iter().take(extra) {
        let _ = std::fs::remove_file(p);
    }
}

/// The kept state of the store `server_id` (see [`archive_server_state`]),
/// taken out of `dir`: from now on it lives in the current cache. None when
/// there is none (or it is unreadable, or of another store).
pub fn take_server_state(dir: &Path, server_id: &str, server: &str) -> Option<ClientState> {
    let path = server_cache_path(dir, server_id)?;
    let loaded = load(&path);
    let _ = std::fs::remove_file(&path);
    match loaded {
        Ok(Some(c)) if c.state.server_id.as_deref() == Some(server_id) => {
            Some(c.into_state(server))
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

/// Keeps the cache current: after any update it waits `debounce` (collecting
/// more updates), then writes once. Write errors are logged, never fatal.
pub struct CacheWriter {
    stop: Option<oneshot::Sender<()>>,
    saved: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl CacheWriter {
    /// Start writing `store` to `path`. Subscribes before returning, so no
    /// update made after this call is missed.
    pub fn spawn(store: Store, path: PathBuf, debounce: Duration) -> Self {
        let rx = store.subscribe();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (saved_tx, saved) = watch::channel(0u64);
        let task = tokio::spawn(writer_loop(store, rx, path, debounce, stop_rx, saved_tx));
        CacheWriter {
            stop: Some(stop_tx),
            saved,
            task,
        }
    }

    /// Counts completed writes; `changed()` wakes after each.
    pub fn saved(&self) -> watch::Receiver<u64> {
        self.saved.clone()
    }

    /// Write a last time and stop.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

async fn save_logged(store: &Store, path: &Path, saved: &watch::Sender<u64>) {
    let (s, p) = (store.clone(), path.to_path_buf());
    match tokio::task::spawn_blocking(move || save_store(&s, &p)).await {
        Ok(Ok(true)) => saved.send_modify(|n| *n += 1),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => tracing::warn!("could not save the cache: {e}"),
        Err(e) => tracing::warn!("cache writer failed: {e}"),
    }
}

async fn writer_loop(
    store: Store,
    mut rx: broadcast::Receiver<crate::store::Update>,
    path: PathBuf,
    debounce: Duration,
    mut stop: oneshot::Receiver<()>,
    saved: watch::Sender<u64>,
) {
    loop {
        tokio::select! {
            r = rx.recv() => if let Err(RecvError::Closed) = r { break },
            _ = &mut stop => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(debounce) => {}
            _ = &mut stop => break,
        }
        // What arrived meanwhile is covered by this one write.
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = rx.try_recv() {}
        save_logged(&store, &path, &saved).await;
    }
    save_logged(&store, &path, &saved).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulseboard_protocol::MarkRead;

    #[test]
    fn no_cache_means_demo_data_labelled() {
        let dir = tempfile::tempdir().unwrap();
        let (s, err) = initial_state(&dir.path().join("c.json"), "http://x", Utc::now());
        assert!(err.is_none());
        assert_eq!(s.source, DataSource::Demo);
        assert_eq!(s.modules.len(), 4);
        assert!(s.dashboard.is_some());
    }

    #[test]
    fn save_then_load_round_trips_and_labels_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.json");
        let mut s = demo_state("http://x", Utc::now());
        s.source = DataSource::Server;
        s.last_seq = 9;
        s.outbox.push(MarkRead::All);
        let c = CacheFile::from_state(&s, Utc::now());
        save(&path, &c).unwrap();
        let (loaded, err) = initial_state(&path, "http://x", Utc::now());
        assert!(err.is_none());
        assert_eq!(loaded.last_seq, 9);
        assert_eq!(loaded.outbox, vec![MarkRead::All]);
        assert_eq!(loaded.modules, s.modules);
        assert!(matches!(loaded.source, DataSource::Cache { saved_at } if saved_at == c.saved_at));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
    }

    /// A cache written before the state type was renamed (`State` ->
    /// `ClientState`) and before the later optional fields (demo flags,
    /// value times, dashboard history, acknowledged alerts, server id)
    /// existed still loads: the type's name is not in the file.
    #[test]
    fn an_old_cache_still_loads() {
        let old = r#"{
  "version": 1,
  "savedAt": "2024-05-01T12:00:00Z",
  "modules": {
    "finance": {
      "latest": {"module": "finance", "updatedAt": "2024-05-01T11:59:00Z",
        "kpis": [{"key": "revenue", "label": "Revenue", "value": 3.5, "unit": "USD"}]},
      "history": {"revenue": [1.5, 2.5, 3.5]}
    }
  },
  "dashboard": null,
  "notifications": [{"id": "n-7", "seq": 7, "title": "Backup done", "body": "ok",
    "severity": "success", "createdAt": "2024-05-01T11:00:00Z", "read": false}],
  "unreadCount": 1,
  "lastSeq": 7,
  "alerts": [{"id": "a-1", "severity": "critical", "title": "Disk full", "message": "/var",
    "createdAt": "2024-05-01T11:30:00Z"}],
  "outbox": [{"ids": ["n-7"]}],
  "connection": {"state": "live", "since": "2024-05-01T10:00:00Z", "transport": "websocket"},
  "source": {"kind": "server"},
  "lastUpdate": "2024-05-01T11:59:00Z",
  "counters": {"droppedEvents": 2, "badAcks": 0, "connects": 3}
}"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, old).unwrap();
        let (s, err) = initial_state(&path, "http://x", Utc::now());
        assert!(err.is_none(), "{err:?}");
        let saved_at = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(s.source, DataSource::Cache { saved_at });
        let finance = &s.modules[&Module::Finance];
        assert_eq!(finance.history["revenue"], [1.5, 2.5, 3.5]);
        assert_eq!(finance.latest.kpis[0].value, 3.5);
        assert!(!finance.demo && finance.history_at.is_empty());
        assert_eq!((s.last_seq, s.unread_count), (7, 1));
        assert_eq!(s.notifications[0].id, "n-7");
        assert_eq!(s.alerts[0].id, "a-1");
        assert!(s.acknowledged_alerts.is_empty() && s.server_id.is_none());
        assert_eq!(s.outbox, vec![MarkRead::Ids(vec!["n-7".into()])]);
        // Written again, it reads the same under the new name.
        let again = serde_json::to_value(CacheFile::from_state(&s, saved_at)).unwrap();
        assert_eq!(again["modules"]["finance"]["history"]["revenue"][2], 3.5);
        assert_eq!(again["lastSeq"], 7);
    }

    #[cfg(unix)]
    #[test]
    fn cache_is_private_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pulseboard/deeper/c.json");
        let mut s = demo_state("http://x", Utc::now());
        s.source = DataSource::Server;
        save(&path, &CacheFile::from_state(&s, Utc::now())).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "cache file readable by its owner only");
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("pulseboard")), 0o700);
        // Rewriting keeps it private.
        save(&path, &CacheFile::from_state(&s, Utc::now())).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn corrupt_cache_is_set_aside_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, b"{\"version\": 1, \"savedAt\": tru").unwrap();
        let (s, err) = initial_state(&path, "http://x", Utc::now());
        assert_eq!(s.source, DataSource::Demo);
        let msg = err.expect("an error is reported").to_string();
        assert!(msg.contains("moved aside"), "{msg}");
        assert!(dir.path().join("c.json.corrupt").exists());
        assert!(!path.exists());
    }

    #[test]
    fn demo_only_state_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let store = Store::new(demo_state("http://x", Utc::now()));
        assert!(!save_store(&store, &path).unwrap());
        assert!(!path.exists());
    }

    #[test]
    fn one_cache_per_server_kept_on_leaving_and_taken_on_coming_back() {
        let dir = tempfile::tempdir().unwrap();
        let servers = dir.path().join("servers");
        let mut s = ClientState::empty("http://x");
        s.source = DataSource::Server;
        s.server_id = Some("store-a".into());
        s.last_seq = 7;
        s.outbox.push(MarkRead::Ids(vec!["n-2".into()]));
        assert!(archive_server_state(&servers, &s).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&servers.join("store-a.json")), 0o600);
            assert_eq!(mode(&servers), 0o700);
        }
        assert!(take_server_state(&servers, "store-b", "http://x").is_none());
        let back = take_server_state(&servers, "store-a", "http://x").expect("kept");
        assert_eq!(back.last_seq, 7);
        assert_eq!(back.outbox, s.outbox, "what was queued for that store");
        assert!(matches!(back.source, DataSource::Cache { .. }));
        assert!(
            take_server_state(&servers, "store-a", "http://x").is_none(),
            "taken, not copied"
        );
    }

    #[test]
    fn a_server_id_never_chooses_a_path_and_old_caches_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let servers = dir.path().join("servers");
        for id in ["../evil", "a/b", "", ".", "x y", &"a".repeat(129)] {
            assert_eq!(server_cache_path(&servers, id), None, "{id:?}");
            let mut s = ClientState::empty("http://x");
            s.source = DataSource::Server;
            s.server_id = Some(id.to_string());
            assert!(!archive_server_state(&servers, &s).unwrap());
        }
        assert!(!dir.path().join("evil.json").exists());
        for i in 0..MAX_SERVER_CACHES + 3 {
            let mut s = ClientState::empty("http://x");
            s.source = DataSource::Server;
            s.server_id = Some(format!("s{i}"));
            archive_server_state(&servers, &s).unwrap();
        }
        let n = std::fs::read_dir(&servers).unwrap().count();
        assert_eq!(n, MAX_SERVER_CACHES);
        assert!(servers
            .join(format!("s{}.json", MAX_SERVER_CACHES + 2))
            .exists());
    }

    #[tokio::test]
    async fn writer_writes_after_changes_and_on_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let store = Store::new(demo_state("http://x", Utc::now()));
        let writer = CacheWriter::spawn(store.clone(), path.clone(), Duration::from_millis(20));
        let mut saved = writer.saved();
        store.apply(|s| s.apply_kpis(sample::module_kpis(Module::Hr, Utc::now()), Utc::now()));
        saved.changed().await.unwrap();
        assert_eq!(load(&path).unwrap().unwrap().state.modules.len(), 4);
        store.apply(|s| s.mark_read_local(MarkRead::All));
        writer.stop().await;
        assert_eq!(
            load(&path).unwrap().unwrap().state.outbox,
            vec![MarkRead::All],
            "last write on stop"
        );
    }
}
