#!/usr/bin/python3
"""Generates the benchmark inputs (used by scripts/bench.sh and scripts/bench-bulk.sh).

usage:
  gen.py random PATH SIZE SEED          SIZE seeded pseudo-random bytes (incompressible)
  gen.py template PATH [FILE]           a 2 KB multipart/mixed message; with FILE, its last
                                        part is a base64 attachment part whose body is the
                                        placeholder line `mimeinject: path="FILE"`
  gen.py passthrough PATH SIZE          a multipart/mixed message of about SIZE bytes without
                                        placeholders: text parts and base64 parts (256 KiB of
                                        random data each) alternating
  gen.py built PATH FILE NAME           the message a sender builds before queueing with
                                        Python's email package: the template's text plus FILE
                                        attached as NAME (build-before-queue, bench-bulk.sh)
"""
import base64
import random
import sys

HEADER = b"""\
From: Billing <billing@example.test>
To: Customer <user@example.test>
Subject: Your monthly statement
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <statement-42@example.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_outer_7f3a"

This is a multi-part message in MIME format.
"""

TEXT = b"""\
Dear customer,

please find your statement for November attached. The amount of 42.00 EUR
will be collected from your account on the 1st of next month. If you have
any questions about this statement, reply to this message or call us on
weekdays between 9:00 and 17:00. Please do not reply to this address with
payment details; our staff will never ask you for your password or PIN.

Your customer number:   4711-0815
Statement period:       1 November 2026 to 30 November 2026
Opening balance:        0.00 EUR
Charges this period:   42.00 EUR
Payments received:      0.00 EUR
Closing balance:       42.00 EUR

You can switch to paper statements at any time in your account settings,
and you can download every statement of the last ten years there as well.
We keep this message short on purpose: everything else is in the attached
statement, which opens in any PDF viewer.

From next month on, statements are sent on the first working day of the
month instead of the third. Direct debits are collected on the same dates
as before, so nothing changes for you unless you pay by bank transfer: in
that case please allow two extra days. Our opening hours over the holidays
are on our website, together with the answers to the questions we are
asked most often about statements, payments, refunds and account changes.

Kind regards,
Your billing team

-- 
Example Billing Ltd, 1 Example Street, Example Town EX1 2MP
Registered in Example Land, company number 01234567
"""


def text_part():
    return b"\n--=_outer_7f3a\nContent-Type: text/plain; charset=utf-8\n\n" + TEXT


def attachment_headers(name):
    return (
        b'\n--=_outer_7f3a\nContent-Type: application/pdf; name="%s"\n'
        b'Content-Disposition: attachment; filename="%s"\n'
        b"Content-Transfer-Encoding: base64\n\n" % (name.encode(), name.encode())
    )


def random_bytes(size, seed):
    rng = random.Random(seed)
    return rng.randbytes(size)


def main(argv):
    cmd, path = argv[1], argv[2]
    if cmd == "random":
        size, seed = int(argv[3]), int(argv[4])
        rng = random.Random(seed)
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(left, 16 << 20)
                f.write(rng.randbytes(n))
                left -= n
    elif cmd == "template":
        msg = HEADER + text_part()
        if len(argv) > 3:
            msg += attachment_headers("statement.pdf")
            msg += b'mimeinject: path="%s"\n' % argv[3].encode()
        msg += b"--=_outer_7f3a--\n"
        with open(path, "wb") as f:
            f.write(msg)
    elif cmd == "passthrough":
        size = int(argv[3])
        with open(path, "wb") as f:
            written = f.write(HEADER)
            seed = 1
            while True:
                written += f.write(text_part())
                room = size - written - 200
                if room < 200:
                    break
                raw = min(room // 78 * 57, 256 << 10)
                written += f.write(attachment_headers("doc%d.pdf" % seed))
                # encodebytes: 76-character lines, each ending in LF.
                body = base64.encodebytes(random_bytes(raw, seed))
                written += f.write(body[:-1])  # the last LF belongs to the next delimiter
                seed += 1
            f.write(b"\n--=_outer_7f3a--\n")
    elif cmd == "built":
        from email import policy
        from email.message import EmailMessage

        file, name = argv[3], argv[4]
        msg = EmailMessage()
        msg["From"] = "Billing <billing@example.test>"
        msg["To"] = "Customer <user@example.test>"
        msg["Subject"] = "Your monthly statement"
        msg.set_content(TEXT.decode())
        with open(file, "rb") as f:
            msg.add_attachment(f.read(), "application", "pdf", filename=name)
        with open(path, "wb") as f:
            f.write(msg.as_bytes(policy=policy.default))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
