//! The sans-IO core driven by hand: the message arrives in small pieces (as from a socket),
//! unchanged spans are written straight from the input, and attachments are encoded here.
//!
//! ```text
//! cargo run --example sans_io -- testdata/files < testdata/messages/invoice.eml
//! ```

use std::io::{Read, Write};

use mimeinject::encode::LineEncoder;
use mimeinject::{Action, AttachmentSource, Config, FsRoot, Rewriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).ok_or("usage: sans_io ROOT < message")?;
    let files = FsRoot::new(root)?;
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();

    let mut rw = Rewriter::new(Config::default());
    let mut buf = Vec::new();
    let mut start = 0;
    let mut eof = false;
    loop {
        let step = rw.step(&buf[start..], eof)?;
        start += step.consumed;
        match step.action {
            Action::Write(bytes) => out.write_all(bytes)?,
            Action::Attach(placeholder) => {
                let path = placeholder.path.clone();
                let mut file = files.open(&path)?;
                out.write_all(rw.begin_attachment(file.len)?)?;
                let mut encoder = LineEncoder::new(rw.eol());
                let (mut chunk, mut encoded, mut read) = (vec![0; 57 * 1024], Vec::new(), 0);
                loop {
                    let n = file.reader.read(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    read += n as u64;
                    encoder.push(&chunk[..n], &mut encoded);
                    out.write_all(&encoded)?;
                    encoded.clear();
                }
                encoder.finish(&mut encoded);
                out.write_all(&encoded)?;
                rw.end_attachment(read)?;
            }
            Action::NeedInput => {
                // Keep what the rewriter has not consumed, then read a little more.
                buf.drain(..start);
                start = 0;
                let mut piece = [0u8; 512];
                let n = input.read(&mut piece)?;
                eof = n == 0;
                buf.extend_from_slice(&piece[..n]);
            }
            Action::Finished => break,
        }
    }
    out.flush()?;
    Ok(())
}
