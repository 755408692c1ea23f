//! Socket.IO handlers for the default namespace.
//!
//! Every client event is answered with an ack object: `{"ok": true, ...}` or
//! `{"ok": false, "error": "<reason>"}`. Payloads are taken as raw JSON and
//! decoded with `pulseboard_protocol::decode_slice`, which also enforces the
//! size limit; bad input changes nothing and leaves the connection up.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use pulseboard_protocol::{
    decode_slice, events, AckError, AckOk, AuthPayload, ConnectionStatus, DashboardSubscribe,
    MarkRead, MarkReadAck, Module, ModuleRequest, NotificationSubscribe, NotificationSubscribeAck,
    SnapshotAck, Validate,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use socketioxide::{
    adapter::Adapter,
    extract::{AckSender, Event, SocketRef, State, TryData},
    handler::ConnectHandler,
    socket::DisconnectReason,
    ParserError, SocketIo,
};

use socketioxide_core::adapter::DefinedAdapter;

use crate::{auth, auth::Viewer, metrics::Metrics, App};

/// Room of `dashboard:update` subscribers.
pub(crate) const DASHBOARD_ROOM: &str = "dashboard";
/// Room of notification subscribers.
pub(crate) const NOTIFICATIONS_ROOM: &str = "notifications";

/// The room of one viewer's notification subscribers: `notification:read`
/// goes there, so read state reaches that viewer's desktops only.
pub(crate) fn viewer_room(viewer: &Viewer) -> String {
    format!("viewer:{}", viewer.0)
}

/// Register the `/` namespace with its auth middleware and event handlers.
///
/// Event listeners are registered by the last connect middleware, which runs
/// before socketioxide sends the CONNECT reply: a client that emits as soon
/// as it is connected always finds them. (The connect handler itself runs in
/// a task spawned after the reply was sent; listeners registered there miss
/// an event that arrives first, 0.1 to 0.5 % of the time under load.)
/// Keep this middleware the innermost: a middleware added later with
/// `.with(...)` runs before it, so a refused handshake registers nothing.
///
/// A cluster node's sockets join the node's room first (before any other
/// room), so its own cross-node broadcasts skip them ([`crate::cluster`]).
///
/// `connection:status` is the first event of a session, before any ack, as
/// with the Node server (whose connection handler runs right after the
/// CONNECT reply): the connect handler's task may run after an event's
/// handler, so whichever runs first sends it ([`StatusPending`]).
pub(crate) fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>, app: Arc<App>) -> A::InitRes {
    let mw_app = app.clone();
    let node_room = app.node_room();
    let middleware = move |s: SocketRef<A>, auth: TryData<AuthPayload>| {
        let app = mw_app.clone();
        let node_room = node_room.clone();
        async move {
            // Records the viewer and the event limiter in the socket's extensions.
            auth::check_handshake(&app, &s, auth)?;
            if let Some(room) = node_room {
                s.join(room);
            }
            attach_listeners(&s, &app);
            s.extensions.insert(StatusPending);
            Ok::<(), auth::Refused>(())
        }
    };
    let on_connect = move |s: SocketRef<A>| {
        let app = app.clone();
        async move {
            tracing::debug!(sid = %s.id, "client connected");
            #[cfg(test)]
            if let Some(d) = app.status_delay {
                tokio::time::sleep(d).await;
            }
            send_status(&s, &app);
            // An event that came before the socket was marked connected
            // waits for this (`status_first`).
            app.status_sent.notify_waiters();
        }
    };
    io.ns("/", on_connect.with(middleware))
}

/// In a socket's extensions until its `connection:status` is sent.
#[derive(Clone, Copy)]
struct StatusPending;

/// `connection:status`, unless it was sent already: called by the connect
/// handler and, through [`status_first`], before any event is answered.
fn send_status<A: Adapter>(s: &SocketRef<A>, app: &App) {
    if !s.connected() || s.extensions.remove::<StatusPending>().is_none() {
        return;
    }
    let status = ConnectionStatus {
        status: "connected".into(),
        server_time: Utc::now(),
        server_version: crate::SERVER_VERSION.into(),
        modules: Module::ALL.to_vec(),
        server_id: Some(app.server_id().to_owned()),
    };
    if let Err(e) = s.emit(events::CONNECTION_STATUS, &status) {
        tracing::debug!(%e, "could not send connection:status");
    }
}

/// Longest an event waits for its socket's connect handler ([`status_first`]);
/// it is answered after that even without a `connection:status` before it.
const STATUS_WAIT: Duration = Duration::from_secs(5);

