//! Several server nodes as one server (`--redis URL`): live events reach
//! the sockets of every node through Redis pub/sub.
//!
//! Each node delivers to its own sockets, socket by socket ([`App::deliver`]),
//! so the slow-socket rule (a full send buffer disconnects that socket, which
//! then catches up) holds on every node. A node publishes what it delivered
//! on the channel [`CHANNEL`]; the other nodes deliver it to their sockets:
//! - KPI, dashboard, alert and `notification:read` events carry their room
//!   and payload;
//! - for notifications the message only says "something new": each node's
//!   fan-in task ([`spawn_fan_in`]) reads what it has not delivered yet from
//!   the shared store (`seq` after its cursor, in commit order, one cheap
//!   read-only query per page, [`crate::storage::Storage::notifications_since`])
//!   and delivers it in `seq` order, each once. The node that stored a
//!   notification wakes its own task the same way. Wake-ups that come while
//!   the task reads coalesce into one more read, so a burst of
//!   notifications costs a node a few reads, not one per notification.
//!   A node that missed messages (Redis was gone) delivers everything it
//!   missed at the next message or when its subscription is back.
//!
//! Why not the socketioxide Redis adapter: its remote broadcasts lose the
//! per-socket "buffer full" answer (a slow socket would silently miss an
//! event), and its Redis driver does not subscribe again after a Redis
//! restart (broadcasts would stop silently). Here the subscriber reconnects
//! in a loop, and `/readyz` reports Redis while the subscription is down.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::App;

/// The pub/sub channel of a cluster.
pub(crate) const CHANNEL: &str = "pulseboard:events";

/// How long a publish or a (re)connect waits for Redis.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Most notifications one fan-in read returns; a shorter page ends the read.
pub(crate) const FAN_IN_PAGE: usize = 200;

/// After the store failed, the fan-in tries again this soon even without a
/// wake-up (the notifications are in the store; nobody may post again).
const FAN_IN_RETRY: Duration = Duration::from_secs(1);

/// One message between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Wire {
    /// The publishing node (a node ignores its own messages).
    pub node: String,
    /// What to deliver.
    pub kind: Kind,
}

/// What a message asks the other nodes to deliver.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "camelCase")]
pub(crate) enum Kind {
    /// New notifications are in the store: deliver what is after the cursor.
    Notifications,
    /// `event` with `payload` to the sockets of `room` (every socket: `None`).
    Room {
        room: Option<String>,
        event: String,
        payload: Value,
    },
}

/// The Redis side of a node.
pub(crate) struct Bus {
    node: String,
    client: redis::Client,
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    subscribed: AtomicBool,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("node", &self.node).finish()
    }
}

impl Bus {
    /// A bus on `url` (`redis://host:port`, `unix:///path/redis.sock`).
    pub(crate) fn new(url: &str) -> Result<Bus, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid --redis URL: {e}"))?;
        Ok(Bus {
            node: format!("{:032x}", rand::random::<u128>()),
            client,
            publisher: tokio::sync::Mutex::new(None),
            subscribed: AtomicBool::new(false),
        })
    }

    /// Whether this node is subscribed (Redis reachable).
    pub(crate) fn is_up(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst)
    }

    /// Tell the other nodes; whether it was published. A failure is logged: notifications stay in the
    /// store and the other nodes deliver them at their next wake-up (at the
    /// latest when their subscription is back); a KPI/alert event a node
    /// missed is in its snapshot (the store) when its clients resubscribe.
    pub(crate) async fn publish(&self, kind: Kind) -> bool {
        let msg = match serde_json::to_string(&Wire {
            node: self.node.clone(),
            kind,
        }) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%e, "cannot encode a cluster message");
                return false;
            }
        };
        let mut conn = self.publisher.lock().await;
        for _attempt in 0..2 {
            if conn.is_none() {
                if !self.is_up() {
                    // The subscriber cannot reach Redis either: do not make
                    // every write wait for a connect that will fail.
                    tracing::debug!("redis down: cluster message not sent");
                    return false;
                }
                match tokio::time::timeout(
                    REDIS_TIMEOUT,
                    self.client.get_multiplexed_async_connection(),
                )
                .await
                {
                    Ok(Ok(c)) => *conn = Some(c),
                    Ok(Err(e)) => {
                        tracing::warn!(%e, "redis unreachable: cluster message not sent");
                        return false;
                    }
                    Err(_) => {
                        tracing::warn!("redis timed out: cluster message not sent");
                        return false;
                    }
                }
            }
            let Some(c) = conn.as_mut() else {
                return false;
            };
            let sent = tokio::time::timeout(
                REDIS_TIMEOUT,
                redis::cmd("PUBLISH")
                    .arg(CHANNEL)
                    .arg(&msg)
                    .query_async::<i64>(c),
            )
            .await;
            match sent {
                Ok(Ok(_)) => return true,
                Ok(Err(e)) => tracing::warn!(%e, "redis publish failed; reconnecting"),
                Err(_) => tracing::warn!("redis publish timed out; reconnecting"),
            }
            *conn = None;
        }
        false
    }
}

