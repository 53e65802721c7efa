//! The real `pop3d` binary as a child process on free ports, with its log collected.

use pop3_auth::UserStore as _;
use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::{PATIENCE, Sections, cheap_hasher, write_config};

pub fn pop3d() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pop3d"))
}

/// A running `pop3d` child whose log is collected in the background.
pub struct Daemon {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    pub dir: tempfile::TempDir,
    pub ports: Vec<u16>,
}

impl Daemon {
    pub fn start(sections: Sections<'_>, privileges: &str) -> Daemon {
        Daemon::start_env(sections, privileges, "text", &[])
    }

    pub fn start_with_log(sections: Sections<'_>, format: &str) -> Daemon {
        Daemon::start_env(sections, "", format, &[])
    }

    /// Starts `pop3d` with extra environment variables (the fault-injection hooks).
    pub fn start_env(
        sections: Sections<'_>,
        privileges: &str,
        log_format: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        // The listeners bind port 0 and the ports are read back from the log: picking "free"
        // ports first and binding them later races with every other test's connections.
        let config = write_config(dir.path(), sections);
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!("\n[log]\nformat = \"{log_format}\"\n"));
        text.push_str(privileges);
        std::fs::write(&config, text).unwrap();
        Daemon::launch(dir, &config, env)
    }

    /// Starts `pop3d` on the config already written at `dir/pop3d.toml` (text log appended).
    pub fn start_in(dir: tempfile::TempDir) -> Daemon {
        let config = dir.path().join("pop3d.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("\n[log]\nformat = \"text\"\n");
        std::fs::write(&config, text).unwrap();
        Daemon::launch(dir, &config, &[])
    }

    /// Spawns `pop3d` on `config` (in `dir`) and waits for its listeners.
    fn launch(dir: tempfile::TempDir, config: &Path, env: &[(&str, &str)]) -> Daemon {
        let (child, log) = spawn(config, env);
        let mut daemon = Daemon {
            child,
            log,
            dir,
            ports: Vec::new(),
        };
        daemon.wait_for_listeners();
        daemon
    }

    /// Waits for the three listeners and learns their ports from the log.
    fn wait_for_listeners(&mut self) {
        self.wait_for("listening", 3);
        let log = self.log.lock().unwrap().clone();
        self.ports = log
            .lines()
            .filter(|line| line.contains("listening"))
            .filter_map(|line| {
                let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
                let digits: String = line[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
            .collect();
        assert_eq!(self.ports.len(), 3, "listener ports not in the log:\n{log}");
    }

    /// Replaces the process (already dead or not) with a new one on the same config and data
    /// (and new ports).
    pub fn restart(&mut self, env: &[(&str, &str)]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, log) = spawn(&self.dir.path().join("pop3d.toml"), env);
        self.child = child;
        self.log = log;
        self.wait_for_listeners();
    }

    /// Connects to the plaintext listener and checks the greeting.
    pub fn greet(&self) -> crate::support::Client {
        let tls = crate::support::client_config(&cert_of(self.dir.path()));
        let mut client = crate::support::Client::connect(self.addr(2), tls, false);
        assert!(client.line().unwrap().starts_with("+OK"));
        client
    }

    /// `kill -9`, and waits for the process to be gone.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Adds a user (cheap hash) with an empty Maildir; returns the Maildir's path.
    pub fn add_user(&self, name: &str, password: &str) -> std::path::PathBuf {
        let dir = self.dir.path();
        let db = pop3_auth::UserDb::open(&dir.join("users.db")).unwrap();
        let name = pop3_auth::UserName::parse(name).unwrap();
        let maildir = pop3_auth::default_maildir(&dir.join("mail"), &name);
        db.add(&name, password.as_bytes(), &maildir, &cheap_hasher())
            .unwrap();
        pop3_maildrop::Maildir::create(&maildir).unwrap();
        maildir
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log holds `needle` `times` times.
    pub fn wait_for(&self, needle: &str, times: usize) {
        let started = std::time::Instant::now();
        while self.log.lock().unwrap().matches(needle).count() < times {
            assert!(
                started.elapsed() < PATIENCE,
                "no {needle:?} in:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::yield_now();
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn addr(&self, index: usize) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.ports[index]).parse().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, env: &[(&str, &str)]) -> (Child, Arc<Mutex<String>>) {
    let mut child = pop3d()
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    collect(child.stderr.take().unwrap(), log.clone());
    (child, log)
}

pub fn collect(mut stderr: ChildStderr, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

pub fn cert_of(dir: &Path) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(dir.join("cert.pem")).unwrap()
}
