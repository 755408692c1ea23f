//! Native notifications on a real D-Bus session bus.
//!
//! The test starts its own `dbus-daemon --session` (Debian's `dbus` package,
//! installed by `scripts/test.sh` through `scripts/deps.sh`), points
//! `DBUS_SESSION_BUS_ADDRESS` at it and serves a fake
//! `org.freedesktop.Notifications` there with zbus. Alerts then go through the
//! real pipeline, `Store` -> `spawn_alerts_with` -> `DesktopNotifier` ->
//! notify-rust -> D-Bus -> fake server, and the test checks what the server
//! was asked to show.
//!
//! The environment is process-wide, so every scenario runs, in order, inside
//! the one `#[test]` of this binary.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use pulseboard_app::notifier::{ClickHandler, DesktopNotifier};
use pulseboard_core::notifier::{spawn_alerts_with, AlertsTask, PolicySettings, RunOptions};
use pulseboard_core::{AlertPolicy, ClientState, Dnd, PolicyConfig, PolicyCounters, Store};
use pulseboard_protocol::{Alert, AlertSeverity, Notification, NotificationSeverity};
use pulseboard_testkit::SessionBus;
use tokio::sync::{mpsc, watch};
use zbus::message::Header;
use zbus::names::BusName;
use zbus::object_server::SignalEmitter;
use zbus::{interface, OwnedVariant, Variant};

const APP_NAME: &str = "Pulseboard";
const ICON: &str = "/tmp/pulseboard-notify-dbus-icon.png";
const PATH: &str = "/org/freedesktop/Notifications";
/// Longest any single wait of the test may take before it fails.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// A private session bus.

// ---------------------------------------------------------------------------
// A fake notification server.

/// One `Notify` call, as the server received it.
#[derive(Debug, Clone)]
struct Shown {
    id: u32,
    app_name: String,
    app_icon: String,
    summary: String,
    body: String,
    actions: Vec<String>,
    /// `hints["urgency"]`: 0 low, 1 normal, 2 critical.
    urgency: Option<u8>,
}

/// What the server saw, shared with the test.
#[derive(Clone)]
struct Recorder {
    shown: Arc<Mutex<Vec<Shown>>>,
    /// Number of `Notify` calls so far.
    count: Arc<watch::Sender<usize>>,
    /// Callers of `Notify` still connected (a notify-rust connection stays
    /// open while its click waiter runs).
    open: Arc<watch::Sender<usize>>,
    /// Callers still connected 10 s after their toast was closed.
    stuck: Arc<Mutex<Vec<String>>>,
    /// Toasts with these summaries get clicked instead of closed.
    click: Arc<Mutex<HashSet<String>>>,
    /// What `GetCapabilities` answers.
    caps: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            shown: Arc::default(),
            count: Arc::new(watch::channel(0).0),
            open: Arc::new(watch::channel(0).0),
            stuck: Arc::default(),
            click: Arc::default(),
            caps: Arc::new(Mutex::new(vec!["body".into(), "actions".into()])),
        }
    }

    fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.shown.lock().unwrap().len()
    }

    /// Wait until at least `n` `Notify` calls arrived; all calls so far.
    async fn wait_for(&self, n: usize) -> Vec<Shown> {
        let mut rx = self.count.subscribe();
        let waited = tokio::time::timeout(WAIT, rx.wait_for(|c| *c >= n)).await;
        assert!(
            waited.is_ok(),
            "waited {WAIT:?} for {n} Notify calls, got {}: {:#?}",
            self.len(),
            self.shown()
        );
        self.shown()
    }

    fn click_on(&self, summary: &str) {
        self.click.lock().unwrap().insert(summary.to_string());
    }
}

struct FakeServer {
    rec: Recorder,
    next_id: u32,
    rt: tokio::runtime::Handle,
}

