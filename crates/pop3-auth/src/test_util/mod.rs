//! A throwaway PostgreSQL cluster for tests (issue 18), only with the `test-util` feature,
//! which only tests enable.
//!
//! Debian's `postgresql` (`.ci/run` installs it): `initdb` and `pg_ctl` into a temporary
//! directory, **listening on a Unix socket in that directory only** (`listen_addresses=''`),
//! trust authentication. `initdb` refuses root, so as root the cluster runs as the
//! `postgres` user (`runuser`), the directory given to it. **A watchdog shell stops the
//! cluster and removes the directory when the test process ends**, however it ends, so a
//! cluster shared through a `static` (never dropped) leaves nothing running.
//!
//! A missing PostgreSQL prints a loud SKIPPED line and fails under CI, where it must be there.

// Test-only code: a broken fixture panics with its reason; the watchdog outlives this
// process on purpose, so it is never waited for.
#![allow(clippy::expect_used, clippy::panic, clippy::zombie_processes)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::pg::PgSettings;

/// Where Debian puts the server's programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running cluster.
pub struct PgCluster {
    dir: PathBuf,
    as_postgres: bool,
}

impl PgCluster {
    /// One cluster for the whole test binary, started on first use; `None` (after the
    /// SKIPPED line) without PostgreSQL outside CI.
    pub fn shared() -> Option<&'static PgCluster> {
        static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
        SHARED.get_or_init(PgCluster::start).as_ref()
    }

    /// A cluster of its own (for a test that stops it); `None` as for [`PgCluster::shared`].
    pub fn start() -> Option<PgCluster> {
        if !Path::new(BIN).join("initdb").exists() {
            skip();
            return None;
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pop3d-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("cluster directory");
        let as_postgres = is_root();
        let cluster = PgCluster { dir, as_postgres };
        if as_postgres {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&cluster.dir));
        }
        cluster.watchdog();
        run(cluster
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(cluster.data()));
        cluster.resume();
        Some(cluster)
    }

    /// Creates database `name` (each test its own) and returns its URL's settings.
    pub fn database(&self, name: &str) -> PgSettings {
        run(self
            .command("createdb")
            .args(["-h"])
            .arg(&self.dir)
            .args(["-U", "postgres", name]));
        PgSettings::parse(&self.url(name)).expect("a valid URL")
    }

    /// The URL of database `name`, over the socket.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgresql:///{name}?host={}&user=postgres",
            self.dir.display()
        )
    }

    /// Stops the cluster at once (`pg_ctl stop -m immediate`: the postmaster and every
    /// backend gone, as in a crash).
    pub fn stop(&self) {
        run(self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data()));
    }

    /// Starts it (again), waiting until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c max_connections=100",
            self.dir.display()
        );
        run(self
            .command("pg_ctl")
            .args(["start", "-w", "-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .arg("-D")
            .arg(self.data()));
    }

    /// Freezes the postmaster (SIGSTOP): the socket still takes connections, nobody answers
    /// them; backends already running go on.
    pub fn freeze(&self) {
        assert!(self.signal("-STOP"), "cannot stop the postmaster");
    }

    /// Lets a frozen postmaster go on (SIGCONT).
    pub fn thaw(&self) {
        assert!(self.signal("-CONT"), "cannot continue the postmaster");
    }

    /// Freezes the whole cluster: SIGSTOP to the postmaster, then to each of its children
    /// (backends and helpers; each sits in a process group of its own, so a group signal
    /// would miss them). Connections stay open and nobody answers on them, as with a stuck
    /// server or a host gone silent.
    pub fn freeze_all(&self) {
        assert!(self.signal("-STOP"), "cannot stop the postmaster");
        assert!(self.signal_children("-STOP"), "cannot stop the backends");
    }

    /// Lets a cluster frozen by [`PgCluster::freeze_all`] go on: the children, then the
    /// postmaster.
    pub fn thaw_all(&self) {
        assert!(
            self.signal_children("-CONT"),
            "cannot continue the backends"
        );
        assert!(self.signal("-CONT"), "cannot continue the postmaster");
    }

    /// Sends `signal` to every child of the postmaster (`ps --ppid`).
    fn signal_children(&self, signal: &str) -> bool {
        let Some(pid) = self.postmaster() else {
            return false;
        };
        let Ok(children) = Command::new("ps")
            .args(["-o", "pid=", "--ppid", &pid])
            .output()
        else {
            return false;
        };
        let children = String::from_utf8_lossy(&children.stdout).into_owned();
        let pids: Vec<&str> = children.split_whitespace().collect();
        pids.is_empty()
            || Command::new("kill")
                .arg(signal)
                .args(&pids)
                .status()
                .is_ok_and(|s| s.success())
    }

    fn postmaster(&self) -> Option<String> {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        Some(pid_file.lines().next()?.trim().to_owned())
    }

    /// Sends `signal` to the postmaster; false if there is none or `kill` failed.
    fn signal(&self, signal: &str) -> bool {
        let Ok(pid_file) = std::fs::read_to_string(self.data().join("postmaster.pid")) else {
            return false;
        };
        let pid = pid_file.lines().next().unwrap_or("").trim().to_owned();
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `program` of the server, as `postgres` when we are root.
    fn command(&self, program: &str) -> Command {
        let path = Path::new(BIN).join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.stdin(Stdio::null());
        command
    }

    /// Stops the cluster and removes the directory once this process is gone.
    fn watchdog(&self) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             kill -CONT $(ps -o pid= --ppid $(head -n 1 '{data}/postmaster.pid')) 2>/dev/null; \
             kill -CONT $(head -n 1 '{data}/postmaster.pid') 2>/dev/null; \
             {runuser}{BIN}/pg_ctl stop -m immediate -D '{data}' >/dev/null 2>&1; \
             rm -rf '{dir}'",
            pid = std::process::id(),
            runuser = if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            data = self.data().display(),
            dir = self.dir.display(),
        );
        Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("watchdog");
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // A test that failed while the postmaster (or the whole cluster) was frozen.
        let _ = self.signal_children("-CONT");
        let _ = self.signal("-CONT");
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("a PostgreSQL program");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// The loud line, past the harness's capture; a failure under CI.
fn skip() {
    let line = "SKIPPED: PostgreSQL tests: no /usr/lib/postgresql/15/bin/initdb (apt-get install postgresql)\n";
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(std::env::var_os("CI").is_none(), "{line}");
}
