//! End-to-end tests through a real exim (Debian `exim4-daemon-light`),
//! with mimeinject as `transport_filter`, for local maildir delivery and
//! for SMTP delivery to a sink on 127.0.0.1.
//!
//! Each test builds a private exim instance (`support::exim`), submits a
//! message with `-odq`, triggers one delivery attempt, and looks at what
//! arrived, what stayed on the queue and what was logged. Without exim (or
//! without root) the tests skip (`SKIP …`, see `support/skip.rs`), except under
//! `CI=true`, where that is a failure.
//!
//! The filter under test is the `mimeinject` binary of this crate. Setting
//! `MIMEINJECT_EXIM_FILTER` to another program with the same command line
//! runs the same tests against it.

use crate::support::exim::{filter_program, Exim, Transport, TransportBlock, DOMAIN};
use crate::support::smtp_sink::SmtpSink;
use crate::support::{self, attachment, contains, pseudo_random, write_world_readable};
use crate::support::{dkim, readme};

/// The envelope sender of every test message.
const SENDER: &str = "app@example.test";

/// The guide's transport (docs/exim.md) as it is, plus a `--log-file` in the filter's
/// directory so that tests can read what mimeinject logged.
fn readme_filter(exim: &Exim, t: &mut TransportBlock) {
    let filter = t.get("transport_filter").expect("the recipe sets transport_filter").to_string();
    let program = filter_program();
    assert!(filter.starts_with(&program), "{filter}");
    let log = filter_log_path(exim);
    let with_log = filter.replacen(&program, &format!("{program} --log-file {}", log.display()), 1);
    assert!(!with_log.contains(['"', '\'', '\\']), "paths need no quoting: {with_log}");
    t.set("transport_filter", &with_log);
}

/// Where [`readme_filter`] tells the filter to log.
fn filter_log_path(exim: &Exim) -> std::path::PathBuf {
    exim.filter_dir().join("filter.log")
}

/// A private exim, plus the SMTP sink it delivers to in the SMTP variant.
struct Setup {
    /// Field order matters: the sink stops after exim's directory is gone,
    /// which is harmless either way since every exim command has ended.
    exim: Exim,
    /// Present for SMTP delivery.
    sink: Option<SmtpSink>,
}

impl Setup {
    /// An instance delivering by `smtp` or to maildirs, with the filter
    /// command that `filter` builds.
    fn new(smtp: bool, filter: impl FnOnce(&Exim) -> String) -> Setup {
        Setup::with_transport(smtp, |exim, t| {
            t.set("transport_filter", &filter(exim));
        })
    }

    /// An instance delivering by `smtp` or to maildirs through the guide's
    /// transport, changed by `edit`.
    fn with_transport(smtp: bool, edit: impl FnOnce(&Exim, &mut TransportBlock)) -> Setup {
        if smtp {
            let sink = SmtpSink::start();
            let exim = Exim::with_transport(Transport::Smtp { port: sink.port() }, edit);
            Setup { exim, sink: Some(sink) }
        } else {
            Setup { exim: Exim::with_transport(Transport::Maildir, edit), sink: None }
        }
    }

    /// An instance with the guide's transport and filter as they are
    /// (plus a log file).
    fn readme(smtp: bool) -> Setup {
        Setup::with_transport(smtp, readme_filter)
    }

    /// The value of `option` in the transport exim runs (`exim -bP transport`).
    fn exim_transport_option(&self, option: &str) -> String {
        let out = self.exim.exim(&["-bP", "transport", self.exim.transport_name()], b"");
        out.assert_success("exim -bP transport");
        let text = String::from_utf8(out.stdout).unwrap();
        let prefix = format!("{option} = ");
        let line = text.lines().find(|l| l.starts_with(&prefix));
        line.unwrap_or_else(|| panic!("{option} not set:\n{text}"))[prefix.len()..].to_string()
    }

    /// The complete messages delivered to `local_part`: the maildir's
    /// `new` files, or what the sink received with that sole recipient.
    fn delivered(&self, local_part: &str) -> Vec<Vec<u8>> {
        let address = format!("{local_part}@{DOMAIN}");
        match &self.sink {
            None => {
                let maildir = self.exim.maildir(local_part);
                maildir.new.iter().map(|p| std::fs::read(p).unwrap()).collect()
            }
            Some(sink) => sink
                .messages()
                .into_iter()
                .filter(|m| m.rcpt_to.contains(&address))
                .map(|m| {
                    assert_eq!(
                        m.rcpt_to,
                        std::slice::from_ref(&address),
                        "one recipient per transaction"
                    );
                    m.data
                })
                .collect(),
        }
    }

