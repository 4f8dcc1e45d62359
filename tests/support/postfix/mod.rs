//! A private Postfix instance for the tests in `tests/postfix.rs`.
//!
//! The Postfix used is the copy that `scripts/install-postfix.sh` unpacks
//! under `/opt/mimeinject-postfix` (or `$MIMEINJECT_POSTFIX_PREFIX`); a Postfix
//! installed as a package (prefix `/`) is used when no unpacked copy exists.
//!
//! Each [`Instance`] lives in its own temporary directory: its own `main.cf`
//! and `master.cf` (from `testdata/postfix/*.in`, with the guide's
//! `postfix/content-filter.*` or `postfix/deliver-*` recipes appended), queue,
//! maildirs and log. It has no inet listener; mail is submitted over a
//! UNIX-domain smtpd socket.
//! `main.cf`'s `content_filter = mimeinject:dummy` sends it to the
//! `mimeinject` service, which runs
//! `contrib/mimeinject-postfix-wrapper` through pipe(8) as `nobody`;
//! `pickup` (`-o content_filter=`) does not filter the re-injected copy again.
//!
//! The wrapper re-injects with `sendmail` as `nobody`, and Postfix only lets a
//! non-root user name a non-default configuration directory when the default
//! `/etc/postfix/main.cf` lists it in `alternate_config_directories`. So the
//! master is started inside a mount namespace of its own (`unshare --mount`)
//! in which a directory of the instance holding just that line is
//! bind-mounted over `/etc/postfix`. The master and everything it starts see
//! that copy; the machine's `/etc/postfix` is never written (it must exist,
//! empty or not, as the mount point).
//!
//! The master also runs in a PID namespace whose PID 1 is a small shell, the
//! holder, that waits on a pipe from the test. Stopping runs `postfix stop`
//! inside, waits (bounded) for the master and then for the rest of the
//! instance to exit, and reports what did not; and when the holder exits, for
//! whatever reason, including the test process being killed, the kernel kills
//! everything left in that namespace.
//!
//! The instance's processes are found by their mount namespace only while the
//! holder keeps that namespace alive: the kernel gives a new namespace the
//! number of one that has just ended, so after the holder has gone the same
//! number may name another test's instance. From then on the harness only
//! looks at the namespace's PID 1, by PID and start time.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub mod mime;
pub mod nexthop;

/// The uid and gid of `nobody`/`nogroup`, the pipe(8) user of the instance
/// and the owner of the maildirs (`virtual_uid_maps = static:65534`).
const NOBODY: u32 = 65534;

// Time bounds. Normally `postfix start` takes 2-3 s, a message settles in
// under 1 s and `postfix stop` takes 1-2 s; the bounds leave room for a loaded
// machine while keeping a hung test (start + two settles + stop) near a minute.

/// How long `postfix start` plus the wait for its smtpd socket may take.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one settling wait may take before the test fails.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one `postqueue` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `postfix stop` may take: it signals the master, waits up to 5 s
/// for it and then kills its process group; the rest is margin for a loaded
/// machine.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the master may outlive a `postfix stop` that reported success
/// before its process group is killed (and the stop reported as unclean).
const MASTER_EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the rest of the instance may take to go after the master: its
/// daemons exit on the master's SIGTERM, but the commands pipe(8) started run
/// in sessions of their own and finish what they were doing.
const LINGER_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the holder may take to leave, and its PID namespace to end.
const HOLDER_TIMEOUT: Duration = Duration::from_secs(5);

/// The testdata directory of these tests.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/postfix")
}

/// Where the Postfix programs are, if they can be used here.
pub struct Postfix {
    prefix: PathBuf,
}

impl Postfix {
    /// Finds a usable Postfix, or says why there is none.
    pub fn locate() -> Result<Postfix, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("the Postfix tests must run as root".into());
        }
        let private = std::env::var_os("MIMEINJECT_POSTFIX_PREFIX")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/opt/mimeinject-postfix"));
        let prefix = if private.join("usr/sbin/postfix").is_file() {
            private
        } else if Path::new("/usr/lib/postfix/sbin/master").is_file() {
            PathBuf::from("/")
        } else {
            return Err(format!(
                "no Postfix in {} or /usr (run scripts/install-postfix.sh)",
                private.display()
            ));
        };
        if !Path::new("/etc/postfix").is_dir() {
            return Err("/etc/postfix does not exist (needed as a mount point)".into());
        }
        for tool in ["unshare", "mount", "env"] {
            if which(tool).is_none() {
                return Err(format!("`{tool}` not found"));
            }
        }
        for name in ["postfix", "postdrop"] {
            let name = std::ffi::CString::new(name).unwrap();
            // SAFETY: getgrnam takes a valid C string; only the null check is used.
            if unsafe { libc::getgrnam(name.as_ptr()) }.is_null() {
                return Err(format!("group {name:?} missing (run scripts/install-postfix.sh)"));
            }
        }
        Ok(Postfix { prefix })
    }

    fn sbin(&self, name: &str) -> PathBuf {
        self.prefix.join("usr/sbin").join(name)
    }
}

