//! Resource exhaustion against the real binary, measured from outside through `/proc`: long
//! lines, a stalled reader of a 1 GB message, slowloris, a PASS flood, 10,000 idle
//! connections, and many sessions ending on error paths. Bounded in count and time for CI;
//! `POP3D_SOAK=1` runs the long variants.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::{Daemon, cert_of};
use crate::support::{Client, PATIENCE, Sections, client_config, http};

const MIB: u64 = 1024;

/// These tests measure a server from outside and hold thousands of connections: one at a
/// time, so that they neither disturb each other's figures nor share descriptor limits.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Resident set size of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

/// The process's descriptors that are TCP sockets (listeners and connections; admin and
/// metrics queries over Unix sockets do not count), and those that point into `dir`.
fn descriptors(pid: u32, dir: &Path) -> (usize, usize) {
    let mut tcp_inodes = std::collections::HashSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            if let Some(inode) = line.split_whitespace().nth(9) {
                tcp_inodes.insert(format!("socket:[{inode}]"));
            }
        }
    }
    let mut sockets = 0;
    let mut under = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if tcp_inodes.contains(target.to_string_lossy().as_ref()) {
            sockets += 1;
        } else if target.starts_with(dir) {
            under += 1;
        }
    }
    (sockets, under)
}

fn soak() -> bool {
    std::env::var_os("POP3D_SOAK").is_some()
}

/// How many sessions and locks the admin socket lists.
fn registry(daemon: &Daemon) -> (usize, usize) {
    let count = |path: &str, field: &str| {
        let socket = daemon.dir.path().join("admin.sock");
        let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let (status, body) = http(stream, "GET", path);
        assert_eq!(status, 200);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        value[field].as_array().unwrap().len()
    };
    (
        count("/v1/sessions", "sessions"),
        count("/v1/locks", "locks"),
    )
}

/// Waits (bounded) until the admin socket lists no session and no lock.
fn wait_for_empty_registry(daemon: &Daemon) {
    let started = Instant::now();
    while registry(daemon) != (0, 0) {
        assert!(started.elapsed() < PATIENCE, "sessions never ended");
        std::thread::yield_now();
    }
}

/// A multi-threaded runtime for tests that hold thousands of connections.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Connects from `127.0.0.<2 + i % spread>`, so per-address limits are not what is tested.
async fn connect_spread(addr: SocketAddr, i: usize, spread: usize) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    let source = Ipv4Addr::new(127, 0, 0, 2 + (i % spread) as u8);
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

#[test]
fn megabyte_lines_on_100_connections_use_bounded_memory() {
    let _serial = exclusive();
    let daemon = Daemon::start(
        Sections {
            limits: "connections_per_ip = 200",
            ..Sections::default()
        },
        "",
    );
    let pid = daemon.child.id();
    let before = rss_kib(pid);
    let line = vec![b'A'; 1024 * 1024];
    let mut peak = before;
    let mut streams = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(daemon.addr(2)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        // The server may stop reading and close once the line is over its limit.
        let _ = stream.write_all(&line);
        peak = peak.max(rss_kib(pid));
        streams.push(stream);
    }
    for mut stream in streams {
        // The greeting, then -ERR for the long line (the connection stays open for a better
        // command, until the invalid-command limit or the login deadline).
        let mut reply = Vec::new();
        let mut chunk = [0u8; 1024];
        while !String::from_utf8_lossy(&reply).contains("-ERR") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with("+OK"), "greeting first: {text:.80}");
        assert!(
            text.contains("-ERR"),
            "the long line is refused: {text:.200}"
        );
        peak = peak.max(rss_kib(pid));
    }
    // 100 MiB were sent; the server may keep a line buffer of max_line and a read buffer per
    // connection, nothing in proportion to the line.
    assert!(
        peak - before < 16 * MIB,
        "RSS grew by {} KiB for 100 MiB of lines",
        peak - before
    );
}

