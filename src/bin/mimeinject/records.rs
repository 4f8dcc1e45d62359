//! `--records DIR`: one file per failed message, for exim's router to bounce it with the reason.
//!
//! exim retries a failing `transport_filter` at every queue run, for ever, and tells the
//! sender nothing (docs/operations.md, "Operations under exim"). With `--records DIR` and
//! `--queue-id ID`, a failed run writes `DIR/ID` holding one line, `CLASS: REASON`
//! (`permanent: …` or `temporary: …`), and a successful run removes it. The router of
//! docs/exim.md ("Bouncing what mimeinject refused") fails the address with that line: at
//! once for a permanent failure, after a configured age for a temporary one.
//!
//! Only a directory owned by this process's user with no access for group or others
//! (mode 0700) is written to. On Debian that is `Debian-exim`, which runs the remote
//! transports' filters; a local delivery's filter runs as the recipient, cannot reach the
//! directory, and writes no record (it logs why). So no local user can forge a record (and
//! bounce someone else's mail) or read one. A record that cannot be written never changes the
//! run's outcome and is never reported on stderr (under exim stderr is the message).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mimeinject::Class;

/// Longest reason kept in a record, in characters (exim puts it in the bounce).
const REASON_CHARS: usize = 900;

/// Whether `id` can name a record: exim's message ids are letters, digits and `-`
/// (`1xY7gw-0002WA-0L`), so nothing else (no `/`, no `.`) is accepted.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Checks that `dir` is a directory owned by this process's effective user, without access
/// for group or others.
fn private_dir(dir: &Path) -> Result<(), String> {
    let meta = fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    if meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{}: not owned by uid {euid} with mode 0700 (owner {}, mode {:o})",
            dir.display(),
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The record's one line: `permanent: REASON` or `temporary: REASON`, control characters
/// made spaces, at most [`REASON_CHARS`] characters of reason.
pub fn line(class: Class, reason: &str) -> String {
    let reason: String =
        reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(REASON_CHARS).collect();
    format!("{}: {}", class.as_str(), reason.trim())
}

/// Writes the record of a failed run: `DIR/ID`, replaced whole (a temporary file renamed).
pub fn write(dir: &Path, id: &str, class: Class, reason: &str) -> Result<(), String> {
    if !valid_id(id) {
        return Err(format!("--queue-id {id:?} cannot name a record"));
    }
    private_dir(dir)?;
    let tmp = dir.join(format!(".{id}.{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(format!("{}\n", line(class, reason)).as_bytes()))
        .and_then(|()| fs::rename(&tmp, dir.join(id)));
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("{}: {e}", dir.join(id).display())
    })
}

/// Removes the record of a message that went through, if there is one. A directory this
/// user may not write records to is left alone in silence: it holds none of this user's (a
/// local delivery, run as the recipient, logs nothing on every success).
pub fn remove(dir: &Path, id: &str) -> Result<(), String> {
    if !valid_id(id) || private_dir(dir).is_err() {
        return Ok(());
    }
    let path = dir.join(id);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The arrival time of an exim message, from its id: the first six characters are the time
/// in base 62 (exim's spec, "Message identification"). `None` for another kind of id.
pub fn arrival(id: &str) -> Option<u64> {
    let head = id.split('-').next()?;
    if head.len() != 6 {
        return None;
    }
    head.bytes().try_fold(0u64, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        Some(acc * 62 + u64::from(digit))
    })
}

/// `3d4h`, `2h5m`, `7m`, `12s`.
pub fn age(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// Whether message `id` is on exim's queue in `spool`: its `-H` file, in `input/` or in the
/// sub-directory of `split_spool_directory` (the id's sixth character).
fn queued(spool: &Path, id: &str) -> bool {
    let header = format!("{id}-H");
    let input = spool.join("input");
    input.join(&header).exists()
        || id.get(5..6).is_some_and(|sub| input.join(sub).join(&header).exists())
}

/// `mimeinject records`: prints one line per record, `ID CLASS AGE REASON` (AGE is the
/// message's, from its id), oldest first. With `spool`, a record whose message is no longer
/// on exim's queue is shown as `gone`, and with `prune` removed.
pub fn list(dir: &Path, spool: Option<&Path>, prune: bool) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut rows: Vec<(u64, String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().filter(|id| valid_id(id)) else { continue };
        let arrived = arrival(id).or_else(|| {
            let mtime = entry.metadata().ok()?.modified().ok()?;
            Some(mtime.duration_since(UNIX_EPOCH).ok()?.as_secs())
        });
        rows.push((arrived.unwrap_or(now), id.to_owned(), entry.path()));
    }
    rows.sort();
    let mut out = std::io::stdout().lock();
    for (arrived, id, path) in rows {
        let text = fs::read_to_string(&path).unwrap_or_default();
        let (class, reason) = text.trim_end().split_once(": ").unwrap_or(("?", text.trim_end()));
        let gone = spool.is_some_and(|spool| !queued(spool, &id));
        let class = if gone { "gone" } else { class };
        let age = age(now.saturating_sub(arrived));
        writeln!(out, "{id} {class} {age} {reason}").map_err(|e| format!("stdout: {e}"))?;
        if gone && prune {
            fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("1xY7gw-0002WA-0L"));
        assert!(valid_id("1xY7gw-000000002WA-0L"));
        for bad in ["", "../x", "a/b", ".x", "-x", "a b", "x\n"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn arrival_time_from_the_id() {
        // 1vR0Ab = 1*62^5 + 57*62^4 + 27*62^3 + 0*62^2 + 10*62 + 37
        let t = 916_132_832 + 57 * 14_776_336 + 27 * 238_328 + 10 * 62 + 37;
        assert_eq!(arrival("1vR0Ab-0002WA-0L"), Some(t));
        assert_eq!(arrival("queue-id"), None);
    }

    #[test]
    fn ages() {
        assert_eq!(age(12), "12s");
        assert_eq!(age(7 * 60 + 3), "7m");
        assert_eq!(age(2 * 3600 + 5 * 60), "2h5m");
        assert_eq!(age(3 * 86400 + 4 * 3600 + 9), "3d4h");
    }

    #[test]
    fn one_line_records() {
        assert_eq!(line(Class::Permanent, "a\nb\r\n"), "permanent: a b");
        assert_eq!(line(Class::Temporary, "x"), "temporary: x");
    }
}