/// Returns the usable Postfix, or `None` after skipping the test
/// ([`crate::support::skip`]: under `CI=true` a missing Postfix is a failure instead).
pub fn require_postfix() -> Option<Postfix> {
    match Postfix::locate() {
        Ok(p) => Some(p),
        Err(why) => {
            crate::support::skip(&format!("Postfix cannot be used here: {why}"));
            None
        }
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file())
}

/// The filter program the wrapper runs as `$MIMEINJECT`.
pub enum Filter<'a> {
    /// A binary copied into the instance (so that `nobody` can run it
    /// wherever the build directory is).
    Binary(&'a Path),
    /// A `/bin/sh` script written into the instance.
    Script(&'a str),
}

/// An instance whose mail leaves through `mimeinject deliver` (see
/// `tests/postfix_deliver.rs`) instead of the content filter: the templates
/// `deliver-main.cf.in` and `deliver-master.cf.in`, with these texts
/// appended. In them `@WORK@` is the instance's directory; the binary is
/// copied to `@WORK@/bin/mimeinject`, so that `nobody` can run it.
pub struct Deliver<'a> {
    /// The mimeinject binary.
    pub binary: &'a Path,
    /// Appended to `main.cf`: the README's recipe and the test's domains.
    pub main_cf: String,
    /// Appended to `master.cf`: the README's recipe.
    pub master_cf: String,
}

/// What an instance runs.
enum Setup<'a> {
    Filter(Filter<'a>),
    Deliver(Deliver<'a>),
}

/// The queue outcome of one submitted message, as far as pipe(8) reported
/// it for the filter delivery.
#[derive(Debug)]
pub struct FilterOutcome {
    /// `sent`, `deferred` or `bounced`.
    pub status: String,
    /// The `dsn=` value, e.g. `4.3.0`.
    pub dsn: String,
    /// The whole log line.
    pub line: String,
}

/// A running private Postfix instance. Dropping it stops it.
pub struct Instance {
    postfix: Postfix,
    work: tempfile::TempDir,
    holder: Option<std::process::Child>,
    holder_stdin: Option<std::process::ChildStdin>,
    mntns: Option<String>,
    stopped: bool,
}

/// One message of `postqueue -j`, reduced to what the tests look at.
#[derive(Debug)]
pub struct QueueEntry {
    /// `deferred`, `active`, `incoming`, `maildrop` or `hold`.
    pub queue_name: String,
    pub queue_id: String,
    pub sender: String,
    /// (address, delay_reason) per recipient; the reason may be empty.
    pub recipients: Vec<(String, String)>,
    /// The JSON line as printed.
    pub line: String,
}

impl QueueEntry {
    /// Reads one `postqueue -j` line. Only string members are extracted,
    /// and the recipients in the order given; enough for Postfix's flat
    /// output, not a general JSON parser.
    fn parse(line: &str) -> Option<QueueEntry> {
        let strings = json_string_members(line)?;
        let get = |name: &str| strings.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut recipients = Vec::new();
        for (k, v) in &strings {
            match k.as_str() {
                "address" => recipients.push((v.clone(), String::new())),
                "delay_reason" => {
                    if let Some(last) = recipients.last_mut() {
                        last.1 = v.clone();
                    }
                }
                _ => {}
            }
        }
        Some(QueueEntry {
            queue_name: get("queue_name")?,
            queue_id: get("queue_id")?,
            sender: get("sender")?,
            recipients,
            line: line.to_string(),
        })
    }
}

/// The `"name": "string"` members of a JSON text, in order, at any depth.
/// `None` if a string literal is malformed.
fn json_string_members(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut pending_key: Option<String> = None;
    let mut after_colon = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'u' => {
                                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                                let cp = u32::from_str_radix(&hex, 16).ok()?;
                                s.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                            }
                            other => s.push(other),
                        },
                        other => s.push(other),
                    }
                }
                if after_colon {
                    if let Some(k) = pending_key.take() {
                        out.push((k, s));
                    }
                    after_colon = false;
                } else {
                    pending_key = Some(s);
                }
            }
            ':' => after_colon = pending_key.is_some(),
            c if c.is_whitespace() => {}
            _ => {
                pending_key = None;
                after_colon = false;
            }
        }
    }
    Some(out)
}

/// A live process of the instance, from `/proc` (PIDs as the test sees them).
#[derive(Debug)]
struct Process {
    pid: i32,
    ppid: i32,
    /// Its process group.
    pgrp: i32,
    /// When it started, in clock ticks after boot: with `pid`, which process this is.
    start: u64,
    comm: String,
}

