//! Streaming a message into an SMTP or LMTP transaction (feature `smtp`).
//!
//! This is the driver side of `mimeinject deliver`, usable on its own: [`Client`] opens a
//! session with a [`NextHop`] (greeting, `EHLO`/`LHLO`, `STARTTLS`, `AUTH`), sends the
//! envelope, and hands back a [`Data`] that is a [`Write`](std::io::Write): give it to
//! [`rewrite`](crate::rewrite) as the output, and the rewritten message goes to the next hop as
//! it is produced, with CRLF line ends and dot-stuffing ([`DataWriter`]). Only
//! [`Data::finish`] sends the end of data. On any failure before that, drop the [`Data`]: the
//! connection closes without the final dot and the server discards the transaction, so
//! nothing partial is accepted. [`Transaction`] does all of this lazily: it connects and
//! sends the envelope with the first byte written, so a message refused before any output
//! never reaches the next hop (what `mimeinject deliver` uses).
//!
//! Replies are parsed with the `smtp-proto` crate; TLS is `rustls` with the `ring` provider
//! and, for verification, the system's trust store (`rustls-native-certs`) or a CA file.
//!
//! ```no_run
//! use mimeinject::smtp::{Client, Options};
//! use mimeinject::{Config, FsRoot};
//!
//! let hop = "smtp:[relay.example]:25".parse()?;
//! let client = Client::connect(&hop, &Options::new("sender.example"))?;
//! let mut data = client.send_envelope("billing@example.com", &["alice@example.net"])?;
//! let source = FsRoot::new("/srv/mail-attachments")?;
//! mimeinject::rewrite(&Config::default(), &source, &mut std::io::stdin(), &mut data)?;
//! let (client, replies) = data.finish()?;
//! assert!(replies.iter().all(|r| r.is_positive()));
//! client.quit();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod data;
mod nexthop;
mod tls;
mod transaction;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use client::{Client, Data};
pub use data::DataWriter;
pub use nexthop::{Address, NextHop, Protocol};
pub use transaction::Transaction;

/// A server reply (RFC 5321 §4.2), with its enhanced status code (RFC 3463) when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, e.g. 250.
    pub code: u16,
    /// The enhanced status code, e.g. `[5, 1, 1]`, when the reply started with one.
    pub enhanced: Option<[u8; 3]>,
    /// The text, one entry per line, without codes.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: do not try again.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The enhanced status code as text (`4.7.1`), or the class alone (`4.0.0`, `5.0.0`, as
    /// Postfix's smtp(8) makes one up) when the server gave none.
    pub fn status(&self) -> String {
        match self.enhanced {
            Some([a, b, c]) => format!("{a}.{b}.{c}"),
            None => format!("{}.0.0", self.code / 100),
        }
    }

    fn from_proto(r: smtp_proto::Response<String>) -> Reply {
        let enhanced = (r.esc[0] != 0).then_some(r.esc);
        let lines = r.message.split('\n').map(|l| l.trim_end_matches('\r').to_owned()).collect();
        Reply { code: r.code, enhanced, lines }
    }
}

impl fmt::Display for Reply {
    /// `550 5.1.1 text`, lines joined with a space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if self.enhanced.is_some() {
            write!(f, " {}", self.status())?;
        }
        let text = self.lines.join(" ");
        if !text.is_empty() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

/// The step of a session a reply answered, in the words Postfix's smtp(8) logs ("in reply to
/// RCPT TO command").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The server's greeting.
    Greeting,
    /// `EHLO`, `HELO` or `LHLO`.
    Hello,
    /// `STARTTLS`.
    StartTls,
    /// `AUTH`.
    Auth,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// `DATA`.
    Data,
    /// The end of data (`.`).
    DataEnd,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Greeting => "the greeting",
            Stage::Hello => "EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::Auth => "AUTH",
            Stage::Mail => "MAIL FROM",
            Stage::Rcpt => "RCPT TO",
            Stage::Data => "DATA",
            Stage::DataEnd => "end of DATA",
        })
    }
}

