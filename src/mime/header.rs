//! Writing header fields: the fields of an attachment part (RFC 2045, 2183, 2231, 2047), and
//! any `Content-Type` field with parameters, folded.
//!
//! Every generated line is at most [`MAX_LINE`] (78) characters, the RFC 5322
//! §2.1.1 SHOULD, except a `Content-Type` line carrying an unusually long
//! media type, which still stays far below the 998-character MUST. Lines are
//! folded only at the whitespace between parameters or between RFC 2047
//! encoded-words, never inside a quoted-string's content: values that would
//! not fit in one line are split with RFC 2231 continuations instead.
//!
//! # The file name
//!
//! `Content-Disposition` carries the name the standard way (RFC 2183 §2.3,
//! RFC 2231): `filename="…"` when it is short printable ASCII, otherwise
//! `filename*=UTF-8''…` or `filename*0*=UTF-8''…; filename*1*=…`. There is no
//! plain `filename=` next to `filename*`, because Python's `email` (and so
//! many tools built on it) would then prefer the plain one.
//!
//! `Content-Type` repeats the name as `name="…"` (RFC 2046 §4.5.1 deprecates
//! it; Outlook reads it). Outlook does not understand RFC 2231 there, so a
//! name that is not short printable ASCII is written as RFC 2047 encoded-words
//! inside the quotes. RFC 2047 §5 forbids that, and strict parsers (Python's
//! `policy.default`) note a defect on that header, but every major client
//! decodes it, and the standard form in `Content-Disposition` takes
//! precedence wherever both are understood.
//!
//! # Path separators
//!
//! A filename containing `/` is refused: on the sending side that is a path,
//! not a file name, and silently stripping it would hide a mistake in the
//! caller. A `\` is kept as an ordinary character: it is legal in Unix file
//! names, it is escaped inside the quoted-string, and RFC 2183 §2.3 already
//! tells receivers to ignore any path information in a suggested name. The
//! names `.` and `..` are refused for the same reason as `/`.

use std::fmt;

use super::rfc2047::encode_word;
use super::rfc2231::param_atoms;
use super::token::is_attribute_char;
use super::Eol;

/// The longest line this module writes where it can choose (RFC 5322 §2.1.1 SHOULD).
pub const MAX_LINE: usize = 78;

/// The longest type or subtype name (RFC 6838 §4.2), so that a
/// `Content-Type` line stays well within 998 characters.
const MAX_TYPE_NAME: usize = 127;

/// How the recipient's client should present the part (RFC 2183).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Shown as a file to save.
    Attachment,
    /// Shown in the body, e.g. an image referenced by `cid:`.
    Inline,
}

impl Disposition {
    /// The disposition type as written in the header: `attachment` or `inline`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Disposition::Attachment => "attachment",
            Disposition::Inline => "inline",
        }
    }
}

/// What goes into an attachment's header fields.
#[derive(Clone, Debug)]
pub struct AttachmentHeaders<'a> {
    /// `type/subtype`.
    pub media_type: &'a str,
    /// The name the recipient sees, any Unicode.
    pub filename: &'a str,
    /// `attachment` or `inline`.
    pub disposition: Disposition,
    /// The file's size in bytes (RFC 2183 `size=`).
    pub size: u64,
}

/// Why header fields could not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderError(pub String);

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HeaderError {}

