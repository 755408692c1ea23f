//! Server storage: notifications, read state per viewer, retention, the
//! store's identity (`serverId`) and a small key/value table (latest KPIs,
//! dashboard, alert counter).
//!
//! [`Storage`] is what every store promises; [`SqliteStore`] (embedded, the
//! default) keeps those promises with SQLite, [`PostgresStore`] (`--db
//! postgres://...`, the shared store of several nodes) with PostgreSQL. Both
//! run the same test suite (`tests/storage.rs`).
//!
//! Promises every store keeps:
//! - **`seq` strictly increasing, never reused** (also after retention and
//!   restarts), and **allocated in commit order**: a notification with a
//!   larger `seq` commits after every one with a smaller `seq`, so a reader of
//!   `seq > afterSeq` never skips one that commits late. A store with
//!   concurrent writers allocates `seq` inside the insert's transaction from
//!   something that transaction holds locked until it commits (a counter row
//!   `UPDATE ... SET last = last + 1 RETURNING last`), not from a sequence
//!   handed out before commit (BIGSERIAL).
//! - **Read state per viewer**, cheap with a million notifications: the
//!   unread count and "mark all read" never scan the notifications.
//! - **Retention deletes a prefix** of the `seq` order, in bounded batches,
//!   and remembers the highest pruned `seq` (for `truncated`).
//! - **One `serverId`** per store, made when the store is created.
//! - **KPI history, bounded by construction**: every accepted KPI value is
//!   folded into its [`SLOT_SECS`] slot (`kpi_history`, primary key
//!   `(module, key, slot)`: last value and its time, lowest, highest) with
//!   one upsert per KPI, so a key has at most one row per slot whatever the
//!   publishing rate, and rows older than [`history_cutoff`] (7 days, or
//!   `--retain-days` when shorter) are pruned in batches (index on `slot`).
//!   A key thus holds at most [`MAX_SLOTS_PER_KEY`] rows, and the table
//!   at most about [`MAX_HISTORY_ROWS`] (the oldest slots go first). A read folds the
//!   slots of a range into buckets in SQL (one range scan of the primary
//!   key) and answers a few hundred points at most.

mod postgres;
mod sqlite;

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pulseboard_protocol::{
    history::{MAX_AGE_SECS, SLOT_SECS},
    limits, HistoryPoint, Module, NewNotification, Notification,
};

pub use postgres::{is_postgres_url, PostgresStore};
pub use sqlite::SqliteStore;

/// Open the store `--db` names: a PostgreSQL URL (`postgres://` or
/// `postgresql://`) or a SQLite file.
pub async fn open(db: &std::path::Path) -> Result<std::sync::Arc<dyn Storage>, StorageError> {
    match db.to_str().filter(|s| is_postgres_url(s)) {
        Some(url) => Ok(std::sync::Arc::new(PostgresStore::connect(url).await?)),
        None => {
            let path = db.to_path_buf();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| StorageError::Task(e.to_string()))??;
            Ok(std::sync::Arc::new(store))
        }
    }
}

/// The SQLite store under its former name.
pub type Store = SqliteStore;

/// The viewer of `--token` and of an open server; version 1 read state
/// (the global `read` column) is migrated to it.
pub const DEFAULT_VIEWER: &str = "default";

/// At most this many ids are listed as changed by a mark-all (the newest
/// ones); clients keep fewer notifications than this.
pub const MAX_READ_EVENT_IDS: usize = limits::MAX_MARK_READ_IDS;

/// Rows deleted per retention transaction, so socket handlers waiting for the
/// database never wait long.
pub const PRUNE_BATCH: usize = 500;

/// Most history rows one key can have: one per [`SLOT_SECS`] slot over
/// [`MAX_AGE_SECS`] (60 480 rows: a few MB per key).
pub const MAX_SLOTS_PER_KEY: i64 = MAX_AGE_SECS / SLOT_SECS;

