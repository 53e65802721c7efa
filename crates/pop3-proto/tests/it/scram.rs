//! SCRAM-SHA-256 as the session ferries it (RFC 5034 with RFC 5802's messages): the driver's
//! side is played by hand, as `pop3-auth` and the server play it.

use std::sync::Arc;

use pop3_proto::{
    AuthOutcome, ChallengeAnswer, CleartextPolicy, Config, Connection, Event, Listing, Request,
    Secret, Session, sasl, sasl::Mechanism,
};

struct Empty;

impl Listing for Empty {
    fn len(&self) -> usize {
        0
    }
    fn wire_size(&self, _: usize) -> u64 {
        0
    }
    fn uid(&self, _: usize) -> &str {
        "x"
    }
}

/// A plaintext connection from outside, where cleartext passwords are refused.
fn session(mechanisms: Vec<Mechanism>) -> Session {
    let config = Config {
        cleartext: CleartextPolicy::Never,
        sasl_mechanisms: mechanisms,
        ..Config::default()
    };
    let mut session = Session::new(Arc::new(config), Connection::default());
    drain(&mut session);
    session
}

fn scram_session() -> Session {
    session(vec![Mechanism::Plain, Mechanism::ScramSha256])
}

fn drain(session: &mut Session) -> String {
    let out = String::from_utf8(session.poll_transmit().to_vec()).unwrap();
    let n = out.len();
    session.advance_transmit(n);
    out
}

fn send(session: &mut Session, line: &str) -> String {
    session.handle_input(format!("{line}\r\n").as_bytes());
    drain(session)
}

