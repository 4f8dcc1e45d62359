//! `mimeinject`: the command. Parse, run, map the outcome to an exit status; nothing else.
// No std runtime set-up before `main`: see `main` below.
#![cfg_attr(not(test), no_main)]

mod check;
mod cli;
mod deliver;
mod exit;
mod filter;
mod log;
mod options;
mod records;
mod tools;

use std::ffi::OsString;

use mimeinject::Class;

use crate::cli::Command;
use crate::deliver::Outcome;
use crate::exit::Exit;
use crate::log::Log;

/// The C entry point. Skipping std's runtime set-up (reading /proc/self/maps for the stack
/// guard, installing SIGSEGV/SIGBUS handlers) saves about a tenth of the start-up of a 2 KB
/// message (paired runs against /bin/cat: 1.32x before, 1.21x after). A stack overflow then
/// ends in a plain SIGSEGV, which every MTA treats as a deferral. Panics are still caught in
/// [`exit_code`]; everything written to stdout is flushed explicitly.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    exit_code().into()
}

/// Runs the command; the process's exit status.
#[cfg_attr(test, allow(dead_code))]
fn exit_code() -> Exit {
    let args: Vec<OsString> = std::env::args_os().collect();
    let failure = cli::failure_code_hint(&args);
    // `deliver` reports on stdout, which pipe(8) reads as the reason (it is not the message).
    let report = cli::is_deliver(&args);
    let stderr = log::stderr_is_separate();
    std::panic::set_hook(Box::new(log::record_panic));
    let mut log = Log { file: None, syslog: true, stderr, queue_id: None };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(args, &mut log)));
    let reason = match outcome {
        Ok(Ok(())) => return Exit::EX_OK,
        Ok(Err(Failure::Reported(code))) => return code,
        Ok(Err(Failure::Reason(reason))) => reason,
        Err(_) => {
            filter::drain_stdin();
            let reason = log::PANIC.lock().ok().and_then(|mut p| p.take());
            reason.unwrap_or_else(|| "internal error (panic)".to_owned())
        }
    };
    log.failure(&reason);
    if report {
        deliver::print_failure(&reason);
    }
    failure
}

enum Failure {
    /// Already reported (help, version, a usage error printed by clap, or a `deliver`
    /// outcome printed and logged): exit with this status.
    Reported(Exit),
    /// To be logged.
    Reason(String),
}

fn run(args: Vec<OsString>, log: &mut Log) -> Result<(), Failure> {
    let cli = match cli::parse(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Err(Failure::Reported(Exit::EX_OK));
        }
        Err(e) => {
            let first = e.to_string().lines().next().unwrap_or("usage error").to_owned();
            filter::drain_stdin();
            return Err(Failure::Reason(first));
        }
    };
    // Only the filter and `deliver` run under an MTA; the other subcommands report on stderr
    // alone. `deliver` reports on stdout (pipe(8) reads it), never stderr.
    let (active, under_mta) = match &cli.command {
        None => (&cli.filter, true),
        Some(Command::Deliver(args)) => (&args.filter, true),
        Some(_) => (&cli.filter, false),
    };
    log.file = active.log_file.clone();
    log.queue_id = active.queue_id.clone();
    log.syslog = !active.no_syslog && under_mta;
    log.stderr &= !matches!(cli.command, Some(Command::Deliver(_)));
    let delivered = |log: &Log, attached: &[mimeinject::Attached]| {
        if !attached.is_empty() && !active.no_delivery_log {
            log.delivery(&log::delivery_line(&active.recipients, attached));
        }
    };
    match &cli.command {
        None => match filter::run(&cli.filter) {
            Ok(summary) => {
                delivered(log, &summary.attachments);
                record(log, &cli.filter, None);
                Ok(())
            }
            Err(refusal) => {
                log.failure(&refusal.reason);
                record(log, &cli.filter, Some(&refusal));
                let failure = Exit::code(cli.filter.failure_exit_code);
                Err(Failure::Reported(match (refusal.class, cli.filter.permanent_exit_code) {
                    (Class::Permanent, Some(code)) => Exit::code(code),
                    _ => failure,
                }))
            }
        },
        Some(Command::Encode { crlf, file }) => {
            filter::encode(*crlf, file.as_deref()).map_err(Failure::Reason)
        }
        Some(Command::Check { root, vars, recipients, key_file, files }) => {
            check::run(root, vars, recipients, key_file.as_deref(), files).map_err(Failure::Reason)
        }
        Some(Command::Sign { key_file, stub }) => {
            tools::stub(Some(key_file), stub.fields()).map_err(Failure::Reason)
        }
        Some(Command::Stub { stub }) => tools::stub(None, stub.fields()).map_err(Failure::Reason),
        Some(Command::Deliver(args)) => match deliver::run(args) {
            Outcome::Delivered { line, attached } => {
                delivered(log, &attached);
                deliver::print(&line);
                Ok(())
            }
            Outcome::Refused { status, line } => {
                log.failure(&line);
                deliver::print(&line);
                Err(Failure::Reported(status))
            }
            Outcome::Failed { status, reason } => {
                log.failure(&reason);
                deliver::print_failure(&reason);
                Err(Failure::Reported(status))
            }
            Outcome::Bounced { status, reason } => {
                log.failure(&reason);
                deliver::print_bounce(&reason);
                Err(Failure::Reported(status))
            }
        },
        Some(Command::Records { dir, spool, prune }) => {
            records::list(dir, spool.as_deref(), *prune).map_err(Failure::Reason)
        }
        Some(Command::Man) => tools::man().map_err(Failure::Reason),
        Some(Command::Completions { shell }) => tools::completions(*shell).map_err(Failure::Reason),
    }
}

/// `--records`: writes the failure's record, or removes the record of a message that went
/// through. A record that cannot be written is logged as a warning (never on stderr) and
/// changes nothing else.
fn record(log: &Log, args: &cli::FilterArgs, refusal: Option<&filter::Refusal>) {
    let (Some(dir), Some(id)) = (&args.records, &args.queue_id) else { return };
    let result = match refusal {
        Some(r) => records::write(dir, id, r.class, &r.reason),
        None => records::remove(dir, id),
    };
    if let Err(e) = result {
        log.warning(&format!("--records: no record kept: {e}"));
    }
}
