//! User settings: a JSON file in the XDG config dir, the token in a file of
//! its own with mode 0600. A bad file gives a clear error and defaults; it
//! never stops the app.

use std::io::Write;
use std::path::{Path, PathBuf};

use pulseboard_protocol::NotificationSeverity;
use serde::{Deserialize, Serialize};

use crate::render::RenderingMode;

/// Do-not-disturb level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DndMode {
    /// Everything notifies.
    #[default]
    Off,
    /// Only critical alerts break through.
    On,
    /// Nothing notifies.
    SilenceAll,
}

/// Native notifications for `notification:new`: off, or at/above a severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Threshold {
    /// No native notifications for notifications (alerts still notify).
    Off,
    /// info and above.
    Info,
    /// success and above.
    Success,
    /// warning and above: the first-run default, so a new user learns that
    /// the app can tell them without being flooded.
    #[default]
    Warning,
    /// error only.
    Error,
}

impl Threshold {
    /// The minimum severity, if any.
    pub fn severity(self) -> Option<NotificationSeverity> {
        match self {
            Threshold::Off => None,
            Threshold::Info => Some(NotificationSeverity::Info),
            Threshold::Success => Some(NotificationSeverity::Success),
            Threshold::Warning => Some(NotificationSeverity::Warning),
            Threshold::Error => Some(NotificationSeverity::Error),
        }
    }
}

/// What is saved in `settings.json` (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Settings {
    /// Server base URL.
    pub server: String,
    /// Do not disturb.
    pub dnd: DndMode,
    /// Native notifications for notifications.
    pub notify_threshold: Threshold,
    /// Start at login (XDG autostart entry).
    pub start_at_login: bool,
    /// How the window is drawn (`auto|gpu|software`; see render.rs). Only
    /// written when not `auto`.
    #[serde(skip_serializing_if = "RenderingMode::is_auto")]
    pub rendering: RenderingMode,
    /// PEM file of a private certificate authority trusted for `https://`
    /// servers in addition to the system roots (absolute path). Only written
    /// when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: "http://127.0.0.1:4000".into(),
            dnd: DndMode::Off,
            notify_threshold: Threshold::Warning,
            start_at_login: false,
            rendering: RenderingMode::Auto,
            ca: None,
        }
    }
}

/// Why settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid settings.
    #[error("{path} is not valid settings ({reason}); defaults are used")]
    Invalid {
        /// File.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
    /// A value the user gave is not acceptable.
    #[error("{0}")]
    Value(String),
}

/// Check a server URL: http(s) with a host.
pub fn validate_server(url: &str) -> Result<(), SettingsError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            SettingsError::Value(format!(
                "server \"{url}\" must start with http:// or https://"
            ))
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(SettingsError::Value(format!(
            "server \"{url}\" has no host"
        )));
    }
    Ok(())
}

/// Check a certificate authority file: an absolute path to a readable file
/// holding at least one PEM certificate. The error says which and why.
pub fn validate_ca(path: &Path) -> Result<(), SettingsError> {
    if !path.is_absolute() {
        return Err(SettingsError::Value(format!(
            "certificate authority \"{}\" must be an absolute path (e.g. /etc/pulseboard/ca.pem)",
            path.display()
        )));
    }
    crate::connection_test::ca_certificates(path)
        .map(|_| ())
        .map_err(SettingsError::Value)
}

/// The warning to show next to the server field when a token would go to
/// `server` over plain `http://` to a host that is not loopback (the rule is
/// the CLI's: [`pulseboard_core::plain_http`]). `None` without a token.
pub fn plain_http_warning(server: &str, has_token: bool) -> Option<String> {
    if !has_token {
        return None;
    }
    pulseboard_core::plain_token_warning(server).map(|w| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
            + "."
    })
}

/// The folder holding `settings.json` and `token`.
#[derive(Debug, Clone)]
pub struct SettingsDir {
    /// e.g. `~/.config/pulseboard`.
    pub dir: PathBuf,
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `$XDG_CONFIG_HOME` or `~/.config`.
pub fn config_home() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".config"))
}

/// `$XDG_CACHE_HOME/pulseboard` or `~/.cache/pulseboard`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache"))
        .join("pulseboard")
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), SettingsError> {
    let io = |source| SettingsError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

impl SettingsDir {
    /// The default place: `$XDG_CONFIG_HOME/pulseboard`.
    pub fn default_location() -> Self {
        SettingsDir {
            dir: config_home().join("pulseboard"),
        }
    }

    fn settings_path(&self) -> PathBuf {
        self.dir.join("settings.json")
    }

    fn token_path(&self) -> PathBuf {
        self.dir.join("token")
    }

    /// Load settings; a missing file gives defaults, a bad one defaults plus an error.
    pub fn load(&self) -> (Settings, Option<SettingsError>) {
        let path = self.settings_path();
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Settings::default(), None),
            Err(source) => (
                Settings::default(),
                Some(SettingsError::Io { path, source }),
            ),
            Ok(bytes) => match serde_json::from_slice::<Settings>(&bytes) {
                Ok(s) => match validate_server(&s.server) {
                    Ok(()) => (s, None),
                    Err(e) => (
                        Settings::default(),
                        Some(SettingsError::Invalid {
                            path,
                            reason: e.to_string(),
                        }),
                    ),
                },
                Err(e) => (
                    Settings::default(),
                    Some(SettingsError::Invalid {
                        path,
                        reason: e.to_string(),
                    }),
                ),
            },
        }
    }

    /// Save settings atomically.
    pub fn save(&self, s: &Settings) -> Result<(), SettingsError> {
        validate_server(&s.server)?;
        let json = serde_json::to_vec_pretty(s).map_err(|e| SettingsError::Value(e.to_string()))?;
        write_file(&self.settings_path(), &json, false)
    }

    /// The saved token, if any (trailing whitespace trimmed).
    pub fn load_token(&self) -> Option<String> {
        std::fs::read_to_string(self.token_path())
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    }

    /// Save (mode 0600) or remove the token.
    pub fn save_token(&self, token: Option<&str>) -> Result<(), SettingsError> {
        match token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => write_file(&self.token_path(), t.as_bytes(), true),
            None => match std::fs::remove_file(self.token_path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SettingsError::Io {
                    path: self.token_path(),
                    source: e,
                }),
                _ => Ok(()),
            },
        }
    }
}

