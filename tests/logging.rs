//! The log lines through a real syslog daemon (issue 23, item 4).
//!
//! Each test starts its own rsyslogd with a private configuration: its own imuxsock socket and
//! its own output file in a temp dir, with a template that records facility, severity, tag,
//! program name, pid and message. The binary writes to `/dev/log` (the syslog crate has no
//! other path), so it runs in a private mount namespace (`unshare -m`) where a tmpfs covers
//! `/dev` (with the few device nodes a process needs bound back in) and `/dev/log` is the
//! private socket. Nothing outside the temp dir is touched, and the daemon is killed when the
//! test ends.
//!
//! Also here: `--log-file` that cannot be written, and a `--root` the filter's user cannot
//! read, both run as `nobody` (`setpriv`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bin;
use crate::support::smtp_sink::{Behaviour, SmtpSink};
use crate::support::{self, Output};

const RCPT: &str = "user@example.test";
const QUEUE_ID: &str = "1AbCdE-000001-XY";
/// The delivery line for `invoice.eml` (one file, `invoices/inv-42.pdf`, 513 bytes).
const INVOICE_LINE: &str = r#"1 recipient, 1 attachment (513 bytes): "invoices/inv-42.pdf" 513 bytes; to <user@example.test>"#;
/// The failure reason for `missing-file.eml`.
const MISSING_REASON: &str = r#"attachment "invoices/does-not-exist.pdf": no such file"#;

/// The one place these tests decide to skip: a `SKIP …` line and true, or under `CI=true` a
/// panic (see [`support::should_skip`]).
fn skip(missing: Option<String>) -> bool {
    support::should_skip(missing)
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn message(name: &str) -> Vec<u8> {
    fs::read(testdata().join("messages").join(name)).unwrap()
}

fn repo_files_root() -> String {
    testdata().join("files").to_str().unwrap().to_owned()
}

/// A hang guard for one run, not a timing assertion.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The first of `names` found in the usual system directories.
fn tool(names: &[&str]) -> Option<PathBuf> {
    let dirs = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];
    names.iter().flat_map(|n| dirs.iter().map(move |d| Path::new(d).join(n))).find(|p| p.exists())
}

/// Why these tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    let Some(_) = tool(&["rsyslogd"]) else {
        return Some("rsyslogd not installed (apt-get install rsyslog)".into());
    };
    for t in ["unshare", "setpriv", "mount"] {
        if tool(&[t]).is_none() {
            return Some(format!("{t} not installed (util-linux)"));
        }
    }
    let ok = Command::new(tool(&["unshare"]).unwrap())
        .args(["-m", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Some("`unshare -m` is not permitted here (needs root)".into());
    }
    None
}

/// One line rsyslogd wrote, split by the template's fields.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    facility: String,
    severity: String,
    tag: String,
    program: String,
    pid: String,
    msg: String,
}

impl Record {
    /// The pid as logged, checked to be the tag's too.
    fn pid(&self) -> u32 {
        let pid = self.pid.parse().unwrap_or_else(|_| panic!("no pid in {self:?}"));
        assert_eq!(self.tag, format!("mimeinject[{pid}]:"), "{self:?}");
        pid
    }
}

/// Everything but the message of a mimeinject line, and the message.
fn expect(record: &Record, severity: &str, msg: &str) {
    assert_eq!(
        (record.facility.as_str(), record.severity.as_str(), record.program.as_str()),
        ("mail", severity, "mimeinject"),
        "{record:?}"
    );
    record.pid();
    assert_eq!(record.msg, msg, "{record:?}");
}

/// The fields, separated by `|`; the message last, so that it may hold `|` itself.
const TEMPLATE: &str =
    "%syslogfacility-text%|%syslogseverity-text%|%syslogtag%|%programname%|%procid%|%msg%\\n";

