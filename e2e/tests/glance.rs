//! "A window people read at a glance" (issue #15): the real Pulseboard app in
//! its real WebKitGTK webview, driven through tauri-driver + WebKitWebDriver
//! under Xvfb, against a real pulseboard-server on 127.0.0.1, at the sizes
//! people use (800x600, 1280x800, 1920x1080), light and dark, mouse and
//! keyboard. Screenshots go to `test-artifacts/glance-*.png`.
//!
//! Needs what `tests/webview.rs` needs (scripts/test.sh installs it).

use std::time::{Duration, Instant};

use pulseboard_e2e::{eventually, free_port, Desktop, Server, Session, ENTER, TAB, TOKEN, WAIT};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The virtual screen holds the largest window size tested.
const SCREEN: &str = "1920x1080x24";
/// Window sizes people use.
const SIZES: [(u32, u32); 3] = [(800, 600), (1280, 800), (1920, 1080)];

/// One app at a time: each brings an X server and WebKit processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// tauri-driver under its own Xvfb (1920x1080) and D-Bus session, with
/// private XDG dirs; `dark` starts the app with GTK's dark theme, which
/// WebKitGTK turns into `prefers-color-scheme: dark`.
fn desktop(dark: bool) -> Desktop {
    Desktop::start(SCREEN, &["import"], |dirs, tauri| {
        // A stand-in browser: `xdg-open URL` writes the URL to `opened`, so
        // a test sees what the app asked the desktop to open (and no real
        // browser ever starts).
        let bin = dirs.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let opener = bin.join("xdg-open");
        std::fs::write(
            &opener,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                dirs.join("opened").display()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&opener).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&opener, perms).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        tauri.env("PATH", path).env(
            "GTK_THEME",
            if dark {
                "Adwaita:dark"
            } else {
                "Adwaita:light"
            },
        );
    })
}

/// What the app asked the desktop to open, one URL a line.
fn opened(d: &Desktop) -> String {
    std::fs::read_to_string(d.dirs().join("opened")).unwrap_or_default()
}

async fn pill(c: &Session, needle: &str) {
    c.wait_text("[data-testid=pill]", needle, |t| t.contains(needle))
        .await;
}

/// One scenario: the serial lock, a server, a tauri-driver.
struct Scene {
    srv: Server,
    driver: Desktop,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Scene {
    async fn new(dark: bool) -> Scene {
        let serial = SERIAL.lock().await;
        Scene {
            srv: Server::temp().await,
            driver: desktop(dark),
            _serial: serial,
        }
    }

    async fn app(&self, token: &str) -> Session {
        self.driver
            .app(&["--server", &self.srv.url(), "--token", token])
            .await
    }

    /// The app, live, at `w`x`h`.
    async fn live_app(&self, w: u32, h: u32) -> Session {
        let c = self.app(TOKEN).await;
        pill(&c, "Live").await;
        c.size(w, h).await;
        c
    }

    async fn shot(&self, c: &Session, name: &str) {
        c.frames().await;
        self.driver
            .shot(&format!("glance-{name}"), Some(c.rect().await));
    }

    async fn end(mut self, c: Session) {
        c.close().await;
        self.srv.stop().await;
    }
}

/// Page script: boxes of `css` elements (visible ones) that overlap another
/// of the same list, as text (empty: none overlap).
const OVERLAPS: &str = r#"
const boxes = [...document.querySelectorAll(arguments[0])]
  .map((e) => [e, e.getBoundingClientRect()])
  .filter(([, r]) => r.width > 0 && r.height > 0);
const bad = [];
for (let i = 0; i < boxes.length; i++) {
  for (let j = i + 1; j < boxes.length; j++) {
    const [a, r] = boxes[i];
    const [b, s] = boxes[j];
    if (a.contains(b) || b.contains(a)) continue;
    const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
    const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    if (w > 0.5 && h > 0.5) bad.push(`${a.className}:${a.textContent} over ${b.className}:${b.textContent}`);
  }
}
return bad.join('\n');
"#;

/// Page script: per KPI row, its parts overlapping each other or leaving the
/// row, or a value cut (scrollWidth > clientWidth); text (empty: fine).
const ROW_PROBLEMS: &str = r#"
const bad = [];
for (const row of document.querySelectorAll('.kpi-row, .summary-card, .top-card')) {
  const rr = row.getBoundingClientRect();
  if (rr.width === 0) continue;
  const parts = [...row.querySelectorAll(':scope > .kpi-label, :scope > .spark, :scope > .kpi-value, :scope > .delta, :scope > .tile-top > .kpi-label, :scope > .tile-top > .delta')];
  const rects = parts.map((p) => [p, p.getBoundingClientRect()]);
  for (const [p, r] of rects) {
    if (r.width === 0) continue;
    if (r.left < rr.left - 0.5 || r.right > rr.right + 0.5) bad.push(`${row.dataset.key}: ${p.className} leaves its row`);
  }
  for (let i = 0; i < rects.length; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      const [a, r] = rects[i];
      const [b, s] = rects[j];
      if (r.width === 0 || s.width === 0) continue;
      const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
      const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
      if (w > 0.5 && h > 0.5) bad.push(`${row.dataset.key}: ${a.className} "${a.textContent}" overlaps ${b.className} "${b.textContent}"`);
    }
  }
  const v = row.querySelector('.kpi-value');
  if (v && v.scrollWidth > v.clientWidth + 1) bad.push(`${row.dataset.key}: value "${v.textContent}" is cut`);
}
return bad.join('\n');
"#;

/// Each module card has a fixed height (its row count; a layout root, see
/// `.module-card` in app.css): nothing in it may be cut off, and it may not
/// be taller than what it holds.
const CARD_FIT: &str = r#"
const bad = [];
for (const card of document.querySelectorAll('.module-card')) {
  const c = card.getBoundingClientRect();
  const m = card.dataset.module;
  for (const part of card.querySelectorAll('.card-head, .kpi-row, .kpi-empty, .card-foot')) {
    const r = part.getBoundingClientRect();
    if (r.top < c.top - 0.5 || r.bottom > c.bottom + 0.5) bad.push(`${m}: ${part.className} is cut off by its card`);
  }
  const foot = card.querySelector('.card-foot').getBoundingClientRect();
  if (c.bottom - foot.bottom > 2) bad.push(`${m}: ${Math.round(c.bottom - foot.bottom)} px of empty card under its foot`);
  for (const t of card.querySelectorAll('.card-title, .health, .card-foot')) {
    if (t.scrollWidth > t.clientWidth + 1) bad.push(`${m}: "${t.textContent}" is cut`);
  }
}
return bad.join('\n');
"#;

