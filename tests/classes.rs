//! Every failure is temporary or permanent (issue 23): the class of each error kind, through
//! the library's sync driver and its confined root.

use mimeinject::sign::SigningKey;
use mimeinject::{rewrite, Class, Config, Error, FsRoot, Limits, MemorySource};

/// A multipart/mixed message whose one stub has these `Content-Type` parameters.
fn stub(params: &str) -> String {
    format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
         Content-Type: text/plain\n\nhello\n--b\n\
         Content-Type: application/x-mimeinject; {params}\n\n--b--\n"
    )
}

fn run(config: &Config, message: &str) -> Error {
    let mut files = MemorySource::new();
    files.insert("a.pdf", b"%PDF-1.7\n".to_vec());
    let mut out = Vec::new();
    let err = rewrite(config, &files, &mut message.as_bytes(), &mut out).unwrap_err();
    assert!(out.is_empty(), "pre-flight wrote {} bytes before {err}", out.len());
    err
}

fn class_of(message: &str) -> (Class, String) {
    let err = run(&Config::default(), message);
    (err.class(), err.to_string())
}

#[test]
fn a_missing_file_is_temporary() {
    let (class, reason) = class_of(&stub("path=missing.pdf"));
    assert_eq!(class, Class::Temporary, "{reason}");
    assert!(reason.contains("no such file"), "{reason}");
}

#[test]
fn defects_of_the_message_are_permanent() {
    let cases = [
        // A malformed placeholder: an unknown parameter.
        (stub("path=a.pdf; colour=blue"), "malformed placeholder"),
        // Signed mail: replacing the placeholder would break the signature.
        (
            "MIME-Version: 1.0\nContent-Type: multipart/signed; boundary=b\n\n--b\n\
             Content-Type: application/x-mimeinject; path=a.pdf\n\n--b--\n"
                .to_owned(),
            "signed message",
        ),
        // Broken structure around the placeholder: the multipart is never closed.
        (
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
             Content-Type: application/x-mimeinject; path=a.pdf\n\n"
                .to_owned(),
            "MIME structure",
        ),
    ];
    for (message, what) in cases {
        let (class, reason) = class_of(&message);
        assert_eq!(class, Class::Permanent, "{reason}");
        assert!(reason.contains(what), "{what:?} not in {reason:?}");
    }
}

#[test]
fn a_path_no_root_can_hold_is_permanent_a_missing_one_temporary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let root = FsRoot::new(dir.path()).unwrap();
    let cases = [
        ("../etc/passwd", Class::Permanent, "'..' component refused"),
        ("/etc/passwd", Class::Permanent, "absolute path refused"),
        ("a//b.pdf", Class::Permanent, "'.' or empty component refused"),
        ("missing.pdf", Class::Temporary, "no such file"),
        ("sub", Class::Temporary, "not a regular file (directory)"),
    ];
    for (path, want, reason) in cases {
        let message = stub(&format!("path=\"{path}\""));
        let mut out = Vec::new();
        let err =
            rewrite(&Config::default(), &root, &mut message.as_bytes(), &mut out).unwrap_err();
        assert_eq!(err.class(), want, "{path}: {err}");
        assert!(err.to_string().contains(reason), "{path}: {err}");
        assert!(out.is_empty());
    }
}

#[test]
fn what_an_administrator_can_fix_is_temporary() {
    // A limit.
    let limits = Limits { attachment_bytes: 4, ..Limits::default() };
    let config = Config::builder().limits(limits).build().unwrap();
    let err = run(&config, &stub("path=a.pdf"));
    assert_eq!(err.class(), Class::Temporary, "{err}");
    assert!(err.to_string().contains("limit exceeded"), "{err}");

    // A signature under another key: a rotated key fails exactly like a forged signature.
    let old = SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    let new = SigningKey::from_bytes(b"fedcba9876543210fedcba9876543210").unwrap();
    let fields = mimeinject::sign::SignedFields { path: "a.pdf", ..Default::default() };
    let config = Config::builder().key(new).build().unwrap();
    let err = run(&config, &stub(&format!("path=a.pdf; sig={}", old.sign(&fields))));
    assert_eq!(err.class(), Class::Temporary, "{err}");
    assert!(err.to_string().contains("signature does not match"), "{err}");

    // A `{NAME}` with no usable value in this delivery: not set, or {rcpt} with several
    // recipients (the transport's batching).
    let unset = stub("path=\"{tenant}/a.pdf\"");
    let config = Config::builder().recipients(["a@example.test"]).build().unwrap();
    let err = run(&config, &unset);
    assert_eq!(err.class(), Class::Temporary, "{err}");
    assert!(err.to_string().contains("which is not set (--var tenant=VALUE)"), "{err}");
    let per_recipient = stub("path=\"{rcpt}.pdf\"");
    let config = Config::builder().recipients(["a@example.test", "b@example.test"]).build();
    let err = run(&config.unwrap(), &per_recipient);
    assert_eq!(err.class(), Class::Temporary, "{err}");
    assert!(err.to_string().contains("this delivery has 2 recipients"), "{err}");
    // ... but a path that is itself wrong is the message's defect.
    let err = run(&Config::default(), &stub("path=\"{rcpt.pdf\""));
    assert_eq!(err.class(), Class::Permanent, "{err}");
    assert!(err.to_string().contains("unmatched '{' in path"), "{err}");

    // A configuration that cannot be built.
    let err = Config::builder().var("x", "..").build().unwrap_err();
    assert_eq!(err.class(), Class::Temporary, "{err}");
}

