//! Following the MIME tree: header blocks held until their blank line, the stack of open
//! multiparts, delimiter lines, the bodies between them, defects, and what happens when
//! the structure is lost (RFC 2046 §5.1).
//!
//! [`Tree`] knows nothing of placeholders beyond where one could start: in a base64 body it
//! hands back the spans of content ([`Next::Data`]) and the lines that start with
//! [`BODY_LINE_PREFIX`] ([`Next::BodyLine`]) for the rewriter to judge.

use memchr::{memchr, memmem};

use super::header_block::{edit_block, Block};
use crate::chain::Stage;
use crate::config::Limits;
use crate::error::Error;
use crate::mime::{find_ci, trim_eol, Eol};
use crate::placeholder::BODY_LINE_PREFIX;

/// A placeholder for the part context in [`Next::HeaderBlock`] until `advance` fills it in.
const NO_CTX: PartCtx = PartCtx { top: false, in_alternative: false };

/// Multiparts whose content is signed or encrypted as it is (RFC 1847).
const SEALED_MULTIPARTS: &[&str] = &["multipart/signed", "multipart/encrypted"];

/// An active multipart.
#[derive(Debug)]
struct Frame {
    boundary: Vec<u8>,
    alternative: bool,
    /// `multipart/signed` or `multipart/encrypted`: its content must not change.
    sealed: Option<&'static str>,
}

/// Where a header block sits in the tree.
#[derive(Clone, Copy, Debug)]
pub(super) struct PartCtx {
    pub(super) top: bool,
    pub(super) in_alternative: bool,
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

/// What the tree (or the rewriter) decided about the front of the input, in terms that
/// don't borrow. The last four are for the rewriter to resolve into one of the others.
#[derive(Clone, Copy, Debug)]
pub(super) enum Next {
    /// Write this many input bytes as they are.
    Pass(usize),
    /// Consume this many input bytes and write nothing.
    Drop(usize),
    /// Consume this many input bytes and write [`Tree::out`].
    Emit(usize),
    /// Consume this many input bytes and ask for the pending attachment.
    Attach(usize),
    /// Consume this many input bytes and ask for more.
    NeedInput(usize),
    /// The message is done.
    Finished,
    /// Content of a base64 body, this many bytes, to be passed.
    Data(usize),
    /// A whole line of a base64 body, this long, that starts with [`BODY_LINE_PREFIX`].
    BodyLine(usize),
    /// The header block the tree holds is complete after this many bytes; where it sits.
    HeaderBlock(usize, PartCtx),
    /// The input ended: the last checks are due.
    End,
}

/// The MIME tree of one message as it streams: see the [module docs](self).
#[derive(Debug)]
pub(super) struct Tree {
    state: State,
    /// True when the first unconsumed byte starts a line.
    at_line_start: bool,
    /// The message's line ending, from its first line.
    eol: Option<Eol>,
    /// The header block being collected; for a stub, kept until its header is generated.
    held: Vec<u8>,
    /// Bytes handed out by the last step ([`Next::Emit`]); cleared at the next.
    out: Vec<u8>,
    stack: Stack,
    /// The first structural defect seen.
    defect: Option<String>,
    /// Absolute offset of the first unconsumed input byte.
    offset: u64,
    /// Absolute offset of the input handed to the current `advance`.
    cursor: u64,
    /// Absolute offset of the header block in `held`: errors about a part point there,
    /// however the input was chunked.
    block_start: u64,
    limits: Limits,
    dash: memmem::Finder<'static>,
    body_line: memmem::Finder<'static>,
}

impl Tree {
    /// The tree of a message not yet seen, followed within `limits`.
    pub(super) fn new(limits: Limits) -> Tree {
        Tree {
            state: State::Headers(PartCtx { top: true, in_alternative: false }),
            at_line_start: true,
            eol: None,
            held: Vec::new(),
            out: Vec::new(),
            stack: Stack(Vec::new()),
            defect: None,
            offset: 0,
            cursor: 0,
            block_start: 0,
            limits,
            dash: memmem::Finder::new(b"\n--"),
            body_line: memmem::Finder::new(b"\nmimeinject:"),
        }
    }

    /// The message's line ending, from its first line (LF until that has been seen).
    pub(super) fn message_eol(&self) -> Eol {
        self.eol.unwrap_or(Eol::Lf)
    }

