#!/usr/bin/env python3
"""Inserts a stub part into every multipart message of a corpus and runs the filter on it.

usage: corpus_inject.py FILTER_BINARY CORPUS_DIR ROOT_DIR

For each multipart message, a stub part is inserted just before the close delimiter of its
outermost multipart that is not multipart/alternative (or, when every multipart is an
alternative, of the outermost one), in the message's own line ending. The filter's output
must then (1) have no parse defect the input did not have, (2) carry an attachment that
decodes to ROOT_DIR/inject.bin, and (3) equal the input byte for byte outside the inserted
part. A refusal is a failure unless the filter names a reason the documented rules give:
a stub directly inside multipart/alternative, or a structural defect of the message
(boundaries that prefix each other, a multipart never closed, an unparseable one, a header
line that is not a field), which is named first when the message has both.
Prints one line per message that was refused or failed, then a summary line
'covered N, accepted A, refused R, failed F'. Exit 1 if any check failed.
"""
import collections
import email
import os
import re
import subprocess
import sys
from email import policy

NAME = "inject.bin"


def defects(raw):
    msg = email.message_from_bytes(raw, policy=policy.default)
    return collections.Counter(type(d).__name__ for p in msg.walk() for d in p.defects)


def pick(msg, raw):
    """(boundary, offset of its close delimiter, is alternative) for the multipart to use."""
    found = []
    for part in msg.walk():
        boundary = part.get_boundary() if part.is_multipart() else None
        if not boundary:
            continue
        boundary = boundary.encode("utf-8", "surrogateescape")
        close = re.compile(rb"(?m)^--" + re.escape(boundary) + rb"--[ \t]*\r?$")
        matches = list(close.finditer(raw))
        if matches:
            alternative = part.get_content_subtype() == "alternative"
            found.append((boundary, matches[-1].start(), alternative))
    mixed = [f for f in found if not f[2]]
    return (mixed or found or [None])[0]


SIGNATURES = (b"dkim-signature", b"arc-message-signature", b"arc-seal")


def unsigned(raw):
    """raw without the DKIM and ARC signature fields of its own header."""
    end = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:end.start() + 1], raw[end.start() + 1:]) if end else (raw, b"")
    lines = head.splitlines(keepends=True)
    out, dropping = [], False
    for line in lines:
        if line[:1] not in (b" ", b"\t"):
            name = line.split(b":", 1)[0].strip().lower()
            dropping = b":" in line and name in SIGNATURES
        if not dropping:
            out.append(line)
    return b"".join(out) + body


def main():
    binary, corpus, root = sys.argv[1:4]
    with open(os.path.join(root, NAME), "rb") as f:
        want = f.read()
    covered = accepted = refused = failed = 0
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as f:
            raw = unsigned(f.read())
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        if not msg.is_multipart():
            continue
        target = pick(msg, raw)
        if target is None:
            continue
        boundary, at, alternative = target
        eol = b"\r\n" if b"\r\n" in raw[: raw.find(b"\n") + 1] else b"\n"
        stub = (b"--" + boundary + eol
                + b'Content-Type: application/x-mimeinject; path="' + NAME.encode() + b'"' + eol
                + eol)
        injected = raw[:at] + stub + raw[at:]
        covered += 1
        run = subprocess.run([binary, "--root", root, "--no-syslog"], input=injected,
                             capture_output=True)
        if run.returncode != 0:
            reason = run.stderr.decode(errors="replace").strip()
            structural = "MIME structure" in reason and any(
                why in reason for why in ("defect", "could not be followed", "never closed"))
            sealed = re.search(rb"(?i)multipart/(signed|encrypted)", raw) is not None
            expected = (structural or (alternative and "multipart/alternative" in reason)
                        or (sealed and "signed message: placeholder inside multipart/" in reason))
            if expected:
                refused += 1
                print(f"refused {name}: {reason}")
            else:
                failed += 1
                print(f"FAILED {name}: refused for an unexpected reason: {reason}")
            continue
        accepted += 1
        out = run.stdout
        problems = []
        prefix, suffix = raw[:at], raw[at:]
        if not out.startswith(prefix + b"--" + boundary + eol):
            problems.append("output differs before the inserted part")
        if not out.endswith(suffix):
            problems.append("output differs after the inserted part")
        new = defects(out) - defects(injected)
        if new:
            problems.append(f"new defects {dict(new)}")
        parsed = email.message_from_bytes(out, policy=policy.default)
        parts = [p for p in parsed.walk() if p.get_filename() == NAME]
        if not any(p.get_payload(decode=True) == want for p in parts):
            problems.append("the attachment does not decode to the file")
        if problems:
            failed += 1
            print(f"FAILED {name}: {'; '.join(problems)}")
    print(f"covered {covered}, accepted {accepted}, refused {refused}, failed {failed}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
