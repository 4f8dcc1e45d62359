//! The class of a failure: temporary or permanent. A leaf module, so that the error type and
//! the attachment sources can both name it.

use std::fmt;

/// Whether a failure is worth trying again: what an MTA should do with the message.
///
/// RFC 5321 §4.2.1 splits failures the same way: a 4yz reply ("transient negative
/// completion") means the same transaction may succeed later, a 5yz reply ("permanent
/// negative completion") means it will not. mimeinject sorts its own failures by one rule:
/// **permanent** only for a defect of the message itself, which no retry and no change of
/// the configuration or the files can cure (malformed MIME structure, signed mail, a
/// malformed placeholder, a path that no root can hold); **temporary** for everything else,
/// including what an administrator can fix (a missing or unreadable file, a limit, a key, a
/// `{var}` that is not set, a `{rcpt}` path with several recipients) and every I/O failure.
/// When in doubt the class is temporary: a bounce cannot be undone, a deferral can be given
/// up later.
///
/// ```
/// use mimeinject::{rewrite, Class, Config, MemorySource};
///
/// let message = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
///                Content-Type: application/x-mimeinject; path=missing.pdf\n\n--b--\n";
/// let err = rewrite(&Config::default(), &MemorySource::new(), &mut message.as_bytes(), &mut Vec::new())
///     .unwrap_err();
/// assert_eq!(err.class(), Class::Temporary); // the file may yet appear
///
/// let unsafe_ = "Content-Type: multipart/signed; boundary=b\n\n--b\n\
///                Content-Type: application/x-mimeinject; path=a.pdf\n\n--b--\n";
/// let err = rewrite(&Config::default(), &MemorySource::new(), &mut unsafe_.as_bytes(), &mut Vec::new())
///     .unwrap_err();
/// assert_eq!(err.class(), Class::Permanent); // replacing it would break the signature
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// The same message may go through later, or once an administrator has fixed the
    /// configuration or the files: defer it (exit 75 for Postfix's pipe(8), a 4xx reply).
    Temporary,
    /// A defect of the message itself: no retry can help, bounce it to its sender with the
    /// reason (exit 69 for pipe(8), a 5xx reply).
    Permanent,
}

impl Class {
    /// `"temporary"` or `"permanent"`, as the logs and the documentation write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Temporary => "temporary",
            Class::Permanent => "permanent",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