#[test]
fn a_stalled_reader_of_a_1_gb_message_keeps_memory_bounded_and_is_dropped() {
    let _serial = exclusive();
    let daemon = Daemon::start(
        Sections {
            timeouts: "output_stall_secs = 2",
            ..Sections::default()
        },
        "",
    );
    let maildir = daemon.add_user("alice", "secret");
    // A sparse 1 GiB file: no disk used, and W= so the scan never reads it.
    const GIB: u64 = 1 << 30;
    let name = format!("1700000000.big.host,S={GIB},W={GIB}:2,");
    std::fs::File::create(maildir.join("cur").join(name))
        .unwrap()
        .set_len(GIB)
        .unwrap();
    let pid = daemon.child.id();
    let before = rss_kib(pid);
    let mut client = daemon.greet();
    client.login("alice", "secret");
    assert!(client.command("LIST 1").ends_with(&format!(" {GIB}")));
    client.send(b"RETR 1\r\n");
    // The client reads nothing now; sample the server's memory until it gives up on us.
    let mut peak = before;
    let started = Instant::now();
    while !daemon.log.lock().unwrap().contains("output-stalled") {
        peak = peak.max(rss_kib(pid));
        assert!(
            started.elapsed() < PATIENCE,
            "the stalled reader was never dropped"
        );
        std::thread::yield_now();
    }
    let mut received = 0usize;
    while let Some(n) = client.line_lossy() {
        received += n;
    }
    assert!(
        (received as u64) < GIB / 4,
        "{received} bytes reached a stalled reader"
    );
    assert!(
        peak - before < 16 * MIB,
        "RSS grew by {} KiB",
        peak - before
    );
    wait_for_empty_registry(&daemon);
}

#[test]
fn slowloris_connections_are_all_cut_at_the_login_deadline_while_real_logins_stay_fast() {
    let _serial = exclusive();
    let count = if soak() { 8000 } else { 2000 };
    let daemon = Daemon::start(
        Sections {
            limits: "connections = 20000\nconnections_per_ip = 500",
            timeouts: "login_secs = 2",
            ..Sections::default()
        },
        "",
    );
    daemon.add_user("alice", "secret");
    let addr = daemon.addr(2);
    let rt = runtime();
    // Each attacker trickles one byte every 200 ms and records when the server cut it.
    let attackers: Vec<_> = (0..count)
        .map(|i| {
            rt.spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut stream = connect_spread(addr, i, 50).await;
                let started = Instant::now();
                let mut buf = [0u8; 256];
                loop {
                    let tick = tokio::time::sleep(Duration::from_millis(200));
                    tokio::select! {
                        read = stream.read(&mut buf) => match read {
                            Ok(0) | Err(_) => return started.elapsed(),
                            Ok(_) => {}
                        },
                        () = tick => {
                            if stream.write_all(b"U").await.is_err() {
                                return started.elapsed();
                            }
                        }
                    }
                }
            })
        })
        .collect();
    // Meanwhile a real user logs in again and again.
    let mut latencies = Vec::new();
    let tls = client_config(&cert_of(daemon.dir.path()));
    for round in 0..40 {
        let started = Instant::now();
        let login = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut client = Client::connect(addr, tls.clone(), false);
            assert!(client.line().unwrap().starts_with("+OK"));
            client.login("alice", "secret");
            assert!(client.command("QUIT").starts_with("+OK"));
        }));
        if login.is_err() {
            let log = daemon.log.lock().unwrap().clone();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "real login {round} failed; server log, newest first:\n{}",
                tail.join("\n")
            );
        }
        latencies.push(started.elapsed());
    }
    let cut: Vec<Duration> = rt.block_on(async {
        let mut cut = Vec::new();
        for attacker in attackers {
            cut.push(attacker.await.unwrap());
        }
        cut
    });
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    assert!(
        p99 < Duration::from_secs(1),
        "login p99 {p99:?} under slowloris"
    );
    let longest = cut.iter().max().unwrap();
    assert!(
        *longest < Duration::from_secs(5),
        "an attacker lived {longest:?} past a 2 s login deadline"
    );
    wait_for_empty_registry(&daemon);
}

