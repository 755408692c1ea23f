//! Harness pieces shared by the end-to-end tests (`tests/`) and the desktop
//! benchmark (`bench/`): a private X server for a real window, the
//! environment an app runs in on it, and the one W3C WebDriver client
//! ([`Driver`], [`Session`]) that drives the app through tauri-driver.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod single_instance;

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
        // -noreset: by default the X server resets when its last client
        // leaves, and a client connecting during the reset is refused ("cannot
        // open display"). A short-lived client (xdotool, import) could be the
        // last one while a desktop part was still starting.
        let mut child = Command::new("Xvfb")
            .args([
                "-noreset",
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
        c.args(["--", program]);
        self.environment(&mut c, dirs);
        c
    }

    /// [`Xvfb::command`] on a session bus the caller started (`address`),
    /// shared with other programs (a notification daemon).
    pub fn command_on_bus(&self, dirs: &Path, program: &Path, address: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DBUS_SESSION_BUS_ADDRESS", address);
        self.environment(&mut c, dirs);
        c
    }

    fn environment(&self, c: &mut Command, dirs: &Path) {
        c.env("DISPLAY", &self.display)
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
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Upper bound for anything awaited; a first debug WebKit start is slow.
pub const WAIT: Duration = Duration::from_secs(60);

/// How often a condition is polled (WebDriver has no push).
const POLL: Duration = Duration::from_millis(100);

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The debug app binary the end-to-end tests drive (built by
/// `cargo build -p pulseboard`); panics with that hint when it is missing.
pub fn app_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let p = target.join("debug/pulseboard");
    assert!(
        p.exists(),
        "{} missing: build with `cargo build -p pulseboard`",
        p.display()
    );
    p
}

pub use pulseboard_testkit::free_port;

/// Poll `f` until it gives `Ok`, or panic with `what` and the last `Err`
/// after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match f().await {
            Ok(v) => return v,
            Err(e) => e,
        };
        if Instant::now() > deadline {
            panic!("{what}: not within {within:?}; last: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

impl Xvfb {
    /// Run `xdotool` on this display; its output, or what went wrong.
    pub fn xdotool(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .map_err(|e| format!("xdotool: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "xdotool {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// The visible windows `xdotool search --onlyvisible` finds with `args`
    /// (none when it finds none).
    pub fn visible(&self, args: &[&str]) -> Vec<String> {
        let mut a = vec!["search", "--onlyvisible"];
        a.extend_from_slice(args);
        // No match is exit status 1.
        self.xdotool(&a)
            .map(|o| o.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The pixels of a part of the screen (x, y, width, height), as
    /// (r, g, b) rows from the top left, from ImageMagick's `import`.
    pub fn pixels(&self, x: i64, y: i64, w: i64, h: i64) -> Result<Vec<[u8; 3]>, String> {
        let o = Command::new("import")
            .args(["-display", &self.display, "-window", "root", "-crop"])
            .arg(format!("{w}x{h}+{x}+{y}"))
            .args(["-depth", "8", "rgb:-"])
            .output()
            .map_err(|e| format!("import: {e}"))?;
        if !o.status.success() || o.stdout.len() != (w * h * 3) as usize {
            return Err(format!(
                "import gave {} bytes for {w}x{h}: {}",
                o.stdout.len(),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(o.stdout.chunks(3).map(|p| [p[0], p[1], p[2]]).collect())
    }

    /// Screenshot of the virtual screen as a person would see it (`crop`:
    /// x, y, width, height), into `test-artifacts/{name}.png`. WebDriver's
    /// own screenshot waits for a new frame, which a still page under Xvfb
    /// never paints. A failure is reported, not fatal.
    pub fn shot(&self, name: &str, crop: Option<(i64, i64, i64, i64)>) {
        let dir = repo().join("test-artifacts");
        let _ = std::fs::create_dir_all(&dir);
        let out = dir.join(format!("{name}.png"));
        let mut c = Command::new("import");
        c.args(["-display", &self.display, "-window", "root"]);
        if let Some((x, y, w, h)) = crop {
            c.args(["-crop", &format!("{w}x{h}+{x}+{y}")]);
        }
        if !c.arg(&out).status().is_ok_and(|s| s.success()) {
            eprintln!("screenshot {name} failed");
        }
    }
}

/// tauri-driver (and the WebKitWebDriver it starts), in its own process
/// group, stopped with it on drop (TERM, then KILL after 5 s).
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Driver {
    /// Start `tauri` (a prepared `tauri-driver` command, e.g. from
    /// [`Xvfb::command`], with the environment the app should get) on free
    /// ports, its output discarded.
    pub fn spawn(tauri: Command) -> std::io::Result<Driver> {
        Driver::spawn_logged(tauri, None)
    }

    /// [`Driver::spawn`], with the output of tauri-driver, WebKitWebDriver
    /// and the app (they inherit it) appended to `log` when given.
    pub fn spawn_logged(mut tauri: Command, log: Option<&Path>) -> std::io::Result<Driver> {
        let port = free_port();
        let native = free_port();
        let (out, err) = match log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                (Stdio::from(f.try_clone()?), Stdio::from(f))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = tauri
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(out)
            .stderr(err)
            .spawn()?;
        Ok(Driver {
            child,
            port,
            http: reqwest::Client::new(),
        })
    }

    /// tauri-driver's pid (its process group: the app runs below it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Start `app` with `args` (a new WebDriver session), retrying until
    /// tauri-driver listens, for up to [`WAIT`].
    pub async fn session(&self, app: &Path, args: &[&str]) -> Result<Session, String> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app, "args": args}
        }}});
        let base = format!("http://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + WAIT;
        loop {
            match self
                .http
                .post(format!("{base}/session"))
                .json(&caps)
                // WebKitWebDriver waits for the app to connect: an app that
                // died at start would otherwise hang the test for ever.
                .timeout(WAIT)
                .send()
                .await
            {
                Ok(resp) => {
                    let v: Value = resp
                        .json()
                        .await
                        .map_err(|e| format!("session answer: {e}"))?;
                    let sid = v["value"]["sessionId"]
                        .as_str()
                        .ok_or_else(|| format!("no session: {v}"))?;
                    return Ok(Session {
                        http: self.http.clone(),
                        base: format!("{base}/session/{sid}"),
                    });
                }
                // tauri-driver not listening yet: retry until the deadline.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(format!("no WebDriver session: {e}")),
            }
        }
    }

    /// The pid of the running `app` (a descendant of tauri-driver whose
    /// executable is `app`).
    pub fn app_pid(&self, app: &Path) -> Option<u32> {
        let want = std::fs::canonicalize(app).ok()?;
        let mut kids: std::collections::HashMap<u32, Vec<u32>> = Default::default();
        for e in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name (which may hold spaces): state, ppid, ...
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.to_string()) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                kids.entry(ppid).or_default().push(pid);
            }
        }
        let mut todo = vec![self.child.id()];
        while let Some(p) = todo.pop() {
            for &k in kids.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
                if std::fs::read_link(format!("/proc/{k}/exe")).ok().as_ref() == Some(&want) {
                    return Some(k);
                }
                todo.push(k);
            }
        }
        None
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// Stop the process group that `child` leads (started with
/// `process_group(0)`): TERM, then KILL if the leader is still there after
/// 5 s; the leader is reaped.
fn stop_group(child: &mut Child) {
    let pg = format!("-{}", child.id());
    let kill = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &pg])
            .stderr(Stdio::null())
            .status();
    };
    kill("-TERM");
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill("-KILL");
    let _ = child.wait();
}

/// A program started in a process group of its own (e.g. by
/// [`Xvfb::command`]), its output in a log file; the group is stopped on
/// drop (TERM, then KILL after 5 s).
#[derive(Debug)]
pub struct Group(Child);

impl Group {
    /// Start `c` with stdout and stderr going to a new file `log`.
    pub fn spawn_logged(mut c: Command, log: &Path) -> std::io::Result<Group> {
        let f = std::fs::File::create(log)?;
        c.stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
        c.spawn().map(Group)
    }

    /// The leader's pid (the process group's id).
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// The leader's exit status, if it has ended.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.0.try_wait()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        stop_group(&mut self.0);
    }
}

/// Send one W3C WebDriver command and unwrap its answer: the `value`, or the
/// `value` of an error answer as the error text.
async fn webdriver(req: reqwest::RequestBuilder) -> Result<Value, String> {
    let v: Value = req
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

/// Page script: the text of the first element matching `arguments[0]`
/// (null: none). Read through a script: WebKitWebDriver's "Get Element
/// Text" returns "" here.
const TEXT_OF: &str =
    "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;";

/// As [`TEXT_OF`], null also for an element that is `hidden`.
const SHOWN_TEXT_OF: &str =
    "const e = document.querySelector(arguments[0]); return e && !e.hidden ? e.innerText : null;";

/// One W3C WebDriver session (one running app), spoken over HTTP.
///
/// The `Result` methods are the client; the others are test helpers that
/// panic with what was expected (they wait up to [`WAIT`]).
#[derive(Debug)]
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    /// One command on this session (`path` below `/session/{id}`).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut r = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .timeout(WAIT);
        if let Some(b) = body {
            r = r.json(&b);
        }
        webdriver(r).await
    }

    /// Run `script` in the page (`arguments[i]` are `args`).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Run `script` in the page; it ends by calling its last argument.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// End the session: the app quits.
    pub async fn close(self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
    }

    /// Run `script`; panics when it fails.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Text of the first element matching `css`, trimmed (None: no such element).
    pub async fn try_text_of(&self, css: &str) -> Result<Option<String>, String> {
        self.text_by(TEXT_OF, css).await
    }

    /// As [`Session::try_text_of`]; panics when the script fails.
    pub async fn text_of(&self, css: &str) -> Option<String> {
        self.try_text_of(css)
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Text of the first element matching `css` unless it is hidden (None:
    /// no such element, hidden, or the script failed).
    pub async fn shown_text_of(&self, css: &str) -> Option<String> {
        self.text_by(SHOWN_TEXT_OF, css).await.ok().flatten()
    }

    async fn text_by(&self, script: &str, css: &str) -> Result<Option<String>, String> {
        let v = self.execute(script, vec![json!(css)]).await?;
        Ok(v.as_str().map(|s| s.trim().to_string()))
    }

    /// Wait until `css`'s text satisfies `ok`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_text_by(TEXT_OF, css, what, ok).await
    }

    /// As [`Session::wait_text`], a hidden element counting as absent.
    pub async fn wait_shown_text(
        &self,
        css: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        self.wait_text_by(SHOWN_TEXT_OF, css, what, ok).await
    }

    async fn wait_text_by(
        &self,
        script: &str,
        css: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        eventually(WAIT, what, || async {
            match self.text_by(script, css).await {
                Ok(Some(t)) if ok(&t) => Ok(t),
                Ok(Some(t)) => Err(format!("`{css}` never matched; last text {t:?}")),
                Ok(None) => Err(format!("`{css}` never matched; no element {css}")),
                Err(e) => Err(format!("`{css}` never matched; script failed: {e}")),
            }
        })
        .await
    }

    /// Wait until the script `cond` (returning a boolean) is true.
    pub async fn wait_js(&self, what: &str, cond: &str) {
        eventually(WAIT, what, || async {
            match self.execute(cond, vec![]).await {
                Ok(Value::Bool(true)) => Ok(()),
                Ok(v) => Err(format!("never true: {cond} (last {v})")),
                Err(e) => Err(format!("never true: {cond} (script failed: {e})")),
            }
        })
        .await
    }

    /// Run `script` on the first element matching `css` (`arguments[0]`:
    /// the selector, then `args`; it returns false when there is no
    /// element). Panics with `missing` when there is none.
    async fn on_element(&self, css: &str, args: &[&str], script: &str, missing: &str) {
        let args = std::iter::once(css)
            .chain(args.iter().copied())
            .map(Value::from)
            .collect();
        let found = self
            .execute(
                &format!("const e = document.querySelector(arguments[0]); if (!e) return false; {script} return true;"),
                args,
            )
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        assert_eq!(found, json!(true), "{missing} at {css}");
    }

    /// Click like a user: the element's own click(). Panics when there is
    /// nothing at `css`.
    pub async fn click(&self, css: &str) {
        self.on_element(css, &[], "e.click();", "nothing to click")
            .await;
    }

    /// Type `value` into the field at `css` as a user would leave it
    /// (focused, value set, `input` fired). Panics when there is no field.
    pub async fn type_into(&self, css: &str, value: &str) {
        self.on_element(
            css,
            &[value],
            "e.focus(); e.value = arguments[1]; e.dispatchEvent(new Event('input', {bubbles: true}));",
            "no field",
        )
        .await;
    }

    /// Choose `value` in the `<select>` at `css` as a user would (fires
    /// `change`). Panics when there is no such select.
    pub async fn choose(&self, css: &str, value: &str) {
        self.on_element(
            css,
            &[value],
            "e.value = arguments[1]; e.dispatchEvent(new Event('change', {bubbles: true}));",
            "no select",
        )
        .await;
    }

    /// Press keys (W3C key values, e.g. [`TAB`]) one after another.
    pub async fn keys(&self, keys: &[&str]) {
        let actions = keys
            .iter()
            .flat_map(|k| [("keyDown", k), ("keyUp", k)])
            .collect();
        self.key_actions(actions).await;
    }

    /// Press `keys` together (e.g. Shift, Tab), then let go in reverse order.
    pub async fn chord(&self, keys: &[&str]) {
        let down = keys.iter().map(|k| ("keyDown", k));
        let up = keys.iter().rev().map(|k| ("keyUp", k));
        self.key_actions(down.chain(up).collect()).await;
    }

    async fn key_actions(&self, actions: Vec<(&str, &&str)>) {
        let actions: Vec<Value> = actions
            .into_iter()
            .map(|(kind, k)| json!({"type": kind, "value": k}))
            .collect();
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await
        .expect("key actions");
    }

    /// Two animation frames: whatever was queued is drawn.
    pub async fn frames(&self) {
        let _ = self
            .execute_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
    }

    /// Resize the window and wait until the page has the new width.
    pub async fn size(&self, w: u32, h: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": w, "height": h})),
        )
        .await
        .expect("resize the window");
        eventually(WAIT, &format!("window {w}x{h}"), || async {
            let v = self.js("return [innerWidth, innerHeight]", vec![]).await;
            let iw = v[0].as_i64().unwrap_or(0);
            if iw > 0 && (iw - w as i64).abs() <= 16 {
                Ok(())
            } else {
                Err(format!("never happened (page {v})"))
            }
        })
        .await;
        self.frames().await;
    }

    /// The window's place on the screen: x, y, width, height.
    pub async fn rect(&self) -> (i64, i64, i64, i64) {
        let r = self
            .call(reqwest::Method::GET, "/window/rect", None)
            .await
            .expect("window rect");
        let g = |k: &str| r[k].as_f64().unwrap_or(0.0) as i64;
        (g("x").max(0), g("y").max(0), g("width"), g("height"))
    }
}

