//! Several server nodes as one server (`--redis URL`): live events reach
//! the sockets of every node through the socketioxide Redis adapter
//! (`socketioxide-redis`), on a [`Bus`] driver of our own over the redis
//! crate's `ConnectionManager`.
//!
//! **Room events** (`kpi:update:*`, `dashboard:update`, `alert:system`,
//! `notification:read` to one viewer's room) go through the adapter:
//! `io.to(room).except("node:<own uid>").emit(..)`. Every socket of a
//! cluster node joins its node's room [`node_room`] on connect, so the
//! adapter's own local delivery finds nobody on the sending node: that node
//! delivers to its own sockets itself, with a broadcast kept local to the
//! node ([`crate::App::deliver`]: socketioxide's `emit_local`, our patch 15,
//! which does not go through the adapter), so each delivery is counted
//! once, by the node that made it. The other nodes' adapters deliver the
//! broadcast to their sockets of the room (the `except` room travels in the
//! request's options). Only cluster nodes join the node room: a single
//! node pays nothing for it, and no adapter code runs without `--redis`
//! (the namespace keeps socketioxide's `LocalAdapter`).
//!
//! **A slow socket on another node.** The adapter delivers a remote
//! broadcast with socketioxide's `send_many`, whose error says that some
//! socket's send buffer was full, not whose (socketioxide-core's
//! `recv_broadcast` only logs it). Our patched socketioxide
//! (vendor/PATCHES.md, patch 14) disconnects such a socket itself, in every
//! broadcast ([`App::deliver`]'s too), so the rule holds for events from
//! other nodes as well: the client reconnects and catches up. The socket's
//! disconnect handler counts and logs it (`socket::gone`), the same one
//! path as on a single node.
//!
//! **Notifications** keep the store-ordered fan-in: each node's fan-in task
//! ([`spawn_fan_in`]) reads what it has not delivered yet from the shared
//! store (`seq` after its cursor, in commit order, one cheap read-only query
//! per page, [`crate::storage::Storage::notifications_since`]) and delivers
//! it in `seq` order, each once, with the slow-socket rule. The adapter
//! cannot carry that (a broadcast has no order across nodes and no
//! server-side message: socketioxide-core 0.20 has no `serverSideEmit`), so
//! only the wake-up "new notifications are in the store" needs a transport:
//! a one-line PUBLISH on [`WAKE_CHANNEL`] over the same Redis connection the
//! adapter uses. (PostgreSQL LISTEN/NOTIFY would also do, but would need its
//! own connection, a re-LISTEN and a fan-in after each PostgreSQL
//! reconnect; this way one connection and one reconnect rule cover both.)
//! Wake-ups that come while the task reads coalesce into one more read.
//!
//! **Redis restarts.** socketioxide-redis's own redis-crate driver holds one
//! `MultiplexedConnection` that never reconnects, and so never subscribes
//! again: broadcasts would stop silently. [`Bus`] sits on a
//! `ConnectionManager` (reconnects by itself), sees the connection drop (a
//! `Disconnection` push), and its health task ([`spawn_health`]) PINGs
//! Redis: once Redis answers again it SUBSCRIBEs every channel the adapter
//! asked for (and [`WAKE_CHANNEL`]), marks Redis up (`/readyz`) and wakes
//! the fan-in, which delivers whatever was stored while Redis was gone.
//! While Redis is down a publish fails at once (counted as unsent) instead
//! of making every write wait for a connect that will fail.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, OnceLock, RwLock,
    },
    time::Duration,
};

use redis::{aio::ConnectionManager, IntoConnectionInfo, PushInfo, PushKind};
use socketioxide_core::Uid;
use socketioxide_redis::{
    drivers::{ChanItem, Driver, MessageStream},
    CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr,
};
use tokio::sync::{mpsc, Notify};

use crate::{metrics::Metrics, App};

/// The adapter of a cluster node's namespace.
pub(crate) type Adapter = CustomRedisAdapter<socketioxide::adapter::Emitter, Bus>;

/// The adapter's channel prefix (its channels are `pulseboard-request#/#`…).
const PREFIX: &str = "pulseboard";

/// The channel of the "new notifications are in the store" wake-up.
pub(crate) const WAKE_CHANNEL: &str = "pulseboard:notifications";

/// How long a publish, a subscribe or a PING waits for Redis.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the health task PINGs Redis while it is up / while it is down.
const HEALTH_EVERY: Duration = Duration::from_millis(500);
const HEALTH_RETRY: Duration = Duration::from_millis(200);

/// Most notifications one fan-in read returns; a shorter page ends the read.
pub(crate) const FAN_IN_PAGE: usize = 200;

/// After the store failed, the fan-in tries again this soon even without a
/// wake-up (the notifications are in the store; nobody may post again).
const FAN_IN_RETRY: Duration = Duration::from_secs(1);

/// The room every socket of the cluster node `uid` joins: a node's own
/// broadcasts skip it (it delivers to its sockets itself).
pub(crate) fn node_room(uid: Uid) -> String {
    format!("node:{uid}")
}

/// An error of the [`Bus`] driver.
#[derive(Debug)]
pub(crate) struct BusError(String);

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BusError {}