/// Before an event is answered: `connection:status` goes first.
///
/// socketioxide sends the CONNECT reply and then marks the socket
/// connected; a client that emits at once can have its event handled in
/// between, on another thread (or while the connecting one is preempted):
/// the socket cannot emit yet, so the event waits until the connect handler
/// (spawned after the socket is marked connected) has sent the status. Once
/// the socket is connected the event sends it itself if the connect handler
/// has not run yet. A socket that never gets connected (its CONNECT reply
/// failed) lets the event go after [`STATUS_WAIT`].
async fn status_first<A: Adapter>(s: &SocketRef<A>, app: &App) {
    let raced = || !s.connected() && s.extensions.get::<StatusPending>().is_some();
    // The shared `Notify` is touched only in that race, not for every event.
    if raced() {
        let wait = async {
            loop {
                // Registered before the check: a notification after it is
                // not missed.
                let sent = app.status_sent.notified();
                tokio::pin!(sent);
                sent.as_mut().enable();
                if !raced() {
                    return;
                }
                sent.await;
            }
        };
        if tokio::time::timeout(STATUS_WAIT, wait).await.is_err() {
            tracing::debug!(sid = %s.id, "event answered before the socket was connected");
        }
    }
    send_status(s, app);
}

/// Every client -> server event listener of a socket: one fallback handler
/// that dispatches by event name (socketioxide keeps one boxed handler and a
/// `HashMap` entry per `on(..)` registration in every socket; one handler is
/// ~0.5 KiB less per connection, issue #12). Unknown events are ignored, as
/// socketioxide ignores an event without a handler.
fn attach_listeners<A: Adapter>(s: &SocketRef<A>, app: &Arc<App>) {
    let a = app.clone();
    s.on_fallback(
        move |s: SocketRef<A>,
              Event(event): Event,
              TryData(data): TryData<Value>,
              ack: AckSender<A>| {
            let app = a.clone();
            async move {
                status_first(&s, &app).await;
                let reply = match event.as_str() {
                    events::MODULE_SUBSCRIBE => module_subscribe(&app, &s, data).await,
                    events::MODULE_UNSUBSCRIBE => module_unsubscribe(&app, &s, data),
                    events::DASHBOARD_SUBSCRIBE => dashboard_subscribe(&app, &s, data).await,
                    events::NOTIFICATION_SUBSCRIBE => {
                        match parse::<_, NotificationSubscribe>(
                            &app,
                            &s,
                            events::NOTIFICATION_SUBSCRIBE,
                            data,
                            true,
                        ) {
                            Ok(req) => notification_subscribe(&s, &app, req).await,
                            Err(e) => e,
                        }
                    }
                    events::NOTIFICATION_MARK_READ => mark_read(&app, &s, data).await,
                    _ => return,
                };
                send(ack, &reply);
            }
        },
    );

    // No captured state: a zero-sized handler per socket.
    s.on_disconnect(gone::<A>);
}

/// A socket went away. One that an event found with a full send buffer
/// (`is_slow`: our socketioxide patch 14 disconnects it, and no broadcast
/// reaches it after that) is counted and logged here, once, whichever
/// broadcast it was (this node's own, or in a cluster one another node
/// published) and however it ended (its DISCONNECT packet, or the
/// heartbeat of a client that drained nothing).
async fn gone<A: Adapter>(
    s: SocketRef<A>,
    reason: DisconnectReason,
    State(metrics): State<Arc<Metrics>>,
) {
    tracing::debug!(sid = %s.id, ?reason, "client disconnected");
    if s.is_slow() {
        overflowed(&metrics, &s);
    }
}

/// Count a socket disconnected because its send buffer was full, and say so.
fn overflowed<A: Adapter>(metrics: &Metrics, s: &SocketRef<A>) {
    metrics.overflow_disconnects.inc();
    tracing::warn!(
        sid = %s.id,
        overflow_disconnects_total = metrics.overflow_disconnects.get(),
        "send buffer full: socket disconnected so it catches up"
    );
}

/// `module:subscribe`.
async fn module_subscribe<A: Adapter>(
    app: &App,
    s: &SocketRef<A>,
    data: Result<Value, ParserError>,
) -> Value {
    match parse::<_, ModuleRequest>(app, s, events::MODULE_SUBSCRIBE, data, false) {
        Ok(req) => {
            // Join first so no update falls between snapshot and room.
            s.join(req.module.room());
            to_value(&SnapshotAck {
                ok: true,
                snapshot: app.current_kpis(req.module).await,
            })
        }
        Err(e) => e,
    }
}

/// `module:unsubscribe`.
fn module_unsubscribe<A: Adapter>(
    app: &App,
    s: &SocketRef<A>,
    data: Result<Value, ParserError>,
) -> Value {
    match parse::<_, ModuleRequest>(app, s, events::MODULE_UNSUBSCRIBE, data, false) {
        Ok(req) => {
            s.leave(req.module.room());
            to_value(&AckOk { ok: true })
        }
        Err(e) => e,
    }
}

/// `dashboard:subscribe`.
async fn dashboard_subscribe<A: Adapter>(
    app: &App,
    s: &SocketRef<A>,
    data: Result<Value, ParserError>,
) -> Value {
    match parse::<_, DashboardSubscribe>(app, s, events::DASHBOARD_SUBSCRIBE, data, true) {
        Ok(_) => {
            s.join(DASHBOARD_ROOM);
            to_value(&SnapshotAck {
                ok: true,
                snapshot: app.current_dashboard().await,
            })
        }
        Err(e) => e,
    }
}

