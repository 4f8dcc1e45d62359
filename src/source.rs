//! Where attachments come from: the [`AttachmentSource`] trait, the confined filesystem
//! root [`FsRoot`], and the in-memory [`MemorySource`].
//!
//! # Confinement
//!
//! [`FsRoot`] opens its directory once and resolves every attachment path *beneath that
//! descriptor* at open time, so a placeholder cannot name `/etc/shadow`,
//! `/proc/self/environ` or anything else outside the root, and nothing can be swapped between
//! a check and the open. The rules, in order:
//!
//! - Refused before any system call: the empty path, a path with a NUL byte, a path over
//!   4096 bytes or with a component over 255 bytes, an absolute path, any `..` component
//!   (even `a/../b`, which would stay inside: refusing every `..` is simpler to trust), and
//!   `.` or empty components (`./a`, `a//b`, `a/`). A backslash is an ordinary character.
//! - On Linux 5.6 and later the path is resolved with `openat2(2)` and
//!   `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: symbolic links are followed only while they
//!   stay beneath the root (`latest.pdf -> reports/2024.pdf` works; `-> /etc/passwd` and
//!   `-> ../outside` fail with `path leaves the root`), and `/proc` magic links are refused.
//! - Where `openat2` is unavailable (an older kernel, a seccomp filter that answers `ENOSYS`
//!   or `EPERM`) the path is walked one component at a time with `O_NOFOLLOW`, which refuses
//!   **every** symbolic link, including ones that would stay inside the root.
//! - The file is opened `O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC`, so a FIFO cannot
//!   block the open, and `fstat`ed: anything but a regular file (directory, FIFO, socket,
//!   device) is refused. The descriptor is then switched back to blocking reads.
//!
//! Hard links and mounts inside the root are served like any other file: confinement is about
//! the names a placeholder can spell, and the root's content is the operator's to choose.
//!
//! # Changes while a file is read
//!
//! A file is trusted only if it is the same, unchanged, from its open to its last read.
//! [`FsRoot`]'s reader reads at most the size `fstat` gave at open plus one byte (that byte
//! means the file grew), and when it reaches the end it `fstat`s the descriptor again and
//! compares device, inode, size, modification time and change time with what it saw at
//! open. Any difference is an error carrying [`Changed`], which the drivers report as
//! [`ErrorKind::Changed`](crate::ErrorKind::Changed): a file rewritten in place while it is
//! encoded (same size or not) fails the message instead of going out as old prefix plus new
//! suffix.
//!
//! One change of the change time is not a change of the content: the one that comes with a
//! lower link count. Renaming another file over the name, or deleting it, leaves the open
//! file's content as it was, so the file opened is delivered whole. That is how applications
//! should replace a file: write a new one and `rename(2)` it over the old.
//!
//! The times have the kernel's clock tick as their granularity (a few milliseconds): a
//! rewrite in the same tick as the write before the open is not seen (Linux 6.13 and later
//! give a finer time to a change made after its file was `stat`ed).

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::class::Class;
use crate::confine::{self, Resolver};

/// An opened attachment: its size at open time and a reader over its bytes.
pub struct Opened {
    /// The size when opened. The filter fails if it reads a different number of bytes.
    pub len: u64,
    /// The content.
    pub reader: Box<dyn Read + Send>,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened").field("len", &self.len).finish_non_exhaustive()
    }
}

/// Why an attachment could not be opened.
#[derive(Debug)]
pub struct SourceError {
    /// The path as the placeholder gave it (after `{var}` expansion).
    pub path: String,
    /// What went wrong, one short line such as `no such file`, `path leaves the root` or
    /// `not a regular file (fifo)`. Never contains anything read from a file.
    pub reason: String,
    /// Whether opening the same path can succeed later ([`Class::Temporary`]: the file is
    /// missing, unreadable, not a regular file) or never, whatever the root holds
    /// ([`Class::Permanent`]: the path itself is refused, such as `../x` or `/etc/passwd`).
    pub class: Class,
}

