//! The window's commands through Tauri's mock runtime: what the webview
//! calls reaches the core, bad input is refused with a readable error.

use pulseboard_app::settings::SettingsDir;
use pulseboard_app::AppCore;
use pulseboard_core::{Command, Store};
use pulseboard_protocol::MarkRead;
use serde_json::{json, Value};
use tokio::sync::mpsc;

mod common;

/// The app on the mock runtime with its settings in a temp dir.
struct Harness {
    webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    commands: mpsc::UnboundedReceiver<Command>,
    store: Store,
    dir: tempfile::TempDir,
    _app: tauri::App<tauri::test::MockRuntime>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let m = common::mock::mock_app(&dir.path().join("config"));
    Harness {
        webview: m.webview,
        commands: m.commands,
        store: m.store,
        dir,
        _app: m.app,
    }
}

fn invoke(h: &Harness, cmd: &str, args: Value) -> Result<Value, Value> {
    common::mock::invoke(&h.webview, cmd, args)
}

#[test]
fn get_state_returns_demo_data_labelled_and_no_token() {
    let h = harness();
    let v = invoke(&h, "get_state", json!({})).unwrap();
    assert_eq!(v["state"]["source"]["kind"], "demo");
    assert_eq!(v["state"]["modules"].as_object().unwrap().len(), 4);
    assert_eq!(v["state"]["connection"]["state"], "connecting");
    assert_eq!(v["settings"]["hasToken"], false);
    assert!(
        v["settings"].get("token").is_none(),
        "the token never reaches the webview"
    );
}

#[test]
fn mark_read_reaches_the_core_and_bad_ids_are_refused() {
    let mut h = harness();
    invoke(&h, "mark_read", json!({"ids": ["n-1", "n-2"]})).unwrap();
    match h.commands.try_recv().unwrap() {
        Command::MarkRead(MarkRead::Ids(ids)) => assert_eq!(ids, vec!["n-1", "n-2"]),
        other => panic!("unexpected {other:?}"),
    }
    let err = invoke(&h, "mark_read", json!({"ids": [""]})).unwrap_err();
    assert!(err.as_str().unwrap().contains("must not be empty"), "{err}");
    let err = invoke(&h, "mark_read", json!({"ids": "n-1"})).unwrap_err();
    assert!(err.to_string().contains("ids"), "{err}");
    assert!(
        h.commands.try_recv().is_err(),
        "refused input sends nothing"
    );
    invoke(&h, "mark_all_read", json!({})).unwrap();
    assert!(matches!(
        h.commands.try_recv().unwrap(),
        Command::MarkRead(MarkRead::All)
    ));
    invoke(&h, "reconnect", json!({})).unwrap();
    assert!(matches!(h.commands.try_recv().unwrap(), Command::Reconnect));
    assert_eq!(
        h.store.read(|s| s.outbox.len()),
        0,
        "the shell only forwards; the core queues"
    );
}

