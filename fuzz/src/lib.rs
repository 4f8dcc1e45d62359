//! What the fuzz targets share: the control byte, the mail alphabet, chunked reading, a
//! confined root directory on disk, and a driver that feeds the sans-IO core the way a pipe
//! would.

#![deny(missing_docs)]

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mimeinject::encode::LineEncoder;
use mimeinject::sign::SigningKey;
use mimeinject::{
    Action, AttachmentSource, Config, Eol, Error, ErrorKind, FsRoot, Limits, MemorySource,
    Rewriter, UnsignedPolicy,
};

/// How a target reads its first byte: which alphabet, which limits, how to chunk.
#[derive(Clone, Copy, Debug)]
pub struct Control {
    /// Map the rest of the input through [`remap`] first.
    pub remap: bool,
    /// Run with small limits, so that every limit can be reached by a short input.
    pub tight: bool,
    /// Picks the chunk sizes, see [`chunk_len`].
    pub seed: u8,
}

/// Splits the fuzz input into its control byte and the message.
pub fn split(data: &[u8]) -> Option<(Control, Vec<u8>)> {
    let (&c, rest) = data.split_first()?;
    let control = Control { remap: c & 1 != 0, tight: c & 2 != 0, seed: c >> 2 };
    let message = if control.remap { remap(rest) } else { rest.to_vec() };
    Some((control, message))
}

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
        ("a.txt", b"hello world\n".to_vec()),
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
    pub root: FsRoot,
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
        let root = FsRoot::new(dir.join("root")).expect("open the fuzz root");
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

/// The configuration for `control`: a variable, and the default or small limits.
pub fn config(control: Control, preflight: bool) -> Config {
    let limits = if control.tight {
        Limits {
            attachment_bytes: 1000,
            output_bytes: 1 << 20,
            placeholders: 3,
            header_bytes: 300,
            depth: 3,
            line_bytes: 100,
        }
    } else {
        Limits::default()
    };
    let mut b = Config::builder().var("rcpt", "u@example.test").limits(limits);
    if !preflight {
        b = b.preflight_window(0);
    }
    b.build().expect("the fuzz configuration is valid")
}

/// Like [`config`], but with a signing key and [`UnsignedPolicy::Pass`]: no placeholder can be
/// honoured (the fuzzer cannot forge an HMAC), so every unsigned one passes as an ordinary
/// part and whatever the rewriter does not refuse must come out byte-identical.
pub fn unsigned_pass_config(control: Control) -> Config {
    let base = config(control, true);
    let key = SigningKey::from_bytes(&[0x5a; 32]).expect("a 32-byte key is long enough");
    Config::builder()
        .var("rcpt", "u@example.test")
        .limits(*base.limits())
        .key(key)
        .unsigned(UnsignedPolicy::Pass)
        .build()
        .expect("the fuzz configuration is valid")
}

/// How many new bytes the `i`-th read reveals: one at a time for seed 0, otherwise a
/// cycle of sizes from 1 to 64 that depends on the seed.
pub fn chunk_len(seed: u8, i: usize) -> usize {
    let s = seed as usize;
    if s == 0 {
        return 1;
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