/// W3C key value of Tab.
pub const TAB: &str = "\u{E004}";
/// W3C key value of Enter.
pub const ENTER: &str = "\u{E007}";

/// What the end-to-end tests run an app in: a private Xvfb, private XDG
/// dirs and a tauri-driver on them (test helper: panics on failure).
#[derive(Debug)]
pub struct Desktop {
    /// Stopped before the X server it draws on.
    pub driver: Driver,
    pub xvfb: Xvfb,
    dirs: tempfile::TempDir,
}

impl Desktop {
    /// Check `tools` are installed, start Xvfb with `screen`, and
    /// tauri-driver on it with `PULSEBOARD_RETRY_MAX_MS=1000` (a retry loop
    /// shows within a second); `setup` adds to tauri-driver's command (the
    /// app inherits it) given the private dirs.
    pub fn start(screen: &str, tools: &[&str], setup: impl FnOnce(&Path, &mut Command)) -> Desktop {
        for tool in [
            "Xvfb",
            "dbus-run-session",
            "tauri-driver",
            "WebKitWebDriver",
        ]
        .iter()
        .chain(tools)
        {
            assert!(
                have(tool),
                "{tool} is missing: run scripts/test.sh, which installs it"
            );
        }
        // Our own X server: it picks its display number itself.
        let xvfb = Xvfb::start_screen(screen).expect("start Xvfb");
        let dirs = tempfile::tempdir().unwrap();
        let mut tauri = xvfb.command(dirs.path(), "tauri-driver");
        tauri.env("PULSEBOARD_RETRY_MAX_MS", "1000");
        setup(dirs.path(), &mut tauri);
        let driver =
            Driver::spawn_logged(tauri, Some(&dirs.path().join(LOG))).expect("start tauri-driver");
        Desktop { driver, xvfb, dirs }
    }

