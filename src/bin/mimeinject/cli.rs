//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mimeinject::smtp::TlsLevel;
use mimeinject::{Limits, UnsignedPolicy};

use crate::exit::Exit;

/// `deliver`'s default `--failure-exit-code`: [`Exit::EX_TEMPFAIL`], a pipe(8) deferral
/// (a test checks that they agree).
const DELIVER_FAILURE: &str = "75";
/// `deliver`'s default `--permanent-exit-code`: EX_UNAVAILABLE, which pipe(8) bounces.
const DELIVER_PERMANENT: &str = "69";

/// Adds attachments to mail at delivery: reads a message on stdin, writes it to stdout with
/// every placeholder replaced by its file as a base64 MIME part.
///
/// With no subcommand it runs as the MTA's filter (exim's transport_filter, a Postfix
/// pipe(8) content filter). On any problem it exits with the failure code and writes one
/// line to the log, so the message stays queued.
#[derive(Debug, Parser)]
#[command(name = "mimeinject", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lints messages before they are queued: lists every placeholder, whether its file
    /// resolves beneath the root, and any structure problem. Exits 1 when one fails.
    Check {
        /// The directory placeholder paths are resolved beneath.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Fills `{NAME}` in placeholder paths (used only with exactly one --recipient).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// A recipient of the delivery to check for: exactly one fills `{rcpt}`. Repeatable.
        #[arg(long = "recipient", value_name = "ADDRESS")]
        recipients: Vec<String>,
        /// Requires every placeholder to carry a valid `sig` made with this key.
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
        /// The messages to check.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints a signed stub part's `Content-Type:` header line, ready to use.
    Sign {
        /// The key, as given to the filter's --key-file.
        #[arg(long, value_name = "PATH")]
        key_file: PathBuf,
        #[command(flatten)]
        stub: StubArgs,
    },
    /// Prints an unsigned stub part's `Content-Type:` header line, ready to use (for a filter
    /// without --key-file).
    Stub {
        #[command(flatten)]
        stub: StubArgs,
    },
    /// Lists the records of --records DIR: one line per failed message, `ID CLASS AGE
    /// REASON` (CLASS permanent or temporary, AGE the message's), oldest first.
    Records {
        /// The records directory, as given to the filter's --records.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// exim's spool directory: a record whose message is no longer queued there is shown
        /// with class `gone`.
        #[arg(long, value_name = "DIR")]
        spool: Option<PathBuf>,
        /// Removes the records shown as `gone` (needs --spool).
        #[arg(long, requires = "spool")]
        prune: bool,
    },
    /// Prints the manual page (roff) on stdout.
    Man,
    /// Prints a shell completion script on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Delivers the filtered message straight to a next hop over SMTP or LMTP, as a Postfix
    /// pipe(8) transport: the output streams into the transaction, and only a complete
    /// message gets the final dot. Exits 0 when the next hop accepted it, 75 (defer) on a
    /// temporary local failure or a 4xx reply, 69 (bounce) on a permanent local failure or a
    /// 5xx reply to the message; prints one line for pipe(8) to log, starting with an
    /// enhanced status code when the message is refused for good or by the next hop.
    #[command(mut_arg("failure_exit_code", |a| a.default_value(DELIVER_FAILURE)))]
    #[command(mut_arg("permanent_exit_code", |a| a.default_value(DELIVER_PERMANENT)))]
    // Postfix bounces by itself: `--records` is exim's, and `deliver` keeps none.
    #[command(mut_arg("records", |a| a.hide(true)))]
    Deliver(Box<DeliverArgs>),
    /// Encodes a file (or stdin) as MIME base64 in 76-column lines, like `base64 -w 76`.
    Encode {
        /// End lines with CRLF instead of LF.
        #[arg(long)]
        crlf: bool,
        /// The file; stdin when absent.
        file: Option<PathBuf>,
    },
}

/// A stub's parameters, for `stub` and `sign`.
#[derive(Debug, Args)]
pub struct StubArgs {
    /// The path, relative to the root, before `{var}` expansion.
    #[arg(long)]
    pub path: String,
    /// The name the recipient sees.
    #[arg(long)]
    pub filename: Option<String>,
    /// The media type, `type/subtype`.
    #[arg(long = "type", value_name = "TYPE")]
    pub media_type: Option<String>,
    /// `attachment` or `inline`.
    #[arg(long)]
    pub disposition: Option<String>,
}

impl StubArgs {
    /// The parameters as the signature sees them.
    pub fn fields(&self) -> mimeinject::sign::SignedFields<'_> {
        mimeinject::sign::SignedFields {
            path: &self.path,
            filename: self.filename.as_deref(),
            media_type: self.media_type.as_deref(),
            disposition: self.disposition.as_deref(),
        }
    }
}

