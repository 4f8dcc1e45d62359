//! The async driver (feature `tokio`): [`AsyncRead`] in, [`AsyncWrite`] out.
//!
//! It drives the same [`Rewriter`] as the sync driver and encodes with the same
//! [`copy_encoded`](crate::encode::copy_encoded), within the same bounds; only the waiting
//! differs. Attachment sources are blocking (a file, a database client), so opening and
//! encoding run on tokio's blocking pool and hand encoded chunks to the writer through a
//! channel of two chunks: the runtime's threads never block on a file, and memory stays
//! bounded.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::sync::mpsc;
use ::tokio::task::spawn_blocking;

use crate::config::Config;
use crate::encode::Eol;
use crate::error::{Error, ErrorKind};
use crate::rewriter::{Action, Rewriter, Summary};
use crate::source::{AttachmentSource, Opened};
use crate::sync::{
    encode_attachment, first_read_capacity, preflight, preflight_read_limit, reopen, write_error,
    InputBuffer, Preflighted, READ_SIZE,
};

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
    let window = config.preflight_window;
    let mut buf = Vec::with_capacity(first_read_capacity(window));
    if window > 0 {
        (&mut *reader)
            .take(preflight_read_limit(window))
            .read_to_end(&mut buf)
            .await
            .map_err(|e| Error::new(ErrorKind::Read(e)))?;
        if buf.len() <= window {
            let (cfg, src) = (config.clone(), Arc::clone(&source));
            let (checked, buf) =
                spawn_blocking(move || preflight(&cfg, &*src, &buf).map(|c| (c, buf)))
                    .await
                    .map_err(join_error)??;
            if checked.is_passthrough(config) {
                writer.write_all(&buf).await.map_err(write_error)?;
                return Ok(checked.summary);
            }
            return write_slice(config, source, checked.files, &buf, writer).await;
        }
    }
    stream(config, source, buf, reader, writer).await
}

/// Writes a message that is wholly in memory, with the files pre-flight checked.
async fn write_slice<W, S>(
    config: &Config,
    source: Arc<S>,
    mut files: VecDeque<Preflighted>,
    input: &[u8],
    writer: &mut W,
) -> Result<Summary, Error>
where
    W: AsyncWrite + Unpin + ?Sized,
    S: AttachmentSource + Send + Sync + 'static + ?Sized,
{
    let mut rw = Rewriter::new(config.clone());
    let mut pos = 0;
    loop {
        let step = rw.step(&input[pos..], true)?;
        pos += step.consumed;
        match step.action {
            Action::Write(bytes) => writer.write_all(bytes).await.map_err(write_error)?,
            Action::Attach(p) => {
                let path = p.path.clone();
                let (opened, path) = match files.pop_front().expect("pre-flight checked it") {
                    Preflighted::Open(opened) => (opened, path),
                    Preflighted::Closed(len) => {
                        let src = Arc::clone(&source);
                        spawn_blocking(move || reopen(&*src, &path, len).map(|o| (o, path)))
                            .await
                            .map_err(join_error)??
                    }
                };
                attach(&mut rw, path, opened, writer).await?;
            }
            Action::NeedInput => unreachable!("the rewriter asked for input after eof"),
            Action::Finished => return Ok(rw.summary()),
        }
    }
}

/// Streams a message through a bounded buffer that starts with `buf`.
async fn stream<R, W, S>(
    config: &Config,
    source: Arc<S>,
    buf: Vec<u8>,
    reader: &mut R,
    writer: &mut W,
) -> Result<Summary, Error>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
    S: AttachmentSource + Send + Sync + 'static + ?Sized,
{
    let mut input = InputBuffer::new(buf, config);
    let mut rw = Rewriter::new(config.clone());
    loop {
        let step = rw.step(input.pending(), input.eof)?;
        let consumed = step.consumed;
        match step.action {
            Action::Write(bytes) => writer.write_all(bytes).await.map_err(write_error)?,
            Action::Attach(p) => {
                let path = p.path.clone();
                let src = Arc::clone(&source);
                let (opened, path) =
                    spawn_blocking(move || src.open(&path).map(|opened| (opened, path)))
                        .await
                        .map_err(join_error)??;
                attach(&mut rw, path, opened, writer).await?;
            }
            Action::NeedInput => {
                input.consume(consumed);
                let space = input.space()?;
                let n = reader.read(space).await.map_err(|e| Error::new(ErrorKind::Read(e)))?;
                input.filled(n);
                continue;
            }
            Action::Finished => return Ok(rw.summary()),
        }
        input.consume(consumed);
    }
}

/// Writes one attachment: the generated header, then the file's base64 lines, which a
/// blocking task reads and encodes.
async fn attach<W: AsyncWrite + Unpin + ?Sized>(
    rw: &mut Rewriter,
    path: String,
    opened: Opened,
    writer: &mut W,
) -> Result<(), Error> {
    let eol = rw.eol();
    let header = rw.begin_attachment(opened.len)?;
    writer.write_all(header).await.map_err(write_error)?;

    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(2);
    let encoder = spawn_blocking(move || encode_to_channel(&path, opened, eol, tx));
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = writer.write_all(&chunk).await {
            drop(rx); // The encoder stops at its next send.
            let _ = encoder.await;
            return Err(write_error(e));
        }
    }
    let read = encoder.await.map_err(join_error)??;
    rw.end_attachment(read)
}

/// Encodes `opened` into chunks sent on `tx`, within the sync driver's bounds; returns the
/// bytes read.
fn encode_to_channel(
    path: &str,
    opened: Opened,
    eol: Eol,
    tx: mpsc::Sender<Vec<u8>>,
) -> Result<u64, Error> {
    let mut out = ChannelWriter { tx, buf: Vec::new() };
    let mut scratch = Vec::new();
    let read = encode_attachment(path, opened, &mut out, eol, &mut scratch)?;
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
