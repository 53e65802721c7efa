//! The whole session on arbitrary client lines, with an in-memory maildrop and a driver that
//! follows the documented call order. The lines are arbitrary bytes (bare CR, NUL, overlong,
//! SASL, STLS...), fed in arbitrary chunks. Checked after every line:
//! - no panic; the output is CRLF lines; status lines fit in 512 octets;
//! - one status line per command: as many `+OK`/`-ERR` lines as command records;
//! - STAT equals the count and the sum of the messages not deleted, and LIST lists exactly
//!   those with their sizes;
//! - a message marked deleted is never retrieved (no request reaches the driver);
//! - `marked_count` in TRANSACTION is the number of messages marked deleted;
//! - nothing is removed unless QUIT is sent in TRANSACTION, and then exactly the messages
//!   whose DELE was answered `+OK` and not undone by RSET.
#![no_main]

use std::collections::BTreeSet;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pop3_proto::{
    AuthOutcome, ChallengeAnswer, Command, CommitOutcome, Config, Connection, Event, Listing, Progress, Request,
    Secret, Session, State, wire_size,
};

const MESSAGES: [&[u8]; 3] = [
    b"Subject: a\r\n\r\n.dot\r\nbody\r\n",
    b"Subject: b\n\nunix\n",
    b"",
];

struct Mem;

impl Listing for Mem {
    fn len(&self) -> usize {
        MESSAGES.len()
    }
    fn wire_size(&self, index: usize) -> u64 {
        wire_size(MESSAGES[index])
    }
    fn uid(&self, index: usize) -> &str {
        ["u0", "u1", "u2"][index]
    }
}

/// What the driver saw while one line was processed.
#[derive(Default)]
struct Step {
    output: Vec<u8>,
    records: usize,
    retrieved: Vec<usize>,
    committed: Option<Vec<usize>>,
    closed: bool,
}

struct Driver {
    session: Session,
    chunk: usize,
}

impl Driver {
    /// Feeds `input` and runs the session until it waits for more.
    fn run(&mut self, mut input: &[u8]) -> Step {
        let mut step = Step::default();
        loop {
            while self.session.poll_command_record().is_some() {
                step.records += 1;
            }
            let pending = self.session.poll_transmit();
            if !pending.is_empty() {
                step.output.extend_from_slice(pending);
                let n = pending.len();
                self.session.advance_transmit(n);
                continue;
            }
            match self.session.poll_event() {
                Some(Event::Request(request)) => self.answer(request, &mut step),
                Some(Event::StartTls) => self.session.handle_tls_established(),
                Some(Event::Close) => {
                    while self.session.poll_command_record().is_some() {
                        step.records += 1;
                    }
                    step.closed = true;
                    return step;
                }
                None if self.session.wants_input() && !input.is_empty() => {
                    let n = self.chunk.min(input.len());
                    self.session.handle_input(&input[..n]);
                    input = &input[n..];
                }
                None => return step,
            }
        }
    }

    fn answer(&mut self, request: Request, step: &mut Step) {
        match request {
            Request::Authenticate(c) => {
                let ok = matches!(&c.secret, Secret::Password { password, .. } if password == b"pw");
                let scram = matches!(&c.secret, Secret::Scram { client_final } if client_final == b"pw");
                self.session.handle_auth_result(if ok {
                    AuthOutcome::Accepted
                } else if scram {
                    AuthOutcome::AcceptedWith(b"v=x".to_vec())
                } else {
                    AuthOutcome::Rejected
                });
            }
            // A stand-in for `pop3-auth`'s SCRAM: a challenge for anything that looks like a
            // client-first-message, a refusal otherwise.
            Request::SaslChallenge { response, .. } => {
                self.session.handle_sasl_challenge(if response.starts_with(b"n,") {
                    ChallengeAnswer::Challenge {
                        user: "u".into(),
                        data: b"r=x,s=eA==,i=4096".to_vec(),
                    }
                } else {
                    ChallengeAnswer::Invalid("malformed".into())
                });
            }
            Request::OpenMaildrop => self.session.handle_maildrop_opened(Ok(Arc::new(Mem))),
            Request::Retrieve { index, .. } => {
                step.retrieved.push(index);
                self.session.handle_retrieve_opened(Ok(()));
                for piece in MESSAGES[index].chunks(self.chunk) {
                    if self.session.handle_body(piece) == Progress::Complete {
                        break;
                    }
                }
                self.session.handle_body_end();
            }
            Request::Commit { deleted, .. } => {
                assert_eq!(self.session.state(), State::Update);
                step.committed = Some(deleted);
                self.session.handle_commit_result(CommitOutcome::Removed);
            }
        }
    }
}

