//! A small MIME structure checker, written apart from the rewriter so that the fuzz targets
//! can check the rewriter's output with something that does not share its code: "an accepted
//! output parses with no new defects" without Python inside a fuzz target.
//!
//! [`defects`] walks a message the way a mail client's parser does (Python's `email` package
//! was the model) and counts what it finds wrong, by kind. The targets compare the counts of
//! the input and of the output: replacing placeholders may remove defects (a stub's body is
//! dropped), never add one.
//!
//! What it covers:
//!
//! - header blocks: field names (printable ASCII, no colon or space), continuation lines, a
//!   line that is not a field ends the block without a blank line;
//! - multiparts (any `multipart/*` with a `boundary` parameter, quoted or not): the first
//!   delimiter line is found, the closing one too, and every part is walked in turn;
//!   `message/rfc822` bodies are walked as messages; nesting past [`MAX_DEPTH`] is a leaf;
//! - base64 bodies: characters outside the alphabet, a length that is not a multiple of four,
//!   padding followed by more data (a decoder stops there: the rest is lost), and lines of
//!   more than 76 characters;
//! - every line: more than 998 bytes before its line ending (RFC 5322 §2.1.1);
//! - line endings: whether the message uses LF only, CRLF only, or both
//!   ([`Defects::mixed_eol`]).
//!
//! What it does not: header field bodies (address syntax, encoded words), charsets, quoted-
//! printable, RFC 2231 `boundary*=`, and which parts a client would show.

use std::collections::BTreeMap;

/// Nesting past this is treated as a leaf: deeper structure is not walked.
pub const MAX_DEPTH: usize = 64;

/// What [`defects`] found in one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Defects {
    /// How many of each kind.
    pub counts: BTreeMap<&'static str, usize>,
    /// The message has both LF-only and CRLF line endings.
    pub mixed_eol: bool,
    /// Leaf parts walked.
    pub leaves: usize,
}

impl Defects {
    fn add(&mut self, kind: &'static str) {
        *self.counts.entry(kind).or_default() += 1;
    }

    /// The kinds `self` has more of than `before` has, with both counts.
    pub fn new_since(&self, before: &Defects) -> Vec<(&'static str, usize, usize)> {
        self.counts
            .iter()
            .map(|(k, &n)| (*k, before.counts.get(k).copied().unwrap_or(0), n))
            .filter(|&(_, was, now)| now > was)
            .collect()
    }
}

/// The defects of the message `msg`. See the module documentation.
pub fn defects(msg: &[u8]) -> Defects {
    let lines = lines(msg);
    let mut d = Defects::default();
    let (mut lf, mut crlf) = (false, false);
    for line in &lines {
        match eol_len(line) {
            2 => crlf = true,
            1 => lf = true,
            _ => {}
        }
        if line.len() - eol_len(line) > 998 {
            d.add("line over 998 bytes");
        }
    }
    d.mixed_eol = lf && crlf;
    entity(&lines, 0, &mut d);
    d
}

/// `msg` split after every LF; the last line may have no line ending.
fn lines(msg: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = msg;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

fn eol_len(line: &[u8]) -> usize {
    if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    &line[..line.len() - eol_len(line)]
}

/// One entity (a message or a part): its header block, then its body.
fn entity(lines: &[&[u8]], depth: usize, d: &mut Defects) {
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if trim_eol(line).is_empty() {
            i += 1;
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            match fields.last_mut() {
                Some(f) => f.extend_from_slice(line),
                None => d.add("continuation line before any field"),
            }
            i += 1;
            continue;
        }
        let name_ok = memchr::memchr(b':', line)
            .is_some_and(|c| c > 0 && line[..c].iter().all(|&b| (33..=126).contains(&b)));
        if !name_ok {
            // Not a field: the header block ends here, without its blank line.
            d.add("header block without a blank line");
            break;
        }
        fields.push(line.to_vec());
        i += 1;
    }
    let body = &lines[i..];
    let get = |name: &str| {
        fields.iter().find_map(|f| {
            let colon = memchr::memchr(b':', f)?;
            f[..colon].eq_ignore_ascii_case(name.as_bytes()).then(|| unfold(&f[colon + 1..]))
        })
    };
    let content_type = get("content-type").unwrap_or_default();
    let (media_type, boundary) = media_type_and_boundary(&content_type);
    let cte = get("content-transfer-encoding").unwrap_or_default();
    let cte = String::from_utf8_lossy(&cte).trim().to_ascii_lowercase();
    if depth < MAX_DEPTH && media_type.starts_with("multipart/") {
        match boundary {
            Some(b) if !b.is_empty() => return multipart(body, &b, depth, d),
            _ => d.add("multipart without a boundary"),
        }
    } else if depth < MAX_DEPTH && media_type == "message/rfc822" {
        return entity(body, depth + 1, d);
    }
    d.leaves += 1;
    if cte == "base64" {
        base64(body, d);
    }
}

