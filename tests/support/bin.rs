//! Running the `mimeinject` binary from tests. [`path`] is the one place that says where the
//! binary is; the MTA harnesses take it from there too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{self, Output};

/// The binary cargo built for these tests.
pub fn path() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mimeinject"))
}

/// The repository's `testdata/`.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Runs the binary with `args` and `stdin`, syslog off, through [`support::run`]. The
/// stdin writer's own result is returned too (an `Err` there means the binary did not read
/// all of stdin).
pub fn run(args: &[&str], stdin: &[u8]) -> (Output, std::io::Result<()>) {
    let mut out = support::run(&mut command(args), stdin, TIMEOUT);
    let fed = std::mem::replace(&mut out.fed, Ok(()));
    (out, fed)
}

/// A hang guard for one run of the binary, not a timing assertion.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The binary with `args`, an empty environment, and `--no-syslog` for the filter.
pub fn command(args: &[&str]) -> Command {
    // Subcommands other than the filter never use syslog, and take no --no-syslog.
    const SUBCOMMANDS: &[&str] =
        &["check", "sign", "stub", "encode", "man", "completions", "help", "records"];
    let filter = !matches!(args.first(), Some(a) if SUBCOMMANDS.contains(a));
    let mut cmd = Command::new(path());
    // First, so that it stays an option when `args` end in `-- RECIPIENT...`.
    cmd.args(filter.then_some("--no-syslog")).args(args).env_clear();
    cmd
}

/// Whether python3 can be run; if not, the test is skipped ([`support::skip`]: under
/// `CI=true` its absence fails the test).
pub fn python3() -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import email")
        .output()
        .is_ok_and(|o| o.status.success());
    !support::should_skip((!ok).then(|| "python3 (with its email package) not found".into()))
}