impl From<redis::RedisError> for BusError {
    fn from(e: redis::RedisError) -> Self {
        BusError(e.to_string())
    }
}

/// What the Redis connection's push handler shares with the driver.
struct Shared {
    /// The adapter's channels and where their messages go.
    handlers: RwLock<HashMap<String, mpsc::Sender<ChanItem>>>,
    /// Redis answers and every channel is subscribed.
    up: AtomicBool,
    /// This node's server id (the adapter's uid).
    uid: OnceLock<Uid>,
    metrics: Arc<Metrics>,
    /// Wakes this node's fan-in task.
    wake: Arc<Notify>,
}

/// The Redis side of a cluster node: the adapter's [`Driver`], the
/// notification wake-up, and whether Redis is up. Clones share everything.
#[derive(Clone)]
pub(crate) struct Bus {
    conn: ConnectionManager,
    shared: Arc<Shared>,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus").field("up", &self.is_up()).finish()
    }
}

impl Bus {
    /// A bus on `url` (`redis://host:port`, `unix:///path/redis.sock`;
    /// always RESP3, which the adapter's push messages need: Redis 7+).
    /// Does not connect yet: the health task ([`spawn_health`]) does.
    pub(crate) fn new(url: &str, metrics: Arc<Metrics>, wake: Arc<Notify>) -> Result<Bus, String> {
        let bad = |e: redis::RedisError| format!("invalid --redis URL: {e}");
        let info = url.into_connection_info().map_err(bad)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings)).map_err(bad)?;
        let shared = Arc::new(Shared {
            handlers: RwLock::new(HashMap::new()),
            up: AtomicBool::new(false),
            uid: OnceLock::new(),
            metrics,
            wake,
        });
        let pushed = shared.clone();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1))
            .set_push_sender(move |msg: PushInfo| {
                on_push(&pushed, msg);
                Ok::<(), std::convert::Infallible>(())
            });
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("--redis: {e}"))?;
        Ok(Bus { conn, shared })
    }

    /// This node's server id (the `SocketIo`'s), before the namespace starts.
    pub(crate) fn set_uid(&self, uid: Uid) {
        let _ = self.shared.uid.set(uid);
    }

    /// The adapter's constructor state.
    pub(crate) fn adapter(&self) -> RedisAdapterCtr<Bus> {
        RedisAdapterCtr::new_with_driver(
            self.clone(),
            RedisAdapterConfig::new().with_prefix(PREFIX),
        )
    }

    /// Whether Redis answers and every channel is subscribed.
    pub(crate) fn is_up(&self) -> bool {
        self.shared.up.load(Ordering::SeqCst)
    }

    /// Tell the other nodes that new notifications are in the store; a
    /// failure is counted and logged: the notifications stay in the store
    /// and the other nodes deliver them at their next wake-up (at the latest
    /// when their Redis is back).
    pub(crate) async fn wake_others(&self) {
        let me = self
            .shared
            .uid
            .get()
            .map(|u| u.to_string())
            .unwrap_or_default();
        if let Err(e) = self.publish(WAKE_CHANNEL.to_owned(), me.into_bytes()).await {
            tracing::debug!(%e, "notification wake-up not sent");
        }
    }

    /// Every channel this node listens on.
    fn channels(&self) -> Vec<String> {
        let mut chans: Vec<String> = read(&self.shared.handlers).keys().cloned().collect();
        chans.push(WAKE_CHANNEL.to_owned());
        chans
    }

    /// PING, then (when Redis was down) SUBSCRIBE every channel again.
    /// Whether Redis is up afterwards.
    async fn check(&self) -> bool {
        let mut conn = self.conn.clone();
        let ping = tokio::time::timeout(
            REDIS_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await;
        match ping {
            Ok(Ok(_)) if self.is_up() => return true,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                self.down(&e.to_string());
                return false;
            }
            Err(_) => {
                self.down("PING timed out");
                return false;
            }
        }
        // Back (or first up): a reconnected connection has no subscriptions.
        let subscribed = tokio::time::timeout(REDIS_TIMEOUT, conn.subscribe(self.channels())).await;
        match subscribed {
            Ok(Ok(())) => {
                self.shared.up.store(true, Ordering::SeqCst);
                tracing::info!("redis up: cluster channels subscribed");
                // Whatever was stored while we were not subscribed.
                self.shared.wake.notify_one();
                true
            }
            Ok(Err(e)) => {
                self.down(&e.to_string());
                false
            }
            Err(_) => {
                self.down("SUBSCRIBE timed out");
                false
            }
        }
    }

    fn down(&self, why: &str) {
        if self.shared.up.swap(false, Ordering::SeqCst) {
            tracing::warn!(why, "redis down: cluster broadcasts stop until it is back");
        } else {
            tracing::debug!(why, "redis still down");
        }
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

/// A message or an event of the Redis connection (runs on its reader: no
/// waiting here).
fn on_push(shared: &Shared, msg: PushInfo) {
    match msg.kind {
        PushKind::Disconnection => {
            let was_up = shared.up.swap(false, Ordering::SeqCst);
            if was_up {
                tracing::warn!("redis connection lost; reconnecting");
            }
        }
        PushKind::Message => {
            let mut data = msg.data.into_iter();
            let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
                return;
            };
            let (Ok(chan), Ok(payload)) = (
                redis::from_redis_value::<String>(chan),
                redis::from_redis_value::<Vec<u8>>(payload),
            ) else {
                tracing::warn!("undecodable redis message");
                return;
            };
            let own = shared.uid.get();
            if chan == WAKE_CHANNEL {
                if own.is_none_or(|u| u.as_str().as_bytes() != payload.as_slice()) {
                    shared.metrics.cluster_in.inc();
                    shared.wake.notify_one();
                }
                return;
            }
            // The adapter ignores its own broadcasts (Redis echoes them):
            // count what other nodes sent.
            if chan.starts_with(PREFIX)
                && chan.contains("-request#")
                && origin(&payload) != own.copied()
            {
                shared.metrics.cluster_in.inc();
            }
            let handlers = read(&shared.handlers);
            match handlers.get(&chan) {
                Some(tx) => {
                    if let Err(e) = tx.try_send((chan, payload)) {
                        tracing::warn!(%e, "cluster message dropped: the adapter is behind");
                    }
                }
                None => tracing::debug!(chan, "message on a channel nobody listens to"),
            }
        }
        _ => {}
    }
}

