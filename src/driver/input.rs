//! The streaming input: a bounded buffer, read into at aligned addresses.

use crate::config::Config;
use crate::error::Error;

/// How much a driver is asked to read in one `read` once streaming, in bytes.
pub(crate) const READ_SIZE: usize = 128 << 10;

/// Every streaming `read` lands at an address aligned to this. The kernel's copy into user
/// memory (`_copy_to_iter`, `rep movsb`) ran at a third of its speed into a misaligned buffer
/// on the machine the benchmarks ran on (AMD EPYC Zen 3): a 100 MB passthrough to /dev/null
/// took 46 ms of system time instead of 13 ms.
pub(super) const READ_ALIGN: usize = 4096;

/// Pending bytes up to this many are moved to an aligned address before every read; more are
/// moved only when there is no room for a read after them, so that a long line arriving in
/// small reads is not copied again at every read.
const CHEAP_MOVE: usize = 4096;

/// The streaming input: a buffer whose front the rewriter has not consumed.
///
/// It starts at [`READ_SIZE`] (or the size of what pre-flight read) and grows, doubling, only
/// while the rewriter keeps asking for more of one line than it holds, up to
/// [`Limits::min_buffer`](crate::Limits::min_buffer): room for the longest line the limits
/// let the rewriter ask to see whole. Ordinary mail never grows it.
pub(super) struct InputBuffer {
    /// `READ_ALIGN` bytes longer than the most it holds, so that reads can be aligned.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The most pending bytes the buffer may grow to hold.
    max: usize,
    /// The reader has reported its end.
    pub(super) eof: bool,
}

impl InputBuffer {
    /// A buffer holding `initial`, for a rewriter with `config`'s limits.
    pub(super) fn new(mut initial: Vec<u8>, config: &Config) -> InputBuffer {
        let end = initial.len();
        let room = end.max(READ_SIZE);
        let max = config.limits().min_buffer().max(room);
        initial.resize(room + READ_ALIGN, 0);
        InputBuffer { buf: initial, start: 0, end, max, eof: false }
    }

    /// The bytes not consumed yet.
    pub(super) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` more bytes as consumed.
    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Where to read next: up to [`READ_SIZE`] of free space after the pending bytes.
    ///
    /// When the pending bytes fill more than half the buffer it doubles (up to its maximum).
    /// Few pending bytes are moved first so that the read starts on an aligned address.
    ///
    /// # Errors
    /// The pending bytes fill a buffer of the maximum size: the rewriter asked to see more of
    /// one line than its limits allow, which it never does.
    pub(super) fn space(&mut self) -> Result<&mut [u8], Error> {
        let len = self.end - self.start;
        let room = self.buf.len() - READ_ALIGN;
        if len > room / 2 && room < self.max {
            let grown = room.saturating_mul(2).min(self.max);
            self.buf.resize(grown.saturating_add(READ_ALIGN), 0);
        }
        let room = self.buf.len() - READ_ALIGN;
        if len >= room {
            return Err(Error::limit("buffered line bytes", room as u64));
        }
        let misaligned = (self.buf.as_ptr() as usize + len) % READ_ALIGN;
        let to = (READ_ALIGN - misaligned) % READ_ALIGN;
        let tail = self.buf.len() - self.end;
        if self.start != to && (len <= CHEAP_MOVE || tail < READ_SIZE.min(room - len)) {
            self.buf.copy_within(self.start..self.end, to);
            (self.start, self.end) = (to, to + len);
        }
        // Never more pending bytes than `room`: the check above stays exact.
        let want = (self.end + READ_SIZE).min(self.buf.len()).min(self.start + room);
        // An empty space would read as the end of the input.
        debug_assert!(want > self.end, "no room to read");
        Ok(&mut self.buf[self.end..want])
    }

    /// Records that `n` bytes were read into [`space`](Self::space); 0 is the end.
    pub(super) fn filled(&mut self, n: usize) {
        self.eof = n == 0;
        self.end += n;
    }
}
