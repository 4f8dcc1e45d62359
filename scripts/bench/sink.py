#!/usr/bin/python3
"""A loopback SMTP sink for the bulk benchmark (scripts/bench-seed.sh): accepts every
message, counts it and its bytes, and keeps a sample of the messages to check afterwards.

usage: sink.py --port-file FILE --status FILE --samples DIR [--sample-every K]

- Listens on 127.0.0.1, on a port the kernel picks, written to --port-file once listening.
- One thread per connection; PIPELINING, 8BITMIME and SIZE are offered. The DATA bytes are
  read in chunks of 1 MiB and only searched for the end of data, `CRLF.CRLF`, anywhere in
  the buffer: exim pipelines QUIT right after the final dot (seen with Debian's exim 4.96
  here), and the next MAIL follows it on a reused connection.
- A message is kept (dot-stuffing undone) as DIR/RCPT.eml when the number in its first
  recipient's local part (c00042@... -> 42) is a multiple of K, and written to disk only
  after the final dot; then the sink answers 250.
- --status is rewritten every 0.2 s: `MESSAGES BYTES`. On SIGTERM the sink writes the same
  file a last time with a second line of JSON: messages, bytes (DATA bytes as sent,
  dot-stuffed, without the final dot), recipients (a list of the first recipient of every
  message, in order of arrival), connections, cpu_s and max_rss_kb (its own rusage).
"""

import argparse
import json
import os
import re
import resource
import signal
import socket
import sys
import threading
import time

END = b"\r\n.\r\n"
CHUNK = 1 << 20
DIGITS = re.compile(rb"(\d+)@")


class Sink:
    def __init__(self, samples, every):
        self.samples = samples
        self.every = every
        self.lock = threading.Lock()
        self.messages = 0
        self.bytes = 0
        self.connections = 0
        self.recipients = []

    def done(self, rcpt, size, kept):
        if kept is not None:
            name = rcpt.decode("ascii", "replace").replace("/", "_")
            with open(os.path.join(self.samples, name + ".eml"), "wb") as f:
                f.write(kept.replace(b"\r\n..", b"\r\n."))
        with self.lock:
            self.messages += 1
            self.bytes += size
            self.recipients.append(rcpt.decode("ascii", "replace"))

    def keep(self, rcpt):
        if self.every <= 0:
            return False
        m = DIGITS.search(rcpt)
        return m is not None and int(m.group(1)) % self.every == 0

    def serve(self, conn):
        with self.lock:
            self.connections += 1
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        pending = b""  # command bytes not yet handled
        rcpts = []
        try:
            conn.sendall(b"220 sink.test ESMTP bench sink\r\n")
            while True:
                # Command mode: answer every complete line, several at once when pipelined.
                while b"\r\n" not in pending:
                    n = conn.recv_into(view)
                    if n == 0:
                        return
                    pending += bytes(view[:n])
                replies = []
                data_now = False
                while b"\r\n" in pending and not data_now:
                    line, pending = pending.split(b"\r\n", 1)
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"LHLO"):
                        replies.append(
                            b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n"
                        )
                    elif verb == b"HELO":
                        replies.append(b"250 sink.test\r\n")
                    elif verb == b"MAIL":
                        rcpts = []
                        replies.append(b"250 2.1.0 ok\r\n")
                    elif verb == b"RCPT":
                        start = line.find(b"<")
                        rcpts.append(line[start + 1 : line.find(b">", start)])
                        replies.append(b"250 2.1.5 ok\r\n")
                    elif verb == b"DATA":
                        replies.append(b"354 go ahead\r\n")
                        data_now = True
                    elif verb == b"RSET":
                        rcpts = []
                        replies.append(b"250 2.0.0 ok\r\n")
                    elif verb == b"NOOP":
                        replies.append(b"250 2.0.0 ok\r\n")
                    elif verb == b"QUIT":
                        replies.append(b"221 2.0.0 bye\r\n")
                        conn.sendall(b"".join(replies))
                        return
                    else:
                        replies.append(b"502 5.5.2 not implemented\r\n")
                conn.sendall(b"".join(replies))
                if not data_now:
                    continue
                # Data mode. `tail` is the last 4 bytes of the stream so far; it starts as a
                # CRLF before the data, so that an empty message (".\r\n" at once) is found.
                rcpt = rcpts[0] if rcpts else b"?"
                kept = [] if self.keep(rcpt) else None
                size = 0  # bytes of the stream so far, up to the end of the last chunk
                tail = b"\r\n"
                n = len(pending)
                buf[:n] = pending
                pending = b""
                while True:
                    if n:
                        at = (tail + bytes(view[: min(n, 4)])).find(END)
                        pos = at - len(tail) if at >= 0 else buf.find(END, 0, n)
                        if at >= 0 or pos >= 0:
                            # The CRLF before the dot ends the message's last line.
                            size += pos + 2
                            if kept is not None:
                                kept.append(bytes(view[: max(pos + 2, 0)]))
                            pending = bytes(view[pos + 5 : n])
                            break
                        size += n
                        if kept is not None:
                            kept.append(bytes(view[:n]))
                        tail = (tail + bytes(view[max(n - 4, 0) : n]))[-4:]
                    n = conn.recv_into(view)
                    if n == 0:
                        return
                if kept is not None:
                    kept = b"".join(kept)[:size]
                self.done(rcpt, size, kept)
                conn.sendall(b"250 2.0.0 ok: queued\r\n")
        except (ConnectionResetError, BrokenPipeError):
            return
        finally:
            conn.close()

    def status(self):
        with self.lock:
            return self.messages, self.bytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--sample-every", type=int, default=100)
    args = ap.parse_args()
    os.makedirs(args.samples, exist_ok=True)
    sink = Sink(args.samples, args.sample_every)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, args.port_file)

    stopping = threading.Event()

    def write_status(final=False):
        m, b = sink.status()
        text = "%d %d\n" % (m, b)
        if final:
            ru = resource.getrusage(resource.RUSAGE_SELF)
            with sink.lock:
                summary = {
                    "messages": sink.messages,
                    "bytes": sink.bytes,
                    "connections": sink.connections,
                    "recipients": sink.recipients,
                    "cpu_s": ru.ru_utime + ru.ru_stime,
                    "max_rss_kb": ru.ru_maxrss,
                }
            text += json.dumps(summary) + "\n"
        tmp = args.status + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, args.status)

    def reporter():
        while not stopping.wait(0.2):
            write_status()

    threading.Thread(target=reporter, daemon=True).start()

    def accept():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=sink.serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    got = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: got.set())
    signal.signal(signal.SIGINT, lambda *_: got.set())
    while not got.wait(1):
        pass
    stopping.set()
    write_status(final=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
