//! The package installed for real (root and `POP3D_TEST_INSTALL_DEB=1` only, as in CI's
//! container): `dpkg -i`, what postinst set up, a user added with pop3-admin and served by
//! the installed pop3d as the pop3d user over STLS with the snakeoil certificate, then
//! `dpkg --purge`, which must take the configuration and the user database but no mail.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Package, path_str};
use crate::process::{output, run};

/// The variable that allows this test to change the machine.
const ENABLE: &str = "POP3D_TEST_INSTALL_DEB";
/// The test's mail user; its Maildir is `/var/mail/pkgtest/Maildir`.
const USER: &str = "pkgtest";
const PASSWORD: &str = "pkg-test-password";
const WANTS: &str = "/etc/systemd/system/multi-user.target.wants/pop3d.service";

/// Installs, checks and purges `package`, or says loudly why it does not.
pub(crate) fn install_test(package: &Package) -> Result<()> {
    let root = nix_is_root();
    if !root || std::env::var(ENABLE).as_deref() != Ok("1") {
        eprintln!(
            "!!! SKIPPED the install test of the .deb: it installs and purges the package on this \
             machine, so it runs only as root with {ENABLE}=1 (as .ci/run sets it); here root={root}, \
             {ENABLE}={:?}",
            std::env::var(ENABLE).ok()
        );
        return Ok(());
    }
    // dpkg-query fails for a package it never saw, and says not-installed after a purge.
    if let Ok(status) = output("dpkg-query", &["--show", "--showformat=${Status}", "pop3d"])
        && !status.contains("not-installed")
    {
        bail!("package pop3d is on this machine ({status}); the install test would purge it");
    }
    let mail = Path::new("/var/mail").join(USER);
    if mail.exists() {
        bail!(
            "{} exists; the install test would take it for its own",
            mail.display()
        );
    }
    // The purge keeps the pop3d user (it may own mail); a user left by an earlier run would
    // hide a postinst that no longer makes it, so the test removes the one it made.
    let user_made_here = output("getent", &["passwd", "pop3d"]).is_err();
    if !user_made_here {
        eprintln!(
            "!!! note: a pop3d user exists already, so the user and group checks cannot tell \
             that this postinst made them (`deluser --system pop3d` for a clean run)"
        );
    }
    let guard = Installed {
        mail: mail.clone(),
        purged: false,
        user_made_here,
    };
    run("dpkg", &["--install", &path_str(&package.deb)?], &[])?;
    check_installed()?;
    // A user, with a Maildir made by pop3-admin as root and a message delivered into it.
    let mut add = Command::new("/usr/sbin/pop3-admin");
    add.args([
        "--config",
        "/etc/pop3d/pop3d.toml",
        "user",
        "add",
        USER,
        "--password-stdin",
    ]);
    run_with_stdin(add, format!("{PASSWORD}\n").as_bytes())?;
    let mut deliver = Command::new("/usr/sbin/pop3-admin");
    deliver.args(["--config", "/etc/pop3d/pop3d.toml", "deliver", USER]);
    run_with_stdin(
        deliver,
        b"From: a@example.org\nSubject: packaged\n\nHello from the .deb.\n",
    )?;
    // pop3d writes the user database (rehashes, login times): pop3-admin, run as root, must
    // not have left it root's.
    run(
        "setpriv",
        &as_pop3d(&["sh", "-c", "test -w /var/lib/pop3d/users.db"]),
        &[],
    )
    .context("the pop3d user cannot write /var/lib/pop3d/users.db")?;
    serve_and_login()?;
    remove_and_reinstall(package)?;
    guard.purge()
}

/// `dpkg --remove` keeps the configuration and the user database; installing again (postinst
/// run with the pop3d user, its directory and the database already there) keeps them too.
fn remove_and_reinstall(package: &Package) -> Result<()> {
    run("dpkg", &["--remove", "pop3d"], &[])?;
    for kept in ["/etc/pop3d/pop3d.toml", "/var/lib/pop3d/users.db"] {
        if !Path::new(kept).exists() {
            bail!("{kept} is gone after dpkg --remove (only a purge may remove it)");
        }
    }
    run("dpkg", &["--install", &path_str(&package.deb)?], &[])?;
    check_installed()?;
    let users = output(
        "/usr/sbin/pop3-admin",
        &["--config", "/etc/pop3d/pop3d.toml", "user", "list"],
    )?;
    if !users.contains(USER) {
        bail!("the reinstall lost user {USER}: {users}");
    }
    eprintln!("dist: removed and reinstalled; configuration and users kept");
    Ok(())
}