impl SourceError {
    /// A failure that may go away: the file is missing or unreadable now, or the store cannot
    /// be reached.
    ///
    /// ```
    /// use mimeinject::{Class, SourceError};
    ///
    /// let e = SourceError::temporary("a.pdf", "no such file");
    /// assert_eq!(e.class, Class::Temporary);
    /// assert_eq!(e.to_string(), "attachment \"a.pdf\": no such file");
    /// ```
    pub fn temporary(path: &str, reason: impl Into<String>) -> SourceError {
        SourceError { path: path.to_owned(), reason: reason.into(), class: Class::Temporary }
    }

    /// A path that this source can never serve, whatever it holds: a defect of the message
    /// that named it.
    ///
    /// ```
    /// use mimeinject::{Class, SourceError};
    ///
    /// let e = SourceError::permanent("../etc/passwd", "'..' component refused");
    /// assert_eq!(e.class, Class::Permanent);
    /// ```
    pub fn permanent(path: &str, reason: impl Into<String>) -> SourceError {
        SourceError { path: path.to_owned(), reason: reason.into(), class: Class::Permanent }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attachment {:?}: {}", self.path, self.reason)
    }
}

impl std::error::Error for SourceError {}

/// The error inside an [`io::Error`] (of kind [`Other`](io::ErrorKind::Other)) that a
/// reader returns when its attachment changed while it was read. The drivers report it as
/// [`ErrorKind::Changed`](crate::ErrorKind::Changed). [`FsRoot`]'s readers return it (see
/// the [module documentation](self)); a source of another kind can too.
///
/// ```
/// use std::io;
/// use mimeinject::source::Changed;
///
/// let err = io::Error::other(Changed("modification time"));
/// assert_eq!(Changed::of(&err), Some(Changed("modification time")));
/// assert_eq!(err.to_string(), "the file changed while it was read (modification time)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Changed(pub &'static str);

impl Changed {
    /// The [`Changed`] inside `err`, if that is what it carries.
    pub fn of(err: &io::Error) -> Option<Changed> {
        err.get_ref()?.downcast_ref::<Changed>().copied()
    }
}

impl fmt::Display for Changed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the file changed while it was read ({})", self.0)
    }
}

impl std::error::Error for Changed {}

/// Serves attachment content by path.
pub trait AttachmentSource {
    /// Opens the attachment at `path`, a relative path with `/` separators.
    fn open(&self, path: &str) -> Result<Opened, SourceError>;
}

/// Files beneath one directory; nothing outside it can be opened.
///
/// See the [module documentation](self) for the exact rules.
///
/// # Example
///
/// ```
/// use std::io::Read;
/// use mimeinject::source::{AttachmentSource, FsRoot};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("reports"))?;
/// std::fs::write(dir.path().join("reports/q3.txt"), b"revenue: up")?;
///
/// let root = FsRoot::new(dir.path())?;
/// let mut opened = root.open("reports/q3.txt")?;
/// assert_eq!(opened.len, 11);
/// let mut content = Vec::new();
/// opened.reader.read_to_end(&mut content)?;
/// assert_eq!(content, b"revenue: up");
///
/// // Nothing outside the root, however it is spelt.
/// for path in ["/etc/passwd", "../etc/passwd", "reports/../../etc/passwd"] {
///     assert!(root.open(path).is_err());
/// }
/// assert_eq!(root.open("/etc/passwd").unwrap_err().reason, "absolute path refused");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FsRoot {
    /// The root directory, opened once (`O_PATH | O_DIRECTORY`); every lookup starts here.
    dir: OwnedFd,
    /// How paths are resolved beneath `dir`, chosen once by [`FsRoot::new`].
    resolver: Resolver,
    /// The root as configured. For `Debug` only; never used to open anything.
    root: PathBuf,
}

impl FsRoot {
    /// Opens `root` as the directory all attachment paths are resolved beneath.
    ///
    /// The directory is opened once, here; later renames of `root` itself do not change which
    /// directory is served. `root` is the operator's configuration and is resolved normally,
    /// so it may itself be or contain a symbolic link.
    ///
    /// # Errors
    ///
    /// When `root` cannot be opened as a directory (it is missing, not a directory, or not
    /// reachable).
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<FsRoot> {
        let root = root.as_ref();
        let dir = confine::open_root(root)?;
        let resolver = confine::detect(dir.as_fd());
        Ok(FsRoot { dir, resolver, root: root.to_owned() })
    }