/// Appends `Content-Type`, `Content-Disposition` and `Content-Transfer-Encoding: base64`,
/// each line ending in `eol`.
///
/// See the [module documentation](self) for how the name is encoded and
/// where lines are folded. Nothing is appended when an error is returned.
///
/// # Errors
///
/// A [`HeaderError`] when the media type is not `token/token` (each at most
/// 127 characters), or the filename is empty, `.` or `..`, or contains `/`
/// or a control character (CR, LF, NUL, any other C0 or C1 control, DEL).
///
/// # Example
///
/// ```
/// use mimeinject::mime::Eol;
/// use mimeinject::mime::header::{write_attachment_headers, AttachmentHeaders, Disposition};
///
/// let mut out = Vec::new();
/// let h = AttachmentHeaders {
///     media_type: "application/pdf",
///     filename: "Résumé.pdf",
///     disposition: Disposition::Attachment,
///     size: 1234,
/// };
/// write_attachment_headers(&h, Eol::Lf, &mut out).unwrap();
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "Content-Type: application/pdf; name=\"=?UTF-8?B?UsOpc3Vtw6kucGRm?=\"\n\
///      Content-Disposition: attachment; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf;\n \
///      size=1234\n\
///      Content-Transfer-Encoding: base64\n",
/// );
/// ```
pub fn write_attachment_headers(
    h: &AttachmentHeaders<'_>,
    eol: Eol,
    out: &mut Vec<u8>,
) -> Result<(), HeaderError> {
    check_media_type(h.media_type)?;
    check_filename(h.filename)?;
    let eol = eol.as_str();
    let mut text = String::new();

    let mut atoms = vec![format!("{};", h.media_type)];
    name_fallback_atoms(h.filename, &mut atoms);
    fold_field(&mut text, "Content-Type", &atoms, eol);

    let mut atoms = vec![format!("{};", h.disposition.as_str())];
    param_atoms("filename", h.filename, ";", &mut atoms);
    atoms.push(format!("size={}", h.size));
    fold_field(&mut text, "Content-Disposition", &atoms, eol);

    text.push_str("Content-Transfer-Encoding: base64");
    text.push_str(eol);
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// The media type for `filename`, guessed from its extension.
///
/// The first of `mime_guess`'s guesses, or `application/octet-stream` when the
/// extension is missing or unknown.
///
/// ```
/// use mimeinject::mime::header::guess_media_type;
///
/// assert_eq!(guess_media_type("report.PDF"), "application/pdf");
/// assert_eq!(guess_media_type("README"), "application/octet-stream");
/// ```
pub fn guess_media_type(filename: &str) -> &'static str {
    mime_guess::from_path(filename).first_raw().unwrap_or("application/octet-stream")
}

/// The complete, folded `Content-Type: MEDIA_TYPE; name=value; …` field, ending in `eol`:
/// the parameters in the given order, each value that is short printable ASCII quoted (`\`
/// and `"` escaped), any other value (non-ASCII, control characters, too long for one line,
/// or containing `=?`) in RFC 2231 form, `name*=UTF-8''…` or `name*0*=UTF-8''…; name*1*=…`.
/// The field therefore parses back, through [`parse_content_type`](super::params::parse_content_type),
/// to exactly these parameters, for any values.
///
/// # Panics
///
/// When a name is empty or not an RFC 2231 attribute (an RFC 2045 token without `*`, `'` or
/// `%`), or not lower-case, or appears twice: such a list could not be parsed back to
/// itself, and names come from the program, not from the user.
///
/// ```
/// use mimeinject::mime::{header::content_type_field, Eol};
///
/// assert_eq!(
///     content_type_field("text/plain", &[("name", "a b.txt")], Eol::Lf),
///     "Content-Type: text/plain; name=\"a b.txt\"\n",
/// );
/// ```
pub fn content_type_field(media_type: &str, params: &[(&str, &str)], eol: Eol) -> String {
    let mut atoms = vec![String::from(media_type)];
    if !params.is_empty() {
        atoms[0].push(';');
    }
    for (i, &(name, value)) in params.iter().enumerate() {
        assert!(
            !name.is_empty()
                && name.bytes().all(|b| is_attribute_char(b) && !b.is_ascii_uppercase()),
            "parameter name {name:?} is not a lower-case RFC 2231 attribute"
        );
        assert!(params[..i].iter().all(|&(n, _)| n != name), "parameter {name:?} given twice");
        // The separator is part of the atom before it, so it counts when
        // sizing that atom.
        let sep = if i + 1 < params.len() { ";" } else { "" };
        param_atoms(name, value, sep, &mut atoms);
    }
    let mut text = String::new();
    fold_field(&mut text, "Content-Type", &atoms, eol.as_str());
    text
}

