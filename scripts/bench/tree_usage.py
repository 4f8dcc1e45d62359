#!/usr/bin/python3
"""Prints the CPU seconds (user+sys) and the bytes written to storage of the process trees
under the given PIDs, as "CPU_SECONDS WRITE_BYTES" (scripts/bench-postfix.sh).

A live process's figures include those of the children it has reaped (utime+stime plus
cutime+cstime from /proc/PID/stat; write_bytes from /proc/PID/io, to which Linux adds a
reaped child's I/O accounting), and a live child counts for itself, so summing over the live
tree counts every process that ran in it once. Run it before stopping the daemons: a
Postfix or Dovecot master does not reap the children it kills when it stops.

usage: tree_usage.py PID [PID ...]
"""
import os
import sys


def children():
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def main():
    kids = children()
    todo = [int(p) for p in sys.argv[1:]]
    seen = set()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = 0.0
    written = 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(kids.get(pid, []))
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/io") as f:
                io = dict(line.split(": ") for line in f.read().splitlines())
        except OSError:
            continue
        # Fields after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        cpu += sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks
        written += int(io["write_bytes"])
    print(f"{cpu:.3f} {written}")


if __name__ == "__main__":
    main()
