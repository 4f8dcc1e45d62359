//! `--records` and the records router (docs/exim.md, "Bouncing what mimeinject refused"),
//! through a real exim: a permanent failure bounces at the next queue run with mimeinject's
//! reason; a temporary one stays deferred, is delivered once its cause is fixed (and its
//! record removed), or is given up with the reason after `MIMEINJECT_GIVE_UP`; a local user
//! can neither forge a record nor read one. And the options and `records` subcommand through
//! the binary.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::exim::{filter_program, id_of, Exim, Transport, EXIM_USER};
use crate::support::smtp_sink::SmtpSink;
use crate::support::{self, attachment, bin, pseudo_random, readme, write_world_readable};

/// The sender: a local part the harness routes, so that the bounce is delivered too.
const SENDER: &str = "bob@example.test";
/// Where the guide puts the records.
const DOC_RECORDS: &str = "/var/spool/exim4/mimeinject";

/// A private exim delivering over SMTP to a sink, with the guide's records directory, filter
/// option and router (the macros' values replaced by `give_up` seconds and this instance's
/// directory).
struct Setup {
    exim: Exim,
    sink: SmtpSink,
}

impl Setup {
    fn new(give_up: Option<u64>) -> Setup {
        let sink = SmtpSink::start();
        let exim = Exim::with_transport(Transport::Smtp { port: sink.port() }, |exim, t| {
            let filter = t.get("transport_filter").unwrap().to_string();
            let records = records_dir(exim);
            let id = "--queue-id $message_exim_id";
            assert!(filter.contains(id), "{filter}");
            let with = filter.replacen(id, &format!("{id} --records {}", records.display()), 1);
            // The guide's own line, with this instance's paths.
            let doc_line = with
                .replace(&filter_program(), crate::support::exim::README_BINARY)
                .replace(exim.root().to_str().unwrap(), crate::support::exim::README_ROOT)
                .replace(records.to_str().unwrap(), DOC_RECORDS);
            assert!(
                readme::document("docs/exim.md")
                    .contains(&format!("transport_filter = {doc_line}")),
                "docs/exim.md shows the filter line {doc_line}"
            );
            t.set("transport_filter", &with);
        });
        // The guide's directory set-up, at this instance's path.
        let script = readme::recipe("exim/records-dir.sh")
            .replace(DOC_RECORDS, records_dir(&exim).to_str().unwrap());
        let out = support::run(
            Command::new("sh").args(["-e", "-c", &script]),
            b"",
            Duration::from_secs(30),
        );
        out.assert_success("exim/records-dir.sh");
        let mut router = readme::recipe("exim/records.router")
            .replace(DOC_RECORDS, records_dir(&exim).to_str().unwrap());
        if let Some(seconds) = give_up {
            let line = "MIMEINJECT_GIVE_UP = 345600";
            assert!(router.contains(line), "{router}");
            router = router.replace(line, &format!("MIMEINJECT_GIVE_UP = {seconds}"));
        }
        exim.edit_config(|c| {
            c.replacen("begin routers\n", &format!("begin routers\n\n{router}\n"), 1)
        });
        Setup { exim, sink }
    }

    fn record(&self, id: &str) -> Option<String> {
        fs::read_to_string(records_dir(&self.exim).join(id)).ok()
    }

    /// The messages the sink received for `address`.
    fn delivered(&self, address: &str) -> Vec<Vec<u8>> {
        let messages = self.sink.messages().into_iter();
        messages.filter(|m| m.rcpt_to.iter().any(|r| r == address)).map(|m| m.data).collect()
    }

    /// Runs the queue once: `id` must be gone after it (failed by the router). Then runs it
    /// until the bounce, a new message, has left too (at most twice more).
    fn run_once_more(&self, id: &str) {
        self.exim.run_queue();
        assert!(!self.exim.is_queued(id), "gone at the next queue run\n{}", self.exim.report());
        for _ in 0..2 {
            if self.exim.queue().trim().is_empty() {
                return;
            }
            self.exim.run_queue();
        }
    }
}

fn records_dir(exim: &Exim) -> PathBuf {
    exim.dir().join("records")
}

/// A message from [`SENDER`] to user@example.test with one placeholder (`params`).
fn message(params: &str) -> Vec<u8> {
    format!(
        "From: {SENDER}\nTo: user@example.test\nSubject: Your invoice\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\n\
         Hello.\n--b1\nContent-Type: application/x-mimeinject; {params}\n\n--b1--\n"
    )
    .into_bytes()
}