/// Most history rows kept in all (whatever the number of keys; the oldest
/// go first): 10 million rows, 165 keys updated at least every 10 s for 7
/// days, under a GB.
pub const MAX_HISTORY_ROWS: u64 = 10_000_000;

/// The retention rule of both stores: of the oldest rows' times (oldest
/// first: history slots, notification timestamps), how many form the prefix
/// to delete: the first `excess` ones and any older than `before`; it stops
/// at the first row that is neither.
pub(crate) fn prune_prefix<'a, T: PartialOrd + 'a>(
    times: impl IntoIterator<Item = &'a T>,
    before: Option<&T>,
    excess: u64,
) -> usize {
    times
        .into_iter()
        .enumerate()
        .take_while(|(i, t)| (*i as u64) < excess || before.is_some_and(|b| *t < b))
        .count()
}

/// The start (epoch seconds) of the slot holding `at`.
pub fn slot_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(SLOT_SECS) * SLOT_SECS
}

/// History older than this is deleted: 7 days before `now` (the longest
/// range served), or `retain_days` days when that is shorter.
pub fn history_cutoff(now: DateTime<Utc>, retain_days: Option<u64>) -> DateTime<Utc> {
    let max = chrono::Duration::seconds(MAX_AGE_SECS);
    let keep = retain_days
        .and_then(|d| chrono::Duration::try_days(i64::try_from(d).ok()?))
        .map_or(max, |d| d.min(max));
    now.checked_sub_signed(keep).unwrap_or(now)
}

/// Key/value entry: the end of the newest history slot retention deleted
/// (epoch seconds); a range starting before it is `truncated`.
pub(crate) const KV_HISTORY_PRUNED_UPTO: &str = "kpi_history_pruned_upto";

/// A history row's time in milliseconds as a point's time.
pub(crate) fn at_from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::UNIX_EPOCH)
}

/// What a store answers about a KPI's history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryAnswer {
    /// One point per bucket that holds a value, oldest first: the bucket's
    /// last value at its time, with its lowest and highest.
    pub points: Vec<HistoryPoint>,
    /// Retention deleted history after the range's start.
    pub truncated: bool,
}

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
    /// The database file could not be created.
    #[error("cannot create database file {path}: {source}")]
    CreateFile {
        /// The file.
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
    /// The database URL or pool settings are invalid.
    #[error("invalid database settings: {0}")]
    Config(String),
    /// A PostgreSQL query failed.
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had in time (PostgreSQL is down or
    /// unreachable).
    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
}

impl StorageError {
    /// The database cannot be reached right now (a retry later may work):
    /// HTTP answers 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StorageError::Pool(_) => true,
            // Connection errors (class 08), operator intervention such as a
            // shutdown (class 57), and errors that are not from the server
            // at all (the connection broke).
            StorageError::Postgres(e) => match e.code() {
                Some(c) => c.code().starts_with("08") || c.code().starts_with("57"),
                None => true,
            },
            _ => false,
        }
    }
}

/// The result of a mark-read request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkReadOutcome {
    /// Ids that went from unread to read (for a mark-all, at most
    /// [`MAX_READ_EVENT_IDS`], the newest).
    pub changed: Vec<String>,
    /// The viewer's unread count afterwards.
    pub unread: u64,
}

/// What `notification:subscribe` answers, read in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct CatchUp {
    /// Notifications with `seq > afterSeq`, oldest first, at most
    /// [`limits::MAX_CATCH_UP`], with the viewer's read state.
    pub notifications: Vec<Notification>,
    /// The viewer's unread count.
    pub unread_count: u64,
    /// Of the ids asked about, those that are read for the viewer (in the
    /// order asked, no duplicates). Ids the store does not hold (pruned,
    /// unknown) are not listed.
    pub read: Vec<String>,
    /// Notifications after `afterSeq` were pruned by retention.
    pub truncated: bool,
}