#[test]
fn a_pass_flood_is_hashed_with_bounded_concurrency_and_sessions_stay_responsive() {
    let _serial = exclusive();
    let daemon = Daemon::start(
        Sections {
            auth: "argon2_m_kib = 19456\nargon2_t = 2\nhash_concurrency = 2",
            limits: "connections_per_ip = 500",
            ..Sections::default()
        },
        "",
    );
    daemon.add_user("alice", "secret");
    let pid = daemon.child.id();
    let mut alice = daemon.greet();
    alice.login("alice", "secret");
    let before = rss_kib(pid);
    let addr = daemon.addr(2);
    let rt = runtime();
    // 200 connections, each guessing passwords for unknown users (the dummy hash at full cost).
    let flood: Vec<_> = (0..200)
        .map(|i| {
            rt.spawn(async move {
                use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
                let stream = connect_spread(addr, i, 10).await;
                let mut lines = BufReader::new(stream).lines();
                let _ = lines.next_line().await;
                for guess in 0..3 {
                    let command = format!("USER ghost{i}\r\nPASS guess{guess}\r\n");
                    if lines.get_mut().write_all(command.as_bytes()).await.is_err() {
                        return;
                    }
                    for _ in 0..2 {
                        if !matches!(lines.next_line().await, Ok(Some(_))) {
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    let mut peak = before;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        assert!(alice.command("NOOP").starts_with("+OK"));
        slowest = slowest.max(started.elapsed());
        peak = peak.max(rss_kib(pid));
    }
    rt.block_on(async {
        for task in flood {
            task.await.unwrap();
        }
    });
    assert!(
        slowest < Duration::from_secs(1),
        "a logged-in session waited {slowest:?}"
    );
    // Two hashes at a time, 19 MiB each, plus slack: not 200 × 19 MiB.
    assert!(
        peak - before < 2 * 19 * MIB + 24 * MIB,
        "RSS grew by {} KiB under the flood",
        peak - before
    );
}

#[test]
fn ten_thousand_idle_connections_are_held_and_more_are_refused() {
    let _serial = exclusive();
    let held = 10_000;
    let daemon = Daemon::start(
        Sections {
            limits: &format!("connections = {held}\nconnections_per_ip = 200"),
            ..Sections::default()
        },
        "",
    );
    // The clients live in another process (Python), from 100 source addresses.
    let script = r#"
import json, resource, socket, sys
host, port, held, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def connect(i):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % 100), 0))
    s.settimeout(30)
    s.connect((host, port))
    return s
socks, greeted = [], 0
for i in range(held):
    s = connect(i)
    if s.recv(512).startswith(b"+OK"):
        greeted += 1
    socks.append(s)
refused = []
for i in range(extra):
    s = connect(held + i)
    refused.append(s.recv(512).decode(errors="replace"))
    s.close()
print(json.dumps({"greeted": greeted, "refused": refused}))
sys.stdout.flush()
sys.stdin.read()
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, "127.0.0.1"])
        .arg(daemon.ports[2].to_string())
        .arg(held.to_string())
        .arg("50")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let result: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(result["greeted"], held);
    assert_eq!(registry(&daemon).0, held);
    for reply in result["refused"].as_array().unwrap() {
        assert_eq!(
            reply.as_str().unwrap(),
            "-ERR [SYS/TEMP] too many connections, try again later\r\n"
        );
    }
    drop(child.stdin.take());
    child.wait().unwrap();
    wait_for_empty_registry(&daemon);
}

fn memchr_err(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"-ERR")
}

