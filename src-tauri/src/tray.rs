//! The tray: icon, title and menu carry the state, because Linux trays give
//! no clicks and no tooltips. [`look`] is pure and unit-tested; the rest
//! applies it to Tauri's tray ([`refresh`], called by the bridge's loop when
//! what it shows may have changed) and handles its menu ([`on_menu`]).

use chrono::{DateTime, Utc};
use pulseboard_core::{connection_view, ClientState, ConnectionState};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::{open_window, AppCore, View};
use pulseboard_core::Command;
use pulseboard_protocol::MarkRead;

// One Do-not-disturb enum (the core's); the local name stays until the
// tray's wording rework lands, to keep that merge small.
use pulseboard_core::Dnd;

/// Every menu entry, with its id in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuId {
    /// Disabled line showing the connection state.
    Status,
    /// The unseen critical alerts ("1 critical alert: Disk full"): opens the
    /// window, whose banner leads with them.
    Alert,
    /// Open the dashboard window.
    Open,
    /// "N unread": opens the notifications view.
    Unread,
    /// Mark all notifications read.
    MarkAllRead,
    /// DND off.
    DndOff,
    /// DND on (critical alerts still break through).
    DndOn,
    /// Silence everything.
    DndSilence,
    /// Reconnect now.
    Reconnect,
    /// Open the settings view.
    Settings,
    /// Quit.
    Quit,
}

impl MenuId {
    const ALL: [MenuId; 11] = [
        MenuId::Status,
        MenuId::Alert,
        MenuId::Open,
        MenuId::Unread,
        MenuId::MarkAllRead,
        MenuId::DndOff,
        MenuId::DndOn,
        MenuId::DndSilence,
        MenuId::Reconnect,
        MenuId::Settings,
        MenuId::Quit,
    ];

    /// The id string used by Tauri.
    pub fn as_str(self) -> &'static str {
        match self {
            MenuId::Status => "status",
            MenuId::Alert => "alert",
            MenuId::Open => "open",
            MenuId::Unread => "unread",
            MenuId::MarkAllRead => "mark_all_read",
            MenuId::DndOff => "dnd_off",
            MenuId::DndOn => "dnd_on",
            MenuId::DndSilence => "dnd_silence",
            MenuId::Reconnect => "reconnect",
            MenuId::Settings => "settings",
            MenuId::Quit => "quit",
        }
    }

    /// Parse a Tauri menu id.
    pub fn parse(s: &str) -> Option<MenuId> {
        MenuId::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The connection state the tray icon shows (its colour and mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IconKind {
    /// Connected.
    Live,
    /// Connecting or reconnecting.
    Reconnecting,
    /// Offline: cached data.
    Offline,
    /// Token refused.
    Unauthorized,
}

/// The icon file for a connection state, with or without the red dot of a
/// critical alert not yet dismissed (top right) and the blue dot of unread
/// notifications (bottom right). Dots are added to the state's icon, never
/// instead of it: an alert must not hide that the server is gone.
fn icon_png(kind: IconKind, critical: bool, unread: bool) -> &'static [u8] {
    match (kind, critical, unread) {
        (IconKind::Live, false, false) => include_bytes!("../../icons/tray-live.png"),
        (IconKind::Live, false, true) => include_bytes!("../../icons/tray-live-unread.png"),
        (IconKind::Live, true, false) => include_bytes!("../../icons/tray-critical.png"),
        (IconKind::Live, true, true) => include_bytes!("../../icons/tray-critical-unread.png"),
        (IconKind::Reconnecting, false, false) => {
            include_bytes!("../../icons/tray-reconnecting.png")
        }
        (IconKind::Reconnecting, false, true) => {
            include_bytes!("../../icons/tray-reconnecting-unread.png")
        }
        (IconKind::Reconnecting, true, false) => {
            include_bytes!("../../icons/tray-reconnecting-critical.png")
        }
        (IconKind::Reconnecting, true, true) => {
            include_bytes!("../../icons/tray-reconnecting-critical-unread.png")
        }
        (IconKind::Offline, false, false) => include_bytes!("../../icons/tray-offline.png"),
        (IconKind::Offline, false, true) => {
            include_bytes!("../../icons/tray-offline-unread.png")
        }
        (IconKind::Offline, true, false) => {
            include_bytes!("../../icons/tray-offline-critical.png")
        }
        (IconKind::Offline, true, true) => {
            include_bytes!("../../icons/tray-offline-critical-unread.png")
        }
        // The token problem is what the user must fix first.
        (IconKind::Unauthorized, _, _) => include_bytes!("../../icons/tray-unauthorized.png"),
    }
}

/// Everything the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayLook {
    /// Icon: the connection state.
    pub icon: IconKind,
    /// The red dot on it: a critical alert not dismissed (never shown with
    /// [`IconKind::Unauthorized`]).
    pub critical: bool,
    /// The blue dot on it: unread notifications (never shown with
    /// [`IconKind::Unauthorized`]; the count is in the menu and the title).
    pub unread_dot: bool,
    /// First menu line.
    pub status: String,
    /// The unseen critical alerts, named ("1 critical alert: Disk full");
    /// `None`: the line says there are none and is disabled.
    pub alert: Option<String>,
    /// The unread entry.
    pub unread: String,
    /// "Mark all read" can be clicked (there is something unread).
    pub mark_all_read: bool,
    /// The Do-not-disturb entries Off, On, Silence everything: exactly one
    /// is ticked (Linux trays have no radio items, so Rust keeps them
    /// exclusive).
    pub dnd: [bool; 3],
    /// Label beside the icon (where the desktop shows one).
    pub title: Option<String>,
}

