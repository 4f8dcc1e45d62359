//! `mimeinject deliver`: the filter's output goes straight into an SMTP/LMTP transaction with
//! the next hop, run as a Postfix pipe(8) transport.
//!
//! pipe(8) reads the exit status as sysexits (Postfix `src/global/sys_exits.c`) and takes
//! what the command prints as the reason in the log and the bounce; output that starts with
//! an enhanced status code (`4.x.x`, `5.x.x`) decides the result whatever the exit status
//! (`src/global/pipe_command.c`). So:
//!
//! | outcome | exit | printed (one line, stdout) |
//! |---|---|---|
//! | accepted (2xx to the end of data) | 0 | `<next hop> said: 250 ...` |
//! | 4xx to MAIL, RCPT, DATA or the end of data | 75 | `4.x.x <next hop> said: 4xx ...` |
//! | 5xx to MAIL, RCPT, DATA or the end of data | 69 | `5.x.x <next hop> said: 5xx ...` |
//! | anything else: a mimeinject failure, no connection, TLS, AUTH, a lost connection, a timeout | `--failure-exit-code` (75) | `mimeinject: <reason>` |
//!
//! The connection is opened when the filter writes its first byte, so a failure of the
//! pre-flight check (a missing file in a message of up to 1 MiB) never reaches the next hop.
//! Any failure before the reply to the end of data closes the connection without the final
//! dot.

use std::fs::File;
use std::io::{self, Write};
use std::time::Duration;

use mimeinject::smtp::{self, Client, Credentials, Data, Options, Protocol, TrustRoots};

use crate::cli::{DeliverArgs, TlsLevel};

/// sysexits `EX_UNAVAILABLE`: pipe(8) bounces (5.3.0, or the status code printed first).
const EX_UNAVAILABLE: u8 = 69;
/// sysexits `EX_TEMPFAIL`: pipe(8) defers (4.3.0, or the status code printed first).
const EX_TEMPFAIL: u8 = 75;

/// What a run ended with: the exit status and the line for pipe(8).
pub struct Outcome {
    /// The process's exit status.
    pub status: u8,
    /// One line, printed on stdout.
    pub line: String,
    /// What was attached, when the next hop accepted the message (for the delivery line).
    pub attached: Vec<mimeinject::Attached>,
}

/// Runs the delivery. Reads stdin to its end whatever happens.
pub fn run(args: &DeliverArgs) -> Outcome {
    arm_time_limit(args.time_limit);
    let mut stdin = crate::filter::stdin();
    let outcome = deliver(args, &mut stdin);
    if outcome.status != 0 {
        crate::filter::drain(&mut stdin);
    }
    outcome
}

fn deliver(args: &DeliverArgs, stdin: &mut File) -> Outcome {
    let local = |reason: String| Outcome {
        status: args.filter.failure_exit_code,
        line: format!("mimeinject: {reason}"),
        attached: Vec::new(),
    };
    let recipients: Vec<&str> = args.filter.recipients.iter().map(String::as_str).collect();
    if recipients.is_empty() {
        return local("no recipient (pipe(8)'s ${recipient} after --)".into());
    }
    if args.nexthop.protocol == Protocol::Lmtp && recipients.len() > 1 {
        // LMTP answers the end of data once per recipient, pipe(8) takes one exit status per
        // run: a mixed result could only be a duplicate or a lost bounce.
        return local(format!(
            "{} recipients in one LMTP delivery; set the transport's \
             _destination_recipient_limit = 1",
            recipients.len()
        ));
    }
    let config = match crate::filter::config(&args.filter) {
        Ok(c) => c,
        Err(e) => return local(e),
    };
    let source = match crate::filter::source(&args.filter) {
        Ok(s) => s,
        Err(e) => return local(e),
    };
    let opts = match options(args) {
        Ok(o) => o,
        Err(e) => return local(e),
    };
    let mut upstream = Lazy { args, opts: &opts, recipients: &recipients, state: State::Pending };
    let rewritten = mimeinject::rewrite(&config, &source, stdin, &mut upstream);
    let hop = &args.nexthop;
    if let State::Failed(err) = upstream.state {
        return refused(hop, err, args.filter.failure_exit_code);
    }
    let summary = match rewritten {
        Ok(summary) => summary,
        // Dropping `upstream` closes the connection without the final dot.
        Err(e) => return local(format!("{e}; nothing delivered to {hop}")),
    };
    let data = match upstream.into_data() {
        Ok(data) => data,
        Err(err) => return refused(hop, err, args.filter.failure_exit_code),
    };
    match data.finish() {
        Err(err) => refused(hop, err, args.filter.failure_exit_code),
        Ok((client, replies)) => {
            let reply = replies.into_iter().next().expect("one recipient, one reply");
            if reply.is_positive() {
                client.quit();
                return Outcome {
                    status: 0,
                    line: format!("{hop} said: {reply}"),
                    attached: summary.attachments,
                };
            }
            let err = smtp::Error::Rejected { stage: smtp::Stage::DataEnd, recipient: None, reply };
            client.quit();
            refused(hop, err, args.filter.failure_exit_code)
        }
    }
}

