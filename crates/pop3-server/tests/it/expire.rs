//! Issue 19 item 1, `EXPIRE 0` (RFC 2449 §6.7) over the real socket: QUIT removes what was
//! retrieved, and the metric counts expired messages apart from DELE'd ones. (The in-memory
//! and socket transcripts `expire-zero*.pop3` cover the replies and the dropped connection.)

use crate::support::{Sections, TestServer, scrape};

#[test]
fn issue_19_expire_0_removes_retrieved_mail_at_quit_counted_apart() {
    let server = TestServer::start("", "", "expire = \"0\"");
    server.add_user("alice", "secret");
    for n in 1..=3 {
        server.deliver(
            "alice",
            format!("Subject: {n}\r\n\r\nbody {n}\r\n").as_bytes(),
        );
    }
    let mut client = server.greet();
    assert!(client.command("USER alice").starts_with("+OK"));
    assert!(client.command("PASS secret").starts_with("+OK"));
    assert!(client.command("CAPA").starts_with("+OK"));
    let mut capa = Vec::new();
    loop {
        let line = client.line().unwrap();
        if line == "." {
            break;
        }
        capa.push(line);
    }
    assert!(capa.contains(&"EXPIRE 0".to_owned()), "{capa:?}");
    assert!(client.command("RETR 1").starts_with("+OK"));
    while client.line().unwrap() != "." {}
    assert!(client.command("DELE 2").starts_with("+OK"));
    let quit = client.command("QUIT");
    assert_eq!(quit, "+OK signing off (1 message left)");
    client.close();
    assert_eq!(server.message_count("alice"), 1);
    let metrics = scrape(&server);
    assert!(
        metrics.contains("pop3_messages_deleted_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pop3_messages_expired_total 1\n"),
        "{metrics}"
    );
}

// ---- EXPIRE n (n ≥ 1): first retrievals timed in `.pop3d.retrieved` ----

const DAY: i64 = 86_400;

/// A server with `[server] expire = 3` (as a number) and a lock wait long enough to cover a
/// dropped session's end; alice has `messages` messages.
fn expire_3(messages: usize) -> TestServer {
    let server = TestServer::start_with(Sections {
        server: "expire = 3",
        mailbox: "lock_wait_ms = 10000",
        ..Sections::default()
    });
    server.add_user("alice", "secret");
    for n in 1..=messages {
        server.deliver(
            "alice",
            format!("Subject: {n}\r\n\r\nbody {n}\r\n").as_bytes(),
        );
    }
    server
}

/// This boot's id, `CLOCK_BOOTTIME` and the wall clock, in seconds: what pop3d records.
fn clocks() -> (String, i64, i64) {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let boot = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .unwrap()
        .tv_sec();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (id.trim().to_owned(), boot, wall)
}

/// A retrieval file in its documented format (`pop3-maildrop`'s `retrieved` module and
/// `docs/protocol.md`): `(unique part, wall, boot id, boot secs)` per entry.
fn retrieval_file(entries: &[(&str, i64, &str, i64)]) -> String {
    let mut text = String::from("pop3d-retrieved 1\n");
    for (base, wall, boot, secs) in entries {
        text.push_str(&format!("{base} {wall} {boot} {secs}\n"));
    }
    let mut sum: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        sum = (sum ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    text.push_str(&format!("end {} {sum:016x}\n", entries.len()));
    text
}

fn retrieved_path(server: &TestServer) -> std::path::PathBuf {
    server.maildir("alice").join(pop3_maildrop::RETRIEVED_FILE)
}

/// The unique parts of alice's messages (new/ and cur/), sorted.
fn bases(server: &TestServer) -> Vec<String> {
    let maildir = server.maildir("alice");
    let mut bases: Vec<String> = ["new", "cur"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(maildir.join(sub)).unwrap())
        .map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let parsed = pop3_maildrop::ParsedName::parse(name.as_bytes());
            String::from_utf8(parsed.base.to_vec()).unwrap()
        })
        .collect();
    bases.sort();
    bases
}

/// The UIDLs of messages 1..=n in a session of their own (their unique parts: delivery names
/// are short and printable).
fn uidls(server: &TestServer, n: usize) -> Vec<String> {
    let mut client = server.greet();
    client.login("alice", "secret");
    let uids = (1..=n)
        .map(|i| {
            let reply = client.command(&format!("UIDL {i}"));
            reply.rsplit(' ').next().unwrap().to_owned()
        })
        .collect();
    assert!(client.command("QUIT").starts_with("+OK"));
    uids
}

fn retr(client: &mut crate::support::Client, n: usize) {
    assert!(client.command(&format!("RETR {n}")).starts_with("+OK"));
    client.body();
}