/// The DND entries in menu order.
const DND_MODES: [Dnd; 3] = [Dnd::Off, Dnd::On, Dnd::SilenceAll];

/// Which DND entry is ticked: exactly one, `dnd`'s.
pub fn dnd_ticks(dnd: Dnd) -> [bool; 3] {
    DND_MODES.map(|m| m == dnd)
}

/// Longest alert title shown in the menu, in characters (a menu line is
/// one line; the window has the rest).
const MAX_ALERT_TITLE: usize = 60;

fn clamp(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// "1 critical alert: Disk full", "3 critical alerts: Disk full (newest)",
/// from the core's notion of an unseen critical alert.
fn alert_line(s: &ClientState) -> Option<String> {
    let newest = s.unseen_critical()?;
    let n = s
        .unacknowledged_alerts()
        .filter(|a| a.severity == pulseboard_protocol::AlertSeverity::Critical)
        .count();
    let title = clamp(&newest.title, MAX_ALERT_TITLE);
    Some(if n <= 1 {
        format!("1 critical alert: {title}")
    } else {
        format!("{n} critical alerts: {title} (newest)")
    })
}

/// What the tray should show for `s` with Do-not-disturb at `dnd`. The
/// status line is the window's pill text ([`connection_view`]): one wording.
pub fn look(s: &ClientState, dnd: Dnd, now: DateTime<Utc>) -> TrayLook {
    let status = connection_view(s, now).text;
    let icon = match &s.connection {
        ConnectionState::Live { .. } => IconKind::Live,
        ConnectionState::Connecting { .. } | ConnectionState::Reconnecting { .. } => {
            IconKind::Reconnecting
        }
        ConnectionState::Offline { .. } => IconKind::Offline,
        ConnectionState::Unauthorized { .. } | ConnectionState::Certificate { .. } => {
            IconKind::Unauthorized
        }
    };
    let alert = alert_line(s);
    let critical = alert.is_some() && icon != IconKind::Unauthorized;
    let n = s.unread_count;
    TrayLook {
        icon,
        critical,
        unread_dot: n > 0 && icon != IconKind::Unauthorized,
        status: format!("Pulseboard: {status}"),
        alert,
        unread: match n {
            0 => "No unread notifications".into(),
            1 => "1 unread notification".into(),
            n => format!("{n} unread notifications"),
        },
        mark_all_read: n > 0,
        dnd: dnd_ticks(dnd),
        title: (n > 0).then(|| n.to_string()),
    }
}

/// Text of the alert line when there is no unseen critical alert.
pub const NO_ALERT: &str = "No unseen critical alerts";

/// Handles to the parts of the tray that change.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    alert: MenuItem<R>,
    unread: MenuItem<R>,
    mark_all_read: MenuItem<R>,
    dnd: [CheckMenuItem<R>; 3],
    shown: std::sync::Mutex<Option<TrayLook>>,
}

