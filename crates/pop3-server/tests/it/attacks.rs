//! Hostile clients and a hostile file system: old TLS, hostile user names, user enumeration,
//! brute force from one address, message files changed or replaced by symlinks mid-session,
//! and a full disk.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pop3_auth::UserName;
use pop3_auth::UserStore as _;

use crate::daemon::Daemon;
use crate::support::{Client, Sections, TestServer, scrape};

/// Every path under `dir`, for "nothing was created or touched" checks.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut paths = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries {
                let entry = entry.unwrap();
                stack.push(entry.path());
            }
        }
        paths.insert(path);
    }
    paths
}

/// `openssl s_client` against the implicit-TLS listener with one protocol version.
fn s_client(addr: SocketAddr, version: &str) -> Option<(bool, String)> {
    s_client_with(addr, &[version])
}

/// `openssl s_client` against the implicit-TLS listener with these extra arguments.
fn s_client_with(addr: SocketAddr, extra: &[&str]) -> Option<(bool, String)> {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(extra)
        .args([
            // Let the client offer old versions at all; the server must be the one refusing.
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            // Send QUIT and wait for the server to close, so the greeting is always read
            // (at end of input alone, s_client may leave before the greeting arrives).
            "-crlf",
            "-ign_eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A refused handshake may have closed the pipe already.
        let _ = std::io::Write::write_all(&mut stdin, b"QUIT\n");
    }
    let output = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Some((output.status.success(), text))
}

#[test]
fn tls_below_1_2_is_refused_by_the_server() {
    let server = TestServer::start("", "", "");
    let Some((ok, text)) = s_client(server.addrs.implicit, "-tls1_2") else {
        eprintln!(
            "!!! SKIPPED tls_below_1_2_is_refused_by_the_server: openssl not installed \
             (.ci/run installs it)"
        );
        assert!(std::env::var_os("CI").is_none(), "openssl missing under CI");
        return;
    };
    assert!(ok && text.contains("+OK"), "TLS 1.2 works: {text}");
    for old in ["-tls1_1", "-tls1"] {
        let (ok, text) = s_client(server.addrs.implicit, old).unwrap();
        assert!(!ok, "{old} accepted: {text}");
        // The client did offer the old version and the server answered its ClientHello with
        // an alert (rustls sends handshake_failure): no cipher agreed, no greeting sent.
        assert!(text.contains("SSL alert number"), "{old}: {text}");
        assert!(text.contains("Cipher is (NONE)"), "{old}: {text}");
        assert!(!text.contains("+OK"), "{old}: {text}");
    }
}

/// Issue 15: clients that send an IP address as SNI (mutt, several libraries) make rustls
/// complain; that is no warning an admin should read, so the log's WARN lines stay ours.
#[test]
fn an_ip_address_as_sni_puts_no_warning_in_the_log() {
    let daemon = Daemon::start(Sections::default(), "");
    let Some((ok, text)) = s_client_with(daemon.addr(1), &["-servername", "127.0.0.1"]) else {
        eprintln!("!!! SKIPPED an_ip_address_as_sni_puts_no_warning_in_the_log: no openssl");
        assert!(std::env::var_os("CI").is_none(), "openssl missing under CI");
        return;
    };
    assert!(ok && text.contains("+OK"), "served anyway: {text}");
    daemon.wait_for("session end", 1);
    let log = daemon.log();
    let warnings: Vec<&str> = log.lines().filter(|line| line.contains("WARN")).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn hostile_user_names_reach_no_path_and_no_query() {
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    server.add_user("bob", "secret");
    let mut unknown = server.greet();
    unknown.command("USER nobody-here");
    let reference = unknown.command("PASS secret");
    assert!(reference.starts_with("-ERR"));
    // Taken after one lookup, once the database's WAL files exist.
    let before = tree(server.dir.path());
    let users_before = server.db().list().unwrap().len();
    let names: [&[u8]; 10] = [
        b"../x",
        b"alice/../bob",
        b"../../etc/passwd",
        b"/etc/passwd",
        b"alice' OR '1'='1",
        b"alice\"; DROP TABLE users; --",
        b"alice%00",
        b"al\tice",
        b".alice",
        b"ALICE/.",
    ];
    for name in names {
        let mut client = server.greet();
        client.send(&[b"USER ", name, b"\r\n"].concat());
        // USER may refuse a name outright; if it takes it, PASS answers like for anyone.
        if client.line().unwrap().starts_with("+OK") {
            assert_eq!(client.command("PASS secret"), reference, "{name:?}");
        }
    }
    // NUL and CR inside a line make it invalid before any lookup.
    for name in [&b"alice\0"[..], b"alice\rx"] {
        let mut client = server.greet();
        client.send(&[b"USER ", name, b"\r\n"].concat());
        assert!(client.line().unwrap().starts_with("-ERR"), "{name:?}");
    }
    assert_eq!(
        tree(server.dir.path()),
        before,
        "a file was created or removed"
    );
    assert_eq!(server.db().list().unwrap().len(), users_before);
}

#[test]
fn unknown_disabled_and_real_users_get_byte_identical_replies() {
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    server.add_user("carol", "secret");
    let carol = pop3_auth::UserName::parse("carol").unwrap();
    server.db().set_enabled(&carol, false).unwrap();
    let replies: Vec<(String, String)> = ["alice", "carol", "nobody"]
        .iter()
        .map(|user| {
            let mut client = server.greet();
            let user_reply = client.command(&format!("USER {user}"));
            (user_reply, client.command("PASS wrong"))
        })
        .collect();
    assert!(replies[0].1.starts_with("-ERR"));
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[0], replies[2]);
}

/// A client whose connection comes from `source` (any 127.0.0.0/8 address is local).
fn connect_from(source: IpAddr, server: &TestServer) -> Client {
    Client::connect_from(source, server.addrs.plain, server.client_config())
}

#[test]
fn brute_force_from_one_address_is_slowed_while_the_real_user_logs_in_normally() {
    let server = TestServer::start(
        "penalty_start_ms = 400\npenalty_max_secs = 4\nfailure_delay_ms = 0",
        "",
        "",
    );
    server.add_user("alice", "secret");
    let attacker: IpAddr = "127.0.0.2".parse().unwrap();
    let mut last = Duration::ZERO;
    // A new connection per guess, as a brute-forcer does once a connection is closed.
    for _ in 0..4 {
        let mut client = connect_from(attacker, &server);
        assert!(client.line().unwrap().starts_with("+OK"));
        client.command("USER alice");
        let started = Instant::now();
        assert!(client.command("PASS guess").starts_with("-ERR"));
        last = started.elapsed();
    }
    // The penalty doubles from 400 ms per failure of this address.
    assert!(
        last >= Duration::from_millis(1600),
        "4th failure took {last:?}"
    );
    let mut real = connect_from("127.0.0.1".parse().unwrap(), &server);
    real.line().unwrap();
    let started = Instant::now();
    real.login("alice", "secret");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the real user was slowed: {:?}",
        started.elapsed()
    );
}

