//! Running as the MTA's filter: stdin to stdout.

use std::fs::File;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

use mimeinject::driver::AlignedWriter;
use mimeinject::{Class, Config, FsRoot, Limits, Summary};

use crate::cli::FilterArgs;

/// Output chunk: every `write(2)` but the last is exactly this long, from a page-aligned
/// address (see [`AlignedWriter`]). Overridden by `MIMEINJECT_WRITE_SIZE` (benchmarks).
const WRITE_BUFFER: usize = 128 << 10;
/// What the output pipe is grown to, when stdout is a pipe (Linux's default `pipe-max-size`).
const PIPE_SIZE: i32 = 1 << 20;

/// Why a run failed: the one-line reason, and whether retrying can help.
#[derive(Debug)]
pub struct Refusal {
    /// The reason, for the log (and pipe(8)'s line).
    pub reason: String,
    /// [`Class::Permanent`] only for a defect of the message itself.
    pub class: Class,
}

/// A failure of the set-up (options, the root): the administrator's to fix, so temporary.
impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal { reason, class: Class::Temporary }
    }
}

impl From<mimeinject::Error> for Refusal {
    fn from(e: mimeinject::Error) -> Refusal {
        Refusal { reason: e.to_string(), class: e.class() }
    }
}

/// Filters stdin to stdout; what was attached. On error, stdin has been read to its end.
pub fn run(args: &FilterArgs) -> Result<Summary, Refusal> {
    let mut stdin = stdin();
    // SAFETY: fd 1 is this process's stdout; ManuallyDrop keeps it open.
    let stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    let result = filter(args, &mut stdin, &stdout);
    if result.is_err() {
        drain(&mut stdin);
    }
    result
}

fn filter(args: &FilterArgs, stdin: &mut File, stdout: &File) -> Result<Summary, Refusal> {
    let config = config(args)?;
    let source = source(args)?;
    grow_pipe(1);
    let mut out = AlignedWriter::new(env_size("MIMEINJECT_WRITE_SIZE", WRITE_BUFFER), stdout);
    let summary = mimeinject::rewrite(&config, &source, stdin, &mut out)?;
    out.flush().map_err(|e| format!("writing the output: {e}"))?;
    Ok(summary)
}

/// This process's stdin (fd 0), never closed when dropped.
pub fn stdin() -> ManuallyDrop<File> {
    // SAFETY: fd 0 is this process's stdin; ManuallyDrop keeps it open.
    ManuallyDrop::new(unsafe { File::from_raw_fd(0) })
}

/// The attachment root from the command line (also `deliver`'s).
pub fn source(args: &FilterArgs) -> Result<FsRoot, String> {
    let root = args.root.as_ref().ok_or("--root is required")?;
    FsRoot::new(root).map_err(|e| format!("--root {}: {e}", root.display()))
}

/// The library configuration from the command line (also `deliver`'s).
pub fn config(args: &FilterArgs) -> Result<Config, String> {
    // Every limit has its default in the argument's definition (shown by --help).
    let limits = Limits {
        attachment_bytes: args.max_attachment_size,
        output_bytes: args.max_output_size,
        placeholders: args.max_placeholders,
        header_bytes: args.max_header_size,
        depth: args.max_depth,
        line_bytes: args.max_line_length,
    };
    let mut builder = Config::builder()
        .limits(limits)
        .preflight_window(args.preflight_window)
        .stages(args.stages.clone())
        .unsigned(args.unsigned);
    builder = crate::options::vars_and_key(builder, &args.vars, args.key_file.as_deref())?;
    builder.recipients(&args.recipients).build().map_err(|e| e.to_string())
}

/// Grows the pipe on `fd` to [`PIPE_SIZE`]: fewer, larger wake-ups of the reader. Silently
/// keeps the default when refused or when `fd` is not a pipe.
///
/// The environment variable `MIMEINJECT_PIPE_SIZE` overrides the size in bytes; `0` leaves
/// the pipe as it is (for benchmarks comparing both). exim runs filters with an empty
/// environment, so in production the default applies.
fn grow_pipe(fd: i32) {
    let size = env_size("MIMEINJECT_PIPE_SIZE", PIPE_SIZE as usize);
    if size == 0 {
        return;
    }
    // SAFETY: F_SETPIPE_SZ only changes the pipe's capacity; errors are ignored on purpose.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, size.min(i32::MAX as usize) as i32);
    }
}

/// A size from the environment variable `name` (bytes), else `default`.
fn env_size(name: &str, default: usize) -> usize {
    let value = std::env::var_os(name);
    value.and_then(|v| v.to_str()?.trim().parse().ok()).unwrap_or(default)
}

/// Reads stdin to its end, so the MTA's writer never sees a broken pipe.
pub fn drain(stdin: &mut File) {
    let mut sink = [0u8; 64 << 10];
    while let Ok(n) = stdin.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

/// Reads stdin to its end (for failures outside [`run`]).
pub fn drain_stdin() {
    drain(&mut stdin());
}

/// `mimeinject encode`: MIME base64 of a file or stdin on stdout.
pub fn encode(crlf: bool, file: Option<&std::path::Path>) -> Result<(), String> {
    let eol = if crlf { mimeinject::Eol::CrLf } else { mimeinject::Eol::Lf };
    // SAFETY: fd 1 is stdout; ManuallyDrop keeps it open.
    let mut stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    grow_pipe(1);
    let mut scratch = Vec::new();
    let result = match file {
        Some(path) => {
            let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            mimeinject::encode::copy_encoded(&mut f, &mut *stdout, eol, &mut scratch)
        }
        None => {
            // SAFETY: fd 0 is stdin; ManuallyDrop keeps it open.
            let mut stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
            mimeinject::encode::copy_encoded(&mut *stdin, &mut *stdout, eol, &mut scratch)
        }
    };
    result.map(drop).map_err(|e| e.to_string())
}
