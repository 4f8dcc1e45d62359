//! `mimeinject`: the command. Parse, run, map the outcome to an exit status; nothing else.

mod cli;
mod filter;
mod log;

use std::ffi::OsString;
use std::process::ExitCode;

use crate::cli::Command;
use crate::log::Log;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let failure = ExitCode::from(cli::failure_code_hint(&args));
    let stderr = log::stderr_is_separate();
    std::panic::set_hook(Box::new(log::record_panic));
    let mut log = Log { file: None, syslog: true, stderr };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(args, &mut log)));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(Failure::Usage(code))) => code,
        Ok(Err(Failure::Reason(reason))) => {
            log.failure(&reason);
            failure
        }
        Err(_) => {
            let reason = log::PANIC.lock().ok().and_then(|mut p| p.take());
            log.failure(reason.as_deref().unwrap_or("internal error (panic)"));
            filter::drain_stdin();
            failure
        }
    }
}

enum Failure {
    /// Already reported (help, version, or a usage error printed by clap).
    Usage(ExitCode),
    /// To be logged.
    Reason(String),
}

fn run(args: Vec<OsString>, log: &mut Log) -> Result<(), Failure> {
    let cli = match cli::parse(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Err(Failure::Usage(ExitCode::SUCCESS));
        }
        Err(e) => {
            let first = e.to_string().lines().next().unwrap_or("usage error").to_owned();
            filter::drain_stdin();
            return Err(Failure::Reason(first));
        }
    };
    log.file = cli.filter.log_file.clone();
    log.syslog = !cli.filter.no_syslog;
    match &cli.command {
        None => filter::run(&cli.filter).map_err(Failure::Reason),
        Some(Command::Encode { crlf, file }) => {
            filter::encode(*crlf, file.as_deref()).map_err(Failure::Reason)
        }
    }
}
