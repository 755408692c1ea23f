//! Showing toasts: the [`Notifier`] trait, the native [`DesktopNotifier`], a
//! [`RecordingNotifier`] for tests and the CLI, and the [`run_alerts`] task
//! that connects the store's update stream to an [`AlertPolicy`].
//!
//! notify-rust's `show()` blocks (a D-Bus round trip on Linux, driven by its
//! own executor, which panics inside a tokio worker when zbus runs on tokio).
//! [`DesktopNotifier`] therefore never calls it on an async worker: it uses
//! `tokio::task::spawn_blocking` when a runtime is around and a plain thread
//! otherwise. Waiting for a click runs on a separate detached thread, so a
//! toast that stays on screen for hours neither holds a blocking-pool thread
//! nor delays runtime shutdown.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pulseboard_protocol::{NotificationSeverity, ServerEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::alerts::{AlertPolicy, Decision, Dnd, PolicyCounters, Toast};
use crate::store::{Store, Update};

/// Shows toasts. Fire and forget: implementations must return quickly and
/// never block or panic.
pub trait Notifier: Send + Sync + 'static {
    /// Show this toast.
    fn show(&self, toast: Toast);
}

/// Called with the toast id when the user clicks a toast ("default" action).
/// Runs on a background thread: hand the work over (e.g. to the UI event loop)
/// instead of doing much here.
pub type ClickHandler = Arc<dyn Fn(String) + Send + Sync>;

/// Toasts waiting for a click at the same time, at most. Beyond this, toasts
/// are shown without the click action.
pub const MAX_CLICK_WAITERS: usize = 16;

/// What a [`DesktopNotifier`] did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifierStats {
    /// Toasts the desktop accepted.
    pub shown: u64,
    /// Toasts that failed (no notification daemon, no D-Bus, ...).
    pub failed: u64,
    /// Clicks handed to the click handler.
    pub clicks: u64,
}

#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
struct Inner {
    app_name: String,
    icon: Option<String>,
    on_click: Option<ClickHandler>,
    /// Whether the notification server supports actions; asked once.
    actions: OnceLock<bool>,
    waiters: AtomicUsize,
    shown: AtomicU64,
    failed: AtomicU64,
    clicks: AtomicU64,
}

/// Native desktop notifications through notify-rust (XDG/D-Bus on Linux and
/// the BSDs, Notification Center on macOS, toasts on Windows).
#[derive(Clone)]
pub struct DesktopNotifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DesktopNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopNotifier")
            .field("app_name", &self.inner.app_name)
            .field("icon", &self.inner.icon)
            .field("on_click", &self.inner.on_click.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

impl DesktopNotifier {
    /// A notifier showing toasts as `app_name`, with an optional icon (a file
    /// path). With `on_click`, toasts get an "Open dashboard" default action
    /// where the desktop supports actions (Linux/BSD), and a click calls
    /// `on_click(toast id)`.
    pub fn new(app_name: &str, icon: Option<PathBuf>, on_click: Option<ClickHandler>) -> Self {
        DesktopNotifier {
            inner: Arc::new(Inner {
                app_name: app_name.to_string(),
                icon: icon.map(|p| p.to_string_lossy().into_owned()),
                on_click,
                actions: OnceLock::new(),
                waiters: AtomicUsize::new(0),
                shown: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                clicks: AtomicU64::new(0),
            }),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> NotifierStats {
        NotifierStats {
            shown: self.inner.shown.load(Ordering::Relaxed),
            failed: self.inner.failed.load(Ordering::Relaxed),
            clicks: self.inner.clicks.load(Ordering::Relaxed),
        }
    }
}

impl Notifier for DesktopNotifier {
    fn show(&self, toast: Toast) {
        let inner = Arc::clone(&self.inner);
        let job = move || inner.show_blocking(toast);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                // Detached: the result is counted inside.
                drop(rt.spawn_blocking(job));
            }
            Err(_) => {
                if let Err(e) = std::thread::Builder::new()
                    .name("pulseboard-notify".into())
                    .spawn(job)
                {
                    self.inner.fail(&format!("cannot start a thread: {e}"));
                }
            }
        }
    }
}

/// Gives a click-waiter slot back when dropped.
#[cfg(all(unix, not(target_os = "macos")))]
struct WaiterSlot(Arc<Inner>);

#[cfg(all(unix, not(target_os = "macos")))]
impl Drop for WaiterSlot {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Inner {
    /// Log the first failure, then every power of two, to keep logs readable
    /// when there is no notification daemon at all.
    fn fail(&self, what: &str) {
        let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(failures = n, "desktop notification failed: {what}");
        } else {
            tracing::debug!(failures = n, "desktop notification failed: {what}");
        }
    }

    /// Reserve a click-waiter slot when clicks are wanted and possible.
    #[cfg(all(unix, not(target_os = "macos")))]
    fn click_slot(self: &Arc<Self>) -> Option<WaiterSlot> {
        self.on_click.as_ref()?;
        if !*self.actions.get_or_init(actions_supported) {
            return None;
        }
        let prev = self.waiters.fetch_add(1, Ordering::AcqRel);
        let slot = WaiterSlot(Arc::clone(self));
        (prev < MAX_CLICK_WAITERS).then_some(slot)
    }

    /// Runs on a blocking thread.
    fn show_blocking(self: Arc<Self>, toast: Toast) {
        let this = Arc::clone(&self);
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || this.show_now(toast)));
        if r.is_err() {
            self.fail("notify-rust panicked");
        }
    }

    fn show_now(self: &Arc<Self>, toast: Toast) {
        let mut n = notify_rust::Notification::new();
        n.appname(&self.app_name)
            .summary(&toast.title)
            .body(&body_markup_escaped(&toast.body));
        if let Some(icon) = &self.icon {
            n.icon(icon);
        }
        #[cfg(any(all(unix, not(target_os = "macos")), target_os = "windows"))]
        n.urgency(native_urgency(toast.urgency));

        #[cfg(all(unix, not(target_os = "macos")))]
        {
            let slot = self.click_slot();
            if slot.is_some() {
                n.action("default", "Open dashboard");
            }
            match n.show() {
                Ok(handle) => {
                    self.shown.fetch_add(1, Ordering::Relaxed);
                    if let Some(slot) = slot {
                        self.wait_for_click(handle, toast.id, slot);
                    }
                }
                Err(e) => self.fail(&e.to_string()),
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            let _ = toast.id;
            match n.show() {
                Ok(_) => {
                    self.shown.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => self.fail(&e.to_string()),
            }
        }
    }

    /// Wait for the user on a detached thread; ends when the toast closes.
    #[cfg(all(unix, not(target_os = "macos")))]
    fn wait_for_click(
        self: &Arc<Self>,
        handle: notify_rust::NotificationHandle,
        id: String,
        slot: WaiterSlot,
    ) {
        let inner = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("pulseboard-notify-wait".into())
            .spawn(move || {
                let _slot = slot;
                let mut clicked = false;
                let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handle.wait_for_action(|action| clicked = action == "default")
                }));
                if waited.is_err() {
                    tracing::debug!("waiting for a notification click failed");
                    return;
                }
                if clicked {
                    inner.clicks.fetch_add(1, Ordering::Relaxed);
                    if let Some(cb) = &inner.on_click {
                        let cb = Arc::clone(cb);
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(id)))
                            .is_err()
                        {
                            tracing::warn!("notification click handler panicked");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::debug!("cannot wait for a notification click: {e}");
        }
    }
}

