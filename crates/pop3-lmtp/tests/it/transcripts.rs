//! Every `tests/transcripts/*.lmtp` in memory, whole and byte by byte: the same files the
//! server runs over its socket (`crates/pop3-server/tests/it/lmtp_transcripts.rs`).

use std::path::Path;

use pop3_lmtp::test_util::{Step, files, matches};

use crate::driver::run;

/// Every `.lmtp` transcript, by name, with its steps.
fn all() -> Vec<(String, Vec<Step>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    files::load_all(&root).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_lmtp_transcript_runs_in_memory() {
    let transcripts = all();
    assert!(
        transcripts.len() >= 3,
        "transcripts missing: {transcripts:?}"
    );
    for (name, steps) in transcripts {
        let mut input = String::new();
        let mut want = Vec::new();
        for step in &steps {
            match step {
                Step::Client(line) => input.push_str(&format!("{line}\r\n")),
                Step::Server(line) => want.push(line.clone()),
            }
        }
        let driver = run(&input, |_| {});
        let text = driver.text();
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.len(), want.len(), "{name}: {got:#?}");
        for (want, got) in want.iter().zip(&got) {
            assert!(matches(want, got), "{name}: wanted {want:?}, got {got:?}");
        }
    }
}
