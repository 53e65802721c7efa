//! Issue 16, part 3: `pop3-admin uidl` and `uidl repair`, against real Maildirs, a real
//! database and a real pop3d whose UIDL reply must equal the tool's list line for line.

use pop3_auth::UserStore as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::peers::pop3d;
use crate::support::Site;

/// A site with user alice, Dovecot-named mail (one message still in `new/`), and the
/// `dovecot-uidlist` Dovecot kept for it; returns the uidlist's path.
fn dovecot_site() -> (Site, PathBuf) {
    let site = Site::new();
    let (code, _, err) = site.run(&["user", "add", "alice", "--password-stdin"], b"secret\n");
    assert_eq!(code, 0, "{err}");
    let maildir = site.maildir("alice");
    for (sub, name, body) in [
        ("cur", "1200000001.M1P1.mx,S=4,W=5:2,S", "a\nb\n"),
        ("cur", "1200000002.M2P2.mx,S=2:2,", "b\n"),
        ("new", "1200000003.M3P3.mx", "c\n"),
    ] {
        std::fs::write(maildir.join(sub).join(name), body).unwrap();
    }
    let uidlist = site.dir.path().join("dovecot-uidlist");
    std::fs::write(
        &uidlist,
        // A saved `P` UIDL, an `O` order, and an entry whose file is gone.
        include_str!("../../../../tests/uidlists/dovecot-v3-saved-and-ordered"),
    )
    .unwrap();
    (site, uidlist)
}

fn repair(site: &Site, uidlist: &Path) -> (i32, String, String) {
    site.run(
        &[
            "uidl",
            "repair",
            "alice",
            "--from-uidlist",
            uidlist.to_str().unwrap(),
        ],
        b"",
    )
}

#[test]
fn issue_16_repair_carries_dovecot_uidls_over_and_sets_the_flag() {
    let (site, uidlist) = dovecot_site();
    let (code, out, err) = repair(&site, &uidlist);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 carried"), "{out}");
    assert!(
        out.contains("line 4: 1199999999.M0P0.mx:2,S 0000000a6553f100: no such message"),
        "{out}"
    );
    let alice = site
        .db()
        .get(&pop3_auth::UserName::parse("alice").unwrap())
        .unwrap()
        .unwrap();
    assert!(alice.uidl_map);
    let (code, out, err) = site.run(&["uidl", "alice"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "1 0000000b6553f100\n2 000000076553f100\n3 0000beef-saved\n"
    );
    let (code, out, _) = site.run(&["uidl", "alice", "--json"], b"");
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["carried"], 3);
    assert_eq!(json["messages"][2]["uidl"], "0000beef-saved");
    assert_eq!(json["messages"][2]["size"], 3);
    // Read-only: new/ was not moved, no cache was written.
    assert!(
        site.maildir("alice")
            .join("new/1200000003.M3P3.mx")
            .exists()
    );
    assert!(!site.maildir("alice").join(".pop3d.listing").exists());
}

#[test]
fn issue_16_bad_input_is_refused_and_the_map_kept() {
    let (site, uidlist) = dovecot_site();
    assert_eq!(repair(&site, &uidlist).0, 0);
    let map = site.maildir("alice").join(".pop3d.uidl");
    let carried = std::fs::read(&map).unwrap();
    let bad = site.dir.path().join("bad");
    std::fs::write(&bad, "3 V1 N9\n1 :x\ngarbage\n").unwrap();
    let (code, _, err) = repair(&site, &bad);
    assert_eq!(code, 1);
    assert!(err.contains("line 3"), "{err}");
    let (code, _, err) = site.run(
        &[
            "uidl",
            "repair",
            "alice",
            "--from-uidlist",
            uidlist.to_str().unwrap(),
            "--uidlist-format",
            "%m",
        ],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("header MD5"), "{err}");
    assert_eq!(std::fs::read(&map).unwrap(), carried);
    // A damaged map: the listing fails as a login would, and repair rebuilds it.
    std::fs::write(&map, b"pop3d-uidl 1\ngarbage").unwrap();
    let (code, _, err) = site.run(&["uidl", "alice"], b"");
    assert_eq!(code, 1);
    assert!(err.contains(".pop3d.uidl"), "{err}");
    let (code, out, err) = repair(&site, &uidlist);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("damaged"), "{out}");
    assert_eq!(site.run(&["uidl", "alice"], b"").0, 0);
}

