//! The sans-IO core: bytes in, output pieces and attachment requests out.
//!
//! [`Rewriter`] never reads or writes anything itself. A driver hands it the unconsumed
//! input and acts on the returned [`Step`]: write a piece, attach a file, or read more. The
//! sync driver ([`crate::rewrite`]), the tokio driver and embedders' own loops all share it.
//!
//! # How it follows the message
//!
//! It tracks the MIME tree as it streams (RFC 2046 §5.1):
//!
//! - Header blocks are held in memory (up to [`Limits::header_bytes`]) until their blank
//!   line, because a `Content-Type` anywhere in the block decides what the part is.
//! - Bodies are never held. Inside a multipart they are scanned with `memchr::memmem` for
//!   `\n--`, the only place a boundary delimiter line can start; in a base64 part also for
//!   `\nmimeinject:`. Everything between candidates is passed on as a slice of the input.
//! - A top-level body that is neither multipart nor base64 is passed on without looking.
//!
//! Anything the tracker cannot follow (a multipart without a boundary, an overlong header
//! block) is passed on verbatim too. A message without placeholders therefore always comes
//! out byte-identical. Defects are remembered, and a placeholder in a message with a defect
//! is refused: replacing a part is only safe where the structure around it is sound.
//!
//! # Where the code is
//!
//! This module holds the step loop and the state it carries; `structure` follows the
//! MIME tree (the boundary stack, delimiter lines, defects), `header_block` reads header
//! blocks (fields, unfolding, lines that are not fields) and decides what a part is, and
//! `stub` handles placeholders (recognising them, and the header of the part that
//! replaces a stub).

mod header_block;
mod structure;
mod stub;

use memchr::memmem;

use crate::config::{Config, Limits};
use crate::encode::encoded_len;
use crate::error::{Error, ErrorKind};
use crate::mime::Eol;
use crate::placeholder::{Form, Placeholder};

use self::structure::Frame;
use self::stub::Pending;

pub use crate::placeholder::STUB_TYPE;
/// What starts a body-line placeholder.
pub const BODY_LINE_PREFIX: &[u8] = b"mimeinject:";

/// What the driver must do next, and how much input the rewriter has consumed.
#[derive(Debug)]
pub struct Step<'a> {
    /// Bytes to drop from the front of the input once the action is done.
    pub consumed: usize,
    /// The action.
    pub action: Action<'a>,
}

/// One thing for the driver to do.
#[derive(Debug)]
pub enum Action<'a> {
    /// Write these bytes. They borrow the input (unchanged spans) or the rewriter.
    Write(&'a [u8]),
    /// Open the placeholder's file, then call [`Rewriter::begin_attachment`], write what it
    /// returns, write the file's base64 lines, and call [`Rewriter::end_attachment`].
    Attach(&'a Placeholder),
    /// Call again with more input appended. Never returned when `eof` was set.
    NeedInput,
    /// The message is complete and every check passed.
    Finished,
}

/// Counts for one message, and what was attached: the audit trail of one delivery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Input bytes consumed.
    pub bytes_in: u64,
    /// Output bytes produced, attachments included.
    pub bytes_out: u64,
    /// Placeholders replaced.
    pub replaced: usize,
    /// Every attachment added, in message order (`replaced` of them).
    pub attachments: Vec<Attached>,
}

/// One file added to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The path beneath the root, variables expanded: what the [`crate::AttachmentSource`]
    /// opened.
    pub path: String,
    /// The file's length in bytes, before encoding.
    pub bytes: u64,
}

/// What a base64 body has held so far. A body-line placeholder must be all of it, blank
/// lines aside: base64 data around the file's lines would be decoded as one stream with
/// them, and a decoder stops at the padding (`=`) that ends a file whose length is not a
/// multiple of 3 (Python's `email` drops the rest with a defect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base64Body {
    /// Only blank lines so far.
    Empty,
    /// Base64 data (or a placeholder left as text).
    Data,
    /// A body-line placeholder, replaced.
    Placeholder,
}

/// Where a header block sits in the tree.
#[derive(Clone, Copy, Debug)]
struct PartCtx {
    top: bool,
    in_alternative: bool,
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Holding a header block.
    Headers(PartCtx),
    /// Streaming a body; `base64` says whether body-line placeholders count here.
    Body { base64: bool },
    /// Dropping a replaced stub's body up to the next delimiter; the replacing part's line
    /// ending, for the one the delimiter needs.
    Skip(Eol),
    /// Structure lost: pass the rest, refusing anything that looks like a placeholder.
    Opaque,
    /// Finished.
    Done,
}

