//! The registry, `/metrics`, the admin socket, and a real Prometheus scraping a real pop3d.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use pop3_admin_api::{KickResponse, LocksResponse, SessionsResponse, kick_path};

use crate::support::{Client, PATIENCE, Sections, TestServer, admin_get, admin_post, http, scrape};

fn sessions(server: &TestServer) -> SessionsResponse {
    let (status, body) = admin_get(server, "/v1/sessions");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn locks(server: &TestServer) -> LocksResponse {
    let (status, body) = admin_get(server, "/v1/locks");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits (bounded) until the registry is empty, then checks the gauges say so too.
fn assert_back_to_zero(server: &TestServer, how: &str) {
    let started = Instant::now();
    while !sessions(server).sessions.is_empty() || !locks(server).locks.is_empty() {
        assert!(
            started.elapsed() < PATIENCE,
            "{how}: the registry never emptied"
        );
        std::thread::yield_now();
    }
    let text = scrape(server);
    for line in [
        "pop3_sessions{state=\"AUTHORIZATION\"} 0",
        "pop3_sessions{state=\"TRANSACTION\"} 0",
        "pop3_sessions{state=\"UPDATE\"} 0",
        "pop3_mailbox_locks_held 0",
    ] {
        assert!(text.contains(line), "{how}: {line} missing");
    }
}

fn logged_in(server: &TestServer) -> Client {
    let mut client = Client::connect(server.addrs.plain, server.client_config(), false);
    client.line().unwrap();
    client.login("alice", "secret");
    assert!(client.command("DELE 1").starts_with("+OK"));
    client
}

/// The one session the registry holds, once it is in TRANSACTION with its lock.
fn the_session(server: &TestServer) -> u64 {
    let list = sessions(server).sessions;
    assert_eq!(list.len(), 1, "{list:?}");
    let session = &list[0];
    assert_eq!(session.state, "TRANSACTION");
    assert_eq!(session.user.as_deref(), Some("alice"));
    assert_eq!(session.deleted, 1);
    assert!(!session.tls);
    assert_eq!(locks(server).locks.len(), 1);
    assert!(scrape(server).contains("pop3_mailbox_locks_held 1"));
    session.id
}

#[test]
fn the_registry_returns_to_zero_after_every_kind_of_end() {
    let server = TestServer::start_with(Sections {
        timeouts: "idle_secs = 1",
        mailbox: "lock_wait_ms = 10000",
        ..Sections::default()
    });
    server.add_user("alice", "secret");
    server.deliver("alice", b"Subject: x\r\n\r\nbody\r\n");

    // QUIT (with its UPDATE: undo the DELE first so the message stays for the next rounds).
    let mut client = logged_in(&server);
    the_session(&server);
    assert!(client.command("RSET").starts_with("+OK"));
    assert!(client.command("QUIT").starts_with("+OK"));
    assert_back_to_zero(&server, "QUIT");

    // The client drops the connection.
    let client = logged_in(&server);
    the_session(&server);
    drop(client);
    assert_back_to_zero(&server, "drop");

    // The idle timeout (1 s here).
    let mut client = logged_in(&server);
    the_session(&server);
    assert_eq!(client.line(), None);
    assert_back_to_zero(&server, "timeout");

    // An administrator's kick.
    let mut client = logged_in(&server);
    let id = the_session(&server);
    let (status, body) = admin_post(&server, &kick_path(id));
    assert_eq!(status, 200, "{body}");
    let kicked: KickResponse = serde_json::from_str(&body).unwrap();
    assert!(kicked.kicked);
    assert_eq!(
        client.line().unwrap(),
        "-ERR [SYS/TEMP] disconnected by administrator"
    );
    assert_eq!(client.line(), None);
    assert_back_to_zero(&server, "kick");
    assert_eq!(
        server.message_count("alice"),
        1,
        "a kicked session runs no UPDATE"
    );

    // Kicking a session that does not exist is a 404, not a crash.
    let (status, body) = admin_post(&server, &kick_path(999_999));
    assert_eq!(status, 404, "{body}");
    let (status, _) = admin_get(&server, "/v2/anything");
    assert_eq!(status, 404);

    // Shutdown: the server's run() returns only once every session has ended.
    let mut client = logged_in(&server);
    the_session(&server);
    let maildir = server.maildir("alice");
    let _dir = server.shutdown();
    assert_eq!(
        client.line().unwrap(),
        "-ERR [SYS/TEMP] server shutting down"
    );
    assert_eq!(pop3_maildrop::lock_status(&maildir).unwrap(), None);
    assert_eq!(
        std::fs::read_dir(maildir.join("cur")).unwrap().count(),
        1,
        "nothing deleted"
    );
}

/// The registry's count of marked messages is the session's own (DELE minus RSET), read after
/// every reply: the driver no longer counts it from command records.
#[test]
fn the_registry_shows_the_marked_count_through_dele_and_rset() {
    let server = TestServer::start_with(Sections::default());
    server.add_user("alice", "secret");
    for n in 1..=3 {
        server.deliver("alice", format!("Subject: {n}\r\n\r\nbody\r\n").as_bytes());
    }
    let mut client = Client::connect(server.addrs.plain, server.client_config(), false);
    client.line().unwrap();
    client.login("alice", "secret");
    let marked = |server: &TestServer| sessions(server).sessions[0].deleted;
    assert_eq!(marked(&server), 0);
    for (command, expected) in [
        ("DELE 1", 1),
        ("DELE 2", 2),
        ("DELE 2", 2),
        ("RSET", 0),
        ("DELE 3", 1),
    ] {
        client.command(command);
        assert_eq!(marked(&server), expected, "after {command}");
    }
    assert!(client.command("QUIT").starts_with("+OK"));
}

/// Issue 15: a RETR to a client that stopped reading can still be kicked. The kick is seen
/// while the driver waits for the client, not only between commands, so the session and its
/// lock go at once, not after `output_stall_secs` (60 s by default, over PATIENCE).
#[test]
fn a_kick_reaches_a_session_stuck_writing_to_a_slow_reader() {
    let server = TestServer::start_with(Sections::default());
    server.add_user("alice", "secret");
    // A sparse 256 MiB message: far more than the socket buffers hold.
    const SIZE: u64 = 256 << 20;
    let name = format!("1700000000.big.host,S={SIZE},W={SIZE}:2,");
    std::fs::File::create(server.maildir("alice").join("cur").join(name))
        .unwrap()
        .set_len(SIZE)
        .unwrap();
    let mut client = server.greet();
    client.login("alice", "secret");
    client.send(b"RETR 1\r\n");
    let started = Instant::now();
    let id = loop {
        let list = sessions(&server).sessions;
        if let Some(session) = list.iter().find(|s| s.command.as_deref() == Some("RETR")) {
            break session.id;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the RETR never started: {list:?}"
        );
        std::thread::yield_now();
    };
    let (status, body) = admin_post(&server, &kick_path(id));
    assert_eq!(status, 200, "{body}");
    assert_back_to_zero(&server, "kick in the middle of a RETR");
    drop(client);
}

/// Whether the server closed `stream` (within PATIENCE) rather than leaving it open.
fn closed_by_the_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    match stream.read(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Issue 15: connections to the metrics port are capped and idle ones closed, so they cannot
/// use up the descriptors POP3 needs. Over the cap a connection is closed at once; an idle
/// one after `idle_secs`; then scrapes work again.
#[test]
fn idle_connections_to_the_metrics_port_are_capped_and_closed() {
    let server = TestServer::start_with(Sections {
        metrics: "connections = 4\nidle_secs = 2",
        ..Sections::default()
    });
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(server.metrics).unwrap())
        .collect();
    // The fifth is closed at once, before it sends anything (EOF, or a reset): well before
    // the idle timer could have closed it.
    let started = Instant::now();
    let mut fifth = TcpStream::connect(server.metrics).unwrap();
    assert!(closed_by_the_server(&mut fifth), "over the cap, still open");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "closed by the idle timer, not by the cap"
    );
    // The idle four are closed after a second, not held forever.
    for mut stream in idle {
        assert!(closed_by_the_server(&mut stream), "idle, still open");
    }
    assert!(scrape(&server).contains("pop3_sessions"));
}

#[test]
fn the_admin_socket_is_owner_and_group_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start("", "", "");
    let mode = std::fs::metadata(&server.admin)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
    let (status, body) = admin_get(&server, "/v1/sessions");
    assert_eq!(status, 200);
    assert!(body.starts_with("{\"version\":1,"), "{body}");
}

