//! The driver layer: the pre-flight-then-stream plan, written once, for every driver.
//!
//! A [`Plan`] runs a [`Rewriter`] over one message and says, one [`Io`] at a time, what I/O
//! its driver must do next: read into this buffer, write these bytes, open this path, encode
//! this opened file. It owns everything between the core and the I/O:
//!
//! - **the pre-flight window**: a message no longer than [`Config`]'s window is read whole
//!   first (one byte more than the window says whether it fits), and every placeholder is
//!   resolved and its file opened and checked against the limits before anything is written.
//!   On any such error, nothing at all has been written. A longer message streams; on error,
//!   what was written before must be discarded (an MTA does, when the filter exits
//!   non-zero);
//! - **the files opened**: pre-flight keeps the first [`PREFLIGHT_OPEN_FILES`] files open
//!   until they are written, so what goes out is the file it checked, whatever happens to the
//!   name meanwhile (a rename over it delivers the old file whole). Later files are closed
//!   after the check and opened again when their turn comes, so that a message with
//!   thousands of placeholders does not need thousands of open files; such a file must then
//!   have the size pre-flight saw, or the message fails with [`ErrorKind::Changed`];
//! - **the passthrough fast path**: a message in the window with nothing to attach and no
//!   header stage is written as it was read, in one piece, without a second scan;
//! - **bounded reads**: while streaming, input is read into a buffer of 128 KiB at aligned
//!   addresses, grown only while the rewriter asks to see more of one line than it holds,
//!   up to [`Limits::min_buffer`](crate::Limits::min_buffer); an attachment is read up to
//!   its size at open plus one byte, never further ([`Attachment::encode`]);
//! - **the output budget**: every piece and every attachment's encoded size is counted by the
//!   rewriter before it is handed out, so nothing past
//!   [`Limits::output_bytes`](crate::Limits::output_bytes) is ever written.
//!
//! [`AlignedWriter`] is a write buffer for a driver's output into a pipe.
//!
//! The drivers only perform the I/O, each in one short loop: [`rewrite`](crate::rewrite)
//! (`Read` to `Write`), `tokio::rewrite` (feature `tokio`), and the command's `check`
//! ([`Plan::check`]) and `deliver`. A new driver (a server session, another runtime) is one
//! more such loop:
//!
//! ```
//! use std::io::{Read, Write};
//! use mimeinject::driver::{Io, Plan};
//! use mimeinject::{AttachmentSource, Config, MemorySource, Summary};
//!
//! type Failure = Box<dyn std::error::Error>;
//!
//! fn drive(
//!     config: &Config,
//!     source: &dyn AttachmentSource,
//!     reader: &mut dyn Read,
//!     writer: &mut dyn Write,
//! ) -> Result<Summary, Failure> {
//!     let (mut plan, mut scratch) = (Plan::new(config), Vec::new());
//!     loop {
//!         match plan.next_io()? {
//!             Io::ReadWindow { buf, limit } => {
//!                 let n = reader.take(limit).read_to_end(buf)?;
//!                 plan.filled(n);
//!             }
//!             Io::Read(buf) => {
//!                 let n = reader.read(buf)?;
//!                 plan.filled(n);
//!             }
//!             Io::Write(bytes) => writer.write_all(bytes)?,
//!             Io::Open { placeholder, .. } => {
//!                 let opened = source.open(&placeholder.path)?;
//!                 plan.opened(opened)?;
//!             }
//!             Io::Encode(file) => {
//!                 let read = file.encode(writer, &mut scratch)?;
//!                 plan.encoded(read)?;
//!             }
//!             Io::Continue => {}
//!             Io::Done(summary) => return Ok(summary),
//!         }
//!     }
//! }
//!
//! let mut files = MemorySource::new();
//! files.insert("hello.txt", "hello\n");
//! let message = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
//!                Content-Type: application/x-mimeinject; path=hello.txt\n\n--b--\n";
//! let mut out = Vec::new();
//! let summary = drive(&Config::default(), &files, &mut message.as_bytes(), &mut out)?;
//! assert_eq!(summary.replaced, 1);
//! assert!(String::from_utf8(out)?.contains("\naGVsbG8K\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aligned;
mod attachment;
mod input;

use std::collections::VecDeque;
use std::io;

use crate::config::Config;
use crate::encode::Eol;
use crate::error::{Error, ErrorKind};
use crate::placeholder::Placeholder;
use crate::rewriter::{Action, Rewriter, Summary};
use crate::source::Opened;