#[test]
fn permanent_failure_bounces_with_the_reason() {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::new(None);
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message("path=\"../x\""));
    setup.exim.run_queue();
    assert!(setup.exim.is_queued(&id), "deferred at the first run\n{}", setup.exim.report());
    let record = setup.record(&id).unwrap_or_else(|| panic!("a record\n{}", setup.exim.report()));
    assert!(record.starts_with("permanent: ") && record.contains("../x"), "{record:?}");

    setup.run_once_more(&id);
    assert!(!setup.exim.is_queued(&id), "bounced\n{}", setup.exim.report());
    assert!(setup.delivered("user@example.test").is_empty(), "nothing delivered");
    let log = setup.exim.mainlog();
    assert!(
        log.lines().any(|l| l.contains(&format!("{id} ** user@example.test"))
            && l.contains("R=mimeinject_records")
            && l.contains("mimeinject: permanent: ")),
        "failed by the records router\n{log}"
    );
    let bounces = setup.delivered(SENDER);
    assert_eq!(bounces.len(), 1, "one bounce to the sender\n{}", setup.exim.report());
    let bounce = String::from_utf8_lossy(&bounces[0]);
    eprintln!("--- the sender's bounce ---\n{bounce}");
    let reason = record.trim_end();
    assert!(bounce.contains(&format!("mimeinject: {reason}")), "the reason {reason}\n{bounce}");
}

#[test]
fn temporary_failure_is_delivered_once_fixed_and_its_record_removed() {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::new(None);
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message("path=\"late.pdf\""));
    for _ in 0..2 {
        setup.exim.run_queue();
        assert!(setup.exim.is_queued(&id), "deferred\n{}", setup.exim.report());
        let record = setup.record(&id).expect("a record");
        assert!(record.starts_with("temporary: ") && record.contains("late.pdf"), "{record:?}");
    }
    // The records subcommand lists it, with the spool cross-checked.
    let dir = records_dir(&setup.exim);
    let spool = setup.exim.spool();
    let (out, _) = bin::run(
        &["records", "--dir", dir.to_str().unwrap(), "--spool", spool.to_str().unwrap()],
        b"",
    );
    out.assert_success("mimeinject records");
    let listing = String::from_utf8(out.stdout).unwrap();
    let line = listing.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!("{id} temporary ")) && line.contains("late.pdf"),
        "{listing}"
    );

    let pdf = pseudo_random(7, 3_000);
    write_world_readable(&setup.exim.root(), "late.pdf", &pdf);
    setup.exim.run_queue();
    assert!(!setup.exim.is_queued(&id), "delivered\n{}", setup.exim.report());
    let delivered = setup.delivered("user@example.test");
    assert_eq!(delivered.len(), 1);
    assert_eq!(attachment(&delivered[0], "late.pdf"), pdf);
    assert_eq!(setup.record(&id), None, "the record is removed on success");
    assert!(setup.delivered(SENDER).is_empty(), "no bounce");
}

#[test]
fn temporary_failure_is_given_up_after_the_configured_age() {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::new(Some(2));
    let id = setup.exim.submit(
        SENDER,
        &["user@example.test"],
        &message("path=\"never, :blackhole: $h_to: ever.pdf\""),
    );
    setup.exim.run_queue();
    assert!(setup.exim.is_queued(&id), "deferred while young\n{}", setup.exim.report());
    let record = setup.record(&id).expect("a record");
    std::thread::sleep(Duration::from_secs(3));
    setup.run_once_more(&id);
    assert!(!setup.exim.is_queued(&id), "given up\n{}", setup.exim.report());
    let bounces = setup.delivered(SENDER);
    assert_eq!(bounces.len(), 1, "one bounce\n{}", setup.exim.report());
    let bounce = String::from_utf8_lossy(&bounces[0]);
    // The whole line, quotes, a comma, `:blackhole:` and `$` included: exim takes the rest of
    // the item after `:fail:` as the message, and does not expand readfile's text again.
    let reason = record.trim_end();
    assert!(
        reason.starts_with("temporary: ") && reason.contains("never, :blackhole: $h_to: ever.pdf"),
        "{reason}"
    );
    // exim folds a long reason over lines: compare the words.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let expected = words(&format!("mimeinject: {reason}"));
    assert!(words(&bounce).contains(&expected), "{reason}\n{bounce}");
    // The record outlives the message: the records subcommand shows it gone and prunes it.
    let dir = records_dir(&setup.exim);
    let spool = setup.exim.spool();
    let args = ["records", "--dir", dir.to_str().unwrap(), "--spool", spool.to_str().unwrap()];
    let (out, _) = bin::run(&[&args[..], &["--prune"]].concat(), b"");
    out.assert_success("records --prune");
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.starts_with(&format!("{id} gone ")), "{listing}");
    assert_eq!(setup.record(&id), None, "pruned");
}

