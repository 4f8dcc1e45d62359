#!/usr/bin/python3
"""Submits bulk messages to a private Postfix over SMTP on its UNIX-domain smtpd socket, one
session for all of them, the way an application hands mail to the MTA
(scripts/bench-postfix.sh).

usage: postfix_submit.py MODE FIRST COUNT FILES SOCKET ROOT

MODE built:    each full message built with Python's email package (bulk_submit.built)
MODE template: the small template with the placeholder line (bulk_submit.template)
Message i uses attachment file att/f{i % FILES}.bin under ROOT.
"""
import os
import smtplib
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bulk_submit import RCPT, SENDER, built, template  # noqa: E402


class UnixSMTP(smtplib.SMTP):
    """smtplib's client over a UNIX-domain socket (smtplib.LMTP speaks LHLO)."""

    def __init__(self, path):
        self.path = path
        super().__init__()
        self.connect()

    def connect(self, host="localhost", port=0, source_address=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
        self.file = None
        code, msg = self.getreply()
        if code != 220:
            raise smtplib.SMTPConnectError(code, msg)
        return code, msg


def main():
    mode, first, count, files, sock, root = sys.argv[1:7]
    first, count, files = int(first), int(count), int(files)
    smtp = UnixSMTP(sock)
    smtp.ehlo("bench-client")
    for i in range(first, first + count):
        path = "att/f%d.bin" % (i % files)
        data = built(i, root, path) if mode == "built" else template(i, path)
        # sendmail() turns LF into CRLF and dot-stuffs.
        smtp.sendmail(SENDER, [RCPT], data)
    smtp.quit()


if __name__ == "__main__":
    main()
