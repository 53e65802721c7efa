//! Issue 16, end to end, with the real old server and real clients: a Dovecot (passwd-file
//! users, `mail_location = maildir:~/Maildir`) serves Maildirs holding both Dovecot-LDA-style
//! names (`,S=`/`,W=`) and Postfix-style names; mpop and fetchmail fetch in keep-on-server
//! mode and remember UIDLs; Dovecot's UIDL listing is recorded; Dovecot is stopped by PID;
//! `pop3-admin migrate dovecot` runs; pop3d starts on the same port and Maildirs; the same
//! clients fetch again.
//!
//! The users cover every password scheme of issue 16, each hash made by `doveadm pw` at test
//! time, so Dovecot verifies it before the switch (the clients' first fetches) and pop3d
//! after. Before pop3d starts, `pop3-admin uidl NAME` must equal Dovecot's own `UIDL`
//! listing line for line, as `docs/migration.md` tells the administrator to check.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peers::{
    Dovecot, MailClient, Pop3d, free_port, is_root, pop3, tool_exists, uidl_listing,
};
use crate::support::Site;

/// The users: name, password, the scheme `doveadm pw -s` hashes it with (every scheme issue
/// 16 lists), and whether the passwd-file has the hash without its `{SCHEME}` prefix (then
/// Dovecot's passdb `scheme=CRYPT` default applies, as `pop3-admin migrate`'s `--scheme`).
const USERS: [(&str, &str, &str, bool); 11] = [
    ("ann@example.org", "ann's old password", "PLAIN", false),
    ("bob@example.org", "bob-pw-2019", "ARGON2ID", false),
    ("carl@example.net", "carl 123", "ARGON2I", false),
    ("dora@example.net", "dora:colon", "BLF-CRYPT", false),
    ("ed@example.org", "ed sha512 pw", "SHA512-CRYPT", false),
    ("flo@example.org", "flo-sha256", "SHA256-CRYPT", false),
    ("gus@example.net", "gus ssha512", "SSHA512", false),
    ("hal@example.net", "hal ssha256", "SSHA256", false),
    ("ida@example.org", "ida md5", "MD5-CRYPT", false),
    ("jo@example.org", "jo bare", "SHA512-CRYPT", true),
    ("kim@example.net", "kim bare md5", "MD5-CRYPT", true),
];

/// `doveadm pw -s SCHEME -p PASSWORD`: `{SCHEME}hash`.
fn doveadm_pw(scheme: &str, password: &str) -> String {
    let out = Command::new("doveadm")
        .args(["pw", "-s", scheme, "-p", password])
        .output()
        .unwrap();
    assert!(out.status.success(), "doveadm pw -s {scheme}: {out:?}");
    let line = String::from_utf8(out.stdout).unwrap().trim_end().to_owned();
    assert!(line.starts_with(&format!("{{{scheme}}}")), "{line}");
    line
}

/// Messages of each user as Dovecot found them: (directory, LDA style?, flags).
const MAIL: [(&str, bool, &str); 6] = [
    ("cur", true, ":2,S"),
    ("cur", true, ":2,"),
    ("new", true, ""),
    ("new", false, ""),
    ("new", false, ""),
    ("cur", false, ":2,S"),
];

fn home(vmail: &Path, user: &str) -> PathBuf {
    let (local, domain) = user.split_once('@').unwrap();
    vmail.join(domain).join(local)
}

/// Writes the user's Maildir under its home, with `MAIL`'s messages (LF line endings, as
/// an MTA stores them); returns the Maildir.
fn fill(home: &Path, n: usize) -> PathBuf {
    let maildir = home.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for (i, (dir, lda, flags)) in MAIL.iter().enumerate() {
        let body = format!(
            "From: someone@example.com\nSubject: old message {i} of user {n}\n\n\
             .a line with a leading dot\nbody {i}\n"
        );
        let lines = body.bytes().filter(|&b| b == b'\n').count();
        let secs = 1_700_000_000 + n * 100 + i;
        let name = if *lda {
            // Dovecot's LDA: <secs>.M<usecs>P<pid>.<host>,S=<size>,W=<CRLF size>
            format!(
                "{secs}.M{}P{}.old-mx,S={},W={}{flags}",
                100 + i,
                4000 + n,
                body.len(),
                body.len() + lines
            )
        } else {
            // Postfix's virtual: <secs>.M<usecs>P<pid>Q<n>.<host>, no sizes.
            format!("{secs}.M{}P{}Q{i}.old-mx{flags}", 200 + i, 5000 + n)
        };
        std::fs::write(maildir.join(dir).join(name), body).unwrap();
    }
    maildir
}

