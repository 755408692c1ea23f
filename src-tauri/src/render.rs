//! How the window is drawn: with WebKit's accelerated compositing (GL) or in
//! software without it.
//!
//! WebKitGTK composites the page with OpenGL by default. Where GL is itself
//! done in software (llvmpipe/softpipe: virtual machines, remote desktops,
//! thin clients, Xvfb), that compositing costs several times the CPU of plain
//! software painting: measured here, 79 % of a core against 12 % at 10 KPI
//! updates/s (BENCHMARKS.md). So the app looks at cheap facts at start (no GL
//! context is created): is there a DRM render node, and is it a real GPU's;
//! does the environment ask for software GL. It keeps compositing where a GPU
//! is there and turns it off for its webview where there is none, and logs
//! which path it took and why.
//!
//! [`decide`] is pure, over [`Facts`]; [`Facts::detect`] reads the machine;
//! [`apply`] sets the webview's hardware-acceleration policy.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// What the user asked for (`--rendering`, `PULSEBOARD_RENDERING`, or
/// `"rendering"` in settings.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RenderingMode {
    /// Decide from the machine (the default).
    #[default]
    Auto,
    /// Always composite with the GPU (WebKit's own default).
    Gpu,
    /// Never composite: software painting only.
    Software,
}

impl RenderingMode {
    /// True for [`RenderingMode::Auto`] (lets settings.json omit it).
    pub fn is_auto(&self) -> bool {
        *self == RenderingMode::Auto
    }
}

/// The path taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderPath {
    /// Accelerated compositing (WebKit's default).
    Gpu,
    /// Compositing off for the webview: software painting.
    Software,
}

impl RenderPath {
    /// Name used in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            RenderPath::Gpu => "gpu",
            RenderPath::Software => "software",
        }
    }
}

/// One DRM render node (`/dev/dri/renderD*`) and its kernel driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderNode {
    /// `renderD128`.
    pub name: String,
    /// Kernel driver (`i915`, `amdgpu`, `virtio_gpu`, `vgem`, ...), if known.
    pub driver: Option<String>,
}

/// Kernel DRM drivers whose render node has no GPU behind it.
const SOFTWARE_DRIVERS: &[&str] = &["vgem", "vkms"];
/// Mesa's software rasterisers (`GALLIUM_DRIVER`, `MESA_LOADER_DRIVER_OVERRIDE`).
const SOFTWARE_GL: &[&str] = &["llvmpipe", "softpipe", "swrast", "lavapipe"];

/// Everything [`decide`] looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Asked for on the command line or in the environment (wins), and where.
    pub requested: Option<(RenderingMode, &'static str)>,
    /// `rendering` from settings.json.
    pub setting: RenderingMode,
    /// `WEBKIT_DISABLE_COMPOSITING_MODE` is set (non-empty, not `0`).
    pub webkit_compositing_disabled: bool,
    /// `LIBGL_ALWAYS_SOFTWARE` is set (non-empty, not `0`).
    pub libgl_always_software: bool,
    /// `GALLIUM_DRIVER` or `MESA_LOADER_DRIVER_OVERRIDE`, lower case.
    pub gl_driver_override: Option<String>,
    /// The render nodes present.
    pub render_nodes: Vec<RenderNode>,
}

/// The path and the reason, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Path taken.
    pub path: RenderPath,
    /// Why, in words.
    pub reason: String,
    /// The user asked for this path (not detected).
    pub forced: bool,
}

fn set(v: Option<std::ffi::OsString>) -> bool {
    v.is_some_and(|v| !v.is_empty() && v != "0")
}