use self::input::InputBuffer;
pub(crate) use self::input::READ_SIZE;

pub use aligned::AlignedWriter;
pub use attachment::Attachment;

/// How many files pre-flight keeps open for writing; the others are closed after their
/// check and opened again when written. Bulk mail carries one to a few attachments, so eight
/// keeps nearly every message on the first path, and an embedder rewriting many messages at
/// once holds at most eight descriptors for each.
pub const PREFLIGHT_OPEN_FILES: usize = 8;

/// The next thing a driver must do for its [`Plan`], from [`Plan::next_io`].
///
/// Borrowed buffers belong to the plan; each is valid until the next call on it.
#[derive(Debug)]
pub enum Io<'a> {
    /// Read the start of the message: append to `buf` until the reader's end or `limit` bytes
    /// in all (what `reader.take(limit).read_to_end(buf)` does), then call
    /// [`Plan::filled`] with the count.
    ///
    /// `limit` is the pre-flight window plus one: a message that fills it is streamed. Asked
    /// once, first, when the window is not 0.
    ReadWindow {
        /// Where to append. Its capacity is already room for a small message.
        buf: &'a mut Vec<u8>,
        /// The most bytes to append, in all.
        limit: u64,
    },
    /// Read once into this buffer (at most 128 KiB, at an aligned address, never empty),
    /// then call [`Plan::filled`] with the count; 0 is the end of the message. Retry an
    /// interrupted read.
    Read(&'a mut [u8]),
    /// Write all these bytes: unchanged spans of the input, generated pieces, or an
    /// attachment's header. None of them passes the output limit.
    Write(&'a [u8]),
    /// Open the placeholder's file (its [`path`](Placeholder::path), variables expanded) and
    /// hand it to [`Plan::opened`]. An error opening it is the message's error (a
    /// [`SourceError`](crate::SourceError) converts into [`Error`]).
    Open {
        /// The placeholder, as parsed.
        placeholder: &'a Placeholder,
        /// Input bytes consumed, up to and including the placeholder.
        at: u64,
    },
    /// Write this file's base64 lines ([`Attachment::encode`], or a driver's own reading
    /// within the same bounds), then call [`Plan::encoded`] with the bytes read. The header
    /// that goes before it has been handed out as a [`Write`](Io::Write).
    Encode(Attachment),
    /// Nothing to do: call [`Plan::next_io`] again. (A step of the rewriter that hands out
    /// nothing, such as asking for more input, still ends a call, because the plan lends
    /// out at most one buffer per call.)
    Continue,
    /// The message is complete and every check passed; what it did. The plan is spent.
    Done(Summary),
}

/// The pre-flight-then-stream plan for one message. See the [module documentation](self).
///
/// Call [`next_io`](Self::next_io) until it returns [`Io::Done`], doing what each [`Io`]
/// says and reporting back with [`filled`](Self::filled), [`opened`](Self::opened) and
/// [`encoded`](Self::encoded) where it says so. After an error from any of them the message
/// is refused and the plan must be dropped.
pub struct Plan {
    config: Config,
    rw: Rewriter,
    phase: Phase,
    todo: Todo,
    /// The placeholder being attached, from its [`Action::Attach`] to its end.
    current: Option<Placeholder>,
    /// Input bytes consumed by the rewriter.
    position: u64,
    /// Bytes the last step consumed from the streaming buffer, dropped from its front before
    /// the next step or read (the step's pieces borrow them until then).
    unconsumed: usize,
}

enum Phase {
    /// Reading the pre-flight window into the buffer.
    Window(Vec<u8>),
    /// The whole message in memory: every file opened and checked, nothing handed out.
    Preflight { input: Vec<u8>, pos: usize, files: VecDeque<Preflighted>, keep: bool },
    /// The pre-flight pass found nothing to change: the input is the output.
    Passthrough(Vec<u8>),
    /// Writing a message that is wholly in memory, with the files pre-flight checked.
    Slice { input: Vec<u8>, pos: usize, files: VecDeque<Preflighted> },
    /// Streaming through a bounded buffer.
    Stream(InputBuffer),
    /// [`Io::Done`] was handed out.
    Spent,
}

/// What the next call must do before (or instead of) a step of the rewriter.
enum Todo {
    /// Step the rewriter.
    Step,
    /// Ask for a read into the streaming buffer.
    Read,
    /// Waiting for [`Plan::opened`]; the size pre-flight saw, for a file opened again.
    Open(Option<u64>),
    /// Hand out the header of this file's part.
    Header(Opened),
    /// Hand out this file, whose header has been handed out.
    Encode(Opened, Eol),
    /// Waiting for [`Plan::encoded`].
    Encoding,
    /// Hand out [`Io::Done`], with this summary or the rewriter's.
    Done(Option<Summary>),
}

/// A placeholder's file as pre-flight left it.
enum Preflighted {
    /// Open since pre-flight: what is written is the file that was checked.
    Open(Opened),
    /// Checked and closed, with its size then: opened again when its turn comes.
    Closed(u64),
}

impl std::fmt::Debug for Plan {
    /// The phase, what is next, and the input consumed (not the buffers).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match &self.phase {
            Phase::Window(_) => "window",
            Phase::Preflight { .. } => "pre-flight",
            Phase::Passthrough(_) => "passthrough",
            Phase::Slice { .. } => "slice",
            Phase::Stream(_) => "stream",
            Phase::Spent => "spent",
        };
        let todo = match &self.todo {
            Todo::Step => "step",
            Todo::Read => "read",
            Todo::Open(_) => "open",
            Todo::Header(_) => "header",
            Todo::Encode(..) => "encode",
            Todo::Encoding => "encoding",
            Todo::Done(_) => "done",
        };
        f.debug_struct("Plan")
            .field("phase", &phase)
            .field("todo", &todo)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Plan {
    /// The plan for one message rewritten with `config`: pre-flight when
    /// [`preflight_window`](crate::ConfigBuilder::preflight_window) is not 0, then the
    /// output.
    pub fn new(config: &Config) -> Plan {
        let window = config.preflight_window;
        // Room for a small message from the first read (an empty Vec would make
        // `read_to_end` start with 32-byte probe reads, one system call each).
        let buf = Vec::with_capacity(window.saturating_add(1).min(READ_SIZE));
        let phase = if window > 0 {
            Phase::Window(buf)
        } else {
            Phase::Stream(InputBuffer::new(buf, config))
        };
        Plan::with_phase(config, phase)
    }

    /// The plan for checking a whole message, `input`, without writing it: every placeholder
    /// is handed out as an [`Io::Open`], every file checked against the limits (and closed),
    /// and the last [`Io`] is [`Io::Done`] with what the message would have had attached.
    /// Never asks to read, write or encode. This is what `mimeinject check` runs.
    ///
    /// ```
    /// use mimeinject::driver::{Io, Plan};
    /// use mimeinject::{AttachmentSource, Config, MemorySource};
    ///
    /// let mut files = MemorySource::new();
    /// files.insert("a.txt", "hello\n");
    /// let message = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
    ///     Content-Type: application/x-mimeinject; path=a.txt\n\n--b--\n".to_vec();
    /// let mut plan = Plan::check(&Config::default(), message);
    /// let mut found = Vec::new();
    /// let summary = loop {
    ///     match plan.next_io()? {
    ///         Io::Open { placeholder, at } => {
    ///             found.push((placeholder.path.clone(), at));
    ///             let opened = files.open(&placeholder.path)?;
    ///             plan.opened(opened)?;
    ///         }
    ///         Io::Done(summary) => break summary,
    ///         Io::Continue => {}
    ///         other => unreachable!("{other:?}"),
    ///     }
    /// };
    /// assert_eq!(found, [("a.txt".to_owned(), 99)]);
    /// assert_eq!(summary.attachments[0].bytes, 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(config: &Config, input: Vec<u8>) -> Plan {
        let phase = Phase::Preflight { input, pos: 0, files: VecDeque::new(), keep: false };
        Plan::with_phase(config, phase)
    }

    fn with_phase(config: &Config, phase: Phase) -> Plan {
        let rw = Rewriter::new(config.clone());
        let config = config.clone();
        Plan { config, rw, phase, todo: Todo::Step, current: None, position: 0, unconsumed: 0 }
    }

    /// What to do next.
    ///
    /// # Errors
    /// Every reason to refuse the message, see [`ErrorKind`].
    ///
    /// # Panics
    /// When called after [`Io::Done`], or before reporting on the last [`Io::Open`] or
    /// [`Io::Encode`].
    pub fn next_io(&mut self) -> Result<Io<'_>, Error> {
        match std::mem::replace(&mut self.todo, Todo::Step) {
            Todo::Step => {}
            Todo::Read => {
                let Phase::Stream(input) = &mut self.phase else { unreachable!("a read") };
                input.consume(std::mem::take(&mut self.unconsumed));
                return Ok(Io::Read(input.space()?));
            }
            Todo::Header(opened) => {
                let eol = self.rw.eol();
                let len = opened.len;
                self.todo = Todo::Encode(opened, eol);
                return Ok(Io::Write(self.rw.begin_attachment(len)?));
            }
            Todo::Encode(opened, eol) => {
                self.todo = Todo::Encoding;
                let path = self.current.as_ref().expect("an attachment").path.clone();
                return Ok(Io::Encode(Attachment { path, opened, eol }));
            }
            Todo::Done(summary) => {
                self.phase = Phase::Spent;
                return Ok(Io::Done(summary.unwrap_or_else(|| self.rw.summary())));
            }
            Todo::Open(_) | Todo::Encoding => panic!("Plan::next_io before the last Io was done"),
        }
        let Plan { config, rw, phase, todo, current, position, unconsumed } = self;
        match phase {
            Phase::Window(buf) => {
                let limit = (config.preflight_window as u64).saturating_add(1);
                Ok(Io::ReadWindow { buf, limit })
            }
            Phase::Preflight { input, pos, files, keep } => {
                let attach = loop {
                    let step = rw.step(&input[*pos..], true)?;
                    *pos += step.consumed;
                    *position += step.consumed as u64;
                    match step.action {
                        Action::Write(_) => {}
                        Action::Attach(p) => break Some(p.clone()),
                        Action::NeedInput => unreachable!("the rewriter asked for input after eof"),
                        Action::Finished => break None,
                    }
                };
                if let Some(p) = attach {
                    *todo = Todo::Open(None);
                    let placeholder = current.insert(p);
                    return Ok(Io::Open { placeholder, at: *position });
                }
                let summary = rw.summary();
                if !*keep {
                    *phase = Phase::Spent;
                    return Ok(Io::Done(summary));
                }
                let (input, files) = (std::mem::take(input), std::mem::take(files));
                if files.is_empty() && !config.edits_headers() {
                    // The output is the input: nothing to attach and no header stage, so the
                    // rewriter's pieces would be the input's own bytes (the passthrough
                    // promise). Written in one piece instead of being scanned again.
                    *todo = Todo::Done(Some(summary));
                    *phase = Phase::Passthrough(input);
                    let Phase::Passthrough(input) = phase else { unreachable!() };
                    return Ok(Io::Write(input));
                }
                *rw = Rewriter::new(config.clone());
                *position = 0;
                *phase = Phase::Slice { input, pos: 0, files };
                Ok(Io::Continue)
            }
            Phase::Slice { input, pos, files } => {
                let step = rw.step(&input[*pos..], true)?;
                *pos += step.consumed;
                *position += step.consumed as u64;
                match step.action {
                    Action::Write(bytes) => Ok(Io::Write(bytes)),
                    Action::Attach(p) => {
                        let placeholder = current.insert(p.clone());
                        match files.pop_front().expect("pre-flight checked every file") {
                            Preflighted::Open(opened) => {
                                *todo = Todo::Header(opened);
                                Ok(Io::Continue)
                            }
                            Preflighted::Closed(len) => {
                                *todo = Todo::Open(Some(len));
                                Ok(Io::Open { placeholder, at: *position })
                            }
                        }
                    }
                    Action::NeedInput => unreachable!("the rewriter asked for input after eof"),
                    Action::Finished => {
                        *todo = Todo::Done(None);
                        Ok(Io::Continue)
                    }
                }
            }
            Phase::Stream(input) => {
                input.consume(std::mem::take(unconsumed));
                let step = rw.step(input.pending(), input.eof)?;
                *unconsumed = step.consumed;
                *position += step.consumed as u64;
                match step.action {
                    Action::Write(bytes) => Ok(Io::Write(bytes)),
                    Action::Attach(p) => {
                        *todo = Todo::Open(None);
                        Ok(Io::Open { placeholder: current.insert(p.clone()), at: *position })
                    }
                    Action::NeedInput => {
                        *todo = Todo::Read;
                        Ok(Io::Continue)
                    }
                    Action::Finished => {
                        *todo = Todo::Done(None);
                        Ok(Io::Continue)
                    }
                }
            }
            Phase::Passthrough(_) | Phase::Spent => panic!("Plan::next_io after Io::Done"),
        }
    }

    /// Reports a read asked for by [`Io::ReadWindow`] or [`Io::Read`]: `n` bytes were
    /// appended or read, 0 meaning the end of the message.
    pub fn filled(&mut self, n: usize) {
        match &mut self.phase {
            Phase::Window(buf) => {
                let buf = std::mem::take(buf);
                self.phase = if buf.len() <= self.config.preflight_window {
                    Phase::Preflight { input: buf, pos: 0, files: VecDeque::new(), keep: true }
                } else {
                    Phase::Stream(InputBuffer::new(buf, &self.config))
                };
            }
            Phase::Stream(input) => input.filled(n),
            _ => panic!("Plan::filled without a read"),
        }
    }

    /// Hands over the file opened for the last [`Io::Open`].
    ///
    /// # Errors
    /// The attachment or output limit, or a file name that cannot go into a header; for a
    /// file pre-flight checked and closed, [`ErrorKind::Changed`] when its size is not the
    /// one pre-flight saw (the limits it checked, and the header it generated, depend on it).
    ///
    /// # Panics
    /// When the last [`Io`] was not [`Io::Open`].
    pub fn opened(&mut self, opened: Opened) -> Result<(), Error> {
        let Todo::Open(expected) = std::mem::replace(&mut self.todo, Todo::Step) else {
            panic!("Plan::opened without Io::Open");
        };
        if let Phase::Preflight { files, keep, .. } = &mut self.phase {
            let len = opened.len;
            self.rw.begin_attachment(len)?;
            self.rw.end_attachment(len)?;
            if *keep {
                files.push_back(if files.len() < PREFLIGHT_OPEN_FILES {
                    Preflighted::Open(opened)
                } else {
                    Preflighted::Closed(len)
                });
            }
            return Ok(());
        }
        if let Some(expected) = expected.filter(|&len| len != opened.len) {
            let path = self.current.as_ref().expect("an attachment").path.clone();
            let read = opened.len;
            return Err(Error::new(ErrorKind::Changed { path, expected, read }));
        }
        self.todo = Todo::Header(opened);
        Ok(())
    }

    /// Reports the file of the last [`Io::Encode`] written, of which `read` bytes were read.
    ///
    /// # Errors
    /// [`ErrorKind::Changed`] when `read` is not the size the file had when opened.
    ///
    /// # Panics
    /// When the last [`Io`] was not [`Io::Encode`].
    pub fn encoded(&mut self, read: u64) -> Result<(), Error> {
        assert!(matches!(self.todo, Todo::Encoding), "Plan::encoded without Io::Encode");
        self.todo = Todo::Step;
        self.current = None;
        self.rw.end_attachment(read)
    }
}

