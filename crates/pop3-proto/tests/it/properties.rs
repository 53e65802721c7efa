//! Property tests: the parser and session never panic, splitting input never changes the
//! replies, and stuffing is reversible and never ends a reply early.

use proptest::prelude::*;

use pop3_proto::{BodyEncoder, Command, Config, Connection, MAX_STATUS_LINE};

use crate::driver::{Chunking, Harness, Store, User};
use crate::encoder::stuff;
use pop3_proto::test_util::transcript::split_lines;

/// What the client may send: real commands, near-misses and junk.
fn command_line() -> impl Strategy<Value = Vec<u8>> {
    let words = prop::sample::select(vec![
        "USER alice",
        "PASS secret",
        "PASS wrong",
        "USER bob",
        "STAT",
        "LIST",
        "LIST 1",
        "LIST 2",
        "LIST 0",
        "RETR 1",
        "RETR 2",
        "RETR 3",
        "DELE 1",
        "DELE 2",
        "TOP 1 0",
        "TOP 2 1",
        "UIDL",
        "UIDL 1",
        "NOOP",
        "RSET",
        "CAPA",
        "AUTH",
        "AUTH PLAIN",
        "AUTH LOGIN",
        "AGFsaWNlAHNlY3JldA==",
        "YWxpY2U=",
        "c2VjcmV0",
        "*",
        "STLS",
        "LAST",
        "APOP alice c4c9334bac560ecc979e58001b3e22fb",
        "QUIT",
        "",
        "X",
    ]);
    prop_oneof![
        8 => words.prop_map(|w| format!("{w}\r\n").into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn store() -> Store {
    let mut store = Store::new();
    store.insert(
        "alice".into(),
        User {
            password: b"secret".to_vec(),
            messages: vec![
                b"Subject: a\r\n\r\n.body\r\n".to_vec(),
                b"Subject: b\n\nline\n".to_vec(),
            ],
            ..User::default()
        },
    );
    store
}

fn run(input: &[u8], chunking: Chunking) -> (Vec<u8>, usize) {
    let (output, left, _) = run_with_records(input, chunking);
    (output, left)
}

/// Every keyword a record may carry: bounded whatever the client sends.
const RECORD_NAMES: [&str; 18] = [
    "USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP",
    "UIDL", "CAPA", "STLS", "LAST", "UNKNOWN", "INVALID",
];

fn run_with_records(
    input: &[u8],
    chunking: Chunking,
) -> (Vec<u8>, usize, Vec<pop3_proto::CommandRecord>) {
    let config = Config {
        starttls: true,
        ..Config::default()
    };
    let conn = Connection {
        loopback: true,
        ..Connection::default()
    };
    let mut harness = Harness::new(config, conn, store(), chunking);
    harness.send(input);
    let left = harness.store["alice"].messages.len();
    let records = std::mem::take(&mut harness.records);
    (harness.take_output(), left, records)
}

/// Removes the dot-stuffing and the terminator from an encoded body.
fn unstuff(encoded: &[u8]) -> Vec<u8> {
    let body = encoded.strip_suffix(b".\r\n").expect("terminator");
    let mut out = Vec::with_capacity(body.len());
    let mut line_start = true;
    for &b in body {
        if !(line_start && b == b'.') {
            out.push(b);
        }
        line_start = b == b'\n';
    }
    out
}

/// What the wire form must carry: bare LF as CRLF, and a final CRLF when the message lacks one.
fn normalised(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !message.is_empty() && !message.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bytes weighted towards the ones the encoder cares about.
fn message_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec![b'.', b'\r', b'\n']),
            2 => any::<u8>(),
        ],
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics(line in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Command::parse(&line);
    }

    #[test]
    fn session_never_panics_and_keeps_line_rules(
        lines in prop::collection::vec(command_line(), 0..30),
    ) {
        let input: Vec<u8> = lines.concat();
        let (output, _) = run(&input, Chunking::WHOLE);
        let lines = split_lines(&output).map_err(TestCaseError::fail)?;
        for line in lines {
            prop_assert!(line.len() + 2 <= MAX_STATUS_LINE || !line.starts_with(['+', '-']));
        }
    }

    #[test]
    fn one_command_record_per_status_line(
        lines in prop::collection::vec(command_line(), 0..30),
    ) {
        let input: Vec<u8> = lines.concat();
        let (output, _, records) = run_with_records(&input, Chunking::WHOLE);
        // Status lines at line starts, outside multi-line bodies (the test messages hold none
        // that start with + or -), minus the greeting.
        let status_lines = split_lines(&output)
            .map_err(TestCaseError::fail)?
            .iter()
            .filter(|l| l.starts_with("+OK") || l.starts_with("-ERR"))
            .count();
        prop_assert_eq!(records.len(), status_lines - 1);
        for record in &records {
            prop_assert!(RECORD_NAMES.contains(&record.command), "{:?}", record);
        }
        let oks = split_lines(&output).map_err(TestCaseError::fail)?.iter().skip(1).filter(|l| l.starts_with("+OK")).count();
        prop_assert_eq!(records.iter().filter(|r| r.ok).count(), oks);
    }

    #[test]
    fn splitting_input_never_changes_replies(
        lines in prop::collection::vec(command_line(), 0..30),
        input_chunk in 1usize..16,
        body_chunk in 1usize..16,
        transmit_chunk in 1usize..16,
    ) {
        let input: Vec<u8> = lines.concat();
        let whole = run(&input, Chunking::WHOLE);
        let split = run(&input, Chunking { input: input_chunk, body: body_chunk, transmit: transmit_chunk });
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn unstuffing_gives_back_the_normalised_message(
        message in message_bytes(),
        chunk in 1usize..64,
    ) {
        let encoded = stuff(&message, chunk);
        prop_assert_eq!(unstuff(&encoded), normalised(&message));
    }

    #[test]
    fn stuffed_body_never_contains_the_terminator_early(
        message in message_bytes(),
        chunk in 1usize..64,
    ) {
        let encoded = stuff(&message, chunk);
        let body = &encoded[..encoded.len() - 3];
        prop_assert!(!body.starts_with(b".\r\n"));
        prop_assert!(!body.windows(5).any(|w| w == b"\r\n.\r\n"));
        // Every LF on the wire is part of a CRLF.
        prop_assert!(encoded.iter().enumerate().all(|(i, &b)| b != b'\n' || (i > 0 && encoded[i - 1] == b'\r')));
    }

    #[test]
    fn top_with_a_huge_count_equals_retr(message in message_bytes(), chunk in 1usize..64) {
        let mut encoder = BodyEncoder::top(u64::MAX);
        let mut out = Vec::new();
        for piece in message.chunks(chunk) {
            encoder.encode(piece, &mut out);
        }
        encoder.finish(&mut out);
        prop_assert_eq!(out, stuff(&message, chunk));
    }
}
