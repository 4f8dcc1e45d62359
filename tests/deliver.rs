//! `mimeinject deliver` through the binary, against the test SMTP sink: what reaches the next
//! hop, the exit status and the line pipe(8) would read, for each way a delivery can end.
//! (The same mode under a real Postfix, to a real exim and to Dovecot, is in
//! `postfix_deliver.rs`.)

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bin::{self, testdata};
use crate::support::smtp_sink::{Behaviour, SmtpSink};
use crate::support::{self, Output};

const SENDER: &str = "billing@example.test";
const RCPT: &str = "user@example.test";

fn root() -> String {
    testdata().join("files").to_str().unwrap().to_owned()
}

fn message(name: &str) -> Vec<u8> {
    fs::read(testdata().join("messages").join(name)).unwrap()
}

/// `mimeinject deliver --nexthop smtp:[127.0.0.1]:PORT --root testdata/files EXTRA -f SENDER
/// -- RECIPIENTS` with an empty environment, syslog off.
fn deliver(port: u16, extra: &[&str], recipients: &[&str], stdin: &[u8]) -> Output {
    let hop = format!("smtp:[127.0.0.1]:{port}");
    let mut cmd = Command::new(bin::path());
    cmd.env_clear()
        .args(["deliver", "--no-syslog", "--nexthop", &hop, "--root", &root()])
        .args(extra)
        .args(["-f", SENDER, "--"])
        .args(recipients);
    support::run(&mut cmd, stdin, bin::TIMEOUT)
}

fn line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// What the filter alone makes of `input` (the reference for byte-exactness).
fn filtered(input: &[u8], extra: &[&str]) -> Vec<u8> {
    let root = root();
    let mut args = vec!["--root", root.as_str()];
    args.extend_from_slice(extra);
    let (out, _) = bin::run(&args, input);
    out.assert_success("mimeinject (filter)");
    out.stdout
}

/// A free port on 127.0.0.1 with nothing listening on it.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn deliver_sends_the_filtered_message_byte_exact() {
    let sink = SmtpSink::start();
    let input = message("invoice.eml");
    let out = deliver(sink.port(), &["--helo-name", "sender.test"], &[RCPT], &input);
    out.assert_success("mimeinject deliver");
    assert!(out.fed.is_ok(), "stdin not read to its end");
    assert!(line(&out).contains("said: 250 stored"), "{}", line(&out));
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{:?}", sink.dropped());
    let t = &got[0];
    assert_eq!((t.mail_from.as_str(), t.rcpt_to.as_slice()), (SENDER, &[RCPT.to_owned()][..]));
    assert_eq!(t.helo, "sender.test");
    assert!(t.mail_command.ends_with(" BODY=8BITMIME"), "{}", t.mail_command);
    assert!(t.data == filtered(&input, &[]), "the next hop got other bytes than the filter makes");
    assert!(crate::support::contains(&t.data, b"Content-Transfer-Encoding: base64"));
    let decoded = support::attachment(&t.data, "Invoice 42.pdf");
    assert_eq!(decoded, fs::read(testdata().join("files/invoices/inv-42.pdf")).unwrap());
}

#[test]
fn deliver_puts_crlf_and_dot_stuffing_on_the_wire() {
    let sink = SmtpSink::start();
    let input = b"Subject: dots\n\n.one\n..two\n.\nend\n";
    let out = deliver(sink.port(), &[], &[RCPT], input);
    out.assert_success("mimeinject deliver");
    let t = &sink.messages()[0];
    assert_eq!(t.wire, b"Subject: dots\r\n\r\n..one\r\n...two\r\n..\r\nend\r\n");
    assert_eq!(t.data, input);
}

#[test]
fn deliver_streams_a_message_bigger_than_the_preflight_window() {
    let sink = SmtpSink::start();
    // 3 MB of text after the invoice stub: the message streams (no pre-flight).
    let mut input = message("invoice.eml");
    let filler = "a line of text that is not a placeholder\n".repeat(80_000);
    let at = input.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    input.splice(at..at, filler.bytes());
    let out = deliver(sink.port(), &[], &[RCPT], &input);
    out.assert_success("mimeinject deliver");
    assert!(sink.messages()[0].data == filtered(&input, &[]));
}

#[test]
fn deliver_fills_rcpt_from_the_one_recipient() {
    let sink = SmtpSink::start();
    let out = deliver(sink.port(), &[], &[RCPT], &message("per-recipient.eml"));
    out.assert_success("mimeinject deliver");
    let t = &sink.messages()[0];
    let want = fs::read(testdata().join("files/statements").join(RCPT).join("statement.txt"));
    let want = want.unwrap();
    let name = String::from_utf8_lossy(&t.data)
        .lines()
        .find_map(|l| {
            l.split("filename=\"").nth(1).map(|r| r.split('"').next().unwrap().to_owned())
        })
        .expect("a file name in the delivered message");
    assert_eq!(support::attachment(&t.data, &name), want);
}

