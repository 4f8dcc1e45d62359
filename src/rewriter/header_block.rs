//! Header blocks: their fields, unfolding, the lines that are not fields, what their content
//! fields say, and the header stages run over the message's own.

use std::ops::Range;

use memchr::memchr;

use crate::chain::Stage;
use crate::mime::params::{self, ContentType, ParamError};
use crate::mime::{starts_with_ci, trim_eol, Eol};

/// A complete header block, read: its fields and what its content fields say.
pub(super) struct Block {
    pub(super) fields: Vec<Field>,
    /// The bodies of its `Content-Type` fields, unfolded, in order.
    pub(super) types: Vec<Vec<u8>>,
    /// The first `Content-Type`, parsed.
    pub(super) parsed: Option<Result<ContentType, ParamError>>,
    /// Whether the first `Content-Transfer-Encoding` is base64.
    pub(super) base64: bool,
}

impl Block {
    /// Reads the complete header block `held` (the message's own when `top`), and shows the
    /// first line that is not a field, if any.
    pub(super) fn read(held: &[u8], top: bool) -> (Block, Option<String>) {
        let (fields, not_field) = fields(held, top);
        let not_field = not_field.map(|line| shown(&held[line]));
        let types = named(&fields, held, "content-type");
        let cte = named(&fields, held, "content-transfer-encoding").into_iter().next();
        let parsed = types.first().map(|v| params::parse_content_type(v));
        let base64 = cte.is_some_and(|v| params::parse_mechanism(&v) == "base64");
        (Block { fields, types, parsed, base64 }, not_field)
    }

    /// Whether the first `Content-Type` is `media_type` (lower case), or, with `prefix`,
    /// starts with it. One that does not parse is read by its text: whether it starts with
    /// `media_type` in any case.
    pub(super) fn type_is(&self, media_type: &str, prefix: bool) -> bool {
        match &self.parsed {
            Some(Ok(ct)) if prefix => ct.media_type.starts_with(media_type),
            Some(Ok(ct)) => ct.media_type == media_type,
            Some(Err(_)) => starts_with_ci(self.types[0].trim_ascii(), media_type.as_bytes()),
            None => false,
        }
    }
}

/// `held`, a top-level header block, after the chain's header stages, each given the block
/// without its blank line and with a line ending after its last field.
pub(super) fn edit_block(held: &[u8], eol: Eol, stages: &[Stage]) -> Vec<u8> {
    let blank = if held.ends_with(b"\r\n\r\n") || held == b"\r\n" {
        2
    } else if held.ends_with(b"\n\n") || held == b"\n" {
        1
    } else {
        0
    };
    let mut block = held[..held.len() - blank].to_vec();
    if !block.is_empty() && !block.ends_with(b"\n") {
        block.extend_from_slice(eol.as_bytes());
    }
    for stage in stages {
        stage.apply(&mut block, eol);
    }
    block.extend_from_slice(&held[held.len() - blank..]);
    block
}

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
        held[self.span.start..self.span.start + self.name_len].trim_ascii()
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
fn fields(held: &[u8], top: bool) -> (Vec<Field>, Option<Range<usize>>) {
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