    /// Panics if anything at all was delivered: a file in any maildir
    /// subdirectory (`new`, `cur` or `tmp`), or a complete SMTP message.
    fn assert_nothing_delivered(&self) {
        for local_part in crate::support::exim::LOCAL_PARTS {
            let maildir = self.exim.maildir(local_part);
            assert!(maildir.is_empty(), "maildir of {local_part} is not empty: {maildir:?}");
        }
        if let Some(sink) = &self.sink {
            let messages = sink.messages();
            assert!(messages.is_empty(), "the sink received {} message(s)", messages.len());
        }
    }

    /// Every byte that left the filter or was logged anywhere: delivered
    /// and partial messages, maildir files, exim's logs and the filter's
    /// log.
    fn everything_written(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for local_part in crate::support::exim::LOCAL_PARTS {
            for content in self.exim.maildir(local_part).contents() {
                all.extend(content);
            }
        }
        if let Some(sink) = &self.sink {
            for t in sink.messages().into_iter().chain(sink.dropped()) {
                all.extend(t.data);
            }
        }
        all.extend(self.exim.mainlog().into_bytes());
        all.extend(self.exim.paniclog().into_bytes());
        all.extend(std::fs::read(filter_log_path(&self.exim)).unwrap_or_default());
        all
    }

    /// The non-empty lines of the filter's log file.
    fn filter_log_lines(&self) -> Vec<String> {
        let log = std::fs::read_to_string(filter_log_path(&self.exim)).unwrap_or_default();
        log.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
    }
}

/// A multipart message to `to` with a text part and one placeholder part
/// whose Content-Type parameters are `params`. The text has lines starting
/// with dots, which SMTP must stuff and unstuff.
fn message_with_placeholder(to: &str, params: &str) -> Vec<u8> {
    format!(
        "From: {SENDER}\n\
         To: {to}\n\
         Subject: Your invoice\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\
         \n\
         --b1\n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         Hello, your invoice is attached.\n\
         .a line starting with a dot\n\
         .\n\
         ..two dots\n\
         --b1\n\
         Content-Type: application/x-mimeinject; {params}\n\
         \n\
         --b1--\n"
    )
    .into_bytes()
}

/// The body of the text part of [`message_with_placeholder`], as it must
/// arrive.
const TEXT_BODY: &[u8] =
    b"Hello, your invoice is attached.\n.a line starting with a dot\n.\n..two dots\n";

// --- The harness itself, with stand-in filters -------------------------

/// With `/usr/bin/tee` as the filter, the delivered message is byte for
/// byte what the filter wrote, and carries the submitted body unchanged.
fn passthrough_is_byte_identical(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::new(smtp, |exim| {
        format!("/usr/bin/tee {}", exim.filter_dir().join("capture.eml").display())
    });
    let message = message_with_placeholder("user@example.test", "path=\"x.pdf\"");
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
    assert!(setup.exim.is_queued(&id), "queued before delivery\n{}", setup.exim.report());
    setup.exim.deliver(&id);

    assert!(!setup.exim.is_queued(&id), "delivered and gone\n{}", setup.exim.report());
    let delivered = setup.delivered("user");
    assert_eq!(delivered.len(), 1, "one message\n{}", setup.exim.report());
    let capture = std::fs::read(setup.exim.filter_dir().join("capture.eml")).unwrap();
    assert!(delivered[0] == capture, "delivered message differs from the filter's output");
    let body = &message[message.windows(2).position(|w| w == b"\n\n").unwrap() + 2..];
    assert!(capture.ends_with(body), "the body passes through unchanged");
    assert!(contains(&capture, b"\nSubject: Your invoice\n"));
    assert!(contains(&capture, TEXT_BODY));
    assert!(!contains(&capture, b"\r"), "the filter gets LF line endings");
}

#[test]
fn maildir_passthrough_is_byte_identical() {
    passthrough_is_byte_identical(false);
}

#[test]
fn smtp_passthrough_is_byte_identical() {
    passthrough_is_byte_identical(true);
}

/// With `/bin/false` as the filter, nothing is delivered, the message
/// stays queued, and exim logs the filter failure as a deferral.
fn failing_filter_stays_queued(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::new(smtp, |_| "/bin/false".to_string());
    let message = message_with_placeholder("user@example.test", "path=\"x.pdf\"");
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
    setup.exim.deliver(&id);

    assert!(setup.exim.is_queued(&id), "still queued\n{}", setup.exim.report());
    setup.assert_nothing_delivered();
    let mainlog = setup.exim.mainlog();
    assert!(
        mainlog.contains("== user@example.test") && mainlog.contains("filter process failed (1)"),
        "deferred because the filter failed\n{}",
        setup.exim.report()
    );
    if let Some(sink) = &setup.sink {
        // exim did connect and start DATA, then hung up without the dot.
        assert!(!sink.dropped().is_empty(), "the sink saw DATA cut off");
    }
}

#[test]
fn maildir_failing_filter_stays_queued() {
    failing_filter_stays_queued(false);
}

#[test]
fn smtp_failing_filter_stays_queued() {
    failing_filter_stays_queued(true);
}

// --- mimeinject through exim ---------------------------------------------