impl Process {
    /// Whether this process (this PID with this start time) is still there,
    /// not a zombie.
    fn is_alive(&self) -> bool {
        read_stat(self.pid).is_some_and(|p| p.start == self.start)
    }
}

/// Calls `list` until it is empty or `limit` has passed; returns its last result.
fn wait_while_any(limit: Duration, list: impl Fn() -> Vec<Process>) -> Vec<Process> {
    let deadline = Instant::now() + limit;
    loop {
        let left = list();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        sleep(Duration::from_millis(50));
    }
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({}, parent {})", self.pid, self.comm, self.ppid)
    }
}

impl Instance {
    /// Creates the instance directory from the templates and starts Postfix.
    pub fn start(postfix: Postfix, filter: Filter<'_>) -> Result<Instance, String> {
        Instance::start_with(postfix, Setup::Filter(filter))
    }

    /// Like [`Instance::start`], delivering through `mimeinject deliver`.
    pub fn start_deliver(postfix: Postfix, deliver: Deliver<'_>) -> Result<Instance, String> {
        Instance::start_with(postfix, Setup::Deliver(deliver))
    }

    fn start_with(postfix: Postfix, setup: Setup<'_>) -> Result<Instance, String> {
        let work = tempfile::Builder::new()
            .prefix("mimeinject-postfix.")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let mut inst = Instance {
            postfix,
            work,
            holder: None,
            holder_stdin: None,
            mntns: None,
            stopped: false,
        };
        inst.lay_out(setup)?;
        inst.launch()?;
        Ok(inst)
    }

    pub fn work(&self) -> &Path {
        self.work.path()
    }

    fn conf(&self) -> PathBuf {
        self.work().join("conf")
    }

    /// Directory the filter resolves placeholder paths under.
    pub fn files_dir(&self) -> PathBuf {
        self.work().join("files")
    }

    /// mimeinject's `--log-file`.
    pub fn filter_log(&self) -> PathBuf {
        self.work().join("log/mimeinject.log")
    }

