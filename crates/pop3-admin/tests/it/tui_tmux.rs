//! The real TUI in tmux against a real pop3d: add a user through the keyboard, fail to log in
//! as that user from a second loopback address (127.0.0.2), log in with Python's poplib and
//! RETR a 2 MiB message, see the Overview's counters, the failing address and the bytes sent
//! move (issue 20 and its review), see the session in the Sessions tab, kick it (confirmed),
//! and check that the client was disconnected and the maildrop unlocked; then the user's
//! detail view shows that session, kicked (issue 20).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::peers::Pop3d;
use crate::support::Site;

const PATIENCE: Duration = Duration::from_secs(30);

/// A private tmux server, killed at the end.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a 120×30 session `tui` of a private tmux server named `name`.
    pub fn start(name: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("pop3-admin-{name}-{}", std::process::id()),
        };
        let status = tmux
            .command()
            .args([
                "new-session",
                "-d",
                "-s",
                "tui",
                "-x",
                "120",
                "-y",
                "30",
                command,
            ])
            .status()
            .expect("tmux: .ci/run installs it");
        assert!(status.success());
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    fn keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .args(["send-keys", "-t", "tui"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn text(&self, text: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "tui", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", "tui"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (bounded) until the screen shows every needle.
    pub fn wait_for(&self, needles: &[&str]) -> String {
        self.wait_until(&format!("{needles:?}"), |screen| {
            needles.iter().all(|n| screen.contains(n))
        })
    }

    /// Waits (bounded) until `done` holds for the screen; `what` names it on failure.
    pub fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

#[test]
fn add_a_user_see_its_session_and_kick_it_from_the_tui() {
    let site = Site::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    site.serve_on(port, "");
    let _pop3d = Pop3d::start(&site.config);

    let admin = format!(
        "{} --config {} tui",
        env!("CARGO_BIN_EXE_pop3-admin"),
        site.config.display()
    );
    let tmux = Tmux::start("test", &admin);
    // Issue 20: the TUI opens on the Overview, with the server's history at once.
    tmux.wait_for(&["Overview", "server: up", "pop3d ", "logins ok/s", "0 in "]);
    // The review of issue 20: what is shown is dated.
    tmux.wait_for(&["as of ", " UTC, "]);

    // Add a user through the keyboard.
    tmux.text("1");
    tmux.wait_for(&["NAME", "LAST LOGIN"]);
    tmux.text("a");
    tmux.text("carol");
    tmux.keys(&["Enter"]);
    tmux.text("pw-123");
    tmux.keys(&["Enter"]);
    tmux.text("pw-123");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["added carol", "/carol/Maildir"]);

    // A large message to RETR: 2 MiB of 78-octet lines.
    let mut big = b"From: a@example.org\r\nSubject: big\r\n\r\n".to_vec();
    while big.len() < 2 << 20 {
        big.extend_from_slice(&[b'x'; 76]);
        big.extend_from_slice(b"\r\n");
    }
    let (code, _, err) = site.run(&["deliver", "carol"], &big);
    assert_eq!(code, 0, "{err}");

    // Three failed logins from a second loopback address.
    let failing = format!(
        "import poplib, socket\n\
         class From2(poplib.POP3):\n    \
             def _create_socket(self, timeout):\n        \
                 return socket.create_connection((self.host, self.port), timeout,\n            \
                     source_address=('127.0.0.2', 0))\n\
         failed = 0\n\
         for attempt in range(3):\n    \
             p = From2('127.0.0.1', {port}, timeout=30)\n    \
             p.user('carol')\n    \
             try:\n        p.pass_('wrong')\n    \
             except poplib.error_proto:\n        failed += 1\n    \
             p.quit()\n\
         print('failed', failed)\n"
    );
    let out = Command::new("python3")
        .args(["-c", &failing])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "failed 3",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Log in as that user with poplib, RETR the large message, and stay logged in.
    let script = format!(
        "import poplib, sys\n\
         p = poplib.POP3('127.0.0.1', {port}, timeout=30)\n\
         p.user('carol'); p.pass_('pw-123')\n\
         resp, lines, octets = p.retr(1)\n\
         print('logged in', octets, flush=True)\n\
         sys.stdin.readline()\n\
         try:\n    p.noop(); print('still connected', flush=True)\n\
         except Exception as e:\n    print('disconnected:', e, flush=True)\n"
    );
    let mut client = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut output = BufReader::new(client.stdout.take().unwrap());
    let mut first = String::new();
    output.read_line(&mut first).unwrap();
    assert!(first.starts_with("logged in 2"), "{first}");

    // The CLI sees it too.
    let (code, json, err) = site.run(&["sessions", "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let sessions: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(sessions[0]["user"], "carol", "{json}");
    assert_eq!(sessions[0]["state"], "TRANSACTION", "{json}");
    let (code, table, _) = site.run(&["locks"], b"");
    assert_eq!(code, 0);
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with("carol")),
        "{table}"
    );

    // Issue 20: the login and the session move the Overview's counters; the review: so do the
    // failures (their line and the address in the list) and the bytes sent.
    tmux.text("0");
    tmux.wait_until(
        "one login, three failures from 127.0.0.2, 2 MiB sent, a session in TRANSACTION",
        |screen| {
            let lines: Vec<&str> = screen.lines().collect();
            let after = |label: &str| {
                let at = lines.iter().position(|l| l.starts_with(label))?;
                lines.get(at + 1).copied()
            };
            after("logins ok/s").is_some_and(|l| l.starts_with("1 in "))
                && after("logins failed/s").is_some_and(|l| l.starts_with("3 in "))
                && after("sent/s").is_some_and(|l| l.starts_with("2.0 MiB in "))
                && screen.contains("127.0.0.2")
                && screen.contains("trans 1")
                && screen.contains("1 sessions")
        },
    );

    // The session appears in the Sessions tab; kick it, once asked.
    tmux.text("2");
    tmux.wait_for(&["carol", "TRANSACTION", "127.0.0.1"]);
    tmux.text("k");
    tmux.wait_for(&["Kick session", "y / n"]);
    tmux.text("y");
    tmux.wait_for(&["disconnected"]);

    // The client was disconnected with the administrator's reply.
    client.stdin.take().unwrap().write_all(b"\n").unwrap();
    let mut verdict = String::new();
    output.read_line(&mut verdict).unwrap();
    assert!(
        verdict.contains("disconnected: b'-ERR [SYS/TEMP] disconnected by administrator'"),
        "{verdict}"
    );
    client.wait().unwrap();

    // And the maildrop is unlocked.
    let maildir = site.maildir("carol");
    let started = Instant::now();
    while pop3_maildrop::lock_status(&maildir).unwrap().is_some() {
        assert!(started.elapsed() < PATIENCE, "the maildrop stayed locked");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Issue 20: the user's detail view shows the session just made, and how it ended.
    tmux.text("1");
    tmux.wait_for(&["carol", "sorted by NAME"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&[
        "User carol",
        "Recent sessions",
        "kicked",
        "USER",
        "127.0.0.1:",
    ]);
    // Esc goes back to the table (the tab bar always says "Sessions": wait for the table);
    // a second Esc does not quit, `q` does.
    tmux.keys(&["Escape"]);
    tmux.wait_until("the Users table again", |screen| {
        screen.contains("sorted by NAME") && !screen.contains("User carol")
    });
    tmux.keys(&["Escape"]);
    tmux.text("2");
    tmux.wait_for(&["STATE", "no sessions"]);
    tmux.text("q");
}
