/*!
mimeinject adds attachments to mail at the moment it is delivered.

An application queues a small message in which a *placeholder* stands where an attachment
should go. At delivery the MTA pipes the message through mimeinject, which streams it through
unchanged and replaces each placeholder with the referenced file as a correct MIME part,
base64 in 76-column lines. A message without placeholders comes out byte-identical.

# Layers

- [`Rewriter`]: the sans-IO core. Feed it bytes; it hands back pieces to write (borrowed
  from your input where unchanged) and requests to attach a file.
- [`rewrite`]: the sync driver, [`Read`](std::io::Read) to [`Write`](std::io::Write).
- `tokio::rewrite` (feature `tokio`): the async driver.

Attachments come from an [`AttachmentSource`]: [`FsRoot`] confines every path beneath one
directory; [`MemorySource`] serves them from memory.

# Example

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
*/
#![deny(missing_docs)]

pub mod chain;
pub mod config;
mod confine;
pub mod encode;
pub mod error;
pub mod headers;
pub mod params;
pub mod placeholder;
pub mod rewriter;
pub mod sign;
pub mod source;
mod sync;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use chain::Stage;
pub use config::{Config, ConfigBuilder, Limits, UnsignedPolicy};
pub use encode::Eol;
pub use error::{Error, ErrorKind};
pub use placeholder::{Form, Placeholder};
pub use rewriter::{Action, Rewriter, Step, Summary};
pub use source::{AttachmentSource, FsRoot, MemorySource, Opened, SourceError};
pub use sync::rewrite;