/// The outcome for a failed session: a refusal of the message carries the next hop's status
/// code, everything else is a local (deferred) failure.
fn refused(hop: &smtp::NextHop, err: smtp::Error, failure: u8) -> Outcome {
    let line = format!("{hop} {err}");
    match &err {
        smtp::Error::Rejected { reply, .. } if err.refuses_message() => {
            let status = if err.is_permanent() { EX_UNAVAILABLE } else { EX_TEMPFAIL };
            let line = format!("{} {line}", reply.status());
            Outcome { status, line, attached: Vec::new() }
        }
        _ => Outcome { status: failure, line: format!("mimeinject: {line}"), attached: Vec::new() },
    }
}

/// Prints the one line pipe(8) reads (stdout; one line, at most 990 characters).
pub fn print(line: &str) {
    let line = crate::log::one_line(line, 990);
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The session options from the command line.
fn options(args: &DeliverArgs) -> Result<Options, String> {
    let mut opts = Options::new(args.helo_name.clone().unwrap_or_else(hostname));
    opts.tls = match args.tls_security_level {
        TlsLevel::None => smtp::TlsLevel::None,
        TlsLevel::May => smtp::TlsLevel::May,
        TlsLevel::Encrypt => smtp::TlsLevel::Encrypt,
        TlsLevel::Secure => smtp::TlsLevel::Secure,
    };
    if let Some(ca) = &args.tls_ca_file {
        opts.trust = TrustRoots::File(ca.clone());
    }
    if let Some(path) = &args.auth_file {
        let table = std::fs::read_to_string(path)
            .map_err(|e| format!("--auth-file {}: {e}", path.display()))?;
        let credentials = Credentials::from_table(&table, &args.nexthop).ok_or_else(|| {
            format!("--auth-file {}: no entry for {}", path.display(), args.nexthop)
        })?;
        opts.credentials = Some(credentials);
    }
    opts.connect_timeout = Duration::from_secs(args.connect_timeout.max(1));
    opts.timeout = Duration::from_secs(args.timeout.max(1));
    Ok(opts)
}

/// This host's name (`gethostname(2)`), the default EHLO name.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    match std::str::from_utf8(&buf[..len]) {
        Ok(name) if ok && !name.is_empty() => name.to_owned(),
        _ => "localhost".to_owned(),
    }
}

enum State {
    /// Nothing written yet: no connection.
    Pending,
    Open(Box<Data>),
    /// Why the session failed, kept for the report (the rewriter only sees an io::Error).
    Failed(smtp::Error),
}

/// The rewriter's output: opens the session and the transaction at the first byte.
struct Lazy<'a> {
    args: &'a DeliverArgs,
    opts: &'a Options,
    recipients: &'a [&'a str],
    state: State,
}

impl Lazy<'_> {
    /// Connects and sends the envelope, unless already tried; the open transaction, if any.
    fn open(&mut self) -> Option<&mut Data> {
        if let State::Pending = self.state {
            let opened = Client::connect(&self.args.nexthop, self.opts)
                .and_then(|c| c.send_envelope(&self.args.sender, self.recipients));
            self.state = match opened {
                Ok(data) => State::Open(Box::new(data)),
                Err(e) => State::Failed(e),
            };
        }
        match &mut self.state {
            State::Open(data) => Some(data),
            _ => None,
        }
    }

    /// The transaction, opened now if nothing was written (an empty message), or why the
    /// session failed.
    fn into_data(mut self) -> Result<Data, smtp::Error> {
        self.open();
        match self.state {
            State::Open(data) => Ok(*data),
            State::Failed(err) => Err(err),
            State::Pending => unreachable!("open() leaves Pending"),
        }
    }
}

impl Write for Lazy<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.open() {
            Some(data) => data.write(buf),
            None => Err(io::Error::other("the next hop refused the transaction")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Open(data) => data.flush(),
            _ => Ok(()),
        }
    }
}

/// The text the SIGALRM handler prints: set once, before the alarm is armed.
static mut TIME_LIMIT_LINE: [u8; 96] = [0; 96];
static mut TIME_LIMIT_LEN: usize = 0;

/// Arms `--time-limit`: when it runs out, the handler prints one line for pipe(8) and the
/// process dies of SIGALRM, which pipe(8) treats as a deferral ("Command died with signal
/// 14"); the kernel closes the connection, without the final dot.
fn arm_time_limit(seconds: u32) {
    if seconds == 0 {
        return;
    }
    let line = format!("mimeinject: time limit of {seconds} s reached, nothing delivered\n");
    // SAFETY: written once here, before the handler can run; the handler only reads it.
    unsafe {
        let dst = &mut *std::ptr::addr_of_mut!(TIME_LIMIT_LINE);
        let n = line.len().min(dst.len());
        dst[..n].copy_from_slice(&line.as_bytes()[..n]);
        TIME_LIMIT_LEN = n;
        libc::signal(libc::SIGALRM, on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::alarm(seconds);
    }
}

extern "C" fn on_alarm(_: libc::c_int) {
    // SAFETY: only async-signal-safe calls: write(2), signal(2), raise(3).
    unsafe {
        let line = &*std::ptr::addr_of!(TIME_LIMIT_LINE);
        libc::write(1, line.as_ptr().cast(), TIME_LIMIT_LEN);
        libc::signal(libc::SIGALRM, libc::SIG_DFL);
        libc::raise(libc::SIGALRM);
    }
}
