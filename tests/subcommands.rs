//! The subcommands: `check`, `sign`, `encode`, `man`, `completions`.

use std::fs;
use std::process::Command;

use crate::bin::{self, testdata};

fn root() -> String {
    testdata().join("files").to_str().unwrap().to_owned()
}

fn messages(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| testdata().join("messages").join(n).to_str().unwrap().to_owned()).collect()
}

#[test]
fn check_lists_placeholders_and_passes_good_messages() {
    let root = root();
    let files = messages(&["several.eml", "plain.eml", "per-recipient.eml"]);
    let mut args = vec!["check", "--root", &root, "--recipient", "user@example.test"];
    args.extend(files.iter().map(String::as_str));
    let (out, _) = bin::run(&args, b"");
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{report}");
    assert_eq!(report.matches("placeholder (stub part)").count(), 4, "{report}");
    assert!(report.contains("path \"logo.png\", filename \"logo.png\", type image/png: 3008 bytes"));
    assert!(report.contains("plain.eml: no placeholder\n"), "{report}");
    assert_eq!(report.lines().filter(|l| l.ends_with(": ok")).count(), 3, "{report}");
}

#[test]
fn check_fails_on_a_missing_file_and_keeps_going() {
    let root = root();
    let files = messages(&["missing-file.eml", "invoice.eml"]);
    let mut args = vec!["check", "--root", &root];
    args.extend(files.iter().map(String::as_str));
    let (out, _) = bin::run(&args, b"");
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("missing-file.eml: FAILED: attachment \"invoices/does-not-exist.pdf\""));
    assert!(report.contains("invoice.eml: ok"), "the second message was still checked");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("1 of 2 messages failed"), "{stderr}");
}

#[test]
fn check_reports_structure_problems() {
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("m.eml");
    let b71 = "b".repeat(71);
    fs::write(
        &msg,
        format!(
            "Content-Type: multipart/mixed; boundary={b71}\n\n--{b71}\n\
             Content-Type: application/x-mimeinject; path=report.csv\n\n--{b71}--\n"
        ),
    )
    .unwrap();
    let root = root();
    let (out, _) = bin::run(&["check", "--root", &root, msg.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("FAILED: MIME structure") && report.contains("longer than 70"));
}

/// A key file and the stub message for a signed `Content-Type` line.
fn signed_setup(dir: &std::path::Path, extra: &[&str]) -> (String, String) {
    let key = dir.join("key");
    fs::write(&key, "a-signing-key-of-32-bytes-length\n").unwrap();
    let key = key.to_str().unwrap().to_owned();
    let mut args = vec!["sign", "--key-file", &key, "--path", "report.csv"];
    args.extend_from_slice(extra);
    let (out, _) = bin::run(&args, b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("Content-Type: application/x-mimeinject;") && line.contains("sig="));
    let message = format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n{line}\n--b--\n"
    );
    (key, message)
}

#[test]
fn signed_placeholders_are_honoured_and_tampering_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, message) =
        signed_setup(dir.path(), &["--filename", "Relevé.csv", "--type", "text/csv"]);
    let root = root();
    let filter = ["--root", root.as_str(), "--key-file", key.as_str()];

    let (out, _) = bin::run(&filter, message.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("filename*=UTF-8''Relev%C3%A9.csv"), "{text}");

    // The same placeholder pointing at another file: the signature no longer matches.
    let tampered = message.replace("path=\"report.csv\"", "path=\"logo.png\"");
    assert_ne!(tampered, message);
    let (out, _) = bin::run(&filter, tampered.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature does not match"));

    // Without a signature, refused; with --unsigned=pass, delivered as it was.
    let unsigned = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
                    Content-Type: application/x-mimeinject; path=report.csv\n\n--b--\n";
    let (out, _) = bin::run(&filter, unsigned.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed"));
    let mut pass = filter.to_vec();
    pass.push("--unsigned=pass");
    let (out, _) = bin::run(&pass, unsigned.as_bytes());
    assert!(out.status.success());
    assert_eq!(out.stdout, unsigned.as_bytes());
}

#[test]
fn signing_with_a_different_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, message) = signed_setup(dir.path(), &[]);
    let other = dir.path().join("other");
    fs::write(&other, "another-key-also-long-enough-123").unwrap();
    let root = root();
    let (out, _) =
        bin::run(&["--root", &root, "--key-file", other.to_str().unwrap()], message.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn encode_matches_coreutils_base64() {
    let file = testdata().join("files/logo.png");
    let (out, _) = bin::run(&["encode", file.to_str().unwrap()], b"");
    assert!(out.status.success());
    let reference = Command::new("base64").args(["-w", "76"]).arg(&file).output().unwrap();
    assert!(reference.status.success());
    assert_eq!(out.stdout, reference.stdout);
    let (out, _) = bin::run(&["encode", "--crlf"], &fs::read(&file).unwrap());
    assert_eq!(
        out.stdout,
        String::from_utf8(reference.stdout).unwrap().replace('\n', "\r\n").as_bytes()
    );
}

#[test]
fn man_page_and_completions() {
    let (out, _) = bin::run(&["man"], b"");
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH mimeinject 1") && page.contains("failure\\-exit\\-code"), "{page}");
    for shell in ["bash", "zsh", "fish"] {
        let (out, _) = bin::run(&["completions", shell], b"");
        assert!(out.status.success(), "{shell}");
        assert!(String::from_utf8(out.stdout).unwrap().contains("root"), "{shell}");
    }
}

/// The guide's Python signer (docs/limits-and-security.md) and the binary agree, so
/// applications can sign without it.
#[test]
fn readme_python_signer_matches_the_binary() {
    if !bin::python3() {
        return;
    }
    let snippet = crate::support::readme::recipe("python/sign.py");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    fs::write(&key, "a-signing-key-of-32-bytes-length\n").unwrap();
    let (path, filename) = ("statements/{rcpt}/2026-11.pdf", "Relevé \"Nov\".pdf");
    let script = format!(
        "{snippet}\nprint(sig(b'a-signing-key-of-32-bytes-length', {path:?}, {filename:?}, \
         None, 'inline'))\n"
    );
    let py = Command::new("python3").arg("-c").arg(&script).output().unwrap();
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    let expected = String::from_utf8(py.stdout).unwrap();
    let (out, _) = bin::run(
        &[
            "sign",
            "--key-file",
            key.to_str().unwrap(),
            "--path",
            path,
            "--filename",
            filename,
            "--disposition",
            "inline",
        ],
        b"",
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.contains(&format!("sig=\"{}\"", expected.trim())), "{line}\n{expected}");
}
