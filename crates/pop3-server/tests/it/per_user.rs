//! Issue 19: a user's own LOGIN-DELAY and EXPIRE over the real socket. CAPA before login
//! shows the site's values tagged `USER`; after login, the user's own (or the site's for a
//! user without, or whose stored value cannot be read); the delay and EXPIRE 0 follow them.

use pop3_auth::{Setting, UserName, UserStore};

use crate::support::{Client, Sections, TestServer, scrape};

/// The LOGIN-DELAY and EXPIRE lines of CAPA.
fn policy_lines(client: &mut Client) -> Vec<String> {
    assert!(client.command("CAPA").starts_with("+OK"));
    let mut lines = Vec::new();
    loop {
        let line = client.line().unwrap();
        if line == "." {
            return lines;
        }
        if line.starts_with("LOGIN-DELAY") || line.starts_with("EXPIRE") {
            lines.push(line);
        }
    }
}

fn login(client: &mut Client, name: &str) -> String {
    assert!(client.command(&format!("USER {name}")).starts_with("+OK"));
    client.command("PASS secret")
}

/// A site that keeps mail and has no delay, where bob expires mail at once and may log in
/// once an hour, carol has nothing of her own, and dave's EXPIRE was written by hand wrong.
fn site() -> TestServer {
    let sections = Sections {
        server: "login_delay_secs = 0\nexpire = \"never\"",
        ..Sections::default()
    };
    TestServer::start_seeded(
        sections,
        |text| text,
        |seed| {
            for name in ["bob", "carol", "dave"] {
                seed.add_user(name, "secret");
            }
            let db = seed.db();
            let bob = UserName::parse("bob").unwrap();
            db.set_policy(&bob, Setting::Expire, Some("0")).unwrap();
            db.set_policy(&bob, Setting::LoginDelay, Some("3600"))
                .unwrap();
            let conn = rusqlite::Connection::open(&seed.db_path).unwrap();
            conn.execute("UPDATE users SET expire = 'soon' WHERE name = 'dave'", [])
                .unwrap();
        },
    )
}

#[test]
fn issue_19_capa_before_and_after_login_with_per_user_values() {
    let server = site();
    let mut client = server.greet();
    assert_eq!(
        policy_lines(&mut client),
        ["LOGIN-DELAY 0 USER", "EXPIRE 0 USER"]
    );
    assert!(login(&mut client, "bob").starts_with("+OK"));
    assert_eq!(policy_lines(&mut client), ["LOGIN-DELAY 3600", "EXPIRE 0"]);
    client.command("QUIT");
    client.close();

    let mut client = server.greet();
    assert!(login(&mut client, "carol").starts_with("+OK"));
    assert_eq!(policy_lines(&mut client), ["LOGIN-DELAY 0", "EXPIRE NEVER"]);
    client.command("QUIT");
    client.close();

    // An unreadable value of dave's own: the site's, never "none".
    let mut client = server.greet();
    assert!(login(&mut client, "dave").starts_with("+OK"));
    assert_eq!(policy_lines(&mut client), ["LOGIN-DELAY 0", "EXPIRE NEVER"]);
    client.command("QUIT");
    client.close();
}

#[test]
fn issue_19_the_users_own_delay_and_expire_are_enforced() {
    let server = site();
    for name in ["bob", "carol", "dave"] {
        server.deliver(name, b"Subject: one\r\n\r\nbody\r\n");
    }
    for name in ["bob", "carol", "dave"] {
        let mut client = server.greet();
        assert!(login(&mut client, name).starts_with("+OK"), "{name}");
        assert!(client.command("RETR 1").starts_with("+OK"));
        while client.line().unwrap() != "." {}
        assert!(client.command("QUIT").starts_with("+OK"));
        client.close();
    }
    // bob's EXPIRE 0 removed his message; the site keeps carol's and dave's.
    assert_eq!(server.message_count("bob"), 0);
    assert_eq!(server.message_count("carol"), 1);
    assert_eq!(server.message_count("dave"), 1);
    assert!(scrape(&server).contains("pop3_messages_expired_total 1\n"));

    // bob's own delay refuses his second login (after authentication); carol has none.
    let mut client = server.greet();
    let again = login(&mut client, "bob");
    assert!(again.starts_with("-ERR [LOGIN-DELAY]"), "{again}");
    client.close();
    let mut client = server.greet();
    assert!(client.command("USER bob").starts_with("+OK"));
    assert!(client.command("PASS wrong").starts_with("-ERR [AUTH]"));
    client.close();
    let mut client = server.greet();
    assert!(login(&mut client, "carol").starts_with("+OK"));
    client.command("QUIT");
    client.close();

    // Lowered by the administrator, it applies at the next login.
    server
        .db()
        .set_policy(&UserName::parse("bob").unwrap(), Setting::LoginDelay, None)
        .unwrap();
    let mut client = server.greet();
    assert!(login(&mut client, "bob").starts_with("+OK"));
    client.close();
}

/// SIGHUP reads the users' own values again at once (else within 30 s), so CAPA before login
/// says `USER` right after `pop3-admin user set` and `systemctl reload pop3d`.
#[test]
fn issue_19_sighup_reads_the_users_own_values_again() {
    let daemon = crate::daemon::Daemon::start(Sections::default(), "");
    daemon.add_user("bob", "secret");
    let lines = |daemon: &crate::daemon::Daemon| {
        let mut client = daemon.greet();
        let lines = policy_lines(&mut client);
        client.close();
        lines
    };
    assert!(lines(&daemon).is_empty());
    let db = pop3_auth::UserDb::open(&daemon.dir.path().join("users.db")).unwrap();
    let bob = UserName::parse("bob").unwrap();
    db.set_policy(&bob, Setting::LoginDelay, Some("600"))
        .unwrap();
    daemon.signal("HUP");
    daemon.wait_for("per-user LOGIN-DELAY and EXPIRE read again", 1);
    assert_eq!(lines(&daemon), ["LOGIN-DELAY 0 USER"]);
}
