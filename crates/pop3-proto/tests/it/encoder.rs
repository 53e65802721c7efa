//! The dot-stuffing encoder at its own boundary.

use pop3_proto::{BodyEncoder, Progress, WireSizeCounter, wire_size};

/// Encodes `message` fed in chunks of `chunk` bytes.
pub fn stuff(message: &[u8], chunk: usize) -> Vec<u8> {
    let mut encoder = BodyEncoder::whole();
    let mut out = Vec::new();
    for piece in message.chunks(chunk.max(1)) {
        assert_eq!(encoder.encode(piece, &mut out), Progress::NeedMore);
    }
    encoder.finish(&mut out);
    out
}

fn top(message: &[u8], lines: u64, chunk: usize) -> Vec<u8> {
    let mut encoder = BodyEncoder::top(lines);
    let mut out = Vec::new();
    for piece in message.chunks(chunk.max(1)) {
        if encoder.encode(piece, &mut out) == Progress::Complete {
            break;
        }
    }
    encoder.finish(&mut out);
    out
}

#[track_caller]
fn check(message: &[u8], expected: &[u8]) {
    for chunk in [1, 2, 3, 5, 64, message.len().max(1)] {
        assert_eq!(
            String::from_utf8_lossy(&stuff(message, chunk)),
            String::from_utf8_lossy(expected),
            "chunk size {chunk}"
        );
    }
}

#[test]
fn stuffing_cases() {
    check(b"", b".\r\n");
    check(b"a", b"a\r\n.\r\n");
    check(b"a\n", b"a\r\n.\r\n");
    check(b"a\r\n", b"a\r\n.\r\n");
    check(b".", b"..\r\n.\r\n");
    check(b".\r\n", b"..\r\n.\r\n");
    check(b"\n", b"\r\n.\r\n");
    check(b"\n.\n", b"\r\n..\r\n.\r\n");
    check(b"a\r\n.b\r\n..c\n", b"a\r\n..b\r\n...c\r\n.\r\n");
    check(b"x.y\r\n", b"x.y\r\n.\r\n");
    check(b"a\rb\n", b"a\rb\r\n.\r\n");
    check(b"a\r", b"a\r\r\n.\r\n");
    check(b"\r\n\r\n", b"\r\n\r\n.\r\n");
    check(b"a\n\n\n", b"a\r\n\r\n\r\n.\r\n");
}

#[test]
fn wire_octets_match_wire_size() {
    for message in [
        &b""[..],
        b"a",
        b"a\n",
        b"a\r\nb\nc",
        b"\n\n\r\r\n",
        b".\n.",
        b"\r",
    ] {
        for chunk in [1, 2, 7] {
            let mut encoder = BodyEncoder::whole();
            let mut counter = WireSizeCounter::default();
            let mut out = Vec::new();
            for piece in message.chunks(chunk) {
                encoder.encode(piece, &mut out);
                counter.update(piece);
            }
            assert_eq!(encoder.wire_octets(), wire_size(message), "{message:?}");
            assert_eq!(counter.size(), wire_size(message), "{message:?}");
        }
    }
    assert_eq!(wire_size(b"a\nb\r\nc\n"), 9);
}

#[test]
fn top_cases() {
    let message = b"H: 1\r\nH: 2\r\n\r\nb1\r\n.b2\nb3\r\n";
    for chunk in [1, 2, 3, 100] {
        assert_eq!(
            top(message, 0, chunk),
            b"H: 1\r\nH: 2\r\n\r\n.\r\n",
            "chunk {chunk}"
        );
        assert_eq!(top(message, 1, chunk), b"H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n");
        assert_eq!(
            top(message, 2, chunk),
            b"H: 1\r\nH: 2\r\n\r\nb1\r\n..b2\r\n.\r\n"
        );
        assert_eq!(top(message, u64::MAX, chunk), stuff(message, 4));
        // A blank line made of LF alone, or split CR | LF, ends the header too.
        assert_eq!(top(b"H\n\nb\n", 0, chunk), b"H\r\n\r\n.\r\n");
        // "\r\r\n" is not a blank line.
        assert_eq!(top(b"H\r\n\r\r\nb\r\n", 0, chunk), b"H\r\n\r\r\nb\r\n.\r\n");
        // No blank line: everything is header.
        assert_eq!(top(b"H: 1\r\nH: 2", 0, chunk), b"H: 1\r\nH: 2\r\n.\r\n");
    }
}
