//! The synchronous driver: [`Read`] in, [`Write`] out, attachments from an
//! [`AttachmentSource`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use crate::config::Config;
use crate::encode::{copy_encoded, Eol};
use crate::error::{Error, ErrorKind};
use crate::rewriter::{Action, Rewriter, Summary};
use crate::source::{AttachmentSource, Changed, Opened};

/// How much the driver asks for in one `read` once streaming.
pub(crate) const READ_SIZE: usize = 128 << 10;

/// The first buffer's capacity, for a pre-flight `window`: room for a small message from the
/// first read (an empty Vec would make `read_to_end` start with 32-byte probe reads, one
/// system call each).
pub(crate) fn first_read_capacity(window: usize) -> usize {
    window.saturating_add(1).min(READ_SIZE)
}

/// How much the pre-flight read takes: one byte more than `window` says whether the message
/// fits. Saturating: a window of `usize::MAX` must read everything, not wrap around to
/// nothing.
pub(crate) fn preflight_read_limit(window: usize) -> u64 {
    (window as u64).saturating_add(1)
}

/// Every streaming `read` lands at an address aligned to this. The kernel's copy into user
/// memory (`_copy_to_iter`, `rep movsb`) ran at a third of its speed into a misaligned buffer
/// on the machine the benchmarks ran on (AMD EPYC Zen 3): a 100 MB passthrough to /dev/null
/// took 46 ms of system time instead of 13 ms.
const READ_ALIGN: usize = 4096;

/// Rewrites one message from `reader` to `writer`.
///
/// A message no longer than the configuration's pre-flight window is read whole first, and
/// every placeholder is resolved and its file opened and checked against the limits before
/// anything is written: on any such error, nothing at all has been written. A longer message
/// streams; on error, what was written before must be discarded (an MTA does, when the filter
/// exits non-zero).
///
/// Pre-flight keeps the first [`PREFLIGHT_OPEN_FILES`] files open until they are written, so
/// what goes out is the file it checked, whatever happens to the name meanwhile (a rename
/// over it delivers the old file whole). Later files are closed after the check and opened
/// again when their turn comes, so that a message with thousands of placeholders does not
/// need thousands of open files; such a file must then have the size pre-flight saw. A file
/// that changed after pre-flight ([`ErrorKind::Changed`], or gone) can therefore fail the
/// message after output has started, as any file that changes while it is read does.
///
/// Each attachment is read up to its size at open plus one byte, never further: a file that
/// grows fails with [`ErrorKind::Changed`] before its new bytes are written, so the output
/// stays within the limit checked against the size at open.
///
/// Only unchanged spans of the input and generated pieces are written; `writer` is not
/// flushed.
///
/// ```
/// use mimeinject::{rewrite, Config, MemorySource};
///
/// let mut files = MemorySource::new();
/// files.insert("hello.txt", "hello\n");
/// let message = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
///                Content-Type: application/x-mimeinject; path=hello.txt\n\n--b--\n";
/// let mut out = Vec::new();
/// let summary = rewrite(&Config::default(), &files, &mut message.as_bytes(), &mut out)?;
/// assert_eq!(summary.replaced, 1);
/// assert!(String::from_utf8(out)?.contains("\naGVsbG8K\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Every reason to refuse the message, see [`ErrorKind`].
pub fn rewrite<R, W, S>(
    config: &Config,
    source: &S,
    reader: &mut R,
    writer: &mut W,
) -> Result<Summary, Error>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
    S: AttachmentSource + ?Sized,
{
    let window = config.preflight_window;
    let mut buf = Vec::with_capacity(first_read_capacity(window));
    if window > 0 {
        reader
            .take(preflight_read_limit(window))
            .read_to_end(&mut buf)
            .map_err(|e| Error::new(ErrorKind::Read(e)))?;
        if buf.len() <= window {
            let checked = preflight(config, source, &buf)?;
            if checked.is_passthrough(config) {
                writer.write_all(&buf).map_err(write_error)?;
                return Ok(checked.summary);
            }
            return write_slice(config, source, checked.files, &buf, writer);
        }
    }
    stream(config, source, buf, reader, writer)
}

/// How many files pre-flight keeps open for writing; the others are closed after their
/// check and opened again when written. Bulk mail carries one to a few attachments, so eight
/// keeps nearly every message on the first path, and an embedder rewriting many messages at
/// once holds at most eight descriptors for each.
pub const PREFLIGHT_OPEN_FILES: usize = 8;

/// A placeholder's file as pre-flight left it.
pub(crate) enum Preflighted {
    /// Open since pre-flight: what is written is the file that was checked.
    Open(Opened),
    /// Checked and closed, with its size then: opened again when its turn comes.
    Closed(u64),
}

/// What the pre-flight pass found.
pub(crate) struct Checked {
    /// Every placeholder's file, in order.
    pub files: VecDeque<Preflighted>,
    /// The pass's summary; exact when [`is_passthrough`](Self::is_passthrough).
    pub summary: Summary,
}

