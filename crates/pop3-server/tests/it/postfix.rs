//! Real Postfix delivering to pop3d over LMTP (issue 17): a private Postfix instance on
//! loopback (its own config, queue and port, started by the test and stopped by PID) routes
//! a virtual domain to pop3d's LMTP socket, the way an admin sets it up
//! (`virtual_transport = lmtp:unix:...`).
//!
//! One test, one Postfix, four checks: delivery with `user+tag` and trace headers; an unknown
//! recipient bounced to a local sender with 5.1.1; a message over pop3d's size limit bounced
//! with 5.3.4; a temporary failure (a Maildir gone) deferred by Postfix, then delivered by a
//! queue flush once the Maildir is back: nothing lost; and recipients verified over LMTP at
//! SMTP time (`reject_unverified_recipient`), the unknown one refused with 550.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::lmtp::server_with_lmtp;
use crate::support::{PATIENCE, TestServer, stdout_of};

/// A Postfix instance: its directory and its master's PID.
struct Postfix {
    dir: tempfile::TempDir,
    port: u16,
    /// An smtpd that verifies recipients over LMTP before accepting them
    /// (`reject_unverified_recipient`, as the install guide advises).
    verifying_port: u16,
    master: Option<i32>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Postfix {
    /// Starts Postfix delivering `example.org` to the LMTP socket; `None` (with a loud
    /// reason) where it cannot run: not root, or Postfix not installed.
    fn start(lmtp_socket: &Path) -> Option<Postfix> {
        let why = if !nix::unistd::Uid::effective().is_root() {
            Some("needs root to start a Postfix master (CI runs as root)")
        } else if !Path::new("/usr/sbin/postfix").exists() {
            Some("Postfix is not installed (`.ci/run` installs it)")
        } else {
            None
        };
        if let Some(why) = why {
            eprintln!("!!! SKIPPED postfix_delivers_over_lmtp_and_bounces_and_retries: {why}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = &dir.path().to_owned();
        set_mode(root, 0o755);
        for sub in ["etc", "spool", "data"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        chown("postfix", &root.join("data"));
        let (port, verifying_port) = (free_port(), free_port());
        std::fs::write(root.join("etc/main.cf"), main_cf(root, lmtp_socket)).unwrap();
        std::fs::write(root.join("etc/master.cf"), master_cf(port, verifying_port)).unwrap();
        let mut postfix = Postfix {
            dir,
            port,
            verifying_port,
            master: None,
        };
        postfix.postfix(&["check"]);
        postfix.postfix(&["start"]);
        let pid = std::fs::read_to_string(root.join("spool/pid/master.pid")).unwrap();
        postfix.master = Some(pid.trim().parse().unwrap());
        Some(postfix)
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn postfix(&self, args: &[&str]) {
        let status = Command::new("postfix")
            .arg("-c")
            .arg(self.config())
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "postfix {args:?} failed");
    }

    /// `postqueue` with this instance's config: `-p` lists, `-f` flushes.
    fn postqueue(&self, arg: &str) -> String {
        stdout_of(
            Command::new("postqueue")
                .arg("-c")
                .arg(self.config())
                .arg(arg),
        )
    }

    /// The replies of the verifying smtpd to RCPT for each address, one session.
    fn verify(&self, to: &[&str]) -> Vec<String> {
        let stream = TcpStream::connect(("127.0.0.1", self.verifying_port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut reply = || loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        };
        let mut replies = vec![reply()];
        for line in [
            "EHLO client.test".to_owned(),
            "MAIL FROM:<carol@example.org>".to_owned(),
        ]
        .into_iter()
        .chain(to.iter().map(|r| format!("RCPT TO:<{r}>")))
        {
            writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
            replies.push(reply());
        }
        writer.write_all(b"QUIT\r\n").unwrap();
        replies.split_off(3)
    }

    /// Sends one message over SMTP; panics unless Postfix queued it.
    fn send(&self, from: &str, to: &[&str], message: &str) {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut expect = |code: &str| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        };
        let mut say = |line: &str| writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        expect("220");
        say("EHLO client.test");
        expect("250");
        say(&format!("MAIL FROM:<{from}>"));
        expect("250");
        for rcpt in to {
            say(&format!("RCPT TO:<{rcpt}>"));
            expect("250");
        }
        say("DATA");
        expect("354");
        say(&format!("{message}\r\n."));
        expect("250");
        say("QUIT");
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // Stopped by PID: SIGTERM to the master we started, which stops its children.
        if let Some(pid) = self.master.take() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let deadline = Instant::now() + PATIENCE;
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
    }
}

fn main_cf(root: &Path, lmtp_socket: &Path) -> String {
    let root = root.display();
    format!(
        "compatibility_level = 3.6\n\
         queue_directory = {root}/spool\n\
         data_directory = {root}/data\n\
         mail_owner = postfix\n\
         setgid_group = postdrop\n\
         myhostname = mx.test\n\
         mydomain = test\n\
         mydestination =\n\
         inet_interfaces = 127.0.0.1\n\
         inet_protocols = ipv4\n\
         mynetworks = 127.0.0.0/8\n\
         smtputf8_enable = no\n\
         biff = no\n\
         virtual_mailbox_domains = example.org\n\
         virtual_transport = lmtp:unix:{}\n\
         # A bounce of a big message returns only its headers, so it fits pop3d's limit.\n\
         bounce_size_limit = 2000\n",
        lmtp_socket.display()
    )
}

/// Postfix's services, unchrooted (the socket is outside the queue directory).
fn master_cf(port: u16, verifying_port: u16) -> String {
    let mut text = format!("127.0.0.1:{port} inet n - n - - smtpd\n");
    text.push_str(&format!(
        "127.0.0.1:{verifying_port} inet n - n - - smtpd\n  \
         -o smtpd_recipient_restrictions=reject_unverified_recipient,permit_mynetworks,reject\n  \
         -o unverified_recipient_reject_code=550\n  \
         -o address_verify_poll_delay=1s\n"
    ));
    for (service, private, wakeup, limit, command) in [
        ("pickup", "n", "60", "1", "pickup"),
        ("cleanup", "n", "-", "0", "cleanup"),
        ("qmgr", "n", "300", "1", "qmgr"),
        ("rewrite", "-", "-", "-", "trivial-rewrite"),
        ("bounce", "-", "-", "0", "bounce"),
        ("defer", "-", "-", "0", "bounce"),
        ("trace", "-", "-", "0", "bounce"),
        ("verify", "-", "-", "1", "verify"),
        ("flush", "n", "1000?", "0", "flush"),
        ("proxymap", "-", "-", "-", "proxymap"),
        ("showq", "n", "-", "-", "showq"),
        ("error", "-", "-", "-", "error"),
        ("retry", "-", "-", "-", "error"),
        ("discard", "-", "-", "-", "discard"),
        ("smtp", "-", "-", "-", "smtp"),
        ("lmtp", "-", "-", "-", "lmtp"),
        ("anvil", "-", "-", "1", "anvil"),
        ("scache", "-", "-", "1", "scache"),
    ] {
        text.push_str(&format!(
            "{service} unix {private} - n {wakeup} {limit} {command}\n"
        ));
    }
    text
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(user: &str, path: &Path) {
    let status = Command::new("chown").arg(user).arg(path).status().unwrap();
    assert!(status.success());
}

/// Waits until `user` has `n` messages (a bound, not a synchronisation: Postfix delivers as
/// soon as the queue manager sees the message).
fn wait_for_messages(server: &TestServer, user: &str, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while server.message_count(user) < n {
        assert!(Instant::now() < deadline, "{user} never got {n} messages");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn retrieve(server: &TestServer, user: &str, n: usize) -> Vec<String> {
    let mut client = server.greet();
    client.login(user, "secret");
    assert!(client.command(&format!("RETR {n}")).starts_with("+OK"));
    let body = client.body();
    client.command("QUIT");
    body
}

#[test]
fn postfix_delivers_over_lmtp_and_bounces_and_retries() {
    let server = server_with_lmtp("max_message_bytes = 20000");
    // Postfix's lmtp(8) runs as `postfix`: it must reach the socket (the peer check lets
    // it in by name, `lmtp.clients` defaulting to ["postfix"]).
    set_mode(server.dir.path(), 0o755);
    let Some(postfix) = Postfix::start(&server.dir.path().join("lmtp.sock")) else {
        return;
    };
    for user in ["alice", "bob", "carol", "dave"] {
        server.add_user(user, "secret");
    }

    // 1. Delivered, with a tag, to two users; the unknown one is bounced to carol.
    postfix.send(
        "carol@example.org",
        &[
            "alice+lists@example.org",
            "bob@example.org",
            "nobody@example.org",
        ],
        "Subject: through postfix\r\n\r\n..a line with a dot\r\nend",
    );
    wait_for_messages(&server, "alice", 1);
    wait_for_messages(&server, "bob", 1);
    let alice = retrieve(&server, "alice", 1);
    assert_eq!(alice[0], "Return-Path: <carol@example.org>");
    assert_eq!(alice[1], "Delivered-To: alice+lists@example.org");
    assert!(alice.iter().any(|l| l == "Subject: through postfix"));
    assert!(alice.ends_with(&[".a line with a dot".to_owned(), "end".to_owned()]));
    assert_eq!(
        retrieve(&server, "bob", 1)[1],
        "Delivered-To: bob@example.org"
    );
    wait_for_messages(&server, "carol", 1);
    let bounce = retrieve(&server, "carol", 1).join("\n");
    assert!(bounce.contains("Return-Path: <>"), "{bounce}");
    assert!(bounce.contains("nobody@example.org"), "{bounce}");
    assert!(bounce.contains("5.1.1"), "{bounce}");

    // 2. Over pop3d's limit (20,000 octets): bounced with 5.3.4, nothing stored for bob.
    let big = format!("Subject: big\r\n\r\n{}end", "bbbbbbbbbb\r\n".repeat(3000));
    postfix.send("carol@example.org", &["bob@example.org"], &big);
    wait_for_messages(&server, "carol", 2);
    let bounce = retrieve(&server, "carol", 2).join("\n");
    assert!(bounce.contains("5.3.4"), "{bounce}");
    assert_eq!(server.message_count("bob"), 1);

    // 3. dave's Maildir is gone: 451, Postfix keeps the message; back, flushed, delivered.
    let dave = server.maildir("dave");
    let away = server.dir.path().join("dave-away");
    std::fs::rename(&dave, &away).unwrap();
    postfix.send(
        "carol@example.org",
        &["dave@example.org"],
        "Subject: retried\r\n\r\nx",
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        let queue = postfix.postqueue("-p");
        if queue.contains("dave@example.org") && queue.contains("4.3.0") {
            break;
        }
        assert!(Instant::now() < deadline, "never deferred: {queue}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::rename(&away, &dave).unwrap();
    postfix.postqueue("-f");
    wait_for_messages(&server, "dave", 1);
    assert!(
        retrieve(&server, "dave", 1)
            .iter()
            .any(|l| l == "Subject: retried")
    );
    assert_eq!(
        server.message_count("carol"),
        2,
        "no bounce for a temporary failure"
    );
}
