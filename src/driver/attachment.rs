//! [`Attachment`]: one opened file, encoded within the bounds the plan checked.

use std::io::{self, Read, Write};

use crate::encode::{copy_encoded, Eol};
use crate::error::{Error, ErrorKind};
use crate::source::{Changed, Opened};

use super::write_error;

/// One placeholder's file, opened, ready to be encoded: from [`Io::Encode`](super::Io::Encode).
#[derive(Debug)]
pub struct Attachment {
    pub(super) path: String,
    pub(super) opened: Opened,
    pub(super) eol: Eol,
}

impl Attachment {
    /// The path the file was opened at (the placeholder's, variables expanded).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's size when opened, in bytes: the size the message's limits were checked
    /// against and its header says.
    pub fn len(&self) -> u64 {
        self.opened.len
    }

    /// Whether the file was empty when opened.
    pub fn is_empty(&self) -> bool {
        self.opened.len == 0
    }

    /// The line ending for the base64 lines: that of the lines around the placeholder.
    pub fn eol(&self) -> Eol {
        self.eol
    }

    /// Writes the file's content to `writer` as MIME base64 lines; returns the bytes read,
    /// for [`Plan::encoded`](super::Plan::encoded). `scratch` is reused across calls (its
    /// content does not matter).
    ///
    /// Reads at most [`len`](Self::len)` + 1` bytes: one more than the size at open means
    /// the file grew, and fails with [`ErrorKind::Changed`] before that chunk is written, so
    /// the output stays within the limit checked against the size at open. A reader's own
    /// [`Changed`] error (an [`FsRoot`](crate::FsRoot) file that was rewritten) becomes
    /// [`ErrorKind::Changed`] too. Fewer bytes than the size at open are
    /// [`Plan::encoded`](super::Plan::encoded)'s to refuse.
    ///
    /// ```
    /// use mimeinject::driver::{Io, Plan};
    /// use mimeinject::{AttachmentSource, Config, MemorySource};
    ///
    /// let mut files = MemorySource::new();
    /// files.insert("a.txt", "hello\n");
    /// let message = "Content-Transfer-Encoding: base64\n\nmimeinject: path=a.txt\n";
    /// let config = Config::builder().preflight_window(0).build()?;
    /// let mut plan = Plan::new(&config);
    /// let mut out = Vec::new();
    /// let mut input = Some(message.as_bytes());
    /// let summary = loop {
    ///     match plan.next_io()? {
    ///         Io::Read(buf) => {
    ///             let data = input.take().unwrap_or_default();
    ///             buf[..data.len()].copy_from_slice(data);
    ///             plan.filled(data.len());
    ///         }
    ///         Io::Write(bytes) => out.extend_from_slice(bytes),
    ///         Io::Open { placeholder, .. } => {
    ///             let opened = files.open(&placeholder.path)?;
    ///             plan.opened(opened)?;
    ///         }
    ///         Io::Encode(file) => {
    ///             assert_eq!((file.path(), file.len()), ("a.txt", 6));
    ///             let read = file.encode(&mut out, &mut Vec::new())?;
    ///             plan.encoded(read)?;
    ///         }
    ///         Io::Done(summary) => break summary,
    ///         _ => {}
    ///     }
    /// };
    /// assert_eq!(summary.replaced, 1);
    /// assert_eq!(out, b"Content-Transfer-Encoding: base64\n\naGVsbG8K\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Write`] when `writer` fails, [`ErrorKind::Changed`] when the file
    /// changed, [`ErrorKind::AttachmentRead`] when reading it failed.
    pub fn encode<W: Write + ?Sized>(
        self,
        writer: &mut W,
        scratch: &mut Vec<u8>,
    ) -> Result<u64, Error> {
        let (path, expected) = (self.path, self.opened.len);
        let mut reader = Bounded { inner: self.opened.reader, len: expected, read: 0 };
        let mut tagged = Tagged { inner: writer, failed: false };
        copy_encoded(&mut reader, &mut tagged, self.eol, scratch).map_err(|err| {
            if tagged.failed {
                write_error(err)
            } else if Changed::of(&err).is_some() {
                Error::new(ErrorKind::Changed { path, expected, read: reader.read })
            } else {
                Error::new(ErrorKind::AttachmentRead { path, err })
            }
        })
    }
}

/// A reader that reads at most `len + 1` bytes, and fails with [`Changed`] on the last one.
struct Bounded<R> {
    inner: R,
    len: u64,
    /// Bytes read so far.
    read: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.read).saturating_add(1);
        let most = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..most])?;
        self.read += n as u64;
        if self.read > self.len {
            return Err(io::Error::other(Changed("grew")));
        }
        Ok(n)
    }
}

/// A writer that remembers whether an error came from it.
struct Tagged<'w, W: Write + ?Sized> {
    inner: &'w mut W,
    failed: bool,
}

impl<W: Write + ?Sized> Write for Tagged<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|_| self.failed = true)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).inspect_err(|_| self.failed = true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|_| self.failed = true)
    }
}