/// Refuses a media type that is not `token/token`.
fn check_media_type(media_type: &str) -> Result<(), HeaderError> {
    media_type_essence(media_type).map(drop)
}

/// Parses a bare media type (`type/subtype`, no parameters) with the `mime` crate and
/// returns it lower-cased. Each name is at most 127 characters (RFC 6838 §4.2).
///
/// The `mime` crate accepts an empty subtype (`application/`) and a trailing `;`; both are
/// refused here.
pub(crate) fn media_type_essence(media_type: &str) -> Result<String, HeaderError> {
    let bad = || HeaderError(format!("invalid media type {media_type:?}: not type/subtype"));
    let parsed: mime::Mime = media_type.parse().map_err(|_| bad())?;
    let essence = parsed.essence_str();
    let (ty, sub) = essence.split_once('/').ok_or_else(bad)?;
    if sub.is_empty()
        || ty.len() > MAX_TYPE_NAME
        || sub.len() > MAX_TYPE_NAME
        || essence.len() != media_type.len()
        || parsed.params().next().is_some()
    {
        return Err(bad());
    }
    Ok(essence.to_owned())
}

/// Refuses a filename that cannot be written or that is a path.
pub(crate) fn check_filename(filename: &str) -> Result<(), HeaderError> {
    if filename.is_empty() {
        return Err(HeaderError("empty filename".into()));
    }
    if filename == "." || filename == ".." {
        return Err(HeaderError(format!("filename {filename:?} is not a file name")));
    }
    if filename.contains('/') {
        return Err(HeaderError(format!("filename {filename:?} contains '/'")));
    }
    if let Some(c) = filename.chars().find(|c| c.is_control()) {
        return Err(HeaderError(format!(
            "filename {filename:?} contains the control character U+{:04X}",
            u32::from(c)
        )));
    }
    Ok(())
}

/// Whether `value` can be written as a plain quoted-string: printable ASCII,
/// and no `=?`, which some clients would decode as an RFC 2047 encoded-word.
pub(super) fn is_plain(value: &str) -> bool {
    value.bytes().all(|b| (0x20..=0x7e).contains(&b)) && !value.contains("=?")
}

