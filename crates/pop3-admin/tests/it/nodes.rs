//! Issue 18, watching several nodes: two real pop3d processes, each with its own admin
//! socket, user database and Maildirs, a live session holding a lock on each, and
//! `pop3-admin --node a=... --node b=...` listing both with their node, kicking on one node
//! only, refusing an ambiguous bare id, and reporting a stopped node while still listing the
//! other.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::peers::{PATIENCE, Pop3d, free_port};
use crate::support::Site;
use crate::tui_tmux::Tmux;

/// One node: its site (config, database, Maildirs), its server and its POP3 port.
struct Node {
    site: Site,
    pop3d: Option<Pop3d>,
    port: u16,
}

impl Node {
    fn start(user: &str) -> Node {
        let site = Site::new();
        let (code, _, err) = site.run(&["user", "add", user, "--password-stdin"], b"pw\n");
        assert_eq!(code, 0, "{err}");
        let port = free_port();
        site.serve_on(port, "");
        let pop3d = Some(Pop3d::start(&site.config));
        Node { site, pop3d, port }
    }

    fn node_arg(&self, name: &str) -> String {
        format!(
            "{name}={}",
            self.site.dir.path().join("admin.sock").display()
        )
    }
}

/// A client logged in (TRANSACTION, so its maildrop is locked) and staying connected.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn log_in(port: u16, user: &str) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut client = Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        assert!(client.line().starts_with("+OK"));
        for command in [format!("USER {user}"), "PASS pw".to_owned()] {
            let reply = client.send(&command);
            assert!(reply.starts_with("+OK"), "{command}: {reply}");
        }
        client
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let _ = self.reader.read_line(&mut line);
        line
    }

    /// Sends a command; its reply line ("" if the connection is closed).
    fn send(&mut self, command: &str) -> String {
        let _ = self.writer.write_all(format!("{command}\r\n").as_bytes());
        self.line()
    }
}

/// `pop3-admin --node a=... --node b=... ARGS` (run from node a's site).
fn admin(a: &Node, b: &Node, args: &[&str]) -> (i32, String, String) {
    let (node_a, node_b) = (a.node_arg("a"), b.node_arg("b"));
    let mut all = vec!["--node", &node_a, "--node", &node_b];
    all.extend_from_slice(args);
    a.site.run(&all, b"")
}

/// The JSON `sessions --json` or `locks --json` printed.
fn json(a: &Node, b: &Node, what: &str) -> (i32, serde_json::Value) {
    let (code, out, err) = admin(a, b, &[what, "--json"]);
    let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, value)
}

