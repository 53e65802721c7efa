//! LMTP delivery over the real sockets (issue 17): per-recipient replies, trace headers,
//! `user+tag`, the size limit, a missing database, a missing Maildir, a full disk, a client
//! that goes away mid-message, and the peer check on the Unix socket.

use pop3_auth::UserStore as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::attacks::Tmpfs;
use crate::support::{PATIENCE, Sections, TestServer, stdout_of};

/// A server with `[lmtp]` on a Unix socket and a TCP port, with extra `[lmtp]` keys.
pub fn server_with_lmtp(keys: &str) -> TestServer {
    let keys = keys.to_owned();
    TestServer::start_edited(Sections::default(), move |text| {
        let dir = text
            .lines()
            .find_map(|l| l.strip_prefix("user_db = \""))
            .and_then(|l| l.strip_suffix("/users.db\""))
            .unwrap()
            .to_owned();
        format!("{text}\n[lmtp]\nsocket = \"{dir}/lmtp.sock\"\naddress = \"127.0.0.1:0\"\n{keys}\n")
    })
}

pub fn socket(server: &TestServer) -> PathBuf {
    server.dir.path().join("lmtp.sock")
}

/// A blocking LMTP client.
pub(crate) struct Lmtp {
    reader: BufReader<Box<dyn std::io::Read>>,
    writer: Box<dyn Write>,
}

impl Lmtp {
    pub(crate) fn unix(path: &Path) -> Lmtp {
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let writer = stream.try_clone().unwrap();
        Lmtp::start(Box::new(stream), Box::new(writer))
    }

    fn tcp(server: &TestServer) -> Lmtp {
        let stream = std::net::TcpStream::connect(server.lmtp.unwrap()).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let writer = stream.try_clone().unwrap();
        Lmtp::start(Box::new(stream), Box::new(writer))
    }

    fn start(read: Box<dyn std::io::Read>, writer: Box<dyn Write>) -> Lmtp {
        let mut client = Lmtp {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = client.reply();
        assert!(greeting[0].starts_with("220 "), "{greeting:?}");
        let lhlo = client.command("LHLO mx.test");
        assert!(
            lhlo.iter().any(|l| l.starts_with("250-PIPELINING")),
            "{lhlo:?}"
        );
        client
    }

    /// One reply, all its lines.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).unwrap() > 0,
                "closed after {lines:?}"
            );
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    pub(crate) fn command(&mut self, line: &str) -> Vec<String> {
        self.send(&format!("{line}\r\n"));
        self.reply()
    }

    fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
    }

    /// MAIL, the RCPTs (their replies), DATA's reply.
    pub(crate) fn envelope(&mut self, from: &str, to: &[&str]) -> (Vec<String>, String) {
        assert!(self.command(&format!("MAIL FROM:<{from}>"))[0].starts_with("250 2.1.0"));
        let rcpts = to
            .iter()
            .map(|r| self.command(&format!("RCPT TO:<{r}>")).remove(0))
            .collect();
        let data = self.command("DATA").remove(0);
        (rcpts, data)
    }

    /// Sends the message (already CRLF and dot-stuffed) and its final dot; `n` replies.
    pub(crate) fn message(&mut self, text: &str, n: usize) -> Vec<String> {
        self.send(text);
        self.send(".\r\n");
        (0..n).map(|_| self.reply().remove(0)).collect()
    }
}

fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn lmtp_delivers_per_recipient_with_trace_headers_and_pop3_serves_it() {
    let server = server_with_lmtp("");
    server.add_user("alice", "secret");
    server.add_user("bob", "secret");
    let mut lmtp = Lmtp::unix(&socket(&server));
    let (rcpts, data) = lmtp.envelope(
        "sender@remote.test",
        &[
            "alice+lists@example.org",
            "nobody@example.org",
            "BOB@example.org",
        ],
    );
    assert!(rcpts[0].starts_with("250 2.1.5"), "{rcpts:?}");
    assert!(rcpts[1].starts_with("550 5.1.1"), "{rcpts:?}");
    assert!(rcpts[2].starts_with("250 2.1.5"), "{rcpts:?}");
    assert!(data.starts_with("354"), "{data}");
    let replies = lmtp.message("Subject: hello\r\n\r\n..a stuffed line\r\nlast\r\n", 2);
    assert!(
        replies[0].starts_with("250 2.0.0 <alice+lists@example.org>"),
        "{replies:?}"
    );
    assert!(
        replies[1].starts_with("250 2.0.0 <BOB@example.org>"),
        "{replies:?}"
    );
    assert!(lmtp.command("QUIT")[0].starts_with("221"));

    for (user, to) in [
        ("alice", "alice+lists@example.org"),
        ("bob", "BOB@example.org"),
    ] {
        let mut client = server.greet();
        client.login(user, "secret");
        assert!(client.command("RETR 1").starts_with("+OK"));
        assert_eq!(
            client.body(),
            [
                "Return-Path: <sender@remote.test>".to_owned(),
                format!("Delivered-To: {to}"),
                "Subject: hello".to_owned(),
                String::new(),
                ".a stuffed line".to_owned(),
                "last".to_owned(),
            ]
        );
        // Stored with LF line ends, as Maildir tools expect; LIST counts CRLF.
        let new = server.maildir(user).join("cur");
        let stored = std::fs::read_dir(&new)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let bytes = std::fs::read(&stored).unwrap();
        assert!(!bytes.contains(&b'\r'));
        let list = client.command("LIST 1");
        let lines = bytes.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(list, format!("+OK 1 {}", bytes.len() + lines));
    }
    assert_eq!(server.message_count("alice"), 1);
}

#[test]
fn lmtp_over_tcp_and_a_bounce_with_the_null_sender() {
    let server = server_with_lmtp("");
    server.add_user("alice", "secret");
    let mut lmtp = Lmtp::tcp(&server);
    let (rcpts, data) = lmtp.envelope("", &["alice"]);
    assert!(rcpts[0].starts_with("250") && data.starts_with("354"));
    assert!(lmtp.message("Subject: bounce\r\n\r\nx\r\n", 1)[0].starts_with("250 2.0.0"));
    let mut client = server.greet();
    client.login("alice", "secret");
    assert!(client.command("RETR 1").starts_with("+OK"));
    assert_eq!(client.body()[0], "Return-Path: <>");
}

#[test]
fn lmtp_refuses_a_message_over_the_limit_and_keeps_nothing() {
    let server = server_with_lmtp("max_message_bytes = 2048");
    let maildir = server.add_user("alice", "secret");
    let mut lmtp = Lmtp::unix(&socket(&server));
    let declared = lmtp.command("MAIL FROM:<s@x.test> SIZE=4096");
    assert!(declared[0].starts_with("552 5.3.4"), "{declared:?}");
    let (_, data) = lmtp.envelope("s@x.test", &["alice", "alice+again"]);
    assert!(data.starts_with("354"));
    let big = "y".repeat(78) + "\r\n";
    let replies = lmtp.message(&big.repeat(40), 2);
    assert!(
        replies.iter().all(|r| r.starts_with("552 5.3.4")),
        "{replies:?}"
    );
    // The session goes on: a small message after it is delivered.
    let (_, data) = lmtp.envelope("s@x.test", &["alice"]);
    assert!(data.starts_with("354"));
    assert!(lmtp.message("small\r\n", 1)[0].starts_with("250"));
    assert_eq!(files(&maildir.join("new")), 1);
    assert_eq!(files(&maildir.join("tmp")), 0);
}

#[test]
fn lmtp_with_the_database_missing_answers_451_and_creates_none() {
    let server = server_with_lmtp("");
    assert!(!server.db_path.exists());
    // A POP3 login first (review of issue 17: it used to create an empty database, after
    // which every LMTP recipient was unknown and bounced).
    let mut client = server.greet();
    assert_eq!(client.command("USER alice"), "+OK");
    let reply = client.command("PASS secret");
    assert!(reply.starts_with("-ERR [SYS/TEMP]"), "{reply}");
    assert!(
        !server.db_path.exists(),
        "a POP3 login created a user database"
    );
    let mut lmtp = Lmtp::unix(&socket(&server));
    assert!(lmtp.command("MAIL FROM:<s@x.test>")[0].starts_with("250"));
    let rcpt = lmtp.command("RCPT TO:<alice@example.org>");
    assert!(rcpt[0].starts_with("451 4.3.0"), "{rcpt:?}");
    assert!(!server.db_path.exists(), "LMTP created a user database");
}

