//! mimeinject under a real Postfix, as an after-queue content filter run by
//! pipe(8) through `contrib/mimeinject-postfix-wrapper`.
//!
//! Each test starts a private Postfix instance in a temporary directory (see
//! `support/postfix`), submits one message over SMTP on a UNIX socket, waits
//! (bounded) for the queue to settle, and looks at the maildirs, the queue
//! and the log. Needs root and the Postfix from `scripts/install-postfix.sh`;
//! without them the tests skip (`SKIP …`, see `support/skip.rs`), except under
//! `CI=true`, where they fail.
//!
//! Two tests use stand-in filters to show that the harness itself can tell a
//! delivery from a deferral; the others run the real `mimeinject`.

// The same Postfix with `mimeinject deliver` as its delivery agent.
#[path = "postfix_deliver.rs"]
mod deliver;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::bin;
use crate::support::postfix::{mime, require_postfix, Filter, FilterOutcome, Instance};

const SENDER: &str = "sender@example.test";
const RECIPIENT: &str = "user@example.test";
const SECOND: &str = "second@example.test";

fn invoice_message(path: &str) -> Vec<u8> {
    format!(
        "From: app@example.test\n\
         To: {RECIPIENT}\n\
         Subject: Your invoice\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\
         \n\
         --b1\n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         Hello, your invoice is attached.\n\
         --b1\n\
         Content-Type: application/x-mimeinject; path=\"{path}\"; filename=\"Invoice 42.pdf\"\n\
         \n\
         --b1--\n"
    )
    .into_bytes()
}

/// Every byte value, then pseudo-random bytes; 10,001 bytes, so the base64
/// ends in padding.
fn invoice_bytes() -> Vec<u8> {
    let mut out: Vec<u8> = (0..=255u8).collect();
    let mut x: u32 = 0x2545_f491;
    while out.len() < 10_001 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push((x >> 24) as u8);
    }
    out
}

fn start(filter: Filter<'_>) -> Option<Instance> {
    let postfix = require_postfix()?;
    Some(Instance::start(postfix, filter).unwrap_or_else(|e| panic!("{e}")))
}

fn submit_and_settle(pf: &Instance, message: &[u8]) -> (String, FilterOutcome) {
    let t = Instant::now();
    let qid = pf.submit(SENDER, &[RECIPIENT], message).unwrap_or_else(|e| panic!("{e}"));
    let outcome = pf.settle(&qid).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{qid}: {} after {:.1?}: {}", outcome.status, t.elapsed(), outcome.line);
    (qid, outcome)
}

fn stop(mut pf: Instance) {
    let t = Instant::now();
    let problems = pf.stop();
    eprintln!("postfix stopped in {:.1?}", t.elapsed());
    assert!(problems.is_empty(), "Postfix did not stop cleanly: {problems:#?}");
}

/// Exactly one message in `user`'s maildir; returns its content.
fn only_delivery(pf: &Instance, user: &str) -> Vec<u8> {
    let files = pf.delivered(user);
    assert_eq!(files.len(), 1, "deliveries to {user}: {files:?}\n{}", pf.maillog());
    fs::read(&files[0]).unwrap()
}

/// The message is the only one in Postfix's queue, in the `deferred` queue
/// with its recipient still pending; nothing reached the recipient and no
/// bounce was generated.
fn assert_deferred_not_bounced(pf: &Instance, qid: &str, outcome: &FilterOutcome) {
    let log = pf.maillog();
    assert_eq!(outcome.status, "deferred", "{}\n{log}", outcome.line);
    assert!(outcome.dsn.starts_with("4."), "dsn {} in {}", outcome.dsn, outcome.line);
    let queue = pf.queue().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(queue.len(), 1, "queue: {queue:#?}");
    let entry = &queue[0];
    assert_eq!(
        (entry.queue_id.as_str(), entry.queue_name.as_str()),
        (qid, "deferred"),
        "{}",
        entry.line
    );
    assert_eq!(entry.sender, SENDER, "{}", entry.line);
    assert_eq!(entry.recipients.len(), 1, "{}", entry.line);
    assert_eq!(entry.recipients[0].0, RECIPIENT, "{}", entry.line);
    assert!(!entry.recipients[0].1.is_empty(), "no delay reason: {}", entry.line);
    assert!(pf.delivered("user").is_empty(), "something was delivered:\n{log}");
    assert!(pf.delivered("sender").is_empty(), "a bounce reached the sender:\n{log}");
    assert!(!log.contains("status=bounced"), "something bounced:\n{log}");
    assert!(!log.contains("from=<>"), "a notification was queued:\n{log}");
}

