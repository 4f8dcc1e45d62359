//! Attacks on the confinement, through the binary: every placeholder or variable that tries
//! to reach outside `--root`, or to read something that is not a regular file, must fail
//! closed (the failure exit status, nothing on stdout) without one byte of a secret placed
//! outside the root appearing on stdout, stderr or in the `--log-file`.
//!
//! Also: a file that shrinks or grows after it was opened, while it is encoded, fails with
//! [`ErrorKind::Changed`] instead of producing a short or long attachment.

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use mimeinject::{rewrite, AttachmentSource, Config, ErrorKind, FsRoot, Opened, SourceError};

use crate::bin;
use crate::support::{self, contains, Output};

/// In the secret file, and in the binary's environment (for `/proc/self/environ`).
const MARKER: &str = "S3CR3T-MARKER-c0ffee-9d41";

/// A temporary directory holding `secret` (outside the root), `outside/secret2`, the log
/// file, and `root/` with one legitimate file, `ok.txt`.
struct Scene {
    dir: tempfile::TempDir,
    /// The secret file's content.
    secret: Vec<u8>,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let secret = format!("{MARKER}\npassword=hunter2 {MARKER}\n").into_bytes();
        fs::write(dir.path().join("secret"), &secret).unwrap();
        fs::create_dir(dir.path().join("outside")).unwrap();
        fs::write(dir.path().join("outside/secret2"), &secret).unwrap();
        fs::create_dir_all(dir.path().join("root/sub")).unwrap();
        fs::write(dir.path().join("root/ok.txt"), b"legitimate\n").unwrap();
        Scene { dir, secret }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn root(&self) -> PathBuf {
        self.path("root")
    }

    fn log(&self) -> PathBuf {
        self.path("log")
    }

    /// Runs the binary on a message whose stub has the parameter text `param` (e.g.
    /// `path="../secret"`), with `extra` arguments.
    fn run_stub(&self, param: &str, extra: &[&str]) -> Output {
        let msg = format!(
            "From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\
             --b\nContent-Type: text/plain\n\nhello\n\
             --b\nContent-Type: application/x-mimeinject; {param}\n\n--b--\n"
        );
        self.run(msg.as_bytes(), extra)
    }

    /// Runs the binary with `--root`, `--log-file`, `--no-syslog` and `extra`, with the
    /// marker in its environment. Kills it and fails if it has not exited after a minute (a
    /// FIFO that blocked the open, say): a hang guard, not a timing assertion.
    fn run(&self, stdin: &[u8], extra: &[&str]) -> Output {
        let (root, log) = (self.root(), self.log());
        let mut args = vec!["--root", root.to_str().unwrap(), "--log-file", log.to_str().unwrap()];
        args.extend_from_slice(extra);
        let mut cmd = bin::command(&args);
        cmd.env("MIMEINJECT_TEST_SECRET", MARKER);
        support::run(&mut cmd, stdin, bin::TIMEOUT)
    }

    /// The attack failed closed and leaked nothing. `what` names the attack in messages.
    /// With the default pre-flight, nothing at all may reach stdout.
    fn assert_refused(&self, what: &str, out: &Output) {
        assert!(out.stdout.is_empty(), "{what}: wrote to stdout");
        self.assert_refused_streaming(what, out);
    }

