//! Pulseboard desktop shell: a thin Tauri 2 layer over `pulseboard-core`.
//!
//! The core (connection, store, cache, alert policy) knows nothing of Tauri.
//! This crate wires it to a tray, a webview window and native notifications.
//! [`build_app`] is generic over the Tauri runtime so the commands can be
//! driven through `tauri::test::mock_builder()` in tests.

mod app_core;
pub mod bridge;
pub mod commands;
pub mod connection_test;
pub mod notifier;
pub mod render;
pub mod settings;
pub mod tray;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use notifier::DesktopNotifier;
use pulseboard_core::alerts::{AlertPolicy, PolicyConfig};
use pulseboard_core::cache::{self, CacheWriter};
use pulseboard_core::notifier::{spawn_alerts, Notifier};
use pulseboard_core::{Client, ClientConfig, Store};
use tauri::{AppHandle, Manager, RunEvent, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::mpsc;

pub use app_core::AppCore;
use settings::SettingsDir;

/// Label of the dashboard window.
pub const MAIN_WINDOW: &str = "main";

/// Command line; env vars fill in what is not given.
#[derive(Debug, Parser)]
#[command(
    name = "pulseboard",
    version,
    about = "Live business metrics and alerts in your tray"
)]
pub struct Args {
    /// Server base URL (overrides the settings file for this run).
    #[arg(long, env = "PULSEBOARD_SERVER")]
    pub server: Option<String>,
    /// Token (overrides the saved token for this run).
    #[arg(long, env = "PULSEBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Start in the tray only, without opening the window.
    #[arg(long)]
    pub hidden: bool,
    /// Longest wait between reconnect attempts in ms (default 30000).
    #[arg(long, env = "PULSEBOARD_RETRY_MAX_MS")]
    pub retry_max_ms: Option<u64>,
    /// How the window is drawn: `auto` (GPU compositing where there is a
    /// GPU, software painting where GL would be software), `gpu` or
    /// `software`. Overrides `rendering` in settings.json.
    #[arg(long, env = "PULSEBOARD_RENDERING", value_enum)]
    pub rendering: Option<render::RenderingMode>,
    /// PEM file of a private certificate authority to trust in addition to
    /// the system roots (overrides `ca` in settings.json for this run).
    #[arg(long, value_name = "PEM", env = "PULSEBOARD_CA")]
    pub ca: Option<PathBuf>,
}

/// A view the window can be asked to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Module cards.
    Home,
    /// Dashboard.
    Dashboard,
    /// Notification panel.
    Notifications,
    /// Alert history.
    Alerts,
    /// Settings.
    Settings,
}

impl View {
    fn as_str(self) -> &'static str {
        match self {
            View::Home => "home",
            View::Dashboard => "dashboard",
            View::Notifications => "notifications",
            View::Alerts => "alerts",
            View::Settings => "settings",
        }
    }
}

/// True while no server is configured: no settings saved yet and no
/// `--server`/`PULSEBOARD_SERVER`. The window then opens on the first-run
/// setup (ui/js/views/setup.js asks `setup_needed`); saving settings ends it.
pub struct FirstRun(pub AtomicBool);

/// Open (or focus) the dashboard window, showing `view`.
pub fn open_window<R: Runtime>(app: &AppHandle<R>, view: View) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        w.show()?;
        w.unminimize()?;
        w.set_focus()?;
        bridge::emit_navigate(app, view.as_str());
        return Ok(());
    }
    let mut builder = WebviewWindowBuilder::new(
        app,
        MAIN_WINDOW,
        WebviewUrl::App(format!("index.html#{}", view.as_str()).into()),
    )
    .title("Pulseboard")
    .inner_size(1180.0, 800.0)
    .min_inner_size(720.0, 520.0);
    if let Some(core) = app.try_state::<AppCore>() {
        // The page's first frame can show the (cached) data without waiting
        // for IPC: get_state's answer, put in the page before its scripts run.
        // JSON is a valid JavaScript expression; the page only reads it.
        match serde_json::to_string(&commands::snapshot(&core)) {
            Ok(json) => {
                let script = format!("window.__PULSEBOARD_BOOT__ = {json};");
                builder = builder.initialization_script(&script);
            }
            Err(e) => tracing::warn!("no start-up snapshot for the window: {e}"),
        }
    }
    let window = builder.build()?;
    if let Some(core) = app.try_state::<AppCore>() {
        render::apply(&window, core.rendering());
    }
    tracing::info!("dashboard window opened");
    Ok(())
}