/// Binds the private socket over `/dev/log` in a new mount namespace, then runs `"$@"`.
/// `$1` is the temp dir, `$2` the socket. A tmpfs covers `/dev` (the host may have no
/// `/dev/log` to bind onto, and nothing may be created in the real `/dev`), with the real
/// device nodes a process may need bound back in from a copy of the old `/dev` tree.
const NAMESPACE_SH: &str = r#"set -e
dir=$1 sock=$2
shift 2
mount --make-rprivate /
mkdir -p "$dir/realdev"
mount --rbind /dev "$dir/realdev"
mount -t tmpfs -o mode=755 mimeinject-test-dev /dev
for n in null zero full random urandom; do
    if [ -e "$dir/realdev/$n" ]; then
        : > "/dev/$n"
        mount --bind "$dir/realdev/$n" "/dev/$n"
    fi
done
ln -s /proc/self/fd /dev/fd
: > /dev/log
mount --bind "$sock" /dev/log
exec "$@"
"#;

/// A private rsyslogd, killed on drop.
struct Syslogd {
    dir: tempfile::TempDir,
    child: Child,
    /// mimeinject records already returned by [`Syslogd::take`].
    seen: usize,
}

impl Syslogd {
    /// Starts the daemon; `None` (after the skip line) when it cannot run here.
    fn start() -> Option<Syslogd> {
        if skip(missing()) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // Traversable by `nobody`, for the tests that run the binary as that user.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.path().display();
        let conf = format!(
            "global(workDirectory=\"{d}\")\n\
             module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
             input(type=\"imuxsock\" Socket=\"{d}/log.sock\" RateLimit.Interval=\"0\")\n\
             template(name=\"fields\" type=\"string\" string=\"{TEMPLATE}\")\n\
             *.* action(type=\"omfile\" file=\"{d}/syslog.out\" template=\"fields\")\n"
        );
        fs::write(dir.path().join("rsyslog.conf"), conf).unwrap();
        let console = fs::File::create(dir.path().join("rsyslogd.console")).unwrap();
        let child = Command::new(tool(&["rsyslogd"]).unwrap())
            .arg("-n")
            .arg("-f")
            .arg(dir.path().join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .env_clear()
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console)
            .spawn()
            .expect("starting rsyslogd");
        // The binary and the attachment root, where `nobody` can reach them: the clone the
        // tests run from may sit below a directory only root may enter (/root).
        let bin = dir.path().join("mimeinject");
        if fs::hard_link(crate::bin::path(), &bin).is_err() {
            fs::copy(crate::bin::path(), &bin).unwrap();
        }
        let files = dir.path().join("files/invoices");
        fs::create_dir_all(&files).unwrap();
        for entry in fs::read_dir(testdata().join("files/invoices")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), files.join(entry.file_name())).unwrap();
        }
        let mut daemon = Syslogd { dir, child, seen: 0 };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !daemon.socket().exists() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("rsyslogd exited ({status}): {}", daemon.console());
            }
            assert!(Instant::now() < deadline, "rsyslogd made no socket: {}", daemon.console());
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(daemon)
    }

    /// The copy of `testdata/files` that `nobody` can read.
    fn files_root(&self) -> String {
        self.dir.path().join("files").to_str().unwrap().to_owned()
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("log.sock")
    }

    fn console(&self) -> String {
        fs::read_to_string(self.dir.path().join("rsyslogd.console")).unwrap_or_default()
    }

    /// Every mimeinject record in the output file so far.
    fn records(&self) -> Vec<Record> {
        let text = fs::read_to_string(self.dir.path().join("syslog.out")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let f: Vec<&str> = line.splitn(6, '|').collect();
                assert_eq!(f.len(), 6, "not the template's line: {line:?}");
                Record {
                    facility: f[0].into(),
                    severity: f[1].into(),
                    tag: f[2].into(),
                    program: f[3].into(),
                    pid: f[4].into(),
                    // RFC 3164's space after the tag stays in rsyslog's %msg%.
                    msg: f[5].strip_prefix(' ').unwrap_or(f[5]).into(),
                }
            })
            .filter(|r| r.program == "mimeinject")
            .collect()
    }

    /// The next `n` mimeinject records, waiting for them; then checks that no others follow.
    fn take(&mut self, n: usize) -> Vec<Record> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut all = self.records();
        while all.len() < self.seen + n {
            assert!(
                Instant::now() < deadline,
                "expected {n} new syslog lines, have {:#?}\nrsyslogd: {}",
                &all[self.seen..],
                self.console()
            );
            std::thread::sleep(Duration::from_millis(20));
            all = self.records();
        }
        // A line sent after the ones waited for would arrive within this.
        std::thread::sleep(Duration::from_millis(300));
        let all = self.records();
        let new = all[self.seen..].to_vec();
        assert_eq!(new.len(), n, "more syslog lines than expected: {new:#?}");
        self.seen = all.len();
        for r in &new {
            eprintln!("syslog: {}.{} {} {}", r.facility, r.severity, r.tag, r.msg);
        }
        new
    }

    /// The binary with `args` in a mount namespace whose `/dev/log` is this daemon's socket,
    /// as root or (`nobody`) as user nobody; an empty environment, like exim gives a filter.
    /// With `one_pipe`, stderr is stdout, as exim gives a transport filter.
    fn command(&self, nobody: bool, one_pipe: bool, args: &[&str]) -> Command {
        let mut cmd = Command::new(tool(&["unshare"]).unwrap());
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        cmd.args(["-m", "sh", "-c", NAMESPACE_SH, "sh"]).arg(self.dir.path()).arg(self.socket());
        if nobody {
            cmd.arg(tool(&["setpriv"]).unwrap());
            cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
        }
        if one_pipe {
            cmd.args(["sh", "-c", "exec \"$@\" 2>&1", "sh"]);
        }
        cmd.arg(self.dir.path().join("mimeinject")).args(args);
        cmd
    }

    fn run(&self, nobody: bool, args: &[&str], stdin: &[u8]) -> Output {
        self.run_with(nobody, false, args, stdin)
    }

    fn run_with(&self, nobody: bool, one_pipe: bool, args: &[&str], stdin: &[u8]) -> Output {
        let out = support::run(&mut self.command(nobody, one_pipe, args), stdin, TIMEOUT);
        eprintln!("{args:?}: {}, stderr {:?}", out.status, String::from_utf8_lossy(&out.stderr));
        out
    }

    /// A directory in the temp dir for the test's own files, mode `mode`, owned by root.
    fn subdir(&self, name: &str, mode: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Syslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the filter writes for `input` without syslog or namespace (the reference output).
fn plain_filter(input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(bin::path());
    cmd.env_clear().args(["--no-syslog", "--root", &repo_files_root(), "--", RCPT]);
    let out = support::run(&mut cmd, input, TIMEOUT);
    out.assert_success("mimeinject (reference run)");
    out.stdout
}

/// `mimeinject[PID]: ` lines of a `--log-file`, as (pid, message).
fn log_file_lines(path: &Path) -> Vec<(u32, String)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            // `2026-12-04T17:53:00Z mimeinject[123]: message`
            let (_, rest) = l.split_once(" mimeinject[").unwrap_or_else(|| panic!("{l:?}"));
            let (pid, msg) = rest.split_once("]: ").unwrap_or_else(|| panic!("{l:?}"));
            (pid.parse().unwrap(), msg.to_owned())
        })
        .collect()
}