    fn lay_out(&self, setup: Setup<'_>) -> Result<(), String> {
        let w = self.work();
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        // The temporary directory is 0700; pipe(8)'s user and the Postfix
        // daemons must get through it.
        fs::set_permissions(w, fs::Permissions::from_mode(0o755)).map_err(|e| io("chmod", e))?;
        for d in ["conf", "queue", "data", "mail", "log", "tmp", "bin", "files", "etc-postfix"] {
            fs::create_dir(w.join(d)).map_err(|e| io(d, e))?;
        }
        let postfix_uid = uid_of("postfix")?;
        chown(w.join("data"), Some(postfix_uid), None).map_err(|e| io("chown data", e))?;
        for d in ["mail", "log", "tmp"] {
            chown(w.join(d), Some(NOBODY), Some(NOBODY)).map_err(|e| io("chown", e))?;
        }

        let bin = w.join("bin");
        let filter = match setup {
            Setup::Filter(filter) => filter,
            Setup::Deliver(deliver) => return self.lay_out_deliver(deliver),
        };
        let wrapper = bin.join("mimeinject-postfix-wrapper");
        let shipped =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/mimeinject-postfix-wrapper");
        fs::copy(shipped, &wrapper).map_err(|e| io("copy wrapper", e))?;
        let filter_path = bin.join("filter");
        match filter {
            Filter::Binary(p) => {
                fs::copy(p, &filter_path).map_err(|e| io(&format!("copy {}", p.display()), e))?;
            }
            Filter::Script(body) => {
                fs::write(&filter_path, format!("#!/bin/sh\n{body}\n"))
                    .map_err(|e| io("write filter", e))?;
            }
        }
        for p in [&wrapper, &filter_path] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755))
                .map_err(|e| io("chmod", e))?;
        }

        let prefix = self.postfix.prefix.to_str().ok_or("non-UTF-8 prefix")?;
        let prefix = if prefix == "/" { "" } else { prefix };
        let work = w.to_str().ok_or("non-UTF-8 temp dir")?;
        let (main_cf, master_cf) = content_filter_recipes()?;
        for (name, extra) in [("main.cf", main_cf), ("master.cf", master_cf)] {
            let tmpl = fs::read_to_string(testdata().join(format!("{name}.in")))
                .map_err(|e| io(name, e))?;
            let text = append_config(&tmpl, &extra)
                .replace("@PREFIX@", prefix)
                .replace("@WORK@", work)
                .replace("@FILTER@", filter_path.to_str().unwrap());
            fs::write(self.conf().join(name), text).map_err(|e| io(name, e))?;
        }
        self.common_files()
    }

    /// The deliver-mode configuration: templates, recipe texts, binary.
    fn lay_out_deliver(&self, deliver: Deliver<'_>) -> Result<(), String> {
        let w = self.work();
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let binary = w.join("bin/mimeinject");
        fs::copy(deliver.binary, &binary).map_err(|e| io("copy mimeinject", e))?;
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755))
            .map_err(|e| io("chmod", e))?;
        let prefix = self.postfix.prefix.to_str().ok_or("non-UTF-8 prefix")?;
        let prefix = if prefix == "/" { "" } else { prefix };
        let work = w.to_str().ok_or("non-UTF-8 temp dir")?;
        for (name, extra) in [("main.cf", &deliver.main_cf), ("master.cf", &deliver.master_cf)] {
            let tmpl = fs::read_to_string(testdata().join(format!("deliver-{name}.in")))
                .map_err(|e| io(name, e))?;
            let text =
                append_config(&tmpl, extra).replace("@PREFIX@", prefix).replace("@WORK@", work);
            fs::write(self.conf().join(name), text).map_err(|e| io(name, e))?;
        }
        self.common_files()
    }

    /// The virtual mailbox map and what the master sees as `/etc/postfix`.
    fn common_files(&self) -> Result<(), String> {
        let w = self.work();
        let work = w.to_str().ok_or("non-UTF-8 temp dir")?;
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        fs::write(
            self.conf().join("vmailbox"),
            "user@example.test example.test/user/Maildir/\n\
             sender@example.test example.test/sender/Maildir/\n\
             second@example.test example.test/second/Maildir/\n\
             @example.test example.test/other/Maildir/\n\
             @bounces.test bounces.test/sender/Maildir/\n",
        )
        .map_err(|e| io("vmailbox", e))?;
        // What the master sees as /etc/postfix. The empty master.cf only
        // keeps postfix-script's postconf calls from warning about it.
        let etc = w.join("etc-postfix");
        fs::write(etc.join("main.cf"), format!("alternate_config_directories = {work}/conf\n"))
            .map_err(|e| io("etc main.cf", e))?;
        fs::write(etc.join("master.cf"), "").map_err(|e| io("etc master.cf", e))?;
        Ok(())
    }

    fn launch(&mut self) -> Result<(), String> {
        let w = self.work().to_path_buf();
        // The holder: PID 1 of a PID namespace of its own, in a mount
        // namespace of its own. It starts Postfix, then waits on its stdin: a
        // line means "stop Postfix", end of file means "leave". When it
        // leaves, the kernel kills whatever is still in its PID namespace, so
        // not even a test process killed outright (Ctrl-C, a timeout) leaves
        // a Postfix running. Postfix's own commands (start, stop, and the
        // PIDs in master.pid) only ever run inside; the harness talks to the
        // instance through its sockets (`postqueue`) and the holder.
        let script = format!(
            "set -e\n\
             mount --bind '{etc}' /etc/postfix\n\
             readlink /proc/self/ns/mnt > '{w}/mntns'\n\
             '{postfix}' -c '{conf}' start\n\
             echo started > '{w}/holder.state'\n\
             read -r _ || exit 0\n\
             status=0\n\
             '{postfix}' -c '{conf}' stop || status=$?\n\
             echo \"stopped $status\" > '{w}/holder.state'\n\
             read -r _ || exit 0\n",
            etc = w.join("etc-postfix").display(),
            w = w.display(),
            postfix = self.postfix.sbin("postfix").display(),
            conf = self.conf().display(),
        );
        let out = fs::File::create(w.join("holder.out")).map_err(|e| format!("holder.out: {e}"))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--pid", "--kill-child"])
            .args(["sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("unshare: {e}"))?;
        self.holder_stdin = holder.stdin.take();
        self.holder = Some(holder);

        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        loop {
            let state = fs::read_to_string(w.join("holder.state")).unwrap_or_default();
            if state.trim() == "started" && self.smtpd_socket().exists() {
                break;
            }
            let exited = self.holder.as_mut().and_then(|h| h.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(format!(
                    "postfix start failed ({status}):\n{}\n{}",
                    fs::read_to_string(w.join("holder.out")).unwrap_or_default(),
                    self.maillog()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "postfix did not start within {START_TIMEOUT:?}:\n{}\n{}",
                    fs::read_to_string(w.join("holder.out")).unwrap_or_default(),
                    self.maillog()
                ));
            }
            sleep(Duration::from_millis(50));
        }
        // The namespace is how the final check finds the instance's
        // processes, so it must not be the test's own (that would match
        // every process on the machine).
        let own = fs::read_link("/proc/self/ns/mnt").ok();
        self.mntns = fs::read_to_string(w.join("mntns"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|ns| !ns.is_empty() && own.as_deref().and_then(Path::to_str) != Some(ns));
        if self.mntns.is_none() {
            return Err("could not tell the instance's mount namespace".into());
        }
        eprintln!("postfix started in {:.1?} ({})", started.elapsed(), w.display());
        Ok(())
    }

    fn smtpd_socket(&self) -> PathBuf {
        self.work().join("queue/public/harness-smtpd")
    }

    /// The instance's `maillog_file` (empty if it does not exist yet).
    pub fn maillog(&self) -> String {
        fs::read_to_string(self.work().join("maillog")).unwrap_or_default()
    }

    /// Submits `message` (LF or CRLF lines) over SMTP and returns the queue ID.
    pub fn submit(&self, from: &str, to: &[&str], message: &[u8]) -> Result<String, String> {
        let sock = UnixStream::connect(self.smtpd_socket()).map_err(|e| format!("connect: {e}"))?;
        let timeout = Some(COMMAND_TIMEOUT);
        sock.set_read_timeout(timeout).map_err(|e| e.to_string())?;
        sock.set_write_timeout(timeout).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(sock.try_clone().map_err(|e| e.to_string())?);
        let mut writer = sock;
        let mut reply = |expect: &str| -> Result<String, String> {
            let mut all = String::new();
            loop {
                let mut line = String::new();
                let n = reader.read_line(&mut line).map_err(|e| format!("smtp read: {e}"))?;
                if n == 0 {
                    return Err(format!("smtp: connection closed after {all:?}"));
                }
                all.push_str(&line);
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
            if all.starts_with(expect) {
                Ok(all)
            } else {
                Err(format!("smtp: expected {expect}, got {all:?}"))
            }
        };
        let send = |w: &mut UnixStream, line: &str| {
            w.write_all(format!("{line}\r\n").as_bytes()).map_err(|e| format!("smtp write: {e}"))
        };
        reply("220")?;
        send(&mut writer, "EHLO harness-client")?;
        reply("250")?;
        send(&mut writer, &format!("MAIL FROM:<{from}>"))?;
        reply("250")?;
        for rcpt in to {
            send(&mut writer, &format!("RCPT TO:<{rcpt}>"))?;
            reply("250")?;
        }
        send(&mut writer, "DATA")?;
        reply("354")?;
        writer.write_all(&smtp_data(message)).map_err(|e| format!("smtp write: {e}"))?;
        let done = reply("250")?;
        send(&mut writer, "QUIT")?;
        let _ = reply("221");
        done.split("queued as ")
            .nth(1)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("no queue ID in {done:?}"))
    }

    /// Waits until the filter delivery of `qid` has a result and the queue
    /// has stopped moving, and returns that result. Bounded by
    /// [`SETTLE_TIMEOUT`].
    pub fn settle(&self, qid: &str) -> Result<FilterOutcome, String> {
        self.settle_attempt(qid, 1)
    }

    /// Like [`Instance::settle`], for the `attempt`th filter result of `qid`
    /// (1 for the first; pipe(8) logs one per recipient and attempt):
    /// earlier results in the log are not taken for the outcome.
    pub fn settle_attempt(&self, qid: &str, attempt: usize) -> Result<FilterOutcome, String> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut calm_polls = 0;
        loop {
            let log = self.maillog();
            let outcomes = filter_outcomes(&log, qid);
            let outcome = outcomes.into_iter().nth(attempt - 1);
            let busy = ["maildrop", "incoming", "active"]
                .iter()
                .any(|d| !dir_is_empty(&self.work().join("queue").join(d)));
            let done = match &outcome {
                // A successful filter run re-injects a copy; wait for the
                // original to be removed and for the copy to leave the queue.
                Some(o) if o.status == "sent" => {
                    log.contains(&format!("{qid}: removed"))
                        && dir_is_empty(&self.work().join("queue/deferred"))
                }
                Some(_) => true,
                None => false,
            };
            calm_polls = if done && !busy { calm_polls + 1 } else { 0 };
            if calm_polls >= 2 {
                return Ok(outcome.unwrap());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "queue did not settle within {SETTLE_TIMEOUT:?} for attempt {attempt} of \
                     {qid}; maillog:\n{log}"
                ));
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// The pipe(8) results for `qid` logged so far, oldest first: one per
    /// recipient and attempt.
    pub fn filter_results(&self, qid: &str) -> Vec<FilterOutcome> {
        filter_outcomes(&self.maillog(), qid)
    }

    /// `postqueue -c CONF ARGS`, run as root outside the namespace; its output.
    fn postqueue(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new(self.postfix.sbin("postqueue"));
        cmd.arg("-c").arg(self.conf()).args(args);
        let (ok, out) = run_bounded(cmd, &self.work().join("postqueue.out"), COMMAND_TIMEOUT)?;
        if ok {
            Ok(out)
        } else {
            Err(format!("postqueue {args:?} failed: {out}"))
        }
    }

    /// The queue as `postqueue -j` lists it: one entry per queued message.
    pub fn queue(&self) -> Result<Vec<QueueEntry>, String> {
        let out = self.postqueue(&["-j"])?;
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                QueueEntry::parse(l).ok_or_else(|| format!("unexpected postqueue -j line {l:?}"))
            })
            .collect()
    }

    /// `postqueue -i QID`: schedules an immediate retry of a deferred message.
    pub fn retry(&self, qid: &str) -> Result<(), String> {
        self.postqueue(&["-i", qid]).map(drop)
    }

    /// The files delivered to `user@example.test`'s maildir, sorted.
    pub fn delivered(&self, user: &str) -> Vec<PathBuf> {
        self.delivered_at("example.test", user)
    }

    /// The files delivered to `user@domain`'s maildir, sorted.
    pub fn delivered_at(&self, domain: &str, user: &str) -> Vec<PathBuf> {
        let base = self.work().join("mail").join(domain).join(user).join("Maildir");
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|d| fs::read_dir(base.join(d)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files
    }

    /// Stops the instance, each step bounded:
    ///
    /// 1. the holder runs `postfix stop`, which must succeed (it fails when
    ///    the master was not running);
    /// 2. the master must be gone, or its process group is killed;
    /// 3. the rest of the instance (daemons, pipe(8) commands) must follow;
    /// 4. the holder leaves, and the kernel kills whatever is left in its PID
    ///    namespace; the namespace's PID 1 must be gone, or is killed.
    ///
    /// Returns what went wrong at any step (and what was killed for it).
    /// Empty means a clean stop. Safe to call twice.
    pub fn stop(&mut self) -> Vec<String> {
        if self.stopped {
            return Vec::new();
        }
        self.stopped = true;
        let Some(mut holder) = self.holder.take() else { return Vec::new() };
        let mut problems = Vec::new();
        let holder_pid = holder.id() as i32;
        if let Ok(Some(status)) = holder.try_wait() {
            // Its namespaces are gone, and their numbers may be another
            // instance's by now: nothing more to look at.
            problems.push(format!("the holder had already left ({status})"));
            return problems;
        }
        // The namespace's PID 1, the holder's shell: once it has gone, so has
        // everything else in the namespace.
        let init = self.processes().into_iter().find(|p| p.ppid == holder_pid);

        // 1. `postfix stop`, run by the holder; it writes "stopped STATUS".
        let state_file = self.work().join("holder.state");
        let asked = self
            .holder_stdin
            .as_mut()
            .is_some_and(|s| s.write_all(b"stop\n").and_then(|()| s.flush()).is_ok());
        let started = Instant::now();
        let mut state = String::new();
        while asked && started.elapsed() < STOP_TIMEOUT {
            state = fs::read_to_string(&state_file).unwrap_or_default();
            if state.starts_with("stopped") || holder.try_wait().ok().flatten().is_some() {
                break;
            }
            sleep(Duration::from_millis(50));
        }
        let stopped = state.trim() == "stopped 0";
        if !stopped {
            problems.push(format!(
                "postfix stop: holder state {:?} after {:.1?}:\n{}",
                state.trim(),
                started.elapsed(),
                fs::read_to_string(self.work().join("holder.out")).unwrap_or_default()
            ));
        }

        // While the holder is there, its mount namespace is the instance's.
        if holder.try_wait().ok().flatten().is_none() {
            // 2. The master: `postfix stop` returns once the master's lock is
            // free, or after killing its process group.
            let others = |p: &Process| p.pid != holder_pid && p.ppid != holder_pid;
            let masters = || -> Vec<Process> {
                self.processes().into_iter().filter(|p| others(p) && p.comm == "master").collect()
            };
            let left = wait_while_any(MASTER_EXIT_TIMEOUT, masters);
            for master in &left {
                problems.push(format!(
                    "the master outlived postfix stop by {MASTER_EXIT_TIMEOUT:?}: {master}; \
                     killing its process group"
                ));
                if master.pgrp == master.pid {
                    // SAFETY: kill(2) on the process group the master leads, in the
                    // instance's namespace (checked just above, holder alive).
                    unsafe { libc::kill(-master.pgrp, libc::SIGKILL) };
                }
            }
            // 3. The rest of the instance.
            let rest = || -> Vec<Process> { self.processes().into_iter().filter(others).collect() };
            let left = wait_while_any(LINGER_TIMEOUT, rest);
            problems.extend(left.iter().map(|p| {
                format!("left {LINGER_TIMEOUT:?} after the master (killed with the holder): {p}")
            }));
        }

        // 4. End of file on its stdin: the holder leaves, and the kernel
        // kills whatever is left in its PID namespace.
        drop(self.holder_stdin.take());
        let deadline = Instant::now() + HOLDER_TIMEOUT;
        while holder.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        if holder.try_wait().ok().flatten().is_none() {
            problems.push("the holder did not leave; killed".into());
            // unshare --kill-child passes the SIGKILL on to the holder.
            let _ = holder.kill();
        }
        let _ = holder.wait();
        // The kernel ends a PID namespace when its PID 1 exits: PID 1 is gone
        // (or a zombie) only once every other process of the namespace is.
        if let Some(init) = init {
            let deadline = Instant::now() + HOLDER_TIMEOUT;
            while init.is_alive() && Instant::now() < deadline {
                sleep(Duration::from_millis(20));
            }
            if init.is_alive() {
                problems.push(format!("the namespace's PID 1 outlived the holder: {init}; killed"));
                // SAFETY: kill(2) on the PID that `is_alive` just found to be
                // the same process (same start time).
                unsafe { libc::kill(init.pid, libc::SIGKILL) };
            }
        }
        problems
    }

    /// The instance's live processes. Only meaningful while the holder is
    /// there (see the module's documentation).
    fn processes(&self) -> Vec<Process> {
        self.mntns.as_deref().map(processes_in_namespace).unwrap_or_default()
    }

    /// The PIDs of the instance's processes whose command name is `comm`.
    pub fn pids_of(&self, comm: &str) -> Vec<i32> {
        let Some(ns) = &self.mntns else { return Vec::new() };
        processes_in_namespace(ns).into_iter().filter(|p| p.comm == comm).map(|p| p.pid).collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("postfix harness: maillog of the failed test:\n{}", self.maillog());
            if std::env::var_os("MIMEINJECT_KEEP_POSTFIX").is_some() {
                eprintln!("postfix harness: kept {}", self.work().display());
                let _ = std::mem::replace(&mut self.work, tempfile::tempdir().unwrap()).keep();
            }
        }
    }
}

