//! Issue 19 item 1, `EXPIRE 0` (RFC 2449 §6.7) over the real socket: QUIT removes what was
//! retrieved, and the metric counts expired messages apart from DELE'd ones. (The in-memory
//! and socket transcripts `expire-zero*.pop3` cover the replies and the dropped connection.)

use crate::support::{TestServer, scrape};

#[test]
fn issue_19_expire_0_removes_retrieved_mail_at_quit_counted_apart() {
    let server = TestServer::start("", "", "expire = \"0\"");
    server.add_user("alice", "secret");
    for n in 1..=3 {
        server.deliver(
            "alice",
            format!("Subject: {n}\r\n\r\nbody {n}\r\n").as_bytes(),
        );
    }
    let mut client = server.greet();
    assert!(client.command("USER alice").starts_with("+OK"));
    assert!(client.command("PASS secret").starts_with("+OK"));
    assert!(client.command("CAPA").starts_with("+OK"));
    let mut capa = Vec::new();
    loop {
        let line = client.line().unwrap();
        if line == "." {
            break;
        }
        capa.push(line);
    }
    assert!(capa.contains(&"EXPIRE 0".to_owned()), "{capa:?}");
    assert!(client.command("RETR 1").starts_with("+OK"));
    while client.line().unwrap() != "." {}
    assert!(client.command("DELE 2").starts_with("+OK"));
    let quit = client.command("QUIT");
    assert_eq!(quit, "+OK signing off (1 message left)");
    client.close();
    assert_eq!(server.message_count("alice"), 1);
    let metrics = scrape(&server);
    assert!(
        metrics.contains("pop3_messages_deleted_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pop3_messages_expired_total 1\n"),
        "{metrics}"
    );
}
