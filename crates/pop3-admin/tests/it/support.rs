//! Fixtures: a pop3d config in a temp dir, and running the binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Site {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Site {
    pub fn new() -> Site {
        Site::with_mail_root(None)
    }

    /// A site whose mail root is `mail_root` (e.g. a tiny tmpfs) instead of `<dir>/mail`.
    pub fn with_mail_root(mail_root: Option<&Path>) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let mail = mail_root.map_or(dir.path().join("mail"), Path::to_owned);
        let config = dir.path().join("pop3d.toml");
        std::fs::write(
            &config,
            format!(
                "[[listener]]\naddress = \"127.0.0.1:0\"\ntls = \"none\"\n\n[data]\n\
                 user_db = \"{db}\"\nmail_root = \"{mail}\"\n\n[auth]\nargon2_m_kib = 64\nargon2_t = 1\n\n\
                 [admin]\nsocket = \"{sock}\"\n",
                db = dir.path().join("users.db").display(),
                mail = mail.display(),
                sock = dir.path().join("admin.sock").display(),
            ),
        )
        .unwrap();
        Site { dir, config }
    }

    /// Readies the site's config for a pop3d that serves it: the listener on `port`, no
    /// failure delay or penalty (tests log in and fail on purpose), no metrics listener, then
    /// `extra` (more sections, e.g. `[privileges]`).
    pub fn serve_on(&self, port: u16, extra: &str) {
        let config = std::fs::read_to_string(&self.config)
            .unwrap()
            .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
            .replace(
                "[auth]\n",
                "[auth]\nfailure_delay_ms = 0\npenalty_start_ms = 0\npenalty_max_secs = 0\n",
            )
            + "\n[metrics]\nenabled = false\n"
            + extra;
        std::fs::write(&self.config, config).unwrap();
    }

    /// Runs `pop3-admin --config <site> ARGS` with `stdin`; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pop3-admin"));
        // No unit of the machine's decides who owns what the tool makes as root.
        command
            .env("POP3D_SYSTEMD_UNIT_PATH", self.dir.path().join("systemd"))
            .arg("--config")
            .arg(&self.config)
            .args(args);
        run_with_input(command, stdin)
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user).join("Maildir")
    }

    pub fn db(&self) -> pop3_auth::UserDb {
        pop3_auth::UserDb::open(&self.dir.path().join("users.db")).unwrap()
    }
}

/// Whether `password` logs `user` in, checked with the auth crate the server uses.
pub fn can_log_in(site: &Site, user: &str, password: &str) -> bool {
    let auth = pop3_auth::Authenticator::new(
        pop3_auth::HashParams {
            m_kib: 64,
            t: 1,
            p: 1,
        },
        false,
    )
    .unwrap();
    matches!(
        auth.authenticate(
            &site.db(),
            user,
            pop3_auth::Credential::Password(password.as_bytes())
        )
        .unwrap(),
        pop3_auth::Outcome::Accepted(_)
    )
}

/// Held around `useradd`, `usermod` and `userdel`: tests run in parallel, and the shadow
/// tools fail rather than wait when another holds `/etc/passwd`'s lock.
pub static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// System accounts that exist for the test's lifetime, removed with `userdel` on drop.
pub struct Accounts(pub Vec<String>);

impl Drop for Accounts {
    fn drop(&mut self) {
        let _serial = ACCOUNTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for name in &self.0 {
            let _ = Command::new("userdel")
                .arg(name)
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs `command` with `stdin`; panics unless it succeeds.
pub fn run(command: &mut Command, stdin: &str) {
    let mut child = command
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{command:?}: {status}");
}

/// Runs `command` with `stdin` on its standard input; returns (exit code, stdout, stderr).
pub fn run_with_input(mut command: Command, stdin: &[u8]) -> (i32, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A Maildir's directories: `<mail root>/<user>`, the Maildir and its `new/`, `cur/`, `tmp/`.
pub fn maildir_dirs(maildir: &Path) -> [PathBuf; 5] {
    [
        maildir.parent().unwrap().to_owned(),
        maildir.to_owned(),
        maildir.join("new"),
        maildir.join("cur"),
        maildir.join("tmp"),
    ]
}
