//! MIME base64 (RFC 2045 §6.8): every 57 input bytes become one 76-character line.
//!
//! The output is byte for byte what GNU `base64 -w 76` prints: full lines of 76 characters,
//! a last line that may be shorter and carries the `=` padding, and a line ending after every
//! line, the last one included. Empty input gives empty output.
//!
//! Two entry points share one core:
//!
//! - [`copy_encoded`] reads a whole [`Read`] and writes the encoded lines to a [`Write`]. It
//!   is the fast path for the sync drivers and the `encode` subcommand.
//! - [`LineEncoder`] takes input in pieces of any size and appends lines to a `Vec<u8>`. It is
//!   for drivers that do their own I/O, such as the async one.
//!
//! # Speed
//!
//! Encoding one 57-byte line per call to base64-simd mostly runs its scalar head and tail, so
//! the core encodes a batch of 64 lines in one call into a small scratch array
//! that stays in L1, then copies each 76-byte piece to its place with the line ending after
//! it. There is no `unsafe` here: the scratch array is `MaybeUninit` and handed to base64-simd
//! through `Out::from_uninit_slice`, so it is never zeroed.

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;

use base64_simd::{Out, STANDARD};

/// Input bytes per full output line.
pub const LINE_INPUT: usize = 57;
/// Characters per full output line, line ending excluded.
pub const LINE_OUTPUT: usize = 76;

/// Input bytes [`copy_encoded`] reads per chunk: 1024 whole lines, 58,368 bytes.
///
/// The encoded chunk is 77,824 bytes with LF and 79,872 with CRLF. Input and output together
/// stay well inside a 512 KiB L2 cache, which measured about twice as fast as chunks of
/// half a megabyte.
pub const READ_CHUNK: usize = LINE_INPUT * 1024;

/// [`copy_encoded`] reads into an address aligned to this. The kernel's copy into user memory
/// (`rep movsb`) ran at a third of its speed into a misaligned buffer on the machine the
/// benchmarks ran on (AMD EPYC Zen 3), and a fresh `Vec` of this size starts 16 bytes past a
/// page boundary.
const READ_ALIGN: usize = 4096;

/// Lines encoded per base64-simd call before they are spread out into lines.
///
/// 64 lines are 3,648 input bytes and 4,864 encoded bytes: long enough for the AVX2 loop to
/// dominate, small enough that the scratch array and the input stay in L1.
const BATCH_LINES: usize = 64;

pub use crate::mime::Eol;

/// The length of a full encoded line ending in `eol`.
const fn line_len(eol: Eol) -> usize {
    LINE_OUTPUT + eol.as_bytes().len()
}

/// Streaming MIME base64 encoder: arbitrary input chunks in, whole lines out.
///
/// Bytes that do not yet fill a line (fewer than [`LINE_INPUT`]) are carried to the next
/// [`push`](LineEncoder::push); [`finish`](LineEncoder::finish) writes them as the last,
/// padded line. The encoder allocates nothing itself; it only grows the `Vec` it is given.
///
/// # Example
///
/// ```
/// use mimeinject::encode::{Eol, LineEncoder};
///
/// let mut enc = LineEncoder::new(Eol::CrLf);
/// let mut out = Vec::new();
/// enc.push(b"hel", &mut out);
/// enc.push(b"lo", &mut out);
/// assert!(out.is_empty()); // five bytes do not make a full line yet
/// enc.finish(&mut out);
/// assert_eq!(out, b"aGVsbG8=\r\n");
///
/// // 57 bytes make exactly one full line and leave nothing to finish.
/// out.clear();
/// enc.push(&[0u8; 57], &mut out);
/// assert_eq!(out.len(), 76 + 2);
/// enc.finish(&mut out);
/// assert_eq!(out.len(), 76 + 2);
/// ```
#[derive(Debug)]
pub struct LineEncoder {
    /// Line ending written after every line.
    eol: Eol,
    /// Input that does not fill a line yet; only `carry[..carried]` is meaningful.
    carry: [u8; LINE_INPUT],
    /// Number of carried bytes, always less than [`LINE_INPUT`] between calls.
    carried: usize,
}

