//! The command parser at its own boundary.

use pop3_proto::{Command, ParseError, parse_message_number, sasl::Mechanism};

#[track_caller]
fn check(line: &str, expected: Result<Command, ParseError>) {
    assert_eq!(
        Command::parse(line.as_bytes()),
        expected,
        "parsing {line:?}"
    );
}

fn n(value: u32) -> pop3_proto::MessageNumber {
    pop3_proto::MessageNumber::new(value).unwrap()
}

#[test]
fn keywords_are_case_insensitive() {
    check("stat", Ok(Command::Stat));
    check("StAt", Ok(Command::Stat));
    check("top 1 2", Ok(Command::Top(n(1), 2)));
    check("capa", Ok(Command::Capa));
    check("stls", Ok(Command::Stls));
    check("last", Ok(Command::Last));
}

#[test]
fn pass_takes_the_rest_of_the_line() {
    check("PASS a b  c ", Ok(Command::Pass(b"a b  c ".to_vec())));
    check("PASS  lead", Ok(Command::Pass(b" lead".to_vec())));
    check("PASS", Err(ParseError::MissingArgument("PASS")));
    check("PASS ", Err(ParseError::MissingArgument("PASS")));
}

#[test]
fn every_command_rejects_extra_arguments() {
    for (line, keyword) in [
        ("USER a b", "USER"),
        ("APOP a 0123456789abcdef0123456789abcdef x", "APOP"),
        ("AUTH PLAIN x y", "AUTH"),
        ("STAT x", "STAT"),
        ("LIST 1 2", "LIST"),
        ("RETR 1 2", "RETR"),
        ("DELE 1 2", "DELE"),
        ("NOOP x", "NOOP"),
        ("RSET x", "RSET"),
        ("QUIT x", "QUIT"),
        ("TOP 1 2 3", "TOP"),
        ("UIDL 1 2", "UIDL"),
        ("CAPA x", "CAPA"),
        ("STLS x", "STLS"),
        ("LAST x", "LAST"),
    ] {
        check(line, Err(ParseError::TooManyArguments(keyword)));
    }
}

#[test]
fn message_numbers_are_strict() {
    assert_eq!(parse_message_number(b"1"), Ok(n(1)));
    assert_eq!(parse_message_number(b"0042"), Ok(n(42)));
    assert_eq!(parse_message_number(b"4294967295"), Ok(n(u32::MAX)));
    for bad in [
        &b"0"[..],
        b"000",
        b"-1",
        b"+1",
        b"0x1",
        b"1e3",
        b" 1",
        b"4294967296",
        b"99999999999999999999999",
        "\u{0661}".as_bytes(),
        "\u{FF11}".as_bytes(),
        b"",
    ] {
        assert_eq!(
            parse_message_number(bad),
            Err(ParseError::InvalidMessageNumber),
            "{bad:?}"
        );
    }
}

#[test]
fn top_line_count_saturates() {
    check("TOP 1 0", Ok(Command::Top(n(1), 0)));
    check(
        "TOP 1 18446744073709551615",
        Ok(Command::Top(n(1), u64::MAX)),
    );
    check(
        "TOP 1 999999999999999999999999999999",
        Ok(Command::Top(n(1), u64::MAX)),
    );
    check("TOP 1 -0", Err(ParseError::InvalidLineCount));
}

#[test]
fn auth_arguments() {
    check("AUTH", Ok(Command::AuthList));
    check(
        "AUTH plain",
        Ok(Command::Auth {
            mechanism: Ok(Mechanism::Plain),
            initial_response: None,
        }),
    );
    check(
        "AUTH LOGIN =",
        Ok(Command::Auth {
            mechanism: Ok(Mechanism::Login),
            initial_response: Some(b"=".to_vec()),
        }),
    );
    check(
        "AUTH CRAM-MD5",
        Ok(Command::Auth {
            mechanism: Err("CRAM-MD5".to_owned()),
            initial_response: None,
        }),
    );
}

#[test]
fn apop_digest_is_checked_and_lowercased() {
    check(
        "APOP mrose C4C9334BAC560ECC979E58001B3E22FB",
        Ok(Command::Apop {
            name: "mrose".to_owned(),
            digest: "c4c9334bac560ecc979e58001b3e22fb".to_owned(),
        }),
    );
    check("APOP mrose c4c9", Err(ParseError::InvalidDigest));
    check(
        "APOP mrose g4c9334bac560ecc979e58001b3e22fb",
        Err(ParseError::InvalidDigest),
    );
}

#[test]
fn unknown_and_empty() {
    check("", Err(ParseError::Empty));
    check(" STAT", Err(ParseError::Empty));
    check("STATS", Err(ParseError::UnknownCommand(b"STATS".to_vec())));
    check(
        "\u{00e9}",
        Err(ParseError::UnknownCommand("\u{00e9}".as_bytes().to_vec())),
    );
    check("USER \u{7}", Err(ParseError::InvalidUserName));
    check("USER \u{ff}", Ok(Command::User("\u{ff}".to_owned())));
}

#[test]
fn debug_never_shows_secrets() {
    let pass = format!("{:?}", Command::parse(b"PASS hunter2").unwrap());
    assert!(!pass.contains("hunter2"), "{pass}");
    let auth = format!(
        "{:?}",
        Command::parse(b"AUTH PLAIN AGFAYgBodW50ZXIy").unwrap()
    );
    assert!(!auth.contains("AGFAYgBodW50ZXIy"), "{auth}");
}

/// Issue 15 item 13: the authzid is compared after the case folding user names get.
#[test]
fn issue_15_sasl_plain_authzid_compared_ignoring_ascii_case() {
    use pop3_proto::sasl::{Exchange, SaslError, Step};
    let run = |plain: &[u8]| {
        let encoded = pop3_proto::sasl::encode(plain);
        Exchange::start(Mechanism::Plain, Some(encoded.as_bytes())).map(|(_, step)| step)
    };
    match run(b"Alice\0alice\0pw") {
        Ok(Step::Done(credentials)) => assert_eq!(credentials.user, "alice"),
        other => panic!("Alice\\0alice accepted, got {other:?}"),
    }
    assert!(matches!(run(b"ALICE\0Alice\0pw"), Ok(Step::Done(_))));
    assert!(matches!(
        run(b"bob\0alice\0pw"),
        Err(SaslError::AuthzidMismatch)
    ));
    assert!(matches!(
        run(b"alice2\0alice\0pw"),
        Err(SaslError::AuthzidMismatch)
    ));
}
