//! The error type: what went wrong and where, in one line.

use std::fmt;
use std::io;

pub use crate::class::Class;
use crate::source::SourceError;

/// Why the filter stopped. [`Display`](fmt::Display) gives one line fit for a mail log;
/// [`class`](Error::class) says whether trying again later can help.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    offset: Option<u64>,
}

/// The kinds of failure.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading the message failed.
    Read(io::Error),
    /// Writing the output failed.
    Write(io::Error),
    /// A placeholder is malformed (bad syntax, missing `path`, unknown parameter...).
    Placeholder(String),
    /// The message's MIME structure makes replacing a placeholder unsafe.
    Structure(String),
    /// The attachment could not be opened.
    Attachment(SourceError),
    /// Reading the attachment failed.
    AttachmentRead {
        /// The placeholder's path, after `{var}` expansion.
        path: String,
        /// The underlying error.
        err: io::Error,
    },
    /// The attachment changed while it was read: fewer or more bytes than its size at open
    /// (only one byte more is ever read), or, for a file from [`FsRoot`](crate::FsRoot), a
    /// different size, modification time, change time or inode at the end than at open (see
    /// [`source`](crate::source#changes-while-a-file-is-read)). For a file that pre-flight
    /// checked and closed, also a different size when it was opened again to be written.
    Changed {
        /// The placeholder's path, after `{var}` expansion.
        path: String,
        /// Its size when opened (by pre-flight, for a file opened again).
        expected: u64,
        /// The bytes read (`expected + 1` when it grew), or the size when opened again.
        read: u64,
    },
    /// A placeholder's signature is missing or wrong.
    Signature(String),
    /// A placeholder's path uses a `{NAME}` that has no usable value in this delivery: a
    /// variable that is not set, `{rcpt}` with no recipient or several, a value that cannot
    /// be part of a path. The transport's configuration decides these, not the message.
    Variable(String),
    /// Replacing the placeholder would break a signature the message carries: S/MIME
    /// (`multipart/signed`, `multipart/encrypted`, `application/pkcs7-mime`), DKIM or ARC.
    /// The reason says what to do instead.
    Signed(String),
    /// A configured limit was exceeded.
    Limit {
        /// What was limited.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The configuration is invalid.
    Config(String),
}

impl ErrorKind {
    /// The kind's class; see [`Class`] for the rule. Permanent: [`Placeholder`], [`Structure`],
    /// [`Signed`], and an [`Attachment`] whose [`SourceError::class`] is permanent (a path
    /// that no root can hold, such as `../x` or `/etc/passwd`). Everything else is temporary,
    /// [`Signature`] included: a signature made with a key that has since been rotated
    /// fails exactly like a forged one, and the administrator can fix the first. So is
    /// [`Variable`]: `{rcpt}` with several recipients is the transport's batching, not the
    /// message.
    ///
    /// [`Placeholder`]: ErrorKind::Placeholder
    /// [`Structure`]: ErrorKind::Structure
    /// [`Signed`]: ErrorKind::Signed
    /// [`Attachment`]: ErrorKind::Attachment
    /// [`Signature`]: ErrorKind::Signature
    /// [`Variable`]: ErrorKind::Variable
    pub fn class(&self) -> Class {
        match self {
            ErrorKind::Placeholder(_) | ErrorKind::Structure(_) | ErrorKind::Signed(_) => {
                Class::Permanent
            }
            ErrorKind::Attachment(e) => e.class,
            ErrorKind::Read(_)
            | ErrorKind::Write(_)
            | ErrorKind::AttachmentRead { .. }
            | ErrorKind::Changed { .. }
            | ErrorKind::Signature(_)
            | ErrorKind::Variable(_)
            | ErrorKind::Limit { .. }
            | ErrorKind::Config(_) => Class::Temporary,
        }
    }
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind, offset: None }
    }

    pub(crate) fn at(mut self, offset: u64) -> Error {
        self.offset.get_or_insert(offset);
        self
    }

    pub(crate) fn placeholder(reason: impl Into<String>) -> Error {
        Error::new(ErrorKind::Placeholder(reason.into()))
    }

    pub(crate) fn structure(reason: impl Into<String>) -> Error {
        Error::new(ErrorKind::Structure(reason.into()))
    }

    pub(crate) fn limit(what: &'static str, limit: u64) -> Error {
        Error::new(ErrorKind::Limit { what, limit })
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether trying again can help: [`ErrorKind::class`].
    pub fn class(&self) -> Class {
        self.kind.class()
    }

    /// The byte offset in the input message where the problem was found, when known.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Read(e) => write!(f, "reading the message: {e}")?,
            ErrorKind::Write(e) => write!(f, "writing the output: {e}")?,
            ErrorKind::Placeholder(r) => write!(f, "malformed placeholder: {r}")?,
            ErrorKind::Structure(r) => write!(f, "MIME structure: {r}")?,
            ErrorKind::Attachment(e) => write!(f, "{e}")?,
            ErrorKind::AttachmentRead { path, err } => write!(f, "attachment {path:?}: {err}")?,
            ErrorKind::Changed { path, expected, read } if read == expected => write!(
                f,
                "attachment {path:?} changed while being read ({expected} bytes at open and \
                 read, but its size, times or inode differ from open)"
            )?,
            ErrorKind::Changed { path, expected, read } => write!(
                f,
                "attachment {path:?} changed while being read ({expected} bytes at open, {read} read)"
            )?,
            ErrorKind::Signature(r) => write!(f, "placeholder signature: {r}")?,
            ErrorKind::Variable(r) => write!(f, "placeholder path: {r}")?,
            ErrorKind::Signed(r) => write!(f, "signed message: {r}")?,
            ErrorKind::Limit { what, limit } => write!(f, "limit exceeded: {what} (limit {limit})")?,
            ErrorKind::Config(r) => write!(f, "configuration: {r}")?,
        }
        if let Some(off) = self.offset {
            write!(f, " (at byte {off})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Read(e) | ErrorKind::Write(e) => Some(e),
            ErrorKind::AttachmentRead { err, .. } => Some(err),
            ErrorKind::Attachment(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SourceError> for Error {
    fn from(e: SourceError) -> Error {
        Error::new(ErrorKind::Attachment(e))
    }
}