/// Page script: visible rounded boxes that WebKitGTK's software path draws
/// by its slow path: border sides in different colours, or an inset shadow.
/// Together they were a third of a repaint of the whole window, which a
/// window in the background does at each clock tick (BENCHMARKS.md
/// section 3; `:root` in app.css). Text, a line per box (empty: none).
const SLOW_BOXES: &str = r#"
const bad = [];
for (const e of document.querySelectorAll('*')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  const cs = getComputedStyle(e);
  const rounded = ['TopLeft', 'TopRight', 'BottomLeft', 'BottomRight'].some((k) => parseFloat(cs[`border${k}Radius`]) > 0);
  if (!rounded) continue;
  const colours = new Set(['Top', 'Right', 'Bottom', 'Left']
    .filter((s) => parseFloat(cs[`border${s}Width`]) > 0 && cs[`border${s}Style`] !== 'none')
    .map((s) => cs[`border${s}Color`]));
  const what = `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`;
  if (colours.size > 1) bad.push(`${what}: border sides in ${colours.size} colours`);
  if (/inset/.test(cs.boxShadow)) bad.push(`${what}: inset shadow`);
}
return bad.join('\n');
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banner_says_how_many_more_and_dismiss_all_clears_them() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(800, 600).await;
    // Ten alerts at once, seven of them critical; the newest is long, with a
    // URL that has no place to break.
    for i in 1..=6 {
        sc.srv
            .alert("critical", &format!("Disk {i} full"), "Free some space")
            .await;
    }
    sc.srv
        .alert("warning", "Certificate expires soon", "9 days left")
        .await;
    sc.srv
        .alert("warning", "Queue growing", "1,200 jobs waiting")
        .await;
    sc.srv
        .alert("info", "Maintenance tonight", "22:00-23:00")
        .await;
    let url = "https://status.example.com/incidents/2026-11-27/database-primary-failover-in-progress-see-runbook-section-4.2.1-for-the-manual-steps";
    let long_title = format!("Primary database failed over; follow {url}");
    let long_message = "The replica in eu-west-1 was promoted. ".repeat(12);
    sc.srv.alert("critical", &long_title, &long_message).await;

    c.wait_text("[data-testid=alert-more]", "+6 more", |t| t == "+6 more")
        .await;
    let title = c.text_of("#banner-title").await.unwrap_or_default();
    assert!(title.contains("Primary database"), "newest shown: {title}");
    // Bounded at 800x600 and nothing runs past its column.
    let geo = c
        .js(
            r#"const b = document.querySelector('#alert-banner').getBoundingClientRect();
               const body = document.querySelector('.banner-body').getBoundingClientRect();
               const out = [...document.querySelectorAll('.banner-body *')]
                 .filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > body.right + 0.5 || e.scrollWidth > e.clientWidth + 1); })
                 .map((e) => e.id || e.className);
               return {height: b.height, windowHeight: innerHeight, out};"#,
            vec![],
        )
        .await;
    let h = geo["height"].as_f64().unwrap();
    assert!(
        h <= 150.0,
        "banner is at most 150 px of a 600 px window, not {h}: {geo}"
    );
    assert_eq!(
        geo["out"],
        json!([]),
        "nothing runs past the banner's column"
    );
    assert_eq!(
        c.text_of("[data-testid=alerts-badge]").await.as_deref(),
        Some("10"),
        "every alert is open"
    );
    sc.shot(&c, "banner-800x600").await;

    c.click("[data-testid=alert-dismiss-all]").await;
    c.wait_js(
        "banner gone",
        "return document.querySelector('[data-testid=alert-banner]').hidden",
    )
    .await;
    c.wait_text("[data-testid=alerts-badge]", "3 left open", |t| t == "3")
        .await;
    // Kept by Rust, not by the page: a reloaded page asks Rust again.
    c.js("location.reload(); return true;", vec![]).await;
    c.wait_js(
        "page reloaded and state from Rust",
        "return !!(window.__pulseboardStats && window.__pulseboardStats.startup.state > 0)",
    )
    .await;
    c.frames().await;
    assert_eq!(
        c.js(
            "return document.querySelector('[data-testid=alert-banner]').hidden",
            vec![]
        )
        .await,
        json!(true),
        "dismissed alerts stay dismissed"
    );
    assert_eq!(
        c.text_of("[data-testid=alerts-badge]").await.as_deref(),
        Some("3")
    );
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_view_lists_every_severity_with_time_and_acknowledgement() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    let crit = sc.srv.alert("critical", "Disk full", "/var at 100%").await;
    sc.srv
        .alert("warning", "Certificate expires soon", "9 days left")
        .await;
    sc.srv
        .alert("info", "Maintenance tonight", "22:00-23:00")
        .await;
    c.click("[data-testid=nav-alerts]").await;
    c.wait_js(
        "three alerts listed",
        "return document.querySelectorAll('[data-testid=alert-item]').length === 3",
    )
    .await;
    let items = c
        .js(
            "return [...document.querySelectorAll('[data-testid=alert-item]')].map((li) => ({sev: li.dataset.severity, ack: li.dataset.acknowledged, text: li.innerText}))",
            vec![],
        )
        .await;
    let sevs: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sev"].as_str().unwrap())
        .collect();
    assert_eq!(sevs, ["info", "warning", "critical"], "newest first");
    let hm = chrono::DateTime::parse_from_rfc3339(crit["createdAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Local)
        .format("%H:%M")
        .to_string();
    let crit_text = items[2]["text"].as_str().unwrap();
    assert!(
        crit_text.to_lowercase().contains("critical")
            && crit_text.contains(&hm)
            && crit_text.contains("Open"),
        "severity, time and state: {crit_text}"
    );
    sc.shot(&c, "alerts-view").await;

    // Acknowledge the warning: it says so, the others stay open.
    c.click("[data-testid=alert-item][data-severity=warning] [data-testid=alert-ack]")
        .await;
    c.wait_js("warning acknowledged",
        "const li = document.querySelector('[data-testid=alert-item][data-severity=warning]'); return li.dataset.acknowledged === 'true' && li.innerText.includes('Acknowledged');",
    )
    .await;
    c.wait_text("[data-testid=alerts-badge]", "2 open", |t| t == "2")
        .await;
    // Filter by severity.
    c.choose("[data-testid=alert-filter]", "critical").await;
    c.wait_js("only critical",
        "const l = [...document.querySelectorAll('[data-testid=alert-item]')]; return l.length === 1 && l[0].dataset.severity === 'critical';",
    )
    .await;
    c.choose("[data-testid=alert-filter]", "all").await;
    // Acknowledge all: nothing open, no banner.
    c.click("[data-testid=alert-ack-all]").await;
    c.wait_js("all acknowledged",
        "return [...document.querySelectorAll('[data-testid=alert-item]')].every((li) => li.dataset.acknowledged === 'true') && document.querySelector('[data-testid=alerts-badge]').hidden && document.querySelector('[data-testid=alert-banner]').hidden",
    )
    .await;
    // The history and what was acknowledged survive a restart of the app
    // (once the debounced cache write has them).
    let cache = sc.driver.dirs().join("cache/pulseboard/state.json");
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&cache)
        .unwrap_or_default()
        .contains(r#""acknowledgedAlerts":["a-1","a-2","a-3"]"#)
    {
        assert!(Instant::now() < deadline, "acknowledgements never cached");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await;
    let c = sc.app(TOKEN).await;
    pill(&c, "Live").await;
    c.click("[data-testid=nav-alerts]").await;
    c.wait_js("history back after a restart, all acknowledged",
        "const l = [...document.querySelectorAll('[data-testid=alert-item]')]; return l.length === 3 && l.every((li) => li.dataset.acknowledged === 'true') && document.querySelector('[data-testid=alert-banner]').hidden",
    )
    .await;
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_tiny_and_negative_kpis_are_drawn_without_overlap() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    sc.srv
        .kpis(
            "finance",
            json!([
                {"key": "revenue", "label": "Revenue", "value": 98765432110.0, "unit": "USD", "delta": 1234.5, "better": "up"},
                {"key": "latency", "label": "Ledger write latency", "value": 0.000123, "unit": "ms", "delta": 0.0042, "better": "down"},
                {"key": "cash_flow", "label": "Cash flow", "value": -4200.5, "unit": "USD", "delta": -12.3, "better": "up"},
                {"key": "margin", "label": "Margin drift", "value": 0.0042, "unit": "%", "delta": -0.01},
                {"key": "gen", "label": "Average report generation time per region", "value": 4, "unit": "s", "delta": 1.0},
                {"key": "gen2", "label": "Slowest region", "value": 4.1, "unit": "s", "delta": 1.0}
            ]),
        )
        .await;
    let eight: Vec<Value> = (1..=8)
        .map(|i| json!({"key": format!("k{i}"), "label": format!("People metric {i}"), "value": i * 100, "delta": 1.5}))
        .collect();
    sc.srv.kpis("hr", Value::Array(eight)).await;
    sc.srv
        .kpis(
            "security",
            json!([{"key": "threats", "label": "Threats blocked", "value": 15230, "delta": -0.3}]),
        )
        .await;
    c.wait_text("[data-testid=kpi-finance-revenue]", "compact", |t| {
        t == "$98.8B"
    })
    .await;
    // One card changing on its own (after the others are drawn): the cards
    // are layout roots with fixed heights then (app.css), which CARD_FIT
    // below checks.
    c.wait_text("[data-testid=kpi-hr-k8]", "800", |t| t == "800")
        .await;
    c.wait_text("[data-testid=kpi-security-threats]", "15,230", |t| {
        t == "15,230"
    })
    .await;
    sc.srv
        .kpis(
            "security",
            json!([{"key": "threats", "label": "Threats blocked", "value": 15231, "delta": -0.3}]),
        )
        .await;
    c.wait_text("[data-testid=kpi-security-threats]", "15,231", |t| {
        t == "15,231"
    })
    .await;
    let one = c
        .js(
            "return document.querySelector('.module-grid').classList.contains('many')",
            vec![],
        )
        .await;
    assert_eq!(
        one,
        json!(false),
        "one card changed: the cards are layout roots"
    );
    let full = c
        .js(
            "return document.querySelector('[data-testid=kpi-finance-revenue]').title",
            vec![],
        )
        .await;
    assert_eq!(
        full,
        json!("$98,765,432,110"),
        "the full value in the tooltip"
    );
    for (key, want) in [
        ("latency", "0.00012 ms"),
        ("cash_flow", "-$4,201"),
        ("margin", "0.0042%"),
        ("gen", "4.0 s"),
        ("gen2", "4.1 s"),
    ] {
        let t = c
            .text_of(&format!("[data-testid=kpi-finance-{key}]"))
            .await
            .unwrap_or_default();
        assert_eq!(t, want, "{key}");
    }
    let chip = c
        .text_of(".kpi-row[data-key=margin] .delta")
        .await
        .unwrap_or_default();
    assert_eq!(chip, "▼ 0.010%", "a small real change is not 0.0%");

    for (w, h) in SIZES {
        c.size(w, h).await;
        let problems = c.js(ROW_PROBLEMS, vec![]).await;
        assert_eq!(problems, json!(""), "at {w}x{h}");
        let cards = c.js(OVERLAPS, vec![json!(".module-card")]).await;
        assert_eq!(cards, json!(""), "cards overlap at {w}x{h}");
        let fit = c.js(CARD_FIT, vec![]).await;
        assert_eq!(fit, json!(""), "at {w}x{h}");
        // Eight KPIs make their own card tall, not their neighbour.
        let heights = c
            .js(
                "const h = (m) => document.querySelector(`[data-testid=module-card-${m}]`).getBoundingClientRect().height; return [h('hr'), h('security')];",
                vec![],
            )
            .await;
        let (hr, sec) = (heights[0].as_f64().unwrap(), heights[1].as_f64().unwrap());
        assert!(
            sec < hr - 100.0,
            "security ({sec} px) is not stretched to hr ({hr} px) at {w}x{h}"
        );
        sc.shot(&c, &format!("numbers-{w}x{h}")).await;
    }
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_colours_follow_the_direction_that_is_good() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    sc.srv
        .kpis(
            "hr",
            json!([
                {"key": "attrition", "label": "Attrition", "value": 7.9, "unit": "%", "delta": 4.0, "better": "down"},
                {"key": "headcount", "label": "Headcount", "value": 412, "delta": 2.5}
            ]),
        )
        .await;
    sc.srv
        .kpis(
            "finance",
            json!([{"key": "expenses", "label": "Expenses", "value": 830000, "unit": "USD", "delta": -0.3, "better": "down"},
                   {"key": "revenue", "label": "Revenue", "value": 1250000, "unit": "USD", "delta": -6.1, "better": "up"}]),
        )
        .await;
    sc.srv
        .kpis(
            "security",
            json!([{"key": "vulns", "label": "Vulnerabilities", "value": 11, "delta": 0, "better": "down"}]),
        )
        .await;
    c.wait_text("[data-testid=kpi-security-vulns]", "11", |t| t == "11")
        .await;
    sc.srv
        .kpis(
            "security",
            json!([{"key": "vulns", "label": "Vulnerabilities", "value": 20, "delta": 0, "better": "down"}]),
        )
        .await;
    c.wait_text("[data-testid=kpi-security-vulns]", "20", |t| t == "20")
        .await;
    let colours = c
        .js(
            r#"const probe = (v) => { const s = document.createElement('span'); s.style.color = `var(${v})`; document.body.append(s); const c = getComputedStyle(s).color; s.remove(); return c; };
               const chip = (m, k) => { const d = document.querySelector(`[data-testid=module-card-${m}] .kpi-row[data-key=${k}] .delta`); return {color: getComputedStyle(d).color, text: d.textContent, label: d.getAttribute('aria-label') || ''}; };
               return {good: probe('--up'), bad: probe('--down'), neutral: probe('--flat'),
                       attrition: chip('hr', 'attrition'), headcount: chip('hr', 'headcount'),
                       expenses: chip('finance', 'expenses'), revenue: chip('finance', 'revenue'), vulns: chip('security', 'vulns')};"#,
            vec![],
        )
        .await;
    assert_ne!(colours["good"], colours["bad"]);
    assert_eq!(
        colours["attrition"]["color"], colours["bad"],
        "attrition up is bad news: {colours}"
    );
    assert_eq!(
        colours["expenses"]["color"], colours["good"],
        "expenses down is good news: {colours}"
    );
    assert_eq!(colours["revenue"]["color"], colours["bad"], "revenue down");
    assert_eq!(
        colours["headcount"]["color"], colours["neutral"],
        "no direction given: neither: {colours}"
    );
    // 11 -> 20 with a stale zero delta is a real change, and says against what.
    let v = &colours["vulns"];
    assert!(
        v["text"].as_str().unwrap().starts_with('▲')
            && !v["text"].as_str().unwrap().contains(" 0%"),
        "{v}"
    );
    assert_eq!(v["color"], colours["bad"], "more vulnerabilities is bad");
    assert!(
        v["label"].as_str().unwrap().contains("vs previous"),
        "the chip says what it compares against: {v}"
    );
    assert!(
        colours["attrition"]["label"]
            .as_str()
            .unwrap()
            .contains("vs previous period"),
        "{colours}"
    );
    sc.shot(&c, "colours").await;
    sc.end(c).await;
}

/// Page script: what has focus, whether a person can see it.
const FOCUS: &str = r#"
const e = document.activeElement;
if (!e || e === document.body || e === document.documentElement) return {lost: true};
const r = e.getBoundingClientRect();
const cs = getComputedStyle(e);
const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
return {lost: false, id: e.id, testid: e.dataset.testid || '', cls: String(e.className), tag: e.tagName,
        key: e.dataset.key || '', ring, onScreen, w: r.width, h: r.height};
"#;

/// Press Tab from the top of the page until focus comes back around; every
/// stop must be a visible control with a visible focus ring. Returns the stops.
async fn tab_walk(c: &Session, page: &str) -> Vec<Value> {
    c.js(
        "document.activeElement && document.activeElement.blur(); return true;",
        vec![],
    )
    .await;
    let mut seen: Vec<Value> = Vec::new();
    let mut first: Option<Value> = None;
    for step in 0..150 {
        c.keys(&[TAB]).await;
        let f = c.js(FOCUS, vec![]).await;
        assert_eq!(
            f["lost"],
            json!(false),
            "{page}, Tab {step}: focus lost after {seen:?}"
        );
        assert_eq!(
            f["onScreen"],
            json!(true),
            "{page}, Tab {step}: focus off screen: {f}"
        );
        assert_eq!(
            f["ring"],
            json!(true),
            "{page}, Tab {step}: no visible focus: {f}"
        );
        let id = json!([f["id"], f["key"], f["cls"]]);
        if first.as_ref() == Some(&id) {
            return seen;
        }
        if first.is_none() {
            first = Some(id);
        }
        seen.push(f);
    }
    panic!("{page}: focus never came back around: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_alone_reaches_every_control_with_focus_always_visible() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    sc.srv
        .kpis(
            "finance",
            json!([{"key": "gen", "label": "Average report generation time per region and quarter", "value": 4.1, "unit": "s"}]),
        )
        .await;
    for i in 1..=3 {
        sc.srv.notify("info", &format!("Note {i}"), "body").await;
    }
    sc.srv.alert("critical", "Disk full", "/var at 100%").await;
    c.wait_text("[data-testid=unread-badge]", "3 unread", |t| t == "3")
        .await;

    // Tab around the whole Overview: every stop is a visible control with a
    // focus ring, until focus comes back to where it started.
    let seen = tab_walk(&c, "Overview").await;
    let has = |pred: &dyn Fn(&Value) -> bool| seen.iter().any(pred);
    for nav in [
        "nav-home",
        "nav-dashboard",
        "nav-alerts",
        "nav-notifications",
        "nav-settings",
        "pill",
        "alert-dismiss",
    ] {
        assert!(has(&|f| f["testid"] == nav), "{nav} reachable: {seen:?}");
    }
    let row = seen
        .iter()
        .find(|f| f["key"] == "gen")
        .unwrap_or_else(|| panic!("the KPI row is reachable: {seen:?}"));
    assert!(row["cls"].as_str().unwrap().contains("kpi-row"));
    // Focused, the cut name shows whole (the keyboard's tooltip).
    c.js(
        "document.querySelector('.kpi-row[data-key=gen]').focus(); return true;",
        vec![],
    )
    .await;
    c.frames().await;
    let whole = c
        .js(
            "const t = document.querySelector('.kpi-row[data-key=gen] .kpi-label-text'); return t.scrollWidth <= t.clientWidth + 1 && t.getBoundingClientRect().height > 0;",
            vec![],
        )
        .await;
    assert_eq!(whole, json!(true), "the whole name shows on focus");
    sc.shot(&c, "keyboard-kpi-focus").await;

    // Every other view, walked the same way, reaches its own controls.
    for (view, wanted) in [
        ("dashboard", vec!["kpi-dashboard"]),
        ("alerts", vec!["alert-filter", "alert-ack-all", "alert-ack"]),
        (
            "notifications",
            vec![
                "notification-filter",
                "notification-search",
                "mark-all-read",
                "mark-read",
            ],
        ),
        (
            "settings",
            vec!["set-server", "set-token", "settings-save", "reconnect"],
        ),
    ] {
        c.click(&format!("[data-testid=nav-{view}]")).await;
        c.frames().await;
        let stops = tab_walk(&c, view).await;
        for w in wanted {
            assert!(
                stops.iter().any(|f| f["testid"] == w
                    || f["id"] == w
                    || f["cls"].as_str().is_some_and(|cl| cl.contains("card"))
                        && w == "kpi-dashboard"),
                "{view}: {w} reachable by Tab: {stops:?}"
            );
        }
    }
    c.click("[data-testid=nav-home]").await;
    c.frames().await;

    // Dismiss the banner with Enter: focus goes somewhere visible.
    c.js(
        "document.querySelector('[data-testid=alert-dismiss]').focus(); return true;",
        vec![],
    )
    .await;
    c.keys(&[ENTER]).await;
    c.wait_js(
        "banner gone",
        "return document.querySelector('[data-testid=alert-banner]').hidden",
    )
    .await;
    c.frames().await;
    let f = c.js(FOCUS, vec![]).await;
    assert!(
        f["lost"] == json!(false) && f["onScreen"] == json!(true) && f["ring"] == json!(true),
        "after Dismiss: {f}"
    );

    // Notifications by keyboard: "Mark all read" with Enter keeps focus.
    c.js(
        "document.querySelector('[data-testid=nav-notifications]').focus(); return true;",
        vec![],
    )
    .await;
    c.keys(&[ENTER]).await;
    c.wait_js(
        "notifications shown",
        "return !document.querySelector('#view-notifications').hidden",
    )
    .await;
    let mut found = false;
    for _ in 0..40 {
        c.keys(&[TAB]).await;
        let f = c.js(FOCUS, vec![]).await;
        assert_eq!(f["lost"], json!(false));
        if f["testid"] == "mark-all-read" {
            found = true;
            break;
        }
    }
    assert!(found, "Mark all read is reachable by Tab");
    c.keys(&[ENTER]).await;
    c.wait_js(
        "all read",
        "return document.querySelector('[data-testid=unread-badge]').hidden",
    )
    .await;
    c.frames().await;
    let f = c.js(FOCUS, vec![]).await;
    assert!(
        f["lost"] == json!(false) && f["onScreen"] == json!(true) && f["ring"] == json!(true),
        "after Mark all read: {f}"
    );
    c.keys(&[TAB]).await;
    let f = c.js(FOCUS, vec![]).await;
    assert!(
        f["lost"] == json!(false) && f["onScreen"] == json!(true),
        "Tab after Mark all read finds a control: {f}"
    );
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_filter_search_and_read_at_a_glance() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    sc.srv
        .notify("info", "Payroll approved", "All 412 payslips sent.")
        .await;
    sc.srv
        .notify("warning", "Disk almost full", "Volume /data at 91%")
        .await;
    sc.srv
        .notify("error", "Card payments failing", "14 failures in 5 minutes")
        .await;
    sc.srv
        .notify("warning", "Queue growing", "1,200 jobs waiting")
        .await;
    sc.srv
        .notify(
            "info",
            "דוח חודשי מוכן",
            "הדוח החודשי של מחלקת הכספים מוכן לצפייה.",
        )
        .await;
    let long = "The nightly export of the finance ledger took longer than usual because ".repeat(7);
    sc.srv.notify("info", "Export slow", &long).await;
    for i in 1..=30 {
        sc.srv
            .notify("success", &format!("Report {i} ready"), "ok")
            .await;
    }
    c.click("[data-testid=nav-notifications]").await;
    c.wait_js(
        "all listed",
        "return document.querySelectorAll('[data-testid=notification-item]').length === 36",
    )
    .await;

    // Long bodies are clamped, with the whole text one click away.
    let clamp = c
        .js(
            "const li = [...document.querySelectorAll('[data-testid=notification-item]')].find((l) => l.textContent.includes('Export slow')); li.scrollIntoView({block: 'center'}); return {h: li.getBoundingClientRect().height, more: !!li.querySelector('[data-testid=notification-more]')};",
            vec![],
        )
        .await;
    assert!(clamp["h"].as_f64().unwrap() < 150.0, "clamped: {clamp}");
    assert_eq!(clamp["more"], json!(true));
    c.js(
        "const li = [...document.querySelectorAll('[data-testid=notification-item]')].find((l) => l.textContent.includes('Export slow')); li.scrollIntoView({block: 'center'}); li.querySelector('[data-testid=notification-more]').click(); return true;",
        vec![],
    )
    .await;
    let open = c
        .js(
            "const li = [...document.querySelectorAll('[data-testid=notification-item]')].find((l) => l.textContent.includes('Export slow')); li.scrollIntoView({block: 'center'}); return li.getBoundingClientRect().height;",
            vec![],
        )
        .await;
    assert!(
        open.as_f64().unwrap() > clamp["h"].as_f64().unwrap() + 20.0,
        "Show more opens the whole text"
    );
    // Right-to-left text reads right to left.
    let dir = c
        .js(
            "const li = [...document.querySelectorAll('[data-testid=notification-item]')].find((l) => l.textContent.includes('דוח')); li.scrollIntoView({block: 'center'}); return getComputedStyle(li.querySelector('.n-text')).direction;",
            vec![],
        )
        .await;
    assert_eq!(dir, json!("rtl"));

    // Severity filter.
    c.choose("[data-testid=notification-filter]", "warning")
        .await;
    let titles = c
        .js(
            "return [...document.querySelectorAll('[data-testid=notification-item]')].map((l) => l.querySelector('.n-title').textContent)",
            vec![],
        )
        .await;
    assert_eq!(titles, json!(["Queue growing", "Disk almost full"]));
    // Search (with the filter back to all): title, body.
    c.choose("[data-testid=notification-filter]", "all").await;
    c.type_into("[data-testid=notification-search]", "DISK")
        .await;
    c.frames().await;
    let titles = c
        .js(
            "return [...document.querySelectorAll('[data-testid=notification-item]')].map((l) => l.querySelector('.n-title').textContent)",
            vec![],
        )
        .await;
    assert_eq!(titles, json!(["Disk almost full"]));
    let summary = c
        .text_of("[data-testid=notification-summary]")
        .await
        .unwrap_or_default();
    assert!(summary.contains("1 match"), "{summary}");
    c.type_into("[data-testid=notification-search]", "payments failing")
        .await;
    c.frames().await;
    assert_eq!(
        c.js(
            "return document.querySelectorAll('[data-testid=notification-item]').length",
            vec![]
        )
        .await,
        json!(1)
    );
    c.type_into("[data-testid=notification-search]", "nothing like this")
        .await;
    c.wait_js(
        "no match said",
        "return !document.querySelector('[data-testid=notification-nomatch]').hidden",
    )
    .await;
    c.type_into("[data-testid=notification-search]", "").await;
    c.frames().await;

    // "Mark read" does not scroll the list; read titles keep their weight;
    // the count and "Mark all read" stay in view.
    let before = c
        .js(
            "const content = document.querySelector('#content'); const b = document.querySelectorAll('[data-testid=mark-read]')[15]; b.scrollIntoView({block: 'center'}); return [content.scrollTop, b.closest('li').querySelector('.n-title').textContent];",
            vec![],
        )
        .await;
    let top = before[0].as_f64().unwrap();
    assert!(top > 100.0, "the list scrolled: {before}");
    c.js(
        "const b = document.querySelectorAll('[data-testid=mark-read]')[15]; b.focus({preventScroll: true}); b.click(); return true;",
        vec![],
    )
    .await;
    c.wait_js("marked read",
        "return document.querySelectorAll('[data-testid=notification-item][data-read=true]').length === 1",
    )
    .await;
    c.frames().await;
    c.frames().await;
    let after = c
        .js(
            r#"const content = document.querySelector('#content');
               const read = document.querySelector('[data-testid=notification-item][data-read=true] .n-title');
               const unread = document.querySelector('[data-testid=notification-item][data-read=false] .n-title');
               const head = document.querySelector('#mark-all-read').getBoundingClientRect();
               const c = content.getBoundingClientRect();
               return [content.scrollTop, getComputedStyle(read).fontWeight, getComputedStyle(unread).fontWeight, head.top >= c.top - 1 && head.bottom <= c.bottom];"#,
            vec![],
        )
        .await;
    let moved = (after[0].as_f64().unwrap() - top).abs();
    assert!(moved <= 2.0, "Mark read scrolled the list by {moved} px");
    assert_eq!(after[1], after[2], "read titles keep their weight");
    assert_eq!(after[3], json!(true), "Mark all read stays in view");
    sc.shot(&c, "notifications").await;
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pill_leads_to_settings_and_a_bare_server_url_keeps_the_token() {
    let sc = Scene::new(false).await;
    let c = sc.app("wrong").await;
    pill(&c, "Unauthorized").await;
    c.size(800, 600).await;
    c.click("[data-testid=pill]").await;
    c.wait_js("settings shown, token field focused",
        "return !document.querySelector('#view-settings').hidden && document.activeElement.id === 'set-token'",
    )
    .await;
    // Save is reachable at 800x600.
    let save = c
        .js(
            "const r = document.querySelector('[data-testid=settings-save]').getBoundingClientRect(); return r.bottom <= innerHeight && r.top >= 0;",
            vec![],
        )
        .await;
    assert_eq!(save, json!(true), "Save is on screen at 800x600");
    // Card titles sit inside their card; the sidebar footer is one line.
    let layout = c
        .js(
            r#"const out = [...document.querySelectorAll('.form-card')].filter((card) => {
                 const r = card.getBoundingClientRect();
                 const t = card.querySelector('.form-card-title').getBoundingClientRect();
                 return t.top < r.top + 1 || t.left < r.left || t.right > r.right;
               }).length;
               const foot = document.querySelector('[data-testid=server-info]');
               const cs = getComputedStyle(foot);
               const lh = parseFloat(cs.lineHeight) || 18;
               const h = foot.getBoundingClientRect().height - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
               return {titlesOutside: out, footLines: Math.round(h / lh)};"#,
            vec![],
        )
        .await;
    assert_eq!(layout["titlesOutside"], json!(0), "{layout}");
    assert!(layout["footLines"].as_i64().unwrap() <= 1, "{layout}");
    sc.shot(&c, "settings-800x600").await;
    // The server without its scheme, and the right token, in one save.
    let bare = sc.srv.url().trim_start_matches("http://").to_string();
    c.type_into("#set-server", &bare).await;
    c.type_into("#set-token", TOKEN).await;
    c.click("[data-testid=settings-save]").await;
    c.wait_text("[data-testid=settings-status]", "saved", |t| t == "Saved.")
        .await;
    let server = c
        .js("return document.querySelector('#set-server').value", vec![])
        .await;
    assert_eq!(server, json!(sc.srv.url()), "the scheme was added");
    // The token typed in the same save was kept: the app connects with it.
    pill(&c, "Live").await;
    let text = c
        .text_of("[data-testid=settings-status]")
        .await
        .unwrap_or_default();
    assert!(!text.contains('`'), "no literal backticks: {text}");
    sc.end(c).await;
}

/// A view left behind leaves nothing on the screen: after Overview, the
/// Alerts view (empty) shows plain background where the cards were, read from
/// the X screen's pixels, which is what a person sees (WebDriver's own
/// screenshot renders the page afresh and would not show stale pixels). The
/// cards' outer shadow used to stay behind as a 1 px line under each card of
/// the last row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_view_leaves_no_line_behind() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    c.wait_js(
        "four module cards with their KPIs",
        "return document.querySelectorAll('.module-card .kpi-row').length >= 4",
    )
    .await;
    c.frames().await;
    // The last row of cards (page px): left, right and bottom of each.
    let cards = c
        .js(
            "const r = [...document.querySelectorAll('.module-card')].map((e) => e.getBoundingClientRect()); \
             const bottom = Math.max(...r.map((b) => b.bottom)); \
             return r.filter((b) => b.bottom > bottom - 1).map((b) => [Math.round(b.left), Math.round(b.right), Math.round(b.bottom)])",
            vec![],
        )
        .await;
    let cards: Vec<(i64, i64, i64)> = cards
        .as_array()
        .expect("card boxes")
        .iter()
        .map(|b| {
            (
                b[0].as_i64().unwrap(),
                b[1].as_i64().unwrap(),
                b[2].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(!cards.is_empty(), "no card on the page");
    let (wx, wy, _, wh) = c.rect().await;
    assert!(
        cards.iter().all(|&(_, _, b)| b + 4 < wh),
        "cards below the window: {cards:?}"
    );
    c.click("[data-testid=nav-alerts]").await;
    c.wait_text("[data-testid=alert-summary]", "the Alerts view", |t| {
        t == "No alerts"
    })
    .await;
    c.frames().await;
    // From 2 px above each card's old bottom edge to 3 px below it, inside
    // its rounded corners: one colour, the background. Waits for the repaint
    // (until then the card's own border is there, not one colour).
    let (xvfb, cards) = (&sc.driver.xvfb, &cards);
    eventually(
        WAIT,
        "plain background where the cards were",
        || async move {
            for &(l, r, b) in cards {
                let px = xvfb.pixels(wx + l + 12, wy + b - 2, r - l - 24, 5)?;
                let first = px[0];
                if let Some(p) = px.iter().find(|p| **p != first) {
                    return Err(format!(
                        "under the card at x {l}..{r}, bottom {b}: {first:?} and {p:?}"
                    ));
                }
            }
            Ok(())
        },
    )
    .await;
    sc.shot(&c, "alerts-after-overview").await;
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_data_looks_stale() {
    let mut sc = Scene::new(false).await;
    sc.srv
        .kpis(
            "hr",
            json!([{"key": "headcount", "label": "Headcount", "value": 5150}]),
        )
        .await;
    let c = sc.live_app(1280, 800).await;
    c.wait_text("[data-testid=kpi-hr-headcount]", "value", |t| t == "5,150")
        .await;
    let live = c
        .text_of("[data-testid=module-card-hr] .health")
        .await
        .unwrap_or_default();
    assert_eq!(live, "Healthy");
    sc.srv.stop().await;
    pill(&c, "Offline").await;
    let health = c
        .wait_text("[data-testid=module-card-hr] .health", "as of", |t| {
            t.contains("as of")
        })
        .await;
    assert!(health.starts_with("Healthy as of "), "{health}");
    let dim = c
        .js(
            "return [getComputedStyle(document.querySelector('[data-testid=kpi-hr-headcount]')).opacity, document.querySelector('[data-testid=module-card-hr]').classList.contains('is-stale')]",
            vec![],
        )
        .await;
    assert!(
        dim[0].as_str().unwrap().parse::<f64>().unwrap() < 1.0 && dim[1] == json!(true),
        "values are dimmed: {dim}"
    );
    let ago = c
        .text_of("[data-testid=updated-ago-hr]")
        .await
        .unwrap_or_default();
    assert!(ago.contains("ago") || ago.contains("just now"), "{ago}");
    sc.shot(&c, "offline-stale").await;
    c.close().await;
}

/// Every view at the three sizes, light then dark.
async fn screenshots(dark: bool) {
    let sc = Scene::new(dark).await;
    let theme = if dark { "dark" } else { "light" };
    sc.srv
        .kpis(
            "finance",
            json!([
                {"key": "revenue", "label": "Revenue", "value": 98765432110.0, "unit": "USD", "delta": 12.5, "better": "up"},
                {"key": "expenses", "label": "Expenses", "value": 830000, "unit": "USD", "delta": -0.3, "better": "down"},
                {"key": "margin", "label": "Profit margin", "value": 33.6, "unit": "%", "delta": 3.7, "better": "up"},
                {"key": "latency", "label": "Ledger write latency", "value": 0.000123, "unit": "ms", "delta": 0.0042, "better": "down"}
            ]),
        )
        .await;
    sc.srv
        .kpis(
            "hr",
            json!([
                {"key": "headcount", "label": "Headcount", "value": 412, "delta": 2.5, "better": "up"},
                {"key": "attrition", "label": "Attrition", "value": 7.9, "unit": "%", "delta": 4.0, "better": "down", "status": "warning"}
            ]),
        )
        .await;
    sc.srv
        .kpis(
            "reports",
            json!([{"key": "generated", "label": "Reports generated", "value": 1284, "delta": 1.3, "better": "up"},
                   {"key": "avg", "label": "Average generation time", "value": 4, "unit": "s", "delta": -2.0, "better": "down"}]),
        )
        .await;
    sc.srv
        .kpis(
            "security",
            json!([{"key": "incidents", "label": "Open incidents", "value": 3, "delta": 50.0, "better": "down", "status": "critical"}]),
        )
        .await;
    for i in 1..=3 {
        sc.srv
            .notify("warning", &format!("Disk {i} almost full"), "Volume at 91%")
            .await;
    }
    let c = sc.live_app(1280, 800).await;
    // Alerts go to connected clients only: sent once the app is live.
    sc.srv
        .alert(
            "info",
            "Maintenance tonight 22:00-23:00",
            "The reporting service restarts once.",
        )
        .await;
    sc.srv
        .alert("warning", "Certificate expires soon", "9 days left")
        .await;
    sc.srv
        .alert("critical", "Disk full on db-1", "/var at 100%")
        .await;
    sc.srv
        .alert(
            "critical",
            "Primary database failed over",
            "The replica was promoted.",
        )
        .await;
    c.wait_text("[data-testid=alert-more]", "+1 more", |t| t == "+1 more")
        .await;
    for (w, h) in SIZES {
        c.size(w, h).await;
        if w >= 1280 {
            // At the default size and up, no KPI name is cut.
            let cut = c
                .js(
                    "return [...document.querySelectorAll('.kpi-label-text')].filter((t) => t.scrollWidth > t.clientWidth + 1).map((t) => t.textContent)",
                    vec![],
                )
                .await;
            assert_eq!(cut, json!([]), "names cut at {w}x{h}");
        }
        for view in ["home", "dashboard", "alerts", "notifications", "settings"] {
            c.click(&format!("[data-testid=nav-{view}]")).await;
            c.frames().await;
            sc.shot(&c, &format!("{theme}-{w}x{h}-{view}")).await;
            let slow = c.js(SLOW_BOXES, vec![]).await;
            assert_eq!(
                slow,
                json!(""),
                "{theme} {view} at {w}x{h}: boxes drawn by the slow path"
            );
        }
        c.click("[data-testid=nav-home]").await;
    }
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_light_at_three_sizes() {
    screenshots(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_dark_at_three_sizes() {
    screenshots(true).await;
}

/// A plain HTTP server on 127.0.0.1:0 that answers 404 to everything: an
/// address that is not a Pulseboard server.
async fn not_pulseboard() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found")
                    .await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_say_why_the_connection_fails() {
    let sc = Scene::new(false).await;
    let nothing = format!("http://127.0.0.1:{}", free_port());
    let c = sc
        .driver
        .app(&["--server", &nothing, "--token", "wrong"])
        .await;
    // Right after start the page's script may not have bound its buttons
    // yet (no pill state to wait for: it starts and stays off Live), so click
    // until the click takes effect.
    c.wait_js(
        "Settings opened by its navigation button",
        "document.querySelector('[data-testid=nav-settings]').click(); \
         return !document.querySelector('#view-settings').hidden;",
    )
    .await;
    let why = |needle: &'static str| {
        let c = &c;
        async move {
            c.wait_text("[data-testid=connection-diagnosis]", needle, |t| {
                t.contains(needle)
            })
            .await
        }
    };
    let t = why("Nothing listens").await;
    assert!(!t.contains("EngineIO") && !t.contains('`'), "{t}");
    sc.shot(&c, "why-nothing-listens").await;

    // Another address: something answers, but not Pulseboard.
    let other = not_pulseboard().await;
    c.type_into("#set-server", &other).await;
    c.click("[data-testid=settings-save]").await;
    let t = why("not a Pulseboard server").await;
    assert!(t.contains("404"), "{t}");

    // The real server with the wrong token.
    c.type_into("#set-server", &sc.srv.url()).await;
    c.click("[data-testid=settings-save]").await;
    pill(&c, "Unauthorized").await;
    why("refused the token").await;
    sc.shot(&c, "why-token").await;
    sc.end(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kpi_opens_its_detail_with_the_history_the_window_has() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    for v in [10, 20, 15] {
        sc.srv
            .kpis(
                "reports",
                json!([{"key": "queue", "label": "Queued reports", "value": v, "delta": 1.0, "better": "down"}]),
            )
            .await;
        c.wait_text("[data-testid=kpi-reports-queue]", "value", |t| {
            t == v.to_string()
        })
        .await;
    }
    // By keyboard: focus the row, Enter.
    c.js(
        "document.querySelector('.kpi-row[data-key=queue]').focus(); return true;",
        vec![],
    )
    .await;
    c.keys(&[ENTER]).await;
    c.wait_js("detail open",
        "return !document.querySelector('[data-testid=kpi-detail]').hidden && document.activeElement.id === 'detail-chart'",
    )
    .await;
    assert_eq!(
        c.text_of("[data-testid=detail-value]").await.as_deref(),
        Some("15")
    );
    let span = c
        .text_of("[data-testid=detail-span]")
        .await
        .unwrap_or_default();
    assert!(
        span.starts_with("The last 3 values"),
        "honest about its span: {span}"
    );
    assert_eq!(c.text_of("#detail-max").await.as_deref(), Some("20"));
    assert_eq!(c.text_of("#detail-min").await.as_deref(), Some("10"));
    // Values by arrow key (and by pointer: the same readout).
    c.keys(&["\u{E012}"]).await; // ArrowLeft: one before the latest
    c.wait_text("[data-testid=detail-readout]", "one back", |t| {
        t == "20 · 1 update before the latest"
    })
    .await;
    c.keys(&["\u{E010}"]).await; // End: the latest
    c.wait_text("[data-testid=detail-readout]", "latest", |t| {
        t == "15 · latest value"
    })
    .await;
    sc.shot(&c, "kpi-detail").await;
    // Tab and Shift+Tab stay inside the open dialog.
    for keys in [
        vec![TAB],
        vec![TAB],
        vec![TAB],
        vec!["\u{E008}", TAB],
        vec!["\u{E008}", TAB],
    ] {
        c.chord(&keys).await;
        let inside = c
            .js(
                "const e = document.activeElement; return document.querySelector('[data-testid=kpi-detail]').contains(e) || [e.tagName, e.id, String(e.className), 'inert' in HTMLElement.prototype];",
                vec![],
            )
            .await;
        assert_eq!(inside, json!(true), "focus stays in the dialog ({keys:?})");
    }
    c.js(
        "document.querySelector('#detail-chart').focus(); return true;",
        vec![],
    )
    .await;
    // Escape closes and gives focus back to the row.
    c.keys(&["\u{E00C}"]).await;
    c.wait_js("closed, focus back",
        "return document.querySelector('[data-testid=kpi-detail]').hidden && document.activeElement.dataset.key === 'queue'",
    )
    .await;
    sc.end(c).await;
}

/// After a burst longer than the sparkline's bound, the history the window
/// holds for a KPI is the one the core holds, though the window was sent
/// only the values it lacked (issue #11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_burst_the_window_holds_the_cores_kpi_history() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    c.js(
        "window.__views = []; window.__pulseboardProbe = (msgs) => { for (const m of msgs) if (m.view) window.__views.push(m.view.full); }; return true;",
        vec![],
    )
    .await;
    let n = 75;
    for v in 1..=n {
        sc.srv
            .kpis(
                "reports",
                json!([{"key": "queue", "label": "Queued reports", "value": v}]),
            )
            .await;
    }
    c.wait_text("[data-testid=kpi-reports-queue]", "value", |t| {
        t == n.to_string()
    })
    .await;
    let (page, core) = eventually(WAIT, "the window's history is the core's", || async {
        let v = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const page = window.__pulseboardState().modules.reports;
                 window.__TAURI__.core.invoke('get_state').then(
                   (snap) => done({ page: page ? page.history : null, core: snap.state.modules.reports.history }),
                   (e) => done({ error: String(e) }));",
                vec![],
            )
            .await?;
        if v["page"] == v["core"] {
            Ok((v["page"].clone(), v["core"].clone()))
        } else {
            Err(format!("{v}"))
        }
    })
    .await;
    assert_eq!(page, core);
    let held: Vec<f64> = core["queue"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let want: Vec<f64> = ((n - 59)..=n).map(f64::from).collect();
    assert_eq!(held, want, "the core's bound: the last 60");
    let fulls = c.js("return window.__views;", vec![]).await;
    assert!(
        fulls.as_array().unwrap().iter().any(|f| f == &json!(false)),
        "the window was sent only what it lacked: {fulls}"
    );
    sc.end(c).await;
}

/// The server's history of a KPI: one value every 100 minutes over the last
/// 20 hours, stored before the server starts (what a server that has been
/// running a day holds).
async fn server_with_history(module: &str, key: &str) -> (Server, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = pulseboard_server::storage::SqliteStore::open(&dir.path().join("s.db"))
        .expect("open the store");
    let now = chrono::Utc::now();
    let module = module.parse().expect("module");
    let n = 12;
    for i in (1..=n).rev() {
        let at = now - chrono::Duration::minutes(i * 100 + 30);
        pulseboard_server::storage::Storage::record_kpis(
            &store,
            module,
            at,
            vec![(key.to_string(), 40.0 + i as f64)],
        )
        .await
        .expect("record");
    }
    drop(store);
    (Server::start_in(dir).await, n as usize)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kpi_detail_shows_the_servers_history_with_its_thresholds() {
    let serial = SERIAL.lock().await;
    let (srv, stored) = server_with_history("finance", "cash").await;
    let sc = Scene {
        srv,
        driver: desktop(false),
        _serial: serial,
    };
    let c = sc.live_app(1280, 800).await;
    for v in [50, 55] {
        sc.srv
            .kpis(
                "finance",
                json!([{"key": "cash", "label": "Cash", "value": v, "better": "up",
                        "thresholds": {"warning": 30, "critical": 10}}]),
            )
            .await;
        c.wait_text("[data-testid=kpi-finance-cash]", "value", |t| {
            t == v.to_string()
        })
        .await;
    }
    c.click(".kpi-row[data-key=cash]").await;
    c.wait_js(
        "detail open",
        "return !document.querySelector('[data-testid=kpi-detail]').hidden",
    )
    .await;
    // What this window saw: its two values.
    c.wait_text("[data-testid=detail-span]", "recent", |t| {
        t.starts_with("The last 2 values")
    })
    .await;
    // 24 h: the server's points, many more than the window saw.
    c.click("[data-testid=detail-range-24h]").await;
    c.wait_text("[data-testid=detail-span]", "server caption", |t| {
        t == "From the server, 24 h"
    })
    .await;
    assert_eq!(
        c.js(
            "return [...document.querySelectorAll('[data-range]')].map((b) => b.dataset.range + '=' + b.getAttribute('aria-pressed'))",
            vec![]
        )
        .await,
        json!(["recent=false", "1h=false", "24h=true", "7d=false"])
    );
    let count = c
        .js(
            "return Number(document.querySelector('#detail-chart').dataset.count)",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0) as usize;
    assert!(
        count > stored && count <= stored + 2,
        "the {stored} stored points and the live ones, got {count}"
    );
    assert_eq!(
        c.js(
            "return document.querySelector('[data-testid=kpi-detail] .detail').dataset.source",
            vec![]
        )
        .await,
        json!("server")
    );
    // The thresholds are drawn as lines (critical below warning: higher is
    // better here) and named.
    let lines = c
        .js(
            "const l = (id) => { const e = document.getElementById(id); const r = e.getBoundingClientRect(); return [e.hasAttribute('hidden'), r.top, r.width]; };
             return [l('detail-threshold-warning'), l('detail-threshold-critical')];",
            vec![],
        )
        .await;
    assert_eq!(lines[0][0], json!(false), "warning line shown: {lines}");
    assert_eq!(lines[1][0], json!(false), "critical line shown: {lines}");
    assert!(
        lines[1][1].as_f64() > lines[0][1].as_f64(),
        "critical under warning: {lines}"
    );
    assert!(lines[0][2].as_f64().unwrap_or(0.0) > 100.0, "{lines}");
    assert_eq!(
        c.text_of("[data-testid=detail-thresholds]")
            .await
            .as_deref(),
        Some("Warning at 30 · Critical at 10")
    );
    assert_eq!(
        c.text_of("#detail-min").await.as_deref(),
        Some("10"),
        "the axis fits the lowest threshold"
    );
    // A time axis, and each value with its time.
    let axis = c.text_of(".detail-x").await.unwrap_or_default();
    assert!(axis.contains(':') && !axis.contains("oldest"), "{axis}");
    c.js(
        "document.querySelector('#detail-chart').focus(); return true;",
        vec![],
    )
    .await;
    c.keys(&["\u{E011}"]).await; // Home: the oldest point
    c.wait_text("[data-testid=detail-readout]", "oldest", |t| {
        t.starts_with("52 · ") && t.contains(':')
    })
    .await;
    // By pointer: the right edge reads the newest point.
    c.js(
        "const ch = document.querySelector('#detail-chart'); const r = ch.getBoundingClientRect();
         ch.dispatchEvent(new MouseEvent('mousemove', {clientX: r.right - 1, clientY: r.top + 5, bubbles: true})); return true;",
        vec![],
    )
    .await;
    c.wait_text("[data-testid=detail-readout]", "newest", |t| {
        t.starts_with("55 · ")
    })
    .await;
    // A new value while the range is shown: the chart takes it from the
    // server (at most 5 s later).
    sc.srv
        .kpis(
            "finance",
            json!([{"key": "cash", "label": "Cash", "value": 61, "better": "up",
                    "thresholds": {"warning": 30, "critical": 10}}]),
        )
        .await;
    eventually(WAIT, "the chart takes the new value", || async {
        c.keys(&["\u{E010}"]).await; // End: the newest point
        c.text_of("[data-testid=detail-readout]")
            .await
            .filter(|t| t.starts_with("61 · "))
            .ok_or_else(|| "never happened".to_string())
    })
    .await;
    assert_eq!(
        c.text_of("[data-testid=detail-span]").await.as_deref(),
        Some("From the server, 24 h")
    );
    sc.shot(&c, "kpi-detail-history").await;

    // The server goes away: the app says it shows what it saw itself.
    let Scene {
        mut srv,
        driver,
        _serial,
    } = sc;
    srv.stop().await;
    c.wait_js(
        "the app notices",
        "return !/Live/.test(document.querySelector('[data-testid=pill]').innerText)",
    )
    .await;
    c.click("[data-testid=detail-range-1h]").await;
    c.wait_text("[data-testid=detail-span]", "offline caption", |t| {
        t.starts_with("Offline: what this app saw since ")
    })
    .await;
    assert_eq!(
        c.js(
            "return Number(document.querySelector('#detail-chart').dataset.count)",
            vec![]
        )
        .await,
        json!(3),
        "the three values the app received"
    );
    c.close().await;
    drop(driver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_a_notification_opens_in_the_browser_after_asking() {
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    sc.srv
        .notify(
            "warning",
            "Status page updated",
            "Details: https://status.example.com/incidents/42. Or file:///etc/passwd, javascript:alert(1)",
        )
        .await;
    c.click("[data-testid=nav-notifications]").await;
    c.wait_js("link drawn",
        "return document.querySelectorAll('[data-testid=notification-list] a[data-link]').length === 1",
    )
    .await;
    let href = c
        .js(
            "return document.querySelector('[data-testid=notification-list] a[data-link]').dataset.link",
            vec![],
        )
        .await;
    assert_eq!(
        href,
        json!("https://status.example.com/incidents/42"),
        "only the web link, without the full stop"
    );
    // Cancel: nothing opens, the window stays where it was.
    c.click("[data-testid=notification-list] a[data-link]")
        .await;
    c.wait_text("[data-testid=link-confirm-url]", "asks first", |t| {
        t == "https://status.example.com/incidents/42"
    })
    .await;
    sc.shot(&c, "link-confirm").await;
    c.click("[data-testid=link-cancel]").await;
    c.wait_js("closed",
        "return document.querySelector('[data-testid=link-confirm]').hidden && location.href.includes('index.html')",
    )
    .await;
    assert_eq!(opened(&sc.driver), "", "nothing opened on Cancel");
    // Open: the desktop is asked to open exactly that link.
    c.click("[data-testid=notification-list] a[data-link]")
        .await;
    c.click("[data-testid=link-open]").await;
    let deadline = Instant::now() + WAIT;
    while opened(&sc.driver).trim() != "https://status.example.com/incidents/42" {
        assert!(
            Instant::now() < deadline,
            "the browser was not asked: {:?}",
            opened(&sc.driver)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.wait_js(
        "confirmation closes",
        "return document.querySelector('[data-testid=link-confirm]').hidden",
    )
    .await;
    // Rust refuses anything but a web link, whatever the page asks.
    let refused = c
        .call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": "const done = arguments[arguments.length - 1]; window.__TAURI__.core.invoke('open_link', {url: 'file:///etc/passwd'}).then(() => done('opened'), (e) => done(String(e)));", "args": []})),
        )
        .await
        .unwrap();
    assert!(
        refused
            .as_str()
            .unwrap_or_default()
            .contains("only web links"),
        "{refused}"
    );
    assert_eq!(opened(&sc.driver).lines().count(), 1);
    sc.end(c).await;
}

/// Saving settings while the tray is busy never hangs the app. The bridge
/// refreshes the tray on every new notification; saving settings (a command
/// on the main thread) ticks the tray's Do-not-disturb entries. The bridge
/// used to make its tray calls under the tray's lock, and Tauri runs those
/// on the main thread and waits: a save that wanted the lock at that moment
/// hung the window for good (first seen as the first-run "Save" never
/// answering, about one webview e2e run in ten). Here notifications arrive
/// as fast as the server takes them while the page saves settings, in
/// rounds of ten, until at least 30 saves have answered and more than ten
/// notifications were accepted meanwhile (how many saves that takes depends
/// on the machine and the server's rate limit, not on a fixed count); every
/// save must answer.
#[tokio::test]
async fn saving_settings_while_the_tray_changes_never_hangs() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
    let sc = Scene::new(false).await;
    let c = sc.live_app(1280, 800).await;
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    // Accepted notifications (the server's rate limit refuses some).
    let posted = std::sync::Arc::new(AtomicU32::new(0));
    let poster = {
        let (stop, posted) = (stop.clone(), posted.clone());
        let url = sc.srv.url();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(SeqCst) {
                let n = posted.load(SeqCst);
                let r = http
                    .post(format!("{url}/api/notifications"))
                    .bearer_auth(TOKEN)
                    .json(
                        &json!({"title": format!("busy {n}"), "body": "tray", "severity": "info"}),
                    )
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status().is_success()) {
                    posted.fetch_add(1, SeqCst);
                }
            }
        })
    };
    let deadline = Instant::now() + WAIT;
    let mut saves = 0;
    while saves < 30 || posted.load(SeqCst) <= 10 {
        assert!(
            Instant::now() < deadline,
            "the tray was not busy: {} notifications accepted during {saves} saves",
            posted.load(SeqCst)
        );
        let saved = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const invoke = window.__TAURI__.core.invoke;
                 (async () => {
                   const order = ['on', 'off', 'silence_all'];
                   for (let i = 0; i < 10; i++) {
                     const s = await invoke('get_settings');
                     s.dnd = order[i % 3];
                     await invoke('save_settings', { settings: s });
                   }
                   return 10;
                 })().then(done, (e) => done(String(e)));",
                vec![],
            )
            .await;
        assert_eq!(
            saved,
            Ok(json!(10)),
            "every save answered ({saves} before this round) while {} notifications were accepted",
            posted.load(SeqCst)
        );
        saves += 10;
    }
    stop.store(true, SeqCst);
    poster.await.unwrap();
    // The window still answers.
    pill(&c, "Live").await;
    sc.end(c).await;
}