/// The subscriber of a node: subscribes, delivers what other nodes publish,
/// and after every (re)subscription delivers the notifications it missed.
/// Runs until aborted; reconnects with a short backoff.
pub(crate) fn spawn_subscriber(app: Arc<App>, bus: Arc<Bus>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match tokio::time::timeout(REDIS_TIMEOUT, subscribe(&bus)).await {
                Ok(Ok(pubsub)) => {
                    bus.subscribed.store(true, Ordering::SeqCst);
                    tracing::info!("subscribed to the cluster channel");
                    backoff = Duration::from_millis(100);
                    // Whatever was posted while we were not subscribed.
                    app.fan_in();
                    let mut stream = pubsub.into_on_message();
                    while let Some(msg) = stream.next().await {
                        let Ok(text) = msg.get_payload::<String>() else {
                            app.drop_input("cluster", &"undecodable redis message");
                            continue;
                        };
                        match serde_json::from_str::<Wire>(&text) {
                            Ok(w) if w.node == bus.node => {}
                            Ok(w) => app.on_cluster_message(w.kind).await,
                            Err(e) => app.drop_input("cluster", &e),
                        }
                    }
                    bus.subscribed.store(false, Ordering::SeqCst);
                    tracing::warn!("lost the cluster channel (redis gone); reconnecting");
                }
                Ok(Err(e)) => {
                    bus.subscribed.store(false, Ordering::SeqCst);
                    tracing::warn!(%e, "cannot subscribe to redis; retrying");
                }
                Err(_) => {
                    bus.subscribed.store(false, Ordering::SeqCst);
                    tracing::warn!("redis subscribe timed out; retrying");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    })
}

async fn subscribe(bus: &Bus) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = bus.client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    Ok(pubsub)
}

/// The fan-in task of a node: each wake-up ([`App::fan_in`]) reads the
/// notifications after its cursor and delivers them to this node's sockets
/// ([`App::fan_in_from`]). The only reader of the cursor, so notifications
/// go out in `seq` order, each once, with no lock held across the database
/// round trip. After a storage failure it tries again by itself
/// ([`FAN_IN_RETRY`]). Runs until aborted.
pub(crate) fn spawn_fan_in(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut cursor = app.fan_from;
        let mut failed = false;
        loop {
            if failed {
                // Woken or not: the store may be back.
                let _ = tokio::time::timeout(FAN_IN_RETRY, app.fan_wake.notified()).await;
            } else {
                app.fan_wake.notified().await;
            }
            match app.fan_in_from(cursor).await {
                Ok(c) => {
                    cursor = c;
                    failed = false;
                }
                Err(c) => {
                    cursor = c;
                    failed = true;
                }
            }
        }
    })
}
