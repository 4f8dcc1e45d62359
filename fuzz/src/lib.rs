//! What the fuzz targets share: the control bytes (which alphabet, which configuration, how
//! to chunk), the mail alphabet, chunked reading, a confined root directory on disk, a driver
//! that feeds the sans-IO core the way a pipe would, and a MIME structure checker
//! ([`mime`]).

#![deny(missing_docs)]

pub mod mime;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mimeinject::encode::LineEncoder;
use mimeinject::sign::SigningKey;
use mimeinject::{
    Action, AttachmentSource, Config, Eol, Error, ErrorKind, FsRoot, Limits, MemorySource,
    Rewriter, UnsignedPolicy,
};

/// How a target reads its first [`CONTROL_LEN`] bytes: which alphabet, which configuration,
/// how to chunk. Every limit, the pre-flight window and the signing key vary, each over
/// values that include 0, small ones, the message's own length, the default and the largest
/// the type holds.
#[derive(Clone, Copy, Debug)]
pub struct Control {
    /// Map the rest of the input through [`remap`] first.
    pub remap: bool,
    /// `None`: no key. `Some(policy)`: a key the fuzzer cannot sign with, and this policy for
    /// the unsigned placeholders (all of them).
    pub key: Option<UnsignedPolicy>,
    /// The pre-flight window of the pre-flight runs.
    pub window: usize,
    /// The limits of every run.
    pub limits: Limits,
    /// Picks the chunk sizes, see [`chunk_len`].
    pub seed: u8,
}

/// The control bytes at the start of every fuzz input:
///
/// ```text
/// byte 0: bit 0 remap; bits 1-2 key (0, 3 none; 1 key + Fail; 2 key + Pass);
///         bits 3-5 window (WINDOW); bits 6-7 placeholders (PLACEHOLDERS)
/// byte 1: chunk seed (chunk_len)
/// byte 2: bits 0-3 header bytes (HEADER); bits 4-7 line bytes (LINE)
/// byte 3: bits 0-3 output bytes (OUTPUT); bits 4-5 attachment bytes (ATTACHMENT);
///         bits 6-7 depth (DEPTH)
/// ```
pub const CONTROL_LEN: usize = 4;

/// A value of a limit: a number, or one relative to the message's length `n`.
#[derive(Clone, Copy, Debug)]
enum V {
    N(u64),
    /// `n + k` (saturating at 0 for negative `k`).
    Len(i64),
    Default,
    Max,
}

const WINDOW: [V; 8] =
    [V::N(0), V::N(1), V::N(64), V::N(4096), V::Default, V::Max, V::Len(-1), V::Len(0)];
const PLACEHOLDERS: [V; 4] = [V::N(0), V::N(1), V::N(3), V::Default];
const HEADER: [V; 16] = [
    V::N(0),
    V::N(1),
    V::N(2),
    V::N(10),
    V::N(50),
    V::N(100),
    V::N(300),
    V::N(1000),
    V::N(4095),
    V::N(4096),
    V::N(65536),
    V::N(131072),
    V::Default,
    V::Max,
    V::Len(-1),
    V::Len(0),
];
const LINE: [V; 16] = [
    V::N(0),
    V::N(1),
    V::N(2),
    V::N(3),
    V::N(10),
    V::N(11),
    V::N(12),
    V::N(50),
    V::N(100),
    V::N(300),
    V::N(1000),
    V::N(4096),
    V::Default,
    V::Max,
    V::Len(-1),
    V::Len(0),
];
const OUTPUT: [V; 16] = [
    V::N(0),
    V::N(1),
    V::N(100),
    V::N(1000),
    V::N(3000),
    V::N(4096),
    V::N(10_000),
    V::N(65536),
    V::N(1 << 20),
    V::Default,
    V::Max,
    V::Len(-1),
    V::Len(0),
    V::Len(1),
    V::Len(100),
    V::Len(4096),
];
// big.bin is 3000 bytes.
const ATTACHMENT: [V; 4] = [V::N(0), V::N(2999), V::N(3000), V::Default];
const DEPTH: [V; 4] = [V::N(0), V::N(1), V::N(3), V::Default];

