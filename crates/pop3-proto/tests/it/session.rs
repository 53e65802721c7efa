//! Session behaviour driven by hand: the driver-initiated paths that transcripts cannot
//! express (aborts, storage failures, output bounds).

use std::sync::Arc;

use pop3_proto::{
    Abort, AuthOutcome, CommitOutcome, Config, Connection, Event, Expire, Listing, MAX_STATUS_LINE,
    OpenError, Progress, Request, RetrieveError, Session, State,
};

use crate::driver::{RFC_TIMESTAMP, apop_digest};

struct Sizes(Vec<u64>);

impl Listing for Sizes {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn wire_size(&self, index: usize) -> u64 {
        self.0[index]
    }
    fn uid(&self, _index: usize) -> &str {
        "0123456789abcdef0123456789abcdef"
    }
}

pub fn drain(session: &mut Session) -> String {
    let mut out = Vec::new();
    loop {
        let pending = session.poll_transmit();
        if pending.is_empty() {
            return String::from_utf8(out).unwrap();
        }
        out.extend_from_slice(pending);
        let n = pending.len();
        session.advance_transmit(n);
    }
}

pub fn expect_request(session: &mut Session) -> Request {
    match session.poll_event() {
        Some(Event::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// A session logged in to a maildrop with messages of these sizes.
fn logged_in(sizes: Vec<u64>) -> Session {
    logged_in_with(Config::default(), sizes)
}

/// [`logged_in`] under `config`.
fn logged_in_with(config: Config, sizes: Vec<u64>) -> Session {
    let mut session = Session::new(
        Arc::new(config),
        Connection {
            loopback: true,
            ..Connection::default()
        },
    );
    drain(&mut session);
    session.handle_input(b"USER alice\r\nPASS secret\r\n");
    assert!(matches!(
        expect_request(&mut session),
        Request::Authenticate(_)
    ));
    session.handle_auth_result(AuthOutcome::Accepted);
    assert!(matches!(
        expect_request(&mut session),
        Request::OpenMaildrop
    ));
    session.handle_maildrop_opened(Ok(Arc::new(Sizes(sizes))));
    assert_eq!(session.state(), State::Transaction);
    drain(&mut session);
    session
}

#[test]
fn shutdown_before_login_sends_sys_temp_and_closes() {
    let mut session = Session::new(Arc::new(Config::default()), Connection::default());
    drain(&mut session);
    session.handle_abort(Abort::Shutdown);
    assert_eq!(
        drain(&mut session),
        "-ERR [SYS/TEMP] server shutting down\r\n"
    );
    assert!(matches!(session.poll_event(), Some(Event::Close)));
    assert!(!session.wants_input());
}

#[test]
fn kick_in_transaction_never_commits() {
    let mut session = logged_in(vec![10, 20]);
    session.handle_input(b"DELE 1\r\n");
    assert_eq!(drain(&mut session), "+OK message 1 deleted\r\n");
    session.handle_abort(Abort::Kicked);
    assert_eq!(
        drain(&mut session),
        "-ERR [SYS/TEMP] disconnected by administrator\r\n"
    );
    assert!(matches!(session.poll_event(), Some(Event::Close)));
    // Whatever the client sends now, no commit is ever requested.
    session.handle_input(b"QUIT\r\n");
    assert!(session.poll_event().is_none());
    assert_eq!(drain(&mut session), "");
}

#[test]
fn abort_during_update_lets_the_commit_finish() {
    let mut session = logged_in(vec![10, 20]);
    session.handle_input(b"DELE 2\r\nQUIT\r\n");
    drain(&mut session);
    let (deleted, expired, retrieved) = expect_commit(&mut session);
    assert_eq!((deleted, expired, retrieved), (vec![1], vec![], vec![]));
    session.handle_abort(Abort::Shutdown);
    assert_eq!(drain(&mut session), "");
    session.handle_commit_result(CommitOutcome::Removed);
    assert_eq!(drain(&mut session), "+OK signing off (1 message left)\r\n");
    assert!(matches!(session.poll_event(), Some(Event::Close)));
}

/// Issue 19: with `EXPIRE 0`, QUIT also removes the messages RETR'd whole in the session,
/// handed to the driver apart from the DELE'd ones; a RETR that failed to open, a TOP and an
/// untouched message stay.
#[test]
fn issue_19_expire_0_expires_whole_retrievals_at_quit() {
    let config = Config {
        expire: Some(Expire::Days(0)),
        ..Config::default()
    };
    let mut session = logged_in_with(config, vec![7, 7, 7, 7, 7]);
    for (input, opened) in [
        (&b"RETR 1\r\n"[..], Ok(())),
        (b"RETR 2\r\n", Err(RetrieveError::Io)),
        (b"TOP 3 0\r\n", Ok(())),
        (b"RETR 4\r\n", Ok(())),
    ] {
        session.handle_input(input);
        expect_request(&mut session);
        let ok = opened.is_ok();
        session.handle_retrieve_opened(opened);
        if ok {
            session.handle_body(b"Hello\r\n");
            session.handle_body_end();
        }
        drain(&mut session);
    }
    session.handle_input(b"DELE 4\r\nQUIT\r\n");
    drain(&mut session);
    let (deleted, expired, retrieved) = expect_commit(&mut session);
    assert_eq!(deleted, vec![3]);
    assert_eq!(expired, vec![0]);
    assert_eq!(retrieved, vec![0, 1, 3]);
    assert_eq!(session.marked_count(), 2);
    session.handle_commit_result(CommitOutcome::Removed);
    assert_eq!(drain(&mut session), "+OK signing off (3 messages left)\r\n");
}

#[test]
fn marked_count_follows_dele_rset_and_the_commit() {
    let before_login = Session::new(Arc::new(Config::default()), Connection::default());
    assert_eq!(before_login.marked_count(), 0);
    let mut session = logged_in(vec![10, 20, 30]);
    assert_eq!(session.marked_count(), 0);
    session.handle_input(b"DELE 1\r\nDELE 3\r\n");
    drain(&mut session);
    assert_eq!(session.marked_count(), 2);
    // A failed DELE marks nothing more.
    session.handle_input(b"DELE 1\r\nDELE 4\r\n");
    drain(&mut session);
    assert_eq!(session.marked_count(), 2);
    session.handle_input(b"RSET\r\n");
    assert_eq!(
        drain(&mut session),
        "+OK maildrop has 3 messages (60 octets)\r\n"
    );
    assert_eq!(session.marked_count(), 0);
    session.handle_input(b"DELE 2\r\nDELE 3\r\nQUIT\r\n");
    drain(&mut session);
    let Request::Commit { deleted, .. } = expect_request(&mut session) else {
        panic!("expected commit");
    };
    // In UPDATE: the messages being committed.
    assert_eq!(session.state(), State::Update);
    assert_eq!((deleted.len(), session.marked_count()), (2, 2));
    session.handle_commit_result(CommitOutcome::Removed);
    assert_eq!(drain(&mut session), "+OK signing off (1 message left)\r\n");
    assert_eq!(session.state(), State::Closed);
    assert_eq!(session.marked_count(), 0);
}

/// The read-ahead hint names the RETRs buffered behind the current request, as indices,
/// skipping other commands, deleted and missing messages and an incomplete last line, and
/// consumes nothing.
#[test]
fn upcoming_retrievals_hint_at_buffered_retrs_without_consuming_them() {
    let before_login = Session::new(Arc::new(Config::default()), Connection::default());
    assert!(before_login.upcoming_retrievals(10).is_empty());
    let mut session = logged_in(vec![10, 20, 30, 40]);
    session.handle_input(b"DELE 2\r\n");
    drain(&mut session);
    session.handle_input(
        b"RETR 1\r\nLIST 3\r\nRETR 2\r\nRETR 9\r\nRETR 3\nTOP 4 0\r\nRETR 4\r\nRETR 1",
    );
    let Request::Retrieve { index: 0, .. } = expect_request(&mut session) else {
        panic!("expected RETR 1");
    };
    // Behind RETR 1: LIST 3, RETR 2 (deleted), RETR 9 (no such message), RETR 3, TOP 4 0,
    // RETR 4, and an incomplete "RETR 1".
    assert_eq!(session.upcoming_retrievals(10), vec![2, 3]);
    assert_eq!(session.upcoming_retrievals(4), vec![2]);
    assert_eq!(
        session.upcoming_retrievals(10),
        vec![2, 3],
        "nothing consumed"
    );
    // The hint changes nothing: RETR 1 is answered, then LIST 3 runs.
    session.handle_retrieve_opened(Ok(()));
    session.handle_body(b"0123456789");
    session.handle_body_end();
    assert!(drain(&mut session).ends_with(
        "+OK 3 30\r\n-ERR message 2 already deleted\r\n-ERR no such message, only 4 in maildrop\r\n"
    ));
}

#[test]
fn partial_commit_is_reported() {
    let mut session = logged_in(vec![10]);
    session.handle_input(b"DELE 1\r\nQUIT\r\n");
    drain(&mut session);
    expect_request(&mut session);
    session.handle_commit_result(CommitOutcome::Partial { not_removed: 1 });
    assert_eq!(
        drain(&mut session),
        "-ERR [SYS/TEMP] some deleted messages not removed\r\n"
    );
}

#[test]
fn abort_mid_body_closes_without_a_reply() {
    let mut session = logged_in(vec![6]);
    session.handle_input(b"RETR 1\r\n");
    expect_request(&mut session);
    session.handle_retrieve_opened(Ok(()));
    session.handle_body(b"abc");
    assert_eq!(drain(&mut session), "+OK 6 octets\r\nabc");
    session.handle_abort(Abort::Shutdown);
    assert_eq!(drain(&mut session), "");
    assert!(matches!(session.poll_event(), Some(Event::Close)));
}

#[test]
fn a_message_longer_than_listed_is_cut_not_sent() {
    let mut session = logged_in(vec![4]);
    session.handle_input(b"RETR 1\r\n");
    expect_request(&mut session);
    session.handle_retrieve_opened(Ok(()));
    assert_eq!(session.handle_body(b"abcdef\r\n"), Progress::Complete);
    assert!(matches!(session.poll_event(), Some(Event::Close)));
    let out = drain(&mut session);
    assert!(!out.ends_with(".\r\n"), "{out:?}");
}

#[test]
fn a_message_shorter_than_listed_gets_no_terminator() {
    let mut session = logged_in(vec![100]);
    session.handle_input(b"RETR 1\r\nNOOP\r\n");
    expect_request(&mut session);
    session.handle_retrieve_opened(Ok(()));
    session.handle_body(b"short\r\n");
    session.handle_body_end();
    assert!(matches!(session.poll_event(), Some(Event::Close)));
    assert_eq!(drain(&mut session), "+OK 100 octets\r\nshort\r\n");
}

#[test]
fn retrieve_errors_are_replies() {
    let mut session = logged_in(vec![1, 2, 3, 4]);
    for (number, error, reply) in [
        (
            1,
            RetrieveError::Vanished,
            "-ERR message 1 no longer exists\r\n",
        ),
        (
            2,
            RetrieveError::SizeChanged,
            "-ERR [SYS/TEMP] message 2 changed on disk, try again later\r\n",
        ),
        (
            3,
            RetrieveError::Io,
            "-ERR [SYS/TEMP] cannot read message 3\r\n",
        ),
        (
            4,
            RetrieveError::Permanent,
            "-ERR [SYS/PERM] cannot read message 4\r\n",
        ),
    ] {
        session.handle_input(format!("RETR {number}\r\n").as_bytes());
        expect_request(&mut session);
        session.handle_retrieve_opened(Err(error));
        assert_eq!(drain(&mut session), reply);
    }
    session.handle_input(b"NOOP\r\n");
    assert_eq!(drain(&mut session), "+OK\r\n");
}

#[test]
fn open_errors_map_to_response_codes() {
    for (error, prefix) in [
        (OpenError::InUse { holder: None }, "-ERR [IN-USE] "),
        (OpenError::Temporary, "-ERR [SYS/TEMP] "),
        (OpenError::Permanent, "-ERR [SYS/PERM] "),
        (
            OpenError::InUse {
                holder: Some("x".repeat(2000)),
            },
            "-ERR [IN-USE] ",
        ),
    ] {
        let mut session = Session::new(
            Arc::new(Config::default()),
            Connection {
                loopback: true,
                ..Connection::default()
            },
        );
        drain(&mut session);
        session.handle_input(b"USER a\r\nPASS b\r\n");
        expect_request(&mut session);
        session.handle_auth_result(AuthOutcome::Accepted);
        expect_request(&mut session);
        session.handle_maildrop_opened(Err(error));
        let reply = drain(&mut session);
        let reply = reply.strip_prefix("+OK\r\n").expect("USER accepted");
        assert!(reply.starts_with(prefix), "{reply}");
        assert!(
            reply.len() <= MAX_STATUS_LINE && reply.ends_with("\r\n"),
            "{}",
            reply.len()
        );
        assert_eq!(session.state(), State::Authorization);
    }
}

#[test]
fn auth_outcomes_map_to_response_codes() {
    for (outcome, reply) in [
        (
            AuthOutcome::LoginDelay,
            "-ERR [LOGIN-DELAY] login delay in effect, try again later\r\n",
        ),
        (
            AuthOutcome::Unavailable,
            "-ERR [SYS/TEMP] authentication temporarily unavailable\r\n",
        ),
    ] {
        let mut session = Session::new(
            Arc::new(Config::default()),
            Connection {
                loopback: true,
                ..Connection::default()
            },
        );
        drain(&mut session);
        session.handle_input(b"USER a\r\nPASS b\r\n");
        expect_request(&mut session);
        session.handle_auth_result(outcome);
        assert_eq!(drain(&mut session), format!("+OK\r\n{reply}"));
    }
}

#[test]
fn nothing_runs_while_a_request_is_out() {
    let mut session = Session::new(
        Arc::new(Config::default()),
        Connection {
            loopback: true,
            ..Connection::default()
        },
    );
    drain(&mut session);
    session.handle_input(b"USER a\r\nPASS hunter2\r\nCAPA\r\n");
    assert_eq!(drain(&mut session), "+OK\r\n");
    assert!(!session.wants_input());
    let request = format!("{:?}", expect_request(&mut session));
    assert!(request.contains("user: \"a\""), "{request}");
    assert!(!request.contains("hunter2"), "{request}");
    session.handle_auth_result(AuthOutcome::Rejected);
    let out = drain(&mut session);
    assert!(
        out.starts_with("-ERR [AUTH] Authentication failed\r\n+OK Capability list follows\r\n")
    );
    assert!(session.wants_input());
}

#[test]
fn long_listings_are_generated_as_output_drains() {
    let count = 100_000;
    let mut session = logged_in(vec![12345; count]);
    session.handle_input(b"LIST\r\nUIDL\r\nSTAT\r\n");
    let high_water = Config::default().limits.output_high_water;
    let mut total = Vec::new();
    let mut peak = 0;
    loop {
        let pending = session.poll_transmit().len();
        if pending == 0 {
            break;
        }
        peak = peak.max(pending);
        assert!(!session.wants_input() || pending < high_water);
        total.extend_from_slice(session.poll_transmit());
        session.advance_transmit(pending);
    }
    assert!(peak <= high_water + 128, "output grew to {peak}");
    let text = String::from_utf8(total).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    // +OK, 100,000 sizes, ".", +OK, 100,000 UIDs, ".", the STAT reply, and the empty tail.
    assert_eq!(lines.len(), 2 * (count + 2) + 2);
    assert_eq!(lines[1], "1 12345");
    assert_eq!(lines[count], "100000 12345");
    assert_eq!(lines[count + 1], ".");
    assert_eq!(
        lines[2 * (count + 2)],
        format!("+OK {count} {}", 12345 * count)
    );
}

#[test]
fn greeting_has_a_timestamp_only_with_apop() {
    let conn = Connection {
        apop_timestamp: Some(RFC_TIMESTAMP.to_owned()),
        ..Connection::default()
    };
    let mut plain = Session::new(Arc::new(Config::default()), conn.clone());
    assert_eq!(drain(&mut plain), "+OK POP3 server ready\r\n");
    let apop = Config {
        apop: true,
        ..Config::default()
    };
    let mut with_apop = Session::new(Arc::new(apop), conn);
    assert_eq!(
        drain(&mut with_apop),
        format!("+OK POP3 server ready {RFC_TIMESTAMP}\r\n")
    );
}

#[test]
fn apop_known_answer_from_rfc_1939() {
    assert_eq!(
        apop_digest(RFC_TIMESTAMP, "tanstaaf"),
        "c4c9334bac560ecc979e58001b3e22fb"
    );
}

#[test]
fn stls_event_and_input_before_the_handshake_is_ignored() {
    let config = Config {
        starttls: true,
        ..Config::default()
    };
    let mut session = Session::new(Arc::new(config), Connection::default());
    drain(&mut session);
    session.handle_input(b"STLS\r\nCAPA\r\n");
    assert_eq!(drain(&mut session), "+OK Begin TLS negotiation\r\n");
    assert!(matches!(session.poll_event(), Some(Event::StartTls)));
    assert!(!session.wants_input());
    session.handle_input(b"CAPA\r\n");
    assert_eq!(drain(&mut session), "");
    session.handle_tls_established();
    assert!(session.is_secure());
    assert!(session.wants_input());
    assert_eq!(drain(&mut session), "");
}

/// The commit the session asks for: (deleted, expired, retrieved).
fn expect_commit(session: &mut Session) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let Request::Commit {
        deleted,
        expired,
        retrieved,
    } = expect_request(session)
    else {
        panic!("expected commit");
    };
    (deleted, expired, retrieved)
}