impl LineEncoder {
    /// A new encoder writing lines that end in `eol`.
    pub fn new(eol: Eol) -> Self {
        LineEncoder { eol, carry: [0; LINE_INPUT], carried: 0 }
    }

    /// The line ending this encoder writes.
    pub fn eol(&self) -> Eol {
        self.eol
    }

    /// Number of input bytes held back until the next `push` or `finish` (below 57).
    pub fn carried(&self) -> usize {
        self.carried
    }

    /// Appends to `out` every complete line that `input` (after any carried bytes) makes.
    ///
    /// Input that does not fill a line is carried. When nothing is carried and `input` is a
    /// whole number of lines (for example [`READ_CHUNK`] bytes), every byte goes through the
    /// batched path and nothing is copied into the carry.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if self.carried > 0 {
            let take = (LINE_INPUT - self.carried).min(input.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&input[..take]);
            self.carried += take;
            input = &input[take..];
            if self.carried < LINE_INPUT {
                return;
            }
            self.carried = 0;
            append_lines(&self.carry, out, self.eol);
        }
        let whole = input.len() - input.len() % LINE_INPUT;
        let (lines, rest) = input.split_at(whole);
        append_lines(lines, out, self.eol);
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    /// Appends the last, short, padded line, if any bytes are carried.
    ///
    /// Appends nothing when no bytes are carried. Afterwards the encoder is empty and can
    /// encode another input.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.carried == 0 {
            return;
        }
        let mut line = [0; LINE_OUTPUT + 2];
        let n = encode_tail(&self.carry[..self.carried], &mut line, self.eol);
        out.extend_from_slice(&line[..n]);
        self.carried = 0;
    }
}

/// The number of bytes `input_len` input bytes encode to, line endings included.
pub fn encoded_len(input_len: u64, eol: Eol) -> u64 {
    let eol_len = eol.as_bytes().len() as u64;
    let full = input_len / LINE_INPUT as u64;
    let rest = input_len % LINE_INPUT as u64;
    let last = if rest == 0 { 0 } else { rest.div_ceil(3) * 4 + eol_len };
    full * (LINE_OUTPUT as u64 + eol_len) + last
}

/// Reads `reader` to its end and writes it to `writer` as MIME base64 lines.
///
/// Reads in [`READ_CHUNK`] pieces, filling each piece completely before encoding it, so only
/// the very last line can be short. Each piece becomes one `write_all`. `writer` is not
/// flushed. Reads that fail with [`io::ErrorKind::Interrupted`] are retried.
///
/// `scratch` holds the input chunk and its encoded form (about 140 KiB); pass the same
/// `Vec` again to avoid allocating it per call. Its contents on return are unspecified.
///
/// Returns the number of input bytes read.
///
/// # Errors
///
/// The first error from `reader` or `writer`. Lines already written stay written.
pub fn copy_encoded<R: Read, W: Write>(
    reader: &mut R,
    writer: &mut W,
    eol: Eol,
    scratch: &mut Vec<u8>,
) -> io::Result<u64> {
    let out_len = READ_CHUNK / LINE_INPUT * line_len(eol);
    if scratch.len() < READ_CHUNK + out_len + READ_ALIGN {
        scratch.resize(READ_CHUNK + out_len + READ_ALIGN, 0);
    }
    // Read into a page-aligned address: see READ_ALIGN. READ_CHUNK is a multiple of 64, so
    // the output that follows is cache-line aligned too.
    let skip = scratch.as_ptr().align_offset(READ_ALIGN);
    let (input, output) = scratch[skip..].split_at_mut(READ_CHUNK);
    let mut total = 0u64;
    loop {
        let filled = fill(reader, input)?;
        total += filled as u64;
        let whole = filled - filled % LINE_INPUT;
        let mut n = whole / LINE_INPUT * line_len(eol);
        encode_lines(&input[..whole], &mut output[..n], eol);
        if whole < filled {
            n += encode_tail(&input[whole..filled], &mut output[n..], eol);
        }
        if n > 0 {
            writer.write_all(&output[..n])?;
        }
        if filled < READ_CHUNK {
            return Ok(total);
        }
    }
}

