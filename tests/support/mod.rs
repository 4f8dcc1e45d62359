//! Every helper of the integration tests, in one module: running a child process with
//! a bounded wait, decoding an attachment out of a delivered message, and
//! making test payloads here; the rest in files of their own:
//!
//! - `bin.rs`: the `mimeinject` binary (its path, found in this one place) and running it;
//! - `chunked.rs`: driving the sans-IO core in chunks, and a reader that hands out chunks;
//! - `skip.rs`: the one way a test says it cannot run here;
//! - `shared.rs`: the shared corpus and cases beside the repository;
//! - `readme.rs`: the README's recipes;
//! - the MTA harnesses: `exim.rs` and `dkim.rs`, `postfix/` (with its next hops), and the
//!   SMTP sink that the SMTP variants deliver to in `smtp_sink.rs`.

// Every test module uses a different subset of these helpers, and they are
// all compiled into the one integration-test binary.
#![allow(dead_code)]

pub mod bin;
pub mod chunked;
pub mod dkim;
pub mod exim;
#[cfg(feature = "cli")]
pub mod postfix;
pub mod readme;
pub mod shared;
pub mod skip;
pub mod smtp_sink;

pub use skip::{should_skip, skip};

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished child process left behind.
#[derive(Debug)]
pub struct Output {
    /// The exit status (never "still running": [`run`] waits or kills).
    pub status: ExitStatus,
    /// Everything the child wrote on stdout.
    pub stdout: Vec<u8>,
    /// Everything the child wrote on stderr.
    pub stderr: Vec<u8>,
    /// How writing stdin ended: an error (a broken pipe) means the child did not read it all.
    pub fed: std::io::Result<()>,
}

impl Output {
    /// Panics with the command's output unless it exited with status 0.
    pub fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what} failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr),
        );
    }
}

/// Runs `cmd` with `stdin` as its standard input and waits at most
/// `timeout` for it to exit.
///
/// stdin is written from a separate thread, so a child that writes before
/// it has read everything cannot deadlock us. stdout and stderr go to
/// anonymous files rather than pipes: a grandchild that keeps a copy of
/// them open (exim forks delivery processes) then cannot make us wait.
/// The child is made the leader of a new process group; on time-out the
/// whole group is killed and the test panics.
pub fn run(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Output {
    let mut stdout = tempfile::tempfile().expect("temporary file for stdout");
    let mut stderr = tempfile::tempfile().expect("temporary file for stderr");
    let described = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::from(stdout.try_clone().unwrap()))
        .stderr(Stdio::from(stderr.try_clone().unwrap()))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {described}: {e}"));

    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    // A child that exits without reading its input makes this write fail
    // with a broken pipe; the result is kept for tests that care.
    let writer = thread::spawn(move || pipe.write_all(&input));

    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for child") {
            break status;
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
            let _ = child.wait();
            panic!("{described} did not finish within {timeout:?}; killed it");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let fed = writer.join().unwrap();
    Output { status, stdout: read_all(&mut stdout), stderr: read_all(&mut stderr), fed }
}

/// Sends SIGKILL to the process group led by `pid` (a child we started
/// with `process_group(0)`).
fn kill_group(pid: u32) {
    let _ = Command::new("/bin/kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Reads an anonymous output file from its beginning.
fn read_all(file: &mut File) -> Vec<u8> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

/// Python program behind [`attachment`]. It parses the message with the
/// standard library's modern policy, finds exactly one part with the given
/// file name, checks that it is a base64 attachment without parse defects
/// and that no placeholder part is left, then writes the decoded bytes.
const EXTRACT_PY: &str = r#"
import sys, email
from email import policy
msg = email.message_from_binary_file(sys.stdin.buffer, policy=policy.default)
want = sys.argv[1]
problems = []
for part in msg.walk():
    if part.get_content_type() == "application/x-mimeinject":
        problems.append("a placeholder part is still in the message")
    for defect in part.defects:
        problems.append("parse defect: %r" % (defect,))
parts = [p for p in msg.walk() if p.get_filename() == want]
if len(parts) != 1:
    problems.append("expected one part named %r, found %d" % (want, len(parts)))
else:
    part = parts[0]
    if part.get_content_disposition() != "attachment":
        problems.append("disposition is %r" % (part.get_content_disposition(),))
    if part.get("Content-Transfer-Encoding", "").strip().lower() != "base64":
        problems.append("encoding is %r" % (part.get("Content-Transfer-Encoding"),))
if problems:
    sys.exit("\n".join(problems))
sys.stdout.buffer.write(parts[0].get_payload(decode=True))
"#;

/// Decodes the attachment called `filename` out of the RFC 5322 message
/// `message`, using Python's `email` package as an independent MIME parser.
///
/// # Panics
///
/// If Python cannot be run, or the message does not hold exactly one such
/// part as a base64 `attachment`, has MIME parse defects, or still holds a
/// placeholder part.
pub fn attachment(message: &[u8], filename: &str) -> Vec<u8> {
    let out = run(
        Command::new("python3").args(["-c", EXTRACT_PY, filename]),
        message,
        Duration::from_secs(60),
    );
    out.assert_success(&format!("extracting attachment {filename:?}"));
    out.stdout
}

/// `len` pseudo-random bytes from a fixed `seed` (xorshift64*), so a test
/// payload covers every byte value without being stored in the repository.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Writes `bytes` to `root/relative`, creating parent directories, all
/// readable by every user (the MTA runs the filter as its own user).
pub fn write_world_readable(root: &Path, relative: &str, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(relative);
    let mut dir = path.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    while dir.starts_with(root) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir = dir.parent().unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
}