/// One page of a cluster node's fan-in ([`Storage::notifications_since`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewPage {
    /// Notifications with `seq` after the cursor, in `seq` order, all unread
    /// (`read: false`: they are new for every viewer). Rows that cannot be
    /// decoded are left out (and logged), but still move `upto`.
    pub notifications: Vec<Notification>,
    /// The highest `seq` the page read (the cursor when it read nothing):
    /// the next page starts after it.
    pub upto: u64,
    /// The page read as many rows as asked: more may follow. A short page
    /// means everything committed when it was read has been read.
    pub full: bool,
}

/// What retention keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Keep at most this many notifications (the newest).
    pub count: Option<u64>,
    /// Delete notifications created before this instant.
    pub before: Option<DateTime<Utc>>,
}

/// What every store does. Async; cheap to share (`Arc<dyn Storage>`).
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug + 'static {
    /// The store's identity (`serverId`): random, made when the store was
    /// created, never changed.
    fn server_id(&self) -> &str;

    /// Store a new notification, assigning `seq` (in commit order) and
    /// `id = "n-{seq}"`; it is unread for every viewer.
    async fn insert_notification(
        &self,
        new: NewNotification,
        created_at: DateTime<Utc>,
    ) -> Result<Notification, StorageError>;

    /// Everything `notification:subscribe` answers for `viewer`, read
    /// consistently: the page after `after_seq` (at most
    /// [`limits::MAX_CATCH_UP`]), the unread count, which of `unread` are
    /// read now, and whether anything after `after_seq` was pruned.
    async fn catch_up(
        &self,
        viewer: &str,
        after_seq: u64,
        unread: Vec<String>,
    ) -> Result<CatchUp, StorageError>;

    /// The viewer's number of unread notifications.
    async fn unread_count(&self, viewer: &str) -> Result<u64, StorageError>;

    /// Mark the given ids read for `viewer` (unknown or already read ids are
    /// ignored).
    async fn mark_read_ids(
        &self,
        viewer: &str,
        ids: Vec<String>,
    ) -> Result<MarkReadOutcome, StorageError>;

    /// Mark every stored notification read for `viewer`. `changed` lists the
    /// newest [`MAX_READ_EVENT_IDS`] of those that were unread, newest first.
    async fn mark_all_read(&self, viewer: &str) -> Result<MarkReadOutcome, StorageError>;

    /// Number of stored notifications.
    async fn notification_count(&self) -> Result<u64, StorageError>;

    /// The highest `seq` stored so far (0: none); pruned ones count too.
    async fn last_seq(&self) -> Result<u64, StorageError>;

    /// Delete at most [`PRUNE_BATCH`] of the oldest notifications: the first
    /// `excess` ones, and any created before `before`; stops at the first one
    /// that is neither. Returns how many were deleted (0: nothing to prune).
    async fn prune_batch(
        &self,
        excess: u64,
        before: Option<DateTime<Utc>>,
    ) -> Result<u64, StorageError>;

    /// Read a value from the key/value table.
    async fn kv_get(&self, key: &str) -> Result<Option<String>, StorageError>;

    /// Write a value to the key/value table.
    async fn kv_put(&self, key: &str, value: String) -> Result<(), StorageError>;

    /// Atomically increment an integer counter in the key/value table and
    /// return its new value (starting at 1).
    async fn next_counter(&self, key: &str) -> Result<u64, StorageError>;

    /// Record one accepted KPI update of `module` received at `at`: each
    /// `(key, value)` is folded into its slot ([`slot_of`]) with one upsert
    /// (last value and time, lowest, highest), all in one transaction.
    async fn record_kpis(
        &self,
        module: Module,
        at: DateTime<Utc>,
        values: Vec<(String, f64)>,
    ) -> Result<(), StorageError>;

    /// The history of `module`/`key` with slots in `[from, to]`, folded
    /// into buckets of `bucket_secs` (a multiple of [`SLOT_SECS`], buckets
    /// aligned to the epoch): per bucket the last value at its time, the
    /// lowest and the highest; oldest first. `truncated` when retention
    /// deleted history after `from`.
    async fn kpi_history(
        &self,
        module: Module,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_secs: i64,
    ) -> Result<HistoryAnswer, StorageError>;

    /// Delete at most about [`PRUNE_BATCH`] of the oldest history rows (the
    /// oldest slots first): the first `excess` ones and any with a slot
    /// before `before`; whole slots, so a few more than `excess` may go.
    /// Returns how many were deleted (0: nothing left to prune).
    async fn prune_kpi_history_batch(
        &self,
        before: DateTime<Utc>,
        excess: u64,
    ) -> Result<u64, StorageError>;

    /// Number of history rows (slots of all keys).
    async fn kpi_history_rows(&self) -> Result<u64, StorageError>;

    /// Delete every history row with a slot before `before`, then the
    /// oldest rows beyond `max_rows` (many keys: a bound on the whole
    /// table), in batches.
    async fn prune_kpi_history(
        &self,
        before: DateTime<Utc>,
        max_rows: u64,
    ) -> Result<u64, StorageError> {
        let mut total = 0;
        loop {
            let n = self.prune_kpi_history_batch(before, 0).await?;
            if n == 0 {
                break;
            }
            total += n;
            tokio::task::yield_now().await;
        }
        let mut excess = self.kpi_history_rows().await?.saturating_sub(max_rows);
        while excess > 0 {
            let n = self.prune_kpi_history_batch(before, excess).await?;
            if n == 0 {
                break;
            }
            total += n;
            excess = excess.saturating_sub(n);
            tokio::task::yield_now().await;
        }
        Ok(total)
    }

    /// The fan-in read of a cluster node: at most `limit` notifications with
    /// `seq > after_seq`, in `seq` (= commit) order, as one read-only query
    /// that touches no viewer's state. Because `seq` is allocated in commit
    /// order, what it returns is every committed notification between the
    /// cursor and [`NewPage::upto`]: a reader that always continues after
    /// `upto` sees each notification once, none skipped.
    async fn notifications_since(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<NewPage, StorageError>;

    /// Notifications with `seq > after_seq` as `viewer` sees them, oldest
    /// first, at most [`limits::MAX_CATCH_UP`].
    async fn notifications_after(
        &self,
        viewer: &str,
        after_seq: u64,
    ) -> Result<Vec<Notification>, StorageError> {
        Ok(self
            .catch_up(viewer, after_seq, Vec::new())
            .await?
            .notifications)
    }

    /// Apply `policy` in batches until nothing is left to prune, letting
    /// other queries in between batches. Returns how many were deleted.
    async fn prune(&self, policy: Retention) -> Result<u64, StorageError> {
        if policy.count.is_none() && policy.before.is_none() {
            return Ok(0);
        }
        let mut excess = match policy.count {
            Some(keep) => self.notification_count().await?.saturating_sub(keep),
            None => 0,
        };
        let mut total = 0;
        loop {
            let n = self.prune_batch(excess, policy.before).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
            excess = excess.saturating_sub(n);
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prune_prefix;

    #[test]
    fn the_prefix_is_the_excess_then_whatever_is_older_and_stops_at_the_first_kept() {
        let slots = [10, 20, 30, 40];
        assert_eq!(prune_prefix(&slots, None, 0), 0);
        assert_eq!(prune_prefix(&slots, None, 2), 2);
        assert_eq!(prune_prefix(&slots, Some(&30), 0), 2, "older than 30 only");
        assert_eq!(
            prune_prefix(&slots, Some(&30), 3),
            3,
            "the excess goes even if newer"
        );
        assert_eq!(prune_prefix(&slots, None, 9), 4);
        let times = [
            "2026-01-01T00:00:00.000Z",
            "2026-01-03T00:00:00.000Z",
            "2026-01-02T00:00:00.000Z",
        ]
        .map(String::from);
        let before = "2026-01-02T12:00:00.000Z".to_string();
        assert_eq!(
            prune_prefix(&times, Some(&before), 0),
            1,
            "stops at the first row that stays, even if an older one follows"
        );
    }
}