#[test]
fn deliver_null_sender_is_mail_from_empty() {
    let sink = SmtpSink::start();
    let hop = format!("smtp:[127.0.0.1]:{}", sink.port());
    let mut cmd = Command::new(bin::path());
    cmd.env_clear().args(["deliver", "--no-syslog", "--nexthop", &hop, "--root", &root()]);
    cmd.args(["-f", "", "--", RCPT]);
    let out = support::run(&mut cmd, b"Subject: bounce\n\nx\n", bin::TIMEOUT);
    out.assert_success("mimeinject deliver -f ''");
    assert_eq!(sink.messages()[0].mail_from, "");
}

#[test]
fn deliver_missing_file_defers_without_connecting() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("deliver.log");
    let log_arg = log.to_str().unwrap();
    let out = deliver(sink.port(), &["--log-file", log_arg], &[RCPT], &message("missing-file.eml"));
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(out.fed.is_ok(), "stdin not read to its end");
    assert!(line(&out).starts_with("mimeinject: "), "{}", line(&out));
    assert!(line(&out).contains("nothing delivered"), "{}", line(&out));
    assert_eq!(sink.connections(), 0, "pre-flight failed, yet the next hop was contacted");
    let logged = fs::read_to_string(&log).unwrap();
    assert!(logged.contains("mimeinject["), "--log-file: {logged:?}");
    // The log line names the program once, as the filter's lines do.
    assert!(!logged.contains("]: mimeinject: "), "--log-file: {logged:?}");
    assert!(logged.contains("nothing delivered"), "--log-file: {logged:?}");
}

#[test]
fn deliver_failing_mid_stream_never_sends_the_final_dot() {
    let sink = SmtpSink::start();
    // 200 KB of text before the placeholder: more than the writer's buffer, so bytes are on
    // the wire when the missing file is found.
    let mut input = message("missing-file.eml");
    let at = input.windows(10).position(|w| w == b"Attached.\n").unwrap();
    input.splice(at..at, "text before the attachment\n".repeat(8000).bytes());
    let out = deliver(sink.port(), &["--preflight-window", "0"], &[RCPT], &input);
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(sink.messages().is_empty(), "a message was completed");
    wait_for(|| sink.dropped().len() == 1);
    let cut = &sink.dropped()[0];
    assert!(cut.data.len() > 100_000, "DATA had not started: the test shows nothing");
    assert!(!cut.wire.ends_with(b"\r\n.\r\n"));
}

#[test]
fn deliver_5xx_to_rcpt_bounces_with_the_next_hops_text() {
    let sink = SmtpSink::start_with(Behaviour {
        rcpt_reply: Some("550 5.1.1 <user@example.test>: no such user".into()),
        ..Behaviour::default()
    });
    let out = deliver(sink.port(), &[], &[RCPT], &message("invoice.eml"));
    assert_eq!(out.status.code(), Some(69), "{}", line(&out));
    assert!(out.fed.is_ok());
    let l = line(&out);
    assert!(l.starts_with("5.1.1 smtp:[127.0.0.1]:"), "{l}");
    assert!(l.contains("said: 550 5.1.1 <user@example.test>: no such user"), "{l}");
    assert!(l.contains("(in reply to RCPT TO <user@example.test>)"), "{l}");
    assert!(sink.messages().is_empty() && sink.dropped().is_empty(), "DATA was sent");
}

#[test]
fn deliver_4xx_to_rcpt_defers_with_the_next_hops_code() {
    let sink = SmtpSink::start_with(Behaviour {
        rcpt_reply: Some("451 4.7.1 greylisted, try later".into()),
        ..Behaviour::default()
    });
    let out = deliver(sink.port(), &[], &[RCPT], &message("invoice.eml"));
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(line(&out).starts_with("4.7.1 "), "{}", line(&out));
    assert!(sink.messages().is_empty() && sink.dropped().is_empty(), "DATA was sent");
}

#[test]
fn deliver_reply_to_the_end_of_data_decides() {
    for (reply, code, status) in [
        ("554 5.7.1 message refused by policy", 69, "5.7.1"),
        ("452 4.3.1 insufficient system storage", 75, "4.3.1"),
        ("554 no enhanced code", 69, "5.0.0"),
    ] {
        let sink = SmtpSink::start_with(Behaviour {
            data_end_reply: Some(reply.into()),
            ..Behaviour::default()
        });
        let out = deliver(sink.port(), &[], &[RCPT], &message("invoice.eml"));
        assert_eq!(out.status.code(), Some(code), "{reply}: {}", line(&out));
        let l = line(&out);
        assert!(l.starts_with(&format!("{status} ")), "{reply}: {l}");
        assert!(l.contains(reply) && l.ends_with("(in reply to end of DATA)"), "{l}");
    }
}