#[interface(interface = "org.freedesktop.Notifications")]
impl FakeServer {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &mut self,
        app_name: String,
        _replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedVariant>,
        _expire_timeout: i32,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> u32 {
        self.next_id += 1;
        let id = self.next_id;
        let urgency = hints.get("urgency").and_then(|v| match &**v {
            Variant::U8(u) => Some(*u),
            _ => None,
        });
        let click = self.rec.click.lock().unwrap().contains(&summary);
        let shown = Shown {
            id,
            app_name,
            app_icon,
            summary,
            body,
            actions,
            urgency,
        };
        let n = {
            let mut v = self.rec.shown.lock().unwrap();
            v.push(shown);
            v.len()
        };
        self.rec.open.send_modify(|o| *o += 1);
        self.rec.count.send_replace(n);
        let sender = header
            .sender()
            .map(|s| s.to_string())
            .expect("a message from the bus has a sender");
        self.rt
            .spawn(respond(conn.clone(), sender, id, click, self.rec.clone()));
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        self.rec.caps.lock().unwrap().clone()
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "pulseboard-fake".into(),
            "pulseboard".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    async fn close_notification(
        &self,
        id: u32,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        Self::notification_closed(&emitter, id, 3).await?;
        Ok(())
    }

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: String,
    ) -> zbus::Result<()>;
}

/// Like a desktop once the user acts: close toast `id` (reason 3), or click
/// its default action. notify-rust subscribes to these signals only after
/// `Notify` returned, so the signal is sent again every 20 ms until the caller
/// leaves the bus, which its click waiter does once it got the signal.
async fn respond(conn: zbus::Connection, sender: String, id: u32, click: bool, rec: Recorder) {
    let dest = BusName::try_from(sender.as_str()).expect("a unique name");
    let emitter = SignalEmitter::new(&conn, PATH)
        .expect("valid path")
        .set_destination(dest.clone());
    let dbus = zbus::fdo::DBusProxy::new(&conn)
        .await
        .expect("org.freedesktop.DBus proxy");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // Errors (the caller left meanwhile) are fine: checked just below.
        let _ = if click {
            FakeServer::action_invoked(&emitter, id, "default".into()).await
        } else {
            FakeServer::notification_closed(&emitter, id, 3).await
        };
        if !dbus.name_has_owner(dest.clone()).await.unwrap_or(false) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            rec.stuck.lock().unwrap().push(sender.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rec.open.send_modify(|o| *o -= 1);
}

async fn serve(address: &str, rec: Recorder) -> zbus::Connection {
    let server = FakeServer {
        rec,
        next_id: 0,
        rt: tokio::runtime::Handle::current(),
    };
    zbus::connection::Builder::address(address)
        .name("org.freedesktop.Notifications")
        .serve_at(PATH, server)
        .build()
        .await
        .expect("serve org.freedesktop.Notifications on the private bus")
}

// ---------------------------------------------------------------------------
// The pipeline under test.

/// Wall-clock time the test moves by hand (milliseconds since the epoch).
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0.load(Ordering::SeqCst))
            .unwrap()
    }

    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
}

struct Pipeline {
    store: Store,
    clock: TestClock,
    settings: watch::Sender<PolicySettings>,
    counters: watch::Receiver<PolicyCounters>,
    task: AlertsTask,
    notifier: DesktopNotifier,
    clicks: mpsc::UnboundedReceiver<String>,
    barriers: u64,
}

impl Pipeline {
    fn start(config: PolicyConfig) -> Pipeline {
        let clock = TestClock(Arc::new(AtomicI64::new(1_700_000_000_000)));
        let store = Store::new(ClientState::empty("notify-dbus-test"));
        let (click_tx, clicks) = mpsc::unbounded_channel();
        let on_click: ClickHandler = Arc::new(move |id| {
            let _ = click_tx.send(id);
        });
        let notifier = DesktopNotifier::new(APP_NAME, Some(PathBuf::from(ICON)), Some(on_click));
        let (settings, control) = watch::channel(PolicySettings::default());
        let read = clock.clone();
        let task = spawn_alerts_with(
            &store,
            AlertPolicy::new(config),
            Arc::new(notifier.clone()),
            control,
            RunOptions {
                clock: Arc::new(move || read.now()),
                tick: Duration::from_millis(10),
            },
        );
        Pipeline {
            store,
            clock,
            settings,
            counters: task.watch_counters(),
            task,
            notifier,
            clicks,
            barriers: 0,
        }
    }

