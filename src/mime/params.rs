//! Parsing MIME header field bodies: RFC 2045 §5.1 parameter syntax, RFC 822 comments,
//! RFC 2183 `Content-Disposition`, with RFC 2231 continuations and charset decoding
//! (`rfc2231`, private) and RFC 2047 encoded-words inside parameter values
//! ([`super::rfc2047`]).
//!
//! The parser is lenient where real mail is sloppy but unambiguous, and strict
//! where a wrong guess could change the meaning of a message:
//!
//! * Accepted: unquoted values containing tspecials (`boundary=----=_Part_1`,
//!   `name=a/b`), a trailing `;`, empty `;;`, whitespace and comments around
//!   `=`, raw UTF-8 in values (RFC 6532), quoted RFC 2231 extended values.
//! * Refused ([`ParamError`]): a missing or malformed `type/subtype`, an
//!   unterminated quoted-string or comment, a parameter without `=`, anything
//!   but `;` after a value, a parameter given twice (two plain values, or two in RFC
//!   2231 form; one of each is a value and its fallback, and the RFC 2231 one is
//!   taken), RFC 2231 sections with gaps, duplicates or leading zeros, bad
//!   `%XX`, a charset the [`charset`] crate does not know (it knows the WHATWG
//!   Encoding Standard's labels, as mail clients do, and UTF-7), and bytes that are
//!   not valid in the declared charset (UTF-8 when none is declared, RFC 6532).
//!
//! RFC 2047 encoded-words inside a value (`filename="=?utf-8?Q?M=C3=A4rz.pdf?="`,
//! which PHPMailer, Symfony Mime and lettre write) are decoded only on request, by
//! [`Params::get_decoded`] or [`decode_encoded_words`]: a boundary or a charset must
//! never be decoded, and a value in RFC 2231 form never holds encoded-words.

use super::rfc2047::decode_encoded_words;
use super::rfc2231::{join, split_name};
use super::token::{is_lenient_value_byte, is_token_byte};
pub use super::ParamError;

/// A parsed parameter list. Names are lower-cased; RFC 2231 sections are joined and decoded.
///
/// The order is that of each name's first appearance in the field. The second, private
/// field remembers which names were given in RFC 2231 form (see [`Params::is_rfc2231`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>, pub(crate) Vec<String>);

impl Params {
    /// The value of the parameter `name` (ASCII case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether `name` was given in RFC 2231 form: `name*=charset'lang'value`, or in
    /// sections `name*0=`, `name*1*=`, …. Such a value is already decoded, and RFC 2231
    /// leaves no room for RFC 2047 encoded-words in it.
    pub fn is_rfc2231(&self, name: &str) -> bool {
        self.1.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The value of `name` as a mail library meant it: with RFC 2047 encoded-words
    /// decoded (see [`decode_encoded_words`]) unless the value was in RFC 2231 form, as
    /// Python's `email` package reads it.
    ///
    /// # Errors
    ///
    /// A [`ParamError`] when an encoded-word in the value cannot be decoded.
    ///
    /// ```
    /// use mimeinject::mime::params::parse_params;
    ///
    /// let p = parse_params(b"filename=\"=?utf-8?Q?M=C3=A4rz.csv?=\"; \
    ///                        path*=UTF-8''=%3Futf-8%3FQ%3Fx%3F=").unwrap();
    /// assert_eq!(p.get("filename"), Some("=?utf-8?Q?M=C3=A4rz.csv?="));
    /// assert_eq!(p.get_decoded("filename").unwrap().unwrap(), "März.csv");
    /// // An RFC 2231 value is taken as it is.
    /// assert_eq!(p.get_decoded("path").unwrap().unwrap(), "=?utf-8?Q?x?=");
    /// assert!(p.get_decoded("type").is_none());
    /// ```
    pub fn get_decoded(&self, name: &str) -> Option<Result<String, ParamError>> {
        let value = self.get(name)?;
        Some(if self.is_rfc2231(name) {
            Ok(value.to_owned())
        } else {
            decode_encoded_words(value).map_err(|e| ParamError(format!("parameter {name:?}: {e}")))
        })
    }
}

/// A parsed `Content-Disposition` field body (RFC 2183).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentDisposition {
    /// The disposition type, lower-cased: `attachment`, `inline`, or any other token.
    pub disposition_type: String,
    /// The parameters (`filename`, `size`, …).
    pub params: Params,
}