#[test]
fn files_removed_truncated_or_grown_mid_session_get_a_clear_err() {
    let server = TestServer::start("", "", "");
    let maildir = server.add_user("alice", "secret");
    for i in 0..4 {
        server.deliver(
            "alice",
            format!("Subject: {i}\r\n\r\nbody {i}\r\n").as_bytes(),
        );
    }
    let mut client = server.greet();
    client.login("alice", "secret");
    let mut names: Vec<PathBuf> = std::fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    std::fs::remove_file(&names[0]).unwrap();
    std::fs::write(&names[1], "Subject: 1\r\n").unwrap();
    let mut grown = std::fs::read(&names[2]).unwrap();
    grown.extend_from_slice(b"more\r\n");
    std::fs::write(&names[2], grown).unwrap();
    assert_eq!(client.command("RETR 1"), "-ERR message 1 no longer exists");
    for n in [2, 3] {
        let reply = client.command(&format!("RETR {n}"));
        assert!(reply.starts_with("-ERR [SYS/TEMP] message"), "{reply}");
    }
    assert!(client.command("RETR 4").starts_with("+OK"));
    assert_eq!(client.body(), ["Subject: 3", "", "body 3"]);
    assert!(client.command("QUIT").starts_with("+OK"));
    assert_eq!(server.message_count("alice"), 3, "nothing else was removed");
}

