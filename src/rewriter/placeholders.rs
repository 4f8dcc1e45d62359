//! Placeholder handling: recognising stubs and body lines in what the [`Tree`] found,
//! the attachment pending with the driver, the header of the part that replaces a stub, the
//! checks that keep a signature or sealed content intact, and the list of what was attached.
//!
//! [`Placeholders`] reads the tree (its held block, stack and defects) and never changes it:
//! the rewriter applies what it decides.

use std::ops::Range;

use super::header_block::{named, shown, Block};
use super::structure::{PartCtx, Tree};
use super::Attached;
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::mime::header::{write_attachment_headers, AttachmentHeaders};
use crate::mime::params::{self, ContentDisposition, Params};
use crate::mime::rfc2047::encoded_words_anywhere;
use crate::mime::{find_ci, line_ending, trim_eol, Eol};
use crate::placeholder::{self, Form, Parsed, Placeholder, Refusal, BODY_LINE_PREFIX, STUB_TYPE};

/// Signature fields of a message's own header that cover its body: DKIM (RFC 6376) and ARC
/// (RFC 8617). Checked in this order; the first found is named in the refusal.
const SIGNATURE_FIELDS: &[&str] = &["DKIM-Signature", "ARC-Message-Signature", "ARC-Seal"];

/// S/MIME's own media types for signed or encrypted data (RFC 8551 §3.2.1).
const PKCS7_TYPES: &[&str] = &["application/pkcs7-mime", "application/x-pkcs7-mime"];

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

/// A placeholder found, waiting for the driver.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) placeholder: Placeholder,
    /// Header fields of the stub to keep, as ranges of `held`, in their order.
    pub(super) kept: Vec<Range<usize>>,
    /// Where the generated content fields go among `kept`: where the stub's first content
    /// field (`Content-Type`, `-Disposition`, `-Transfer-Encoding`) stood.
    pub(super) content_at: usize,
    /// A top-level stub without `MIME-Version` gets one, just before the content fields.
    pub(super) add_mime_version: bool,
    /// The file's length, once the driver has given it.
    pub(super) len: Option<u64>,
    /// The line ending of the lines around the placeholder, for every generated line.
    pub(super) eol: Eol,
}

/// The fields a stub's replacement writes anew.
const CONTENT_FIELDS: &[&str] =
    &["content-type", "content-disposition", "content-transfer-encoding"];

/// The ASCII text that gives a stub away, in any case.
const STUB_MARK: &[u8] = b"x-mimeinject";

/// Whether a Content-Type field body mentions the stub type, as written or inside RFC 2047
/// encoded-words (Django writes the whole value as one when a parameter is not ASCII).
fn mentions_stub_type(body: &[u8]) -> bool {
    find_ci(body, STUB_MARK).is_some()
        || encoded_words_anywhere(&String::from_utf8_lossy(body))
            .iter()
            .any(|w| find_ci(w, STUB_MARK).is_some())
}

/// The first line of a header block with a CR that is not part of a line ending, if any.
/// RFC 5322 §2.2 allows CR only in CRLF; Python's `email` ends a line at a bare CR, while
/// unfolding here keeps it inside the field, so the two would read such a stub's header
/// differently. A CR at the very end of the block is the start of a line ending cut off by
/// the end of the input, not an ambiguity.
fn bare_cr_line(held: &[u8]) -> Option<&[u8]> {
    let end = held.len().saturating_sub(1);
    let i = memchr::memchr_iter(b'\r', &held[..end]).find(|&i| held[i + 1] != b'\n')?;
    let start = held[..i].iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1);
    let stop = memchr::memchr(b'\n', &held[i..]).map_or(held.len(), |n| i + n + 1);
    Some(&held[start..stop])
}

/// Why a body-line placeholder next to other base64 data is refused (see [`Base64Body`]).
const BODY_LINE_NOT_ALONE: &str = "a body-line placeholder must be the only content of its \
    base64 part: data around it would be decoded with the file's lines, and a decoder stops \
    at the file's padding";

/// The placeholders of one message: see the [module docs](self).
#[derive(Debug)]
pub(super) struct Placeholders {
    /// What the base64 body being streamed has held so far (see [`Base64Body`]).
    base64_body: Base64Body,
    /// The body being streamed is `application/pkcs7-mime` (S/MIME signed or encrypted
    /// data): a body line replaced there would break it.
    body_sealed: bool,
    /// A signature field of the message's own header (DKIM, ARC) after the header stages:
    /// a placeholder replaced would break it.
    top_signature: Option<&'static str>,
    /// The placeholder handed to the driver, until its attachment ends.
    pending: Option<Pending>,
    /// The generated header of the current attachment.
    generated: Vec<u8>,
    /// Placeholders seen, honoured or not.
    found: usize,
    /// The attachments replaced so far, in order.
    attached: Vec<Attached>,
}