    /// Absolute offset of the first unconsumed input byte.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Absolute offset of the header block held: errors about a part point there.
    pub(super) fn block_start(&self) -> u64 {
        self.block_start
    }

    /// The header block held (for a stub, until its replacement's header is written).
    pub(super) fn held(&self) -> &[u8] {
        &self.held
    }

    /// The first structural defect seen, if any.
    pub(super) fn defect(&self) -> Option<&str> {
        self.defect.as_deref()
    }

    /// The multiparts open around the front of the input.
    pub(super) fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Bytes to hand out for [`Next::Emit`].
    pub(super) fn out(&self) -> &[u8] {
        &self.out
    }

    /// A new step of the loop: nothing emitted yet.
    pub(super) fn begin_step(&mut self) {
        self.out.clear();
    }

    /// `n` more input bytes consumed.
    pub(super) fn consume(&mut self, n: usize) {
        self.offset += n as u64;
    }

    /// The stub whose header block is held is being replaced: its body is dropped up to the
    /// next delimiter, which gets `eol` if the body lacks one.
    pub(super) fn skip_stub(&mut self, eol: Eol) {
        self.state = State::Skip(eol);
    }

    /// The stub's replacement is written: its held block is no longer needed.
    pub(super) fn stub_replaced(&mut self) {
        self.held.clear();
    }

    /// The message is done.
    pub(super) fn finish(&mut self) {
        self.state = State::Done;
    }

    /// Looks at the front of `input`, which starts at absolute offset `at`. `base64_lines`
    /// says whether body-line placeholders are looked for in base64 bodies.
    pub(super) fn advance(
        &mut self,
        input: &[u8],
        eof: bool,
        at: u64,
        base64_lines: bool,
    ) -> Result<Next, Error> {
        self.cursor = at;
        match self.state {
            State::Headers(ctx) => Ok(match self.headers(input, eof)? {
                Next::HeaderBlock(n, _) => Next::HeaderBlock(n, ctx),
                next => next,
            }),
            State::Body { base64 } => self.body(input, eof, base64 && base64_lines),
            State::Skip(eol) => self.skip(input, eof, eol),
            State::Opaque => self.opaque(input, eof),
            State::Done => Ok(Next::Finished),
        }
    }

    /// Why the message's structure is not sound enough to replace a placeholder in it, at
    /// its end: a defect seen, or a multipart never closed.
    pub(super) fn check_sound(&self) -> Result<(), Error> {
        if let Some(d) = &self.defect {
            return Err(Error::structure(format!("placeholder in a message with a defect: {d}")));
        }
        if let Some(f) = self.stack.0.last() {
            let b = String::from_utf8_lossy(&f.boundary);
            return Err(Error::structure(format!("multipart {b:?} is never closed")));
        }
        Ok(())
    }

    /// Collects header lines into `held` until the blank line: [`Next::HeaderBlock`] once
    /// the block is complete.
    fn headers(&mut self, input: &[u8], eof: bool) -> Result<Next, Error> {
        let limit = self.limits.header_bytes;
        let mut pos = 0;
        loop {
            if self.held.is_empty() {
                self.block_start = self.cursor + pos as u64;
            }
            let rest = &input[pos..];
            let line_len = match memchr(b'\n', rest) {
                Some(i) => i + 1,
                None if eof && !rest.is_empty() => rest.len(),
                None if eof => return Ok(Next::HeaderBlock(pos, NO_CTX)),
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
                return Ok(Next::HeaderBlock(pos + line_len, NO_CTX));
            }
            if line.starts_with(b"--") && self.stack.classify(line).is_some() {
                // A delimiter before any blank line: the part had headers only.
                return Ok(Next::HeaderBlock(pos, NO_CTX));
            }
            self.held.extend_from_slice(line);
            pos += line_len;
        }
    }

    /// Runs the chain's header stages over the held top-level block.
    pub(super) fn edit_top_headers(&mut self, stages: &[Stage]) {
        self.held = edit_block(&self.held, self.message_eol(), stages);
    }

    /// Reads the complete header block in `held`. A line that is not a field is a defect.
    pub(super) fn read_block(&mut self, top: bool) -> Block {
        self.at_line_start = true;
        let (block, not_field) = Block::read(&self.held, top);
        if let Some(line) = not_field {
            self.defect.get_or_insert_with(|| format!("the header line {line} is not a field"));
        }
        block
    }