/// (node, user) of each row, in order.
fn node_users(value: &serde_json::Value, key: &str) -> Vec<(String, String)> {
    value[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["node"].as_str().unwrap().to_owned(),
                row["user"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(node: &str, user: &str) -> (String, String) {
    (node.to_owned(), user.to_owned())
}

#[test]
fn issue_18_two_nodes_listed_kicked_and_one_stopped() {
    let a = Node::start("alice");
    let mut b = Node::start("bob");
    let mut alice = Client::log_in(a.port, "alice");
    let mut bob = Client::log_in(b.port, "bob");

    // Both nodes' sessions and locks, each with its node.
    let (code, sessions) = json(&a, &b, "sessions");
    assert_eq!(code, 0, "{sessions}");
    assert_eq!(
        node_users(&sessions, "sessions"),
        [pair("a", "alice"), pair("b", "bob")]
    );
    assert_eq!(sessions["nodes"][0]["up"], true, "{sessions}");
    assert_eq!(sessions["nodes"][1]["up"], true, "{sessions}");
    let (code, locks) = json(&a, &b, "locks");
    assert_eq!(code, 0, "{locks}");
    assert_eq!(
        node_users(&locks, "locks"),
        [pair("a", "alice"), pair("b", "bob")]
    );
    let (code, table, err) = admin(&a, &b, &["sessions"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NODE ") && lines[0].contains("USER"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("a ") && lines[1].contains("alice"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("b ") && lines[2].contains("bob"),
        "{table}"
    );
    let (code, table, err) = admin(&a, &b, &["locks"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("b ") && l.contains("bob")),
        "{table}"
    );

    // Each node numbers its own sessions: a bare id is refused with two nodes.
    let alice_id = sessions["sessions"][0]["id"].as_u64().unwrap();
    let bob_id = sessions["sessions"][1]["id"].as_u64().unwrap();
    // Both first sessions of fresh nodes: the same number, so a kick sent to the wrong node
    // (or to every node) would disconnect alice too.
    assert_eq!(alice_id, bob_id, "{sessions}");
    let (code, _, err) = admin(&a, &b, &["kick", &bob_id.to_string()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("per node") && err.contains(&format!("b:{bob_id}")),
        "{err}"
    );
    assert!(alice.send("NOOP").starts_with("+OK"));
    assert!(bob.send("NOOP").starts_with("+OK"));

    // kick b:ID goes to b only: bob is disconnected, alice (the same id on a) is not.
    let (code, out, err) = admin(&a, &b, &["kick", &format!("b:{bob_id}")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("session {bob_id} on b disconnected"));
    let reply = bob.line();
    assert!(reply.contains("disconnected by administrator"), "{reply}");
    assert!(
        alice.send("NOOP").starts_with("+OK"),
        "alice's session was kicked too"
    );
    let started = Instant::now();
    loop {
        let (_, sessions) = json(&a, &b, "sessions");
        if node_users(&sessions, "sessions") == [pair("a", "alice")] {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "{sessions}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A node that does not exist is refused, naming the nodes.
    let (code, _, err) = admin(&a, &b, &["kick", "c:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("no node c") && err.contains("a, b"), "{err}");

    // b stopped: reported on its own line (and on stderr), a still listed; exit 3.
    let mut bob = Client::log_in(b.port, "bob");
    assert!(bob.send("NOOP").starts_with("+OK"));
    drop(b.pop3d.take());
    let (code, table, err) = admin(&a, &b, &["sessions"]);
    assert_eq!(code, 3, "{table}{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[1].starts_with("a ") && lines[1].contains("alice"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("b ") && lines[2].contains("DOWN"),
        "{table}"
    );
    assert!(lines[2].contains("not running at"), "{table}");
    assert!(err.contains("warning: node b did not answer"), "{err}");
    let (code, locks) = json(&a, &b, "locks");
    assert_eq!(code, 3, "{locks}");
    assert_eq!(node_users(&locks, "locks"), [pair("a", "alice")]);
    assert_eq!(locks["nodes"][1]["up"], false, "{locks}");
    assert!(
        locks["nodes"][1]["error"]
            .as_str()
            .unwrap()
            .contains("not running at")
    );

    // Both stopped: exit 1, each still on its own line.
    let mut a = a;
    drop(a.pop3d.take());
    let (code, table, err) = admin(&a, &b, &["locks"]);
    assert_eq!(code, 1, "{table}{err}");
    assert_eq!(
        table.lines().filter(|l| l.contains("DOWN")).count(),
        2,
        "{table}"
    );
    assert!(err.contains("no node answered"), "{err}");
}

/// Without `--node` or `[admin.nodes]`, the live commands are what they always were: no NODE
/// column, a JSON array, one line of error when the server is down. With `[admin.nodes]` in
/// the config the nodes come from there.
#[test]
fn issue_18_one_unnamed_node_is_unchanged_and_the_config_names_nodes() {
    let a = Node::start("alice");
    let _alice = Client::log_in(a.port, "alice");
    let (code, table, err) = a.site.run(&["sessions"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(table.starts_with("ID "), "{table}");
    let (code, out, err) = a.site.run(&["locks", "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let locks: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(locks[0]["user"], "alice", "{out}");

    let config = std::fs::read_to_string(&a.site.config).unwrap();
    let socket = a.site.dir.path().join("admin.sock");
    let gone = a.site.dir.path().join("gone.sock");
    let nodes = format!(
        "\n[admin.nodes]\nnode1 = \"{}\"\nnode2 = \"{}\"\n",
        socket.display(),
        gone.display()
    );
    std::fs::write(&a.site.config, config + &nodes).unwrap();
    let (code, table, err) = a.site.run(&["sessions"], b"");
    assert_eq!(code, 3, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[1].starts_with("node1 ") && lines[1].contains("alice"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("node2 ") && lines[2].contains("DOWN"),
        "{table}"
    );
    // --node replaces the table.
    let only = format!("x={}", socket.display());
    let (code, table, err) = a.site.run(&["--node", &only, "sessions"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with("x ")),
        "{table}"
    );
    // One named node: a bare id is not ambiguous.
    let (code, _, err) = a.site.run(&["--node", &only, "kick", "999"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("no session 999 on x"), "{err}");
    // Bad --node values are usage errors.
    for bad in ["x", "X=/a", "a:b=/a", "x="] {
        assert_eq!(a.site.run(&["--node", bad, "sessions"], b"").0, 2, "{bad}");
    }
    let (code, _, err) = a
        .site
        .run(&["--node", &only, "--node", &only, "locks"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("given twice"), "{err}");
}

/// The real TUI on two nodes, one stopped: the NODE column, the stopped node as one line, and
/// `k` on a's row kicks a's session (b, stopped, cannot have been asked).
#[test]
fn issue_18_the_tui_watches_two_nodes_and_kicks_on_the_rows_node() {
    let a = Node::start("alice");
    let mut b = Node::start("bob");
    let mut alice = Client::log_in(a.port, "alice");
    drop(b.pop3d.take());
    let command = format!(
        "{} --config {} --node {} --node {} tui",
        env!("CARGO_BIN_EXE_pop3-admin"),
        a.site.config.display(),
        a.node_arg("a"),
        b.node_arg("b"),
    );
    let tmux = Tmux::start("nodes", &command);
    tmux.wait_for(&["Users", "nodes: 1 of 2 up"]);
    tmux.text("2");
    let screen = tmux.wait_for(&["NODE", "alice", "node b: not answering"]);
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("a ") && l.contains("alice")),
        "{screen}"
    );
    tmux.text("k");
    tmux.wait_for(&["Kick session", "on a", "y / n"]);
    tmux.text("y");
    tmux.wait_for(&["on a disconnected"]);
    let reply = alice.line();
    assert!(reply.contains("disconnected by administrator"), "{reply}");
    tmux.text("q");
}
