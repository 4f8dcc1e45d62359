//! [`Transaction`]: a [`Write`] that opens the session and the mail transaction with its
//! first byte.

use std::io::{self, Write};

use super::{Client, Data, Error, NextHop, Options, Reply};

/// The output of a rewrite, streamed into an SMTP or LMTP transaction that is opened when the
/// first byte is written.
///
/// Give it to [`rewrite`](crate::rewrite) as the writer. Nothing is sent before the rewriter
/// writes: a message refused by the pre-flight check (a missing file in a message within the
/// window) never reaches the next hop. The first write connects ([`Client::connect`]), sends
/// the envelope ([`Client::send_envelope`]) and then the bytes, with CRLF line ends and
/// dot-stuffing ([`DataWriter`](super::DataWriter)). Only [`finish`](Self::finish) sends
/// the end of data; dropping it instead, after any failure, closes the connection without
/// the final dot, so the next hop discards what it received.
///
/// When the session fails, writes fail with an [`io::Error`] and the rewrite with
/// [`ErrorKind::Write`](crate::ErrorKind::Write); [`error`](Self::error) then has the
/// session's own [`Error`], with the next hop's reply.
///
/// An embedding mailer delivering one message (the next hop is a tiny in-process SMTP
/// server here):
///
/// ```
/// use mimeinject::smtp::{Options, TlsLevel, Transaction};
/// use mimeinject::{Config, MemorySource};
/// # use std::io::{BufRead, BufReader, Write};
/// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let port = listener.local_addr()?.port();
/// # let server = std::thread::spawn(move || -> std::io::Result<String> {
/// #     let (stream, _) = listener.accept()?;
/// #     let (mut out, mut lines) = (stream.try_clone()?, BufReader::new(stream));
/// #     out.write_all(b"220 sink ESMTP\r\n")?;
/// #     let (mut line, mut data, mut in_data) = (String::new(), String::new(), false);
/// #     while { line.clear(); lines.read_line(&mut line)? > 0 } {
/// #         let reply: &[u8] = match line.as_str() {
/// #             ".\r\n" if in_data => { in_data = false; b"250 2.0.0 queued as 42\r\n" }
/// #             _ if in_data => { data.push_str(&line); continue }
/// #             l if l.starts_with("DATA") => { in_data = true; b"354 go ahead\r\n" }
/// #             l if l.starts_with("QUIT") => { out.write_all(b"221 bye\r\n")?; break }
/// #             _ => b"250 ok\r\n",
/// #         };
/// #         out.write_all(reply)?;
/// #     }
/// #     Ok(data)
/// # });
///
/// let mut files = MemorySource::new();
/// files.insert("invoices/42.pdf", b"%PDF-1.7 ...".to_vec());
/// let message = "From: billing@example.com\nTo: alice@example.net\n\
///     Content-Type: multipart/mixed; boundary=b\n\n--b\n\
///     Content-Type: application/x-mimeinject; path=invoices/42.pdf\n\n--b--\n";
///
/// let hop = format!("smtp:[127.0.0.1]:{port}").parse()?;
/// let mut options = Options::new("mailer.example.com");
/// options.tls = TlsLevel::None;
/// let recipients = vec!["alice@example.net".to_owned()];
/// let mut transaction = Transaction::new(hop, options, "billing@example.com", recipients);
/// mimeinject::rewrite(&Config::default(), &files, &mut message.as_bytes(), &mut transaction)?;
/// let (client, replies) = transaction.finish()?;
/// assert!(replies[0].is_positive(), "{}", replies[0]);
/// client.quit();
/// # let received = server.join().unwrap()?;
/// # assert!(received.contains("\r\nJVBERi0xLjcgLi4u\r\n"), "{received}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Transaction {
    hop: NextHop,
    options: Options,
    sender: String,
    recipients: Vec<String>,
    state: State,
}

enum State {
    /// Nothing written yet: no connection.
    Pending,
    Open(Box<Data>),
    /// Why the session failed, kept for the report (the rewriter only sees an io::Error).
    Failed(Error),
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Pending => "pending",
            State::Open(_) => "open",
            State::Failed(_) => "failed",
        };
        f.debug_struct("Transaction")
            .field("hop", &self.hop)
            .field("sender", &self.sender)
            .field("recipients", &self.recipients)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl Transaction {
    /// A transaction from `sender` (empty for the null sender) to `recipients`, with `hop`,
    /// opened at the first write. Nothing is done here.
    pub fn new(
        hop: NextHop,
        options: Options,
        sender: impl Into<String>,
        recipients: Vec<String>,
    ) -> Transaction {
        Transaction { hop, options, sender: sender.into(), recipients, state: State::Pending }
    }

    /// The next hop.
    pub fn hop(&self) -> &NextHop {
        &self.hop
    }

    /// Why the session failed, once a write or [`finish`](Self::finish) found out; `None`
    /// while it works (or before it was tried).
    pub fn error(&self) -> Option<&Error> {
        match &self.state {
            State::Failed(err) => Some(err),
            _ => None,
        }
    }

    /// Ends the message: opens the session now if nothing was written (an empty message),
    /// sends the end of data and reads the replies, as [`Data::finish`] does.
    ///
    /// # Errors
    /// Why the session failed, now or at an earlier write.
    pub fn finish(mut self) -> Result<(Client, Vec<Reply>), Error> {
        self.open();
        match self.state {
            State::Open(data) => data.finish(),
            State::Failed(err) => Err(err),
            State::Pending => unreachable!("open() leaves Pending"),
        }
    }

    /// Connects and sends the envelope, unless already tried; the open transaction, if any.
    fn open(&mut self) -> Option<&mut Data> {
        if let State::Pending = self.state {
            let recipients: Vec<&str> = self.recipients.iter().map(String::as_str).collect();
            let opened = Client::connect(&self.hop, &self.options)
                .and_then(|c| c.send_envelope(&self.sender, &recipients));
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
}

impl Write for Transaction {
    /// Writes into the transaction, opening it first if this is the first write.
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