#[test]
fn postfix_placeholder_is_delivered_with_the_file_attached() {
    let Some(pf) = start(Filter::Binary(bin::path())) else { return };
    let invoice = invoice_bytes();
    let dir = pf.files_dir().join("invoices");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("inv-42.pdf"), &invoice).unwrap();

    let (_, outcome) = submit_and_settle(&pf, &invoice_message("invoices/inv-42.pdf"));
    assert_eq!(outcome.status, "sent", "{}\n{}", outcome.line, pf.maillog());
    let delivered = only_delivery(&pf, "user");
    assert!(pf.delivered("sender").is_empty(), "unexpected mail to the sender");
    stop(pf);
    assert_carries_invoice(&delivered, &invoice);
}

/// `delivered` is the invoice message with the stub replaced by `invoice`
/// as a base64 attachment that decodes to exactly those bytes.
fn assert_carries_invoice(delivered: &[u8], invoice: &[u8]) {
    let lower = String::from_utf8_lossy(delivered).to_ascii_lowercase();
    assert!(!lower.contains("application/x-mimeinject"), "placeholder left in the message");
    let parts = mime::top_level_parts(delivered).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parts.len(), 2, "parts of the delivered message");
    assert_eq!(parts[0].body, b"Hello, your invoice is attached.");
    let att = &parts[1];
    assert_eq!(att.filename().as_deref(), Some("Invoice 42.pdf"));
    let cte = att.header("content-transfer-encoding").unwrap_or("");
    assert!(cte.eq_ignore_ascii_case("base64"), "Content-Transfer-Encoding: {cte}");
    let decoded = mime::decode_base64(att.body).unwrap_or_else(|e| panic!("{e}"));
    assert!(decoded == invoice, "attachment differs: {} vs {} bytes", decoded.len(), invoice.len());

    // The same through Python's MIME parser (scripts/mime_check.py), as a
    // client would read it: no defects, the attachment decodes to the file.
    if bin::python3() {
        let dir = tempfile::tempdir().unwrap();
        let (eml, pdf) = (dir.path().join("delivered.eml"), dir.path().join("invoice.pdf"));
        fs::write(&eml, delivered).unwrap();
        fs::write(&pdf, invoice).unwrap();
        let check = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mime_check.py"))
            .arg(&eml)
            .arg(format!("Invoice 42.pdf={}", pdf.display()))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "mime_check.py: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}

/// With one recipient per filter run (`mimeinject_destination_recipient_limit
/// = 1`), `{rcpt}` picks each recipient's own file out of one submission.
#[test]
fn postfix_rcpt_selects_each_recipients_file() {
    let Some(pf) = start(Filter::Binary(bin::path())) else { return };
    let for_user = invoice_bytes();
    let for_second: Vec<u8> = for_user.iter().rev().map(|b| b ^ 0x5a).collect();
    let dir = pf.files_dir().join("per-rcpt");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("{RECIPIENT}.pdf")), &for_user).unwrap();
    fs::write(dir.join(format!("{SECOND}.pdf")), &for_second).unwrap();

    let t = Instant::now();
    let message = invoice_message("per-rcpt/{rcpt}.pdf");
    let qid = pf.submit(SENDER, &[RECIPIENT, SECOND], &message).unwrap_or_else(|e| panic!("{e}"));
    pf.settle_attempt(&qid, 2).unwrap_or_else(|e| panic!("{e}"));
    let results = pf.filter_results(&qid);
    eprintln!("{qid}: settled after {:.1?}: {results:#?}", t.elapsed());
    assert_eq!(results.len(), 2, "{results:#?}");
    for rcpt in [RECIPIENT, SECOND] {
        let to = format!("to=<{rcpt}>");
        let r = results.iter().find(|r| r.line.contains(&to));
        assert!(r.is_some_and(|r| r.status == "sent"), "{rcpt}: {results:#?}");
    }
    let user = only_delivery(&pf, "user");
    let second = only_delivery(&pf, "second");
    assert!(pf.delivered("sender").is_empty(), "unexpected mail to the sender");
    stop(pf);
    assert_carries_invoice(&user, &for_user);
    assert_carries_invoice(&second, &for_second);
}