/// What [`Rewriter::advance`] decided, in terms that don't borrow.
enum Next {
    Pass(usize),
    Drop(usize),
    Emit(usize),
    Attach(usize),
    NeedInput(usize),
    Finished,
}

/// The streaming rewriter for one message. See the [module docs](self).
#[derive(Debug)]
pub struct Rewriter {
    config: Config,
    state: State,
    /// True when the first unconsumed byte starts a line.
    at_line_start: bool,
    /// The message's line ending, from its first line.
    eol: Option<Eol>,
    /// The header block being collected; for a stub, kept until its header is generated.
    held: Vec<u8>,
    /// Generated bytes handed out by the last step; cleared at the next.
    out: Vec<u8>,
    /// The generated header of the current attachment.
    generated: Vec<u8>,
    stack: Vec<Frame>,
    /// The first structural defect seen.
    defect: Option<String>,
    /// A signature field of the message's own header (DKIM, ARC) after the header stages:
    /// a placeholder replaced would break it.
    top_signature: Option<&'static str>,
    /// The body being streamed is `application/pkcs7-mime` (S/MIME signed or encrypted
    /// data): a body line replaced there would break it.
    body_sealed: bool,
    /// What the base64 body being streamed has held so far (see [`Base64Body`]).
    base64_body: Base64Body,
    pending: Option<Pending>,
    /// A placeholder accepted by `offer`, not yet wrapped in `Pending`.
    next_placeholder: Option<Placeholder>,
    /// Absolute offset of the first unconsumed input byte.
    offset: u64,
    /// Absolute offset of the input handed to the current `advance`.
    cursor: u64,
    /// Absolute offset of the header block in `held`: errors about a part point there,
    /// however the input was chunked.
    block_start: u64,
    written: u64,
    found: usize,
    /// The attachments replaced so far, in order.
    attached: Vec<Attached>,
    dash: memmem::Finder<'static>,
    body_line: memmem::Finder<'static>,
}

impl Rewriter {
    /// A rewriter for one message.
    pub fn new(config: Config) -> Rewriter {
        Rewriter {
            config,
            state: State::Headers(PartCtx { top: true, in_alternative: false }),
            at_line_start: true,
            eol: None,
            held: Vec::new(),
            out: Vec::new(),
            generated: Vec::new(),
            stack: Vec::new(),
            defect: None,
            top_signature: None,
            body_sealed: false,
            base64_body: Base64Body::Empty,
            pending: None,
            next_placeholder: None,
            offset: 0,
            cursor: 0,
            block_start: 0,
            written: 0,
            found: 0,
            attached: Vec::new(),
            dash: memmem::Finder::new(b"\n--"),
            body_line: memmem::Finder::new(b"\nmimeinject:"),
        }
    }

    /// The line ending for generated lines: while an attachment is pending (from
    /// [`Action::Attach`] to [`end_attachment`](Self::end_attachment)), that of the lines
    /// around its placeholder, which the driver uses for the file's base64 lines; otherwise
    /// the message's, from its first line (LF until that has been seen).
    ///
    /// The lines around a placeholder are the stub's `Content-Type` field, or the body line
    /// itself. They can end differently from the message's first line: an LF body under CRLF
    /// header fields, or CRLF signed content inside an LF message. The generated part follows
    /// them, so that it matches its neighbours (RFC 2045 leaves the choice to the local
    /// convention, and a part that mixes both would be read differently by each parser).
    pub fn eol(&self) -> Eol {
        match &self.pending {
            Some(p) => p.eol,
            None => self.message_eol(),
        }
    }

    /// The message's line ending, from its first line (LF until that has been seen).
    fn message_eol(&self) -> Eol {
        self.eol.unwrap_or(Eol::Lf)
    }

    /// Counts so far.
    pub fn summary(&self) -> Summary {
        Summary {
            bytes_in: self.offset,
            bytes_out: self.written,
            replaced: self.attached.len(),
            attachments: self.attached.clone(),
        }
    }

