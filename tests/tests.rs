//! The one integration-test binary; each module is one area.

// The core through its public API, at every split of the input.
mod core;
// The placeholder contract as mail libraries meet it (issues 11 and 12), through the library.
mod contract;
// Every failure's class, temporary or permanent.
mod classes;
// Properties over generated messages (proptest).
mod properties;
// Inputs the fuzz targets found.
mod regressions;
// The real-world corpus.
mod corpus;
// The binary as a filter.
mod cli;
// Every helper of the test modules, all under tests/support/: the binary's path and runner,
// the sans-IO test driver, the skip helper, the shared data, the README's recipes, the MTA
// harnesses.
mod support;
// Short names for the two helpers most modules use: `crate::bin` (the binary, located in
// `support::bin::path` only) and `crate::chunked` (the test driver for the sans-IO core).
use support::{bin, chunked};
// Attacks on the confinement, through the binary.
#[cfg(feature = "cli")]
mod attacks;
// Per-recipient files and the delivery log, through the binary.
#[cfg(feature = "cli")]
mod per_recipient;
// End to end through a real exim: maildir and SMTP delivery.
#[cfg(feature = "cli")]
mod exim;
// `--records` and the records router: exim bounces a refused message with mimeinject's reason.
#[cfg(feature = "cli")]
mod exim_records;
// Debian's exim4 configuration, set up from the guide's own steps (docs/exim.md).
#[cfg(feature = "cli")]
mod debian_exim;
// The same cases through the sans-IO core, the sync driver and the tokio driver.
#[cfg(feature = "tokio")]
mod layers;
// The shared bug-report cases and the contract's examples in the guide, through the binary.
#[cfg(feature = "cli")]
mod cases;
// The subcommands: check, sign, encode, man, completions.
#[cfg(feature = "cli")]
mod subcommands;
// The limits and their defaults, through the binary.
#[cfg(feature = "cli")]
mod limits;
// Golden outputs of the sample messages.
#[cfg(feature = "cli")]
mod golden;
// End to end through a real Postfix, with mimeinject as a pipe(8) content filter.
#[cfg(feature = "cli")]
mod postfix;
// Placeholders written by real mail libraries: docs/placeholders.md, "From your application".
#[cfg(feature = "cli")]
mod libraries;
// Packaging: --version, and the documentation's recipes the Debian package ships.
mod package;
// `mimeinject deliver` against the test SMTP sink.
#[cfg(feature = "cli")]
mod deliver;
// The log lines through a real rsyslogd; an unwritable --log-file; an unreadable root.
#[cfg(feature = "cli")]
mod logging;