/// Create or remove the XDG autostart entry.
pub fn set_autostart(enabled: bool, exe: &Path) -> Result<(), SettingsError> {
    let path = config_home().join("autostart").join("pulseboard.desktop");
    if enabled {
        let entry = format!(
            "[Desktop Entry]\nType=Application\nName=Pulseboard\nComment=Live business metrics and alerts\nExec=\"{}\" --hidden\nX-GNOME-Autostart-enabled=true\n",
            exe.display()
        );
        write_file(&path, entry.as_bytes(), false)
    } else {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(SettingsError::Io { path, source: e })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults_and_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let sd = SettingsDir {
            dir: d.path().join("pb"),
        };
        let (s, err) = sd.load();
        assert!(err.is_none());
        assert_eq!(s, Settings::default());
        let s = Settings {
            server: "https://metrics.example:8443".into(),
            dnd: DndMode::On,
            notify_threshold: Threshold::Warning,
            start_at_login: true,
            rendering: RenderingMode::Software,
            ca: Some(PathBuf::from("/etc/pulseboard/ca.pem")),
        };
        sd.save(&s).unwrap();
        assert_eq!(sd.load().0, s);
        // `auto` is not written, so older builds still read the file.
        sd.save(&Settings::default()).unwrap();
        let text = std::fs::read_to_string(d.path().join("pb/settings.json")).unwrap();
        assert!(!text.contains("rendering"), "{text}");
        assert!(!text.contains("\"ca\""), "no CA, no key: {text}");
    }

    #[test]
    fn a_token_over_plain_http_to_another_host_is_warned_about() {
        let w = plain_http_warning("http://10.0.0.5:4000", true).unwrap();
        assert!(
            w.starts_with("The token is sent over plain http:// to 10.0.0.5"),
            "{w}"
        );
        assert!(w.contains("https://"), "{w}");
        assert_eq!(
            plain_http_warning("http://10.0.0.5:4000", false),
            None,
            "no token, nothing sent"
        );
        assert_eq!(plain_http_warning("http://127.0.0.1:4000", true), None);
        assert_eq!(plain_http_warning("http://localhost:4000", true), None);
        assert_eq!(plain_http_warning("https://pulse.example.com", true), None);
    }

    #[test]
    fn a_certificate_authority_must_be_a_pem_file_at_an_absolute_path() {
        let d = tempfile::tempdir().unwrap();
        let e = validate_ca(Path::new("ca.pem")).unwrap_err().to_string();
        assert!(e.contains("absolute path"), "{e}");
        let missing = d.path().join("missing.pem");
        let e = validate_ca(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
        let junk = d.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let e = validate_ca(&junk).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn first_run_shows_warnings_and_errors_as_desktop_notifications() {
        assert_eq!(Settings::default().notify_threshold, Threshold::Warning);
        // A file saved before the default changed keeps its choice.
        let s: Settings = serde_json::from_str(r#"{"notifyThreshold": "off"}"#).unwrap();
        assert_eq!(s.notify_threshold, Threshold::Off);
    }

    #[test]
    fn bad_file_gives_defaults_and_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let sd = SettingsDir {
            dir: d.path().to_path_buf(),
        };
        std::fs::write(d.path().join("settings.json"), br#"{"server": 5}"#).unwrap();
        let (s, err) = sd.load();
        assert_eq!(s, Settings::default());
        assert!(err.unwrap().to_string().contains("not valid settings"));
        std::fs::write(d.path().join("settings.json"), br#"{"server": "ftp://x"}"#).unwrap();
        assert!(sd.load().1.unwrap().to_string().contains("http://"));
    }

    #[cfg(unix)]
    #[test]
    fn token_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let sd = SettingsDir {
            dir: d.path().to_path_buf(),
        };
        sd.save_token(Some("s3cret\n")).unwrap();
        let mode = std::fs::metadata(d.path().join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(sd.load_token().as_deref(), Some("s3cret"));
        sd.save_token(None).unwrap();
        assert_eq!(sd.load_token(), None);
    }

    #[test]
    fn server_urls_are_checked() {
        assert!(validate_server("http://127.0.0.1:4000").is_ok());
        assert!(validate_server("https://x.example/base").is_ok());
        assert!(validate_server("127.0.0.1:4000").is_err());
        assert!(validate_server("http://").is_err());
    }
}