fn pick(v: V, n: usize, default: u64, max: u64) -> u64 {
    match v {
        V::N(x) => x.min(max),
        V::Len(k) => (n as i64).saturating_add(k).max(0) as u64,
        V::Default => default,
        V::Max => max,
    }
}

/// Splits the fuzz input into its control and the message (see [`CONTROL_LEN`]).
pub fn split(data: &[u8]) -> Option<(Control, Vec<u8>)> {
    let (c, rest) = data.split_first_chunk::<CONTROL_LEN>()?;
    let remap_it = c[0] & 1 != 0;
    let message = if remap_it { remap(rest) } else { rest.to_vec() };
    let n = message.len();
    let d = Limits::default();
    let size = |v, default: usize| pick(v, n, default as u64, usize::MAX as u64) as usize;
    let limits = Limits {
        attachment_bytes: pick(
            ATTACHMENT[(c[3] >> 4 & 3) as usize],
            n,
            d.attachment_bytes,
            u64::MAX,
        ),
        output_bytes: pick(OUTPUT[(c[3] & 15) as usize], n, d.output_bytes, u64::MAX),
        placeholders: size(PLACEHOLDERS[(c[0] >> 6) as usize], d.placeholders),
        header_bytes: size(HEADER[(c[2] & 15) as usize], d.header_bytes),
        depth: size(DEPTH[(c[3] >> 6) as usize], d.depth),
        line_bytes: size(LINE[(c[2] >> 4) as usize], d.line_bytes),
    };
    let key = match c[0] >> 1 & 3 {
        1 => Some(UnsignedPolicy::Fail),
        2 => Some(UnsignedPolicy::Pass),
        _ => None,
    };
    let window =
        size(WINDOW[(c[0] >> 3 & 7) as usize], mimeinject::config::DEFAULT_PREFLIGHT_WINDOW);
    Some((Control { remap: remap_it, key, window, limits, seed: c[1] }, message))
}

/// The control bytes that make [`split`] give the default configuration (no key, default
/// limits and window) with whole reads: the "whole" seeds of `fuzz/make-seeds.py`.
// The digits are grouped by the fields of each byte.
#[allow(clippy::unusual_byte_groupings)]
pub const DEFAULT_CONTROL: [u8; CONTROL_LEN] = [0b11_100_000, 255, 0xCC, 0b11_11_1001];

/// Pieces of mail that a byte of fuzz input stands for when remapping: separators and line
/// endings one byte at a time, and whole header fields, delimiters and placeholders, so that
/// multipart bodies and stub parts are reached in a few mutations.
const ALPHABET: &[&[u8]] = &[
    b"-",
    b"--",
    b"\r",
    b"\n",
    b"\r\n",
    b":",
    b";",
    b"=",
    b"\"",
    b" ",
    b"\t",
    b"'",
    b"*",
    b"%",
    b"(",
    b")",
    b"\\",
    b"/",
    b"..",
    b"{",
    b"}",
    b"a",
    b"b",
    b"c",
    b"x",
    b"0",
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Type: multipart/alternative; boundary=",
    b"Content-Type: multipart/related; boundary=\"b\"\n",
    b"Content-Type: application/x-mimeinject; path=",
    b"Content-Type: application/x-mimeinject; path=a.txt\n",
    b"Content-Type: text/plain\n",
    b"Content-Type: message/rfc822\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Disposition: attachment\n",
    b"MIME-Version: 1.0\n",
    b"mimeinject: path=",
    b"mimeinject: path=big.bin\n",
    b"\n--b\n",
    b"\n--b--\n",
    b"\n--c\n",
    b"\r\n--b\r\n",
    b"--a\n",
    b"--a--\n",
    b"a.txt",
    b"big.bin",
    b"empty",
    b"sub/c.txt",
    b"inside",
    b"escape",
    b"absolute",
    b"fifo",
    b"sub",
    b"../secret",
    b"/proc/self/environ",
    b"{rcpt}/s.txt",
    b"; filename=",
    b"; filename*=UTF-8''",
    b"; path*0=",
    b"; path*1=",
    b"; type=",
    b"; disposition=inline",
    b"; sig=",
    b"; name=",
    b"=?utf-8?q?",
    b"?=",
    b"\xc3\xa9",
    b"\xff",
    b"\0",
];

