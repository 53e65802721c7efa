//! The dot-stuffing encoder on arbitrary bytes and chunkings: the output never holds the
//! terminator early, every LF is part of a CRLF, and the counted wire octets match.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::{BodyEncoder, wire_size};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, message)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut encoder = BodyEncoder::whole();
    let mut out = Vec::new();
    for piece in message.chunks(chunk) {
        encoder.encode(piece, &mut out);
    }
    assert_eq!(encoder.wire_octets(), wire_size(message));
    encoder.finish(&mut out);
    let body = &out[..out.len() - 3];
    assert!(!body.starts_with(b".\r\n"));
    assert!(!body.windows(5).any(|w| w == b"\r\n.\r\n"));
    assert!(out.iter().enumerate().all(|(i, &b)| b != b'\n' || (i > 0 && out[i - 1] == b'\r')));
});
