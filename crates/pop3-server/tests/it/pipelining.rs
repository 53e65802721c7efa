//! RFC 2449 PIPELINING with RETR. For a batch of pipelined RETRs the server reads messages
//! ahead in one trip to its blocking pool; whatever it read ahead, every reply must be exactly
//! what the same commands get one at a time: DELE, TOP and failed commands in between, and
//! messages too large to be read ahead, included.

use crate::support::{Client, TestServer};

/// Message `n`: mostly small, with lines to dot-stuff; every seventh over the read-ahead
/// budget (256 KiB).
fn message(n: usize) -> Vec<u8> {
    let lines = if n.is_multiple_of(7) {
        9_000
    } else {
        20 + n * 3
    };
    let mut text = format!("From: test@example.org\r\nSubject: message {n}\r\n\r\n");
    for line in 0..lines {
        text.push_str(&format!(
            ".line {line} of message {n}, padded to some length\r\n"
        ));
    }
    text.into_bytes()
}

/// The commands: LIST, UIDL and RETR of every message, with a DELE of a message whose RETR
/// follows (after it may have been read ahead), a TOP, a NOOP and a RETR of nothing.
fn script(count: usize) -> Vec<String> {
    let mut commands = Vec::new();
    for n in 1..=count {
        commands.extend([
            format!("LIST {n}"),
            format!("UIDL {n}"),
            format!("RETR {n}"),
        ]);
        match n {
            3 => commands.push("DELE 6".to_owned()),
            8 => commands.push("TOP 9 2".to_owned()),
            12 => commands.extend(["NOOP".to_owned(), format!("RETR {}", count + 1)]),
            _ => {}
        }
    }
    commands
}

/// Reads the reply to `command`: its status line and, for a multi-line `+OK`, the body.
fn reply(client: &mut Client, command: &str) -> (String, Vec<String>) {
    let status = client.line().expect("a reply");
    let multi = command.starts_with("RETR") || command.starts_with("TOP");
    let body = if multi && status.starts_with("+OK") {
        client.body()
    } else {
        Vec::new()
    };
    (status, body)
}

#[test]
fn pipelined_retrs_get_exactly_the_replies_of_lockstep_ones() {
    let count = 30;
    let server = TestServer::start("", "", "");
    server.add_user("alice", "secret");
    for n in 1..=count {
        server.deliver("alice", &message(n));
    }
    let commands = script(count);

    // Pipelined: every command in one write, then every reply.
    let mut client = server.greet();
    client.login("alice", "secret");
    let all: String = commands.iter().map(|c| format!("{c}\r\n")).collect();
    client.send(all.as_bytes());
    let pipelined: Vec<_> = commands.iter().map(|c| reply(&mut client, c)).collect();
    drop(client); // no QUIT: the DELE is never committed

    // Lockstep, in a fresh session on the same maildrop.
    let mut client = server.greet();
    client.login("alice", "secret");
    let lockstep: Vec<_> = commands
        .iter()
        .map(|c| {
            client.send(format!("{c}\r\n").as_bytes());
            reply(&mut client, c)
        })
        .collect();

    assert_eq!(pipelined.len(), lockstep.len());
    for ((command, a), b) in commands.iter().zip(&pipelined).zip(&lockstep) {
        assert_eq!(a, b, "{command}: pipelined and lockstep differ");
    }
    // And the replies are the right ones, not just the same ones.
    let retr_6 = commands.iter().position(|c| c == "RETR 6").unwrap();
    assert_eq!(pipelined[retr_6].0, "-ERR message 6 already deleted");
    let retr_7 = commands.iter().position(|c| c == "RETR 7").unwrap();
    let expected = String::from_utf8(message(7)).unwrap();
    let expected: Vec<&str> = expected.trim_end_matches("\r\n").split("\r\n").collect();
    assert_eq!(pipelined[retr_7].1, expected);
    assert!(client.command("RSET").starts_with("+OK"));
    assert_eq!(client.command("QUIT"), "+OK signing off (30 messages left)");
}