    /// The root as it was given to [`FsRoot::new`], for messages. Attachments are not opened
    /// through this path but through the descriptor opened by `new`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Like [`FsRoot::new`], but always walks components with `O_NOFOLLOW` instead of using
    /// `openat2`, as on a kernel without it. Lets tests cover both resolvers.
    #[cfg(test)]
    pub(crate) fn new_walking(root: impl AsRef<Path>) -> std::io::Result<FsRoot> {
        let mut fs_root = FsRoot::new(root)?;
        fs_root.resolver = Resolver::Walk;
        Ok(fs_root)
    }
}

impl AttachmentSource for FsRoot {
    /// Opens the regular file at `path` beneath the root.
    ///
    /// `len` is the size `fstat` reported on the opened descriptor. The reader reads at most
    /// `len + 1` bytes and fails with [`Changed`] if the file changed while it was read (see
    /// the [module documentation](self)).
    ///
    /// # Errors
    ///
    /// A [`SourceError`] whose `reason` says which rule `path` broke or what the kernel
    /// reported: see the [module documentation](self).
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        let refuse = |refusal: confine::Refusal| SourceError {
            path: path.to_owned(),
            reason: refusal.to_string(),
            class: refusal.class(),
        };
        let (file, meta) =
            confine::open_file(self.dir.as_fd(), path, self.resolver).map_err(refuse)?;
        let at_open = Stamp::of(&meta);
        Ok(Opened {
            len: meta.len(),
            reader: Box::new(FileReader { file, at_open, left: meta.len(), grew: false }),
        })
    }
}

/// What `fstat` says about a file, for telling whether it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    nlink: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            nlink: meta.nlink(),
        }
    }

    /// What differs in `now`, a later look at the same descriptor, that can mean different
    /// content; `None` if nothing does. See the module documentation for the change time.
    fn changed(&self, now: &Stamp) -> Option<&'static str> {
        if (self.dev, self.ino) != (now.dev, now.ino) {
            Some("device or inode")
        } else if self.size != now.size {
            Some("size")
        } else if self.mtime != now.mtime {
            Some("modification time")
        } else if self.ctime != now.ctime && now.nlink >= self.nlink {
            Some("change time")
        } else {
            None
        }
    }
}

/// The reader of a file [`FsRoot`] opened: at most its size at open plus one byte, and the
/// same file, unchanged, at the end (see the module documentation).
struct FileReader {
    file: File,
    at_open: Stamp,
    /// Bytes of the size at open not read yet.
    left: u64,
    /// The byte after the size at open was read (and handed out: the caller counts it too).
    grew: bool,
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.grew {
            return Err(io::Error::other(Changed("grew")));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let most = usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX);
        let most = most.min(buf.len());
        let n = self.file.read(&mut buf[..most])?;
        if n as u64 > self.left {
            // Handed out, so that a caller counting bytes sees one more than the size at
            // open; the next read fails.
            (self.left, self.grew) = (0, true);
            return Ok(n);
        }
        self.left -= n as u64;
        if n == 0 {
            let now = Stamp::of(&self.file.metadata()?);
            if let Some(what) = self.at_open.changed(&now) {
                return Err(io::Error::other(Changed(what)));
            }
            if self.left > 0 {
                return Err(io::Error::other(Changed("ended early")));
            }
        }
        Ok(n)
    }
}

/// Attachments held in memory, keyed by path: for tests and embedders.
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    files: std::collections::HashMap<String, std::sync::Arc<[u8]>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the file at `path`.
    pub fn insert(&mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), content.into().into());
    }
}