#[test]
fn symlinks_never_lead_outside_the_maildrop() {
    let server = TestServer::start("", "", "");
    let maildir = server.add_user("alice", "secret");
    server.add_user("bob", "secret");
    server.deliver("alice", b"Subject: real\r\n\r\nreal\r\n");
    let outside = server.dir.path().join("outside.txt");
    std::fs::write(&outside, "Subject: secret\r\n\r\nnot yours\r\n").unwrap();
    std::os::unix::fs::symlink(&outside, maildir.join("cur/1700000000.link.host:2,")).unwrap();
    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(
        client.command("STAT").starts_with("+OK 1 "),
        "the link is not a message"
    );
    assert!(client.command("DELE 1").starts_with("+OK"));
    assert!(client.command("QUIT").starts_with("+OK"));
    assert!(outside.exists(), "the target outside was not unlinked");
    assert!(
        maildir
            .join("cur/1700000000.link.host:2,")
            .symlink_metadata()
            .is_ok()
    );

    // Bob's whole Maildir replaced by a link to Alice's: refused, not followed.
    let bob = server.maildir("bob");
    std::fs::remove_dir_all(&bob).unwrap();
    std::os::unix::fs::symlink(&maildir, &bob).unwrap();
    let mut client = server.greet();
    client.command("USER bob");
    let reply = client.command("PASS secret");
    assert!(reply.starts_with("-ERR [SYS/PERM]"), "{reply}");
}

/// A tmpfs of a given size, unmounted on drop; `None` where mounting is not allowed.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_during_a_session_loses_nothing_and_still_serves_mail() {
    let server = TestServer::start("", "", "");
    let mount = server.dir.path().join("full");
    let Some(_tmpfs) = Tmpfs::mount(&mount, "256k") else {
        eprintln!(
            "!!! SKIPPED a_full_disk_during_a_session_loses_nothing_and_still_serves_mail: \
             cannot mount a tmpfs here (needs root; CI runs as root)"
        );
        return;
    };
    let name = pop3_auth::UserName::parse("alice").unwrap();
    let maildir = mount.join("alice");
    server
        .db()
        .add(&name, b"secret", &maildir, &crate::support::cheap_hasher())
        .unwrap();
    pop3_maildrop::Maildir::create(&maildir).unwrap();
    // Messages without W= (their sizes must be measured and the index written), one in new/
    // (moved at login), then the disk filled to the last block.
    let message = b"Subject: no W=\n\nbody\n";
    std::fs::write(maildir.join("cur/1700000000.a.host:2,"), message).unwrap();
    std::fs::write(maildir.join("new/1700000001.b.host"), message).unwrap();
    let mut filler = std::fs::File::create(mount.join("filler")).unwrap();
    let block = vec![b'x'; 4096];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);
    assert!(
        std::fs::write(mount.join("probe"), b"x").is_err(),
        "disk not full"
    );

    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(client.command("STAT").starts_with("+OK 2 "));
    assert!(client.command("RETR 2").starts_with("+OK"));
    assert_eq!(client.body(), ["Subject: no W=", "", "body"]);
    assert!(client.command("DELE 1").starts_with("+OK"));
    assert!(client.command("QUIT").starts_with("+OK"));
    let left: Vec<_> = std::fs::read_dir(maildir.join("cur")).unwrap().collect();
    assert_eq!(left.len(), 1, "exactly the deleted message went");

    // Delivery on the full disk fails cleanly: temporary failure, no partial file.
    let md = pop3_maildrop::Maildir::open(&maildir).unwrap();
    let error = pop3_maildrop::deliver(&md, &vec![b'y'; 64 * 1024][..]).unwrap_err();
    assert!(error.is_temporary(), "{error}");
    assert_eq!(std::fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
}

