//! The async driver (feature `tokio`): [`AsyncRead`] in, [`AsyncWrite`] out.
//!
//! It follows the same [`Plan`] as the sync driver and encodes with the same
//! [`Attachment::encode`], within the same bounds; only the waiting differs. Attachment
//! sources are blocking (a file, a database client), so opening and encoding run on tokio's
//! blocking pool and hand encoded chunks to the writer through a channel of two chunks: the
//! runtime's threads never block on a file, and memory stays bounded.

use std::io::{self, Write};
use std::sync::Arc;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::sync::mpsc;
use ::tokio::task::spawn_blocking;

use crate::config::Config;
use crate::driver::{read_error, write_error, Attachment, Io, Plan, READ_SIZE};
use crate::error::{Error, ErrorKind};
use crate::rewriter::Summary;
use crate::source::AttachmentSource;

/// Rewrites one message from `reader` to `writer`, like [`crate::rewrite`].
///
/// A message within the pre-flight window is read whole and every file opened and checked
/// before anything is written; a longer one streams through a bounded buffer. Files are kept
/// open, re-opened and read within bounds exactly as by [`crate::rewrite`]. `writer` is not
/// flushed or shut down.
///
/// ```
/// use std::sync::Arc;
/// use mimeinject::{Config, MemorySource};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut files = MemorySource::new();
/// files.insert("hello.txt", "hello\n");
/// let message = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
///                Content-Type: application/x-mimeinject; path=hello.txt\n\n--b--\n";
/// let mut out = Vec::new();
/// let summary =
///     mimeinject::tokio::rewrite(&Config::default(), Arc::new(files), &mut message.as_bytes(), &mut out)
///         .await?;
/// assert_eq!(summary.replaced, 1);
/// assert!(String::from_utf8(out)?.contains("\naGVsbG8K\n"));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// Every reason to refuse the message, see [`ErrorKind`].
pub async fn rewrite<R, W, S>(
    config: &Config,
    source: Arc<S>,
    reader: &mut R,
    writer: &mut W,
) -> Result<Summary, Error>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
    S: AttachmentSource + Send + Sync + 'static + ?Sized,
{
    let mut plan = Plan::new(config);
    loop {
        match plan.next_io()? {
            Io::ReadWindow { buf, limit } => {
                let n = (&mut *reader).take(limit).read_to_end(buf).await.map_err(read_error)?;
                plan.filled(n);
            }
            Io::Read(buf) => {
                let n = reader.read(buf).await.map_err(read_error)?;
                plan.filled(n);
            }
            Io::Write(bytes) => writer.write_all(bytes).await.map_err(write_error)?,
            Io::Open { placeholder, .. } => {
                let (src, path) = (Arc::clone(&source), placeholder.path.clone());
                let opened =
                    spawn_blocking(move || src.open(&path)).await.map_err(join_error)??;
                plan.opened(opened)?;
            }
            Io::Encode(file) => {
                let read = encode(file, writer).await?;
                plan.encoded(read)?;
            }
            Io::Continue => {}
            Io::Done(summary) => return Ok(summary),
        }
    }
}

/// Writes one file's base64 lines, which a blocking task reads and encodes.
async fn encode<W: AsyncWrite + Unpin + ?Sized>(
    file: Attachment,
    writer: &mut W,
) -> Result<u64, Error> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(2);
    let encoder = spawn_blocking(move || encode_to_channel(file, tx));
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = writer.write_all(&chunk).await {
            drop(rx); // The encoder stops at its next send.
            let _ = encoder.await;
            return Err(write_error(e));
        }
    }
    encoder.await.map_err(join_error)?
}

/// Encodes `file` into chunks sent on `tx`, within the sync driver's bounds; returns the
/// bytes read.
fn encode_to_channel(file: Attachment, tx: mpsc::Sender<Vec<u8>>) -> Result<u64, Error> {
    let mut out = ChannelWriter { tx, buf: Vec::new() };
    let read = file.encode(&mut out, &mut Vec::new())?;
    out.flush().map_err(write_error)?;
    Ok(read)
}

/// A [`Write`] that collects bytes into chunks of [`READ_SIZE`] and sends them.
struct ChannelWriter {
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= READ_SIZE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(READ_SIZE));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the writer has stopped"))
    }
}

/// A blocking task that panicked or was cancelled.
fn join_error(e: ::tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Read(io::Error::other(format!("attachment task failed: {e}"))))
}

#[cfg(test)]
mod tests {
    /// A server spawns one rewrite per connection on a multi-threaded runtime.
    #[test]
    fn the_rewrite_future_is_send() {
        fn send<T: Send>(_: T) {}
        let source = std::sync::Arc::new(crate::MemorySource::new());
        let (mut reader, mut writer) = (&b""[..], Vec::new());
        send(super::rewrite(&crate::Config::default(), source, &mut reader, &mut writer));
    }
}
