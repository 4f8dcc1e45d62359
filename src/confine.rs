//! Opening a file by a relative path beneath a directory descriptor, so that no path a
//! placeholder can spell reaches anything outside that directory.
//!
//! Three layers, each of which alone would stop the obvious attacks:
//!
//! 1. [`check_path`] refuses, before any system call, every path that is not a plain list of
//!    `/`-separated names: empty, absolute, with a `..`, `.` or empty component, with a NUL
//!    byte, longer than [`MAX_PATH_LEN`] or with a component longer than [`MAX_NAME_LEN`].
//!    Any `..` is refused, even one that would stay inside the root (`a/../b`): that is
//!    simpler to reason about than deciding which ones escape, and a composer never needs it.
//!    A backslash is an ordinary byte of a name.
//! 2. The path is resolved by the kernel *relative to the root's descriptor*, never as a
//!    string joined to the root's path, so nothing can change between a check and an open.
//!    [`Resolver::Openat2`] uses `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`:
//!    symbolic links are followed as long as every step stays beneath the root, and
//!    `/proc`-style magic links are refused. [`Resolver::Walk`], used where `openat2` is
//!    unavailable, opens one component at a time with `O_NOFOLLOW` and so refuses *every*
//!    symbolic link, including ones that point inside the root.
//! 3. The final open is `O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC`, so a FIFO or a device
//!    cannot stall it or become a controlling terminal; the descriptor is then `fstat`ed and
//!    anything but a regular file is refused before a byte is read.
//!
//! What this does not do: it confines *names*. A hard link or a bind mount that someone with
//! write access to the root placed there is content of the root and is served.

use std::ffi::{CStr, CString};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::raw::c_int;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::class::Class;

/// Longest path accepted, in bytes (Linux `PATH_MAX`).
pub(crate) const MAX_PATH_LEN: usize = 4096;

/// Longest single component accepted, in bytes (Linux `NAME_MAX`).
pub(crate) const MAX_NAME_LEN: usize = 255;

/// How many times a lookup that `openat2` reports as raced (`EAGAIN`) is retried.
const RACE_RETRIES: usize = 8;

/// `O_PATH` where it exists: a descriptor that names a file without opening its content.
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_PATH: c_int = libc::O_PATH;
/// Without `O_PATH`, directories are opened for reading instead.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const O_PATH: c_int = libc::O_RDONLY;

/// Flags of the final open of an attachment (before `O_NOFOLLOW`, which only the walk adds).
const READ_FLAGS: c_int = libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;