#[test]
fn filter_delivery_line_is_mail_info_with_and_without_queue_id() {
    let Some(mut syslogd) = Syslogd::start() else { return };
    let input = message("invoice.eml");
    let reference = plain_filter(&input);
    let log = syslogd.dir.path().join("filter.log");
    let log_arg = log.to_str().unwrap().to_owned();
    let root = syslogd.files_root();

    let out = syslogd.run(false, &["--root", &root, "--log-file", &log_arg, "--", RCPT], &input);
    out.assert_success("mimeinject");
    assert!(out.stdout == reference, "the output changed when logging to syslog");
    let r = syslogd.take(1);
    expect(&r[0], "info", INVOICE_LINE);

    let args = ["--queue-id", QUEUE_ID, "--root", &root, "--log-file", &log_arg, "--", RCPT];
    let out = syslogd.run(false, &args, &input);
    out.assert_success("mimeinject --queue-id");
    let r2 = syslogd.take(1);
    expect(&r2[0], "info", &format!("{QUEUE_ID}: {INVOICE_LINE}"));
    assert_ne!(r[0].pid(), r2[0].pid(), "two runs, one pid?");

    // The log file has the same lines, from the same processes.
    let in_file = log_file_lines(&log);
    assert_eq!(in_file, vec![(r[0].pid(), r[0].msg.clone()), (r2[0].pid(), r2[0].msg.clone())]);

    // A message without placeholders logs nothing.
    let plain = message("plain.eml");
    syslogd.run(false, &["--root", &root, "--", RCPT], &plain).assert_success("plain");
    // --no-delivery-log: nothing either.
    let args = ["--no-delivery-log", "--root", &root, "--", RCPT];
    syslogd.run(false, &args, &input).assert_success("--no-delivery-log");
    // --no-syslog: nothing.
    syslogd.run(false, &["--no-syslog", "--root", &root, "--", RCPT], &input).assert_success("x");
    syslogd.take(0);
}