/// The placeholder is replaced by the file, and the delivered attachment
/// decodes to exactly the file's bytes.
fn attachment_decodes_byte_exact(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::readme(smtp);
    let pdf = pseudo_random(42, 300 * 1024 + 7);
    write_world_readable(&setup.exim.root(), "invoices/inv-42.pdf", &pdf);
    let message = message_with_placeholder(
        "user@example.test",
        "path=\"invoices/inv-42.pdf\"; filename=\"Invoice 42.pdf\"",
    );
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
    setup.exim.deliver(&id);

    assert!(!setup.exim.is_queued(&id), "delivered\n{}", setup.exim.report());
    let delivered = setup.delivered("user");
    assert_eq!(delivered.len(), 1, "one message\n{}", setup.exim.report());
    assert!(attachment(&delivered[0], "Invoice 42.pdf") == pdf, "attachment differs from file");
    assert!(contains(&delivered[0], TEXT_BODY), "text part arrives unchanged");
    // exim gives the filter one pipe for stdout and stderr: no log line may be in the mail.
    assert!(!contains(&delivered[0], b"1 recipient, 1 attachment"), "a log line in the mail");
    // The delivery line, tied to exim's id.
    let lines = setup.filter_log_lines();
    let expected = format!(
        "]: {id}: 1 recipient, 1 attachment ({0} bytes): \"invoices/inv-42.pdf\" {0} bytes; \
         to <user@{DOMAIN}>",
        pdf.len()
    );
    assert!(lines.len() == 1 && lines[0].ends_with(&expected), "{lines:?}");
}

#[test]
fn maildir_attachment_decodes_byte_exact() {
    attachment_decodes_byte_exact(false);
}

#[test]
fn smtp_attachment_decodes_byte_exact() {
    attachment_decodes_byte_exact(true);
}

/// The four recipients of the per-recipient tests.
const FOUR: [&str; 4] = ["user", "alice", "bob", "carol"];

