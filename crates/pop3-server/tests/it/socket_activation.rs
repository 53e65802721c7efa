//! Issue 19: systemd socket activation. The real `pop3d` is started the way systemd starts it,
//! by Debian's `systemd-socket-activate` (it binds, then execs pop3d with `LISTEN_FDS`,
//! `LISTEN_FDNAMES` and `LISTEN_PID`; no systemd as PID 1 needed).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::daemon::{Daemon, collect};
use crate::support::{PATIENCE, Sections, write_config};

/// A config of `write_config`'s three listeners, renamed so that only the plaintext one is
/// `pop3` (the names `pop3` and `pop3s` are then each carried once), and LMTP on a socket.
fn activated_config(dir: &Path) -> std::path::PathBuf {
    let path = write_config(dir, Sections::default());
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "tls = \"starttls\"",
            "tls = \"starttls\"\nname = \"pop3-stls\"",
        )
        .replace("tls = \"none\"", "tls = \"none\"\nname = \"pop3\"");
    let lmtp = dir.join("lmtp.sock");
    let text = format!(
        "{text}\n[lmtp]\nsocket = \"{}\"\n\n[log]\nformat = \"text\"\n",
        lmtp.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A free loopback port (bound and released; systemd-socket-activate binds it next).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Waits (bounded) until systemd-socket-activate has bound its `count` sockets.
fn wait_listening(log: &std::sync::Mutex<String>, count: usize) {
    let started = std::time::Instant::now();
    while log.lock().unwrap().matches("Listening on ").count() < count {
        assert!(started.elapsed() < PATIENCE, "{log:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `systemd-socket-activate -l ADDRESS... --fdname=NAMES pop3d --config CONFIG`.
fn activate(config: &Path, sockets: &[&str], names: &str) -> std::process::Child {
    let mut command = Command::new("systemd-socket-activate");
    for socket in sockets {
        command.arg("-l").arg(socket);
    }
    command
        .arg(format!("--fdname={names}"))
        .arg(env!("CARGO_BIN_EXE_pop3d"))
        .arg("--config")
        .arg(config)
        .stderr(Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate (Debian package `systemd`)")
}

/// The ports `pid` listens on over TCP, from `ss -ltnp`.
fn listening_ports(pid: u32) -> Vec<u16> {
    let out = Command::new("ss").args(["-ltnpH"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ports: Vec<u16> = text
        .lines()
        .filter(|line| line.contains(&format!("pid={pid},")))
        .filter_map(|line| {
            let local = line.split_whitespace().nth(3)?;
            local.rsplit(':').next()?.parse().ok()
        })
        .collect();
    ports.sort_unstable();
    ports
}

/// One LMTP delivery to `user` over the Unix socket at `path`.
fn deliver_lmtp(path: &Path, user: &str) {
    let stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut reply = |expect: &str| loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with(expect), "expected {expect}, got {line:?}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    reply("220");
    for (command, expect) in [
        ("LHLO mx.test\r\n", "250"),
        ("MAIL FROM:<a@b.test>\r\n", "250"),
        (&format!("RCPT TO:<{user}>\r\n"), "250"),
        ("DATA\r\n", "354"),
        ("Subject: activated\r\n\r\nhello\r\n.\r\n", "250"),
    ] {
        writer.write_all(command.as_bytes()).unwrap();
        reply(expect);
    }
}

#[test]
fn issue_19_pop3_and_lmtp_on_sockets_passed_by_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let config = activated_config(dir.path());
    let port = free_port();
    let lmtp = dir.path().join("lmtp.sock");
    let pop3 = format!("127.0.0.1:{port}");
    let mut child = activate(&config, &[&pop3, &lmtp.display().to_string()], "pop3:lmtp");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    collect(child.stderr.take().unwrap(), log.clone());
    let daemon = Daemon {
        child,
        log,
        dir,
        ports: Vec::new(),
    };
    wait_listening(&daemon.log, 2);
    daemon.add_user("alice", "secret");
    // systemd-socket-activate, like systemd, starts pop3d on the first connection, which
    // pop3d then accepts from the passed socket's queue.
    let tls = crate::support::client_config(&crate::daemon::cert_of(daemon.dir.path()));
    let mut client = crate::support::Client::connect(pop3.parse().unwrap(), tls, false);
    assert!(client.line().unwrap().starts_with("+OK"));
    daemon.wait_for("listening on a socket passed by the service manager", 2);
    daemon.wait_for("listening", 5);
    deliver_lmtp(&lmtp, "alice");
    client.login("alice", "secret");
    assert!(client.command("STAT").starts_with("+OK 1 "));
    assert!(client.command("RETR 1").starts_with("+OK"));
    assert!(client.body().iter().any(|line| line == "hello"));
    client.close();

    // Every TCP socket pop3d listens on: the passed one on `port`, the two listeners it
    // bound itself (port 0) and /metrics. Had it bound the `pop3` listener's configured
    // address (127.0.0.1:0) itself, `port` would not be among them, or a fifth would be.
    let log = daemon.log();
    let ports = listening_ports(daemon.child.id());
    assert!(ports.contains(&port), "{ports:?}\n{log}");
    assert_eq!(ports.len(), 4, "{ports:?}\n{log}");
    assert!(log.contains(&format!("address={pop3}")), "{log}");
}

/// Starts pop3d on passed sockets that do not fit its config, triggers it with a connection
/// to the first (TCP) one, and returns its log once it has exited with a failure.
fn refused(sockets: &[&str], names: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = activated_config(dir.path());
    let mut child = activate(&config, sockets, names);
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    collect(child.stderr.take().unwrap(), log.clone());
    wait_listening(&log, sockets.len());
    let _trigger = std::net::TcpStream::connect(sockets[0]).unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PATIENCE {
            // Killed first: a live pop3d would keep the test's output pipe open.
            let _ = child.kill();
            panic!("pop3d still running:\n{log:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(!status.success(), "pop3d started:\n{log:?}");
    std::thread::sleep(std::time::Duration::from_millis(50));
    log.lock().unwrap().clone()
}

#[test]
fn issue_19_a_passed_socket_no_listener_names_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let lmtp = dir.path().join("other.sock").display().to_string();
    let pop3 = format!("127.0.0.1:{}", free_port());
    let log = refused(&[&pop3, &lmtp], "pop3x:lmtp");
    assert!(
        log.contains("no configured listener is named `pop3x`"),
        "{log}"
    );
}

#[test]
fn issue_19_a_passed_socket_of_the_wrong_kind_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let lmtp = dir.path().join("other.sock").display().to_string();
    let pop3 = format!("127.0.0.1:{}", free_port());
    // The TCP socket is offered as the LMTP Unix socket and the other way round.
    let log = refused(&[&pop3, &lmtp], "lmtp:pop3");
    assert!(
        log.contains("the socket passed as `pop3` does not fit"),
        "{log}"
    );
    assert!(log.contains("expected a Tcp socket"), "{log}");
}

/// `LISTEN_FDS` meant for another process (its `LISTEN_PID`) is ignored: pop3d binds its
/// listeners as without activation (sd_listen_fds(3)).
#[test]
fn issue_19_listen_fds_for_another_process_is_ignored() {
    let env = [
        ("LISTEN_PID", "1"),
        ("LISTEN_FDS", "1"),
        ("LISTEN_FDNAMES", "pop3"),
    ];
    let daemon = Daemon::start_env(Sections::default(), "", "text", &env);
    daemon.greet().close();
    assert!(!daemon.log().contains("passed by the service manager"));
}
