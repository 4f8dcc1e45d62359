//! RFC 2045 tokens and the characters around them.

/// RFC 2045 `tspecials`: characters that end a token (§5.1).
const TSPECIALS: &[u8] = b"()<>@,;:\\\"/[]?=";

/// Whether `b` may appear in an RFC 2045 token: visible ASCII, not a tspecial.
pub(crate) fn is_token_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !TSPECIALS.contains(&b)
}

/// Whether `b` may appear in an unquoted value. Real mail puts tspecials in
/// unquoted values (`boundary=----=_NextPart_000`), so any visible character
/// but `;` and `"` is allowed, as is any non-ASCII byte (RFC 6532).
pub(crate) fn is_lenient_value_byte(b: u8) -> bool {
    (b >= 0x80 || (0x21..=0x7e).contains(&b)) && b != b';' && b != b'"'
}

/// Whether `b` is an RFC 2231 `attribute-char` (§7): a token character other than `*`,
/// `'` and `%`. Every other byte of a value written in RFC 2231 form is percent-encoded.
pub(crate) fn is_attribute_char(b: u8) -> bool {
    is_token_byte(b) && !matches!(b, b'*' | b'\'' | b'%')
}
