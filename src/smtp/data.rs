//! The message content of one SMTP/LMTP transaction, written as it is produced.

use std::io::{self, Write};

use memchr::memchr;

/// How many bytes [`DataWriter`] collects before it writes to the connection.
const CHUNK: usize = 64 << 10;

/// A [`Write`] that turns a message into the content of SMTP `DATA` as the bytes go: every
/// line ends in CRLF (a bare LF, as Postfix's pipe(8) and exim hand a message over, gets a
/// CR), and a line that starts with `.` gets a second one (RFC 5321 §4.5.2, "transparency").
/// CRLF input stays CRLF; a bare CR that is not before a LF passes unchanged.
///
/// The end-of-data line (`.` CRLF) is written only by [`finish`](Self::finish). Dropping the
/// writer without calling it, after an error anywhere, leaves the transaction open: the
/// caller then closes the connection, and the server discards what it received (RFC 5321
/// §4.1.1.4: the transaction is complete only with the end-of-data indication). So nothing
/// partial is ever accepted.
///
/// Memory stays bounded: bytes are collected into one buffer of 64 KiB and written when it
/// is full, whatever the line lengths.
///
/// ```
/// use std::io::Write;
/// use mimeinject::smtp::DataWriter;
///
/// let mut data = DataWriter::new(Vec::new());
/// data.write_all(b"Subject: x\n\n.hidden\nlast line")?;
/// let wire = data.finish()?;
/// assert_eq!(wire, b"Subject: x\r\n\r\n..hidden\r\nlast line\r\n.\r\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DataWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    /// The next byte starts a line.
    line_start: bool,
    /// The last byte taken was a CR (already in `buf` or written).
    after_cr: bool,
}

impl<W: Write> DataWriter<W> {
    /// A writer into `inner`, which must already have had `354` to `DATA`.
    pub fn new(inner: W) -> DataWriter<W> {
        DataWriter { inner, buf: Vec::with_capacity(CHUNK), line_start: true, after_cr: false }
    }

    /// Ends the content: a CRLF if the message did not end with a line end, then `.` CRLF;
    /// flushes, and gives the connection back for the server's reply.
    ///
    /// # Errors
    /// A failed write to the connection.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.line_start {
            let end: &[u8] = if self.after_cr { b"\n" } else { b"\r\n" };
            self.push(end)?;
        }
        self.push(b".\r\n")?;
        self.flush_buffer()?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Appends to the buffer in pieces, writing each time it fills.
    fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = CHUNK - self.buf.len();
            let n = room.min(bytes.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == CHUNK {
                self.flush_buffer()?;
            }
        }
        Ok(())
    }

    fn flush_buffer(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl<W: Write> Write for DataWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while let Some(&first) = rest.first() {
            if self.line_start && first == b'.' {
                self.push(b".")?;
            }
            self.line_start = false;
            match memchr(b'\n', rest) {
                Some(i) => {
                    let had_cr = if i == 0 { self.after_cr } else { rest[i - 1] == b'\r' };
                    self.push(&rest[..i])?;
                    self.push(if had_cr { b"\n" } else { b"\r\n" })?;
                    self.line_start = true;
                    self.after_cr = false;
                    rest = &rest[i + 1..];
                }
                None => {
                    self.push(rest)?;
                    self.after_cr = rest.last() == Some(&b'\r');
                    rest = &[];
                }
            }
        }
        Ok(data.len())
    }

    /// Writes what is buffered to the connection. The transaction stays open.
    fn flush(&mut self) -> io::Result<()> {
        self.flush_buffer()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the whole message at once, line by line.
    fn reference(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !message.is_empty() {
            let body = message.strip_suffix(b"\n").unwrap_or(message);
            for line in body.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.first() == Some(&b'.') {
                    out.push(b'.');
                }
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    fn through(pieces: &[&[u8]]) -> Vec<u8> {
        let mut w = DataWriter::new(Vec::new());
        for p in pieces {
            w.write_all(p).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn every_two_piece_split_matches_the_whole() {
        let cases: &[&[u8]] = &[
            b".\n..\n.a\nb.\n.\r\nx\r\n\r\n.\n",
            b"a\r\nb\nc\r\n.d\r\n",
            b"no newline at the end",
            b"ends in cr\r",
            b"\n\n.\n",
            b".",
            b"",
        ];
        for case in cases {
            let want = reference(case);
            for at in 0..=case.len() {
                let got = through(&[&case[..at], &case[at..]]);
                assert_eq!(got, want, "split at {at} of {:?}", String::from_utf8_lossy(case));
            }
            // And one byte at a time.
            let bytes: Vec<&[u8]> = case.chunks(1).collect();
            assert_eq!(through(&bytes), want, "bytewise {:?}", String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn a_lone_dot_line_is_never_an_end_of_data() {
        let wire = through(&[b"a\n", b".", b"\n", b"b\n"]);
        assert_eq!(wire, b"a\r\n..\r\nb\r\n.\r\n");
    }

    #[test]
    fn a_bare_cr_inside_a_line_passes() {
        assert_eq!(through(&[b"a\rb\n"]), b"a\rb\r\n.\r\n");
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_written_in_pieces() {
        let long = vec![b'x'; CHUNK * 3 + 5];
        let mut w = DataWriter::new(Vec::new());
        w.write_all(&long).unwrap();
        assert!(w.buf.len() < CHUNK, "buffer held {} bytes", w.buf.len());
        let out = w.finish().unwrap();
        assert_eq!(out.len(), long.len() + 5);
    }

    #[test]
    fn nothing_reaches_the_connection_after_an_error_but_no_end_of_data_either() {
        /// Accepts `left` bytes, then fails.
        struct Failing {
            got: Vec<u8>,
            left: usize,
        }
        impl Write for Failing {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.left == 0 {
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"));
                }
                let n = b.len().min(self.left);
                self.got.extend_from_slice(&b[..n]);
                self.left -= n;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = DataWriter::new(Failing { got: Vec::new(), left: 100 });
        let big = vec![b'y'; CHUNK * 2];
        assert!(w.write_all(&big).is_err());
        assert!(!w.inner.got.ends_with(b".\r\n"));
        assert_eq!(w.inner.got.len(), 100);
    }
}
