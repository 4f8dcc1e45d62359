//! A minimal SMTP server on 127.0.0.1 that accepts every message.
//!
//! It keeps two records apart: messages that arrived complete (the final
//! `.` was received and acknowledged with 250), and transactions whose
//! connection closed inside DATA before the final dot. The second kind is
//! what an MTA sees when a transport filter fails halfway; RFC 5321
//! §4.1.1.10 says the receiver must discard it, so a test counts it as
//! "not delivered", but may still look at its bytes.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a connection may stay silent before the sink gives up on it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// One SMTP transaction as the sink saw it.
#[derive(Clone, Debug)]
pub struct Transaction {
    /// The reverse path from `MAIL FROM:<…>`, without the angle brackets.
    pub mail_from: String,
    /// The forward paths from each `RCPT TO:<…>`, in order.
    pub rcpt_to: Vec<String>,
    /// The DATA content with dot-stuffing undone and CRLF turned into LF,
    /// i.e. the message as an MTA would store it. For a dropped
    /// transaction, whatever had arrived when the connection closed.
    pub data: Vec<u8>,
    /// The same content with the line endings as sent (CRLF from an MTA): what a DKIM
    /// verifier at the receiver checks.
    pub wire: Vec<u8>,
}

/// What the sink has recorded so far.
#[derive(Debug, Default)]
struct Record {
    /// Transactions that ended with the final dot.
    complete: Vec<Transaction>,
    /// Transactions whose connection ended inside DATA.
    dropped: Vec<Transaction>,
    /// Connections accepted.
    connections: usize,
}

/// A running sink; stops its threads when dropped.
pub struct SmtpSink {
    /// The port on 127.0.0.1 the sink listens on.
    port: u16,
    /// Shared with the connection threads.
    record: Arc<Mutex<Record>>,
    /// Set on drop to end the accept loop.
    stop: Arc<AtomicBool>,
    /// The accept loop.
    acceptor: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Listens on an unused port of 127.0.0.1 and serves each connection
    /// on its own thread (an MTA may deliver several recipients in
    /// parallel).
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        // Non-blocking accept, polled, so that dropping the sink can end
        // the loop without a wake-up connection.
        listener.set_nonblocking(true).unwrap();
        let record = Arc::new(Mutex::new(Record::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let record = Arc::clone(&record);
            let stop = Arc::clone(&stop);
            thread::spawn(move || accept_loop(listener, record, stop))
        };
        SmtpSink { port, record, stop, acceptor: Some(acceptor) }
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Messages received complete, in order of arrival.
    pub fn messages(&self) -> Vec<Transaction> {
        self.record.lock().unwrap().complete.clone()
    }

    /// Transactions cut off inside DATA, in order of the cut.
    pub fn dropped(&self) -> Vec<Transaction> {
        self.record.lock().unwrap().dropped.clone()
    }

    /// How many connections the sink has accepted.
    pub fn connections(&self) -> usize {
        self.record.lock().unwrap().connections
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Accepts connections until `stop` is set. Connection threads are not
/// joined: each ends on its own when the peer closes or goes idle.
fn accept_loop(listener: TcpListener, record: Arc<Mutex<Record>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                record.lock().unwrap().connections += 1;
                let record = Arc::clone(&record);
                thread::spawn(move || {
                    // A failing connection only ever means "not delivered",
                    // which the record already shows.
                    let _ = serve(stream, &record);
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("SMTP sink accept failed: {e}"),
        }
    }
}

/// Speaks just enough ESMTP for an MTA to hand over messages.
fn serve(stream: TcpStream, record: &Mutex<Record>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    out.write_all(b"220 sink.test ESMTP test sink\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let command = text.trim_end().to_string();
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?,
            "HELO" => out.write_all(b"250 sink.test\r\n")?,
            "MAIL" => {
                mail_from = Some(path_argument(&command));
                rcpt_to.clear();
                out.write_all(b"250 sender ok\r\n")?;
            }
            "RCPT" if mail_from.is_some() => {
                rcpt_to.push(path_argument(&command));
                out.write_all(b"250 recipient ok\r\n")?;
            }
            "DATA" if !rcpt_to.is_empty() => {
                out.write_all(b"354 go ahead\r\n")?;
                let (wire, complete) = read_data(&mut input);
                let transaction = Transaction {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data: crlf_to_lf(&wire),
                    wire,
                };
                let mut record = record.lock().unwrap();
                if complete {
                    record.complete.push(transaction);
                    drop(record);
                    out.write_all(b"250 stored\r\n")?;
                } else {
                    record.dropped.push(transaction);
                    return Ok(());
                }
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                out.write_all(b"250 reset\r\n")?;
            }
            "NOOP" => out.write_all(b"250 ok\r\n")?,
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            "RCPT" | "DATA" => out.write_all(b"503 bad sequence of commands\r\n")?,
            _ => out.write_all(b"500 command not recognised\r\n")?,
        }
    }
}

/// Reads DATA content up to the line holding only `.`, undoing
/// dot-stuffing (RFC 5321 §4.5.2) and keeping the line endings. Returns the
/// content and whether the final dot arrived; a closed, failed or idle
/// connection ends the content early.
fn read_data(input: &mut impl BufRead) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => {
                data.extend_from_slice(&line);
                return (data, false);
            }
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") {
            // The peer closed in the middle of a line.
            data.extend_from_slice(&line);
            return (data, false);
        }
        if line == b".\r\n" || line == b".\n" {
            return (data, true);
        }
        data.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
    }
}

/// Turns each CRLF into LF: the message as an MTA would store it.
fn crlf_to_lf(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        out.extend_from_slice(&rest[..i]);
        out.push(b'\n');
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest);
    out
}

/// The address inside `<…>` of a `MAIL FROM:` or `RCPT TO:` command.
fn path_argument(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(open), Some(close)) if open < close => command[open + 1..close].to_string(),
        _ => String::new(),
    }
}
