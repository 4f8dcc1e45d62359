//! `mimeinject deliver` as a Postfix pipe(8) transport: the project's private
//! Postfix delivers through it, configured with the guide's own recipes (docs/postfix.md)
//! (`postfix/deliver-*`), to a real SMTP next hop (a private exim daemon,
//! with STARTTLS and AUTH), to a real Dovecot over LMTP, and to the test SMTP
//! sink where the next hop must misbehave on purpose.
//!
//! Needs root, the Postfix of `scripts/install-postfix.sh`, exim, Dovecot
//! (`dovecot-lmtpd`) and openssl; without them the tests skip, except under
//! `CI=true`, where they fail.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use super::{assert_carries_invoice, invoice_bytes, invoice_message};
use crate::bin;
use crate::support::postfix::nexthop::{self, Dovecot, EximHop, AUTH_PASSWORD, AUTH_USER};
use crate::support::postfix::{require_postfix, Deliver, FilterOutcome, Instance, Postfix};
use crate::support::readme::recipe;
use crate::support::smtp_sink::{Behaviour, SmtpSink};

/// Bounces go to the sender's virtual(8) maildir on the Postfix instance.
const SENDER: &str = "sender@bounces.test";
const RECIPIENT: &str = "user@example.test";
const SECOND: &str = "second@example.test";

/// Replaces `from` with `to` in a recipe, insisting that `from` is there: a
/// recipe that changed must fail here, not silently run something else.
fn subst(text: String, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the recipe no longer contains {from:?}:\n{text}");
    text.replace(from, to)
}

/// The guide's master.cf recipe `name`, made to run here: the binary and
/// directories of the instance, `nobody` as the pipe(8) user, the next hop.
fn master_cf(name: &str, nexthop_from: &str, nexthop_to: &str) -> String {
    let text = recipe(name);
    let text = subst(text, "/usr/local/bin/mimeinject", "@WORK@/bin/mimeinject");
    let text = subst(text, "user=mimeinject", "user=nobody");
    let text = subst(text, "/srv/mail-attachments", "@WORK@/files");
    let text = subst(text, "/var/log/mimeinject/deliver.log", "@WORK@/log/mimeinject.log");
    subst(text, nexthop_from, nexthop_to)
}

/// Postfix delivering `*@example.test` through the SMTP recipe to
/// `[127.0.0.1]:port`; bounces to `@bounces.test` stay on the instance.
fn start_smtp(port: u16) -> Option<Instance> {
    let postfix = require_postfix()?;
    if crate::support::should_skip(nexthop::missing()) {
        return None;
    }
    let main_cf = format!(
        "virtual_mailbox_domains = bounces.test\n{}",
        recipe("postfix/deliver-smtp.main.cf")
    );
    let master = master_cf(
        "postfix/deliver-smtp.master.cf",
        "smtp:[relay.example.com]:25",
        &format!("smtp:[127.0.0.1]:{port}"),
    );
    Some(start(postfix, main_cf, master))
}

fn start(postfix: Postfix, main_cf: String, master_cf: String) -> Instance {
    let deliver = Deliver { binary: bin::path(), main_cf, master_cf };
    let pf = Instance::start_deliver(postfix, deliver).unwrap_or_else(|e| panic!("{e}"));
    // pipe(8) runs mimeinject as nobody: the files must be readable by it.
    fs::set_permissions(pf.files_dir(), fs::Permissions::from_mode(0o755)).unwrap();
    pf
}

fn put_file(pf: &Instance, relative: &str, bytes: &[u8]) {
    crate::support::write_world_readable(&pf.files_dir(), relative, bytes);
}

fn submit(pf: &Instance, to: &[&str], message: &[u8]) -> String {
    pf.submit(SENDER, to, message).unwrap_or_else(|e| panic!("{e}"))
}

fn settle(pf: &Instance, qid: &str, attempt: usize) -> FilterOutcome {
    let t = Instant::now();
    let o = pf.settle_attempt(qid, attempt).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{qid} #{attempt}: {} after {:.1?}: {}", o.status, t.elapsed(), o.line);
    o
}

fn stop(mut pf: Instance) {
    let problems = pf.stop();
    assert!(problems.is_empty(), "Postfix did not stop cleanly: {problems:#?}");
}

