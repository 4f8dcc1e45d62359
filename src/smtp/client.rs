//! One session with the next hop: connection, greeting, hello, STARTTLS, AUTH, envelope, and
//! the replies to the end of data.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{
    EhloResponse, AUTH_LOGIN, AUTH_PLAIN, EXT_8BIT_MIME, EXT_SMTP_UTF8, EXT_START_TLS,
};

use super::data::DataWriter;
use super::tls;
use super::{Address, Credentials, Error, NextHop, Options, Protocol, Reply, Stage, TlsLevel};

/// The longest reply taken, in bytes (smtp-proto refuses longer ones too).
const MAX_REPLY: usize = 8 << 10;

/// A session with the next hop, ready for a transaction. See the [module](super) docs.
pub struct Client {
    conn: Conn,
    state: State,
}

/// Everything of a session but the connection.
struct State {
    /// Bytes received and not yet parsed (a pipelined reply).
    rx: Vec<u8>,
    protocol: Protocol,
    /// The `EHLO`/`LHLO` reply; `None` after a `HELO` fallback.
    ehlo: Option<EhloResponse<String>>,
    timeout: Duration,
}

/// The message content of a transaction: a [`Write`] that streams into `DATA` (see
/// [`DataWriter`]). [`finish`](Data::finish) ends it; dropping it instead closes the
/// connection with the transaction incomplete, which the server must discard (RFC 5321
/// §4.1.1.4).
pub struct Data {
    writer: DataWriter<Conn>,
    state: State,
    /// Recipients the server accepted: LMTP answers the end of data once for each.
    accepted: usize,
}

impl Client {
    /// Connects to `hop` and gets the session ready for [`send_envelope`](Self::send_envelope):
    /// reads the greeting, sends `EHLO` (falling back to `HELO` when a SMTP server refuses
    /// it) or `LHLO`, STARTTLS as `opts.tls` asks (then the hello again), and `AUTH` when
    /// `opts.credentials` is set.
    ///
    /// # Errors
    /// Any [`Error`]; a refusal at any of these steps is [`Error::Rejected`] and not
    /// [permanent](Error::is_permanent).
    pub fn connect(hop: &NextHop, opts: &Options) -> Result<Client, Error> {
        let plain = Plain::connect(hop, opts)?;
        let unix = matches!(plain, Plain::Unix(_));
        let state =
            State { rx: Vec::new(), protocol: hop.protocol, ehlo: None, timeout: opts.timeout };
        let mut c = Client { conn: Conn::Plain(plain), state };
        let greeting = c.read_reply(Stage::Greeting)?;
        expect(greeting, Stage::Greeting, |r| r.is_positive())?;
        c.hello(&opts.helo_name)?;
        let offered = c.has(EXT_START_TLS);
        match opts.tls {
            TlsLevel::None => {}
            TlsLevel::May if !offered => {}
            TlsLevel::Encrypt | TlsLevel::Secure if !offered => {
                return Err(Error::Tls("the next hop does not offer STARTTLS".into()));
            }
            level => {
                let host = match &hop.address {
                    Address::Inet { host, .. } => host.as_str(),
                    Address::Unix(_) if level == TlsLevel::Secure => {
                        return Err(Error::Config(
                            "TLS level secure needs a host name to verify; a UNIX socket has none"
                                .into(),
                        ));
                    }
                    Address::Unix(_) => "localhost",
                };
                c.start_tls(level, opts, host)?;
                c.hello(&opts.helo_name)?;
            }
        }
        if let Some(credentials) = &opts.credentials {
            if !unix && !matches!(c.conn, Conn::Tls(_)) {
                return Err(Error::Config(
                    "credentials are only sent over TLS: the connection is not encrypted".into(),
                ));
            }
            c.auth(credentials)?;
        }
        Ok(c)
    }

