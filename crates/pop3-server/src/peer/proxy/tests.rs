//! Issue 18: PROXY headers, read octet-exact from any chunking of the stream.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::{AsyncRead, ReadBuf};

use super::{Header, HeaderError, read_header};

/// A stream that hands out at most `step` octets per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.step.min(self.data.len()).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// Reads a header from `input` in reads of `step` octets; the result and what was left.
fn read(input: &[u8], step: usize) -> (Result<Header, HeaderError>, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut stream = Trickle { data: input, step };
    let result = runtime.block_on(read_header(&mut stream));
    (result, stream.data.to_vec())
}

fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.push(0x20 | command);
    header.push(family);
    let len = u16::try_from(addresses.len() + tlvs.len()).unwrap();
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(addresses);
    header.extend_from_slice(tlvs);
    header
}

fn v2_ipv4(source: [u8; 4], port: u16) -> Vec<u8> {
    let mut addresses = source.to_vec();
    addresses.extend_from_slice(&[127, 0, 0, 1]);
    addresses.extend_from_slice(&port.to_be_bytes());
    addresses.extend_from_slice(&110u16.to_be_bytes());
    v2(1, 0x11, &addresses, &[])
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn issue_18_headers_are_read_and_nothing_after_them() {
    let hello = b"\x16\x03\x01 client hello or USER";
    let mut v6 = vec![0u8; 36];
    v6[15] = 1;
    v6[32..34].copy_from_slice(&4242u16.to_be_bytes());
    let cases: Vec<(Vec<u8>, Header)> = vec![
        (
            b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 110\r\n".to_vec(),
            Header::Relayed(addr("192.0.2.7:51000")),
        ),
        (
            b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 995\r\n".to_vec(),
            Header::Relayed(addr("[2001:db8::7]:51000")),
        ),
        (
            v2_ipv4([127, 0, 0, 2], 40000),
            Header::Relayed(addr("127.0.0.2:40000")),
        ),
        // A TLV after the addresses (PP2_TYPE_NOOP), as HAProxy may send.
        (
            v2(1, 0x21, &v6, &[4, 0, 2, 0, 0]),
            Header::Relayed(addr("[::1]:4242")),
        ),
        (v2(0, 0x00, &[], &[]), Header::Local),
        (v2(0, 0x11, &[0; 12], &[]), Header::Local),
    ];
    for (header, expected) in cases {
        for step in [1, 2, 7, 15, 4096] {
            let mut input = header.clone();
            input.extend_from_slice(hello);
            let (result, left) = read(&input, step);
            assert_eq!(result.unwrap(), expected, "{header:?} in steps of {step}");
            assert_eq!(
                left, hello,
                "{header:?} in steps of {step}: octets taken past it"
            );
        }
    }
}

#[test]
fn issue_18_bad_headers_are_refused() {
    let long = format!("PROXY UNKNOWN {}\r\n", "x".repeat(100));
    let mut bad_version = v2_ipv4([1, 2, 3, 4], 5);
    bad_version[12] = 0x11;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"USER alice\r\n".to_vec(), "no PROXY"),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            "no PROXY",
        ),
        (b"PROXY TCP4 1.2.3.4".to_vec(), "closed"),
        (long.into_bytes(), "longer than 107"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".to_vec(), "v1"),
        (b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n".to_vec(), "v1"),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n".to_vec(), "v1"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n".to_vec(), "v1"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n".to_vec(), "v1"),
        (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(), "v1"),
        (b"PROXY UNKNOWN\nUSER x\r\n".to_vec(), "v1"),
        // No client address in a PROXY (not LOCAL) header: refused, never the proxy's own
        // address (every such client would share one limit and one penalty).
        (b"PROXY UNKNOWN\r\n".to_vec(), "UNKNOWN"),
        (
            b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n".to_vec(),
            "UNKNOWN",
        ),
        (v2(1, 0x00, &[], &[]), "no TCP client address"),
        (v2(1, 0x10, &[1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2], &[]), "not a TCP source"),
        (
            v2(1, 0x12, &[1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2], &[]),
            "datagram",
        ),
        (v2(1, 0x11, &[1, 2, 3, 4], &[]), "v2"),
        (v2(2, 0x11, &[0; 12], &[]), "v2"),
        (v2(1, 0x41, &[0; 12], &[]), "v2"),
        (bad_version, "v2"),
        (v2_ipv4([1, 2, 3, 4], 5)[..20].to_vec(), "closed"),
        (Vec::new(), "closed"),
    ];
    for (input, expected) in cases {
        for step in [1, 3, 4096] {
            let (result, _) = read(&input, step);
            let error = result.expect_err("accepted").to_string();
            assert!(
                error.contains(expected),
                "{input:?}: {error}, not {expected}"
            );
        }
    }
}

#[test]
fn issue_18_pop3_is_refused_at_its_first_octets() {
    // A client that speaks first and then waits: refused at once, not at the deadline.
    let (result, left) = read(b"USER", 4096);
    assert!(matches!(result, Err(HeaderError::Missing)), "{result:?}");
    assert!(left.is_empty());
    let (result, _) = read(b"\r\n\r\nX", 1);
    assert!(matches!(result, Err(HeaderError::Missing)), "{result:?}");
}

proptest! {
    #[test]
    fn issue_18_any_input_is_read_within_its_bounds(
        input in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in 0usize..3,
        step in 1usize..40,
    ) {
        // Inputs that start like a header reach the parsers more often.
        let mut data = match prefix {
            0 => b"PROXY ".to_vec(),
            1 => b"\r\n\r\n\0\r\nQUIT\n".to_vec(),
            _ => Vec::new(),
        };
        data.extend_from_slice(&input);
        let (result, left) = read(&data, step);
        let taken = data.len() - left.len();
        if data.starts_with(b"PROXY ") {
            prop_assert!(taken <= 107);
        } else {
            prop_assert!(taken <= 16 + 65_535);
        }
        if result.is_ok() {
            prop_assert!(taken >= 15);
        }
    }

    #[test]
    fn issue_18_any_v4_header_then_any_octets(
        source in any::<[u8; 4]>(),
        port in any::<u16>(),
        v1 in any::<bool>(),
        after in proptest::collection::vec(any::<u8>(), 0..64),
        step in 1usize..40,
    ) {
        let mut data = if v1 {
            let ip = std::net::Ipv4Addr::from(source);
            format!("PROXY TCP4 {ip} 10.0.0.1 {port} 110\r\n").into_bytes()
        } else {
            v2_ipv4(source, port)
        };
        data.extend_from_slice(&after);
        let (result, left) = read(&data, step);
        prop_assert_eq!(result.unwrap(), Header::Relayed(SocketAddr::from((source, port))));
        prop_assert_eq!(left, after);
    }
}
