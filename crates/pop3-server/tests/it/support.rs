//! A real server on 127.0.0.1 with free ports, a temp user DB, Maildirs and a self-signed
//! certificate; and a blocking POP3 client with STLS for the tests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pop3_auth::UserStore as _;
use pop3_auth::{HashParams, PasswordHasher, UserDb, UserName, default_maildir};
use pop3_maildrop::{Maildir, deliver};
use pop3_server::{Config, Server};
use rustls::pki_types::{CertificateDer, ServerName};

/// How long a test waits for the server before failing (a bound, never a synchronisation).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The listeners of a test server.
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    pub starttls: SocketAddr,
    pub implicit: SocketAddr,
    pub plain: SocketAddr,
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub addrs: Addrs,
    /// Where `/metrics` is served.
    pub metrics: SocketAddr,
    /// The admin socket.
    pub admin: PathBuf,
    /// The LMTP TCP listener, when the config has `[lmtp] address`.
    pub lmtp: Option<SocketAddr>,
    pub cert: CertificateDer<'static>,
    /// The server's TLS side: `reload` is what SIGHUP calls.
    pub tls: Option<pop3_server::Tls>,
    pub db_path: PathBuf,
    pub mail_root: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Extra keys for each config section of a test server.
#[derive(Default, Clone, Copy)]
pub struct Sections<'a> {
    pub auth: &'a str,
    pub limits: &'a str,
    pub server: &'a str,
    pub timeouts: &'a str,
    pub mailbox: &'a str,
    pub metrics: &'a str,
}

/// Writes a config for three listeners on free ports, with the extra keys.
pub fn write_config(dir: &Path, sections: Sections<'_>) -> PathBuf {
    let Sections {
        auth,
        limits,
        server,
        timeouts,
        mailbox,
        metrics,
    } = sections;
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    std::fs::create_dir_all(dir.join("mail")).unwrap();
    // Test servers hash cheaply and do not slow failed logins, unless a test sets these
    // keys itself.
    let defaults = [
        ("argon2_m_kib", 64),
        ("argon2_t", 1),
        ("failure_delay_ms", 0),
        ("penalty_start_ms", 0),
        ("penalty_max_secs", 0),
    ];
    let auth_defaults: String = defaults
        .iter()
        .filter(|(key, _)| !auth.contains(&format!("{key} ")))
        .map(|(key, value)| format!("{key} = {value}\n"))
        .collect();
    let text = format!(
        r#"
[[listener]]
address = "127.0.0.1:0"
tls = "starttls"
[[listener]]
address = "127.0.0.1:0"
tls = "implicit"
[[listener]]
address = "127.0.0.1:0"
tls = "none"

[tls]
certificate = "{dir}/cert.pem"
key = "{dir}/key.pem"

[data]
user_db = "{dir}/users.db"
mail_root = "{dir}/mail"

[auth]
{auth_defaults}
{auth}

[limits]
{limits}

[server]
hostname = "pop3d.test"
{server}

[timeouts]
{timeouts}

[mailbox]
{mailbox}

[metrics]
address = "127.0.0.1:0"
{metrics}

[admin]
socket = "{dir}/admin.sock"
"#,
        dir = dir.display()
    );
    let path = dir.join("pop3d.toml");
    std::fs::write(&path, text).unwrap();
    path
}

impl TestServer {
    /// Starts a server with extra keys for the `[auth]`, `[limits]` and `[server]` sections.
    pub fn start(auth: &str, limits: &str, server: &str) -> TestServer {
        TestServer::start_with(Sections {
            auth,
            limits,
            server,
            ..Sections::default()
        })
    }

    /// Starts a server with extra keys in any section.
    pub fn start_with(sections: Sections<'_>) -> TestServer {
        TestServer::start_edited(sections, |text| text)
    }

    /// Starts a server from the config of `sections` as rewritten by `edit`.
    pub fn start_edited(sections: Sections<'_>, edit: impl FnOnce(String) -> String) -> TestServer {
        TestServer::start_seeded(sections, edit, |_| {})
    }

