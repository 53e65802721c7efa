//! Issue 18's setup: the real HAProxy in TCP mode in front of two real `pop3d` processes that
//! share one user database and one Maildir root. Each node's three listeners (STLS, implicit
//! TLS, plaintext) expect PROXY headers from 127.0.0.3 only, and HAProxy connects to them from
//! 127.0.0.3 (`source`), so a client on 127.0.0.1 talking to a node directly is untrusted.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pop3_auth::UserStore as _;

use crate::daemon::{Daemon, cert_of, collect};
use crate::support::{Client, PATIENCE, Sections, client_config, http, write_config};

/// The address HAProxy connects to the nodes from, the only one they trust.
pub const PROXY_SOURCE: &str = "127.0.0.3";

/// A frontend of HAProxy: which node and listener it forwards to, and with which header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// STLS listener, PROXY v2.
    Stls,
    /// Implicit-TLS listener, PROXY v2.
    Implicit,
    /// Plaintext-only listener, PROXY v2.
    Plain,
    /// STLS listener, PROXY v1 (`send-proxy`).
    StlsV1,
}

const FRONTS: [Front; 4] = [Front::Stls, Front::Implicit, Front::Plain, Front::StlsV1];

/// HAProxy and two nodes.
pub struct Cluster {
    /// Kept first so it is stopped before the nodes.
    haproxy: Child,
    haproxy_log: Arc<Mutex<String>>,
    pub nodes: Vec<Daemon>,
    /// The frontends' ports, by node and `FRONTS` order.
    ports: Vec<Vec<u16>>,
    /// The user database and the Maildir root both nodes use.
    pub shared: tempfile::TempDir,
    /// The PostgreSQL database both nodes use instead of the SQLite file, if any.
    postgres: Option<pop3_auth::PgSettings>,
    tls: Arc<rustls::ClientConfig>,
}

impl Cluster {
    /// Starts both nodes (with extra `[auth]` keys) and HAProxy in front of them; `None`, with
    /// a loud line, when `haproxy` is not installed.
    pub fn start(test: &str, auth: &str) -> Option<Cluster> {
        Cluster::start_checked(test, auth, false)
    }

    /// As `start`; with `checks`, HAProxy health-checks node 0's plaintext listener
    /// (`tcp-check expect string +OK`, `check-send-proxy`: a PROXY v2 LOCAL header, then
    /// the greeting).
    pub fn start_checked(test: &str, auth: &str, checks: bool) -> Option<Cluster> {
        Cluster::start_with(test, auth, checks, None)
    }

    /// As `start`, with the users of both nodes in the PostgreSQL database `postgres` (its
    /// schema made here, as `pop3-admin` would).
    pub fn start_on_postgres(test: &str, postgres: pop3_auth::PgSettings) -> Option<Cluster> {
        Cluster::start_with(test, "", false, Some(postgres))
    }

    fn start_with(
        test: &str,
        auth: &str,
        checks: bool,
        postgres: Option<pop3_auth::PgSettings>,
    ) -> Option<Cluster> {
        if Command::new("haproxy").arg("-v").output().is_err() {
            let line =
                format!("!!! SKIPPED {test}: haproxy is not installed (apt-get install haproxy)");
            eprintln!("{line}");
            // Under CI, where .ci/run installs it, a skip would hide the test.
            assert!(std::env::var_os("CI").is_none(), "{line}");
            return None;
        }
        let shared = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(shared.path().join("mail")).unwrap();
        let first = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for _ in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            node_config(dir.path(), shared.path(), auth);
            if let Some(postgres) = &postgres {
                on_postgres(&dir.path().join("pop3d.toml"), postgres);
            }
            // One certificate for both nodes, as behind one name.
            for file in ["cert.pem", "key.pem"] {
                if nodes.is_empty() {
                    std::fs::copy(dir.path().join(file), first.path().join(file)).unwrap();
                } else {
                    std::fs::copy(first.path().join(file), dir.path().join(file)).unwrap();
                }
            }
            nodes.push(Daemon::start_in(dir));
        }
        let tls = client_config(&cert_of(nodes[0].dir.path()));
        let ports: Vec<Vec<u16>> = nodes
            .iter()
            .map(|_| FRONTS.iter().map(|_| free_port()).collect())
            .collect();
        let cfg = shared.path().join("haproxy.cfg");
        std::fs::write(&cfg, haproxy_cfg(&nodes, &ports, checks)).unwrap();
        let mut haproxy = Command::new("haproxy")
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let haproxy_log = Arc::new(Mutex::new(String::new()));
        collect(haproxy.stderr.take().unwrap(), haproxy_log.clone());
        let cluster = Cluster {
            haproxy,
            haproxy_log,
            nodes,
            ports,
            shared,
            postgres,
            tls,
        };
        cluster.wait_for_frontends();
        Some(cluster)
    }

    /// Polls until every frontend accepts (bounded by `PATIENCE`).
    fn wait_for_frontends(&self) {
        let started = Instant::now();
        for port in self.ports.iter().flatten() {
            while TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(
                    started.elapsed() < PATIENCE,
                    "HAProxy did not listen on {port}:\n{}",
                    self.haproxy_log.lock().unwrap()
                );
                std::thread::yield_now();
            }
        }
    }

    /// The address of a frontend of `node`.
    pub fn front(&self, node: usize, front: Front) -> SocketAddr {
        let index = FRONTS.iter().position(|f| *f == front).unwrap();
        SocketAddr::from(([127, 0, 0, 1], self.ports[node][index]))
    }

    /// A client through HAProxy to `node` from `source`, greeted, over TLS unless `Plain`
    /// (STLS done on the STLS frontends, the implicit one TLS from the start).
    pub fn client(&self, node: usize, front: Front, source: &str) -> Client {
        let source: IpAddr = source.parse().unwrap();
        let mut client = Client::connect_from(source, self.front(node, front), self.tls.clone());
        if front == Front::Implicit {
            client.upgrade();
        }
        let greeting = client.line().expect("a greeting through HAProxy");
        assert!(greeting.starts_with("+OK"), "{greeting}");
        if matches!(front, Front::Stls | Front::StlsV1) {
            assert!(client.command("STLS").starts_with("+OK"));
            client.upgrade();
        }
        client
    }

    /// What HAProxy has logged so far.
    pub fn haproxy_log(&self) -> String {
        self.haproxy_log.lock().unwrap().clone()
    }

    /// The client TLS configuration (the nodes' certificate).
    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Adds a user (cheap hash) with an empty Maildir in the shared root.
    pub fn add_user(&self, name: &str, password: &str) -> PathBuf {
        let Some(postgres) = &self.postgres else {
            return self.nodes[0].add_user_at(self.shared.path(), name, password);
        };
        let store = pop3_auth::PgStore::open(postgres, true).unwrap();
        let name = pop3_auth::UserName::parse(name).unwrap();
        let maildir = pop3_auth::default_maildir(&self.shared.path().join("mail"), &name);
        let hasher = crate::support::cheap_hasher();
        store
            .add(&name, password.as_bytes(), &maildir, &hasher)
            .unwrap();
        pop3_maildrop::Maildir::create(&maildir).unwrap();
        maildir
    }

    /// `GET` on a node's admin socket.
    pub fn admin_get(&self, node: usize, path: &str) -> String {
        let socket = self.nodes[node].dir.path().join("admin.sock");
        let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let (status, body) = http(stream, "GET", path);
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stopped by its PID (the child handle); the nodes stop in `Daemon`'s drop.
        let _ = self.haproxy.kill();
        let _ = self.haproxy.wait();
    }
}

