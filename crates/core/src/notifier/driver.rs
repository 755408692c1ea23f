//! [`run_alerts`]: the task that feeds the store's alerts and notifications
//! to an [`AlertPolicy`], ticks it, and shows what it decides through a
//! [`Notifier`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pulseboard_protocol::{NotificationSeverity, ServerEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::Notifier;
use crate::alerts::{AlertPolicy, Decision, Dnd, PolicyCounters};
use crate::store::{Store, Update};

/// Settings the user can change while [`run_alerts`] runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySettings {
    /// Do-not-disturb mode.
    pub dnd: Dnd,
    /// Notification threshold (`None`: no toasts for notifications).
    pub notification_threshold: Option<NotificationSeverity>,
}

/// Where [`run_alerts_with`] reads the time. Wall-clock time: late alerts
/// are judged against their `createdAt`.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How often the policy is ticked by default.
pub const TICK: Duration = Duration::from_secs(1);

/// Options of [`run_alerts_with`] (tests and simulations).
#[derive(Clone)]
pub struct RunOptions {
    /// Where the time comes from. Default: `Utc::now`.
    pub clock: Clock,
    /// Tick period. Default: [`TICK`].
    pub tick: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            clock: Arc::new(Utc::now),
            tick: TICK,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

/// Feed alerts and notifications from `updates` (from [`Store::subscribe`])
/// into `policy`, tick it every second while it holds something for a
/// summary, and show what it decides through
/// `notifier`. Settings come from `control`: its current value is applied at
/// start (it overrides `dnd` and the threshold of the policy's config) and
/// every change after; a change is applied before any event received after
/// it. Runs until the update stream closes; abort the task to stop it
/// earlier. Prefer [`spawn_alerts`], which subscribes before spawning.
pub async fn run_alerts(
    updates: broadcast::Receiver<Update>,
    policy: AlertPolicy,
    notifier: Arc<dyn Notifier>,
    control: watch::Receiver<PolicySettings>,
) {
    run_alerts_with(
        updates,
        policy,
        notifier,
        control,
        RunOptions::default(),
        None,
    )
    .await
}

/// [`run_alerts`] with given options, publishing the policy counters to
/// `counters` after every step when given.
pub async fn run_alerts_with(
    mut updates: broadcast::Receiver<Update>,
    mut policy: AlertPolicy,
    notifier: Arc<dyn Notifier>,
    mut control: watch::Receiver<PolicySettings>,
    options: RunOptions,
    counters: Option<watch::Sender<PolicyCounters>>,
) {
    let clock = options.clock;
    let apply = |policy: &mut AlertPolicy, s: PolicySettings| {
        policy.set_dnd(s.dnd);
        policy.set_threshold(s.notification_threshold);
    };
    apply(&mut policy, *control.borrow_and_update());
    let mut control_open = true;
    let mut tick = tokio::time::interval(options.tick.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let show = |decisions: Vec<Decision>| {
        for Decision::Show(toast) in decisions {
            notifier.show(toast);
        }
    };
    loop {
        tokio::select! {
            // Settings first, so a change made before an event applies to it.
            biased;
            changed = control.changed(), if control_open => match changed {
                Ok(()) => apply(&mut policy, *control.borrow_and_update()),
                // Nobody can change settings any more: keep the last ones.
                Err(_) => control_open = false,
            },
            u = updates.recv() => match u {
                Ok(Update::Event(ServerEvent::AlertSystem(a))) => show(policy.on_alert(&a, clock())),
                Ok(Update::Event(ServerEvent::NotificationNew(n))) => {
                    show(policy.on_notification(&n, clock()))
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "alert task fell behind; some updates were skipped");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            // Only while something is held for a summary: an idle app
            // does not wake once a second for nothing.
            _ = tick.tick(), if policy.pending() > 0 => show(policy.tick(clock())),
        }
        if let Some(tx) = &counters {
            let c = policy.counters();
            tx.send_if_modified(|old| {
                let changed = *old != c;
                *old = c;
                changed
            });
        }
    }
}

/// A running [`run_alerts`] task.
#[derive(Debug)]
pub struct AlertsTask {
    /// The task.
    pub join: JoinHandle<()>,
    counters: watch::Receiver<PolicyCounters>,
}

impl AlertsTask {
    /// Policy counters as of the last step.
    pub fn counters(&self) -> PolicyCounters {
        *self.counters.borrow()
    }

    /// Follow the policy counters (e.g. to show "3 silenced" in the UI).
    pub fn watch_counters(&self) -> watch::Receiver<PolicyCounters> {
        self.counters.clone()
    }

    /// Stop the task.
    pub fn abort(&self) {
        self.join.abort();
    }
}

/// Subscribe to `store` now (so nothing published after this call is missed)
/// and spawn [`run_alerts`]. Needs a tokio runtime.
pub fn spawn_alerts(
    store: &Store,
    policy: AlertPolicy,
    notifier: Arc<dyn Notifier>,
    control: watch::Receiver<PolicySettings>,
) -> AlertsTask {
    spawn_alerts_with(store, policy, notifier, control, RunOptions::default())
}

/// [`spawn_alerts`] with given options (for tests and simulations).
pub fn spawn_alerts_with(
    store: &Store,
    policy: AlertPolicy,
    notifier: Arc<dyn Notifier>,
    control: watch::Receiver<PolicySettings>,
    options: RunOptions,
) -> AlertsTask {
    let updates = store.subscribe();
    let (tx, rx) = watch::channel(policy.counters());
    let join = tokio::spawn(run_alerts_with(
        updates,
        policy,
        notifier,
        control,
        options,
        Some(tx),
    ));
    AlertsTask { join, counters: rx }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{PolicyConfig, ToastKind, Urgency};
    use crate::notifier::RecordingNotifier;
    use crate::store::ClientState;
    use chrono::TimeZone;
    use pulseboard_protocol::{Alert, AlertSeverity, Notification};
    use std::sync::Mutex;

    fn base() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    /// A clock the test moves by hand.
    fn manual_clock() -> (Arc<Mutex<DateTime<Utc>>>, Clock) {
        let now = Arc::new(Mutex::new(base()));
        let read = Arc::clone(&now);
        (now, Arc::new(move || *read.lock().unwrap()))
    }

    fn alert(id: &str, severity: AlertSeverity) -> Alert {
        Alert {
            id: id.into(),
            severity,
            title: format!("title {id}"),
            message: "m".into(),
            created_at: base(),
        }
    }

    /// Nothing held for a summary: the task's tick is off, so an idle app
    /// is not woken by it (it ticked every second before; with a 1 ms tick
    /// the clock was read dozens of times here).
    #[tokio::test]
    async fn an_idle_alert_task_does_not_tick() {
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&reads);
        let clock: Clock = Arc::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            base()
        });
        let store = Store::new(ClientState::empty("test"));
        let (_settings, control) = watch::channel(PolicySettings::default());
        let _task = spawn_alerts_with(
            &store,
            AlertPolicy::new(PolicyConfig::default()),
            Arc::new(RecordingNotifier::new()),
            control,
            RunOptions {
                clock,
                tick: Duration::from_millis(1),
            },
        );
        // An observation window, not a synchronisation: a slower machine
        // only gives fewer ticks, never a false failure.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            reads.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "ticked with nothing pending"
        );
    }

    #[tokio::test]
    async fn run_alerts_shows_caps_groups_and_follows_settings() {
        let (now, clock) = manual_clock();
        let store = Store::new(ClientState::empty("test"));
        let rec = RecordingNotifier::new();
        let (settings, control) = watch::channel(PolicySettings::default());
        let policy = AlertPolicy::new(PolicyConfig {
            max_per_minute: 2,
            ..PolicyConfig::default()
        });
        let task = spawn_alerts_with(
            &store,
            policy,
            Arc::new(rec.clone()),
            control,
            RunOptions {
                clock,
                tick: Duration::from_millis(5),
            },
        );

        // Published right after spawning: not missed.
        for i in 0..5 {
            let a = alert(&format!("a-{i}"), AlertSeverity::Warning);
            store.apply(|s| s.apply_alert(a, base()));
        }
        // The store drops a repeat itself; the policy would too.
        let again = alert("a-0", AlertSeverity::Warning);
        store.apply(|s| s.apply_alert(again, base()));

        rec.wait_for(2).await;
        let mut counters = task.watch_counters();
        counters.wait_for(|c| c.shown == 2).await.unwrap();
        assert_eq!(rec.len(), 2, "capped at max_per_minute");
        assert_eq!(task.counters().shown, 2);

        // Ticks inside the window show nothing...
        let ticks = tokio::time::Instant::now();
        while ticks.elapsed() < Duration::from_millis(50) {
            tokio::task::yield_now().await;
        }
        assert_eq!(rec.len(), 2, "no summary while the window is full");
        // ...the first tick after it shows exactly one summary.
        *now.lock().unwrap() = base() + chrono::Duration::seconds(60);
        rec.wait_for(3).await;
        let toasts = rec.toasts();
        assert_eq!(toasts.len(), 3);
        assert_eq!(toasts[2].kind, ToastKind::Summary);
        assert_eq!(toasts[2].title, "3 more alerts");
        assert_eq!(toasts[2].urgency, Urgency::Normal);

        // Silence everything: the next alert is counted, not shown.
        settings.send_replace(PolicySettings {
            dnd: Dnd::SilenceAll,
            notification_threshold: None,
        });
        let a = alert("a-10", AlertSeverity::Critical);
        store.apply(|s| s.apply_alert(a, base()));
        counters.wait_for(|c| c.dnd_suppressed == 1).await.unwrap();

        // Notifications at or above the threshold are shown.
        settings.send_replace(PolicySettings {
            dnd: Dnd::Off,
            notification_threshold: Some(NotificationSeverity::Warning),
        });
        let n = Notification {
            id: "n-1".into(),
            seq: 1,
            title: "disk".into(),
            body: "almost full".into(),
            severity: NotificationSeverity::Error,
            module: None,
            created_at: base() + chrono::Duration::seconds(61),
            read: false,
        };
        store.apply(|s| s.apply_notification(n, base()));
        rec.wait_for(4).await;
        let toasts = rec.toasts();
        assert_eq!(toasts.len(), 4);
        assert_eq!(toasts[3].id, "n-1");
        assert_eq!(toasts[3].kind, ToastKind::Notification);
        let c = task.counters();
        assert_eq!(
            (c.shown, c.grouped, c.summaries, c.dnd_suppressed),
            (3, 3, 1, 1)
        );
        task.abort();
    }
}
