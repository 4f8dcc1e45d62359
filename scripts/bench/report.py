#!/usr/bin/python3
"""Markdown tables from hyperfine (and paired.py) JSON exports.

usage:
  report.py table --ref NAME [--bytes N] [--title T] FILE.json [FILE.json ...]
      one row per command: median ms (min–max), GB/s of N output bytes, ratio of medians
      against command NAME (from the same file when it is there), and the paired ratio
      (median, min–max of per-round ratios) for paired.py files
  report.py target --label L --num NAME --den NAME --max X [--paired] FILE.json [...]
  report.py target --label L --num NAME --min-gbps X --bytes N FILE.json [...]
      one line: the figure and MET / MISSED
"""
import argparse
import json
import statistics


def load(files):
    rows = []
    for path in files:
        with open(path) as f:
            for r in json.load(f)["results"]:
                r["file"] = path
                rows.append(r)
    return rows


def find(rows, name):
    for r in rows:
        if r["command"] == name:
            return r
    raise SystemExit(f"no command named {name!r}")


def ms(r):
    return f"{r['median'] * 1e3:.2f} ({r['min'] * 1e3:.2f}–{r['max'] * 1e3:.2f})"


def paired(r):
    p = r.get("paired")
    if not p:
        return None
    return statistics.median(p), min(p), max(p)


def table(a):
    rows = load(a.files)
    ref = find(rows, a.ref)
    if a.title:
        print(f"\n**{a.title}**\n")
    head = "| command | median ms (min–max) | runs |"
    sep = "|---|---|---|"
    if a.bytes:
        head += " GB/s |"
        sep += "---|"
    head += f" ratio vs {a.ref} |"
    sep += "---|"
    has_paired = any("paired" in r for r in rows)
    if has_paired:
        head += " paired ratio (min–max) |"
        sep += "---|"
    print(head)
    print(sep)
    for r in rows:
        line = f"| {r['command']} | {ms(r)} | {len(r['times'])} |"
        if a.bytes:
            line += f" {a.bytes / r['median'] / 1e9:.2f} |"
        same = " " if r["file"] == ref["file"] else "¹"
        line += f" {r['median'] / ref['median']:.2f}{same.strip()} |"
        if has_paired:
            p = paired(r)
            line += f" {p[0]:.2f} ({p[1]:.2f}–{p[2]:.2f}) |" if p else " – |"
        print(line)
    if any(r["file"] != ref["file"] for r in rows):
        print("\n¹ from a separate hyperfine call with fewer runs (slow peers).")


def target(a):
    rows = load(a.files)
    num = find(rows, a.num)
    if a.min_gbps is not None:
        gbps = a.bytes / num["median"] / 1e9
        lo = a.bytes / num["max"] / 1e9
        hi = a.bytes / num["min"] / 1e9
        ok = gbps >= a.min_gbps
        fig = f"{gbps:.2f} GB/s ({lo:.2f}–{hi:.2f})"
        print(f"| {a.label} | {fig} | ≥ {a.min_gbps} GB/s | {'MET' if ok else 'MISSED'} |")
        return
    den = find(rows, a.den)
    if a.paired and paired(num):
        med, lo, hi = paired(num)
        fig = f"paired {med:.2f} ({lo:.2f}–{hi:.2f})"
    else:
        med = num["median"] / den["median"]
        fig = f"{med:.2f} ({num['median'] * 1e3:.1f} / {den['median'] * 1e3:.1f} ms)"
    ok = med <= a.max
    print(f"| {a.label} | {fig} | ≤ {a.max}× | {'MET' if ok else 'MISSED'} |")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    t.add_argument("--ref", required=True)
    t.add_argument("--bytes", type=int)
    t.add_argument("--title")
    t.add_argument("files", nargs="+")
    g = sub.add_parser("target")
    g.add_argument("--label", required=True)
    g.add_argument("--num", required=True)
    g.add_argument("--den")
    g.add_argument("--max", type=float)
    g.add_argument("--min-gbps", type=float)
    g.add_argument("--bytes", type=int)
    g.add_argument("--paired", action="store_true")
    g.add_argument("files", nargs="+")
    a = ap.parse_args()
    table(a) if a.cmd == "table" else target(a)


if __name__ == "__main__":
    main()
