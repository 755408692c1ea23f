//! The SQLite store (the embedded default): see the parent module for
//! what every store promises; this file is how SQLite keeps it.
//!
//! All methods are async and run their SQLite work on the blocking pool; the
//! connection mutex is only ever held inside `spawn_blocking`, for one short
//! transaction at a time.
//!
//! # Read state per viewer, without full scans
//!
//! Every viewer (the NAME of a view token; `default` for `--token` and an open
//! server) has one row in `viewers`:
//! - `read_upto`: a watermark: every notification with `seq <= read_upto` is
//!   read for that viewer ("mark all read" just moves it to the newest `seq`);
//! - `unread`: that viewer's unread count, kept up to date by every insert,
//!   mark-read and prune in the same transaction, so reading it is O(1);
//!
//! and explicit reads above the watermark are rows of `reads (viewer, seq)`.
//! A notification is read for a viewer when `seq <= read_upto` or it has a
//! row in `reads`. Marking read some ids costs one index lookup per id; mark
//! all read deletes that viewer's explicit reads (at most the ids it marked
//! one by one since its last mark-all) and lists at most
//! [`MAX_READ_EVENT_IDS`] changed ids (the newest), found by walking back from
//! the newest `seq`.
//!
//! # `seq` in commit order
//!
//! `seq` is SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT`: it is allocated
//! inside the insert's write transaction, and SQLite has a single writer (one
//! connection here, and the database's write lock across processes), so a
//! transaction that gets a larger `seq` also commits later. A reader of
//! `seq > afterSeq` therefore never skips a row that commits late.
//! AUTOINCREMENT (not a plain rowid) never hands out a `seq` again, even after
//! the newest rows were deleted by retention and the server restarted. A store
//! with concurrent writers (PostgreSQL) must keep the same promise in
//! [`Storage::insert_notification`]'s single transaction, e.g. with a counter
//! row updated (and so locked) by the insert's transaction until it commits.
//!
//! # Retention
//!
//! [`Storage::prune_batch`] deletes the oldest notifications, a bounded batch at
//! a time, and only ever a prefix of the `seq` order, so "everything up to
//! `pruned_upto` is gone" stays true; `notification:subscribe` reports
//! `truncated` when `afterSeq < pruned_upto`.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use pulseboard_protocol::{limits, Module, NewNotification, Notification, NotificationSeverity};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{
    at_from_ms, prune_prefix, slot_of, CatchUp, HistoryAnswer, MarkReadOutcome, NewPage, Storage,
    StorageError, DEFAULT_VIEWER, KV_HISTORY_PRUNED_UPTO, MAX_READ_EVENT_IDS, PRUNE_BATCH,
};
use pulseboard_protocol::{history::SLOT_SECS, HistoryPoint};

/// Schema version kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 2;

const KV_SERVER_ID: &str = "server_id";
const KV_PRUNED_UPTO: &str = "pruned_upto";

/// Handle to the SQLite database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    server_id: Arc<str>,
}