/// Why a session with the next hop failed. [`Display`](fmt::Display) gives one line.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work (e.g. a CA file that does not load, `secure` TLS over a
    /// UNIX socket).
    Config(String),
    /// No connection could be made.
    Connect {
        /// The next hop.
        to: String,
        /// The last error.
        err: io::Error,
    },
    /// Reading or writing failed, timed out, or the server closed the connection.
    Io {
        /// What was being done.
        during: Stage,
        /// The error.
        err: io::Error,
    },
    /// The TLS handshake failed, or TLS was required and not offered.
    Tls(String),
    /// The server answered something that is not SMTP.
    Protocol(String),
    /// The server refused a step with a 4xx or 5xx reply.
    Rejected {
        /// What it refused.
        stage: Stage,
        /// For `RCPT TO`, the recipient.
        recipient: Option<String>,
        /// Its reply.
        reply: Reply,
    },
}

impl Error {
    /// Whether retrying cannot help: a 5xx reply to `MAIL FROM`, `RCPT TO`, `DATA` or the end
    /// of data. Everything else, 5xx to the greeting, `EHLO`, `STARTTLS` or `AUTH` included,
    /// is temporary, as Postfix's smtp(8) treats them by default (`smtp_skip_5xx_greeting`,
    /// `smtp_sasl_auth_soft_bounce`): a server or configuration problem, not a verdict on
    /// the message.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Error::Rejected { reply, .. } if reply.is_permanent())
            && self.refuses_message()
    }

    /// Whether the server refused this message (its sender, a recipient, its data), rather
    /// than the session: a reply to `MAIL FROM`, `RCPT TO`, `DATA` or the end of data. Its
    /// status code is then the message's (4xx: try later; 5xx: bounce, see
    /// [`is_permanent`](Self::is_permanent)).
    pub fn refuses_message(&self) -> bool {
        matches!(
            self,
            Error::Rejected { stage: Stage::Mail | Stage::Rcpt | Stage::Data | Stage::DataEnd, .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(why) => write!(f, "{why}"),
            Error::Connect { to, err } => write!(f, "connect to {to}: {err}"),
            Error::Io { during, err } if err.kind() == io::ErrorKind::UnexpectedEof => {
                write!(f, "lost connection during {during}")
            }
            Error::Io { during, err } => write!(f, "during {during}: {err}"),
            Error::Tls(why) => write!(f, "TLS: {why}"),
            Error::Protocol(why) => write!(f, "protocol error: {why}"),
            Error::Rejected { stage, recipient, reply } => {
                write!(f, "said: {reply} (in reply to {stage}")?;
                if let Some(r) = recipient {
                    write!(f, " <{r}>")?;
                }
                write!(f, ")")
            }
        }
    }
}

impl std::error::Error for Error {}

/// STARTTLS policy, named and meant as Postfix's `smtp_tls_security_level`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum TlsLevel {
    /// Never use TLS.
    None,
    /// Use STARTTLS when the server offers it, without checking the certificate; plain text
    /// otherwise. A failed handshake is a temporary failure.
    #[default]
    May,
    /// Require STARTTLS; do not check the certificate.
    Encrypt,
    /// Require STARTTLS and a certificate that chains to a trusted root and names the next
    /// hop's host as written (its DNS name or IP address).
    Secure,
}

/// Where trusted roots for [`TlsLevel::Secure`] come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The system's store (on Debian `/etc/ssl/certs`, kept by `update-ca-certificates`),
    /// which is also what Postfix's OpenSSL uses by default.
    #[default]
    System,
    /// The PEM certificates in this file only (like Postfix's `smtp_tls_CAfile`).
    File(PathBuf),
}

/// A user name and password for `AUTH PLAIN` or `AUTH LOGIN` (RFC 4954, 4616).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials {{ username: {:?}, password: <hidden> }}", self.username)
    }
}

impl Credentials {
    /// The entry for `hop` in a file of Postfix's `smtp_sasl_password_maps` table syntax:
    /// one `NEXTHOP USERNAME:PASSWORD` per line, `#` comments and blank lines ignored. The key
    /// is matched as Postfix writes the next hop: `[host]:port`, then `[host]`, then `host`
    /// (for UNIX sockets, `unix:/path`).
    ///
    /// ```
    /// use mimeinject::smtp::Credentials;
    ///
    /// let table = "# relay\n[relay.example]:587 app:s3cret\n";
    /// let hop = "smtp:[relay.example]:587".parse()?;
    /// let c = Credentials::from_table(table, &hop).unwrap();
    /// assert_eq!((c.username.as_str(), c.password.as_str()), ("app", "s3cret"));
    /// # Ok::<(), String>(())
    /// ```
    pub fn from_table(table: &str, hop: &NextHop) -> Option<Credentials> {
        let keys: Vec<String> = match &hop.address {
            Address::Inet { host, port } => {
                let bracketed = nexthop::bracketed(host);
                vec![format!("{bracketed}:{port}"), bracketed, host.clone()]
            }
            Address::Unix(path) => vec![format!("unix:{}", path.display())],
        };
        let entries: Vec<(&str, &str)> = table
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(char::is_whitespace))
            .map(|(k, v)| (k, v.trim()))
            .collect();
        keys.iter().find_map(|key| {
            let (_, value) = entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?;
            let (username, password) = value.split_once(':')?;
            Some(Credentials { username: username.to_owned(), password: password.to_owned() })
        })
    }
}

