//! Placeholders written by the mail libraries that applications use (docs/placeholders.md,
//! "From your application").
//!
//! Each test makes the placeholder message with the real library: the guide's recipe, read
//! from the guide itself (`python/email-stub.py`, ...), or the library's usual attachment
//! call where that differs from the recipe (`tests/libraries/*`). The message goes through the
//! `mimeinject` binary with `--root` on a temporary directory and one recipient as a positional
//! argument (it fills `{rcpt}`), and the delivered message is read by two independent parsers,
//! Python's `email` package (`policy.default`) and the `mail-parser` crate: each must see
//! exactly one attachment, named `Rechnung März 2026.pdf`, of type `application/pdf`,
//! disposition `attachment`, holding the file's exact bytes, and no stub left.
//!
//! The interpreters and libraries come from Debian (`php-cli`, `libphp-phpmailer`,
//! `php-symfony-mime`, `libmime-lite-perl`, `libemail-mime-perl`), PyPI (Django, in a venv)
//! and npm (nodemailer), installed by `scripts/test.sh` under `MIMEINJECT_LIBRARIES`
//! (default `target/libraries`); lettre is a dev-dependency. A missing one skips its test,
//! except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::bin;
use crate::support::{self, pseudo_random, readme, write_world_readable, Output};

/// The name the recipient must see.
const NAME: &str = "Rechnung März 2026.pdf";
/// The one recipient, passed as a positional argument: it fills `{rcpt}`.
const RCPT: &str = "customer@example.test";
/// Where `statements/{rcpt}/2026-03.pdf` leads for [`RCPT`], beneath the root.
const FILE: &str = "statements/customer@example.test/2026-03.pdf";
/// The path every recipe writes; tests that need a longer one replace it.
const RECIPE_PATH: &str = "statements/{rcpt}/2026-03.pdf";

/// A runtime that runs a library's program, and how to tell that the library is there.
#[derive(Clone, Copy, Debug)]
enum Library {
    PythonEmail,
    Django,
    Nodemailer,
    PhpMailer,
    SymfonyMime,
    MimeLite,
    EmailMime,
}

impl Library {
    /// The interpreter, the file extension of its programs, and a program that fails
    /// unless the library loads.
    fn runtime(self) -> (PathBuf, &'static str, &'static str) {
        let venv_python = libraries_dir().join("venv/bin/python");
        match self {
            Library::PythonEmail => ("python3".into(), "py", "import email.message"),
            Library::Django => (venv_python, "py", "import django.core.mail"),
            Library::Nodemailer => ("node".into(), "js", "require('nodemailer')"),
            Library::PhpMailer => (
                "php".into(),
                "php",
                "<?php require '/usr/share/php/libphp-phpmailer/autoload.php';",
            ),
            Library::SymfonyMime => (
                "php".into(),
                "php",
                "<?php require '/usr/share/php/Symfony/Component/Mime/autoload.php';\n\
                 require '/usr/share/php/Egulias/EmailValidator/autoload.php';",
            ),
            Library::MimeLite => ("perl".into(), "pl", "use MIME::Lite;"),
            Library::EmailMime => ("perl".into(), "pl", "use Email::MIME;"),
        }
    }

    /// The command that runs `script` (nodemailer is found through `NODE_PATH`).
    fn command(self, script: &Path) -> Command {
        let (interpreter, _, _) = self.runtime();
        let mut cmd = Command::new(interpreter);
        cmd.arg(script);
        if let Library::Nodemailer = self {
            cmd.env("NODE_PATH", libraries_dir().join("node/node_modules"));
        }
        cmd
    }

    /// Runs `program` with this library and returns what it printed: the placeholder
    /// message. `None` when the library is missing and the test should be skipped.
    fn generate(self, program: &str) -> Option<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let (interpreter, ext, probe) = self.runtime();
        let probe_file = dir.path().join(format!("probe.{ext}"));
        std::fs::write(&probe_file, probe).unwrap();
        let loads = self.command(&probe_file).output().is_ok_and(|o| o.status.success());
        let missing = (!loads).then(|| {
            format!(
                "{self:?} cannot be loaded by {} (scripts/test.sh installs it)",
                interpreter.display()
            )
        });
        if support::should_skip(missing) {
            return None;
        }
        let script = dir.path().join(format!("stub.{ext}"));
        std::fs::write(&script, program).unwrap();
        let out = support::run(&mut self.command(&script), b"", Duration::from_secs(60));
        out.assert_success(&format!("the {self:?} program"));
        assert!(
            support::contains(&out.stdout, b"x-mimeinject"),
            "the {self:?} program wrote no stub:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        Some(out.stdout)
    }
}