    /// Starts the body of the part whose block was read: a multipart's, whose delimiters
    /// are followed from now on, or a leaf's. Hands out the held block.
    pub(super) fn open_part(&mut self, block: Block, consumed: usize) -> Result<Next, Error> {
        if !block.type_is("multipart/", true) {
            self.state = State::Body { base64: block.base64 };
            return Ok(self.emit_held(consumed));
        }
        let ct = match block.parsed {
            Some(Ok(ct)) => ct,
            _ => return self.lose_structure(consumed, "unparseable multipart Content-Type"),
        };
        let boundary = match ct.params.get("boundary") {
            Some(b) if !b.is_empty() => b.as_bytes().to_vec(),
            _ => return self.lose_structure(consumed, "multipart without a boundary"),
        };
        if self.stack.0.len() >= self.limits.depth {
            return self.lose_structure(consumed, "multipart nesting too deep");
        }
        if let Some(d) = self.stack.check_boundary(&boundary) {
            self.defect.get_or_insert(d);
        }
        let sealed = SEALED_MULTIPARTS.iter().find(|t| ct.media_type == **t).copied();
        let alternative = ct.media_type == "multipart/alternative";
        self.stack.0.push(Frame { boundary, alternative, sealed });
        self.state = State::Body { base64: false };
        Ok(self.emit_held(consumed))
    }

    /// Hands out the held block, consuming `consumed` bytes.
    fn emit_held(&mut self, consumed: usize) -> Next {
        self.out = std::mem::take(&mut self.held);
        if self.out.is_empty() {
            Next::Drop(consumed)
        } else {
            Next::Emit(consumed)
        }
    }

    /// Streams a body, stopping at delimiter lines and, when `base64`, at lines that may be
    /// body-line placeholders.
    fn body(&mut self, input: &[u8], eof: bool, base64: bool) -> Result<Next, Error> {
        let dashes = !self.stack.0.is_empty();
        if !dashes && !base64 {
            // Nothing can happen before the end: pass everything.
            return Ok(whole(input, eof, Next::Pass));
        }
        if input.is_empty() {
            return Ok(ended(eof));
        }
        if self.at_line_start {
            if let Some(next) = self.line_start(input, eof, dashes, base64)? {
                return Ok(next);
            }
        }
        let pass = |n| if base64 { Next::Data(n) } else { Next::Pass(n) };
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
            return Ok(pass(i + 1));
        }
        let keep = if base64 { BODY_LINE_PREFIX.len() } else { 2 };
        let end = if eof { input.len() } else { input.len().saturating_sub(keep) };
        if end == 0 {
            return Ok(Next::NeedInput(0));
        }
        self.at_line_start = input[end - 1] == b'\n';
        Ok(pass(end))
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
        let limit = self.limits.line_bytes;
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
        // A line longer than the limit is never a delimiter, however it arrived: in pieces it
        // was declared ordinary above before its end was seen.
        if dash && line_len <= limit {
            if let Some((depth, close)) = self.stack.classify(line) {
                self.delimiter(depth, close);
                return Ok(Some(Next::Pass(line_len)));
            }
        }
        self.at_line_start = line.ends_with(b"\n");
        Ok(Some(if ph && line.starts_with(BODY_LINE_PREFIX) {
            Next::BodyLine(line_len)
        } else if base64 {
            Next::Data(line_len)
        } else {
            // An ordinary line: pass it whole.
            Next::Pass(line_len)
        }))
    }

    /// A delimiter line of the multipart at `depth` in the stack.
    fn delimiter(&mut self, depth: usize, close: bool) {
        if depth + 1 < self.stack.0.len() {
            self.defect.get_or_insert_with(|| {
                "an outer boundary ends a multipart that was never closed".to_owned()
            });
            self.stack.0.truncate(depth + 1);
        }
        self.at_line_start = true;
        if close {
            self.stack.0.pop();
            self.state = State::Body { base64: false };
        } else {
            let in_alternative = self.stack.0[depth].alternative;
            self.state = State::Headers(PartCtx { top: false, in_alternative });
        }
    }

