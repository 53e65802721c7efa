//! Issue 17: what `pop3-admin` makes as root is usable by pop3d running as its own user, and
//! so is what `pop3-admin deliver` makes, whatever uid runs it. Real system accounts (made
//! with `useradd`, removed with `userdel` whatever happens), the real pop3d started as that
//! user (privilege drop through `[privileges]`, or `setpriv` as systemd's `User=` would),
//! logins and RETR over a socket.

use pop3_auth::UserStore as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::peers::{Pop3d, free_port, is_root, pop3, tool_exists};
use crate::support::{ACCOUNTS, Accounts, Site, maildir_dirs, run, run_with_input};

const MESSAGE: &[u8] = b"Subject: issue 17\n\nreadable by pop3d\n";

/// How pop3d learns who it runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// `[privileges]` in the config; pop3d started as root drops to it.
    Privileges,
    /// No `[privileges]`; `User=` in a drop-in of the site's own `pop3d.service` (the tool
    /// finds it through `POP3D_SYSTEMD_UNIT_PATH`); pop3d started as that user by `setpriv`.
    Unit,
}

/// A site served by a system account of its own, whose data directory belongs to that
/// account, as `/var/lib/pop3d` belongs to pop3d.
struct Fixture {
    site: Site,
    accounts: Accounts,
    server: String,
    uid: u32,
    gid: u32,
    data: PathBuf,
    port: u16,
    via: Via,
}

impl Fixture {
    fn new(suffix: &str, via: Via) -> Fixture {
        let site = Site::new();
        std::fs::set_permissions(site.dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
        let mut accounts = Accounts(Vec::new());
        let server = format!("p3o{}{suffix}", std::process::id() % 1_000_000);
        let (uid, gid) = add_account(&mut accounts, &server);
        let data = site.dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&data, PermissionsExt::from_mode(0o750)).unwrap();
        let config = std::fs::read_to_string(&site.config)
            .unwrap()
            .replace(
                &site.dir.path().join("users.db").display().to_string(),
                &data.join("users.db").display().to_string(),
            )
            .replace(
                &site.dir.path().join("admin.sock").display().to_string(),
                &data.join("admin.sock").display().to_string(),
            );
        std::fs::write(&site.config, config).unwrap();
        let port = free_port();
        let extra = match via {
            Via::Privileges => {
                format!("\n[privileges]\nuser = \"{server}\"\ngroup = \"{server}\"\n")
            }
            Via::Unit => {
                // The last assignment wins: the drop-in's user; its empty Group= resets the
                // unit's, so the group is the user's primary group.
                let units = site.dir.path().join("systemd");
                std::fs::create_dir_all(units.join("pop3d.service.d")).unwrap();
                std::fs::write(
                    units.join("pop3d.service"),
                    "[Service]\nExecStart=/usr/local/bin/pop3d\nUser=nobody\nGroup=nogroup\n",
                )
                .unwrap();
                std::fs::write(
                    units.join("pop3d.service.d/10-user.conf"),
                    format!("[Service]\nUser={server}\nGroup=\n"),
                )
                .unwrap();
                String::new()
            }
        };
        site.serve_on(port, &extra);
        Fixture {
            site,
            accounts,
            server,
            uid,
            gid,
            data,
            port,
            via,
        }
    }

    fn db(&self) -> PathBuf {
        self.data.join("users.db")
    }

    /// `pop3-admin ARGS` as root with umask 0 (nothing then keeps SQLite's 0644 from being
    /// 0644, or ours from being 0640).
    fn admin(&self, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        self.admin_as(&["sh", "-c", "umask 000; exec \"$@\"", "sh"], args, stdin)
    }

    /// `pop3-admin ARGS` through `wrapper` (`setpriv ...` to run it as another user).
    fn admin_as(&self, wrapper: &[&str], args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(env!("CARGO_BIN_EXE_pop3-admin"))
            .env(
                "POP3D_SYSTEMD_UNIT_PATH",
                self.site.dir.path().join("systemd"),
            )
            .arg("--config")
            .arg(&self.site.config)
            .args(args)
            .current_dir("/");
        run_with_input(command, stdin)
    }

    /// `pop3-admin deliver USER` run as `account`, with its groups, as Postfix's
    /// `mailbox_command` runs it as the recipient.
    fn deliver_as(&self, account: &str, user: &str) -> (i32, String, String) {
        let reuid = format!("--reuid={account}");
        let regid = format!("--regid={}", ids(account).1);
        let wrapper = ["setpriv", &reuid, &regid, "--init-groups"];
        self.admin_as(&wrapper, &["deliver", user], MESSAGE)
    }

    /// pop3d, running as the fixture's account.
    fn pop3d(&self) -> Pop3d {
        match self.via {
            Via::Privileges => Pop3d::start(&self.site.config),
            Via::Unit => Pop3d::start_with(
                &[
                    "setpriv".to_owned(),
                    format!("--reuid={}", self.uid),
                    format!("--regid={}", self.gid),
                    "--init-groups".to_owned(),
                ],
                &self.site.config,
            ),
        }
    }

