//! Running the `mimeinject` binary from tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary cargo built for these tests.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mimeinject"))
}

/// The repository's `testdata/`.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Runs the binary with `args` and `stdin`, syslog off. stdin is written on a thread so a
/// binary that does not read it cannot deadlock the test; the writer's own result is
/// returned too (an `Err` there means the binary did not read all of stdin).
pub fn run(args: &[&str], stdin: &[u8]) -> (Output, std::io::Result<()>) {
    // Subcommands other than the filter never use syslog, and take no --no-syslog.
    const SUBCOMMANDS: &[&str] = &["check", "sign", "encode", "man", "completions", "help"];
    let filter = !matches!(args.first(), Some(a) if SUBCOMMANDS.contains(a));
    let mut child = Command::new(path())
        .args(args)
        .args(filter.then_some("--no-syslog"))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mimeinject");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data));
    let output = child.wait_with_output().expect("wait for mimeinject");
    (output, writer.join().unwrap())
}

/// Whether python3 can be run; under `CI=true` its absence fails the test.
pub fn python3() -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import email")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "python3 is required under CI");
        eprintln!("skipped: python3 not found");
    }
    ok
}