    /// Whether the session is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.conn, Conn::Tls(_))
    }

    /// Sends `MAIL FROM` (with `BODY=8BITMIME` when offered, and `SMTPUTF8` when an address
    /// needs it and it is offered), `RCPT TO` for each recipient, and `DATA`.
    ///
    /// All recipients must be accepted: when one is refused, no data is sent, and the error
    /// is the first 4xx refusal if there is one (trying again may help), else the first
    /// 5xx. `from` may be empty (the null sender, `<>`).
    ///
    /// # Errors
    /// [`Error::Rejected`] at `MAIL FROM`, `RCPT TO` or `DATA`; an address holding a control
    /// character, `<` or `>`, or no recipient, is an [`Error::Config`].
    pub fn send_envelope(mut self, from: &str, recipients: &[&str]) -> Result<Data, Error> {
        for a in std::iter::once(&from).chain(recipients) {
            if a.chars().any(|c| c.is_control() || c == '<' || c == '>') {
                return Err(Error::Config(format!("address {a:?} cannot be sent")));
            }
        }
        if recipients.is_empty() {
            return Err(Error::Config("no recipient".into()));
        }
        let mut mail = format!("MAIL FROM:<{from}>");
        if self.has(EXT_8BIT_MIME) {
            mail.push_str(" BODY=8BITMIME");
        }
        let utf8 = !from.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        if utf8 && self.has(EXT_SMTP_UTF8) {
            mail.push_str(" SMTPUTF8");
        }
        let reply = self.command(&mail, Stage::Mail)?;
        expect(reply, Stage::Mail, |r| r.is_positive())?;
        let mut refused: Vec<Error> = Vec::new();
        for rcpt in recipients {
            let reply = self.command(&format!("RCPT TO:<{rcpt}>"), Stage::Rcpt)?;
            if !reply.is_positive() {
                let recipient = Some((*rcpt).to_owned());
                refused.push(Error::Rejected { stage: Stage::Rcpt, recipient, reply });
            }
        }
        if !refused.is_empty() {
            let transient = refused.iter().position(|e| !e.is_permanent()).unwrap_or(0);
            return Err(refused.swap_remove(transient));
        }
        let reply = self.command("DATA", Stage::Data)?;
        expect(reply, Stage::Data, |r| r.code / 100 == 3)?;
        let Client { conn, state } = self;
        Ok(Data { writer: DataWriter::new(conn), state, accepted: recipients.len() })
    }

    /// Ends the session politely (`QUIT`); errors are of no interest by then.
    pub fn quit(mut self) {
        if self.send_line("QUIT", Stage::DataEnd).is_ok() {
            let _ = self.conn.set_read_timeout(Duration::from_secs(5).min(self.state.timeout));
            let _ = self.read_reply(Stage::DataEnd);
        }
        if let Conn::Tls(tls) = &mut self.conn {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    }

    fn has(&self, extension: u32) -> bool {
        self.state.ehlo.as_ref().is_some_and(|e| e.has_capability(extension))
    }

    fn hello(&mut self, name: &str) -> Result<(), Error> {
        let verb = match self.state.protocol {
            Protocol::Smtp => "EHLO",
            Protocol::Lmtp => "LHLO",
        };
        let (reply, raw) = self.command_raw(&format!("{verb} {name}"), Stage::Hello)?;
        if reply.is_positive() {
            let ehlo = EhloResponse::parse(&mut raw.iter())
                .map_err(|e| Error::Protocol(format!("{verb} reply: {e}")))?;
            self.state.ehlo = Some(ehlo);
            return Ok(());
        }
        if self.state.protocol == Protocol::Smtp && reply.is_permanent() {
            // RFC 5321 §3.2: a server that does not know EHLO gets HELO.
            let reply = self.command(&format!("HELO {name}"), Stage::Hello)?;
            self.state.ehlo = None;
            return expect(reply, Stage::Hello, |r| r.is_positive()).map(drop);
        }
        expect(reply, Stage::Hello, |r| r.is_positive()).map(drop)
    }

    fn start_tls(&mut self, level: TlsLevel, opts: &Options, host: &str) -> Result<(), Error> {
        let reply = self.command("STARTTLS", Stage::StartTls)?;
        expect(reply, Stage::StartTls, |r| r.code == 220)?;
        if !self.state.rx.is_empty() {
            // Anything sent before the handshake could be taken for protected data later
            // (the STARTTLS command injection of CVE-2011-0411, seen from the client side).
            return Err(Error::Protocol("data after the reply to STARTTLS".into()));
        }
        let config = tls::client_config(level, &opts.trust)?;
        let name = tls::server_name(host)?;
        let session = rustls::ClientConnection::new(config.into(), name)
            .map_err(|e| Error::Tls(e.to_string()))?;
        let Conn::Plain(plain) = std::mem::replace(&mut self.conn, Conn::Closed) else {
            return Err(Error::Protocol("STARTTLS twice".into()));
        };
        let mut stream = rustls::StreamOwned::new(session, plain);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(|e| Error::Tls(e.to_string()))?;
        }
        self.conn = Conn::Tls(Box::new(stream));
        Ok(())
    }

    fn auth(&mut self, c: &Credentials) -> Result<(), Error> {
        let offered = self.state.ehlo.as_ref().map_or(0, |e| e.auth_mechanisms);
        let b64 = |s: &[u8]| base64_simd::STANDARD.encode_to_string(s);
        if offered & AUTH_PLAIN != 0 {
            // RFC 4616: authorization identity (empty), NUL, user, NUL, password.
            let token = b64(format!("\0{}\0{}", c.username, c.password).as_bytes());
            let reply = self.command(&format!("AUTH PLAIN {token}"), Stage::Auth)?;
            return expect(reply, Stage::Auth, |r| r.code == 235).map(drop);
        }
        if offered & AUTH_LOGIN != 0 {
            let reply = self.command("AUTH LOGIN", Stage::Auth)?;
            expect(reply, Stage::Auth, |r| r.code == 334)?;
            let reply = self.command(&b64(c.username.as_bytes()), Stage::Auth)?;
            expect(reply, Stage::Auth, |r| r.code == 334)?;
            let reply = self.command(&b64(c.password.as_bytes()), Stage::Auth)?;
            return expect(reply, Stage::Auth, |r| r.code == 235).map(drop);
        }
        Err(Error::Config("the server offers neither AUTH PLAIN nor AUTH LOGIN".into()))
    }

    fn command(&mut self, line: &str, stage: Stage) -> Result<Reply, Error> {
        self.command_raw(line, stage).map(|(reply, _)| reply)
    }

    fn command_raw(&mut self, line: &str, stage: Stage) -> Result<(Reply, Vec<u8>), Error> {
        self.send_line(line, stage)?;
        self.read_reply_raw(stage)
    }

    fn send_line(&mut self, line: &str, stage: Stage) -> Result<(), Error> {
        let timeout = self.state.timeout;
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.conn
            .write_all(&bytes)
            .and_then(|()| self.conn.flush())
            .map_err(|err| Error::Io { during: stage, err: timed_out(err, timeout) })
    }

    fn read_reply(&mut self, stage: Stage) -> Result<Reply, Error> {
        self.read_reply_raw(stage).map(|(reply, _)| reply)
    }

    /// One reply, and its bytes as received.
    fn read_reply_raw(&mut self, stage: Stage) -> Result<(Reply, Vec<u8>), Error> {
        read_reply(&mut self.conn, &mut self.state, stage)
    }
}