/// Where `scripts/test.sh` installs Django (`venv/`) and nodemailer (`node/`).
fn libraries_dir() -> PathBuf {
    match std::env::var_os("MIMEINJECT_LIBRARIES") {
        Some(dir) if !dir.is_empty() => dir.into(),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/libraries"),
    }
}

/// A helper program of this directory (`tests/libraries/NAME`).
fn helper(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libraries").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `message` through the binary with the attachment root holding `file` at `at`
/// (beneath a fresh temporary root) and [`RCPT`] as the one positional recipient.
fn deliver_at(message: &[u8], at: &str, file: &[u8]) -> Output {
    let root = tempfile::tempdir().unwrap();
    write_world_readable(root.path(), at, file);
    let (out, _) = bin::run(&["--root", root.path().to_str().unwrap(), RCPT], message);
    out
}

/// The attachment's bytes: 10,000 pseudo-random bytes (every byte value, several base64
/// lines), different for each seed.
fn statement(seed: u64) -> Vec<u8> {
    pseudo_random(seed, 10_000)
}

/// A leaf part as a parser sees it.
#[derive(Debug, PartialEq)]
struct Part {
    content_type: String,
    disposition: Option<String>,
    filename: Option<String>,
    body: Vec<u8>,
}

/// The leaf parts Python's `email` package (`policy.default`) sees, and its parse defects.
fn python_parts(message: &[u8]) -> (Vec<Part>, Vec<String>) {
    let out = support::run(
        Command::new("python3").args(["-c", &helper("parts.py")]),
        message,
        Duration::from_secs(60),
    );
    out.assert_success("parts.py");
    let text = String::from_utf8(out.stdout).expect("parts.py writes UTF-8");
    let (mut parts, mut defects) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[..] {
            ["defect", what] => defects.push(what.to_owned()),
            ["part", content_type, disposition, filename, hex] => parts.push(Part {
                content_type: content_type.to_owned(),
                disposition: (disposition != "-").then(|| disposition.to_owned()),
                filename: (filename != "-").then(|| filename.to_owned()),
                body: unhex(hex),
            }),
            _ => panic!("parts.py: unexpected line {line:?}"),
        }
    }
    (parts, defects)
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// The leaf parts the `mail-parser` crate sees.
fn mail_parser_parts(message: &[u8]) -> Vec<Part> {
    let parsed = MessageParser::default().parse(message).expect("mail-parser parses the message");
    parsed
        .parts
        .iter()
        .filter(|part| !matches!(part.body, PartType::Multipart(_)))
        .map(|part| Part {
            content_type: part
                .content_type()
                .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
                .unwrap_or_default()
                .to_ascii_lowercase(),
            disposition: part.content_disposition().map(|cd| cd.ctype().to_ascii_lowercase()),
            filename: part.attachment_name().map(str::to_owned),
            body: part.contents().to_vec(),
        })
        .collect()
}

/// Asserts that the binary succeeded and that both parsers see the one attachment
/// [`NAME`], `application/pdf`, `attachment`, with exactly `file`'s bytes, and no stub.
fn assert_delivered(out: &Output, file: &[u8], what: &str) {
    out.assert_success(&format!("mimeinject on the {what} message"));
    let delivered = &out.stdout;
    let (python, defects) = python_parts(delivered);
    assert!(defects.is_empty(), "{what}: Python's email reports defects: {defects:?}");
    for (parser, parts) in [("Python email", python), ("mail-parser", mail_parser_parts(delivered))]
    {
        let described: Vec<_> = parts
            .iter()
            .map(|p| (&p.content_type, &p.disposition, &p.filename, p.body.len()))
            .collect();
        assert!(
            !parts.iter().any(|p| p.content_type == "application/x-mimeinject"),
            "{what}, {parser}: a stub is left: {described:?}"
        );
        let attachments: Vec<&Part> =
            parts.iter().filter(|p| !p.content_type.starts_with("text/")).collect();
        assert_eq!(attachments.len(), 1, "{what}, {parser}: parts {described:?}");
        let part = attachments[0];
        assert_eq!(part.filename.as_deref(), Some(NAME), "{what}, {parser}: the name");
        assert_eq!(part.content_type, "application/pdf", "{what}, {parser}: the type");
        assert_eq!(part.disposition.as_deref(), Some("attachment"), "{what}, {parser}");
        assert!(part.body == file, "{what}, {parser}: the attachment's bytes differ from the file");
    }
}

/// Asserts that the binary refused the message: exit status 1, nothing on stdout, a reason
/// that mentions `reason` on stderr.
fn assert_refused(out: &Output, reason: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: expected a refusal; stderr: {stderr}");
    assert!(out.stdout.is_empty(), "{what}: a refused message must produce no output");
    assert!(stderr.contains(reason), "{what}: the reason {stderr:?} does not mention {reason:?}");
}

/// The guide's recipe `name`, checked to write [`NAME`] and [`RECIPE_PATH`].
fn recipe(name: &str) -> String {
    let program = readme::recipe(name);
    assert!(program.contains(RECIPE_PATH) && program.contains(NAME), "{name}: {program}");
    program
}

/// `program` with `from`, which must occur exactly once, replaced by `to`.
fn variant(program: &str, from: &str, to: &str) -> String {
    assert_eq!(program.matches(from).count(), 1, "{from:?} in {program}");
    program.replace(from, to)
}

/// Generates with `library` running the guide's recipe `name`, delivers, and checks.
fn check_recipe(library: Library, name: &str, seed: u64) {
    let Some(message) = library.generate(&recipe(name)) else { return };
    let file = statement(seed);
    assert_delivered(&deliver_at(&message, FILE, &file), &file, name);
}

/// A path template of 86 characters: Symfony Mime writes it as RFC 2047 words, Email::MIME
/// as RFC 2231 sections, others fold the line.
const LONG_PATH: &str =
    "statements/{rcpt}/a-rather-long-directory-name/with-more-than-67-characters/2026-03.pdf";
/// Where [`LONG_PATH`] leads for [`RCPT`].
const LONG_FILE: &str = "statements/customer@example.test/a-rather-long-directory-name/\
                         with-more-than-67-characters/2026-03.pdf";

/// Like [`check_recipe`], with [`LONG_PATH`] in place of the recipe's path; returns the
/// placeholder message (`None` when skipped).
fn check_recipe_long_path(library: Library, name: &str, seed: u64) -> Option<Vec<u8>> {
    let program = variant(&recipe(name), RECIPE_PATH, LONG_PATH);
    let message = library.generate(&program)?;
    let file = statement(seed);
    assert_delivered(&deliver_at(&message, LONG_FILE, &file), &file, name);
    Some(message)
}

// --- The guide's recipes ---------------------------------------------------------------------

#[test]
fn python_email_recipe() {
    check_recipe(Library::PythonEmail, "python/email-stub.py", 1);
}

#[test]
fn django_recipe() {
    check_recipe(Library::Django, "python/django-stub.py", 2);
}

#[test]
fn nodemailer_recipe() {
    check_recipe(Library::Nodemailer, "node/nodemailer-stub.js", 3);
}

#[test]
fn phpmailer_recipe() {
    check_recipe(Library::PhpMailer, "php/phpmailer-stub.php", 4);
}

#[test]
fn symfony_mime_recipe() {
    check_recipe(Library::SymfonyMime, "php/symfony-mime-stub.php", 5);
}

#[test]
fn mime_lite_recipe() {
    check_recipe(Library::MimeLite, "perl/mime-lite-stub.pl", 6);
}

#[test]
fn email_mime_recipe() {
    check_recipe(Library::EmailMime, "perl/email-mime-stub.pl", 7);
}

/// The Rust recipe, compiled into this test: `tests/libraries/lettre-stub.rs` must be the
/// guide's text, byte for byte ([`lettre_recipe_is_the_readmes_text`]).
mod lettre_recipe {
    include!("libraries/lettre-stub.rs");

    pub fn message() -> Vec<u8> {
        statement("customer@example.test").expect("the lettre recipe builds").formatted()
    }
}

#[test]
fn lettre_recipe_is_the_readmes_text() {
    assert_eq!(readme::recipe("rust/lettre-stub.rs"), helper("lettre-stub.rs"));
}

#[test]
fn lettre_recipe() {
    let message = lettre_recipe::message();
    let file = statement(8);
    assert_delivered(&deliver_at(&message, FILE, &file), &file, "rust/lettre-stub.rs");
}

// --- The recipes with a long path -----------------------------------------------------------

#[test]
fn long_paths_in_the_recipes() {
    check_recipe_long_path(Library::PythonEmail, "python/email-stub.py", 11);
    check_recipe_long_path(Library::Django, "python/django-stub.py", 12);
    check_recipe_long_path(Library::Nodemailer, "node/nodemailer-stub.js", 13);
    check_recipe_long_path(Library::PhpMailer, "php/phpmailer-stub.php", 14);
    // Written as RFC 2047 words inside the quotes (issue 11).
    if let Some(message) =
        check_recipe_long_path(Library::SymfonyMime, "php/symfony-mime-stub.php", 15)
    {
        assert!(support::contains(&message, b"path=\"=?utf-8?Q?statements/=7Brcpt=7D/"));
    }
    check_recipe_long_path(Library::MimeLite, "perl/mime-lite-stub.pl", 16);
}

/// Email::MIME writes a long value as RFC 2231 sections (`path*0=...; path*1=...`) followed
/// by a shortened plain fallback (`path="statements/...-c..."`): the sections are read.
#[test]
fn email_mime_long_path() {
    check_recipe_long_path(Library::EmailMime, "perl/email-mime-stub.pl", 17);
}

#[test]
fn lettre_long_path() {
    use lettre::message::{header::ContentType, Attachment, MultiPart, SinglePart};
    let stub_type = format!("application/x-mimeinject; path=\"{LONG_PATH}\"");
    let stub = Attachment::new(NAME.to_owned())
        .body(Vec::new(), ContentType::parse(&stub_type).expect("lettre parses the type"));
    let message = lettre::Message::builder()
        .from("billing@example.test".parse().unwrap())
        .to(RCPT.parse().unwrap())
        .subject("Ihre Rechnung 2026-03")
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain("Ihre Rechnung liegt bei.".to_owned()))
                .singlepart(stub),
        )
        .unwrap()
        .formatted();
    let file = statement(18);
    assert_delivered(&deliver_at(&message, LONG_FILE, &file), &file, "lettre, long path");
}

