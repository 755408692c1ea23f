//! SQLite storage: notifications (with read state) and a small key/value table
//! that keeps the latest KPIs, dashboard and alert counter across restarts.
//!
//! All methods are async and run their SQLite work on the blocking pool; the
//! connection mutex is only ever held inside `spawn_blocking`.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use chrono::{DateTime, SecondsFormat, Utc};
use pulseboard_protocol::{limits, Module, NewNotification, Notification, NotificationSeverity};
use rusqlite::{params, Connection, OptionalExtension};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The parent directory of the database could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or prepared.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the query died.
    #[error("database task failed: {0}")]
    Task(String),
}

/// The result of a mark-read request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkReadOutcome {
    /// Ids that went from unread to read.
    pub changed: Vec<String>,
    /// Unread count afterwards.
    pub unread: u64,
}

/// Handle to the SQLite database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT UNIQUE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    module     TEXT,
    created_at TEXT NOT NULL,
    read       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications(read);
CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

fn severity_str(s: NotificationSeverity) -> &'static str {
    match s {
        NotificationSeverity::Info => "info",
        NotificationSeverity::Success => "success",
        NotificationSeverity::Warning => "warning",
        NotificationSeverity::Error => "error",
    }
}

fn parse_severity(s: &str) -> Option<NotificationSeverity> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

type Row = (
    i64,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    String,
    bool,
);

fn row_to_notification(r: Row) -> Option<Notification> {
    let (seq, id, title, body, severity, module, created_at, read) = r;
    let seq = u64::try_from(seq).ok()?;
    let severity = parse_severity(&severity)?;
    let module = match module {
        Some(m) => Some(m.parse::<Module>().ok()?),
        None => None,
    };
    let created_at = DateTime::parse_from_rfc3339(&created_at)
        .ok()?
        .with_timezone(&Utc);
    Some(Notification {
        id: id.unwrap_or_else(|| format!("n-{seq}")),
        seq,
        title,
        body,
        severity,
        module,
        created_at,
        read,
    })
}