/// Maps every byte of `data` to a piece of [`ALPHABET`].
pub fn remap(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 4);
    for &b in data {
        out.extend_from_slice(ALPHABET[b as usize % ALPHABET.len()]);
    }
    out
}

/// The regular files every target can attach, as (path, content).
pub fn file_list() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // 13 bytes: its base64 ends in padding.
        ("a.txt", b"hello world!\n".to_vec()),
        ("big.bin", (0..3000u32).map(|i| (i * 7 + i / 13) as u8).collect()),
        ("empty", Vec::new()),
        ("sub/c.txt", b"in a subdirectory\n".to_vec()),
        ("u@example.test/s.txt", b"statement\r\n".to_vec()),
    ]
}

/// The files of [`file_list`] in memory.
pub fn files() -> MemorySource {
    let mut s = MemorySource::new();
    for (path, content) in file_list() {
        s.insert(path, content);
    }
    s
}

/// A file outside the root whose content must never reach the output: 57 bytes, so that
/// attached it would be exactly one base64 line.
pub const SECRET: &[u8] = b"SECRET-MARKER-8b1f2c: this must never leave the fuzz dir\n";

/// A directory on disk for the filter target, made once per process:
///
/// ```text
/// <tmp>/mimeinject-fuzz-XXXX/secret          SECRET, outside the root
/// <tmp>/mimeinject-fuzz-XXXX/root/           the FsRoot: the files of file_list(), and
///     inside   -> a.txt                      a symlink that stays inside
///     escape   -> ../secret                  a symlink that leaves the root
///     absolute -> <tmp>/.../secret           an absolute symlink
///     fifo                                   a FIFO
/// ```
///
/// The directory is removed when the process exits normally (libFuzzer's `exit`), and
/// left behind when it dies of a crash.
pub struct Fixture {
    /// The confined source over `root/`.
    pub root: std::sync::Arc<FsRoot>,
    /// The base64 line (without its line ending) that [`SECRET`] would be encoded to.
    pub secret_line: Vec<u8>,
    dir: PathBuf,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();
static FIXTURE_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_fixture() {
    if let Some(dir) = FIXTURE_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The process's [`Fixture`], made on first use.
pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("mimeinject-fuzz-")
            .tempdir()
            .expect("make the fuzz directory")
            .keep();
        let _ = FIXTURE_DIR.set(dir.clone());
        // SAFETY: registers a plain extern "C" function with no preconditions.
        unsafe { libc::atexit(remove_fixture) };
        make_tree(&dir).expect("fill the fuzz directory");
        let root = FsRoot::new(dir.join("root")).expect("open the fuzz root").into();
        let mut secret_line = Vec::new();
        let mut enc = LineEncoder::new(Eol::Lf);
        enc.push(SECRET, &mut secret_line);
        enc.finish(&mut secret_line);
        assert_eq!(secret_line.pop(), Some(b'\n'), "the secret is one base64 line");
        Fixture { root, secret_line, dir }
    })
}

impl Fixture {
    /// The directory holding `secret` and `root/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn make_tree(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::symlink;
    std::fs::write(dir.join("secret"), SECRET)?;
    let root = dir.join("root");
    std::fs::create_dir(&root)?;
    for (path, content) in file_list() {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().expect("a file has a parent"))?;
        std::fs::write(file, content)?;
    }
    symlink("a.txt", root.join("inside"))?;
    symlink("../secret", root.join("escape"))?;
    symlink(dir.join("secret"), root.join("absolute"))?;
    let fifo = std::ffi::CString::new(root.join("fifo").into_os_string().into_encoded_bytes())
        .expect("no NUL in a temporary path");
    // SAFETY: `fifo` is a valid NUL-terminated path.
    if unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The configuration for `control`: one recipient (which fills `{rcpt}`), its limits and