impl Data {
    /// Sends the end of data and reads the replies to it: one for SMTP, one per accepted
    /// recipient, in `RCPT TO` order, for LMTP (RFC 2033 §4.2). The caller judges them: for
    /// SMTP the message is accepted only if the one reply [is positive](Reply::is_positive).
    ///
    /// # Errors
    /// Writing or reading failed: the server may or may not have accepted the message.
    pub fn finish(self) -> Result<(Client, Vec<Reply>), Error> {
        let Data { writer, mut state, accepted } = self;
        let timeout = state.timeout;
        let mut conn = writer
            .finish()
            .map_err(|err| Error::Io { during: Stage::DataEnd, err: timed_out(err, timeout) })?;
        let count = match state.protocol {
            Protocol::Smtp => 1,
            Protocol::Lmtp => accepted,
        };
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            replies.push(read_reply(&mut conn, &mut state, Stage::DataEnd)?.0);
        }
        Ok((Client { conn, state }, replies))
    }

    /// Closes the connection at once, without the end of data: the server discards the
    /// transaction. The same as dropping the `Data` (which closes the socket), said
    /// explicitly.
    pub fn abort(self) {
        drop(self);
    }
}

impl Write for Data {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let timeout = self.state.timeout;
        self.writer.write(buf).map_err(|e| timed_out(e, timeout))
    }

    fn flush(&mut self) -> io::Result<()> {
        let timeout = self.state.timeout;
        self.writer.flush().map_err(|e| timed_out(e, timeout))
    }
}