#[test]
fn deliver_connection_dropped_mid_data_defers() {
    let sink = SmtpSink::start_with(Behaviour { drop_after: Some(2000), ..Behaviour::default() });
    let big = support::pseudo_random(7, 3 << 20);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("big.bin"), &big).unwrap();
    let input = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
                  Content-Type: application/x-mimeinject; path=big.bin\n\n--b--\n";
    let hop = format!("smtp:[127.0.0.1]:{}", sink.port());
    let mut cmd = Command::new(bin::path());
    cmd.env_clear().args(["deliver", "--no-syslog", "--nexthop", &hop]);
    cmd.args(["--root", dir.path().to_str().unwrap(), "-f", SENDER, "--", RCPT]);
    let out = support::run(&mut cmd, input, bin::TIMEOUT);
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(line(&out).starts_with("mimeinject: "), "{}", line(&out));
    assert!(sink.messages().is_empty());
    assert_eq!(sink.dropped().len(), 1);
}

#[test]
fn deliver_no_server_defers() {
    let out = deliver(closed_port(), &[], &[RCPT], &message("invoice.eml"));
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(out.fed.is_ok());
    assert!(line(&out).contains("connect to smtp:[127.0.0.1]:"), "{}", line(&out));
}

#[test]
fn deliver_timeout_bounds_the_wait_for_a_reply() {
    let sink = SmtpSink::start_with(Behaviour { stall_at_data_end: true, ..Behaviour::default() });
    let t = Instant::now();
    let out = deliver(sink.port(), &["--timeout", "1"], &[RCPT], &message("invoice.eml"));
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(line(&out).contains("timed out after 1 s"), "{}", line(&out));
    assert!(t.elapsed() < Duration::from_secs(30), "took {:?}", t.elapsed());
}

#[test]
fn deliver_time_limit_ends_the_run_with_sigalrm() {
    let sink = SmtpSink::start_with(Behaviour { stall_at_data_end: true, ..Behaviour::default() });
    let out = deliver(sink.port(), &["--time-limit", "1"], &[RCPT], &message("invoice.eml"));
    // Killed by SIGALRM: pipe(8) defers ("Command died with signal 14").
    assert_eq!(out.status.signal(), Some(libc::SIGALRM), "{:?}: {}", out.status, line(&out));
    assert!(line(&out).contains("time limit of 1 s reached"), "{}", line(&out));
}

#[test]
fn deliver_connect_timeout_bounds_the_connection() {
    // A listener whose accept queue is full: the kernel drops further SYNs, so a connection
    // attempt hangs until the client gives up.
    // SAFETY: plain socket calls on descriptors this test owns.
    let (fd, port) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as u16;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
        assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        let mut bound: libc::sockaddr_in = std::mem::zeroed();
        let mut blen = len;
        libc::getsockname(fd, (&raw mut bound).cast(), &mut blen);
        (fd, u16::from_be(bound.sin_port))
    };
    let fillers: Vec<_> = (0..4)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(
                &format!("127.0.0.1:{port}").parse().unwrap(),
                Duration::from_millis(300),
            )
            .ok()
        })
        .collect();
    let t = Instant::now();
    let out = deliver(port, &["--connect-timeout", "1"], &[RCPT], &message("invoice.eml"));
    let took = t.elapsed();
    // SAFETY: closing the socket created above.
    unsafe { libc::close(fd) };
    drop(fillers);
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    let l = line(&out);
    // With the queue full the attempt times out; should the kernel still complete it, the
    // greeting never comes and --timeout (300 s) would show instead, so the time tells.
    assert!(l.contains("connect to") && l.contains("timed out after 1 s"), "{l}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn deliver_lmtp_takes_one_recipient_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("lmtp");
    let hop = format!("lmtp:unix:{}", sock.display());
    let mut cmd = Command::new(bin::path());
    cmd.env_clear().args(["deliver", "--no-syslog", "--nexthop", &hop, "--root", &root()]);
    cmd.args(["-f", SENDER, "--", RCPT, "second@example.test"]);
    let out = support::run(&mut cmd, &message("invoice.eml"), bin::TIMEOUT);
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(out.fed.is_ok());
    assert!(line(&out).contains("2 recipients in one LMTP delivery"), "{}", line(&out));
}