/// Nothing in Postfix's queue but `qid`, deferred; no bounce.
fn assert_deferred(pf: &Instance, qid: &str, o: &FilterOutcome) {
    assert_eq!(o.status, "deferred", "{}\n{}", o.line, pf.maillog());
    let queue = pf.queue().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(queue.len(), 1, "{queue:#?}");
    assert_eq!((queue[0].queue_id.as_str(), queue[0].queue_name.as_str()), (qid, "deferred"));
    assert!(pf.delivered_at("bounces.test", "sender").is_empty(), "a bounce reached the sender");
}

#[test]
fn postfix_deliver_smtp_to_exim_attachment_arrives_byte_exact() {
    let Ok(hop) = start_exim() else { return };
    let Some(pf) = start_smtp(hop.port()) else { return };
    let invoice = invoice_bytes();
    put_file(&pf, "invoices/inv-42.pdf", &invoice);
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("invoices/inv-42.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_eq!(o.status, "sent", "{}\n{}", o.line, pf.maillog());
    // pipe(8) logs mimeinject's line: the next hop's own acceptance.
    assert!(o.line.contains(&format!("smtp:[127.0.0.1]:{} said: 250", hop.port())), "{}", o.line);
    let got = hop.delivered("user", 1);
    assert_eq!(got.len(), 1, "{}", hop.log());
    // The recipe's --queue-id ${queue_id}: the audit line starts with Postfix's queue id.
    let log = std::fs::read_to_string(pf.work().join("log/mimeinject.log")).unwrap();
    let expected = format!(
        "{qid}: 1 recipient, 1 attachment ({} bytes): \"invoices/inv-42.pdf\" {} bytes; \
         to <{RECIPIENT}>",
        invoice.len(),
        invoice.len()
    );
    assert!(log.lines().any(|l| l.contains(&expected)), "{expected:?} not in\n{log}");
    stop(pf);
    // STARTTLS happened (level may, offered by exim), and the content is
    // the invoice, attachment decoding to the file byte for byte.
    let text = String::from_utf8_lossy(&got[0]);
    assert!(text.contains("with esmtps"), "not received over TLS:\n{text}");
    assert_carries_invoice(&got[0], &invoice);
}

#[test]
fn postfix_deliver_smtp_per_recipient_files_arrive() {
    let Ok(hop) = start_exim() else { return };
    let Some(pf) = start_smtp(hop.port()) else { return };
    let for_user = invoice_bytes();
    let for_second: Vec<u8> = for_user.iter().rev().map(|b| b ^ 0x5a).collect();
    put_file(&pf, &format!("per-rcpt/{RECIPIENT}.pdf"), &for_user);
    put_file(&pf, &format!("per-rcpt/{SECOND}.pdf"), &for_second);
    let qid = submit(&pf, &[RECIPIENT, SECOND], &invoice_message("per-rcpt/{rcpt}.pdf"));
    settle(&pf, &qid, 2);
    let results = pf.filter_results(&qid);
    assert_eq!(results.len(), 2, "one pipe(8) run per recipient: {results:#?}");
    assert!(results.iter().all(|r| r.status == "sent"), "{results:#?}");
    let user = hop.delivered("user", 1);
    let second = hop.delivered("second", 1);
    assert_eq!((user.len(), second.len()), (1, 1), "{}", hop.log());
    stop(pf);
    assert_carries_invoice(&user[0], &for_user);
    assert_carries_invoice(&second[0], &for_second);
}

#[test]
fn postfix_deliver_smarthost_tls_secure_and_auth() {
    let Ok(hop) = start_exim() else { return };
    let Some(postfix) = require_postfix() else { return };
    let main_cf = format!(
        "virtual_mailbox_domains = bounces.test\n{}",
        recipe("postfix/deliver-smtp.main.cf")
    );
    let nexthop = format!("smtp:[127.0.0.1]:{}", hop.port());
    let master =
        master_cf("postfix/deliver-smarthost.master.cf", "smtp:[smtp.example.net]:587", &nexthop);
    // The test CA instead of the system store (which must not be touched).
    let master = subst(
        master,
        "--tls-security-level secure",
        &format!("--tls-security-level secure --tls-ca-file {}", hop.ca_file().display()),
    );
    let master = subst(master, "/etc/mimeinject/sasl_passwd", "@WORK@/conf/sasl_passwd");
    let pf = start(postfix, main_cf, master);
    let table = format!("[127.0.0.1]:{} {AUTH_USER}:{AUTH_PASSWORD}\n", hop.port());
    fs::write(pf.work().join("conf/sasl_passwd"), table).unwrap();
    fs::set_permissions(pf.work().join("conf/sasl_passwd"), fs::Permissions::from_mode(0o644))
        .unwrap();
    let invoice = invoice_bytes();
    put_file(&pf, "invoices/inv-42.pdf", &invoice);
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("invoices/inv-42.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_eq!(o.status, "sent", "{}\n{}", o.line, pf.maillog());
    let got = hop.delivered("user", 1);
    assert_eq!(got.len(), 1, "{}", hop.log());
    let text = String::from_utf8_lossy(&got[0]);
    // esmtpsa: TLS and authenticated (exim's Received: header).
    assert!(text.contains("with esmtpsa"), "not TLS + AUTH:\n{text}");
    assert!(hop.log().contains(&format!("A=plain:{AUTH_USER}")), "{}", hop.log());

    // A wrong password defers (AUTH failures are not a verdict on the
    // message), with nothing delivered.
    let table = format!("[127.0.0.1]:{} {AUTH_USER}:wrong\n", hop.port());
    fs::write(pf.work().join("conf/sasl_passwd"), table).unwrap();
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("invoices/inv-42.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_deferred(&pf, &qid, &o);
    assert!(o.line.contains("in reply to AUTH"), "{}", o.line);
    stop(pf);
    assert_carries_invoice(&got[0], &invoice);
    assert_eq!(hop.delivered("user", 2).len(), 1, "the second message was delivered");
}

#[test]
fn postfix_deliver_missing_file_defers_then_delivers() {
    let sink = SmtpSink::start();
    let Some(pf) = start_smtp(sink.port()) else { return };
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("invoices/inv-43.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_deferred(&pf, &qid, &o);
    assert_eq!(o.dsn, "4.3.0", "{}", o.line);
    assert!(
        o.line.contains("invoices/inv-43.pdf") && o.line.contains("nothing delivered"),
        "{}",
        o.line
    );
    // Pre-flight found it: the next hop was not even contacted, so it
    // certainly received no end of data.
    assert_eq!(sink.connections(), 0);
    assert!(sink.messages().is_empty() && sink.dropped().is_empty());
    let logged = fs::read_to_string(pf.filter_log()).unwrap_or_default();
    assert!(logged.contains("invoices/inv-43.pdf"), "--log-file: {logged:?}");

    let invoice = invoice_bytes();
    put_file(&pf, "invoices/inv-43.pdf", &invoice);
    pf.retry(&qid).unwrap_or_else(|e| panic!("{e}"));
    let o = settle(&pf, &qid, 2);
    assert_eq!(o.status, "sent", "{}\n{}", o.line, pf.maillog());
    let queue = pf.queue().unwrap_or_else(|e| panic!("{e}"));
    assert!(queue.is_empty(), "{queue:#?}");
    stop(pf);
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].mail_from.as_str(), got[0].rcpt_to.as_slice()),
        (SENDER, &[RECIPIENT.to_owned()][..])
    );
    assert_carries_invoice(&got[0].data, &invoice);
}

#[test]
fn postfix_deliver_4xx_defers_with_the_next_hops_code() {
    let sink = SmtpSink::start_with(Behaviour {
        rcpt_reply: Some("451 4.7.1 greylisted, come back later".into()),
        ..Behaviour::default()
    });
    let Some(pf) = start_smtp(sink.port()) else { return };
    put_file(&pf, "invoices/inv-42.pdf", &invoice_bytes());
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("invoices/inv-42.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_deferred(&pf, &qid, &o);
    assert_eq!(o.dsn, "4.7.1", "{}", o.line);
    assert!(o.line.contains("greylisted, come back later"), "{}", o.line);
    assert!(sink.messages().is_empty() && sink.dropped().is_empty(), "DATA was sent");
    stop(pf);
}

#[test]
fn postfix_deliver_5xx_bounces_with_the_next_hops_text() {
    let sink = SmtpSink::start_with(Behaviour {
        data_end_reply: Some("554 5.7.1 attachment refused by policy".into()),
        ..Behaviour::default()
    });
    let Some(pf) = start_smtp(sink.port()) else { return };
    put_file(&pf, "invoices/inv-42.pdf", &invoice_bytes());
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("invoices/inv-42.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_eq!(o.status, "bounced", "{}\n{}", o.line, pf.maillog());
    assert_eq!(o.dsn, "5.7.1", "{}", o.line);
    // The bounce notice reaches the sender with the next hop's text.
    let bounces = wait_for_files(|| pf.delivered_at("bounces.test", "sender"), 1);
    let notice = fs::read_to_string(&bounces[0]).unwrap();
    // Postfix folds long lines of the notice; compare with the folds undone.
    let flat = notice.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("said: 554 5.7.1 attachment refused by policy"), "{notice}");
    assert!(notice.contains("Status: 5.7.1"), "{notice}");
    stop(pf);
}

/// A permanent failure of mimeinject's own (a path no root can hold) bounces at once, with
/// mimeinject's reason and the status 5.6.0 in the notice to the sender; the next hop is
/// never contacted.
#[test]
fn postfix_deliver_permanent_failure_bounces_with_mimeinjects_reason() {
    let sink = SmtpSink::start();
    let Some(pf) = start_smtp(sink.port()) else { return };
    put_file(&pf, "invoices/inv-42.pdf", &invoice_bytes());
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("../invoices/inv-42.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_eq!(o.status, "bounced", "{}\n{}", o.line, pf.maillog());
    assert_eq!(o.dsn, "5.6.0", "{}", o.line);
    let reason = "attachment \"../invoices/inv-42.pdf\": '..' component refused";
    assert!(o.line.contains(&format!("mimeinject: {reason}")), "{}", o.line);
    let queue = pf.queue().unwrap_or_else(|e| panic!("{e}"));
    assert!(queue.is_empty(), "{qid} still queued: {queue:#?}");
    let bounces = wait_for_files(|| pf.delivered_at("bounces.test", "sender"), 1);
    let notice = fs::read_to_string(&bounces[0]).unwrap();
    let flat = notice.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("mimeinject: {reason}")), "{notice}");
    assert!(notice.contains("Status: 5.6.0"), "{notice}");
    assert_eq!(sink.connections(), 0, "the next hop was contacted");
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

#[test]
fn postfix_deliver_connection_dropped_mid_data_defers_with_nothing_accepted() {
    let sink =
        SmtpSink::start_with(Behaviour { drop_after: Some(100_000), ..Behaviour::default() });
    let Some(pf) = start_smtp(sink.port()) else { return };
    put_file(&pf, "big.bin", &crate::support::pseudo_random(3, 2 << 20));
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("big.bin"));
    let o = settle(&pf, &qid, 1);
    assert_deferred(&pf, &qid, &o);
    assert!(sink.messages().is_empty(), "a message was accepted");
    assert_eq!(sink.dropped().len(), 1, "DATA had not started: the test shows nothing");
    stop(pf);
}

#[test]
fn postfix_deliver_killing_mimeinject_mid_delivery_defers() {
    let sink =
        SmtpSink::start_with(Behaviour { stall_after: Some(100_000), ..Behaviour::default() });
    let Some(pf) = start_smtp(sink.port()) else { return };
    put_file(&pf, "big.bin", &crate::support::pseudo_random(4, 4 << 20));
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("big.bin"));
    // mimeinject is now blocked writing to a next hop that stopped reading.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let (true, [pid]) = (sink.stalled() > 0, pf.pids_of("mimeinject").as_slice()) {
            break *pid;
        }
        assert!(Instant::now() < deadline, "mimeinject never got stuck:\n{}", pf.maillog());
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill(2) on the PID of the instance's own mimeinject.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    sink.release();
    let o = settle(&pf, &qid, 1);
    assert_deferred(&pf, &qid, &o);
    assert!(o.line.contains("signal 9"), "{}", o.line);
    assert!(sink.messages().is_empty(), "a message was accepted");
    stop(pf);
}