#[test]
fn commands_pipelined_after_an_oversized_message_are_answered_over_the_socket() {
    // Review of issue 17: they used to stay unread while the connection's task spun.
    let server = server_with_lmtp("max_message_bytes = 1024");
    server.add_user("alice", "secret");
    let mut lmtp = Lmtp::tcp(&server);
    let (_, data) = lmtp.envelope("s@x.test", &["alice"]);
    assert!(data.starts_with("354"));
    let text = "z".repeat(2000) + "\r\n.\r\n" + &"NOOP\r\n".repeat(400) + "QUIT\r\n";
    lmtp.send(&text);
    assert!(lmtp.reply()[0].starts_with("552 5.3.4"));
    for _ in 0..400 {
        assert!(lmtp.reply()[0].starts_with("250 2.0.0"));
    }
    assert!(lmtp.reply()[0].starts_with("221"));
    // The server still serves others.
    let mut client = server.greet();
    client.login("alice", "secret");
}

#[test]
fn lmtp_answers_each_recipient_for_itself_when_one_maildir_is_gone() {
    let server = server_with_lmtp("");
    let alice = server.add_user("alice", "secret");
    let bob = server.add_user("bob", "secret");
    std::fs::remove_dir_all(&bob).unwrap();
    let mut lmtp = Lmtp::unix(&socket(&server));
    let (rcpts, data) = lmtp.envelope("s@x.test", &["bob", "alice"]);
    assert!(rcpts.iter().all(|r| r.starts_with("250")));
    assert!(data.starts_with("354"));
    let replies = lmtp.message("hi\r\n", 2);
    assert!(replies[0].starts_with("451 4.3.0 <bob>"), "{replies:?}");
    assert!(replies[1].starts_with("250 2.0.0 <alice>"), "{replies:?}");
    assert_eq!(files(&alice.join("new")), 1);
    // Only a dead Maildir for every recipient refuses DATA itself.
    let (_, data) = lmtp.envelope("s@x.test", &["bob"]);
    assert!(data.starts_with("451 4.3.0"), "{data}");
}

#[test]
fn lmtp_on_a_full_disk_answers_452_and_leaves_no_partial_file() {
    let server = server_with_lmtp("");
    let mount = server.dir.path().join("full");
    let Some(_tmpfs) = Tmpfs::mount(&mount, "256k") else {
        eprintln!(
            "!!! SKIPPED lmtp_on_a_full_disk_answers_452_and_leaves_no_partial_file: cannot \
             mount a tmpfs here (needs root; CI runs as root)"
        );
        return;
    };
    let name = pop3_auth::UserName::parse("alice").unwrap();
    let maildir = mount.join("alice");
    let hasher = crate::support::cheap_hasher();
    server
        .db()
        .add(&name, b"secret", &maildir, &hasher)
        .unwrap();
    pop3_maildrop::Maildir::create(&maildir).unwrap();
    let mut lmtp = Lmtp::unix(&socket(&server));
    let (_, data) = lmtp.envelope("s@x.test", &["alice"]);
    assert!(data.starts_with("354"));
    let line = "z".repeat(1022) + "\r\n";
    let replies = lmtp.message(&line.repeat(400), 1);
    assert!(replies[0].starts_with("452 4.3.1"), "{replies:?}");
    assert_eq!(files(&maildir.join("tmp")), 0);
    assert_eq!(files(&maildir.join("new")), 0);
}

