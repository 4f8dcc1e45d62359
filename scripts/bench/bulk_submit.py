#!/usr/bin/python3
"""Queues bulk messages into a private exim, one `exim -odq` per message, the way an
application hands mail to the MTA (scripts/bench-bulk.sh).

usage: bulk_submit.py MODE FIRST COUNT FILES EXIM CONF ROOT

MODE built:    builds each full message with Python's email package (text + the message's
               attachment file, base64) before queueing: the approach mimeinject replaces.
MODE template: queues the small template whose attachment part holds the placeholder line
               `mimeinject: path="att/fK.bin"`; exim's transport_filter expands it.
Message i uses attachment file att/f{i % FILES}.bin under ROOT.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

SENDER = "billing@example.test"
RCPT = "user@example.test"


def template(i, path):
    header = gen.HEADER.replace(b"<statement-42@", b"<statement-%d@" % i)
    return (
        header
        + gen.text_part()
        + gen.attachment_headers("statement-%d.pdf" % i)
        + b'mimeinject: path="%s"\n' % path.encode()
        + b"--=_outer_7f3a--\n"
    )


def built(i, root, path):
    from email import policy
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Billing <%s>" % SENDER
    msg["To"] = "Customer <%s>" % RCPT
    msg["Subject"] = "Your monthly statement"
    msg["Message-ID"] = "<statement-%d@example.test>" % i
    msg.set_content(gen.TEXT.decode())
    with open(os.path.join(root, path), "rb") as f:
        msg.add_attachment(f.read(), "application", "pdf", filename="statement-%d.pdf" % i)
    return msg.as_bytes(policy=policy.default)


def main():
    mode, first, count, files, exim, conf, root = sys.argv[1:8]
    first, count, files = int(first), int(count), int(files)
    argv = [exim, "-C", conf, "-odq", "-oi", "-f", SENDER, "--", RCPT]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for i in range(first, first + count):
        path = "att/f%d.bin" % (i % files)
        data = built(i, root, path) if mode == "built" else template(i, path)
        subprocess.run(argv, input=data, env=env, check=True)


if __name__ == "__main__":
    main()