/// What postinst must have done.
fn check_installed() -> Result<()> {
    let passwd = output("getent", &["passwd", "pop3d"]).context("no pop3d user")?;
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    if fields.get(5) != Some(&"/var/lib/pop3d") || fields.get(6) != Some(&"/usr/sbin/nologin") {
        bail!("pop3d user: {}", passwd.trim());
    }
    let uid: u32 = fields
        .get(2)
        .and_then(|f| f.parse().ok())
        .context("pop3d's uid")?;
    if uid >= 1000 {
        bail!("pop3d is not a system user: uid {uid}");
    }
    let group = output("getent", &["group", "pop3d"]).context("no pop3d group")?;
    let gid: u32 = group
        .split(':')
        .nth(2)
        .and_then(|f| f.parse().ok())
        .context("pop3d's gid")?;
    let groups = output("id", &["-nG", "pop3d"])?;
    if !groups.split_whitespace().any(|g| g == "ssl-cert") {
        bail!("pop3d is not in group ssl-cert: {}", groups.trim());
    }
    let data = fs::metadata("/var/lib/pop3d").context("no /var/lib/pop3d")?;
    if data.mode() & 0o7777 != 0o750 || data.uid() != uid || data.gid() != gid || !data.is_dir() {
        bail!(
            "/var/lib/pop3d is {:o} {}:{}, not 0750 pop3d:pop3d",
            data.mode(),
            data.uid(),
            data.gid()
        );
    }
    let conffiles = output(
        "dpkg-query",
        &["--show", "--showformat=${Conffiles}", "pop3d"],
    )?;
    if !conffiles
        .lines()
        .any(|l| l.trim().starts_with("/etc/pop3d/pop3d.toml "))
    {
        bail!("/etc/pop3d/pop3d.toml is not a conffile: {conffiles}");
    }
    let target =
        fs::read_link(WANTS).with_context(|| format!("the service is not enabled: no {WANTS}"))?;
    if target != Path::new("/lib/systemd/system/pop3d.service") {
        bail!("{WANTS} points to {}", target.display());
    }
    check_socket_units()?;
    run(
        "/usr/sbin/pop3d",
        &["check-config", "--config", "/etc/pop3d/pop3d.toml"],
        &[],
    )?;
    // As the service runs it: the snakeoil key is readable through group ssl-cert.
    run(
        "setpriv",
        &as_pop3d(&[
            "/usr/sbin/pop3d",
            "check-config",
            "--config",
            "/etc/pop3d/pop3d.toml",
        ]),
        &[],
    )
}

/// The socket units are installed, valid for systemd (`systemd-analyze verify` says nothing)
/// and not enabled: the packaged service binds its own ports unless the admin chooses socket
/// activation.
fn check_socket_units() -> Result<()> {
    let mut units = vec!["/lib/systemd/system/pop3d.service".to_owned()];
    for socket in super::SOCKET_UNITS {
        let wants = Path::new("/etc/systemd/system/sockets.target.wants").join(socket);
        if wants.symlink_metadata().is_ok() {
            bail!("{} exists: the package enabled {socket}", wants.display());
        }
        units.push(format!("/lib/systemd/system/{socket}"));
    }
    let args: Vec<&str> = std::iter::once("verify")
        .chain(units.iter().map(String::as_str))
        .collect();
    let verified = Command::new("systemd-analyze")
        .args(&args)
        .output()
        .context("cannot start systemd-analyze")?;
    let said = String::from_utf8_lossy(&verified.stderr);
    if !verified.status.success() || !said.trim().is_empty() {
        bail!(
            "systemd-analyze verify of the units: {}{said}",
            verified.status
        );
    }
    Ok(())
}

/// Runs the installed pop3d as the pop3d user on loopback ports and logs in with poplib over
/// STLS, trusting only the snakeoil certificate.
fn serve_and_login() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("pop3d-install-test-{}", std::process::id()));
    fs::create_dir_all(&dir).context("cannot create the test directory")?;
    let result = serve_in(&dir);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn serve_in(dir: &Path) -> Result<()> {
    let (pop3, pop3s, metrics) = (free_port()?, free_port()?, free_port()?);
    let installed =
        fs::read_to_string("/etc/pop3d/pop3d.toml").context("cannot read the conffile")?;
    let socket = dir.join("admin.sock");
    let lmtp = dir.join("lmtp.sock");
    let mut config = installed;
    for (from, to) in [
        (
            "address = \"0.0.0.0:110\"",
            format!("address = \"127.0.0.1:{pop3}\""),
        ),
        (
            "address = \"[::]:995\"",
            format!("address = \"127.0.0.1:{pop3s}\""),
        ),
        (
            "address = \"127.0.0.1:9110\"",
            format!("address = \"127.0.0.1:{metrics}\""),
        ),
        (
            "socket = \"/run/pop3d/admin.sock\"",
            format!("socket = \"{}\"", socket.display()),
        ),
        (
            "socket = \"/run/pop3d/lmtp.sock\"",
            format!("socket = \"{}\"", lmtp.display()),
        ),
    ] {
        if !config.contains(from) {
            bail!("the installed config has no {from}");
        }
        config = config.replace(from, &to);
    }
    let config_path = dir.join("pop3d.toml");
    fs::write(&config_path, config).context("cannot write the config copy")?;
    run("chown", &["-R", "pop3d:pop3d", &path_str(dir)?], &[])?;
    let log = fs::File::create(dir.join("pop3d.log")).context("cannot create the log")?;
    let config_arg = path_str(&config_path)?;
    let child = Command::new("setpriv")
        .args(as_pop3d(&["/usr/sbin/pop3d", "--config", &config_arg]))
        .stderr(log)
        .spawn()
        .context("cannot start pop3d")?;
    let server = Server(child);
    let login = wait_for(pop3).and_then(|()| login(pop3, &lmtp));
    drop(server);
    if let Err(e) = login {
        let log = fs::read_to_string(dir.join("pop3d.log")).unwrap_or_default();
        bail!("{e:#}\npop3d's log:\n{log}");
    }
    Ok(())
}

