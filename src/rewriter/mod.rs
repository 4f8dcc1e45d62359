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
//! This module holds the step loop and composes two types, each with its own state:
//! `structure::Tree` follows the MIME tree (header blocks, the boundary stack, delimiter
//! lines, defects, offsets), and `placeholders::Placeholders` handles placeholders
//! (recognising stubs and body lines, the pending attachment, the header of the part that
//! replaces a stub, the signature checks, what was attached). `header_block` reads the
//! fields of a header block for both. The tree never sees the placeholders; they read the
//! tree, and the rewriter applies what they decide.

mod header_block;
mod placeholders;
mod structure;

use crate::config::{Config, Limits};
use crate::encode::encoded_len;
use crate::error::Error;
use crate::mime::Eol;
use crate::placeholder::{Form, Placeholder};

use self::placeholders::Placeholders;
use self::structure::{Next, PartCtx, Tree};

pub use crate::placeholder::{BODY_LINE_PREFIX, STUB_TYPE};

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

/// The streaming rewriter for one message. See the [module docs](self).
///
/// It composes two parts, each with its own state: the MIME tree as it streams
/// (`structure::Tree`) and the placeholders found in it (`placeholders::Placeholders`).
/// The rewriter runs the step loop, hands what the tree found to the placeholders, and
/// keeps the output count.
#[derive(Debug)]
pub struct Rewriter {
    config: Config,
    tree: Tree,
    placeholders: Placeholders,
    /// Output bytes handed out so far, generated ones and attachments included.
    written: u64,
}

impl Rewriter {
    /// A rewriter for one message.
    ///
    /// ```
    /// use mimeinject::{Action, Config, Rewriter};
    ///
    /// let mut rw = Rewriter::new(Config::default());
    /// let step = rw.step(b"Subject: hi\n\nhello\n", true)?;
    /// assert!(matches!(step.action, Action::Write(b"Subject: hi\n\n")));
    /// # Ok::<(), mimeinject::Error>(())
    /// ```
    pub fn new(config: Config) -> Rewriter {
        let tree = Tree::new(config.limits);
        Rewriter { config, tree, placeholders: Placeholders::new(), written: 0 }
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
        self.placeholders.pending_eol().unwrap_or(self.tree.message_eol())
    }

    /// Counts so far.
    pub fn summary(&self) -> Summary {
        let attachments = self.placeholders.attached().to_vec();
        Summary {
            bytes_in: self.tree.offset(),
            bytes_out: self.written,
            replaced: attachments.len(),
            attachments,
        }
    }

    /// Decides what to do with the front of `input`, the bytes not consumed yet. `eof` says
    /// no more input will come.
    ///
    /// # Errors
    /// Any reason to refuse the message: a malformed placeholder, an unsafe structure
    /// around one, a limit. The rewriter must not be used after an error.
    pub fn step<'a>(&'a mut self, input: &'a [u8], eof: bool) -> Result<Step<'a>, Error> {
        self.tree.begin_step();
        let mut dropped = 0;
        loop {
            let at = self.tree.offset() + dropped as u64;
            let next = self.advance(&input[dropped..], eof, at).map_err(|e| e.at(at))?;
            let n = match next {
                Next::Drop(n) => {
                    dropped += n;
                    continue;
                }
                Next::Pass(n) | Next::Emit(n) | Next::Attach(n) | Next::NeedInput(n) => n,
                Next::Finished => 0,
                Next::Data(_) | Next::BodyLine(_) | Next::HeaderBlock(..) | Next::End => {
                    unreachable!("resolved by advance")
                }
            };
            let consumed = dropped + n;
            self.tree.consume(consumed);
            let action = match next {
                Next::Pass(n) => Action::Write(&input[dropped..dropped + n]),
                Next::Emit(_) => Action::Write(self.tree.out()),
                Next::Attach(_) => {
                    Action::Attach(self.placeholders.pending().expect("attach without pending"))
                }
                Next::NeedInput(_) => Action::NeedInput,
                _ => Action::Finished,
            };
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
        let at = self.tree.offset();
        assert!(self.placeholders.pending().is_some(), "begin_attachment without Attach");
        if len > limits.attachment_bytes {
            return Err(Error::limit("attachment bytes", limits.attachment_bytes).at(at));
        }
        count_out(&mut self.written, limits.output_bytes, encoded_len(len, eol))
            .map_err(|e| e.at(at))?;
        let form = self.placeholders.begin(&self.tree, len, eol).map_err(|e| e.at(at))?;
        let generated = self.placeholders.generated();
        if form == Form::Stub {
            count_out(&mut self.written, limits.output_bytes, generated.len() as u64)
                .map_err(|e| e.at(at))?;
        }
        Ok(generated)
    }

    /// Ends the current attachment, of which `read` bytes were encoded.
    ///
    /// # Errors
    /// [`ErrorKind::Changed`](crate::ErrorKind::Changed) when `read` differs from the length
    /// given to [`begin_attachment`](Self::begin_attachment): the file changed while it was
    /// read.
    pub fn end_attachment(&mut self, read: u64) -> Result<(), Error> {
        let form = self.placeholders.end(read).map_err(|e| e.at(self.tree.offset()))?;
        if form == Form::Stub {
            self.tree.stub_replaced();
        }
        Ok(())
    }

    /// One decision about the front of `input`: the tree's, with what it found for the
    /// placeholders resolved.
    fn advance(&mut self, input: &[u8], eof: bool, at: u64) -> Result<Next, Error> {
        let base64_lines = self.config.attachments();
        Ok(match self.tree.advance(input, eof, at, base64_lines)? {
            Next::HeaderBlock(n, ctx) => {
                let block_start = self.tree.block_start();
                return self.end_headers(ctx, n).map_err(|e| e.at(block_start));
            }
            Next::Data(n) => {
                self.placeholders.base64_data(&input[..n])?;
                Next::Pass(n)
            }
            Next::BodyLine(n) => {
                let line = &input[..n];
                if self.placeholders.body_line(&self.config, &self.tree, line)? {
                    Next::Attach(n)
                } else {
                    self.placeholders.base64_data(line)?;
                    Next::Pass(n)
                }
            }
            Next::End => self.finish()?,
            next => next,
        })
    }

    /// Decides what the part whose header block the tree holds is: a stub to replace, or a
    /// part whose body the tree follows.
    fn end_headers(&mut self, ctx: PartCtx, consumed: usize) -> Result<Next, Error> {
        if ctx.top && self.config.edits_headers() {
            self.tree.edit_top_headers(&self.config.stages);
        }
        let block = self.tree.read_block(ctx.top);
        if ctx.top {
            self.placeholders.top_header(&self.tree, &block);
        }
        if self.config.attachments() {
            let stub = self.placeholders.stub_part(&self.config, &self.tree, ctx, &block)?;
            if let Some(eol) = stub {
                self.tree.skip_stub(eol);
                return Ok(Next::Attach(consumed));
            }
        }
        if !block.type_is("multipart/", true) {
            self.placeholders.leaf(&block);
        }
        self.tree.open_part(block, consumed)
    }

    /// The end of the input: the last checks.
    fn finish(&mut self) -> Result<Next, Error> {
        if self.placeholders.any() {
            self.tree.check_sound()?;
        }
        self.tree.finish();
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