    /// Decides what to do with the front of `input`, the bytes not consumed yet. `eof` says
    /// no more input will come.
    ///
    /// # Errors
    /// Any reason to refuse the message: a malformed placeholder, an unsafe structure
    /// around one, a limit. The rewriter must not be used after an error.
    pub fn step<'a>(&'a mut self, input: &'a [u8], eof: bool) -> Result<Step<'a>, Error> {
        self.out.clear();
        let mut dropped = 0;
        loop {
            let at = self.offset + dropped as u64;
            self.cursor = at;
            let next = self.advance(&input[dropped..], eof).map_err(|e| e.at(at))?;
            let (consumed, action) = match next {
                Next::Drop(n) => {
                    dropped += n;
                    continue;
                }
                Next::Pass(n) => (n, Action::Write(&input[dropped..dropped + n])),
                Next::Emit(n) => (n, Action::Write(&self.out)),
                Next::Attach(n) => {
                    let p = &self.pending.as_ref().expect("attach without pending").placeholder;
                    (n, Action::Attach(p))
                }
                Next::NeedInput(n) => (n, Action::NeedInput),
                Next::Finished => (0, Action::Finished),
            };
            let consumed = dropped + consumed;
            self.offset += consumed as u64;
            if let Action::Write(w) = &action {
                count_out(&mut self.written, self.config.limits.output_bytes, w.len() as u64)?;
            }
            return Ok(Step { consumed, action });
        }
    }

    /// Starts the attachment requested by the last [`Action::Attach`], whose file is `len`
    /// bytes long. Returns the bytes to write before the file's base64 lines: the part's
    /// header for a stub, nothing for a body line.
    ///
    /// # Errors
    /// The attachment or output limit, or a file name that cannot go into a header.
    pub fn begin_attachment(&mut self, len: u64) -> Result<&[u8], Error> {
        let eol = self.eol();
        let limits = self.config.limits;
        let pending = self.pending.as_mut().expect("begin_attachment without Attach");
        if len > limits.attachment_bytes {
            return Err(Error::limit("attachment bytes", limits.attachment_bytes).at(self.offset));
        }
        count_out(&mut self.written, limits.output_bytes, encoded_len(len, eol))
            .map_err(|e| e.at(self.offset))?;
        pending.len = Some(len);
        self.generated.clear();
        if pending.placeholder.form == Form::Stub {
            self.generate_stub_header(eol, len)?;
            count_out(&mut self.written, limits.output_bytes, self.generated.len() as u64)
                .map_err(|e| e.at(self.offset))?;
        }
        Ok(&self.generated)
    }

    /// Ends the current attachment, of which `read` bytes were encoded.
    ///
    /// # Errors
    /// [`ErrorKind::Changed`] when `read` differs from the length given to
    /// [`begin_attachment`](Self::begin_attachment): the file changed while it was read.
    pub fn end_attachment(&mut self, read: u64) -> Result<(), Error> {
        let pending = self.pending.take().expect("end_attachment without Attach");
        let expected = pending.len.expect("end_attachment before begin_attachment");
        if read != expected {
            let path = pending.placeholder.path;
            return Err(Error::new(ErrorKind::Changed { path, expected, read }).at(self.offset));
        }
        if pending.placeholder.form == Form::Stub {
            self.held.clear();
        }
        self.attached.push(Attached { path: pending.placeholder.path, bytes: expected });
        Ok(())
    }

    fn advance(&mut self, input: &[u8], eof: bool) -> Result<Next, Error> {
        match self.state {
            State::Headers(ctx) => self.headers(input, eof, ctx),
            State::Body { base64 } => self.body(input, eof, base64),
            State::Skip(eol) => self.skip(input, eof, eol),
            State::Opaque => self.opaque(input, eof),
            State::Done => Ok(Next::Finished),
        }
    }

    /// The end of the input: the last checks.
    fn finish(&mut self) -> Result<Next, Error> {
        if !self.attached.is_empty() || self.pending.is_some() {
            if let Some(d) = &self.defect {
                return Err(Error::structure(format!(
                    "placeholder in a message with a defect: {d}"
                )));
            }
            if let Some(f) = self.stack.last() {
                let b = String::from_utf8_lossy(&f.boundary);
                return Err(Error::structure(format!("multipart {b:?} is never closed")));
            }
        }
        self.state = State::Done;
        Ok(Next::Finished)
    }
}

/// Counts `n` more bytes of output in `written`: the output limit, `limit`, checked before
/// the bytes are handed out.
fn count_out(written: &mut u64, limit: u64, n: u64) -> Result<(), Error> {
    *written += n;
    if *written > limit {
        return Err(Error::limit("output bytes", limit));
    }
    Ok(())
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

impl Limits {
    /// The buffer a driver needs so that the rewriter can always decide: the longest line it
    /// must see whole (a header line up to [`header_bytes`](Limits::header_bytes), a
    /// delimiter or placeholder line up to [`line_bytes`](Limits::line_bytes)), plus room to
    /// read. Saturates at `usize::MAX`; a driver should grow its buffer towards this only
    /// as the input needs it.
    pub fn min_buffer(&self) -> usize {
        self.line_bytes.max(self.header_bytes).saturating_add(64 << 10)
    }
}