/// `mimeinject deliver`: the next hop and the envelope, then the filter's options.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// Where to deliver, in Postfix's syntax: `smtp:[host]:port` (no MX lookup) or
    /// `lmtp:unix:/path`, `lmtp:inet:host:port`.
    #[arg(long, value_name = "NEXTHOP")]
    pub nexthop: mimeinject::smtp::NextHop,

    /// The envelope sender (pipe(8)'s `${sender}`); empty for the null sender (with
    /// `null_sender=` in master.cf).
    #[arg(short = 'f', long = "sender", value_name = "ADDRESS", allow_hyphen_values = true)]
    pub sender: String,

    /// The name sent with EHLO/LHLO (default: this host's name).
    #[arg(long, value_name = "NAME")]
    pub helo_name: Option<String>,

    /// STARTTLS, as Postfix's smtp_tls_security_level: none, may (when offered, no
    /// certificate check), encrypt (required, no check), secure (required, certificate
    /// checked against the trusted roots and the next hop's host).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = TlsLevel::May)]
    pub tls_security_level: TlsLevel,

    /// Trusted roots for `secure`: the PEM certificates in this file instead of the system's
    /// store.
    #[arg(long, value_name = "PATH")]
    pub tls_ca_file: Option<PathBuf>,

    /// Logs in (AUTH PLAIN or LOGIN, over TLS only) with the entry for the next hop in this
    /// file, in the syntax of Postfix's smtp_sasl_password_maps: `[host]:port user:password`.
    #[arg(long, value_name = "PATH")]
    pub auth_file: Option<PathBuf>,

    /// Seconds a TCP connection to the next hop may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub connect_timeout: u64,

    /// Seconds any one wait for the next hop may take: a reply, or room to send.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,

    /// Seconds the whole run may take; then mimeinject stops (killed by SIGALRM, which
    /// pipe(8) defers). Keep it below the transport's `_time_limit` (default 1000 s), which
    /// bounces. 0: no limit.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub time_limit: u32,

    #[command(flatten)]
    pub filter: FilterArgs,
}

/// The filter's options.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// The directory every placeholder path is resolved beneath. Required for filtering.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Fills `{NAME}` in placeholder paths with a per-delivery value. A path using any
    /// `{NAME}` is expanded only when exactly one RECIPIENT is given. `rcpt` cannot be set:
    /// `{rcpt}` is the recipient.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// The MTA's id of the message (exim: `$message_exim_id`), put at the start of every
    /// log line so that a line can be matched with the MTA's log and queue.
    #[arg(long, value_name = "ID")]
    pub queue_id: Option<String>,

    /// exim: on failure, writes the reason to DIR/ID (ID is --queue-id), one line
    /// `permanent: REASON` or `temporary: REASON`, for the router of docs/exim.md to bounce the
    /// message with; on success removes it. DIR must be owned by the filter's user, mode 0700,
    /// else no record is written (a warning is logged); the exit status never changes. For
    /// the filter only (`deliver` keeps no records: Postfix bounces by itself).
    #[arg(long, value_name = "DIR", requires = "queue_id")]
    pub records: Option<PathBuf>,

    /// Does not log a line for each message that had attachments added.
    #[arg(long)]
    pub no_delivery_log: bool,

    /// The exit status on failure. exim defers on any non-zero status; Postfix pipe(8)
    /// needs 75 (EX_TEMPFAIL) to defer rather than bounce.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    pub failure_exit_code: u8,

    /// The exit status when the failure is permanent: a defect of the message itself (a
    /// malformed placeholder or structure, signed mail, a path no root can hold) that no
    /// retry can cure. Unset, permanent failures exit with --failure-exit-code like the
    /// others. `deliver` sets 69 (EX_UNAVAILABLE: pipe(8) bounces) and prints the reason
    /// after the enhanced status code 5.6.0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub permanent_exit_code: Option<u8>,

    /// Appends the one-line failure reason to this file.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Does not send the failure reason to syslog (facility mail).
    #[arg(long)]
    pub no_syslog: bool,

    /// Messages up to this many bytes are checked whole, every file opened, before the first
    /// byte is written. 0 turns this off.
    #[arg(long, value_name = "BYTES", default_value_t = mimeinject::config::DEFAULT_PREFLIGHT_WINDOW)]
    pub preflight_window: usize,

    /// Largest attachment, in bytes, by its size when opened. The default is the largest
    /// file whose base64 fits in the default --max-output-size.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().attachment_bytes)]
    pub max_attachment_size: u64,

    /// Largest output, in bytes; nothing past it is written. The default is under exim's
    /// default message_size_limit (50M); a Postfix receiver at its defaults takes 10240000.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().output_bytes)]
    pub max_output_size: u64,

    /// Most placeholders in one message.
    #[arg(long, value_name = "N", default_value_t = Limits::default().placeholders)]
    pub max_placeholders: usize,

    /// Largest header block of any part, in bytes (held in memory). The default is exim's
    /// header_maxsize.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().header_bytes)]
    pub max_header_size: usize,

    /// Deepest multipart nesting. The default is Postfix's mime_nesting_limit.
    #[arg(long, value_name = "N", default_value_t = Limits::default().depth)]
    pub max_depth: usize,

    /// Longest placeholder or boundary line, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().line_bytes)]
    pub max_line_length: usize,

    /// Requires every placeholder to carry a valid `sig` made with this key.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// Adds a header field (`'Name: value'`) at the end of the top-level header block.
    /// Repeatable; runs in command-line order with --strip-header.
    #[arg(long, value_name = "FIELD")]
    pub add_header: Vec<String>,

    /// Removes every top-level header field with this name. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub strip_header: Vec<String>,

    /// The stages in command-line order (filled after parsing).
    #[arg(skip)]
    pub stages: Vec<mimeinject::Stage>,

    /// The delivery's recipients, all of them: exim's `$pipe_addresses`, after `--` so that
    /// no address is read as an option. With exactly one, it fills `{rcpt}`; with none or
    /// several, a placeholder whose path uses any `{NAME}` fails (exim: `max_rcpt = 1`).
    #[arg(value_name = "RECIPIENT")]
    pub recipients: Vec<String>,

    /// With --key-file: what to do with an unsigned or wrongly signed placeholder.
    #[arg(long, value_enum, default_value_t = UnsignedPolicy::Fail, requires = "key_file")]
    pub unsigned: UnsignedPolicy,
}