#[test]
fn filter_failure_is_mail_err_with_and_without_queue_id() {
    let Some(mut syslogd) = Syslogd::start() else { return };
    let input = message("missing-file.eml");
    let root = syslogd.files_root();

    let out = syslogd.run(false, &["--root", &root, "--", RCPT], &input);
    assert_eq!(out.status.code(), Some(1), "the filter's failure exit code");
    assert!(out.stdout.is_empty(), "output on failure: {:?}", String::from_utf8_lossy(&out.stdout));
    assert!(out.fed.is_ok(), "stdin not read to its end");
    expect(&syslogd.take(1)[0], "err", MISSING_REASON);

    let args = ["--queue-id", QUEUE_ID, "--failure-exit-code", "75", "--root", &root, "--", RCPT];
    let out = syslogd.run(false, &args, &input);
    assert_eq!(out.status.code(), Some(75));
    assert!(out.stdout.is_empty());
    expect(&syslogd.take(1)[0], "err", &format!("{QUEUE_ID}: {MISSING_REASON}"));

    // A usage error is a failure too, logged the same way.
    let out = syslogd.run(false, &["--no-such-flag"], b"");
    assert_eq!(out.status.code(), Some(1));
    let r = syslogd.take(1);
    expect(&r[0], "err", &r[0].msg);
    assert!(r[0].msg.contains("--no-such-flag"), "{r:?}");
}