    fn add_user(&self, name: &str) -> PathBuf {
        let (code, _, err) = self.admin(&["user", "add", name, "--password-stdin"], b"pw\n");
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("warning"), "{err}");
        self.site.maildir(name)
    }
}

/// A system account without a home; its uid and primary gid.
fn add_account(accounts: &mut Accounts, name: &str) -> (u32, u32) {
    let _serial = ACCOUNTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = Command::new("userdel")
        .arg(name)
        .stderr(Stdio::null())
        .status();
    accounts.0.push(name.to_owned());
    run(
        Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", name]),
        "",
    );
    ids(name)
}

fn ids(name: &str) -> (u32, u32) {
    let user = nix::unistd::User::from_name(name).unwrap().unwrap();
    (user.uid.as_raw(), user.gid.as_raw())
}

fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid(), meta.mode() & 0o7777)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

fn needs_root(test: &str) -> bool {
    if !is_root() {
        eprintln!(
            "!!! SKIPPED {test}: needs root for useradd and to run as other users (CI runs as root)"
        );
        return false;
    }
    for tool in ["useradd", "userdel", "usermod", "setpriv"] {
        assert!(tool_exists(tool), "{tool} is not installed");
    }
    true
}

#[test]
fn issue_17_user_add_as_root_makes_a_database_and_maildir_pop3ds_user_can_use() {
    if !needs_root("issue_17_user_add_as_root_makes_a_database_and_maildir_pop3ds_user_can_use") {
        return;
    }
    for (suffix, via) in [("p", Via::Privileges), ("u", Via::Unit)] {
        let f = Fixture::new(suffix, via);
        let owner = (f.uid, f.gid);
        let maildir = f.add_user("alice");
        assert_eq!(
            owner_and_mode(&f.db()),
            (f.uid, f.gid, 0o640),
            "{via:?}: users.db"
        );
        for dir in maildir_dirs(&maildir) {
            assert_eq!(
                owner_and_mode(&dir),
                (owner.0, owner.1, 0o700),
                "{via:?}: {}",
                dir.display()
            );
        }

        // SQLite run as root gives the -wal and -shm it creates the database's owner and
        // mode: a root process holding the database open (the tool mid-command) leaves them
        // to pop3d, which must open them read-write to log anyone in.
        let held = pop3_auth::UserDb::open(&f.db()).unwrap();
        let alice = pop3_auth::UserName::parse("alice").unwrap();
        held.set_enabled(&alice, true).unwrap();
        for companion in ["users.db-wal", "users.db-shm"] {
            assert_eq!(
                owner_and_mode(&f.data.join(companion)),
                (f.uid, f.gid, 0o640),
                "{via:?}: {companion}"
            );
        }

        // Delivered as root, served by pop3d running as the server's user.
        let (code, _, err) = f.admin(&["deliver", "alice"], MESSAGE);
        assert_eq!(code, 0, "{err}");
        let delivered = files_in(&maildir.join("new"));
        assert_eq!(delivered.len(), 1);
        assert_eq!(owner_and_mode(&delivered[0]), (f.uid, f.gid, 0o600));
        let pop3d = f.pop3d();
        let replies = pop3(f.port, "alice", "pw", &["RETR 1"])
            .unwrap_or_else(|e| panic!("{via:?} as {}: {e}\n{}", f.server, pop3d.log()));
        assert!(replies[0].contains("readable by pop3d"), "{replies:?}");
        drop(held);
        drop(pop3d);
        drop(f.accounts);
    }
}

#[test]
fn issue_17_deliver_as_the_recipient_into_a_group_writable_maildir_is_served() {
    if !needs_root("issue_17_deliver_as_the_recipient_into_a_group_writable_maildir_is_served") {
        return;
    }
    let mut f = Fixture::new("g", Via::Privileges);
    let maildir = f.add_user("rcpt");
    let recipient = recipient_in_group(&mut f, &maildir);
    let pop3d = f.pop3d();
    // A reader that may not write reads a WAL database only while its -shm exists, that is
    // while another process has it open (docs/delivery.md); pop3d's connections come and go
    // with its threads, so the test holds one (as root: SQLite gives the -shm to pop3d).
    let held = pop3_auth::UserDb::open(&f.db()).unwrap();
    held.list().unwrap();

    let (code, _, err) = f.deliver_as(&recipient, "rcpt");
    assert_eq!(code, 0, "{err}");
    let replies = pop3(f.port, "rcpt", "pw", &["RETR 1"])
        .unwrap_or_else(|e| panic!("RETR as {}: {e}\n{}", f.server, pop3d.log()));
    assert!(replies[0].contains("readable by pop3d"), "{replies:?}");
    // The recipient's file, in the Maildir's group, readable by the group only.
    let delivered = files_in(&maildir.join("cur"));
    assert_eq!(delivered.len(), 1);
    let (recipient_uid, _) = ids(&recipient);
    assert_eq!(owner_and_mode(&delivered[0]), (recipient_uid, f.gid, 0o640));
    drop(held);
}