impl<R: Runtime> Tray<R> {
    /// Build the tray icon and its menu.
    pub fn build(app: &AppHandle<R>, dnd: Dnd) -> tauri::Result<Self> {
        let item = |id: MenuId, text: &str, enabled: bool| {
            MenuItem::with_id(app, id.as_str(), text, enabled, None::<&str>)
        };
        let ticks = dnd_ticks(dnd);
        let check = |id: MenuId, text: &str, on: bool| {
            CheckMenuItem::with_id(app, id.as_str(), text, true, on, None::<&str>)
        };
        let status = item(MenuId::Status, "Pulseboard: Connecting…", false)?;
        let alert = item(MenuId::Alert, NO_ALERT, false)?;
        let unread = item(MenuId::Unread, "No unread notifications", true)?;
        let mark_all_read = item(MenuId::MarkAllRead, "Mark all read", false)?;
        let dnd_items = [
            check(MenuId::DndOff, "Off", ticks[0])?,
            check(
                MenuId::DndOn,
                "On (critical alerts still break through)",
                ticks[1],
            )?,
            check(MenuId::DndSilence, "Silence everything", ticks[2])?,
        ];
        let dnd_menu = Submenu::with_items(
            app,
            "Do not disturb",
            true,
            &[&dnd_items[0], &dnd_items[1], &dnd_items[2]],
        )?;
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &alert,
                &PredefinedMenuItem::separator(app)?,
                &item(MenuId::Open, "Open dashboard", true)?,
                &unread,
                &mark_all_read,
                &dnd_menu,
                &PredefinedMenuItem::separator(app)?,
                &item(MenuId::Reconnect, "Reconnect now", true)?,
                &item(MenuId::Settings, "Settings…", true)?,
                &item(MenuId::Quit, "Quit Pulseboard", true)?,
            ],
        )?;
        let icon = TrayIconBuilder::with_id("pulseboard")
            .icon(Image::from_bytes(icon_png(
                IconKind::Reconnecting,
                false,
                false,
            ))?)
            .menu(&menu)
            .tooltip("Pulseboard")
            .show_menu_on_left_click(true)
            .build(app)?;
        Ok(Tray {
            icon,
            status,
            alert,
            unread,
            mark_all_read,
            dnd: dnd_items,
            shown: std::sync::Mutex::new(None),
        })
    }

    /// Show `l`, touching only what changed.
    pub fn show(&self, l: TrayLook) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let prev = shown.as_ref();
        let result = (|| -> tauri::Result<()> {
            let pic = |l: &TrayLook| (l.icon, l.critical, l.unread_dot);
            if prev.map(pic) != Some(pic(&l)) {
                let png = icon_png(l.icon, l.critical, l.unread_dot);
                self.icon.set_icon(Some(Image::from_bytes(png)?))?;
            }
            if prev.map(|p| (&p.status, &p.alert)) != Some((&l.status, &l.alert)) {
                self.status.set_text(&l.status)?;
                let tip = match &l.alert {
                    Some(a) => format!("{}\n{a}", l.status),
                    None => l.status.clone(),
                };
                self.icon.set_tooltip(Some(&tip))?;
            }
            if prev.map(|p| &p.alert) != Some(&l.alert) {
                self.alert
                    .set_text(l.alert.as_deref().unwrap_or(NO_ALERT))?;
                self.alert.set_enabled(l.alert.is_some())?;
            }
            if prev.map(|p| &p.unread) != Some(&l.unread) {
                self.unread.set_text(&l.unread)?;
            }
            if prev.map(|p| p.mark_all_read) != Some(l.mark_all_read) {
                self.mark_all_read.set_enabled(l.mark_all_read)?;
            }
            if prev.map(|p| p.dnd) != Some(l.dnd) {
                self.tick(l.dnd);
            }
            if prev.map(|p| &p.title) != Some(&l.title) {
                self.icon.set_title(l.title.as_deref())?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => *shown = Some(l),
            Err(e) => tracing::warn!("tray update failed: {e}"),
        }
    }

    fn tick(&self, ticks: [bool; 3]) {
        for (item, on) in self.dnd.iter().zip(ticks) {
            if let Err(e) = item.set_checked(on) {
                tracing::warn!("tray update failed: {e}");
            }
        }
    }

    /// Tick the DND entry matching `dnd`, untick the others. Always applied,
    /// even when unchanged: clicking the ticked entry untoggles it natively,
    /// and it must stay ticked.
    pub fn set_dnd(&self, dnd: Dnd) {
        let ticks = dnd_ticks(dnd);
        self.tick(ticks);
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = shown.as_mut() {
            l.dnd = ticks;
        }
    }
}