/// The `+OK`/`-ERR` lines of some output (the fixed messages hold none).
fn status_lines(output: &[u8]) -> Vec<&[u8]> {
    output
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"+OK") || line.starts_with(b"-ERR"))
        .collect()
}

fn check_framing(output: &[u8]) {
    let mut rest = output;
    while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
        assert!(lf > 0 && rest[lf - 1] == b'\r', "bare LF in output");
        let line = &rest[..=lf];
        if line.starts_with(b"+OK") || line.starts_with(b"-ERR") {
            assert!(line.len() <= pop3_proto::MAX_STATUS_LINE);
        }
        rest = &rest[lf + 1..];
    }
    assert!(rest.is_empty(), "output ends mid-line");
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let config = Config {
        starttls: true,
        apop: split & 1 == 1,
        last_command: split & 2 == 2,
        ..Config::default()
    };
    let conn = Connection {
        loopback: split & 4 == 4,
        secure: split & 8 == 8,
        apop_timestamp: Some("<1.2@h>".into()),
        ..Connection::default()
    };
    let mut driver = Driver {
        session: Session::new(Arc::new(config), conn),
        chunk: usize::from(split >> 4).max(1),
    };
    let greeting = driver.run(b"");
    check_framing(&greeting.output);
    let sizes: Vec<u64> = MESSAGES.iter().map(|m| wire_size(m)).collect();
    let mut deleted: BTreeSet<usize> = BTreeSet::new();
    for line in input.split(|&b| b == b'\n') {
        let logged_in = driver.session.state() == State::Transaction;
        let mut framed = line.to_vec();
        framed.extend_from_slice(b"\r\n");
        let step = driver.run(&framed);
        check_framing(&step.output);
        let statuses = status_lines(&step.output);
        assert_eq!(statuses.len(), step.records, "one status line per command");
        let ok = statuses.first().is_some_and(|s| s.starts_with(b"+OK"));
        let command = logged_in.then(|| Command::parse(line).ok()).flatten();
        for index in &step.retrieved {
            assert!(!deleted.contains(index), "a deleted message was retrieved");
        }
        match (&command, ok) {
            (Some(Command::Dele(n)), true) => {
                assert!(deleted.insert(n.get() as usize - 1), "DELE of a deleted message");
            }
            (Some(Command::Rset), true) => deleted.clear(),
            (Some(Command::Stat), true) => {
                let count = MESSAGES.len() - deleted.len();
                let octets: u64 = (0..MESSAGES.len())
                    .filter(|i| !deleted.contains(i))
                    .map(|i| sizes[i])
                    .sum();
                assert_eq!(statuses[0], format!("+OK {count} {octets}\r").as_bytes());
            }
            (Some(Command::List(None)), true) => {
                let listed: Vec<String> = (0..MESSAGES.len())
                    .filter(|i| !deleted.contains(i))
                    .map(|i| format!("{} {}\r\n", i + 1, sizes[i]))
                    .collect();
                // `ok` means a status line was found, so the output has a line feed.
                let status_end = step.output.iter().position(|&b| b == b'\n');
                let body_start = status_end.expect("a status line ends in LF") + 1;
                let expected = format!("{}.\r\n", listed.concat());
                assert_eq!(&step.output[body_start..], expected.as_bytes());
            }
            _ => {}
        }
        if driver.session.state() == State::Transaction {
            assert_eq!(driver.session.marked_count(), deleted.len(), "marked_count");
        }
        match &step.committed {
            Some(removed) => {
                assert!(matches!(command, Some(Command::Quit)), "commit without QUIT");
                let removed: BTreeSet<usize> = removed.iter().copied().collect();
                assert_eq!(removed, deleted, "UPDATE removes exactly the DELE'd messages");
            }
            None => assert!(
                !(ok && matches!(command, Some(Command::Quit))),
                "QUIT answered +OK in TRANSACTION without UPDATE"
            ),
        }
        if step.closed {
            return;
        }
    }
});
