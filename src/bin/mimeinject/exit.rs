//! The process's exit status, one type for the filter and `deliver`.
//!
//! The contract, as the MTAs read it:
//!
//! - the filter exits [`Exit::EX_OK`], or on any failure `--failure-exit-code` (default 1:
//!   exim defers a message on any non-zero status of its transport filter; Postfix's pipe(8)
//!   needs [`Exit::EX_TEMPFAIL`] to defer rather than bounce);
//! - `deliver` exits [`Exit::EX_OK`] when the next hop accepted the message,
//!   [`Exit::EX_UNAVAILABLE`] when it refused it for good (pipe(8) bounces),
//!   [`Exit::EX_TEMPFAIL`] when it refused it for now, and `--failure-exit-code` (default
//!   [`Exit::EX_TEMPFAIL`]) on a failure of its own (see `deliver.rs`).
//!
//! pipe(8) reads the status as sysexits (Postfix `src/global/sys_exits.c`), hence the names.

/// An exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(u8);

impl Exit {
    /// sysexits `EX_OK`: done.
    pub const EX_OK: Exit = Exit(0);
    /// The filter's default failure status (`EXIT_FAILURE`): exim defers on any non-zero
    /// status.
    pub const FAILURE: Exit = Exit(1);
    /// sysexits `EX_UNAVAILABLE`: pipe(8) bounces (5.3.0, or the status code printed first).
    pub const EX_UNAVAILABLE: Exit = Exit(69);
    /// sysexits `EX_TEMPFAIL`: pipe(8) defers (4.3.0, or the status code printed first).
    pub const EX_TEMPFAIL: Exit = Exit(75);

    /// The status `--failure-exit-code N` asks for.
    pub const fn code(n: u8) -> Exit {
        Exit(n)
    }
}

impl From<Exit> for u8 {
    fn from(e: Exit) -> u8 {
        e.0
    }
}

impl From<Exit> for std::ffi::c_int {
    fn from(e: Exit) -> std::ffi::c_int {
        e.0.into()
    }
}
