//! Where the log lines go.
//!
//! - The one-line failure reason: syslog (facility mail, level err), `--log-file`, and stderr
//!   only when stderr is not the same file as stdout. Under exim stderr *is* stdout's pipe,
//!   and anything written there would land in the mail.
//! - The delivery line, for a message that had files attached: syslog (level info) and
//!   `--log-file`, never stderr (a caller that reads stderr, like the Postfix wrapper, takes
//!   anything there as a problem).
//! - When `--log-file` cannot be written (opened or appended to), the run's outcome does not
//!   change: the line still goes to syslog, followed by one line at level warning,
//!   `--log-file PATH: cannot write: ERROR`.
//!
//! With `--queue-id`, every line starts with `ID: `.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// Decides once, at start-up, whether stderr may be written. When it may not, fd 2 is pointed
/// at /dev/null so that nothing (a library's message, a panic) can reach the mail. It may not
/// when it is the same open file as stdout (exim's one pipe for both), unless that file is a
/// terminal: then a person is reading, not an MTA.
pub fn stderr_is_separate() -> bool {
    // SAFETY: isatty only inspects fd 2.
    let same = same_file(1, 2) && unsafe { libc::isatty(2) } == 0;
    if same {
        // SAFETY: plain syscalls on fds this process owns; failure leaves fd 2 as it was.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if null >= 0 {
                libc::dup2(null, 2);
                libc::close(null);
            }
        }
    }
    !same
}

/// Whether two fds are the same open file (same device and inode).
fn same_file(a: i32, b: i32) -> bool {
    // SAFETY: fstat writes into the zeroed struct we own; the fds are only inspected.
    unsafe {
        let mut sa: libc::stat = std::mem::zeroed();
        let mut sb: libc::stat = std::mem::zeroed();
        if libc::fstat(a, &mut sa) != 0 || libc::fstat(b, &mut sb) != 0 {
            // fd 2 closed or unusable: never write to it.
            return true;
        }
        sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}

/// Longest failure line, in characters: one reason.
const FAILURE_CHARS: usize = 900;
/// Longest delivery line, in characters: below rsyslog's default `maxMessageSize` (8 KiB)
/// with room for the syslog header. The counts come first, so a cut line keeps them.
const DELIVERY_CHARS: usize = 4000;

/// The log.
pub struct Log {
    pub file: Option<PathBuf>,
    pub syslog: bool,
    pub stderr: bool,
    /// `--queue-id`: the start of every line.
    pub queue_id: Option<String>,
}

impl Log {
    /// Writes `reason` (made one line) everywhere it should go. Logging never fails the run.
    pub fn failure(&self, reason: &str) {
        self.write(reason, FAILURE_CHARS, Level::Err);
    }

    /// Logs a message that had files attached: `line` (see [`delivery_line`]) goes to syslog
    /// at level info and to the log file, never to stderr.
    pub fn delivery(&self, line: &str) {
        self.write(line, DELIVERY_CHARS, Level::Info);
    }

    /// Logs a problem that does not change the run's outcome (a `--records` record not
    /// written): syslog at level warning and the log file, never stderr.
    pub fn warning(&self, text: &str) {
        self.write(text, FAILURE_CHARS, Level::Warning);
    }

    fn write(&self, text: &str, max: usize, level: Level) {
        let failure = matches!(level, Level::Err);
        let prefix = self.queue_id.as_deref().map(|id| format!("{id}: ")).unwrap_or_default();
        let mut line = one_line(&(prefix + text), max + 1);
        if line.chars().count() > max {
            line = line.chars().take(max - 3).collect::<String>() + "...";
        }
        let pid = std::process::id();
        let mut unwritable = None;
        if let Some(path) = &self.file {
            let stamped = format!("{} mimeinject[{pid}]: {line}\n", utc_now());
            let written = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(stamped.as_bytes()));
            unwritable =
                written.err().map(|e| format!("--log-file {}: cannot write: {e}", path.display()));
        }
        self.syslog(level, &line);
        // The run's outcome stays what it was: syslog has the line, and says why the file has not.
        if let Some(warning) = unwritable {
            let id = self.queue_id.as_deref().map(|id| format!("{id}: ")).unwrap_or_default();
            self.syslog(Level::Warning, &one_line(&(id + &warning), FAILURE_CHARS));
        }
        if failure && self.stderr {
            let _ = writeln!(std::io::stderr(), "mimeinject: {line}");
        }
    }

    /// Sends `line` to syslog (facility mail) at `level`, unless syslog is off. Never fails.
    fn syslog(&self, level: Level, line: &str) {
        if !self.syslog {
            return;
        }
        let formatter = syslog::Formatter3164 {
            facility: syslog::Facility::LOG_MAIL,
            hostname: None,
            process: "mimeinject".into(),
            pid: std::process::id(),
        };
        if let Ok(mut logger) = syslog::unix(formatter) {
            let _ = match level {
                Level::Err => logger.err(line),
                Level::Warning => logger.warning(line),
                Level::Info => logger.info(line),
            };
        }
    }
}

