//! A minimal SMTP server on 127.0.0.1 that accepts every message, or
//! misbehaves on purpose ([`Behaviour`], [`SmtpSink::start_with`]).
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
    /// The DATA content as it came over the wire (CRLF, dot-stuffed),
    /// without the final `.` line.
    pub wire: Vec<u8>,
    /// The message as sent, line endings kept (CRLF from an MTA) and
    /// dot-stuffing undone: what a DKIM verifier at the receiver checks.
    pub message: Vec<u8>,
    /// The argument of the session's `EHLO` (or `HELO`).
    pub helo: String,
    /// The whole `MAIL FROM` command line, parameters included.
    pub mail_command: String,
}

/// How the sink answers. The default accepts everything.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// The reply to every `RCPT TO` instead of `250` (e.g.
    /// `"550 5.1.1 no such user"`).
    pub rcpt_reply: Option<String>,
    /// The reply to the end of data instead of `250` (the message then
    /// counts as received complete all the same).
    pub data_end_reply: Option<String>,
    /// Close the connection once this many bytes of DATA have arrived.
    pub drop_after: Option<usize>,
    /// Never answer the end of data: read it, then wait silently until the
    /// client goes away.
    pub stall_at_data_end: bool,
    /// Stop reading once this many bytes of DATA have arrived, until
    /// [`SmtpSink::release`]; [`SmtpSink::stalled`] counts the stops.
    pub stall_after: Option<usize>,
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
    /// Transactions stopped by `stall_after`.
    stalled: usize,
    /// Set by `release`.
    released: bool,
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
        SmtpSink::start_with(Behaviour::default())
    }

    /// Like [`SmtpSink::start`], answering as `behaviour` says.
    pub fn start_with(behaviour: Behaviour) -> SmtpSink {
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
            thread::spawn(move || accept_loop(listener, record, stop, behaviour))
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

    /// How many transactions `stall_after` has stopped so far.
    pub fn stalled(&self) -> usize {
        self.record.lock().unwrap().stalled
    }

    /// Lets stalled transactions go on reading.
    pub fn release(&self) {
        self.record.lock().unwrap().released = true;
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
fn accept_loop(
    listener: TcpListener,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    behaviour: Behaviour,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                record.lock().unwrap().connections += 1;
                let record = Arc::clone(&record);
                let behaviour = behaviour.clone();
                thread::spawn(move || {
                    // A failing connection only ever means "not delivered",
                    // which the record already shows.
                    let _ = serve(stream, &record, &behaviour);
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
fn serve(stream: TcpStream, record: &Mutex<Record>, behaviour: &Behaviour) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut helo = String::new();
    let mut mail_command = String::new();
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
            "EHLO" => {
                helo = command[4..].trim().to_string();
                out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?;
            }
            "HELO" => {
                helo = command[4..].trim().to_string();
                out.write_all(b"250 sink.test\r\n")?;
            }
            "MAIL" => {
                mail_from = Some(path_argument(&command));
                mail_command = command.clone();
                rcpt_to.clear();
                out.write_all(b"250 sender ok\r\n")?;
            }
            "RCPT" if mail_from.is_some() => match &behaviour.rcpt_reply {
                Some(reply) => out.write_all(format!("{reply}\r\n").as_bytes())?,
                None => {
                    rcpt_to.push(path_argument(&command));
                    out.write_all(b"250 recipient ok\r\n")?;
                }
            },
            "DATA" if !rcpt_to.is_empty() => {
                out.write_all(b"354 go ahead\r\n")?;
                let (data, wire, complete) = read_data(&mut input, behaviour, record);
                let transaction = Transaction {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                    message: unstuff(&wire),
                    wire,
                    helo: helo.clone(),
                    mail_command: std::mem::take(&mut mail_command),
                };
                let mut record = record.lock().unwrap();
                if complete {
                    record.complete.push(transaction);
                    drop(record);
                    if behaviour.stall_at_data_end {
                        // Wait for the client to give up and close.
                        let mut rest = Vec::new();
                        let _ = input.read_until(b'\n', &mut rest);
                        return Ok(());
                    }
                    match &behaviour.data_end_reply {
                        Some(reply) => out.write_all(format!("{reply}\r\n").as_bytes())?,
                        None => out.write_all(b"250 stored\r\n")?,
                    }
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
/// dot-stuffing (RFC 5321 §4.5.2) and turning CRLF into LF. Returns the
/// content, the bytes as received, and whether the final dot arrived; a
/// closed, failed or idle connection ends the content early, and so does
/// `drop_after` bytes received (the sink then closes the connection).
fn read_data(
    input: &mut impl BufRead,
    behaviour: &Behaviour,
    record: &Mutex<Record>,
) -> (Vec<u8>, Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut wire = Vec::new();
    let mut line = Vec::new();
    let mut stalled = false;
    loop {
        line.clear();
        if behaviour.drop_after.is_some_and(|n| wire.len() >= n) {
            return (data, wire, false);
        }
        if !stalled && behaviour.stall_after.is_some_and(|n| wire.len() >= n) {
            stalled = true;
            record.lock().unwrap().stalled += 1;
            let deadline = std::time::Instant::now() + IDLE_TIMEOUT;
            while !record.lock().unwrap().released && std::time::Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => {
                data.extend_from_slice(&line);
                wire.extend_from_slice(&line);
                return (data, wire, false);
            }
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") {
            // The peer closed in the middle of a line.
            data.extend_from_slice(&line);
            wire.extend_from_slice(&line);
            return (data, wire, false);
        }
        if line == b".\r\n" || line == b".\n" {
            return (data, wire, true);
        }
        wire.extend_from_slice(&line);
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        match unstuffed.strip_suffix(b"\r\n") {
            Some(body) => {
                data.extend_from_slice(body);
                data.push(b'\n');
            }
            None => data.extend_from_slice(unstuffed),
        }
    }
}

/// Undoes dot-stuffing (RFC 5321 §4.5.2) line by line, keeping the line
/// endings as they came.
fn unstuff(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire.len());
    for line in wire.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

/// The address inside `<…>` of a `MAIL FROM:` or `RCPT TO:` command.
fn path_argument(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(open), Some(close)) if open < close => command[open + 1..close].to_string(),
        _ => String::new(),
    }
}
