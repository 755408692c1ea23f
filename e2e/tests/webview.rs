//! The real Pulseboard app in its real WebKitGTK webview, driven through
//! tauri-driver + WebKitWebDriver under Xvfb, against a real pulseboard-server
//! on 127.0.0.1. Screenshots go to `test-artifacts/`.
//!
//! Needs `tauri-driver` (cargo install) and `WebKitWebDriver` (Debian
//! `webkit2gtk-driver`); scripts/test.sh installs both.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pulseboard_e2e::{app_binary, eventually, free_port, Desktop, Server, Session, TOKEN, WAIT};
use serde_json::{json, Value};

/// One app at a time: each brings an X server and WebKit processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// tauri-driver under its own Xvfb and D-Bus session, with private XDG dirs,
/// so the app it starts keeps its cache and settings between sessions.
fn desktop() -> Desktop {
    Desktop::start(pulseboard_e2e::SCREEN, &["import"], |_, _| {})
}

/// The app's cache files (JSON under its XDG cache dir).
fn cache_files(d: &Desktop) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&d.dirs().join("cache"), &mut files);
    files
}

/// (notifications, of them read) in the app's cache file(s): the most of each.
fn cached(d: &Desktop) -> (usize, usize) {
    let counts: Vec<(usize, usize)> = cache_files(d)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .map(|v| {
            let list = v["notifications"].as_array().cloned().unwrap_or_default();
            let read = list.iter().filter(|n| n["read"] == json!(true)).count();
            (list.len(), read)
        })
        .collect();
    (
        counts.iter().map(|c| c.0).max().unwrap_or(0),
        counts.iter().map(|c| c.1).max().unwrap_or(0),
    )
}

/// Notifications saved as read in the app's cache file(s).
fn cached_read(d: &Desktop) -> usize {
    cached(d).1
}

async fn pill(c: &Session, what: &str, needle: &str) -> String {
    c.wait_text("[data-testid=pill]", what, |t| t.contains(needle))
        .await
}

async fn badge(c: &Session) -> Option<String> {
    let v = c
        .execute(
            "const b = document.querySelector('[data-testid=unread-badge]'); return b && !b.hidden ? b.textContent.trim() : null;",
            vec![],
        )
        .await
        .ok()?;
    v.as_str().map(str::to_string)
}

