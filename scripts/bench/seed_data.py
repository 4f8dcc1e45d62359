#!/usr/bin/python3
"""The data of the bulk benchmark at the seed's scale (scripts/bench-seed.sh): one statement
file per recipient, and the messages an application builds for them.

usage:
  seed_data.py files ROOT COUNT [FILES]   writes ROOT/statements/RCPT/statement-2026-11.pdf for
                                          messages 0..COUNT-1, sizes from the mix below; with
                                          FILES < COUNT, message i's file is a hard link to
                                          message (i % FILES)'s content (same bytes, less disk)
  seed_data.py sizes COUNT                prints the mix's statistics for COUNT messages
  seed_data.py build MODE FIRST COUNT OUT ROOT
                                          writes OUT/NNNNN.eml for each message: MODE template
                                          (the small message with the placeholder) or built
                                          (the whole message, built with Python's email package)

Message i goes to RCPT = c{i:05d}@example.test and carries that recipient's statement. The
placeholder is the guide's stub part with a per-recipient path:
`path="statements/{rcpt}/statement-2026-11.pdf"`, which mimeinject fills from the one
recipient of the delivery (exim: `-- $pipe_addresses` with `max_rcpt = 1`; Postfix:
`${recipient}` with `_destination_recipient_limit = 1`).

The size mix (an assumption; no public statistics of bulk-mail attachment sizes were found):
in every block of 100 consecutive messages, 60 invoices of 30-150 kB, 25 statements of
150-600 kB, 12 reports of 0.6-2 MB and 3 large reports of 2 MB-5 MiB, each size drawn
log-uniformly within its class, the order shuffled within the block (seeded). So any run of
a multiple of 100 messages has the same mix, mean about 0.37 MB. The reasoning: a one-page
text invoice or statement is tens of kB, one with an embedded font or a logo a few hundred
kB; reports with charts or scans reach several MB; the seed's largest attachment was 5 MB.

A file's bytes are a header naming its recipient, then pseudo-random (incompressible) bytes
from a seeded pool at an offset that depends on i, so every file differs from every other.
"""

import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

SENDER = "billing@example.test"
FILENAME = "statement-2026-11.pdf"
PATH = "statements/{rcpt}/" + FILENAME
BOUNDARY = "=_outer_7f3a"
MiB = 1 << 20
# (count per 100 messages, smallest, largest) in bytes.
MIX = [
    (60, 30_000, 150_000),
    (25, 150_000, 600_000),
    (12, 600_000, 2_000_000),
    (3, 2_000_000, 5 * MiB),
]
POOL_SIZE = 8 * MiB


def rcpt(i):
    return "c%05d@example.test" % i


def sizes(count):
    """The attachment size of messages 0..count-1."""
    out = []
    block = 0
    while len(out) < count:
        rng = random.Random(0x5EED0000 + block)
        classes = [c for c, (k, _, _) in enumerate(MIX) for _ in range(k)]
        rng.shuffle(classes)
        for c in classes:
            _, lo, hi = MIX[c]
            out.append(int(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
        block += 1
    return out[:count]


def content(i, size, pool):
    head = b"%%PDF-1.4\n%% statement for %s, %d bytes\n" % (rcpt(i).encode(), size)
    rest = size - len(head)
    off = (i * 1_000_003) % (len(pool) - rest + 1)
    return head + pool[off : off + rest]


def file_path(root, i):
    return os.path.join(root, "statements", rcpt(i), FILENAME)


def write_files(root, count, files):
    pool = random.Random(42).randbytes(POOL_SIZE)
    all_sizes = sizes(min(count, files))
    os.makedirs(os.path.join(root, "statements"), exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(os.path.join(root, "statements"), 0o755)
    for i in range(count):
        path = file_path(root, i)
        d = os.path.dirname(path)
        src = i % files
        size = all_sizes[src]
        try:
            if os.path.getsize(path) == size and (
                src == i or os.path.samefile(path, file_path(root, src))
            ):
                continue
        except OSError:
            pass
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        if os.path.lexists(path):
            os.unlink(path)
        if src == i:
            with open(path, "wb") as f:
                f.write(content(i, size, pool))
            os.chmod(path, 0o644)
        else:
            os.link(file_path(root, src), path)


def template(i):
    """The message an application queues: text, and a stub part for the statement."""
    head = gen.HEADER.replace(b"<user@example.test>", b"<%s>" % rcpt(i).encode())
    head = head.replace(b"<statement-42@", b"<statement-%d@" % i)
    return (
        head
        + gen.text_part()
        + b"\n--%s\n" % BOUNDARY.encode()
        + b'Content-Type: application/x-mimeinject; path="%s";\n' % PATH.encode()
        + b' filename="%s"\n' % FILENAME.encode()
        + b"\n--%s--\n" % BOUNDARY.encode()
    )


def built(i, root):
    """The same message with the statement attached before queueing."""
    from email import policy
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Billing <%s>" % SENDER
    msg["To"] = "Customer <%s>" % rcpt(i)
    msg["Subject"] = "Your monthly statement"
    msg["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = "<statement-%d@example.test>" % i
    msg.set_content(gen.TEXT.decode())
    with open(file_path(root, i), "rb") as f:
        msg.add_attachment(f.read(), "application", "pdf", filename=FILENAME)
    return msg.as_bytes(policy=policy.default)


def build(mode, first, count, out, root):
    os.makedirs(out, exist_ok=True)
    for i in range(first, first + count):
        data = built(i, root) if mode == "built" else template(i)
        with open(os.path.join(out, "%05d.eml" % i), "wb") as f:
            f.write(data)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "files":
        count = int(argv[3])
        files = int(argv[4]) if len(argv) > 4 else count
        write_files(argv[2], count, max(1, min(files, count)))
    elif cmd == "sizes":
        s = sizes(int(argv[2]))
        total = sum(s)
        print(
            "messages %d, attachments %d B, mean %.0f B, median %d B, largest %d B, "
            "base64 about %d B"
            % (
                len(s),
                total,
                total / len(s),
                sorted(s)[len(s) // 2],
                max(s),
                total * 4 // 3 * 78 // 76,
            )
        )
    elif cmd == "build":
        mode, first, count, out, root = argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6]
        build(mode, first, count, out, root)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
