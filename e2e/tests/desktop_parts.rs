//! The tray icon and the toasts on real desktop parts, as a user meets them:
//! trayer (an XEmbed system tray, what the tray icon falls back to where no
//! StatusNotifier host runs) and dunst (a notification daemon), under Xvfb
//! on one private session bus, with the debug app (`cargo build -p
//! pulseboard`) started as from the autostart entry (`--hidden`) against a
//! real pulseboard-server.
//!
//! What is asserted is what a person sees or does: the icon's colour (green
//! when live, amber while reconnecting), a click on the icon opening the
//! tray menu, "Open dashboard" in it opening the window, closing the window
//! leaving the app in the tray, a critical alert shown as a critical toast
//! with its title and message, a click on the toast opening the dashboard,
//! and "Quit Pulseboard" ending the app. Screenshots go to `test-artifacts/`.
//!
//! Needs trayer, dunst, xdotool and ImageMagick's `import` (Debian
//! packages; scripts/deps-test.sh installs them).

use std::path::Path;

use pulseboard_e2e::{app_binary, eventually, have, Group, Server, Xvfb, TOKEN, WAIT};
use pulseboard_testkit::SessionBus;

/// (x, y, width, height) of an X window or a part of the screen.
type Rect = (i64, i64, i64, i64);

/// Where an X window is.
fn geometry(x: &Xvfb, win: &str) -> Result<Rect, String> {
    let out = x.xdotool(&["getwindowgeometry", "--shell", win])?;
    let v = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| format!("no {k} in {out:?}"))
    };
    Ok((v("X")?, v("Y")?, v("WIDTH")?, v("HEIGHT")?))
}

/// The tray's window and where it is, once it holds an icon.
fn tray(x: &Xvfb) -> Result<(String, Rect), String> {
    let win = x
        .visible(&["--class", "trayer"])
        .into_iter()
        .next()
        .ok_or("no trayer window")?;
    let g = geometry(x, &win)?;
    if g.2 < 16 {
        return Err(format!("the tray is {} px wide: no icon in it", g.2));
    }
    Ok((win, g))
}

/// The colour a person would name for the tray icon: the hue most of its
/// saturated pixels have (the tray's own grey and the icon's white pulse
/// line are not saturated).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hue {
    Green,
    Amber,
    Red,
    Blue,
    Grey,
}

fn hue(px: &[[u8; 3]]) -> Hue {
    let mut n = [0usize; 4];
    for p in px {
        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        if r.max(g).max(b) - r.min(g).min(b) < 60 {
            continue;
        }
        let i = if g >= r && g >= b {
            0
        } else if r >= g && r >= b && g - b > 40 {
            1
        } else if r >= g && r >= b {
            2
        } else {
            3
        };
        n[i] += 1;
    }
    if n.iter().sum::<usize>() * 10 < px.len() {
        return Hue::Grey;
    }
    let best = (0..4).max_by_key(|i| n[*i]).unwrap_or(0);
    [Hue::Green, Hue::Amber, Hue::Red, Hue::Blue][best]
}

/// Wait until the tray icon shows `want`; returns the tray's geometry.
async fn icon_turns(x: &Xvfb, want: Hue, what: &str) -> Rect {
    eventually(WAIT, what, || async {
        let (_, g) = tray(x)?;
        let h = hue(&x.pixels(g.0, g.1, g.2, g.3)?);
        if h == want {
            Ok(g)
        } else {
            Err(format!("the icon is {h:?}"))
        }
    })
    .await
}

/// The dashboard window of the app `pid`, if it is shown.
fn dashboard(x: &Xvfb, pid: u32) -> Option<String> {
    x.visible(&["--all", "--pid", &pid.to_string(), "--name", "^Pulseboard$"])
        .into_iter()
        .find(|w| geometry(x, w).is_ok_and(|g| g.2 >= 600))
}