    /// [`TestServer::start_edited`] with `seed` run on the user database before the server
    /// starts (what the server reads once at startup, e.g. which users have their own values).
    pub fn start_seeded(
        sections: Sections<'_>,
        edit: impl FnOnce(String) -> String,
        seed: impl FnOnce(&Seed),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let config_path = write_config(dir.path(), sections);
        let text = std::fs::read_to_string(&config_path).unwrap();
        std::fs::write(&config_path, edit(text)).unwrap();
        seed(&Seed {
            db_path: dir.path().join("users.db"),
            mail_root: dir.path().join("mail"),
        });
        let config = Config::load(&config_path).unwrap();
        let cert_pem = std::fs::read(dir.path().join("cert.pem")).unwrap();
        let cert = rustls_pemfile_cert(&cert_pem);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(config).await.unwrap();
                addr_tx
                    .send((
                        server.local_addrs(),
                        server.metrics_addr().unwrap(),
                        server.lmtp_addr(),
                        server.tls(),
                    ))
                    .unwrap();
                server
                    .run(async move {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let (addrs, metrics, lmtp, tls) = addr_rx.recv_timeout(PATIENCE).unwrap();
        TestServer {
            metrics,
            lmtp,
            admin: dir.path().join("admin.sock"),
            addrs: Addrs {
                starttls: addrs[0],
                implicit: addrs[1],
                plain: addrs[2],
            },
            cert,
            tls,
            db_path: dir.path().join("users.db"),
            mail_root: dir.path().join("mail"),
            dir,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// Connects to the plaintext listener and checks the greeting.
    pub fn greet(&self) -> Client {
        let mut client = Client::connect(self.addrs.plain, self.client_config(), false);
        assert!(client.line().unwrap().starts_with("+OK"));
        client
    }

    /// Adds a user with a Maildir; returns the Maildir path.
    pub fn add_user(&self, name: &str, password: &str) -> PathBuf {
        Seed {
            db_path: self.db_path.clone(),
            mail_root: self.mail_root.clone(),
        }
        .add_user(name, password)
    }

    pub fn db(&self) -> UserDb {
        UserDb::open(&self.db_path).unwrap()
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        default_maildir(&self.mail_root, &UserName::parse(user).unwrap())
    }

    pub fn deliver(&self, user: &str, message: &[u8]) {
        let maildir = Maildir::open(&self.maildir(user)).unwrap();
        deliver(&maildir, message).unwrap();
    }

    /// Files in the user's new/ and cur/.
    pub fn message_count(&self, user: &str) -> usize {
        let maildir = self.maildir(user);
        ["new", "cur"]
            .iter()
            .map(|sub| std::fs::read_dir(maildir.join(sub)).unwrap().count())
            .sum()
    }

    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        client_config(&self.cert)
    }
}

impl TestServer {
    /// Stops the server (its `run` returns once every session has ended) and hands back its
    /// directory, so the test can look at the files afterwards.
    pub fn shutdown(mut self) -> tempfile::TempDir {
        self.stop();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn rustls_pemfile_cert(pem: &[u8]) -> CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem).unwrap()
}

pub fn client_config(cert: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The hash cost of test users: argon2id at its cheapest, so logins cost microseconds.
pub fn cheap_hasher() -> PasswordHasher {
    PasswordHasher::new(HashParams {
        m_kib: 64,
        t: 1,
        p: 1,
    })
    .unwrap()
}

/// A blocking POP3 client connection, plaintext or TLS, that can upgrade with STLS.
pub struct Client {
    conn: Conn,
    buf: Vec<u8>,
    tls: Arc<rustls::ClientConfig>,
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Client {
    pub fn connect(addr: SocketAddr, tls: Arc<rustls::ClientConfig>, implicit: bool) -> Client {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut client = Client {
            conn: Conn::Plain(tcp),
            buf: Vec::new(),
            tls,
        };
        if implicit {
            client.upgrade();
        }
        client
    }

    /// Connects (plaintext) from a chosen local address, such as another 127.0.0.x.
    pub fn connect_from(
        source: std::net::IpAddr,
        addr: SocketAddr,
        tls: Arc<rustls::ClientConfig>,
    ) -> Client {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let tcp = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(source, 0)).unwrap();
            socket.connect(addr).await.unwrap()
        });
        let tcp = tcp.into_std().unwrap();
        tcp.set_nonblocking(false).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        Client {
            conn: Conn::Plain(tcp),
            buf: Vec::new(),
            tls,
        }
    }

    /// Runs the TLS handshake on the plaintext connection.
    pub fn upgrade(&mut self) {
        let Conn::Plain(tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            panic!("already TLS");
        };
        assert!(self.buf.is_empty(), "plaintext left unread before TLS");
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(self.tls.clone(), name).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.conn.complete_io(&mut stream.sock).unwrap();
        self.conn = Conn::Tls(Box::new(stream));
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let result = match &mut self.conn {
            Conn::Plain(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Conn::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Conn::Gone => panic!("connection gone"),
        };
        // The server may have closed already; the next read says so.
        let _ = result;
    }

    /// The next line without CRLF; `None` at end of stream. Panics on a bare LF.
    pub fn line(&mut self) -> Option<String> {
        loop {
            if let Some(lf) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=lf).collect();
                assert!(
                    line.len() >= 2 && line[line.len() - 2] == b'\r',
                    "bare LF: {line:?}"
                );
                return Some(String::from_utf8_lossy(&line[..line.len() - 2]).into_owned());
            }
            let mut chunk = [0u8; 8192];
            let n = match &mut self.conn {
                Conn::Plain(s) => s.read(&mut chunk),
                Conn::Tls(s) => s.read(&mut chunk),
                Conn::Gone => Ok(0),
            };
            match n {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    panic!("no answer from the server in {PATIENCE:?}")
                }
                Err(_) => return None,
            }
        }
    }

