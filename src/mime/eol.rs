//! Line endings, and the byte-level helpers that read lines and ASCII text.

/// A line ending: the message's own, used for every line the filter generates.
/// ```
/// use mimeinject::Eol;
///
/// assert_eq!(Eol::CrLf.as_bytes(), b"\r\n");
/// assert_eq!(Eol::Lf.as_str(), "\n");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Eol {
    /// `\n`, what exim and Postfix hand a filter.
    Lf,
    /// `\r\n`, the wire form.
    CrLf,
}

impl Eol {
    /// The bytes of this line ending.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            Eol::Lf => b"\n",
            Eol::CrLf => b"\r\n",
        }
    }

    /// This line ending as text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

/// How `line` ends: CRLF, LF, or not at all (`None`).
pub(crate) fn line_ending(line: &[u8]) -> Option<Eol> {
    if line.ends_with(b"\r\n") {
        Some(Eol::CrLf)
    } else if line.ends_with(b"\n") {
        Some(Eol::Lf)
    } else {
        None
    }
}

/// `line` without its line ending (LF, CRLF, or none).
pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether `s` starts with `prefix`, ignoring ASCII case.
pub(crate) fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Where `needle` (lower-case ASCII, starting with a letter) first occurs in `hay`,
/// ignoring ASCII case.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (lo, up) = (needle[0], needle[0].to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, hay).find(|&i| starts_with_ci(&hay[i..], needle))
}