/// A parsed `Content-Type` field body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentType {
    /// `type/subtype`, lower-cased.
    pub media_type: String,
    /// The parameters.
    pub params: Params,
}

/// Parses an unfolded `Content-Type` field body (the bytes after the colon).
///
/// Comments and whitespace may appear between any two tokens. The media type
/// and the parameter names are lower-cased; values keep their case.
///
/// # Errors
///
/// A [`ParamError`] with a one-line reason for any of the cases listed in the
/// [module documentation](self).
///
/// # Example
///
/// ```
/// use mimeinject::mime::params::parse_content_type;
///
/// let ct = parse_content_type(
///     b" Multipart/Mixed (a comment); Boundary=\"=_abc\";\r\n\
///       title*0*=UTF-8''%C3%A9t%C3%A9; title*1=\" report\"",
/// )
/// .unwrap();
/// assert_eq!(ct.media_type, "multipart/mixed");
/// assert_eq!(ct.params.get("boundary"), Some("=_abc"));
/// assert_eq!(ct.params.get("title"), Some("été report"));
///
/// assert!(parse_content_type(b"text/plain; name=\"open").is_err());
/// ```
pub fn parse_content_type(body: &[u8]) -> Result<ContentType, ParamError> {
    let mut c = Cursor { input: body, pos: 0 };
    c.skip_cfws()?;
    let ty = c.token();
    if ty.is_empty() {
        match c.peek() {
            None => fail!("missing media type"),
            Some(b) => fail!("invalid media type: unexpected {:?}", char::from(b)),
        }
    }
    c.skip_cfws()?;
    if c.peek() != Some(b'/') {
        fail!("media type {:?} has no '/subtype'", String::from_utf8_lossy(ty));
    }
    c.pos += 1;
    c.skip_cfws()?;
    let subtype = c.token();
    if subtype.is_empty() {
        fail!("media type {:?} has an empty subtype", String::from_utf8_lossy(ty));
    }
    c.skip_cfws()?;
    match c.peek() {
        None | Some(b';') => {}
        Some(b) => fail!("unexpected {:?} after the media type", char::from(b)),
    }
    let mut media_type = String::with_capacity(ty.len() + 1 + subtype.len());
    // Both are tokens, hence ASCII.
    media_type.push_str(&String::from_utf8_lossy(ty).to_ascii_lowercase());
    media_type.push('/');
    media_type.push_str(&String::from_utf8_lossy(subtype).to_ascii_lowercase());
    let params = parse_list(&mut c)?;
    Ok(ContentType { media_type, params })
}

/// Parses a parameter list `a=b; c="d"` (a leading `;` is allowed).
///
/// This is the form of the body-line placeholder after its colon. An empty
/// list (only whitespace and comments) gives empty [`Params`].
///
/// # Errors
///
/// As for [`parse_content_type`], except that there is no media type.
pub fn parse_params(input: &[u8]) -> Result<Params, ParamError> {
    parse_list(&mut Cursor { input, pos: 0 })
}

