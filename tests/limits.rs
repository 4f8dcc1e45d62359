//! The limits and their defaults, through the binary: every `--max-*` option is applied at
//! its exact boundary, the defaults are the ones `--help` and the man page show, and the
//! defaults refuse an amplifying message before writing anything (issue 13).

use std::fs;
use std::path::Path;

use mimeinject::Limits;

use crate::bin;
use crate::support::Output;

/// Each limit's flag and its default, as the library defines it.
fn flags() -> Vec<(&'static str, String)> {
    let d = Limits::default();
    vec![
        ("--max-attachment-size", d.attachment_bytes.to_string()),
        ("--max-output-size", d.output_bytes.to_string()),
        ("--max-placeholders", d.placeholders.to_string()),
        ("--max-header-size", d.header_bytes.to_string()),
        ("--max-depth", d.depth.to_string()),
        ("--max-line-length", d.line_bytes.to_string()),
        ("--preflight-window", mimeinject::config::DEFAULT_PREFLIGHT_WINDOW.to_string()),
    ]
}

#[test]
fn help_and_man_show_every_default() {
    let (help, _) = bin::run(&["--help"], b"");
    help.assert_success("--help");
    let help = String::from_utf8(help.stdout).unwrap();
    let (man, _) = bin::run(&["man"], b"");
    man.assert_success("man");
    let man = String::from_utf8(man.stdout).unwrap();
    for (flag, default) in flags() {
        // --help: the flag's paragraph ends with "[default: N]".
        let para = help.split(&format!("{flag} <")).nth(1).unwrap_or_else(|| panic!("{flag}"));
        let para = para.split("\n\n  ").next().unwrap();
        assert!(para.contains(&format!("[default: {default}]")), "--help, {flag}: {para}");
        // The man page: "\fB\-\-max\-depth\fR \fI<N>\fR [default: 100]".
        let roff = flag.replace('-', "\\-");
        let line = man.lines().find(|l| l.starts_with(&format!("\\fB{roff}\\fR")));
        let line = line.unwrap_or_else(|| panic!("man page: no {flag}"));
        assert!(line.ends_with(&format!("[default: {default}]")), "man page: {line}");
    }
    let d = Limits::default();
    assert_eq!((d.output_bytes, d.attachment_bytes), (50_000_000, 37_012_950));
    assert_eq!((d.placeholders, d.header_bytes, d.depth, d.line_bytes), (64, 1 << 20, 100, 16384));
}

/// A root with `a.txt` (6 bytes) and two sparse files of `big` bytes (nothing stored).
fn root(big: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), b"hello\n").unwrap();
    for name in ["big1.bin", "big2.bin"] {
        fs::File::create(dir.path().join(name)).unwrap().set_len(big).unwrap();
    }
    dir
}

fn run(root: &Path, args: &[&str], msg: &str) -> Output {
    let log = root.with_extension("log");
    let _ = fs::remove_file(&log);
    let mut all = vec!["--root", root.to_str().unwrap(), "--log-file", log.to_str().unwrap()];
    all.extend_from_slice(args);
    let (mut out, fed) = bin::run(&all, msg.as_bytes());
    fed.unwrap();
    // The reason, if any, as stderr: the log's one line.
    out.stderr = fs::read(&log).unwrap_or_default();
    out
}

fn stubs(paths: &[&str]) -> String {
    let mut msg = String::from("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n");
    for p in paths {
        msg.push_str(&format!("--b\nContent-Type: application/x-mimeinject; path={p}\n\n"));
    }
    msg + "--b--\n"
}

/// Refused with `reason` in the log, and with pre-flight on, nothing written.
fn assert_refused(out: &Output, reason: &str, what: &str) {
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: not refused");
    assert!(log.contains(reason), "{what}: {log}");
    assert!(out.stdout.is_empty(), "{what}: wrote {} bytes", out.stdout.len());
}

/// The amplification: with the old defaults a 333-byte message produced 4.25 GB. Two
/// sparse 30 MB files each fit the attachment default but not, together, the output
/// default; a 40 MB one is over the attachment default. Pre-flight refuses both before
/// reading a byte of them.
#[test]
fn the_defaults_refuse_amplification_before_writing() {
    let dir = root(30_000_000);
    let out = run(dir.path(), &[], &stubs(&["big1.bin", "big2.bin"]));
    assert_refused(&out, "limit exceeded: output bytes (limit 50000000)", "two 30 MB files");
    let dir = root(40_000_000);
    let out = run(dir.path(), &[], &stubs(&["big1.bin"]));
    assert_refused(&out, "limit exceeded: attachment bytes (limit 37012950)", "a 40 MB file");
    // One 30 MB file goes out, within the output default.
    let dir = root(30_000_000);
    let out = run(dir.path(), &[], &stubs(&["big1.bin"]));
    out.assert_success("one 30 MB file");
    assert!(out.stdout.len() > 40_000_000 && out.stdout.len() <= 50_000_000);
}