/// How a [`Client`] talks to the next hop.
#[derive(Clone, Debug)]
pub struct Options {
    /// The name sent with `EHLO`/`LHLO` (Postfix: `smtp_helo_name`, by default
    /// `$myhostname`).
    pub helo_name: String,
    /// STARTTLS policy.
    pub tls: TlsLevel,
    /// Trusted roots for [`TlsLevel::Secure`].
    pub trust: TrustRoots,
    /// Log in with these after STARTTLS. Credentials are only ever sent over TLS or a UNIX
    /// socket; otherwise the session fails (temporarily).
    pub credentials: Option<Credentials>,
    /// How long a TCP connection may take (Postfix: `smtp_connect_timeout`, 30 s).
    pub connect_timeout: Duration,
    /// How long any one read or write may wait: a reply, or room to send (RFC 5321 §4.5.3.2
    /// asks clients for at least 5 minutes per command and 10 for the reply to the end of
    /// data; Postfix's smtp(8) uses 300 s for most).
    pub timeout: Duration,
}

impl Options {
    /// Defaults: TLS `may`, system trust store, no credentials, 30 s to connect, 300 s per
    /// read or write.
    pub fn new(helo_name: impl Into<String>) -> Options {
        Options {
            helo_name: helo_name.into(),
            tls: TlsLevel::May,
            trust: TrustRoots::System,
            credentials: None,
            connect_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(300),
        }
    }
}

/// This host's name (`gethostname(2)`), or `localhost` when it has none: the default name
/// to send with `EHLO`/`LHLO` (what Postfix's `$myhostname` defaults to).
///
/// ```
/// let name = mimeinject::smtp::hostname();
/// assert!(!name.is_empty());
/// let options = mimeinject::smtp::Options::new(name);
/// # let _ = options;
/// ```
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    match std::str::from_utf8(&buf[..len]) {
        Ok(name) if ok && !name.is_empty() => name.to_owned(),
        _ => "localhost".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_status_falls_back_to_the_class() {
        let r = Reply { code: 451, enhanced: None, lines: vec!["busy".into()] };
        assert_eq!(r.status(), "4.0.0");
        assert_eq!(r.to_string(), "451 busy");
        let r = Reply { code: 550, enhanced: Some([5, 1, 1]), lines: vec!["a".into(), "b".into()] };
        assert_eq!(r.status(), "5.1.1");
        assert_eq!(r.to_string(), "550 5.1.1 a b");
    }

    #[test]
    fn only_refusals_of_the_message_are_permanent() {
        let reply = Reply { code: 554, enhanced: None, lines: vec![] };
        let rejected = |stage| Error::Rejected { stage, recipient: None, reply: reply.clone() };
        assert!(rejected(Stage::Rcpt).is_permanent());
        assert!(rejected(Stage::DataEnd).is_permanent());
        assert!(!rejected(Stage::Greeting).is_permanent());
        assert!(!rejected(Stage::Auth).is_permanent());
        let temp = Reply { code: 451, ..reply };
        assert!(
            !Error::Rejected { stage: Stage::Rcpt, recipient: None, reply: temp }.is_permanent()
        );
    }

    #[test]
    fn credentials_match_postfix_keys_in_order() {
        let table = "relay.example host:only\n[relay.example] bracket:ed\n\
                     [relay.example]:587 with:port\n# [other]:25 no:no\n";
        let get =
            |hop: &str| Credentials::from_table(table, &hop.parse().unwrap()).map(|c| c.username);
        assert_eq!(get("smtp:[relay.example]:587").as_deref(), Some("with"));
        assert_eq!(get("smtp:[relay.example]:25").as_deref(), Some("bracket"));
        assert_eq!(get("smtp:[other]:25"), None);
        assert!(!format!(
            "{:?}",
            Credentials::from_table(table, &"smtp:[relay.example]:587".parse().unwrap())
        )
        .contains("port"));
    }
}
