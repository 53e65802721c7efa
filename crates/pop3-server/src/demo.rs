//! `pop3d demo`: a complete local setup in one data directory, made on first run and reused
//! after: a SQLite user DB with user `demo` / password `demo`, a Maildir with a few messages
//! delivered through the maildrop crate, a self-signed certificate, and a config serving STLS
//! on 127.0.0.1:1110 and implicit TLS on 127.0.0.1:1995.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pop3_auth::UserStore as _;
use pop3_auth::{HashParams, PasswordHasher, UserDb, UserName, default_maildir};
use pop3_maildrop::{Maildir, deliver};

/// The demo's config file inside the data directory.
pub const CONFIG_FILE: &str = "pop3d.toml";

/// Creates what is missing in `data_dir` and returns the path of its config file.
pub fn prepare(data_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
    let cert = data_dir.join("cert.pem");
    let key = data_dir.join("key.pem");
    if !cert.exists() || !key.exists() {
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .context("cannot generate a certificate")?;
        write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert, generated.cert.pem())
            .with_context(|| format!("cannot write {}", cert.display()))?;
    }
    let mail_root = data_dir.join("mail");
    let db_path = data_dir.join("users.db");
    create_demo_user(&db_path, &mail_root)?;
    // The config is the demo's own: written afresh each run, while the data is kept.
    let config = data_dir.join(CONFIG_FILE);
    let text = demo_config(
        &cert,
        &key,
        &db_path,
        &mail_root,
        &data_dir.join("admin.sock"),
    );
    std::fs::write(&config, text).with_context(|| format!("cannot write {}", config.display()))?;
    Ok(config)
}

/// The user `demo` (password `demo`) with a few messages, unless it exists already.
fn create_demo_user(db_path: &Path, mail_root: &Path) -> Result<()> {
    let db = UserDb::open(db_path).context("cannot open the demo user database")?;
    let demo = UserName::parse("demo").context("demo user name")?;
    if db.get(&demo)?.is_some() {
        return Ok(());
    }
    let maildir_path = default_maildir(mail_root, &demo);
    let hasher = PasswordHasher::new(HashParams::default())?;
    db.add(&demo, b"demo", &maildir_path, &hasher)?;
    let maildir = Maildir::create(&maildir_path)?;
    for (subject, body) in MESSAGES {
        let message = format!(
            "From: pop3d demo <demo@localhost>\r\nTo: demo@localhost\r\nSubject: {subject}\r\n\
             Date: Mon, 23 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{}@pop3d.demo>\r\n\r\n{body}",
            subject.to_lowercase().replace(' ', "-")
        );
        deliver(&maildir, message.as_bytes())?;
    }
    Ok(())
}

/// The demo's configuration: STLS on 1110, TLS on 1995, metrics on 9110, all on loopback.
fn demo_config(cert: &Path, key: &Path, db: &Path, mail: &Path, admin: &Path) -> String {
    format!(
        r#"# pop3d demo configuration (made by `pop3d demo`; see config/pop3d.example.toml)
[[listener]]
address = "127.0.0.1:1110"
tls = "starttls"

[[listener]]
address = "127.0.0.1:1995"
tls = "implicit"

[tls]
certificate = "{cert}"
key = "{key}"

[data]
user_db = "{db}"
mail_root = "{mail}"

[metrics]
address = "127.0.0.1:9110"

[admin]
socket = "{admin}"
"#,
        cert = cert.display(),
        key = key.display(),
        db = db.display(),
        mail = mail.display(),
        admin = admin.display(),
    )
}

/// What to print once the demo listens.
pub fn instructions() -> String {
    "pop3d demo is running: user \"demo\", password \"demo\".\n\
     List the mail over STLS, then fetch message 1 over implicit TLS (self-signed, hence -k):\n\
     \x20 curl -k --ssl-reqd pop3://127.0.0.1:1110/ --user demo:demo\n\
     \x20 curl -k pop3s://127.0.0.1:1995/1 --user demo:demo\n\
     Stop with Ctrl-C; running `pop3d demo` again reuses the data."
        .to_owned()
}

const MESSAGES: [(&str, &str); 3] = [
    (
        "Welcome to pop3d",
        "Hello!\r\n\r\nThis mailbox belongs to the pop3d demo.\r\n",
    ),
    (
        "Dots and lines",
        ".This line starts with a dot, which POP3 must stuff.\r\n..And two.\r\n",
    ),
    (
        "Unix line endings",
        "This one was stored with bare LF endings,\nwhich go out as CRLF.\n",
    ),
];

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
