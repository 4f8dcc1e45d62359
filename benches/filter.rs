//! Criterion benchmarks for the rewriter and the whole in-memory filter.
//!
//! Group `scan`: the sans-IO [`Rewriter`] over a message without placeholders (a multipart
//! with text parts and base64 parts), the whole message handed over at once with `eof`, every
//! piece it hands back counted but not copied. This is the passthrough cost of tracking the
//! MIME structure, without any I/O. Sizes 2 KB, 1 MB and 100 MB; throughput in input bytes.
//!
//! Group `rewrite`: [`mimeinject::rewrite`] from a slice into `io::sink()`, attachments from a
//! [`MemorySource`], for a 2 KB template with 0, 1 and 10 placeholders of 5 MiB each (the
//! origin workload's per-recipient attachment). This is the whole filter minus the process
//! and the pipe. Throughput in output bytes.
//!
//! Both keep sample counts low so that `cargo bench --bench filter` takes about a minute.

use std::hint::black_box;
use std::io;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mimeinject::encode::{encoded_len, Eol, LineEncoder};
use mimeinject::{rewrite, Action, Config, Limits, MemorySource, Rewriter};

mod data;
use data::random;

const HEADER: &str = "\
From: Billing <billing@example.test>
To: Customer <user@example.test>
Subject: Your monthly statement
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <statement-42@example.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"=_outer_7f3a\"

This is a multi-part message in MIME format.
";

const TEXT: &str = "\
Dear customer,

please find your statement for November attached. The amount of 42.00 EUR
will be collected from your account on the 1st of next month. If you have
any questions about this statement, reply to this message or call us on
weekdays between 9:00 and 17:00.

-- 
Example Billing, 1 Example Street, Example Town
";

/// A multipart/mixed message of about `target` bytes without placeholders: text parts and
/// base64 parts (random content of up to 256 KiB each) alternating, then the closing
/// delimiter.
fn passthrough_message(target: usize) -> Vec<u8> {
    let mut msg = HEADER.as_bytes().to_vec();
    let mut seed = 1;
    loop {
        msg.extend_from_slice(b"\n--=_outer_7f3a\nContent-Type: text/plain; charset=utf-8\n\n");
        msg.extend_from_slice(TEXT.as_bytes());
        let room = target.saturating_sub(msg.len() + 200);
        if room < 200 {
            break;
        }
        // Raw bytes that encode to at most `room`, and at most 256 KiB.
        let raw = (room / 78 * 57).min(256 << 10);
        msg.extend_from_slice(
            b"\n--=_outer_7f3a\nContent-Type: application/pdf; name=\"doc.pdf\"\n\
              Content-Disposition: attachment; filename=\"doc.pdf\"\n\
              Content-Transfer-Encoding: base64\n\n",
        );
        let mut enc = LineEncoder::new(Eol::Lf);
        enc.push(&random(raw, seed), &mut msg);
        enc.finish(&mut msg);
        msg.pop(); // the part's last line ending belongs to the next delimiter
        seed += 1;
    }
    msg.extend_from_slice(b"\n--=_outer_7f3a--\n");
    msg
}

/// The 2 KB-class template with `n` stub placeholders, `att/N.bin`.
fn template(n: usize) -> Vec<u8> {
    let mut msg = HEADER.as_bytes().to_vec();
    for _ in 0..4 {
        msg.extend_from_slice(b"\n--=_outer_7f3a\nContent-Type: text/plain; charset=utf-8\n\n");
        msg.extend_from_slice(TEXT.as_bytes());
    }
    for i in 0..n {
        let stub = format!(
            "\n--=_outer_7f3a\nContent-Type: application/x-mimeinject; path=\"att/{i}.bin\";\n \
             filename=\"Statement {i}.pdf\"\n\n"
        );
        msg.extend_from_slice(stub.as_bytes());
    }
    msg.extend_from_slice(b"\n--=_outer_7f3a--\n");
    msg
}

/// The default configuration without the output and attachment limits, which the 100 MB
/// passthrough and ten 5 MiB attachments go past on purpose.
fn unlimited() -> Config {
    let limits = Limits { output_bytes: u64::MAX, attachment_bytes: u64::MAX, ..Limits::default() };
    Config::builder().limits(limits).build().expect("a valid configuration")
}

/// Runs the rewriter over `input` with `eof` set and returns the bytes it would write.
fn scan_once(input: &[u8]) -> u64 {
    let mut rw = Rewriter::new(unlimited());
    let mut pos = 0;
    let mut written = 0u64;
    loop {
        let step = rw.step(&input[pos..], true).expect("a valid message");
        pos += step.consumed;
        match step.action {
            Action::Write(bytes) => written += black_box(bytes).len() as u64,
            Action::Finished => return written,
            Action::Attach(_) | Action::NeedInput => unreachable!("no placeholders, eof given"),
        }
    }
}

fn scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan");
    for (label, size, samples) in
        [("2KB", 2_000, 100), ("1MB", 1_000_000, 30), ("100MB", 100_000_000, 10)]
    {
        let msg = passthrough_message(size);
        assert_eq!(scan_once(&msg), msg.len() as u64, "passthrough must write every byte");
        group.sample_size(samples);
        group.measurement_time(Duration::from_secs(if size > 10_000_000 { 8 } else { 3 }));
        group.warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Bytes(msg.len() as u64));
        group.bench_function(BenchmarkId::new("passthrough", label), |b| {
            b.iter(|| scan_once(black_box(&msg)))
        });
    }
    group.finish();
}

fn filter(c: &mut Criterion) {
    const ATTACHMENT: usize = 5 << 20;
    let mut group = c.benchmark_group("rewrite");
    let mut files = MemorySource::new();
    for i in 0..10 {
        files.insert(format!("att/{i}.bin"), random(ATTACHMENT, 100 + i as u64));
    }
    let config = unlimited();
    for n in [0usize, 1, 10] {
        let msg = template(n);
        let mut out = Vec::new();
        let summary = rewrite(&config, &files, &mut &msg[..], &mut out).expect("rewrite");
        assert_eq!(summary.replaced, n);
        assert_eq!(summary.bytes_out, out.len() as u64);
        if n > 0 {
            let encoded = encoded_len(ATTACHMENT as u64, Eol::Lf) as usize;
            assert!(out.len() > msg.len() + n * encoded, "every attachment is in the output");
        }
        group.sample_size(if n == 0 { 100 } else { 10 });
        group.measurement_time(Duration::from_secs(if n == 10 { 6 } else { 3 }));
        group.warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(BenchmarkId::new("placeholders", n), |b| {
            b.iter(|| {
                rewrite(&config, &files, &mut black_box(&msg[..]), &mut io::sink())
                    .expect("rewrite")
                    .bytes_out
            })
        });
    }
    group.finish();
}

criterion_group!(benches, scan, filter);
criterion_main!(benches);
