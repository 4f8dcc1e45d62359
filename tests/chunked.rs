//! A test driver for the sans-IO core: feeds the input in chunks of chosen sizes, as a
//! network or a pipe might deliver it.

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