/// `testdata/messages/per-recipient.eml` (path `statements/{rcpt}/statement.txt`) submitted
/// to [`FOUR`] in one message, with a different statement for each in the root. Returns the
/// message id and each recipient's statement.
fn submit_per_recipient(setup: &Setup) -> (String, Vec<(&'static str, Vec<u8>)>) {
    let mut statements = Vec::new();
    for (i, local_part) in FOUR.into_iter().enumerate() {
        let mut bytes = format!("statement for {local_part}@{DOMAIN}\n").into_bytes();
        bytes.extend(pseudo_random(i as u64 + 1, 50_000 + i));
        let relative = format!("statements/{local_part}@{DOMAIN}/statement.txt");
        write_world_readable(&setup.exim.root(), &relative, &bytes);
        statements.push((local_part, bytes));
    }
    let message = std::fs::read(crate::bin::testdata().join("messages/per-recipient.eml")).unwrap();
    let rcpts: Vec<String> = FOUR.iter().map(|l| format!("{l}@{DOMAIN}")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    (setup.exim.submit(SENDER, &rcpts, &message), statements)
}

/// The guide's transport as it is (smtp: `max_rcpt = 1`; maildir: exim's
/// default `batch_max = 1`): one message to four recipients, one filter run
/// each, and each recipient gets their own statement and no one else's.
fn per_recipient_files(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::readme(smtp);
    let (id, statements) = submit_per_recipient(&setup);
    setup.exim.deliver(&id);

    assert!(!setup.exim.is_queued(&id), "delivered\n{}", setup.exim.report());
    for (local_part, bytes) in &statements {
        let delivered = setup.delivered(local_part);
        assert_eq!(delivered.len(), 1, "one message for {local_part}\n{}", setup.exim.report());
        let got = attachment(&delivered[0], "statement.txt");
        assert!(got == *bytes, "{local_part} did not get their own statement");
    }
    // One delivery line per recipient, tied to exim's id, naming that recipient's file.
    let lines = setup.filter_log_lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (local_part, bytes) in &statements {
        let path =
            format!("\"statements/{local_part}@{DOMAIN}/statement.txt\" {} bytes", bytes.len());
        let line = lines.iter().find(|l| l.contains(&path)).unwrap_or_else(|| panic!("{lines:?}"));
        assert!(line.contains(&format!("]: {id}: 1 recipient, 1 attachment")), "{line}");
        assert!(line.ends_with(&format!("; to <{local_part}@{DOMAIN}>")), "{line}");
    }
}

#[test]
fn maildir_per_recipient_files() {
    per_recipient_files(false);
}

#[test]
fn smtp_per_recipient_files() {
    per_recipient_files(true);
}

/// The guide's transport with recipients batched: smtp without `max_rcpt = 1` (one
/// transaction for all four), appendfile with `batch_max = 4` (one delivery for all four).
/// The filter is handed all four addresses and refuses: all four stay queued, nothing is
/// delivered, and the reason says why.
///
/// With `var_rcpt`, the filter also gets `--var rcpt=$local_part_data@$domain_data`, the
/// old README's advice, which gave all four the first recipient's statement: now refused.
fn batched_per_recipient_is_deferred(smtp: bool, var_rcpt: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::with_transport(smtp, |exim, t| {
        readme_filter(exim, t);
        if var_rcpt {
            let filter = t.get("transport_filter").unwrap().to_string();
            let with_var =
                filter.replacen(" --root ", " --var rcpt=$local_part_data@$domain_data --root ", 1);
            assert_ne!(filter, with_var);
            t.set("transport_filter", &with_var);
        }
        if smtp {
            t.remove("max_rcpt");
        } else {
            // exim batches only when no option refers to the local part: one maildir for all
            // (that of `user`, so that `assert_nothing_delivered` looks there).
            t.set("batch_max", "4");
            t.set("directory", &format!("{}/mail/user/Maildir", exim.dir().display()));
        }
    });
    let (id, _) = submit_per_recipient(&setup);
    setup.exim.deliver(&id);

    assert!(setup.exim.is_queued(&id), "still queued\n{}", setup.exim.report());
    setup.assert_nothing_delivered();
    let mainlog = setup.exim.mainlog();
    for local_part in FOUR {
        let deferred = format!("== {local_part}@{DOMAIN} ");
        assert!(mainlog.contains(&deferred), "{deferred}deferred\n{}", setup.exim.report());
    }
    assert!(mainlog.contains("filter process failed (1)"), "{}", setup.exim.report());
    let lines = setup.filter_log_lines();
    assert_eq!(lines.len(), 1, "one filter run for the batch: {lines:?}");
    assert!(lines[0].contains(&format!("]: {id}: ")), "{lines:?}");
    let reason = if var_rcpt { "variable rcpt: " } else { "this delivery has 4 recipients" };
    assert!(lines[0].contains(reason), "{lines:?}");
    if let Some(sink) = &setup.sink {
        // One transaction carried all four RCPTs, and it was cut off inside DATA.
        let cut = sink.dropped();
        assert_eq!(cut.len(), 1, "{cut:?}");
        assert_eq!(cut[0].rcpt_to.len(), 4, "{cut:?}");
    }
}

#[test]
fn maildir_batched_per_recipient_is_deferred() {
    batched_per_recipient_is_deferred(false, false);
}

#[test]
fn smtp_batched_per_recipient_is_deferred() {
    batched_per_recipient_is_deferred(true, false);
}

#[test]
fn maildir_batched_var_rcpt_is_deferred() {
    batched_per_recipient_is_deferred(false, true);
}

#[test]
fn smtp_batched_var_rcpt_is_deferred() {
    batched_per_recipient_is_deferred(true, true);
}

/// A placeholder naming a file that does not exist: the filter fails, the
/// message stays queued, nothing is delivered, and the filter logs one
/// line naming the file.
fn missing_file_stays_queued(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::readme(smtp);
    write_world_readable(&setup.exim.root(), "invoices/other.pdf", b"not this one");
    let message = message_with_placeholder("user@example.test", "path=\"invoices/nope.pdf\"");
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
    // A queue run this time, rather than -M: the same deferral is expected.
    setup.exim.run_queue();

    assert!(setup.exim.is_queued(&id), "still queued\n{}", setup.exim.report());
    setup.assert_nothing_delivered();
    assert!(
        setup.exim.mainlog().contains("filter process failed"),
        "deferred because of the filter\n{}",
        setup.exim.report()
    );
    let lines = setup.filter_log_lines();
    assert_eq!(lines.len(), 1, "one reason in the filter log: {lines:?}");
    assert!(lines[0].contains("nope.pdf"), "the reason names the file: {lines:?}");

    // The way out in docs/operations.md: fix the cause, then `exim -M ID` delivers it.
    let pdf = pseudo_random(3, 5_000);
    write_world_readable(&setup.exim.root(), "invoices/nope.pdf", &pdf);
    setup.exim.deliver(&id);
    assert!(!setup.exim.is_queued(&id), "delivered after the fix\n{}", setup.exim.report());
    let delivered = setup.delivered("user");
    assert_eq!(delivered.len(), 1, "once\n{}", setup.exim.report());
    assert!(attachment(&delivered[0], "nope.pdf") == pdf, "the file that appeared");
}

#[test]
fn maildir_missing_file_stays_queued() {
    missing_file_stays_queued(false);
}

#[test]
fn smtp_missing_file_stays_queued() {
    missing_file_stays_queued(true);
}

/// Paths that leave the root, relatively or absolutely: each message stays
/// queued, nothing is delivered, and no content of /etc/passwd shows up in
/// anything delivered, cut off or logged.
fn path_outside_root_stays_queued(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::readme(smtp);
    // The second path has enough `..` to reach the real /etc/passwd from
    // any temporary directory; the first is the short form.
    let paths = ["../../etc/passwd", "../../../../../../../../../../etc/passwd", "/etc/passwd"];
    let mut ids = Vec::new();
    for path in paths {
        let params = format!("path=\"{path}\"; filename=\"passwd.txt\"");
        let message = message_with_placeholder("user@example.test", &params);
        let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
        setup.exim.deliver(&id);
        ids.push(id);
    }

    for (id, path) in ids.iter().zip(paths) {
        assert!(setup.exim.is_queued(id), "{path}: still queued\n{}", setup.exim.report());
    }
    setup.assert_nothing_delivered();
    let lines = setup.filter_log_lines();
    assert_eq!(lines.len(), paths.len(), "one reason per attempt: {lines:?}");

    let passwd = std::fs::read("/etc/passwd").unwrap();
    let written = setup.everything_written();
    for line in passwd.split(|&b| b == b'\n').filter(|l| l.len() >= 8) {
        assert!(
            !contains(&written, line),
            "a line of /etc/passwd leaked: {:?}",
            String::from_utf8_lossy(line)
        );
    }
    // Its start as base64, as an attachment would carry it (48 characters
    // fit in any line length a MIME encoder uses).
    let encoded = base64_simd::STANDARD.encode_to_string(&passwd[..36.min(passwd.len())]);
    assert!(!contains(&written, encoded.as_bytes()), "/etc/passwd leaked as base64");
}

#[test]
fn maildir_path_outside_root_stays_queued() {
    path_outside_root_stays_queued(false);
}

#[test]
fn smtp_path_outside_root_stays_queued() {
    path_outside_root_stays_queued(true);
}

// --- Signing, options around the filter ------------------------------------

/// The DKIM round trip (issue 12, item 3). The application signs its message before
/// queueing (dkimpy); the filter line is the guide's plus `--strip-header DKIM-Signature`;
/// the smtp transport signs with the guide's `exim/dkim.conf` lines. At the receiver the
/// only signature is exim's and it verifies (dkimpy, the key handed over without DNS), and
/// the attachment is the file. Also `headers_add`/`headers_remove` on the same transport,
/// which docs/exim.md says apply before the filter.
///
/// That a signed message *without* the strip is refused is the core's check (issue 12
/// item 3), not asserted here.
#[test]
fn smtp_dkim_round_trip() {
    if support::exim::should_skip() || support::should_skip(dkim::missing()) {
        return;
    }
    let mut key = None;
    let setup = Setup::with_transport(true, |exim, t| {
        readme_filter(exim, t);
        let filter = t.get("transport_filter").unwrap().to_string();
        let stripping = filter.replacen(" --root ", " --strip-header DKIM-Signature --root ", 1);
        t.set("transport_filter", &stripping);
        let k = dkim::Key::new(exim.dir());
        for line in readme::recipe("exim/dkim.conf").lines().filter(|l| l.contains('=')) {
            let (option, value) = line.split_once('=').unwrap();
            let value = value
                .trim()
                .replace("example.com-mail2026.key", "KEYFILE")
                .replace("example.com", DOMAIN)
                .replace("/etc/exim/dkim/KEYFILE", k.private.to_str().unwrap());
            t.set(option.trim(), &value);
        }
        assert_eq!(t.get("dkim_private_key"), k.private.to_str(), "the recipe names a key file");
        t.set("headers_remove", "X-Internal");
        t.set("headers_add", "X-Added: by-transport");
        key = Some(k);
    });
    let key = key.unwrap();
    let selector = setup.exim_transport_option("dkim_selector");

    let pdf = pseudo_random(7, 100_000);
    write_world_readable(&setup.exim.root(), "invoices/inv-7.pdf", &pdf);
    let unsigned = message_with_placeholder(
        "user@example.test",
        "path=\"invoices/inv-7.pdf\"; filename=\"Invoice 7.pdf\"",
    );
    let unsigned = [b"X-Internal: secret\n".as_slice(), &unsigned].concat();
    let signed = key.sign(&unsigned, DOMAIN, "app");
    assert!(signed.starts_with(b"DKIM-Signature:"), "the application's signature is on top");
    let id = setup.exim.submit(SENDER, &["user@example.test"], &signed);
    setup.exim.deliver(&id);

    assert!(!setup.exim.is_queued(&id), "delivered\n{}", setup.exim.report());
    let sink = setup.sink.as_ref().unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{}", setup.exim.report());
    let verdicts = key.verify(&messages[0].message, DOMAIN, &selector);
    assert_eq!(verdicts, [format!("d={DOMAIN} s={selector} pass")], "only exim's, verified");
    assert!(attachment(&messages[0].data, "Invoice 7.pdf") == pdf, "attachment differs");
    let data = &messages[0].data;
    let head = &data[..data.windows(2).position(|w| w == b"\n\n").unwrap() + 1];
    assert!(!contains(head, b"X-Internal:"), "headers_remove applied");
    assert!(contains(head, b"\nX-Added: by-transport\n"), "headers_add applied");
}

/// Header stages through exim (issue 12 item 1): the guide's filter line plus
/// `--strip-header X-Internal --add-header X-Stage:one`. exim splits the command at white
/// space, so the added field has none. At the receiver the top-level `X-Internal` is gone and
/// `X-Stage` is there; the forwarded `message/rfc822` keeps its own `X-Internal`, its other
/// fields and its placeholder-free body byte for byte; the attachment is the file.
#[test]
fn smtp_header_stages_touch_only_the_top_level_header() {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::with_transport(true, |exim, t| {
        readme_filter(exim, t);
        let filter = t.get("transport_filter").unwrap().to_string();
        let staged = filter.replacen(
            " --root ",
            " --strip-header X-Internal --add-header X-Stage:one --root ",
            1,
        );
        t.set("transport_filter", &staged);
    });
    let pdf = pseudo_random(12, 20_000);
    write_world_readable(&setup.exim.root(), "invoices/inv-12.pdf", &pdf);
    let forwarded: &[u8] = b"X-Internal: inner\n\
        Received: from relay.example.test by mx.example.test; Mon, 30 Nov 2026 09:00:00 +0000\n\
        Subject: Original\n\
        \n\
        The forwarded text.\n";
    let message = [
        format!(
            "X-Internal: outer\nFrom: {SENDER}\nTo: user@example.test\nSubject: Fwd\n\
             MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n\
             --b1\nContent-Type: message/rfc822\n\n"
        )
        .as_bytes(),
        forwarded,
        b"--b1\nContent-Type: application/x-mimeinject; path=\"invoices/inv-12.pdf\"; \
          filename=\"Invoice 12.pdf\"\n\n--b1--\n",
    ]
    .concat();
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
    setup.exim.deliver(&id);

    assert!(!setup.exim.is_queued(&id), "delivered\n{}", setup.exim.report());
    let delivered = setup.delivered("user");
    assert_eq!(delivered.len(), 1, "one message\n{}", setup.exim.report());
    let data = &delivered[0];
    let head = &data[..data.windows(2).position(|w| w == b"\n\n").unwrap() + 1];
    assert!(!contains(head, b"X-Internal:"), "the top-level field is stripped");
    assert!(contains(head, b"\nX-Stage: one\n") || contains(head, b"\nX-Stage:one\n"), "added");
    assert!(contains(data, forwarded), "the forwarded message is untouched");
    assert!(attachment(data, "Invoice 12.pdf") == pdf, "attachment differs from the file");
}

/// The other half of the round trip: the same application-signed message through the
/// guide's filter *without* `--strip-header DKIM-Signature` is refused (issue 12: a
/// signature injection would break is never broken silently). exim defers it, nothing
/// reaches the sink, and the filter's one log line says what to do.
#[test]
fn smtp_dkim_signed_without_strip_is_deferred() {
    if support::exim::should_skip() || support::should_skip(dkim::missing()) {
        return;
    }
    let setup = Setup::readme(true);
    let key = dkim::Key::new(setup.exim.dir());
    let pdf = pseudo_random(8, 10_000);
    write_world_readable(&setup.exim.root(), "invoices/inv-8.pdf", &pdf);
    let unsigned = message_with_placeholder("user@example.test", "path=\"invoices/inv-8.pdf\"");
    let signed = key.sign(&unsigned, DOMAIN, "app");
    let id = setup.exim.submit(SENDER, &["user@example.test"], &signed);
    setup.exim.deliver(&id);

    assert!(setup.exim.is_queued(&id), "deferred\n{}", setup.exim.report());
    setup.assert_nothing_delivered();
    let lines = setup.filter_log_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("DKIM-Signature") && lines[0].contains("--strip-header"),
        "the reason says what to do: {lines:?}"
    );
}

// --- Operations: what docs/operations.md, "Operations under exim", says exim does

/// A failing filter (a missing file) writes no retry record: every normal queue run tries
/// the message again, even past the retry rule's give-up time (`F,2s,1s`: give up after 2 s),
/// and it never bounces. Each attempt leaves a mimeinject line starting with exim's id, and
/// `exigrep ID` shows exim's side. Then `exim -Mg` gives up on it (exim logs "cancelled by
/// root" and bounces it, the template attached) and `exim -Mrm` removes another without a
/// bounce.
#[test]
fn smtp_failure_is_retried_at_every_queue_run() {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::readme(true);
    setup.exim.edit_config(|c| c.replace("* * F,1h,1h", "* * F,2s,1s"));
    let missing = std::fs::read(crate::bin::testdata().join("messages/missing-file.eml")).unwrap();
    let id = setup.exim.submit(SENDER, &["user@example.test"], &missing);
    for _ in 0..3 {
        setup.exim.exim(&["-q"], b"");
        std::thread::sleep(std::time::Duration::from_millis(1200));
    }
    assert!(setup.exim.is_queued(&id), "still queued\n{}", setup.exim.report());
    setup.assert_nothing_delivered();
    let mainlog = setup.exim.mainlog();
    let attempts = mainlog.matches("transport filter process failed (1)").count();
    assert_eq!(attempts, 3, "one attempt per queue run\n{mainlog}");
    assert!(!mainlog.contains(" ** "), "no bounce\n{mainlog}");
    assert!(setup.exim.retry_records().is_empty(), "{:?}", setup.exim.retry_records());
    let lines = setup.filter_log_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert!(line.contains(&format!("]: {id}: attachment \"invoices/does-not-exist.pdf\"")));
    }
    let exigrep = setup.exim.exigrep(&id);
    assert_eq!(exigrep.matches("transport filter process failed").count(), 3, "{exigrep}");

    // Giving up: a bounce to the sender saying why.
    let before: Vec<String> = queued_ids(&setup.exim);
    setup.exim.exim(&["-Mg", &id], b"").assert_success("exim -Mg");
    assert!(!setup.exim.is_queued(&id), "{}", setup.exim.report());
    let bounces: Vec<String> =
        queued_ids(&setup.exim).into_iter().filter(|b| !before.contains(b)).collect();
    assert_eq!(bounces.len(), 1, "{}", setup.exim.report());
    assert!(setup.exim.mainlog().contains(&format!("{id} cancelled by root")));
    let body = setup.exim.exim(&["-Mvb", &bounces[0]], b"").stdout;
    assert!(contains(&body, b"The following address(es) failed:\n\n  user@example.test\n"));
    assert!(contains(&body, b"application/x-mimeinject"), "the template goes back to the sender");

    // Removing: no bounce at all.
    let other = setup.exim.submit(SENDER, &["user@example.test"], &missing);
    setup.exim.deliver(&other);
    let before = queued_ids(&setup.exim);
    setup.exim.exim(&["-Mrm", &other], b"").assert_success("exim -Mrm");
    let after = queued_ids(&setup.exim);
    assert!(!after.contains(&other) && after.len() == before.len() - 1, "{after:?}");
}

