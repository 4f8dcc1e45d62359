//! What a run of the filter is allowed to do: variables, limits, signing.

use crate::chain::Stage;
use crate::error::{Error, ErrorKind};
pub use crate::placeholder::UnsignedPolicy;
use crate::placeholder::{Rules, SigningKey, Vars, RCPT};

/// Limits that keep memory and output bounded whatever the message. Every limit hit is a
/// clean failure with a one-line reason.
///
/// The defaults ([`Limits::default`]) are what a receiving MTA at its own defaults accepts,
/// so that nothing the filter lets through is refused further on, and a 333-byte message
/// cannot turn into gigabytes. Each field says where its default comes from.
///
/// ```
/// use mimeinject::Limits;
///
/// let limits = Limits::default();
/// assert_eq!(limits.output_bytes, 50_000_000);
/// // The largest file whose base64 lines (77 bytes per 57) fit in the output.
/// assert_eq!(limits.attachment_bytes, 37_012_950);
/// assert!(mimeinject::encode::encoded_len(limits.attachment_bytes, mimeinject::Eol::Lf)
///     <= limits.output_bytes);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest attachment, in bytes, by its size when opened.
    ///
    /// Default [`DEFAULT_ATTACHMENT_BYTES`]: the largest file that can go out at all
    /// within the default output limit, once encoded.
    pub attachment_bytes: u64,
    /// Largest output, in bytes: nothing past it is ever written. Each generated piece and
    /// each attachment's encoded size (from its size when opened) is counted before it is
    /// written, and an attachment is never read past its size when opened.
    ///
    /// Default [`DEFAULT_OUTPUT_BYTES`], under exim's default `message_size_limit`.
    pub output_bytes: u64,
    /// Most placeholders in one message.
    ///
    /// Default 64: bulk mail carries one to a few attachments each. Every placeholder costs
    /// an open (two when pre-flight re-opens it) and a generated header; the output limit
    /// bounds what they add up to.
    pub placeholders: usize,
    /// Largest header block of any part, in bytes. Header blocks are held in memory; past
    /// this the structure is no longer followed (placeholder-free mail still passes).
    ///
    /// Default 1 MiB: exim's `header_maxsize` (default 1M; "messages with larger header
    /// sections are rejected", exim spec, main options), so every top-level header block
    /// exim accepted is followed.
    pub header_bytes: usize,
    /// Deepest multipart nesting; past it the structure is no longer followed.
    ///
    /// Default 100: Postfix's `mime_nesting_limit` (default 100; Postfix refuses mail nested
    /// deeper while receiving it, postconf(5)).
    pub depth: usize,
    /// Longest line the filter must parse: a placeholder line or a boundary delimiter line.
    ///
    /// Default 16 KiB: a body-line placeholder naming the longest path the root accepts
    /// (4096 bytes, Linux `PATH_MAX`) written in RFC 2231 percent-encoding (three bytes for
    /// each) still fits, with its other parameters. Delimiter lines are at most 74 bytes plus
    /// transport padding (RFC 2046 §5.1.1).
    pub line_bytes: usize,
}

/// The default [`Limits::output_bytes`]: 50,000,000 bytes.
///
/// exim's default `message_size_limit` is 50M, that is 52,428,800 bytes ("message_size_limit
/// ... Default: 50M", exim spec, main options): a receiver at exim's defaults refuses larger
/// messages with 552. The sending exim does not check the filter's output: its transport
/// `message_size_limit` is checked against the message as received, before the filter runs
/// (exim source, `deliver.c`, `check_message_size()`), so the filter must. The margin of
/// 2.4 MB leaves room for what is added after the filter: CRLF line endings on the wire (one
/// byte in 77 for base64 lines) and header fields such as `DKIM-Signature` and `Received`. A
/// receiver running Postfix at its defaults accepts only 10,240,000 bytes
/// (`message_size_limit`, postconf(5)); so does a Postfix that re-injects the output of a
/// content filter (the re-injected message is received anew, FILTER_README): set
/// `--max-output-size 10240000` (or what the receiver announces in `SIZE`) there.
pub const DEFAULT_OUTPUT_BYTES: u64 = 50_000_000;

