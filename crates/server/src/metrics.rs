//! `/metrics`: Prometheus (OpenMetrics) text, every name prefixed `pulseboard_`.
//!
//! One registry per server (not a process-global one), so several servers in
//! one test process each count their own.

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

/// The counters a running server keeps.
pub(crate) struct Metrics {
    registry: Registry,
    /// Open Socket.IO connections (set when scraped).
    pub(crate) connections: Gauge,
    /// Open TCP (or TLS) connections (set when scraped).
    pub(crate) tcp_connections: Gauge,
    /// TCP connections refused by the connection caps.
    pub(crate) connections_refused: Counter,
    /// Socket.IO events received from clients.
    pub(crate) events_in: Counter,
    /// Broadcasts sent (one per event, whatever the number of recipients).
    pub(crate) events_out: Counter,
    /// Event copies handed to sockets (a broadcast to 3 sockets counts 3).
    pub(crate) deliveries: Counter,
    /// Sockets disconnected because a broadcast found their send buffer full.
    pub(crate) overflow_disconnects: Counter,
    /// Refused handshakes and HTTP requests (401 and 403).
    pub(crate) auth_refused: Counter,
    /// HTTP requests answered 429 and socket events answered `rate limited`.
    pub(crate) rate_limited: Counter,
    /// Requests refused for their Origin or Content-Type.
    pub(crate) requests_refused: Counter,
    /// Storage operations that failed (including `/readyz` probes).
    pub(crate) storage_errors: Counter,
    /// HTTP API requests answered (any status).
    pub(crate) http_requests: Counter,
    /// Cluster messages published to Redis (`--redis`).
    pub(crate) cluster_out: Counter,
    /// Cluster messages received from other nodes.
    pub(crate) cluster_in: Counter,
    /// Cluster messages that could not be published (Redis gone).
    pub(crate) cluster_unsent: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pulseboard");
        let m = Metrics {
            connections: Gauge::default(),
            tcp_connections: Gauge::default(),
            connections_refused: Counter::default(),
            events_in: Counter::default(),
            events_out: Counter::default(),
            deliveries: Counter::default(),
            overflow_disconnects: Counter::default(),
            auth_refused: Counter::default(),
            rate_limited: Counter::default(),
            requests_refused: Counter::default(),
            storage_errors: Counter::default(),
            http_requests: Counter::default(),
            cluster_out: Counter::default(),
            cluster_in: Counter::default(),
            cluster_unsent: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open Socket.IO connections",
            m.connections.clone(),
        );
        registry.register(
            "tcp_connections",
            "Open TCP connections (HTTP, WebSocket, TLS)",
            m.tcp_connections.clone(),
        );
        registry.register(
            "connections_refused",
            "TCP connections refused by the connection caps",
            m.connections_refused.clone(),
        );
        registry.register(
            "events_in",
            "Socket.IO events received from clients",
            m.events_in.clone(),
        );
        registry.register(
            "events_out",
            "Events broadcast to clients by this node (with --redis, what other nodes publish is in cluster_messages_in)",
            m.events_out.clone(),
        );
        registry.register(
            "deliveries",
            "Event copies this node handed to its sockets (not those the Redis adapter delivers for other nodes)",
            m.deliveries.clone(),
        );
        registry.register(
            "overflow_disconnects",
            "Sockets disconnected because an event found their send buffer full (slow clients; they reconnect and catch up)",
            m.overflow_disconnects.clone(),
        );
        registry.register(
            "auth_refused",
            "Refused authentications (401, 403, connect_error)",
            m.auth_refused.clone(),
        );
        registry.register(
            "rate_limited",
            "HTTP requests answered 429 and socket events refused as rate limited",
            m.rate_limited.clone(),
        );
        registry.register(
            "requests_refused",
            "HTTP requests refused for their Origin or Content-Type",
            m.requests_refused.clone(),
        );
        registry.register(
            "storage_errors",
            "Failed storage operations",
            m.storage_errors.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP API requests answered",
            m.http_requests.clone(),
        );
        registry.register(
            "cluster_messages_out",
            "Messages published to the other nodes through Redis (Redis adapter requests and notification wake-ups)",
            m.cluster_out.clone(),
        );
        registry.register(
            "cluster_messages_in",
            "Messages received from other nodes through Redis (this node's own echoes not counted)",
            m.cluster_in.clone(),
        );
        registry.register(
            "cluster_messages_unsent",
            "Messages to the other nodes that could not be published (Redis gone)",
            m.cluster_unsent.clone(),
        );
        Metrics { registry, ..m }
    }

    /// One broadcast reaching `recipients` sockets.
    pub(crate) fn broadcast(&self, recipients: usize) {
        self.events_out.inc();
        self.deliveries.inc_by(recipients as u64);
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::warn!(%e, "could not encode metrics");
        }
        out
    }
}

/// The content type of [`Metrics::render`].
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
