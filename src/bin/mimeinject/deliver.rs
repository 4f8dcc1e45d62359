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
//! | a permanent failure of mimeinject's own: a defect of the message ([`mimeinject::Class`]) | `--permanent-exit-code` (69) | `5.6.0 mimeinject: <reason>` |
//! | anything else: a temporary mimeinject failure, no connection, TLS, AUTH, a lost connection, a timeout | `--failure-exit-code` (75) | `mimeinject: <reason>` |
//!
//! 5.6.0 is RFC 3463's "other or undefined media error" (§3.7): the message's content is
//! why it cannot be delivered, and pipe(8) puts the code and the reason in the bounce.
//!
//! The connection is opened when the filter writes its first byte
//! ([`mimeinject::smtp::Transaction`]), so a failure of the pre-flight check (a missing file
//! in a message of up to 1 MiB) never reaches the next hop. Any failure before the reply to
//! the end of data closes the connection without the final dot.

use std::fs::File;
use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::Duration;

use mimeinject::smtp::{self, Credentials, Options, Protocol, Transaction, TrustRoots};
use mimeinject::Class;

use crate::cli::DeliverArgs;
use crate::exit::Exit;

/// What a run ended with.
pub enum Outcome {
    /// The next hop accepted the message: [`Exit::EX_OK`].
    Delivered {
        /// The line for pipe(8): `<next hop> said: 250 ...`.
        line: String,
        /// What was attached, for the delivery line.
        attached: Vec<mimeinject::Attached>,
    },
    /// The next hop refused the message, for now ([`Exit::EX_TEMPFAIL`]) or for good
    /// ([`Exit::EX_UNAVAILABLE`]).
    Refused {
        /// The exit status.
        status: Exit,
        /// The line for pipe(8) and the log: `4.x.x <next hop> said: 4xx ...`.
        line: String,
    },
    /// A permanent failure of mimeinject's own, a defect of the message that no retry can
    /// cure: `--permanent-exit-code` ([`Exit::EX_UNAVAILABLE`] unless set), and pipe(8)
    /// bounces with the reason.
    Bounced {
        /// The exit status.
        status: Exit,
        /// The reason, for the log; pipe(8)'s line is [`print_bounce`]'s.
        reason: String,
    },
    /// A temporary failure of mimeinject's own, or of the session: `--failure-exit-code`.
    Failed {
        /// The exit status.
        status: Exit,
        /// The reason, for the log; pipe(8)'s line is [`print_failure`]'s.
        reason: String,
    },
}

/// Runs the delivery. Reads stdin to its end whatever happens.
pub fn run(args: &DeliverArgs) -> Outcome {
    arm_time_limit(args.time_limit);
    let mut stdin = crate::filter::stdin();
    let outcome = deliver(args, &mut stdin);
    if !matches!(outcome, Outcome::Delivered { .. }) {
        crate::filter::drain(&mut stdin);
    }
    outcome
}

fn deliver(args: &DeliverArgs, stdin: &mut File) -> Outcome {
    let failure = Exit::code(args.filter.failure_exit_code);
    let local = |reason: String| Outcome::Failed { status: failure, reason };
    let recipients = &args.filter.recipients;
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
    let hop = &args.nexthop;
    let mut upstream =
        Transaction::new(hop.clone(), opts, args.sender.as_str(), recipients.clone());
    let summary = match mimeinject::rewrite(&config, &source, stdin, &mut upstream) {
        Ok(summary) => summary,
        // The session failed: the rewriter only saw that writing did.
        Err(_) if upstream.error().is_some() => {
            return refused(hop, upstream.error().expect("failed"), failure);
        }
        // Dropping the session closes the connection without the final dot.
        Err(e) => {
            let reason = format!("{e}; nothing delivered to {hop}");
            return match (e.class(), args.filter.permanent_exit_code) {
                (Class::Permanent, Some(code)) => {
                    Outcome::Bounced { status: Exit::code(code), reason }
                }
                _ => local(reason),
            };
        }
    };
    match upstream.finish() {
        Err(err) => refused(hop, &err, failure),
        Ok((client, replies)) => {
            let reply = replies.into_iter().next().expect("one recipient, one reply");
            if reply.is_positive() {
                client.quit();
                let line = format!("{hop} said: {reply}");
                return Outcome::Delivered { line, attached: summary.attachments };
            }
            let err = smtp::Error::Rejected { stage: smtp::Stage::DataEnd, recipient: None, reply };
            client.quit();
            refused(hop, &err, failure)
        }
    }
}

/// The outcome for a failed session: a refusal of the message carries the next hop's status
/// code, everything else is a local (deferred) failure.
fn refused(hop: &smtp::NextHop, err: &smtp::Error, failure: Exit) -> Outcome {
    let line = format!("{hop} {err}");
    match err {
        smtp::Error::Rejected { reply, .. } if err.refuses_message() => {
            let status = if err.is_permanent() { Exit::EX_UNAVAILABLE } else { Exit::EX_TEMPFAIL };
            Outcome::Refused { status, line: format!("{} {line}", reply.status()) }
        }
        _ => Outcome::Failed { status: failure, reason: line },
    }
}

/// Prints pipe(8)'s line for a failure of mimeinject's own, which names the program.
pub fn print_failure(reason: &str) {
    print(&format!("mimeinject: {reason}"));
}

/// Prints pipe(8)'s line for a permanent failure of mimeinject's own: the enhanced status
/// code first, which pipe(8) takes as the delivery status of the bounce, then the reason.
pub fn print_bounce(reason: &str) {
    print(&format!("5.6.0 mimeinject: {reason}"));
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
    let mut opts = Options::new(args.helo_name.clone().unwrap_or_else(smtp::hostname));
    opts.tls = args.tls_security_level;
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

/// The line the SIGALRM handler prints: set once, before the alarm is armed, and only read
/// by the handler. `OnceLock::get` is one atomic load, so reading it there is
/// async-signal-safe (no lock, no allocation).
static TIME_LIMIT_LINE: OnceLock<String> = OnceLock::new();

/// Arms `--time-limit`: when it runs out, the handler prints one line for pipe(8) and the
/// process dies of SIGALRM, which pipe(8) treats as a deferral ("Command died with signal
/// 14"); the kernel closes the connection, without the final dot.
fn arm_time_limit(seconds: u32) {
    if seconds == 0 {
        return;
    }
    let line = format!("mimeinject: time limit of {seconds} s reached, nothing delivered\n");
    if TIME_LIMIT_LINE.set(line).is_err() {
        return; // Armed already: one run, one limit.
    }
    // SAFETY: `on_alarm` is an `extern "C" fn(c_int)` that makes only async-signal-safe
    // calls; alarm(2) has no preconditions.
    unsafe {
        libc::signal(libc::SIGALRM, on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::alarm(seconds);
    }
}

extern "C" fn on_alarm(_: libc::c_int) {
    let line = TIME_LIMIT_LINE.get().map_or(&[][..], |l| l.as_bytes());
    // SAFETY: only async-signal-safe calls: write(2), signal(2), raise(3); `line` is a
    // static string.
    unsafe {
        libc::write(1, line.as_ptr().cast(), line.len());
        libc::signal(libc::SIGALRM, libc::SIG_DFL);
        libc::raise(libc::SIGALRM);
    }
}