/// A local user (`nobody`) runs the filter with the guide's records directory: no record is
/// written, the run fails as it would have, nothing reaches stdout or stderr; and the user
/// can read no record.
#[test]
fn a_local_user_can_neither_forge_nor_read_a_record() {
    if support::exim::should_skip() {
        return;
    }
    let setup = Setup::new(None);
    // A real record, of a real failure.
    let id = setup.exim.submit(SENDER, &["user@example.test"], &message("path=\"../x\""));
    setup.exim.run_queue();
    let dir = records_dir(&setup.exim);
    assert!(setup.record(&id).is_some());
    let meta = fs::metadata(&dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), id_of("-u", EXIM_USER).unwrap());

    let as_nobody = |script: &str| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script]);
        support::run(&mut cmd, &message("path=\"../y\""), Duration::from_secs(30))
    };
    let program = filter_program();
    let forged = "1zzzzz-000000-00";
    let out = as_nobody(&format!(
        "{program} --no-syslog --root /tmp --queue-id {forged} --records {} 2>&1",
        dir.display()
    ));
    assert_eq!(out.status.code(), Some(1), "the filter's own failure");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout/stderr: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(setup.record(forged), None, "no forged record");
    let read = as_nobody(&format!("cat {}/{id} || ls {}", dir.display(), dir.display()));
    assert!(!read.status.success(), "nobody cannot read a record");
    assert!(!String::from_utf8_lossy(&read.stdout).contains("permanent"));
}

// --- Through the binary, without exim ----------------------------------------------------

fn private_dir(mode: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
    dir
}

fn filter(dir: &Path, id: &str, params: &str) -> support::Output {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("here.pdf"), b"%PDF").unwrap();
    let args = [
        "--root",
        root.path().to_str().unwrap(),
        "--queue-id",
        id,
        "--records",
        dir.to_str().unwrap(),
    ];
    bin::run(&args, &message(params)).0
}