impl Placeholders {
    /// None yet.
    pub(super) fn new() -> Placeholders {
        Placeholders {
            base64_body: Base64Body::Empty,
            body_sealed: false,
            top_signature: None,
            pending: None,
            generated: Vec::new(),
            found: 0,
            attached: Vec::new(),
        }
    }

    /// Whether any placeholder was honoured: then the message's structure must be sound.
    pub(super) fn any(&self) -> bool {
        !self.attached.is_empty() || self.pending.is_some()
    }

    /// The attachments replaced so far, in order.
    pub(super) fn attached(&self) -> &[Attached] {
        &self.attached
    }

    /// The placeholder handed to the driver, if any.
    pub(super) fn pending(&self) -> Option<&Placeholder> {
        self.pending.as_ref().map(|p| &p.placeholder)
    }

    /// The line ending of the lines around the pending placeholder, if any.
    pub(super) fn pending_eol(&self) -> Option<Eol> {
        self.pending.as_ref().map(|p| p.eol)
    }

    /// The generated header of the current attachment (empty for a body line).
    pub(super) fn generated(&self) -> &[u8] {
        &self.generated
    }

    /// Notes the signature fields of the message's own header block.
    pub(super) fn top_header(&mut self, tree: &Tree, block: &Block) {
        self.top_signature = SIGNATURE_FIELDS
            .iter()
            .find(|name| block.fields.iter().any(|f| f.is(tree.held(), name)))
            .copied();
    }

    /// A leaf part's body starts: nothing in it yet, sealed when it is S/MIME data.
    pub(super) fn leaf(&mut self, block: &Block) {
        self.body_sealed = PKCS7_TYPES.iter().any(|t| block.type_is(t, false));
        self.base64_body = Base64Body::Empty;
    }

    /// Looks at a part's header block for a stub. `Some`: a stub to attach, and the line
    /// ending its replacement takes; `None`: not a stub (or an unsigned one to be left as
    /// it is).
    pub(super) fn stub_part(
        &mut self,
        config: &Config,
        tree: &Tree,
        ctx: PartCtx,
        block: &Block,
    ) -> Result<Option<Eol>, Error> {
        let (fields, types, held) = (&block.fields, &block.types, tree.held());
        let stub = block.type_is(STUB_TYPE, false);
        let mentioned = types.iter().any(|t| mentions_stub_type(t));
        if mentioned {
            if let Some(d) = tree.defect() {
                return Err(Error::structure(format!(
                    "placeholder in a message with a defect: {d}"
                )));
            }
            if let Some(line) = bare_cr_line(held) {
                return Err(Error::structure(format!(
                    "a bare CR in the header line {} of a part that may be a stub: parsers \
                     disagree whether it ends the line",
                    shown(line)
                )));
            }
        }
        if !stub {
            if mentioned {
                return Err(Error::placeholder(
                    "a Content-Type mentions x-mimeinject but does not read as a stub \
                     (write it unencoded: application/x-mimeinject; path=...)",
                ));
            }
            return Ok(None);
        }
        if types.len() > 1 {
            return Err(Error::placeholder("stub part has several Content-Type fields"));
        }
        let params = match &block.parsed {
            Some(Ok(ct)) => &ct.params,
            Some(Err(e)) => return Err(Error::placeholder(e.to_string())),
            None => unreachable!("a stub has a Content-Type"),
        };
        let dispositions = named(fields, held, "content-disposition");
        if dispositions.len() > 1 {
            return Err(Error::placeholder("stub part has several Content-Disposition fields"));
        }
        let content_disposition = match dispositions.first() {
            Some(body) => Some(
                params::parse_content_disposition(body)
                    .map_err(|e| Error::placeholder(format!("Content-Disposition: {e}")))?,
            ),
            None => None,
        };
        if ctx.in_alternative {
            return Err(Error::structure(
                "stub part directly inside multipart/alternative: clients would show the \
                 attachment instead of the text; put it in multipart/mixed",
            ));
        }
        let mut kept: Vec<Range<usize>> = Vec::with_capacity(fields.len());
        let mut content_at = None;
        for f in fields {
            if CONTENT_FIELDS.iter().any(|k| f.is(held, k)) {
                content_at.get_or_insert(kept.len());
            } else {
                kept.push(f.span.clone());
            }
        }
        let content_at = content_at.unwrap_or(0);
        // The stub's Content-Type field decides; at the end of the input it may have no line
        // ending, and then the message's applies.
        let eol = fields
            .iter()
            .find(|f| f.is(held, "content-type"))
            .and_then(|f| line_ending(&held[f.span.clone()]))
            .unwrap_or(tree.message_eol());
        let add_mime_version = ctx.top && !fields.iter().any(|f| f.is(held, "mime-version"));
        let Some(placeholder) =
            self.offer(config, tree, params, content_disposition.as_ref(), Form::Stub)?
        else {
            // Unsigned, and the policy says leave it: an ordinary part.
            return Ok(None);
        };
        self.check_unsealed(tree, Form::Stub)?;
        self.pending =
            Some(Pending { placeholder, kept, content_at, add_mime_version, len: None, eol });
        Ok(Some(eol))
    }