impl Daemon {
    /// Adds a user to the database under `shared`, with its Maildir in `shared/mail`.
    pub fn add_user_at(&self, shared: &Path, name: &str, password: &str) -> PathBuf {
        let db = pop3_auth::UserDb::open(&shared.join("users.db")).unwrap();
        let name = pop3_auth::UserName::parse(name).unwrap();
        let maildir = pop3_auth::default_maildir(&shared.join("mail"), &name);
        db.add(
            &name,
            password.as_bytes(),
            &maildir,
            &crate::support::cheap_hasher(),
        )
        .unwrap();
        pop3_maildrop::Maildir::create(&maildir).unwrap();
        maildir
    }
}

/// Whether `client`'s connection is closed without a single octet from the server.
pub fn closed_without_reply(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!(
            "the server replied: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e) => panic!("the connection stayed open: {e}"),
    }
}

/// A node's config: the test server's, its data moved to `shared`, every listener a PROXY
/// listener trusting only `PROXY_SOURCE`, and a short lock wait.
/// Points a node's config at the PostgreSQL database instead of its SQLite file.
fn on_postgres(config: &Path, postgres: &pop3_auth::PgSettings) {
    let text = std::fs::read_to_string(config).unwrap();
    let text = crate::support::with_user_db(&text, postgres.url());
    std::fs::write(config, text).unwrap();
}

fn node_config(dir: &Path, shared: &Path, auth: &str) {
    let sections = Sections {
        auth,
        mailbox: "lock_wait_ms = 300",
        ..Sections::default()
    };
    let path = write_config(dir, sections);
    let own = dir.display().to_string();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            &format!("{own}/users.db"),
            &format!("{}/users.db", shared.display()),
        )
        .replace(
            &format!("mail_root = \"{own}/mail\""),
            &format!("mail_root = \"{}/mail\"", shared.display()),
        )
        .replace(
            "address = \"127.0.0.1:0\"\ntls",
            &format!(
                "address = \"127.0.0.1:0\"\nproxy_protocol = true\n\
                 trusted_proxies = [\"{PROXY_SOURCE}/32\"]\ntls"
            ),
        );
    std::fs::write(path, text).unwrap();
}

/// HAProxy in TCP mode: one `listen` section per node and frontend, each to one node's
/// listener, connecting from `PROXY_SOURCE` with a PROXY header.
fn haproxy_cfg(nodes: &[Daemon], ports: &[Vec<u16>], checks: bool) -> String {
    let mut cfg = String::from(
        "global\n    maxconn 256\n\ndefaults\n    mode tcp\n    timeout connect 5s\n    \
         timeout client 60s\n    timeout server 60s\n",
    );
    for (n, node) in nodes.iter().enumerate() {
        for (front, port) in FRONTS.iter().zip(&ports[n]) {
            let (listener, send) = match front {
                Front::Stls => (0, "send-proxy-v2"),
                Front::Implicit => (1, "send-proxy-v2"),
                Front::Plain => (2, "send-proxy-v2"),
                Front::StlsV1 => (0, "send-proxy"),
            };
            let backend = node.addr(listener);
            let (option, check) = if checks && n == 0 && *front == Front::Plain {
                (
                    "    option tcp-check\n    tcp-check expect string +OK\n",
                    " check check-send-proxy inter 100ms",
                )
            } else {
                ("", "")
            };
            cfg.push_str(&format!(
                "\nlisten node{n}_{front:?}\n    bind 127.0.0.1:{port}\n{option}    \
                 server pop3d {backend} {send} source {PROXY_SOURCE}{check}\n"
            ));
        }
    }
    cfg
}

/// A loopback port free at the time of asking.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
