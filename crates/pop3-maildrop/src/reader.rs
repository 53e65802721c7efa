//! [`MessageReader`]: one message streamed for RETR/TOP, checked against its listed size.

use std::fs::File;
use std::io::Read;

use crate::error::{Error, Result};
use crate::wire::SizeCounter;

/// Streams one message. It never returns more octets than the message was listed with, and
/// reports [`Error::SizeChanged`] if the file turns out longer or shorter, so a message is
/// never sent silently short or long.
#[derive(Debug)]
pub struct MessageReader {
    pub(crate) file: File,
    pub(crate) name: String,
    pub(crate) expected_wire: u64,
    pub(crate) counter: SizeCounter,
}

impl MessageReader {
    /// Reads the next chunk into `buf`; `Ok(0)` at the end, once the size was verified.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.file.read(buf) {
                Ok(0) => {
                    return if self.counter.wire() == self.expected_wire {
                        Ok(0)
                    } else {
                        Err(self.size_changed())
                    };
                }
                Ok(n) => {
                    self.counter.update(&buf[..n]);
                    if self.counter.wire() > self.expected_wire {
                        return Err(self.size_changed());
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::Io {
                        op: "read",
                        path: self.name.clone().into(),
                        source: e,
                    });
                }
            }
        }
    }

    /// The wire size the message was listed with.
    pub fn expected_wire_size(&self) -> u64 {
        self.expected_wire
    }

    fn size_changed(&self) -> Error {
        Error::SizeChanged {
            name: self.name.clone(),
        }
    }
}