/// Show the current state in the tray (no-op without a tray).
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    refresh_at(app, Utc::now());
}

/// Show the state at `now` in the tray (no-op without a tray), on the main
/// thread.
///
/// Every tray change is made on the main thread, in order. Tauri runs a tray
/// or menu call made on another thread on the main thread and waits for it;
/// the bridge used to do that while holding [`Tray`]'s lock, and a command
/// running on the main thread that wanted the lock (saving settings ticks
/// the DND entries) then waited for the bridge: both hung for ever (seen as
/// a window that stopped answering after "Save" in the first-run setup, about
/// one run in ten of the webview e2e suite). The look is computed there too,
/// so it always has the settings of the moment it is shown.
pub(crate) fn refresh_at<R: Runtime>(app: &AppHandle<R>, now: DateTime<Utc>) {
    if app.try_state::<Tray<R>>().is_none() {
        return;
    }
    let handle = app.clone();
    let show = move || {
        if let (Some(t), Some(core)) =
            (handle.try_state::<Tray<R>>(), handle.try_state::<AppCore>())
        {
            let dnd = core.settings().dnd;
            let look = core.store().read(|s| look(s, dnd, now));
            t.show(look);
        }
    };
    if let Err(e) = app.run_on_main_thread(show) {
        tracing::warn!("tray update not scheduled: {e}");
    }
}

fn set_dnd<R: Runtime>(app: &AppHandle<R>, core: &AppCore, dnd: Dnd) {
    let mut s = core.settings();
    s.dnd = dnd;
    // Applied even when it cannot be saved: the click still counts for now.
    if let Err(e) = core.settings_dir().save(&s) {
        tracing::warn!("could not save settings: {e}");
    }
    crate::commands::apply_settings(app, core, s, None);
}

