//! The servers under test: pop3d and Dovecot started on a free loopback port with a
//! generated configuration, and stopped (with every process they forked) on drop.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::proc::{tree, wait_gone};
use super::{Bench, Kind};

/// A running server.
pub(super) struct Server {
    pub(super) child: Child,
    pub(super) port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Dovecot's master forks and its children outlive a SIGKILL of the master: stop every
        // process of the instance by PID. The master is frozen first so that it forks nothing
        // after its tree is collected, and the next start waits until they are all gone (a
        // dying pop3-login still holds the login socket, and Dovecot refuses to start then).
        let master = self.child.id();
        let _ = Command::new("kill")
            .args(["-STOP", &master.to_string()])
            .status();
        let forked: Vec<u32> = tree(master).into_iter().skip(1).collect();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !forked.is_empty() {
            let _ = Command::new("kill")
                .arg("-9")
                .args(forked.iter().map(u32::to_string))
                .status();
            wait_gone(&forked, Duration::from_secs(10));
        }
    }
}

impl Bench {
    /// Starts a server; `pop3d_auth` adds keys to pop3d's `[auth]` (Dovecot verifies whatever
    /// the passwd-file holds and never rehashes).
    pub(super) fn start_with(&self, kind: Kind, pop3d_auth: &str) -> Result<Server> {
        let port = free_port()?;
        let dir = self.tree(kind);
        let child = match kind {
            Kind::Pop3d => {
                let config = dir.join("pop3d.toml");
                std::fs::write(
                    &config,
                    format!(
                        "[[listener]]\naddress = \"127.0.0.1:{port}\"\ntls = \"none\"\n\n[data]\n\
                         user_db = \"{db}\"\nmail_root = \"{mail}\"\n\n[limits]\nconnections = 30000\n\
                         connections_per_ip = 30000\n\n[timeouts]\nlogin_secs = 600\n\n[metrics]\nenabled = false\n\n\
                         [admin]\nenabled = false\n\n[log]\nlevel = \"warn\"\n\n[auth]\n{pop3d_auth}\n",
                        db = dir.join("users.db").display(),
                        mail = dir.join("mail").display(),
                    ),
                )?;
                Command::new("sh")
                    .args([
                        "-c",
                        "ulimit -n 200000 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$0\" --config \"$1\"",
                        &self.pop3d.display().to_string(),
                        &config.display().to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()?
            }
            Kind::Dovecot => {
                let config = dir.join("dovecot.conf");
                std::fs::create_dir_all(dir.join("run"))?;
                std::fs::create_dir_all(dir.join("state"))?;
                std::fs::write(&config, dovecot_config(&dir, port))?;
                Command::new("sh")
                    .args([
                        "-c",
                        "ulimit -n 200000 2>/dev/null || ulimit -n $(ulimit -Hn); exec dovecot -F -c \"$0\"",
                        &config.display().to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()?
            }
        };
        let mut server = Server { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("{} exited at start ({status}); see its log", kind.name());
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("{} did not start", kind.name());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(super) fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn dovecot_config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "protocols = pop3\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
         instance_name = pop3d-bench\nlog_path = {d}/dovecot.log\nssl = no\n\
         disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
         mail_location = maildir:{d}/mail/%u/Maildir\n\
         default_internal_user = dovecot\ndefault_login_user = dovenull\nfirst_valid_uid = 0\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=ARGON2ID {d}/passwd\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
         default_client_limit = 30000\ndefault_vsz_limit = 0\n\
         service pop3-login {{\n  inet_listener pop3 {{\n    port = {port}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n\
         \x20 service_count = 0\n  client_limit = 15000\n  process_min_avail = 2\n  process_limit = 2\n}}\n\
         service pop3 {{\n  service_count = 0\n  client_limit = 15000\n  process_min_avail = 2\n  process_limit = 2\n}}\n\
         service auth {{\n  client_limit = 40000\n}}\n\
         service anvil {{\n  client_limit = 40000\n}}\n\
         protocol pop3 {{\n  pop3_lock_session = yes\n  pop3_fast_size_lookups = no\n}}\n"
    )
}
