//! The alert policy: which native notifications ("toasts") to raise.
//!
//! [`AlertPolicy`] is pure: it does no I/O, owns no timers and never reads the
//! clock. Every call takes `now`, so each rule below is unit-tested with
//! explicit times. [`crate::notifier::run_alerts`] drives it from the store's
//! update stream and a one-second tick.
//!
//! Rules, in the order they are applied to an incoming alert or notification:
//!
//! 1. **Filter** (notifications only): a notification is considered only when a
//!    [threshold](PolicyConfig::notification_threshold) is set, its severity is
//!    at least that threshold, and it is not already read (catch-up can
//!    deliver notifications another desktop has read).
//! 2. **Dedupe** by id: the last [`DEDUPE_MEMORY`] ids are remembered.
//! 3. **Do not disturb**: [`Dnd::On`] lets only critical alerts through,
//!    [`Dnd::SilenceAll`] nothing. Dropped items are counted.
//! 4. **Late items** (created more than [`PolicyConfig::catch_up_age`] before
//!    `now`, e.g. replayed by catch-up after a reconnect) are not replayed one by
//!    one: they are held until no late item has arrived for
//!    [`PolicyConfig::late_quiet`] (or for at most [`LATE_MAX_HOLD`]), then
//!    shown as one "N alerts while offline" summary, or as themselves, marked
//!    late, if there was exactly one.
//! 5. **Storm control**: at most [`PolicyConfig::max_per_minute`] toasts
//!    (summaries included) in any sliding 60 s window. Items over the cap are
//!    grouped, and as soon as the window has room again (on [`AlertPolicy::tick`]
//!    or the next item) ONE summary toast "N more alerts" is shown. A group of
//!    exactly one item is shown as that item.
//!
//! Critical alerts obey the storm cap too; a summary that grouped a critical
//! alert has [`Urgency::Critical`].

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use pulseboard_protocol::{Alert, AlertSeverity, Notification, NotificationSeverity};
use serde::{Deserialize, Serialize};

/// How many recent ids are remembered for dedupe.
pub const DEDUPE_MEMORY: usize = 1000;
/// Length of the sliding storm-control window.
pub const STORM_WINDOW: Duration = Duration::seconds(60);
/// Late items are flushed at the latest this long after the first one arrived,
/// even if more keep trickling in.
pub const LATE_MAX_HOLD: Duration = Duration::seconds(10);
/// Titles listed in a summary body.
pub const SUMMARY_TITLES: usize = 3;
/// Items kept in full per pending group; beyond this only counts are kept.
const MAX_PENDING_ITEMS: usize = 5000;

/// Do-not-disturb mode: the one enum for the policy, the desktop's settings
/// file (`"dnd": "off" | "on" | "silence_all"`), its window and its tray.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Dnd {
    /// Everything the policy allows is shown.
    #[default]
    Off,
    /// Only critical alerts break through.
    On,
    /// Nothing is shown. (`silenceAll` is the spelling the policy used
    /// before it shared this enum with the settings; still read.)
    #[serde(alias = "silenceAll")]
    SilenceAll,
}

/// How loud a toast is. Maps to the desktop's urgency (XDG `urgency` hint).
///
/// Alerts: `info` -> [`Low`](Urgency::Low), `warning` -> [`Normal`](Urgency::Normal),
/// `critical` -> [`Critical`](Urgency::Critical).
/// Notifications: `info` and `success` -> [`Low`](Urgency::Low), `warning` and
/// `error` -> [`Normal`](Urgency::Normal). Notifications never get
/// `Critical`: on most desktops a critical toast stays until dismissed, which
/// is reserved for critical system alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Urgency {
    /// Informational; may be shown quietly.
    Low,
    /// Regular.
    Normal,
    /// Needs action; usually does not expire.
    Critical,
}

impl From<AlertSeverity> for Urgency {
    fn from(s: AlertSeverity) -> Self {
        match s {
            AlertSeverity::Info => Urgency::Low,
            AlertSeverity::Warning => Urgency::Normal,
            AlertSeverity::Critical => Urgency::Critical,
        }
    }
}

impl From<NotificationSeverity> for Urgency {
    fn from(s: NotificationSeverity) -> Self {
        match s {
            NotificationSeverity::Info | NotificationSeverity::Success => Urgency::Low,
            NotificationSeverity::Warning | NotificationSeverity::Error => Urgency::Normal,
        }
    }
}

/// What a toast stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToastKind {
    /// One `alert:system`.
    Alert,
    /// One `notification:new`.
    Notification,
    /// Several grouped items (storm control or catch-up).
    Summary,
}