/// key, and its window (`preflight`) or no pre-flight at all.
pub fn config(control: Control, preflight: bool) -> Config {
    let mut b = Config::builder().recipients(["u@example.test"]).limits(control.limits);
    b = b.preflight_window(if preflight { control.window } else { 0 });
    if let Some(policy) = control.key {
        let key = SigningKey::from_bytes(&[0x5a; 32]).expect("a 32-byte key is long enough");
        b = b.key(key).unsigned(policy);
    }
    b.build().expect("the fuzz configuration is valid")
}

/// Like [`config`], but with a signing key and [`UnsignedPolicy::Pass`] whatever the control
/// says: no placeholder can be honoured (the fuzzer cannot forge an HMAC), so every unsigned
/// one passes as an ordinary part and whatever the rewriter does not refuse must come out
/// byte-identical.
pub fn unsigned_pass_config(control: Control) -> Config {
    config(Control { key: Some(UnsignedPolicy::Pass), ..control }, true)
}

/// Whether `input` must come out byte-identical under `control`'s limits: it holds no
/// `mimeinject` (in any case), so nothing in it is a placeholder. It must then be accepted
/// whole, unless it is longer than the output limit, the one documented limit that refuses
/// placeholder-free mail.
pub fn must_pass(control: &Control, input: &[u8]) -> bool {
    !contains_ci(input, b"mimeinject") && input.len() as u64 <= control.limits.output_bytes
}

/// Whether two runs of the same message failed the same way: the same kind of error (and
/// for a limit, the same limit). The output limit is the exception: it is counted as pieces
/// are written, while other checks may look ahead as far as the input at hand reaches, so
/// with a small limit which of the two comes first depends on how the input was chunked.
/// Both runs failed, which is what matters.
pub fn same_failure(a: &Error, b: &Error) -> bool {
    kind(a) == kind(b) || is_output_limit(a) || is_output_limit(b)
}

/// Whether `err` is the output limit, the only way a placeholder-free message may be refused
/// (when it is longer than the limit).
pub fn is_output_limit(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::Limit { what: "output bytes", .. })
}

/// How many new bytes the `i`-th read reveals: one at a time for seed 0, otherwise a
/// cycle of sizes from 1 to 256 that depends on the seed; seed 255 gives whole reads.
pub fn chunk_len(seed: u8, i: usize) -> usize {
    let s = seed as usize;
    if s == 0 {
        return 1;
    }
    if s == 255 {
        return usize::MAX / 2;
    }
    1 + (s.wrapping_mul(i + 1).wrapping_mul(31) ^ (i >> 1)) % (s + 1)
}

/// A reader that returns at most [`chunk_len`] bytes per read.
pub struct ChunkReader<'a> {
    data: &'a [u8],
    seed: u8,
    reads: usize,
}

impl<'a> ChunkReader<'a> {
    /// Reads `data` in chunks picked by `seed`.
    pub fn new(data: &'a [u8], seed: u8) -> Self {
        ChunkReader { data, seed, reads: 0 }
    }
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = chunk_len(self.seed, self.reads).min(buf.len()).min(self.data.len());
        self.reads += 1;
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl tokio::io::AsyncRead for ChunkReader<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = &mut *self;
        let n = chunk_len(this.seed, this.reads).min(buf.remaining()).min(this.data.len());
        this.reads += 1;
        buf.put_slice(&this.data[..n]);
        this.data = &this.data[n..];
        std::task::Poll::Ready(Ok(()))
    }
}

/// The process's tokio runtime (current thread, with its blocking pool), made on first use.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().build().expect("a tokio runtime")
    })
}

/// What a run through [`drive`] saw.
#[derive(Debug, Default)]
pub struct Run {
    /// Every byte written, in order.
    pub out: Vec<u8>,
    /// `Attach` actions seen.
    pub attached: usize,
}

