//! `mimeinject check`: lints messages before they are queued.
//!
//! Each message runs through the filter's own plan, in its check-only mode ([`Plan::check`]):
//! every file is opened (not read) beneath the root, so a message that passes here fails at
//! delivery only if its files change in between.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use mimeinject::driver::{Io, Plan};
use mimeinject::{AttachmentSource, Config, Form, FsRoot};

/// Checks every file; `Err` names how many failed.
pub fn run(
    root: &Path,
    vars: &[String],
    recipients: &[String],
    key_file: Option<&Path>,
    files: &[PathBuf],
) -> Result<(), String> {
    let config = crate::options::vars_and_key(Config::builder(), vars, key_file)?
        .recipients(recipients)
        .build()
        .map_err(|e| e.to_string())?;
    let source = FsRoot::new(root).map_err(|e| format!("--root {}: {e}", root.display()))?;
    // Progress goes to stderr only on a terminal, a person running `check`: never under an
    // MTA, where stderr is a pipe (and, when it is stdout, main has pointed it at /dev/null).
    let progress = files.len() > 1 && std::io::stderr().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for (i, file) in files.iter().enumerate() {
        if progress {
            eprint!("\r\x1b[K[{}/{}] {}", i + 1, files.len(), file.display());
        }
        let report = check_file(&config, &source, file);
        failed += usize::from(report.is_err());
        let (lines, verdict) = match report {
            Ok(lines) => (lines, "ok".to_owned()),
            Err((lines, reason)) => (lines, format!("FAILED: {reason}")),
        };
        let mut text = String::new();
        for line in lines {
            text.push_str(&format!("{}: {line}\n", file.display()));
        }
        text.push_str(&format!("{}: {verdict}\n", file.display()));
        if progress {
            eprint!("\r\x1b[K");
        }
        out.write_all(text.as_bytes()).map_err(|e| format!("writing the report: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing the report: {e}"))?;
    if progress {
        eprintln!("checked {} messages, {failed} failed", files.len());
    }
    match failed {
        0 => Ok(()),
        n => Err(format!("check: {n} of {} messages failed", files.len())),
    }
}

/// One line per placeholder found, then the verdict.
fn check_file(
    config: &Config,
    source: &FsRoot,
    file: &Path,
) -> Result<Vec<String>, (Vec<String>, String)> {
    let mut lines = Vec::new();
    let input = match std::fs::read(file) {
        Ok(input) => input,
        Err(e) => return Err((lines, format!("cannot read: {e}"))),
    };
    let mut plan = Plan::check(config, input);
    loop {
        match plan.next_io() {
            Err(e) => return Err((lines, e.to_string())),
            Ok(Io::Open { placeholder: p, at }) => {
                let form = match p.form {
                    Form::Stub => "stub part",
                    Form::BodyLine => "body line",
                };
                let what = format!(
                    "placeholder ({form}) before byte {at}: path {:?}, filename {:?}, type {}",
                    p.path, p.filename, p.media_type
                );
                let opened = match source.open(&p.path) {
                    Ok(opened) => opened,
                    Err(e) => {
                        lines.push(format!("{what}: {}", e.reason));
                        return Err((lines, e.to_string()));
                    }
                };
                lines.push(format!("{what}: {} bytes", opened.len));
                if let Err(e) = plan.opened(opened) {
                    return Err((lines, e.to_string()));
                }
            }
            Ok(Io::Done(_)) => {
                if lines.is_empty() {
                    lines.push("no placeholder".to_owned());
                }
                return Ok(lines);
            }
            Ok(Io::Continue) => {}
            Ok(other) => unreachable!("a check does no other I/O: {other:?}"),
        }
    }
}
