//! The binary's behaviour as a filter: samples, exit codes, logging, stdin.

use std::fs;
use std::process::{Command, Stdio};

use crate::bin::{self, testdata};

fn root() -> String {
    testdata().join("files").to_str().unwrap().to_owned()
}

fn message(name: &str) -> Vec<u8> {
    fs::read(testdata().join("messages").join(name)).unwrap()
}

/// Runs a sample and checks its attachments with Python's parser.
fn sample(name: &str, extra: &[&str], attachments: &[(&str, &str)]) {
    let root = root();
    let mut args = vec!["--root", root.as_str()];
    args.extend_from_slice(extra);
    let (out, fed) = bin::run(&args, &message(name));
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(fed.is_ok());
    assert!(out.stderr.is_empty());
    if !bin::python3() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.eml");
    fs::write(&file, &out.stdout).unwrap();
    let mut check = Command::new("python3");
    check.arg(testdata().join("../scripts/mime_check.py")).arg(&file);
    for (name, path) in attachments {
        check.arg(format!("{name}={root}/{path}"));
    }
    let res = check.output().unwrap();
    assert!(res.status.success(), "{name}: {}", String::from_utf8_lossy(&res.stdout));
}

#[test]
fn samples_decode_to_their_files() {
    sample("invoice.eml", &[], &[("Invoice 42.pdf", "invoices/inv-42.pdf")]);
    sample("invoice-crlf.eml", &[], &[("Invoice 42.pdf", "invoices/inv-42.pdf")]);
    sample("body-line.eml", &[], &[("report.csv", "report.csv")]);
    sample(
        "nested.eml",
        &[],
        &[("logo.png", "logo.png"), ("Order 42 – Rechnung.pdf", "invoices/inv-42.pdf")],
    );
    sample(
        "several.eml",
        &[],
        &[
            ("inv-42.pdf", "invoices/inv-42.pdf"),
            ("report.csv", "report.csv"),
            ("logo.png", "logo.png"),
        ],
    );
    sample(
        "per-recipient.eml",
        &["--", "user@example.test"],
        &[("statement.txt", "statements/user@example.test/statement.txt")],
    );
    sample("single-part.eml", &[], &[("report.csv", "report.csv")]);
}

#[test]
fn crlf_in_gives_crlf_out() {
    let (out, _) = bin::run(&["--root", &root()], &message("invoice-crlf.eml"));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.replace("\r\n", "").contains('\n'), "a bare LF in the output");
    let (lf, _) = bin::run(&["--root", &root()], &message("invoice.eml"));
    assert_eq!(text.replace("\r\n", "\n").as_bytes(), lf.stdout.as_slice());
}

#[test]
fn plain_message_passes_through() {
    let input = message("plain.eml");
    let (out, _) = bin::run(&["--root", &root()], &input);
    assert!(out.status.success());
    assert_eq!(out.stdout, input);
}

#[test]
fn missing_file_fails_closed_with_one_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log_arg = log.to_str().unwrap();
    for (extra, code) in [(vec![], 1), (vec!["--failure-exit-code", "75"], 75)] {
        let mut args = vec!["--root", &*Box::leak(root().into_boxed_str()), "--log-file", log_arg];
        args.extend(extra);
        let (out, fed) = bin::run(&args, &message("missing-file.eml"));
        assert_eq!(out.status.code(), Some(code));
        assert!(out.stdout.is_empty(), "pre-flight must write nothing");
        assert!(fed.is_ok(), "stdin was not read to its end");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("does-not-exist.pdf") && stderr.lines().count() == 1, "{stderr}");
    }
    let logged = fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 2, "{logged}");
    assert!(logged.lines().all(|l| l.contains("mimeinject[") && l.contains("does-not-exist.pdf")));
}

#[test]
fn nothing_reaches_stderr_when_it_is_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let both = fs::File::create(dir.path().join("both")).unwrap();
    let mut child = Command::new(bin::path())
        .args(["--root", &root(), "--no-syslog"])
        .stdin(Stdio::piped())
        .stdout(both.try_clone().unwrap())
        .stderr(both)
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &message("missing-file.eml"))
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(fs::read(dir.path().join("both")).unwrap(), b"", "text reached the shared pipe");
}

