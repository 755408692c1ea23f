//! PostgreSQL and redis-server started by the tests (and the cluster
//! benchmark) themselves: plain processes on unix sockets in temp dirs (no
//! TCP port, no Docker). Installed by `scripts/deps-test.sh` (Debian's
//! `postgresql` and `redis-server`); if the binaries are missing the caller
//! fails loudly, it never skips.
//!
//! PostgreSQL refuses to run as root: as root, `initdb`/`pg_ctl` run as the
//! `postgres` user (`runuser`), which owns the temp dir.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// Where `initdb` and `pg_ctl` are: `$PULSEBOARD_PG_BIN`, Debian's
/// `/usr/lib/postgresql/<newest>/bin`, or the PATH.
fn pg_bin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PULSEBOARD_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("pg_ctl").exists() && d.join("initdb").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A PostgreSQL server of its own, stopped and deleted on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    root: bool,
}

impl Postgres {
    /// initdb and start; panics with a clear message when PostgreSQL is not
    /// installed.
    pub fn start() -> Postgres {
        let bin = pg_bin_dir().expect(
            "PostgreSQL is not installed (initdb/pg_ctl not found): run scripts/deps-test.sh \
             or set PULSEBOARD_PG_BIN",
        );
        let dir = tempfile::Builder::new()
            .prefix("pulseboard-pg")
            .tempdir()
            .expect("tempdir");
        let root = is_root();
        if root {
            let ok = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .expect("chown")
                .success();
            assert!(
                ok,
                "cannot give {} to the postgres user",
                dir.path().display()
            );
        }
        let pg = Postgres { dir, bin, root };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("utf-8 path"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        pg.start_again();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory holding the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let out = if self.root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        }
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Start the server (again), waiting until it accepts connections.
    pub fn start_again(&self) {
        let opts = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c max_connections=100 -c shared_buffers=16MB",
            self.socket_dir().display()
        );
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().expect("utf-8 path"),
                "-o",
                &opts,
                "-l",
                log.to_str().expect("utf-8 path"),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stop the server now (`immediate`: like a crash).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().expect("utf-8 path"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// The process id of the postmaster (its backends are its children), from
    /// `postmaster.pid`; `None` while it is not running.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The URL of database `db` (over the unix socket).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@localhost/{db}?host={}",
            self.socket_dir().display()
        )
    }

    /// Create database `db` unless it exists; returns its URL.
    pub async fn database(&self, db: &str) -> String {
        assert!(
            db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "plain database names only"
        );
        let (client, conn) = tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
            .await
            .expect("connect to postgres");
        let task = tokio::spawn(conn);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
            .await
            .expect("query")
            .is_some();
        if !exists {
            client
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .expect("create database");
        }
        drop(client);
        let _ = task.await;
        self.url(db)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"];
        let _ = if self.root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}

/// A redis-server of its own on a unix socket in a temp dir (no TCP port,
/// nothing saved), killed on drop. Debian's `redis-server` (7.x), installed
/// by `scripts/deps-test.sh`; missing: the test fails loudly.
pub struct Redis {
    dir: tempfile::TempDir,
    child: std::sync::Mutex<Option<std::process::Child>>,
}

impl Redis {
    pub fn start() -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("pulseboard-redis")
            .tempdir()
            .expect("tempdir");
        let r = Redis {
            dir,
            child: std::sync::Mutex::new(None),
        };
        r.start_again();
        r
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// `unix:///.../redis.sock`
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Start (again) on the same socket; waits until it answers PING.
    pub fn start_again(&self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(self.socket())
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run scripts/deps-test.sh");
        *self.child.lock().expect("lock") = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if self.ping() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not answer"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.socket()) else {
            return false;
        };
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// The process id of redis-server; `None` while it is not running.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().expect("lock").as_ref().map(|c| c.id())
    }

    /// Kill it (SIGKILL) and wait until it is gone.
    pub fn kill(&self) {
        if let Some(mut c) = self.child.lock().expect("lock").take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