/// Every `--max-*` option at its boundary: the message that needs exactly N passes with N and
/// is refused with N - 1, naming the limit.
#[test]
fn every_limit_option_applies_at_its_boundary() {
    let dir = root(0);
    let root = dir.path();
    let pass = |args: &[&str], msg: &str, what: &str| run(root, args, msg).assert_success(what);
    let refuse = |args: &[&str], msg: &str, reason: &str| {
        assert_refused(&run(root, args, msg), reason, &format!("{args:?}"))
    };

    let one = stubs(&["a.txt"]);
    pass(&["--max-attachment-size", "6"], &one, "attachment of 6");
    refuse(&["--max-attachment-size", "5"], &one, "attachment bytes (limit 5)");

    let len = run(root, &[], &one).stdout.len().to_string();
    let less = (len.parse::<u64>().unwrap() - 1).to_string();
    pass(&["--max-output-size", &len], &one, "output of exactly its size");
    refuse(&["--max-output-size", &less], &one, &format!("output bytes (limit {less})"));
    // Streaming, the output stops before the limit.
    let out = run(root, &["--max-output-size", &less, "--preflight-window", "0"], &one);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.len() < len.parse().unwrap());

    let two = stubs(&["a.txt", "a.txt"]);
    pass(&["--max-placeholders", "2"], &two, "2 placeholders");
    refuse(&["--max-placeholders", "1"], &two, "placeholders (limit 1)");

    // A header block of exactly N bytes is followed; one over, the structure is lost, and the
    // placeholder after it is refused.
    let x = "X-Long: ".to_owned() + &"x".repeat(100) + "\n";
    let with_header = format!("{x}{one}");
    let block = (x.len() + one.split_once("\n\n").unwrap().0.len() + 2).to_string();
    let less = (block.parse::<u64>().unwrap() - 1).to_string();
    pass(&["--max-header-size", &block], &with_header, "header block of its size");
    refuse(&["--max-header-size", &less], &with_header, "header block too long");

    let nested = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n--o\n\
                  Content-Type: multipart/mixed; boundary=i\n\n--i\n\
                  Content-Type: application/x-mimeinject; path=a.txt\n\n--i--\n--o--\n";
    pass(&["--max-depth", "2"], nested, "depth 2");
    refuse(&["--max-depth", "1"], nested, "multipart nesting too deep");

    let line = "mimeinject: path=a.txt\n";
    let body_line = format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
         Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n{line}--b--\n"
    );
    let n = line.len().to_string();
    let less = (line.len() - 1).to_string();
    pass(&["--max-line-length", &n], &body_line, "placeholder line of its length");
    refuse(&["--max-line-length", &less], &body_line, "placeholder line bytes");
}

/// The chapter of the guide with the limits.
const CHAPTER: &str = "docs/limits-and-security.md";

/// The guide's Limits table (docs/limits-and-security.md, "Limits") gives the same defaults as
/// the library (and so `--help`).
#[test]
fn the_guide_states_the_defaults() {
    let chapter = crate::support::readme::document(CHAPTER);
    let section = chapter.split("\n## Limits\n").nth(1).unwrap().split("\n## ").next().unwrap();
    let parse = |cell: &str| -> u64 {
        let cell = cell.trim().replace(',', "");
        match cell.split_once(' ') {
            Some((n, "MiB")) => n.parse::<u64>().unwrap() << 20,
            Some((n, "KiB")) => n.parse::<u64>().unwrap() << 10,
            _ => cell.parse().unwrap_or_else(|_| panic!("{cell:?}")),
        }
    };
    for (flag, default) in flags() {
        let row = section.lines().find(|l| l.starts_with(&format!("| `{flag} ")));
        let row = row.unwrap_or_else(|| panic!("{CHAPTER}, Limits: no row for {flag}"));
        let cell = row.split('|').nth(2).unwrap();
        assert_eq!(parse(cell).to_string(), default, "{CHAPTER}, Limits, {flag}");
    }
    let most = format!("{} by default", "50,000,000");
    assert!(section.contains(&most), "the most one delivery can produce");
}