/// Through the binary: what each run does with each class (docs/operations.md, "Exit
/// codes"). The filter exits its failure code for both unless `--permanent-exit-code` is
/// given; `deliver` exits 69 and prints `5.6.0 mimeinject: …` for a permanent failure, 75 and
/// `mimeinject: …` for a temporary one, and contacts the next hop for neither.
#[cfg(feature = "cli")]
mod through_the_binary {
    use std::process::Command;

    use crate::bin::{self, testdata};
    use crate::support::smtp_sink::SmtpSink;
    use crate::support::{self, Output};

    /// A message whose stub has an unknown parameter: a defect of the message.
    fn malformed() -> Vec<u8> {
        super::stub("path=invoices/inv-42.pdf; colour=blue").into_bytes()
    }

    /// A message whose file is missing: temporary.
    fn missing() -> Vec<u8> {
        super::stub("path=invoices/missing.pdf").into_bytes()
    }

    fn filter(extra: &[&str], input: &[u8]) -> Output {
        let root = testdata().join("files");
        let mut cmd = Command::new(bin::path());
        cmd.env_clear().args(["--no-syslog", "--root", root.to_str().unwrap()]).args(extra);
        support::run(&mut cmd, input, bin::TIMEOUT)
    }

    #[test]
    fn the_filter_exits_its_failure_code_for_both_unless_told_otherwise() {
        for (input, permanent) in [(malformed(), true), (missing(), false)] {
            let out = filter(&[], &input);
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            assert!(out.stdout.is_empty());
            let out = filter(&["--failure-exit-code", "75"], &input);
            assert_eq!(out.status.code(), Some(75), "{out:?}");
            let out = filter(&["--failure-exit-code", "75", "--permanent-exit-code", "69"], &input);
            assert_eq!(out.status.code(), Some(if permanent { 69 } else { 75 }), "{out:?}");
            assert!(out.stdout.is_empty());
            assert!(out.fed.is_ok(), "stdin read to its end");
        }
        // A usage error is the administrator's to fix: the failure code, not the permanent one.
        let out = filter(&["--permanent-exit-code", "69", "--no-such-flag"], &missing());
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        // 0 is not a failure status.
        let out = filter(&["--permanent-exit-code", "0"], &missing());
        assert_eq!(out.status.code(), Some(1), "{out:?}");
    }

    fn deliver(port: u16, extra: &[&str], input: &[u8]) -> Output {
        let root = testdata().join("files");
        let hop = format!("smtp:[127.0.0.1]:{port}");
        let mut cmd = Command::new(bin::path());
        cmd.env_clear()
            .args(["deliver", "--no-syslog", "--nexthop", &hop, "--root", root.to_str().unwrap()])
            .args(extra)
            .args(["-f", "billing@example.test", "--", "user@example.test"]);
        support::run(&mut cmd, input, bin::TIMEOUT)
    }

    fn line(out: &Output) -> String {
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    #[test]
    fn deliver_bounces_a_permanent_failure_and_defers_a_temporary_one() {
        let sink = SmtpSink::start();
        let out = deliver(sink.port(), &[], &malformed());
        assert_eq!(out.status.code(), Some(69), "{}", line(&out));
        assert!(
            line(&out).starts_with(
                "5.6.0 mimeinject: malformed placeholder: unknown parameter \"colour\""
            ),
            "{}",
            line(&out)
        );
        assert!(
            line(&out).ends_with(&format!("nothing delivered to smtp:[127.0.0.1]:{}", sink.port()))
        );
        assert!(out.fed.is_ok(), "stdin read to its end");

        let out = deliver(sink.port(), &[], &missing());
        assert_eq!(out.status.code(), Some(75), "{}", line(&out));
        assert!(
            line(&out).starts_with("mimeinject: attachment \"invoices/missing.pdf\": no such file")
        );

        // --permanent-exit-code chooses the status; the line keeps its status code.
        let out = deliver(sink.port(), &["--permanent-exit-code", "75"], &malformed());
        assert_eq!(out.status.code(), Some(75), "{}", line(&out));
        assert!(line(&out).starts_with("5.6.0 mimeinject: "), "{}", line(&out));
        assert_eq!(sink.connections(), 0, "pre-flight failed, yet the next hop was contacted");
    }
}
