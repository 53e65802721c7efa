//! Throughput of the dot-stuffing encoder (GB/s of raw message in) and of the command parser.
//!
//! Run with `cargo bench -p pop3-proto --bench encoder` or `cargo xtask bench`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pop3_proto::{BodyEncoder, Command};

/// The chunk size the server reads message files in.
const CHUNK: usize = 64 * 1024;

/// A deterministic mail-like body: lines of 20 to 76 printable characters, a few of them
/// starting with a dot, ended with `eol`.
fn corpus(size: usize, eol: &[u8], dot_every: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut out = Vec::with_capacity(size + 100);
    let mut line = 0usize;
    while out.len() < size {
        let len = 20 + (next() % 57) as usize;
        if dot_every > 0 && line.is_multiple_of(dot_every) {
            out.push(b'.');
        }
        out.extend((0..len).map(|_| b' ' + (next() % 94) as u8 + 1));
        out.extend_from_slice(eol);
        line += 1;
    }
    out.truncate(size);
    out
}

fn encode_all(message: &[u8], out: &mut Vec<u8>) {
    let mut encoder = BodyEncoder::whole();
    for chunk in message.chunks(CHUNK) {
        out.clear();
        encoder.encode(chunk, out);
        black_box(&out);
    }
    out.clear();
    encoder.finish(out);
}

fn encoder(c: &mut Criterion) {
    let size = 8 * 1024 * 1024;
    let cases = [
        ("crlf", corpus(size, b"\r\n", 0)),
        ("lf", corpus(size, b"\n", 0)),
        ("crlf-dots", corpus(size, b"\r\n", 3)),
        ("binary", corpus(size, b"", 0)),
    ];
    let mut group = c.benchmark_group("encoder");
    group.throughput(Throughput::Bytes(size as u64));
    let mut out = Vec::with_capacity(2 * CHUNK + 64);
    for (name, message) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| encode_all(black_box(message), &mut out))
        });
    }
    group.finish();
}

fn parser(c: &mut Criterion) {
    let lines: [&[u8]; 4] = [
        b"RETR 12345",
        b"LIST",
        b"TOP 17 10",
        b"PASS correct horse battery",
    ];
    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("commands", |b| {
        b.iter(|| {
            for line in lines {
                let _ = black_box(Command::parse(black_box(line)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, encoder, parser);
criterion_main!(benches);