/// Parses an unfolded `Content-Disposition` field body (RFC 2183 §2): a disposition type,
/// then parameters as in [`parse_content_type`].
///
/// # Errors
///
/// A [`ParamError`] when the type is missing or not a token, or for any of the parameter
/// problems listed in the [module documentation](self).
///
/// ```
/// use mimeinject::mime::params::parse_content_disposition;
///
/// let cd = parse_content_disposition(b" Attachment; filename*=UTF-8''M%C3%A4rz.pdf").unwrap();
/// assert_eq!(cd.disposition_type, "attachment");
/// assert_eq!(cd.params.get("filename"), Some("März.pdf"));
/// assert!(parse_content_disposition(b"; filename=x").is_err());
/// ```
pub fn parse_content_disposition(body: &[u8]) -> Result<ContentDisposition, ParamError> {
    let mut c = Cursor { input: body, pos: 0 };
    c.skip_cfws()?;
    let ty = c.token();
    if ty.is_empty() {
        match c.peek() {
            None => fail!("missing disposition type"),
            Some(b) => fail!("invalid disposition type: unexpected {:?}", char::from(b)),
        }
    }
    // A token is ASCII.
    let disposition_type = String::from_utf8_lossy(ty).to_ascii_lowercase();
    c.skip_cfws()?;
    match c.peek() {
        None | Some(b';') => {}
        Some(b) => fail!("unexpected {:?} after the disposition type", char::from(b)),
    }
    let params = parse_list(&mut c)?;
    Ok(ContentDisposition { disposition_type, params })
}

/// The lower-cased mechanism of a `Content-Transfer-Encoding` field body, comments removed.
///
/// Comments and surrounding white space are dropped, so `" Base64 (comment)"` gives
/// `"base64"`. White space or a comment *between* words is kept as one space, so a malformed
/// `"base 64"` gives `"base 64"`, which matches no known mechanism, rather than a plausible
/// `"base64"`. An unterminated comment runs to the end of the body. Bytes that are not UTF-8
/// are replaced by U+FFFD.
pub fn parse_mechanism(body: &[u8]) -> String {
    let mut kept = Vec::with_capacity(body.len());
    let mut depth = 0usize;
    // White space and comments separate: `base 64` is two words, not `base64`.
    let mut separated = false;
    let mut bytes = body.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' if depth > 0 => {
                bytes.next();
            }
            b'(' => {
                depth += 1;
                separated = true;
            }
            b')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            b' ' | b'\t' | b'\r' | b'\n' => separated = true,
            _ => {
                if separated && !kept.is_empty() {
                    kept.push(b' ');
                }
                separated = false;
                kept.push(b.to_ascii_lowercase());
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// A read position in a field body.
struct Cursor<'a> {
    /// The whole field body.
    input: &'a [u8],
    /// Index of the next unread byte; at most `input.len()`.
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The next unread byte.
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Skips whitespace and RFC 822 comments, which may nest and may quote
    /// any character with `\`.
    fn skip_cfws(&mut self) -> Result<(), ParamError> {
        while let Some(b) = self.peek() {
            match b {
                // CR and LF should be gone after unfolding; a raw folded field
                // is still unambiguous, so they count as whitespace here.
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => self.skip_comment()?,
                _ => break,
            }
        }
        Ok(())
    }

    /// Skips one comment; the cursor is on its `(`.
    fn skip_comment(&mut self) -> Result<(), ParamError> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'\\' => {
                    if self.peek().is_none() {
                        break;
                    }
                    self.pos += 1;
                }
                _ => {}
            }
        }
        fail!("unterminated comment starting at byte {start}")
    }

    /// Takes the longest run of token bytes; possibly empty.
    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_token_byte) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// Takes a quoted-string, the cursor on its opening `"`, and returns its
    /// content with quoted-pairs resolved.
    fn quoted_string(&mut self) -> Result<Vec<u8>, ParamError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return Ok(value),
                b'\\' => match self.peek() {
                    Some(q) => {
                        self.pos += 1;
                        value.push(q);
                    }
                    None => break,
                },
                // Folding whitespace left by unfolding is kept, as RFC 5322
                // §3.2.4 says; other control characters have no business in
                // a parameter and could smuggle line breaks into output.
                b'\t' => value.push(b),
                0x00..=0x1f | 0x7f => {
                    fail!("control character 0x{b:02x} in quoted string at byte {}", self.pos - 1)
                }
                _ => value.push(b),
            }
        }
        fail!("unterminated quoted string starting at byte {start}")
    }

    /// Takes an unquoted value; possibly empty.
    fn lenient_value(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_lenient_value_byte) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }
}