/// The message ids on the queue (`exim -bp`).
fn queued_ids(exim: &Exim) -> Vec<String> {
    let queue = exim.queue();
    let ids = queue.lines().filter_map(|l| l.split_whitespace().nth(2));
    ids.filter(|w| w.len() >= 16 && w.contains('-')).map(str::to_string).collect()
}

/// `transport_filter_timeout` fires when the filter writes nothing for that long (here a
/// filter that sleeps; exim SIGKILLs it). Unlike a filter's failure this writes a retry
/// record: on smtp for the *host*, so that a second message to that host is not even tried
/// at the next queue run; on a local transport for the address.
fn filter_timeout_writes_a_retry_record(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::with_transport(smtp, |_, t| {
        t.set("transport_filter", "/bin/sleep 30");
        t.set("transport_filter_timeout", "1s");
    });
    let message = message_with_placeholder("user@example.test", "path=\"x.pdf\"");
    let first = setup.exim.submit(SENDER, &["user@example.test"], &message);
    setup.exim.deliver(&first);
    assert!(setup.exim.is_queued(&first), "deferred\n{}", setup.exim.report());
    assert!(
        setup.exim.mainlog().contains("defer (110): Connection timed out"),
        "{}",
        setup.exim.report()
    );
    let records = setup.exim.retry_records();
    assert_eq!(records.len(), 1, "{records:?}");
    if let Some(sink) = &setup.sink {
        let host = format!("T:127.0.0.1:127.0.0.1:{}", sink.port());
        assert!(records[0].starts_with(&host), "a retry record for the host: {records:?}");
        // Another message to the same host waits for the host's retry time.
        let second = setup.exim.submit(SENDER, &["alice@example.test"], &message);
        setup.exim.exim(&["-q"], b"");
        assert!(setup.exim.is_queued(&second), "{}", setup.exim.report());
        assert!(setup.exim.mainlog().contains("retry time not reached for any host"));
        assert_eq!(sink.connections(), 1, "the second message was not even tried");
    } else {
        assert!(records[0].starts_with("T:user@example.test"), "{records:?}");
    }
}

