//! [`AlignedWriter`]: a write buffer for a driver's output into a pipe.

use std::io::{self, Write};

/// Largest single memcpy into the buffer, in bytes (see [`AlignedWriter::write`]).
const COPY_PIECE: usize = 2048;

/// The page size the buffer is aligned to, in bytes.
const PAGE: usize = 4096;

/// A write buffer that always copies, and writes whole chunks from a page-aligned address:
/// every `write` to the inner writer but the last (at [`flush`](Write::flush)) is exactly
/// `chunk` bytes long. The `mimeinject` filter writes its stdout through one of 128 KiB.
///
/// `BufWriter` passes large spans straight to `write(2)` from wherever they are in the input
/// buffer, and a small piece before them leaves the pipe's last page part-filled. Either way
/// the kernel copies into the pipe from a source that is misaligned with the destination
/// page, and on the machine the benchmarks ran on (AMD EPYC Zen 3) `_copy_from_iter` then runs
/// at half speed: reading 100 MB in 128 KiB pieces and writing each from 11 bytes past a page
/// boundary into a pipe took 60 ms of system time, from the boundary 30 ms. Copying every
/// byte once more in user space (memcpy, cache-resident) is cheaper than that.
///
/// Nothing buffered is written when it is dropped: call [`flush`](Write::flush) at the end.
///
/// ```
/// use std::io::Write;
/// use mimeinject::driver::AlignedWriter;
///
/// let mut out = AlignedWriter::new(4096, Vec::new());
/// out.write_all(&[b'x'; 5000])?;
/// out.flush()?;
/// assert_eq!(out.get_ref().len(), 5000);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct AlignedWriter<W: Write> {
    inner: W,
    /// `chunk` bytes starting at `skip` are page-aligned.
    mem: Vec<u8>,
    skip: usize,
    chunk: usize,
    len: usize,
}

impl<W: Write> AlignedWriter<W> {
    /// A buffer of `chunk` bytes (at least one page, 4096) in front of `inner`.
    pub fn new(chunk: usize, inner: W) -> Self {
        let chunk = chunk.max(PAGE);
        let mem = vec![0; chunk + PAGE];
        let skip = mem.as_ptr().align_offset(PAGE);
        AlignedWriter { inner, mem, skip, chunk, len: 0 }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    fn flush_buffer(&mut self) -> io::Result<()> {
        let buf = &self.mem[self.skip..self.skip + self.len];
        self.len = 0;
        self.inner.write_all(buf)
    }
}

impl<W: Write> Write for AlignedWriter<W> {
    /// Copies as much of `data` as fits into the buffer, and writes the buffer when it is
    /// full.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.chunk - self.len);
        let at = self.skip + self.len;
        // In pieces below glibc's `rep movsb` threshold: `rep movsb` is what is slow with a
        // misaligned source here, and memcpy's vector loop is not.
        let dst = self.mem[at..at + n].chunks_mut(COPY_PIECE);
        for (d, s) in dst.zip(data[..n].chunks(COPY_PIECE)) {
            d.copy_from_slice(s);
        }
        self.len += n;
        if self.len == self.chunk {
            self.flush_buffer()?;
        }
        Ok(n)
    }

    /// Writes what is buffered, then flushes the inner writer.
    fn flush(&mut self) -> io::Result<()> {
        if self.len > 0 {
            self.flush_buffer()?;
        }
        self.inner.flush()
    }
}
