//! The unit tests' way of saying a case cannot run here (test builds only): the same line as
//! the integration tests' `tests/support/skip.rs`, so that `scripts/test.sh` counts it too.
//!
//! `SKIP <test name>: <reason>` goes to stderr and is appended to the file named by
//! `MIMEINJECT_SKIP_LOG`, if set; under `CI=true` the test then fails, as every case must run.

use std::io::Write;

/// Records that the running test cannot run (part of) its case, for `reason`.
///
/// # Panics
///
/// Under `CI=true`, or when the skip log cannot be written.
pub(crate) fn skip(reason: &str) {
    let name = std::thread::current().name().unwrap_or("(unnamed test thread)").to_string();
    let line = format!("SKIP {name}: {reason}");
    eprintln!("{line}");
    if let Some(log) = std::env::var_os("MIMEINJECT_SKIP_LOG").filter(|v| !v.is_empty()) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()))
            .unwrap_or_else(|e| panic!("MIMEINJECT_SKIP_LOG={}: {e}", log.to_string_lossy()));
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{line} (CI=true)");
}