/// A person at a terminal sees the reason: stdout and stderr are the same terminal there,
/// which is not the MTA's shared pipe. The reason went to /dev/null, and `mimeinject
/// --bogus` printed nothing at all. Run under script(1) (util-linux, Debian's bsdutils),
/// which gives the command a pseudo-terminal for stdin, stdout and stderr.
#[test]
fn a_terminal_sees_the_reason() {
    let command =
        format!("{} --root /nonexistent-root --no-syslog </dev/null", bin::path().display());
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mimeinject: --root /nonexistent-root"), "nothing shown: {text:?}");
}

#[test]
fn streaming_failure_still_reads_all_input() {
    // Larger than the pre-flight window, placeholder at the end: the failure comes after
    // output has started, and stdin must still be read to its end.
    let mut input = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n".to_vec();
    input.extend(std::iter::repeat_n(b"filler line of text\n".as_slice(), 200_000).flatten());
    input.extend_from_slice(b"--b\nContent-Type: application/x-mimeinject; path=nope\n\n--b--\n");
    input.extend(std::iter::repeat_n(b"epilogue\n".as_slice(), 100_000).flatten());
    let (out, fed) = bin::run(&["--root", &root()], &input);
    assert_eq!(out.status.code(), Some(1));
    assert!(fed.is_ok(), "stdin was not read to its end");
    assert!(!out.stdout.is_empty(), "streaming should have started");
}

#[test]
fn usage_errors_use_the_failure_code() {
    let (out, fed) = bin::run(&["--bogus", "--failure-exit-code", "75"], b"Subject: x\n\n");
    assert_eq!(out.status.code(), Some(75));
    assert!(fed.is_ok());
    let (out, _) = bin::run(&["--var", "x=../y", "--root", &root()], b"Subject: x\n\n");
    assert_eq!(out.status.code(), Some(1));
    let (out, _) = bin::run(&[], b"Subject: x\n\n");
    assert_eq!(out.status.code(), Some(1), "--root is required");
}

#[test]
fn path_outside_the_root_is_refused() {
    let passwd = fs::read("/etc/passwd").unwrap();
    for path in ["../../../../etc/passwd", "/etc/passwd"] {
        let msg = format!(
            "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
             Content-Type: application/x-mimeinject; path=\"{path}\"\n\n--b--\n"
        );
        let (out, _) = bin::run(&["--root", &root()], msg.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert!(out.stdout.is_empty());
        let first = &passwd[..passwd.len().min(20)];
        assert!(!out.stderr.windows(first.len()).any(|w| w == first));
    }
}

/// `--add-header` and `--strip-header` reach the filter, in command-line order, and touch
/// the top-level header block only (an attached message keeps its own fields).
#[test]
fn header_stages_run_in_command_line_order() {
    let root = root();
    let input = b"Received: x\nX-A: 1\nSubject: s\nMIME-Version: 1.0\n\
        Content-Type: multipart/mixed; boundary=b\n\n--b\n\
        Content-Type: message/rfc822\n\nReceived: inner\nX-A: inner\n\nhi\n--b--\n";
    let args = [
        "--root",
        &root,
        "--strip-header",
        "X-A",
        "--add-header",
        "X-A: 2",
        "--strip-header",
        "received",
        "--add-header",
        "X-B: 3",
    ];
    let (out, _) = bin::run(&args, input);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (top, rest) = text.split_once("\n\n").unwrap();
    assert_eq!(
        top,
        "Subject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\nX-A: 2\nX-B: 3"
    );
    assert!(rest.contains("Received: inner\nX-A: inner\n"), "{rest}");

    // A stage that is refused is a configuration error, with the failure code.
    let (out, _) = bin::run(&["--root", &root, "--add-header", "X-Bad"], b"Subject: s\n\nx\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}
