/*!
mimeinject adds attachments to mail at the moment it is delivered.

An application queues a small message in which a *placeholder* stands where an attachment
should go. At delivery the MTA pipes the message through mimeinject, which streams it through
unchanged and replaces each placeholder with the referenced file as a correct MIME part,
base64 in 76-column lines. A message without placeholders comes out byte-identical.

# Layers

The layers share one core and one plan; none copies another's scanning, encoding or
I/O plan.

- [`Rewriter`]: the sans-IO core. Feed it bytes; it hands back pieces to write (borrowed
  from your input where unchanged) and requests to attach a file.
- [`driver`]: the pre-flight-then-stream [`Plan`](driver::Plan) every driver follows: the
  pre-flight window, bounded reads, the files opened and kept open. It says what I/O to do
  next; a driver only does it.
- [`rewrite`]: the sync driver, [`Read`](std::io::Read) to [`Write`](std::io::Write).
- `tokio::rewrite` (feature `tokio`): the async driver, `AsyncRead` to `AsyncWrite`, with
  attachment reads on tokio's blocking pool.
- `smtp` (feature `smtp`): `smtp::Transaction`, a [`Write`](std::io::Write) that streams
  the sync driver's output into an SMTP or LMTP transaction with a next hop, opened with
  the first byte, CRLF and dot-stuffing as the bytes go, the final dot only when the whole
  message was written (`mimeinject deliver`).

Attachments come from an [`AttachmentSource`]: [`FsRoot`] confines every path beneath one
directory; [`MemorySource`] serves them from memory; an embedder can implement the trait for
a database or an object store (see `examples/memory_source.rs`).

# The sync driver

```
use mimeinject::{rewrite, Config, MemorySource};

let mut files = MemorySource::new();
files.insert("invoices/42.pdf", b"%PDF-1.7 ...".to_vec());
let message = "\
From: billing@example.test\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"b1\"\n\
\n\
--b1\n\
Content-Type: text/plain\n\
\n\
Your invoice is attached.\n\
--b1\n\
Content-Type: application/x-mimeinject; path=\"invoices/42.pdf\"; filename=\"Invoice 42.pdf\"\n\
\n\
--b1--\n";
let mut out = Vec::new();
rewrite(&Config::default(), &files, &mut message.as_bytes(), &mut out)?;
let out = String::from_utf8(out)?;
assert!(out.contains("Content-Transfer-Encoding: base64\n"));
assert!(out.contains("\nJVBERi0xLjcgLi4u\n"));
# Ok::<(), Box<dyn std::error::Error>>(())
```

# The sans-IO core

The caller owns every buffer and every wait. [`Rewriter::step`] looks at the bytes not yet
consumed and says what to do; on [`Action::NeedInput`] it has consumed what it could and
wants more (or `eof`).

```
use mimeinject::encode::LineEncoder;
use mimeinject::{Action, Config, Rewriter};

let message: &[u8] = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
    Content-Type: application/x-mimeinject; path=hello.txt\n\n--b--\n";
let file: &[u8] = b"hello\n";

let mut rw = Rewriter::new(Config::default());
let (mut out, mut pos, mut given) = (Vec::new(), 0, 0);
loop {
    // Reveal the message ten bytes at a time, as a slow socket would.
    let step = rw.step(&message[pos..given], given == message.len())?;
    pos += step.consumed;
    match step.action {
        Action::Write(bytes) => out.extend_from_slice(bytes),
        Action::Attach(placeholder) => {
            assert_eq!(placeholder.path, "hello.txt");
            out.extend_from_slice(rw.begin_attachment(file.len() as u64)?);
            let mut encoder = LineEncoder::new(rw.eol());
            encoder.push(file, &mut out);
            encoder.finish(&mut out);
            rw.end_attachment(file.len() as u64)?;
        }
        Action::NeedInput => given = (given + 10).min(message.len()),
        Action::Finished => break,
    }
}
assert!(String::from_utf8(out)?.contains("\naGVsbG8K\n\n--b--\n"));
# Ok::<(), Box<dyn std::error::Error>>(())
```

# The tokio driver

```
# #[cfg(feature = "tokio")]
# #[tokio::main(flavor = "current_thread")]
# async fn main() -> Result<(), Box<dyn std::error::Error>> {
use std::sync::Arc;
use mimeinject::{Config, MemorySource};

let mut files = MemorySource::new();
files.insert("hello.txt", "hello\n");
let message = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
               Content-Type: application/x-mimeinject; path=hello.txt\n\n--b--\n";
let (mut reader, mut writer) = (message.as_bytes(), Vec::new());
let config = Config::default();
mimeinject::tokio::rewrite(&config, Arc::new(files), &mut reader, &mut writer).await?;
assert!(String::from_utf8(writer)?.contains("\naGVsbG8K\n"));
# Ok(())
# }
# #[cfg(not(feature = "tokio"))]
# fn main() {}
```

Errors are typed ([`Error`], [`ErrorKind`]) and carry the input offset where it is known;
the library has no exit codes.
*/
#![deny(missing_docs)]

pub mod chain;
mod class;
pub mod config;
mod confine;
pub mod driver;
pub mod encode;
pub mod error;
pub mod mime;
pub mod placeholder;
pub mod rewriter;
#[cfg(feature = "smtp")]
pub mod smtp;
pub mod source;
mod sync;
#[cfg(test)]
mod test_skip;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use chain::Stage;
pub use config::{Config, ConfigBuilder, Limits, UnsignedPolicy};
pub use driver::PREFLIGHT_OPEN_FILES;
pub use encode::Eol;
pub use error::{Class, Error, ErrorKind};
pub use placeholder::{sign, Form, Placeholder};
pub use rewriter::{Action, Attached, Rewriter, Step, Summary};
pub use source::{AttachmentSource, Changed, FsRoot, MemorySource, Opened, SourceError};
pub use sync::rewrite;
