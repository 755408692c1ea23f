//! The PostgreSQL store (`--db postgres://...`): the shared store of a
//! cluster of server nodes. See the parent module for what every store
//! promises; this file is how PostgreSQL keeps it with several nodes writing
//! at once.
//!
//! Driver: `tokio-postgres` with the `deadpool-postgres` pool (async, no
//! macros or compile-time database, a small build; the pool reconnects by
//! itself after PostgreSQL restarts: every checkout is verified).
//!
//! # `seq` in commit order, with concurrent writers
//!
//! `seq` is not a BIGSERIAL (a sequence hands numbers out before commit, so a
//! reader of `seq > afterSeq` could skip a row that commits late). The insert
//! takes it from the counter row `counters('seq')` with
//! `UPDATE ... SET last = last + 1 RETURNING last`: the row stays locked until
//! the insert's transaction commits, so inserts run one after the other and a
//! larger `seq` always commits later. The counter never goes back, so a `seq`
//! is never reused (also after retention deletes the newest rows).
//!
//! # Read state per viewer
//!
//! The same tables as SQLite (`viewers` with a watermark and a kept unread
//! count, `reads` for explicit reads above it). Every change of a viewer's
//! state locks its `viewers` row first (`FOR UPDATE`), so concurrent
//! mark-reads of one viewer (on different nodes) serialise; a new viewer row
//! is made while holding a share lock on the counter row, so no insert can
//! commit between counting the notifications and the row becoming visible.
//! Retention also takes the counter row, so it never interleaves with an
//! insert (both update every viewer's row).
//!
//! # Migrations
//!
//! `schema_version` holds the applied version; [`PostgresStore::connect`]
//! applies what is missing under a transaction-scoped advisory lock, so
//! several nodes starting at once do not race.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime, Timeouts,
    Transaction,
};
use pulseboard_protocol::{limits, Module, NewNotification, Notification};
use tokio_postgres::NoTls;

use super::{
    at_from_ms, prune_prefix, slot_of,
    sqlite::{row_to_notification, severity_str, to_i64, to_u64, ts, Row},
    CatchUp, HistoryAnswer, MarkReadOutcome, NewPage, Storage, StorageError,
    KV_HISTORY_PRUNED_UPTO, MAX_READ_EVENT_IDS, PRUNE_BATCH,
};
use pulseboard_protocol::{history::SLOT_SECS, HistoryPoint};

const KV_SERVER_ID: &str = "server_id";
const KV_PRUNED_UPTO: &str = "pruned_upto";

/// Key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x7075_6c73_6562_6f61; // "pulseboa"

/// How long a request waits for a pooled connection, or for a new one to be
/// made, before it fails (503 over HTTP while PostgreSQL is gone).
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations, in order; `schema_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE notifications (
    seq        BIGINT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    module     TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO counters (name, last) VALUES ('seq', 0);
CREATE TABLE viewers (
    name      TEXT PRIMARY KEY,
    read_upto BIGINT NOT NULL DEFAULT 0,
    unread    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE reads (
    viewer TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    PRIMARY KEY (viewer, seq)
);
CREATE INDEX reads_seq ON reads(seq);
",
    "
CREATE TABLE kpi_history (
    module TEXT NOT NULL,
    key    TEXT NOT NULL,
    slot   BIGINT NOT NULL,
    at_ms  BIGINT NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    lo     DOUBLE PRECISION NOT NULL,
    hi     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (module, key, slot)
);
CREATE INDEX kpi_history_slot ON kpi_history(slot);
",
];

/// Whether `--db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The PostgreSQL store: a pool of connections to one database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    server_id: std::sync::Arc<str>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("server_id", &self.server_id)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user@host/db`, or a unix socket:
    /// `postgres://user@/db?host=/run/postgresql`), apply missing
    /// migrations, and read (or make) the store's `serverId`.
    pub async fn connect(url: &str) -> Result<PostgresStore, StorageError> {
        let pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StorageError::Config(e.to_string()))?;
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .config(PoolConfig {
                max_size: 16,
                timeouts: Timeouts {
                    wait: Some(POOL_TIMEOUT),
                    create: Some(POOL_TIMEOUT),
                    recycle: Some(POOL_TIMEOUT),
                },
                ..PoolConfig::default()
            })
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Config(e.to_string()))?;
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
             INSERT INTO schema_version (version)
                SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
        )
        .await?;
        let applied: i64 = tx
            .query_one("SELECT version FROM schema_version", &[])
            .await?
            .get(0);
        for (i, m) in MIGRATIONS.iter().enumerate().skip(to_u64(applied) as usize) {
            tx.batch_execute(m).await?;
            tx.execute("UPDATE schema_version SET version = $1", &[&(i as i64 + 1)])
                .await?;
        }
        let fresh = format!("{:032x}", rand::random::<u128>());
        tx.execute(
            "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&KV_SERVER_ID, &fresh],
        )
        .await?;
        let server_id: String = tx
            .query_one("SELECT value FROM kv WHERE key = $1", &[&KV_SERVER_ID])
            .await?
            .get(0);
        tx.commit().await?;
        Ok(PostgresStore {
            pool,
            server_id: server_id.into(),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        Ok(self.pool.get().await?)
    }

    /// The one `BIGINT` that `sql` (no parameters) selects, as a count.
    async fn number(&self, sql: &str) -> Result<u64, StorageError> {
        let n: i64 = self.client().await?.query_one(sql, &[]).await?.get(0);
        Ok(to_u64(n))
    }
}