    /// Publish an alert raised now, as the connection supervisor would.
    fn alert(&self, id: &str, severity: AlertSeverity, title: &str, message: &str) {
        let now = self.clock.now();
        let a = Alert {
            id: id.into(),
            severity,
            title: title.into(),
            message: message.into(),
            created_at: now,
        };
        self.store.apply(|s| s.apply_alert(a, now));
    }

    fn dnd(&self, dnd: Dnd) {
        self.settings.send_replace(PolicySettings {
            dnd,
            notification_threshold: None,
        });
    }

    /// Returns once the alert task handled everything published before:
    /// publishes a notification (no threshold is set, so the policy filters
    /// it) and waits for the policy to count it.
    async fn barrier(&mut self) -> PolicyCounters {
        self.barriers += 1;
        let now = self.clock.now();
        let n = Notification {
            id: format!("barrier-{}", self.barriers),
            seq: self.barriers,
            title: "barrier".into(),
            body: String::new(),
            severity: NotificationSeverity::Info,
            module: None,
            created_at: now,
            read: false,
        };
        self.store.apply(|s| s.apply_notification(n, now));
        let want = self.barriers;
        let waited =
            tokio::time::timeout(WAIT, self.counters.wait_for(|c| c.filtered >= want)).await;
        match waited {
            Ok(Ok(c)) => *c,
            _ => panic!("the alert task did not reach barrier {want}"),
        }
    }
}

fn summaries(shown: &[Shown]) -> Vec<&str> {
    shown.iter().map(|s| s.summary.as_str()).collect()
}

// ---------------------------------------------------------------------------
// The scenarios.

#[test]
fn desktop_notifier_over_a_private_session_bus() {
    let bus = SessionBus::start();
    // Before any thread or connection exists; nothing else in this binary
    // reads the environment.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // On a task, so that a failed assertion still lets the runtime shut down
    // and the daemon be killed before the test reports it.
    let scenarios = scenarios(bus.address.clone());
    let outcome = rt.block_on(async move {
        tokio::time::timeout(Duration::from_secs(60), tokio::spawn(scenarios)).await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    drop(bus);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(e)) => panic!("the scenarios did not finish: {e}"),
        Err(_) => panic!("the scenarios took over 60 s"),
    }
}

async fn scenarios(address: String) {
    let rec = Recorder::new();
    let _server = serve(&address, rec.clone()).await;
    let config = PolicyConfig::default();
    let cap = config.max_per_minute as usize;
    let mut p = Pipeline::start(config);

    one_critical_alert(&mut p, &rec).await;
    storm_is_capped_then_summarised(&mut p, &rec, cap).await;
    do_not_disturb(&mut p, &rec).await;
    click_reaches_the_handler(&mut p, &rec).await;

    // Every toast's click waiter ended (closed or clicked): no notify-rust
    // connection, hence no thread, is left waiting.
    let mut open = rec.open.subscribe();
    let closed = tokio::time::timeout(WAIT, open.wait_for(|o| *o == 0))
        .await
        .is_ok();
    assert!(
        closed,
        "{} notify-rust connections still open",
        *open.borrow()
    );
    assert!(rec.stuck.lock().unwrap().is_empty(), "waiters never ended");

    // Nothing arrived late, and every decision of the policy reached the bus
    // exactly once.
    let total = rec.len();
    assert_eq!(
        total,
        2 + (cap + 1) + 2 + 1,
        "{:#?}",
        summaries(&rec.shown())
    );
    let c = p.barrier().await;
    assert_eq!((c.shown + c.summaries) as usize, total, "{c:?}");
    let stats = p.notifier.stats();
    assert_eq!(stats.shown as usize, total, "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(stats.clicks, 1, "{stats:?}");
    let ids: HashSet<u32> = rec.shown().iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), total, "each Notify got its own id");
    p.task.abort();

    server_text_in_a_body_arrives_as_text(&rec).await;
}