/// Parses `; name=value` repeatedly until the end of the input.
fn parse_list(c: &mut Cursor<'_>) -> Result<Params, ParamError> {
    let mut raw = Vec::new();
    loop {
        c.skip_cfws()?;
        match c.peek() {
            None => break,
            Some(b';') => {
                c.pos += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = c.token();
        if name.is_empty() {
            let b = c.peek().unwrap_or(b' ');
            fail!("expected a parameter name at byte {}, found {:?}", c.pos, char::from(b));
        }
        // A token is ASCII.
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        c.skip_cfws()?;
        if c.peek() != Some(b'=') {
            fail!("parameter {name:?} has no '='");
        }
        c.pos += 1;
        c.skip_cfws()?;
        let value =
            if c.peek() == Some(b'"') { c.quoted_string()? } else { c.lenient_value().to_vec() };
        c.skip_cfws()?;
        match c.peek() {
            None | Some(b';') => {}
            Some(b) => fail!(
                "unexpected {:?} after the value of parameter {name:?} (missing ';' or quotes?)",
                char::from(b)
            ),
        }
        raw.push(split_name(&name, value)?);
    }
    join(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a Content-Type and panics with the reason on failure.
    fn ct(body: &str) -> ContentType {
        parse_content_type(body.as_bytes()).unwrap_or_else(|e| panic!("{body:?}: {e}"))
    }

    /// The parameters of a Content-Type as `(&str, &str)` pairs.
    fn pairs(ct: &ContentType) -> Vec<(&str, &str)> {
        ct.params.0.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    /// The error reason for a Content-Type that must not parse.
    fn err(body: &str) -> String {
        match parse_content_type(body.as_bytes()) {
            Ok(ct) => panic!("{body:?} parsed as {ct:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn simple() {
        let c = ct("text/plain");
        assert_eq!(c.media_type, "text/plain");
        assert!(c.params.0.is_empty());
        let c = ct(" TEXT/Plain; Charset=UTF-8");
        assert_eq!(c.media_type, "text/plain");
        assert_eq!(pairs(&c), [("charset", "UTF-8")]);
    }

    #[test]
    fn comments_everywhere() {
        let c = ct("(a) text (b) / (c) plain (d) ; (e) charset (f) = (g) us-ascii (h) ; (i)");
        assert_eq!(c.media_type, "text/plain");
        assert_eq!(pairs(&c), [("charset", "us-ascii")]);
        let c = ct(r#"text/plain (nested (comment) with \) and \( and "quote) ; a=b"#);
        assert_eq!(pairs(&c), [("a", "b")]);
        let c = ct(r#"text/plain; charset="us-ascii" (Plain text)"#);
        assert_eq!(pairs(&c), [("charset", "us-ascii")]);
    }

    #[test]
    fn whitespace_left_by_unfolding() {
        let c = ct("multipart/mixed;\r\n\tboundary=\"x\";\n  charset=utf-8");
        assert_eq!(pairs(&c), [("boundary", "x"), ("charset", "utf-8")]);
        let c = ct("text/plain;\t a \t=\t b");
        assert_eq!(pairs(&c), [("a", "b")]);
    }

    #[test]
    fn quoting() {
        let c = ct(r#"text/plain; name="a \"b\" \\ c; d=e (f)""#);
        assert_eq!(pairs(&c), [("name", r#"a "b" \ c; d=e (f)"#)]);
        let c = ct(r#"text/plain; a=""; b="	tab""#);
        assert_eq!(pairs(&c), [("a", ""), ("b", "\ttab")]);
        // A quoted value keeps its case; names are lower-cased.
        let c = ct(r#"text/plain; NaMe="MiXeD""#);
        assert_eq!(pairs(&c), [("name", "MiXeD")]);
    }

    #[test]
    fn lenient_real_mail() {
        let c = ct("multipart/alternative; boundary=----=_NextPart_000_0012_01D2");
        assert_eq!(pairs(&c), [("boundary", "----=_NextPart_000_0012_01D2")]);
        let c = ct("application/pdf; name=a/b.pdf; x=<y@z>:[]?,");
        assert_eq!(pairs(&c), [("name", "a/b.pdf"), ("x", "<y@z>:[]?,")]);
        let c = ct("text/plain; charset=us-ascii;");
        assert_eq!(pairs(&c), [("charset", "us-ascii")]);
        let c = ct("text/plain;; a=1;;; b=2 ;");
        assert_eq!(pairs(&c), [("a", "1"), ("b", "2")]);
        let c = ct("text/plain; a = 1");
        assert_eq!(pairs(&c), [("a", "1")]);
        let c = ct("text/plain; a=");
        assert_eq!(pairs(&c), [("a", "")]);
        let c = ct("text/plain; name=\"r\u{e9}sum\u{e9}.pdf\"; n2=\u{65e5}\u{672c}");
        assert_eq!(pairs(&c), [("name", "r\u{e9}sum\u{e9}.pdf"), ("n2", "\u{65e5}\u{672c}")]);
        // Parentheses glued to an unquoted value belong to it (RFC 2046
        // allows them in boundaries); a comment needs whitespace before it.
        let c = ct("multipart/mixed; boundary=a(b)c");
        assert_eq!(pairs(&c), [("boundary", "a(b)c")]);
    }

    #[test]
    fn rfc2231_single() {
        let c = ct("application/pdf; filename*=UTF-8''r%C3%A9sum%c3%a9.pdf");
        assert_eq!(pairs(&c), [("filename", "r\u{e9}sum\u{e9}.pdf")]);
        let c = ct("application/pdf; filename*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
        assert_eq!(pairs(&c), [("filename", "This is ***fun***")]);
        let c = ct("application/pdf; filename*=''plain");
        assert_eq!(pairs(&c), [("filename", "plain")]);
        // Some generators quote the extended value; it is unambiguous.
        let c = ct("application/pdf; filename*=\"utf-8''%E2%82%AC\"");
        assert_eq!(pairs(&c), [("filename", "\u{20ac}")]);
        let c = ct("application/pdf; filename*=iso-8859-1''caf%E9");
        assert_eq!(pairs(&c), [("filename", "caf\u{e9}")]);
        // A language may be given; it is not kept.
        let c = ct("application/pdf; Title*=UTF-8'de'F%C3%BC");
        assert_eq!(pairs(&c), [("title", "F\u{fc}")]);
    }

    #[test]
    fn rfc2231_continuations() {
        // RFC 2231 §3, with the sections out of order.
        let c = ct("message/external-body; access-type=URL;\r\n \
                    URL*1=\"cal.com/\"; URL*0=\"ftp://\"; URL*2=\"bigfile\"");
        assert_eq!(pairs(&c), [("access-type", "URL"), ("url", "ftp://cal.com/bigfile")]);
        // RFC 2231 §4.1: encoded and literal sections mixed.
        let c = ct("application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; \
                    title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"");
        assert_eq!(pairs(&c), [("title", "This is even more ***fun*** isn't it!")]);
        // A UTF-8 character split across sections is joined before decoding.
        let c = ct("a/b; f*0*=UTF-8''%C3; f*1*=%A9; f*2=x");
        assert_eq!(pairs(&c), [("f", "\u{e9}x")]);
        // Literal section 0 and encoded later sections: no charset, UTF-8.
        let c = ct("a/b; f*0=ab; f*1*=%E2%82%AC");
        assert_eq!(pairs(&c), [("f", "ab\u{20ac}")]);
        // The joined value takes the place of the first section seen.
        let c = ct("a/b; x=1; f*1=b; y=2; f*0=a");
        assert_eq!(pairs(&c), [("x", "1"), ("f", "ab"), ("y", "2")]);
    }

    #[test]
    fn strict_media_type() {
        assert!(err("").contains("missing media type"));
        assert!(err("  (only a comment) ").contains("missing media type"));
        assert!(err("text").contains("no '/subtype'"));
        assert!(err("text/").contains("empty subtype"));
        assert!(err("text/plain/x").contains("after the media type"));
        assert!(err("text/plain charset=x").contains("after the media type"));
        assert!(err("; charset=x").contains("invalid media type"));
        assert!(err("t\u{e9}xt/plain").contains("no '/subtype'"));
        assert!(err("\"text/plain\"").contains("invalid media type"));
    }

    #[test]
    fn strict_syntax() {
        assert!(err("text/plain; name=\"open").contains("unterminated quoted string"));
        assert!(err("text/plain; name=\"open\\").contains("unterminated quoted string"));
        assert!(err("text/plain (open").contains("unterminated comment"));
        assert!(err("text/plain (a (b) c").contains("unterminated comment"));
        assert!(err("text/plain (a \\").contains("unterminated comment"));
        assert!(err("text/plain; charset").contains("has no '='"));
        assert!(err("text/plain; charset utf-8").contains("has no '='"));
        assert!(err("text/plain; =x").contains("expected a parameter name"));
        assert!(err("text/plain; name=My File.pdf").contains("after the value"));
        assert!(err("text/plain; a=b c=d").contains("after the value"));
        assert!(err("text/plain; a=\"b\"c").contains("after the value"));
        assert!(err("text/plain; a=\"b\nc\"").contains("control character"));
        assert!(err("text/plain; a=\"b\0\"").contains("control character"));
        assert!(err("text/plain; a=b\0").contains("after the value"));
    }

    #[test]
    fn strict_duplicates() {
        assert!(err("text/plain; a=1; a=2").contains("more than once"));
        assert!(err("text/plain; A=1; a=1").contains("more than once"));
        // A plain value beside an RFC 2231 one is its fallback: the RFC 2231 value wins,
        // whichever comes first (Email::MIME writes the fallback last).
        assert_eq!(ct("text/plain; path=a; path*=UTF-8''b").params.get("path"), Some("b"));
        let c = ct("text/plain; path*0=\"long/\"; path*1=\"name.pdf\"; path=\"long/na...\"");
        assert_eq!(c.params.get("path"), Some("long/name.pdf"));
        assert!(c.params.is_rfc2231("path"));
        assert!(err("text/plain; path=a; path=b; path*=UTF-8''c").contains("more than once"));
        assert!(err("text/plain; path*=UTF-8''a; path*0=b").contains("path*"));
        assert!(err("text/plain; path*=UTF-8''a; path*=UTF-8''b").contains("more than once"));
        assert_eq!(ct("text/plain; path=a; path*0=b").params.get("path"), Some("b"));
        assert!(err("text/plain; path*=''a; path*0=b").contains("appears both as path*"));
        assert!(err("text/plain; p*0=a; p*0=b").contains("appears twice"));
        assert!(err("text/plain; p*0=a; p*0*=''b").contains("appears twice"));
    }

    #[test]
    fn strict_sections() {
        assert!(err("text/plain; p*1=a").contains("p*0 is missing"));
        assert!(err("text/plain; p*0=a; p*2=b").contains("p*1 is missing"));
        assert!(err("text/plain; p*00=a").contains("leading zero"));
        assert!(err("text/plain; p*0=a; p*01=b").contains("leading zero"));
        assert!(err("text/plain; p*x=a").contains("invalid RFC 2231 section"));
        assert!(err("text/plain; p*1*2=a").contains("invalid RFC 2231 section"));
        assert!(err("text/plain; p**=a").contains("invalid parameter name"));
        assert!(err("text/plain; *=a").contains("invalid parameter name"));
        assert!(err("text/plain; p*0=a; p*99999999999=b").contains("too large"));
        assert!(err("text/plain; p*0=a; p*4294967295=b").contains("p*1 is missing"));
    }

    #[test]
    fn strict_encoding() {
        assert!(err("a/b; f*=UTF-8''%C3%A").contains("invalid %-escape"));
        assert!(err("a/b; f*=UTF-8''%G1").contains("invalid %-escape"));
        assert!(err("a/b; f*=UTF-8''%").contains("invalid %-escape"));
        assert!(err("a/b; f*0*=UTF-8''a; f*1*=%zz").contains("invalid %-escape"));
        assert!(err("a/b; f*=UTF-8'x").contains("charset'language'"));
        assert!(err("a/b; f*=%C3%A9").contains("charset'language'"));
        assert!(err("a/b; f*0*=%C3%A9").contains("charset'language'"));
        assert!(err("a/b; f*=x-no-such-charset''a").contains("unsupported charset"));
        // `replacement` is a WHATWG label that decodes everything to U+FFFD: refused.
        assert!(err("a/b; f*=iso-2022-kr''a").contains("unsupported charset"));
        assert!(err("a/b; f*=shift_jis''%82").contains("not valid shift_jis"));
        assert!(err("a/b; f*=UTF-8''%C3%28").contains("not valid UTF-8"));
        assert!(err("a/b; f*0*=UTF-8''%C3; f*1=x").contains("not valid UTF-8"));
        assert!(err("a/b; f*=us-ascii''%C3%A9").contains("declared US-ASCII"));
        assert!(parse_content_type(b"a/b; f=\"caf\xe9\"")
            .unwrap_err()
            .0
            .contains("not valid UTF-8"));
        assert!(parse_content_type(b"a/b; f=caf\xe9").unwrap_err().0.contains("not valid UTF-8"));
        // Charset names are case-insensitive.
        assert_eq!(ct("a/b; f*=Us-AsCiI''x").params.get("f"), Some("x"));
    }

    #[test]
    fn charsets_beyond_utf8() {
        // Through the `charset` crate: WHATWG labels, as mail clients read them.
        assert_eq!(ct("a/b; f*=windows-1252''%80").params.get("f"), Some("\u{20ac}"));
        assert_eq!(ct("a/b; f*=ISO-8859-15''%A4").params.get("f"), Some("\u{20ac}"));
        assert_eq!(ct("a/b; f*=koi8-r''%F0").params.get("f"), Some("\u{41f}"));
        assert_eq!(ct("a/b; f*=utf-7''+AOQ-").params.get("f"), Some("\u{e4}"));
        assert_eq!(ct("a/b; f*=shift_jis''%8E%8E%8C%B1").params.get("f"), Some("\u{8a66}\u{9a13}"));
    }

    #[test]
    fn rfc2231_form_is_remembered() {
        let c = ct("a/b; p=x; q*=UTF-8''y; r*0=a; r*1=b; s*0*=UTF-8''c");
        assert!(!c.params.is_rfc2231("p"));
        for name in ["q", "R", "s"] {
            assert!(c.params.is_rfc2231(name), "{name}");
        }
        assert!(!c.params.is_rfc2231("missing"));
    }

    #[test]
    fn content_disposition() {
        let cd =
            parse_content_disposition(b" Attachment (c) ; filename=\"a b.pdf\"; size=3").unwrap();
        assert_eq!(cd.disposition_type, "attachment");
        assert_eq!(cd.params.get("filename"), Some("a b.pdf"));
        assert_eq!(cd.params.get("size"), Some("3"));
        let cd = parse_content_disposition(b"inline").unwrap();
        assert_eq!(cd.disposition_type, "inline");
        assert!(cd.params.0.is_empty());
        // Other types are read; what to do with them is the caller's choice.
        assert_eq!(parse_content_disposition(b"form-data").unwrap().disposition_type, "form-data");
        let fails = |b: &[u8]| parse_content_disposition(b).unwrap_err().0;
        assert!(fails(b"").contains("missing disposition type"));
        assert!(fails(b"; filename=a").contains("invalid disposition type"));
        assert!(fails(b"attachment filename=a").contains("after the disposition type"));
        assert!(fails(b"attachment; filename=\"a").contains("unterminated"));
        assert!(fails(b"attachment; filename=a; filename=b").contains("more than once"));
    }

    #[test]
    fn decoded_parameter_values() {
        let p = parse_params(
            b"path=\"=?utf-8?Q?a/b.pdf?=\"; filename*=UTF-8''%3D%3Futf-8%3FQ%3Fx%3F%3D; \
              type==?utf-8?Q?bad=ZZ?=",
        )
        .unwrap();
        assert_eq!(p.get_decoded("path").unwrap().unwrap(), "a/b.pdf");
        assert_eq!(p.get_decoded("filename").unwrap().unwrap(), "=?utf-8?Q?x?=");
        let e = p.get_decoded("type").unwrap().unwrap_err();
        assert!(e.0.contains("parameter \"type\"") && e.0.contains("=XX"), "{e}");
        assert!(p.get_decoded("other").is_none());
    }

    #[test]
    fn params_list() {
        let p = parse_params(b" path=\"a b\"; filename*=UTF-8''%C3%A9.pdf").unwrap();
        assert_eq!(p.0, [("path".into(), "a b".into()), ("filename".into(), "\u{e9}.pdf".into())]);
        let p = parse_params(b"; (c) Path = /x/y ;").unwrap();
        assert_eq!(p.get("PATH"), Some("/x/y"));
        assert_eq!(parse_params(b"").unwrap(), Params::default());
        assert_eq!(parse_params(b"  ; (nothing) ;").unwrap(), Params::default());
        assert!(parse_params(b"path").is_err());
        assert!(parse_params(b"a=1; a=2").is_err());
        assert!(parse_params(b"text/plain").is_err());
    }

    #[test]
    fn mechanism() {
        assert_eq!(parse_mechanism(b" Base64 (comment)"), "base64");
        assert_eq!(parse_mechanism(b"(c (nested\\)) )QUOTED-Printable"), "quoted-printable");
        assert_eq!(parse_mechanism(b"\t7BIT\r\n "), "7bit");
        // Words stay apart, so a broken value is never read as `base64`.
        assert_eq!(parse_mechanism(b"7bit x"), "7bit x");
        assert_eq!(parse_mechanism(b"base 64"), "base 64");
        assert_eq!(parse_mechanism(b"base\r64"), "base 64");
        assert_eq!(parse_mechanism(b"base(c)64"), "base 64");
        assert_eq!(parse_mechanism(b"base64 (open"), "base64");
        assert_eq!(parse_mechanism(b""), "");
    }

    #[test]
    fn no_panic_on_odd_bytes() {
        // Every short sequence over an alphabet of the interesting bytes.
        let alphabet = b"a/;=\"\\()* %'\xc3\r?Q";
        let mut input = Vec::new();
        for n in 0..alphabet.len().pow(4) {
            input.clear();
            let mut k = n;
            for _ in 0..4 {
                input.push(alphabet[k % alphabet.len()]);
                k /= alphabet.len();
            }
            let _ = parse_content_type(&input);
            let _ = parse_content_disposition(&input);
            let _ = parse_params(&input);
            let _ = parse_mechanism(&input);
            let _ = decode_encoded_words(&String::from_utf8_lossy(&input));
        }
    }
}