/// The node that sent an adapter request (its first field).
fn origin(payload: &[u8]) -> Option<Uid> {
    struct First(Option<Uid>);
    impl<'de> serde::Deserialize<'de> for First {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = First;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an adapter request")
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<First, A::Error> {
                    let uid = seq.next_element::<Uid>()?;
                    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                    Ok(First(uid))
                }
            }
            d.deserialize_seq(V)
        }
    }
    rmp_serde::from_slice::<First>(payload).ok()?.0
}

impl Driver for Bus {
    type Error = BusError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), BusError> {
        let m = &self.shared.metrics;
        if !self.is_up() {
            m.cluster_unsent.inc();
            return Err(BusError("redis down: cluster message not sent".into()));
        }
        let mut conn = self.conn.clone();
        let sent = tokio::time::timeout(
            REDIS_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(&chan)
                .arg(val)
                .query_async::<i64>(&mut conn),
        )
        .await;
        match sent {
            Ok(Ok(_)) => {
                m.cluster_out.inc();
                Ok(())
            }
            Ok(Err(e)) => {
                m.cluster_unsent.inc();
                tracing::warn!(%e, "redis publish failed");
                Err(e.into())
            }
            Err(_) => {
                m.cluster_unsent.inc();
                tracing::warn!("redis publish timed out");
                Err(BusError("redis publish timed out".into()))
            }
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, BusError> {
        let (tx, rx) = mpsc::channel(size);
        self.shared
            .handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chan.clone(), tx);
        // Redis down (or not checked yet): the health task subscribes every
        // channel once Redis answers.
        if self.is_up() {
            let mut conn = self.conn.clone();
            match tokio::time::timeout(REDIS_TIMEOUT, conn.subscribe(&chan)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.down(&e.to_string()),
                Err(_) => self.down("SUBSCRIBE timed out"),
            }
        }
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), BusError> {
        self.shared
            .handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&chan);
        let mut conn = self.conn.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, conn.unsubscribe(&chan)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(BusError("UNSUBSCRIBE timed out".into())),
        }
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, BusError> {
        let mut conn = self.conn.clone();
        let (_, count): (String, u16) = tokio::time::timeout(
            REDIS_TIMEOUT,
            redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(chan)
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| BusError("PUBSUB NUMSUB timed out".into()))??;
        Ok(count)
    }
}

/// The health task of a node: PINGs Redis, and when it answers again after
/// being gone (or for the first time) subscribes every channel and wakes
/// the fan-in ([`Bus::check`]). Runs until aborted.
pub(crate) fn spawn_health(bus: Bus) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let up = bus.check().await;
            tokio::time::sleep(if up { HEALTH_EVERY } else { HEALTH_RETRY }).await;
        }
    })
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

#[cfg(test)]
mod tests {
    use socketioxide_core::{
        adapter::{
            remote_packet::{RequestOut, RequestTypeOut},
            BroadcastOptions,
        },
        packet::Packet,
        Str, Value,
    };

    use super::*;

    /// `cluster_messages_in` leaves out this node's own broadcasts (Redis
    /// echoes them): the sender of an adapter request is read from it.
    #[test]
    fn the_sender_of_an_adapter_request_is_read_from_it() {
        let uid = Uid::new();
        let packet = Packet::event(Str::from("/"), Value::Str(Str::from("[\"e\"]"), None));
        let mut opts = BroadcastOptions::default();
        opts.rooms.push("finance".into());
        opts.except.push(node_room(uid).into());
        let req = RequestOut::new(uid, RequestTypeOut::Broadcast(&packet), &opts);
        let bytes = rmp_serde::to_vec(&req).expect("encode");
        assert_eq!(origin(&bytes), Some(uid));
        assert_eq!(origin(b"not msgpack"), None);
    }
}
