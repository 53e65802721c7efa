//! Issue 16, system accounts: real users made with `useradd` and `chpasswd` (Debian hashes
//! with yescrypt by default), mail in `~/Maildir` owned by each user, imported with
//! `pop3-admin migrate system` from the real `/etc/passwd` and `/etc/shadow`, then served by a
//! real pop3d. The accounts have unique names (so parallel runs do not clash) and are removed
//! with `userdel` whatever happens. The yescrypt hash of `/etc/shadow` is imported as it is
//! and logs the user in to pop3d with the old password.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::peers::{Pop3d, free_port, is_root, pop3, tool_exists};
use crate::support::{ACCOUNTS, Accounts, Site, run};

/// `~/Maildir` with `n` messages, owned by the account, as Postfix's local delivery makes it.
fn maildir_of(home: &Path, name: &str, n: usize) -> PathBuf {
    let maildir = home.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for i in 0..n {
        let file = maildir.join(format!("new/17000000{i:02}.M{i}P9Q{i}.host"));
        std::fs::write(file, format!("Subject: {i}\n\nfor {name}\n")).unwrap();
    }
    run(
        Command::new("chown")
            .args(["-R", &format!("{name}:{name}")])
            .arg(&maildir),
        "",
    );
    maildir
}

#[test]
fn issue_16_system_accounts_keep_their_passwords_and_maildirs() {
    if !is_root() {
        eprintln!(
            "!!! SKIPPED issue_16_system_accounts_keep_their_passwords_and_maildirs: needs root \
             for useradd (CI runs as root)"
        );
        return;
    }
    for tool in ["useradd", "chpasswd", "usermod", "userdel"] {
        assert!(
            tool_exists(tool),
            "{tool} is not installed (Debian's passwd package)"
        );
    }
    let site = Site::new();
    let dir = site.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let homes = dir.join("home");
    std::fs::create_dir(&homes).unwrap();
    let tag = std::process::id() % 1_000_000;
    let names: Vec<String> = ["a", "l"].iter().map(|s| format!("p3m{tag}{s}")).collect();
    let accounts = Accounts(names.clone());
    let serial = ACCOUNTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for name in &accounts.0 {
        let _ = Command::new("userdel")
            .arg(name)
            .stderr(Stdio::null())
            .status();
        let home = homes.join(name);
        run(
            Command::new("useradd")
                .args(["-m", "-s", "/usr/sbin/nologin", "-d"])
                .arg(&home)
                .arg(name),
            "",
        );
    }
    let (active, locked) = (&names[0], &names[1]);
    run(
        &mut Command::new("chpasswd"),
        &format!("{active}:old system password\n{locked}:locked pw\n"),
    );
    run(Command::new("usermod").args(["-L", locked]), "");
    drop(serial);
    let active_maildir = maildir_of(&homes.join(active), active, 3);
    maildir_of(&homes.join(locked), locked, 1);

    let (code, out, err) = site.run(&["migrate", "system", active, locked, "--json"], b"");
    assert_eq!(code, 0, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entry = |name: &str| {
        report["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {report:#}"))
    };
    let a = entry(active);
    assert_eq!(a["result"], "created", "{a:#}");
    assert_eq!(a["messages"], 3);
    assert_eq!(a["maildir"], active_maildir.to_str().unwrap());
    let l = entry(locked);
    assert_eq!(l["result"], "created", "{l:#}");
    assert_eq!(l["enabled"], false, "a locked account is imported disabled");

    // pop3d serves the Maildirs where they are, as root (each belongs to its user).
    let port = free_port();
    site.serve_on(port, "");
    let pop3d = Pop3d::start(&site.config);
    assert!(pop3(port, locked, "locked pw", &["STAT"]).is_err());
    assert!(pop3(port, active, "wrong", &["STAT"]).is_err());

    // The yescrypt hash of /etc/shadow (Debian's default) logs the user in.
    assert_eq!(a["scheme"], "YESCRYPT", "{a:#}");
    assert_eq!(a["enabled"], true, "{a:#}");
    let stat = pop3(port, active, "old system password", &["STAT"])
        .unwrap_or_else(|e| panic!("login with the old password: {e}\n{}", pop3d.log()));
    assert!(stat[0].starts_with("+OK 3 "), "{stat:?}");
    drop(accounts);
}