/// The default [`Limits::attachment_bytes`]: the largest file whose MIME base64 form (76
/// characters and a LF for every 57 bytes) fits in [`DEFAULT_OUTPUT_BYTES`], 37,012,950
/// bytes. A larger file could never go out within the default output limit.
pub const DEFAULT_ATTACHMENT_BYTES: u64 = DEFAULT_OUTPUT_BYTES / 77 * 57;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            attachment_bytes: DEFAULT_ATTACHMENT_BYTES,
            output_bytes: DEFAULT_OUTPUT_BYTES,
            placeholders: 64,
            header_bytes: 1 << 20,
            depth: 100,
            line_bytes: 16 << 10,
        }
    }
}

/// The filter's settings. Build one with [`Config::builder`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) recipients: Vec<String>,
    pub(crate) limits: Limits,
    pub(crate) key: Option<SigningKey>,
    pub(crate) unsigned: UnsignedPolicy,
    pub(crate) preflight_window: usize,
    pub(crate) stages: Vec<Stage>,
}

/// The default pre-flight window: messages up to this size are checked whole before the
/// first byte is written. 1 MiB: the message a bulk sender queues is a few KB of text and
/// placeholders, so nearly every one is checked whole, and holding 1 MiB costs little.
pub const DEFAULT_PREFLIGHT_WINDOW: usize = 1 << 20;

impl Default for Config {
    fn default() -> Config {
        Config {
            vars: Vec::new(),
            recipients: Vec::new(),
            limits: Limits::default(),
            key: None,
            unsigned: UnsignedPolicy::Fail,
            preflight_window: DEFAULT_PREFLIGHT_WINDOW,
            stages: vec![Stage::Attachments],
        }
    }
}

impl Config {
    /// A builder with the defaults: no variables, default limits, no signing key.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether placeholders are replaced (the chain has [`Stage::Attachments`]).
    pub(crate) fn attachments(&self) -> bool {
        self.stages.iter().any(|s| matches!(s, Stage::Attachments))
    }

    /// Whether any stage edits the top-level header block.
    pub(crate) fn edits_headers(&self) -> bool {
        self.stages.iter().any(|s| !matches!(s, Stage::Attachments))
    }

    /// What reading a placeholder needs from this configuration.
    pub(crate) fn placeholder_rules(&self) -> Rules<'_> {
        Rules {
            vars: Vars { vars: &self.vars, recipients: &self.recipients },
            key: self.key.as_ref(),
            unsigned: self.unsigned,
        }
    }

    /// The delivery's envelope recipients, as given to [`ConfigBuilder::recipients`]; empty
    /// when none were given.
    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }
}

/// Builds a [`Config`].
///
/// ```
/// let config = mimeinject::Config::builder()
///     .recipients(["user@example.test"])
///     .var("account", "4711")
///     .build()?;
/// assert_eq!(config.recipients(), ["user@example.test"]);
/// # Ok::<(), mimeinject::Error>(())
/// ```
///
/// # Variables are per delivery
///
/// `{rcpt}` and every `{NAME}` set with [`var`](Self::var) are per-delivery values: a
/// placeholder path that uses any of them is expanded only when the delivery's recipients
/// were given ([`recipients`](Self::recipients)) and there is exactly one. `{rcpt}` is that
/// recipient. With no recipient, or several (an MTA that batches recipients into one
/// delivery: exim without `max_rcpt = 1`, Postfix without a recipient limit of 1), such a
/// message is refused, so a file meant for one recipient can never reach another, whatever
/// the variables hold. Paths without `{…}` are not affected, and a value that is the same for
/// every recipient belongs in the attachment root instead. See
/// [`crate::placeholder`] for the expansion itself.
#[derive(Clone, Debug, Default)]
pub struct ConfigBuilder {
    config: Config,
    error: Option<String>,
}