#[test]
fn postfix_deliver_lmtp_to_dovecot() {
    let Some(postfix) = require_postfix() else { return };
    if crate::support::should_skip(nexthop::missing()) {
        return;
    }
    let dovecot = Dovecot::start().unwrap_or_else(|e| panic!("{e}"));
    let main_cf = format!(
        "virtual_mailbox_domains = example.test bounces.test\n{}",
        recipe("postfix/deliver-lmtp.main.cf")
    );
    let master = master_cf(
        "postfix/deliver-lmtp.master.cf",
        "lmtp:unix:/run/dovecot/lmtp",
        &format!("lmtp:unix:{}", dovecot.socket().display()),
    );
    let pf = start(postfix, main_cf, master);
    let for_user = invoice_bytes();
    let for_second: Vec<u8> = for_user.iter().rev().map(|b| b ^ 0x33).collect();
    put_file(&pf, &format!("per-rcpt/{RECIPIENT}.pdf"), &for_user);
    put_file(&pf, &format!("per-rcpt/{SECOND}.pdf"), &for_second);
    let qid = submit(&pf, &[RECIPIENT, SECOND], &invoice_message("per-rcpt/{rcpt}.pdf"));
    settle(&pf, &qid, 2);
    let results = pf.filter_results(&qid);
    assert_eq!(results.len(), 2, "{results:#?}\n{}", pf.maillog());
    assert!(results.iter().all(|r| r.status == "sent"), "{results:#?}");
    let user = dovecot.delivered("example.test", "user", 1);
    let second = dovecot.delivered("example.test", "second", 1);
    assert_eq!((user.len(), second.len()), (1, 1), "{}", dovecot.log());

    // A missing file: deferred, nothing in the mailbox; delivered once the
    // file is there.
    let qid = submit(&pf, &[RECIPIENT], &invoice_message("invoices/inv-44.pdf"));
    let o = settle(&pf, &qid, 1);
    assert_eq!(o.status, "deferred", "{}", o.line);
    put_file(&pf, "invoices/inv-44.pdf", &for_second);
    pf.retry(&qid).unwrap_or_else(|e| panic!("{e}"));
    let o = settle(&pf, &qid, 2);
    assert_eq!(o.status, "sent", "{}\n{}", o.line, pf.maillog());
    let user_all = dovecot.delivered("example.test", "user", 2);
    assert_eq!(user_all.len(), 2, "{}", dovecot.log());
    stop(pf);
    assert_carries_invoice(&user[0], &for_user);
    assert_carries_invoice(&second[0], &for_second);
    let later = user_all.iter().find(|m| **m != user[0]).unwrap();
    assert_carries_invoice(later, &for_second);
}