/// Options for [`build_app`].
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Create the tray icon (off under the mock runtime).
    pub tray: bool,
    /// Create the window at start (always in e2e mode: tauri-driver attaches
    /// to the first webview only).
    pub open_window: bool,
}

/// Register commands, state and the setup hook on `builder`.
pub fn build_app<R: Runtime>(
    builder: tauri::Builder<R>,
    core: AppCore,
    ui_rx: mpsc::UnboundedReceiver<View>,
    opts: BuildOptions,
) -> tauri::Builder<R> {
    builder
        .manage(core)
        .manage(bridge::Updates::default())
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::mark_read,
            commands::mark_all_read,
            commands::acknowledge_alerts,
            commands::diagnose_connection,
            commands::open_link,
            commands::reconnect,
            commands::get_settings,
            commands::save_settings,
            commands::setup_needed,
            commands::test_connection,
            commands::plain_http_warning,
            commands::kpi_history,
            bridge::subscribe_updates,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            // The window first: its web process starts while the tray is set up.
            if opts.open_window {
                open_window(&handle, View::Home)?;
            }
            if opts.tray {
                let dnd = handle.state::<AppCore>().settings().dnd;
                let tray = tray::Tray::build(&handle, dnd)?;
                app.manage(tray);
                app.on_menu_event(|app, ev| tray::on_menu(app, ev.id().as_ref()));
            }
            bridge::spawn(handle.clone());
            spawn_view_requests(handle.clone(), ui_rx);
            Ok(())
        })
}

/// Open the window on each view asked for (a notification's click).
fn spawn_view_requests<R: Runtime>(app: AppHandle<R>, mut ui_rx: mpsc::UnboundedReceiver<View>) {
    tauri::async_runtime::spawn(async move {
        while let Some(view) = ui_rx.recv().await {
            if let Err(e) = open_window(&app, view) {
                tracing::warn!("cannot open the window: {e}");
            }
        }
    });
}

fn icon_file() -> Option<PathBuf> {
    // notify-rust wants a path: keep a copy of the app icon in the cache dir.
    let p = settings::cache_dir().join("icon.png");
    if !p.exists() {
        std::fs::create_dir_all(p.parent()?).ok()?;
        // Atomically: a half-written icon would stay broken.
        pulseboard_core::files::write_atomically(&p, include_bytes!("../../icons/icon.png"), 0o644)
            .ok()?;
    }
    Some(p)
}

/// SIGTERM (logout, shutdown, `kill`) and SIGINT (Ctrl-C) quit like Quit in
/// the tray: disconnect cleanly and write the cache a last time, instead of
/// dying with what arrived in the last second unsaved.
fn quit_on_signals<R: Runtime>(app: AppHandle<R>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot watch SIGTERM/SIGINT: they end the app without saving");
        return;
    };
    tauri::async_runtime::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!("{name}: quitting (disconnect, save the cache)");
        if let Some(core) = app.try_state::<AppCore>() {
            core.set_quitting();
        }
        app.exit(0);
    });
}

/// What a second launch asks of the running app: open its window, unless
/// the second one was started with `--hidden` (start at login).
pub fn second_launch_opens_window(argv: &[String]) -> bool {
    !argv.iter().skip(1).any(|a| a == "--hidden")
}

/// One app per desktop session: a second `pulseboard` hands its arguments to
/// the first over D-Bus (which opens its window, see
/// [`second_launch_opens_window`]) and exits 0. Two copies would show every
/// alert twice and overwrite one cache.
fn single_instance<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri_plugin_single_instance::init(|app, argv, _cwd| {
        tracing::info!("another launch handed over to this one");
        if second_launch_opens_window(&argv) {
            if let Err(e) = open_window(app, View::Home) {
                tracing::warn!("cannot open the window for a second launch: {e}");
            }
        }
    })
}

