//! Issue 16, part 3, seen from a client of the real `pop3d`: carried-over UIDLs served in the
//! old server's order, new mail after them with pop3d's own, and a damaged or missing map
//! failing the login instead of silently changing every UIDL.

use std::path::Path;

use pop3_auth::UserName;
use pop3_auth::UserStore as _;

use crate::daemon::Daemon;
use crate::support::Sections;

/// Courier-named mail and Courier's size list for it; carried over, flag set.
fn carried(daemon: &Daemon, maildir: &Path) {
    std::fs::write(maildir.join("cur/1200000002.M2P2.mx:2,S"), "two\n").unwrap();
    std::fs::write(maildir.join("cur/1200000001.M1P1.mx:2,"), "one\n").unwrap();
    let sizelist = daemon.dir.path().join("courierpop3dsizelist");
    std::fs::write(
        &sizelist,
        "/3 9 1500000000\n\
         1200000001.M1P1.mx:2, 5 7:1500000000:0\n\
         1200000002.M2P2.mx:2,S 5 8:1500000000:0\n",
    )
    .unwrap();
    let uidls = pop3_maildrop::courier_sizelist(&sizelist).unwrap();
    let report = pop3_maildrop::carry_over(maildir, &uidls).unwrap();
    assert_eq!(report.carried, 2);
    let db = pop3_auth::UserDb::open(&daemon.dir.path().join("users.db")).unwrap();
    db.set_uidl_map(&UserName::parse("alice").unwrap(), true)
        .unwrap();
}

fn uidl(daemon: &Daemon) -> Vec<String> {
    let mut client = daemon.greet();
    client.login("alice", "secret");
    assert!(client.command("UIDL").starts_with("+OK"));
    let body = client.body();
    assert!(client.command("QUIT").starts_with("+OK"));
    body
}

#[test]
fn issue_16_courier_uidls_served_then_new_mail_with_native_uidls() {
    let daemon = Daemon::start(Sections::default(), "");
    let maildir = daemon.add_user("alice", "secret");
    carried(&daemon, &maildir);
    let delivered = pop3_maildrop::deliver(
        &pop3_maildrop::Maildir::open(&maildir).unwrap(),
        &b"new\n"[..],
    )
    .unwrap();
    let base = delivered
        .name
        .to_str()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        uidl(&daemon),
        [
            "1 UID7-1500000000".to_owned(),
            "2 UID8-1500000000".to_owned(),
            format!("3 {base}")
        ]
    );
    // QUIT with DELE drops the entry; the others keep theirs.
    let mut client = daemon.greet();
    client.login("alice", "secret");
    assert!(client.command("DELE 1").starts_with("+OK"));
    assert!(client.command("QUIT").starts_with("+OK"));
    assert_eq!(
        uidl(&daemon),
        ["1 UID8-1500000000".to_owned(), format!("2 {base}")]
    );
    let map = std::fs::read_to_string(maildir.join(".pop3d.uidl")).unwrap();
    assert!(!map.contains("UID7-"), "{map}");
}

#[test]
fn issue_16_a_damaged_or_missing_map_fails_the_login_with_sys_temp_and_an_error_log() {
    let daemon = Daemon::start(Sections::default(), "");
    let maildir = daemon.add_user("alice", "secret");
    carried(&daemon, &maildir);
    let map = maildir.join(".pop3d.uidl");
    let mut bytes = std::fs::read(&map).unwrap();
    bytes[30] ^= 1;
    std::fs::write(&map, &bytes).unwrap();
    for round in 1..=2 {
        let mut client = daemon.greet();
        assert!(client.command("USER alice").starts_with("+OK"));
        let reply = client.command("PASS secret");
        assert!(reply.starts_with("-ERR [SYS/TEMP]"), "{reply}");
        daemon.wait_for("UIDL map damaged or missing", round);
        let log = daemon.log();
        let line = log
            .lines()
            .rfind(|l| l.contains("UIDL map damaged or missing"))
            .unwrap()
            .to_owned();
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains(&map.display().to_string()), "{line}");
        // Then the map is deleted: the user database still says there was one.
        std::fs::remove_file(&map).unwrap_or_default();
    }
    assert!(daemon.log().contains("missing, but the user database"));
    // Nothing was renamed, moved or rewritten under the failed logins.
    assert!(!map.exists());
    assert!(maildir.join("cur/1200000001.M1P1.mx:2,").exists());
}
