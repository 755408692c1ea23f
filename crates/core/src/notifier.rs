//! Showing toasts: the [`Notifier`] trait the alert task shows its toasts
//! through, the task itself ([`run_alerts`], in `notifier/driver.rs`: the
//! store's update stream into an [`AlertPolicy`](crate::AlertPolicy)) and a
//! [`RecordingNotifier`] for tests (`notifier/recording.rs`).
//!
//! The native backend (notify-rust over D-Bus) is the desktop shell's
//! (`src-tauri/src/notifier.rs`): the core, and so the CLI, link no D-Bus
//! client.

mod driver;
mod recording;

pub use driver::{
    run_alerts, run_alerts_with, spawn_alerts, spawn_alerts_with, AlertsTask, Clock,
    PolicySettings, RunOptions, TICK,
};
pub use recording::RecordingNotifier;

use crate::alerts::Toast;

/// Shows toasts. Fire and forget: implementations must return quickly and
/// never block or panic.
pub trait Notifier: Send + Sync + 'static {
    /// Show this toast.
    fn show(&self, toast: Toast);
}