/// The message as SMTP DATA: CRLF line ends, dot-stuffed, with the final dot.
fn smtp_data(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 8);
    let text = message.strip_suffix(b"\n").unwrap_or(message);
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// `extra` appended to the configuration template `tmpl`; a `main.cf`
/// parameter that `extra` sets is taken out of `tmpl` (Postfix would use the
/// last one too, with a warning from every process).
fn append_config(tmpl: &str, extra: &str) -> String {
    let set = |line: &str| {
        let starts_entry = !line.starts_with(char::is_whitespace) && !line.starts_with('#');
        line.split_once('=').filter(|_| starts_entry).map(|(k, _)| k.trim().to_owned())
    };
    let overridden: Vec<String> = extra.lines().filter_map(set).collect();
    let mut out: String = tmpl
        .lines()
        .filter(|l| !set(l).is_some_and(|k| overridden.contains(&k)))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push('\n');
    out.push_str(extra);
    out
}

/// The README's content-filter recipes, made to run in the instance: the
/// test's paths, `nobody` as the pipe(8) user, no chroot for pickup, and
/// the wrapper's settings (`MIMEINJECT`, the log, the temporary directory,
/// `sendmail`) in `argv=` through `env`, as the README says to set them.
fn content_filter_recipes() -> Result<(String, String), String> {
    let subst = |text: String, from: &str, to: &str| {
        if text.contains(from) {
            Ok(text.replace(from, to))
        } else {
            Err(format!("the README's content-filter recipe no longer contains {from:?}"))
        }
    };
    let main_cf = crate::support::readme::recipe("postfix/content-filter.main.cf");
    let master = crate::support::readme::recipe("postfix/content-filter.master.cf");
    let master =
        subst(master, "pickup    unix  n       -       y", "pickup    unix  n       -       n")?;
    let master = subst(master, "user=mimeinject", "user=nobody")?;
    let master = subst(
        master,
        "MIMEINJECT_ROOT=/srv/mail-attachments",
        "MIMEINJECT_ROOT=@WORK@/files\n    MIMEINJECT=@FILTER@ MIMEINJECT_LOG=@WORK@/log/mimeinject.log\n    \
         MIMEINJECT_TMPDIR=@WORK@/tmp SENDMAIL=@PREFIX@/usr/sbin/sendmail",
    )?;
    let master = subst(
        master,
        "/usr/local/libexec/mimeinject-postfix-wrapper",
        "@WORK@/bin/mimeinject-postfix-wrapper",
    )?;
    Ok((main_cf, master))
}