#[test]
fn deliver_lines_are_mail_info_and_mail_err() {
    let Some(mut syslogd) = Syslogd::start() else { return };
    let sink = SmtpSink::start();
    let root = syslogd.files_root();
    let input = message("invoice.eml");
    let hop = format!("smtp:[127.0.0.1]:{}", sink.port());
    let deliver = |syslogd: &Syslogd, hop: &str, id: Option<&str>| {
        let mut args = vec!["deliver", "--nexthop", hop, "--helo-name", "sender.test"];
        if let Some(id) = id {
            args.extend(["--queue-id", id]);
        }
        args.extend(["--root", &root, "-f", "billing@example.test", "--", RCPT]);
        syslogd.run(false, &args, &input)
    };

    let out = deliver(&syslogd, &hop, None);
    out.assert_success("mimeinject deliver");
    assert_eq!(sink.messages().len(), 1);
    let out = deliver(&syslogd, &hop, Some(QUEUE_ID));
    out.assert_success("mimeinject deliver --queue-id");
    assert_eq!(sink.messages().len(), 2);
    let r = syslogd.take(2);
    expect(&r[0], "info", INVOICE_LINE);
    expect(&r[1], "info", &format!("{QUEUE_ID}: {INVOICE_LINE}"));

    // A next hop that cannot be reached: deferred (75), the reason at level err, and the same
    // reason on stdout for pipe(8), there with the program's name.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed_hop = format!("smtp:[127.0.0.1]:{closed}");
    let out = deliver(&syslogd, &closed_hop, Some(QUEUE_ID));
    assert_eq!(out.status.code(), Some(75));
    let said = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    let r = syslogd.take(1);
    let reason = said.strip_prefix("mimeinject: ").unwrap_or_else(|| panic!("{said:?}"));
    expect(&r[0], "err", &format!("{QUEUE_ID}: {reason}"));
    assert!(reason.starts_with(&format!("{closed_hop} ")), "{reason}");
    assert!(reason.ends_with("Connection refused (os error 111)"), "{reason}");

    // A local failure (a missing file): deferred, nothing sent, the reason at level err.
    let before = sink.messages().len();
    let mut args = vec!["deliver", "--nexthop", &hop, "--root", &root];
    args.extend(["-f", "billing@example.test", "--", RCPT]);
    let out = syslogd.run(false, &args, &message("missing-file.eml"));
    assert_eq!(out.status.code(), Some(75));
    assert_eq!(sink.messages().len(), before, "a message with a missing file was delivered");
    expect(&syslogd.take(1)[0], "err", &format!("{MISSING_REASON}; nothing delivered to {hop}"));

    // The next hop refuses the message (5xx): a bounce (69); the line pipe(8) reads starts
    // with the enhanced status code, and the log has the same line at level err.
    let refusing = SmtpSink::start_with(Behaviour {
        data_end_reply: Some("554 5.6.0 no thanks".into()),
        ..Behaviour::default()
    });
    let out = deliver(&syslogd, &format!("smtp:[127.0.0.1]:{}", refusing.port()), None);
    assert_eq!(out.status.code(), Some(69));
    let said = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    assert!(said.starts_with("5.6.0 ") && said.contains("no thanks"), "{said}");
    expect(&syslogd.take(1)[0], "err", &said);
}

/// `--log-file` that cannot be written: the outcome does not change, syslog gets the line,
/// then a warning naming the file and the error.
#[test]
fn unwritable_log_file_changes_no_outcome_and_is_named_in_syslog() {
    let Some(mut syslogd) = Syslogd::start() else { return };
    let root = syslogd.files_root();
    let invoice = message("invoice.eml");
    let reference = plain_filter(&invoice);
    let missing_dir = syslogd.dir.path().join("no-such-dir/filter.log");
    let missing_dir = missing_dir.to_str().unwrap();
    // Owned by root, 0755: nobody may enter it but not create a file there.
    let read_only = syslogd.subdir("read-only", 0o755).join("filter.log");
    let read_only = read_only.to_str().unwrap();
    let enoent = "cannot write: No such file or directory (os error 2)";
    let eacces = "cannot write: Permission denied (os error 13)";

    for (nobody, path, error) in [(false, missing_dir, enoent), (true, read_only, eacces)] {
        let warning = format!("{QUEUE_ID}: --log-file {path}: {error}");
        // Delivered: exit 0, the same output; the delivery line, then the warning.
        let args = ["--queue-id", QUEUE_ID, "--log-file", path, "--root", &root, "--", RCPT];
        let out = syslogd.run(nobody, &args, &invoice);
        out.assert_success("mimeinject with an unwritable --log-file");
        assert!(out.stdout == reference, "the output changed");
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let r = syslogd.take(2);
        expect(&r[0], "info", &format!("{QUEUE_ID}: {INVOICE_LINE}"));
        expect(&r[1], "warning", &warning);
        assert_eq!(r[0].pid(), r[1].pid());

        // Refused: still the failure exit code; the reason, then the warning.
        let out = syslogd.run(nobody, &args, &message("missing-file.eml"));
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        let r = syslogd.take(2);
        expect(&r[0], "err", &format!("{QUEUE_ID}: {MISSING_REASON}"));
        expect(&r[1], "warning", &warning);

        // With syslog off too, the outcome is still the same.
        let args = ["--no-syslog", "--log-file", path, "--root", &root, "--", RCPT];
        let out = syslogd.run(nobody, &args, &invoice);
        out.assert_success("--no-syslog and an unwritable --log-file");
        assert!(out.stdout == reference);
        syslogd.take(0);
    }
    assert!(!Path::new(read_only).exists() && !Path::new(missing_dir).exists());
}