/// Version 2 schema (plus `kpi_history`, added by `IF NOT EXISTS` to
/// stores made before it: no data to migrate). The `read` column of `notifications` is the version 1
/// global read state: migrated to the viewer `default`, then unused.
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
CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS viewers (
    name      TEXT PRIMARY KEY,
    read_upto INTEGER NOT NULL DEFAULT 0,
    unread    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS reads (
    viewer TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (viewer, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reads_seq ON reads(seq);
CREATE TABLE IF NOT EXISTS kpi_history (
    module TEXT NOT NULL,
    key    TEXT NOT NULL,
    slot   INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL,
    value  REAL NOT NULL,
    lo     REAL NOT NULL,
    hi     REAL NOT NULL,
    PRIMARY KEY (module, key, slot)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kpi_history_slot ON kpi_history(slot);
";

pub(super) fn severity_str(s: NotificationSeverity) -> &'static str {
    match s {
        NotificationSeverity::Info => "info",
        NotificationSeverity::Success => "success",
        NotificationSeverity::Warning => "warning",
        NotificationSeverity::Error => "error",
    }
}

pub(super) fn parse_severity(s: &str) -> Option<NotificationSeverity> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

pub(super) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(super) type Row = (
    i64,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    String,
    bool,
);

pub(super) fn row_to_notification(r: Row) -> Option<Notification> {
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

/// A viewer's row.
#[derive(Debug, Clone, Copy)]
struct ViewerState {
    read_upto: i64,
    unread: i64,
}

/// The viewer's row, created on first use (nothing read yet: every stored
/// notification is unread for it; counted once, here).
fn viewer_state(tx: &Transaction<'_>, viewer: &str) -> rusqlite::Result<ViewerState> {
    let get = |tx: &Transaction<'_>| {
        tx.query_row(
            "SELECT read_upto, unread FROM viewers WHERE name = ?1",
            params![viewer],
            |r| {
                Ok(ViewerState {
                    read_upto: r.get(0)?,
                    unread: r.get(1)?,
                })
            },
        )
        .optional()
    };
    if let Some(v) = get(tx)? {
        return Ok(v);
    }
    tx.execute(
        "INSERT INTO viewers (name, read_upto, unread)
         VALUES (?1, 0, (SELECT COUNT(*) FROM notifications))",
        params![viewer],
    )?;
    get(tx)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

fn seq_of(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT seq FROM notifications WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()
}

fn is_read(tx: &Transaction<'_>, viewer: &str, v: ViewerState, seq: i64) -> rusqlite::Result<bool> {
    if seq <= v.read_upto {
        return Ok(true);
    }
    tx.prepare_cached("SELECT 1 FROM reads WHERE viewer = ?1 AND seq = ?2")?
        .query_row(params![viewer, seq], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

fn kv_get_tx(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM kv WHERE key = ?1", params![key], |r| {
        r.get(0)
    })
    .optional()
}

fn kv_put_tx(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Create the schema, migrate version 1 read state, make the server id.
fn prepare_schema(conn: &mut Connection) -> rusqlite::Result<String> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    tx.execute_batch(SCHEMA)?;
    if version < SCHEMA_VERSION {
        // Version 1 kept one global `read` flag: it becomes the read state of
        // the viewer `default`. Watermark: just below the oldest unread (or
        // the newest seq when everything was read); explicit reads above it.
        let oldest_unread: Option<i64> = tx.query_row(
            "SELECT MIN(seq) FROM notifications WHERE read = 0",
            [],
            |r| r.get(0),
        )?;
        let newest: Option<i64> =
            tx.query_row("SELECT MAX(seq) FROM notifications", [], |r| r.get(0))?;
        let read_upto = match oldest_unread {
            Some(s) => s - 1,
            None => newest.unwrap_or(0),
        };
        let unread: i64 = tx.query_row(
            "SELECT COUNT(*) FROM notifications WHERE read = 0",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO viewers (name, read_upto, unread) VALUES (?1, ?2, ?3)",
            params![DEFAULT_VIEWER, read_upto, unread],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO reads (viewer, seq)
             SELECT ?1, seq FROM notifications WHERE read = 1 AND seq > ?2",
            params![DEFAULT_VIEWER, read_upto],
        )?;
        tx.execute_batch("DROP INDEX IF EXISTS notifications_unread;")?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    // The store's identity: made once, with the store, never changed.
    let fresh = format!("{:032x}", rand::random::<u128>());
    tx.execute(
        "INSERT OR IGNORE INTO kv (key, value) VALUES (?1, ?2)",
        params![KV_SERVER_ID, fresh],
    )?;
    let id = kv_get_tx(&tx, KV_SERVER_ID)?.unwrap_or(fresh);
    tx.commit()?;
    Ok(id)
}

/// Create the directory (0700, only the levels that are missing) and the
/// file (0600) before SQLite opens it, so a new database is private.
fn create_private(path: &Path) -> Result<(), StorageError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir).map_err(|source| StorageError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StorageError::CreateFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl SqliteStore {
    /// Open (or create) the database at `path`. A missing parent directory
    /// is created 0700 and a new file 0600 (SQLite gives its `-wal` and
    /// `-shm` files the same mode as the database file).
    pub fn open(path: &Path) -> Result<SqliteStore, StorageError> {
        create_private(path)?;
        let open = |path: &Path| -> rusqlite::Result<(Connection, String)> {
            let mut conn = Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            // `journal_mode` returns a row, so read it rather than `execute`.
            let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
            let id = prepare_schema(&mut conn)?;
            Ok((conn, id))
        };
        let (conn, server_id) = open(path).map_err(|source| StorageError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            server_id: server_id.into(),
        })
    }

    /// The store's identity (`serverId`): random, made when the store was
    /// created, never changed.
    pub fn server_id(&self) -> &str {
        &self.server_id
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

    /// The one integer that `sql` (no parameters) selects, as a count.
    async fn number(&self, sql: &'static str) -> Result<u64, StorageError> {
        self.with_conn(move |conn| {
            let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
            Ok(to_u64(n))
        })
        .await
    }
}

#[async_trait]
impl Storage for SqliteStore {
    fn server_id(&self) -> &str {
        &self.server_id
    }

    /// Store a new notification, assigning `seq` and `id = "n-{seq}"`; it is
    /// unread for every viewer. One transaction (see the module doc on
    /// commit order).
    async fn insert_notification(
        &self,
        new: NewNotification,
        created_at: DateTime<Utc>,
    ) -> Result<Notification, StorageError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO notifications (title, body, severity, module, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
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
            tx.execute("UPDATE viewers SET unread = unread + 1", [])?;
            tx.commit()?;
            Ok(Notification {
                id,
                seq: to_u64(seq),
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

    /// Everything `notification:subscribe` answers for `viewer`: the page
    /// after `after_seq` (at most [`limits::MAX_CATCH_UP`]), the unread
    /// count, which of `unread` are read now, and whether anything after
    /// `after_seq` was pruned. One transaction, so the parts agree.
    async fn catch_up(
        &self,
        viewer: &str,
        after_seq: u64,
        unread: Vec<String>,
    ) -> Result<CatchUp, StorageError> {
        let viewer = viewer.to_owned();
        let after = to_i64(after_seq);
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let v = viewer_state(&tx, &viewer)?;
            let mut notifications = Vec::new();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT n.seq, n.id, n.title, n.body, n.severity, n.module, n.created_at,
                            (n.seq <= ?3 OR EXISTS (SELECT 1 FROM reads r
                                                    WHERE r.viewer = ?4 AND r.seq = n.seq))
                     FROM notifications n WHERE n.seq > ?1 ORDER BY n.seq ASC LIMIT ?2",
                )?;
                let rows = stmt.query_map(
                    params![after, limits::MAX_CATCH_UP as i64, v.read_upto, viewer],
                    |r| {
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
                    },
                )?;
                for row in rows {
                    let row: Row = row?;
                    let seq = row.0;
                    match row_to_notification(row) {
                        Some(n) => notifications.push(n),
                        None => tracing::warn!(seq, "skipping undecodable notification row"),
                    }
                }
            }
            let mut read = Vec::new();
            for id in unread {
                if read.contains(&id) {
                    continue;
                }
                if let Some(seq) = seq_of(&tx, &id)? {
                    if is_read(&tx, &viewer, v, seq)? {
                        read.push(id);
                    }
                }
            }
            let pruned_upto = kv_get_tx(&tx, KV_PRUNED_UPTO)?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
            tx.commit()?;
            Ok(CatchUp {
                notifications,
                unread_count: to_u64(v.unread),
                read,
                truncated: after < pruned_upto,
            })
        })
        .await
    }

    /// The fan-in page: one read-only statement (atomic on its own), no
    /// viewer row.
    async fn notifications_since(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<NewPage, StorageError> {
        let after = to_i64(after_seq);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, id, title, body, severity, module, created_at
                 FROM notifications WHERE seq > ?1 ORDER BY seq ASC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    false,
                ))
            })?;
            let mut page = NewPage {
                upto: to_u64(after),
                ..NewPage::default()
            };
            let mut read = 0i64;
            for row in rows {
                let row: Row = row?;
                read += 1;
                page.upto = page.upto.max(to_u64(row.0));
                let seq = row.0;
                match row_to_notification(row) {
                    Some(n) => page.notifications.push(n),
                    None => tracing::warn!(seq, "skipping undecodable notification row"),
                }
            }
            page.full = limit > 0 && read >= limit;
            Ok(page)
        })
        .await
    }

    /// The viewer's number of unread notifications (O(1): a kept counter).
    async fn unread_count(&self, viewer: &str) -> Result<u64, StorageError> {
        let viewer = viewer.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let v = viewer_state(&tx, &viewer)?;
            tx.commit()?;
            Ok(to_u64(v.unread))
        })
        .await
    }

    /// Mark the given ids read for `viewer` (unknown or already read ids are
    /// ignored).
    async fn mark_read_ids(
        &self,
        viewer: &str,
        ids: Vec<String>,
    ) -> Result<MarkReadOutcome, StorageError> {
        let viewer = viewer.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let v = viewer_state(&tx, &viewer)?;
            let mut changed = Vec::new();
            for id in ids {
                let Some(seq) = seq_of(&tx, &id)? else {
                    continue;
                };
                if seq <= v.read_upto {
                    continue;
                }
                let added = tx
                    .prepare_cached("INSERT OR IGNORE INTO reads (viewer, seq) VALUES (?1, ?2)")?
                    .execute(params![viewer, seq])?;
                if added > 0 {
                    changed.push(id);
                }
            }
            let unread = (v.unread - changed.len() as i64).max(0);
            if !changed.is_empty() {
                tx.execute(
                    "UPDATE viewers SET unread = ?2 WHERE name = ?1",
                    params![viewer, unread],
                )?;
            }
            tx.commit()?;
            Ok(MarkReadOutcome {
                changed,
                unread: to_u64(unread),
            })
        })
        .await
    }

    /// Mark every stored notification read for `viewer`: moves its
    /// watermark to the newest `seq`. `changed` lists the newest
    /// [`MAX_READ_EVENT_IDS`] of those that were unread, newest first.
    async fn mark_all_read(&self, viewer: &str) -> Result<MarkReadOutcome, StorageError> {
        let viewer = viewer.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let v = viewer_state(&tx, &viewer)?;
            let newest: Option<i64> =
                tx.query_row("SELECT MAX(seq) FROM notifications", [], |r| r.get(0))?;
            let Some(newest) = newest.filter(|n| *n > v.read_upto) else {
                tx.commit()?;
                return Ok(MarkReadOutcome {
                    changed: Vec::new(),
                    unread: to_u64(v.unread),
                });
            };
            let changed = {
                let mut stmt = tx.prepare(
                    "SELECT n.seq, n.id FROM notifications n
                     WHERE n.seq > ?1 AND NOT EXISTS
                        (SELECT 1 FROM reads r WHERE r.viewer = ?2 AND r.seq = n.seq)
                     ORDER BY n.seq DESC LIMIT ?3",
                )?;
                let rows = stmt.query_map(
                    params![v.read_upto, viewer, MAX_READ_EVENT_IDS as i64],
                    |r| {
                        let seq: i64 = r.get(0)?;
                        let id: Option<String> = r.get(1)?;
                        Ok(id.unwrap_or_else(|| format!("n-{seq}")))
                    },
                )?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.execute(
                "UPDATE viewers SET read_upto = ?2, unread = 0 WHERE name = ?1",
                params![viewer, newest],
            )?;
            tx.execute(
                "DELETE FROM reads WHERE viewer = ?1 AND seq <= ?2",
                params![viewer, newest],
            )?;
            tx.commit()?;
            Ok(MarkReadOutcome { changed, unread: 0 })
        })
        .await
    }

    /// Number of stored notifications (for retention by count).
    async fn notification_count(&self) -> Result<u64, StorageError> {
        self.number("SELECT COUNT(*) FROM notifications").await
    }

    /// Delete at most [`PRUNE_BATCH`] of the oldest notifications: the first
    /// `excess` ones, and any older than `before`; stops at the first one
    /// that is neither (only ever a prefix of the `seq` order). Viewers'
    /// counters and explicit reads follow in the same transaction. Returns
    /// how many were deleted (0: nothing left to prune).
    async fn last_seq(&self) -> Result<u64, StorageError> {
        self.with_conn(|conn| {
            let n: Option<i64> = conn
                .query_row(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'notifications'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(to_u64(n.unwrap_or(0)))
        })
        .await
    }

    async fn prune_batch(
        &self,
        excess: u64,
        before: Option<DateTime<Utc>>,
    ) -> Result<u64, StorageError> {
        let before = before.map(ts);
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let oldest: Vec<(i64, String)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT seq, created_at FROM notifications ORDER BY seq ASC LIMIT ?1",
                )?;
                let rows =
                    stmt.query_map(params![PRUNE_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            // Timestamps are all written by `ts` (UTC, millis, `Z`), so they
            // compare as strings.
            let k = prune_prefix(
                oldest.iter().map(|(_, created)| created),
                before.as_ref(),
                excess,
            );
            if k == 0 {
                return Ok(0);
            }
            let (lo, hi) = (oldest[0].0, oldest[k - 1].0);
            tx.execute(
                "UPDATE viewers SET unread = MAX(0, unread
                    - (SELECT COUNT(*) FROM notifications
                       WHERE seq BETWEEN ?1 AND ?2 AND seq > viewers.read_upto)
                    + (SELECT COUNT(*) FROM reads
                       WHERE reads.viewer = viewers.name AND reads.seq BETWEEN ?1 AND ?2))",
                params![lo, hi],
            )?;
            tx.execute(
                "DELETE FROM reads WHERE seq BETWEEN ?1 AND ?2",
                params![lo, hi],
            )?;
            tx.execute(
                "DELETE FROM notifications WHERE seq BETWEEN ?1 AND ?2",
                params![lo, hi],
            )?;
            let prev = kv_get_tx(&tx, KV_PRUNED_UPTO)?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
            kv_put_tx(&tx, KV_PRUNED_UPTO, &prev.max(hi).to_string())?;
            tx.commit()?;
            Ok(k as u64)
        })
        .await
    }

    async fn record_kpis(
        &self,
        module: Module,
        at: DateTime<Utc>,
        values: Vec<(String, f64)>,
    ) -> Result<(), StorageError> {
        if values.is_empty() {
            return Ok(());
        }
        let (slot, at_ms) = (slot_of(at), at.timestamp_millis());
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO kpi_history (module, key, slot, at_ms, value, lo, hi)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)
                     ON CONFLICT (module, key, slot) DO UPDATE SET
                        value = CASE WHEN excluded.at_ms >= kpi_history.at_ms
                                     THEN excluded.value ELSE kpi_history.value END,
                        at_ms = MAX(kpi_history.at_ms, excluded.at_ms),
                        lo = MIN(kpi_history.lo, excluded.lo),
                        hi = MAX(kpi_history.hi, excluded.hi)",
                )?;
                for (key, value) in values {
                    st.execute(params![module.as_str(), key, slot, at_ms, value])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn kpi_history(
        &self,
        module: Module,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_secs: i64,
    ) -> Result<HistoryAnswer, StorageError> {
        let key = key.to_owned();
        let (lo, hi) = (slot_of(from), slot_of(to));
        let from_s = from.timestamp();
        let bucket = bucket_secs.max(SLOT_SECS);
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let points = {
                let mut st = tx.prepare_cached(
                    "SELECT h.at_ms, h.value, g.mn, g.mx FROM (
                        SELECT MAX(slot) AS last, MIN(lo) AS mn, MAX(hi) AS mx
                        FROM kpi_history
                        WHERE module = ?1 AND key = ?2 AND slot >= ?3 AND slot <= ?4
                        GROUP BY slot / ?5
                     ) g JOIN kpi_history h
                       ON h.module = ?1 AND h.key = ?2 AND h.slot = g.last
                     ORDER BY g.last",
                )?;
                let rows = st.query_map(params![module.as_str(), key, lo, hi, bucket], |r| {
                    Ok(HistoryPoint {
                        at: at_from_ms(r.get(0)?),
                        value: r.get(1)?,
                        min: Some(r.get(2)?),
                        max: Some(r.get(3)?),
                    })
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            let pruned_upto = kv_get_tx(&tx, KV_HISTORY_PRUNED_UPTO)?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(i64::MIN);
            tx.commit()?;
            Ok(HistoryAnswer {
                points,
                truncated: from_s < pruned_upto,
            })
        })
        .await
    }

    async fn kpi_history_rows(&self) -> Result<u64, StorageError> {
        self.number("SELECT COUNT(*) FROM kpi_history").await
    }

    async fn prune_kpi_history_batch(
        &self,
        before: DateTime<Utc>,
        excess: u64,
    ) -> Result<u64, StorageError> {
        let before = slot_of(before);
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let oldest: Vec<i64> = {
                let mut st =
                    tx.prepare_cached("SELECT slot FROM kpi_history ORDER BY slot LIMIT ?1")?;
                let rows = st.query_map(params![PRUNE_BATCH as i64], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            // Everything up to the newest slot of the prefix goes (the batch,
            // plus the other keys of that last slot).
            let k = prune_prefix(&oldest, Some(&before), excess);
            if k == 0 {
                return Ok(0);
            }
            let upto = oldest[k - 1];
            let n = tx.execute("DELETE FROM kpi_history WHERE slot <= ?1", params![upto])?;
            let end = upto + SLOT_SECS;
            let prev = kv_get_tx(&tx, KV_HISTORY_PRUNED_UPTO)?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(i64::MIN);
            kv_put_tx(&tx, KV_HISTORY_PRUNED_UPTO, &prev.max(end).to_string())?;
            tx.commit()?;
            Ok(n as u64)
        })
        .await
    }

    /// Read a value from the key/value table.
    async fn kv_get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| Ok(kv_get_tx(conn, &key)?)).await
    }

    /// Write a value to the key/value table.
    async fn kv_put(&self, key: &str, value: String) -> Result<(), StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| Ok(kv_put_tx(conn, &key, &value)?))
            .await
    }

    /// Atomically increment an integer counter in the key/value table and
    /// return its new value (starting at 1).
    async fn next_counter(&self, key: &str) -> Result<u64, StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let cur = kv_get_tx(&tx, &key)?;
            let next = cur.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
            kv_put_tx(&tx, &key, &next.to_string())?;
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

    const D: &str = DEFAULT_VIEWER;

    #[tokio::test]
    async fn seq_never_repeats_and_read_state_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/db.sqlite");
        let store = SqliteStore::open(&path).expect("open");
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
        assert_eq!(store.unread_count(D).await.expect("count"), 2);

        let out = store
            .mark_read_ids(D, vec![a.id.clone(), a.id.clone(), "n-999".into()])
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
                c.execute("UPDATE viewers SET unread = unread - 1", [])?;
                Ok(())
            })
            .await
            .expect("delete");
        let id = store.server_id().to_owned();
        drop(store);

        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(store.server_id(), id, "serverId survives a restart");
        let c = store
            .insert_notification(new("c"), Utc::now())
            .await
            .expect("c");
        assert!(c.seq > b.seq);
        let all = store.notifications_after(D, 0).await.expect("list");
        assert_eq!(all.len(), 2);
        assert!(all[0].read && !all[1].read);
        assert_eq!(all[1].severity, NotificationSeverity::Warning);
        assert_eq!(all[1].module, Some(Module::Hr));
        let out = store.mark_all_read(D).await.expect("all");
        assert_eq!(out.changed, vec![c.id.clone()]);
        assert_eq!(out.unread, 0);
        assert_eq!(
            store
                .notifications_after(D, c.seq)
                .await
                .expect("none")
                .len(),
            0
        );
    }

    #[tokio::test]
    async fn counters_and_kv() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("db")).expect("open");
        assert_eq!(store.next_counter("x").await.expect("1"), 1);
        assert_eq!(store.next_counter("x").await.expect("2"), 2);
        assert_eq!(store.kv_get("k").await.expect("get"), None);
        store.kv_put("k", "v1".into()).await.expect("put");
        store.kv_put("k", "v2".into()).await.expect("put");
        assert_eq!(store.kv_get("k").await.expect("get").as_deref(), Some("v2"));
    }
}