impl Facts {
    /// Read the facts from this machine and process. `requested` comes from
    /// the command line / `PULSEBOARD_RENDERING` (clap fills both).
    pub fn detect(requested: Option<RenderingMode>, setting: RenderingMode) -> Facts {
        let gl_driver_override = ["GALLIUM_DRIVER", "MESA_LOADER_DRIVER_OVERRIDE"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .map(|v| v.to_ascii_lowercase());
        // clap takes the flag over the environment variable.
        let flag = std::env::args().any(|a| a == "--rendering" || a.starts_with("--rendering="));
        let requested = requested.map(|m| {
            let from = if flag {
                "--rendering"
            } else {
                "PULSEBOARD_RENDERING"
            };
            (m, from)
        });
        Facts {
            requested,
            setting,
            webkit_compositing_disabled: set(std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE")),
            libgl_always_software: set(std::env::var_os("LIBGL_ALWAYS_SOFTWARE")),
            gl_driver_override,
            render_nodes: render_nodes(Path::new("/dev/dri"), Path::new("/sys/class/drm")),
        }
    }
}

/// The render nodes under `dev` (`/dev/dri`), with their drivers from `sys`
/// (`/sys/class/drm/renderD*/device/driver` -> `.../drivers/<name>`).
pub fn render_nodes(dev: &Path, sys: &Path) -> Vec<RenderNode> {
    let Ok(entries) = std::fs::read_dir(dev) else {
        return Vec::new();
    };
    let mut nodes: Vec<RenderNode> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("renderD"))
        .map(|name| {
            let driver = std::fs::read_link(sys.join(&name).join("device/driver"))
                .ok()
                .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()));
            RenderNode { name, driver }
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// Which path to take, and why. Pure.
pub fn decide(f: &Facts) -> Decision {
    let forced = |mode: RenderingMode, from: &str| match mode {
        RenderingMode::Gpu => Some(Decision {
            path: RenderPath::Gpu,
            reason: format!("{from} asks for gpu"),
            forced: true,
        }),
        RenderingMode::Software => Some(Decision {
            path: RenderPath::Software,
            reason: format!("{from} asks for software"),
            forced: true,
        }),
        RenderingMode::Auto => None,
    };
    if let Some(d) = f.requested.and_then(|(m, from)| forced(m, from)) {
        return d;
    }
    if let Some(d) = forced(f.setting, "settings.json (rendering)") {
        return d;
    }
    let software = |reason: String| Decision {
        path: RenderPath::Software,
        reason,
        forced: false,
    };
    if f.webkit_compositing_disabled {
        return software("WEBKIT_DISABLE_COMPOSITING_MODE is set".into());
    }
    if f.libgl_always_software {
        return software("LIBGL_ALWAYS_SOFTWARE is set: GL is software".into());
    }
    if let Some(d) = &f.gl_driver_override {
        if SOFTWARE_GL.contains(&d.as_str()) {
            return software(format!("the GL driver is forced to {d} (software)"));
        }
    }
    if f.render_nodes.is_empty() {
        return software("no GPU render node (/dev/dri/renderD*): GL would be software".into());
    }
    let gpus: Vec<&RenderNode> = f
        .render_nodes
        .iter()
        .filter(|n| {
            !n.driver
                .as_deref()
                .is_some_and(|d| SOFTWARE_DRIVERS.contains(&d))
        })
        .collect();
    match gpus.first() {
        None => software(format!(
            "render nodes without a GPU behind them ({})",
            f.render_nodes
                .iter()
                .map(|n| format!("{}: {}", n.name, n.driver.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(n) => Decision {
            path: RenderPath::Gpu,
            reason: format!(
                "GPU render node {} (driver {})",
                n.name,
                n.driver.as_deref().unwrap_or("unknown")
            ),
            forced: false,
        },
    }
}

/// Set the webview's hardware-acceleration policy for `path`. Software turns
/// accelerated compositing off (`Never`); GPU leaves WebKit's default unless
/// it was asked for, then `Always`.
pub fn apply<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>, d: &Decision) {
    let path = d.path;
    if path == RenderPath::Gpu && !d.forced {
        return;
    }
    let r = window.with_webview(move |wv| {
        #[cfg(target_os = "linux")]
        {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            let policy = match path {
                RenderPath::Software => HardwareAccelerationPolicy::Never,
                RenderPath::Gpu => HardwareAccelerationPolicy::Always,
            };
            match wv.inner().settings() {
                Some(s) => s.set_hardware_acceleration_policy(policy),
                None => tracing::warn!("webview has no settings: rendering path not applied"),
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (wv, path);
    });
    if let Err(e) = r {
        tracing::warn!("could not set the rendering path on the webview: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(driver: &str) -> RenderNode {
        RenderNode {
            name: "renderD128".into(),
            driver: Some(driver.into()),
        }
    }

    fn machine_with(nodes: Vec<RenderNode>) -> Facts {
        Facts {
            render_nodes: nodes,
            ..Facts::default()
        }
    }

    #[test]
    fn a_real_gpu_keeps_compositing() {
        for d in ["i915", "amdgpu", "nouveau", "virtio_gpu"] {
            let dec = decide(&machine_with(vec![gpu(d)]));
            assert_eq!(dec.path, RenderPath::Gpu, "{d}");
            assert!(dec.reason.contains(d), "{}", dec.reason);
        }
        // Driver unknown (no sysfs): a render node is taken as a GPU.
        let mut f = machine_with(vec![RenderNode {
            name: "renderD128".into(),
            driver: None,
        }]);
        assert_eq!(decide(&f).path, RenderPath::Gpu);
        // A software node beside a real one: the real one counts.
        f.render_nodes = vec![gpu("vgem"), gpu("amdgpu")];
        assert_eq!(decide(&f).path, RenderPath::Gpu);
    }

    #[test]
    fn no_gpu_means_software() {
        let d = decide(&machine_with(vec![]));
        assert_eq!(d.path, RenderPath::Software);
        assert!(d.reason.contains("no GPU render node"), "{}", d.reason);
        let d = decide(&machine_with(vec![gpu("vgem")]));
        assert_eq!(d.path, RenderPath::Software);
        assert!(d.reason.contains("vgem"), "{}", d.reason);
    }

    #[test]
    fn software_gl_in_the_environment_means_software() {
        let mut f = machine_with(vec![gpu("i915")]);
        f.libgl_always_software = true;
        assert_eq!(decide(&f).path, RenderPath::Software);
        let mut f = machine_with(vec![gpu("i915")]);
        f.gl_driver_override = Some("llvmpipe".into());
        let d = decide(&f);
        assert_eq!(d.path, RenderPath::Software);
        assert!(d.reason.contains("llvmpipe"));
        f.gl_driver_override = Some("iris".into());
        assert_eq!(decide(&f).path, RenderPath::Gpu);
        let mut f = machine_with(vec![gpu("i915")]);
        f.webkit_compositing_disabled = true;
        assert_eq!(decide(&f).path, RenderPath::Software);
    }

    #[test]
    fn the_user_overrides_detection_and_the_command_line_wins() {
        let mut f = machine_with(vec![]);
        f.setting = RenderingMode::Gpu;
        let d = decide(&f);
        assert_eq!(d.path, RenderPath::Gpu);
        assert!(d.reason.contains("settings.json"), "{}", d.reason);
        f.requested = Some((RenderingMode::Software, "PULSEBOARD_RENDERING"));
        let d = decide(&f);
        assert_eq!(d.path, RenderPath::Software);
        assert!(d.reason.contains("PULSEBOARD_RENDERING"), "{}", d.reason);
        // `auto` on the command line falls through to the settings, then detection.
        f.requested = Some((RenderingMode::Auto, "--rendering"));
        assert_eq!(decide(&f).path, RenderPath::Gpu);
        f.setting = RenderingMode::Auto;
        assert_eq!(decide(&f).path, RenderPath::Software);
        let mut f = machine_with(vec![gpu("amdgpu")]);
        f.requested = Some((RenderingMode::Software, "--rendering"));
        assert_eq!(decide(&f).path, RenderPath::Software);
    }

    #[test]
    fn render_nodes_and_drivers_are_read_from_dev_and_sys() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("dev/dri");
        let sys = dir.path().join("sys/class/drm");
        std::fs::create_dir_all(&dev).unwrap();
        for n in ["card0", "renderD129", "renderD128"] {
            std::fs::write(dev.join(n), b"").unwrap();
        }
        let drivers = dir.path().join("sys/bus/pci/drivers");
        std::fs::create_dir_all(drivers.join("amdgpu")).unwrap();
        std::fs::create_dir_all(sys.join("renderD128/device")).unwrap();
        std::os::unix::fs::symlink(drivers.join("amdgpu"), sys.join("renderD128/device/driver"))
            .unwrap();
        let nodes = render_nodes(&dev, &sys);
        assert_eq!(
            nodes,
            vec![
                gpu("amdgpu"),
                RenderNode {
                    name: "renderD129".into(),
                    driver: None
                }
            ]
        );
        assert!(render_nodes(&dir.path().join("nope"), &sys).is_empty());
    }
}
