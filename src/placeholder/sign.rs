//! Signed placeholders: an HMAC-SHA256 over every parameter that selects or names content.
//!
//! With a key configured, a placeholder is honoured only when its `sig` parameter is the
//! lower-case hex HMAC-SHA256, under that key, of the following bytes (the *signed message*):
//!
//! ```text
//! mimeinject-sig-v1\n
//! path=<len>:<value>\n
//! filename=<len>:<value>\n      or   filename-\n      when absent
//! type=<len>:<value>\n          or   type-\n          when absent
//! disposition=<len>:<value>\n   or   disposition-\n   when absent
//! ```
//!
//! `<value>` is the parameter's decoded value in UTF-8 (after MIME quoting, RFC 2231 decoding
//! and, for `path` and `filename`, RFC 2047 decoding; **before** `{var}` expansion and before
//! defaults apply; for `filename`, the name used, see below), and `<len>` its length
//! in bytes, in decimal. The length prefix makes the encoding unambiguous whatever the values
//! contain. Any language with an HMAC can produce it; `mimeinject sign` prints a ready stub
//! header, from [`stub_field`](super::stub_field), which also makes the unsigned one `mimeinject stub` prints.
//!
//! The path and the name are covered as the filter uses them: after RFC 2047 decoding when
//! the stub gives them as encoded-words, and the name wherever it came from (the stub's
//! `filename` parameter, else its `Content-Disposition` `filename`). See
//! [the placeholder contract](super).
//!
//! ```
//! use mimeinject::placeholder::sign::{SignedFields, SigningKey};
//!
//! let key = SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
//! let fields = SignedFields { path: "invoices/{rcpt}.pdf", ..Default::default() };
//! let sig = key.sign(&fields);
//! assert_eq!(sig.len(), 64);
//! assert!(key.verify(&fields, &sig));
//! assert!(!key.verify(&SignedFields { path: "etc/passwd", ..fields }, &sig));
//! ```

use hmac::{Hmac, Mac};

use sha2::Sha256;
use std::io;
use std::path::Path;
use subtle::ConstantTimeEq;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;

/// The parameters a signature covers, as the placeholder gives them (before `{var}` expansion,
/// before defaults are applied; `None` when absent).
#[derive(Clone, Copy, Debug, Default)]
pub struct SignedFields<'a> {
    /// `path`, before `{var}` expansion.
    pub path: &'a str,
    /// `filename`.
    pub filename: Option<&'a str>,
    /// `type`.
    pub media_type: Option<&'a str>,
    /// `disposition`.
    pub disposition: Option<&'a str>,
}

impl SignedFields<'_> {
    /// The exact bytes the MAC covers (see the [module docs](self)).
    ///
    /// ```
    /// use mimeinject::placeholder::sign::SignedFields;
    ///
    /// let f = SignedFields { path: "a.pdf", filename: Some("Ä.pdf"), ..Default::default() };
    /// assert_eq!(
    ///     f.signed_message(),
    ///     "mimeinject-sig-v1\npath=5:a.pdf\nfilename=6:Ä.pdf\ntype-\ndisposition-\n".as_bytes(),
    /// );
    /// ```
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = b"mimeinject-sig-v1\n".to_vec();
        let fields = [
            ("path", Some(self.path)),
            ("filename", self.filename),
            ("type", self.media_type),
            ("disposition", self.disposition),
        ];
        for (name, value) in fields {
            m.extend_from_slice(name.as_bytes());
            match value {
                Some(v) => {
                    m.extend_from_slice(format!("={}:", v.len()).as_bytes());
                    m.extend_from_slice(v.as_bytes());
                }
                None => m.push(b'-'),
            }
            m.push(b'\n');
        }
        m
    }
}

