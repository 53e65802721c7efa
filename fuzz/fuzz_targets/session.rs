//! The whole session on arbitrary client bytes, with an in-memory maildrop and a driver that
//! follows the documented call order. Checked: no panic; output is CRLF lines; status lines fit
//! in 512 octets; nothing is deleted unless the session asked for a commit after QUIT.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pop3_proto::{
    AuthOutcome, CommitOutcome, Config, Connection, Event, Listing, Progress, Request, Secret,
    Session, State, wire_size,
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
    };
    let mut session = Session::new(Arc::new(config), conn);
    let mut output = Vec::new();
    let mut fed = 0;
    let chunk = usize::from(split >> 4).max(1);
    loop {
        let pending = session.poll_transmit();
        if !pending.is_empty() {
            output.extend_from_slice(pending);
            let n = pending.len();
            session.advance_transmit(n);
            continue;
        }
        match session.poll_event() {
            Some(Event::Request(Request::Authenticate(c))) => {
                let ok = matches!(&c.secret, Secret::Password { password, .. } if password == b"pw");
                session.handle_auth_result(if ok {
                    AuthOutcome::Accepted { user: c.user }
                } else {
                    AuthOutcome::Rejected
                });
            }
            Some(Event::Request(Request::OpenMaildrop { .. })) => {
                session.handle_maildrop_opened(Ok(Arc::new(Mem)));
            }
            Some(Event::Request(Request::Retrieve { index, .. })) => {
                session.handle_retrieve_opened(Ok(()));
                for piece in MESSAGES[index].chunks(chunk) {
                    if session.handle_body(piece) == Progress::Complete {
                        break;
                    }
                }
                session.handle_body_end();
            }
            Some(Event::Request(Request::Commit { deleted, .. })) => {
                assert_eq!(session.state(), State::Update);
                assert!(deleted.iter().all(|&i| i < MESSAGES.len()));
                session.handle_commit_result(CommitOutcome::Removed);
            }
            Some(Event::StartTls) => session.handle_tls_established(),
            Some(Event::Close) => break,
            Some(_) => {}
            None if session.wants_input() && fed < input.len() => {
                let end = (fed + chunk).min(input.len());
                session.handle_input(&input[fed..end]);
                fed = end;
            }
            None => break,
        }
    }
    let mut rest = &output[..];
    while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
        assert!(lf > 0 && rest[lf - 1] == b'\r', "bare LF in output");
        let line = &rest[..=lf];
        if line.starts_with(b"+OK") || line.starts_with(b"-ERR") {
            assert!(line.len() <= pop3_proto::MAX_STATUS_LINE);
        }
        rest = &rest[lf + 1..];
    }
    assert!(rest.is_empty(), "output ends mid-line");
});
