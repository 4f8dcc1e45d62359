//! The placeholder contract (v1): which parameters a placeholder takes and what they mean.
//!
//! Both forms use MIME parameter syntax. A stub part's parameters are those of its
//! `Content-Type: application/x-mimeinject`; a body line's follow `mimeinject:`.
//!
//! | parameter | meaning | default |
//! |---|---|---|
//! | `path` | the file, relative to the root; `{rcpt}` and `{NAME}` are per-delivery values, expanded only for a delivery with exactly one recipient (see [`crate::ConfigBuilder`]) | required |
//! | `filename` | the name the recipient sees | the stub's `Content-Disposition` `filename`, else the last component of the expanded path |
//! | `type` | the media type | guessed from the filename's extension |
//! | `disposition` | `attachment` or `inline` | the stub's `Content-Disposition` type, else `attachment` |
//! | `sig` | HMAC-SHA256 signature, see [`sign`] | required when a key is set |
//!
//! Any other parameter is refused (a misspelt `filname` must not go unnoticed), except
//! `name` and `charset`, which mail libraries add on their own and which are ignored
//! (Symfony Mime sets `name` to the Content-ID, so it is never read as the file name).
//!
//! # Where mail libraries put the name
//!
//! A library's usual attachment call writes the name into the part's
//! `Content-Disposition: attachment; filename="…"` (RFC 2183), not into the stub's
//! parameters. The Content-Type parameters come first, as in v1; what they leave out is
//! taken from `Content-Disposition`:
//!
//! 1. the name: the `filename` parameter of the stub's Content-Type, else the `filename` of
//!    its Content-Disposition (RFC 2231 and RFC 2047 decoded), else the path's last
//!    component;
//! 2. the disposition: the `disposition` parameter, else the Content-Disposition type
//!    (`attachment` or `inline`; any other type is refused), else `attachment`.
//!
//! When both sources give a name and they disagree, the Content-Type parameter wins: it is
//! the one written for mimeinject (by hand, or by `mimeinject stub`/`sign`), while the
//! Content-Disposition is what the library writes for every attachment.
//!
//! The values of `path` and `filename` (in either field) may hold RFC 2047 encoded-words
//! (`filename="=?utf-8?Q?M=C3=A4rz.csv?="`, as PHPMailer, Symfony Mime and lettre write
//! them), which are decoded as Python's `email` package does; see
//! [`decode_encoded_words`](crate::mime::rfc2047::decode_encoded_words). A value in RFC 2231 form
//! is never read for encoded-words.
//!
//! # Where the code is
//!
//! - `parse`: reading a placeholder from its parameters, and checking the
//!   fields of a stub about to be written;
//! - `expand`: `{rcpt}` and `{NAME}` in paths;
//! - [`sign`]: the HMAC that a key requires;
//! - [`stub_field`]: writing a stub's `Content-Type` field.
//!
//! This module uses only [`crate::mime`]; the configuration hands it what it needs as
//! `Rules`, so that nothing here depends on [`crate::Config`].

mod expand;
mod parse;
pub mod sign;
mod write;

pub use crate::mime::header::Disposition;
pub(crate) use expand::RCPT;
pub(crate) use parse::from_params;
pub use sign::{SignedFields, SigningKey};
pub use write::{format_placeholder_field, stub_field, STUB_TYPE};

/// What starts a body-line placeholder (`mimeinject: path=…`), at the start of a line of a
/// base64 body.
///
/// ```
/// let line = b"mimeinject: path=\"invoices/42.pdf\"\n";
/// assert!(line.starts_with(mimeinject::placeholder::BODY_LINE_PREFIX));
/// ```
pub const BODY_LINE_PREFIX: &[u8] = b"mimeinject:";

/// Which of the two placeholder forms was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// A whole MIME part with `Content-Type: application/x-mimeinject`, replaced by a
    /// complete attachment part.
    Stub,
    /// A `mimeinject: path=…` line in a base64 part, replaced by the file's base64 lines.
    BodyLine,
}

/// A placeholder, resolved against the configuration: what to attach and how to name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// Which form it had.
    pub form: Form,
    /// The path relative to the root, variables expanded.
    pub path: String,
    /// The name the recipient sees.
    pub filename: String,
    /// `type/subtype`.
    pub media_type: String,
    /// Attachment or inline.
    pub disposition: Disposition,
}

/// Why a placeholder was refused, by what is at fault: the message, its signature, or the
/// delivery's variables. Each becomes its own [`crate::ErrorKind`], with its own
/// [`crate::Class`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The placeholder itself is wrong: its syntax, parameters or values.
    Malformed(String),
    /// Its signature is missing or does not match the key.
    Signature(String),
    /// Its path uses a `{NAME}` that has no usable value in this delivery (not set, no
    /// recipient or several, a value that cannot be part of a path).
    Variable(String),
}

impl Refusal {
    /// The one-line reason, whatever the fault.
    #[cfg(test)]
    pub(crate) fn reason(&self) -> &str {
        match self {
            Refusal::Malformed(r) | Refusal::Signature(r) | Refusal::Variable(r) => r,
        }
    }
}

/// The outcome of reading a placeholder's parameters.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Honour it.
    Valid(Placeholder),
    /// A key is set, the signature is missing or wrong, and the policy says pass it through.
    Unsigned,
}

/// What to do with a placeholder whose signature is missing or wrong, when a key is set.
///
/// ```
/// use mimeinject::{Config, UnsignedPolicy};
///
/// assert_eq!(UnsignedPolicy::default(), UnsignedPolicy::Fail);
/// let config = Config::builder().unsigned(UnsignedPolicy::Pass).build()?;
/// # Ok::<(), mimeinject::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum UnsignedPolicy {
    /// Fail: the message stays queued. The safe default.
    #[default]
    Fail,
    /// Leave the placeholder in the message as ordinary text.
    Pass,
}

/// The per-delivery values `{NAME}` stands for in a path: the variables set for the run, and
/// the delivery's envelope recipients (`{rcpt}` when there is exactly one).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Vars<'a> {
    /// `(name, value)` pairs, names without braces.
    pub(crate) vars: &'a [(String, String)],
    /// The envelope recipients, as given.
    pub(crate) recipients: &'a [String],
}

impl<'a> Vars<'a> {
    /// The value of the variable `name`, if set.
    fn var(&self, name: &str) -> Option<&'a str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What reading a placeholder needs from the configuration: the variables, the signing key
/// and what to do without a valid signature. Borrowed, made for each placeholder.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rules<'a> {
    /// `{NAME}` and `{rcpt}` values.
    pub(crate) vars: Vars<'a>,
    /// The key every placeholder must be signed with, if any.
    pub(crate) key: Option<&'a SigningKey>,
    /// What to do with a placeholder not signed with `key`.
    pub(crate) unsigned: UnsignedPolicy,
}