fn chown_nobody(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn wrong_permissions_get_an_err_and_lose_nothing() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "!!! SKIPPED wrong_permissions_get_an_err_and_lose_nothing: needs root to run pop3d \
             as nobody (CI runs as root); as root, permissions would not apply"
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let daemon = crate::daemon::Daemon::start(
        crate::support::Sections::default(),
        "\n[privileges]\nuser = \"nobody\"\ngroup = \"nogroup\"\n",
    );
    daemon.wait_for("dropped privileges", 1);
    let alice = daemon.add_user("alice", "secret");
    let bob = daemon.add_user("bob", "secret");
    let md = pop3_maildrop::Maildir::open(&alice).unwrap();
    for i in 0..3 {
        pop3_maildrop::deliver(&md, format!("Subject: {i}\r\n\r\nbody\r\n").as_bytes()).unwrap();
    }
    let dir = daemon.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown_nobody(dir);
    // Bob's Maildir belongs to root alone; one of Alice's messages too.
    Command::new("chown")
        .args(["-R", "root:root"])
        .arg(&bob)
        .status()
        .unwrap();
    std::fs::set_permissions(&bob, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut client = daemon.greet();
    client.login("alice", "secret");
    let mut names: Vec<PathBuf> = std::fs::read_dir(alice.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    Command::new("chown")
        .arg("root:root")
        .arg(&names[0])
        .status()
        .unwrap();
    std::fs::set_permissions(&names[0], std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        client.command("RETR 1"),
        "-ERR [SYS/PERM] cannot read message 1"
    );
    assert!(client.command("RETR 2").starts_with("+OK"));
    assert_eq!(client.body(), ["Subject: 1", "", "body"]);
    assert!(client.command("DELE 2").starts_with("+OK"));
    assert!(client.command("QUIT").starts_with("+OK"));
    assert!(names[0].exists(), "the unreadable message is kept");
    assert!(!names[1].exists());
    assert!(names[2].exists());

    let mut client = daemon.greet();
    client.command("USER bob");
    let reply = client.command("PASS secret");
    assert!(reply.starts_with("-ERR [SYS/PERM]"), "{reply}");
}

/// Issue 15 item 9: a correct password is accepted when the user database cannot be written
/// (here another connection holds its write lock, so the last-login write fails with
/// `SQLITE_BUSY` after the 5 s busy timeout); the skipped write is counted.
#[test]
fn issue_15_login_succeeds_when_the_user_database_cannot_be_written() {
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    let holder = rusqlite::Connection::open(&server.db_path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut client = server.greet();
    assert!(client.command("USER alice").starts_with("+OK"));
    let pass = client.command("PASS secret");
    assert!(pass.starts_with("+OK"), "{pass}");
    drop(holder);
    client.close();
    let text = scrape(&server);
    assert!(
        text.contains("pop3_auth_db_write_failures_total{write=\"last_login\"} 1"),
        "{text}"
    );
}

/// Issue 16 review: a migrated user whose legacy hash is slow (bcrypt, cost 13: about half a
/// second) is refused at the same moment as an unknown user, so the cost of the check does not
/// tell who exists. The failure delay counts from the start of the verification, not its end.
#[test]
fn issue_16_a_slow_legacy_hash_is_refused_as_late_as_an_unknown_user() {
    // `htpasswd -nbB -C 13 u secret`.
    const BCRYPT_13: &str = "$2y$13$nse6kG/DCJhzqrMuK26xq.Gk4suml2HqKG5hYoKaSU56YdgrEDsne";
    let server = TestServer::start(
        "failure_delay_ms = 1500\npenalty_start_ms = 0\npenalty_max_secs = 0",
        "",
        "",
    );
    server.add_user("carol", "secret");
    let carol = UserName::parse("carol").unwrap();
    server.db().replace_hash(&carol, BCRYPT_13).unwrap();
    // Each attempt from its own address: no penalty carries over.
    let mut source = 10u8;
    let mut refused_after = |user: &str| {
        source += 1;
        let mut client = connect_from(IpAddr::from([127, 0, 0, source]), &server);
        assert!(client.line().unwrap().starts_with("+OK"));
        client.command(&format!("USER {user}"));
        let started = Instant::now();
        assert!(client.command("PASS wrong").starts_with("-ERR"));
        started.elapsed()
    };
    let legacy = refused_after("carol").min(refused_after("carol"));
    let unknown = refused_after("nobody-here").min(refused_after("nobody-here"));
    assert!(unknown >= Duration::from_millis(1500), "{unknown:?}");
    let gap = legacy.abs_diff(unknown);
    assert!(
        gap < Duration::from_millis(300),
        "legacy {legacy:?}, unknown {unknown:?}: the bcrypt check shows"
    );
}