/// Issue 19: under a quota, `maildirsize` made by the recipient's delivery is shared
/// read-write with the Maildir's group (0660), so pop3d, running as its own user, appends
/// QUIT's deletions to it, and the recipient's next delivery appends its own line.
#[test]
fn issue_19_maildirsize_made_by_the_recipient_is_kept_by_both() {
    if !needs_root("issue_19_maildirsize_made_by_the_recipient_is_kept_by_both") {
        return;
    }
    let mut f = Fixture::new("q", Via::Privileges);
    let config = std::fs::read_to_string(&f.site.config).unwrap();
    std::fs::write(&f.site.config, config + "\n[quota]\nmessages = 2\n").unwrap();
    let maildir = f.add_user("rcpt");
    let recipient = recipient_in_group(&mut f, &maildir);
    let _pop3d = f.pop3d();
    let held = pop3_auth::UserDb::open(&f.db()).unwrap();
    held.list().unwrap();
    for _ in 0..2 {
        let (code, _, err) = f.deliver_as(&recipient, "rcpt");
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = f.deliver_as(&recipient, "rcpt");
    assert_eq!(code, 73, "{err}");
    let size_file = maildir.join("maildirsize");
    let (recipient_uid, _) = ids(&recipient);
    assert_eq!(owner_and_mode(&size_file), (recipient_uid, f.gid, 0o660));
    pop3(f.port, "rcpt", "pw", &["DELE 1"]).unwrap();
    let text = std::fs::read_to_string(&size_file).unwrap();
    assert!(text.ends_with(" -1\n"), "{text}");
    let (code, _, err) = f.deliver_as(&recipient, "rcpt");
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&size_file).unwrap();
    assert!(text.lines().count() > 2 && text.ends_with(" 1\n"), "{text}");
    drop(held);
}

#[test]
fn issue_17_root_without_a_server_user_is_warned_and_a_world_readable_database_too() {
    let site = Site::new();
    let (code, _, err) = site.run(&["user", "add", "alice", "--password-stdin"], b"pw\n");
    assert_eq!(code, 0, "{err}");
    let db = site.dir.path().join("users.db");
    assert_eq!(owner_and_mode(&db).2, 0o640, "a new database is never 0644");
    if is_root() {
        // No [privileges], no unit: the files are root's, and the tool says what to set.
        assert!(
            err.contains("the new user database") && err.contains("the new Maildir"),
            "{err}"
        );
        assert!(
            err.contains("[privileges]") && err.contains("pop3d.service"),
            "{err}"
        );
    } else {
        assert!(!err.contains("warning"), "{err}");
    }
    // A database an older version (or the administrator) left readable by everyone: said
    // every time, never changed behind the administrator's back.
    std::fs::set_permissions(&db, PermissionsExt::from_mode(0o644)).unwrap();
    let (code, _, err) = site.run(&["user", "list"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("readable by every user") && err.contains("chmod 640"),
        "{err}"
    );
    assert_eq!(owner_and_mode(&db).2, 0o644);
}

#[test]
fn issue_17_deliver_as_a_user_that_can_make_nothing_readable_exits_75_and_leaves_nothing() {
    if !needs_root(
        "issue_17_deliver_as_a_user_that_can_make_nothing_readable_exits_75_and_leaves_nothing",
    ) {
        return;
    }
    let mut f = Fixture::new("n", Via::Privileges);
    let maildir = f.add_user("rcpt");
    // Someone outside pop3d's group, who can read the database and write the Maildir
    // (opened to everyone by mistake), but whose 0600 file pop3d could never open.
    let outsider = format!("{}x", f.server);
    add_account(&mut f.accounts, &outsider);
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, PermissionsExt::from_mode(mode)).unwrap();
    };
    mode(&f.data, 0o755);
    mode(&f.db(), 0o644);
    mode(maildir.parent().unwrap(), 0o755);
    for sub in ["", "new", "cur", "tmp"] {
        mode(&maildir.join(sub), 0o777);
    }
    // A connection held open, so the outsider finds the -shm it may read.
    let held = pop3_auth::UserDb::open(&f.db()).unwrap();

    let (code, _, err) = f.deliver_as(&outsider, "rcpt");
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("pop3d could not read"), "{err}");
    assert!(files_in(&maildir.join("new")).is_empty());
    assert!(files_in(&maildir.join("tmp")).is_empty());
    drop(held);
}

/// The recipient's Unix account (`<server>r`), a member of pop3d's group, and `maildir`
/// opened to the group (no setgid bit: the delivery itself must give its files the group).
fn recipient_in_group(f: &mut Fixture, maildir: &Path) -> String {
    let recipient = format!("{}r", f.server);
    add_account(&mut f.accounts, &recipient);
    {
        let _serial = ACCOUNTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        run(
            Command::new("usermod").args(["-a", "-G", &f.server, &recipient]),
            "",
        );
    }
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, PermissionsExt::from_mode(mode)).unwrap();
    };
    mode(maildir.parent().unwrap(), 0o750);
    for sub in ["", "new", "cur", "tmp"] {
        mode(&maildir.join(sub), 0o770);
    }
    recipient
}
