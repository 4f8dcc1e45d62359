#!/usr/bin/env python3
"""Checks a message the way a mail client would, with Python's own MIME parser.

usage: mime_check.py MESSAGE [NAME=PATH ...]

Fails (exit 1, one line per problem) when the message has parse defects, a line over 998
bytes, a base64 line over 76 characters, or when an attachment named NAME is missing or does
not decode to the bytes of PATH.
"""
import email
import sys
from email import policy


def problems(raw, expected):
    msg = email.message_from_bytes(raw, policy=policy.default)
    found = []
    for part in msg.walk():
        for defect in part.defects:
            found.append(f"defect in {part.get_content_type()}: {type(defect).__name__}")
        if part.get("Content-Transfer-Encoding", "").strip().lower() == "base64":
            for line in part.get_payload(decode=False).splitlines():
                if len(line) > 76:
                    found.append(f"base64 line of {len(line)} characters")
                    break
    for line in raw.split(b"\n"):
        if len(line.rstrip(b"\r")) > 998:
            found.append("line over 998 bytes")
            break
    by_name = {}
    for part in msg.walk():
        name = part.get_filename()
        if name is not None:
            by_name.setdefault(name, []).append(part)
    for name, path in expected:
        with open(path, "rb") as f:
            want = f.read()
        parts = by_name.get(name, [])
        if not parts:
            found.append(f"no attachment named {name!r} (have {sorted(by_name)!r})")
        elif not any(p.get_payload(decode=True) == want for p in parts):
            found.append(f"attachment {name!r} does not decode to {path}")
    return found


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    expected = [arg.split("=", 1) for arg in sys.argv[2:]]
    found = problems(raw, expected)
    for p in found:
        print(p)
    if found:
        sys.exit(1)
    print(f"ok: {len(expected)} attachment(s) decode to their files, no defects")


if __name__ == "__main__":
    main()
