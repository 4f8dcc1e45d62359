//! Header blocks: their fields, unfolding, and deciding from them what a part is.

use std::ops::Range;

use memchr::memchr;

use super::structure::{check_boundary, classify, Frame};
use super::{trim, Base64Body, Next, PartCtx, Rewriter, State};
use crate::error::Error;
use crate::mime::{params, starts_with_ci, trim_eol, Eol};

/// Signature fields of a message's own header that cover its body: DKIM (RFC 6376) and ARC
/// (RFC 8617). Checked in this order; the first found is named in the refusal.
const SIGNATURE_FIELDS: &[&str] = &["DKIM-Signature", "ARC-Message-Signature", "ARC-Seal"];

/// Multiparts whose content is signed or encrypted as it is (RFC 1847).
const SEALED_MULTIPARTS: &[&str] = &["multipart/signed", "multipart/encrypted"];

/// S/MIME's own media types for signed or encrypted data (RFC 8551 §3.2.1).
const PKCS7_TYPES: &[&str] = &["application/pkcs7-mime", "application/x-pkcs7-mime"];

/// One header field of a held block.
#[derive(Debug)]
pub(super) struct Field {
    /// The whole field, continuation lines and line ending included.
    pub(super) span: Range<usize>,
    /// The length of the name.
    name_len: usize,
}

impl Field {
    fn name<'h>(&self, held: &'h [u8]) -> &'h [u8] {
        trim(&held[self.span.start..self.span.start + self.name_len])
    }

    /// Whether the field is named `name` (ASCII case-insensitive).
    pub(super) fn is(&self, held: &[u8], name: &str) -> bool {
        self.name(held).eq_ignore_ascii_case(name.as_bytes())
    }

    /// The field body after the colon, line endings of folding (LF or CRLF) removed. A bare
    /// CR is not a line break and stays: dropping it would make `x-mime<CR>inject` read as
    /// the stub type.
    pub(super) fn unfolded(&self, held: &[u8]) -> Vec<u8> {
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

/// The bodies of the fields named `name`, unfolded, in order.
pub(super) fn named(fields: &[Field], held: &[u8], name: &str) -> Vec<Vec<u8>> {
    fields.iter().filter(|f| f.is(held, name)).map(|f| f.unfolded(held)).collect()
}

/// The fields of a header block, and the first line that is neither a field, nor the
/// continuation of one, nor the blank line that ends the block.
///
/// A field starts with a name of printable ASCII other than `:`, then `:` (RFC 5322 §2.2;
/// the obsolete white space before the colon of §4.5 is not accepted). A line like
/// `X Y: z`, `Subject : z` or `--boundary` is not a field: parsers read it differently
/// (Python's `email` takes it as the start of the body), so it is never copied into a
/// generated header, and it makes the structure around it unsafe to change.
///
/// One exception, in the message's own header (`top`): a first line starting with `From `
/// is the Unix mbox envelope line (Postfix's pipe(8) writes it with `flags=F`; Python's
/// `email` keeps it as the "unixfrom"). It is kept where it is, as if it were a field.
pub(super) fn fields(held: &[u8], top: bool) -> (Vec<Field>, Option<Range<usize>>) {
    let mut out: Vec<Field> = Vec::new();
    let mut not_field = None;
    let mut pos = 0;
    if top && held.starts_with(b"From ") {
        let end = memchr(b'\n', held).map_or(held.len(), |i| i + 1);
        // No name: it is never taken for any field.
        out.push(Field { span: 0..end, name_len: 0 });
        pos = end;
    }
    while pos < held.len() {
        let end = memchr(b'\n', &held[pos..]).map_or(held.len(), |i| pos + i + 1);
        let line = &held[pos..end];
        if line[0] == b' ' || line[0] == b'\t' {
            match out.last_mut() {
                Some(last) if last.span.end == pos => last.span.end = end,
                // A continuation of a line that is not a field belongs to that line.
                Some(_) if not_field.is_some() => {}
                _ => {
                    not_field.get_or_insert(pos..end);
                }
            }
        } else if trim_eol(line).is_empty() {
            // The blank line that ends the block.
        } else {
            match memchr(b':', line) {
                Some(colon) if is_field_name(&line[..colon]) => {
                    out.push(Field { span: pos..end, name_len: colon });
                }
                _ => {
                    not_field.get_or_insert(pos..end);
                }
            }
        }
        pos = end;
    }
    (out, not_field)
}

/// RFC 5322 `field-name`: one or more printable ASCII characters other than `:`, the colon
/// right after it. The obsolete white space before the colon (§4.5) is not accepted:
/// Python's `email` reads such a line as the first line of the body, so a generated header
/// that kept it would end there for the recipient.
fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))
}

/// How a line that is not a field is named in a one-line reason.
pub(super) fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(trim_eol(line));
    let short: String = text.chars().take(60).collect();
    let more = if short.len() < text.len() { "..." } else { "" };
    format!("{short:?}{more}")
}

impl Rewriter {
    /// Collects header lines into `held` until the blank line.
    pub(super) fn headers(&mut self, input: &[u8], eof: bool, ctx: PartCtx) -> Result<Next, Error> {
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
    pub(super) fn end_headers(&mut self, ctx: PartCtx, consumed: usize) -> Result<Next, Error> {
        self.at_line_start = true;
        if ctx.top && self.config.edits_headers() {
            self.edit_top_headers();
        }
        let (fields, not_field) = fields(&self.held, ctx.top);
        if let Some(line) = not_field {
            let line = shown(&self.held[line]);
            self.defect.get_or_insert_with(|| format!("the header line {line} is not a field"));
        }
        if ctx.top {
            self.top_signature = SIGNATURE_FIELDS
                .iter()
                .find(|name| fields.iter().any(|f| f.is(&self.held, name)))
                .copied();
        }
        let types = named(&fields, &self.held, "content-type");
        let cte = named(&fields, &self.held, "content-transfer-encoding").into_iter().next();
        let parsed = types.first().map(|v| params::parse_content_type(v));
        if self.config.attachments() {
            if let Some(next) = self.stub_part(ctx, &fields, &types, &parsed, consumed)? {
                return Ok(next);
            }
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
            let sealed = SEALED_MULTIPARTS.iter().find(|t| ct.media_type == **t).copied();
            let alternative = ct.media_type == "multipart/alternative";
            self.stack.push(Frame { boundary, alternative, sealed });
            self.state = State::Body { base64: false };
        } else {
            self.body_sealed = match &parsed {
                Some(Ok(ct)) => PKCS7_TYPES.contains(&ct.media_type.as_str()),
                Some(Err(_)) => {
                    PKCS7_TYPES.iter().any(|t| starts_with_ci(trim(&types[0]), t.as_bytes()))
                }
                None => false,
            };
            self.base64_body = Base64Body::Empty;
            self.state = State::Body { base64 };
        }
        self.out = std::mem::take(&mut self.held);
        Ok(if self.out.is_empty() { Next::Drop(consumed) } else { Next::Emit(consumed) })
    }

    /// Runs the chain's header stages over the held top-level block.
    pub(super) fn edit_top_headers(&mut self) {
        let eol = self.message_eol();
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
}