/// A failed read of the message.
pub(crate) fn read_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Read(e))
}

/// A failed write of the output.
pub(crate) fn write_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Write(e))
}

#[cfg(test)]
mod tests {
    use super::input::READ_ALIGN;
    use super::*;
    use crate::source::AttachmentSource;
    use crate::MemorySource;

    /// What a driver was asked to do, in order.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Write,
        Open(String),
        Encode(String),
    }

    /// Runs `plan` over `message` with `files`; `reopened` stands in for a file opened again
    /// after pre-flight (its size). Every read lands at an aligned address.
    fn drive(
        mut plan: Plan,
        files: &MemorySource,
        message: &[u8],
        reopened: Option<u64>,
    ) -> (Vec<Seen>, Result<Summary, Error>) {
        let (mut seen, mut input, mut opens) = (Vec::new(), message, 0);
        let result = loop {
            let io = match plan.next_io() {
                Ok(io) => io,
                Err(e) => break Err(e),
            };
            match io {
                Io::ReadWindow { buf, limit } => {
                    let n = input.len().min(limit as usize);
                    buf.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    plan.filled(n);
                }
                Io::Read(buf) => {
                    assert_eq!(buf.as_ptr() as usize % READ_ALIGN, 0, "an aligned read");
                    assert!(!buf.is_empty() && buf.len() <= READ_SIZE);
                    let n = input.len().min(buf.len());
                    buf[..n].copy_from_slice(&input[..n]);
                    input = &input[n..];
                    plan.filled(n);
                }
                Io::Write(_) => seen.push(Seen::Write),
                Io::Open { placeholder, .. } => {
                    seen.push(Seen::Open(placeholder.path.clone()));
                    opens += 1;
                    let mut opened = match files.open(&placeholder.path) {
                        Ok(opened) => opened,
                        Err(e) => break Err(e.into()),
                    };
                    if opens > PREFLIGHT_OPEN_FILES + 1 {
                        opened.len = reopened.unwrap_or(opened.len);
                    }
                    if let Err(e) = plan.opened(opened) {
                        break Err(e);
                    }
                }
                Io::Encode(file) => {
                    seen.push(Seen::Encode(file.path().to_owned()));
                    let read = file.encode(&mut Vec::new(), &mut Vec::new()).unwrap();
                    plan.encoded(read).unwrap();
                }
                Io::Continue => {}
                Io::Done(summary) => break Ok(summary),
            }
        };
        (seen, result)
    }

    /// A message with a stub for each of `paths`.
    fn message(paths: &[&str]) -> Vec<u8> {
        let mut m = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
        for p in paths {
            m.extend_from_slice(b"--b\nContent-Type: application/x-mimeinject; path=");
            m.extend_from_slice(p.as_bytes());
            m.extend_from_slice(b"\n\n");
        }
        m.extend_from_slice(b"--b--\n");
        m
    }

    fn files(n: usize) -> (MemorySource, Vec<String>) {
        let mut files = MemorySource::new();
        let paths: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
        for p in &paths {
            files.insert(p.clone(), "content\n");
        }
        (files, paths)
    }

    /// Pre-flight opens every file before the first write, keeps the first
    /// `PREFLIGHT_OPEN_FILES` open, and opens only the later ones again.
    #[test]
    fn preflight_opens_everything_first_and_reopens_only_past_the_kept() {
        let (files, paths) = files(PREFLIGHT_OPEN_FILES + 2);
        let names: Vec<&str> = paths.iter().map(String::as_str).collect();
        let (seen, result) = drive(Plan::new(&Config::default()), &files, &message(&names), None);
        assert_eq!(result.unwrap().replaced, names.len());
        let first_write = seen.iter().position(|s| *s == Seen::Write).unwrap();
        let opens = |s: &[Seen]| s.iter().filter(|s| matches!(s, Seen::Open(_))).count();
        assert_eq!(opens(&seen[..first_write]), names.len());
        assert_eq!(opens(&seen[first_write..]), 2);
        let encoded: Vec<&Seen> = seen.iter().filter(|s| matches!(s, Seen::Encode(_))).collect();
        assert_eq!(encoded.len(), names.len());
    }

    /// A file opened again with another size than pre-flight saw fails the message.
    #[test]
    fn a_reopened_file_must_keep_its_size() {
        let (files, paths) = files(PREFLIGHT_OPEN_FILES + 1);
        let names: Vec<&str> = paths.iter().map(String::as_str).collect();
        let plan = Plan::new(&Config::default());
        let (_, result) = drive(plan, &files, &message(&names), Some(3));
        let err = result.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Changed { expected: 8, read: 3, .. }), "{err}");
    }

    /// A pre-flight failure comes before anything is handed out to write.
    #[test]
    fn nothing_is_written_on_a_preflight_error() {
        let (files, _) = files(1);
        let plan = Plan::new(&Config::default());
        let (seen, result) = drive(plan, &files, &message(&["f0", "missing"]), None);
        assert!(result.is_err());
        assert_eq!(seen, [Seen::Open("f0".into()), Seen::Open("missing".into())]);
    }

    /// Without a window the message streams through aligned reads (checked in `drive`), and
    /// each file is opened when its turn comes.
    #[test]
    fn streaming_opens_each_file_in_turn() {
        let (files, _) = files(2);
        let config = Config::builder().preflight_window(0).build().unwrap();
        let (seen, result) = drive(Plan::new(&config), &files, &message(&["f0", "f1"]), None);
        assert_eq!(result.unwrap().replaced, 2);
        let first_open = seen.iter().position(|s| matches!(s, Seen::Open(_))).unwrap();
        assert!(seen[..first_open].contains(&Seen::Write));
        let order: Vec<&Seen> = seen.iter().filter(|s| !matches!(s, Seen::Write)).collect();
        let want = ["f0", "f1"].map(|p| [Seen::Open(p.into()), Seen::Encode(p.into())]);
        assert_eq!(order, want.iter().flatten().collect::<Vec<_>>());
    }

    /// A message in the window with nothing to change is handed out in one piece.
    #[test]
    fn passthrough_is_one_write() {
        let (files, _) = files(0);
        let message = b"Subject: hi\n\nno placeholder here\n";
        let (seen, result) = drive(Plan::new(&Config::default()), &files, message, None);
        assert_eq!(result.unwrap().bytes_in, message.len() as u64);
        assert_eq!(seen, [Seen::Write]);
    }
}