#[derive(Debug, Clone, Copy)]
struct ViewerState {
    read_upto: i64,
    unread: i64,
}

/// The viewer's row, made if missing (unread: every stored notification),
/// locked for update when `lock`.
async fn viewer_state(
    tx: &Transaction<'_>,
    viewer: &str,
    lock: bool,
) -> Result<ViewerState, StorageError> {
    let select = if lock {
        "SELECT read_upto, unread FROM viewers WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT read_upto, unread FROM viewers WHERE name = $1"
    };
    if let Some(r) = tx.query_opt(select, &[&viewer]).await? {
        return Ok(ViewerState {
            read_upto: r.get(0),
            unread: r.get(1),
        });
    }
    // No insert can commit while we hold this: the count below is exact.
    tx.execute(
        "SELECT last FROM counters WHERE name = 'seq' FOR SHARE",
        &[],
    )
    .await?;
    tx.execute(
        "INSERT INTO viewers (name, read_upto, unread)
         VALUES ($1, 0, (SELECT COUNT(*) FROM notifications))
         ON CONFLICT (name) DO NOTHING",
        &[&viewer],
    )
    .await?;
    let r = tx.query_one(select, &[&viewer]).await?;
    Ok(ViewerState {
        read_upto: r.get(0),
        unread: r.get(1),
    })
}

async fn kv_get_on(c: &impl GenericClient, key: &str) -> Result<Option<String>, StorageError> {
    Ok(c.query_opt("SELECT value FROM kv WHERE key = $1", &[&key])
        .await?
        .map(|r| r.get(0)))
}