impl Checked {
    /// Whether the output is the input: nothing to attach and no header stage. Then the
    /// rewriter's pieces are the input's own bytes (the passthrough promise), so the input can
    /// be written in one piece instead of being scanned a second time.
    pub fn is_passthrough(&self, config: &Config) -> bool {
        self.files.is_empty() && !config.edits_headers()
    }
}

/// Runs the whole message through a rewriter without writing, opening and checking every
/// file, and keeping the first [`PREFLIGHT_OPEN_FILES`] open.
pub(crate) fn preflight<S: AttachmentSource + ?Sized>(
    config: &Config,
    source: &S,
    input: &[u8],
) -> Result<Checked, Error> {
    let mut rw = Rewriter::new(config.clone());
    let mut files = VecDeque::new();
    let mut pos = 0;
    loop {
        let step = rw.step(&input[pos..], true)?;
        pos += step.consumed;
        match step.action {
            Action::Write(_) => {}
            Action::Attach(p) => {
                let opened = source.open(&p.path)?;
                let len = opened.len;
                rw.begin_attachment(len)?;
                rw.end_attachment(len)?;
                files.push_back(if files.len() < PREFLIGHT_OPEN_FILES {
                    Preflighted::Open(opened)
                } else {
                    Preflighted::Closed(len)
                });
            }
            Action::NeedInput => unreachable!("the rewriter asked for input after eof"),
            Action::Finished => return Ok(Checked { files, summary: rw.summary() }),
        }
    }
}

/// Writes a message that is wholly in memory, with the files pre-flight checked.
fn write_slice<W, S>(
    config: &Config,
    source: &S,
    mut files: VecDeque<Preflighted>,
    input: &[u8],
    writer: &mut W,
) -> Result<Summary, Error>
where
    W: Write + ?Sized,
    S: AttachmentSource + ?Sized,
{
    let mut rw = Rewriter::new(config.clone());
    let mut scratch = Vec::new();
    let mut pos = 0;
    loop {
        let step = rw.step(&input[pos..], true)?;
        pos += step.consumed;
        match step.action {
            Action::Write(bytes) => writer.write_all(bytes).map_err(write_error)?,
            Action::Attach(p) => {
                let path = p.path.clone();
                let opened = match files.pop_front().expect("pre-flight checked every file") {
                    Preflighted::Open(opened) => opened,
                    Preflighted::Closed(len) => reopen(source, &path, len)?,
                };
                attach(&mut rw, &path, opened, writer, &mut scratch)?;
            }
            Action::NeedInput => unreachable!("the rewriter asked for input after eof"),
            Action::Finished => return Ok(rw.summary()),
        }
    }
}

/// Streams a message through a bounded buffer that starts with `buf`.
fn stream<R, W, S>(
    config: &Config,
    source: &S,
    buf: Vec<u8>,
    reader: &mut R,
    writer: &mut W,
) -> Result<Summary, Error>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
    S: AttachmentSource + ?Sized,
{
    let mut input = InputBuffer::new(buf, config);
    let mut rw = Rewriter::new(config.clone());
    let mut scratch = Vec::new();
    loop {
        let step = rw.step(input.pending(), input.eof)?;
        let consumed = step.consumed;
        match step.action {
            Action::Write(bytes) => writer.write_all(bytes).map_err(write_error)?,
            Action::Attach(p) => {
                let path = p.path.clone();
                let opened = source.open(&path)?;
                attach(&mut rw, &path, opened, writer, &mut scratch)?;
            }
            Action::NeedInput => {
                input.consume(consumed);
                let n = read_some(reader, input.space()?)?;
                input.filled(n);
                continue;
            }
            Action::Finished => return Ok(rw.summary()),
        }
        input.consume(consumed);
    }
}

/// The streaming drivers' input: a buffer whose front the rewriter has not consumed.
///
/// It starts at [`READ_SIZE`] (or the size of what pre-flight read) and grows, doubling, only
/// while the rewriter keeps asking for more of one line than it holds, up to
/// [`Limits::min_buffer`](crate::Limits::min_buffer): room for the longest line the limits
/// let the rewriter ask to see whole. Ordinary mail never grows it.
pub(crate) struct InputBuffer {
    /// `READ_ALIGN` bytes longer than the most it holds, so that reads can be aligned.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The most pending bytes the buffer may grow to hold.
    max: usize,
    /// The reader has reported its end.
    pub eof: bool,
}

/// Pending bytes up to this many are moved to an aligned address before every read; more are
/// moved only when there is no room for a read after them, so that a long line arriving in
/// small reads is not copied again at every read.
const CHEAP_MOVE: usize = 4096;

impl InputBuffer {
    /// A buffer holding `initial`, for a rewriter with `config`'s limits.
    pub fn new(mut initial: Vec<u8>, config: &Config) -> InputBuffer {
        let end = initial.len();
        let room = end.max(READ_SIZE);
        let max = config.limits().min_buffer().max(room);
        initial.resize(room + READ_ALIGN, 0);
        InputBuffer { buf: initial, start: 0, end, max, eof: false }
    }