    /// Streaming (`--preflight-window 0`): the start of the message may have been written,
    /// but not its end, and nothing of the secret.
    fn assert_refused_streaming(&self, what: &str, out: &Output) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: not refused; stderr: {stderr}");
        eprintln!("{what}: {}", stderr.trim_end());
        assert!(!contains(&out.stdout, b"\n--b--"), "{what}: the message was completed");
        let log = fs::read(self.log()).unwrap_or_default();
        assert!(!log.is_empty(), "{what}: no reason in the log file");
        assert_eq!(log.iter().filter(|&&b| b == b'\n').count(), 1, "{what}: not one log line");
        let leaks = self.leaks(&[("stdout", &out.stdout), ("stderr", &out.stderr), ("log", &log)]);
        assert!(leaks.is_empty(), "{what}: secret bytes in {leaks:?}");
        fs::remove_file(self.log()).unwrap();
    }

    /// Which of the named outputs hold one of [`Scene::needles`].
    fn leaks(&self, outputs: &[(&'static str, &[u8])]) -> Vec<&'static str> {
        let needles = self.needles();
        outputs
            .iter()
            .filter(|(_, bytes)| needles.iter().any(|n| contains(bytes, n)))
            .map(|(name, _)| *name)
            .collect()
    }

    /// What would show that the secret leaked: the marker and its pieces, in clear and in
    /// base64 at each of the three alignments.
    fn needles(&self) -> Vec<Vec<u8>> {
        let mut v = vec![MARKER.as_bytes().to_vec(), b"hunter2".to_vec(), b"S3CR3T".to_vec()];
        for skip in 0..3 {
            let enc = base64_simd::STANDARD.encode_to_string(&self.secret[skip..]);
            // Skip the characters that depend on the bytes before; keep a long stretch.
            v.push(enc.as_bytes()[4..24].to_vec());
        }
        v
    }
}

/// The same message, with a path inside the root, succeeds: the scene is not broken in a
/// way that would make every attack fail for the wrong reason.
#[test]
fn the_scene_serves_a_legitimate_file() {
    let s = Scene::new();
    let out = s.run_stub("path=\"ok.txt\"", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(contains(&out.stdout, b"bGVnaXRpbWF0ZQo="), "ok.txt not attached");
    symlink("ok.txt", s.path("root/alias")).unwrap();
    let out = s.run_stub("path=alias", &[]);
    assert!(
        out.status.success(),
        "a symlink inside the root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The leak check works: a copy of the secret inside the root is served, and its bytes are
/// recognised in the output.
#[test]
fn the_leak_check_detects_a_leak() {
    let s = Scene::new();
    fs::copy(s.path("secret"), s.path("root/copy")).unwrap();
    let out = s.run_stub("path=\"copy\"", &[]);
    assert!(out.status.success());
    assert_eq!(s.leaks(&[("stdout", &out.stdout), ("stderr", &out.stderr)]), ["stdout"]);
}

/// The same refusals when the message streams instead of being checked whole first.
#[test]
fn streaming_refuses_too() {
    let s = Scene::new();
    symlink("../secret", s.path("root/escape")).unwrap();
    mkfifo(&s.path("root/fifo"));
    let secret = s.path("secret");
    for param in [
        format!("path=\"{}\"", secret.to_str().unwrap()),
        "path=\"../secret\"".to_owned(),
        "path=\"escape\"".to_owned(),
        "path=\"fifo\"".to_owned(),
        "path=\"/proc/self/environ\"".to_owned(),
        "path*=UTF-8''ok.txt%00".to_owned(),
        "path=\"{undefined}\"".to_owned(),
    ] {
        let out = s.run_stub(&param, &["--preflight-window", "0"]);
        s.assert_refused_streaming(&param, &out);
    }
}

#[test]
fn absolute_paths() {
    let s = Scene::new();
    let secret = s.path("secret");
    let secret = secret.to_str().unwrap();
    for param in [
        format!("path=\"{secret}\""),
        format!("path*=UTF-8''{}", secret.replace('/', "%2F")),
        "path=\"/etc/passwd\"".to_owned(),
        "path=\"//etc/passwd\"".to_owned(),
    ] {
        s.assert_refused(&param, &s.run_stub(&param, &[]));
    }
}

#[test]
fn dot_dot_escaping_the_root() {
    let s = Scene::new();
    for param in [
        "path=\"../secret\"",
        "path=\"sub/../../secret\"",
        "path=\"../outside/secret2\"",
        "path=\"./../secret\"",
        "path=\"sub/../ok.txt\"",
        "path=\"../root/ok.txt\"",
        "path*=UTF-8''%2E%2E%2Fsecret",
        "path*0=\"..\"; path*1=\"/secret\"",
        "path=\"..\\/secret\"",
    ] {
        s.assert_refused(param, &s.run_stub(param, &[]));
    }
    // In a body-line placeholder too.
    let msg = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
               Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n\
               mimeinject: path=\"../secret\"\n--b--\n";
    s.assert_refused("body line ../secret", &s.run(msg.as_bytes(), &[]));
}

#[test]
fn symlinks_leaving_the_root() {
    let s = Scene::new();
    symlink("../secret", s.path("root/relative")).unwrap();
    symlink(s.path("secret"), s.path("root/absolute")).unwrap();
    symlink("../../secret", s.path("root/sub/deeper")).unwrap();
    // A chain: inside, then out.
    symlink("relative", s.path("root/chain")).unwrap();
    // To a directory outside.
    symlink("../outside", s.path("root/outdir")).unwrap();
    symlink(s.path("outside"), s.path("root/outdir-abs")).unwrap();
    for path in
        ["relative", "absolute", "sub/deeper", "chain", "outdir/secret2", "outdir-abs/secret2"]
    {
        let param = format!("path=\"{path}\"");
        s.assert_refused(&param, &s.run_stub(&param, &[]));
    }
}

#[test]
fn proc_and_magic_links() {
    let s = Scene::new();
    // /proc/self/root is a magic link to "/"; through it the secret's absolute path.
    symlink("/proc/self/root", s.path("root/sysroot")).unwrap();
    symlink("/proc/self", s.path("root/me")).unwrap();
    symlink("/proc/self/environ", s.path("root/environ")).unwrap();
    symlink("/proc/self/fd", s.path("root/fds")).unwrap();
    let secret = s.path("secret");
    let through_root = format!("sysroot{}", secret.to_str().unwrap());
    for path in [
        "/proc/self/environ",
        "/proc/self/root/etc/passwd",
        "environ",
        "me/environ",
        "me/root/etc/passwd",
        through_root.as_str(),
        "fds/0",
        "fds/1",
    ] {
        let param = format!("path=\"{path}\"");
        s.assert_refused(&param, &s.run_stub(&param, &[]));
    }
}

#[test]
fn devices_fifos_and_sockets() {
    let s = Scene::new();
    let root = s.root();
    // A character device inside the root when we may make one (root with CAP_MKNOD);
    // otherwise a symlink to one, which is refused anyway.
    if !mknod_char(&root.join("null"), 1, 3) {
        eprintln!("mknod refused; a symlink to /dev/null stands in for the device");
        symlink("/dev/null", root.join("null")).unwrap();
    }
    symlink("/dev/zero", root.join("zero")).unwrap();
    mkfifo(&root.join("fifo"));
    let _listener = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    for path in ["null", "zero", "fifo", "sock", "sub", "sub/"] {
        let param = format!("path=\"{path}\"");
        s.assert_refused(&param, &s.run_stub(&param, &[]));
    }
}

/// Makes a character device; false when not permitted.
fn mknod_char(path: &Path, major: u32, minor: u32) -> bool {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(major, minor)) == 0 }
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

#[test]
fn nul_bytes_in_the_path() {
    let s = Scene::new();
    for param in [
        "path*=UTF-8''a%00b",
        "path*=UTF-8''ok.txt%00",
        "path*=UTF-8''ok.txt%00..%2F..%2Fsecret",
        "path*=UTF-8''%00",
        "path*0*=UTF-8''ok.txt; path*1*=%00x",
    ] {
        s.assert_refused(param, &s.run_stub(param, &[]));
    }
}

#[test]
fn overlong_paths() {
    let s = Scene::new();
    // Over PATH_MAX (4096) in short components; a component over NAME_MAX (255).
    let long_path = "a/".repeat(2100) + "ok.txt";
    let long_name = "n".repeat(300);
    let long_name_dir = format!("{}/ok.txt", "d".repeat(256));
    let dotdots = "sub/".repeat(1100) + &"../".repeat(1101) + "secret";
    for path in [long_path.as_str(), &long_name, &long_name_dir, &dotdots] {
        let param = format!("path=\"{path}\"");
        s.assert_refused(&format!("{} bytes", path.len()), &s.run_stub(&param, &[]));
    }
}

#[test]
fn variables_smuggling_separators() {
    let s = Scene::new();
    for (var, param) in [
        ("d=..", "path=\"{d}/secret\""),
        ("d=.", "path=\"{d}/ok.txt\""),
        ("p=../secret", "path=\"{p}\""),
        ("p=sub/../../secret", "path=\"{p}\""),
        ("p=/etc/passwd", "path=\"{p}\""),
        ("rcpt=../outside", "path=\"{rcpt}/secret2\""),
    ] {
        s.assert_refused(var, &s.run_stub(param, &["--var", var]));
    }
    // A recipient from $pipe_addresses fills {rcpt} under the same rules.
    for rcpt in ["..", "../secret", "a/../../secret"] {
        s.assert_refused(rcpt, &s.run_stub("path=\"{rcpt}\"", &[rcpt]));
    }
    // A defined, harmless variable cannot be combined with message text into an escape (with
    // the one recipient that lets variables expand at all).
    for param in ["path=\"{d}/../../secret\"", "path=\".{d}/secret\"", "path=\"{d}{d}/secret\""] {
        s.assert_refused(param, &s.run_stub(param, &["--var", "d=.", "--", "a@example.test"]));
        s.assert_refused(param, &s.run_stub(param, &["--var", "d=x", "--", "a@example.test"]));
    }
}

#[test]
fn undefined_variables() {
    let s = Scene::new();
    fs::create_dir(s.path("root/{home}")).unwrap();
    fs::write(s.path("root/{home}/x"), b"literal braces\n").unwrap();
    for (param, extra) in [
        ("path=\"{home}/x\"", &[][..]),
        ("path=\"{rcpt}\"", &[][..]),
        ("path=\"{rcpt}\"", &["a@example.test", "b@example.test"][..]),
        ("path=\"{HOME}\"", &["--var", "home=ok.txt"][..]),
        ("path=\"{}\"", &[][..]),
        ("path=\"{../secret}\"", &[][..]),
    ] {
        s.assert_refused(param, &s.run_stub(param, extra));
    }
}

/// An [`AttachmentSource`] over a real root that changes the file after opening it: right
/// away, or after the first read of its content (during encoding).
struct Tamper {
    root: FsRoot,
    file: PathBuf,
    after_first_read: bool,
    new_len: u64,
}

impl AttachmentSource for Tamper {
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        let opened = self.root.open(path)?;
        let (file, new_len) = (self.file.clone(), self.new_len);
        if !self.after_first_read {
            resize(&file, new_len);
            return Ok(opened);
        }
        let reader = Box::new(TamperReader { inner: opened.reader, file, new_len, done: false });
        Ok(Opened { len: opened.len, reader })
    }
}

struct TamperReader {
    inner: Box<dyn Read + Send>,
    file: PathBuf,
    new_len: u64,
    done: bool,
}

impl Read for TamperReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !std::mem::replace(&mut self.done, true) {
            resize(&self.file, self.new_len);
        }
        Ok(n)
    }
}

/// Truncates or extends `file` in place (the same inode the reader holds).
fn resize(file: &Path, len: u64) {
    fs::OpenOptions::new().write(true).open(file).unwrap().set_len(len).unwrap();
}

#[test]
fn a_file_changed_while_encoded_fails() {
    const SIZE: u64 = 1 << 20;
    let msg = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
               Content-Type: application/x-mimeinject; path=big.bin\n\n--b--\n";
    for after_first_read in [false, true] {
        for new_len in [0, 1000, SIZE - 1, SIZE + 1, 3 * SIZE] {
            for preflight in [true, false] {
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("big.bin");
                fs::write(&file, vec![b'x'; SIZE as usize]).unwrap();
                let source = Tamper {
                    root: FsRoot::new(dir.path()).unwrap(),
                    file,
                    after_first_read,
                    new_len,
                };
                let mut builder = Config::builder();
                if !preflight {
                    builder = builder.preflight_window(0);
                }
                let config = builder.build().unwrap();
                let mut out = Vec::new();
                let err = rewrite(&config, &source, &mut msg.as_bytes(), &mut out).unwrap_err();
                let case = format!(
                    "after_first_read {after_first_read}, to {new_len}, preflight {preflight}"
                );
                match err.kind() {
                    ErrorKind::Changed { path, expected, read } => {
                        assert_eq!(path, "big.bin", "{case}");
                        assert_eq!(*expected, SIZE, "{case}");
                        assert_ne!(*read, SIZE, "{case}");
                    }
                    other => panic!("{case}: {other:?}, not Changed"),
                }
                assert!(!contains(&out, b"\n--b--"), "{case}: the message was completed");
            }
        }
    }
}