/// A native notification to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toast {
    /// The alert or notification id, or `summary-N` for a summary. Handed back
    /// to the click handler.
    pub id: String,
    /// First line.
    pub title: String,
    /// Body text.
    pub body: String,
    /// How loud.
    pub urgency: Urgency,
    /// What it stands for.
    pub kind: ToastKind,
}

/// What the policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Show this toast now.
    Show(Toast),
}

impl Decision {
    /// The toast, whatever the decision.
    pub fn toast(&self) -> &Toast {
        match self {
            Decision::Show(t) => t,
        }
    }
}

/// Policy settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Toasts allowed in any sliding 60 s window, summaries included.
    /// 0 is treated as 1.
    pub max_per_minute: u32,
    /// Items created longer than this before `now` are late (catch-up).
    pub catch_up_age: Duration,
    /// Late items are flushed once none has arrived for this long.
    pub late_quiet: Duration,
    /// Do-not-disturb mode.
    pub dnd: Dnd,
    /// `None`: no toasts for notifications. `Some(s)`: toasts for
    /// notifications of severity `s` or higher.
    pub notification_threshold: Option<NotificationSeverity>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            max_per_minute: 5,
            catch_up_age: Duration::minutes(3),
            late_quiet: Duration::seconds(2),
            dnd: Dnd::Off,
            notification_threshold: None,
        }
    }
}

/// What the policy did so far. Each incoming item lands in exactly one of
/// `shown`, `grouped`, `dnd_suppressed`, `duplicates`, `filtered`, or is still
/// [pending](AlertPolicy::pending).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyCounters {
    /// Items shown as their own toast (including a lone late item).
    pub shown: u64,
    /// Items that went out inside a summary toast.
    pub grouped: u64,
    /// Summary toasts shown.
    pub summaries: u64,
    /// Items dropped by do-not-disturb (including pending ones dropped when it
    /// was switched on).
    pub dnd_suppressed: u64,
    /// Items whose id was already seen.
    pub duplicates: u64,
    /// Notifications below the threshold, with no threshold, or already read.
    pub filtered: u64,
}

#[derive(Debug, Clone)]
struct Item {
    toast: Toast,
    created_at: DateTime<Utc>,
    is_alert: bool,
}

impl Item {
    fn critical(&self) -> bool {
        self.toast.urgency == Urgency::Critical
    }
}

/// Items waiting to be shown together.
#[derive(Debug, Default)]
struct Group {
    items: Vec<Item>,
    /// Items beyond `MAX_PENDING_ITEMS`: counted only.
    extra_alerts: u64,
    extra_notifications: u64,
    extra_critical: u64,
}

impl Group {
    fn len(&self) -> u64 {
        self.items.len() as u64 + self.extra_alerts + self.extra_notifications
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, item: Item) {
        if self.items.len() < MAX_PENDING_ITEMS {
            self.items.push(item);
        } else {
            if item.critical() {
                self.extra_critical += 1;
            }
            if item.is_alert {
                self.extra_alerts += 1;
            } else {
                self.extra_notifications += 1;
            }
        }
    }

    /// The only item, if the group holds exactly one.
    fn single(&mut self) -> Option<Item> {
        if self.len() == 1 {
            self.items.pop()
        } else {
            None
        }
    }

    fn append(&mut self, other: Group) {
        for item in other.items {
            self.push(item);
        }
        self.extra_alerts += other.extra_alerts;
        self.extra_notifications += other.extra_notifications;
        self.extra_critical += other.extra_critical;
    }

    /// Keep only what `dnd` lets through; returns how many were dropped.
    fn filter(&mut self, dnd: Dnd) -> u64 {
        let before = self.len();
        match dnd {
            Dnd::Off => {}
            Dnd::On => {
                self.items.retain(Item::critical);
                // Only alerts are ever critical.
                self.extra_alerts = self.extra_critical;
                self.extra_notifications = 0;
            }
            Dnd::SilenceAll => *self = Group::default(),
        }
        before - self.len()
    }

    fn counts(&self) -> (u64, u64) {
        let alerts = self.items.iter().filter(|i| i.is_alert).count() as u64 + self.extra_alerts;
        (alerts, self.len() - alerts)
    }

    fn urgency(&self) -> Urgency {
        let max = self.items.iter().map(|i| i.toast.urgency).max();
        if self.extra_critical > 0 {
            Urgency::Critical
        } else {
            max.unwrap_or(Urgency::Normal)
        }
    }

