//! The sync driver as a minimal filter: stdin to stdout, files beneath ROOT.
//!
//! ```text
//! cargo run --example sync_filter -- testdata/files < testdata/messages/invoice.eml
//! ```

use mimeinject::{rewrite, Config, FsRoot};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).ok_or("usage: sync_filter ROOT < message")?;
    let files = FsRoot::new(root)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let summary = rewrite(&Config::default(), &files, &mut std::io::stdin().lock(), &mut out)?;
    std::io::Write::flush(&mut out)?;
    eprintln!("{} placeholder(s) replaced, {} bytes out", summary.replaced, summary.bytes_out);
    Ok(())
}
