#!/usr/bin/python3
"""Checks what the sink received in one run of scripts/bench-seed.sh.

usage: seed_check.py STATUS SAMPLES ROOT COUNT

- Lost or doubled: the sink's final status (sink.py) must list every recipient
  c00000..c{COUNT-1}@example.test exactly once (one message each).
- Byte-exact sample: every kept message SAMPLES/RCPT.eml is parsed like a mail client would
  (scripts/mime_check.py: no defects, base64 lines of at most 76 characters, no line over
  998), its To: names RCPT, and its one attachment decodes to exactly the bytes of RCPT's own
  file under ROOT.

Prints one JSON line: messages, lost, duplicates, unexpected, sampled, sample_bad,
sample_bytes (attachment bytes checked), problems (the first few); exits 1 on any problem.
"""

import email
import json
import os
import sys
from email import policy

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.dirname(here))
from mime_check import problems  # noqa: E402
from seed_data import FILENAME, file_path, rcpt  # noqa: E402


def main():
    status, samples, root, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(status) as f:
        summary = json.loads(f.read().splitlines()[1])
    got = summary["recipients"]
    want = {rcpt(i): i for i in range(count)}
    seen = {}
    for r in got:
        seen[r] = seen.get(r, 0) + 1
    lost = sorted(r for r in want if r not in seen)
    dups = sorted(r for r, k in seen.items() if k > 1)
    unexpected = sorted(r for r in seen if r not in want)
    found = []
    if lost:
        found.append(f"{len(lost)} lost, e.g. {lost[:3]}")
    if dups:
        found.append(f"{len(dups)} received more than once, e.g. {dups[:3]}")
    if unexpected:
        found.append(f"{len(unexpected)} unexpected recipients, e.g. {unexpected[:3]}")

    sampled = bad = checked = 0
    for name in sorted(os.listdir(samples)):
        if not name.endswith(".eml"):
            continue
        r = name[: -len(".eml")]
        if r not in want:
            continue
        sampled += 1
        with open(os.path.join(samples, name), "rb") as f:
            raw = f.read()
        path = file_path(root, want[r])
        issues = problems(raw, [(FILENAME, path)])
        msg = email.message_from_bytes(raw, policy=policy.default)
        if r not in str(msg.get("To", "")):
            issues.append(f"To: is {msg.get('To')!r}")
        attachments = [p for p in msg.walk() if p.get_filename()]
        if len(attachments) != 1:
            issues.append(f"{len(attachments)} attachments")
        if issues:
            bad += 1
            found.append(f"{name}: {'; '.join(issues)}")
        else:
            checked += os.path.getsize(path)
    if sampled == 0:
        found.append("no sampled message")
    print(
        json.dumps(
            {
                "messages": len(got),
                "lost": len(lost),
                "duplicates": len(dups),
                "unexpected": len(unexpected),
                "sampled": sampled,
                "sample_bad": bad,
                "sample_bytes": checked,
                "problems": found[:5],
            }
        )
    )
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