fn read_reply(conn: &mut Conn, state: &mut State, stage: Stage) -> Result<(Reply, Vec<u8>), Error> {
    let mut parser = ResponseReceiver::default();
    // Bytes in `rx` before `fed` went to the parser already.
    let mut fed = 0;
    let mut chunk = [0u8; 4096];
    loop {
        if fed < state.rx.len() {
            let slice = &state.rx[fed..];
            let mut it = slice.iter();
            match parser.parse(&mut it) {
                Ok(reply) => {
                    let end = fed + (slice.len() - it.len());
                    let raw: Vec<u8> = state.rx.drain(..end).collect();
                    return Ok((Reply::from_proto(reply), raw));
                }
                Err(smtp_proto::Error::NeedsMoreData { .. }) => fed = state.rx.len(),
                Err(e) => return Err(Error::Protocol(format!("reply to {stage}: {e}"))),
            }
        }
        if state.rx.len() > MAX_REPLY {
            return Err(Error::Protocol(format!("reply to {stage} longer than {MAX_REPLY} bytes")));
        }
        let n = match conn.read(&mut chunk) {
            Ok(0) => {
                let err = io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed");
                return Err(Error::Io { during: stage, err });
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(Error::Io { during: stage, err: timed_out(err, state.timeout) })
            }
        };
        state.rx.extend_from_slice(&chunk[..n]);
    }
}

/// `reply` if `ok` says it is the expected one, else the refusal.
fn expect(reply: Reply, stage: Stage, ok: impl Fn(&Reply) -> bool) -> Result<Reply, Error> {
    if ok(&reply) {
        Ok(reply)
    } else if reply.is_positive() || reply.code / 100 == 3 || reply.code < 200 {
        Err(Error::Protocol(format!("unexpected reply to {stage}: {reply}")))
    } else {
        Err(Error::Rejected { stage, recipient: None, reply })
    }
}

/// A socket timeout (`EAGAIN` from `SO_RCVTIMEO`/`SO_SNDTIMEO`) said in words.
fn timed_out(err: io::Error, after: Duration) -> io::Error {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out after {} s", after.as_secs_f64()),
        ),
        _ => err,
    }
}

/// A connection before TLS.
enum Plain {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Plain {
    fn connect(hop: &NextHop, opts: &Options) -> Result<Plain, Error> {
        let fail = |err| Error::Connect { to: hop.to_string(), err };
        let plain = match &hop.address {
            Address::Unix(path) => Plain::Unix(UnixStream::connect(path).map_err(fail)?),
            Address::Inet { host, port } => {
                let addrs = (host.as_str(), *port).to_socket_addrs().map_err(fail)?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut stream = None;
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, opts.connect_timeout) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let stream = stream.ok_or_else(|| fail(timed_out(last, opts.connect_timeout)))?;
                // Commands are single small writes, each waiting for its reply.
                let _ = stream.set_nodelay(true);
                Plain::Tcp(stream)
            }
        };
        let timeout = Some(opts.timeout.max(Duration::from_millis(1)));
        let set = match &plain {
            Plain::Tcp(s) => {
                s.set_read_timeout(timeout).and_then(|()| s.set_write_timeout(timeout))
            }
            Plain::Unix(s) => {
                s.set_read_timeout(timeout).and_then(|()| s.set_write_timeout(timeout))
            }
        };
        set.map_err(fail)?;
        Ok(plain)
    }

    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Plain::Tcp(s) => s.set_read_timeout(Some(t)),
            Plain::Unix(s) => s.set_read_timeout(Some(t)),
        }
    }
}

impl Read for Plain {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Plain::Tcp(s) => s.read(buf),
            Plain::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Plain {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Plain::Tcp(s) => s.write(buf),
            Plain::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The connection, plain or encrypted.
enum Conn {
    Plain(Plain),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Plain>>),
    /// Only while switching to TLS.
    Closed,
}

impl Conn {
    fn plain(&self) -> Option<&Plain> {
        match self {
            Conn::Plain(p) => Some(p),
            Conn::Tls(t) => Some(&t.sock),
            Conn::Closed => None,
        }
    }

    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        self.plain().map_or(Ok(()), |p| p.set_read_timeout(t))
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(p) => p.read(buf),
            Conn::Tls(t) => t.read(buf),
            Conn::Closed => Err(closed()),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(p) => p.write(buf),
            Conn::Tls(t) => t.write(buf),
            Conn::Closed => Err(closed()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(p) => p.flush(),
            Conn::Tls(t) => t.flush(),
            Conn::Closed => Err(closed()),
        }
    }
}