/// One session that ends on an error path, chosen by `i`.
async fn ending_badly(addr: SocketAddr, implicit: SocketAddr, i: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 4096];
    match i % 4 {
        // Bad password until the server closes.
        0 => {
            let mut s = connect_spread(addr, i, 50).await;
            let _ = s
                .write_all(
                    b"USER alice\r\nPASS no\r\nUSER alice\r\nPASS no\r\nUSER alice\r\nPASS no\r\n",
                )
                .await;
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        // A reset in the middle of RETR: closing with unread data makes the kernel send RST.
        1 => {
            let mut s = connect_spread(addr, i, 50).await;
            let user = format!("user{}", i % 8);
            let _ = s
                .write_all(format!("USER {user}\r\nPASS secret\r\nRETR 1\r\n").as_bytes())
                .await;
            // Stop after 64 KiB of the message, or at a refusal ([IN-USE] when another of
            // these sessions holds this user's lock: one more error path).
            let mut seen = Vec::new();
            while seen.len() < 64 * 1024 && memchr_err(&seen).is_none() {
                match s.read(&mut buf).await {
                    Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
        }
        // A TLS handshake abandoned after half a ClientHello.
        2 => {
            let mut s = connect_spread(implicit, i, 50).await;
            let _ = s
                .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
                .await;
        }
        // Garbage until the invalid-command limit closes it.
        _ => {
            let mut s = connect_spread(addr, i, 50).await;
            let _ = s.write_all(b"\x00\xff\r\nBOGUS\r\nMORE BOGUS\r\n").await;
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    }
}

#[test]
fn sessions_ending_on_error_paths_leave_descriptors_memory_and_registry_at_baseline() {
    let _serial = exclusive();
    let sessions = if soak() { 100_000 } else { 4_000 };
    let daemon = Daemon::start(
        Sections {
            limits: "connections = 5000\nconnections_per_ip = 500",
            mailbox: "lock_wait_ms = 0",
            ..Sections::default()
        },
        "",
    );
    let mail = daemon.dir.path().join("mail");
    for u in 0..8 {
        let maildir = daemon.add_user(&format!("user{u}"), "secret");
        let md = pop3_maildrop::Maildir::open(&maildir).unwrap();
        pop3_maildrop::deliver(&md, &vec![b'm'; 1024 * 1024][..]).unwrap();
    }
    daemon.add_user("alice", "secret");
    let pid = daemon.child.id();
    let (addr, implicit) = (daemon.addr(2), daemon.addr(1));
    let rt = runtime();
    let batch = |count: usize| {
        rt.block_on(async {
            let mut running = tokio::task::JoinSet::new();
            for i in 0..count {
                if running.len() >= 64 {
                    running.join_next().await;
                }
                running.spawn(ending_badly(addr, implicit, i));
            }
            while running.join_next().await.is_some() {}
        });
        wait_for_empty_registry(&daemon);
    };
    // A first batch with the same mix and concurrency brings thread pools, database
    // connections and the allocator's arenas to their working size: the baseline. A leak
    // shows as growth over the second batch; a high-water mark does not.
    batch(1_000);
    let (sockets_before, _) = descriptors(pid, &mail);
    let rss_warm = rss_kib(pid);
    batch(sessions / 2);
    let rss_before = rss_kib(pid);
    batch(sessions / 2);
    let (sockets_after, mail_fds) = descriptors(pid, &mail);
    assert_eq!(sockets_after, sockets_before, "sockets leaked");
    assert_eq!(mail_fds, 0, "maildrop descriptors left open");
    // Memory: the second half of the run must not add to the first (a leak grows in
    // proportion to sessions; pools and arenas reach their size and stay there).
    let rss_after = rss_kib(pid);
    eprintln!(
        "RSS after warm-up {rss_warm} KiB, after {} sessions {rss_before} KiB, after {sessions} \
         {rss_after} KiB",
        sessions / 2
    );
    let grown = rss_after.saturating_sub(rss_before);
    assert!(
        grown < 8 * MIB,
        "RSS grew by {grown} KiB over the second {} sessions",
        sessions / 2
    );
    assert!(daemon.log.lock().unwrap().contains("TLS handshake failed"));
    // And the server still works.
    let mut client = daemon.greet();
    client.login("alice", "secret");
}