#[test]
fn promtool_accepts_the_metrics() {
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    let mut client = Client::connect(server.addrs.plain, server.client_config(), false);
    client.line().unwrap();
    client.command("BOGUS");
    client.login("alice", "secret");
    client.command("QUIT");
    let text = scrape(&server);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool: .ci/run installs the prometheus package");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body) = http(
        TcpStream::connect(server.metrics).unwrap(),
        "GET",
        "/healthz",
    );
    assert_eq!((status, body.as_str()), (200, "ok\n"));
}

#[test]
fn promtool_accepts_the_rules() {
    let rules = repo("config/prometheus-rules.yml");
    crate::support::stdout_of(
        Command::new("promtool")
            .args(["check", "rules"])
            .arg(&rules),
    );
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A Prometheus on a free loopback port scraping `target` every second.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: std::net::SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: pop3d\n    static_configs:\n      - targets: [\"{target}\"]\n",
                repo("config/prometheus-rules.yml").display()
            ),
        )
        .unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus: .ci/run installs the prometheus package");
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while prometheus.get("/-/ready").0 != 200 {
            assert!(
                started.elapsed() < PATIENCE * 3,
                "Prometheus never became ready"
            );
            std::thread::yield_now();
        }
        prometheus
    }

    fn get(&self, path: &str) -> (u16, String) {
        match TcpStream::connect(("127.0.0.1", self.port)) {
            Ok(stream) => {
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                http(stream, "GET", path)
            }
            Err(_) => (0, String::new()),
        }
    }

    /// Evaluates a PromQL expression; returns the JSON answer.
    fn query(&self, expr: &str) -> serde_json::Value {
        let (status, body) = self.get(&format!("/api/v1/query?query={}", percent_encode(expr)));
        assert_eq!(status, 200, "{expr}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The single value of a scalar-like query, if it has one.
    fn value(&self, expr: &str) -> Option<f64> {
        let answer = self.query(expr);
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_real_prometheus_sees_exactly_the_workload() {
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    let first = b"Subject: one\r\n\r\nfirst message\r\n".to_vec();
    let second = b"Subject: two\n\nsecond message, bare LF\n".to_vec();
    server.deliver("alice", &first);
    server.deliver("alice", &second);
    let wire = |m: &[u8]| {
        m.len()
            + m.iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' && (i == 0 || m[i - 1] != b'\r'))
                .count()
    };
    let retrieved_bytes = wire(&first) + wire(&second);
    let prometheus = Prometheus::start(server.metrics);

    // The workload, and its ledger.
    let connect = || {
        let mut c = Client::connect(server.addrs.plain, server.client_config(), false);
        c.line().unwrap();
        c
    };
    let mut s1 = connect();
    s1.login("alice", "secret");
    for n in 1..=2 {
        assert!(s1.command(&format!("RETR {n}")).starts_with("+OK"));
        s1.body();
    }
    assert!(s1.command("QUIT").starts_with("+OK"));
    let mut holder = connect();
    holder.login("alice", "secret");
    let mut conflict = connect();
    assert_eq!(conflict.command("USER alice"), "+OK");
    assert!(conflict.command("PASS secret").starts_with("-ERR [IN-USE]"));
    assert!(holder.command("QUIT").starts_with("+OK"));
    assert!(conflict.command("QUIT").starts_with("+OK"));
    for _ in 0..2 {
        let mut bad = connect();
        assert_eq!(bad.command("USER alice"), "+OK");
        assert!(bad.command("PASS wrong").starts_with("-ERR [AUTH]"));
    }
    let ledger = [
        ("sum(pop3_auth_attempts_total{result=\"success\"})", 3.0),
        ("sum(pop3_auth_attempts_total{result=\"failure\"})", 2.0),
        ("pop3_messages_retrieved_total", 2.0),
        ("pop3_retrieved_bytes_total", retrieved_bytes as f64),
        ("pop3_mailbox_lock_conflicts_total", 1.0),
        (
            "sum(pop3_commands_total{command=\"RETR\",result=\"ok\"})",
            2.0,
        ),
        ("sum(pop3_connections_total)", 5.0),
    ];

    // Prometheus scrapes every second: wait (bounded) until it has seen the last of it.
    let started = Instant::now();
    while prometheus.value(ledger[1].0) != Some(ledger[1].1)
        || prometheus.value(ledger[0].0) != Some(ledger[0].1)
    {
        assert!(
            started.elapsed() < PATIENCE * 3,
            "Prometheus never saw the workload"
        );
        std::thread::yield_now();
    }
    for (expr, expected) in ledger {
        assert_eq!(prometheus.value(expr), Some(expected), "{expr}");
    }

    // Every expression of the dashboard and of the rules evaluates without error.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("config/grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    // Issue 18: the `instance` selector (Prometheus's own label: pop3d adds none), and
    // every metric of every panel filtered on it.
    let instance = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "instance")
        .expect("the dashboard has an instance variable");
    assert_eq!(
        instance["definition"],
        "label_values(pop3_build_info, instance)"
    );
    assert_eq!(instance["multi"], true);
    assert_eq!(instance["includeAll"], true);
    assert_eq!(instance["allValue"], ".*");
    let instances = prometheus.query("count by (instance) (pop3_build_info)");
    assert_eq!(
        instances["data"]["result"].as_array().map(Vec::len),
        Some(1),
        "{instances}"
    );
    let expressions: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().iter())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect();
    for expr in &expressions {
        let selectors = expr.matches("pop3_").count() + expr.matches("process_").count();
        let filtered = expr.matches("{instance=~\"$instance\"").count();
        assert_eq!(
            selectors, filtered,
            "a metric not filtered on $instance: {expr}"
        );
    }
    // As Grafana sends them with "All" selected (its `allValue`).
    let mut expressions: Vec<String> = expressions
        .iter()
        .map(|expr| expr.replace("$instance", ".*"))
        .collect();
    let rules = std::fs::read_to_string(repo("config/prometheus-rules.yml")).unwrap();
    expressions.extend(
        rules
            .lines()
            .filter_map(|line| line.trim().strip_prefix("expr: "))
            .map(str::to_owned),
    );
    assert!(expressions.len() >= 25, "{expressions:?}");
    for expr in &expressions {
        let answer = prometheus.query(expr);
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
    }
    // The sessions panel shows one series per state.
    assert_eq!(
        expressions[0],
        "sum by (state) (pop3_sessions{instance=~\".*\"})"
    );
    let by_state = prometheus.query(&expressions[0]);
    assert_eq!(
        by_state["data"]["result"].as_array().map(Vec::len),
        Some(3),
        "{by_state}"
    );
}