/// Parses the command line, recording the header stages in the order they were given.
pub fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.filter.stages = stages(&matches, &cli.filter);
    if let (Some(Command::Deliver(d)), Some(("deliver", sub))) =
        (&mut cli.command, matches.subcommand())
    {
        d.filter.stages = stages(sub, &d.filter);
    }
    Ok(cli)
}

/// The filter chain: attachments first, then the header stages in command-line order.
fn stages(matches: &clap::ArgMatches, args: &FilterArgs) -> Vec<mimeinject::Stage> {
    let mut stages: Vec<(usize, mimeinject::Stage)> = vec![(0, mimeinject::Stage::Attachments)];
    let indexed = |id: &str| matches.indices_of(id).into_iter().flatten().collect::<Vec<_>>();
    for (i, v) in indexed("add_header").into_iter().zip(&args.add_header) {
        stages.push((i, mimeinject::Stage::AddHeader(v.clone())));
    }
    for (i, v) in indexed("strip_header").into_iter().zip(&args.strip_header) {
        stages.push((i, mimeinject::Stage::StripHeader(v.clone())));
    }
    stages.sort_by_key(|(i, _)| *i);
    stages.into_iter().map(|(_, s)| s).collect()
}

/// Whether the arguments run `mimeinject deliver` (for failures before clap has parsed them).
pub fn is_deliver(args: &[std::ffi::OsString]) -> bool {
    args.get(1).is_some_and(|a| a == "deliver")
}

/// The failure exit code from the raw arguments, for failures before clap has parsed them:
/// `--failure-exit-code`, else [`Exit::EX_TEMPFAIL`] for `deliver` (a pipe(8) deferral), else
/// [`Exit::FAILURE`].
pub fn failure_code_hint(args: &[std::ffi::OsString]) -> Exit {
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--failure-exit-code") {
            Some("") => it.next(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(code) = value.and_then(|v| v.parse::<u8>().ok()).filter(|&c| c > 0) {
            return Exit::code(code);
        }
    }
    if is_deliver(args) {
        Exit::EX_TEMPFAIL
    } else {
        Exit::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hint_finds_the_code_in_both_spellings() {
        let args = |v: &[&str]| v.iter().map(Into::into).collect::<Vec<_>>();
        let hint = |v: &[&str]| u8::from(failure_code_hint(&args(v)));
        assert_eq!(hint(&["x", "--failure-exit-code", "75"]), 75);
        assert_eq!(hint(&["x", "--failure-exit-code=75", "--bad"]), 75);
        assert_eq!(hint(&["x", "--failure-exit-code=0"]), 1);
        assert_eq!(hint(&["x"]), 1);
        assert_eq!(hint(&["x", "deliver", "--bad"]), 75);
        assert_eq!(hint(&["x", "deliver", "--failure-exit-code=3"]), 3);
    }

    #[test]
    fn deliver_fails_with_tempfail_by_default() {
        let cli =
            parse(["x", "deliver", "--nexthop", "smtp:[a]:25", "-f", ""].map(Into::into).to_vec())
                .unwrap();
        let Some(Command::Deliver(d)) = cli.command else { panic!("deliver") };
        assert_eq!(Exit::code(d.filter.failure_exit_code), Exit::EX_TEMPFAIL);
        assert_eq!(DELIVER_FAILURE.parse(), Ok(u8::from(Exit::EX_TEMPFAIL)));
        assert_eq!(d.filter.permanent_exit_code, Some(u8::from(Exit::EX_UNAVAILABLE)));
        assert_eq!(DELIVER_PERMANENT.parse(), Ok(u8::from(Exit::EX_UNAVAILABLE)));
    }
}
