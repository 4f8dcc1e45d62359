//! Criterion benchmarks for the MIME base64 line encoder.
//!
//! Group `encoder`: `LineEncoder::push` of the whole input plus `finish`, into a `Vec` reused
//! across iterations, for LF and CRLF, at one line (57 B), one pipe buffer (64 KiB) and a
//! typical attachment (5 MiB). Throughput is in input bytes.
//!
//! Group `copy_encoded`: the `Read` → `Write` path from an in-memory slice into
//! `io::sink()`, same sizes, with one reused scratch buffer. It shows the encoding cost
//! without the output `Vec` growing to the whole encoded size.

use std::io;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mimeinject::encode::{copy_encoded, encoded_len, Eol, LineEncoder};

mod data;
use data::random;

/// The sizes every group runs: one line, one pipe buffer, one typical attachment.
const SIZES: [(&str, usize); 3] = [("57B", 57), ("64KiB", 64 << 10), ("5MiB", 5 << 20)];
/// Both line endings.
const EOLS: [(&str, Eol); 2] = [("lf", Eol::Lf), ("crlf", Eol::CrLf)];

fn encoder(c: &mut Criterion) {
    let mut group = c.benchmark_group("encoder");
    for (label, len) in SIZES {
        let data = random(len, 0);
        group.throughput(Throughput::Bytes(len as u64));
        for (name, eol) in EOLS {
            let mut out = Vec::with_capacity(encoded_len(len as u64, eol) as usize);
            let mut enc = LineEncoder::new(eol);
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| {
                    out.clear();
                    enc.push(black_box(&data), &mut out);
                    enc.finish(&mut out);
                    black_box(out.len())
                })
            });
        }
    }
    group.finish();
}

fn copy(c: &mut Criterion) {
    let mut group = c.benchmark_group("copy_encoded");
    let mut scratch = Vec::new();
    for (label, len) in SIZES {
        let data = random(len, 0);
        group.throughput(Throughput::Bytes(len as u64));
        for (name, eol) in EOLS {
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| {
                    let mut reader = black_box(&data[..]);
                    copy_encoded(&mut reader, &mut io::sink(), eol, &mut scratch).unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, encoder, copy);
criterion_main!(benches);