/// Scenario 5: server text in a toast body arrives as text: escaped for a
/// daemon that renders body markup (a link or an image must not be made of
/// it), as it is for a daemon that shows the body as plain text.
async fn server_text_in_a_body_arrives_as_text(rec: &Recorder) {
    use pulseboard_core::{Notifier as _, Toast, ToastKind, Urgency};
    let text = r#"<a href="https://evil">click</a> & <img src="x">"#;
    let escaped = r#"&lt;a href="https://evil"&gt;click&lt;/a&gt; &amp; &lt;img src="x"&gt;"#;
    for (caps, want) in [
        (vec!["body", "body-markup", "actions"], escaped),
        (vec!["body", "actions"], text),
    ] {
        *rec.caps.lock().unwrap() = caps.iter().map(|c| c.to_string()).collect();
        // A new notifier asks the capabilities again.
        let n = DesktopNotifier::new(APP_NAME, None, None);
        let before = rec.len();
        n.show(Toast {
            id: "markup".into(),
            title: "Server text".into(),
            body: text.into(),
            urgency: Urgency::Normal,
            kind: ToastKind::Notification,
        });
        let shown = rec.wait_for(before + 1).await;
        assert_eq!(shown[before].body, want, "daemon capabilities {caps:?}");
    }
}

/// Scenario 1: one critical alert is one critical toast, with what the alert
/// says, shown once.
async fn one_critical_alert(p: &mut Pipeline, rec: &Recorder) {
    p.alert(
        "crit-1",
        AlertSeverity::Critical,
        "Disk full on db-1",
        "Only 2% left on /var",
    );
    let shown = rec.wait_for(1).await;
    assert_eq!(shown.len(), 1, "{shown:#?}");
    let s = &shown[0];
    assert_eq!(s.summary, "Disk full on db-1");
    assert_eq!(s.body, "Only 2% left on /var");
    assert_eq!(s.app_name, APP_NAME);
    assert_eq!(s.app_icon, ICON);
    assert_eq!(s.urgency, Some(2), "critical");
    // The server offers actions and the notifier has a click handler.
    assert_eq!(s.actions, ["default", "Open dashboard"]);

    // A later, unrelated alert arrives, and the first one was not repeated.
    p.alert(
        "info-1",
        AlertSeverity::Info,
        "Backup done",
        "Nightly backup finished",
    );
    let shown = rec.wait_for(2).await;
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert_eq!(shown[1].summary, "Backup done");
    assert_eq!(shown[1].body, "Nightly backup finished");
    assert_eq!(shown[1].urgency, Some(0), "info is low");
    let c = p.barrier().await;
    assert_eq!((c.shown, c.summaries, c.duplicates), (2, 0, 0), "{c:?}");
    assert_eq!(rec.len(), 2, "{:#?}", rec.shown());
}