#[test]
fn a_client_gone_mid_message_leaves_nothing_behind() {
    let server = server_with_lmtp("");
    let maildir = server.add_user("alice", "secret");
    let mut lmtp = Lmtp::unix(&socket(&server));
    let (_, data) = lmtp.envelope("s@x.test", &["alice"]);
    assert!(data.starts_with("354"));
    lmtp.send(&"partial line\r\n".repeat(10_000));
    drop(lmtp);
    // The server removes the temporary file once it sees the end of the connection; a new
    // session's complete delivery proves the first one's end was handled (one at a time).
    let mut second = Lmtp::unix(&socket(&server));
    let (_, data) = second.envelope("s@x.test", &["alice"]);
    assert!(data.starts_with("354"));
    assert!(second.message("whole\r\n", 1)[0].starts_with("250"));
    assert!(second.command("QUIT")[0].starts_with("221"));
    let deadline = std::time::Instant::now() + PATIENCE;
    while files(&maildir.join("tmp")) > 0 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(
        files(&maildir.join("tmp")),
        0,
        "a partial file was left in tmp/"
    );
    assert_eq!(files(&maildir.join("new")), 1);
}

/// A system user made for one test and removed after it.
struct SystemUser(&'static str);

impl SystemUser {
    fn add(name: &'static str) -> SystemUser {
        let _ = Command::new("userdel").arg(name).status();
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "useradd {name}");
        SystemUser(name)
    }
}

impl Drop for SystemUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(self.0).status();
    }
}

/// What a process running as `user` reads from the socket after connecting: the greeting,
/// or nothing for a refused peer.
fn first_bytes_as(user: &str, socket: &Path) -> String {
    let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
                  s.settimeout(20)\nsys.stdout.write(repr(s.recv(100)))";
    stdout_of(
        Command::new("setpriv")
            .args(["--reuid", user, "--regid", "nogroup", "--clear-groups"])
            .args(["/usr/bin/python3", "-c", script])
            .arg(socket),
    )
}

#[test]
fn the_unix_socket_serves_only_clients_even_ones_created_after_start() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!(
            "!!! SKIPPED the_unix_socket_serves_only_clients_even_ones_created_after_start: \
             needs root to create users and connect as them (CI runs as root)"
        );
        return;
    }
    // The client user does not exist yet when pop3d starts (a first `apt install pop3d
    // postfix`, where pop3d may start before Postfix's user is made).
    let server = server_with_lmtp("clients = [\"p3lmtpclient\"]");
    // The socket's directory must be reachable by other users.
    let dir = server.dir.path();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(
        first_bytes_as("nobody", &socket(&server)),
        "b''",
        "a refused peer got bytes"
    );
    let _client = SystemUser::add("p3lmtpclient");
    let greeting = first_bytes_as("p3lmtpclient", &socket(&server));
    assert!(greeting.starts_with("b'220 "), "{greeting}");
    assert_eq!(first_bytes_as("nobody", &socket(&server)), "b''");
    // Root (the server's own user here) is let in.
    assert!(Lmtp::unix(&socket(&server)).command("NOOP")[0].starts_with("250"));
}

#[test]
fn over_the_connection_limit_a_client_is_told_421() {
    let server = server_with_lmtp("connections = 1");
    let mut first = Lmtp::unix(&socket(&server));
    let second = UnixStream::connect(socket(&server)).unwrap();
    second.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut line = String::new();
    BufReader::new(second).read_line(&mut line).unwrap();
    assert!(line.starts_with("421 4.3.2"), "{line:?}");
    // TCP has a pool of its own: the socket's full pool does not refuse it.
    let mut tcp = Lmtp::tcp(&server);
    assert!(tcp.command("NOOP")[0].starts_with("250"));
    assert!(first.command("NOOP")[0].starts_with("250"));
}