/// `notification:mark-read`.
async fn mark_read<A: Adapter>(
    app: &App,
    s: &SocketRef<A>,
    data: Result<Value, ParserError>,
) -> Value {
    match parse::<_, MarkRead>(app, s, events::NOTIFICATION_MARK_READ, data, false) {
        Ok(req) => match app.mark_read(&Viewer::of(s), req).await {
            Ok(out) => to_value(&MarkReadAck {
                ok: true,
                unread_count: out.unread,
            }),
            Err(e) => storage_failure(e),
        },
        Err(e) => e,
    }
}

/// `notification:subscribe`: join the rooms first (so nothing stored after
/// the page was read is missed: it is broadcast to the room), then answer
/// with the viewer's page, unread count, read catch-up and `truncated`; an
/// empty page after a non-zero `afterSeq` also says the store's `lastSeq`,
/// so a client whose cursor is ahead of a store restored from a backup
/// notices it.
async fn notification_subscribe<A: Adapter>(
    s: &SocketRef<A>,
    app: &App,
    req: NotificationSubscribe,
) -> Value {
    let viewer = Viewer::of(s);
    s.join(NOTIFICATIONS_ROOM);
    s.join(viewer_room(&viewer));
    let asked = req.unread.is_some();
    let after_seq = req.after_seq.unwrap_or(0);
    let c = match app
        .store
        .catch_up(&viewer.0, after_seq, req.unread.unwrap_or_default())
        .await
    {
        Ok(c) => c,
        Err(e) => return storage_failure(e),
    };
    let last_seq = if c.notifications.is_empty() && after_seq > 0 {
        match app.store.last_seq().await {
            Ok(n) => Some(n),
            Err(e) => return storage_failure(e),
        }
    } else {
        None
    };
    to_value(&NotificationSubscribeAck {
        ok: true,
        notifications: c.notifications,
        unread_count: c.unread_count,
        read: asked.then_some(c.read),
        truncated: c.truncated,
        last_seq,
    })
}

/// Decode an event payload; on failure, the ready-made `{"ok": false}` ack.
///
/// With `empty_ok`, an event sent without any payload counts as `{}`.
fn parse<A: Adapter, T: DeserializeOwned + Validate>(
    app: &App,
    s: &SocketRef<A>,
    event: &str,
    data: Result<Value, ParserError>,
    empty_ok: bool,
) -> Result<T, Value> {
    // Counted for /metrics, and refused over the connection's event rate.
    crate::guard::event_allowed(app, s)?;
    let refuse = |reason: String| {
        app.drop_input(event, &reason);
        to_value(&AckError::new(reason))
    };
    let value = match data {
        Ok(Value::Null) if empty_ok => Value::Object(Default::default()),
        Ok(v) => v,
        Err(_) if empty_ok => Value::Object(Default::default()),
        Err(e) => return Err(refuse(format!("missing or unreadable payload: {e}"))),
    };
    let bytes = serde_json::to_vec(&value).map_err(|e| refuse(format!("invalid payload: {e}")))?;
    decode_slice(&bytes).map_err(|e| refuse(e.to_string()))
}

fn storage_failure(e: crate::StorageError) -> Value {
    tracing::error!(%e, "storage failure while answering an event");
    to_value(&AckError::new("internal storage error"))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_else(
        |e| serde_json::json!({ "ok": false, "error": format!("could not encode answer: {e}") }),
    )
}

/// Send an ack; a client that asked for none gets nothing.
fn send<A: Adapter>(ack: AckSender<A>, reply: &Value) {
    if let Err(e) = ack.send(reply) {
        tracing::debug!(%e, "could not send ack");
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message;

    /// The connect handler runs in a task of its own, which on a busy
    /// machine may start after the client's first request was answered. The
    /// client still gets `connection:status` (the server's identity) first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connection_status_comes_before_the_first_ack_even_when_the_connect_handler_is_late() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::Config::new(dir.path().join("s.db"));
        config.status_delay = Some(Duration::from_millis(500));
        let server = crate::spawn(config).await.unwrap();
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut texts = Vec::new();
        let read = async {
            loop {
                let Some(Ok(Message::Text(t))) = ws.next().await else {
                    panic!("connection ended")
                };
                let t = t.to_string();
                if t.starts_with('0') {
                    ws.send(Message::text("40")).await.unwrap();
                } else if t.starts_with("40") {
                    ws.send(Message::text(
                        r#"421["module:subscribe",{"module":"finance"}]"#,
                    ))
                    .await
                    .unwrap();
                } else if t == "2" {
                    ws.send(Message::text("3")).await.unwrap();
                } else {
                    texts.push(t);
                    if texts.len() == 2 {
                        return;
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(15), read)
            .await
            .expect("two packets after the join");
        assert!(
            texts[0].starts_with(r#"42["connection:status""#),
            "first: {}",
            texts[0]
        );
        assert!(texts[1].starts_with("431["), "then the ack: {}", texts[1]);
        server.stop().await.unwrap();
    }
}
