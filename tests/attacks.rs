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
    // otherwise a symlink to one, which is refused anyway (and the device case is skipped).
    if !mknod_char(&root.join("null"), 1, 3) {
        support::skip("mknod refused: the device case; a symlink to /dev/null stands in");
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

// ---- Issue 13: files that change during delivery, reads and open files within bounds ----

/// When [`Meddle`] acts, counting every open of the source from 0.
#[derive(Clone, Copy, Debug)]
enum When {
    /// Just before the open with this number.
    BeforeOpen(usize),
    /// After the first read from the reader of the open with this number.
    AfterFirstRead(usize),
}

/// What [`Meddle`] does to the tree.
type Act = Arc<dyn Fn() + Send + Sync>;

/// An [`FsRoot`] that runs an action once, at a chosen moment, and counts the readers open at
/// once (the most at any time in `most_open`).
struct Meddle {
    root: FsRoot,
    act: Act,
    when: When,
    opens: AtomicUsize,
    open_now: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
}

impl Meddle {
    fn new(root: &Path, when: When, act: impl Fn() + Send + Sync + 'static) -> Meddle {
        Meddle {
            root: FsRoot::new(root).unwrap(),
            act: Arc::new(act),
            when,
            opens: AtomicUsize::new(0),
            open_now: Arc::default(),
            most_open: Arc::default(),
        }
    }
}

impl AttachmentSource for Meddle {
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        let n = self.opens.fetch_add(1, Ordering::SeqCst);
        if matches!(self.when, When::BeforeOpen(k) if k == n) {
            (self.act)();
        }
        let opened = self.root.open(path)?;
        let now = self.open_now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_open.fetch_max(now, Ordering::SeqCst);
        let act = matches!(self.when, When::AfterFirstRead(k) if k == n).then(|| self.act.clone());
        let reader = MeddleReader { inner: opened.reader, act, open_now: self.open_now.clone() };
        Ok(Opened { len: opened.len, reader: Box::new(reader) })
    }
}

struct MeddleReader {
    inner: Box<dyn Read + Send>,
    act: Option<Act>,
    open_now: Arc<AtomicUsize>,
}

impl Read for MeddleReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(act) = self.act.take() {
            act();
        }
        Ok(n)
    }
}

impl Drop for MeddleReader {
    fn drop(&mut self) {
        self.open_now.fetch_sub(1, Ordering::SeqCst);
    }
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Rewrites `file` in place, as an application regenerating it would (`O_TRUNC`, then
/// write): the same inode the filter holds open.
fn rewrite_in_place(file: &Path, content: &[u8]) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new().write(true).truncate(true).open(file).unwrap();
    f.write_all(content).unwrap();
}

/// Replaces `file` the way the guide asks (docs/limits-and-security.md): a new file renamed
/// over the name.
fn replace_by_rename(file: &Path, content: &[u8]) {
    let tmp = file.with_extension("tmp");
    fs::write(&tmp, content).unwrap();
    fs::rename(&tmp, file).unwrap();
}

/// A tree with `root/f.bin` holding `old`, modified a while ago: a change made by the test is
/// then later than the file's times by more than the clock's tick, whatever the kernel.
fn tree_with(old: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("root")).unwrap();
    let file = dir.path().join("root/f.bin");
    fs::write(&file, old).unwrap();
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::options().write(true).open(&file).unwrap().set_modified(past).unwrap();
    // The change time is now: let the clock tick past it (a coarse tick is at most 10 ms).
    std::thread::sleep(std::time::Duration::from_millis(30));
    (dir, file)
}

/// A message with `n` stubs for `f.bin`.
fn stubs(n: usize) -> Vec<u8> {
    let mut msg = String::from("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n");
    for _ in 0..n {
        msg.push_str("--b\nContent-Type: application/x-mimeinject; path=f.bin\n\n");
    }
    msg.push_str("--b--\n");
    msg.into_bytes()
}