#[test]
fn a_second_server_never_takes_over_a_live_lmtp_socket() {
    let server = server_with_lmtp("");
    let config_path = server.dir.path().join("pop3d.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    // Another instance with the same LMTP socket (and fresh ports and admin socket).
    let other = text.replace("admin.sock", "admin2.sock");
    let other_path = server.dir.path().join("other.toml");
    std::fs::write(&other_path, other).unwrap();
    let config = pop3_server::Config::load(&other_path).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = match runtime.block_on(pop3_server::Server::bind(config)) {
        Ok(_) => panic!("a second server bound the live LMTP socket"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("another server is listening"), "{error}");
    // The first one still has it.
    assert!(Lmtp::unix(&socket(&server)).command("NOOP")[0].starts_with("250"));
}

#[test]
fn a_message_in_flight_at_shutdown_is_finished_then_421() {
    let server = server_with_lmtp("");
    let maildir = server.add_user("alice", "secret");
    let mut lmtp = Lmtp::unix(&socket(&server));
    let (_, data) = lmtp.envelope("s@x.test", &["alice"]);
    assert!(data.starts_with("354"));
    lmtp.send("Subject: in flight\r\n\r\nfirst half\r\n");
    // Shut down while the message is open: the server stops accepting, waits for it.
    let path = socket(&server);
    let stopping = std::thread::spawn(move || server.shutdown());
    // Once new connections are refused, the shutdown is under way; the open one goes on.
    let deadline = std::time::Instant::now() + PATIENCE;
    while UnixStream::connect(&path).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never began stopping"
        );
        std::thread::yield_now();
    }
    lmtp.send("second half\r\n");
    let replies = lmtp.message("", 1);
    assert!(replies[0].starts_with("250 2.0.0"), "{replies:?}");
    // Between messages, a stopping server says 421 and closes.
    let closing = lmtp.reply();
    assert!(closing[0].starts_with("421 4.3.2"), "{closing:?}");
    let _dir = stopping.join().unwrap();
    assert_eq!(files(&maildir.join("new")), 1);
}

#[test]
fn a_silent_client_is_closed_with_421() {
    let server = server_with_lmtp("idle_secs = 1");
    let mut lmtp = Lmtp::unix(&socket(&server));
    // No command: the server's idle timeout answers (the read waits for it, bounded).
    let reply = lmtp.reply();
    assert!(reply[0].starts_with("421 4.4.2"), "{reply:?}");
}

/// Issue 18: the LMTP TCP listener behind a proxy (an MTA reaching pop3d through HAProxy):
/// served after a PROXY header from a trusted proxy, closed without a reply otherwise.
#[test]
fn lmtp_over_tcp_takes_a_proxy_header_from_trusted_proxies_only() {
    use std::io::Read;
    let server = server_with_lmtp("proxy_protocol = true\ntrusted_proxies = [\"127.0.0.1/32\"]");
    server.add_user("alice", "secret");
    let connect = || {
        let stream = std::net::TcpStream::connect(server.lmtp.unwrap()).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    };
    // With a v1 header naming the MTA: an ordinary session.
    let mut proxied = connect();
    proxied
        .write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 24\r\nLHLO mx.test\r\nQUIT\r\n")
        .unwrap();
    let mut replies = String::new();
    proxied.read_to_string(&mut replies).unwrap();
    assert!(replies.starts_with("220 "), "{replies}");
    assert!(
        replies.contains("250-PIPELINING") && replies.contains("221 "),
        "{replies}"
    );
    // Without a header: closed, not a byte said.
    let mut bare = connect();
    bare.write_all(b"LHLO mx.test\r\n").unwrap();
    let mut said = Vec::new();
    let _ = bare.read_to_end(&mut said);
    assert!(said.is_empty(), "{}", String::from_utf8_lossy(&said));
    // The Unix socket is unaffected: no header there.
    assert!(Lmtp::unix(&socket(&server)).command("NOOP")[0].starts_with("250"));
}

#[test]
fn lmtp_refuses_a_proxy_header_from_an_untrusted_peer() {
    use std::io::Read;
    let server = server_with_lmtp("proxy_protocol = true\ntrusted_proxies = [\"127.0.0.3/32\"]");
    let mut stream = std::net::TcpStream::connect(server.lmtp.unwrap()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = stream.write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 24\r\nLHLO mx.test\r\n");
    let mut said = Vec::new();
    let _ = stream.read_to_end(&mut said);
    assert!(said.is_empty(), "{}", String::from_utf8_lossy(&said));
}