/// The pipe(8) result lines for `qid`'s deliveries through the filter
/// service, oldest first. pipe(8) logs one line per recipient and attempt;
/// the tests use one recipient.
fn filter_outcomes(log: &str, qid: &str) -> Vec<FilterOutcome> {
    let prefix = format!("{qid}: to=<");
    log.lines()
        .filter(|l| l.contains(&prefix) && l.contains(", relay=mimeinject"))
        .map(|l| {
            let field = |name: &str| {
                l.split(", ")
                    .find_map(|f| f.strip_prefix(name))
                    .map(|v| v.split([' ', ',']).next().unwrap_or("").to_string())
                    .unwrap_or_default()
            };
            FilterOutcome { status: field("status="), dsn: field("dsn="), line: l.to_string() }
        })
        .collect()
}

fn dir_is_empty(dir: &Path) -> bool {
    // Queue directories are hashed one level deep only with hash_queue_names,
    // whose defaults (deferred, defer) are walked too.
    match fs::read_dir(dir) {
        Ok(entries) => {
            entries.filter_map(|e| e.ok()).all(|e| e.path().is_dir() && dir_is_empty(&e.path()))
        }
        Err(_) => true,
    }
}

/// The live (not zombie) processes in mount namespace `ns`, this one aside.
fn processes_in_namespace(ns: &str) -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let me = std::process::id() as i32;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|l| l.to_str() == Some(ns))
        })
        .filter_map(read_stat)
        .collect()
}