/// Feeds `input` to a rewriter in chunks picked by `seed`, acting on every step as a driver
/// must. With `source` `None` it stops at the first `Attach` and returns what it has.
///
/// Panics where the rewriter breaks its contract: consuming more than it was given,
/// `NeedInput` after eof, or `Finished` before the end of the input.
pub fn drive(
    config: &Config,
    source: Option<&dyn AttachmentSource>,
    input: &[u8],
    seed: u8,
) -> (Run, Result<(), Error>) {
    let mut run = Run::default();
    let result = drive_into(config, source, input, seed, &mut run);
    (run, result)
}

fn drive_into(
    config: &Config,
    source: Option<&dyn AttachmentSource>,
    input: &[u8],
    seed: u8,
    run: &mut Run,
) -> Result<(), Error> {
    let mut rw = Rewriter::new(config.clone());
    let (mut start, mut end, mut reads) = (0, 0, 0);
    loop {
        let eof = end == input.len();
        let step = rw.step(&input[start..end], eof)?;
        let consumed = step.consumed;
        assert!(start + consumed <= end, "consumed {consumed} of {} bytes", end - start);
        match step.action {
            Action::Write(b) => run.out.extend_from_slice(b),
            Action::Attach(p) => {
                run.attached += 1;
                let Some(source) = source else { return Ok(()) };
                let path = p.path.clone();
                let mut opened = source.open(&path)?;
                let mut data = Vec::new();
                opened
                    .reader
                    .read_to_end(&mut data)
                    .expect("reading a regular file or memory does not fail");
                run.out.extend_from_slice(rw.begin_attachment(opened.len)?);
                // Encode in uneven pieces so that the encoder's carry is exercised too.
                let mut enc = LineEncoder::new(rw.eol());
                let mut rest = &data[..];
                let mut i = 0;
                while !rest.is_empty() {
                    let n = chunk_len(seed.wrapping_add(7), i).min(rest.len());
                    enc.push(&rest[..n], &mut run.out);
                    rest = &rest[n..];
                    i += 1;
                }
                enc.finish(&mut run.out);
                rw.end_attachment(data.len() as u64)?;
            }
            Action::NeedInput => {
                assert!(!eof, "NeedInput after eof");
                end = (end + chunk_len(seed, reads)).min(input.len());
                reads += 1;
            }
            Action::Finished => {
                assert_eq!(start + consumed, input.len(), "Finished before the end of the input");
                return Ok(());
            }
        }
        start += consumed;
    }
}

/// The kind of an error, for comparing the outcome of two drivers: the variant, and for a
/// limit, which one.
pub fn kind(e: &Error) -> String {
    match e.kind() {
        ErrorKind::Limit { what, .. } => format!("Limit({what})"),
        k => format!("{:?}", std::mem::discriminant(k)),
    }
}

/// Whether `hay` contains `needle` (lower-case ASCII), ignoring ASCII case.
pub fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether `hay` contains `needle` exactly.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unusual_byte_groupings)] // grouped by fields, as in `DEFAULT_CONTROL`
    fn default_control_is_the_default_configuration() {
        let input = [&DEFAULT_CONTROL[..], b"Subject: x\n\nbody\n"].concat();
        let (control, message) = split(&input).unwrap();
        assert_eq!(control.limits, Limits::default());
        assert_eq!(control.window, mimeinject::config::DEFAULT_PREFLIGHT_WINDOW);
        assert!(control.key.is_none() && !control.remap);
        assert_eq!(chunk_len(control.seed, 0), usize::MAX / 2);
        assert_eq!(message, b"Subject: x\n\nbody\n");
        // The small limits of the "tight" seeds.
        let (tight, _) = split(&[0b10_011_000, 7, 0x86, 0b10_01_1000]).unwrap();
        let want = Limits {
            attachment_bytes: 2999,
            output_bytes: 1 << 20,
            placeholders: 3,
            header_bytes: 300,
            depth: 3,
            line_bytes: 100,
        };
        assert_eq!((tight.limits, tight.window), (want, 4096));
    }
}
