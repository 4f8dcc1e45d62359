//! RFC 2047 encoded-words (`=?charset?Q?text?=`): decoding them where mail libraries put
//! them (inside quoted parameter values), finding them anywhere, and writing them.

use super::rfc2231::decode_charset;
use super::token::is_token_byte;
use super::ParamError;

/// Decodes the RFC 2047 encoded-words in a header or parameter value, as Python's `email`
/// package does inside quoted parameter values.
///
/// An encoded-word is `=?charset?B?text?=` or `=?charset?Q?text?=` (the charset may carry
/// an RFC 2231 `*language`), standing alone between white space or the ends of the value
/// (RFC 2047 §5 (1)); `a=?utf-8?Q?x?=b` holds none. The white space between two adjacent
/// encoded-words is dropped (§6.2); all other text is kept as it is. The bytes of adjacent
/// encoded-words in the same charset are joined before they are decoded, so a character
/// split across two words (which §5 forbids, and Python accepts) comes out whole.
///
/// Charsets are decoded by the [`charset`] crate (the WHATWG Encoding Standard's labels,
/// as mail clients use them, plus UTF-7), except UTF-8 and US-ASCII, which are checked
/// strictly.
///
/// # Errors
///
/// A [`ParamError`] for an encoded-word that cannot be decoded: an unknown charset, a
/// `B` text that is not base64, a `Q` text with a bad `=XX`, or bytes that are not valid in
/// the charset. Nothing is replaced by U+FFFD: a name that cannot be read exactly is
/// refused, not guessed.
///
/// ```
/// use mimeinject::mime::rfc2047::decode_encoded_words;
///
/// assert_eq!(decode_encoded_words("=?utf-8?B?5rWL6K+VLnppcA==?=").unwrap(), "测试.zip");
/// assert_eq!(decode_encoded_words("=?UTF-8?Q?M=C3=A4?= =?UTF-8?Q?rz_2026.pdf?=").unwrap(),
///            "März 2026.pdf");
/// assert_eq!(decode_encoded_words("Report =?iso-8859-1?q?M=E4rz?=").unwrap(), "Report März");
/// assert_eq!(decode_encoded_words("plain.pdf").unwrap(), "plain.pdf");
/// assert!(decode_encoded_words("=?no-such-charset?Q?x?=").is_err());
/// ```
pub fn decode_encoded_words(value: &str) -> Result<String, ParamError> {
    if !value.contains("=?") {
        return Ok(value.to_owned());
    }
    let mut out = String::with_capacity(value.len());
    // Bytes of the current run of adjacent encoded-words, and their charset.
    let mut run: Option<(&str, Vec<u8>)> = None;
    // White space seen since the last word, kept unless an encoded-word follows it.
    let mut space = "";
    let mut rest = value;
    while !rest.is_empty() {
        let word_len = rest.find([' ', '\t']).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_len);
        let gap = after.len() - after.trim_start_matches([' ', '\t']).len();
        let (gap, after) = after.split_at(gap);
        rest = after;
        match encoded_word(word)? {
            Some((charset, bytes)) => match &mut run {
                Some((cs, held)) if cs.eq_ignore_ascii_case(charset) => held.extend(bytes),
                _ => {
                    if let Some((cs, held)) = run.take() {
                        out.push_str(&decode_word_charset(cs, &held)?);
                    }
                    run = Some((charset, bytes));
                }
            },
            None => {
                if let Some((cs, held)) = run.take() {
                    out.push_str(&decode_word_charset(cs, &held)?);
                }
                out.push_str(space);
                out.push_str(word);
                space = "";
            }
        }
        if run.is_some() {
            // Between two encoded-words the gap goes; before plain text it stays.
            space = gap;
        } else {
            out.push_str(gap);
        }
    }
    if let Some((cs, held)) = run.take() {
        out.push_str(&decode_word_charset(cs, &held)?);
    }
    out.push_str(space);
    Ok(out)
}

/// The decoded bytes of everything in `value` that has the form of an encoded-word, glued
/// to other text or not, whether its charset is known or not: for looking for a word, never
/// for using the text.
///
/// Linear in the length of `value`: from each `=?`, the form `=?charset?X?text?=` is read
/// up to its third `?` at most (a charset and a text hold no `?` and no white space).
pub(crate) fn encoded_words_anywhere(value: &str) -> Vec<Vec<u8>> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = memchr::memmem::find(&bytes[from..], b"=?").map(|i| from + i) {
        from = start + 2;
        // The three `?` after `=`: before the encoding, after it, before the final `=`.
        let mut marks = [0usize; 3];
        let mut found = 0;
        let mut i = start + 2;
        while found < 3 && i < bytes.len() {
            match bytes[i] {
                b'?' => {
                    marks[found] = i;
                    found += 1;
                }
                b' ' | b'\t' | b'\r' | b'\n' => break,
                _ => {}
            }
            i += 1;
        }
        let [_, _, last] = marks;
        if found == 3 && bytes.get(last + 1) == Some(&b'=') {
            if let Ok(Some((_, decoded))) = encoded_word(&value[start..last + 2]) {
                out.push(decoded);
            }
        }
    }
    out
}

