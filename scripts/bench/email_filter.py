#!/usr/bin/python3
"""The same filter as a user would write it by hand with Python's email package: parse the
whole message, replace every part whose body is a `mimeinject: path="..."` line with the file
as a base64 attachment, print the message.

usage: email_filter.py ROOT < message > output
"""
import os
import sys
from email import policy
from email.generator import BytesGenerator
from email.parser import BytesParser

root = sys.argv[1]
msg = BytesParser(policy=policy.default).parse(sys.stdin.buffer)
for part in msg.walk():
    if part.is_multipart():
        continue
    body = part.get_payload()
    if isinstance(body, str) and body.startswith('mimeinject: path="'):
        path = body.split('"')[1]
        with open(os.path.join(root, path), "rb") as f:
            data = f.read()
        maintype, subtype = part.get_content_type().split("/")
        part.set_content(data, maintype, subtype, filename=part.get_filename())
BytesGenerator(sys.stdout.buffer, policy=msg.policy).flatten(msg)