fn start_exim() -> Result<EximHop, ()> {
    if require_postfix().is_none() || crate::support::should_skip(nexthop::missing()) {
        return Err(());
    }
    Ok(EximHop::start().unwrap_or_else(|e| panic!("{e}")))
}

fn wait_for_files(list: impl Fn() -> Vec<std::path::PathBuf>, n: usize) -> Vec<std::path::PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let files = list();
        if files.len() >= n {
            return files;
        }
        assert!(Instant::now() < deadline, "expected {n} files");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `secure` really checks the certificate: the exim next hop's test CA is
/// not in the system store, so without `--tls-ca-file` nothing is sent;
/// with it, the message goes. (The binary alone, no Postfix.)
#[test]
fn deliver_tls_secure_checks_the_certificate() {
    let Ok(hop) = start_exim() else { return };
    let root = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(bin::path());
        cmd.env_clear()
            .args(["deliver", "--no-syslog", "--root", root.path().to_str().unwrap()])
            .args(["--nexthop", &format!("smtp:[127.0.0.1]:{}", hop.port())])
            .args(["--tls-security-level", "secure"])
            .args(extra)
            .args(["-f", SENDER, "--", RECIPIENT]);
        crate::support::run(&mut cmd, b"Subject: tls\n\nhello\n", bin::TIMEOUT)
    };
    let out = run(&[]);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(75), "{line}");
    assert!(line.contains("TLS") && line.contains("certificate"), "{line}");
    assert!(hop.delivered("user", 0).is_empty());
    let ca = hop.ca_file();
    let out = run(&["--tls-ca-file", ca.to_str().unwrap()]);
    out.assert_success("deliver --tls-security-level secure --tls-ca-file");
    let got = hop.delivered("user", 1);
    assert_eq!(got.len(), 1, "{}", hop.log());
    assert!(String::from_utf8_lossy(&got[0]).contains("with esmtps"));
}
