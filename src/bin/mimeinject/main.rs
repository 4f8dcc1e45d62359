//! `mimeinject`: the command. Parse, run, map the outcome to an exit status; nothing else.
// No std runtime set-up before `main`: see `main` below.
#![cfg_attr(not(test), no_main)]

mod check;
mod cli;
mod deliver;
mod filter;
mod log;
mod options;
mod tools;

use std::ffi::OsString;

use crate::cli::Command;
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
fn exit_code() -> u8 {
    let args: Vec<OsString> = std::env::args_os().collect();
    let failure = cli::failure_code_hint(&args);
    // `deliver` reports on stdout, which pipe(8) reads as the reason (it is not the message).
    let report = cli::is_deliver(&args);
    let stderr = log::stderr_is_separate();
    std::panic::set_hook(Box::new(log::record_panic));
    let mut log = Log { file: None, syslog: true, stderr, queue_id: None };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(args, &mut log)));
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(Failure::Usage(code) | Failure::Exit(code))) => code,
        Ok(Err(Failure::Reason(reason))) => {
            log.failure(&reason);
            if report {
                deliver::print(&format!("mimeinject: {reason}"));
            }
            failure
        }
        Err(_) => {
            let reason = log::PANIC.lock().ok().and_then(|mut p| p.take());
            let reason = reason.as_deref().unwrap_or("internal error (panic)");
            log.failure(reason);
            if report {
                deliver::print(&format!("mimeinject: {reason}"));
            }
            filter::drain_stdin();
            failure
        }
    }
}

enum Failure {
    /// Already reported (help, version, or a usage error printed by clap).
    Usage(u8),
    /// To be logged.
    Reason(String),
    /// Already reported and logged; exit with this status.
    Exit(u8),
}

fn run(args: Vec<OsString>, log: &mut Log) -> Result<(), Failure> {
    let cli = match cli::parse(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Err(Failure::Usage(0));
        }
        Err(e) => {
            let first = e.to_string().lines().next().unwrap_or("usage error").to_owned();
            filter::drain_stdin();
            return Err(Failure::Reason(first));
        }
    };
    log.file = cli.filter.log_file.clone();
    log.queue_id = cli.filter.queue_id.clone();
    // Only the filter runs under an MTA; the other subcommands report on stderr alone.
    log.syslog = !cli.filter.no_syslog && cli.command.is_none();
    match &cli.command {
        None => {
            let summary = filter::run(&cli.filter).map_err(Failure::Reason)?;
            if !summary.attachments.is_empty() && !cli.filter.no_delivery_log {
                log.delivery(&log::delivery_line(
                    cli.filter.recipients.len(),
                    &summary.attachments,
                ));
            }
            Ok(())
        }
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
        Some(Command::Deliver(args)) => {
            log.file = args.filter.log_file.clone();
            log.queue_id = args.filter.queue_id.clone();
            log.syslog = !args.filter.no_syslog;
            log.stderr = false;
            let outcome = deliver::run(args);
            if outcome.failed {
                log.failure(&outcome.line);
            } else if !outcome.attached.is_empty() && !args.filter.no_delivery_log {
                let recipients = args.filter.recipients.len();
                log.delivery(&log::delivery_line(recipients, &outcome.attached));
            }
            deliver::print(&outcome.line);
            match outcome.status {
                0 => Ok(()),
                code => Err(Failure::Exit(code)),
            }
        }
        Some(Command::Man) => tools::man().map_err(Failure::Reason),
        Some(Command::Completions { shell }) => tools::completions(*shell).map_err(Failure::Reason),
    }
}