impl AttachmentSource for MemorySource {
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        match self.files.get(path) {
            Some(data) => Ok(Opened {
                len: data.len() as u64,
                reader: Box::new(std::io::Cursor::new(data.clone())),
            }),
            None => Err(SourceError::temporary(path, "no such file")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    /// A case this machine cannot run: a `SKIP` line (see `crate::test_skip`), or a failure
    /// under `CI=true`, where every case must run.
    fn skip(note: &str) {
        crate::test_skip::skip(note);
    }

    /// Content of the file that lives next to (outside) the root. No open, successful or not,
    /// may ever yield these bytes.
    const SECRET: &[u8] = b"OUTSIDE-SECRET-7f3a";

    /// What opening one path must give.
    #[derive(Clone, Copy, Debug)]
    enum Expect {
        /// Opens, with exactly these bytes.
        Content(&'static [u8]),
        /// Is refused with exactly this reason.
        Refused(&'static str),
    }
    use Expect::{Content, Refused};

    /// A temporary tree: `outside/secret.txt` and the attachment root `root/`.
    struct Tree {
        /// Keeps the tree alive.
        _dir: tempfile::TempDir,
        /// The attachment root.
        root: PathBuf,
        /// Whether `root/null`, a character device, could be created.
        has_device: bool,
    }

    fn c_path(path: &Path) -> CString {
        CString::new(path.as_os_str().as_bytes()).unwrap()
    }

    fn tree() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret.txt"), SECRET).unwrap();

        let root = dir.path().join("root");
        let r = |p: &str| root.join(p);
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(r("file.txt"), b"hello\n").unwrap();
        fs::write(r("empty.txt"), b"").unwrap();
        fs::write(r("back\\slash"), b"bs").unwrap();
        fs::create_dir_all(r("sub/deeper")).unwrap();
        fs::write(r("sub/nested.txt"), b"nested content").unwrap();
        fs::write(r("sub/deeper/leaf.bin"), [0u8, 1, 2, 255]).unwrap();
        fs::create_dir(r("emptydir")).unwrap();

        symlink("file.txt", r("link_in")).unwrap();
        symlink("../file.txt", r("sub/up")).unwrap();
        symlink("sub", r("dirlink")).unwrap();
        symlink("/etc/passwd", r("passwd")).unwrap();
        symlink("../outside/secret.txt", r("rel_out")).unwrap();
        symlink("../outside", r("rel_out_dir")).unwrap();
        symlink(&outside, r("abs_out_dir")).unwrap();
        symlink("/proc/self/environ", r("environ")).unwrap();
        symlink("loop_b", r("loop_a")).unwrap();
        symlink("loop_a", r("loop_b")).unwrap();
        symlink("fifo", r("fifo_link")).unwrap();

        let fifo = c_path(&r("fifo"));
        // SAFETY: `fifo` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
        drop(std::os::unix::net::UnixListener::bind(r("sock")).unwrap());

        let null = c_path(&r("null"));
        let rdev = fs::metadata("/dev/null").unwrap().rdev();
        // SAFETY: `null` is a NUL-terminated path that outlives the call.
        let made =
            unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, rdev as libc::dev_t) };
        let has_device = made == 0;
        if !has_device {
            skip(&format!("mknod failed ({}); character device case skipped", errno_text()));
        } else {
            assert!(fs::symlink_metadata(r("null")).unwrap().file_type().is_char_device());
        }
        Tree { _dir: dir, root, has_device }
    }

    fn errno_text() -> String {
        std::io::Error::last_os_error().to_string()
    }

    /// The cases, as `(path, with openat2, with the walk)`.
    fn cases() -> Vec<(String, Expect, Expect)> {
        let both = |p: &str, e: Expect| (p.to_owned(), e, e);
        let leaves = |p: &str| {
            (p.to_owned(), Refused("path leaves the root"), Refused("symbolic link refused"))
        };
        let inside = |p: &str, content: &'static [u8]| {
            (p.to_owned(), Content(content), Refused("symbolic link refused"))
        };
        vec![
            // Served.
            both("file.txt", Content(b"hello\n")),
            both("empty.txt", Content(b"")),
            both("sub/nested.txt", Content(b"nested content")),
            both("sub/deeper/leaf.bin", Content(&[0, 1, 2, 255])),
            both("back\\slash", Content(b"bs")),
            // Symbolic links that stay inside: followed by openat2 only.
            inside("link_in", b"hello\n"),
            inside("sub/up", b"hello\n"),
            inside("dirlink/nested.txt", b"nested content"),
            // Symbolic links that leave.
            leaves("passwd"),
            leaves("rel_out"),
            leaves("rel_out_dir/secret.txt"),
            leaves("abs_out_dir/secret.txt"),
            leaves("environ"),
            (
                "loop_a".to_owned(),
                Refused("symbolic link loop or magic link refused"),
                Refused("symbolic link refused"),
            ),
            // Refused by spelling.
            both("/etc/passwd", Refused("absolute path refused")),
            both("/proc/self/environ", Refused("absolute path refused")),
            both("../x", Refused("'..' component refused")),
            both("../outside/secret.txt", Refused("'..' component refused")),
            both("a/../../x", Refused("'..' component refused")),
            both("sub/../file.txt", Refused("'..' component refused")),
            both("sub/./nested.txt", Refused("'.' or empty component refused")),
            both("sub//nested.txt", Refused("'.' or empty component refused")),
            both("sub/", Refused("'.' or empty component refused")),
            both("", Refused("empty path refused")),
            both("file.txt\0", Refused("NUL byte in path refused")),
            both("file.txt\0/../../etc/passwd", Refused("NUL byte in path refused")),
            both(&"a/".repeat(2500), Refused("path longer than 4096 bytes refused")),
            both(&"x".repeat(300), Refused("path component longer than 255 bytes refused")),
            both(&format!("sub/{}", "x".repeat(256)), {
                Refused("path component longer than 255 bytes refused")
            }),
            // Not regular files.
            both("fifo", Refused("not a regular file (fifo)")),
            ("fifo_link".to_owned(), Refused("not a regular file (fifo)"), {
                Refused("symbolic link refused")
            }),
            both("sock", Refused("not a regular file (socket)")),
            both("emptydir", Refused("not a regular file (directory)")),
            both("sub", Refused("not a regular file (directory)")),
            // Missing.
            both("missing.txt", Refused("no such file")),
            both("sub/missing/x", Refused("no such file")),
            both("file.txt/x", Refused("a component before the last is not a directory")),
        ]
    }

