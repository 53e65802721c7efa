//! The PROXY protocol header (HAProxy's `proxy-protocol.txt`, versions 1 and 2), read from
//! the first octets of a connection on a listener with `proxy_protocol = true`.
//!
//! **The header is read octet-exact: never an octet past its end**, so what follows (a TLS
//! ClientHello on an implicit-TLS listener, the client's first command) is left in the socket
//! for the session. The first read asks for 15 octets, fewer than any header (v1's shortest,
//! `PROXY UNKNOWN\r\n`, is 15; v2's fixed part is 16); **each read is checked against both
//! signatures, so a client that speaks POP3 (or TLS) to the listener is refused at its first
//! octets** rather than at the deadline. Then a v1 line is read one octet at a time up to its
//! LF, at most 107 octets (the spec's bound); a v2 header is its 16 octets and the length
//! they declare (at most 65,535 more, the spec's own bound), read in one piece. The octets are
//! parsed by the `ppp` crate.
//!
//! **What the server uses** (the spec's §2.1 and §2.2): a TCP source over IPv4 or IPv6 is the
//! client; v2's LOCAL command (HAProxy's health checks), v1's `UNKNOWN` and a v2 PROXY of the
//! UNSPEC or UNIX family "must use the real connection endpoints": the proxy's own address
//! ([`Header::Local`]). A v2 datagram source is refused.

use std::net::SocketAddr;

use ppp::{v1, v2};
use tokio::io::{AsyncRead, AsyncReadExt};

/// What a well-formed header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// The proxy relays a TCP client from this address.
    Relayed(SocketAddr),
    /// The proxy speaks for itself (LOCAL, a health check) or names no usable address: the
    /// connection's own peer is the client.
    Local,
}

/// Why a header was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    /// The first octets are neither PROXY signature.
    #[error("no PROXY protocol header (the connection opened with other octets)")]
    Missing,
    /// The peer closed before the header was complete.
    #[error("the connection closed inside the PROXY header")]
    Closed,
    /// A v1 line without its LF within 107 octets.
    #[error("a PROXY v1 header longer than 107 octets")]
    TooLong,
    /// A v1 line the parser refused.
    #[error("malformed PROXY v1 header: {0}")]
    V1(String),
    /// A v2 header the parser refused, or a source that is not TCP.
    #[error("malformed PROXY v2 header: {0}")]
    V2(String),
    /// Reading the socket failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
}

/// The v2 signature (spec §2.2).
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The start of every v1 line (spec §2.1).
const V1_PREFIX: &[u8; 6] = b"PROXY ";
/// The longest v1 line, CRLF included (spec §2.1).
const V1_MAX: usize = 107;
/// The shortest header of either version: `PROXY UNKNOWN\r\n`.
const SHORTEST: usize = 15;
/// v2's fixed part: signature, version and command, family and protocol, length.
const V2_FIXED: usize = 16;

/// Reads one header from the start of `stream`, and not an octet more. The caller bounds
/// the time it may take.
pub(crate) async fn read_header<R: AsyncRead + Unpin>(
    stream: &mut R,
) -> Result<Header, HeaderError> {
    let mut buf = Vec::with_capacity(V2_FIXED);
    read_to(stream, &mut buf, SHORTEST).await?;
    if buf.starts_with(V1_PREFIX) {
        read_v1(stream, buf).await
    } else {
        read_v2(stream, buf).await
    }
}

/// Whether `octets` can still begin a header of either version.
pub(crate) fn may_begin_header(octets: &[u8]) -> bool {
    let v1 = &octets[..octets.len().min(V1_PREFIX.len())];
    let v2 = &octets[..octets.len().min(V2_SIGNATURE.len())];
    V1_PREFIX.starts_with(v1) || V2_SIGNATURE.starts_with(v2)
}

/// The rest of a v1 line, octet by octet up to its LF, then parsed.
async fn read_v1<R: AsyncRead + Unpin>(
    stream: &mut R,
    mut buf: Vec<u8>,
) -> Result<Header, HeaderError> {
    while buf.last() != Some(&b'\n') {
        if buf.len() >= V1_MAX {
            return Err(HeaderError::TooLong);
        }
        let next = buf.len() + 1;
        read_to(stream, &mut buf, next).await?;
    }
    // An LF before the last octet read means the line ended earlier than it claims.
    if buf.iter().position(|&b| b == b'\n') != Some(buf.len() - 1) {
        return Err(HeaderError::V1("a line feed inside the line".into()));
    }
    let header = v1::Header::try_from(&buf[..]).map_err(|e| HeaderError::V1(e.to_string()))?;
    if header.header.len() != buf.len() {
        return Err(HeaderError::V1("octets after the CRLF".into()));
    }
    Ok(match header.addresses {
        v1::Addresses::Tcp4(a) => {
            Header::Relayed(SocketAddr::from((a.source_address, a.source_port)))
        }
        v1::Addresses::Tcp6(a) => {
            Header::Relayed(SocketAddr::from((a.source_address, a.source_port)))
        }
        // No client address: believing it to be the proxy's would put every such client
        // under one per-address limit and one penalty (one bad client locking all out); the
        // spec lets a receiver refuse it. Only v2 LOCAL (health checks) is the proxy itself.
        v1::Addresses::Unknown => {
            return Err(HeaderError::V1("UNKNOWN: no client address".into()));
        }
    })
}

/// The rest of a v2 header: the fixed part, then the length it declares, then parsed.
async fn read_v2<R: AsyncRead + Unpin>(
    stream: &mut R,
    mut buf: Vec<u8>,
) -> Result<Header, HeaderError> {
    read_to(stream, &mut buf, V2_FIXED).await?;
    let declared = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    read_to(stream, &mut buf, V2_FIXED + declared).await?;
    let header = v2::Header::try_from(&buf[..]).map_err(|e| HeaderError::V2(e.to_string()))?;
    if header.command == v2::Command::Local {
        return Ok(Header::Local);
    }
    let stream = header.protocol == v2::Protocol::Stream;
    match header.addresses {
        v2::Addresses::IPv4(a) if stream => Ok(Header::Relayed(SocketAddr::from((
            a.source_address,
            a.source_port,
        )))),
        v2::Addresses::IPv6(a) if stream => Ok(Header::Relayed(SocketAddr::from((
            a.source_address,
            a.source_port,
        )))),
        v2::Addresses::IPv4(_) | v2::Addresses::IPv6(_) => Err(HeaderError::V2(
            "not a TCP source (datagram or unspecified)".into(),
        )),
        // A PROXY command without a client address: refused like v1 UNKNOWN (only LOCAL is
        // the proxy itself).
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => Err(HeaderError::V2(
            "no TCP client address (UNSPEC or UNIX)".into(),
        )),
    }
}

/// Reads until `buf` holds `len` octets, asking for no more than are missing; the first
/// octets are checked against the signatures as they arrive.
async fn read_to<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    len: usize,
) -> Result<(), HeaderError> {
    let mut chunk = [0u8; 512];
    while buf.len() < len {
        let want = (len - buf.len()).min(chunk.len());
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(HeaderError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        if !may_begin_header(buf) {
            return Err(HeaderError::Missing);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
