//! Helpers shared by the integration tests of several crates (server, CLI,
//! desktop shell, e2e). Test-only: no shipped crate depends on it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A private certificate authority and a server certificate it issued for
/// `127.0.0.1` and `localhost`, written as PEM files into `dir`.
/// Returns `(ca.pem, cert.pem, key.pem)`.
pub fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Pulseboard test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("self-signed CA");
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params")
        .signed_by(&key, &ca)
        .expect("server certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).expect("write ca.pem");
    std::fs::write(&paths.1, cert.pem()).expect("write cert.pem");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write key.pem");
    paths
}

/// A TCP port on 127.0.0.1 that is free now: for a child process that must
/// be told where to listen (tauri-driver and WebKitWebDriver, nginx, a
/// server started twice on one address), or as an address nothing listens
/// on.
///
/// Not "bind `127.0.0.1:0` and let go": that port comes from the kernel's
/// ephemeral range, which every other `bind(…:0)` and every outgoing
/// connection of every process also draws from, so one of them can take it
/// before the child binds it (seen under load: WebKitWebDriver's "can not
/// listen to address" once in about a hundred single-core runs of the e2e
/// suite). This port is below that range (`net.ipv4.ip_local_port_range`),
/// where only an explicit bind can take it; the picks of one process are
/// distinct and start at an offset of its own, and each is checked free by
/// binding it. With no room below the range (a widened one), it falls back
/// to the kernel's pick.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let span = ephemeral_low().saturating_sub(LOW);
    if span >= 1_000 {
        let offset = std::process::id().wrapping_mul(2_654_435_761) % span;
        for _ in 0..span {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let port = (LOW + (offset + n) % span) as u16;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768)
}

/// A private `dbus-daemon --session`; killed on drop (also when the test
/// panics). Point `DBUS_SESSION_BUS_ADDRESS` at [`SessionBus::address`].
pub struct SessionBus {
    child: Child,
    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
    // Kept open so the daemon never writes into a closed pipe (its stderr
    // holds only harmless warnings, e.g. about the fd limit, once it runs).
    _stdout: BufReader<ChildStdout>,
    _stderr: ChildStderr,
}

impl SessionBus {
    /// Start one (panics with the install hint when dbus-daemon is missing).
    pub fn start() -> SessionBus {
        let spawned = Command::new("dbus-daemon")
            .args(["--session", "--print-address=1", "--nofork"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "`dbus-daemon` is not installed, so the D-Bus notification tests cannot run. \
                 Run scripts/test.sh (scripts/deps.sh installs Debian's `dbus` package), \
                 or `apt-get install dbus`."
            ),
            Err(e) => panic!("cannot start dbus-daemon: {e}"),
        };
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut address = String::new();
        let read = stdout.read_line(&mut address);
        let address = address.trim().to_string();
        let mut stderr = child.stderr.take().expect("piped stderr");
        if read.is_err() || address.is_empty() {
            let _ = child.kill();
            let status = child.wait();
            let mut said = String::new();
            let _ = stderr.read_to_string(&mut said);
            panic!("dbus-daemon printed no address ({read:?}, exit {status:?}): {said}");
        }
        SessionBus {
            child,
            address,
            _stdout: stdout,
            _stderr: stderr,
        }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn free_ports_are_distinct_free_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| super::free_port()).collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for p in &ports {
            assert!(
                u32::from(*p) >= 10_000 && u32::from(*p) < super::ephemeral_low(),
                "{p}"
            );
            std::net::TcpListener::bind(("127.0.0.1", *p)).expect("still free");
        }
    }
}

#[cfg(feature = "services")]
pub mod services;
