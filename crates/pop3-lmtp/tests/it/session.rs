//! Conversations with the LMTP core: RFC 2033's per-recipient replies, the limits, and the
//! errors, each run whole (pipelined) and byte by byte.

use pop3_lmtp::{Config, Outcome};

use crate::driver::{Driver, codes, run};

const GREETING_AND_LHLO: &str = "LHLO mx.example\r\n";

fn lines(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_pipelined_transaction_gets_one_reply_per_recipient_after_data() {
    let input = "LHLO mx.example\r\nMAIL FROM:<s@x.example> SIZE=20 BODY=8BITMIME\r\n\
                 RCPT TO:<alice@x.example>\r\nRCPT TO:<nobody@x.example>\r\n\
                 RCPT TO:<bob@x.example>\r\nRCPT TO:<carol@x.example>\r\nDATA\r\n\
                 Subject: hi\r\n\r\n..line\r\n.\r\nQUIT\r\n";
    let driver = run(input, |d| {
        d.commit.insert("bob", Outcome::DiskFull);
        d.commit.insert("carol", Outcome::TempFail);
    });
    assert_eq!(
        codes(&driver),
        lines(&[
            "250-localhost",
            "250-PIPELINING",
            "250-ENHANCEDSTATUSCODES",
            "250-8BITMIME",
            "250 SIZE",
            "250 2.1.0",
            "250 2.1.5",
            "550 5.1.1",
            "250 2.1.5",
            "250 2.1.5",
            "354 Start",
            "250 2.0.0",
            "452 4.3.1",
            "451 4.3.0",
            "221 2.0.0",
        ])
    );
    assert!(
        driver
            .text()
            .contains("250 2.0.0 <alice@x.example> delivered\r\n")
    );
    assert!(driver.text().contains("452 4.3.1 <bob@x.example> "));
    assert_eq!(
        driver.delivered,
        vec![("alice".to_string(), b"Subject: hi\n\n.line\n".to_vec())]
    );
    assert!(driver.closed);
}

/// Issue 19: an over-quota recipient gets its own `552 5.2.2` (or `452 4.2.2` where the site
/// defers), the others of the same message theirs.
#[test]
fn over_quota_recipients_get_5_2_2_or_4_2_2_alone() {
    let input = "LHLO mx.example\r\nMAIL FROM:<s@x.example>\r\n\
                 RCPT TO:<alice@x.example>\r\nRCPT TO:<bob@x.example>\r\n\
                 RCPT TO:<carol@x.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n";
    let driver = run(input, |d| {
        d.commit.insert("bob", Outcome::OverQuota);
        d.commit.insert("carol", Outcome::OverQuotaDeferred);
    });
    let codes = codes(&driver);
    assert_eq!(
        codes[codes.len() - 4..],
        lines(&["250 2.0.0", "552 5.2.2", "452 4.2.2", "221 2.0.0"])
    );
    assert!(
        driver
            .text()
            .contains("552 5.2.2 <bob@x.example> mailbox full\r\n")
    );
    assert!(
        driver
            .text()
            .contains("452 4.2.2 <carol@x.example> mailbox full, try again later\r\n")
    );
}

#[test]
fn sequence_errors_and_lmtp_has_no_ehlo() {
    let input = "MAIL FROM:<>\r\nEHLO x\r\nLHLO x\r\nRCPT TO:<alice@x>\r\nDATA\r\n\
                 MAIL FROM:<>\r\nMAIL FROM:<>\r\nDATA\r\nRCPT TO:<nobody>\r\nDATA\r\nRSET\r\n\
                 RCPT TO:<alice>\r\nNOOP\r\nVRFY alice\r\nQUIT\r\n";
    let driver = run(input, |_| {});
    let codes = codes(&driver);
    assert_eq!(
        codes[..3],
        lines(&["503 5.5.1", "500 5.5.1", "250-localhost"])[..]
    );
    assert_eq!(
        codes[7..],
        lines(&[
            "503 5.5.1", // RCPT before MAIL
            "503 5.5.1", // DATA before MAIL
            "250 2.1.0",
            "503 5.5.1", // nested MAIL
            "503 5.5.1", // DATA without a recipient
            "550 5.1.1",
            "503 5.5.1", // DATA: none accepted
            "250 2.0.0", // RSET
            "503 5.5.1", // RCPT after RSET
            "250 2.0.0",
            "252 2.5.0",
            "221 2.0.0",
        ])[..]
    );
    assert!(driver.delivered.is_empty());
}

#[test]
fn a_declared_size_over_the_limit_is_refused_at_mail() {
    let input = format!(
        "{GREETING_AND_LHLO}MAIL FROM:<> SIZE={}\r\nMAIL FROM:<> SIZE=10\r\nQUIT\r\n",
        Config::default().max_message_octets + 1
    );
    let driver = run(&input, |_| {});
    assert_eq!(
        codes(&driver)[5..],
        lines(&["552 5.3.4", "250 2.1.0", "221 2.0.0"])[..]
    );
}

#[test]
fn a_message_over_the_limit_gets_552_per_recipient_and_is_never_handed_on_whole() {
    let config = Config {
        max_message_octets: 100,
        ..Config::default()
    };
    let big = "x".repeat(98) + "\r\n" + "y\r\n";
    let input = format!(
        "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nDATA\r\n{big}.\r\n\
         MAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nsmall\r\n.\r\nQUIT\r\n"
    );
    let mut driver = Driver::new(config);
    driver.feed(input.as_bytes(), 7);
    let codes = codes(&driver);
    assert_eq!(codes[9..11], lines(&["552 5.3.4", "552 5.3.4"])[..]);
    assert_eq!(driver.aborted, 1);
    assert_eq!(
        driver.delivered,
        vec![("alice".to_string(), b"small\n".to_vec())]
    );
    assert_eq!(codes.last().map(String::as_str), Some("221 2.0.0"));
}

#[test]
fn recipients_beyond_the_limit_get_452_and_the_rest_are_delivered() {
    let config = Config {
        max_recipients: 2,
        ..Config::default()
    };
    let input = "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\n\
                 RCPT TO:<carol>\r\nDATA\r\nhi\r\n.\r\n";
    let mut driver = Driver::new(config);
    driver.feed(input.as_bytes(), input.len());
    assert_eq!(
        codes(&driver)[5..],
        lines(&[
            "250 2.1.0",
            "250 2.1.5",
            "250 2.1.5",
            "452 4.5.3",
            "354 Start",
            "250 2.0.0",
            "250 2.0.0"
        ])[..]
    );
    assert_eq!(driver.delivered.len(), 2);
}

#[test]
fn a_busy_database_and_a_failed_start_are_temporary() {
    let input = "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nDATA\r\nQUIT\r\n";
    let driver = run(input, |d| {
        d.lookup_fails.push("alice");
        d.begin = Err(Outcome::DiskFull);
    });
    assert_eq!(
        codes(&driver)[5..],
        lines(&[
            "250 2.1.0",
            "451 4.3.0",
            "250 2.1.5",
            "452 4.3.1",
            "221 2.0.0"
        ])[..]
    );
    assert!(driver.delivered.is_empty());
}

#[test]
fn a_missing_outcome_is_never_a_250() {
    let mut driver = Driver::new(Config::default());
    driver.feed(
        b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nDATA\r\n",
        100,
    );
    driver.session.handle_input(b"hi\r\n.\r\n");
    assert_eq!(
        driver.session.poll_event(),
        Some(pop3_lmtp::Event::MessageEnd)
    );
    driver.session.handle_delivered(&[Outcome::Delivered]);
    let out = String::from_utf8_lossy(&driver.session.take_output()).into_owned();
    assert_eq!(
        out,
        "250 2.0.0 <alice> delivered\r\n451 4.3.0 <bob> local error in processing, try again later\r\n"
    );
}

#[test]
fn an_overlong_line_gets_one_error_and_the_session_goes_on() {
    let long = "NOOP ".to_string() + &"a".repeat(5000);
    let input = format!("LHLO x\r\n{long}\r\nNOOP\r\n");
    let driver = run(&input, |_| {});
    assert_eq!(codes(&driver)[5..], lines(&["500 5.5.2", "250 2.0.0"])[..]);
}

#[test]
fn too_many_bad_commands_close_the_session() {
    let input = "BOGUS\r\n".repeat(25);
    let driver = run(&input, |_| {});
    let codes = codes(&driver);
    assert_eq!(codes.len(), 21, "20 errors, then 421");
    assert_eq!(codes.last().map(String::as_str), Some("421 4.7.0"));
    assert!(driver.closed);
}

#[test]
fn commands_after_the_final_dot_wait_for_the_replies() {
    // A client that pipelines RSET and QUIT after the dot (allowed after DATA's reply).
    let input = "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nhi\r\n.\r\nRSET\r\nQUIT\r\n";
    let driver = run(input, |_| {});
    assert_eq!(
        codes(&driver)[7..],
        lines(&["354 Start", "250 2.0.0", "250 2.0.0", "221 2.0.0"])[..]
    );
}

#[test]
fn shutdown_between_transactions_says_421() {
    let mut driver = Driver::new(Config::default());
    driver.feed(b"LHLO x\r\n", 100);
    assert!(driver.session.is_idle());
    driver.session.shutdown();
    let out = String::from_utf8_lossy(&driver.session.take_output()).into_owned();
    assert!(out.starts_with("421 4.3.2 "), "{out}");
    assert_eq!(driver.session.poll_event(), Some(pop3_lmtp::Event::Close));
}

#[test]
fn commands_pipelined_behind_an_oversized_message_are_answered() {
    // Issue 17 review: the refusal is a notice; the commands after the dot must still run,
    // here more than a command line's worth of them, in the same read.
    let config = Config {
        max_message_octets: 1024,
        ..Config::default()
    };
    let input = format!(
        "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\n{}.\r\n{}QUIT\r\n",
        "z".repeat(2000) + "\r\n",
        "NOOP\r\n".repeat(500)
    );
    let mut driver = Driver::new(config);
    driver.feed(input.as_bytes(), input.len());
    let codes = codes(&driver);
    assert_eq!(codes[7..9], lines(&["354 Start", "552 5.3.4"])[..]);
    assert_eq!(codes.len(), 9 + 500 + 1);
    assert_eq!(codes.last().map(String::as_str), Some("221 2.0.0"));
    assert!(driver.closed);
}

#[test]
fn rset_before_lhlo_is_answered_like_noop() {
    let driver = run("RSET\r\nMAIL FROM:<>\r\nLHLO x\r\nRSET\r\n", |_| {});
    let codes = codes(&driver);
    assert_eq!(codes[..2], lines(&["250 2.0.0", "503 5.5.1"])[..]);
    assert_eq!(codes.last().map(String::as_str), Some("250 2.0.0"));
}
