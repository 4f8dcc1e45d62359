#!/usr/bin/env python3
"""Inserts a stub part into every multipart message of a corpus and runs the filter on it.

usage: corpus_inject.py FILTER_BINARY CORPUS_DIR ROOT_DIR

For each message whose top-level part is a multipart with a close delimiter, a stub part is
inserted just before that delimiter, in the message's own line ending. The filter's output
must then (1) have no parse defect the input did not have, (2) carry an attachment that
decodes to ROOT_DIR/inject.bin, and (3) equal the input byte for byte outside the inserted
part. Prints one line per message that was refused or failed, then a summary line
'covered N, refused R, failed F'. Exit 1 if any check failed.
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


def main():
    binary, corpus, root = sys.argv[1:4]
    with open(os.path.join(root, NAME), "rb") as f:
        want = f.read()
    covered = refused = failed = 0
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as f:
            raw = f.read()
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        if not msg.is_multipart():
            continue
        boundary = msg.get_boundary()
        if not boundary:
            continue
        eol = b"\r\n" if b"\r\n" in raw[: raw.find(b"\n") + 1] else b"\n"
        close = re.compile(rb"(?m)^--" + re.escape(boundary.encode()) + rb"--[ \t]*\r?$")
        matches = list(close.finditer(raw))
        if not matches:
            continue
        at = matches[-1].start()
        stub = (b"--" + boundary.encode() + eol
                + b'Content-Type: application/x-mimeinject; path="' + NAME.encode() + b'"' + eol
                + eol)
        injected = raw[:at] + stub + raw[at:]
        covered += 1
        run = subprocess.run([binary, "--root", root, "--no-syslog"], input=injected,
                             capture_output=True)
        if run.returncode != 0:
            refused += 1
            print(f"refused {name}: {run.stderr.decode(errors='replace').strip()}")
            continue
        out = run.stdout
        problems = []
        prefix, suffix = raw[:at], raw[at:]
        if not out.startswith(prefix + b"--" + boundary.encode() + eol):
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
    print(f"covered {covered}, refused {refused}, failed {failed}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
