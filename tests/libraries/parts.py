# What Python's email package (policy.default) sees in a delivered message: one line per
# parse defect, and one per leaf part with its type, disposition, file name and decoded
# bytes in hex, tab-separated. Used by tests/libraries.rs.
import sys
import email
from email import policy

msg = email.message_from_binary_file(sys.stdin.buffer, policy=policy.default)
lines = []
for part in msg.walk():
    for defect in part.defects:
        lines.append(f"defect\t{type(defect).__name__}: {defect}")
    if part.is_multipart():
        continue
    body = part.get_payload(decode=True) or b""
    lines.append("\t".join([
        "part",
        part.get_content_type(),
        part.get_content_disposition() or "-",
        part.get_filename() or "-",
        body.hex(),
    ]))
sys.stdout.buffer.write("".join(line + "\n" for line in lines).encode("utf-8"))
