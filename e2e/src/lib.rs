//! Harness pieces shared by the end-to-end tests (`tests/`) and the desktop
//! benchmark (`bench/`): a private X server for a real window, and the
//! environment an app runs in on it.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// True when `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Screen size of the virtual display.
pub const SCREEN: &str = "1280x800x24";

/// A private Xvfb (display number chosen by the server itself, so parallel
/// runs never collide), stopped on drop.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Start Xvfb and wait until it has told us its display.
    pub fn start() -> std::io::Result<Xvfb> {
        Xvfb::start_screen(SCREEN)
    }

    /// Start Xvfb with a screen of `screen` (`WIDTHxHEIGHTxDEPTH`), e.g. to
    /// hold a 1920x1080 window.
    pub fn start_screen(screen: &str) -> std::io::Result<Xvfb> {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                screen,
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        let out = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no Xvfb stdout"))?;
        BufReader::new(out).read_line(&mut line)?;
        let n = line.trim();
        if n.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("Xvfb exited without a display"));
        }
        Ok(Xvfb {
            display: format!(":{n}"),
            child,
        })
    }
}

impl Xvfb {
    /// `program` on this display under its own D-Bus session, with private
    /// XDG dirs under `dirs`, no token, server, CA or rendering choice from the
    /// caller's environment (the app picks its rendering path itself, as it
    /// does for users), in its own process group (so the whole tree can be
    /// stopped).
    pub fn command(&self, dirs: &Path, program: &str) -> Command {
        let mut c = Command::new("dbus-run-session");
        c.args(["--", program])
            .env("DISPLAY", &self.display)
            .env("XDG_CONFIG_HOME", dirs.join("config"))
            .env("XDG_CACHE_HOME", dirs.join("cache"))
            .env("XDG_DATA_HOME", dirs.join("data"))
            .env("NO_AT_BRIDGE", "1")
            .env_remove("PULSEBOARD_TOKEN")
            .env_remove("PULSEBOARD_SERVER")
            .env_remove("PULSEBOARD_CA")
            .env_remove("PULSEBOARD_RENDERING")
            .env_remove("WEBKIT_DISABLE_COMPOSITING_MODE")
            .process_group(0);
        c
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Send one W3C WebDriver command and unwrap its answer: the `value`, or the
/// `value` of an error answer as the error text.
pub async fn webdriver(req: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
    let v: serde_json::Value = req
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if v["value"].get("error").is_some() {
        return Err(v["value"].to_string());
    }
    Ok(v["value"].clone())
}