/// Reads into `buf` until it is full or `reader` is at its end; returns the bytes read.
fn fill<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Appends the lines of `input`, a whole number of lines, to `out`.
fn append_lines(input: &[u8], out: &mut Vec<u8>, eol: Eol) {
    let lines = input.len() / LINE_INPUT;
    out.reserve(lines * line_len(eol));
    // Grow `out` one batch at a time so that the zeroing `resize` does touches the same
    // few KiB that are written right after, while they are still in L1.
    for batch in input.chunks(BATCH_LINES * LINE_INPUT) {
        let start = out.len();
        out.resize(start + batch.len() / LINE_INPUT * line_len(eol), 0);
        encode_lines(batch, &mut out[start..], eol);
    }
}

/// Encodes `input`, a whole number of lines, into `dst`, which has exactly their size.
fn encode_lines(input: &[u8], dst: &mut [u8], eol: Eol) {
    debug_assert_eq!(input.len() % LINE_INPUT, 0);
    debug_assert_eq!(dst.len(), input.len() / LINE_INPUT * line_len(eol));
    // One monomorphic copy per ending, so the ending is a constant inside the line loop.
    match eol {
        Eol::Lf => encode_lines_with(input, dst, *b"\n"),
        Eol::CrLf => encode_lines_with(input, dst, *b"\r\n"),
    }
}

/// [`encode_lines`] for a line ending of `E` bytes.
fn encode_lines_with<const E: usize>(input: &[u8], dst: &mut [u8], eol: [u8; E]) {
    let mut scratch = [MaybeUninit::<u8>::uninit(); BATCH_LINES * LINE_OUTPUT];
    let batches_in = input.chunks(BATCH_LINES * LINE_INPUT);
    let batches_out = dst.chunks_mut(BATCH_LINES * (LINE_OUTPUT + E));
    for (src, dst) in batches_in.zip(batches_out) {
        // 57 is a multiple of 3, so a batch of whole lines encodes without padding.
        let encoded = STANDARD.encode(src, Out::from_uninit_slice(&mut scratch));
        let pieces = encoded.chunks_exact(LINE_OUTPUT);
        for (line, piece) in dst.chunks_exact_mut(LINE_OUTPUT + E).zip(pieces) {
            let (text, end) = line.split_at_mut(LINE_OUTPUT);
            text.copy_from_slice(piece);
            end.copy_from_slice(&eol);
        }
    }
}