/// A syslog severity used here.
enum Level {
    Err,
    Warning,
    Info,
}

/// `text` as one line: control characters (line breaks among them) become spaces, and at most
/// `max` characters are kept.
pub fn one_line(text: &str, max: usize) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect()
}

/// The delivery line for a message to `recipients` (how many were given) that had
/// `attached` added: `N recipient(s), M attachment(s) (B bytes): "path" B bytes, ...`.
pub fn delivery_line(recipients: &[String], attached: &[mimeinject::Attached]) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let total: u64 = attached.iter().map(|a| a.bytes).sum();
    let mut line = format!(
        "{}, {} ({total} bytes):",
        plural(recipients.len(), "recipient"),
        plural(attached.len(), "attachment")
    );
    for (i, a) in attached.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        line.push_str(&format!("{sep}{:?} {} bytes", a.path, a.bytes));
    }
    // Who got them: the recipients given after `--`, last, so that a line cut at its limit
    // keeps the counts and the files.
    for (i, r) in recipients.iter().enumerate() {
        let sep = if i == 0 { "; to " } else { ", " };
        line.push_str(&format!("{sep}<{}>", r.escape_debug()));
    }
    line
}

/// The message of the last panic, recorded by the hook instead of being printed.
pub static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// A panic hook that records the panic instead of printing it.
pub fn record_panic(info: &std::panic::PanicHookInfo<'_>) {
    let what = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into());
    let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
    if let Ok(mut slot) = PANIC.lock() {
        *slot = Some(format!("internal error (panic: {what}{at})"));
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn delivery_line_counts_first() {
        let a = |path: &str, bytes| mimeinject::Attached { path: path.into(), bytes };
        let one = ["user@example.test".to_owned()];
        let line = super::delivery_line(&one, &[a("inv/42.pdf", 513), a("a \"b\".txt", 2)]);
        assert_eq!(
            line,
            r#"1 recipient, 2 attachments (515 bytes): "inv/42.pdf" 513 bytes, "a \"b\".txt" 2 bytes; to <user@example.test>"#
        );
        let three = ["a@x.test", "b@x.test", "c\n@x.test"].map(String::from);
        assert_eq!(
            super::delivery_line(&three, &[a("x", 1)]),
            r#"3 recipients, 1 attachment (1 bytes): "x" 1 bytes; to <a@x.test>, <b@x.test>, <c\n@x.test>"#
        );
        assert_eq!(
            super::delivery_line(&[], &[a("x", 1)]),
            r#"0 recipients, 1 attachment (1 bytes): "x" 1 bytes"#
        );
    }

    #[test]
    fn utc_format_has_the_right_shape() {
        let s = super::utc_now();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }
}
