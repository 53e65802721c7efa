//! The loop against a node that hangs (review of issue 20, D4): its admin socket accepts and
//! never answers, and the keyboard still works.

use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pop3_admin_api::SessionInfo;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{Mode, NodeLive, Tab};
use super::*;

/// Far below the admin client's 3 s timeout, which the old loop waited out on the UI thread
/// (then a reload of the users and a snapshot, another 3 s).
const BOUND: Duration = Duration::from_millis(1000);

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn session(id: u64) -> SessionInfo {
    SessionInfo {
        id,
        remote: "192.0.2.7:50123".into(),
        listener: "starttls".into(),
        tls: false,
        state: "TRANSACTION".into(),
        user: Some("alice".into()),
        started: 0,
        last_activity: 0,
        command: None,
        bytes_sent: 0,
        retrieved: 0,
        deleted: 0,
        bytes_per_second: 0,
        retr: None,
    }
}

#[test]
fn review_of_issue_20_a_kick_on_a_hung_node_never_blocks_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    // Accepts (the kernel queues the connection) and never answers.
    let hung = UnixListener::bind(&socket).unwrap();
    let (tx, rx) = mpsc::channel();
    // The users thread's queue, held and never served: no job may be needed for a key.
    let (users, queue) = mpsc::channel::<work::UsersJob>();
    let workers = Workers {
        tx: tx.clone(),
        admin: Nodes::local(&socket),
        users,
    };
    let mut app = App::new(socket.display().to_string());
    app.update(Event::Live(vec![NodeLive {
        node: String::new(),
        result: Ok((vec![session(7)], Vec::new())),
    }]));
    app.tab = Tab::Sessions;
    let (drawn_tx, drawn) = mpsc::channel();
    let looping = std::thread::spawn(move || {
        event_loop(&mut app, &rx, &workers, |app| {
            let _ = drawn_tx.send((app.tab, app.mode.clone(), app.status.clone()));
            Ok(())
        })
    });
    // `k`, confirmed: the kick goes out and reaches the node, which says nothing.
    tx.send(key('k')).unwrap();
    tx.send(key('y')).unwrap();
    let (_stream, _) = hung.accept().unwrap();
    // With the kick in flight, a key is still handled at once.
    let asked = Instant::now();
    tx.send(key('3')).unwrap();
    let shown = loop {
        let left = BOUND.saturating_sub(asked.elapsed());
        match drawn.recv_timeout(left) {
            Ok((Tab::Locks, mode, _)) => break mode,
            Ok(_) => {}
            Err(_) => panic!("the key waited on the hung node for over {BOUND:?}"),
        }
    };
    assert_eq!(shown, Mode::Normal);
    // The kick's answer comes later, as an event: the node's timeout, in the status bar.
    let status = loop {
        match drawn.recv_timeout(Duration::from_secs(30)) {
            Ok((_, _, Some(status))) => break status,
            Ok(_) => {}
            Err(e) => panic!("the kick never reported: {e}"),
        }
    };
    assert!(
        matches!(&status, Err(why) if why.contains("did not answer")),
        "{status:?}"
    );
    // A kick is not a change to the user database: no reload of the users was asked.
    assert!(queue.try_recv().is_err(), "a kick reloaded the users");
    tx.send(key('q')).unwrap();
    looping.join().unwrap().unwrap();
}
