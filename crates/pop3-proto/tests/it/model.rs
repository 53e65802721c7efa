//! A model test of the session state machine: random command sequences run against the real
//! `Session` (through the in-memory driver) and against a reference model written from RFC 1939
//! and `docs/protocol.md`, which predicts every reply's status and, where it carries data,
//! the data: STAT's count and octets, every LIST/UIDL entry, each retrieved message, LAST, and
//! exactly which messages UPDATE removes.

use std::collections::BTreeSet;

use proptest::prelude::*;

use pop3_proto::{BodyEncoder, Config, Connection, Limits, wire_size};

use crate::driver::{Chunking, Harness, Store, User};

/// One client command, well-formed or not.
#[derive(Clone, Debug)]
enum Op {
    User(&'static str),
    Pass(&'static str),
    Stat,
    List(Option<u64>),
    Uidl(Option<u64>),
    Retr(u64),
    Top(u64, u64),
    Dele(u64),
    Rset,
    Noop,
    Last,
    Quit,
    /// Not a command at all.
    Garbage,
}

impl Op {
    fn line(&self) -> String {
        let opt = |n: &Option<u64>| n.map(|n| format!(" {n}")).unwrap_or_default();
        match self {
            Op::User(name) => format!("USER {name}"),
            Op::Pass(password) => format!("PASS {password}"),
            Op::Stat => "STAT".into(),
            Op::List(n) => format!("LIST{}", opt(n)),
            Op::Uidl(n) => format!("UIDL{}", opt(n)),
            Op::Retr(n) => format!("RETR {n}"),
            Op::Top(n, lines) => format!("TOP {n} {lines}"),
            Op::Dele(n) => format!("DELE {n}"),
            Op::Rset => "RSET".into(),
            Op::Noop => "NOOP".into(),
            Op::Last => "LAST".into(),
            Op::Quit => "QUIT".into(),
            Op::Garbage => "XYZZY 1".into(),
        }
    }
}

/// Message numbers 0 (invalid) to two past the last message.
fn op(messages: usize) -> impl Strategy<Value = Op> {
    let n = 0..=(messages as u64 + 2);
    prop_oneof![
        2 => prop::sample::select(vec!["alice", "bob"]).prop_map(Op::User),
        2 => prop::sample::select(vec!["pw", "wrong"]).prop_map(Op::Pass),
        2 => Just(Op::Stat),
        2 => prop::option::of(n.clone()).prop_map(Op::List),
        1 => prop::option::of(n.clone()).prop_map(Op::Uidl),
        3 => n.clone().prop_map(Op::Retr),
        1 => (n.clone(), 0..4u64).prop_map(|(n, l)| Op::Top(n, l)),
        4 => n.prop_map(Op::Dele),
        1 => Just(Op::Rset),
        1 => Just(Op::Noop),
        1 => Just(Op::Last),
        1 => Just(Op::Quit),
        1 => Just(Op::Garbage),
    ]
}

/// The reference model's state.
#[derive(Debug)]
enum Phase {
    Authorization {
        user: Option<&'static str>,
    },
    Transaction {
        deleted: BTreeSet<usize>,
        highest: u64,
    },
    Closed,
}

/// What the model expects of one reply.
#[derive(Debug, PartialEq)]
enum Expect {
    Err,
    /// `+OK` and nothing else checked.
    Ok,
    /// `+OK` whose text starts with this.
    OkText(String),
    /// `+OK`, then exactly these lines and the terminator.
    OkLines(Vec<String>),
    /// `+OK`, then this message dot-stuffed (RETR), or its headers and `n` lines (TOP).
    OkMessage {
        index: usize,
        top: Option<u64>,
    },
}

struct Model {
    messages: Vec<Vec<u8>>,
    phase: Phase,
}

/// The message index a number refers to, if it exists and is not deleted.
fn live(messages: &[Vec<u8>], n: u64, deleted: &BTreeSet<usize>) -> Option<usize> {
    let index = usize::try_from(n).ok()?.checked_sub(1)?;
    (index < messages.len() && !deleted.contains(&index)).then_some(index)
}

impl Model {
    /// Messages marked deleted now, as `Session::marked_count` must report.
    fn marked(&self) -> usize {
        match &self.phase {
            Phase::Transaction { deleted, .. } => deleted.len(),
            Phase::Authorization { .. } | Phase::Closed => 0,
        }
    }

    fn step(&mut self, op: &Op) -> Expect {
        match &mut self.phase {
            Phase::Closed => unreachable!("the test stops at Closed"),
            Phase::Authorization { user } => match op {
                Op::User(name) => {
                    *user = Some(name);
                    Expect::Ok
                }
                Op::Pass(password) => match user.take() {
                    Some("alice") if *password == "pw" => {
                        self.phase = Phase::Transaction {
                            deleted: BTreeSet::new(),
                            highest: 0,
                        };
                        Expect::Ok
                    }
                    _ => Expect::Err,
                },
                Op::Quit => {
                    self.phase = Phase::Closed;
                    Expect::Ok
                }
                _ => Expect::Err,
            },
            Phase::Transaction { deleted, highest } => {
                let messages = &self.messages;
                let deleted_now = deleted.clone();
                let live = |n: u64| live(messages, n, &deleted_now);
                let size = |i: usize| wire_size(&messages[i]);
                match op {
                    Op::Stat => {
                        let remaining: Vec<usize> = (0..messages.len())
                            .filter(|i| !deleted.contains(i))
                            .collect();
                        let octets: u64 = remaining.iter().map(|&i| size(i)).sum();
                        Expect::OkText(format!("{} {octets}", remaining.len()))
                    }
                    Op::List(None) | Op::Uidl(None) => Expect::OkLines(
                        (0..messages.len())
                            .filter(|i| !deleted.contains(i))
                            .map(|i| match op {
                                Op::List(_) => format!("{} {}", i + 1, size(i)),
                                _ => format!("{} uid-{i}", i + 1),
                            })
                            .collect(),
                    ),
                    Op::List(Some(n)) => {
                        live(*n).map_or(Expect::Err, |i| Expect::OkText(format!("{n} {}", size(i))))
                    }
                    Op::Uidl(Some(n)) => {
                        live(*n).map_or(Expect::Err, |i| Expect::OkText(format!("{n} uid-{i}")))
                    }
                    Op::Retr(n) => live(*n).map_or(Expect::Err, |index| {
                        *highest = (*highest).max(*n);
                        Expect::OkMessage { index, top: None }
                    }),
                    Op::Top(n, lines) => live(*n).map_or(Expect::Err, |index| Expect::OkMessage {
                        index,
                        top: Some(*lines),
                    }),
                    Op::Dele(n) => live(*n).map_or(Expect::Err, |index| {
                        deleted.insert(index);
                        *highest = (*highest).max(*n);
                        Expect::Ok
                    }),
                    Op::Rset => {
                        deleted.clear();
                        *highest = 0;
                        Expect::Ok
                    }
                    Op::Noop => Expect::Ok,
                    Op::Last => Expect::OkText(highest.to_string()),
                    Op::Quit => {
                        // UPDATE: exactly the messages marked deleted go.
                        let kept: Vec<Vec<u8>> = (0..messages.len())
                            .filter(|i| !deleted.contains(i))
                            .map(|i| messages[i].clone())
                            .collect();
                        self.messages = kept;
                        self.phase = Phase::Closed;
                        Expect::Ok
                    }
                    Op::User(_) | Op::Pass(_) | Op::Garbage => Expect::Err,
                }
            }
        }
    }
}

/// The dot-stuffed form of a whole message or of its headers and `top` body lines.
fn encoded(message: &[u8], top: Option<u64>) -> Vec<u8> {
    let mut encoder = top.map_or_else(BodyEncoder::whole, BodyEncoder::top);
    let mut out = Vec::new();
    encoder.encode(message, &mut out);
    encoder.finish(&mut out);
    out
}

/// Checks one reply against what the model expects.
fn check(reply: &[u8], expect: &Expect, messages: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let shown = String::from_utf8_lossy(reply);
    let line_end = reply
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| TestCaseError::fail(format!("no status line in {shown:?}")))?;
    let (status, rest) = (&reply[..line_end], &reply[line_end + 2..]);
    let status = String::from_utf8_lossy(status);
    if *expect == Expect::Err {
        prop_assert!(status.starts_with("-ERR"), "expected -ERR, got {shown:?}");
        prop_assert!(rest.is_empty(), "data after -ERR: {shown:?}");
        return Ok(());
    }
    prop_assert!(status.starts_with("+OK"), "expected +OK, got {shown:?}");
    match expect {
        Expect::Err | Expect::Ok => prop_assert!(rest.is_empty(), "{shown:?}"),
        Expect::OkText(text) => {
            let tail = status.strip_prefix("+OK ").unwrap_or_default();
            prop_assert!(tail.starts_with(text.as_str()), "{shown:?} vs {text:?}");
            prop_assert!(rest.is_empty(), "{shown:?}");
        }
        Expect::OkLines(lines) => {
            let mut wanted = lines.join("\r\n");
            if !lines.is_empty() {
                wanted.push_str("\r\n");
            }
            wanted.push_str(".\r\n");
            prop_assert_eq!(String::from_utf8_lossy(rest), wanted);
        }
        Expect::OkMessage { index, top } => {
            prop_assert!(rest == encoded(&messages[*index], *top), "{shown:?}");
        }
    }
    Ok(())
}

fn config() -> Config {
    Config {
        last_command: true,
        // The limits that close a session are tested elsewhere; here every command runs.
        limits: Limits {
            bad_commands_before_login: u32::MAX,
            bad_commands_after_login: u32::MAX,
            failed_auths: u32::MAX,
            ..Limits::default()
        },
        ..Config::default()
    }
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    let line = prop::sample::select(vec![
        &b"Subject: x\n"[..],
        b"\n",
        b".dot\r\n",
        b"..two\n",
        b"body line\r\n",
        b".\r\n",
        b"no newline",
    ]);
    prop::collection::vec(line, 0..6).prop_map(|lines| lines.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn the_session_agrees_with_the_reference_model(
        (messages, ops, hang_up) in prop::collection::vec(message(), 0..5).prop_flat_map(|m| {
            let len = m.len();
            (Just(m), prop::collection::vec(op(len), 1..40), any::<bool>())
        })
    ) {
        let mut store = Store::new();
        store.insert("alice".into(), User {
            password: b"pw".to_vec(),
            messages: messages.clone(),
            ..User::default()
        });
        let conn = Connection { loopback: true, ..Connection::default() };
        let mut harness = Harness::new(config(), conn, store, Chunking::WHOLE);
        prop_assert!(harness.take_output().starts_with(b"+OK"));
        let mut model = Model { messages: messages.clone(), phase: Phase::Authorization { user: None } };
        let mut sent = 0;
        for op in &ops {
            let expect = model.step(op);
            harness.send(format!("{}\r\n", op.line()).as_bytes());
            sent += 1;
            let reply = harness.take_output();
            check(&reply, &expect, &messages)?;
            prop_assert_eq!(harness.session.marked_count(), model.marked());
            if matches!(model.phase, Phase::Closed) {
                prop_assert!(harness.closed, "the session stayed open after QUIT");
                break;
            }
            if hang_up && sent == ops.len() / 2 {
                // The client vanishes without QUIT: nothing may be removed.
                harness.drop_connection();
                model.messages = messages.clone();
                break;
            }
        }
        // One command record per command sent, in order.
        prop_assert_eq!(harness.records.len(), sent);
        prop_assert_eq!(&harness.store["alice"].messages, &model.messages);
    }
}
