#!/usr/bin/env python3
"""Writes fuzz/seeds/: each sample message of testdata/messages/ under a few control headers
(see CONTROL_LEN in fuzz/src/lib.rs), and one remapped input.

usage: python3 fuzz/make-seeds.py        (from the repository root)
"""
import os

# byte 0: remap, key, window, placeholders; byte 1: chunk seed; byte 2: header, line;
# byte 3: output, attachment, depth. Index 12/9/3 are the defaults.
CONTROLS = {
    # Default configuration, whole reads.
    "whole": bytes([0b11_100_000, 255, 0xCC, 0b11_11_1001]),
    # Small limits (attachment 2999, output 1 MiB, 3 placeholders, header 300, depth 3,
    # line 100), window 4096, chunks of up to 8 bytes.
    "tight": bytes([0b10_011_000, 7, 0x86, 0b10_01_1000]),
    # Default limits, no pre-flight, one byte at a time.
    "chunked": bytes([0b11_000_000, 0, 0xCC, 0b11_11_1001]),
    # A key, unsigned placeholders passed; the window just below the message's length.
    "key": bytes([0b11_110_100, 31, 0xCC, 0b11_11_1001]),
}

def main():
    out = "fuzz/seeds"
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    messages = "testdata/messages"
    for msg in sorted(os.listdir(messages)):
        with open(os.path.join(messages, msg), "rb") as f:
            body = f.read()
        for label, control in CONTROLS.items():
            with open(os.path.join(out, f"{msg[:-4]}-{label}"), "wb") as f:
                f.write(control + body)
    # Remapped (byte 0 bit 0): alphabet indices for a multipart with a stub for a.txt.
    remapped = bytes([0b11_100_001, 3, 0xCC, 0b11_11_1001]) + bytes([26, 22, 3, 3, 38, 30, 39])
    with open(os.path.join(out, "remapped"), "wb") as f:
        f.write(remapped)

main()
