//! The synchronous driver: [`Read`] in, [`Write`] out, attachments from an
//! [`AttachmentSource`]. The plan it follows is the [`driver`](crate::driver) layer's; this
//! is only its I/O.

use std::io::{self, Read, Write};

use crate::config::Config;
use crate::driver::{read_error, write_error, Io, Plan};
use crate::error::Error;
use crate::rewriter::Summary;
use crate::source::AttachmentSource;

/// Rewrites one message from `reader` to `writer`.
///
/// A message no longer than the configuration's pre-flight window is read whole first, and
/// every placeholder is resolved and its file opened and checked against the limits before
/// anything is written: on any such error, nothing at all has been written. A longer message
/// streams; on error, what was written before must be discarded (an MTA does, when the filter
/// exits non-zero).
///
/// Pre-flight keeps the first [`PREFLIGHT_OPEN_FILES`](crate::PREFLIGHT_OPEN_FILES) files
/// open until they are written, so what goes out is the file it checked, whatever happens to
/// the name meanwhile (a rename over it delivers the old file whole). Later files are closed
/// after the check and opened again when their turn comes, so that a message with thousands
/// of placeholders does not need thousands of open files; such a file must then have the
/// size pre-flight saw. A file that changed after pre-flight
/// ([`ErrorKind::Changed`](crate::ErrorKind::Changed), or gone) can therefore fail the
/// message after output has started, as any file that changes while it is read does.
///
/// Each attachment is read up to its size at open plus one byte, never further: a file that
/// grows fails with [`ErrorKind::Changed`](crate::ErrorKind::Changed) before its new bytes
/// are written, so the output stays within the limit checked against the size at open.
///
/// Only unchanged spans of the input and generated pieces are written; `writer` is not
/// flushed.
///
/// ```
/// use mimeinject::{rewrite, Config, MemorySource};
///
/// let mut files = MemorySource::new();
/// files.insert("hello.txt", "hello\n");
/// let message = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
///                Content-Type: application/x-mimeinject; path=hello.txt\n\n--b--\n";
/// let mut out = Vec::new();
/// let summary = rewrite(&Config::default(), &files, &mut message.as_bytes(), &mut out)?;
/// assert_eq!(summary.replaced, 1);
/// assert!(String::from_utf8(out)?.contains("\naGVsbG8K\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Every reason to refuse the message, see [`ErrorKind`](crate::ErrorKind).
pub fn rewrite<R, W, S>(
    config: &Config,
    source: &S,
    reader: &mut R,
    writer: &mut W,
) -> Result<Summary, Error>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
    S: AttachmentSource + ?Sized,
{
    let mut plan = Plan::new(config);
    let mut scratch = Vec::new();
    loop {
        match plan.next_io()? {
            Io::ReadWindow { buf, limit } => {
                let n = reader.take(limit).read_to_end(buf).map_err(read_error)?;
                plan.filled(n);
            }
            Io::Read(buf) => {
                let n = read_some(reader, buf)?;
                plan.filled(n);
            }
            Io::Write(bytes) => writer.write_all(bytes).map_err(write_error)?,
            Io::Open { placeholder, .. } => {
                let opened = source.open(&placeholder.path)?;
                plan.opened(opened)?;
            }
            Io::Encode(file) => {
                let read = file.encode(writer, &mut scratch)?;
                plan.encoded(read)?;
            }
            Io::Continue => {}
            Io::Done(summary) => return Ok(summary),
        }
    }
}

/// One `read`, retried when interrupted.
fn read_some<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> Result<usize, Error> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        }
    }
}