#[test]
fn smtp_filter_timeout_holds_the_host() {
    filter_timeout_writes_a_retry_record(true);
}

#[test]
fn maildir_filter_timeout_writes_an_address_retry_record() {
    filter_timeout_writes_a_retry_record(false);
}

/// What docs/operations.md says about `size_addition`, against a receiving exim with
/// `message_size_limit = 2M`: with the default a 1.4 MB output (announced at its small
/// pre-filter size) is accepted, and a 4.1 MB one is refused after the data (a bounce);
/// `size_addition = -1` changes nothing about that; `size_addition = 10M` makes the
/// receiver refuse even the small one at `MAIL FROM`.
#[test]
fn smtp_size_addition_against_a_size_limit() {
    if support::exim::should_skip() {
        return;
    }
    let receiver = support::exim::Receiver::start("2M");
    let sender = |size_addition: Option<&str>| {
        Exim::with_transport(Transport::Smtp { port: receiver.port() }, |exim, t| {
            readme_filter(exim, t);
            if let Some(value) = size_addition {
                t.set("size_addition", value);
            }
        })
    };
    let small = pseudo_random(11, 1 << 20);
    let big = pseudo_random(12, 3 << 20);
    let send = |exim: &Exim, file: &[u8]| {
        write_world_readable(&exim.root(), "att.bin", file);
        let message = message_with_placeholder("user@example.test", "path=\"att.bin\"");
        let id = exim.submit(SENDER, &["user@example.test"], &message);
        exim.deliver(&id);
        id
    };
    let log_of = |exim: &Exim, id: &str| -> String {
        exim.mainlog().lines().filter(|l| l.contains(id)).collect::<Vec<_>>().join("\n")
    };

    let default = sender(None);
    let id = send(&default, &small);
    assert!(log_of(&default, &id).contains("=> user@example.test"), "{}", default.report());
    let accepted = receiver.mainlog();
    assert!(accepted.contains("<= app@example.test"), "{accepted}");
    let id = send(&default, &big);
    let log = log_of(&default, &id);
    assert!(
        log.contains("** user@example.test")
            && log.contains("after end of data: 552 Message size exceeds maximum permitted"),
        "{log}"
    );

    let off = sender(Some("-1"));
    let id = send(&off, &big);
    let log = log_of(&off, &id);
    assert!(log.contains("after end of data: 552"), "{log}");

    let large = sender(Some("10M"));
    let id = send(&large, &small);
    let log = log_of(&large, &id);
    assert!(
        log.contains("** user@example.test")
            && log.contains("MAIL FROM:<app@example.test> SIZE=1048"),
        "{log}"
    );
    assert!(log.contains(": 552"), "{log}");
}

