//! Wire sizes: octets after LF→CRLF normalisation (RFC 1939 §5). The only size POP3 reports,
//! equal to what RETR sends before dot-stuffing.

use std::io::Read;

/// Counts raw and wire octets across chunks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SizeCounter {
    raw: u64,
    wire: u64,
    last_was_cr: bool,
}

impl SizeCounter {
    /// Adds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        let Some(&last) = chunk.last() else { return };
        let bare_lfs = memchr::memchr_iter(b'\n', chunk)
            .filter(|&lf| match lf {
                0 => !self.last_was_cr,
                _ => chunk[lf - 1] != b'\r',
            })
            .count() as u64;
        self.raw += chunk.len() as u64;
        self.wire += chunk.len() as u64 + bare_lfs;
        self.last_was_cr = last == b'\r';
    }

    /// Octets as stored.
    pub fn raw(&self) -> u64 {
        self.raw
    }

    /// Octets on the wire.
    pub fn wire(&self) -> u64 {
        self.wire
    }
}

/// The size of a whole buffer on the wire.
pub fn wire_size(message: &[u8]) -> u64 {
    let mut counter = SizeCounter::default();
    counter.update(message);
    counter.wire()
}

/// Streams a reader to its end through `buf`, counting sizes; never holds it whole.
pub(crate) fn count_stream(mut reader: impl Read, buf: &mut [u8]) -> std::io::Result<SizeCounter> {
    let mut counter = SizeCounter::default();
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok(counter),
            Ok(n) => counter.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
