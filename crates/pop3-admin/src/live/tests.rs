use std::io::Write;
use std::os::unix::net::UnixListener;
use std::sync::mpsc;

use super::*;

/// Issue 20 review: a peer that trickles its answer — an octet every 20 ms, for ever —
/// kept a request going while each read's timeout was renewed; the request's deadline now
/// ends it, as a server that is down.
#[test]
fn a_trickling_peer_cannot_hold_a_request_past_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
        // Pacing the fake peer is what is tested, not a synchronisation: it stops as soon
        // as the client has closed the connection.
        while stream.write_all(b"X").is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let client = AdminClient {
        socket: socket.clone(),
        timeout: Duration::from_millis(300),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(client.exchange("GET", "/v1/overview").map(|_| ()));
    });
    let answer = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the request ended: its deadline is not renewed by each octet");
    let error = answer.unwrap_err();
    assert_eq!(Unreachable::why(&error), Some(Why::Down), "{error:#}");
    assert!(format!("{error:#}").contains("within 0.3 s"), "{error:#}");
    peer.join().unwrap();
}
