//! The real peers of the migration tests: Dovecot and pop3d started on a free loopback port
//! and stopped by PID (every process of the instance), a raw POP3 client for UIDL listings
//! and logins, and the mail clients mpop and fetchmail in keep-on-server mode.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn tool_exists(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The `pop3d` binary of this workspace, brought up to date once per test process: a binary
/// merely present may be stale (one built before a schema change refuses the database with
/// `-ERR [SYS/TEMP]`), and `cargo build` of a fresh one costs a check of its inputs.
pub fn pop3d() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let target = exe.parent().and_then(Path::parent).unwrap();
            // `--all-features`, as `cargo xtask ci` builds it: a plain build here would
            // replace the binary the server's own fault tests need (its fault hooks are inert
            // unless armed by their environment variables).
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "pop3-server", "--bin", "pop3d"])
                .arg("--all-features")
                .status()
                .unwrap();
            assert!(status.success(), "cannot build pop3d");
            target.join("pop3d")
        })
        .clone()
}

/// The PIDs of `root` and every process below it, from `/proc/*/stat`.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    tree
}

/// Sends `signal` to each PID, then waits (bounded) until every one is gone.
fn stop_pids(pids: &[u32], signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
    let started = Instant::now();
    while pids
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(*pid))
    {
        assert!(
            started.elapsed() < PATIENCE,
            "processes {pids:?} did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Waits (bounded) until the port accepts connections, or the process has exited.
fn wait_listening(child: &mut Child, port: u16, what: &str, log: &Path) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{what} exited at start ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(started.elapsed() < PATIENCE, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running Dovecot (POP3 only) with its own configuration directory, stopped with every
/// process it forked.
pub struct Dovecot {
    child: Child,
    pub log: PathBuf,
}

impl Dovecot {
    /// Starts Dovecot on `port` with users (passdb and userdb: uid, gid and home) in the
    /// passwd-file `passwd`, and mail at `mail_location`.
    pub fn start(dir: &Path, port: u16, passwd: &Path, mail_location: &str) -> Dovecot {
        let d = dir.display();
        for sub in ["run", "state"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let config = format!(
            "protocols = pop3\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
             instance_name = pop3d-migrate-{pid}-{port}\nlog_path = {d}/dovecot.log\nssl = no\n\
             disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             mail_location = {mail_location}\n\
             default_internal_user = dovecot\ndefault_login_user = dovenull\nfirst_valid_uid = 0\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=CRYPT {passwd}\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = {passwd}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = {port}\n  }}\n\
             \x20 inet_listener pop3s {{\n    port = 0\n  }}\n}}\n\
             protocol pop3 {{\n  pop3_uidl_format = %08Xu%08Xv\n}}\n",
            pid = std::process::id(),
            passwd = passwd.display(),
        );
        let path = dir.join("dovecot.conf");
        std::fs::write(&path, config).unwrap();
        let log = dir.join("dovecot.log");
        let mut child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot: .ci/run installs dovecot-pop3d");
        wait_listening(&mut child, port, "dovecot", &log);
        Dovecot { child, log }
    }

    /// Stops the master with SIGTERM (it ends its children and waits for them), then makes
    /// sure every process of the instance is gone, by PID.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let tree = process_tree(self.child.id());
        stop_pids(&tree[..1], "TERM");
        let _ = self.child.wait();
        stop_pids(&tree, "KILL");
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop_now();
        }
    }
}