    /// Body: up to [`SUMMARY_TITLES`] titles, most urgent first, then "and N more".
    fn body(&self) -> String {
        let mut listed: Vec<&Item> = self.items.iter().collect();
        // Stable: same urgency keeps arrival order.
        listed.sort_by_key(|i| std::cmp::Reverse(i.toast.urgency));
        listed.truncate(SUMMARY_TITLES);
        let mut lines: Vec<String> = listed
            .iter()
            .map(|i| format!("\u{2022} {}", i.toast.title))
            .collect();
        let rest = self.len() - listed.len() as u64;
        if rest > 0 {
            lines.push(format!("and {rest} more"));
        }
        lines.join("\n")
    }
}

/// `"3 alerts"`, `"1 notification"`, `"2 alerts and 1 notification"`; with
/// `more = "more "`: `"3 more alerts"`, `"2 more alerts and 1 notification"`.
fn describe(alerts: u64, notifications: u64, more: &str) -> String {
    let n = |count: u64, word: &str, more: &str| {
        let s = if count == 1 { "" } else { "s" };
        format!("{count} {more}{word}{s}")
    };
    match (alerts, notifications) {
        (a, 0) => n(a, "alert", more),
        (0, b) => n(b, "notification", more),
        (a, b) => format!("{} and {}", n(a, "alert", more), n(b, "notification", "")),
    }
}

