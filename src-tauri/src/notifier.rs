//! Native desktop notifications: [`DesktopNotifier`], the
//! [`Notifier`] backend over notify-rust (XDG/D-Bus on Linux and the BSDs,
//! Notification Center on macOS, toasts on Windows). It lives in the shell,
//! not the core, so the CLI links no D-Bus client.
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
use std::sync::{Arc, OnceLock};

use pulseboard_core::{Notifier, Toast};
use serde::{Deserialize, Serialize};

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
    /// What the notification server supports; asked once.
    caps: OnceLock<Caps>,
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
                caps: OnceLock::new(),
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
        if !self.caps().actions {
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

    /// The notification server's capabilities (asked once, blocking).
    #[cfg(all(unix, not(target_os = "macos")))]
    fn caps(&self) -> Caps {
        *self.caps.get_or_init(capabilities)
    }

    /// Elsewhere the body is plain text and there are no actions.
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    fn caps(&self) -> Caps {
        *self.caps.get_or_init(Caps::default)
    }

    fn show_now(self: &Arc<Self>, toast: Toast) {
        // Server text: escaped where the daemon would render it as markup,
        // as it is where the daemon shows the body as plain text.
        let body = if self.caps().body_markup {
            body_markup_escaped(&toast.body)
        } else {
            toast.body.clone()
        };
        let mut n = notify_rust::Notification::new();
        n.appname(&self.app_name).summary(&toast.title).body(&body);
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

/// Server text as a notification body for daemons that advertise
/// `body-markup`: they render a subset of HTML (`<a href>`, `<img>`,
/// `<b>`...), so the text is escaped: `&`, `<` and `>` arrive as themselves,
/// never as markup (a link or an image in a notification body is text the
/// server was sent). Daemons without it get the text as it is.
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

/// What the notification server supports, of what the notifier uses.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    /// Actions (the click).
    actions: bool,
    /// `body-markup`: the body is rendered as a subset of HTML.
    body_markup: bool,
}

/// Ask the notification server (blocking). Unknown: no actions, and the
/// body escaped all the same (text that shows `&lt;` is better than markup
/// from a server).
#[cfg(all(unix, not(target_os = "macos")))]
fn capabilities() -> Caps {
    match notify_rust::get_capabilities() {
        Ok(caps) => Caps {
            actions: caps.iter().any(|c| c == "actions"),
            body_markup: caps.iter().any(|c| c == "body-markup"),
        },
        Err(e) => {
            tracing::debug!("cannot read notification server capabilities: {e}");
            Caps {
                actions: false,
                body_markup: true,
            }
        }
    }
}

#[cfg(any(all(unix, not(target_os = "macos")), target_os = "windows"))]
fn native_urgency(u: pulseboard_core::Urgency) -> notify_rust::Urgency {
    use pulseboard_core::Urgency;
    match u {
        Urgency::Low => notify_rust::Urgency::Low,
        Urgency::Normal => notify_rust::Urgency::Normal,
        Urgency::Critical => notify_rust::Urgency::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulseboard_core::{ToastKind, Urgency};
    use std::time::Duration;

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