/// A `--root` the filter's user cannot read (root's 0700 directory, the filter as nobody): a
/// message with a placeholder is refused with nothing written, and the log line names the file
/// and the error. A message without placeholders never opens the root and passes unchanged.
#[test]
fn unreadable_root_refuses_the_message_and_names_the_reason() {
    let Some(mut syslogd) = Syslogd::start() else { return };
    let root = syslogd.subdir("private-root", 0o700);
    fs::create_dir(root.join("invoices")).unwrap();
    fs::copy(testdata().join("files/invoices/inv-42.pdf"), root.join("invoices/inv-42.pdf"))
        .unwrap();
    let root = root.to_str().unwrap();
    let logs = syslogd.subdir("logs", 0o777);
    let log = logs.join("filter.log");
    let log_arg = log.to_str().unwrap();
    let reason = r#"attachment "invoices/inv-42.pdf": permission denied"#;

    let args = ["--queue-id", QUEUE_ID, "--log-file", log_arg, "--root", root, "--", RCPT];
    let out = syslogd.run(true, &args, &message("invoice.eml"));
    assert_eq!(out.status.code(), Some(1), "deferred with the filter's failure code");
    assert!(out.stdout.is_empty(), "output: {:?}", String::from_utf8_lossy(&out.stdout));
    assert!(out.fed.is_ok(), "stdin not read to its end");
    let r = syslogd.take(1);
    expect(&r[0], "err", &format!("{QUEUE_ID}: {reason}"));
    assert_eq!(log_file_lines(&log), vec![(r[0].pid(), format!("{QUEUE_ID}: {reason}"))]);

    // As root the same root is readable: the run is what makes the difference.
    let out = syslogd.run(false, &args, &message("invoice.eml"));
    out.assert_success("the same root, read as root");
    expect(&syslogd.take(1)[0], "info", &format!("{QUEUE_ID}: {INVOICE_LINE}"));

    // No placeholder: nothing is opened beneath the root, and the message passes as it came.
    let plain = message("plain.eml");
    let out = syslogd.run(true, &args, &plain);
    out.assert_success("a message without placeholders");
    assert!(out.stdout == plain, "a message without placeholders changed");
    syslogd.take(0);
}

/// exim gives a transport filter one pipe for stdout and stderr: the reason and the warning
/// about the log file go to syslog, and nothing but the message reaches the pipe.
#[test]
fn one_pipe_for_stdout_and_stderr_keeps_every_line_out_of_the_mail() {
    let Some(mut syslogd) = Syslogd::start() else { return };
    let root = syslogd.files_root();
    let invoice = message("invoice.eml");
    let reference = plain_filter(&invoice);
    let log = syslogd.dir.path().join("no-such-dir/filter.log");
    let log = log.to_str().unwrap();
    let warning = format!(
        "{QUEUE_ID}: --log-file {log}: cannot write: No such file or directory (os error 2)"
    );
    let args = ["--queue-id", QUEUE_ID, "--log-file", log, "--root", &root, "--", RCPT];

    let out = syslogd.run_with(true, true, &args, &message("missing-file.eml"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "in the mail: {:?}", String::from_utf8_lossy(&out.stdout));
    let r = syslogd.take(2);
    expect(&r[0], "err", &format!("{QUEUE_ID}: {MISSING_REASON}"));
    expect(&r[1], "warning", &warning);

    let out = syslogd.run_with(true, true, &args, &invoice);
    out.assert_success("mimeinject, one pipe");
    assert!(out.stdout == reference, "the mail is not the filter's output alone");
    let r = syslogd.take(2);
    expect(&r[0], "info", &format!("{QUEUE_ID}: {INVOICE_LINE}"));
    expect(&r[1], "warning", &warning);
}