/// Issue 16 review: `uidl repair` names the format as `migrate` does, `--uidlist-format`;
/// `--format`, its earlier name, still works and is not in the help.
#[test]
fn issue_16_uidl_repair_takes_uidlist_format_as_migrate_does() {
    let (site, uidlist) = dovecot_site();
    for flag in ["--uidlist-format", "--format"] {
        let (code, _, err) = site.run(
            &[
                "uidl",
                "repair",
                "alice",
                "--from-uidlist",
                uidlist.to_str().unwrap(),
                flag,
                "%u",
            ],
            b"",
        );
        assert_eq!(code, 0, "{flag}: {err}");
        let (code, out, err) = site.run(&["uidl", "alice"], b"");
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["1 11", "2 7", "3 0000beef-saved"],
            "{flag}"
        );
    }
    let (_, help, _) = site.run(&["uidl", "repair", "--help"], b"");
    assert!(help.contains("--uidlist-format <FORMAT>"), "{help}");
    assert!(!help.contains("--format"), "{help}");
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts pop3d on the site's config; returns it and its POP3 port.
fn start(site: &Site) -> (Daemon, u16) {
    let config = std::fs::read_to_string(&site.config).unwrap() + "\n[metrics]\nenabled = false\n";
    std::fs::write(&site.config, config).unwrap();
    let mut child = Command::new(pop3d())
        .arg("--config")
        .arg(&site.config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let daemon = Daemon(child);
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "pop3d exited");
        if let Some(at) = line.find("127.0.0.1:") {
            let digits: String = line[at + 10..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            break digits.parse().unwrap();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    (daemon, port)
}

struct Pop3 {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Pop3 {
    fn login(port: u16) -> Pop3 {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut pop3 = Pop3 {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        assert!(pop3.line().starts_with("+OK"));
        assert!(pop3.command("USER alice").starts_with("+OK"));
        let reply = pop3.command("PASS secret");
        assert!(reply.starts_with("+OK"), "{reply}");
        pop3
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    fn command(&mut self, command: &str) -> String {
        self.writer
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        self.line()
    }

    /// The lines of a multi-line reply up to the final dot.
    fn body(&mut self) -> String {
        let mut text = String::new();
        loop {
            let line = self.line();
            if line == "." {
                return text;
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
}

#[test]
fn issue_16_admin_uidl_equals_the_servers_uidl_line_for_line() {
    let (site, uidlist) = dovecot_site();
    assert_eq!(repair(&site, &uidlist).0, 0);
    // Mail delivered after the switch, through the delivery agent: pop3d's own UIDL.
    let (code, _, err) = site.run(&["deliver", "alice"], b"Subject: new\n\nnew\n");
    assert_eq!(code, 0, "{err}");
    let (_daemon, port) = start(&site);
    let (code, listed, err) = site.run(&["uidl", "alice"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed.lines().count(), 4, "{listed}");
    let mut session = Pop3::login(port);
    assert!(session.command("UIDL").starts_with("+OK"));
    let served = session.body();
    assert_eq!(listed, served);
    // While that session holds the lock, the tool neither waits nor disturbs it.
    let (code, again, err) = site.run(&["uidl", "alice"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("a session is open"), "{err}");
    assert_eq!(again, served);
    // QUIT with DELE: the carried entry goes, the rest keep their UIDLs, renumbered alike.
    assert!(session.command("DELE 1").starts_with("+OK"));
    assert!(session.command("QUIT").starts_with("+OK"));
    let (_, after, _) = site.run(&["uidl", "alice"], b"");
    let mut session = Pop3::login(port);
    assert!(session.command("UIDL").starts_with("+OK"));
    assert_eq!(after, session.body());
    let expected: Vec<String> = served
        .lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| format!("{} {}\n", i + 1, line.split_once(' ').unwrap().1))
        .collect();
    assert_eq!(after, expected.concat());
    assert!(session.command("QUIT").starts_with("+OK"));
    // A repair while a session is open is refused.
    let _session = Pop3::login(port);
    let (code, _, err) = repair(&site, &uidlist);
    assert_eq!(code, 1);
    assert!(err.contains("locked"), "{err}");
}
