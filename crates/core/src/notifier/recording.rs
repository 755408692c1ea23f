//! [`RecordingNotifier`]: a [`Notifier`] that keeps what it is asked to
//! show, for tests.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::Notifier;
use crate::alerts::Toast;

/// Keeps every toast it is asked to show, in order. For tests and the CLI.
#[derive(Clone)]
pub struct RecordingNotifier {
    toasts: Arc<Mutex<Vec<Toast>>>,
    count: Arc<watch::Sender<usize>>,
}

impl Default for RecordingNotifier {
    fn default() -> Self {
        RecordingNotifier {
            toasts: Arc::default(),
            count: Arc::new(watch::channel(0).0),
        }
    }
}

impl std::fmt::Debug for RecordingNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingNotifier")
            .field("toasts", &self.toasts())
            .finish()
    }
}

impl RecordingNotifier {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared list the toasts are pushed to.
    pub fn shared(&self) -> Arc<Mutex<Vec<Toast>>> {
        Arc::clone(&self.toasts)
    }

    /// A copy of the toasts so far.
    pub fn toasts(&self) -> Vec<Toast> {
        self.toasts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Number of toasts so far.
    pub fn len(&self) -> usize {
        self.toasts.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing was shown.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wait until at least `n` toasts were shown.
    pub async fn wait_for(&self, n: usize) {
        let mut rx = self.count.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = rx.wait_for(|c| *c >= n).await;
    }
}

impl Notifier for RecordingNotifier {
    fn show(&self, toast: Toast) {
        let len = {
            let mut v = self.toasts.lock().unwrap_or_else(|e| e.into_inner());
            v.push(toast);
            v.len()
        };
        self.count.send_replace(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{ToastKind, Urgency};

    #[test]
    fn recording_notifier_keeps_order_and_shares_its_list() {
        let rec = RecordingNotifier::new();
        let shared = rec.shared();
        for i in 0..3 {
            rec.show(Toast {
                id: format!("t-{i}"),
                title: "x".into(),
                body: String::new(),
                urgency: Urgency::Low,
                kind: ToastKind::Alert,
            });
        }
        let ids: Vec<String> = shared
            .lock()
            .unwrap()
            .iter()
            .map(|t| t.id.clone())
            .collect();
        assert_eq!(ids, vec!["t-0", "t-1", "t-2"]);
        assert_eq!(rec.len(), 3);
    }
}