/// Process `pid` from `/proc/PID/stat`, unless it is gone or a zombie.
fn read_stat(pid: i32) -> Option<Process> {
    // "PID (COMM) STATE PPID PGRP ..."; COMM may hold spaces and parentheses,
    // so split at the last ')'. The start time is the 22nd field.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let state = *fields.first()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    (state != "Z" && state != "X").then_some(Process { pid, ppid, pgrp, start, comm })
}
fn uid_of(user: &str) -> Result<u32, String> {
    let name = std::ffi::CString::new(user).unwrap();
    // SAFETY: getpwnam takes a valid C string; the uid is read at once, before
    // any other call could reuse the static buffer.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        Err(format!("no user {user:?}"))
    } else {
        // SAFETY: checked non-null above.
        Ok(unsafe { (*pw).pw_uid })
    }
}

/// Runs `cmd` with stdout and stderr into `out_file` (a file rather than a
/// pipe: a daemon started by the command may keep its inherited descriptors
/// open), killing it after `limit`. Returns (success, output).
fn run_bounded(
    mut cmd: Command,
    out_file: &Path,
    limit: Duration,
) -> Result<(bool, String), String> {
    let file = fs::File::create(out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{desc}: {e}"))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{desc} took longer than {limit:?}"));
            }
            None => sleep(Duration::from_millis(20)),
        }
    };
    let mut output = fs::read_to_string(out_file).unwrap_or_default();
    if !status.success() {
        let _ = write!(output, "\n({desc}: {status})");
    }
    Ok((status.success(), output))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_process_is_known_by_pid_and_start_time() {
        let me = read_stat(std::process::id() as i32).expect("this process in /proc");
        // SAFETY: getpgrp has no preconditions.
        assert_eq!(me.pgrp, unsafe { libc::getpgrp() });
        assert!(me.is_alive());
        let same_pid_later = Process { start: me.start + 1, comm: String::new(), ..me };
        assert!(!same_pid_later.is_alive());
    }

    #[test]
    fn smtp_data_stuffs_dots_and_uses_crlf() {
        assert_eq!(smtp_data(b"a\n.b\r\n..\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(smtp_data(b""), b"\r\n.\r\n");
    }

    #[test]
    fn appended_parameters_replace_the_templates() {
        let tmpl = "# a = comment\na = 1\nb = 2\nsvc unix - - n - - x\n  -o a=3\n";
        let out = append_config(tmpl, "a = 9\n");
        assert_eq!(out, "# a = comment\nb = 2\nsvc unix - - n - - x\n  -o a=3\n\na = 9\n");
    }

    #[test]
    fn filter_outcome_reads_the_pipe_line() {
        let log = "Nov 24 19:21:16 harness postfix/pipe[1]: ABC: to=<user@example.test>, \
                   relay=mimeinject, delay=0.19, delays=0.12/0.01/0/0.07, dsn=4.3.0, \
                   status=deferred (temporary failure)\n";
        let o = filter_outcomes(log, "ABC");
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].status.as_str(), o[0].dsn.as_str()), ("deferred", "4.3.0"));
        assert!(filter_outcomes(log, "ABD").is_empty());
    }

    #[test]
    fn queue_entry_reads_postqueue_json() {
        let line = r#"{"queue_name": "deferred", "queue_id": "34A0F9901AD", "arrival_time": 1764011000, "message_size": 397, "forced_expire": false, "sender": "sender@example.test", "recipients": [{"address": "user@example.test", "delay_reason": "mimeinject-postfix-wrapper: \"x\" deferred"}]}"#;
        let e = QueueEntry::parse(line).unwrap();
        assert_eq!((e.queue_name.as_str(), e.queue_id.as_str()), ("deferred", "34A0F9901AD"));
        assert_eq!(e.sender, "sender@example.test");
        assert_eq!(
            e.recipients,
            vec![(
                "user@example.test".to_string(),
                "mimeinject-postfix-wrapper: \"x\" deferred".to_string()
            )]
        );
        assert!(QueueEntry::parse(r#"{"queue_id": "X"}"#).is_none());
    }
}
