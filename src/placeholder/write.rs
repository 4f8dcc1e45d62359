//! Writing a stub: its `Content-Type` field, as `mimeinject stub` and `sign` print it.

use super::parse::check_fields;
use super::sign::{SignedFields, SigningKey};
use crate::mime::header::content_type_field;
use crate::mime::Eol;

/// The media type that marks a stub part: `Content-Type: application/x-mimeinject; path=…`.
///
/// ```
/// let field = mimeinject::placeholder::format_placeholder_field(&[("path", "a.pdf")], mimeinject::Eol::Lf);
/// assert!(field.starts_with(&format!("Content-Type: {}", mimeinject::placeholder::STUB_TYPE)));
/// ```
pub const STUB_TYPE: &str = "application/x-mimeinject";

/// The complete, folded `Content-Type: application/x-mimeinject; name=value; …`
/// header line of a placeholder part, ending in `eol`.
///
/// The parameters are written in the given order. A value that is short
/// printable ASCII is quoted (`\` and `"` escaped); any other value (non-ASCII,
/// control characters, too long for one line, or containing `=?`) is written
/// in RFC 2231 form, `name*=UTF-8''…` or `name*0*=UTF-8''…; name*1*=…`. The
/// line therefore parses back, through
/// [`parse_content_type`](crate::mime::params::parse_content_type), to exactly these
/// parameters, for any values.
///
/// # Panics
///
/// When a name is empty or not an RFC 2231 attribute (an RFC 2045 token
/// without `*`, `'` or `%`), or not lower-case, or appears twice: such a list
/// could not be parsed back to itself, and names come from the program, not
/// from the user.
///
/// ```
/// use mimeinject::mime::Eol;
/// use mimeinject::placeholder::format_placeholder_field;
///
/// assert_eq!(
///     format_placeholder_field(&[("path", "/srv/a b.pdf"), ("filename", "é.pdf")], Eol::Lf),
///     "Content-Type: application/x-mimeinject; path=\"/srv/a b.pdf\";\n \
///      filename*=UTF-8''%C3%A9.pdf\n",
/// );
/// ```
pub fn format_placeholder_field(params: &[(&str, &str)], eol: Eol) -> String {
    content_type_field(STUB_TYPE, params, eol)
}

/// The stub part's complete `Content-Type:` field for `fields`, ending in `\n`: `path`, then
/// `filename`, `type` and `disposition` when given, then, with a `key`, `sig`. Values are
/// quoted, or written in RFC 2231 form when they are not short printable ASCII (see
/// [`format_placeholder_field`]), so that the filter reads back exactly these values, and
/// so a signature over them matches. This is what `mimeinject stub` (no key) and
/// `mimeinject sign` print.
///
/// # Errors
///
/// A one-line reason when the filter would refuse the stub whatever the configuration: an
/// empty path, or one with an unmatched `{` or `}` or a badly named `{NAME}`; a filename that
/// is empty, `.` or `..`, or holds `/` or a control character; a type that is not a bare
/// `type/subtype`; a disposition other than `attachment` or `inline`.
///
/// ```
/// use mimeinject::placeholder::{stub_field, SignedFields, SigningKey};
///
/// let fields = SignedFields { path: "statements/{rcpt}/2026-03.pdf", ..Default::default() };
/// assert_eq!(
///     stub_field(&fields, None).unwrap(),
///     "Content-Type: application/x-mimeinject; path=\"statements/{rcpt}/2026-03.pdf\"\n",
/// );
/// let named = SignedFields { filename: Some("Rechnung März.pdf"), ..fields };
/// let key = SigningKey::from_bytes(b"0123456789abcdef").unwrap();
/// let signed = stub_field(&named, Some(&key)).unwrap();
/// assert!(signed.contains("filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf;"));
/// assert!(signed.contains(&format!("sig=\"{}\"", key.sign(&named))));
/// assert!(stub_field(&SignedFields { media_type: Some("pdf"), ..fields }, None).is_err());
/// ```
pub fn stub_field(fields: &SignedFields<'_>, key: Option<&SigningKey>) -> Result<String, String> {
    check_fields(fields)?;
    let sig = key.map(|k| k.sign(fields));
    let mut params = vec![("path", fields.path)];
    params.extend(fields.filename.map(|v| ("filename", v)));
    params.extend(fields.media_type.map(|v| ("type", v)));
    params.extend(fields.disposition.map(|v| ("disposition", v)));
    params.extend(sig.as_deref().map(|v| ("sig", v)));
    Ok(format_placeholder_field(&params, Eol::Lf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::header::tests::fields;
    use crate::mime::params::parse_content_type;

    /// Formats, parses back and compares.
    fn placeholder_round_trip(params: &[(&str, &str)]) -> String {
        for eol in [Eol::Lf, Eol::CrLf] {
            let text = format_placeholder_field(params, eol);
            let f = fields(&text, eol);
            assert_eq!(f.len(), 1);
            assert_eq!(f[0].0, "Content-Type");
            let ct = parse_content_type(f[0].1.as_bytes()).unwrap();
            assert_eq!(ct.media_type, "application/x-mimeinject");
            let got: Vec<(&str, &str)> =
                ct.params.0.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            assert_eq!(got, params, "{text}");
        }
        format_placeholder_field(params, Eol::Lf)
    }

    #[test]
    fn placeholder_field() {
        assert_eq!(placeholder_round_trip(&[]), "Content-Type: application/x-mimeinject\n");
        let text = placeholder_round_trip(&[("path", "/srv/files/report.pdf")]);
        assert_eq!(
            text,
            "Content-Type: application/x-mimeinject; path=\"/srv/files/report.pdf\"\n"
        );
        placeholder_round_trip(&[
            ("path", "/srv/files/a \"quoted\" \\ name.pdf"),
            ("filename", "r\u{e9}sum\u{e9}.pdf"),
            ("disposition", "inline"),
            ("expires", "2030-01-01T00:00:00Z"),
            ("sig", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ]);
        // Values a file name may not hold are still carried faithfully.
        placeholder_round_trip(&[("path", "/a\r\nb\0c\td"), ("x", ""), ("y", "=?x?=")]);
        placeholder_round_trip(&[("path", &format!("/{}", "d/".repeat(400)))]);
        placeholder_round_trip(&[("path", &"\u{65e5}/".repeat(300))]);
        let long_name = "n".repeat(50);
        placeholder_round_trip(&[(long_name.as_str(), &"\u{1f600}".repeat(20))]);
    }

    #[test]
    #[should_panic(expected = "not a lower-case RFC 2231 attribute")]
    fn placeholder_bad_name() {
        format_placeholder_field(&[("path*", "x")], Eol::Lf);
    }

    #[test]
    #[should_panic(expected = "not a lower-case RFC 2231 attribute")]
    fn placeholder_upper_case_name() {
        format_placeholder_field(&[("Path", "x")], Eol::Lf);
    }

    #[test]
    #[should_panic(expected = "given twice")]
    fn placeholder_duplicate_name() {
        format_placeholder_field(&[("path", "x"), ("path", "y")], Eol::Lf);
    }
}
