//! Every `tests/transcripts/*.lmtp` over the real LMTP socket of a real server: the same
//! files `pop3-lmtp` runs in memory. The users `alice`, `bob` and `carol` exist.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use pop3_lmtp::test_util::{exchanges, files, matches};

use crate::lmtp::{server_with_lmtp, socket};
use crate::support::PATIENCE;

#[test]
fn every_lmtp_transcript_runs_over_the_socket() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let transcripts = files::load_all(&root).unwrap_or_else(|e| panic!("{e}"));
    assert!(transcripts.len() >= 3, "transcripts missing");
    for (name, steps) in transcripts {
        let server = server_with_lmtp("");
        for user in ["alice", "bob", "carol"] {
            server.add_user(user, "secret");
        }
        let stream = UnixStream::connect(socket(&server)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut delivered = 0;
        for (sent, replies) in exchanges(&steps) {
            writer.write_all(&sent).unwrap();
            for want in replies {
                let mut got = String::new();
                reader.read_line(&mut got).unwrap();
                let got = got.trim_end_matches("\r\n");
                assert!(matches(&want, got), "{name}: wanted {want:?}, got {got:?}");
                delivered += usize::from(got.starts_with("250 2.0.0 <"));
            }
        }
        // Every 250 after DATA is a message in a Maildir.
        let stored: usize = ["alice", "bob", "carol"]
            .iter()
            .map(|user| server.message_count(user))
            .sum();
        assert_eq!(stored, delivered, "{name}");
    }
}