/// Scenario 2: 200 alerts within one second show `cap` toasts, then exactly
/// one summary of the rest once the 60 s window has room again.
async fn storm_is_capped_then_summarised(p: &mut Pipeline, rec: &Recorder, cap: usize) {
    // A fresh window.
    p.clock.advance(Duration::from_secs(61));
    let before = rec.len();
    for i in 0..200 {
        // Every 50th is critical; all of those land past the cap.
        let severity = if i % 50 == 49 {
            AlertSeverity::Critical
        } else {
            AlertSeverity::Warning
        };
        p.alert(&format!("storm-{i}"), severity, &format!("storm {i}"), "m");
        p.clock.advance(Duration::from_millis(5));
    }
    let c = p.barrier().await;
    assert_eq!((c.shown, c.summaries), (2 + cap as u64, 0), "{c:?}");
    let shown = rec.wait_for(before + cap).await;
    assert_eq!(shown.len(), before + cap, "{:#?}", summaries(&shown));
    // Shown from blocking threads, so in any order.
    let storm: HashSet<&str> = summaries(&shown[before..]).into_iter().collect();
    let first: Vec<String> = (0..cap).map(|i| format!("storm {i}")).collect();
    let want: HashSet<&str> = first.iter().map(String::as_str).collect();
    assert_eq!(storm, want);
    assert!(shown[before..].iter().all(|s| s.urgency == Some(1)));

    // Still inside the window: ticks show nothing...
    p.clock.advance(Duration::from_secs(30));
    let c = p.barrier().await;
    assert_eq!(c.summaries, 0, "{c:?}");
    // ...past it, the next tick shows one summary.
    p.clock.advance(Duration::from_secs(31));
    let shown = rec.wait_for(before + cap + 1).await;
    assert_eq!(shown.len(), before + cap + 1, "{:#?}", summaries(&shown));
    let s = &shown[before + cap];
    let rest = 200 - cap;
    assert_eq!(s.summary, format!("{rest} more alerts"));
    assert_eq!(s.urgency, Some(2), "a grouped alert was critical");
    assert_eq!(
        s.body,
        format!(
            "\u{2022} storm 49\n\u{2022} storm 99\n\u{2022} storm 149\nand {} more",
            rest - 3
        )
    );
    assert_eq!(s.app_name, APP_NAME);
    let c = p.barrier().await;
    assert_eq!((c.grouped, c.summaries), (rest as u64, 1), "{c:?}");
    assert_eq!(rec.len(), before + cap + 1);
}

/// Scenario 3: do-not-disturb lets only critical alerts through, and
/// silence-all nothing.
async fn do_not_disturb(p: &mut Pipeline, rec: &Recorder) {
    p.clock.advance(Duration::from_secs(61));
    let before = rec.len();
    let suppressed = p.barrier().await.dnd_suppressed;

    p.dnd(Dnd::On);
    p.alert("dnd-warn", AlertSeverity::Warning, "DND warning", "m");
    p.alert("dnd-crit", AlertSeverity::Critical, "DND critical", "m");
    let c = p.barrier().await;
    assert_eq!(c.dnd_suppressed, suppressed + 1, "{c:?}");
    let shown = rec.wait_for(before + 1).await;
    assert_eq!(summaries(&shown[before..]), ["DND critical"]);
    assert_eq!(shown[before].urgency, Some(2));

    p.dnd(Dnd::SilenceAll);
    p.alert(
        "silent-warn",
        AlertSeverity::Warning,
        "Silenced warning",
        "m",
    );
    p.alert(
        "silent-crit",
        AlertSeverity::Critical,
        "Silenced critical",
        "m",
    );
    let c = p.barrier().await;
    assert_eq!(c.dnd_suppressed, suppressed + 3, "{c:?}");

    p.dnd(Dnd::Off);
    p.alert("after-dnd", AlertSeverity::Info, "After DND", "m");
    let shown = rec.wait_for(before + 2).await;
    assert_eq!(
        summaries(&shown[before..]),
        ["DND critical", "After DND"],
        "only the critical alert under DND on, nothing under silence-all"
    );
}

/// Scenario 4: clicking a toast's default action hands its id to the click
/// handler.
async fn click_reaches_the_handler(p: &mut Pipeline, rec: &Recorder) {
    let before = rec.len();
    rec.click_on("Deploy finished");
    p.alert(
        "click-1",
        AlertSeverity::Warning,
        "Deploy finished",
        "v2.3 is live",
    );
    let shown = rec.wait_for(before + 1).await;
    assert_eq!(shown[before].summary, "Deploy finished");
    assert_eq!(shown[before].actions, ["default", "Open dashboard"]);
    let clicked = tokio::time::timeout(WAIT, p.clicks.recv()).await;
    assert_eq!(
        clicked,
        Ok(Some("click-1".to_string())),
        "the click handler got the toast id"
    );
    assert!(p.clicks.try_recv().is_err(), "one click, one call");
}