/// `"12 min ago"` and the like.
fn ago(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// Decides which toasts to show. See the [module docs](self) for the rules.
#[derive(Debug)]
pub struct AlertPolicy {
    config: PolicyConfig,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    /// When each toast of the current window was shown, oldest first.
    window: VecDeque<DateTime<Utc>>,
    storm: Group,
    late: Group,
    late_first: Option<DateTime<Utc>>,
    late_last: Option<DateTime<Utc>>,
    next_summary: u64,
    counters: PolicyCounters,
}

impl AlertPolicy {
    /// A policy with these settings.
    pub fn new(config: PolicyConfig) -> Self {
        AlertPolicy {
            config,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            window: VecDeque::new(),
            storm: Group::default(),
            late: Group::default(),
            late_first: None,
            late_last: None,
            next_summary: 1,
            counters: PolicyCounters::default(),
        }
    }

    /// Current settings.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// What the policy did so far.
    pub fn counters(&self) -> PolicyCounters {
        self.counters
    }

    /// Items accepted but not shown yet (waiting for a summary).
    pub fn pending(&self) -> u64 {
        self.storm.len() + self.late.len()
    }

    /// Change do-not-disturb. Switching it on also drops pending items it
    /// would not let through (counted as `dnd_suppressed`).
    pub fn set_dnd(&mut self, dnd: Dnd) {
        self.config.dnd = dnd;
        let dropped = self.storm.filter(dnd) + self.late.filter(dnd);
        self.counters.dnd_suppressed += dropped;
        if self.late.is_empty() {
            self.late_first = None;
            self.late_last = None;
        }
    }

    /// Change the notification threshold; applies to notifications that
    /// arrive from now on.
    pub fn set_threshold(&mut self, threshold: Option<NotificationSeverity>) {
        self.config.notification_threshold = threshold;
    }

    /// An `alert:system` arrived.
    pub fn on_alert(&mut self, alert: &Alert, now: DateTime<Utc>) -> Vec<Decision> {
        let item = Item {
            toast: Toast {
                id: alert.id.clone(),
                title: alert.title.clone(),
                body: alert.message.clone(),
                urgency: alert.severity.into(),
                kind: ToastKind::Alert,
            },
            created_at: alert.created_at,
            is_alert: true,
        };
        self.accept(format!("a:{}", alert.id), item, now)
    }

    /// A `notification:new` arrived (live or by catch-up).
    pub fn on_notification(&mut self, n: &Notification, now: DateTime<Utc>) -> Vec<Decision> {
        let wanted = self
            .config
            .notification_threshold
            .is_some_and(|t| n.severity >= t);
        if !wanted || n.read {
            self.counters.filtered += 1;
            return self.flush(now);
        }
        let item = Item {
            toast: Toast {
                id: n.id.clone(),
                title: n.title.clone(),
                body: n.body.clone(),
                urgency: n.severity.into(),
                kind: ToastKind::Notification,
            },
            created_at: n.created_at,
            is_alert: false,
        };
        self.accept(format!("n:{}", n.id), item, now)
    }

    /// Call periodically (every second or so) while [`AlertPolicy::pending`]
    /// is not 0 (only then can it show anything): shows summaries that are due.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Decision> {
        self.flush(now)
    }

    fn remember(&mut self, key: String) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        if self.seen_order.len() == DEDUPE_MEMORY {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.seen_order.push_back(key);
        true
    }

    fn accept(&mut self, key: String, item: Item, now: DateTime<Utc>) -> Vec<Decision> {
        if !self.remember(key) {
            self.counters.duplicates += 1;
            return self.flush(now);
        }
        let allowed = match self.config.dnd {
            Dnd::Off => true,
            Dnd::On => item.critical(),
            Dnd::SilenceAll => false,
        };
        if !allowed {
            self.counters.dnd_suppressed += 1;
            return self.flush(now);
        }
        if now - item.created_at > self.config.catch_up_age {
            self.late.push(item);
            self.late_first.get_or_insert(now);
            self.late_last = Some(now);
            return self.flush(now);
        }
        let mut out = self.flush(now);
        if self.has_room(now) {
            self.counters.shown += 1;
            out.push(self.show(item.toast, now));
        } else {
            self.storm.push(item);
        }
        out
    }

    fn cap(&self) -> usize {
        self.config.max_per_minute.max(1) as usize
    }

    fn has_room(&mut self, now: DateTime<Utc>) -> bool {
        while self
            .window
            .front()
            .is_some_and(|t| now - *t >= STORM_WINDOW)
        {
            self.window.pop_front();
        }
        self.window.len() < self.cap()
    }

    fn show(&mut self, toast: Toast, now: DateTime<Utc>) -> Decision {
        self.window.push_back(now);
        Decision::Show(toast)
    }

    /// Show what is due: the late group after its quiet period, then the storm
    /// group when the window has room.
    fn flush(&mut self, now: DateTime<Utc>) -> Vec<Decision> {
        let mut out = Vec::new();
        let late_due = match (self.late_first, self.late_last) {
            (Some(first), Some(last)) => {
                now - last >= self.config.late_quiet || now - first >= LATE_MAX_HOLD
            }
            _ => false,
        };
        if late_due {
            let late = std::mem::take(&mut self.late);
            self.late_first = None;
            self.late_last = None;
            if self.has_room(now) {
                out.push(self.show_late(late, now));
            } else {
                // No room: fold into the storm summary rather than add a toast.
                self.storm.append(late);
            }
        }
        if !self.storm.is_empty() && self.has_room(now) {
            let storm = std::mem::take(&mut self.storm);
            out.push(self.show_storm(storm, now));
        }
        out
    }

    fn show_late(&mut self, mut late: Group, now: DateTime<Utc>) -> Decision {
        if let Some(item) = late.single() {
            let mut toast = item.toast;
            let note = format!("Raised {}, while offline.", ago(now - item.created_at));
            toast.body = if toast.body.is_empty() {
                note
            } else {
                format!("{}\n{note}", toast.body)
            };
            self.counters.shown += 1;
            return self.show(toast, now);
        }
        let (alerts, notifications) = late.counts();
        let title = format!("{} while offline", describe(alerts, notifications, ""));
        self.summary(late, title, now)
    }

    fn show_storm(&mut self, mut storm: Group, now: DateTime<Utc>) -> Decision {
        if let Some(item) = storm.single() {
            self.counters.shown += 1;
            return self.show(item.toast, now);
        }
        let (alerts, notifications) = storm.counts();
        let title = describe(alerts, notifications, "more ");
        self.summary(storm, title, now)
    }

    fn summary(&mut self, group: Group, title: String, now: DateTime<Utc>) -> Decision {
        let id = format!("summary-{}", self.next_summary);
        self.next_summary += 1;
        self.counters.grouped += group.len();
        self.counters.summaries += 1;
        let toast = Toast {
            id,
            title,
            body: group.body(),
            urgency: group.urgency(),
            kind: ToastKind::Summary,
        };
        self.show(toast, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::milliseconds(ms)
    }

    fn sec(s: i64) -> DateTime<Utc> {
        t(s * 1000)
    }

    fn alert(id: &str, sev: AlertSeverity, created: DateTime<Utc>) -> Alert {
        Alert {
            id: id.into(),
            severity: sev,
            title: format!("title {id}"),
            message: format!("message {id}"),
            created_at: created,
        }
    }

    fn notif(seq: u64, sev: NotificationSeverity, created: DateTime<Utc>) -> Notification {
        Notification {
            id: format!("n-{seq}"),
            seq,
            title: format!("note {seq}"),
            body: "body".into(),
            severity: sev,
            module: None,
            created_at: created,
            read: false,
        }
    }

    fn toasts(d: Vec<Decision>) -> Vec<Toast> {
        d.into_iter()
            .map(|d| match d {
                Decision::Show(t) => t,
            })
            .collect()
    }

    fn policy() -> AlertPolicy {
        AlertPolicy::new(PolicyConfig::default())
    }

    #[test]
    fn single_critical_alert_is_shown_critical() {
        let mut p = policy();
        let out = toasts(p.on_alert(&alert("a-1", AlertSeverity::Critical, sec(0)), sec(0)));
        assert_eq!(
            out,
            vec![Toast {
                id: "a-1".into(),
                title: "title a-1".into(),
                body: "message a-1".into(),
                urgency: Urgency::Critical,
                kind: ToastKind::Alert,
            }]
        );
        assert_eq!(p.counters().shown, 1);
        assert!(p.tick(sec(120)).is_empty(), "nothing else is pending");
    }

    #[test]
    fn severity_maps_to_urgency() {
        let mut p = policy();
        let u = |p: &mut AlertPolicy, id: &str, s| {
            toasts(p.on_alert(&alert(id, s, sec(0)), sec(0)))[0].urgency
        };
        assert_eq!(u(&mut p, "a-1", AlertSeverity::Info), Urgency::Low);
        assert_eq!(u(&mut p, "a-2", AlertSeverity::Warning), Urgency::Normal);
        assert_eq!(u(&mut p, "a-3", AlertSeverity::Critical), Urgency::Critical);
        assert_eq!(Urgency::from(NotificationSeverity::Success), Urgency::Low);
        assert_eq!(Urgency::from(NotificationSeverity::Error), Urgency::Normal);
    }

    #[test]
    fn same_id_twice_is_shown_once() {
        let mut p = policy();
        let a = alert("a-1", AlertSeverity::Warning, sec(0));
        assert_eq!(p.on_alert(&a, sec(0)).len(), 1);
        assert!(p.on_alert(&a, sec(1)).is_empty());
        assert!(
            p.on_alert(&a, sec(300)).is_empty(),
            "still remembered later"
        );
        let c = p.counters();
        assert_eq!((c.shown, c.duplicates), (1, 2));
    }

    #[test]
    fn dedupe_memory_is_bounded() {
        let mut p = AlertPolicy::new(PolicyConfig {
            max_per_minute: u32::MAX,
            ..PolicyConfig::default()
        });
        for i in 0..=DEDUPE_MEMORY {
            p.on_alert(
                &alert(&format!("a-{i}"), AlertSeverity::Info, sec(0)),
                sec(0),
            );
        }
        assert_eq!(p.seen.len(), DEDUPE_MEMORY);
        // a-0 was forgotten, a-1 was not.
        assert_eq!(
            p.on_alert(&alert("a-0", AlertSeverity::Info, sec(0)), sec(0))
                .len(),
            1
        );
        assert!(p
            .on_alert(&alert("a-2", AlertSeverity::Info, sec(0)), sec(0))
            .is_empty());
    }

    #[test]
    fn alert_and_notification_ids_do_not_collide() {
        let mut p = AlertPolicy::new(PolicyConfig {
            notification_threshold: Some(NotificationSeverity::Info),
            ..PolicyConfig::default()
        });
        let mut n = notif(1, NotificationSeverity::Info, sec(0));
        n.id = "x".into();
        assert_eq!(p.on_notification(&n, sec(0)).len(), 1);
        assert_eq!(
            p.on_alert(&alert("x", AlertSeverity::Info, sec(0)), sec(0))
                .len(),
            1
        );
    }

    #[test]
    fn storm_of_200_gives_cap_toasts_then_one_summary() {
        let mut p = policy();
        let mut shown = Vec::new();
        for i in 0..200 {
            let now = t(i * 5); // 200 alerts within one second
            let sev = if i == 150 {
                AlertSeverity::Critical
            } else {
                AlertSeverity::Warning
            };
            shown.extend(toasts(p.on_alert(&alert(&format!("a-{i}"), sev, now), now)));
        }
        assert_eq!(shown.len(), 5, "exactly max_per_minute");
        assert!(shown.iter().all(|t| t.kind == ToastKind::Alert));
        assert_eq!(shown[4].id, "a-4");
        assert_eq!(p.pending(), 195);

        // Ticks inside the window: nothing.
        for s in 1..60 {
            assert!(p.tick(sec(s)).is_empty(), "tick at {s}s");
        }
        // The first toast (t=0) leaves the window at 60 s.
        let out = toasts(p.tick(sec(60)));
        assert_eq!(out.len(), 1, "exactly one summary");
        let s = &out[0];
        assert_eq!(s.kind, ToastKind::Summary);
        assert_eq!(s.title, "195 more alerts");
        assert_eq!(s.urgency, Urgency::Critical, "a critical one was grouped");
        assert_eq!(
            s.body,
            "\u{2022} title a-150\n\u{2022} title a-5\n\u{2022} title a-6\nand 192 more"
        );
        for s in 61..200 {
            assert!(p.tick(sec(s)).is_empty(), "only one summary, tick {s}");
        }
        let c = p.counters();
        assert_eq!((c.shown, c.grouped, c.summaries), (5, 195, 1));
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn summary_is_flushed_by_the_next_alert_too() {
        let mut p = AlertPolicy::new(PolicyConfig {
            max_per_minute: 2,
            ..PolicyConfig::default()
        });
        for i in 0..5 {
            p.on_alert(
                &alert(&format!("a-{i}"), AlertSeverity::Info, sec(0)),
                sec(0),
            );
        }
        let out = toasts(p.on_alert(&alert("a-9", AlertSeverity::Info, sec(61)), sec(61)));
        let kinds: Vec<_> = out.iter().map(|t| (t.kind, t.title.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (ToastKind::Summary, "3 more alerts"),
                (ToastKind::Alert, "title a-9")
            ]
        );
        assert_eq!(out[0].urgency, Urgency::Low, "no critical grouped");
    }

    #[test]
    fn summaries_count_against_the_cap() {
        let mut p = AlertPolicy::new(PolicyConfig {
            max_per_minute: 2,
            ..PolicyConfig::default()
        });
        // Window full at 0 s; 3 grouped.
        for i in 0..5 {
            p.on_alert(
                &alert(&format!("a-{i}"), AlertSeverity::Info, sec(0)),
                sec(0),
            );
        }
        // Summary at 60 s takes a slot; one alert fits; the next is grouped.
        assert_eq!(p.tick(sec(60)).len(), 1);
        assert_eq!(
            p.on_alert(&alert("b-1", AlertSeverity::Info, sec(61)), sec(61))
                .len(),
            1
        );
        assert!(p
            .on_alert(&alert("b-2", AlertSeverity::Info, sec(62)), sec(62))
            .is_empty());
        assert!(p.tick(sec(119)).is_empty());
        // A group of one is shown as itself once there is room.
        let out = toasts(p.tick(sec(120)));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].id.as_str(), out[0].kind), ("b-2", ToastKind::Alert));
    }

    #[test]
    fn sliding_window_never_exceeds_cap() {
        let mut p = policy();
        let mut times = Vec::new();
        // One alert every 3 s for 10 minutes, ticking every second.
        for s in 0..600 {
            let now = sec(s);
            let mut out = p.tick(now);
            if s % 3 == 0 {
                out.extend(p.on_alert(&alert(&format!("a-{s}"), AlertSeverity::Info, now), now));
            }
            times.extend(out.iter().map(|_| s));
        }
        for (i, &start) in times.iter().enumerate() {
            let in_window = times[i..].iter().filter(|&&x| x - start < 60).count();
            assert!(
                in_window <= 5,
                "{in_window} toasts in the window at {start}s"
            );
        }
        let c = p.counters();
        assert_eq!(c.shown + c.grouped + p.pending(), 200, "nothing lost");
    }

    #[test]
    fn catch_up_burst_of_20_late_alerts_is_one_summary() {
        let mut p = policy();
        let mut out = Vec::new();
        // Raised during a 30 min outage, delivered within 0.2 s after reconnect.
        for i in 0..20 {
            let created = sec(i * 60);
            let now = t(3_600_000 + i * 10);
            out.extend(p.on_alert(
                &alert(&format!("a-{i}"), AlertSeverity::Warning, created),
                now,
            ));
        }
        assert!(out.is_empty(), "held during the burst");
        assert!(p.tick(sec(3601)).is_empty(), "quiet period not over");
        let out = toasts(p.tick(sec(3603)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].title, "20 alerts while offline");
        assert_eq!(out[0].kind, ToastKind::Summary);
        assert_eq!(out[0].urgency, Urgency::Normal);
        assert!(out[0].body.ends_with("and 17 more"), "{}", out[0].body);
        assert!(p.tick(sec(3700)).is_empty());
        let c = p.counters();
        assert_eq!((c.shown, c.grouped, c.summaries), (0, 20, 1));
    }

    #[test]
    fn one_late_alert_is_shown_marked_late() {
        let mut p = policy();
        assert!(p
            .on_alert(&alert("a-1", AlertSeverity::Critical, sec(0)), sec(600))
            .is_empty());
        let out = toasts(p.tick(sec(602)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, ToastKind::Alert);
        assert_eq!(out[0].urgency, Urgency::Critical);
        assert_eq!(
            out[0].body,
            "message a-1\nRaised 10 min ago, while offline."
        );
    }

    #[test]
    fn late_items_trickling_forever_are_flushed_after_max_hold() {
        let mut p = policy();
        let mut out = Vec::new();
        for i in 0..15 {
            let now = sec(1000 + i);
            out.extend(p.on_alert(&alert(&format!("a-{i}"), AlertSeverity::Info, sec(0)), now));
            out.extend(p.tick(now));
        }
        let out = toasts(out);
        assert_eq!(out.len(), 1, "{out:?}");
        // Held 10 s after the first (at 1000 s): items of 1000..=1010 s.
        assert_eq!(out[0].title, "11 alerts while offline");
        assert_eq!(p.pending(), 4);
        assert!(p.tick(sec(1015)).is_empty(), "quiet period not over");
        let out = toasts(p.tick(sec(1016)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].title, "4 alerts while offline");
    }

    #[test]
    fn alert_just_within_catch_up_age_is_live() {
        let mut p = policy();
        let out = p.on_alert(&alert("a-1", AlertSeverity::Info, sec(0)), sec(180));
        assert_eq!(out.len(), 1, "exactly catch_up_age old is not late");
        let out = p.on_alert(&alert("a-2", AlertSeverity::Info, sec(0)), sec(181));
        assert!(out.is_empty(), "older is late");
    }

    #[test]
    fn late_summary_without_room_joins_the_storm_summary() {
        let mut p = AlertPolicy::new(PolicyConfig {
            max_per_minute: 1,
            ..PolicyConfig::default()
        });
        assert_eq!(
            p.on_alert(&alert("a-0", AlertSeverity::Info, sec(1000)), sec(1000))
                .len(),
            1
        );
        p.on_alert(&alert("a-1", AlertSeverity::Info, sec(1000)), sec(1000)); // storm
        p.on_alert(&alert("a-2", AlertSeverity::Info, sec(0)), sec(1000)); // late
        p.on_alert(&alert("a-3", AlertSeverity::Critical, sec(0)), sec(1000)); // late
        assert!(p.tick(sec(1005)).is_empty(), "no room yet");
        let out = toasts(p.tick(sec(1060)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].title, "3 more alerts");
        assert_eq!(out[0].urgency, Urgency::Critical);
    }

    #[test]
    fn dnd_on_shows_only_critical() {
        let mut p = AlertPolicy::new(PolicyConfig {
            dnd: Dnd::On,
            notification_threshold: Some(NotificationSeverity::Info),
            ..PolicyConfig::default()
        });
        let mut out = Vec::new();
        out.extend(p.on_alert(&alert("a-1", AlertSeverity::Info, sec(0)), sec(0)));
        out.extend(p.on_alert(&alert("a-2", AlertSeverity::Warning, sec(0)), sec(0)));
        out.extend(p.on_alert(&alert("a-3", AlertSeverity::Critical, sec(0)), sec(0)));
        out.extend(p.on_notification(&notif(1, NotificationSeverity::Error, sec(0)), sec(0)));
        out.extend(p.tick(sec(100)));
        let ids: Vec<String> = toasts(out).into_iter().map(|t| t.id).collect();
        assert_eq!(ids, vec!["a-3"]);
        let c = p.counters();
        assert_eq!((c.shown, c.dnd_suppressed), (1, 3));
    }

    #[test]
    fn silence_all_shows_nothing() {
        let mut p = AlertPolicy::new(PolicyConfig {
            dnd: Dnd::SilenceAll,
            notification_threshold: Some(NotificationSeverity::Info),
            ..PolicyConfig::default()
        });
        let mut out = Vec::new();
        for (i, s) in [
            AlertSeverity::Info,
            AlertSeverity::Warning,
            AlertSeverity::Critical,
        ]
        .into_iter()
        .enumerate()
        {
            out.extend(p.on_alert(&alert(&format!("a-{i}"), s, sec(0)), sec(0)));
            out.extend(p.on_alert(&alert(&format!("late-{i}"), s, sec(0)), sec(999)));
        }
        out.extend(p.on_notification(&notif(1, NotificationSeverity::Error, sec(0)), sec(0)));
        for s in 0..1200 {
            out.extend(p.tick(sec(s)));
        }
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(p.counters().dnd_suppressed, 7);
    }

    #[test]
    fn switching_dnd_on_drops_pending_non_critical() {
        let mut p = AlertPolicy::new(PolicyConfig {
            max_per_minute: 1,
            ..PolicyConfig::default()
        });
        for (i, s) in [
            AlertSeverity::Info,
            AlertSeverity::Info,
            AlertSeverity::Critical,
            AlertSeverity::Warning,
        ]
        .into_iter()
        .enumerate()
        {
            p.on_alert(&alert(&format!("a-{i}"), s, sec(0)), sec(0));
        }
        assert_eq!(p.pending(), 3);
        p.set_dnd(Dnd::On);
        assert_eq!(p.pending(), 1);
        assert_eq!(p.counters().dnd_suppressed, 2);
        let out = toasts(p.tick(sec(60)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, "a-2", "the critical one, as itself");
        p.set_dnd(Dnd::SilenceAll);
        p.set_dnd(Dnd::Off);
        assert_eq!(
            p.on_alert(&alert("a-9", AlertSeverity::Info, sec(200)), sec(200))
                .len(),
            1,
            "off again"
        );
    }

    #[test]
    fn notification_threshold() {
        let mut p = policy();
        // Default: no toasts for notifications.
        assert!(p
            .on_notification(&notif(1, NotificationSeverity::Error, sec(0)), sec(0))
            .is_empty());
        p.set_threshold(Some(NotificationSeverity::Warning));
        let mut out = Vec::new();
        for (seq, s) in [
            (2, NotificationSeverity::Info),
            (3, NotificationSeverity::Success),
            (4, NotificationSeverity::Warning),
            (5, NotificationSeverity::Error),
        ] {
            out.extend(p.on_notification(&notif(seq, s, sec(0)), sec(0)));
        }
        let out = toasts(out);
        let got: Vec<(&str, Urgency, ToastKind)> = out
            .iter()
            .map(|t| (t.id.as_str(), t.urgency, t.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                ("n-4", Urgency::Normal, ToastKind::Notification),
                ("n-5", Urgency::Normal, ToastKind::Notification),
            ]
        );
        // Already read (catch-up of something read elsewhere): no toast.
        let mut read = notif(6, NotificationSeverity::Error, sec(0));
        read.read = true;
        assert!(p.on_notification(&read, sec(0)).is_empty());
        p.set_threshold(None);
        assert!(p
            .on_notification(&notif(7, NotificationSeverity::Error, sec(0)), sec(0))
            .is_empty());
        let c = p.counters();
        assert_eq!((c.shown, c.filtered), (2, 5));
    }

    #[test]
    fn late_notifications_and_alerts_share_one_summary() {
        let mut p = AlertPolicy::new(PolicyConfig {
            notification_threshold: Some(NotificationSeverity::Info),
            ..PolicyConfig::default()
        });
        for i in 0..3 {
            p.on_alert(
                &alert(&format!("a-{i}"), AlertSeverity::Info, sec(0)),
                sec(900),
            );
        }
        p.on_notification(&notif(1, NotificationSeverity::Info, sec(0)), sec(900));
        let out = toasts(p.tick(sec(905)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].title, "3 alerts and 1 notification while offline");
        assert_eq!(out[0].urgency, Urgency::Low);
    }

    #[test]
    fn zero_cap_is_treated_as_one() {
        let mut p = AlertPolicy::new(PolicyConfig {
            max_per_minute: 0,
            ..PolicyConfig::default()
        });
        assert_eq!(
            p.on_alert(&alert("a-1", AlertSeverity::Info, sec(0)), sec(0))
                .len(),
            1
        );
        assert!(p
            .on_alert(&alert("a-2", AlertSeverity::Info, sec(0)), sec(0))
            .is_empty());
    }

    #[test]
    fn describe_and_ago() {
        assert_eq!(describe(1, 0, ""), "1 alert");
        assert_eq!(describe(0, 2, "more "), "2 more notifications");
        assert_eq!(describe(2, 1, "more "), "2 more alerts and 1 notification");
        assert_eq!(ago(Duration::seconds(59)), "59 s ago");
        assert_eq!(ago(Duration::seconds(7200)), "2 h ago");
        assert_eq!(ago(Duration::days(3)), "3 days ago");
    }
}