/// A field body with its folding line breaks removed.
fn unfold(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| b != b'\n' && b != b'\r').collect()
}

/// The lower-case `type/subtype` of a `Content-Type` value, and its `boundary` parameter.
fn media_type_and_boundary(value: &[u8]) -> (String, Option<Vec<u8>>) {
    let text = String::from_utf8_lossy(value);
    let mut params = split_params(&text).into_iter();
    let media_type = params.next().unwrap_or_default().trim().to_ascii_lowercase();
    let boundary = params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| unquote(value.trim()))
    });
    (media_type, boundary)
}

/// `text` split at the semicolons outside quoted strings.
fn split_params(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn unquote(value: &str) -> Vec<u8> {
    let Some(inner) = value.strip_prefix('"') else { return value.as_bytes().to_vec() };
    let mut out = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => out.extend(chars.next().map(String::from).unwrap_or_default().bytes()),
            c => out.extend(c.to_string().bytes()),
        }
    }
    out
}

/// Whether `line` is `--boundary` (`Some(false)`) or `--boundary--` (`Some(true)`), with
/// optional trailing blanks.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = trim_eol(line).strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter().all(|&b| b == b' ' || b == b'\t').then_some(close)
}

fn multipart(body: &[&[u8]], boundary: &[u8], depth: usize, d: &mut Defects) {
    let Some(first) = body.iter().position(|l| delimiter(l, boundary).is_some()) else {
        d.add("multipart without its first delimiter");
        d.leaves += 1;
        return;
    };
    if delimiter(body[first], boundary) == Some(true) {
        d.add("multipart closed before its first part");
        return;
    }
    let mut start = first + 1;
    for i in first + 1..=body.len() {
        let kind = body.get(i).and_then(|l| delimiter(l, boundary));
        if i < body.len() && kind.is_none() {
            continue;
        }
        entity(&body[start..i], depth + 1, d);
        match kind {
            Some(false) => start = i + 1,
            Some(true) => return,
            None => {
                d.add("multipart never closed");
                return;
            }
        }
    }
}

/// A base64 body: the alphabet, the length, data after padding, and 76-character lines.
fn base64(body: &[&[u8]], d: &mut Defects) {
    let mut len = 0usize;
    let (mut padding, mut after_padding, mut bad_chars, mut long) = (false, false, false, false);
    for line in body {
        let text = trim_eol(line);
        long |= text.len() > 76;
        for &b in text {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                    after_padding |= padding;
                    len += 1;
                }
                b'=' => {
                    padding = true;
                    len += 1;
                }
                b' ' | b'\t' | b'\r' => {}
                _ => bad_chars = true,
            }
        }
    }
    if bad_chars {
        d.add("base64: characters outside the alphabet");
    }
    if !len.is_multiple_of(4) {
        d.add("base64: length not a multiple of 4");
    }
    if after_padding {
        d.add("base64: data after padding");
    }
    if long {
        d.add("base64: line over 76 characters");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_says() {
        let ok = b"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n\
                   Content-Transfer-Encoding: base64\n\naGVsbG8K\n--b--\n";
        let d = defects(ok);
        assert!(d.counts.is_empty(), "{d:?}");
        assert_eq!(d.leaves, 1);
        let bad = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
                    Content-Transfer-Encoding: base64\n\naGVsbA==\naGVsbG8K\n";
        let d = defects(bad);
        assert_eq!(d.counts.get("base64: data after padding"), Some(&1));
        assert_eq!(d.counts.get("multipart never closed"), Some(&1));
        assert!(defects(b"Subject: a\r\n\nb\n").mixed_eol);
    }
}
