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

use std::ops::Range;

use memchr::{memchr, memmem};

use crate::config::{Config, Limits};
use crate::encode::{encoded_len, Eol};
use crate::error::{Error, ErrorKind};
use crate::headers::{write_attachment_headers, AttachmentHeaders};
use crate::params::{self, Params};
use crate::placeholder::{self, Form, Parsed, Placeholder};

/// The media type that marks a stub part.
pub const STUB_TYPE: &str = "application/x-mimeinject";
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
    /// Dropping a replaced stub's body up to the next delimiter.
    Skip,
    /// Structure lost: pass the rest, refusing anything that looks like a placeholder.
    Opaque,
    /// Finished.
    Done,
}

/// An active multipart.
#[derive(Debug)]
struct Frame {
    boundary: Vec<u8>,
    alternative: bool,
}

/// A placeholder found, waiting for the driver.
#[derive(Debug)]
struct Pending {
    placeholder: Placeholder,
    /// Header fields of the stub to keep, as ranges of `held`.
    kept: Vec<Range<usize>>,
    /// A top-level stub without `MIME-Version` gets one.
    add_mime_version: bool,
    len: Option<u64>,
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
    replaced: usize,
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
            pending: None,
            next_placeholder: None,
            offset: 0,
            cursor: 0,
            block_start: 0,
            written: 0,
            found: 0,
            replaced: 0,
            attached: Vec::new(),
            dash: memmem::Finder::new(b"\n--"),
            body_line: memmem::Finder::new(b"\nmimeinject:"),
        }
    }

    /// The message's line ending (LF until the first line has been seen).
    pub fn eol(&self) -> Eol {
        self.eol.unwrap_or(Eol::Lf)
    }

    /// Counts so far.
    pub fn summary(&self) -> Summary {
        Summary {
            bytes_in: self.offset,
            bytes_out: self.written,
            replaced: self.replaced,
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
                self.written += w.len() as u64;
                if self.written > self.config.limits.output_bytes {
                    return Err(Error::limit("output bytes", self.config.limits.output_bytes));
                }
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
        self.written += encoded_len(len, eol);
        if self.written > limits.output_bytes {
            return Err(Error::limit("output bytes", limits.output_bytes).at(self.offset));
        }
        pending.len = Some(len);
        self.generated.clear();
        let p = &pending.placeholder;
        if p.form == Form::Stub {
            let h = AttachmentHeaders {
                media_type: &p.media_type,
                filename: &p.filename,
                disposition: p.disposition,
                size: len,
            };
            write_attachment_headers(&h, eol, &mut self.generated)
                .map_err(|e| Error::placeholder(e.to_string()).at(self.offset))?;
            for r in &pending.kept {
                self.generated.extend_from_slice(&self.held[r.clone()]);
            }
            if pending.add_mime_version {
                self.generated.extend_from_slice(b"MIME-Version: 1.0");
                self.generated.extend_from_slice(eol.as_bytes());
            }
            self.generated.extend_from_slice(eol.as_bytes());
            for line in self.generated.split(|&b| b == b'\n') {
                if let Some((i, _)) = classify(line, &self.stack) {
                    let b = String::from_utf8_lossy(&self.stack[i].boundary).into_owned();
                    return Err(Error::structure(format!(
                        "a generated header line would read as the boundary {b:?}"
                    ))
                    .at(self.offset));
                }
            }
            if self.generated.split(|&b| b == b'\n').any(|l| l.len() > 999) {
                return Err(
                    Error::placeholder("a generated header line exceeds 998 bytes").at(self.offset)
                );
            }
            self.written += self.generated.len() as u64;
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
        self.replaced += 1;
        self.attached.push(Attached { path: pending.placeholder.path, bytes: expected });
        Ok(())
    }

    fn advance(&mut self, input: &[u8], eof: bool) -> Result<Next, Error> {
        match self.state {
            State::Headers(ctx) => self.headers(input, eof, ctx),
            State::Body { base64 } => self.body(input, eof, base64),
            State::Skip => self.skip(input, eof),
            State::Opaque => self.opaque(input, eof),
            State::Done => Ok(Next::Finished),
        }
    }

    /// Collects header lines into `held` until the blank line.
    fn headers(&mut self, input: &[u8], eof: bool, ctx: PartCtx) -> Result<Next, Error> {
        let limit = self.config.limits.header_bytes;
        let mut pos = 0;
        let end_headers = |this: &mut Self, consumed: usize| {
            this.end_headers(ctx, consumed).map_err(|e| e.at(this.block_start))
        };
        loop {
            if self.held.is_empty() {
                self.block_start = self.cursor + pos as u64;
            }
            let rest = &input[pos..];
            let line_len = match memchr(b'\n', rest) {
                Some(i) => i + 1,
                None if eof && !rest.is_empty() => rest.len(),
                None if eof => return end_headers(self, pos),
                None => {
                    if self.held.len() + rest.len() > limit {
                        return self.lose_structure(pos, "header block too long");
                    }
                    return Ok(Next::NeedInput(pos));
                }
            };
            let line = &rest[..line_len];
            if self.eol.is_none() {
                self.eol = Some(if line.ends_with(b"\r\n") { Eol::CrLf } else { Eol::Lf });
            }
            if self.held.len() + line.len() > limit {
                return self.lose_structure(pos, "header block too long");
            }
            if line == b"\n" || line == b"\r\n" {
                self.held.extend_from_slice(line);
                return end_headers(self, pos + line_len);
            }
            if line.starts_with(b"--") && classify(line, &self.stack).is_some() {
                // A delimiter before any blank line: the part had headers only.
                return end_headers(self, pos);
            }
            self.held.extend_from_slice(line);
            pos += line_len;
        }
    }

    /// Decides what the part whose header block is in `held` is.
    fn end_headers(&mut self, ctx: PartCtx, consumed: usize) -> Result<Next, Error> {
        self.at_line_start = true;
        if ctx.top && self.config.edits_headers() {
            self.edit_top_headers();
        }
        let fields = fields(&self.held);
        let named = |name: &str| {
            let held = &self.held;
            fields
                .iter()
                .filter(|f| f.name(held).eq_ignore_ascii_case(name.as_bytes()))
                .map(|f| f.unfolded(held))
                .collect::<Vec<_>>()
        };
        let types = named("content-type");
        let cte = named("content-transfer-encoding").into_iter().next();
        let has_mime_version = !named("mime-version").is_empty();
        let kept: Vec<Range<usize>> = fields
            .iter()
            .filter(|f| {
                let n = f.name(&self.held);
                !["content-type", "content-disposition", "content-transfer-encoding"]
                    .iter()
                    .any(|k| n.eq_ignore_ascii_case(k.as_bytes()))
            })
            .map(|f| f.span.clone())
            .collect();
        let parsed = types.first().map(|v| params::parse_content_type(v));

        let stub = self.config.attachments()
            && match &parsed {
                Some(Ok(ct)) => ct.media_type == STUB_TYPE,
                Some(Err(_)) => starts_with_ci(trim(&types[0]), STUB_TYPE.as_bytes()),
                None => false,
            };
        if stub {
            if types.len() > 1 {
                return Err(Error::placeholder("stub part has several Content-Type fields"));
            }
            let params = match &parsed {
                Some(Ok(ct)) => ct.params.clone(),
                Some(Err(e)) => return Err(Error::placeholder(e.to_string())),
                None => unreachable!(),
            };
            if ctx.in_alternative {
                return Err(Error::structure(
                    "stub part directly inside multipart/alternative: clients would show the \
                     attachment instead of the text; put it in multipart/mixed",
                ));
            }
            let add_mime_version = ctx.top && !has_mime_version;
            if self.offer(&params, Form::Stub)? {
                self.pending = Some(Pending {
                    placeholder: self.take_placeholder(),
                    kept,
                    add_mime_version,
                    len: None,
                });
                self.state = State::Skip;
                return Ok(Next::Attach(consumed));
            }
            // Unsigned, and the policy says leave it: an ordinary part.
        }

        let base64 = cte.is_some_and(|v| params::parse_mechanism(&v) == "base64");
        let multipart = match &parsed {
            Some(Ok(ct)) => ct.media_type.starts_with("multipart/"),
            Some(Err(_)) => starts_with_ci(trim(&types[0]), b"multipart/"),
            None => false,
        };
        if multipart {
            let ct = match parsed {
                Some(Ok(ct)) => ct,
                _ => return self.lose_structure(consumed, "unparseable multipart Content-Type"),
            };
            let boundary = match ct.params.get("boundary") {
                Some(b) if !b.is_empty() => b.as_bytes().to_vec(),
                _ => return self.lose_structure(consumed, "multipart without a boundary"),
            };
            if self.stack.len() >= self.config.limits.depth {
                return self.lose_structure(consumed, "multipart nesting too deep");
            }
            if let Some(d) = check_boundary(&boundary, &self.stack) {
                self.defect.get_or_insert(d);
            }
            self.stack
                .push(Frame { boundary, alternative: ct.media_type == "multipart/alternative" });
            self.state = State::Body { base64: false };
        } else {
            self.state = State::Body { base64 };
        }
        self.out = std::mem::take(&mut self.held);
        Ok(if self.out.is_empty() { Next::Drop(consumed) } else { Next::Emit(consumed) })
    }

    /// Runs the chain's header stages over the held top-level block.
    fn edit_top_headers(&mut self) {
        let eol = self.eol();
        let blank = if self.held.ends_with(b"\r\n\r\n") || self.held == b"\r\n" {
            2
        } else if self.held.ends_with(b"\n\n") || self.held == b"\n" {
            1
        } else {
            0
        };
        let mut block = self.held[..self.held.len() - blank].to_vec();
        if !block.is_empty() && !block.ends_with(b"\n") {
            block.extend_from_slice(eol.as_bytes());
        }
        for stage in &self.config.stages {
            stage.apply(&mut block, eol);
        }
        block.extend_from_slice(&self.held[self.held.len() - blank..]);
        self.held = block;
    }

    /// Streams a body, stopping at delimiter lines and body-line placeholders.
    fn body(&mut self, input: &[u8], eof: bool, base64: bool) -> Result<Next, Error> {
        let dashes = !self.stack.is_empty();
        let base64 = base64 && self.config.attachments();
        if !dashes && !base64 {
            // Nothing can happen before the end: pass everything.
            return Ok(if !input.is_empty() {
                Next::Pass(input.len())
            } else if eof {
                self.finish()?
            } else {
                Next::NeedInput(0)
            });
        }
        if input.is_empty() {
            return if eof { self.finish() } else { Ok(Next::NeedInput(0)) };
        }
        if self.at_line_start {
            if let Some(next) = self.line_start(input, eof, dashes, base64)? {
                return Ok(next);
            }
        }
        // Find the next line that could matter; pass everything before it, its '\n' included.
        let mut hit = if dashes { self.dash.find(input) } else { None };
        if base64 {
            let window = &input[..hit.unwrap_or(input.len())];
            if let Some(i) = self.body_line.find(window) {
                hit = Some(i);
            }
        }
        if let Some(i) = hit {
            self.at_line_start = true;
            return Ok(Next::Pass(i + 1));
        }
        let keep = if base64 { BODY_LINE_PREFIX.len() } else { 2 };
        let end = if eof { input.len() } else { input.len().saturating_sub(keep) };
        if end == 0 {
            return Ok(Next::NeedInput(0));
        }
        self.at_line_start = input[end - 1] == b'\n';
        Ok(Next::Pass(end))
    }

    /// Looks at a line that starts at `input[0]`. `None`: it is ordinary.
    fn line_start(
        &mut self,
        input: &[u8],
        eof: bool,
        dashes: bool,
        base64: bool,
    ) -> Result<Option<Next>, Error> {
        let may = |prefix: &[u8]| {
            let n = prefix.len().min(input.len());
            input[..n] == prefix[..n]
        };
        let dash = dashes && may(b"--");
        let ph = base64 && may(BODY_LINE_PREFIX);
        if !dash && !ph {
            self.at_line_start = false;
            return Ok(None);
        }
        let longest = if ph { BODY_LINE_PREFIX.len() } else { 2 };
        if input.len() < longest && !eof {
            return Ok(Some(Next::NeedInput(0)));
        }
        let limit = self.config.limits.line_bytes;
        let line_len = match memchr(b'\n', input) {
            Some(i) => i + 1,
            None if eof => input.len(),
            None if input.len() > limit => {
                if ph && input.starts_with(BODY_LINE_PREFIX) {
                    return Err(Error::limit("placeholder line bytes", limit as u64));
                }
                // Too long to be a delimiter: an ordinary line.
                self.at_line_start = false;
                return Ok(None);
            }
            None => return Ok(Some(Next::NeedInput(0))),
        };
        let line = &input[..line_len];
        if dash {
            if let Some((depth, close)) = classify(line, &self.stack) {
                self.delimiter(depth, close);
                return Ok(Some(Next::Pass(line_len)));
            }
        }
        if ph && line.starts_with(BODY_LINE_PREFIX) {
            if line.len() > limit {
                return Err(Error::limit("placeholder line bytes", limit as u64));
            }
            let text = trim_eol(&line[BODY_LINE_PREFIX.len()..]);
            let params =
                params::parse_params(text).map_err(|e| Error::placeholder(e.to_string()))?;
            if self.offer(&params, Form::BodyLine)? {
                self.pending = Some(Pending {
                    placeholder: self.take_placeholder(),
                    kept: Vec::new(),
                    add_mime_version: false,
                    len: None,
                });
                return Ok(Some(Next::Attach(line_len)));
            }
        }
        // An ordinary line: pass it whole.
        self.at_line_start = line.ends_with(b"\n");
        Ok(Some(Next::Pass(line_len)))
    }

    /// A delimiter line of the multipart at `depth` in the stack.
    fn delimiter(&mut self, depth: usize, close: bool) {
        if depth + 1 < self.stack.len() {
            self.defect.get_or_insert_with(|| {
                "an outer boundary ends a multipart that was never closed".to_owned()
            });
            self.stack.truncate(depth + 1);
        }
        self.at_line_start = true;
        if close {
            self.stack.pop();
            self.state = State::Body { base64: false };
        } else {
            let in_alternative = self.stack[depth].alternative;
            self.state = State::Headers(PartCtx { top: false, in_alternative });
        }
    }

    /// Drops a replaced stub's body, keeping the line ending that belongs to the next
    /// delimiter (RFC 2046: the CRLF before `--boundary` is part of the delimiter).
    fn skip(&mut self, input: &[u8], eof: bool) -> Result<Next, Error> {
        if self.stack.is_empty() {
            // A top-level stub: its body runs to the end.
            return if !input.is_empty() {
                Ok(Next::Drop(input.len()))
            } else if eof {
                self.finish()
            } else {
                Ok(Next::NeedInput(0))
            };
        }
        if input.is_empty() {
            return if eof { self.finish() } else { Ok(Next::NeedInput(0)) };
        }
        if self.at_line_start {
            // The stub's body is empty, or its last line ending was dropped already: the
            // delimiter still needs one.
            if input.len() < 2 && !eof {
                return Ok(Next::NeedInput(0));
            }
            match self.delimiter_at(input, eof)? {
                Some(true) => {
                    self.state = State::Body { base64: false };
                    self.out.extend_from_slice(self.eol().as_bytes());
                    return Ok(Next::Emit(0));
                }
                Some(false) => {}
                None => return Ok(Next::NeedInput(0)),
            }
            self.at_line_start = false;
        }
        let mut from = 0;
        while let Some(i) = self.dash.find(&input[from..]) {
            let nl = from + i;
            match self.delimiter_at(&input[nl + 1..], eof)? {
                Some(true) => {
                    let eol_start = if nl > 0 && input[nl - 1] == b'\r' { nl - 1 } else { nl };
                    self.state = State::Body { base64: false };
                    self.at_line_start = false;
                    return Ok(Next::Drop(eol_start));
                }
                Some(false) => from = nl + 1,
                None => {
                    // Undecided: keep the line ending and what follows.
                    let keep = if nl > 0 && input[nl - 1] == b'\r' { nl - 1 } else { nl };
                    return Ok(if keep > 0 { Next::Drop(keep) } else { Next::NeedInput(0) });
                }
            }
        }
        // Keep a possible "\r\n-" tail for the next round.
        let end = if eof { input.len() } else { input.len().saturating_sub(3) };
        Ok(if end > 0 { Next::Drop(end) } else { Next::NeedInput(0) })
    }

    /// Whether `input` starts with a complete delimiter line of the stack (`None`: can't
    /// tell yet).
    fn delimiter_at(&self, input: &[u8], eof: bool) -> Result<Option<bool>, Error> {
        let n = input.len().min(2);
        if input[..n] != b"--"[..n] {
            return Ok(Some(false));
        }
        match memchr(b'\n', input) {
            Some(i) => Ok(Some(classify(&input[..=i], &self.stack).is_some())),
            None if eof => Ok(Some(classify(input, &self.stack).is_some())),
            None if input.len() > self.config.limits.line_bytes => Ok(Some(false)),
            None => Ok(None),
        }
    }

    /// Passes everything, refusing anything that looks like a placeholder.
    fn opaque(&mut self, input: &[u8], eof: bool) -> Result<Next, Error> {
        const MARK: &[u8] = b"mimeinject";
        if input.is_empty() {
            return if eof { self.finish() } else { Ok(Next::NeedInput(0)) };
        }
        if let Some(i) = find_ci(input, MARK) {
            let why = self.defect.clone().unwrap_or_default();
            return Err(Error::structure(format!(
                "something that looks like a placeholder in a part whose structure could not \
                 be followed ({why})"
            ))
            .at(self.cursor + i as u64));
        }
        let end = if eof { input.len() } else { input.len().saturating_sub(MARK.len() - 1) };
        Ok(if end > 0 { Next::Pass(end) } else { Next::NeedInput(0) })
    }

    /// Gives up on structure: what was held is passed on, and so is the rest.
    fn lose_structure(&mut self, consumed: usize, why: &str) -> Result<Next, Error> {
        if find_ci(&self.held, b"mimeinject").is_some() {
            return Err(Error::structure(format!("{why}, in a part that mentions mimeinject")));
        }
        self.defect.get_or_insert_with(|| why.to_owned());
        self.state = State::Opaque;
        self.out = std::mem::take(&mut self.held);
        Ok(if self.out.is_empty() { Next::Drop(consumed) } else { Next::Emit(consumed) })
    }

    /// Reads a placeholder's parameters. `Ok(false)`: unsigned, and to be left as is.
    fn offer(&mut self, params: &Params, form: Form) -> Result<bool, Error> {
        if let Some(d) = &self.defect {
            return Err(Error::structure(format!("placeholder in a message with a defect: {d}")));
        }
        self.found += 1;
        if self.found > self.config.limits.placeholders {
            return Err(Error::limit("placeholders", self.config.limits.placeholders as u64));
        }
        match placeholder::from_params(params, form, &self.config) {
            Ok(Parsed::Valid(p)) => {
                self.next_placeholder = Some(p);
                Ok(true)
            }
            Ok(Parsed::Unsigned) => Ok(false),
            Err((true, r)) => Err(Error::new(ErrorKind::Signature(r))),
            Err((false, r)) => Err(Error::placeholder(r)),
        }
    }

    fn take_placeholder(&mut self) -> Placeholder {
        self.next_placeholder.take().expect("offer accepted a placeholder")
    }

    /// The end of the input: the last checks.
    fn finish(&mut self) -> Result<Next, Error> {
        if self.replaced > 0 || self.pending.is_some() {
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

/// Whether `line` (line ending included or not) is a delimiter of a multipart in `stack`,
/// innermost first: `--boundary`, optionally `--`, then only blanks (RFC 2046 §5.1.1).
fn classify(line: &[u8], stack: &[Frame]) -> Option<(usize, bool)> {
    let rest = trim_eol(line).strip_prefix(b"--")?;
    stack.iter().enumerate().rev().find_map(|(i, f)| {
        let tail = rest.strip_prefix(f.boundary.as_slice())?;
        let (close, tail) = match tail.strip_prefix(b"--") {
            Some(t) => (true, t),
            None => (false, tail),
        };
        tail.iter().all(|&b| b == b' ' || b == b'\t').then_some((i, close))
    })
}

/// RFC 2046 §5.1.1: 1 to 70 `bchars`, not ending in a space, and not a prefix of an
/// enclosing boundary or the reverse.
fn check_boundary(b: &[u8], stack: &[Frame]) -> Option<String> {
    let shown = String::from_utf8_lossy(b);
    let bchar = |c: u8| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c);
    if b.len() > 70 {
        return Some(format!("boundary {shown:?} is longer than 70 characters"));
    }
    if !b.iter().all(|&c| bchar(c)) || b.ends_with(b" ") {
        return Some(format!("boundary {shown:?} has characters RFC 2046 does not allow"));
    }
    stack.iter().find(|f| f.boundary.starts_with(b) || b.starts_with(&f.boundary)).map(|f| {
        format!(
            "boundary {shown:?} and the enclosing {:?}: one is a prefix of the other",
            String::from_utf8_lossy(&f.boundary)
        )
    })
}

/// One header field of a held block.
#[derive(Debug)]
struct Field {
    /// The whole field, continuation lines and line ending included.
    span: Range<usize>,
    /// The length of the name.
    name_len: usize,
}

impl Field {
    fn name<'h>(&self, held: &'h [u8]) -> &'h [u8] {
        trim(&held[self.span.start..self.span.start + self.name_len])
    }

    /// The field body after the colon, line endings of folding (LF or CRLF) removed. A bare
    /// CR is not a line break and stays: dropping it would make `x-mime<CR>inject` read as
    /// the stub type.
    fn unfolded(&self, held: &[u8]) -> Vec<u8> {
        let body = &held[self.span.start + self.name_len + 1..self.span.end];
        let mut out = Vec::with_capacity(body.len());
        for (i, &b) in body.iter().enumerate() {
            match b {
                b'\n' => {}
                b'\r' if body.get(i + 1) == Some(&b'\n') => {}
                _ => out.push(b),
            }
        }
        out
    }
}

/// The fields of a header block; lines without a colon are skipped.
fn fields(held: &[u8]) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    let mut pos = 0;
    while pos < held.len() {
        let end = memchr(b'\n', &held[pos..]).map_or(held.len(), |i| pos + i + 1);
        let line = &held[pos..end];
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = out.last_mut() {
                if last.span.end == pos {
                    last.span.end = end;
                }
            }
        } else if let Some(colon) = memchr(b':', line) {
            out.push(Field { span: pos..end, name_len: colon });
        }
        pos = end;
    }
    out
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// ASCII case-insensitive search for a lower-case `needle` starting with a letter.
/// Where `needle` (lower-case ASCII) first occurs in `hay`, ignoring ASCII case.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (lo, up) = (needle[0], needle[0].to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, hay).find(|&i| starts_with_ci(&hay[i..], needle))
}

impl Limits {
    /// The buffer a driver needs so that the rewriter can always decide: the longest line it
    /// must see whole, plus room to read.
    pub fn min_buffer(&self) -> usize {
        self.line_bytes + (64 << 10)
    }
}