/// Handle a tray menu click.
pub fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(core) = app.try_state::<AppCore>() else {
        return;
    };
    let open = |v| {
        if let Err(e) = open_window(app, v) {
            tracing::warn!("cannot open the window: {e}");
        }
    };
    match MenuId::parse(id) {
        Some(MenuId::Open) => open(View::Home),
        Some(MenuId::Alert) => open(View::Alerts),
        Some(MenuId::Unread) => open(View::Notifications),
        Some(MenuId::Settings) => open(View::Settings),
        Some(MenuId::MarkAllRead) => core.command(Command::MarkRead(MarkRead::All)),
        Some(MenuId::Reconnect) => core.command(Command::Reconnect),
        Some(MenuId::DndOff) => set_dnd(app, &core, Dnd::Off),
        Some(MenuId::DndOn) => set_dnd(app, &core, Dnd::On),
        Some(MenuId::DndSilence) => set_dnd(app, &core, Dnd::SilenceAll),
        Some(MenuId::Quit) => {
            core.set_quitting();
            app.exit(0);
        }
        Some(MenuId::Status) | None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use pulseboard_core::{DataSource, TransportKind};
    use pulseboard_protocol::AlertSeverity;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn alert(s: &mut ClientState, id: &str, severity: AlertSeverity, title: &str, at: i64) {
        s.apply(
            pulseboard_protocol::ServerEvent::AlertSystem(pulseboard_protocol::Alert {
                id: id.into(),
                severity,
                title: title.into(),
                message: "/var at 97%".into(),
                created_at: t(at),
            }),
            t(at),
        );
    }

    /// The look with DND off, and with `critical`: an unseen critical alert
    /// in the state (`false`: every alert acknowledged).
    fn look_with(s: &ClientState, critical: bool, now: DateTime<Utc>) -> TrayLook {
        let mut s = s.clone();
        if critical {
            alert(&mut s, "a-test", AlertSeverity::Critical, "Disk full", 0);
        } else {
            s.acknowledge_alerts(&pulseboard_core::AlertAck::All);
        }
        look(&s, Dnd::Off, now)
    }

    #[test]
    fn every_state_has_its_icon_and_words() {
        let mut s = ClientState::empty("http://x");
        s.source = DataSource::Demo;
        let l = look_with(&s, false, t(0));
        assert_eq!(l.icon, IconKind::Reconnecting);
        assert_eq!(l.status, "Pulseboard: Demo data · Connecting…");

        s.connection = ConnectionState::Live {
            since: t(0),
            transport: TransportKind::Websocket,
        };
        assert_eq!(look_with(&s, false, t(0)).icon, IconKind::Live);
        let l = look_with(&s, true, t(0));
        assert_eq!(
            (l.icon, l.critical),
            (IconKind::Live, true),
            "unseen critical alert shows"
        );
        assert_eq!(l.alert.as_deref(), Some("1 critical alert: Disk full"));

        s.connection = ConnectionState::Reconnecting {
            attempt: 3,
            next_retry_at: t(4),
            reason: "x".into(),
        };
        let l = look_with(&s, false, t(0));
        assert_eq!(
            l.status,
            "Pulseboard: Demo data · Reconnecting in 4s, attempt 3"
        );

        s.source = DataSource::Cache { saved_at: t(0) };
        s.connection = ConnectionState::Offline {
            since: t(0),
            attempt: 7,
            next_retry_at: t(30),
            reason: "x".into(),
        };
        let l = look_with(&s, false, t(0));
        assert_eq!(l.icon, IconKind::Offline);
        assert!(
            l.status.starts_with("Pulseboard: Offline since ")
                && l.status.contains("cached data from"),
            "{}",
            l.status
        );

        s.connection = ConnectionState::Unauthorized {
            message: "unauthorized".into(),
        };
        let l = look_with(&s, true, t(0));
        assert_eq!(
            (l.icon, l.critical),
            (IconKind::Unauthorized, false),
            "the token problem wins over alerts"
        );
        assert_eq!(l.status, "Pulseboard: Unauthorized, check the token");

        s.connection = ConnectionState::Certificate {
            message: "certificate verify failed".into(),
        };
        let l = look_with(&s, true, t(0));
        assert_eq!(
            l.icon,
            IconKind::Unauthorized,
            "a settings problem wins too"
        );
        assert_eq!(
            l.status,
            "Pulseboard: Certificate not trusted, check the settings"
        );
    }

    #[test]
    fn the_status_line_is_the_windows_pill_text() {
        let mut s = ClientState::empty("http://x");
        s.source = DataSource::Server;
        s.connection = ConnectionState::Reconnecting {
            attempt: 2,
            next_retry_at: t(7),
            reason: "x".into(),
        };
        let pill = connection_view(&s, t(0)).text;
        assert_eq!(pill, "Reconnecting in 7s, attempt 2");
        assert_eq!(
            look(&s, Dnd::Off, t(0)).status,
            format!("Pulseboard: {pill}")
        );
    }

    #[test]
    fn a_critical_alert_never_hides_the_connection_state() {
        let mut s = ClientState::empty("http://x");
        s.source = DataSource::Cache { saved_at: t(0) };
        s.connection = ConnectionState::Offline {
            since: t(0),
            attempt: 7,
            next_retry_at: t(30),
            reason: "x".into(),
        };
        let l = look_with(&s, true, t(0));
        assert_eq!((l.icon, l.critical), (IconKind::Offline, true));
        assert!(l.status.contains("Offline since"), "{}", l.status);
        assert_ne!(
            icon_png(IconKind::Offline, true, false),
            icon_png(IconKind::Live, true, false),
            "offline with an alert is not drawn as live with an alert"
        );
        s.connection = ConnectionState::Reconnecting {
            attempt: 1,
            next_retry_at: t(1),
            reason: "x".into(),
        };
        let l = look_with(&s, true, t(0));
        assert_eq!((l.icon, l.critical), (IconKind::Reconnecting, true));
        // Every (state, red dot, blue dot) has its own picture, except
        // Unauthorized.
        let kinds = [IconKind::Live, IconKind::Reconnecting, IconKind::Offline];
        let mut pngs: Vec<&[u8]> = kinds
            .iter()
            .flat_map(|k| {
                [(false, false), (true, false), (false, true), (true, true)]
                    .map(|(c, u)| icon_png(*k, c, u))
            })
            .collect();
        pngs.push(icon_png(IconKind::Unauthorized, false, false));
        for (i, a) in pngs.iter().enumerate() {
            for b in &pngs[i + 1..] {
                assert_ne!(a, b, "two looks share one icon");
            }
        }
        // Dismissed: the plain state icon again.
        let l = look_with(&s, false, t(0));
        assert_eq!((l.icon, l.critical), (IconKind::Reconnecting, false));
    }

    #[test]
    fn unread_count_is_in_menu_and_title() {
        let mut s = ClientState::empty("http://x");
        assert_eq!(look_with(&s, false, t(0)).title, None);
        s.unread_count = 1;
        assert_eq!(look_with(&s, false, t(0)).unread, "1 unread notification");
        s.unread_count = 12;
        let l = look_with(&s, false, t(0));
        assert_eq!(l.unread, "12 unread notifications");
        assert_eq!(l.title.as_deref(), Some("12"));
        assert!(!look(&ClientState::empty("http://x"), Dnd::Off, t(0)).unread_dot);
        s.unread_count = 61;
        let l = look(&s, Dnd::Off, t(0));
        assert!(l.unread_dot, "61 unread change the icon");
        assert_eq!(l.title.as_deref(), Some("61"));
        assert_ne!(
            icon_png(l.icon, l.critical, l.unread_dot),
            icon_png(l.icon, l.critical, false),
            "the unread icon is its own picture"
        );
        s.connection = ConnectionState::Unauthorized {
            message: "unauthorized".into(),
        };
        assert!(
            !look(&s, Dnd::Off, t(0)).unread_dot,
            "the token problem's icon stays plain"
        );
    }

    #[test]
    fn mark_all_read_is_enabled_only_with_something_unread() {
        let mut s = ClientState::empty("http://x");
        let l = look(&s, Dnd::Off, t(0));
        assert_eq!(l.unread, "No unread notifications");
        assert!(!l.mark_all_read, "nothing to mark, yet clickable");
        s.unread_count = 61;
        assert!(look(&s, Dnd::Off, t(0)).mark_all_read);
    }

    #[test]
    fn exactly_one_do_not_disturb_choice_is_ticked() {
        let s = ClientState::empty("http://x");
        for (dnd, want) in [
            (Dnd::Off, [true, false, false]),
            (Dnd::On, [false, true, false]),
            (Dnd::SilenceAll, [false, false, true]),
        ] {
            assert_eq!(look(&s, dnd, t(0)).dnd, want, "{dnd:?}");
        }
    }

    #[test]
    fn the_tray_names_the_unseen_critical_alert() {
        let mut s = ClientState::empty("http://x");
        let l = look(&s, Dnd::Off, t(0));
        assert_eq!((l.alert, l.critical), (None, false));
        // Warnings and info do not make the line.
        alert(&mut s, "w-1", AlertSeverity::Warning, "CPU high", 1);
        assert_eq!(look(&s, Dnd::Off, t(0)).alert, None);
        alert(&mut s, "a-1", AlertSeverity::Critical, "Disk full", 2);
        let l = look(&s, Dnd::Off, t(0));
        assert_eq!(l.alert.as_deref(), Some("1 critical alert: Disk full"));
        assert!(l.critical);
        alert(&mut s, "a-2", AlertSeverity::Critical, "Database down", 3);
        alert(&mut s, "a-3", AlertSeverity::Critical, "Queue stuck", 4);
        assert_eq!(
            look(&s, Dnd::Off, t(0)).alert.as_deref(),
            Some("3 critical alerts: Queue stuck (newest)")
        );
        // Acknowledged in the window: no longer counted or named.
        s.acknowledge_alerts(&pulseboard_core::AlertAck::Ids(vec!["a-3".into()]));
        assert_eq!(
            look(&s, Dnd::Off, t(0)).alert.as_deref(),
            Some("2 critical alerts: Database down (newest)")
        );
        s.acknowledge_alerts(&pulseboard_core::AlertAck::All);
        let l = look(&s, Dnd::Off, t(0));
        assert_eq!((l.alert, l.critical), (None, false));
        // A long title is cut to one menu line.
        let long = "x".repeat(300);
        alert(&mut s, "a-4", AlertSeverity::Critical, &long, 5);
        let line = look(&s, Dnd::Off, t(0)).alert.unwrap();
        assert!(line.ends_with('…'), "{line}");
        assert!(line.chars().count() < 100, "{line}");
    }

    #[test]
    fn menu_ids_round_trip() {
        for m in MenuId::ALL {
            assert_eq!(MenuId::parse(m.as_str()), Some(m));
        }
        assert_eq!(MenuId::parse("nope"), None);
    }
}