async fn kv_put_on(c: &impl GenericClient, key: &str, value: &str) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO kv (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Storage for PostgresStore {
    fn server_id(&self) -> &str {
        &self.server_id
    }

    async fn insert_notification(
        &self,
        new: NewNotification,
        created_at: DateTime<Utc>,
    ) -> Result<Notification, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Statements prepared once per pooled connection (one round trip
        // each afterwards instead of two).
        let next = tx
            .prepare_cached("UPDATE counters SET last = last + 1 WHERE name = 'seq' RETURNING last")
            .await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO notifications (seq, id, title, body, severity, module, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await?;
        let unread = tx
            .prepare_cached("UPDATE viewers SET unread = unread + 1")
            .await?;
        // Locks the counter row until commit: seq in commit order.
        let seq: i64 = tx.query_one(&next, &[]).await?.get(0);
        let id = format!("n-{seq}");
        tx.execute(
            &insert,
            &[
                &seq,
                &id,
                &new.title,
                &new.body,
                &severity_str(new.severity),
                &new.module.map(Module::as_str),
                &ts(created_at),
            ],
        )
        .await?;
        tx.execute(&unread, &[]).await?;
        tx.commit().await?;
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
    }

    async fn catch_up(
        &self,
        viewer: &str,
        after_seq: u64,
        unread: Vec<String>,
    ) -> Result<CatchUp, StorageError> {
        let after = to_i64(after_seq);
        let mut client = self.client().await?;
        // Make the viewer's row first (a write), then read everything from
        // one snapshot.
        {
            let tx = client.transaction().await?;
            viewer_state(&tx, viewer, false).await?;
            tx.commit().await?;
        }
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let v = viewer_state(&tx, viewer, false).await?;
        let rows = tx
            .query(
                "SELECT n.seq, n.id, n.title, n.body, n.severity, n.module, n.created_at,
                        (n.seq <= $3 OR EXISTS (SELECT 1 FROM reads r
                                                WHERE r.viewer = $4 AND r.seq = n.seq))
                 FROM notifications n WHERE n.seq > $1 ORDER BY n.seq ASC LIMIT $2",
                &[
                    &after,
                    &(limits::MAX_CATCH_UP as i64),
                    &v.read_upto,
                    &viewer,
                ],
            )
            .await?;
        let mut notifications = Vec::with_capacity(rows.len());
        for r in rows {
            let row: Row = (
                r.get(0),
                Some(r.get(1)),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
            );
            let seq = row.0;
            match row_to_notification(row) {
                Some(n) => notifications.push(n),
                None => tracing::warn!(seq, "skipping undecodable notification row"),
            }
        }
        // Which of the client's unread ids are read now: one query (the id
        // index), not a round trip per id (1000 of them cost more than a
        // pass over a million rows).
        let mut read = Vec::new();
        if !unread.is_empty() {
            let read_now: HashSet<String> = tx
                .query(
                    "SELECT n.id FROM notifications n WHERE n.id = ANY($1) AND (n.seq <= $2 OR
                        EXISTS (SELECT 1 FROM reads r WHERE r.viewer = $3 AND r.seq = n.seq))",
                    &[&unread, &v.read_upto, &viewer],
                )
                .await?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            // In the client's order, each once.
            let mut listed = HashSet::new();
            for id in unread {
                if read_now.contains(&id) && listed.insert(id.clone()) {
                    read.push(id);
                }
            }
        }
        let pruned_upto = kv_get_on(&tx, KV_PRUNED_UPTO)
            .await?
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        tx.commit().await?;
        Ok(CatchUp {
            notifications,
            unread_count: to_u64(v.unread),
            read,
            truncated: after < pruned_upto,
        })
    }

    /// The fan-in page: one prepared (cached per connection) read-only
    /// statement in autocommit, one round trip; no transaction, no viewer
    /// row. A statement sees one snapshot, and `seq` commits in order, so
    /// the rows it returns have no gaps that a later commit could fill.
    async fn notifications_since(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<NewPage, StorageError> {
        let after = to_i64(after_seq);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT seq, id, title, body, severity, module, created_at
                 FROM notifications WHERE seq > $1 ORDER BY seq ASC LIMIT $2",
            )
            .await?;
        let rows = client.query(&stmt, &[&after, &limit]).await?;
        let mut page = NewPage {
            upto: after_seq,
            full: limit > 0 && rows.len() as i64 >= limit,
            ..NewPage::default()
        };
        for r in rows {
            let row: Row = (
                r.get(0),
                Some(r.get(1)),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                false,
            );
            let seq = row.0;
            page.upto = page.upto.max(to_u64(seq));
            match row_to_notification(row) {
                Some(n) => page.notifications.push(n),
                None => tracing::warn!(seq, "skipping undecodable notification row"),
            }
        }
        Ok(page)
    }

    async fn unread_count(&self, viewer: &str) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let v = viewer_state(&tx, viewer, false).await?;
        tx.commit().await?;
        Ok(to_u64(v.unread))
    }

    async fn mark_read_ids(
        &self,
        viewer: &str,
        ids: Vec<String>,
    ) -> Result<MarkReadOutcome, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let v = viewer_state(&tx, viewer, true).await?;
        // Two queries for the whole batch, not two round trips per id.
        let seq_of: HashMap<String, i64> = tx
            .query(
                "SELECT id, seq FROM notifications WHERE id = ANY($1) AND seq > $2",
                &[&ids, &v.read_upto],
            )
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut changed = Vec::new();
        if !seq_of.is_empty() {
            let seqs: Vec<i64> = seq_of.values().copied().collect();
            let mut added: HashSet<i64> = tx
                .query(
                    "INSERT INTO reads (viewer, seq) SELECT $1, s FROM unnest($2::bigint[]) AS s
                     ON CONFLICT DO NOTHING RETURNING seq",
                    &[&viewer, &seqs],
                )
                .await?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            // In the order asked, each once.
            for id in ids {
                if seq_of.get(&id).is_some_and(|seq| added.remove(seq)) {
                    changed.push(id);
                }
            }
        }
        let unread = (v.unread - changed.len() as i64).max(0);
        if !changed.is_empty() {
            tx.execute(
                "UPDATE viewers SET unread = $2 WHERE name = $1",
                &[&viewer, &unread],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(MarkReadOutcome {
            changed,
            unread: to_u64(unread),
        })
    }

    async fn mark_all_read(&self, viewer: &str) -> Result<MarkReadOutcome, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let v = viewer_state(&tx, viewer, true).await?;
        let newest: Option<i64> = tx
            .query_one("SELECT MAX(seq) FROM notifications", &[])
            .await?
            .get(0);
        let Some(newest) = newest.filter(|n| *n > v.read_upto) else {
            tx.commit().await?;
            return Ok(MarkReadOutcome {
                changed: Vec::new(),
                unread: to_u64(v.unread),
            });
        };
        let changed = tx
            .query(
                "SELECT n.id FROM notifications n
                 WHERE n.seq > $1 AND n.seq <= $4 AND NOT EXISTS
                    (SELECT 1 FROM reads r WHERE r.viewer = $2 AND r.seq = n.seq)
                 ORDER BY n.seq DESC LIMIT $3",
                &[&v.read_upto, &viewer, &(MAX_READ_EVENT_IDS as i64), &newest],
            )
            .await?
            .into_iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        tx.execute(
            "UPDATE viewers SET read_upto = $2, unread = 0 WHERE name = $1",
            &[&viewer, &newest],
        )
        .await?;
        tx.execute(
            "DELETE FROM reads WHERE viewer = $1 AND seq <= $2",
            &[&viewer, &newest],
        )
        .await?;
        tx.commit().await?;
        Ok(MarkReadOutcome { changed, unread: 0 })
    }

    async fn notification_count(&self) -> Result<u64, StorageError> {
        self.number("SELECT COUNT(*) FROM notifications").await
    }

    async fn last_seq(&self) -> Result<u64, StorageError> {
        self.number("SELECT last FROM counters WHERE name = 'seq'")
            .await
    }

    async fn prune_batch(
        &self,
        excess: u64,
        before: Option<DateTime<Utc>>,
    ) -> Result<u64, StorageError> {
        let before = before.map(ts);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Not interleaved with inserts (both update every viewer's row).
        tx.execute(
            "SELECT last FROM counters WHERE name = 'seq' FOR UPDATE",
            &[],
        )
        .await?;
        let oldest: Vec<(i64, String)> = tx
            .query(
                "SELECT seq, created_at FROM notifications ORDER BY seq ASC LIMIT $1",
                &[&(PRUNE_BATCH as i64)],
            )
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        // Timestamps are all written by `ts` (UTC, millis, `Z`), so they
        // compare as strings.
        let k = prune_prefix(
            oldest.iter().map(|(_, created)| created),
            before.as_ref(),
            excess,
        );
        if k == 0 {
            tx.commit().await?;
            return Ok(0);
        }
        let (lo, hi) = (oldest[0].0, oldest[k - 1].0);
        tx.execute(
            "UPDATE viewers SET unread = GREATEST(0, unread
                - (SELECT COUNT(*) FROM notifications
                   WHERE seq BETWEEN $1 AND $2 AND seq > viewers.read_upto)
                + (SELECT COUNT(*) FROM reads
                   WHERE reads.viewer = viewers.name AND reads.seq BETWEEN $1 AND $2))",
            &[&lo, &hi],
        )
        .await?;
        tx.execute("DELETE FROM reads WHERE seq BETWEEN $1 AND $2", &[&lo, &hi])
            .await?;
        tx.execute(
            "DELETE FROM notifications WHERE seq BETWEEN $1 AND $2",
            &[&lo, &hi],
        )
        .await?;
        let prev = kv_get_on(&tx, KV_PRUNED_UPTO)
            .await?
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        kv_put_on(&tx, KV_PRUNED_UPTO, &prev.max(hi).to_string()).await?;
        tx.commit().await?;
        Ok(k as u64)
    }

    /// One statement for the whole update (the keys and values as arrays).
    async fn record_kpis(
        &self,
        module: Module,
        at: DateTime<Utc>,
        values: Vec<(String, f64)>,
    ) -> Result<(), StorageError> {
        if values.is_empty() {
            return Ok(());
        }
        let (keys, vals): (Vec<String>, Vec<f64>) = values.into_iter().unzip();
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO kpi_history (module, key, slot, at_ms, value, lo, hi)
                 SELECT $1::text, k, $2::bigint, $3::bigint, v, v, v
                 FROM UNNEST($4::text[], $5::float8[]) AS t(k, v)
                 ON CONFLICT (module, key, slot) DO UPDATE SET
                    value = CASE WHEN excluded.at_ms >= kpi_history.at_ms
                                 THEN excluded.value ELSE kpi_history.value END,
                    at_ms = GREATEST(kpi_history.at_ms, excluded.at_ms),
                    lo = LEAST(kpi_history.lo, excluded.lo),
                    hi = GREATEST(kpi_history.hi, excluded.hi)",
                &[
                    &module.as_str(),
                    &slot_of(at),
                    &at.timestamp_millis(),
                    &keys,
                    &vals,
                ],
            )
            .await?;
        Ok(())
    }

    async fn kpi_history(
        &self,
        module: Module,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_secs: i64,
    ) -> Result<HistoryAnswer, StorageError> {
        let bucket = bucket_secs.max(SLOT_SECS);
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let points = tx
            .query(
                "SELECT h.at_ms, h.value, g.mn, g.mx FROM (
                    SELECT MAX(slot) AS last, MIN(lo) AS mn, MAX(hi) AS mx
                    FROM kpi_history
                    WHERE module = $1 AND key = $2 AND slot >= $3 AND slot <= $4
                    GROUP BY slot / $5
                 ) g JOIN kpi_history h
                   ON h.module = $1 AND h.key = $2 AND h.slot = g.last
                 ORDER BY g.last",
                &[
                    &module.as_str(),
                    &key,
                    &slot_of(from),
                    &slot_of(to),
                    &bucket,
                ],
            )
            .await?
            .into_iter()
            .map(|r| HistoryPoint {
                at: at_from_ms(r.get(0)),
                value: r.get(1),
                min: Some(r.get(2)),
                max: Some(r.get(3)),
            })
            .collect();
        let pruned_upto = kv_get_on(&tx, KV_HISTORY_PRUNED_UPTO)
            .await?
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(i64::MIN);
        tx.commit().await?;
        Ok(HistoryAnswer {
            points,
            truncated: from.timestamp() < pruned_upto,
        })
    }

    async fn kpi_history_rows(&self) -> Result<u64, StorageError> {
        self.number("SELECT COUNT(*) FROM kpi_history").await
    }

    async fn prune_kpi_history_batch(
        &self,
        before: DateTime<Utc>,
        excess: u64,
    ) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let oldest: Vec<i64> = tx
            .query(
                "SELECT slot FROM kpi_history ORDER BY slot LIMIT $1",
                &[&(PRUNE_BATCH as i64)],
            )
            .await?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        // Everything up to the newest slot of the prefix goes (the batch,
        // plus the other keys of that last slot).
        let k = prune_prefix(&oldest, Some(&slot_of(before)), excess);
        if k == 0 {
            tx.commit().await?;
            return Ok(0);
        }
        let upto = oldest[k - 1];
        let n = tx
            .execute("DELETE FROM kpi_history WHERE slot <= $1", &[&upto])
            .await?;
        // Nodes pruning at once: the kv row lock orders them; keep the max.
        tx.execute(
            "INSERT INTO kv (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value =
                GREATEST(kv.value::bigint, excluded.value::bigint)::text",
            &[&KV_HISTORY_PRUNED_UPTO, &(upto + SLOT_SECS).to_string()],
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn kv_get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let client = self.client().await?;
        kv_get_on(&client, key).await
    }

    async fn kv_put(&self, key: &str, value: String) -> Result<(), StorageError> {
        let client = self.client().await?;
        kv_put_on(&client, key, &value).await
    }

    async fn next_counter(&self, key: &str) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Lock the row (made if missing) so concurrent increments serialise.
        tx.execute(
            "INSERT INTO kv (key, value) VALUES ($1, '0') ON CONFLICT (key) DO NOTHING",
            &[&key],
        )
        .await?;
        let cur: String = tx
            .query_one("SELECT value FROM kv WHERE key = $1 FOR UPDATE", &[&key])
            .await?
            .get(0);
        let next = cur.parse::<u64>().unwrap_or(0) + 1;
        kv_put_on(&tx, key, &next.to_string()).await?;
        tx.commit().await?;
        Ok(next)
    }
}