/// `word` as an RFC 2047 encoded-word: its charset (the `*language` dropped) and its
/// decoded bytes; `None` when it does not have the form of one.
fn encoded_word(word: &str) -> Result<Option<(&str, Vec<u8>)>, ParamError> {
    let Some(inner) = word.strip_prefix("=?").and_then(|w| w.strip_suffix("?=")) else {
        return Ok(None);
    };
    let mut parts = inner.splitn(3, '?');
    let (Some(charset), Some(encoding), Some(text)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let charset = charset.split('*').next().unwrap_or_default();
    if charset.is_empty() || text.contains('?') || !charset.bytes().all(is_token_byte) {
        return Ok(None);
    }
    let bytes = match encoding {
        "B" | "b" => {
            // Padding is often missing; Python accepts that too.
            let mut padded = text.to_owned();
            while padded.len() % 4 != 0 {
                padded.push('=');
            }
            match base64_simd::STANDARD.decode_to_vec(padded.as_bytes()) {
                Ok(b) => b,
                Err(_) => fail!("encoded-word {word:?} is not valid base64"),
            }
        }
        "Q" | "q" => {
            let mut out = Vec::with_capacity(text.len());
            let mut bytes = text.bytes();
            while let Some(b) = bytes.next() {
                match b {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let hex = |b: Option<u8>| b.and_then(|b| char::from(b).to_digit(16));
                        match (hex(bytes.next()), hex(bytes.next())) {
                            (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                            _ => fail!("encoded-word {word:?} has an invalid =XX escape"),
                        }
                    }
                    _ => out.push(b),
                }
            }
            out
        }
        _ => return Ok(None),
    };
    Ok(Some((charset, bytes)))
}

/// Decodes the bytes of one run of encoded-words.
fn decode_word_charset(charset: &str, bytes: &[u8]) -> Result<String, ParamError> {
    decode_charset("an encoded-word", charset.as_bytes(), bytes)
}

/// One RFC 2047 `B` encoded-word holding `text` in UTF-8 (RFC 2047 §4.1). The caller keeps
/// it within 75 characters (§2): at most 45 bytes of `text`.
///
/// ```
/// assert_eq!(mimeinject::mime::rfc2047::encode_word("März"), "=?UTF-8?B?TcOkcno=?=");
/// ```
pub fn encode_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64_simd::STANDARD.encode_to_string(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words() {
        let d = |s: &str| decode_encoded_words(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        // What PHPMailer, Symfony Mime and lettre write for a non-ASCII name.
        assert_eq!(d("=?utf-8?Q?M=C3=A4rz.csv?="), "M\u{e4}rz.csv");
        assert_eq!(
            d("=?UTF-8?B?UmVjaG51bmcgTcOkcnogMjAyNi5wZGY=?="),
            "Rechnung M\u{e4}rz 2026.pdf"
        );
        assert_eq!(d("=?utf-8?b?5rWL6K+VLnppcA?="), "\u{6d4b}\u{8bd5}.zip", "padding missing");
        // White space between encoded-words goes, elsewhere it stays (RFC 2047 §6.2).
        assert_eq!(d("=?utf-8?q?a?= \t =?utf-8?q?b?="), "ab");
        assert_eq!(d("x =?utf-8?q?a?= y"), "x a y");
        assert_eq!(d("  =?utf-8?q?a_b?=  "), "  a b  ");
        assert_eq!(d("=?utf-8?q?a?= =?iso-8859-1?q?=E4?="), "a\u{e4}");
        // A character split across two words (RFC 2047 §5 forbids it; Python joins).
        assert_eq!(d("=?utf-8?Q?M=C3?= =?utf-8?Q?=A4rz.csv?="), "M\u{e4}rz.csv");
        // A language suffix on the charset (RFC 2231 §5).
        assert_eq!(d("=?utf-8*de?Q?M=C3=A4rz?="), "M\u{e4}rz");
        // Not encoded-words: glued to other text, an unknown encoding, a bare `=?`.
        for literal in [
            "a=?utf-8?Q?x?=b",
            "=?utf-8?X?abc?=",
            "=?utf-8?Q?a?b?=",
            "=??Q?x?=",
            "=?x?=",
            "50% =? maybe",
            "report.csv",
            "",
        ] {
            assert_eq!(d(literal), literal);
        }
        // Words that cannot be read exactly are refused, never guessed.
        for bad in [
            "=?x-no-such-charset?Q?abc?=",
            "=?utf-8?B?!!!?=",
            "=?utf-8?Q?a=FFb?=",
            "=?utf-8?Q?a=F?=",
            "=?utf-8?Q?M=C3?=",
            "=?us-ascii?Q?=E4?=",
            "ok =?utf-8?Q?=C3?= =?iso-8859-1?Q?x?=",
        ] {
            assert!(decode_encoded_words(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn encoded_words_found_anywhere() {
        let found = |s: &str| encoded_words_anywhere(s);
        assert_eq!(
            found("a=?utf-8?Q?x-y?=b =?us-ascii?B?eg==?="),
            [b"x-y".to_vec(), b"z".to_vec()]
        );
        assert_eq!(found("=?x-unknown?q?a?="), [b"a".to_vec()], "the charset is not needed");
        assert!(found("=?utf-8?Q?a b?=").is_empty(), "no white space inside a word");
        assert!(found("=?utf-8?X?a?=").is_empty());
        // Header blocks may be 256 KiB: input built to make a search from every `=?` run to
        // the end. A hang guard, not a timing assertion (the work is linear; a quadratic
        // search would take minutes here).
        let started = std::time::Instant::now();
        for junk in [
            "=?".repeat(1 << 17),
            "=?u?".repeat(1 << 16),
            "=?u?Q?".repeat(1 << 15),
            // No `?=` anywhere after any `=?`.
            "=?a?a?a".repeat(1 << 15),
        ] {
            assert!(found(&junk).is_empty());
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    }
}