/// `value` as a quoted-string, `\` and `"` escaped.
pub(super) fn quote(value: &str) -> String {
    let mut q = String::with_capacity(value.len() + 2);
    q.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The atoms of the Outlook `name=` fallback in `Content-Type`: the quoted
/// name when plain and short, else RFC 2047 `B` encoded-words inside the
/// quotes, one atom each, so that the line may fold between them.
fn name_fallback_atoms(filename: &str, atoms: &mut Vec<String>) {
    let room = MAX_LINE - 1;
    if is_plain(filename) {
        let atom = format!("name={}", quote(filename));
        if atom.len() <= room {
            atoms.push(atom);
            return;
        }
    }
    // `=?UTF-8?B?` + base64 + `?=` is at most 75 characters (RFC 2047 §2),
    // so at most 60 base64 characters, 45 bytes. The first word also carries
    // `name="` and so takes at most 42 bytes, keeping its atom within `room`.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in filename.chars() {
        let limit = if words.is_empty() { 42 } else { 45 };
        if !chunk.is_empty() && chunk.len() + c.len_utf8() > limit {
            words.push(encode_word(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    words.push(encode_word(&chunk));
    let last = words.len() - 1;
    for (i, word) in words.into_iter().enumerate() {
        let open = if i == 0 { "name=\"" } else { "" };
        let close = if i == last { "\"" } else { "" };
        atoms.push(format!("{open}{word}{close}"));
    }
}

/// Appends `field: atom atom …`, folding before an atom that would take the
/// line past [`MAX_LINE`], and ends the field with `eol`.
fn fold_field(out: &mut String, field: &str, atoms: &[String], eol: &str) {
    out.push_str(field);
    out.push(':');
    let mut col = field.len() + 1;
    for (i, atom) in atoms.iter().enumerate() {
        // The first atom stays on the field-name line even when long.
        if i > 0 && col + 1 + atom.len() > MAX_LINE {
            out.push_str(eol);
            col = 0;
        }
        out.push(' ');
        out.push_str(atom);
        col += 1 + atom.len();
    }
    out.push_str(eol);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mime::params::{parse_content_type, ContentType};

    /// Writes the headers, panicking on error.
    fn write(media_type: &str, filename: &str, eol: Eol) -> String {
        let h = AttachmentHeaders {
            media_type,
            filename,
            disposition: Disposition::Attachment,
            size: 42,
        };
        let mut out = Vec::new();
        write_attachment_headers(&h, eol, &mut out).unwrap_or_else(|e| panic!("{filename:?}: {e}"));
        String::from_utf8(out).unwrap()
    }

    /// The error for headers that must be refused; checks nothing was written.
    fn refuse(media_type: &str, filename: &str) -> String {
        let h = AttachmentHeaders {
            media_type,
            filename,
            disposition: Disposition::Attachment,
            size: 0,
        };
        let mut out = b"kept".to_vec();
        let e = write_attachment_headers(&h, Eol::Lf, &mut out).unwrap_err();
        assert_eq!(out, b"kept");
        e.0
    }

    /// Splits generated text into fields, unfolding each (removing only the
    /// line breaks, as RFC 5322 §2.2.3 says), and checks the line rules.
    pub(crate) fn fields(text: &str, eol: Eol) -> Vec<(String, String)> {
        let eol = eol.as_str();
        assert!(text.ends_with(eol), "{text:?}");
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text[..text.len() - eol.len()].split(eol) {
            assert!(!line.contains(['\r', '\n']), "bare line break in {line:?}");
            assert!(line.len() <= MAX_LINE, "{} characters: {line:?}", line.len());
            if line.starts_with(' ') {
                let last = fields.last_mut().expect("continuation first");
                assert!(!line.trim().is_empty(), "whitespace-only line");
                last.1.push_str(line);
            } else {
                let (name, body) = line.split_once(':').expect("field name");
                fields.push((name.to_owned(), body.to_owned()));
            }
        }
        fields
    }

    /// The parsed Content-Type and Content-Disposition of generated headers.
    fn parsed(text: &str, eol: Eol) -> (ContentType, ContentType) {
        let f = fields(text, eol);
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Content-Type", "Content-Disposition", "Content-Transfer-Encoding"]);
        assert_eq!(f[2].1, " base64");
        let ct = parse_content_type(f[0].1.as_bytes()).unwrap();
        // The disposition has the same syntax once given a dummy subtype.
        let (disp, rest) = f[1].1.split_once(';').unwrap();
        let cd = parse_content_type(format!("{disp}/x;{rest}").as_bytes()).unwrap();
        (ct, cd)
    }

    /// Decodes the RFC 2047 words of a `name=` fallback, which this module
    /// writes only as whole `B` words separated by spaces.
    fn decode_fallback(value: &str) -> String {
        if !value.starts_with("=?") {
            return value.to_owned();
        }
        let mut bytes = Vec::new();
        for word in value.split(' ') {
            let b64 = word.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap();
            assert!(word.len() <= 75, "{word}");
            let decoded = base64_simd::STANDARD.decode_to_vec(b64).unwrap();
            // Each word is whole characters (RFC 2047 §5).
            assert!(std::str::from_utf8(&decoded).is_ok());
            bytes.extend(decoded);
        }
        String::from_utf8(bytes).unwrap()
    }

    /// Writes, parses back and checks that both names survive.
    fn round_trip(filename: &str) -> String {
        for eol in [Eol::Lf, Eol::CrLf] {
            let text = write("application/pdf", filename, eol);
            let (ct, cd) = parsed(&text, eol);
            assert_eq!(ct.media_type, "application/pdf");
            assert_eq!(ct.params.0.len(), 1);
            assert_eq!(decode_fallback(ct.params.get("name").unwrap()), filename);
            assert_eq!(cd.media_type, "attachment/x");
            assert_eq!(cd.params.get("filename"), Some(filename), "{text}");
            assert_eq!(cd.params.get("size"), Some("42"));
            assert_eq!(cd.params.0.len(), 2);
        }
        write("application/pdf", filename, Eol::Lf)
    }

    #[test]
    fn short_ascii() {
        let text = round_trip("report.pdf");
        assert_eq!(
            text,
            "Content-Type: application/pdf; name=\"report.pdf\"\n\
             Content-Disposition: attachment; filename=\"report.pdf\"; size=42\n\
             Content-Transfer-Encoding: base64\n"
        );
        let crlf = write("application/pdf", "report.pdf", Eol::CrLf);
        assert_eq!(crlf, text.replace('\n', "\r\n"));
    }

    #[test]
    fn inline() {
        let h = AttachmentHeaders {
            media_type: "image/png",
            filename: "logo.png",
            disposition: Disposition::Inline,
            size: 0,
        };
        let mut out = Vec::new();
        write_attachment_headers(&h, Eol::Lf, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Disposition: inline; filename=\"logo.png\"; size=0\n"));
    }

    #[test]
    fn quotes_and_backslashes() {
        let text = round_trip(r#"say "hi" \ bye.txt"#);
        assert!(text.contains(r#"filename="say \"hi\" \\ bye.txt""#), "{text}");
        assert!(text.contains(r#"name="say \"hi\" \\ bye.txt""#), "{text}");
        // tspecials and RFC 2231 syntax characters in a plain name.
        round_trip("a;b=c (d) <e@f> [g]?,:'*%.txt");
        round_trip("  spaces  .txt");
        // A backslash is kept, not taken as a path (see the module docs).
        round_trip(r"C:\Users\x.txt");
    }

    #[test]
    fn encoded_word_lookalike() {
        // Would be decoded by clients that read RFC 2047 in quoted strings.
        let text = round_trip("=?UTF-8?B?eA==?=.txt");
        assert!(text.contains("filename*=UTF-8''%3D%3FUTF-8%3FB%3FeA%3D%3D%3F%3D.txt"), "{text}");
        assert!(text.contains("name=\"=?UTF-8?B?PT9VVEYtOD9CP2VBPT0/PS50eHQ=?=\""), "{text}");
    }

    #[test]
    fn non_ascii() {
        let text = round_trip("r\u{e9}sum\u{e9}.pdf");
        assert!(text.contains("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf;"), "{text}");
        assert!(!text.contains("filename="), "no plain fallback: {text}");
        round_trip("\u{65e5}\u{672c}\u{8a9e}\u{306e}\u{30d5}\u{30a1}\u{30a4}\u{30eb}.docx");
        round_trip("\u{1f4ce} clip \u{1f600}.txt");
        round_trip("\u{d6}l & \"Wasser\" \\ 100%.txt");
        // Spaces and other non-attribute-chars are percent-encoded.
        let text = round_trip("a b*'%\u{e9}");
        assert!(text.contains("filename*=UTF-8''a%20b%2A%27%25%C3%A9;"), "{text}");
    }

    #[test]
    fn long_ascii() {
        let name = format!("{}.pdf", "abcdefghij".repeat(30));
        assert_eq!(name.len(), 304);
        let text = round_trip(&name);
        assert!(text.contains(" filename*0*=UTF-8''abcdefghij"), "{text}");
        assert!(text.contains(" filename*1*="), "{text}");
        assert!(!text.contains("filename*0="), "{text}");
        // Encoded-words once the quoted name would not fit on a line.
        assert!(text.contains("name=\"=?UTF-8?B?"), "{text}");
        // The longest name that stays plain, and the shortest that does not.
        let plain = "x".repeat(MAX_LINE - 1 - "filename=\"\";".len());
        let text = round_trip(&plain);
        assert!(text.contains(&format!(" filename=\"{plain}\";")), "{text}");
        // One more character and even `filename*=UTF-8''…` is too long.
        let text = round_trip(&format!("{plain}x"));
        assert!(text.contains(" filename*0*=UTF-8''"), "{text}");
        // A shorter plain name that needs encoding fits as one `filename*=`.
        let text = round_trip(&format!("{}\u{e9}", &plain[..40]));
        assert!(text.contains(" filename*=UTF-8''"), "{text}");
    }

    #[test]
    fn long_non_ascii() {
        for unit in ["\u{e9}", "\u{65e5}", "\u{1f600}", "a\u{e9}", "ab\u{1f600}"] {
            let name = unit.repeat(300 / unit.chars().count());
            assert_eq!(name.chars().count(), 300);
            let text = round_trip(&name);
            assert!(text.contains("filename*0*=UTF-8''"), "{text}");
            assert!(text.contains("%"), "{text}");
        }
        let name = format!("{}.pdf", "\u{e9}".repeat(2000));
        round_trip(&name);
    }

    #[test]
    fn lengths_sweep() {
        // Every length near the thresholds, in ASCII and 1- to 4-byte UTF-8.
        for unit in ["a", "\u{e9}", "\u{65e5}", "\u{1f600}", " \""] {
            for n in 1..=100 {
                let name: String = unit.chars().cycle().take(n).collect();
                round_trip(&name);
            }
        }
    }

    #[test]
    fn refused() {
        assert!(refuse("application/pdf", "").contains("empty"));
        assert!(refuse("application/pdf", ".").contains("not a file name"));
        assert!(refuse("application/pdf", "..").contains("not a file name"));
        assert!(refuse("application/pdf", "a/b.pdf").contains("'/'"));
        assert!(refuse("application/pdf", "/etc/passwd").contains("'/'"));
        for bad in ["a\rb", "a\nb", "a\r\nb", "a\0b", "a\tb", "a\x1bb", "a\x7fb", "a\u{85}b"] {
            assert!(refuse("application/pdf", bad).contains("control character"), "{bad:?}");
        }
        for bad in [
            "",
            "pdf",
            "application/",
            "/pdf",
            "application/pdf; x=y",
            "application/p df",
            "application/pdf\r\nBcc: x",
            "a/b/c",
            "appl\u{e9}/pdf",
            "text/\"x\"",
        ] {
            assert!(refuse(bad, "a.pdf").contains("invalid media type"), "{bad:?}");
        }
        let long = format!("application/{}", "x".repeat(MAX_TYPE_NAME + 1));
        assert!(refuse(&long, "a.pdf").contains("invalid media type"));
    }

    #[test]
    fn long_media_type_within_998() {
        let mt = format!("{}/{}", "t".repeat(MAX_TYPE_NAME), "s".repeat(MAX_TYPE_NAME));
        let text = write(&mt, "\u{e9}".repeat(50).as_str(), Eol::Lf);
        for line in text.lines() {
            assert!(line.len() <= 998);
        }
        // Only the first line is over 78: the parameters go on their own.
        assert!(text.lines().skip(1).all(|l| l.len() <= MAX_LINE), "{text}");
    }

    #[test]
    fn guess() {
        assert_eq!(guess_media_type("a.pdf"), "application/pdf");
        assert_eq!(guess_media_type("photo.JPG"), "image/jpeg");
        assert_eq!(guess_media_type("notes.txt"), "text/plain");
        assert_eq!(guess_media_type("r\u{e9}sum\u{e9}.docx"), guess_media_type("x.docx"));
        assert_eq!(guess_media_type("archive.tar.gz"), "application/gzip");
        assert_eq!(guess_media_type("Makefile"), "application/octet-stream");
        assert_eq!(guess_media_type("x.unknown-ext"), "application/octet-stream");
        assert_eq!(guess_media_type(".pdf"), "application/octet-stream");
        for name in ["a.pdf", "b.png", "c.docx", "d.zip", "e"] {
            assert!(check_media_type(guess_media_type(name)).is_ok());
        }
    }

    /// Hex of `bytes`, to hand arbitrary data to Python on one line.
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Python's `email` package with `policy.default`, a strict modern
    /// parser, must read back the name and type with no defects. The
    /// Content-Type header is the exception for names written as RFC 2047
    /// words in `name=`, which Python flags (see the module docs); its
    /// decoded `name` must still be right.
    #[test]
    fn python_email_reads_headers() {
        const SCRIPT: &str = r#"
import email, email.policy, sys
bad = 0
for line in sys.stdin:
    msg, name, ctype, encoded_words = line.split()
    raw = bytes.fromhex(msg)
    name = bytes.fromhex(name).decode()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    problems = []
    if m.get_filename() != name.strip():
        problems.append("get_filename() = %r" % m.get_filename())
    if m.get_content_type() != ctype:
        problems.append("get_content_type() = %r" % m.get_content_type())
    if m.get_content() != b"hello":
        problems.append("content %r" % m.get_content())
    if m.defects:
        problems.append("message defects %r" % m.defects)
    if m["content-disposition"].defects:
        problems.append("disposition defects %r" % m["content-disposition"].defects)
    if m["content-type"].params.get("name") != name:
        problems.append("name= %r" % m["content-type"].params.get("name"))
    if encoded_words == "0" and m["content-type"].defects:
        problems.append("content-type defects %r" % m["content-type"].defects)
    if problems:
        bad += 1
        print(repr(name), *problems, sep="\n  ")
print("checked")
sys.exit(1 if bad else 0)
"#;
        let names = [
            String::from("report.pdf"),
            String::from(r#"say "hi" \ bye.txt"#),
            String::from("a;b=c (d) <e@f> [g]?,:'*%.txt"),
            String::from("r\u{e9}sum\u{e9}.pdf"),
            String::from("\u{65e5}\u{672c}\u{8a9e}\u{306e}\u{30d5}\u{30a1}\u{30a4}\u{30eb}.docx"),
            String::from("\u{1f4ce} clip \u{1f600}.txt"),
            String::from("=?UTF-8?B?eA==?=.txt"),
            format!("{}.pdf", "abcdefghij".repeat(30)),
            "\u{e9}".repeat(300),
            "a\u{1f600}".repeat(150),
            format!("{}.txt", "\u{65e5}\u{672c} ".repeat(100)),
        ];
        let mut input = String::new();
        for (i, name) in names.iter().enumerate() {
            let eol = if i % 2 == 0 { Eol::Lf } else { Eol::CrLf };
            let media_type = guess_media_type(name);
            let media_type =
                if media_type == "text/plain" { "application/octet-stream" } else { media_type };
            let e = eol.as_str();
            let mut msg = format!("MIME-Version: 1.0{e}").into_bytes();
            let h = AttachmentHeaders {
                media_type,
                filename: name,
                disposition: Disposition::Attachment,
                size: 5,
            };
            write_attachment_headers(&h, eol, &mut msg).unwrap();
            msg.extend_from_slice(format!("{e}aGVsbG8={e}").as_bytes());
            let has_words = String::from_utf8(msg.clone()).unwrap().contains("name=\"=?");
            input.push_str(&format!(
                "{} {} {} {}\n",
                hex(&msg),
                hex(name.as_bytes()),
                media_type,
                u8::from(has_words)
            ));
        }
        run_python(SCRIPT, &input);
    }

    /// Runs `python3 -c script` with `input` on stdin; fails on a non-zero exit.
    /// Skips when there is no `python3` (see `crate::test_skip`), unless `CI=true`.
    fn run_python(script: &str, input: &str) {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                crate::test_skip::skip(&format!("the Python email check, no python3: {e}"));
                return;
            }
        };
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stdout.contains("checked"), "{stdout}{stderr}");
    }
}