#[test]
fn deliver_usage_errors_defer_and_say_why_on_stdout() {
    for (args, want) in [
        (vec!["--nexthop", "smtp:relay.example:25"], "no MX lookup"),
        (vec!["--nexthop", "smtp:[127.0.0.1]:25", "--bogus"], "--bogus"),
        (vec!["--nexthop", "smtp:[127.0.0.1]:25"], "no recipient"),
    ] {
        let mut cmd = Command::new(bin::path());
        cmd.env_clear().args(["deliver", "--no-syslog", "--root", &root(), "-f", SENDER]);
        cmd.args(&args);
        let out = support::run(&mut cmd, &message("invoice.eml"), bin::TIMEOUT);
        assert_eq!(out.status.code(), Some(75), "{args:?}: {}", line(&out));
        assert!(out.fed.is_ok(), "{args:?}: stdin not drained");
        assert!(
            line(&out).starts_with("mimeinject: ") && line(&out).contains(want),
            "{args:?}: {}",
            line(&out)
        );
    }
}

#[test]
fn deliver_failure_exit_code_sets_the_local_failure_status() {
    let out = deliver(closed_port(), &["--failure-exit-code", "71"], &[RCPT], b"Subject: x\n\nx\n");
    assert_eq!(out.status.code(), Some(71), "{}", line(&out));
}

#[test]
fn deliver_tls_required_but_not_offered_defers() {
    let sink = SmtpSink::start();
    for level in ["encrypt", "secure"] {
        let out =
            deliver(sink.port(), &["--tls-security-level", level], &[RCPT], b"Subject: x\n\nx\n");
        assert_eq!(out.status.code(), Some(75), "{level}: {}", line(&out));
        assert!(line(&out).contains("does not offer STARTTLS"), "{}", line(&out));
    }
    let out = deliver(sink.port(), &["--tls-security-level", "none"], &[RCPT], b"S: x\n\nx\n");
    out.assert_success("--tls-security-level none");
    assert!(sink.messages().len() == 1 && sink.dropped().is_empty());
}

#[test]
fn deliver_never_sends_credentials_in_clear_text() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("sasl_passwd");
    fs::write(&auth, format!("[127.0.0.1]:{} app:s3cret\n", sink.port())).unwrap();
    let out =
        deliver(sink.port(), &["--auth-file", auth.to_str().unwrap()], &[RCPT], b"S: x\n\nx\n");
    assert_eq!(out.status.code(), Some(75), "{}", line(&out));
    assert!(line(&out).contains("only sent over TLS"), "{}", line(&out));
    assert!(sink.messages().is_empty());
    // And an --auth-file without an entry for the next hop is a clear failure too.
    fs::write(&auth, "[elsewhere]:25 app:s3cret\n").unwrap();
    let out =
        deliver(sink.port(), &["--auth-file", auth.to_str().unwrap()], &[RCPT], b"S: x\n\nx\n");
    assert_eq!(out.status.code(), Some(75));
    assert!(line(&out).contains("no entry for smtp:[127.0.0.1]:"), "{}", line(&out));
}

/// Waits (bounded) for a condition the sink's threads will make true.
fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not reached within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An LMTP next hop on a UNIX socket that closes mid-DATA: a deferral with a reason, not a
/// death by SIGPIPE. The binary skips std's set-up, which would ignore SIGPIPE; it is safe
/// because std sends on sockets with MSG_NOSIGNAL, which this test keeps true.
#[test]
fn deliver_lmtp_socket_closed_mid_data_is_reported() {
    use std::io::{BufRead, BufReader, Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("lmtp");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut out = conn.try_clone().unwrap();
        let mut input = BufReader::new(conn);
        out.write_all(b"220 lmtp\r\n").unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            if input.read_line(&mut line).unwrap() == 0 {
                return;
            }
            match &line[..4] {
                "DATA" => {
                    out.write_all(b"354 go\r\n").unwrap();
                    let mut some = [0u8; 1000];
                    input.read_exact(&mut some).unwrap();
                    return; // closes the connection mid-DATA
                }
                _ => out.write_all(b"250 ok\r\n").unwrap(),
            }
        }
    });
    let files = tempfile::tempdir().unwrap();
    fs::write(files.path().join("big.bin"), support::pseudo_random(9, 4 << 20)).unwrap();
    let input = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
                  Content-Type: application/x-mimeinject; path=big.bin\n\n--b--\n";
    let hop = format!("lmtp:unix:{}", sock.display());
    let mut cmd = Command::new(bin::path());
    cmd.env_clear().args(["deliver", "--no-syslog", "--nexthop", &hop]);
    cmd.args(["--root", files.path().to_str().unwrap(), "-f", SENDER, "--", RCPT]);
    // As a parent that leaves SIGPIPE at its default would start it (this test's own process
    // ignores SIGPIPE, and an ignored signal stays ignored across exec).
    // SAFETY: only signal(2), async-signal-safe, between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    let out = support::run(&mut cmd, input, bin::TIMEOUT);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(75), "{:?}: {}", out.status, line(&out));
    assert!(line(&out).starts_with("mimeinject: "), "{}", line(&out));
    assert!(line(&out).contains("lmtp:unix:"), "{}", line(&out));
}
