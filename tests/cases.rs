//! The shared bug-report cases through the binary, judged by their own `run.sh` and
//! `check.py` (read in place from `../shared/cases` next to the repository, or
//! `MIMEINJECT_CASES`), and the placeholder contract's examples in the guide (docs/) through
//! the binary.

use std::process::Command;

use crate::bin;
use crate::support::readme::recipe;

use crate::support::shared::cases;

/// Runs a command that judges the binary; it must exit 0. Its report is shown on failure.
fn judged(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("VERDICT: pass"), "{what}: no verdict:\n{report}");
    report
}

/// A case's own `run.sh`, with this build's binary.
fn run_case(name: &str) {
    let Some(dir) = cases() else { return };
    if !bin::python3() {
        return;
    }
    let mut cmd = Command::new("sh");
    cmd.arg(dir.join(name).join("run.sh")).env("MIMEINJECT", bin::path());
    // Its exit status is the verdict: some cases add information-only runs that may FAIL.
    judged(cmd, name);
}

/// `check.py` on one message of a case directory, with `args` for it.
fn check(case: &str, message: &str, args: &[&str]) -> String {
    let dir = cases().expect("checked by the caller");
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("check.py"))
        .arg("--bin")
        .arg(bin::path())
        .arg("--case")
        .arg(dir.join(case))
        .arg("--message")
        .arg(message)
        .args(args);
    judged(cmd, &format!("{case}/{message}"))
}

#[test]
fn case_14_smime_multipart_signed() {
    run_case("14-smime-multipart-signed");
}

#[test]
fn case_16_dkim_signed_before_filter() {
    run_case("16-dkim-signed-before-filter");
}

#[test]
fn case_19_library_stub_extra_headers() {
    run_case("19-library-stub-extra-headers");
}

#[test]
fn case_20_forwarded_rfc822_and_header_stage() {
    run_case("20-forwarded-rfc822-and-header-stage");
}

#[test]
fn case_24_rfc2047_word_as_stub_filename() {
    run_case("24-rfc2047-word-as-stub-filename");
}

#[test]
fn interop_names_as_libraries_write_them() {
    if cases().is_none() || !bin::python3() {
        return;
    }
    for (message, name) in [
        ("cd-filename-ignored.eml", "Bericht.csv"),
        ("encoded-word-filename.eml", "M\u{e4}rz.csv"),
        ("encoded-word-path.eml", "report.csv"),
    ] {
        let att = format!("{name}|root/report.csv|text/csv|attachment");
        check("interop", message, &["--att", &att]);
    }
}

/// The guide's example of a stub as a library writes it (docs/placeholders.md), delivered
/// through the binary and read back by Python's `email`.
#[test]
fn readme_library_stub_is_delivered_with_its_name() {
    if !bin::python3() {
        return;
    }
    let part = recipe("mime/library-stub.eml");
    let message = format!(
        "From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"=_b1\"\n\
         \n--=_b1\nContent-Type: text/plain\n\nhello\n{part}"
    );
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("statements/user@example.test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("2026-03.pdf"), b"%PDF-1.4 March\n").unwrap();
    let root_arg = root.path().to_str().unwrap();
    let (out, _) = bin::run(&["--root", root_arg, "--", "user@example.test"], message.as_bytes());
    out.assert_success("the guide's library stub");
    let parsed = python_parts(&out.stdout);
    assert!(
        parsed.contains(
            "Rechnung M\u{e4}rz 2026.pdf|application/pdf|attachment|JVBERi0xLjQgTWFyY2gK"
        ),
        "{parsed}"
    );
}

/// One line per leaf part as Python's `email` (policy.default) reads it:
/// `filename|type|disposition|base64 of the payload`.
pub fn python_parts(message: &[u8]) -> String {
    const SCRIPT: &str = r#"
import base64, email, email.policy, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
defects = [d for p in m.walk() for d in p.defects]
if defects:
    print("DEFECTS", defects)
for p in m.walk():
    if not p.is_multipart():
        data = base64.b64encode(p.get_payload(decode=True)).decode()
        print(f"{p.get_filename()}|{p.get_content_type()}|{p.get_content_disposition()}|{data}")
"#;
    let out =
        crate::support::run(Command::new("python3").arg("-c").arg(SCRIPT), message, bin::TIMEOUT);
    out.assert_success("python3 email");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn interop_disguised_stub_is_refused() {
    if cases().is_none() || !bin::python3() {
        return;
    }
    check("interop", "encoded-ct.eml", &["--expect", "refuse"]);
}

/// The reliability cases run with `--root testdata/files`: `check.py` takes the root from the
/// case directory, so each message is judged from a temporary directory whose `root` points
/// there.
fn check_reliability(message: &str, args: &[&str]) -> String {
    let dir = cases().expect("checked by the caller");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("reliability").join(message), tmp.path().join(message)).unwrap();
    std::os::unix::fs::symlink(bin::testdata().join("files"), tmp.path().join("root")).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("check.py"))
        .arg("--bin")
        .arg(bin::path())
        .arg("--case")
        .arg(tmp.path())
        .arg("--message")
        .arg(message)
        .args(args);
    judged(cmd, message)
}