    /// Opens `path` and reads it all on another thread, failing the test if that takes more
    /// than a few seconds (a FIFO must not be able to block the open).
    fn open_promptly(root: &Arc<FsRoot>, path: &str) -> Result<(u64, Vec<u8>), SourceError> {
        let (tx, rx) = mpsc::channel();
        let (root, owned) = (Arc::clone(root), path.to_owned());
        std::thread::spawn(move || {
            let got = root.open(&owned).map(|mut opened| {
                let mut content = Vec::new();
                opened.reader.read_to_end(&mut content).unwrap();
                (opened.len, content)
            });
            let _ = tx.send(got);
        });
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("open({path:?}) did not return within 10 s"))
    }

    fn check(root: &Arc<FsRoot>, label: &str, path: &str, want: Expect) {
        let got = open_promptly(root, path);
        match (want, got) {
            (Content(want), Ok((len, content))) => {
                assert_eq!(content, want, "{label} {path:?}: content");
                assert_eq!(len, want.len() as u64, "{label} {path:?}: len");
            }
            (Refused(want), Err(err)) => {
                assert_eq!(err.reason, want, "{label} {path:?}: reason");
                assert_eq!(err.path, path, "{label}: path in the error");
                let shown = err.to_string();
                assert!(!shown.contains("OUTSIDE-SECRET"), "{label} {path:?}: {shown}");
                assert!(!shown.contains("root:x:"), "{label} {path:?}: {shown}");
            }
            (want, Ok((_, content))) => panic!(
                "{label} {path:?}: wanted {want:?}, got {} bytes{}",
                content.len(),
                if content == SECRET { " OF THE SECRET" } else { "" }
            ),
            (want, Err(err)) => panic!("{label} {path:?}: wanted {want:?}, got {err}"),
        }
    }

    fn run_all(label: &str, root: FsRoot, pick: fn(&(String, Expect, Expect)) -> Expect) {
        let tree_has_device = root.root().join("null").exists();
        let root = Arc::new(root);
        for case in cases() {
            check(&root, label, &case.0, pick(&case));
        }
        if tree_has_device {
            check(&root, label, "null", Refused("not a regular file (character device)"));
        }
    }

    #[test]
    fn openat2_resolver() {
        let tree = tree();
        let root = FsRoot::new(&tree.root).unwrap();
        if root.resolver != Resolver::Openat2 {
            skip("openat2 unavailable here; its cases skipped (the walk still runs)");
            return;
        }
        assert!(tree.has_device || !tree.root.join("null").exists());
        run_all("openat2", root, |case| case.1);
    }

    #[test]
    fn walk_resolver() {
        let tree = tree();
        let root = FsRoot::new_walking(&tree.root).unwrap();
        assert_eq!(root.resolver, Resolver::Walk);
        run_all("walk", root, |case| case.2);
    }

    #[test]
    fn root_must_be_a_directory() {
        let tree = tree();
        assert!(FsRoot::new(tree.root.join("file.txt")).is_err());
        assert!(FsRoot::new(tree.root.join("missing")).is_err());
        assert_eq!(FsRoot::new(&tree.root).unwrap().root(), tree.root);
    }

    #[test]
    fn root_is_held_open_across_renames() {
        let tree = tree();
        let root = FsRoot::new(&tree.root).unwrap();
        let moved = tree.root.with_file_name("moved");
        fs::rename(&tree.root, &moved).unwrap();
        fs::create_dir(&tree.root).unwrap();
        fs::write(tree.root.join("file.txt"), b"impostor").unwrap();
        let mut content = Vec::new();
        root.open("file.txt").unwrap().reader.read_to_end(&mut content).unwrap();
        assert_eq!(content, b"hello\n");
    }

    #[test]
    fn reader_blocks_normally_after_open() {
        let tree = tree();
        let root = FsRoot::new(&tree.root).unwrap();
        let opened = root.open("file.txt").unwrap();
        // The reader is the `File`; reading it as a whole must not hit EAGAIN.
        let mut content = Vec::new();
        { opened.reader }.read_to_end(&mut content).unwrap();
        assert_eq!(content, b"hello\n");
    }

    /// Read on its own (no driver around it), the reader hands out at most one byte past
    /// the size at open, then fails with `Changed`; and a same-size rewrite fails at the end.
    #[test]
    fn reader_is_bounded_and_checks_at_its_end() {
        use std::io::Write;
        let tree = tree();
        let root = FsRoot::new(&tree.root).unwrap();
        let mut opened = root.open("file.txt").unwrap();
        let path = tree.root.join("file.txt");
        fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&[b'+'; 1000]).unwrap();
        let mut got = Vec::new();
        let err = opened.reader.read_to_end(&mut got).unwrap_err();
        assert_eq!(Changed::of(&err), Some(Changed("grew")));
        assert_eq!(got, b"hello\n+");

        let mut opened = root.open("sub/nested.txt").unwrap();
        let mut first = [0; 4];
        opened.reader.read_exact(&mut first).unwrap();
        std::thread::sleep(Duration::from_millis(30)); // past a coarse clock tick
        fs::write(tree.root.join("sub/nested.txt"), b"NESTED CONTENT").unwrap();
        let err = opened.reader.read_to_end(&mut Vec::new()).unwrap_err();
        let what = Changed::of(&err).unwrap().0;
        assert!(["modification time", "change time"].contains(&what), "{what}");

        // Unchanged, it reads to its end and says so again and again.
        let mut opened = root.open("file.txt").unwrap();
        let mut got = Vec::new();
        opened.reader.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 1006);
        assert_eq!(opened.reader.read(&mut [0; 8]).unwrap(), 0);
    }

    /// Root ignores permission bits, so this drops the filesystem uid of one thread to
    /// `nobody` (`setfsuid` is per thread on Linux) and tries a mode-0600 file.
    #[test]
    fn unreadable_file_is_refused() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skip("not root; permission case skipped");
            return;
        }
        let tree = tree();
        fs::write(tree.root.join("private.txt"), b"private").unwrap();
        fs::set_permissions(tree.root.join("private.txt"), fs::Permissions::from_mode(0o600))
            .unwrap();
        let roots = [FsRoot::new(&tree.root).unwrap(), FsRoot::new_walking(&tree.root).unwrap()];
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setfsuid changes only this thread's filesystem uid; the thread ends
                // with the scope, and nothing else runs on it.
                unsafe { libc::setfsuid(65534) };
                // SAFETY: as above; an invalid id changes nothing and returns the current one.
                if unsafe { libc::setfsuid(u32::MAX) } != 65534 {
                    skip("setfsuid had no effect; permission case skipped");
                    return;
                }
                for root in &roots {
                    // World-readable files still open, so the drop is what refuses below.
                    assert!(root.open("file.txt").is_ok(), "{root:?}");
                    let err = root.open("private.txt").unwrap_err();
                    assert_eq!(err.reason, "permission denied", "{root:?}");
                }
            });
        });
    }
}