/// Every driver: sync and tokio, with and without pre-flight.
fn drivers() -> Vec<(&'static str, usize)> {
    let default = mimeinject::config::DEFAULT_PREFLIGHT_WINDOW;
    vec![("pre-flight", default), ("streaming", 0)]
}

/// One run: its label, output, result, and the source it read.
type Run<S> = (String, Vec<u8>, Result<mimeinject::Summary, mimeinject::Error>, Arc<S>);

/// Runs `msg` through the sync driver, and the tokio one, with `source` made fresh for each
/// run by `make`; returns each run's label, output and result.
fn every_driver<S: AttachmentSource + Send + Sync + 'static>(
    msg: &[u8],
    limits: mimeinject::Limits,
    make: &dyn Fn() -> S,
) -> Vec<Run<S>> {
    let mut runs = Vec::new();
    for (label, window) in drivers() {
        let config = Config::builder().limits(limits).preflight_window(window).build().unwrap();
        let source = Arc::new(make());
        let mut out = Vec::new();
        let res = rewrite(&config, &*source, &mut &msg[..], &mut out);
        runs.push((format!("sync {label}"), out, res, source));
        #[cfg(feature = "tokio")]
        {
            let runtime = tokio::runtime::Builder::new_multi_thread().build().unwrap();
            let source = Arc::new(make());
            let mut out = Vec::new();
            let res = runtime.block_on(mimeinject::tokio::rewrite(
                &config,
                Arc::clone(&source),
                &mut &msg[..],
                &mut out,
            ));
            runs.push((format!("tokio {label}"), out, res, source));
        }
    }
    runs
}

/// The content of every attachment in `out`, in order: the base64 lines after the blank
/// line that ends each generated header, up to the next blank or delimiter line.
fn attachments(out: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8(out.to_vec()).unwrap();
    text.split("Content-Transfer-Encoding: base64\n")
        .skip(1)
        .map(|part| {
            let mut lines = part.split('\n').skip_while(|l| !l.is_empty()).skip(1);
            let b64: String =
                lines.by_ref().take_while(|l| !l.is_empty() && !l.starts_with("--")).collect();
            base64_simd::STANDARD.decode_to_vec(b64.as_bytes()).unwrap()
        })
        .collect()
}

/// The torn attachment of issue 13: a file rewritten in place while it is encoded (same size
/// or not, its modification time kept or not) went out as old prefix plus new suffix with
/// success. Every driver must now fail with `Changed` and never complete the message.
#[test]
fn a_file_rewritten_in_place_while_encoded_fails() {
    const SIZE: usize = 1 << 20;
    let old = support::pseudo_random(1, SIZE);
    type Rewrite = fn(&Path, &[u8]);
    let same_size: Rewrite = |f, old| rewrite_in_place(f, &support::pseudo_random(2, old.len()));
    let keep_mtime: Rewrite = |f, old| {
        let mtime = fs::metadata(f).unwrap().modified().unwrap();
        rewrite_in_place(f, &support::pseudo_random(2, old.len()));
        fs::File::options().write(true).open(f).unwrap().set_modified(mtime).unwrap();
    };
    let shorter: Rewrite = |f, old| rewrite_in_place(f, &old[..old.len() / 2]);
    let longer: Rewrite = |f, old| rewrite_in_place(f, &[old, old].concat());
    let cases = [("same size", same_size), ("mtime kept", keep_mtime)];
    let cases = cases.into_iter().chain([("shorter", shorter), ("longer", longer)]);
    for (what, rewrite) in cases {
        let runs = every_driver(&stubs(1), Default::default(), &|| {
            let (dir, file) = tree_with(&old);
            let old = old.clone();
            let source =
                Meddle::new(&dir.path().join("root"), When::AfterFirstRead(0), move || {
                    rewrite(&file, &old)
                });
            InTree { _dir: dir, meddle: source }
        });
        for (label, out, res, _) in runs {
            let err = res.expect_err(&format!("{what}, {label}: delivered"));
            assert!(
                matches!(err.kind(), ErrorKind::Changed { path, .. } if path == "f.bin"),
                "{what}, {label}: {err}"
            );
            assert!(!contains(&out, b"\n--b--"), "{what}, {label}: the message was completed");
            eprintln!("{what}, {label}: {err}");
        }
    }
}

