//! Following the MIME tree: the stack of open multiparts, delimiter lines, the bodies
//! between them, and what happens when the structure is lost (RFC 2046 §5.1).

use memchr::memchr;

use super::{Next, PartCtx, Rewriter, State, BODY_LINE_PREFIX};
use crate::error::Error;
use crate::mime::{find_ci, trim_eol, Eol};

/// An active multipart.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) boundary: Vec<u8>,
    pub(super) alternative: bool,
    /// `multipart/signed` or `multipart/encrypted`: its content must not change.
    pub(super) sealed: Option<&'static str>,
}

impl Rewriter {
    /// Streams a body, stopping at delimiter lines and body-line placeholders.
    pub(super) fn body(&mut self, input: &[u8], eof: bool, base64: bool) -> Result<Next, Error> {
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
            if base64 {
                self.base64_data(&input[..=i])?;
            }
            return Ok(Next::Pass(i + 1));
        }
        let keep = if base64 { BODY_LINE_PREFIX.len() } else { 2 };
        let end = if eof { input.len() } else { input.len().saturating_sub(keep) };
        if end == 0 {
            return Ok(Next::NeedInput(0));
        }
        if base64 {
            self.base64_data(&input[..end])?;
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
        // A line longer than the limit is never a delimiter, however it arrived: in pieces it
        // was declared ordinary above before its end was seen.
        if dash && line_len <= limit {
            if let Some((depth, close)) = classify(line, &self.stack) {
                self.delimiter(depth, close);
                return Ok(Some(Next::Pass(line_len)));
            }
        }
        if ph && line.starts_with(BODY_LINE_PREFIX) {
            if let Some(next) = self.body_line(line)? {
                return Ok(Some(next));
            }
        }
        // An ordinary line: pass it whole.
        if base64 {
            self.base64_data(line)?;
        }
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
    pub(super) fn skip(&mut self, input: &[u8], eof: bool, eol: Eol) -> Result<Next, Error> {
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
        // As in `line_start`: longer than the limit is never a delimiter, seen whole or not.
        let limit = self.config.limits.line_bytes;
        match memchr(b'\n', input) {
            Some(i) if i + 1 > limit => Ok(Some(false)),
            Some(i) => Ok(Some(classify(&input[..=i], &self.stack).is_some())),
            None if input.len() > limit => Ok(Some(false)),
            None if eof => Ok(Some(classify(input, &self.stack).is_some())),
            None => Ok(None),
        }
    }

    /// Passes everything, refusing anything that looks like a placeholder.
    pub(super) fn opaque(&mut self, input: &[u8], eof: bool) -> Result<Next, Error> {
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
    pub(super) fn lose_structure(&mut self, consumed: usize, why: &str) -> Result<Next, Error> {
        if find_ci(&self.held, b"mimeinject").is_some() {
            return Err(Error::structure(format!("{why}, in a part that mentions mimeinject")));
        }
        self.defect.get_or_insert_with(|| why.to_owned());
        self.state = State::Opaque;
        self.out = std::mem::take(&mut self.held);
        Ok(if self.out.is_empty() { Next::Drop(consumed) } else { Next::Emit(consumed) })
    }
}

/// Whether `line` (line ending included or not) is a delimiter of a multipart in `stack`,
/// innermost first: `--boundary`, optionally `--`, then only blanks (RFC 2046 §5.1.1).
pub(super) fn classify(line: &[u8], stack: &[Frame]) -> Option<(usize, bool)> {
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
pub(super) fn check_boundary(b: &[u8], stack: &[Frame]) -> Option<String> {
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