/// A missing file defers the message (it stays in Postfix's deferred queue,
/// no bounce); once the file exists, a retry delivers it.
#[test]
fn postfix_missing_file_is_deferred_not_bounced() {
    let Some(pf) = start(Filter::Binary(bin::path())) else { return };
    let (qid, outcome) = submit_and_settle(&pf, &invoice_message("invoices/inv-43.pdf"));
    assert_deferred_not_bounced(&pf, &qid, &outcome);
    // The wrapper reports mimeinject's own status, its --failure-exit-code
    // (not a crash that happened to be turned into a deferral), and the
    // reason mimeinject gave.
    assert!(
        outcome.line.contains("mimeinject exited with status 75")
            && outcome.line.contains("invoices/inv-43.pdf"),
        "unexpected filter result: {}",
        outcome.line
    );
    let reason = fs::read_to_string(pf.filter_log()).unwrap_or_default();
    assert!(reason.contains("invoices/inv-43.pdf"), "--log-file has no reason: {reason:?}");

    // The deferred original is intact: with the file in place, the retry
    // delivers it with the attachment.
    let invoice = invoice_bytes();
    let dir = pf.files_dir().join("invoices");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("inv-43.pdf"), &invoice).unwrap();
    pf.retry(&qid).unwrap_or_else(|e| panic!("{e}"));
    let outcome = pf.settle_attempt(&qid, 2).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{qid}, retried: {}", outcome.line);
    assert_eq!(outcome.status, "sent", "{}\n{}", outcome.line, pf.maillog());
    let delivered = only_delivery(&pf, "user");
    assert!(pf.delivered("sender").is_empty(), "unexpected mail to the sender");
    let queue = pf.queue().unwrap_or_else(|e| panic!("{e}"));
    assert!(queue.is_empty(), "queue not empty after the retry: {queue:#?}");
    stop(pf);
    assert_carries_invoice(&delivered, &invoice);
}

/// A permanent failure (a path no root can hold) is bounced at once, with
/// mimeinject's reason in the notice to the sender: the wrapper passes
/// `--permanent-exit-code 69` and prints the status code 5.6.0 first.
#[test]
fn postfix_permanent_failure_is_bounced_with_the_reason() {
    let Some(pf) = start(Filter::Binary(bin::path())) else { return };
    let (qid, outcome) = submit_and_settle(&pf, &invoice_message("../invoices/inv-42.pdf"));
    assert_eq!(outcome.status, "bounced", "{}\n{}", outcome.line, pf.maillog());
    assert_eq!(outcome.dsn, "5.6.0", "{}", outcome.line);
    let reason = "attachment \"../invoices/inv-42.pdf\": '..' component refused";
    assert!(outcome.line.contains(reason), "{}", outcome.line);
    let queue = pf.queue().unwrap_or_else(|e| panic!("{e}"));
    assert!(queue.is_empty(), "{qid} still queued: {queue:#?}");
    assert!(pf.delivered("user").is_empty(), "the message was delivered");
    let notices = pf.delivered("sender");
    assert_eq!(notices.len(), 1, "one bounce to the sender\n{}", pf.maillog());
    let notice = fs::read_to_string(&notices[0]).unwrap();
    // Postfix folds long lines of the notice; compare with the folds undone.
    let flat = notice.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("mimeinject: {reason}")), "{notice}");
    assert!(notice.contains("Status: 5.6.0"), "{notice}");
    // Shown with --nocapture: what the sender reads.
    eprintln!(
        "{}",
        notice
            .lines()
            .filter(|l| l.contains("mimeinject")
                || l.starts_with("Status:")
                || l.starts_with("Action:"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    stop(pf);
}

/// Harness self-check: a filter that copies its input delivers the message
/// as submitted.
#[test]
fn postfix_harness_cat_delivers_the_message_unchanged() {
    let Some(pf) = start(Filter::Script("exec cat")) else { return };
    let message = invoice_message("invoices/inv-42.pdf");
    let (_, outcome) = submit_and_settle(&pf, &message);
    assert_eq!(outcome.status, "sent", "{}", outcome.line);
    assert_eq!(outcome.dsn, "2.0.0");
    let delivered = only_delivery(&pf, "user");
    // The re-injected copy went straight to delivery, not round the filter
    // again (pickup's `-o content_filter=`).
    let log = pf.maillog();
    assert_eq!(log.matches("relay=mimeinject,").count(), 1, "{log}");
    assert_eq!(log.matches("postfix/pickup[").count(), 1, "{log}");
    stop(pf);
    // Postfix puts its own trace headers in front; the rest is unchanged.
    assert!(delivered.ends_with(&message), "{}", String::from_utf8_lossy(&delivered));
    let text = String::from_utf8_lossy(&delivered);
    assert_eq!(text.lines().filter(|l| l.starts_with("Return-Path:")).count(), 1, "{text}");
}

/// Harness self-check: a filter that writes half the message and exits 75
/// defers it, and the wrapper re-injects nothing.
#[test]
fn postfix_harness_tempfail_defers_and_discards_partial_output() {
    let script = "input=$(cat)\n\
                  printf '%s\\n' \"$input\" | head -c 120\n\
                  echo 'stand-in says: try later' >&2\n\
                  exit 75";
    let Some(pf) = start(Filter::Script(script)) else { return };
    let (qid, outcome) = submit_and_settle(&pf, &invoice_message("invoices/inv-42.pdf"));
    assert_deferred_not_bounced(&pf, &qid, &outcome);
    assert!(outcome.line.contains("mimeinject exited with status 75"), "{}", outcome.line);
    assert!(outcome.line.contains("stand-in says: try later"), "{}", outcome.line);
    assert!(!pf.maillog().contains("postfix/pickup"), "the wrapper re-injected something");
    stop(pf);
}