/// Why a path was refused or its file could not be served. `Display` is one short line that
/// never contains anything read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The path is the empty string.
    Empty,
    /// The path contains a NUL byte.
    Nul,
    /// The path is longer than [`MAX_PATH_LEN`] bytes.
    PathTooLong,
    /// A component is longer than [`MAX_NAME_LEN`] bytes.
    NameTooLong,
    /// The path starts with `/`.
    Absolute,
    /// A component is `..`.
    DotDot,
    /// A component is `.` or empty (`a//b`, `a/`, `./a`).
    DotOrEmpty,
    /// Nothing exists at the path (`ENOENT`).
    NotFound,
    /// Resolution would have left the root (`EXDEV` from `openat2`).
    LeavesRoot,
    /// The walk met a symbolic link; it follows none.
    Symlink,
    /// `openat2` met a symbolic-link loop or a magic link (`ELOOP`).
    LinkLoop,
    /// A component before the last is not a directory.
    NotDirectory,
    /// The file exists but is not a regular file; the text names its type.
    NotRegular(&'static str),
    /// The open failed with `ENXIO` (a socket, or a device with no driver) and the type could
    /// not be told.
    NoDevice,
    /// Permission denied (`EACCES`, `EPERM`).
    PermissionDenied,
    /// Any other error number from the kernel.
    Os(i32),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Empty => f.write_str("empty path refused"),
            Refusal::Nul => f.write_str("NUL byte in path refused"),
            Refusal::PathTooLong => write!(f, "path longer than {MAX_PATH_LEN} bytes refused"),
            Refusal::NameTooLong => {
                write!(f, "path component longer than {MAX_NAME_LEN} bytes refused")
            }
            Refusal::Absolute => f.write_str("absolute path refused"),
            Refusal::DotDot => f.write_str("'..' component refused"),
            Refusal::DotOrEmpty => f.write_str("'.' or empty component refused"),
            Refusal::NotFound => f.write_str("no such file"),
            Refusal::LeavesRoot => f.write_str("path leaves the root"),
            Refusal::Symlink => f.write_str("symbolic link refused"),
            Refusal::LinkLoop => f.write_str("symbolic link loop or magic link refused"),
            Refusal::NotDirectory => f.write_str("a component before the last is not a directory"),
            Refusal::NotRegular(kind) => write!(f, "not a regular file ({kind})"),
            Refusal::NoDevice => f.write_str("not a regular file (socket or device)"),
            Refusal::PermissionDenied => f.write_str("permission denied"),
            Refusal::Os(errno) => {
                write!(f, "cannot open: {}", io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl Refusal {
    /// Permanent for a path that no root can hold (the rules checked before any system
    /// call); temporary for what depends on the root's content, which its owner can change
    /// (a missing file, permissions, a symbolic link that leaves the root).
    pub(crate) fn class(&self) -> Class {
        match self {
            Refusal::Empty
            | Refusal::Nul
            | Refusal::PathTooLong
            | Refusal::NameTooLong
            | Refusal::Absolute
            | Refusal::DotDot
            | Refusal::DotOrEmpty => Class::Permanent,
            Refusal::NotFound
            | Refusal::LeavesRoot
            | Refusal::Symlink
            | Refusal::LinkLoop
            | Refusal::NotDirectory
            | Refusal::NotRegular(_)
            | Refusal::NoDevice
            | Refusal::PermissionDenied
            | Refusal::Os(_) => Class::Temporary,
        }
    }
}

/// Checks that `path` is a plain relative list of names, before any system call.
///
/// # Errors
///
/// The first rule `path` breaks, in the order: empty, NUL byte, too long, absolute, then per
/// component `..`, `.` or empty, too long.
pub(crate) fn check_path(path: &str) -> Result<(), Refusal> {
    if path.is_empty() {
        return Err(Refusal::Empty);
    }
    if path.as_bytes().contains(&0) {
        return Err(Refusal::Nul);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(Refusal::PathTooLong);
    }
    if path.starts_with('/') {
        return Err(Refusal::Absolute);
    }
    for name in path.split('/') {
        match name {
            ".." => return Err(Refusal::DotDot),
            "" | "." => return Err(Refusal::DotOrEmpty),
            _ if name.len() > MAX_NAME_LEN => return Err(Refusal::NameTooLong),
            _ => {}
        }
    }
    Ok(())
}

/// How a checked path is resolved beneath the root descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolver {
    /// One `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: symbolic links that
    /// stay beneath the root are followed.
    Openat2,
    /// One `openat(2)` per component with `O_NOFOLLOW`: every symbolic link is refused.
    Walk,
}

/// Opens `root` as a directory descriptor (`O_PATH | O_DIRECTORY | O_CLOEXEC`).
///
/// The root itself is operator configuration and is resolved normally, symbolic links
/// included.
///
/// # Errors
///
/// Whatever `open(2)` reports, `ENOTDIR` when `root` is not a directory.
pub(crate) fn open_root(root: &Path) -> io::Result<OwnedFd> {
    // std always adds O_CLOEXEC; `read(true)` only sets O_RDONLY, which O_PATH ignores.
    let dir = OpenOptions::new().read(true).custom_flags(O_PATH | libc::O_DIRECTORY).open(root)?;
    Ok(dir.into())
}

/// Picks [`Resolver::Openat2`] when the kernel (and any seccomp filter) allows `openat2` on
/// `root`, [`Resolver::Walk`] otherwise.
pub(crate) fn detect(root: BorrowedFd<'_>) -> Resolver {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        match openat2(root, c".", O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) {
            Ok(_) => Resolver::Openat2,
            // ENOSYS: kernel before 5.6. EPERM: a seccomp filter that does not know the call.
            // EINVAL/E2BIG: a kernel that does not understand our `open_how`. All of these
            // mean "not available"; the walk is just as safe, only stricter.
            Err(libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::E2BIG) => Resolver::Walk,
            // The call exists; whatever else went wrong will show again on a real open.
            Err(_) => Resolver::Openat2,
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = root;
        Resolver::Walk
    }
}

/// Opens the regular file at `path` beneath `root` for reading, in blocking mode, and returns
/// it with the size `fstat` reported on the descriptor.
///
/// # Errors
///
/// A [`Refusal`] when `path` fails [`check_path`], cannot be resolved beneath `root` by
/// `resolver`, cannot be opened, or is not a regular file.
pub(crate) fn open_file(
    root: BorrowedFd<'_>,
    path: &str,
    resolver: Resolver,
) -> Result<(File, std::fs::Metadata), Refusal> {
    check_path(path)?;
    let fd = match resolve(root, path, resolver, READ_FLAGS) {
        Ok(fd) => fd,
        // Both of these can mean "this is not a regular file": open(2) gives ENXIO for a
        // socket, and EACCES for a device on a `nodev` mount. Look again with O_PATH, which
        // opens nothing, to say which.
        Err(refusal @ (Refusal::NoDevice | Refusal::PermissionDenied)) => {
            return Err(match kind_of(root, path, resolver) {
                Some(kind) if kind != "regular file" => Refusal::NotRegular(kind),
                _ => refusal,
            });
        }
        Err(refusal) => return Err(refusal),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| from_io(&e))?;
    let name = type_name(meta.file_type());
    if name != "regular file" {
        return Err(Refusal::NotRegular(name));
    }
    clear_nonblock(file.as_fd())?;
    Ok((file, meta))
}

/// The type of whatever `path` names beneath `root`, learnt through an `O_PATH` descriptor,
/// or `None` when that lookup fails too.
fn kind_of(root: BorrowedFd<'_>, path: &str, resolver: Resolver) -> Option<&'static str> {
    let fd = resolve(root, path, resolver, O_PATH | libc::O_CLOEXEC).ok()?;
    let meta = File::from(fd).metadata().ok()?;
    Some(type_name(meta.file_type()))
}

/// A short lower-case name for a file type, as used in [`Refusal::NotRegular`].
fn type_name(kind: std::fs::FileType) -> &'static str {
    if kind.is_file() {
        "regular file"
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_symlink() {
        "symbolic link"
    } else if kind.is_fifo() {
        "fifo"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else {
        "unknown type"
    }
}

/// Resolves checked `path` beneath `root` and opens its last component with `flags`.
fn resolve(
    root: BorrowedFd<'_>,
    path: &str,
    resolver: Resolver,
    flags: c_int,
) -> Result<OwnedFd, Refusal> {
    match resolver {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Resolver::Openat2 => {
            let cpath = CString::new(path).map_err(|_| Refusal::Nul)?;
            let mut raced = 0;
            loop {
                match openat2(root, &cpath, flags) {
                    Ok(fd) => return Ok(fd),
                    // RESOLVE_BENEATH gives up when a rename or mount elsewhere could have
                    // moved the walk; the kernel asks for a retry.
                    Err(libc::EAGAIN) if raced < RACE_RETRIES => raced += 1,
                    // Unavailable after all (say a seccomp filter installed after `detect`).
                    Err(libc::ENOSYS) => return walk(root, path, flags),
                    Err(errno) => return Err(from_errno(errno)),
                }
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Resolver::Openat2 => walk(root, path, flags),
        Resolver::Walk => walk(root, path, flags),
    }
}

/// Opens `path` one component at a time, never following a symbolic link: directories with
/// `O_PATH | O_DIRECTORY | O_NOFOLLOW`, the last component with `flags | O_NOFOLLOW`.
fn walk(root: BorrowedFd<'_>, path: &str, flags: c_int) -> Result<OwnedFd, Refusal> {
    let mut names = path.split('/').peekable();
    let mut held: Option<OwnedFd> = None;
    while let Some(name) = names.next() {
        let dir = held.as_ref().map_or(root, |fd| fd.as_fd());
        let cname = CString::new(name).map_err(|_| Refusal::Nul)?;
        let last = names.peek().is_none();
        let step_flags = if last {
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC
        } else {
            O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC
        };
        match openat(dir, &cname, step_flags) {
            Ok(fd) if last => return Ok(fd),
            Ok(fd) => held = Some(fd),
            // O_NOFOLLOW on a link gives ELOOP, or ENOTDIR together with O_DIRECTORY. Say
            // "symbolic link" when that is the reason, since it is the walk's own rule.
            Err(errno @ (libc::ELOOP | libc::ENOTDIR)) => {
                return Err(if is_symlink_at(dir, &cname) {
                    Refusal::Symlink
                } else {
                    from_errno(errno)
                });
            }
            Err(errno) => return Err(from_errno(errno)),
        }
    }
    // `check_path` guarantees at least one component, so the loop always returns.
    Err(Refusal::Empty)
}

/// Whether `name` in `dir` is itself a symbolic link (not followed).
fn is_symlink_at(dir: BorrowedFd<'_>, name: &CStr) -> bool {
    // O_PATH | O_NOFOLLOW on a link yields a descriptor for the link itself.
    openat(dir, name, O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .ok()
        .and_then(|fd| File::from(fd).metadata().ok())
        .is_some_and(|meta| meta.file_type().is_symlink())
}

/// Maps an error number from a lookup or open to a [`Refusal`].
fn from_errno(errno: i32) -> Refusal {
    match errno {
        libc::ENOENT => Refusal::NotFound,
        libc::EXDEV => Refusal::LeavesRoot,
        libc::ELOOP => Refusal::LinkLoop,
        libc::ENOTDIR => Refusal::NotDirectory,
        libc::ENXIO | libc::ENODEV => Refusal::NoDevice,
        libc::EACCES | libc::EPERM => Refusal::PermissionDenied,
        libc::ENAMETOOLONG => Refusal::PathTooLong,
        other => Refusal::Os(other),
    }
}

/// Maps an `io::Error` from a call on an open descriptor to a [`Refusal`].
fn from_io(err: &io::Error) -> Refusal {
    from_errno(err.raw_os_error().unwrap_or(libc::EIO))
}

/// The calling thread's `errno`.
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// `openat(2)` without `O_CREAT`, retried on `EINTR`.
fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: c_int) -> Result<OwnedFd, i32> {
    debug_assert_eq!(flags & libc::O_CREAT, 0);
    loop {
        // SAFETY: `name` is NUL-terminated and outlives the call, `dir` is an open descriptor
        // for the duration of the borrow, and without O_CREAT no mode argument is read.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: the kernel just returned `fd` as a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// The kernel's `struct open_how` (`linux/openat2.h`), first version (24 bytes). Defined here
/// because `libc::open_how` is `#[non_exhaustive]` and cannot be built outside `libc`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[repr(C)]
struct OpenHow {
    /// `open(2)` flags.
    flags: u64,
    /// Creation mode; must be 0 without `O_CREAT`.
    mode: u64,
    /// `RESOLVE_*` flags.
    resolve: u64,
}

/// `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, retried on `EINTR`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn openat2(dir: BorrowedFd<'_>, path: &CStr, flags: c_int) -> Result<OwnedFd, i32> {
    debug_assert_eq!(flags & libc::O_CREAT, 0);
    let how = OpenHow {
        // Flags are a bit set; reinterpreting the sign bit is what the kernel expects.
        flags: flags as u32 as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: `path` is NUL-terminated and `how` is a fully initialised `open_how` of the
        // size passed; both outlive the call. `dir` is open for the duration of the borrow.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if ret >= 0 {
            let fd = c_int::try_from(ret).map_err(|_| libc::EBADF)?;
            // SAFETY: the kernel just returned `fd` as a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Puts `fd` back into blocking mode (it was opened `O_NONBLOCK` so a FIFO could not stall
/// the open).
fn clear_nonblock(fd: BorrowedFd<'_>) -> Result<(), Refusal> {
    // SAFETY: F_GETFL takes no argument beyond the descriptor, which is open.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(from_errno(errno()));
    }
    // SAFETY: F_SETFL takes an integer argument, passed as one; the descriptor is open.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(from_errno(errno()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass() {
        for ok in ["a", "a/b", "a b/c.pdf", "dir\\file", "...", ".hidden", "a/..b", "é/ü.txt"] {
            assert_eq!(check_path(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_path(&"a".repeat(MAX_NAME_LEN)), Ok(()));
        let longest = vec!["a".repeat(MAX_NAME_LEN); 16].join("/");
        assert_eq!(longest.len(), 16 * 256 - 1);
        assert_eq!(check_path(&longest), Ok(()));
    }

    #[test]
    fn lexical_refusals() {
        let cases: &[(&str, Refusal)] = &[
            ("", Refusal::Empty),
            ("a\0b", Refusal::Nul),
            ("/etc/passwd", Refusal::Absolute),
            ("/", Refusal::Absolute),
            ("..", Refusal::DotDot),
            ("../x", Refusal::DotDot),
            ("a/../../x", Refusal::DotDot),
            ("a/../b", Refusal::DotDot),
            ("a/..", Refusal::DotDot),
            (".", Refusal::DotOrEmpty),
            ("./a", Refusal::DotOrEmpty),
            ("a/./b", Refusal::DotOrEmpty),
            ("a//b", Refusal::DotOrEmpty),
            ("a/", Refusal::DotOrEmpty),
        ];
        for (path, want) in cases {
            assert_eq!(check_path(path).as_ref(), Err(want), "{path:?}");
        }
        assert_eq!(check_path(&"a".repeat(MAX_PATH_LEN + 1)), Err(Refusal::PathTooLong));
        assert_eq!(check_path(&"a/".repeat(2500)), Err(Refusal::PathTooLong));
        assert_eq!(check_path(&"x".repeat(MAX_NAME_LEN + 1)), Err(Refusal::NameTooLong));
        assert_eq!(check_path(&format!("a/{}/b", "x".repeat(300))), Err(Refusal::NameTooLong));
    }

    #[test]
    fn refusal_text_is_one_line() {
        for r in
            [Refusal::Empty, Refusal::NotRegular("fifo"), Refusal::Os(libc::EIO), Refusal::LinkLoop]
        {
            let text = r.to_string();
            assert!(!text.contains('\n') && !text.is_empty(), "{text:?}");
        }
        assert_eq!(Refusal::NotRegular("fifo").to_string(), "not a regular file (fifo)");
        assert_eq!(Refusal::DotDot.to_string(), "'..' component refused");
    }
}