/// A secret key for signing and checking placeholders.
#[derive(Clone)]
pub struct SigningKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// A key from raw bytes; at least [`MIN_KEY_LEN`] of them.
    pub fn from_bytes(key: &[u8]) -> io::Result<SigningKey> {
        if key.len() < MIN_KEY_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("signing key is {} bytes, at least {MIN_KEY_LEN} needed", key.len()),
            ));
        }
        Ok(SigningKey { key: key.to_vec() })
    }

    /// A key from a file: its bytes, less one trailing `\n` or `\r\n` (so `echo` and editors
    /// can write it).
    pub fn from_file(path: impl AsRef<Path>) -> io::Result<SigningKey> {
        let mut key = std::fs::read(path)?;
        if key.ends_with(b"\n") {
            key.pop();
            if key.ends_with(b"\r") {
                key.pop();
            }
        }
        SigningKey::from_bytes(&key)
    }

    fn mac(&self, fields: &SignedFields<'_>) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(&fields.signed_message());
        mac
    }

    /// The lower-case hex HMAC-SHA256 of `fields`.
    pub fn sign(&self, fields: &SignedFields<'_>) -> String {
        let tag = self.mac(fields).finalize().into_bytes();
        tag.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `sig` is the signature of `fields`, compared in constant time.
    /// Hex digits are accepted in either case.
    pub fn verify(&self, fields: &SignedFields<'_>, sig: &str) -> bool {
        let Some(given) = decode_hex(sig) else {
            return false;
        };
        let tag = self.mac(fields).finalize().into_bytes();
        given.len() == tag.len() && bool::from(given.as_slice().ct_eq(tag.as_slice()))
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(b"key-for-tests-0123456789").unwrap()
    }

    #[test]
    fn known_answer() {
        // Computed independently with `openssl dgst -sha256 -hmac key-for-tests-0123456789`
        // over printf 'mimeinject-sig-v1\npath=5:a.pdf\nfilename-\ntype-\ndisposition-\n'.
        let sig = key().sign(&SignedFields { path: "a.pdf", ..Default::default() });
        assert_eq!(sig, KNOWN);
    }
    const KNOWN: &str = "a1312cb7d2453433134e8dcd29cbb21d7ccf9737796dfac0f9a6de4bedad5c67";

    #[test]
    fn every_field_is_covered() {
        let base = SignedFields {
            path: "p",
            filename: Some("f"),
            media_type: Some("t/t"),
            disposition: Some("inline"),
        };
        let sig = key().sign(&base);
        assert!(key().verify(&base, &sig));
        assert!(key().verify(&base, &sig.to_uppercase()));
        for changed in [
            SignedFields { path: "q", ..base },
            SignedFields { filename: None, ..base },
            SignedFields { filename: Some(""), ..base },
            SignedFields { media_type: Some("t/u"), ..base },
            SignedFields { disposition: Some("attachment"), ..base },
        ] {
            assert!(!key().verify(&changed, &sig), "{changed:?}");
        }
    }

    #[test]
    fn boundaries_between_fields_are_unambiguous() {
        let a = SignedFields { path: "a\nfilename=1:b", ..Default::default() };
        let b = SignedFields { path: "a", filename: Some("b"), ..Default::default() };
        assert_ne!(key().sign(&a), key().sign(&b));
    }

    #[test]
    fn malformed_signatures_fail() {
        let f = SignedFields { path: "p", ..Default::default() };
        let sig = key().sign(&f);
        for bad in ["", "zz", &sig[..62], &format!("{sig}00"), &sig.replace(&sig[..1], "g")] {
            assert!(!key().verify(&f, bad), "{bad}");
        }
        let other = SigningKey::from_bytes(b"another-key-0123456789").unwrap();
        assert!(!other.verify(&f, &sig));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SigningKey::from_bytes(b"short").is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "0123456789abcdef\n").unwrap();
        assert!(SigningKey::from_file(&p).is_ok());
        std::fs::write(&p, "0123456789abcde\n").unwrap();
        assert!(SigningKey::from_file(&p).is_err());
    }
}