/// Encodes `rest` (1 to 56 bytes) as the last, padded line plus `eol` at the start of `dst`.
///
/// Returns the number of bytes written.
fn encode_tail(rest: &[u8], dst: &mut [u8], eol: Eol) -> usize {
    debug_assert!(!rest.is_empty() && rest.len() < LINE_INPUT);
    let text = STANDARD.encoded_length(rest.len());
    let _ = STANDARD.encode(rest, Out::from_slice(&mut dst[..text]));
    let eol = eol.as_bytes();
    dst[text..text + eol.len()].copy_from_slice(eol);
    text + eol.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Deterministic pseudo-random bytes (splitmix64), different for each `seed`.
    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ len as u64;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// What GNU coreutils `base64 -w 76` prints for `input`, with `eol` line endings.
    fn oracle(input: &[u8], eol: Eol) -> Vec<u8> {
        let mut child = Command::new("base64")
            .arg("-w")
            .arg("76")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run `base64` from coreutils");
        let mut stdin = child.stdin.take().unwrap();
        let output = std::thread::scope(|s| {
            s.spawn(move || stdin.write_all(input).unwrap());
            child.wait_with_output().unwrap()
        });
        assert!(output.status.success());
        let lf = output.stdout;
        match eol {
            Eol::Lf => lf,
            Eol::CrLf => {
                let mut crlf = Vec::with_capacity(lf.len() * 2);
                for &b in &lf {
                    if b == b'\n' {
                        crlf.push(b'\r');
                    }
                    crlf.push(b);
                }
                crlf
            }
        }
    }

    /// Encodes `input` with one `push` per piece, then `finish`.
    fn pushed<'a>(pieces: impl IntoIterator<Item = &'a [u8]>, eol: Eol) -> Vec<u8> {
        let mut enc = LineEncoder::new(eol);
        let mut out = Vec::new();
        for piece in pieces {
            enc.push(piece, &mut out);
            assert!(enc.carried() < LINE_INPUT);
        }
        enc.finish(&mut out);
        assert_eq!(enc.carried(), 0);
        out
    }

    fn copied<R: Read>(mut reader: R, eol: Eol, expect_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        let n = copy_encoded(&mut reader, &mut out, eol, &mut scratch).unwrap();
        assert_eq!(n, expect_len as u64);
        out
    }

    const ORACLE_LENS: [usize; 10] = [0, 1, 2, 56, 57, 58, 114, 65535, 65536, 65537];
    const EOLS: [Eol; 2] = [Eol::Lf, Eol::CrLf];

    /// A reader that hands out 1, 2, ..., 7, 1, 2, ... bytes per call and is interrupted
    /// before every third read.
    struct Trickle<'a> {
        data: &'a [u8],
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 3 == 0 {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "signal"));
            }
            let n = (self.calls % 7 + 1).min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn one_shot_matches_coreutils() {
        for len in ORACLE_LENS {
            let input = bytes(len, 1);
            for eol in EOLS {
                let expected = oracle(&input, eol);
                assert!(expected.len() >= len, "oracle output too short for {len}");
                assert!(pushed([&input[..]], eol) == expected, "len {len}, {eol:?}");
            }
        }
    }

    #[test]
    fn empty_input_gives_nothing() {
        for eol in EOLS {
            assert!(pushed([], eol).is_empty());
            assert!(pushed([&b""[..], b"", b""], eol).is_empty());
            assert!(copied(&b""[..], eol, 0).is_empty());
        }
    }

    #[test]
    fn every_split_of_short_inputs() {
        for len in 0..=200 {
            let input = bytes(len, 2);
            for eol in EOLS {
                let expected = oracle(&input, eol);
                for i in 0..=len {
                    let (a, b) = input.split_at(i);
                    assert!(pushed([a, b], eol) == expected, "len {len}, split {i}, {eol:?}");
                }
            }
        }
    }

    #[test]
    fn three_way_splits_of_64k() {
        let input = bytes(65536, 3);
        let cuts = [
            0,
            1,
            56,
            57,
            58,
            3647,
            BATCH_LINES * LINE_INPUT,
            3649,
            32768,
            READ_CHUNK - 1,
            READ_CHUNK,
            READ_CHUNK + 1,
            65535,
            65536,
        ];
        for eol in EOLS {
            let expected = oracle(&input, eol);
            for (k, &i) in cuts.iter().enumerate() {
                for &j in &cuts[k..] {
                    let pieces = [&input[..i], &input[i..j], &input[j..]];
                    assert!(pushed(pieces, eol) == expected, "cuts {i}, {j}, {eol:?}");
                }
            }
        }
    }

    #[test]
    fn random_piece_sizes() {
        let input = bytes(300_000, 4);
        let sizes = bytes(4096, 5);
        for eol in EOLS {
            let expected = oracle(&input, eol);
            for round in 0..4 {
                let mut pieces = Vec::new();
                let mut rest = &input[..];
                for (k, &s) in sizes.iter().cycle().skip(round * 100).enumerate() {
                    if rest.is_empty() {
                        break;
                    }
                    // Mostly small pieces, with an occasional large one.
                    let n = if k % 17 == 0 { s as usize * 300 } else { s as usize % 130 };
                    let (a, b) = rest.split_at(n.min(rest.len()));
                    pieces.push(a);
                    rest = b;
                }
                assert!(pushed(pieces, eol) == expected, "round {round}, {eol:?}");
            }
        }
    }

    #[test]
    fn encoder_is_reusable_after_finish() {
        let a = bytes(1000, 6);
        let b = bytes(77, 7);
        let mut enc = LineEncoder::new(Eol::Lf);
        let mut out = Vec::new();
        enc.push(&a, &mut out);
        enc.finish(&mut out);
        let first = out.len();
        enc.push(&b, &mut out);
        enc.finish(&mut out);
        enc.finish(&mut out);
        assert!(out[..first] == oracle(&a, Eol::Lf));
        assert!(out[first..] == oracle(&b, Eol::Lf));
    }

    #[test]
    fn copy_encoded_matches_coreutils() {
        let lens = ORACLE_LENS.into_iter().chain([READ_CHUNK - 1, READ_CHUNK, READ_CHUNK + 1]);
        let lens = lens.chain([2 * READ_CHUNK, 2 * READ_CHUNK + 57, 3 * READ_CHUNK + 5]);
        for len in lens {
            let input = bytes(len, 8);
            for eol in EOLS {
                let expected = oracle(&input, eol);
                assert!(copied(&input[..], eol, len) == expected, "len {len}, {eol:?}");
                let trickle = Trickle { data: &input, calls: 0 };
                assert!(copied(trickle, eol, len) == expected, "trickle len {len}, {eol:?}");
            }
        }
    }

    #[test]
    fn copy_encoded_reuses_scratch_across_endings() {
        let input = bytes(200_000, 9);
        let mut scratch = Vec::new();
        for eol in [Eol::Lf, Eol::CrLf, Eol::Lf] {
            let mut out = Vec::new();
            copy_encoded(&mut &input[..], &mut out, eol, &mut scratch).unwrap();
            assert!(out == oracle(&input, eol), "{eol:?}");
        }
    }

    #[test]
    fn copy_encoded_passes_errors_on() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("broken"))
            }
        }
        let err = copy_encoded(&mut Failing, &mut Vec::new(), Eol::Lf, &mut Vec::new());
        assert_eq!(err.unwrap_err().to_string(), "broken");

        let input = bytes(100, 10);
        let mut full = [0u8; 10];
        let err = copy_encoded(&mut &input[..], &mut &mut full[..], Eol::Lf, &mut Vec::new());
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn encoded_len_is_exact() {
        let input = bytes(200_000, 11);
        let lens = (0..=1000).chain([READ_CHUNK - 1, READ_CHUNK, READ_CHUNK + 1, 199_999]);
        for len in lens {
            for eol in EOLS {
                let actual = pushed([&input[..len]], eol).len() as u64;
                assert_eq!(encoded_len(len as u64, eol), actual, "len {len}, {eol:?}");
            }
        }
        for len in ORACLE_LENS {
            let input = bytes(len, 12);
            let expected = oracle(&input, Eol::Lf).len() as u64;
            assert_eq!(encoded_len(len as u64, Eol::Lf), expected, "oracle len {len}");
        }
        // 5 MiB and 100 MiB: `head -c N /dev/zero | base64 -w 76 | wc -c`.
        assert_eq!(encoded_len(5 << 20, Eol::Lf), 7_082_489);
        assert_eq!(encoded_len(100 << 20, Eol::Lf), 141_649_744);
    }

    #[test]
    fn lines_are_76_columns() {
        let input = bytes(10_000, 13);
        let out = pushed([&input[..]], Eol::CrLf);
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        assert_eq!(lines.last(), Some(&&b""[..]));
        let lines = &lines[..lines.len() - 1];
        assert_eq!(lines.len(), 10_000usize.div_ceil(57));
        for (k, line) in lines.iter().enumerate() {
            assert_eq!(line.last(), Some(&b'\r'), "line {k}");
            if k + 1 < lines.len() {
                assert_eq!(line.len(), 77, "line {k}");
            } else {
                assert!(line.len() < 77, "last line");
            }
        }
    }
}
