#!/usr/bin/python3
"""Alternating A/B(/C...) timing: runs the commands in turn, PAIRS rounds, and records each
run's wall time and, per round, each command's time divided by the first command's. Taking
the median of those per-round ratios keeps the machine's drift out of the comparison
(hyperfine runs all of one command, then all of the next).

usage: paired.py --pairs N --json OUT [--stdin FILE] [--shell] -n NAME CMD [-n NAME CMD ...]

Without --shell each CMD is split like a shell word list and executed directly (fork + exec,
no shell), with stdin from FILE and stdout to /dev/null: a process start as exim makes it.
With --shell each CMD runs under `sh -c` (both sides pay the same shell start).
The JSON has hyperfine's layout (results[].command, .times, .median, .min, .max) plus
results[].paired: the per-round ratios against the first command.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", required=True)
    ap.add_argument("--stdin")
    ap.add_argument("--shell", action="store_true")
    ap.add_argument("-n", dest="names", action="append", required=True)
    ap.add_argument("commands", nargs="+")
    a = ap.parse_intermixed_args()
    assert len(a.names) == len(a.commands), "one -n NAME per command"
    devnull = os.open(os.devnull, os.O_WRONLY)

    def once(cmd):
        stdin = open(a.stdin, "rb") if a.stdin else subprocess.DEVNULL
        argv = ["/bin/sh", "-c", cmd] if a.shell else shlex.split(cmd)
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdin=stdin, stdout=devnull).returncode
        t1 = time.perf_counter()
        if a.stdin:
            stdin.close()
        if rc != 0:
            raise SystemExit(f"{cmd!r} exited {rc}")
        return t1 - t0

    for _ in range(a.warmup):
        for cmd in a.commands:
            once(cmd)
    times = [[] for _ in a.commands]
    for r in range(a.pairs):
        # Alternate which command goes first, so neither always runs on a cold cache.
        order = list(range(len(a.commands)))
        if r % 2:
            order.reverse()
        for i in order:
            times[i].append(once(a.commands[i]))
    results = []
    for name, cmd, ts in zip(a.names, a.commands, times):
        paired = [t / t0 for t, t0 in zip(ts, times[0])]
        results.append(
            {
                "command": name,
                "exec": cmd,
                "times": ts,
                "median": statistics.median(ts),
                "min": min(ts),
                "max": max(ts),
                "paired": paired,
            }
        )
    with open(a.json, "w") as f:
        json.dump({"results": results}, f, indent=1)


if __name__ == "__main__":
    main()