/// How many times in a row a launch starts again after the instance it handed
/// over to went away ([`relaunch_after_lost_handover`]); counted in the
/// environment of the new process.
const RELAUNCH_ENV: &str = "PULSEBOARD_RELAUNCHED";
const MAX_RELAUNCHES: u32 = 5;

/// Whether the single-instance plugin failed because the instance holding
/// the name did not take the hand-over: it was quitting or killed (it drops
/// off the session bus without answering). The plugin reports this only as
/// text, and its setup error ends the app.
fn lost_handover(error: &str) -> bool {
    error.contains("single-instance") && error.contains("failed to forward arguments")
}

/// Start this program again with the same arguments, in place of this
/// process (Tauri builds its event loop once per process), once the bus has
/// dropped the dead instance's name; at most [`MAX_RELAUNCHES`] times. A user
/// who starts Pulseboard again just after it crashed or was killed gets the
/// app, not an error (seen in the e2e suite: a start right after the
/// previous app was killed exited with "Message recipient disconnected from
/// message bus without replying"). Returns only on failure.
fn relaunch_after_lost_handover() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let done: u32 = std::env::var(RELAUNCH_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if done >= MAX_RELAUNCHES {
        return std::io::Error::other(format!("gave up after {done} new starts"));
    }
    // The bus drops a dead connection's names as soon as it sees it closed:
    // a short pause, longer each time, is all it needs.
    std::thread::sleep(Duration::from_millis(100 * u64::from(done + 1)));
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return e,
    };
    tracing::warn!("the running instance went away during the hand-over: starting again");
    std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(RELAUNCH_ENV, (done + 1).to_string())
        .exec()
}