    /// The bytes not consumed yet.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` more bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Where to read next: up to [`READ_SIZE`] of free space after the pending bytes.
    ///
    /// When the pending bytes fill more than half the buffer it doubles (up to its maximum).
    /// Few pending bytes are moved first so that the read starts on an aligned address.
    ///
    /// # Errors
    /// The pending bytes fill a buffer of the maximum size: the rewriter asked to see more of
    /// one line than its limits allow, which it never does.
    pub fn space(&mut self) -> Result<&mut [u8], Error> {
        let len = self.end - self.start;
        let room = self.buf.len() - READ_ALIGN;
        if len > room / 2 && room < self.max {
            let grown = room.saturating_mul(2).min(self.max);
            self.buf.resize(grown.saturating_add(READ_ALIGN), 0);
        }
        let room = self.buf.len() - READ_ALIGN;
        if len >= room {
            return Err(Error::limit("buffered line bytes", room as u64));
        }
        let misaligned = (self.buf.as_ptr() as usize + len) % READ_ALIGN;
        let to = (READ_ALIGN - misaligned) % READ_ALIGN;
        let tail = self.buf.len() - self.end;
        if self.start != to && (len <= CHEAP_MOVE || tail < READ_SIZE.min(room - len)) {
            self.buf.copy_within(self.start..self.end, to);
            (self.start, self.end) = (to, to + len);
        }
        // Never more pending bytes than `room`: the check above stays exact.
        let want = (self.end + READ_SIZE).min(self.buf.len()).min(self.start + room);
        // An empty space would read as the end of the input.
        debug_assert!(want > self.end, "no room to read");
        Ok(&mut self.buf[self.end..want])
    }

    /// Records that `n` bytes were read into [`space`](Self::space); 0 is the end.
    pub fn filled(&mut self, n: usize) {
        self.eof = n == 0;
        self.end += n;
    }
}

/// Opens again a file that pre-flight checked and closed. It must have the size pre-flight
/// saw: the limits pre-flight checked, and the header it generated, depend on it.
pub(crate) fn reopen<S: AttachmentSource + ?Sized>(
    source: &S,
    path: &str,
    len: u64,
) -> Result<Opened, Error> {
    let opened = source.open(path)?;
    if opened.len != len {
        let (expected, read) = (len, opened.len);
        return Err(Error::new(ErrorKind::Changed { path: path.to_owned(), expected, read }));
    }
    Ok(opened)
}

/// Writes one attachment: the generated header, then the file's base64 lines.
fn attach<W: Write + ?Sized>(
    rw: &mut Rewriter,
    path: &str,
    opened: Opened,
    writer: &mut W,
    scratch: &mut Vec<u8>,
) -> Result<(), Error> {
    let eol = rw.eol();
    let header = rw.begin_attachment(opened.len)?;
    writer.write_all(header).map_err(write_error)?;
    let read = encode_attachment(path, opened, writer, eol, scratch)?;
    rw.end_attachment(read)
}

/// Writes `opened`'s content to `writer` as base64 lines; returns the bytes read.
///
/// Reads at most `opened.len + 1` bytes: one more than the size at open means the file grew,
/// and fails with [`ErrorKind::Changed`] before that chunk is written. A reader's own
/// [`Changed`] error (an [`FsRoot`](crate::FsRoot) file that was rewritten) becomes
/// [`ErrorKind::Changed`] too. Fewer bytes than the size at open are the caller's to refuse
/// ([`Rewriter::end_attachment`]).
pub(crate) fn encode_attachment<W: Write + ?Sized>(
    path: &str,
    opened: Opened,
    writer: &mut W,
    eol: Eol,
    scratch: &mut Vec<u8>,
) -> Result<u64, Error> {
    let expected = opened.len;
    let mut reader = Bounded { inner: opened.reader, len: expected, read: 0 };
    let mut tagged = Tagged { inner: writer, failed: false };
    copy_encoded(&mut reader, &mut tagged, eol, scratch).map_err(|err| {
        let path = path.to_owned();
        if tagged.failed {
            write_error(err)
        } else if Changed::of(&err).is_some() {
            Error::new(ErrorKind::Changed { path, expected, read: reader.read })
        } else {
            Error::new(ErrorKind::AttachmentRead { path, err })
        }
    })
}

/// A reader that reads at most `len + 1` bytes, and fails with [`Changed`] on the last one.
struct Bounded<R> {
    inner: R,
    len: u64,
    /// Bytes read so far.
    read: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.read).saturating_add(1);
        let most = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..most])?;
        self.read += n as u64;
        if self.read > self.len {
            return Err(io::Error::other(Changed("grew")));
        }
        Ok(n)
    }
}

/// A writer that remembers whether an error came from it.
struct Tagged<'w, W: Write + ?Sized> {
    inner: &'w mut W,
    failed: bool,
}

impl<W: Write + ?Sized> Write for Tagged<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|_| self.failed = true)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).inspect_err(|_| self.failed = true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|_| self.failed = true)
    }
}

fn read_some<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> Result<usize, Error> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::new(ErrorKind::Read(e))),
        }
    }
}

pub(crate) fn write_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Write(e))
}
