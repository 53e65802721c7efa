//! Every `tests/transcripts/*.pop3` over a real socket against a real server: the same files
//! the protocol core runs in memory.

use std::path::Path;

use pop3_auth::UserName;
use pop3_auth::UserStore as _;
use pop3_maildrop::{Maildrop, OpenOptions};
use pop3_proto::test_util::files;
use pop3_proto::test_util::transcript::{Setup, Step, Transcript, substitute};

use crate::support::{Client, TestServer};

/// Every transcript of the workspace, sorted by name, with its messages' paths resolved.
fn all_transcripts() -> Vec<Transcript> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    files::load_all(&root).unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Default)]
struct Options {
    auth: Vec<String>,
    limits: Vec<String>,
    server: Vec<String>,
    starttls: bool,
    secure: bool,
}

fn options(t: &Transcript) -> Options {
    let mut o = Options {
        starttls: true,
        ..Options::default()
    };
    for setup in &t.setup {
        match setup {
            Setup::Config(pairs) => {
                for (key, value) in pairs {
                    let on = value == "on";
                    match key.as_str() {
                        "cleartext" => o.auth.push(format!("cleartext = \"{value}\"")),
                        "apop" => o.auth.push(format!("apop = {on}")),
                        "sasl" => {
                            let list: Vec<String> = value
                                .split(',')
                                .filter(|m| *m != "none")
                                .map(|m| format!("\"{}\"", m.to_uppercase()))
                                .collect();
                            o.auth.push(format!("sasl = [{}]", list.join(", ")));
                        }
                        "starttls" => o.starttls = on,
                        "last" => o.server.push(format!("last_command = {on}")),
                        "max-line" => o.limits.push(format!("max_line = {value}")),
                        "bad-before" => o
                            .limits
                            .push(format!("bad_commands_before_login = {value}")),
                        "bad-after" => o.limits.push(format!("bad_commands_after_login = {value}")),
                        "failed-auths" => o.limits.push(format!("failed_auths = {value}")),
                        "login-delay" => o.server.push(format!("login_delay_secs = {value}")),
                        "expire" => o.server.push(format!("expire = \"{value}\"")),
                        "implementation" if value == "none" => {
                            o.server.push("implementation = \"\"".into())
                        }
                        "implementation" => o.server.push(format!("implementation = \"{value}\"")),
                        other => panic!("{}: config key {other} has no server equivalent", t.name),
                    }
                }
            }
            Setup::Connection { secure, loopback } => {
                o.secure = *secure;
                if !loopback {
                    // The peer is 127.0.0.1; tell the server not to trust loopback.
                    o.auth.push("trust_loopback = false".into());
                }
            }
            _ => {}
        }
    }
    o
}

fn run(t: &Transcript) -> Result<(), String> {
    let o = options(t);
    let server = TestServer::start(
        &o.auth.join("\n"),
        &o.limits.join("\n"),
        &o.server.join("\n"),
    );
    // Locks held by "another session" for the whole transcript.
    let mut held = Vec::new();
    for setup in &t.setup {
        match setup {
            Setup::User {
                name,
                password,
                apop,
            } => {
                server.add_user(name, password);
                if let Some(secret) = apop {
                    let db = server.db();
                    let user = UserName::parse(name).unwrap();
                    db.set_apop_secret(&user, Some(secret)).unwrap();
                }
            }
            Setup::Message { user, file } => server.deliver(user, &std::fs::read(file).unwrap()),
            Setup::Locked(user) => {
                let options = OpenOptions {
                    session: "other".into(),
                    lock_wait: std::time::Duration::ZERO,
                    ..Default::default()
                };
                held.push(Maildrop::open(&server.maildir(user), &options).unwrap());
            }
            _ => {}
        }
    }
    let addr = match (o.secure, o.starttls) {
        (true, _) => server.addrs.implicit,
        (false, true) => server.addrs.starttls,
        (false, false) => server.addrs.plain,
    };
    let mut client = Client::connect(addr, server.client_config(), o.secure);
    let mut timestamp = String::new();
    let mut pending: Vec<u8> = Vec::new();
    for (n, step) in t.steps.iter().enumerate() {
        let at = format!("{} step {}", t.name, n + 1);
        if let Step::Send(bytes) = step {
            pending.extend(substitute(bytes, |secret| {
                pop3_auth::apop::digest(&timestamp, secret)
            }));
            continue;
        }
        if !pending.is_empty() {
            client.send(&std::mem::take(&mut pending));
        }
        match step {
            Step::Expect(expect) => {
                let line = client
                    .line()
                    .ok_or_else(|| format!("{at}: expected {expect:?}, the server closed"))?;
                if timestamp.is_empty() {
                    timestamp = line
                        .find('<')
                        .map(|i| line[i..].to_owned())
                        .unwrap_or_default();
                }
                if !expect.matches(&line) {
                    return Err(format!("{at}: expected {expect:?}, got {line:?}"));
                }
                if line == "+OK Begin TLS negotiation" {
                    client.upgrade();
                }
            }
            Step::Closed => {
                if let Some(line) = client.line() {
                    return Err(format!("{at}: expected close, got {line:?}"));
                }
            }
            Step::Drop => {
                drop(std::mem::replace(
                    &mut client,
                    Client::connect(server.addrs.plain, server.client_config(), false),
                ));
            }
            Step::Messages { user, count } => {
                let have = server.message_count(user);
                if have != *count {
                    return Err(format!(
                        "{at}: {user} has {have} messages, expected {count}"
                    ));
                }
            }
            Step::Send(_) => unreachable!("handled above"),
        }
    }
    drop(held);
    Ok(())
}

#[test]
fn every_transcript_passes_over_a_real_socket() {
    let transcripts = all_transcripts();
    assert!(transcripts.len() >= 30);
    let failures: Vec<String> = transcripts.iter().filter_map(|t| run(t).err()).collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