/// Run the desktop app. Returns the process exit code.
pub fn run() -> i32 {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    // One tokio runtime for core and Tauri's async work.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("pulseboard-rt")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pulseboard: cannot start the async runtime: {e}");
            return 1;
        }
    };
    tauri::async_runtime::set(rt.handle().clone());
    let _guard = rt.enter();

    let settings_dir = SettingsDir::default_location();
    let first_run = args.server.is_none() && !settings_dir.dir.join("settings.json").exists();
    let (mut settings, err) = settings_dir.load();
    if let Some(e) = err {
        tracing::warn!("{e}");
    }
    if let Some(server) = &args.server {
        if let Err(e) = settings::validate_server(server) {
            eprintln!("pulseboard: {e}");
            return 2;
        }
        settings.server = server.clone();
    }
    let token = args.token.clone().or_else(|| settings_dir.load_token());
    if let Some(ca) = &args.ca {
        // A relative path is taken from where the app was started.
        settings.ca = Some(std::path::absolute(ca).unwrap_or_else(|_| ca.clone()));
    }
    if let Some(w) = settings::plain_http_warning(&settings.server, token.is_some()) {
        tracing::warn!("{w}");
    }

    // Rendering path: decided from cheap facts before any window exists.
    let rendering = render::decide(&render::Facts::detect(args.rendering, settings.rendering));
    tracing::info!(
        path = rendering.path.as_str(),
        reason = %rendering.reason,
        "rendering path"
    );

    let cache_path = settings::cache_dir().join("state.json");
    let (state, err) = cache::initial_state(&cache_path, &settings.server, chrono::Utc::now());
    if let Some(e) = err {
        tracing::warn!("{e}");
    }
    let store = Store::new(state);
    let writer = CacheWriter::spawn(store.clone(), cache_path, Duration::from_secs(1));

    let mut config = ClientConfig::new(&settings.server);
    config.token = token.clone();
    // An unusable CA file puts the connection in the certificate state,
    // which says why (and the window leads to Settings to fix it).
    config.ca = settings.ca.clone();
    // One cache per server: the state of a store left for another is kept
    // beside the current cache and shown again when the app comes back to it.
    config.server_caches = Some(settings::cache_dir().join("servers"));
    if let Some(ms) = args.retry_max_ms {
        config.backoff.cap = Duration::from_millis(ms.max(100));
        config.backoff.initial = config.backoff.initial.min(config.backoff.cap);
    }
    let client = Client::start(config, store.clone());

    let core = AppCore::new(
        store,
        client.commands(),
        settings_dir,
        settings,
        token,
        rendering,
    );
    let (ui_tx, ui_rx) = mpsc::unbounded_channel();
    let notifier: Arc<dyn Notifier> = Arc::new(DesktopNotifier::new(
        "Pulseboard",
        icon_file(),
        Some(Arc::new(move |_id: String| {
            let _ = ui_tx.send(View::Dashboard);
        })),
    ));
    let alerts = spawn_alerts(
        core.store(),
        AlertPolicy::new(PolicyConfig::default()),
        notifier,
        core.policy_updates(),
    );

    let e2e = std::env::var_os("PULSEBOARD_E2E").is_some();
    let opts = BuildOptions {
        tray: true,
        open_window: !args.hidden || e2e,
    };
    // First plugin, so a second launch hands over before anything else starts.
    let builder = tauri::Builder::default()
        .plugin(single_instance())
        .manage(FirstRun(AtomicBool::new(first_run)));
    let app = match build_app(builder, core, ui_rx, opts).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) if lost_handover(&e.to_string()) => {
            // Only returns when it could not start again.
            let why = relaunch_after_lost_handover();
            eprintln!("pulseboard: the running instance went away while this launch handed over to it ({e}), and starting again failed: {why}");
            return 1;
        }
        Err(e) => {
            eprintln!("pulseboard: cannot start the window system: {e}");
            return 1;
        }
    };
    quit_on_signals(app.handle().clone());
    let lifecycle = Mutex::new(Some((client, writer)));
    app.run_return(move |handle, event| {
        if let RunEvent::ExitRequested { api, code, .. } = event {
            let quitting = handle
                .try_state::<AppCore>()
                .is_some_and(|c| c.is_quitting());
            if !quitting && code.is_none() {
                // Last window closed: live on in the tray.
                api.prevent_exit();
                return;
            }
            alerts.abort();
            if let Some((client, writer)) =
                lifecycle.lock().unwrap_or_else(|e| e.into_inner()).take()
            {
                // Disconnect cleanly and write the cache a last time.
                tauri::async_runtime::block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(3), client.shutdown()).await;
                    let _ = tokio::time::timeout(Duration::from_secs(3), writer.stop()).await;
                });
            }
        }
    })
}

/// End the process with `code` at once, without the C libraries' exit-time
/// destructors. tao keeps a thread blocked in Xlib's `XNextEvent` (raw key
/// events) for the life of the process; `exit()` tears down Xlib and libXi
/// while that thread may be handling an event (the key released after
/// choosing Quit), which crashed the app on the way out (SIGSEGV in
/// `XextFindDisplay`, caught by e2e/tests/desktop_parts.rs on a loaded
/// machine). Everything the app must do before it ends (disconnect, the last
/// cache write) is done by the time [`run`] returns.
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    #[cfg(unix)]
    // SAFETY: _exit(2) ends the process; nothing runs after it.
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(unix))]
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::second_launch_opens_window;

    #[test]
    fn only_a_hand_over_that_got_no_answer_starts_again() {
        use super::lost_handover;
        // The plugin's words (tauri-plugin-single-instance 2.5, Linux).
        assert!(lost_handover(
            "failed to initialize plugin `single-instance`: failed to forward arguments to the \
             running instance: org.freedesktop.DBus.Error.NoReply: Message recipient \
             disconnected from message bus without replying"
        ));
        assert!(!lost_handover(
            "failed to initialize plugin `single-instance`: invalid D-Bus address"
        ));
        assert!(!lost_handover("failed to create webview"));
    }

    #[test]
    fn a_second_launch_opens_the_window_unless_hidden() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(second_launch_opens_window(&argv(&["pulseboard"])));
        assert!(second_launch_opens_window(&argv(&[
            "/usr/bin/pulseboard",
            "--server",
            "http://x"
        ])));
        assert!(!second_launch_opens_window(&argv(&[
            "pulseboard",
            "--hidden"
        ])));
    }
}
