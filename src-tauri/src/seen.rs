//! Which critical alerts the user has dealt with: one notion, owned by Rust.
//!
//! The window's banner shows the latest critical alert not dismissed; the
//! tray marks its icon while there is one. Both read [`unseen_critical`]
//! over the same [`Dismissed`] set, which only the `dismiss_alert` command
//! changes, so the window and the tray cannot disagree. The set is kept in
//! `dismissed-alerts.json` beside the settings, so a dismissed alert stays
//! dismissed after a restart (alerts are cached).

use std::collections::VecDeque;

use pulseboard_protocol::{Alert, AlertSeverity};

/// Dismissed alert ids remembered (oldest forgotten first; alerts kept by
/// the store are fewer).
pub const MAX_DISMISSED: usize = 200;
/// Longest alert id accepted from the window.
pub const MAX_ID_LEN: usize = 200;

/// Dismissed alert ids, oldest first, unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dismissed {
    ids: VecDeque<String>,
}

impl Dismissed {
    /// From saved ids (bad entries dropped, bounded).
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        let mut d = Dismissed::default();
        for id in ids {
            let _ = d.add(&id);
        }
        d
    }

    /// Whether `id` was dismissed.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|x| x == id)
    }

    /// Dismiss `id`. `Ok(true)` when it is new, `Ok(false)` when it was
    /// already dismissed, `Err` for an id that cannot be an alert's.
    pub fn add(&mut self, id: &str) -> Result<bool, String> {
        if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
            return Err(format!(
                "not an alert id (1 to {MAX_ID_LEN} characters, no control characters)"
            ));
        }
        if self.contains(id) {
            return Ok(false);
        }
        if self.ids.len() == MAX_DISMISSED {
            self.ids.pop_front();
        }
        self.ids.push_back(id.to_string());
        Ok(true)
    }

    /// The ids, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.ids.iter().cloned().collect()
    }
}

/// The latest critical alert not dismissed: what the banner shows and what
/// marks the tray icon.
pub fn unseen_critical<'a>(
    alerts: impl DoubleEndedIterator<Item = &'a Alert>,
    dismissed: &Dismissed,
) -> Option<&'a Alert> {
    alerts
        .rev()
        .find(|a| a.severity == AlertSeverity::Critical && !dismissed.contains(&a.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn alert(id: &str, severity: AlertSeverity) -> Alert {
        Alert {
            id: id.into(),
            severity,
            title: format!("alert {id}"),
            message: String::new(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn the_latest_critical_alert_not_dismissed_is_unseen() {
        let alerts = [
            alert("a-1", AlertSeverity::Critical),
            alert("a-2", AlertSeverity::Critical),
            alert("a-3", AlertSeverity::Warning),
        ];
        let mut d = Dismissed::default();
        assert_eq!(unseen_critical(alerts.iter(), &d).unwrap().id, "a-2");
        assert_eq!(d.add("a-2"), Ok(true));
        assert_eq!(d.add("a-2"), Ok(false));
        assert_eq!(unseen_critical(alerts.iter(), &d).unwrap().id, "a-1");
        d.add("a-1").unwrap();
        assert!(unseen_critical(alerts.iter(), &d).is_none());
    }

    #[test]
    fn bad_ids_are_refused_and_memory_is_bounded() {
        let mut d = Dismissed::default();
        assert!(d.add("").is_err());
        assert!(d.add("a\n1").is_err());
        assert!(d.add(&"x".repeat(MAX_ID_LEN + 1)).is_err());
        for i in 0..MAX_DISMISSED + 10 {
            d.add(&format!("a-{i}")).unwrap();
        }
        assert_eq!(d.ids().len(), MAX_DISMISSED);
        assert!(!d.contains("a-0"));
        assert!(d.contains(&format!("a-{}", MAX_DISMISSED + 9)));
        let back = Dismissed::new(d.ids().into_iter().chain(["".to_string()]));
        assert_eq!(back, d);
    }
}
