//! The tray: icon, title and menu carry the state, because Linux trays give
//! no clicks and no tooltips. [`look`] is pure and unit-tested; the rest
//! applies it to Tauri's tray.

use chrono::{DateTime, Local, Utc};
use pulseboard_core::{ConnectionState, DataSource, State};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

use crate::settings::DndMode;

/// Every menu entry, with its id in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuId {
    /// Disabled line showing the connection state.
    Status,
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
    const ALL: [MenuId; 10] = [
        MenuId::Status,
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
/// critical alert not yet dismissed. The dot is added to the state's icon,
/// never instead of it: an alert must not hide that the server is gone.
fn icon_png(kind: IconKind, critical: bool) -> &'static [u8] {
    match (kind, critical) {
        (IconKind::Live, false) => include_bytes!("../../icons/tray-live.png"),
        (IconKind::Live, true) => include_bytes!("../../icons/tray-critical.png"),
        (IconKind::Reconnecting, false) => include_bytes!("../../icons/tray-reconnecting.png"),
        (IconKind::Reconnecting, true) => {
            include_bytes!("../../icons/tray-reconnecting-critical.png")
        }
        (IconKind::Offline, false) => include_bytes!("../../icons/tray-offline.png"),
        (IconKind::Offline, true) => include_bytes!("../../icons/tray-offline-critical.png"),
        // The token problem is what the user must fix first.
        (IconKind::Unauthorized, _) => include_bytes!("../../icons/tray-unauthorized.png"),
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
    /// First menu line.
    pub status: String,
    /// The unread entry.
    pub unread: String,
    /// Label beside the icon (where the desktop shows one).
    pub title: Option<String>,
}

fn hhmm(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M").to_string()
}

fn secs_until(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (t - now).num_seconds().max(0)
}

/// What the tray should show for `s`. `critical` means a critical alert not
/// dismissed (see seen.rs).
pub fn look(s: &State, critical: bool, now: DateTime<Utc>) -> TrayLook {
    let data = match &s.source {
        DataSource::Demo => "demo data".to_string(),
        DataSource::Cache { saved_at } => format!("cached data from {}", hhmm(*saved_at)),
        DataSource::Server => match s.last_update {
            Some(t) => format!("data from {}", hhmm(t)),
            None => "no data yet".into(),
        },
    };
    let (icon, status) = match &s.connection {
        ConnectionState::Connecting { .. } => {
            (IconKind::Reconnecting, format!("Connecting… ({data})"))
        }
        ConnectionState::Live { .. } => (IconKind::Live, "Live".to_string()),
        ConnectionState::Reconnecting {
            attempt,
            next_retry_at,
            ..
        } => (
            IconKind::Reconnecting,
            format!(
                "Reconnecting in {}s, attempt {attempt} ({data})",
                secs_until(*next_retry_at, now)
            ),
        ),
        ConnectionState::Offline { since, .. } => (
            IconKind::Offline,
            format!("Offline since {}, {data}", hhmm(*since)),
        ),
        ConnectionState::Unauthorized { .. } => (
            IconKind::Unauthorized,
            "Unauthorized: check the token in Settings".to_string(),
        ),
        ConnectionState::Certificate { .. } => (
            IconKind::Unauthorized,
            "Certificate not trusted: check the server address".to_string(),
        ),
    };
    let critical = critical && icon != IconKind::Unauthorized;
    let status = if critical {
        format!("{status} · critical alert")
    } else {
        status
    };
    let n = s.unread_count;
    TrayLook {
        icon,
        critical,
        status: format!("Pulseboard: {status}"),
        unread: match n {
            0 => "No unread notifications".into(),
            1 => "1 unread notification".into(),
            n => format!("{n} unread notifications"),
        },
        title: (n > 0).then(|| n.to_string()),
    }
}

/// Handles to the parts of the tray that change.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    unread: MenuItem<R>,
    dnd: [CheckMenuItem<R>; 3],
    shown: std::sync::Mutex<Option<TrayLook>>,
}