// --- Usual attachment calls that differ from the recipes ------------------------------------

/// Email::MIME's usual call (the recipe), `filename => 'Rechnung März 2026.pdf'`, writes
/// `filename*=UTF-8''Rechnung%20M%C3%A4rz%202026.pdf; filename="Rechnung Marz 2026.pdf"` in
/// `Content-Disposition` (RFC 2231 form and an ASCII fallback, as RFC 6266 section 4.3 advises
/// for HTTP). The RFC 2231 value is the name, as Python's `email` reads it.
#[test]
fn email_mime_rfc2231_name_with_fallback() {
    let Some(message) = Library::EmailMime.generate(&recipe("perl/email-mime-stub.pl")) else {
        return;
    };
    assert!(support::contains(&message, b"filename*=UTF-8''"), "the pair is written");
    assert!(support::contains(&message, b"filename=\"Rechnung Marz"), "and its fallback");
    let file = statement(21);
    assert_delivered(&deliver_at(&message, FILE, &file), &file, "Email::MIME, usual call");
}

/// Symfony Mime's usual call, `attach($body, $name, $contentType)`, cannot carry the path:
/// the type is cut at its second `/`. The mangled stub is refused, not delivered.
#[test]
fn symfony_mime_attach_with_parameters_is_refused() {
    let Some(message) = Library::SymfonyMime.generate(&helper("symfony-attach.php")) else {
        return;
    };
    assert!(support::contains(&message, b"path=\"statements;"), "the type is cut as described");
    let out = deliver_at(&message, FILE, &statement(22));
    assert_refused(&out, "malformed placeholder", "Symfony attach() with parameters");
}