/// Whether the notification server offers actions (asked once, blocking).
#[cfg(all(unix, not(target_os = "macos")))]
/// Server text as a notification body. Daemons that advertise `body-markup`
/// render a subset of HTML (`<a href>`, `<img>`, `<b>`...), so the text is
/// escaped: `&`, `<` and `>` arrive as themselves, never as markup (a link
/// or an image in a notification body is text the server was sent).
pub fn body_markup_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn actions_supported() -> bool {
    match notify_rust::get_capabilities() {
        Ok(caps) => caps.iter().any(|c| c == "actions"),
        Err(e) => {
            tracing::debug!("cannot read notification server capabilities: {e}");
            false
        }
    }
}

#[cfg(any(all(unix, not(target_os = "macos")), target_os = "windows"))]
fn native_urgency(u: crate::alerts::Urgency) -> notify_rust::Urgency {
    use crate::alerts::Urgency;
    match u {
        Urgency::Low => notify_rust::Urgency::Low,
        Urgency::Normal => notify_rust::Urgency::Normal,
        Urgency::Critical => notify_rust::Urgency::Critical,
    }
}

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
/// into `policy`, tick it every second, and show what it decides through
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
            _ = tick.tick() => show(policy.tick(clock())),
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
    use crate::store::State;
    use chrono::TimeZone;
    use pulseboard_protocol::{Alert, AlertSeverity, Notification};

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

    #[tokio::test]
    async fn run_alerts_shows_caps_groups_and_follows_settings() {
        let (now, clock) = manual_clock();
        let store = Store::new(State::empty("test"));
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

    #[test]
    fn toast_body_markup_arrives_as_text() {
        assert_eq!(
            body_markup_escaped(r#"<a href="https://evil">click</a> & <img src=x> ok"#),
            r#"&lt;a href="https://evil"&gt;click&lt;/a&gt; &amp; &lt;img src=x&gt; ok"#
        );
        assert_eq!(body_markup_escaped("plain text, 100%"), "plain text, 100%");
        assert_eq!(
            body_markup_escaped("&amp;"),
            "&amp;amp;",
            "no double meaning"
        );
    }

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

    /// With no notification daemon (as in CI), showing must neither panic nor
    /// block the caller, on a tokio worker or outside any runtime.
    /// Skipped on a desktop session (it would pop up toasts) unless
    /// `PULSEBOARD_TEST_TOASTS` is set.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn desktop_notifier_never_blocks_or_panics_in_a_runtime() {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::env::var_os("PULSEBOARD_TEST_TOASTS").is_none()
        {
            eprintln!("skipped: a session bus is present");
            return;
        }
        let clicked: ClickHandler = Arc::new(|_id| {});
        let n = DesktopNotifier::new("pulseboard-test", None, Some(clicked));
        let started = std::time::Instant::now();
        n.show(Toast {
            id: "t-1".into(),
            title: "test".into(),
            body: "from the test suite".into(),
            urgency: Urgency::Low,
            kind: ToastKind::Alert,
        });
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "returned at once"
        );
        let n2 = n.clone();
        std::thread::spawn(move || {
            n2.show(Toast {
                id: "t-2".into(),
                title: "test".into(),
                body: String::new(),
                urgency: Urgency::Critical,
                kind: ToastKind::Summary,
            })
        })
        .join()
        .expect("no runtime: plain thread, no panic");
        // Both outcomes are counted (shown, or failed without a daemon).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let s = n.stats();
            if s.shown + s.failed == 2 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "not counted: {s:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(format!("{n:?}").contains("pulseboard-test"));
    }
}