const POPLIB: &str = r#"
import poplib, smtplib, ssl, sys
port, user, password, lmtp = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
# A second message over the packaged LMTP socket (root may deliver; Postfix's user too).
with smtplib.LMTP(lmtp) as delivery:
    refused = delivery.sendmail("sender@example.org", [user + "+tag@example.org"],
                                b"Subject: over lmtp\r\n\r\nhello\r\n")
    assert not refused, refused
context = ssl.create_default_context(cafile="/etc/ssl/certs/ssl-cert-snakeoil.pem")
context.check_hostname = False  # the snakeoil certificate names this host, not 127.0.0.1
pop = poplib.POP3("127.0.0.1", port, timeout=20)
pop.stls(context=context)
pop.user(user)
pop.pass_(password)
count, size = pop.stat()
assert count == 2, (count, size)
lines = pop.retr(1)[1]
assert b"Subject: packaged" in lines, lines
lines = pop.retr(2)[1]
assert b"Subject: over lmtp" in lines and b"Delivered-To: " + user.encode() + b"+tag@example.org" in lines, lines
pop.quit()
print("smtplib.LMTP delivery, then poplib: STLS login, STAT 2, RETR 1 and 2 ok")
"#;

fn login(port: u16, lmtp: &Path) -> Result<()> {
    let lmtp = path_str(lmtp)?;
    run(
        "python3",
        &["-c", POPLIB, &port.to_string(), USER, PASSWORD, &lmtp],
        &[],
    )
    .context("an LMTP delivery, then a POP3 login over STLS, to the installed pop3d failed")
}

/// Purges the package at the end, or when the test fails half-way, and removes the test's
/// own Maildir once the purge has been seen to keep it.
struct Installed {
    mail: PathBuf,
    purged: bool,
    /// Whether the package made the pop3d user and group (then removed at the end).
    user_made_here: bool,
}

impl Installed {
    fn purge(mut self) -> Result<()> {
        self.purged = true;
        run("dpkg", &["--purge", "pop3d"], &[])?;
        for gone in ["/etc/pop3d", "/var/lib/pop3d", "/run/pop3d", WANTS] {
            if fs::symlink_metadata(gone).is_ok() {
                bail!("{gone} is still there after dpkg --purge");
            }
        }
        let new = self.mail.join("Maildir/new");
        let messages = fs::read_dir(&new)
            .with_context(|| format!("{} is gone: the purge took mail", new.display()))?;
        // The message pop3-admin delivered and the one delivered over LMTP.
        if messages.count() + fs::read_dir(self.mail.join("Maildir/cur"))?.count() != 2 {
            bail!(
                "the two test messages are not in {} after the purge",
                self.mail.display()
            );
        }
        eprintln!(
            "dist: installed, served a login as pop3d, purged; {} kept",
            self.mail.display()
        );
        Ok(())
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.purged {
            eprintln!("install test failed: purging pop3d");
            let _ = Command::new("dpkg").args(["--purge", "pop3d"]).status();
        }
        let _ = fs::remove_dir_all(&self.mail);
        if self.user_made_here {
            let _ = Command::new("deluser")
                .args(["--quiet", "--system", "pop3d"])
                .status();
            let _ = Command::new("delgroup")
                .args(["--quiet", "--system", "--only-if-empty", "pop3d"])
                .status();
        }
    }
}

/// The pop3d this test started, stopped (SIGTERM, by its PID) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn as_pop3d<'a>(command: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--reuid",
        "pop3d",
        "--regid",
        "pop3d",
        "--init-groups",
        "--",
    ];
    args.extend_from_slice(command);
    args
}

fn run_with_stdin(mut command: Command, input: &[u8]) -> Result<()> {
    eprintln!("$ {command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot start pop3-admin")?;
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, input).context("writing stdin")?;
    }
    let status = child.wait().context("waiting for pop3-admin")?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

fn wait_for(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("pop3d did not listen on 127.0.0.1:{port} within 20 s")
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn nix_is_root() -> bool {
    output("id", &["-u"]).is_ok_and(|uid| uid.trim() == "0")
}