/// A running pop3d, stopped by PID.
pub struct Pop3d {
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Pop3d {
    /// Starts `pop3d --config CONFIG` and waits for its `listening` line.
    pub fn start(config: &Path) -> Pop3d {
        Pop3d::start_with(&[], config)
    }

    /// [`Pop3d::start`] through `wrapper` (e.g. `setpriv --reuid=...`, to start it as
    /// another user, as systemd's `User=` does).
    pub fn start_with(wrapper: &[String], config: &Path) -> Pop3d {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(pop3d());
                command
            }
            None => Command::new(pop3d()),
        };
        let mut child = command
            .arg("--config")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let mut line = String::new();
        while !line.contains("listening") {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "pop3d exited: {seen}"
            );
            seen.push_str(&line);
        }
        let log = std::sync::Arc::new(std::sync::Mutex::new(seen));
        let sink = log.clone();
        // Line by line, so `log()` shows what was logged so far while pop3d runs.
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Pop3d { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Pop3d {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A POP3 conversation over a raw socket: USER/PASS, then `commands`; returns the replies
/// (multi-line ones joined), or the server's answer to the first failing step.
pub fn pop3(
    port: u16,
    user: &str,
    password: &str,
    commands: &[&str],
) -> Result<Vec<String>, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let mut send = |command: &str, multi: bool| -> Result<String, String> {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let mut status = String::new();
        reader.read_line(&mut status).map_err(|e| e.to_string())?;
        if !status.starts_with("+OK") {
            return Err(format!("{command}: {}", status.trim_end()));
        }
        if !multi {
            return Ok(status);
        }
        let mut body = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err(format!("{command}: connection closed"));
            }
            if line == ".\r\n" {
                return Ok(body);
            }
            body.push_str(line.trim_end_matches(['\r', '\n']));
            body.push('\n');
        }
    };
    send(&format!("USER {user}"), false)?;
    send(&format!("PASS {password}"), false)?;
    let mut replies = Vec::new();
    for command in commands {
        let multi = matches!(*command, "UIDL" | "LIST") || command.starts_with("RETR");
        replies.push(send(command, multi)?);
    }
    send("QUIT", false)?;
    Ok(replies)
}

/// The `UIDL` listing (`n uidl` lines) of a user.
pub fn uidl_listing(port: u16, user: &str, password: &str) -> Result<Vec<String>, String> {
    let replies = pop3(port, user, password, &["UIDL"])?;
    Ok(replies[0].lines().map(str::to_owned).collect())
}

/// One mail client of one user, with its own state (UIDLs file, idfile) and output, so that
/// its second run knows what its first run fetched.
pub struct MailClient {
    pub kind: &'static str,
    user: String,
    password: String,
    dir: PathBuf,
}

impl MailClient {
    pub fn new(kind: &'static str, root: &Path, user: &str, password: &str) -> MailClient {
        let dir = root.join(format!("{kind}-{}", user.replace('@', "_")));
        for sub in ["out/new", "out/cur", "out/tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        MailClient {
            kind,
            user: user.to_owned(),
            password: password.to_owned(),
            dir,
        }
    }

    /// Messages this client has stored so far.
    pub fn stored(&self) -> usize {
        std::fs::read_dir(self.dir.join("out/new")).unwrap().count()
    }

    /// Fetches (keep on server, only what its UIDL state says is new) from `port`; returns
    /// how many messages this run downloaded.
    pub fn fetch(&self, port: u16) -> usize {
        let before = self.stored();
        let output = match self.kind {
            "mpop" => self.mpop(port),
            _ => self.fetchmail(port),
        };
        // fetchmail exits 1 for "no new mail".
        let ok = output.status.success()
            || (self.kind == "fetchmail" && output.status.code() == Some(1));
        assert!(
            ok,
            "{} for {} failed ({}): {}\n{}",
            self.kind,
            self.user,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        self.stored() - before
    }

    fn rc(&self, text: &str) -> PathBuf {
        let path = self.dir.join("rc");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    fn mpop(&self, port: u16) -> std::process::Output {
        let rc = self.rc(&format!(
            "defaults\nauth user\ntls off\nuidls_file {dir}/uidls\n\
             delivery maildir {dir}/out\nkeep on\nonly_new on\nreceived_header off\n\
             account test\nhost 127.0.0.1\nport {port}\nuser {user}\npassword {password}\n",
            dir = self.dir.display(),
            user = self.user,
            password = self.password,
        ));
        Command::new("mpop")
            .arg("-C")
            .arg(rc)
            .args(["-q", "test"])
            .output()
            .unwrap()
    }

    fn fetchmail(&self, port: u16) -> std::process::Output {
        let rc = self.rc(&format!(
            "set no syslog\nset invisible\n\
             poll 127.0.0.1 with proto POP3 port {port} uidl\n\
             \x20 user \"{user}\" there with password \"{password}\" is 'root' here\n\
             \x20 sslproto ''\n\
             \x20 keep norewrite\n\
             \x20 mda \"/bin/sh -c 'cat > {out}/$(date +%s%N)-$$'\"\n",
            user = self.user,
            password = self.password,
            out = self.dir.join("out/new").display(),
        ));
        Command::new("fetchmail")
            .env("HOME", &self.dir)
            .arg("--fetchmailrc")
            .arg(rc)
            .arg("--idfile")
            .arg(self.dir.join("fetchids"))
            .arg("--pidfile")
            .arg(self.dir.join("fetchmail.pid"))
            .args(["--nodetach", "--silent", "--uidl"])
            .output()
            .unwrap()
    }
}
