//! Issue 20: `pop3-admin user show NAME --json` against a real pop3d after real sessions:
//! the Maildir's counts (from `maildirsize`, kept by delivery and commit under a quota), and
//! the sessions just made, from the server's per-user history; with the server down, the
//! facts it can still get and a note.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::peers::{PATIENCE, Pop3d, free_port};
use crate::support::Site;

/// A POP3 conversation, a command and its status line at a time.
struct Pop3(BufReader<TcpStream>);

impl Pop3 {
    fn connect(port: u16) -> Pop3 {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut pop3 = Pop3(BufReader::new(stream));
        assert!(pop3.line().starts_with("+OK"));
        pop3
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        line
    }

    fn command(&mut self, command: &str) -> String {
        self.0
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        let line = self.line();
        assert!(line.starts_with("+OK"), "{command}: {line}");
        line
    }

    /// Reads a multi-line body to its terminator.
    fn body(&mut self) {
        while self.line() != ".\r\n" {}
    }
}

fn show(site: &Site) -> (i32, serde_json::Value, String) {
    let (code, json, err) = site.run(&["user", "show", "alice", "--json"], b"");
    let value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}{err}"));
    (code, value, err)
}

#[test]
fn user_show_has_the_counts_and_the_sessions_just_made() {
    let site = Site::new();
    let text = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(&site.config, format!("{text}\n[quota]\nmessages = 100\n")).unwrap();
    let (code, _, err) = site.run(&["user", "add", "alice", "--password-stdin"], b"pw\n");
    assert_eq!(code, 0, "{err}");
    for n in 1..=3 {
        let message = format!("Subject: {n}\n\nmessage {n}\n");
        let (code, _, err) = site.run(&["deliver", "alice"], message.as_bytes());
        assert_eq!(code, 0, "{err}");
    }
    let port = free_port();
    site.serve_on(port, "");
    let pop3d = Pop3d::start(&site.config);

    // A session that retrieves and deletes one message and quits, then one that drops.
    let mut first = Pop3::connect(port);
    first.command("USER alice");
    first.command("PASS pw");
    first.command("RETR 1");
    first.body();
    first.command("DELE 1");
    first.command("QUIT");
    let mut second = Pop3::connect(port);
    second.command("USER alice");
    second.command("PASS pw");
    drop(second);

    // The dropped session is recorded when the server notices: asked until it is there.
    let started = Instant::now();
    let shown = loop {
        let (code, shown, err) = show(&site);
        assert_eq!(code, 0, "{err}");
        if shown["sessions"].as_array().is_some_and(|s| s.len() == 2) {
            break shown;
        }
        assert!(started.elapsed() < PATIENCE, "{shown}");
    };
    assert_eq!(shown["name"], "alice");
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["mail"]["messages"], 2, "{shown}");
    assert_eq!(shown["mail"]["source"], "maildirsize", "{shown}");
    assert_eq!(shown["quota"]["limit_messages"], 100);
    assert_eq!(shown["quota"]["percent"], 2);
    assert!(shown["last_login_at"].as_u64().is_some(), "{shown}");
    let sessions = shown["sessions"].as_array().unwrap();
    let ends: Vec<&str> = sessions
        .iter()
        .map(|s| s["end"].as_str().unwrap())
        .collect();
    assert_eq!(ends, ["dropped", "quit"], "most recent first: {shown}");
    let quit = &sessions[1];
    assert_eq!(
        (&quit["retrieved"], &quit["deleted"]),
        (&1.into(), &1.into())
    );
    assert_eq!(quit["mechanism"], "USER");
    assert_eq!(quit["tls"], false);
    assert!(quit["bytes_sent"].as_u64().unwrap() > 20, "{shown}");
    assert!(shown["notes"].as_array().unwrap().is_empty());

    // The text form says the same in lines.
    let (code, text, _) = site.run(&["user", "show", "alice"], b"");
    assert_eq!(code, 0);
    assert!(text.contains("messages    2 (from maildirsize)"), "{text}");
    assert!(
        text.contains("recent sessions, most recent first:"),
        "{text}"
    );

    // Issue 20 review S3: no sessions is said truly: the history is recent and bounded
    // (not "none since the server started": a user may have been forgotten).
    let (code, _, err) = site.run(&["user", "add", "bob", "--password-stdin"], b"pw\n");
    assert_eq!(code, 0, "{err}");
    let (code, text, _) = site.run(&["user", "show", "bob"], b"");
    assert_eq!(code, 0);
    assert!(
        text.contains(
            "recent sessions: none in the server's recent history (it keeps the last 20000 \
             users to end a session, since it started)"
        ),
        "{text}"
    );
    let (_, help, _) = site.run(&["user", "show", "--help"], b"");
    assert!(help.contains("history_users"), "{help}");

    // The server down: the database's and the Maildir's facts, and a note.
    drop(pop3d);
    let (code, shown, err) = show(&site);
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown["mail"]["messages"], 2);
    assert!(shown["sessions"].is_null(), "{shown}");
    let note = shown["notes"][0].as_str().unwrap();
    assert!(note.contains("pop3d is not running"), "{note}");
    assert!(err.contains("recent sessions not shown"), "{err}");
    let (code, _, err) = site.run(&["user", "show", "nobody"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("no such user: nobody"), "{err}");
}