#[test]
fn issue_19_expire_n_retr_and_quit_records_the_first_retrieval_and_removes_nothing() {
    let server = expire_3(2);
    let uids = uidls(&server, 2);
    assert!(!retrieved_path(&server).exists(), "nothing retrieved yet");
    let (boot_id, boot_before, wall_before) = clocks();
    let mut client = server.greet();
    client.login("alice", "secret");
    retr(&mut client, 1);
    assert!(client.command("TOP 2 0").starts_with("+OK"));
    client.body();
    assert_eq!(client.command("QUIT"), "+OK signing off (2 messages left)");
    let (_, boot_after, wall_after) = clocks();
    assert_eq!(server.message_count("alice"), 2);
    let text = std::fs::read_to_string(retrieved_path(&server)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let fields: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!((fields[0], fields[2]), (uids[0].as_str(), boot_id.as_str()));
    let wall: i64 = fields[1].parse().unwrap();
    let boot: i64 = fields[3].parse().unwrap();
    assert!((wall_before..=wall_after).contains(&wall), "{text}");
    assert!((boot_before..=boot_after).contains(&boot), "{text}");
    // A later RETR keeps the first time.
    let mut client = server.greet();
    client.login("alice", "secret");
    retr(&mut client, 1);
    assert!(client.command("QUIT").starts_with("+OK"));
    assert_eq!(
        std::fs::read_to_string(retrieved_path(&server)).unwrap(),
        text
    );
    let metrics = scrape(&server);
    assert!(
        metrics.contains("pop3_messages_expired_total 0\n"),
        "{metrics}"
    );
}

/// 4 days ago in this boot: removed at the next QUIT without DELE, counted as expired. Kept:
/// 2 days ago; a wall time in the future of another boot (the clock went backwards); 10 days
/// ago on the wall clock but 1 day on this boot's clock (the wall clock jumped forwards). The
/// listing and index caches lost meanwhile change nothing.
#[test]
fn issue_19_expire_n_removes_at_quit_n_days_after_the_first_retrieval() {
    let server = expire_3(4);
    let uids = uidls(&server, 4);
    let (boot, secs, wall) = clocks();
    let other_boot = "00000000-0000-0000-0000-000000000000";
    std::fs::write(
        retrieved_path(&server),
        retrieval_file(&[
            (&uids[0], wall - 4 * DAY, &boot, secs - 4 * DAY),
            (&uids[1], wall - 2 * DAY, &boot, secs - 2 * DAY),
            (&uids[2], wall + 5 * DAY, other_boot, 100),
            (&uids[3], wall - 10 * DAY, &boot, secs - DAY),
        ]),
    )
    .unwrap();
    let maildir = server.maildir("alice");
    for cache in [pop3_maildrop::INDEX_FILE, pop3_maildrop::LISTING_FILE] {
        let _ = std::fs::remove_file(maildir.join(cache));
    }
    let mut client = server.greet();
    client.login("alice", "secret");
    // Listed normally until UPDATE.
    assert!(client.command("STAT").starts_with("+OK 4 "));
    assert!(client.command("LIST 1").starts_with("+OK 1 "));
    // The QUIT reply counts the message removed by age out of those left.
    assert_eq!(client.command("QUIT"), "+OK signing off (3 messages left)");
    client.close();
    let mut left = uids[1..].to_vec();
    left.sort();
    assert_eq!(bases(&server), left);
    let metrics = scrape(&server);
    assert!(
        metrics.contains("pop3_messages_expired_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pop3_messages_deleted_total 0\n"),
        "{metrics}"
    );
    let text = std::fs::read_to_string(retrieved_path(&server)).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(!text.contains(&uids[0]), "{text}");
}

/// A dropped connection commits nothing: no time recorded, nothing expired.
#[test]
fn issue_19_expire_n_a_dropped_connection_records_and_removes_nothing() {
    let server = expire_3(2);
    let uids = uidls(&server, 2);
    let (boot, secs, wall) = clocks();
    let due = retrieval_file(&[(&uids[0], wall - 4 * DAY, &boot, secs - 4 * DAY)]);
    std::fs::write(retrieved_path(&server), &due).unwrap();
    let mut client = server.greet();
    client.login("alice", "secret");
    retr(&mut client, 2);
    drop(client);
    // The next login waits for the dropped session's lock: that session is over.
    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(client.command("STAT").starts_with("+OK 2 "));
    assert_eq!(
        std::fs::read_to_string(retrieved_path(&server)).unwrap(),
        due
    );
    // Its own QUIT expires message 1 (and records nothing: it retrieved nothing).
    assert!(client.command("QUIT").starts_with("+OK"));
    assert_eq!(bases(&server), [uids[1].clone()]);
    assert_eq!(
        std::fs::read_to_string(retrieved_path(&server)).unwrap(),
        retrieval_file(&[])
    );
}

/// The retrieval file lost: nothing is removed (a delay, never an early deletion).
#[test]
fn issue_19_expire_n_a_lost_retrieval_file_only_delays() {
    let server = expire_3(1);
    let mut client = server.greet();
    client.login("alice", "secret");
    retr(&mut client, 1);
    assert!(client.command("QUIT").starts_with("+OK"));
    assert!(retrieved_path(&server).exists());
    std::fs::remove_file(retrieved_path(&server)).unwrap();
    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(client.command("QUIT").starts_with("+OK"));
    assert_eq!(server.message_count("alice"), 1);
    assert!(!retrieved_path(&server).exists());
}

/// `EXPIRE NEVER` (and no `expire`) times nothing.
#[test]
fn issue_19_expire_never_records_nothing() {
    for line in ["expire = \"never\"", ""] {
        let server = TestServer::start("", "", line);
        server.add_user("alice", "secret");
        server.deliver("alice", b"Subject: 1\r\n\r\nbody\r\n");
        let mut client = server.greet();
        client.login("alice", "secret");
        retr(&mut client, 1);
        assert!(client.command("QUIT").starts_with("+OK"));
        assert_eq!(server.message_count("alice"), 1);
        assert!(!retrieved_path(&server).exists(), "{line}");
    }
}

/// A damaged retrieval file (here edited to look older, its checksum left stale) expires
/// nothing, is set aside with a logged warning, and times restart from this QUIT.
#[test]
fn issue_19_expire_n_a_damaged_retrieval_file_is_set_aside_with_a_warning() {
    let daemon = crate::daemon::Daemon::start(
        Sections {
            server: "expire = 3",
            ..Sections::default()
        },
        "",
    );
    let maildir = daemon.add_user("alice", "secret");
    let opened = pop3_maildrop::Maildir::open(&maildir).unwrap();
    pop3_maildrop::deliver(&opened, &b"Subject: 1\r\n\r\nbody\r\n"[..]).unwrap();
    let mut client = daemon.greet();
    client.login("alice", "secret");
    let uid = client
        .command("UIDL 1")
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    retr(&mut client, 1);
    assert!(client.command("QUIT").starts_with("+OK"));
    let path = maildir.join(pop3_maildrop::RETRIEVED_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let (boot, secs, wall) = clocks();
    let entry = text.lines().nth(1).unwrap().to_owned();
    let old = format!("{uid} {} {boot} {}", wall - 9 * DAY, secs - 9 * DAY);
    let edited = text.replace(&entry, &old);
    std::fs::write(&path, &edited).unwrap();
    let mut client = daemon.greet();
    client.login("alice", "secret");
    retr(&mut client, 1);
    assert!(client.command("QUIT").starts_with("+OK"));
    daemon.wait_for("retrieval times damaged", 1);
    let line = daemon
        .log()
        .lines()
        .find(|line| line.contains("retrieval times damaged"))
        .unwrap()
        .to_owned();
    assert!(line.contains("WARN") && line.contains("checksum"), "{line}");
    let left = ["new", "cur"]
        .iter()
        .map(|sub| std::fs::read_dir(maildir.join(sub)).unwrap().count())
        .sum::<usize>();
    assert_eq!(left, 1);
    assert_eq!(
        std::fs::read_to_string(maildir.join(pop3_maildrop::RETRIEVED_DAMAGED_FILE)).unwrap(),
        edited
    );
    let restarted = std::fs::read_to_string(&path).unwrap();
    assert!(
        restarted
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{uid} "))
    );
    assert_ne!(restarted, edited);
}

/// Issue 19: a user's own EXPIRE (`user set --expire`) decides at QUIT, whatever the site's:
/// their `3` on a site that never expires removes a message first retrieved 4 days ago, their
/// `never` on a site of `3` keeps it.
#[test]
fn issue_19_expire_n_follows_the_users_own_value() {
    use pop3_auth::{Setting, UserName, UserStore};

    for (site, own, removed) in [("\"never\"", "3", true), ("3", "never", false)] {
        let server = TestServer::start_with(Sections {
            server: &format!("expire = {site}"),
            ..Sections::default()
        });
        server.add_user("alice", "secret");
        server.deliver("alice", b"Subject: 1\r\n\r\nbody\r\n");
        let alice = UserName::parse("alice").unwrap();
        server
            .db()
            .set_policy(&alice, Setting::Expire, Some(own))
            .unwrap();
        let uids = uidls(&server, 1);
        let (boot, secs, wall) = clocks();
        std::fs::write(
            retrieved_path(&server),
            retrieval_file(&[(&uids[0], wall - 4 * DAY, &boot, secs - 4 * DAY)]),
        )
        .unwrap();
        let mut client = server.greet();
        client.login("alice", "secret");
        assert!(client.command("QUIT").starts_with("+OK"));
        client.close();
        assert_eq!(
            server.message_count("alice"),
            usize::from(!removed),
            "{site} {own}"
        );
    }
}