fn request(session: &mut Session) -> Request {
    match session.poll_event() {
        Some(Event::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// Runs AUTH up to the client-final-message and returns it as the driver sees it.
fn to_final(session: &mut Session, initial: bool) -> (String, Vec<u8>) {
    let first = sasl::encode(b"n,,n=alice,r=abc");
    if initial {
        assert_eq!(send(session, &format!("AUTH SCRAM-SHA-256 {first}")), "");
    } else {
        assert_eq!(send(session, "AUTH SCRAM-SHA-256"), "+ \r\n");
        assert_eq!(send(session, &first), "");
    }
    match request(session) {
        Request::SaslChallenge {
            mechanism: Mechanism::ScramSha256,
            response,
        } => assert_eq!(response, b"n,,n=alice,r=abc"),
        other => panic!("{other:?}"),
    }
    session.handle_sasl_challenge(ChallengeAnswer::Challenge {
        user: "alice".into(),
        data: b"r=abcdef,s=c2FsdA==,i=4096".to_vec(),
    });
    assert_eq!(
        drain(session),
        format!("+ {}\r\n", sasl::encode(b"r=abcdef,s=c2FsdA==,i=4096"))
    );
    assert_eq!(send(session, &sasl::encode(b"c=biws,r=abcdef,p=x")), "");
    match request(session) {
        Request::Authenticate(credentials) => match credentials.secret {
            Secret::Scram { client_final } => (credentials.user, client_final),
            _ => panic!("not a SCRAM secret"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn scram_is_offered_without_tls_where_cleartext_mechanisms_are_not() {
    let mut session = scram_session();
    let capa = send(&mut session, "CAPA");
    assert!(capa.contains("\r\nSASL SCRAM-SHA-256\r\n"), "{capa}");
    assert!(!capa.contains("USER"), "{capa}");
    assert_eq!(send(&mut session, "AUTH"), "+OK\r\nSCRAM-SHA-256\r\n.\r\n");
    assert!(send(&mut session, "AUTH PLAIN").starts_with("-ERR [AUTH] "));
}

#[test]
fn scram_not_configured_is_not_offered_nor_accepted() {
    let mut session = session(vec![Mechanism::Plain, Mechanism::Login]);
    assert!(!send(&mut session, "CAPA").contains("SASL"));
    assert_eq!(
        send(&mut session, "AUTH SCRAM-SHA-256"),
        "-ERR unsupported mechanism: SCRAM-SHA-256\r\n"
    );
    assert!(session.poll_event().is_none());
}

#[test]
fn a_whole_exchange_sends_the_server_final_as_a_challenge_then_opens() {
    for initial in [false, true] {
        let mut session = scram_session();
        let (user, client_final) = to_final(&mut session, initial);
        assert_eq!(user, "alice");
        assert_eq!(client_final, b"c=biws,r=abcdef,p=x");
        session.handle_auth_result(AuthOutcome::AcceptedWith(b"v=sig".to_vec()));
        assert_eq!(
            drain(&mut session),
            format!("+ {}\r\n", sasl::encode(b"v=sig"))
        );
        // Nothing is opened before the client acknowledges the server's signature.
        assert!(session.poll_event().is_none());
        assert_eq!(send(&mut session, ""), "");
        assert!(matches!(request(&mut session), Request::OpenMaildrop));
        session.handle_maildrop_opened(Ok(Arc::new(Empty)));
        assert!(drain(&mut session).starts_with("+OK "));
    }
}

#[test]
fn a_rejection_is_the_same_as_any_failed_login() {
    let mut session = scram_session();
    to_final(&mut session, false);
    session.handle_auth_result(AuthOutcome::Rejected);
    assert_eq!(drain(&mut session), "-ERR [AUTH] Authentication failed\r\n");
}

#[test]
fn malformed_messages_get_their_reason() {
    let mut session = scram_session();
    send(&mut session, "AUTH SCRAM-SHA-256");
    assert_eq!(
        send(&mut session, "not base64!"),
        "-ERR invalid base64 in SASL response\r\n"
    );
    send(&mut session, "AUTH SCRAM-SHA-256");
    send(&mut session, &sasl::encode(b"p=tls-exporter,,n=a,r=b"));
    assert!(matches!(
        request(&mut session),
        Request::SaslChallenge { .. }
    ));
    session.handle_sasl_challenge(ChallengeAnswer::Invalid(
        "channel binding not supported".into(),
    ));
    assert_eq!(
        drain(&mut session),
        "-ERR channel binding not supported\r\n"
    );

    let mut session = scram_session();
    to_final(&mut session, true);
    session.handle_auth_result(AuthOutcome::Invalid("nonce does not match".into()));
    assert_eq!(drain(&mut session), "-ERR nonce does not match\r\n");
    // The session goes on: a new exchange may start.
    assert_eq!(send(&mut session, "AUTH SCRAM-SHA-256"), "+ \r\n");
}

#[test]
fn star_cancels_at_every_step() {
    let mut session = scram_session();
    send(&mut session, "AUTH SCRAM-SHA-256");
    assert_eq!(send(&mut session, "*"), "-ERR authentication cancelled\r\n");

    send(&mut session, "AUTH SCRAM-SHA-256");
    send(&mut session, &sasl::encode(b"n,,n=alice,r=abc"));
    request(&mut session);
    session.handle_sasl_challenge(ChallengeAnswer::Challenge {
        user: "alice".into(),
        data: b"r=abcdef,s=c2FsdA==,i=4096".to_vec(),
    });
    drain(&mut session);
    // After the server-first-message (the salt is out) a cancel is a failed authentication.
    assert_eq!(send(&mut session, "*"), "");
    match request(&mut session) {
        Request::Authenticate(credentials) => {
            assert_eq!(credentials.user, "alice");
            assert!(matches!(credentials.secret, Secret::ScramAbandoned));
        }
        other => panic!("{other:?}"),
    }
    session.handle_auth_result(AuthOutcome::Rejected);
    assert_eq!(drain(&mut session), "-ERR [AUTH] Authentication failed\r\n");

    let mut session = scram_session();
    to_final(&mut session, false);
    session.handle_auth_result(AuthOutcome::AcceptedWith(b"v=sig".to_vec()));
    drain(&mut session);
    assert_eq!(send(&mut session, "*"), "-ERR authentication cancelled\r\n");
    assert!(session.poll_event().is_none(), "no maildrop after a cancel");
}

#[test]
fn data_after_the_server_final_is_refused() {
    let mut session = scram_session();
    to_final(&mut session, false);
    session.handle_auth_result(AuthOutcome::AcceptedWith(b"v=sig".to_vec()));
    drain(&mut session);
    assert_eq!(
        send(&mut session, &sasl::encode(b"x")),
        "-ERR expected an empty response\r\n"
    );
    assert!(session.poll_event().is_none());
}

#[test]
fn unavailable_database_is_sys_temp() {
    let mut session = scram_session();
    send(&mut session, "AUTH SCRAM-SHA-256");
    send(&mut session, &sasl::encode(b"n,,n=alice,r=abc"));
    request(&mut session);
    session.handle_sasl_challenge(ChallengeAnswer::Unavailable);
    assert_eq!(
        drain(&mut session),
        "-ERR [SYS/TEMP] authentication temporarily unavailable\r\n"
    );
}

/// Issue 19 D3: AUTH and `*` after the server-first-message, in a loop on one connection,
/// count against the failed-auth limit (and never reset the invalid-command count), so the
/// connection is closed after `failed_auths` salts.
#[test]
fn abandoned_exchanges_count_as_failed_logins_and_close_the_connection() {
    let config = Config {
        cleartext: CleartextPolicy::Never,
        sasl_mechanisms: vec![Mechanism::ScramSha256],
        ..Config::default()
    };
    let limit = config.limits.failed_auths;
    assert!(limit > 1);
    let mut session = Session::new(Arc::new(config), Connection::default());
    drain(&mut session);
    for round in 1..=limit {
        let first = sasl::encode(b"n,,n=alice,r=abc");
        assert_eq!(
            send(&mut session, &format!("AUTH SCRAM-SHA-256 {first}")),
            ""
        );
        request(&mut session);
        session.handle_sasl_challenge(ChallengeAnswer::Challenge {
            user: "alice".into(),
            data: b"r=abcdef,s=c2FsdA==,i=4096".to_vec(),
        });
        drain(&mut session);
        assert_eq!(send(&mut session, "*"), "");
        assert!(matches!(
            request(&mut session),
            Request::Authenticate(credentials) if matches!(credentials.secret, Secret::ScramAbandoned)
        ));
        session.handle_auth_result(AuthOutcome::Rejected);
        assert_eq!(drain(&mut session), "-ERR [AUTH] Authentication failed\r\n");
        if round < limit {
            assert!(session.poll_event().is_none(), "closed after {round}");
        }
    }
    assert!(matches!(session.poll_event(), Some(Event::Close)));
}