/// A [`Meddle`] with the temporary tree it serves, kept alive as long as it is.
struct InTree {
    _dir: tempfile::TempDir,
    meddle: Meddle,
}

impl AttachmentSource for InTree {
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        self.meddle.open(path)
    }
}

/// The guide's way to replace a file, a new one renamed over the name, during delivery:
/// the file being encoded goes out whole (the old one), and so it does when it is deleted.
#[test]
fn a_file_replaced_by_rename_or_deleted_while_encoded_goes_out_whole() {
    const SIZE: usize = 1 << 20;
    let old = support::pseudo_random(3, SIZE);
    type Replace = fn(&Path);
    let rename: Replace = |f| replace_by_rename(f, &support::pseudo_random(4, SIZE));
    let delete: Replace = |f| fs::remove_file(f).unwrap();
    for (what, replace) in [("renamed over", rename), ("deleted", delete)] {
        let runs = every_driver(&stubs(1), Default::default(), &|| {
            let (dir, file) = tree_with(&old);
            let source =
                Meddle::new(&dir.path().join("root"), When::AfterFirstRead(0), move || {
                    replace(&file)
                });
            InTree { _dir: dir, meddle: source }
        });
        for (label, out, res, _) in runs {
            res.unwrap_or_else(|e| panic!("{what}, {label}: {e}"));
            assert!(attachments(&out) == [old.clone()], "{what}, {label}: not the old file");
        }
    }
}

/// Pre-flight keeps at most `PREFLIGHT_OPEN_FILES` files open: the others are checked,
/// closed, and opened again when written (with 2,000 placeholders it ran out of descriptors).
/// Streaming holds one at a time.
#[test]
fn preflight_keeps_a_bounded_number_of_files_open() {
    let content = b"hello\n".to_vec();
    let limits = mimeinject::Limits { placeholders: 500, ..Default::default() };
    let runs = every_driver(&stubs(300), limits, &|| {
        let (dir, _) = tree_with(&content);
        let source = Meddle::new(&dir.path().join("root"), When::BeforeOpen(usize::MAX), || {});
        InTree { _dir: dir, meddle: source }
    });
    for (label, out, res, source) in runs {
        assert_eq!(res.unwrap().replaced, 300, "{label}");
        assert!(attachments(&out).iter().all(|a| *a == content), "{label}");
        let most = source.meddle.most_open.load(Ordering::SeqCst);
        let bound =
            if label.ends_with("pre-flight") { mimeinject::PREFLIGHT_OPEN_FILES + 1 } else { 1 };
        assert!(most <= bound, "{label}: {most} files open at once");
        assert_eq!(source.meddle.open_now.load(Ordering::SeqCst), 0, "{label}: a file left open");
    }
}

/// A file that pre-flight closed and that is replaced before its turn goes out as the new
/// file, whole, when its size is the same; with another size, pre-flight's checks no longer
/// hold and the message fails with `Changed`. Files still open go out as pre-flight saw them.
#[test]
fn a_file_replaced_after_preflight_closed_it() {
    let k = mimeinject::PREFLIGHT_OPEN_FILES;
    let (old, new) = (b"old content\n".to_vec(), b"new content\n".to_vec());
    let config = Config::default();
    let msg = stubs(k + 2);
    for replacement in [new.clone(), b"longer new content\n".to_vec()] {
        let (dir, file) = tree_with(&old);
        let r = replacement.clone();
        // Pre-flight opens k + 2 times; the first open while writing that is not one of the
        // k kept is number k + 2.
        let source = Meddle::new(&dir.path().join("root"), When::BeforeOpen(k + 2), move || {
            replace_by_rename(&file, &r)
        });
        let mut out = Vec::new();
        let res = rewrite(&config, &source, &mut &msg[..], &mut out);
        if replacement.len() == old.len() {
            res.unwrap();
            let mut expected = vec![old.clone(); k];
            expected.extend([new.clone(), new.clone()]);
            assert_eq!(attachments(&out), expected);
        } else {
            let err = res.unwrap_err();
            match err.kind() {
                ErrorKind::Changed { expected, read, .. } => {
                    assert_eq!((*expected, *read), (old.len() as u64, replacement.len() as u64));
                }
                other => panic!("{other:?}, not Changed"),
            }
            assert!(!contains(&out, b"\n--b--"), "the message was completed");
        }
    }
}

