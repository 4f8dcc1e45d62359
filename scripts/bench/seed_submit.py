#!/usr/bin/python3
"""Submits the built messages to the MTA over SMTP, the way a bulk application hands its
mail over (scripts/bench-seed.sh): one session for every PER_SESSION (1,000) messages,
exim's default smtp_accept_max_per_connection.

usage: seed_submit.py DIR FIRST COUNT exim EXIM CONF
       seed_submit.py DIR FIRST COUNT unix SOCKET

DIR holds NNNNN.eml (seed_data.py build). Message i is sent from billing@example.test to
c{i:05d}@example.test with Python's smtplib, which turns LF into CRLF and dot-stuffs.
- exim: each session is `exim -C CONF -bs` (SMTP on its standard input and output) on one
  end of a socket pair, so the receiving exim is a child of this process; with queue_only
  every message is only queued.
- unix: Postfix's smtpd on a UNIX-domain socket.
"""

import os
import smtplib
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_data import SENDER, rcpt  # noqa: E402


class PairSMTP(smtplib.SMTP):
    """smtplib's client over an already connected socket."""

    def __init__(self, sock):
        self._pair = sock
        super().__init__()
        self.connect()

    def connect(self, host="localhost", port=0, source_address=None):
        self.sock = self._pair
        self.file = None
        code, msg = self.getreply()
        if code != 220:
            raise smtplib.SMTPConnectError(code, msg)
        return code, msg


PER_SESSION = 1000


def session(kind, target, conf):
    """An open SMTP session (after EHLO), and the exim process behind it if any."""
    proc = None
    if kind == "exim":
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen(
            [target, "-C", conf, "-bs"],
            stdin=theirs,
            stdout=theirs,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        theirs.close()
        smtp = PairSMTP(ours)
    elif kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(target)
        smtp = PairSMTP(sock)
    else:
        sys.exit(__doc__)
    smtp.ehlo("bench-client.test")
    return smtp, proc


def main():
    src, first, count, kind, target = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
        sys.argv[5],
    )
    conf = sys.argv[6] if kind == "exim" else None
    for start in range(first, first + count, PER_SESSION):
        smtp, proc = session(kind, target, conf)
        for i in range(start, min(start + PER_SESSION, first + count)):
            with open(os.path.join(src, "%05d.eml" % i), "rb") as f:
                data = f.read()
            smtp.sendmail(SENDER, [rcpt(i)], data)
        smtp.quit()
        if proc is not None and proc.wait() != 0:
            sys.exit("exim -bs exited with status %d" % proc.returncode)


if __name__ == "__main__":
    main()