    /// Drops a replaced stub's body, keeping the line ending that belongs to the next
    /// delimiter (RFC 2046: the CRLF before `--boundary` is part of the delimiter).
    fn skip(&mut self, input: &[u8], eof: bool, eol: Eol) -> Result<Next, Error> {
        if self.stack.0.is_empty() {
            // A top-level stub: its body runs to the end.
            return Ok(whole(input, eof, Next::Drop));
        }
        if input.is_empty() {
            return Ok(ended(eof));
        }
        if self.at_line_start {
            // The stub's body is empty, or its last line ending was dropped already: the
            // delimiter still needs one.
            if input.len() < 2 && !eof {
                return Ok(Next::NeedInput(0));
            }
            match self.stack.delimiter_at(input, eof, self.limits.line_bytes) {
                Some(true) => {
                    self.state = State::Body { base64: false };
                    self.out.extend_from_slice(eol.as_bytes());
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
            match self.stack.delimiter_at(&input[nl + 1..], eof, self.limits.line_bytes) {
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

    /// Passes everything, refusing anything that looks like a placeholder.
    fn opaque(&mut self, input: &[u8], eof: bool) -> Result<Next, Error> {
        const MARK: &[u8] = b"mimeinject";
        if input.is_empty() {
            return Ok(ended(eof));
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
        Ok(self.emit_held(consumed))
    }
}

/// All of `input` as `take` says, or, when there is none, [`ended`].
fn whole(input: &[u8], eof: bool, take: fn(usize) -> Next) -> Next {
    if input.is_empty() {
        ended(eof)
    } else {
        take(input.len())
    }
}

/// Nothing left to look at: the end of the message, or a wait for more input.
fn ended(eof: bool) -> Next {
    if eof {
        Next::End
    } else {
        Next::NeedInput(0)
    }
}

/// The multiparts open around the front of the input, outermost first.
#[derive(Debug)]
pub(super) struct Stack(Vec<Frame>);

impl Stack {
    /// The outermost open multipart whose content must not change (RFC 1847), if any.
    pub(super) fn sealed(&self) -> Option<&'static str> {
        self.0.iter().find_map(|f| f.sealed)
    }

    /// The boundary of the stack that a line of `text` would read as, if any: the boundary
    /// named in the reason when a generated header would cut its part short.
    pub(super) fn delimiter_in(&self, text: &[u8]) -> Option<String> {
        text.split(|&b| b == b'\n').find_map(|line| {
            let (i, _) = self.classify(line)?;
            Some(String::from_utf8_lossy(&self.0[i].boundary).into_owned())
        })
    }

    /// Whether `input` starts with a complete delimiter line of the stack, no longer than
    /// `limit` (`None`: can't tell yet).
    pub(super) fn delimiter_at(&self, input: &[u8], eof: bool, limit: usize) -> Option<bool> {
        let n = input.len().min(2);
        if input[..n] != b"--"[..n] {
            return Some(false);
        }
        // As in `line_start`: longer than the limit is never a delimiter, seen whole or not.
        match memchr(b'\n', input) {
            Some(i) if i + 1 > limit => Some(false),
            Some(i) => Some(self.classify(&input[..=i]).is_some()),
            None if input.len() > limit => Some(false),
            None if eof => Some(self.classify(input).is_some()),
            None => None,
        }
    }

    /// Whether `line` (line ending included or not) is a delimiter of a multipart in the stack,
    /// innermost first: `--boundary`, optionally `--`, then only blanks (RFC 2046 §5.1.1).
    pub(super) fn classify(&self, line: &[u8]) -> Option<(usize, bool)> {
        let rest = trim_eol(line).strip_prefix(b"--")?;
        self.0.iter().enumerate().rev().find_map(|(i, f)| {
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
    fn check_boundary(&self, b: &[u8]) -> Option<String> {
        let shown = String::from_utf8_lossy(b);
        let bchar = |c: u8| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c);
        if b.len() > 70 {
            return Some(format!("boundary {shown:?} is longer than 70 characters"));
        }
        if !b.iter().all(|&c| bchar(c)) || b.ends_with(b" ") {
            return Some(format!("boundary {shown:?} has characters RFC 2046 does not allow"));
        }
        self.0.iter().find(|f| f.boundary.starts_with(b) || b.starts_with(&f.boundary)).map(|f| {
            format!(
                "boundary {shown:?} and the enclosing {:?}: one is a prefix of the other",
                String::from_utf8_lossy(&f.boundary)
            )
        })
    }
}