    /// Reads a body-line placeholder, `line` (its line ending included). `false`: unsigned,
    /// and to be left as an ordinary line.
    pub(super) fn body_line(
        &mut self,
        config: &Config,
        tree: &Tree,
        line: &[u8],
    ) -> Result<bool, Error> {
        let limit = config.limits.line_bytes;
        if line.len() > limit {
            return Err(Error::limit("placeholder line bytes", limit as u64));
        }
        let text = trim_eol(&line[BODY_LINE_PREFIX.len()..]);
        let params = params::parse_params(text).map_err(|e| Error::placeholder(e.to_string()))?;
        let Some(placeholder) = self.offer(config, tree, &params, None, Form::BodyLine)? else {
            return Ok(false);
        };
        self.check_unsealed(tree, Form::BodyLine)?;
        if self.base64_body != Base64Body::Empty {
            return Err(Error::placeholder(BODY_LINE_NOT_ALONE));
        }
        self.base64_body = Base64Body::Placeholder;
        self.pending = Some(Pending {
            placeholder,
            kept: Vec::new(),
            content_at: 0,
            add_mime_version: false,
            len: None,
            eol: line_ending(line).unwrap_or(tree.message_eol()),
        });
        Ok(true)
    }

    /// Notes a span of a base64 body that is passed on: once it holds data (anything but
    /// blanks), a body-line placeholder can no longer be the part's only content.
    ///
    /// Cheap on the hot path: a body that holds data is not looked at again, and a span of
    /// data is found to be one at its first byte.
    pub(super) fn base64_data(&mut self, span: &[u8]) -> Result<(), Error> {
        if self.base64_body == Base64Body::Data
            || span.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return Ok(());
        }
        if self.base64_body == Base64Body::Placeholder {
            return Err(Error::placeholder(BODY_LINE_NOT_ALONE));
        }
        self.base64_body = Base64Body::Data;
        Ok(())
    }

    /// Starts the pending attachment, whose file is `len` bytes long, its lines ending in
    /// `eol`: for a stub, writes the header of the part that replaces it into `generated`.
    /// Returns the placeholder's form.
    pub(super) fn begin(&mut self, tree: &Tree, len: u64, eol: Eol) -> Result<Form, Error> {
        let pending = self.pending.as_mut().expect("begin_attachment without Attach");
        pending.len = Some(len);
        self.generated.clear();
        let form = pending.placeholder.form;
        if form == Form::Stub {
            self.generate_stub_header(tree, eol, len)?;
        }
        Ok(form)
    }

    /// Ends the pending attachment, of which `read` bytes were encoded. Returns its form.
    ///
    /// # Errors
    /// [`ErrorKind::Changed`] when `read` differs from the length given to
    /// [`begin`](Self::begin).
    pub(super) fn end(&mut self, read: u64) -> Result<Form, Error> {
        let pending = self.pending.take().expect("end_attachment without Attach");
        let expected = pending.len.expect("end_attachment before begin_attachment");
        let Placeholder { path, form, .. } = pending.placeholder;
        if read != expected {
            return Err(Error::new(ErrorKind::Changed { path, expected, read }));
        }
        self.attached.push(Attached { path, bytes: expected });
        Ok(form)
    }

    /// Writes the header of the part that replaces the pending stub into `generated`: the
    /// stub's other fields in their order, with the attachment's content fields where the
    /// stub's stood, then the blank line.
    fn generate_stub_header(&mut self, tree: &Tree, eol: Eol, len: u64) -> Result<(), Error> {
        let pending = self.pending.as_ref().expect("a pending stub");
        let p = &pending.placeholder;
        let h = AttachmentHeaders {
            media_type: &p.media_type,
            filename: &p.filename,
            disposition: p.disposition,
            size: len,
        };
        let (before, after) = pending.kept.split_at(pending.content_at);
        for r in before {
            push_field(&mut self.generated, &tree.held()[r.clone()], eol);
        }
        if pending.add_mime_version {
            self.generated.extend_from_slice(b"MIME-Version: 1.0");
            self.generated.extend_from_slice(eol.as_bytes());
        }
        write_attachment_headers(&h, eol, &mut self.generated)
            .map_err(|e| Error::placeholder(e.to_string()))?;
        for r in after {
            push_field(&mut self.generated, &tree.held()[r.clone()], eol);
        }
        self.generated.extend_from_slice(eol.as_bytes());
        if let Some(b) = tree.stack().delimiter_in(&self.generated) {
            return Err(Error::structure(format!(
                "a generated header line would read as the boundary {b:?}"
            )));
        }
        if self.generated.split(|&b| b == b'\n').any(|l| l.len() > 999) {
            return Err(Error::placeholder("a generated header line exceeds 998 bytes"));
        }
        Ok(())
    }

    /// Refuses a placeholder about to be honoured where replacing it would break a
    /// signature: inside `multipart/signed` or `multipart/encrypted` (RFC 1847), as a body line
    /// of an `application/pkcs7-mime` part, or anywhere in a message whose own header carries
    /// a DKIM or ARC signature (those cover the body). Only honoured placeholders are
    /// refused: one left as it is (unsigned, under `UnsignedPolicy::Pass`) changes nothing.
    fn check_unsealed(&self, tree: &Tree, form: Form) -> Result<(), Error> {
        let reason = if let Some(t) = tree.stack().sealed() {
            let (what, when) = match t {
                "multipart/signed" => ("signature", "signing"),
                _ => ("encrypted content", "encrypting"),
            };
            format!(
                "placeholder inside {t}: replacing it would break the {what}; attach the file \
                 before {when}"
            )
        } else if form == Form::BodyLine && self.body_sealed {
            "body-line placeholder inside application/pkcs7-mime: replacing it would break \
             the signed or encrypted data"
                .to_owned()
        } else if let Some(field) = self.top_signature {
            format!(
                "the message carries a {field}, which replacing the placeholder would break; \
                 sign at the MTA's transport instead, or remove the stale signature \
                 (--strip-header {field})"
            )
        } else {
            return Ok(());
        };
        Err(Error::new(ErrorKind::Signed(reason)))
    }

    /// Reads a placeholder's parameters. `None`: unsigned, and to be left as is.
    fn offer(
        &mut self,
        config: &Config,
        tree: &Tree,
        params: &Params,
        content_disposition: Option<&ContentDisposition>,
        form: Form,
    ) -> Result<Option<Placeholder>, Error> {
        if let Some(d) = tree.defect() {
            return Err(Error::structure(format!("placeholder in a message with a defect: {d}")));
        }
        self.found += 1;
        if self.found > config.limits.placeholders {
            return Err(Error::limit("placeholders", config.limits.placeholders as u64));
        }
        let rules = config.placeholder_rules();
        match placeholder::from_params(params, content_disposition, form, &rules) {
            Ok(Parsed::Valid(p)) => Ok(Some(p)),
            Ok(Parsed::Unsigned) => Ok(None),
            Err(Refusal::Malformed(r)) => Err(Error::placeholder(r)),
            Err(Refusal::Signature(r)) => Err(Error::new(ErrorKind::Signature(r))),
            Err(Refusal::Variable(r)) => Err(Error::new(ErrorKind::Variable(r))),
        }
    }
}

/// Appends a kept header field to a generated header. The last field of a message that ends
/// without a blank line (or without a final line ending) has no line ending of its own; it
/// gets `eol`, so that the blank line after it still ends the header block. A bare CR at its
/// very end is what is left of a line ending cut off between CR and LF: `eol` replaces it,
/// so that an LF message does not gain one CRLF.
fn push_field(generated: &mut Vec<u8>, field: &[u8], eol: Eol) {
    if field.ends_with(b"\n") {
        generated.extend_from_slice(field);
    } else {
        generated.extend_from_slice(field.strip_suffix(b"\r").unwrap_or(field));
        generated.extend_from_slice(eol.as_bytes());
    }
}