#[test]
fn reliability_header_lines_that_are_not_fields_are_refused() {
    if cases().is_none() || !bin::python3() {
        return;
    }
    for message in
        ["stub-header-invalid-field-name.eml", "stub-after-nonfield-line-left-unreplaced.eml"]
    {
        let report = check_reliability(message, &["--expect", "refuse"]);
        assert!(report.contains("is not a field"), "{report}");
    }
}

/// `mimeinject check` reports each of the refusals above as a failure.
#[test]
fn check_reports_disguised_stubs_lines_that_are_not_fields_and_signed_mail() {
    let Some(dir) = cases() else { return };
    // Each message, and the case directory whose root it uses (None: testdata/files).
    let files = [
        ("interop/encoded-ct.eml", Some("interop"), "mentions x-mimeinject"),
        ("reliability/stub-header-invalid-field-name.eml", None, "is not a field"),
        ("reliability/stub-after-nonfield-line-left-unreplaced.eml", None, "is not a field"),
        ("14-smime-multipart-signed/message.eml", Some("14-smime-multipart-signed"), "signed"),
        ("16-dkim-signed-before-filter/message.eml", Some("16-dkim-signed-before-filter"), "DKIM"),
    ];
    for (file, case, reason) in files {
        let root = case.map_or(bin::testdata().join("files"), |c| dir.join(c).join("root"));
        let file = dir.join(file);
        let args = ["check", "--root", root.to_str().unwrap(), file.to_str().unwrap()];
        let (out, _) = bin::run(&args, b"");
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{}: {report}", file.display());
        assert!(report.contains(": FAILED: ") && report.contains(reason), "{report}");
        assert!(!report.contains("no placeholder"), "{report}");
    }
}

/// Issue 12's command: `printf 'Received: x\nFrom: a@b\nContent-Type: ...' | mimeinject
/// --root testdata/files | head -3`.
#[test]
fn single_part_stub_keeps_received_first_through_the_binary() {
    let root = bin::testdata().join("files");
    let input = "Received: x\nFrom: a@b\n\
                 Content-Type: application/x-mimeinject; path=\"invoices/inv-42.pdf\"\n\n";
    let (out, _) = bin::run(&["--root", root.to_str().unwrap()], input.as_bytes());
    out.assert_success("single-part stub");
    let text = String::from_utf8(out.stdout).unwrap();
    let head: Vec<&str> = text.lines().take(4).collect();
    assert_eq!(
        head,
        [
            "Received: x",
            "From: a@b",
            "MIME-Version: 1.0",
            "Content-Type: application/pdf; name=\"inv-42.pdf\""
        ]
    );
}