/// A file that pre-flight closed and that is gone before its turn fails the message, after
/// output has started: the kept files before it were written.
#[test]
fn a_file_deleted_after_preflight_closed_it_fails() {
    let k = mimeinject::PREFLIGHT_OPEN_FILES;
    let (dir, file) = tree_with(b"old content\n");
    let source = Meddle::new(&dir.path().join("root"), When::BeforeOpen(k + 2), move || {
        fs::remove_file(&file).unwrap()
    });
    let mut out = Vec::new();
    let err = rewrite(&Config::default(), &source, &mut &stubs(k + 2)[..], &mut out).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Attachment(e) if e.reason == "no such file"), "{err}");
    assert_eq!(attachments(&out).len(), k, "the kept files were written");
    assert!(!contains(&out, b"\n--b--"), "the message was completed");
}

/// A source whose content is a hundred times longer than it said (and as good as endless
/// to a filter that reads to the end).
struct Endless {
    len: u64,
    served: Arc<AtomicUsize>,
}

impl AttachmentSource for Endless {
    fn open(&self, _: &str) -> Result<Opened, SourceError> {
        let served = self.served.clone();
        let reader = Box::new(std::io::repeat(b'x').take(self.len * 100).inspect(served));
        Ok(Opened { len: self.len, reader })
    }
}

/// Counts the bytes a reader hands out.
trait Inspect: Read + Sized {
    fn inspect(self, served: Arc<AtomicUsize>) -> Counted<Self> {
        Counted { inner: self, served }
    }
}
impl<R: Read> Inspect for R {}

struct Counted<R> {
    inner: R,
    served: Arc<AtomicUsize>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.served.fetch_add(n, Ordering::SeqCst);
        Ok(n)
    }
}

/// A file that grows while it is read was read to its new end (143 MB written for a 10 MB
/// limit, `reliability/output-limit-overshoot.sh`). It is now read up to its size at open
/// plus one byte, and what is written never passes the size at open, which the output limit
/// was checked against.
#[test]
fn a_growing_file_is_read_one_byte_past_its_size() {
    const LEN: u64 = 200_000;
    let encoded = mimeinject::encode::encoded_len(LEN, mimeinject::Eol::Lf);
    let msg = stubs(1);
    // Exactly enough for the message with the file at its size at open.
    let limit = msg.len() as u64 + encoded + 200;
    let limits = mimeinject::Limits { output_bytes: limit, ..Default::default() };
    let runs = every_driver(&msg, limits, &|| Endless { len: LEN, served: Arc::default() });
    for (label, out, res, source) in runs {
        let err = res.unwrap_err();
        match err.kind() {
            ErrorKind::Changed { expected, read, .. } => {
                assert_eq!((*expected, *read), (LEN, LEN + 1), "{label}");
            }
            other => panic!("{label}: {other:?}, not Changed"),
        }
        assert_eq!(source.served.load(Ordering::SeqCst) as u64, LEN + 1, "{label}: bytes read");
        assert!(out.len() as u64 <= limit, "{label}: {} bytes written", out.len());
    }
}

