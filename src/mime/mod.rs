//! MIME syntax: header parameters, tokens, RFC 2231 and RFC 2047, line endings, and writing
//! header fields. The lowest layer of the crate: it uses nothing else in it.
//!
//! - [`params`]: reading field bodies, RFC 2045 §5.1 parameter syntax with RFC 822
//!   comments, `Content-Type`, RFC 2183 `Content-Disposition`, `Content-Transfer-Encoding`.
//! - `rfc2231` (private): parameter value continuations and charsets (RFC 2231 §3 and
//!   §4), read by [`params`] and written by [`header`].
//! - [`rfc2047`]: encoded-words (RFC 2047), both ways.
//! - [`header`]: writing and folding header fields: the attachment part's header, the media
//!   type guessed from a file name.
//! - [`Eol`]: line endings, and the byte-level helpers that read lines.
//!
//! ```
//! use mimeinject::mime::{params::parse_content_type, rfc2047::decode_encoded_words};
//!
//! let ct = parse_content_type(b"text/plain; name=\"=?utf-8?Q?M=C3=A4rz.txt?=\"")?;
//! assert_eq!(ct.media_type, "text/plain");
//! assert_eq!(decode_encoded_words(ct.params.get("name").unwrap())?, "März.txt");
//! # Ok::<(), mimeinject::mime::ParamError>(())
//! ```

use std::fmt;

/// Why a field body could not be parsed: a one-line reason.
///
/// ```
/// let e = mimeinject::mime::params::parse_params(b"path").unwrap_err();
/// assert_eq!(e.to_string(), "parameter \"path\" has no '='");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError(pub String);

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParamError {}

/// Builds a [`ParamError`] from format arguments and returns it.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::mime::ParamError(format!($($arg)*)))
    };
}

mod eol;
pub mod header;
pub mod params;
pub mod rfc2047;
mod rfc2231;
pub(crate) mod token;

pub use eol::Eol;
pub(crate) use eol::{find_ci, line_ending, starts_with_ci, trim_eol};
