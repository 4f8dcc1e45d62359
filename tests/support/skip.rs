//! The one way a test says it cannot run here.
//!
//! libtest has no run-time skip: a test that returns early is reported as `ok`. So every test
//! that cannot run calls [`skip`] (or [`should_skip`]) before returning, which
//!
//! - prints `SKIP <test name>: <reason>` on stderr (shown with `--nocapture`, or when the
//!   test fails), and appends the same line to the file named by `MIMEINJECT_SKIP_LOG`, if
//!   set: libtest captures the output of passing tests, so `scripts/test.sh` sets that
//!   variable and prints the count and the lines after `cargo test`;
//! - under `CI=true` then fails the test: CI must not pass by skipping.

use std::io::Write;

/// The variable naming the file that collects the skip lines.
pub const LOG_VAR: &str = "MIMEINJECT_SKIP_LOG";

/// Records that the running test cannot run here, for `reason`; the caller returns at once.
///
/// # Panics
///
/// Under `CI=true`, where a skip is a failure; or when the skip log cannot be written.
pub fn skip(reason: &str) {
    let line = format!("SKIP {}: {reason}", test_name());
    eprintln!("{line}");
    if let Some(log) = std::env::var_os(LOG_VAR).filter(|v| !v.is_empty()) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("{LOG_VAR}={}: {e}", log.to_string_lossy()));
        // One write per line: tests run in parallel and append to the same file.
        file.write_all(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| panic!("{LOG_VAR}={}: {e}", log.to_string_lossy()));
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{line} (CI=true, so this is a failure, not a skip)");
    }
}

/// Decides whether a test can run here. If `missing` is `None` it can; otherwise the reason
/// goes through [`skip`] and the caller should return early.
pub fn should_skip(missing: Option<String>) -> bool {
    let Some(reason) = missing else { return false };
    skip(&reason);
    true
}

/// The running test's name: libtest names each test's thread after it.
fn test_name() -> String {
    std::thread::current().name().unwrap_or("(unnamed test thread)").to_string()
}