impl ConfigBuilder {
    /// Sets `{name}` in placeholder paths to `value`, a per-delivery value: it is used only
    /// when the delivery has exactly one recipient (see [the rule](Self#variables-are-per-delivery)).
    ///
    /// Names are letters, digits and `_`. `rcpt` cannot be set here: `{rcpt}` is always the
    /// delivery's single recipient, from [`recipients`](Self::recipients). Values that are
    /// empty, `.` or `..`, that start or end with `@` (what `$local_part_data@$domain_data`
    /// gives on an exim router that does not set both), or that contain `/` or NUL, are
    /// refused when the configuration is built: a variable must never move a path to another
    /// directory, nor stand for a recipient it does not name.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.error.get_or_insert(format!("variable name {name:?}: use letters, digits, _"));
        } else if name == RCPT {
            self.error.get_or_insert(format!(
                "variable {RCPT}: {{{RCPT}}} is the delivery's single recipient and is not set \
                 as a variable; give the recipients instead (exim: -- $pipe_addresses)"
            ));
        } else if value.is_empty()
            || value == "."
            || value == ".."
            || value.starts_with('@')
            || value.ends_with('@')
        {
            self.error.get_or_insert(format!("variable {name}: value {value:?} refused"));
        } else if value.contains('/') || value.contains('\0') {
            self.error.get_or_insert(format!("variable {name}: value contains '/' or NUL"));
        } else if self.config.vars.iter().any(|(n, _)| *n == name) {
            self.error.get_or_insert(format!("variable {name} given twice"));
        } else {
            self.config.vars.push((name, value));
        }
        self
    }

    /// The delivery's envelope recipients, all of them: exim's `$pipe_addresses`, Postfix
    /// pipe(8)'s `${recipient}`. `{rcpt}` in a placeholder path is the recipient when there
    /// is exactly one; with none or several, a path using any `{NAME}` is refused (see
    /// [the rule](Self#variables-are-per-delivery)). Calling it again replaces the list.
    ///
    /// The addresses are not checked here, so that an odd address cannot hold up mail that
    /// has no per-recipient path; the one that fills `{rcpt}` must be `local@domain` with
    /// both sides non-empty and no `/` or NUL, else the message using it is refused.
    pub fn recipients<I, S>(mut self, recipients: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config.recipients = recipients.into_iter().map(|r| r.as_ref().to_owned()).collect();
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Requires placeholders to be signed with `key`.
    pub fn key(mut self, key: SigningKey) -> Self {
        self.config.key = Some(key);
        self
    }

    /// What to do with unsigned placeholders when a key is set.
    pub fn unsigned(mut self, policy: UnsignedPolicy) -> Self {
        self.config.unsigned = policy;
        self
    }

    /// Messages up to `bytes` long are read whole and every placeholder's file is opened
    /// before anything is written, so a missing file produces no output at all. Larger
    /// messages stream, and still fail through the error. 0 turns pre-flight off.
    pub fn preflight_window(mut self, bytes: usize) -> Self {
        self.config.preflight_window = bytes;
        self
    }

    /// Replaces the filter chain (default: just [`Stage::Attachments`]). Stages run in
    /// order, in one pass.
    pub fn stages(mut self, stages: Vec<Stage>) -> Self {
        for s in &stages {
            if let Err(e) = s.validate() {
                self.error.get_or_insert(e);
            }
        }
        self.config.stages = stages;
        self
    }

    /// The configuration, or the first problem found.
    pub fn build(self) -> Result<Config, Error> {
        match self.error {
            Some(e) => Err(Error::new(ErrorKind::Config(e))),
            None => Ok(self.config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcpt_is_never_a_variable() {
        let e = Config::builder().var("rcpt", "a@b.test").build().unwrap_err().to_string();
        assert!(e.contains("$pipe_addresses"), "{e}");
        let both = Config::builder().recipients(["a@b.test"]).var("rcpt", "a@b.test").build();
        assert!(both.is_err(), "not even when it equals the recipient");
    }

    #[test]
    fn bad_variable_values_are_refused() {
        for v in ["..", ".", "", "@", "@example.test", "user@", "a/b", "a\0b"] {
            assert!(Config::builder().var("x", v).build().is_err(), "{v:?}");
        }
    }
}