    /// Reads raw bytes until end of stream or error; returns how many, `None` at the end.
    pub fn line_lossy(&mut self) -> Option<usize> {
        if !self.buf.is_empty() {
            return Some(std::mem::take(&mut self.buf).len());
        }
        let mut chunk = [0u8; 65536];
        let n = match &mut self.conn {
            Conn::Plain(s) => s.read(&mut chunk),
            Conn::Tls(s) => s.read(&mut chunk),
            Conn::Gone => Ok(0),
        };
        match n {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        }
    }

    /// Sends a command line and returns the status line.
    pub fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.line().expect("a reply")
    }

    /// Reads a multi-line body up to the terminator, undoing the dot-stuffing.
    pub fn body(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().expect("multi-line reply ended early");
            if line == "." {
                return lines;
            }
            lines.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
        }
    }

    /// Logs in with USER/PASS and checks the +OK.
    pub fn login(&mut self, user: &str, password: &str) {
        assert!(self.command(&format!("USER {user}")).starts_with("+OK"));
        let reply = self.command(&format!("PASS {password}"));
        assert!(reply.starts_with("+OK"), "{reply}");
    }

    pub fn close(mut self) {
        if let Conn::Tls(s) = &mut self.conn {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
    }
}

/// A minimal HTTP/1.1 request over any stream (TCP or the admin Unix socket); returns the
/// status and the body (de-chunked).
pub fn http(mut stream: impl Read + Write, method: &str, path: &str) -> (u16, String) {
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// `GET` on the admin socket.
pub fn admin_get(server: &TestServer, path: &str) -> (u16, String) {
    let stream = std::os::unix::net::UnixStream::connect(&server.admin).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    http(stream, "GET", path)
}

/// `POST` on the admin socket.
pub fn admin_post(server: &TestServer, path: &str) -> (u16, String) {
    let stream = std::os::unix::net::UnixStream::connect(&server.admin).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    http(stream, "POST", path)
}

/// The `/metrics` text.
pub fn scrape(server: &TestServer) -> String {
    let stream = TcpStream::connect(server.metrics).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let (status, body) = http(stream, "GET", "/metrics");
    assert_eq!(status, 200);
    body
}

/// Runs `command` and returns its stdout, failing the test with its stderr if it fails.
pub fn stdout_of(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Config text with its `user_db = ...` line replaced by `user_db = "<url>"`.
pub fn with_user_db(text: &str, url: &str) -> String {
    let line = text
        .lines()
        .find(|line| line.starts_with("user_db = "))
        .unwrap()
        .to_owned();
    text.replace(&line, &format!("user_db = \"{url}\""))
}

/// The user database and mail root of a server about to start ([`TestServer::start_seeded`]).
pub struct Seed {
    pub db_path: PathBuf,
    pub mail_root: PathBuf,
}

impl Seed {
    /// Adds a user (cheap hash) and creates their Maildir.
    pub fn add_user(&self, name: &str, password: &str) -> PathBuf {
        let db = UserDb::open(&self.db_path).unwrap();
        let name = UserName::parse(name).unwrap();
        let maildir = default_maildir(&self.mail_root, &name);
        db.add(&name, password.as_bytes(), &maildir, &cheap_hasher())
            .unwrap();
        Maildir::create(&maildir).unwrap();
        maildir
    }

    pub fn db(&self) -> UserDb {
        UserDb::open(&self.db_path).unwrap()
    }
}
