//! MIME base64 (RFC 2045 §6.8): every 57 input bytes become one 76-character line.
//!
//! OWNER: encoder helper. Interface fixed; bodies to be written.

/// Input bytes per full output line.
pub const LINE_INPUT: usize = 57;
/// Characters per full output line, line ending excluded.
pub const LINE_OUTPUT: usize = 76;

/// A line ending: the message's own, used for every line the filter generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Eol {
    /// `\n`, what exim and Postfix hand a filter.
    Lf,
    /// `\r\n`, the wire form.
    CrLf,
}

impl Eol {
    /// The bytes of this line ending.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            Eol::Lf => b"\n",
            Eol::CrLf => b"\r\n",
        }
    }
}

/// Streaming MIME base64 encoder: arbitrary input chunks in, whole lines out.
#[derive(Debug)]
pub struct LineEncoder {
    eol: Eol,
}

impl LineEncoder {
    /// A new encoder writing lines that end in `eol`.
    pub fn new(eol: Eol) -> Self {
        LineEncoder { eol }
    }

    /// Appends to `out` every complete line that `input` (after any carried bytes) makes.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let _ = (input, out, self.eol);
        todo!()
    }

    /// Appends the last, short, padded line, if any bytes are carried.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }
}

/// The number of bytes `input_len` input bytes encode to, line endings included.
pub fn encoded_len(input_len: u64, eol: Eol) -> u64 {
    let _ = (input_len, eol);
    todo!()
}

/// Input bytes read per chunk by [`copy_encoded`].
pub const READ_CHUNK: usize = LINE_INPUT * 1024;

/// Encodes all of `reader` into `writer`; returns the input bytes read.
pub fn copy_encoded<R: std::io::Read + ?Sized, W: std::io::Write + ?Sized>(
    reader: &mut R,
    writer: &mut W,
    eol: Eol,
    scratch: &mut Vec<u8>,
) -> std::io::Result<u64> {
    let _ = (reader, writer, eol, scratch);
    todo!()
}
