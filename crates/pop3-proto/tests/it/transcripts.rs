//! Runs every `tests/transcripts/*.pop3` against the session with the in-memory driver, whole
//! and split into tiny chunks: the replies must pass and be identical at every split.

use std::collections::VecDeque;
use std::path::Path;

use pop3_proto::test_util::files;
use pop3_proto::test_util::transcript::{self, Setup, Step, Transcript, split_lines, substitute};
use pop3_proto::{CleartextPolicy, Config, Connection, Expire, sasl::Mechanism};

use crate::driver::{Chunking, Harness, RFC_TIMESTAMP, Store, User, apop_digest};

/// Every transcript of the workspace, sorted by name, with its messages' paths resolved.
fn all_transcripts() -> Vec<Transcript> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    files::load_all(&root).unwrap_or_else(|e| panic!("{e}"))
}

/// Builds the session's config, connection and store from a transcript's setup lines.
pub fn setup(t: &Transcript) -> (Config, Connection, Store) {
    let mut config = Config {
        starttls: true,
        ..Config::default()
    };
    let mut conn = Connection {
        secure: false,
        loopback: true,
        apop_timestamp: Some(RFC_TIMESTAMP.to_owned()),
        ..Connection::default()
    };
    let mut store = Store::new();
    for setup in &t.setup {
        match setup {
            Setup::Config(pairs) => {
                for (key, value) in pairs {
                    apply_config(&mut config, key, value);
                }
            }
            Setup::Connection { secure, loopback } => {
                conn.secure = *secure;
                conn.loopback = *loopback;
            }
            Setup::User {
                name,
                password,
                apop,
            } => {
                store.insert(
                    name.to_lowercase(),
                    User {
                        password: password.as_bytes().to_vec(),
                        apop_secret: apop.clone(),
                        ..User::default()
                    },
                );
            }
            Setup::Message { user, file } => {
                let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
                store
                    .get_mut(user)
                    .expect("message for a known user")
                    .messages
                    .push(bytes);
            }
            Setup::Locked(user) => store.get_mut(user).expect("known user").locked = true,
        }
    }
    (config, conn, store)
}

fn apply_config(config: &mut Config, key: &str, value: &str) {
    let on = value == "on";
    let number = || value.parse::<u32>().expect("a number");
    match key {
        "cleartext" => {
            config.cleartext = match value {
                "never" => CleartextPolicy::Never,
                "loopback" => CleartextPolicy::Loopback,
                "always" => CleartextPolicy::Always,
                other => panic!("cleartext={other}"),
            }
        }
        "starttls" => config.starttls = on,
        "apop" => config.apop = on,
        "last" => config.last_command = on,
        "sasl" => {
            config.sasl_mechanisms = value
                .split(',')
                .filter(|name| *name != "none")
                .map(|name| Mechanism::from_name(name.as_bytes()).expect("a mechanism"))
                .collect();
        }
        "max-line" => config.limits.max_line_octets = number() as usize,
        "bad-before" => config.limits.bad_commands_before_login = number(),
        "bad-after" => config.limits.bad_commands_after_login = number(),
        "failed-auths" => config.limits.failed_auths = number(),
        "login-delay" => config.login_delay = Some(number()),
        "expire" if value == "never" => config.expire = Some(Expire::Never),
        "expire" => config.expire = Some(Expire::Days(number())),
        "implementation" if value == "none" => config.implementation = None,
        "implementation" => config.implementation = Some(value.to_owned()),
        other => panic!("unknown config key {other}"),
    }
}

/// Runs one transcript; returns all output, or the first mismatch.
pub fn run(t: &Transcript, chunking: Chunking) -> Result<Vec<u8>, String> {
    let (config, conn, store) = setup(t);
    let mut harness = Harness::new(config, conn, store, chunking);
    let mut all_output = Vec::new();
    let mut lines: VecDeque<String> = VecDeque::new();
    let mut timestamp: Option<String> = None;
    let mut unsent: Vec<u8> = Vec::new();
    for (n, step) in t.steps.iter().enumerate() {
        if let Step::Send(bytes) = step {
            let ts = timestamp.clone().unwrap_or_default();
            unsent.extend(substitute(bytes, |secret| apop_digest(&ts, secret)));
            continue;
        }
        // Consecutive client lines go to the session as one write (pipelining).
        if !unsent.is_empty() {
            harness.send(&std::mem::take(&mut unsent));
        }
        let output = harness.take_output();
        all_output.extend_from_slice(&output);
        for line in split_lines(&output)? {
            if timestamp.is_none() {
                timestamp = line.find('<').map(|start| line[start..].to_owned());
            }
            lines.push_back(line);
        }
        let at = format!("{} step {}", t.name, n + 1);
        match step {
            Step::Expect(expect) => {
                let line = lines
                    .pop_front()
                    .ok_or_else(|| format!("{at}: expected {expect:?}, got no more output"))?;
                if !expect.matches(&line) {
                    return Err(format!("{at}: expected {expect:?}, got {line:?}"));
                }
            }
            Step::Closed => {
                if !lines.is_empty() || !harness.closed {
                    return Err(format!(
                        "{at}: expected close, closed={} with output {lines:?}",
                        harness.closed
                    ));
                }
            }
            Step::Drop => harness.drop_connection(),
            Step::Messages { user, count } => {
                let have = harness.store[user].messages.len();
                if have != *count {
                    return Err(format!(
                        "{at}: {user} has {have} messages, expected {count}"
                    ));
                }
            }
            Step::Send(_) => unreachable!("handled above"),
        }
    }
    if !unsent.is_empty() {
        harness.send(&unsent);
    }
    all_output.extend_from_slice(&harness.take_output());
    let rest = split_lines(&harness.output)?;
    if !lines.is_empty() || !rest.is_empty() {
        return Err(format!(
            "{}: unexpected output at the end: {lines:?} {rest:?}",
            t.name
        ));
    }
    Ok(all_output)
}

#[test]
fn transcripts_pass_whole_and_identically_at_every_split() {
    let transcripts = all_transcripts();
    assert!(transcripts.len() >= 20, "transcripts missing");
    let splits = [
        Chunking {
            input: 1,
            body: 1,
            transmit: 1,
        },
        Chunking {
            input: 3,
            body: 7,
            transmit: 5,
        },
        Chunking {
            input: 17,
            body: 2,
            transmit: 64,
        },
    ];
    let mut failures = Vec::new();
    for t in &transcripts {
        match run(t, Chunking::WHOLE) {
            Err(e) => failures.push(e),
            Ok(whole) => {
                for chunking in splits {
                    match run(t, chunking) {
                        Err(e) => failures.push(format!("{e} (with {chunking:?})")),
                        Ok(split) if split != whole => {
                            failures.push(format!("{}: output differs with {chunking:?}", t.name))
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn transcript_parser_rejects_unknown_lines() {
    assert!(transcript::parse("bad", "X: what\n").is_err());
    assert!(transcript::parse("bad", "-- exploded\n").is_err());
    assert!(transcript::parse("bad", "C> \\q\n").is_err());
    let t = transcript::parse("ok", "C> A\\r\\n\\x00\nS~ +OK *\n-- closed\n").unwrap();
    assert_eq!(t.steps.len(), 3);
}
