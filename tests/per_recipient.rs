//! Per-recipient files through the binary: `{rcpt}` and every `{NAME}` are per-delivery values,
//! expanded only when the delivery has exactly one recipient (the rule in
//! `ConfigBuilder`'s docs and docs/exim.md, "Per-recipient files"); the delivery log line
//! (`--queue-id`, `--no-delivery-log`).
//!
//! The real-exim variants (one smtp transaction or one local batch for 4 recipients) are in
//! `tests/exim.rs`.

use std::fs;
use std::process::Command;

use crate::bin::{self, testdata};
use crate::support;
use crate::support::shared::cases;

/// `../shared/cases/per-recipient/run.sh`: one delivery to two recipients with
/// `--var rcpt=` set to the first must be refused (non-zero exit, empty stdout).
#[test]
fn shared_case_per_recipient() {
    let Some(cases) = cases() else { return };
    let out = support::run(
        Command::new("sh")
            .arg(cases.join("per-recipient/run.sh"))
            .env("MIMEINJECT", bin::path())
            .env_remove("CI"),
        b"",
        bin::TIMEOUT,
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && report.contains("PASS"), "{report}");
}

fn root() -> String {
    testdata().join("files").to_str().unwrap().to_owned()
}

fn message(name: &str) -> Vec<u8> {
    fs::read(testdata().join("messages").join(name)).unwrap()
}