/// Django with the name inside the MIME type writes the whole `Content-Type` as one RFC 2047
/// word (docs/placeholders.md says to keep it ASCII): refused, not passed through as text.
#[test]
fn django_non_ascii_type_is_refused() {
    let Some(message) = Library::Django.generate(&helper("django-name-in-type.py")) else {
        return;
    };
    assert!(support::contains(&message, b"Content-Type: =?utf-8?q?application/x-mimeinject"));
    let out = deliver_at(&message, FILE, &statement(23));
    assert_refused(&out, "x-mimeinject", "Django, non-ASCII MIME type");
}

/// MIME::Lite with character strings (`use utf8`) writes the name in Latin-1, as the guide
/// warns: refused, not delivered with a mangled name.
#[test]
fn mime_lite_character_strings_are_refused() {
    let program =
        variant(&recipe("perl/mime-lite-stub.pl"), "use MIME::Lite;", "use utf8;\nuse MIME::Lite;");
    let Some(message) = Library::MimeLite.generate(&program) else { return };
    assert!(support::contains(&message, b"filename=\"Rechnung M\xe4rz 2026.pdf\""));
    let out = deliver_at(&message, FILE, &statement(24));
    assert_refused(&out, "not valid UTF-8", "MIME::Lite, character strings");
}