/// Runs a command line of the guide (`$ mimeinject ...`) with this build's binary first in PATH.
fn readme_command(line: &str) -> crate::support::Output {
    let command = line.strip_prefix("$ ").expect("a command line");
    let dir = bin::path().parent().unwrap().to_path_buf();
    let path = format!("{}:/usr/bin:/bin", dir.display());
    crate::support::run(
        Command::new("sh").arg("-c").arg(command).env_clear().env("PATH", path),
        b"",
        bin::TIMEOUT,
    )
}

#[test]
fn readme_stub_command_prints_what_it_shows() {
    // The block sits in a list item: drop the item's indentation.
    let text = recipe("shell/stub.txt");
    let indent = text.len() - text.trim_start_matches(' ').len();
    let text: String = text.lines().map(|l| format!("{}\n", &l[indent.min(l.len())..])).collect();
    let (command, expected) = text.split_once('\n').unwrap();
    let out = readme_command(command);
    out.assert_success(command);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn stub_output_is_delivered_with_exactly_its_values() {
    let fields: &[(&str, &str)] = &[
        ("--path", "report.csv"),
        ("--filename", "Relev\u{e9} \"Q1\" =?utf-8?Q?x?= 2026.csv"),
        ("--type", "Text/CSV"),
        ("--disposition", "inline"),
    ];
    let mut args = vec!["stub"];
    for (flag, value) in fields {
        args.extend([*flag, *value]);
    }
    let (out, _) = bin::run(&args, b"");
    out.assert_success("stub");
    assert!(out.stderr.is_empty());
    let field = String::from_utf8(out.stdout).unwrap();
    assert!(field.starts_with("Content-Type: application/x-mimeinject; path=\"report.csv\";"));
    assert!(!field.contains("sig="), "{field}");
    let message = format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n{field}\n--b--\n"
    );
    let root = bin::testdata().join("files");
    let (out, _) = bin::run(&["--root", root.to_str().unwrap()], message.as_bytes());
    out.assert_success("the stub through the filter");
    if bin::python3() {
        let parts = python_parts(&out.stdout);
        let data = std::fs::read(root.join("report.csv")).unwrap();
        let b64 = base64_simd::STANDARD.encode_to_string(&data);
        let want = format!("Relev\u{e9} \"Q1\" =?utf-8?Q?x?= 2026.csv|text/csv|inline|{b64}");
        assert!(parts.lines().any(|l| l == want), "{parts}");
    }
}

#[test]
fn sign_and_stub_share_their_output_but_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "a-signing-key-of-32-bytes-length\n").unwrap();
    let args = ["--path", "a/{rcpt}.pdf", "--filename", "M\u{e4}rz.pdf"];
    let (stub, _) = bin::run(&[&["stub"][..], &args].concat(), b"");
    let (signed, _) =
        bin::run(&[&["sign", "--key-file", key.to_str().unwrap()][..], &args].concat(), b"");
    stub.assert_success("stub");
    signed.assert_success("sign");
    let (stub, signed) =
        (String::from_utf8(stub.stdout).unwrap(), String::from_utf8(signed.stdout).unwrap());
    let unfold = |s: &str| s.replace("\n ", " ");
    let without_sig = unfold(&signed);
    let without_sig = without_sig.split("; sig=").next().unwrap();
    assert_eq!(unfold(&stub).trim_end(), without_sig);
}

#[test]
fn stub_refuses_values_the_filter_would_refuse() {
    for (args, reason) in [
        (&["--path", ""][..], "empty path"),
        (&["--path", "a/{rcpt.pdf"], "unmatched '{'"),
        (&["--path", "a/{r cpt}.pdf"], "path variable"),
        (&["--path", "dir/"], "ends in '/'"),
        (&["--path", "a", "--filename", "x/y.pdf"], "contains '/'"),
        (&["--path", "a", "--filename", ""], "empty filename"),
        (&["--path", "a", "--type", "pdf"], "is not type/subtype"),
        (&["--path", "a", "--type", "application/pdf; x=y"], "is not type/subtype"),
        (&["--path", "a", "--disposition", "sideways"], "neither attachment nor inline"),
    ] {
        let (out, _) = bin::run(&[&["stub"][..], args].concat(), b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}