fn count_unread(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM notifications WHERE read = 0",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

impl Store {
    /// Open (or create) the database at `path`, creating its parent directory.
    pub fn open(path: &Path) -> Result<Store, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let open = |path: &Path| -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            // `journal_mode` returns a row, so read it rather than `execute`.
            let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
            conn.execute_batch(SCHEMA)?;
            Ok(conn)
        };
        let conn = open(path).map_err(|source| StorageError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with_conn<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock only means another query panicked; the
            // connection itself is still usable.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// Store a new notification, assigning `seq` and `id = "n-{seq}"`.
    pub async fn insert_notification(
        &self,
        new: NewNotification,
        created_at: DateTime<Utc>,
    ) -> Result<Notification, StorageError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO notifications (title, body, severity, module, created_at, read)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                params![
                    new.title,
                    new.body,
                    severity_str(new.severity),
                    new.module.map(Module::as_str),
                    ts(created_at),
                ],
            )?;
            let seq = tx.last_insert_rowid();
            let id = format!("n-{seq}");
            tx.execute(
                "UPDATE notifications SET id = ?1 WHERE seq = ?2",
                params![id, seq],
            )?;
            tx.commit()?;
            Ok(Notification {
                id,
                seq: u64::try_from(seq).unwrap_or(0),
                title: new.title,
                body: new.body,
                severity: new.severity,
                module: new.module,
                created_at,
                read: false,
            })
        })
        .await
    }

    /// Notifications with `seq > after_seq`, oldest first, at most
    /// [`limits::MAX_CATCH_UP`]. Rows that cannot be decoded are skipped.
    pub async fn notifications_after(
        &self,
        after_seq: u64,
    ) -> Result<Vec<Notification>, StorageError> {
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT seq, id, title, body, severity, module, created_at, read
                 FROM notifications WHERE seq > ?1 ORDER BY seq ASC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limits::MAX_CATCH_UP as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get::<_, i64>(7)? != 0,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let row: Row = row?;
                let seq = row.0;
                match row_to_notification(row) {
                    Some(n) => out.push(n),
                    None => tracing::warn!(seq, "skipping undecodable notification row"),
                }
            }
            Ok(out)
        })
        .await
    }

    /// Number of unread notifications.
    pub async fn unread_count(&self) -> Result<u64, StorageError> {
        self.with_conn(|conn| Ok(count_unread(conn)?)).await
    }

    /// Mark the given ids read (unknown or already read ids are ignored).
    pub async fn mark_read_ids(&self, ids: Vec<String>) -> Result<MarkReadOutcome, StorageError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let mut changed = Vec::new();
            {
                let mut stmt =
                    tx.prepare("UPDATE notifications SET read = 1 WHERE id = ?1 AND read = 0")?;
                for id in ids {
                    if stmt.execute(params![id])? > 0 && !changed.contains(&id) {
                        changed.push(id);
                    }
                }
            }
            let unread = count_unread(&tx)?;
            tx.commit()?;
            Ok(MarkReadOutcome { changed, unread })
        })
        .await
    }

    /// Mark every notification read; returns the ids that were unread.
    pub async fn mark_all_read(&self) -> Result<MarkReadOutcome, StorageError> {
        self.with_conn(|conn| {
            let tx = conn.transaction()?;
            let changed = {
                let mut stmt = tx
                    .prepare("SELECT seq, id FROM notifications WHERE read = 0 ORDER BY seq ASC")?;
                let rows = stmt.query_map([], |r| {
                    let seq: i64 = r.get(0)?;
                    let id: Option<String> = r.get(1)?;
                    Ok(id.unwrap_or_else(|| format!("n-{seq}")))
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.execute("UPDATE notifications SET read = 1 WHERE read = 0", [])?;
            let unread = count_unread(&tx)?;
            tx.commit()?;
            Ok(MarkReadOutcome { changed, unread })
        })
        .await
    }

    /// Read a value from the key/value table.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| {
            Ok(conn
                .query_row("SELECT value FROM kv WHERE key = ?1", params![key], |r| {
                    r.get(0)
                })
                .optional()?)
        })
        .await
    }

    /// Write a value to the key/value table.
    pub async fn kv_put(&self, key: &str, value: String) -> Result<(), StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO kv (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
        .await
    }

    /// Atomically increment an integer counter in the key/value table and
    /// return its new value (starting at 1).
    pub async fn next_counter(&self, key: &str) -> Result<u64, StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let cur: Option<String> = tx
                .query_row("SELECT value FROM kv WHERE key = ?1", params![key], |r| {
                    r.get(0)
                })
                .optional()?;
            let next = cur.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO kv (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, next.to_string()],
            )?;
            tx.commit()?;
            Ok(next)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(title: &str) -> NewNotification {
        NewNotification {
            title: title.into(),
            body: "b".into(),
            severity: NotificationSeverity::Warning,
            module: Some(Module::Hr),
        }
    }

    #[tokio::test]
    async fn seq_never_repeats_and_read_state_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/db.sqlite");
        let store = Store::open(&path).expect("open");
        let a = store
            .insert_notification(new("a"), Utc::now())
            .await
            .expect("a");
        let b = store
            .insert_notification(new("b"), Utc::now())
            .await
            .expect("b");
        assert_eq!(a.id, format!("n-{}", a.seq));
        assert!(b.seq > a.seq);
        assert_eq!(store.unread_count().await.expect("count"), 2);

        let out = store
            .mark_read_ids(vec![a.id.clone(), a.id.clone(), "n-999".into()])
            .await
            .expect("mark");
        assert_eq!(out.changed, vec![a.id.clone()]);
        assert_eq!(out.unread, 1);
        // Deleting the newest row must not let its seq be reused.
        store
            .with_conn(move |c| {
                c.execute(
                    "DELETE FROM notifications WHERE seq = ?1",
                    params![b.seq as i64],
                )?;
                Ok(())
            })
            .await
            .expect("delete");
        drop(store);

        let store = Store::open(&path).expect("reopen");
        let c = store
            .insert_notification(new("c"), Utc::now())
            .await
            .expect("c");
        assert!(c.seq > b.seq);
        let all = store.notifications_after(0).await.expect("list");
        assert_eq!(all.len(), 2);
        assert!(all[0].read && !all[1].read);
        assert_eq!(all[1].severity, NotificationSeverity::Warning);
        assert_eq!(all[1].module, Some(Module::Hr));
        let out = store.mark_all_read().await.expect("all");
        assert_eq!(out.changed, vec![c.id.clone()]);
        assert_eq!(out.unread, 0);
        assert_eq!(
            store.notifications_after(c.seq).await.expect("none").len(),
            0
        );
    }

    #[tokio::test]
    async fn counters_and_kv() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        assert_eq!(store.next_counter("x").await.expect("1"), 1);
        assert_eq!(store.next_counter("x").await.expect("2"), 2);
        assert_eq!(store.kv_get("k").await.expect("get"), None);
        store.kv_put("k", "v1".into()).await.expect("put");
        store.kv_put("k", "v2".into()).await.expect("put");
        assert_eq!(store.kv_get("k").await.expect("get").as_deref(), Some("v2"));
    }
}