/// Runs the binary on `stdin` with `args`, reads `first` bytes of its output, runs `act`
/// (the binary is then blocked on the full pipe, mid-attachment), and reads the rest.
/// Returns the exit status and the whole output. A watchdog kills it after
/// [`bin::TIMEOUT`] (a hang guard, not a timing assertion).
fn run_interrupted(
    args: &[&str],
    stdin: &[u8],
    first: usize,
    act: impl FnOnce(),
) -> (std::process::ExitStatus, Vec<u8>) {
    let mut input = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut input, stdin).unwrap();
    std::io::Seek::rewind(&mut input).unwrap();
    let mut child = bin::command(args)
        .env("MIMEINJECT_PIPE_SIZE", "0")
        .stdin(input)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + bin::TIMEOUT;
            while !done.load(Ordering::SeqCst) {
                if std::time::Instant::now() > deadline {
                    // SAFETY: kill(2) on our own child's pid, which has not been reaped.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    let mut stdout = child.stdout.take().unwrap();
    let mut out = vec![0; first];
    stdout.read_exact(&mut out).unwrap();
    act();
    stdout.read_to_end(&mut out).unwrap();
    let status = child.wait().unwrap();
    done.store(true, Ordering::SeqCst);
    watchdog.join().unwrap();
    (status, out)
}

/// `reliability/torn-attachment.sh` through the binary: a 16 MiB attachment rewritten in
/// place (same size) while the binary waits on a slow reader. It went out torn with exit 0;
/// now the exit status is the failure code and the log says why.
#[test]
fn the_binary_fails_on_a_torn_attachment() {
    const SIZE: usize = 16 << 20;
    let (dir, file) = tree_with(&support::pseudo_random(5, SIZE));
    let log = dir.path().join("log");
    let root = dir.path().join("root");
    let args = ["--root", root.to_str().unwrap(), "--log-file", log.to_str().unwrap()];
    let (status, out) = run_interrupted(&args, &stubs(1), 1 << 20, || {
        rewrite_in_place(&file, &support::pseudo_random(6, SIZE))
    });
    assert_eq!(status.code(), Some(1), "delivered");
    assert!(!contains(&out, b"\n--b--"), "the message was completed");
    let log = fs::read_to_string(&log).unwrap();
    assert!(log.contains("attachment \"f.bin\" changed while being read"), "{log}");
}

/// `reliability/output-limit-overshoot.sh` through the binary: a 1 MiB attachment that
/// grows by 20 MiB while the binary waits. It was read to its new end (143 MB written for a
/// 10 MB limit); now the binary writes no more than the 1 MiB encodes to, and fails.
#[test]
fn the_binary_stops_at_the_size_at_open_of_a_growing_file() {
    const SIZE: usize = 1 << 20;
    let (dir, file) = tree_with(&support::pseudo_random(7, SIZE));
    let root = dir.path().join("root");
    let msg = stubs(1);
    let args = ["--root", root.to_str().unwrap(), "--max-output-size", "10000000"];
    let (status, out) = run_interrupted(&args, &msg, 64 << 10, || {
        use std::io::Write;
        let mut f = fs::OpenOptions::new().append(true).open(&file).unwrap();
        f.write_all(&vec![0; 20 << 20]).unwrap();
    });
    assert_eq!(status.code(), Some(1), "delivered");
    let most =
        msg.len() as u64 + 200 + mimeinject::encode::encoded_len(SIZE as u64, mimeinject::Eol::Lf);
    assert!((out.len() as u64) < most, "{} bytes written", out.len());
}

/// `reliability/preflight-emfile.sh` through the binary: more placeholders than open files
/// allowed (`ulimit -n 64`, 300 placeholders). Pre-flight kept every file open and failed
/// with `Too many open files`; both modes must now succeed.
#[test]
fn the_binary_needs_no_descriptor_per_placeholder() {
    use std::os::unix::process::CommandExt;
    let (dir, _) = tree_with(b"hello\n");
    let root = dir.path().join("root");
    for window in ["1048576", "0"] {
        let args = [
            "--root",
            root.to_str().unwrap(),
            "--max-placeholders",
            "500",
            "--preflight-window",
            window,
        ];
        let mut cmd = bin::command(&args);
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child yet.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        let out = support::run(&mut cmd, &stubs(300), bin::TIMEOUT);
        out.assert_success(&format!("--preflight-window {window}"));
        assert_eq!(attachments(&out.stdout).len(), 300, "--preflight-window {window}");
    }
}