/// Click the tray icon and wait for the menu that opens: a window of the
/// app that was not shown before the click.
async fn open_tray_menu(x: &Xvfb, pid: u32, g: Rect) {
    let before = x.visible(&["--pid", &pid.to_string()]);
    let (cx, cy) = (g.0 + g.2 / 2, g.1 + g.3 / 2);
    x.xdotool(&["mousemove", &cx.to_string(), &cy.to_string(), "click", "1"])
        .expect("click the tray icon");
    eventually(WAIT, "the tray menu to open on a click", || async {
        let now = x.visible(&["--pid", &pid.to_string()]);
        now.iter()
            .find(|w| !before.contains(w))
            .cloned()
            .ok_or_else(|| format!("no new window (shown: {now:?})"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_and_the_toasts_on_a_real_tray_and_notification_daemon() {
    for tool in [
        "Xvfb",
        "dbus-daemon",
        "trayer",
        "dunst",
        "xdotool",
        "import",
    ] {
        assert!(
            have(tool),
            "{tool} is missing: run scripts/test.sh, which installs it"
        );
    }
    // Wider and taller than the 1180x800 dashboard, which opens at the top
    // left: the tray along the bottom edge and the toasts at the top right
    // stay uncovered.
    let x = Xvfb::start_screen("1600x1000x24").expect("start Xvfb");
    let bus = SessionBus::start();
    let dirs = tempfile::tempdir().unwrap();
    let d = dirs.path();
    let part = |program: &str| x.command_on_bus(d, Path::new(program), &bus.address);

    // The tray along the bottom edge (dunst puts toasts at the top right).
    let mut c = part("trayer");
    c.args([
        "--edge",
        "bottom",
        "--align",
        "left",
        "--widthtype",
        "request",
        "--height",
        "32",
        "--transparent",
        "false",
        "--SetDockType",
        "false",
    ]);
    let _tray = Group::spawn_logged(c, &d.join("trayer.log")).expect("start trayer");
    // `-print`: dunst also writes every notification it shows to its log.
    let mut c = part("dunst");
    c.arg("-print");
    let dunst_log = d.join("dunst.log");
    let _dunst = Group::spawn_logged(c, &dunst_log).expect("start dunst");

    let mut server = Server::temp().await;
    // Stopped and started again on the same port below.
    let url = server.url();
    let start_app = |n: u32| {
        let mut c = x.command_on_bus(d, &app_binary(), &bus.address);
        // As the autostart entry starts it: in the tray, no window.
        c.args(["--hidden", "--server", &url, "--token", TOKEN])
            .env("RUST_LOG", "info");
        Group::spawn_logged(c, &d.join(format!("app-{n}.log"))).expect("start the app")
    };
    let said = |n: u32| std::fs::read_to_string(d.join(format!("app-{n}.log"))).unwrap_or_default();
    let mut app = start_app(1);
    let pid = app.pid();

    // 1. The icon shows in the tray, and turns green once live.
    let g = icon_turns(&x, Hue::Green, "a green (live) icon in the tray").await;
    x.shot("tray-live", Some(g));

    // 2. A critical alert is a critical toast with its title and message;
    //    a click on it opens the dashboard.
    server
        .alert("critical", "Disk almost full", "db-1 is at 97 %")
        .await;
    let toast = eventually(WAIT, "dunst to show the alert", || async {
        let log = std::fs::read_to_string(&dunst_log).unwrap_or_default();
        if !(log.contains("Disk almost full") && log.contains("db-1 is at 97 %")) {
            return Err(format!("dunst printed: {log}"));
        }
        x.visible(&["--class", "Dunst"])
            .into_iter()
            .next()
            .ok_or_else(|| "no toast window".to_string())
    })
    .await;
    let log = std::fs::read_to_string(&dunst_log).unwrap_or_default();
    assert!(log.contains("CRITICAL"), "not a critical toast: {log}");
    let t = geometry(&x, &toast).expect("toast geometry");
    x.shot("toast", None);
    // dunst's default: a middle click runs the toast's default action.
    let (tx, ty) = (t.0 + t.2 / 2, t.1 + t.3 / 2);
    x.xdotool(&["mousemove", &tx.to_string(), &ty.to_string(), "click", "2"])
        .expect("click the toast");
    eventually(WAIT, "the dashboard to open from the toast", || async {
        dashboard(&x, pid).ok_or_else(|| "not shown".to_string())
    })
    .await;

    // 3. The server gone: the icon turns amber; back: green again.
    server.stop().await;
    icon_turns(&x, Hue::Amber, "an amber (reconnecting) icon").await;
    x.shot("tray-reconnecting", Some(g));
    server.restart().await;
    let g = icon_turns(&x, Hue::Green, "the icon green again").await;

    // 4. A click on the icon opens the menu; "Quit Pulseboard", its last
    //    item, ends the app.
    open_tray_menu(&x, pid, g).await;
    x.shot("tray-menu", None);
    x.xdotool(&["key", "Up", "Return"]).expect("keys");
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = app.try_wait().expect("app status") {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the app did not quit from the tray menu within {WAIT:?}:\n{}",
            said(1)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "quit with {status}:\n{}", said(1));
    drop(app);

    // 5. Started again (same settings and cache): "Open dashboard", the
    //    menu's first item that can be chosen (the status lines above it
    //    cannot), opens the window.
    let app = start_app(2);
    let pid = app.pid();
    let g = icon_turns(&x, Hue::Green, "the icon green after a restart").await;
    assert!(dashboard(&x, pid).is_none(), "--hidden opened the window");
    open_tray_menu(&x, pid, g).await;
    x.xdotool(&["key", "Down", "Return"]).expect("keys");
    eventually(WAIT, "the dashboard to open from the tray menu", || async {
        dashboard(&x, pid).ok_or_else(|| "not shown".to_string())
    })
    .await;
    x.shot("tray-open-dashboard", None);
}