#[test]
fn records_option_writes_and_removes_a_record() {
    let dir = private_dir(0o700);
    let id = "1xY7gw-0002WA-0L";
    let out = filter(dir.path(), id, "path=\"../x\"");
    assert_eq!(out.status.code(), Some(1));
    let record = fs::read_to_string(dir.path().join(id)).unwrap();
    assert!(record.starts_with("permanent: ") && record.ends_with('\n'), "{record:?}");
    assert_eq!(record.lines().count(), 1);
    let mode = fs::metadata(dir.path().join(id)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let out = filter(dir.path(), id, "path=\"gone.pdf\"");
    assert_eq!(out.status.code(), Some(1));
    let record = fs::read_to_string(dir.path().join(id)).unwrap();
    assert!(record.starts_with("temporary: ") && record.contains("gone.pdf"), "{record:?}");

    let (listing, _) = bin::run(&["records", "--dir", dir.path().to_str().unwrap()], b"");
    listing.assert_success("records");
    let text = String::from_utf8(listing.stdout).unwrap();
    assert!(text.starts_with(&format!("{id} temporary ")) && text.contains("gone.pdf"), "{text}");

    let out = filter(dir.path(), id, "path=\"here.pdf\"");
    out.assert_success("the message goes through");
    assert!(!dir.path().join(id).exists(), "removed on success");
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert!(names.is_empty(), "no temporary file left: {names:?}");
}

/// Signed mail with a stub is a permanent failure: its record says so.
#[test]
fn records_option_signed_mail_is_permanent() {
    let dir = private_dir(0o700);
    let id = "1xY7gw-0002WB-0L";
    let signed = "From: a@example.test\nMIME-Version: 1.0\n\
        Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=\"s\"\n\n\
        --s\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\n\
        Hello.\n--b1\nContent-Type: application/x-mimeinject; path=\"here.pdf\"\n\n--b1--\n\
        --s\nContent-Type: application/pgp-signature\n\nsig\n--s--\n";
    let args = ["--root", "/tmp", "--queue-id", id, "--records", dir.path().to_str().unwrap()];
    let (out, _) = bin::run(&args, signed.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let record = fs::read_to_string(dir.path().join(id)).unwrap();
    assert!(record.starts_with("permanent: signed message"), "{record:?}");
}

#[test]
fn records_option_refuses_a_shared_directory_without_changing_the_outcome() {
    // Group or other access: no record, same exit status, nothing on stdout.
    let dir = private_dir(0o770);
    let out = filter(dir.path(), "1xY7gw-0002WA-0L", "path=\"../x\"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "no record");
    // An id that is not exim's cannot name a file.
    let dir = private_dir(0o700);
    let out = filter(dir.path(), "../escape", "path=\"../x\"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn records_needs_queue_id_and_prune_needs_spool() {
    let help = support::run(
        Command::new(bin::path()).args(["deliver", "--help"]),
        b"",
        Duration::from_secs(30),
    );
    help.assert_success("deliver --help");
    assert!(!String::from_utf8_lossy(&help.stdout).contains("--records"), "not deliver's");
    let (help, _) = bin::run(&["--help"], b"");
    assert!(String::from_utf8_lossy(&help.stdout).contains("--records <DIR>"));
    let (out, _) = bin::run(&["--root", "/tmp", "--records", "/tmp"], b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("required"), "a usage error");
    let (out, _) = bin::run(&["records", "--dir", "/tmp", "--prune"], b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("required"), "a usage error");
}

// --- Debian's exim4-config, split and unsplit -----------------------------------------------

/// Debian's configuration (tests/debian_exim.rs) with the guide's records directory, router
/// (where docs/exim.md says to put it) and `--records` on the filter line: a permanent failure
/// to a remote address bounces to the (remote) sender with the reason.
fn debian_permanent_failure_bounces(split: bool) {
    use crate::debian_exim::{should_skip, Debian, Settings};
    if should_skip() {
        return;
    }
    let configtype = if split { "smarthost" } else { "internet" };
    let debian = Debian::new(Settings { split, configtype, localdelivery: "maildir_home" });
    let records = debian.exim.dir().join("records");
    let dir = records.to_str().unwrap();
    let script = readme::recipe("exim/records-dir.sh").replace(DOC_RECORDS, dir);
    let out =
        support::run(Command::new("sh").args(["-e", "-c", &script]), b"", Duration::from_secs(30));
    out.assert_success("exim/records-dir.sh");
    // The guide's Debian steps first (the filter, with --records), then the router, then
    // `update-exim4.conf` again.
    debian.activate_with("", &format!(" --records {dir}"));
    let router = readme::recipe("exim/records.router").replace(DOC_RECORDS, dir);
    let doc = readme::document("docs/exim.md");
    if split {
        let file = "conf.d/router/00_mimeinject_records";
        assert!(doc.contains(&format!("/etc/exim4/{file}")), "the guide names {file}");
        fs::write(debian.etc.join(file), router).unwrap();
    } else {
        assert!(doc.contains("right after `begin routers` in\n`/etc/exim4/exim4.conf.template`"));
        let template = debian.etc.join("exim4.conf.template");
        let text = fs::read_to_string(&template).unwrap();
        assert_eq!(text.matches("\nbegin routers\n").count(), 1);
        let text = text.replacen("\nbegin routers\n", &format!("\nbegin routers\n\n{router}\n"), 1);
        fs::write(&template, text).unwrap();
    }
    let conf = debian.exim.conf();
    let out = support::run(
        Command::new("/usr/sbin/update-exim4.conf").arg("-d").arg(&debian.etc).arg("-o").arg(conf),
        b"",
        Duration::from_secs(60),
    );
    out.assert_success("update-exim4.conf");
    let generated = fs::read_to_string(conf).unwrap();
    assert!(generated.contains("mimeinject_records:") && generated.contains("--records"));

    let sender = "app@example.test";
    let id = debian.exim.submit(sender, &["customer@example.test"], &message("path=\"../x\""));
    // A local delivery runs the filter as the recipient, who cannot reach the records.
    let local = debian.exim.submit(sender, &["daemon@debian.test"], &message("path=\"../x\""));
    // Address testing passes the router by (no message).
    let bt = debian.exim.exim(&["-bt", "customer@example.test"], b"");
    bt.assert_success("exim -bt");
    assert!(!String::from_utf8_lossy(&bt.stdout).contains("mimeinject_records"));
    debian.run_queue();
    assert!(debian.exim.is_queued(&id), "deferred at first\n{}", debian.exim.report());
    let record = fs::read_to_string(records.join(&id))
        .unwrap_or_else(|e| panic!("a record: {e}\n{}", debian.exim.report()));
    assert!(record.starts_with("permanent: "), "{record:?}");
    // The next queue run bounces it (one more delivers the bounce, if need be).
    debian.run_queue();
    assert!(!debian.exim.is_queued(&id), "bounced\n{}", debian.exim.report());
    debian.run_queue();
    assert!(debian.received("customer@example.test").is_empty());
    let bounces = debian.received(sender);
    assert_eq!(bounces.len(), 1, "the bounce\n{}", debian.exim.report());
    let bounce = String::from_utf8_lossy(&bounces[0]);
    assert!(bounce.contains(&format!("mimeinject: {}", record.trim_end())), "{bounce}");
    assert!(debian.exim.mainlog().contains("R=mimeinject_records"));

    // The local delivery: no record, still deferred as before, and the filter says why.
    assert!(!records.join(&local).exists(), "no record of a local delivery");
    assert!(debian.exim.is_queued(&local), "{}", debian.exim.report());
    let log = fs::read_to_string(debian.exim.filter_dir().join("filter.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains(&format!("{local}: --records: no record kept: "))),
        "{log}"
    );
}

#[test]
fn debian_unsplit_permanent_failure_bounces() {
    debian_permanent_failure_bounces(false);
}

#[test]
fn debian_split_permanent_failure_bounces() {
    debian_permanent_failure_bounces(true);
}
