//! The Pulseboard wire contract (version 2) as serde types.
//!
//! Every shape, event name and rule of `shared/protocol.md` lives here, with
//! validation, so the server, the client core and the CLI agree by construction.
//! This crate does no I/O.
//!
//! Decoding goes through [`decode`], which parses *and* validates and turns
//! every failure into a [`ProtocolError`] whose message a person can read.

pub mod events;
pub mod history;
pub mod limits;
pub mod sample;
pub mod seed;

mod ack;
mod alert;
mod connection;
mod dashboard;
mod http;
mod kpi;
mod module;
mod notification;
mod request;
mod server_event;
mod validation;

pub use ack::{decode_ack, AckError, AckOk, MarkReadAck, NotificationSubscribeAck, SnapshotAck};
pub use alert::{Alert, AlertSeverity};
pub use connection::{AuthPayload, ConnectionStatus};
pub use dashboard::Dashboard;
pub use history::{HistoryPoint, HistoryRange, KpiHistory};
pub use http::{HttpError, NewAlert, NewNotification, PutDashboard, PutKpis, Snapshot};
pub use kpi::{Better, Kpi, KpiStatus, ModuleKpis, Thresholds};
pub use module::Module;
pub use notification::{Notification, NotificationRead, NotificationSeverity};
pub use request::{DashboardSubscribe, MarkRead, ModuleRequest, NotificationSubscribe};
pub use server_event::ServerEvent;
pub use validation::{decode, decode_slice, ProtocolError, Validate};

pub(crate) use dashboard::validate_dashboard;
pub(crate) use kpi::validate_kpis;
pub(crate) use validation::{check_text, invalid};

/// Version of the wire contract this crate implements.
pub const PROTOCOL_VERSION: u32 = 2;

#[cfg(test)]
mod tests;