/// The guide's warning (docs/exim.md): `hosts_require_auth` on the transport defers every
/// message when the server offers no AUTH (the sink offers none).
#[test]
fn smtp_hosts_require_auth_without_auth_defers() {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::with_transport(true, |exim, t| {
        readme_filter(exim, t);
        t.set("hosts_require_auth", "<; $host_address");
    });
    let message = message_with_placeholder("user@example.test", "path=\"x.pdf\"");
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
    setup.exim.deliver(&id);
    assert!(setup.exim.is_queued(&id), "{}", setup.exim.report());
    assert!(
        setup.exim.mainlog().contains("authentication required but server did not advertise AUTH"),
        "{}",
        setup.exim.report()
    );
}

/// docs/exim.md: the file is looked up under the address as exim passes it, the domain in
/// lower case and the local part as the sender wrote it.
fn recipient_case(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::readme(smtp);
    let statement = b"statement for Alice\n";
    write_world_readable(
        &setup.exim.root(),
        "statements/Alice@example.test/statement.txt",
        statement,
    );
    let message = std::fs::read(crate::bin::testdata().join("messages/per-recipient.eml")).unwrap();
    let id = setup.exim.submit(SENDER, &["Alice@EXAMPLE.Test"], &message);
    setup.exim.deliver(&id);
    assert!(!setup.exim.is_queued(&id), "{}\n{:?}", setup.exim.report(), setup.filter_log_lines());
    let lines = setup.filter_log_lines();
    assert!(lines[0].contains("\"statements/Alice@example.test/statement.txt\""), "{lines:?}");
}

#[test]
fn maildir_recipient_case() {
    recipient_case(false);
}

#[test]
fn smtp_recipient_case() {
    recipient_case(true);
}

/// docs/exim.md: exim 4.96 refuses a tainted value (`$local_part`) as a filter argument and
/// fails the address (a bounce), rather than deferring it.
fn tainted_argument_fails_the_address(smtp: bool) {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::with_transport(smtp, |exim, t| {
        readme_filter(exim, t);
        let filter = t.get("transport_filter").unwrap().to_string();
        t.set("transport_filter", &filter.replacen(" --root ", " --var lp=$local_part --root ", 1));
    });
    let message = message_with_placeholder("user@example.test", "path=\"x.pdf\"");
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message);
    setup.exim.deliver(&id);
    let mainlog = setup.exim.mainlog();
    assert!(mainlog.contains("** user@example.test"), "failed, not deferred\n{mainlog}");
    assert!(mainlog.contains("Tainted arg"), "{mainlog}");
    setup.assert_nothing_delivered();
}

#[test]
fn maildir_tainted_argument_fails_the_address() {
    tainted_argument_fails_the_address(false);
}

#[test]
fn smtp_tainted_argument_fails_the_address() {
    tainted_argument_fails_the_address(true);
}