impl<R: Runtime> Tray<R> {
    /// Build the tray icon and its menu.
    pub fn build(app: &AppHandle<R>, dnd: DndMode) -> tauri::Result<Self> {
        let item = |id: MenuId, text: &str, enabled: bool| {
            MenuItem::with_id(app, id.as_str(), text, enabled, None::<&str>)
        };
        let check = |id: MenuId, text: &str, on: bool| {
            CheckMenuItem::with_id(app, id.as_str(), text, true, on, None::<&str>)
        };
        let status = item(MenuId::Status, "Pulseboard: Connecting…", false)?;
        let unread = item(MenuId::Unread, "No unread notifications", true)?;
        let dnd_items = [
            check(MenuId::DndOff, "Off", dnd == DndMode::Off)?,
            check(
                MenuId::DndOn,
                "On (critical alerts still break through)",
                dnd == DndMode::On,
            )?,
            check(
                MenuId::DndSilence,
                "Silence everything",
                dnd == DndMode::SilenceAll,
            )?,
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
                &PredefinedMenuItem::separator(app)?,
                &item(MenuId::Open, "Open dashboard", true)?,
                &unread,
                &item(MenuId::MarkAllRead, "Mark all read", true)?,
                &dnd_menu,
                &PredefinedMenuItem::separator(app)?,
                &item(MenuId::Reconnect, "Reconnect now", true)?,
                &item(MenuId::Settings, "Settings…", true)?,
                &item(MenuId::Quit, "Quit Pulseboard", true)?,
            ],
        )?;
        let icon = TrayIconBuilder::with_id("pulseboard")
            .icon(Image::from_bytes(icon_png(IconKind::Reconnecting, false))?)
            .menu(&menu)
            .tooltip("Pulseboard")
            .show_menu_on_left_click(true)
            .build(app)?;
        Ok(Tray {
            icon,
            status,
            unread,
            dnd: dnd_items,
            shown: std::sync::Mutex::new(None),
        })
    }

    /// Show `l`, touching only what changed.
    pub fn show(&self, l: TrayLook) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let prev = shown.as_ref();
        let result = (|| -> tauri::Result<()> {
            if prev.map(|p| (p.icon, p.critical)) != Some((l.icon, l.critical)) {
                self.icon
                    .set_icon(Some(Image::from_bytes(icon_png(l.icon, l.critical))?))?;
            }
            if prev.map(|p| &p.status) != Some(&l.status) {
                self.status.set_text(&l.status)?;
                self.icon.set_tooltip(Some(&l.status))?;
            }
            if prev.map(|p| &p.unread) != Some(&l.unread) {
                self.unread.set_text(&l.unread)?;
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

    /// Tick the DND entry matching `dnd`, untick the others.
    pub fn set_dnd(&self, dnd: DndMode) {
        let modes = [DndMode::Off, DndMode::On, DndMode::SilenceAll];
        for (item, mode) in self.dnd.iter().zip(modes) {
            let _ = item.set_checked(mode == dnd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use pulseboard_core::TransportKind;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn every_state_has_its_icon_and_words() {
        let mut s = State::empty("http://x");
        s.source = DataSource::Demo;
        let l = look(&s, false, t(0));
        assert_eq!(l.icon, IconKind::Reconnecting);
        assert!(
            l.status.contains("Connecting") && l.status.contains("demo data"),
            "{}",
            l.status
        );

        s.connection = ConnectionState::Live {
            since: t(0),
            transport: TransportKind::Websocket,
        };
        assert_eq!(look(&s, false, t(0)).icon, IconKind::Live);
        let l = look(&s, true, t(0));
        assert_eq!(
            (l.icon, l.critical),
            (IconKind::Live, true),
            "unseen critical alert shows"
        );
        assert!(l.status.contains("critical alert"), "{}", l.status);

        s.connection = ConnectionState::Reconnecting {
            attempt: 3,
            next_retry_at: t(4),
            reason: "x".into(),
        };
        let l = look(&s, false, t(0));
        assert!(
            l.status.contains("Reconnecting in 4s, attempt 3"),
            "{}",
            l.status
        );

        s.source = DataSource::Cache { saved_at: t(0) };
        s.connection = ConnectionState::Offline {
            since: t(0),
            attempt: 7,
            next_retry_at: t(30),
            reason: "x".into(),
        };
        let l = look(&s, false, t(0));
        assert_eq!(l.icon, IconKind::Offline);
        assert!(
            l.status.contains("Offline since") && l.status.contains("cached data from"),
            "{}",
            l.status
        );

        s.connection = ConnectionState::Unauthorized {
            message: "unauthorized".into(),
        };
        let l = look(&s, true, t(0));
        assert_eq!(
            (l.icon, l.critical),
            (IconKind::Unauthorized, false),
            "the token problem wins over alerts"
        );
        assert!(l.status.contains("check the token"));

        s.connection = ConnectionState::Certificate {
            message: "certificate verify failed".into(),
        };
        let l = look(&s, true, t(0));
        assert_eq!(
            l.icon,
            IconKind::Unauthorized,
            "a settings problem wins too"
        );
        assert!(l.status.contains("Certificate"), "{}", l.status);
    }

    #[test]
    fn a_critical_alert_never_hides_the_connection_state() {
        let mut s = State::empty("http://x");
        s.source = DataSource::Cache { saved_at: t(0) };
        s.connection = ConnectionState::Offline {
            since: t(0),
            attempt: 7,
            next_retry_at: t(30),
            reason: "x".into(),
        };
        let l = look(&s, true, t(0));
        assert_eq!((l.icon, l.critical), (IconKind::Offline, true));
        assert!(l.status.contains("Offline since"), "{}", l.status);
        assert_ne!(
            icon_png(IconKind::Offline, true),
            icon_png(IconKind::Live, true),
            "offline with an alert is not drawn as live with an alert"
        );
        s.connection = ConnectionState::Reconnecting {
            attempt: 1,
            next_retry_at: t(1),
            reason: "x".into(),
        };
        let l = look(&s, true, t(0));
        assert_eq!((l.icon, l.critical), (IconKind::Reconnecting, true));
        // Every (state, dot) pair has its own picture, except Unauthorized.
        let kinds = [IconKind::Live, IconKind::Reconnecting, IconKind::Offline];
        let mut pngs: Vec<&[u8]> = kinds
            .iter()
            .flat_map(|k| [icon_png(*k, false), icon_png(*k, true)])
            .collect();
        pngs.push(icon_png(IconKind::Unauthorized, false));
        for (i, a) in pngs.iter().enumerate() {
            for b in &pngs[i + 1..] {
                assert_ne!(a, b, "two looks share one icon");
            }
        }
        // Dismissed: the plain state icon again.
        let l = look(&s, false, t(0));
        assert_eq!((l.icon, l.critical), (IconKind::Reconnecting, false));
    }

    #[test]
    fn unread_count_is_in_menu_and_title() {
        let mut s = State::empty("http://x");
        assert_eq!(look(&s, false, t(0)).title, None);
        s.unread_count = 1;
        assert_eq!(look(&s, false, t(0)).unread, "1 unread notification");
        s.unread_count = 12;
        let l = look(&s, false, t(0));
        assert_eq!(l.unread, "12 unread notifications");
        assert_eq!(l.title.as_deref(), Some("12"));
    }

    #[test]
    fn menu_ids_round_trip() {
        for m in MenuId::ALL {
            assert_eq!(MenuId::parse(m.as_str()), Some(m));
        }
        assert_eq!(MenuId::parse("nope"), None);
    }
}