    /// The private dirs (`config/`, `cache/`, `data/` are the app's XDG dirs).
    pub fn dirs(&self) -> &Path {
        self.dirs.path()
    }

    /// Start the debug app ([`app_binary`]) with these arguments.
    pub async fn app(&self, args: &[&str]) -> Session {
        // The app is single-instance: one still quitting (a closed session)
        // would take the new start's arguments and the new process would
        // exit at once, leaving WebKitWebDriver waiting for it.
        let deadline = Instant::now() + WAIT;
        while let Some(pid) = self.app_pid() {
            assert!(
                Instant::now() < deadline,
                "the previous app (pid {pid}) did not quit"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        match self.driver.session(&app_binary(), args).await {
            Ok(s) => s,
            Err(e) => panic!("{e}\n{}", self.post_mortem()),
        }
    }

    /// What a failed start leaves to read: whether the app runs (and then
    /// where each of its threads is waiting, from gdb), and the end of the
    /// desktop's log (tauri-driver, WebKitWebDriver and the app).
    pub fn post_mortem(&self) -> String {
        let mut out = String::new();
        match self.app_pid() {
            None => out.push_str("the app is not running (it exited or never started)\n"),
            Some(pid) => {
                out.push_str(&format!("the app runs (pid {pid}); its threads:\n"));
                let bt = Command::new("timeout")
                    .args(["30", "gdb", "-p", &pid.to_string(), "-batch", "-ex"])
                    .arg("thread apply all bt 12")
                    .stdin(Stdio::null())
                    .output();
                match bt {
                    Ok(o) => {
                        let text = String::from_utf8_lossy(&o.stdout);
                        for line in text
                            .lines()
                            .filter(|l| l.starts_with("Thread ") || l.starts_with('#'))
                        {
                            out.push_str(line);
                            out.push('\n');
                        }
                    }
                    Err(e) => out.push_str(&format!("(no gdb: {e})\n")),
                }
            }
        }
        let log = std::fs::read_to_string(self.dirs().join(LOG)).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        out.push_str("last lines of the desktop's log:\n");
        for l in &lines[lines.len().saturating_sub(40)..] {
            out.push_str(l);
            out.push('\n');
        }
        out
    }

    /// The running app's pid.
    pub fn app_pid(&self) -> Option<u32> {
        self.driver.app_pid(&app_binary())
    }

    /// Screenshot into `test-artifacts/{name}.png` (see [`Xvfb::shot`]).
    pub fn shot(&self, name: &str, crop: Option<(i64, i64, i64, i64)>) {
        self.xvfb.shot(name, crop);
    }
}

/// The desktop's log file (in [`Desktop::dirs`]).
const LOG: &str = "desktop.log";

/// The token the in-process [`Server`] asks for.
pub const TOKEN: &str = "e2e-token";

/// A pulseboard-server in-process on 127.0.0.1 (token [`TOKEN`], no
/// simulator) that can be stopped and started again on the same port and
/// database (test helper: panics on failure).
#[derive(Debug)]
pub struct Server {
    addr: std::net::SocketAddr,
    db: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The temp dir holding `db`, when the server owns it.
    dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on the database `db`, at `addr` (None: a free port).
    pub async fn start(db: PathBuf, addr: Option<std::net::SocketAddr>) -> Server {
        let listener = tokio::net::TcpListener::bind(
            addr.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        )
        .await
        .expect("bind");
        let addr = listener.local_addr().unwrap();
        let mut config = pulseboard_server::Config::new(&db);
        config.simulator = false;
        config.token = Some(TOKEN.into());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            pulseboard_server::run(listener, config, async move {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        Server {
            addr,
            db,
            stop: Some(tx),
            task: Some(task),
            dir: None,
        }
    }

    /// A server on the database `s.db` in `dir` (which it keeps; a test may
    /// have stored something there first).
    pub async fn start_in(dir: tempfile::TempDir) -> Server {
        let mut s = Server::start(dir.path().join("s.db"), None).await;
        s.dir = Some(dir);
        s
    }

    /// A server on a database of its own.
    pub async fn temp() -> Server {
        Server::start_in(tempfile::tempdir().unwrap()).await
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop it (gracefully), waiting until it has.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            // A stopping server must stop: a hang fails here, not forever.
            tokio::time::timeout(WAIT, t)
                .await
                .expect("the server stops within the deadline")
                .ok();
        }
    }

    /// Stop it and start a new one on the same port and database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let dir = self.dir.take();
        *self = Server::start(self.db.clone(), Some(self.addr)).await;
        self.dir = dir;
    }

    /// One request to its HTTP API with the token; panics unless it succeeds.
    pub async fn http(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = reqwest::Client::new()
            .request(method, format!("{}{}", self.url(), path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("http");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// Raise an alert; returns it as stored.
    pub async fn alert(&self, severity: &str, title: &str, message: &str) -> Value {
        self.http(
            reqwest::Method::POST,
            "/api/alerts",
            Some(json!({"title": title, "message": message, "severity": severity})),
        )
        .await
    }

    /// Post a notification.
    pub async fn notify(&self, severity: &str, title: &str, body: &str) {
        self.http(
            reqwest::Method::POST,
            "/api/notifications",
            Some(json!({"title": title, "body": body, "severity": severity})),
        )
        .await;
    }

    /// Replace `module`'s KPIs.
    pub async fn kpis(&self, module: &str, kpis: Value) {
        self.http(
            reqwest::Method::PUT,
            &format!("/api/kpis/{module}"),
            Some(json!({ "kpis": kpis })),
        )
        .await;
    }
}