/// nobody:nogroup on Debian.
const NOBODY: (u32, u32) = (65534, 65534);

fn owner(path: &Path) -> (u32, u32) {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

fn chown_nobody(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A new message as Postfix's `virtual` delivers it: tmp/, then renamed into new/, owned by
/// the Maildir's owner.
fn deliver_postfix(maildir: &Path, n: usize) {
    let owner = std::fs::metadata(maildir).unwrap();
    let name = format!("1800000000.M{n}P77Q1.new-mx");
    let tmp = maildir.join("tmp").join(&name);
    std::fs::write(
        &tmp,
        format!("Subject: new mail {n}\n\nafter the cutover\n"),
    )
    .unwrap();
    std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid())).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
}

#[test]
fn issue_16_dovecot_to_pop3d_real_clients_download_nothing_again() {
    if !is_root() {
        eprintln!(
            "!!! SKIPPED issue_16_dovecot_to_pop3d_real_clients_download_nothing_again: needs \
             root to run Dovecot's mail processes and pop3d as nobody (CI runs as root)"
        );
        return;
    }
    for tool in ["dovecot", "mpop", "fetchmail"] {
        assert!(
            tool_exists(tool),
            "{tool} is not installed: .ci/run installs it (dovecot-pop3d, mpop, fetchmail)"
        );
    }
    let site = Site::new();
    let dir = site.dir.path().to_owned();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let vmail = dir.join("vmail");
    let mut lines =
        String::from("# Dovecot passwd-file: user:password:uid:gid:gecos:home:shell:extra\n");
    let mut maildirs = BTreeMap::new();
    for (n, (user, password, scheme, bare)) in USERS.iter().enumerate() {
        let home = home(&vmail, user);
        maildirs.insert(*user, fill(&home, n));
        let field = doveadm_pw(scheme, password);
        let field = if *bare {
            field[scheme.len() + 2..].to_owned()
        } else {
            field
        };
        lines.push_str(&format!(
            "{user}:{field}:65534:65534::{}::\n",
            home.display()
        ));
    }
    let passwd = dir.join("users");
    std::fs::write(&passwd, lines).unwrap();
    chown_nobody(&dir);

    // Before: Dovecot serves, the clients fetch everything once and then nothing.
    let port = free_port();
    let dovecot = Dovecot::start(&dir.join("dovecot"), port, &passwd, "maildir:~/Maildir");
    // The clients' own state, outside the tree given to nobody (their rc files must be ours).
    let clients_dir = tempfile::tempdir().unwrap();
    let clients_root = clients_dir.path();
    let clients: Vec<(&str, &str, MailClient)> = USERS
        .iter()
        .flat_map(|(user, password, _, _)| {
            ["mpop", "fetchmail"].map(|kind| {
                (
                    *user,
                    *password,
                    MailClient::new(kind, clients_root, user, password),
                )
            })
        })
        .collect();
    for (user, _, client) in &clients {
        let got = client.fetch(port);
        assert_eq!(
            got,
            MAIL.len(),
            "{} from Dovecot for {user}: first fetch",
            client.kind
        );
        assert_eq!(
            client.fetch(port),
            0,
            "{} from Dovecot for {user}: second fetch",
            client.kind
        );
    }
    let mut dovecot_uidls = BTreeMap::new();
    for (user, password, _, _) in USERS {
        let listing = uidl_listing(port, user, password)
            .unwrap_or_else(|e| panic!("Dovecot UIDL for {user}: {e}\n{}", log(&dovecot.log)));
        assert_eq!(listing.len(), MAIL.len(), "{listing:?}");
        dovecot_uidls.insert(user, listing);
    }
    dovecot.stop();

    // pop3d will run as nobody, the owner of every Maildir (Dovecot's virtual users' `vmail`):
    // `[privileges]` is in pop3d.toml before the migration, as docs/migration.md has it, and
    // the Maildirs are nobody's already (given before Dovecot ran; nothing is chowned after
    // the migration, so what `migrate` writes into them, as root, must be nobody's itself).
    site.serve_on(
        port,
        "\n[privileges]\nuser = \"nobody\"\ngroup = \"nogroup\"\n",
    );
    for maildir in maildirs.values() {
        assert_eq!(owner(maildir), NOBODY, "{}", maildir.display());
    }

    // The cutover.
    let (code, out, err) = site.run(
        &[
            "migrate",
            "dovecot",
            "--passwd-file",
            passwd.to_str().unwrap(),
            "--maildir",
            "maildir:~/Maildir",
            "--json",
        ],
        b"",
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["summary"]["created"], USERS.len(), "{report:#}");
    let entries = report["users"].as_array().unwrap();
    assert_eq!(entries.len(), USERS.len(), "{report:#}");
    for ((user, _, scheme, _), entry) in USERS.iter().zip(entries) {
        assert_eq!(entry["name"], *user, "{entry:#}");
        assert_eq!(entry["result"], "created", "{entry:#}");
        assert_eq!(entry["scheme"], *scheme, "{entry:#}");
        assert_eq!(entry["enabled"], true, "{entry:#}");
        assert_eq!(entry["messages"], MAIL.len(), "{entry:#}");
        assert_eq!(entry["uidls"]["source"], "dovecot-uidlist", "{entry:#}");
        assert_eq!(entry["uidls"]["found"], MAIL.len(), "{entry:#}");
        assert_eq!(entry["uidls"]["carried"], MAIL.len(), "{entry:#}");
        let warned = entry["notes"].to_string().contains("MD5-crypt is weak");
        assert_eq!(warned, *scheme == "MD5-CRYPT", "{entry:#}");
    }
    // Before pop3d starts: what it will serve equals what Dovecot served, line for line.
    for (user, _, _, _) in USERS {
        let (code, out, err) = site.run(&["uidl", user], b"");
        assert_eq!(code, 0, "pop3-admin uidl {user}: {err}");
        let listed: Vec<String> = out.lines().map(str::to_owned).collect();
        assert_eq!(listed, dovecot_uidls[&user], "pop3-admin uidl {user}");
    }
    // What the migration wrote into each Maildir (as root) is the Maildir owner's: pop3d
    // running as nobody opens `.pop3d.lock` read-write and reads `.pop3d.uidl`.
    for (user, maildir) in &maildirs {
        for file in [".pop3d.uidl", ".pop3d.lock"] {
            assert_eq!(owner(&maildir.join(file)), NOBODY, "{user}: {file}");
        }
    }
    // Only the user database, which the migration created as root, is given to pop3d's user
    // (docs/migration.md: its directory must belong to that user).
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("users.db")
        {
            chown_nobody(&path);
        }
    }
    let pop3d = Pop3d::start(&site.config);

    // Every user logs in with the old password (and not with a wrong one).
    for (user, password, _, _) in USERS {
        let stat = pop3(port, user, password, &["STAT"])
            .unwrap_or_else(|e| panic!("{user} with the old password: {e}\n{}", pop3d.log()));
        assert!(
            stat[0].starts_with(&format!("+OK {} ", MAIL.len())),
            "{stat:?}"
        );
        assert!(pop3(port, user, "wrong", &["STAT"]).is_err());
    }

    // The same clients fetch again; what they download is checked at the end.
    let refetched: Vec<String> = clients
        .iter()
        .map(|(user, _, client)| (user, client.kind, client.fetch(port)))
        .filter(|(_, _, n)| *n > 0)
        .map(|(user, kind, n)| format!("{kind} for {user} downloaded {n} old messages again"))
        .collect();
    let mut served_uidls = BTreeMap::new();
    for (user, password, _, _) in USERS {
        served_uidls.insert(user, uidl_listing(port, user, password).unwrap());
    }

    // New mail arrives and is fetched exactly once by each client.
    for (n, maildir) in maildirs.values().enumerate() {
        deliver_postfix(maildir, n);
    }
    for (user, _, client) in &clients {
        assert_eq!(
            client.fetch(port),
            1,
            "{} for {user}: the new message",
            client.kind
        );
        assert_eq!(
            client.fetch(port),
            0,
            "{} for {user}: nothing after it",
            client.kind
        );
    }
    for (user, maildir) in &maildirs {
        let on_server: usize = ["new", "cur"]
            .iter()
            .map(|sub| std::fs::read_dir(maildir.join(sub)).unwrap().count())
            .sum();
        assert_eq!(on_server, MAIL.len() + 1, "{user}: kept on the server");
    }

    // No client downloaded an old message again, and pop3d served Dovecot's UIDLs.
    assert!(
        refetched.is_empty(),
        "after the cutover:\n{}",
        refetched.join("\n")
    );
    assert_eq!(
        served_uidls, dovecot_uidls,
        "pop3d's UIDLs differ from Dovecot's"
    );
}

fn log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