#[test]
fn save_settings_validates_persists_and_reconnects_on_new_server_or_token() {
    let mut h = harness();
    let err = invoke(
        &h,
        "save_settings",
        json!({"settings": {"server": "ftp://nope", "dnd": "off", "notifyThreshold": "off", "startAtLogin": false}}),
    )
    .unwrap_err();
    assert!(err.as_str().unwrap().contains("http://"), "{err}");
    assert!(h.commands.try_recv().is_err());

    let v = invoke(
        &h,
        "save_settings",
        json!({"settings": {"server": "http://10.1.2.3:4000", "token": "s3cret", "dnd": "on",
               "notifyThreshold": "warning", "startAtLogin": false}}),
    )
    .unwrap();
    assert_eq!(v["hasToken"], true);
    assert!(v.get("token").is_none());
    match h.commands.try_recv().unwrap() {
        Command::Configure { server, token } => {
            assert_eq!(server, "http://10.1.2.3:4000");
            assert_eq!(token.as_deref(), Some("s3cret"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let saved = SettingsDir {
        dir: h.dir.path().join("config"),
    };
    assert_eq!(saved.load().0.dnd, pulseboard_core::Dnd::On);
    assert_eq!(saved.load_token().as_deref(), Some("s3cret"));
    let got = invoke(&h, "get_settings", json!({})).unwrap();
    assert_eq!(got["notifyThreshold"], "warning");

    // Only DND changed: no reconnect.
    invoke(
        &h,
        "save_settings",
        json!({"settings": {"server": "http://10.1.2.3:4000", "dnd": "silence_all", "notifyThreshold": "warning", "startAtLogin": false}}),
    )
    .unwrap();
    assert!(
        h.commands.try_recv().is_err(),
        "no reconnect for a DND change"
    );
}

/// Every update batch the window gets, as (arrival, messages): subscribed
/// as the page does (`subscribe_updates`), with a channel read here. A batch
/// holding only the connection's words is left out: the bridge's 1 s tick
/// sends one at start, whenever it happens to run, and no test here is about
/// those words (`bridge::tests` are).
fn window_updates(h: &Harness) -> std::sync::mpsc::Receiver<(std::time::Instant, Vec<Value>)> {
    use tauri::ipc::{Channel, InvokeResponseBody};
    use tauri::Manager;
    let (tx, rx) = std::sync::mpsc::channel();
    let channel = Channel::new(move |body| {
        let batch: Vec<Value> = match body {
            InvokeResponseBody::Json(s) => serde_json::from_str(&s),
            InvokeResponseBody::Raw(b) => serde_json::from_slice(&b),
        }
        .expect("a JSON array");
        if batch.iter().all(|m| m["type"] == "connection-view") {
            return Ok(());
        }
        let _ = tx.send((std::time::Instant::now(), batch));
        Ok(())
    });
    h.webview
        .app_handle()
        .state::<pulseboard_app::bridge::Updates>()
        .subscribe(channel);
    rx
}

fn kpi_update(store: &Store, value: f64) {
    use pulseboard_protocol::{Kpi, Module, ModuleKpis, ServerEvent};
    let now = chrono::Utc::now();
    let ev = ServerEvent::KpiUpdate(ModuleKpis {
        module: Module::Finance,
        kpis: vec![Kpi {
            key: "seq".into(),
            label: "Seq".into(),
            value,
            ..pulseboard_protocol::sample::module_kpis(Module::Finance, now).kpis[0].clone()
        }],
        updated_at: now + chrono::Duration::milliseconds(value as i64),
    });
    store.apply(|s| s.apply(ev, now));
}

#[test]
fn a_burst_reaches_the_window_whole_in_order_and_batched() {
    let h = harness();
    let rx = window_updates(&h);
    let wait = std::time::Duration::from_secs(5);
    // The first server data replaces the demo data: the whole state goes.
    kpi_update(&h.store, 0.0);
    let (_, first) = rx.recv_timeout(wait).expect("first update");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["type"], "resync");
    assert_eq!(first[0]["state"]["source"]["kind"], "server");
    assert_eq!(
        first[0]["state"]["modules"]["finance"]["latest"]["kpis"][0]["value"],
        0.0
    );
    // A lone update goes out alone.
    kpi_update(&h.store, 1.0);
    let (_, lone) = rx.recv_timeout(wait).expect("lone update");
    assert_eq!(lone.len(), 1);
    assert_eq!(lone[0]["event"], "kpi:update:finance");
    // A burst of 500 arrives complete and in order, in far fewer emits.
    for i in 2..=501 {
        kpi_update(&h.store, i as f64);
    }
    let mut seen = Vec::new();
    let mut emits = 0;
    while seen.len() < 500 {
        let (_, batch) = rx.recv_timeout(wait).expect("the rest of the burst");
        emits += 1;
        seen.extend(
            batch
                .iter()
                .map(|m| m["data"]["kpis"][0]["value"].as_f64().unwrap()),
        );
    }
    let want: Vec<f64> = (2..=501).map(f64::from).collect();
    assert_eq!(seen, want, "nothing lost, nothing reordered");
    assert!(emits < 50, "500 updates took {emits} emits: not batched");
}

fn core(h: &Harness) -> tauri::State<'_, AppCore> {
    use tauri::Manager;
    h.webview.app_handle().state::<AppCore>()
}

fn critical_alert(id: &str) -> pulseboard_protocol::ServerEvent {
    pulseboard_protocol::ServerEvent::AlertSystem(pulseboard_protocol::Alert {
        id: id.into(),
        severity: pulseboard_protocol::AlertSeverity::Critical,
        title: format!("Disk full ({id})"),
        message: "/var at 97%".into(),
        created_at: chrono::Utc::now(),
    })
}

/// The tray as it would be drawn now.
fn tray_look(h: &Harness) -> pulseboard_app::tray::TrayLook {
    let c = core(h);
    let dnd = c.settings().dnd;
    c.store()
        .read(|s| pulseboard_app::tray::look(s, dnd, chrono::Utc::now()))
}

#[test]
fn acknowledging_alerts_in_the_window_clears_the_tray_mark_and_offline_still_shows() {
    use pulseboard_app::tray::IconKind;
    use pulseboard_core::ConnectionState;
    let h = harness();
    let rx = window_updates(&h);
    let now = chrono::Utc::now();
    h.store.apply(|s| s.apply(critical_alert("a-1"), now));
    h.store.apply(|s| s.apply(critical_alert("a-2"), now));
    // The server goes away: the tray says so, with the alert's dot on it.
    h.store.apply(|s| {
        s.set_connection(ConnectionState::Offline {
            since: now,
            attempt: 6,
            next_retry_at: now + chrono::Duration::seconds(30),
            reason: "connection refused".into(),
        })
    });
    let l = tray_look(&h);
    assert_eq!(
        (l.icon, l.critical),
        (IconKind::Offline, true),
        "offline and an alert: both shown"
    );
    assert!(l.status.contains("Offline since"), "{}", l.status);

    // The window acknowledges one alert: the other still marks the tray.
    invoke(&h, "acknowledge_alerts", json!({"ids": ["a-2"]})).unwrap();
    assert!(tray_look(&h).critical, "a-1 is not acknowledged yet");
    // ...then the other: no mark left, the plain offline icon.
    invoke(&h, "acknowledge_alerts", json!({"ids": ["a-1"]})).unwrap();
    let l = tray_look(&h);
    assert_eq!((l.icon, l.critical), (IconKind::Offline, false));
    // Twice is harmless.
    invoke(&h, "acknowledge_alerts", json!({"ids": ["a-1"]})).unwrap();

    // The window is told Rust's set, and get_state carries it (a new window
    // shows no banner for them; it is cached with the state).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut last = Value::Null;
    while last != json!(["a-1", "a-2"]) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (_, batch) = rx.recv_timeout(left).expect("an `acknowledged` message");
        // The set arrives on its own, or inside a whole-state resync (the
        // first server data after demo values is one).
        for m in &batch {
            match m["type"].as_str() {
                Some("acknowledged") => last = m["ids"].clone(),
                Some("resync") => last = m["state"]["acknowledgedAlerts"].clone(),
                _ => {}
            }
        }
    }
    let v = invoke(&h, "get_state", json!({})).unwrap();
    assert_eq!(v["state"]["acknowledgedAlerts"], json!(["a-1", "a-2"]));

    // A new critical alert marks the tray again.
    h.store.apply(|s| s.apply(critical_alert("a-3"), now));
    assert!(tray_look(&h).critical);
}

#[test]
fn going_live_sends_the_window_the_whole_state() {
    use pulseboard_core::{ConnectionState, TransportKind};
    let h = harness();
    let rx = window_updates(&h);
    h.store.apply(|s| {
        s.set_connection(ConnectionState::Live {
            since: chrono::Utc::now(),
            transport: TransportKind::Websocket,
        })
    });
    let (_, batch) = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("an update");
    assert_eq!(batch.len(), 1, "{batch:?}");
    assert_eq!(batch[0]["type"], "resync");
    assert_eq!(batch[0]["state"]["connection"]["state"], "live");
    assert_eq!(
        batch[0]["state"]["modules"].as_object().unwrap().len(),
        4,
        "every module, as the core holds it"
    );
}

#[test]
fn acknowledge_alerts_changes_the_store_and_refuses_bad_input() {
    use pulseboard_protocol::{Alert, AlertSeverity};
    let h = harness();
    let mut rx = h.store.subscribe();
    h.store.apply(|s| {
        let mut out = Vec::new();
        for (id, severity) in [
            ("a-1", AlertSeverity::Critical),
            ("a-2", AlertSeverity::Warning),
            ("a-3", AlertSeverity::Critical),
        ] {
            out.extend(s.apply_alert(
                Alert {
                    id: id.into(),
                    severity,
                    title: "t".into(),
                    message: "m".into(),
                    created_at: chrono::Utc::now(),
                },
                chrono::Utc::now(),
            ));
        }
        out
    });
    let v = invoke(&h, "acknowledge_alerts", json!({"ids": ["a-1", "nope"]})).unwrap();
    assert_eq!(v, json!(["a-1"]), "unknown ids are ignored");
    let v = invoke(&h, "acknowledge_alerts", json!({"all": true})).unwrap();
    assert_eq!(v, json!(["a-1", "a-2", "a-3"]));
    assert_eq!(h.store.read(|s| s.unacknowledged_alerts().count()), 0);
    // The window hears of it like any other change.
    let mut acked = Vec::new();
    while let Ok(u) = rx.try_recv() {
        if let pulseboard_core::Update::AlertsAcknowledged(ids) = u {
            acked = ids;
        }
    }
    assert_eq!(acked, vec!["a-1", "a-2", "a-3"]);
    let err = invoke(&h, "acknowledge_alerts", json!({})).unwrap_err();
    assert!(err.as_str().unwrap().contains("all: true"), "{err}");
    let many: Vec<String> = (0..2000).map(|i| format!("a-{i}")).collect();
    let err = invoke(&h, "acknowledge_alerts", json!({ "ids": many })).unwrap_err();
    assert!(err.as_str().unwrap().contains("too many"), "{err}");
    // The state the window starts from carries the acknowledged ids.
    let v = invoke(&h, "get_state", json!({})).unwrap();
    assert_eq!(
        v["state"]["acknowledgedAlerts"],
        json!(["a-1", "a-2", "a-3"])
    );
}

/// A PEM file holding a certificate authority.
fn ca_pem(dir: &std::path::Path) -> std::path::PathBuf {
    pulseboard_testkit::make_certs(dir).0
}

#[test]
fn save_settings_persists_the_certificate_authority_and_reconnects_with_it() {
    let mut h = harness();
    let ca = ca_pem(h.dir.path());
    let ca_str = ca.to_str().unwrap();
    let form = |ca: Value| {
        json!({"settings": {"server": "https://pulse.example:8443", "dnd": "off",
               "notifyThreshold": "warning", "startAtLogin": false, "ca": ca}})
    };
    let saved = SettingsDir {
        dir: h.dir.path().join("config"),
    };

    // A file that is not a certificate is refused, saying so; nothing changes.
    let junk = h.dir.path().join("junk.pem");
    std::fs::write(&junk, "hello").unwrap();
    let err = invoke(&h, "save_settings", form(json!(junk.to_str().unwrap()))).unwrap_err();
    assert!(
        err.as_str().unwrap().contains("certificate authority"),
        "{err}"
    );
    assert!(saved.load().0.ca.is_none());

    let v = invoke(&h, "save_settings", form(json!(ca_str))).unwrap();
    assert_eq!(v["ca"], ca_str);
    assert_eq!(saved.load().0.ca.as_deref(), Some(ca.as_path()));
    let mut sent = Vec::new();
    while let Ok(c) = h.commands.try_recv() {
        sent.push(c);
    }
    assert!(
        sent.iter()
            .any(|c| matches!(c, Command::SetCa(Some(p)) if p == &ca)),
        "the running connection trusts the new CA: {sent:?}"
    );
    assert_eq!(invoke(&h, "get_settings", json!({})).unwrap()["ca"], ca_str);

    // A form without the field (the first-run setup) keeps the CA, and an
    // unchanged CA does not reconnect.
    let mut same = form(Value::Null);
    same["settings"].as_object_mut().unwrap().remove("ca");
    invoke(&h, "save_settings", same).unwrap();
    assert_eq!(saved.load().0.ca.as_deref(), Some(ca.as_path()));
    assert!(h.commands.try_recv().is_err(), "nothing changed: {sent:?}");

    // An empty field removes it: system roots only.
    let v = invoke(&h, "save_settings", form(json!(""))).unwrap();
    assert!(v["ca"].is_null(), "{v}");
    assert!(saved.load().0.ca.is_none());
    assert!(matches!(h.commands.try_recv(), Ok(Command::SetCa(None))));
}

#[test]
fn a_token_over_plain_http_to_another_host_is_warned_about_in_settings() {
    let h = harness();
    let w = invoke(
        &h,
        "plain_http_warning",
        json!({"server": "http://10.1.2.3:4000", "hasToken": true}),
    )
    .unwrap();
    assert!(
        w.as_str().unwrap().contains("plain http:// to 10.1.2.3"),
        "{w}"
    );
    for (server, has_token) in [
        ("http://10.1.2.3:4000", false),
        ("127.0.0.1:4000", true),
        ("https://10.1.2.3", true),
        ("10.1.2.3:4000", true), // gets https:// when saved
    ] {
        let w = invoke(
            &h,
            "plain_http_warning",
            json!({"server": server, "hasToken": has_token}),
        )
        .unwrap();
        assert!(w.is_null(), "{server} {has_token}: {w}");
    }
    // Saved with a token: get_settings and save_settings carry the warning.
    let v = invoke(
        &h,
        "save_settings",
        json!({"settings": {"server": "http://10.1.2.3:4000", "token": "s3cret", "dnd": "off",
               "notifyThreshold": "warning", "startAtLogin": false}}),
    )
    .unwrap();
    assert!(
        v["plainHttpWarning"].as_str().unwrap().contains("10.1.2.3"),
        "{v}"
    );
    let got = invoke(&h, "get_settings", json!({})).unwrap();
    assert_eq!(got["plainHttpWarning"], v["plainHttpWarning"]);
}

#[test]
fn tray_menu_do_not_disturb_stays_one_choice_and_alerts_are_named() {
    use pulseboard_app::tray::on_menu;
    use pulseboard_core::Dnd;
    use tauri::Manager;
    let h = harness();
    let app = h.webview.app_handle().clone();
    assert_eq!(tray_look(&h).dnd, [true, false, false], "Off at first");
    on_menu(&app, "dnd_on");
    assert_eq!(tray_look(&h).dnd, [false, true, false]);
    // Clicking the ticked choice again leaves it the only one ticked.
    on_menu(&app, "dnd_on");
    assert_eq!(tray_look(&h).dnd, [false, true, false]);
    on_menu(&app, "dnd_silence");
    assert_eq!(tray_look(&h).dnd, [false, false, true]);
    let saved = SettingsDir {
        dir: h.dir.path().join("config"),
    };
    assert_eq!(saved.load().0.dnd, Dnd::SilenceAll, "the choice is kept");

    // Nothing unread: "Mark all read" is greyed out.
    h.store.apply(|s| {
        s.unread_count = 61;
        Vec::new()
    });
    let l = tray_look(&h);
    assert!(l.mark_all_read);
    assert!(l.unread_dot, "61 unread change the icon");
    assert_eq!(l.title.as_deref(), Some("61"));
    h.store.apply(|s| s.mark_read_local(MarkRead::All));
    assert!(!tray_look(&h).mark_all_read);

    // Two unseen critical alerts: the tray names the newest and counts them.
    let now = chrono::Utc::now();
    h.store.apply(|s| s.apply(critical_alert("a-1"), now));
    h.store.apply(|s| s.apply(critical_alert("a-2"), now));
    assert_eq!(
        tray_look(&h).alert.as_deref(),
        Some("2 critical alerts: Disk full (a-2) (newest)")
    );
    invoke(&h, "acknowledge_alerts", json!({"ids": ["a-2"]})).unwrap();
    assert_eq!(
        tray_look(&h).alert.as_deref(),
        Some("1 critical alert: Disk full (a-1)")
    );
}

#[test]
fn settings_changes_reach_the_alert_policy_from_the_window_and_the_tray() {
    use pulseboard_app::tray::on_menu;
    use pulseboard_core::{Dnd, PolicySettings};
    use pulseboard_protocol::NotificationSeverity;
    use tauri::Manager;
    let h = harness();
    let app = h.webview.app_handle().clone();
    let policy = core(&h).policy_updates();
    assert_eq!(
        *policy.borrow(),
        PolicySettings {
            dnd: Dnd::Off,
            notification_threshold: Some(NotificationSeverity::Warning),
        },
        "first run: warnings and errors notify"
    );
    // The tray's Do-not-disturb silences toasts at once.
    on_menu(&app, "dnd_silence");
    assert_eq!(policy.borrow().dnd, Dnd::SilenceAll);
    // So does the window's Save, threshold included.
    invoke(
        &h,
        "save_settings",
        json!({"settings": {"server": "http://127.0.0.1:4000", "dnd": "on",
               "notifyThreshold": "off", "startAtLogin": false}}),
    )
    .unwrap();
    assert_eq!(
        *policy.borrow(),
        PolicySettings {
            dnd: Dnd::On,
            notification_threshold: None,
        }
    );
    // A refused save changes nothing.
    invoke(
        &h,
        "save_settings",
        json!({"settings": {"server": "ftp://x", "dnd": "off",
               "notifyThreshold": "error", "startAtLogin": false}}),
    )
    .unwrap_err();
    assert_eq!(policy.borrow().dnd, Dnd::On);
    assert_eq!(core(&h).settings().dnd, Dnd::On);
}

#[test]
fn do_not_disturb_from_the_tray_counts_even_when_settings_cannot_be_saved() {
    use pulseboard_app::tray::on_menu;
    use pulseboard_core::Dnd;
    use tauri::Manager;
    let h = harness();
    // A file where the settings folder should be: nothing can be saved.
    std::fs::write(h.dir.path().join("config"), b"in the way").unwrap();
    let app = h.webview.app_handle().clone();
    let policy = core(&h).policy_updates();
    on_menu(&app, "dnd_on");
    assert_eq!(tray_look(&h).dnd, [false, true, false], "ticked anyway");
    assert_eq!(policy.borrow().dnd, Dnd::On, "and followed by the alerts");
    // The window's Save says why instead.
    let err = invoke(
        &h,
        "save_settings",
        json!({"settings": {"server": "http://127.0.0.1:4000", "dnd": "off",
               "notifyThreshold": "warning", "startAtLogin": false}}),
    )
    .unwrap_err();
    assert!(err.as_str().unwrap().contains("config"), "{err}");
    assert_eq!(
        policy.borrow().dnd,
        Dnd::On,
        "a failed save applies nothing"
    );
}