async fn wait_badge(c: &Session, want: Option<&str>) {
    let deadline = Instant::now() + WAIT;
    while badge(c).await.as_deref() != want {
        assert!(
            Instant::now() < deadline,
            "badge never became {want:?}: {:?}",
            badge(c).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn local_hms(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S")
        .to_string()
}

/// One scenario's world: the serial lock, a server with a temp database and
/// a tauri-driver with its own screen and XDG dirs.
struct Scene {
    srv: Server,
    driver: Desktop,
    _dir: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Scene {
    async fn new() -> Scene {
        let serial = SERIAL.lock().await;
        let dir = tempfile::tempdir().unwrap();
        let srv = Server::start(dir.path().join("s.db"), None).await;
        Scene {
            srv,
            driver: desktop(),
            _dir: dir,
            _serial: serial,
        }
    }

    /// Start the app against this scene's server with `token`.
    async fn app(&self, token: &str) -> Session {
        self.driver
            .app(&["--server", &self.srv.url(), "--token", token])
            .await
    }
}

/// Notifications shown as read in the list.
const READ_ITEMS: &str =
    "return document.querySelectorAll('[data-testid=notification-item][data-read=true]').length";

/// Start the app again (one of two notifications read before): the badge
/// says one unread and exactly one notification shows as read; screenshot
/// `shot`; the scene ends.
async fn restarted_shows_one_read(mut sc: Scene, shot: &str) {
    let c = sc.app(TOKEN).await;
    pill(&c, "live after restart", "Live").await;
    wait_badge(&c, Some("1")).await;
    c.click("[data-testid=nav-notifications]").await;
    // The list is drawn on the next frame, and read state learned from the
    // server (catch-up) may land after the badge: wait for it, with a
    // deadline, instead of reading once.
    eventually(
        WAIT,
        "exactly one notification shows as read after the restart",
        || async {
            let read = c.execute(READ_ITEMS, vec![]).await?;
            (read == json!(1))
                .then_some(())
                .ok_or(format!("{read} read"))
        },
    )
    .await;
    sc.driver.shot(shot, None);
    c.close().await;
    sc.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kpi_pushed_over_http_appears_in_its_card_with_a_new_time() {
    let mut sc = Scene::new().await;
    let c = sc.app(TOKEN).await;
    pill(&c, "goes live", "Live").await;
    // The first frame was drawn from the snapshot the shell put in the page,
    // not after the IPC round trips.
    let booted = c
        .execute("return window.__pulseboardStats.startup.boot", vec![])
        .await
        .unwrap();
    assert_eq!(
        booted,
        json!(true),
        "window drawn from the start-up snapshot"
    );
    // main.js marks the first frame painted with KPI values (what the
    // start-up benchmark reads), whether or not the hooks were loaded yet.
    eventually(WAIT, "the first painted KPI is marked", || async {
        let at = c
            .execute(
                "return [window.__pulseboardStats.firstKpiPaintAt, performance.timeOrigin]",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        let (paint, origin) = (at[0].as_f64().unwrap_or(0.0), at[1].as_f64().unwrap_or(0.0));
        (paint > origin).then_some(()).ok_or(format!(
            "firstKpiPaintAt {paint}, navigation start {origin}"
        ))
    })
    .await;

    let put = sc
        .srv
        .http(
            reqwest::Method::PUT,
            "/api/kpis/finance",
            Some(json!({"kpis": [{"key": "revenue", "label": "Revenue", "value": 4321987, "unit": "USD", "delta": 12.5, "status": "ok"}]})),
        )
        .await;
    c.wait_text("[data-testid=kpi-finance-revenue]", "new revenue", |t| {
        t.contains("4,321,987")
    })
    .await;
    let when = local_hms(put["updatedAt"].as_str().unwrap());
    c.wait_text("[data-testid=last-updated-finance]", "new time", |t| {
        t.contains(&when)
    })
    .await;
    sc.driver.shot("e2e-kpi-update", None);
    c.close().await;
    sc.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_badge_mark_read_and_read_state_survives_a_restart() {
    let sc = Scene::new().await;
    let c = sc.app(TOKEN).await;
    pill(&c, "goes live", "Live").await;
    wait_badge(&c, None).await;

    for t in ["Payroll approved", "Backup finished"] {
        sc.srv.notify("info", t, "details").await;
    }
    wait_badge(&c, Some("2")).await;
    c.click("[data-testid=nav-notifications]").await;
    c.wait_text("[data-testid=notification-list]", "both listed", |t| {
        t.contains("Payroll approved") && t.contains("Backup finished")
    })
    .await;
    sc.driver.shot("e2e-notifications-unread", None);
    c.click("[data-testid=mark-read]").await;
    wait_badge(&c, Some("1")).await;
    // The server was told, not just the window.
    let deadline = Instant::now() + WAIT;
    while sc
        .srv
        .http(reqwest::Method::GET, "/api/snapshot", None)
        .await["unreadCount"]
        != 1
    {
        assert!(Instant::now() < deadline, "server never saw the mark-read");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sc.driver.shot("e2e-notifications-one-read", None);
    // A restart, not a crash: ending the WebDriver session kills the app
    // (SIGKILL, no chance to save), so wait until it has saved what it shows
    // (the cache is written ~1 s after a change). Killed before that, the
    // read state must come back from the server: that is
    // `app_killed_right_after_a_mark_read_shows_it_read_after_a_restart`.
    eventually(WAIT, "the app saved the read state", || async {
        let n = cached_read(&sc.driver);
        (n == 1)
            .then_some(())
            .ok_or(format!("{n} read in the cache"))
    })
    .await;
    c.close().await;

    // Restart the app: still one unread, the read one shows as read.
    restarted_shows_one_read(sc, "e2e-notifications-after-restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_shows_offline_with_cached_values_then_live_again() {
    let mut sc = Scene::new().await;
    sc.srv
        .http(
            reqwest::Method::PUT,
            "/api/kpis/hr",
            Some(json!({"kpis": [{"key": "headcount", "label": "Headcount", "value": 5150}]})),
        )
        .await;
    let c = sc.app(TOKEN).await;
    pill(&c, "goes live", "Live").await;
    c.wait_text("[data-testid=kpi-hr-headcount]", "value shown", |t| {
        t.contains("5,150")
    })
    .await;

    sc.srv.stop().await;
    pill(&c, "offline", "Offline").await;
    let v = c
        .try_text_of("[data-testid=kpi-hr-headcount]")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        v.contains("5,150"),
        "cached value still visible while offline: {v}"
    );
    sc.driver.shot("e2e-offline", None);

    sc.srv.restart().await;
    pill(&c, "live again", "Live").await;
    sc.driver.shot("e2e-live-again", None);
    c.close().await;
    sc.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_a_notification_is_shown_as_text() {
    let mut sc = Scene::new().await;
    let c = sc.app(TOKEN).await;
    pill(&c, "goes live", "Live").await;
    let evil = "<img src=x onerror=\"document.title='pwned'\">";
    sc.srv.notify("warning", evil, "<b>bold?</b>").await;
    c.click("[data-testid=nav-notifications]").await;
    c.wait_text("[data-testid=notification-list]", "shown as text", |t| {
        t.contains(evil)
    })
    .await;
    let made = c
        .execute(
            "return document.querySelectorAll('[data-testid=notification-list] img, [data-testid=notification-list] b').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(made, json!(0), "no element was created from server text");
    let title = c.execute("return document.title", vec![]).await.unwrap();
    assert_ne!(title, json!("pwned"));
    sc.driver.shot("e2e-html-as-text", None);
    c.close().await;
    sc.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_shows_unauthorized() {
    let mut sc = Scene::new().await;
    let k = |key: &str, v: f64| json!({"key": key, "label": key, "value": v});
    sc.srv
        .http(
            reqwest::Method::PUT,
            "/api/dashboard",
            Some(json!({
                "summary": (1..=6).map(|i| k(&format!("s{i}"), 900_000.0 + f64::from(i))).collect::<Vec<_>>(),
                "topKpis": (1..=4).map(|i| k(&format!("t{i}"), 800_000.0 + f64::from(i))).collect::<Vec<_>>(),
            })),
        )
        .await;
    let c = sc.app("wrong").await;
    pill(&c, "unauthorized", "Unauthorized").await;
    sc.driver.shot("e2e-unauthorized", None);
    c.close().await;
    sc.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_in_settings_clears_once_live_again() {
    let mut sc = Scene::new().await;
    let c = sc.app(TOKEN).await;
    pill(&c, "goes live", "Live").await;
    sc.srv.stop().await;
    c.wait_text("[data-testid=pill]", "leaves live", |t| !t.contains("Live"))
        .await;
    c.click("[data-testid=nav-settings]").await;
    sc.srv.restart().await;
    c.click("[data-testid=reconnect]").await;
    pill(&c, "live again", "Live").await;
    // Once Live, the Settings view must not still say it is reconnecting.
    c.wait_text("[data-testid=settings-status]", "status settles", |t| {
        !t.contains("Reconnecting")
    })
    .await;
    // Clicking while Live: "Reconnecting…" is shown (read in the same
    // script as the click, before the attempt can settle), then clears
    // after the new session.
    let shown = c
        .execute(
            "document.querySelector('[data-testid=reconnect]').click(); \
             return document.querySelector('[data-testid=settings-status]').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown,
        json!("Reconnecting…"),
        "the click says it reconnects"
    );
    pill(&c, "live after reconnect", "Live").await;
    c.wait_text("[data-testid=settings-status]", "status settles", |t| {
        !t.contains("Reconnecting")
    })
    .await;
    sc.driver.shot("e2e-settings-reconnected", None);
    c.close().await;
    sc.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixing_a_wrong_token_in_settings_shows_the_servers_values_not_demo_ones() {
    let mut sc = Scene::new().await;
    // The server holds its own values (one KPI per module; demo data has 3-4).
    for (m, key, v) in [
        ("reports", "reports_generated", 7771.0),
        ("finance", "revenue", 4321987.0),
        ("hr", "headcount", 5150.0),
        ("security", "open_incidents", 9.0),
    ] {
        sc.srv
            .http(
                reqwest::Method::PUT,
                &format!("/api/kpis/{m}"),
                Some(json!({"kpis": [{"key": key, "label": key, "value": v}]})),
            )
            .await;
    }
    let k = |key: &str, v: f64| json!({"key": key, "label": key, "value": v});
    sc.srv
        .http(
            reqwest::Method::PUT,
            "/api/dashboard",
            Some(json!({
                "summary": (1..=6).map(|i| k(&format!("s{i}"), 900_000.0 + f64::from(i))).collect::<Vec<_>>(),
                "topKpis": (1..=4).map(|i| k(&format!("t{i}"), 800_000.0 + f64::from(i))).collect::<Vec<_>>(),
            })),
        )
        .await;
    let c = sc.app("wrong").await;
    pill(&c, "unauthorized", "Unauthorized").await;
    c.wait_text(
        "[data-testid=kpi-finance-revenue]",
        "demo value first",
        |t| t.contains("1,250,000"),
    )
    .await;

    c.click("[data-testid=nav-settings]").await;
    let typed = c
        .execute(
            "const t = document.querySelector('#set-token'); t.value = arguments[0]; \
             t.dispatchEvent(new Event('input', {bubbles: true})); return true;",
            vec![json!(TOKEN)],
        )
        .await
        .unwrap();
    assert_eq!(typed, json!(true));
    c.click("[data-testid=settings-save]").await;
    c.wait_text("[data-testid=settings-status]", "saved", |t| {
        t.contains("Saved")
    })
    .await;
    pill(&c, "live with the fixed token", "Live").await;
    c.click("[data-testid=nav-home]").await;

    // Every card shows the server's values, and only them.
    for (css, want) in [
        ("[data-testid=kpi-reports-reports_generated]", "7,771"),
        ("[data-testid=kpi-finance-revenue]", "4,321,987"),
        ("[data-testid=kpi-hr-headcount]", "5,150"),
        ("[data-testid=kpi-security-open_incidents]", "9"),
    ] {
        c.wait_text(css, "the server's value", |t| t.contains(want))
            .await;
    }
    eventually(WAIT, "no demo row or sparkline point left", || async {
        let v = c.execute(
            "const rows = document.querySelectorAll('#module-grid .kpi-row').length; \
             const grid = document.querySelector('#module-grid').innerText; \
             const bent = [...document.querySelectorAll('#module-grid .spark-line')].filter((p) => { \
               const ys = (p.getAttribute('d') || '').match(/,[0-9.]+/g) || []; \
               return new Set(ys).size > 1; }).length; \
             return {rows, bent, demo: ['1,250,000', '412', '15,230', '1,284'].filter((d) => grid.includes(d))};",
            vec![],
        )
        .await?;
        (v == json!({"rows": 4, "bent": 0, "demo": []}))
            .then_some(())
            .ok_or(v.to_string())
    })
    .await;
    sc.driver.shot("e2e-token-fixed", None);
    // The dashboard too: the server's ten tiles, each with one point.
    c.click("[data-testid=nav-dashboard]").await;
    c.wait_text("[data-testid=kpi-dashboard-s1]", "dashboard value", |t| {
        t.contains("900,001")
    })
    .await;
    eventually(WAIT, "no demo tile or sparkline point on the dashboard", || async {
        let v = c.execute(
            "const root = document.querySelector('#view-dashboard'); \
             const ours = root.querySelectorAll('[data-testid^=kpi-dashboard-s], [data-testid^=kpi-dashboard-t]').length; \
             const all = root.querySelectorAll('[data-testid^=kpi-dashboard-]').length; \
             const bent = [...root.querySelectorAll('.spark-line')].filter((p) => { \
               const ys = (p.getAttribute('d') || '').match(/,[0-9.]+/g) || []; \
               return new Set(ys).size > 1; }).length; \
             return {ours, all, bent};",
            vec![],
        )
        .await?;
        (v == json!({"ours": 10, "all": 10, "bent": 0}))
            .then_some(())
            .ok_or(v.to_string())
    })
    .await;
    sc.driver.shot("e2e-token-fixed-dashboard", None);
    c.close().await;
    sc.srv.stop().await;
}

/// The pulseboard-server binary (built beside the app) as its own process,
/// simulator on: KPIs pushed every 200 ms.
struct ServerProcess {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    async fn start_busy() -> ServerProcess {
        let exe = app_binary().with_file_name("pulseboard-server");
        assert!(
            exe.exists(),
            "{} missing: build the workspace",
            exe.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut c = Command::new(&exe);
        c.args(["--listen", &format!("127.0.0.1:{port}"), "--token", TOKEN])
            .arg("--db")
            .arg(dir.path().join("s.db"))
            .args(["--kpi-interval-ms", "200"]);
        // Newer servers run the simulator only when asked.
        let help = Command::new(&exe).arg("--help").output().unwrap();
        if String::from_utf8_lossy(&help.stdout).contains("--simulate ") {
            c.arg("--simulate");
        }
        let child = c
            .env_remove("PULSEBOARD_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulseboard-server");
        let url = format!("http://127.0.0.1:{port}");
        let health = format!("{url}/healthz");
        eventually(WAIT, "the server answers", || async {
            reqwest::get(&health)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
        ServerProcess {
            child,
            url,
            _dir: dir,
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig}");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How soon the pill must leave Live after a busy server went away. It
/// used to stay Live about 12 s (until a liveness probe); the app notices
/// in about a second now, and WebDriver polling on a loaded machine adds a
/// few more.
const NOTICED_WITHIN: Duration = Duration::from_secs(8);

/// With a server process pushing KPIs every 200 ms, the pill leaves Live
/// within [`NOTICED_WITHIN`] of `sig` (KILL: killed; TERM: stopped by its
/// operator).
async fn busy_server_goes_away(sig: &str) {
    let _serial = SERIAL.lock().await;
    let srv = ServerProcess::start_busy().await;
    let driver = desktop();
    let c = driver.app(&["--server", &srv.url, "--token", TOKEN]).await;
    pill(&c, "goes live", "Live").await;
    // Live and busy: wait until pushed values are being drawn.
    let before = c
        .try_text_of("[data-testid=last-updated-finance]")
        .await
        .unwrap();
    c.wait_text(
        "[data-testid=last-updated-finance]",
        "a push arrives",
        |t| Some(t.to_string()) != before,
    )
    .await;
    let gone = Instant::now();
    srv.signal(sig);
    eventually(
        NOTICED_WITHIN,
        "the pill leaves Live after the server went away",
        || async {
            let t = c
                .try_text_of("[data-testid=pill]")
                .await?
                .unwrap_or_default();
            (!t.contains("Live")).then_some(()).ok_or(t)
        },
    )
    .await;
    eprintln!("kill {sig}: noticed after {:?}", gone.elapsed());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_busy_server_is_noticed_within_seconds() {
    busy_server_goes_away("-KILL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_busy_server_is_noticed_within_seconds() {
    busy_server_goes_away("-TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_killed_right_after_a_mark_read_shows_it_read_after_a_restart() {
    let sc = Scene::new().await;
    let c = sc.app(TOKEN).await;
    pill(&c, "goes live", "Live").await;
    for t in ["Invoice overdue", "Quota reached"] {
        sc.srv.notify("info", t, "details").await;
    }
    wait_badge(&c, Some("2")).await;
    c.click("[data-testid=nav-notifications]").await;
    c.wait_text("[data-testid=notification-list]", "both listed", |t| {
        t.contains("Invoice overdue") && t.contains("Quota reached")
    })
    .await;
    // The cache as the app wrote it before the mark-read: both unread.
    eventually(WAIT, "the app saved both as unread", || async {
        let n = cached(&sc.driver);
        (n == (2, 0))
            .then_some(())
            .ok_or(format!("(listed, read) in the cache: {n:?}"))
    })
    .await;
    let before: Vec<(PathBuf, Vec<u8>)> = cache_files(&sc.driver)
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    c.click("[data-testid=mark-read]").await;
    // The server has it: kill the app.
    eventually(WAIT, "the server saw the mark-read", || async {
        let n = sc
            .srv
            .http(reqwest::Method::GET, "/api/snapshot", None)
            .await["unreadCount"]
            .clone();
        (n == 1).then_some(()).ok_or(n.to_string())
    })
    .await;
    let pid = sc.driver.app_pid().expect("the app's pid");
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    c.close().await;
    // Killed before its cache was written (~1 s after a change): a slow
    // kill may have let the write through, so put back the cache of before
    // the mark-read. Only the server can now say it was read.
    for p in cache_files(&sc.driver) {
        let _ = std::fs::remove_file(p);
    }
    for (p, b) in &before {
        std::fs::write(p, b).unwrap();
    }
    assert_eq!(
        cached(&sc.driver),
        (2, 0),
        "the cache of before the mark-read"
    );

    restarted_shows_one_read(sc, "e2e-read-after-kill").await;
}

/// First start with no settings and no `--server`: the window opens on the
/// setup over demo data (labelled); "Test connection" answers from Rust
/// (wrong token: refused; right token: connected); saving connects, and the
/// next start goes straight to the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_opens_the_setup_and_tests_the_connection() {
    let mut sc = Scene::new().await;
    let c = sc.driver.app(&[]).await;
    c.wait_text("[data-testid=setup]", "setup shown", |t| {
        t.contains("Connect to your Pulseboard server")
    })
    .await;
    pill(&c, "demo data labelled as such", "Demo data").await;

    c.type_into("[data-testid=setup-server]", &sc.srv.url())
        .await;
    c.type_into("[data-testid=setup-token]", "wrong").await;
    c.click("[data-testid=setup-test]").await;
    c.wait_text("[data-testid=setup-result]", "wrong token", |t| {
        t.contains("refused the token")
    })
    .await;
    c.type_into("[data-testid=setup-token]", TOKEN).await;
    c.click("[data-testid=setup-test]").await;
    c.wait_text("[data-testid=setup-result]", "right token", |t| {
        t.contains("Connected to the Pulseboard server")
    })
    .await;
    sc.driver.shot("e2e-first-run-setup", None);

    c.click("[data-testid=setup-save]").await;
    pill(&c, "live after saving", "Live").await;
    // Hidden when the save's answer is drawn, which may come a frame after
    // the pill's Live: wait for it with a deadline, not read once.
    eventually(WAIT, "the setup is gone once saved", || async {
        match c.try_text_of("[data-testid=setup]").await? {
            None => Ok(()),
            Some(t) => Err(format!("still shown: {t}")),
        }
    })
    .await;
    c.close().await;

    // The saved settings are used on the next start: no setup.
    let c = sc.driver.app(&[]).await;
    pill(&c, "live from saved settings", "Live").await;
    assert_eq!(c.try_text_of("[data-testid=setup]").await.unwrap(), None);
    c.close().await;
    sc.srv.stop().await;
}
