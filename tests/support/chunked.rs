//! A test driver for the sans-IO core: feeds the input in chunks of chosen sizes, as a
//! network or a pipe might deliver it; and [`Chunks`], a reader that does the same to the
//! drivers.

use mimeinject::{Action, AttachmentSource, Config, Error, Rewriter};

/// Runs `input` through a fresh rewriter, revealing at most `chunk(i)` new bytes at the
/// i-th read.
pub fn run_chunked(
    config: &Config,
    source: &dyn AttachmentSource,
    input: &[u8],
    mut chunk: impl FnMut(usize) -> usize,
) -> Result<Vec<u8>, Error> {
    let mut rw = Rewriter::new(config.clone());
    let mut out = Vec::new();
    let (mut start, mut end, mut reads) = (0, 0, 0);
    loop {
        let eof = end == input.len();
        let step = rw.step(&input[start..end], eof)?;
        let consumed = step.consumed;
        match step.action {
            Action::Write(b) => out.extend_from_slice(b),
            Action::Attach(p) => {
                let path = p.path.clone();
                let mut opened = source.open(&path)?;
                let len = opened.len;
                out.extend_from_slice(rw.begin_attachment(len)?);
                let mut enc = mimeinject::encode::LineEncoder::new(rw.eol());
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut opened.reader, &mut data).unwrap();
                enc.push(&data, &mut out);
                enc.finish(&mut out);
                rw.end_attachment(data.len() as u64)?;
            }
            Action::NeedInput => {
                assert!(!eof, "NeedInput after eof");
                let n = chunk(reads).max(1);
                reads += 1;
                end = (end + n).min(input.len());
            }
            Action::Finished => {
                assert_eq!(start + consumed, input.len(), "finished before the end of the input");
                return Ok(out);
            }
        }
        start += consumed;
        assert!(start <= end, "consumed more than was given");
    }
}

/// The input in two reads: the first `split` bytes, then the rest.
pub fn run_split(
    config: &Config,
    source: &dyn AttachmentSource,
    input: &[u8],
    split: usize,
) -> Result<Vec<u8>, Error> {
    let mut first = true;
    run_chunked(
        config,
        source,
        input,
        |_| {
            if std::mem::take(&mut first) {
                split
            } else {
                input.len()
            }
        },
    )
}

/// The whole input at once.
pub fn run_whole(
    config: &Config,
    source: &dyn AttachmentSource,
    input: &[u8],
) -> Result<Vec<u8>, Error> {
    run_chunked(config, source, input, |_| usize::MAX / 2)
}

/// A reader that hands out at most `chunk(i)` bytes at its i-th read.
pub struct Chunks<'a, F> {
    data: &'a [u8],
    chunk: F,
    reads: usize,
}

impl<'a, F: FnMut(usize) -> usize> Chunks<'a, F> {
    pub fn new(data: &'a [u8], chunk: F) -> Self {
        Chunks { data, chunk, reads: 0 }
    }
}

impl<F: FnMut(usize) -> usize> std::io::Read for Chunks<'_, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.chunk)(self.reads).max(1).min(buf.len()).min(self.data.len());
        self.reads += 1;
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[cfg(feature = "tokio")]
impl<F: FnMut(usize) -> usize + Unpin> tokio::io::AsyncRead for Chunks<'_, F> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let n = (this.chunk)(this.reads).max(1).min(buf.remaining()).min(this.data.len());
        this.reads += 1;
        buf.put_slice(&this.data[..n]);
        this.data = &this.data[n..];
        std::task::Poll::Ready(Ok(()))
    }
}