/// Runs the filter on `per-recipient.eml` (path `statements/{rcpt}/statement.txt`) with a log
/// file; the output, whether it succeeded, and the log.
fn run(extra: &[&str], input: &[u8]) -> (Vec<u8>, bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let root = root();
    let mut args = vec!["--root", root.as_str(), "--log-file", log.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (out, fed) = bin::run(&args, input);
    assert!(fed.is_ok(), "stdin read to its end");
    assert!(out.stderr.is_empty() || !out.status.success(), "stderr on success: {out:?}");
    (out.stdout, out.status.success(), fs::read_to_string(log).unwrap_or_default())
}

fn assert_refused((out, ok, log): &(Vec<u8>, bool, String), why: &str) {
    assert!(!ok, "refused");
    assert!(out.is_empty(), "nothing written: {}", String::from_utf8_lossy(out));
    assert_eq!(log.lines().count(), 1, "one line: {log}");
    assert!(log.contains(why), "{why:?} in {log}");
}

#[test]
fn one_recipient_fills_rcpt() {
    let (out, ok, log) = run(&["--", "user@example.test"], &message("per-recipient.eml"));
    assert!(ok, "{log}");
    let expected = fs::read(testdata().join("expected/per-recipient.eml")).unwrap();
    assert!(out == expected, "the golden output");
}

#[test]
fn several_recipients_are_refused() {
    let m = message("per-recipient.eml");
    let two = ["--", "user@example.test", "other@example.test"];
    assert_refused(&run(&two, &m), "this delivery has 2 recipients");
    // No recipient at all: nothing says whose file it would be.
    assert_refused(&run(&[], &m), "no recipient was given");
}

#[test]
fn rcpt_cannot_be_set_with_var() {
    let m = message("per-recipient.eml");
    // Not alone, not with several recipients, not even equal to the one recipient.
    for extra in [
        &["--var", "rcpt=user@example.test"][..],
        &["--var", "rcpt=user@example.test", "--", "user@example.test", "other@example.test"],
        &["--var", "rcpt=user@example.test", "--", "user@example.test"],
    ] {
        assert_refused(&run(extra, &m), "$pipe_addresses");
    }
}

/// A per-recipient value given as any other variable (`--var lp=$local_part_data`) leaks in
/// a batch exactly like `{rcpt}` would: it is refused the same way.
#[test]
fn any_variable_is_per_delivery() {
    let m = String::from_utf8(message("per-recipient.eml"))
        .unwrap()
        .replace("statements/{rcpt}/statement.txt", "statements/{lp}@{dom}/statement.txt")
        .into_bytes();
    let vars = ["--var", "lp=user", "--var", "dom=example.test"];
    let one = [&vars[..], &["--", "user@example.test"]].concat();
    let (out, ok, log) = run(&one, &m);
    let expected = fs::read(testdata().join("expected/per-recipient.eml")).unwrap();
    assert!(ok && out == expected, "{log}");
    let two = [&vars[..], &["--", "user@example.test", "other@example.test"]].concat();
    assert_refused(&run(&two, &m), "this delivery has 2 recipients");
    assert_refused(&run(&vars, &m), "no recipient was given");
}

/// What `$local_part_data@$domain_data` and `$local_part_data` give on a router that sets
/// neither (Debian's dnslookup and smarthost): refused outright.
#[test]
fn empty_values_and_a_bare_at_are_refused() {
    let m = message("plain.eml");
    for var in ["lp=", "lp=@"] {
        assert_refused(&run(&["--var", var, "--", "user@example.test"], &m), "refused");
    }
    let p = message("per-recipient.eml");
    for rcpt in ["@", "user@", "@example.test", ""] {
        assert_refused(&run(&["--", rcpt], &p), "is not local@domain");
    }
}

/// Recipients only matter to a path that uses them: a message without one passes
/// byte-identical whatever the recipients, and so does an odd address.
#[test]
fn placeholder_free_mail_ignores_recipients() {
    let m = message("plain.eml");
    for extra in [&["--", "a@example.test", "b@example.test"][..], &["--", "@"], &[]] {
        let (out, ok, log) = run(extra, &m);
        assert!(ok && out == m, "{extra:?}: {log}");
        assert!(log.is_empty(), "no delivery line without an attachment: {log}");
    }
}

/// `$pipe_addresses` comes after `--`: an address that looks like an option is a recipient.
#[test]
fn addresses_after_double_dash_are_never_options() {
    let m = message("per-recipient.eml");
    let (out, ok, log) = run(&["--", "--max-depth=0@example.test"], &m);
    // As an option it would be a usage error; as the recipient it names a missing file.
    assert!(!ok && out.is_empty(), "{log}");
    assert!(log.contains("\"statements/--max-depth=0@example.test/statement.txt\""), "{log}");
}

#[test]
fn delivery_line_lists_each_attachment() {
    let (out, ok, log) = run(&["--queue-id", "1xY7gw-0002WA-0L"], &message("several.eml"));
    assert!(ok && !out.is_empty(), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    let size = |p: &str| fs::metadata(testdata().join("files").join(p)).unwrap().len();
    let expected = format!(
        "mimeinject[{pid}]: 1xY7gw-0002WA-0L: 0 recipients, 3 attachments ({total} bytes): \
         \"invoices/inv-42.pdf\" {} bytes, \"report.csv\" {} bytes, \"logo.png\" {} bytes",
        size("invoices/inv-42.pdf"),
        size("report.csv"),
        size("logo.png"),
        pid = lines[0].split("mimeinject[").nth(1).unwrap().split(']').next().unwrap(),
        total = size("invoices/inv-42.pdf") + size("report.csv") + size("logo.png"),
    );
    assert!(lines[0].ends_with(&expected), "{}\n{expected}", lines[0]);

    let (_, ok, log) = run(&["--no-delivery-log"], &message("several.eml"));
    assert!(ok && log.is_empty(), "{log}");
}

/// `--queue-id` starts every line, failures included.
#[test]
fn queue_id_starts_failure_lines() {
    let (_, ok, log) = run(&["--queue-id", "1xY7gw-0002WA-0L"], &message("missing-file.eml"));
    assert!(!ok);
    let line = log.lines().next().unwrap_or_default();
    let after_pid = line.split("]: ").nth(1).unwrap_or_default();
    assert!(after_pid.starts_with("1xY7gw-0002WA-0L: "), "{line}");
}

/// The library side of the delivery line: `Summary::attachments` lists each file added, in
/// message order, with its size; `{rcpt}` comes from `ConfigBuilder::recipients`.
#[test]
fn summary_lists_the_attachments() {
    let mut files = mimeinject::MemorySource::new();
    files.insert("statements/a@example.test/s.txt", b"12345".to_vec());
    files.insert("logo.png", vec![0u8; 300]);
    let message = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
        Content-Type: application/x-mimeinject; path=\"statements/{rcpt}/s.txt\"\n\n--b\n\
        Content-Type: application/x-mimeinject; path=logo.png\n\n--b--\n";
    let config = mimeinject::Config::builder().recipients(["a@EXAMPLE.test"]).build().unwrap();
    let mut out = Vec::new();
    let summary = mimeinject::rewrite(&config, &files, &mut message.as_bytes(), &mut out).unwrap();
    let got: Vec<(&str, u64)> =
        summary.attachments.iter().map(|a| (a.path.as_str(), a.bytes)).collect();
    assert_eq!(got, [("statements/a@example.test/s.txt", 5), ("logo.png", 300)]);
    assert_eq!(summary.replaced, 2);
}
