//! The command parser on arbitrary lines: it must never panic, and whatever it accepts must
//! name a keyword that the line starts with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::Command;

fuzz_target!(|line: &[u8]| {
    if let Ok(command) = Command::parse(line) {
        let keyword = command.keyword().as_bytes();
        assert!(line.len() >= keyword.len());
        assert!(line[..keyword.len()].eq_ignore_ascii_case(keyword));
    }
});
