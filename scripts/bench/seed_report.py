#!/usr/bin/python3
"""Prints the tables of a scripts/bench-seed.sh run (markdown) and draws its chart (SVG,
matplotlib).

usage: seed_report.py RESULTS.json CHART.svg [--maildir TABLE.md] [--readme FILE.md]

CPU per message is split three ways: the application (the Python processes that build and
submit), mimeinject (processes of the benchmarked binary), and the MTA (everything else in the
measured trees: exim, or Postfix's daemons with, for the content filter, its wrapper script,
sendmail and postdrop). The total is the tree's cgroup CPU (exact). The application's and
mimeinject's shares are their processes' taskstats records (CPU sampled per clock tick, 4 ms
here), mimeinject's plus a calibrated cost per process for what its record misses (the
kernel's teardown after the record is sent; seed.py's calibrate()). The MTA's share is the
rest, so it holds its own teardown too. Peak RSS is the largest single process of each kind.

Pre-built runs are made at small sizes only (PREBUILT_N) and extrapolated to N, linearly from
the largest, and only for the phases whose wall time per message was flat between the two
smallest sizes (within FLAT, 20%); the rest are not extrapolated.
"""

import json
import sys

FLAT = 0.20
PHASES = ("build", "submit", "deliver")


def category(name):
    if name == "mimeinject":
        return "mimeinject"
    if name.startswith("python"):
        return "app"
    return "mta"


def split(m, lifecycle_ms):
    """CPU seconds of one measurement: app, mimeinject, mta (cgroup remainder)."""
    by = {"app": 0.0, "mimeinject": 0.0, "mta": 0.0}
    rss = {"app": 0, "mimeinject": 0, "mta": 0}
    for name, v in m["by_name"].items():
        c = category(name)
        by[c] += v["cpu_s"]
        if c == "mimeinject":
            by[c] += v["procs"] * lifecycle_ms / 1e3
        rss[c] = max(rss[c], v["max_rss_kb"])
    total = m["cpu_s"] if m.get("cpu_s") is not None else sum(by.values())
    by["mta"] = max(0.0, total - by["app"] - by["mimeinject"])
    return by, rss, total


def phase_wall(m):
    return m.get("wall_done_s", m["wall_s"])


class Run:
    def __init__(self, r, builds, lifecycle_ms):
        self.r = r
        self.mta = r["mta"]
        self.approach = r["approach"]
        self.n = r["n"]
        self.method = r["method"]
        key = ("template" if self.approach == "placeholder" else "built") + f"-{self.n}"
        self.m = {
            "build": builds[key],
            "submit": r["phases"]["submit"],
            "deliver": r["phases"]["deliver"],
        }
        self.wall = {p: phase_wall(self.m[p]) for p in PHASES}
        self.cpu = {}
        self.rss = {"app": 0, "mimeinject": 0, "mta": 0}
        for p in PHASES:
            by, rss, total = split(self.m[p], lifecycle_ms)
            self.cpu[p] = by
            for k in rss:
                self.rss[k] = max(self.rss[k], rss[k])
        self.bytes = r["sink"]["bytes"]
        self.spool = r["spool_after_submit"]
        self.spool_peak = max(self.spool, self.m["deliver"].get("spool_peak") or 0)
        self.build_bytes = builds[key].get("bytes", 0)

    def label(self, methods):
        what = "placeholders" if self.approach == "placeholder" else "pre-built"
        if self.mta == "exim":
            r = self.r["runners"]
            return f"exim, {what}, {r} runner{'s' if r > 1 else ''} ({self.method})"
        how = {"filter": "content filter", "deliver": "mimeinject deliver", "plain": "smtp(8)"}[
            self.method
        ]
        return f"Postfix, {what}, {how}"

    def key(self):
        return (self.mta, self.approach, self.method)


def fmt_s(v):
    return f"{v:,.1f} s" if v < 1000 else f"{v:,.0f} s"


def fmt_b(v):
    if v >= 1e9:
        return f"{v / 1e9:,.2f} GB"
    if v >= 1e6:
        return f"{v / 1e6:,.1f} MB"
    return f"{v / 1e3:,.0f} kB"


def main():
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("chart")
    ap.add_argument("--maildir", help="the table scripts/bench-bulk.sh printed, and its load lines")
    ap.add_argument(
        "--readme",
        help="a Markdown file (docs/performance.md): the block between the bench-seed markers is replaced",
    )
    ap.add_argument(
        "--chart-link", default="bench-seed.svg", help="the chart's path, relative to --readme"
    )
    args = ap.parse_args()
    res_path, chart = args.results, args.chart
    lines = []

    def out(*parts, **_):
        lines.append(" ".join(str(p) for p in parts))

    with open(res_path) as f:
        res = json.load(f)
    meta = res["meta"]
    n = meta["n"]
    every = [Run(r, res["builds"], meta.get("lifecycle_ms", 0.0)) for r in res["runs"]]
    runs = [r for r in every if not r.r.get("tune")]
    tune_n = meta.get("tune_n", n)
    methods = meta.get("exim_methods", {})

    mib = 1 << 20
    out(
        f"\n**{n:,} messages, each to its own recipient with its own statement file** "
        f"(`statements/{{rcpt}}/statement-2026-11.pdf`; {meta['files']:,} distinct files, "
        f"{fmt_b(meta['attachment_bytes'])} in all, mean {meta['attachment_mean'] / 1e3:,.0f} kB, "
        f"largest {meta['attachment_max'] / mib:.2f} MiB). {meta['date']}, {meta['host']}, "
        f"{meta['cpus']} CPUs ({meta['cpu_model']}), {meta['mem_gib']} GiB; {meta['exim']}; "
        f"Postfix {meta['postfix'] or '-'}; {meta['mimeinject']} ({meta.get('commit', '?')}). Load average before "
        f"{meta['load_before']}, after {meta.get('load_after', '?')}"
        + (
            f"; CPU time stolen by the hypervisor {meta['steal_pct']:.1f}%"
            if "steal_pct" in meta
            else ""
        )
        + f". Command: `{meta['command']}`. One run of each.\n"
    )
    for line in res.get("skipped", []):
        out(f"- {line}")
    out(f"\n![Wall time per phase and CPU per message, per approach and MTA]({args.chart_link})")

    # --- 1. time ------------------------------------------------------------------------
    out(
        "\n| run | N | build | submit | deliver | whole pipeline | delivery: msg/s | delivery: GB/s | lost | sample byte-exact |"
    )
    out("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        c = r.r["check"]
        tot = sum(r.wall.values())
        d = r.wall["deliver"]
        out(
            f"| {r.label(methods)} | {r.n:,} | {fmt_s(r.wall['build'])} | {fmt_s(r.wall['submit'])} | "
            f"{fmt_s(d)} | **{fmt_s(tot)}** | {r.n / d:,.1f} | {r.bytes / d / 1e9:.3f} | "
            f"{c['lost']} | {c['sampled'] - c['sample_bad']}/{c['sampled']} |"
        )

    # --- 2. cost ------------------------------------------------------------------------
    out(
        "\n| run | N | CPU per message: application | MTA | mimeinject | spool after queueing "
        "| peak spool | peak RSS: mimeinject / MTA / application |"
    )
    out("|---|---|---|---|---|---|---|---|")
    for r in runs:
        per = {
            k: sum(r.cpu[p][k] for p in PHASES) / r.n * 1e3 for k in ("app", "mta", "mimeinject")
        }
        mi = f"{per['mimeinject']:.2f} ms" if per["mimeinject"] else "–"
        rss_mi = f"{r.rss['mimeinject'] / 1024:.1f} MB" if r.rss["mimeinject"] else "–"
        out(
            f"| {r.label(methods)} | {r.n:,} | {per['app']:.2f} ms | {per['mta']:.2f} ms | {mi} | "
            f"{fmt_b(r.spool)} | {fmt_b(r.spool_peak)} | {rss_mi} / {r.rss['mta'] / 1024:.1f} MB / "
            f"{r.rss['app'] / 1024:.1f} MB |"
        )
    out(
        "\nCPU per message over all three phases (build, submit, deliver); the sink's own CPU is "
        "not counted. Delivery CPU alone, per message:"
    )
    for r in runs:
        c = r.cpu["deliver"]
        harness = r.m["deliver"].get("harness_cpu_s")
        out(
            f"- {r.label(methods)}, {r.n:,}: MTA {c['mta'] / r.n * 1e3:.2f} ms, mimeinject "
            f"{c['mimeinject'] / r.n * 1e3:.2f} ms; on the same CPUs, outside the count: the sink "
            f"{r.r['sink']['cpu_s'] / r.n * 1e3:.2f} ms"
            + (
                f", the measuring process {harness / r.n * 1e3:.2f} ms"
                if harness is not None
                else ""
            )
        )

    out(
        f"\nmimeinject's share includes {meta.get('lifecycle_ms', 0):.3f} ms per process for the "
        "kernel's teardown after its exit record (measured on `mimeinject --version`)."
    )

    # --- exim's delivery methods (queue runners in parallel) ------------------------------
    tuned = [
        r for r in every if r.mta == "exim" and r.approach == "placeholder" and r.r.get("tune")
    ]
    by_method = {}
    for r in tuned:
        by_method.setdefault(r.method, []).append(r)
    if len(by_method) > 1:
        reps = max(len(v) for v in by_method.values())
        out(
            f"\n**exim: ways to run queue runners in parallel** ({tune_n:,} placeholder messages, "
            f"delivery phase, the same data and sink; median (min–max) of {reps} runs, taken round "
            "by round)\n"
        )
        out(
            "| method | runners | how | delivery | msg/s | SMTP connections | "
            "CPU per message: MTA / mimeinject | skipped as locked by the other runner |"
        )
        out("|---|---|---|---|---|---|---|---|")

        def med(values):
            v = sorted(values)
            k = len(v)
            return v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2

        medians = {}
        for m, rs in by_method.items():
            walls = [r.wall["deliver"] for r in rs]
            medians[m] = med(walls)
            mta = med([r.cpu["deliver"]["mta"] / r.n * 1e3 for r in rs])
            mi = med([r.cpu["deliver"]["mimeinject"] / r.n * 1e3 for r in rs])
            locked = med([r.r["log"].get("locked_skips", 0) for r in rs])
            conns = med([r.r["sink"]["connections"] for r in rs])
            out(
                f"| {m} | {rs[0].r['runners']} | {methods.get(m, '')} | {fmt_s(medians[m])} "
                f"({min(walls):.1f}–{max(walls):.1f}) | {tune_n / medians[m]:,.1f} | {conns:,.0f} | "
                f"{mta:.2f} / {mi:.2f} ms | {locked:,.0f} |"
            )
        if "q" in medians:
            two = {m: w for m, w in medians.items() if by_method[m][0].r["runners"] == 2}
            if two:
                best = min(two, key=two.get)
                out(
                    f"\nFastest with two runners here: {best} ({methods.get(best, '')}), "
                    f"{medians['q'] / two[best]:.2f}x the delivery rate of one `exim -q` (medians)."
                )

    # --- 3. pre-built: flat? then extrapolate --------------------------------------------
    extrapolated = {}
    groups = {}
    for r in runs:
        if r.approach == "prebuilt":
            groups.setdefault(r.key(), []).append(r)
    if groups:
        out(
            "\n**Pre-built messages: wall time per message at each size, and the extrapolation to "
            f"{n:,}** (linear from the largest size, only where the per-message time was flat "
            f"within {FLAT:.0%} between the two smallest sizes)\n"
        )
        out(
            "| run | phase | "
            + " | ".join(f"{r.n:,}" for r in sorted(next(iter(groups.values())), key=lambda r: r.n))
            + " | flat | at "
            + f"{n:,}"
            + " |"
        )
        out("|---|---|" + "---|" * (len(next(iter(groups.values()))) + 2))
    for key, rs in groups.items():
        rs.sort(key=lambda r: r.n)
        big = rs[-1]
        ext = {}
        for p in PHASES:
            per = [r.wall[p] / r.n for r in rs]
            flat = len(rs) >= 2 and abs(per[1] / per[0] - 1) <= FLAT
            if big.n == n:
                ext[p] = (big.wall[p], False)
                ratio = f"{per[1] / per[0]:.2f}, " if len(rs) >= 2 else ""
                flat_s, at = f"{ratio}measured at {n:,}", fmt_s(big.wall[p])
            elif flat:
                ext[p] = (big.wall[p] / big.n * n, True)
                flat_s, at = f"yes ({per[1] / per[0]:.2f})", fmt_s(ext[p][0])
            else:
                ext[p] = None
                flat_s = f"no ({per[1] / per[0]:.2f})" if len(rs) >= 2 else "one size only"
                at = "not extrapolated"
            cells = " | ".join(f"{v * 1e3:.1f} ms" for v in per)
            out(f"| {big.label(methods)} | {p} | {cells} | {flat_s} | {at} |")
        extrapolated[key] = (big, ext)

    # --- 4. placeholders against pre-built ------------------------------------------------
    pairs = []
    for r in runs:
        if r.approach != "placeholder" or r.n != n:
            continue
        pre_method = r.method if r.mta == "exim" else "plain"
        pre = extrapolated.get((r.mta, "prebuilt", pre_method))
        if pre:
            pairs.append((r, pre))
    if pairs:
        out(
            f"\n**Placeholders against pre-built messages, {n:,} messages** (ratios of wall times; "
            "pre-built extrapolated as above; > 1: placeholders faster)\n"
        )
        out(
            "| placeholders | dispatch (build + submit) | delivery | whole pipeline | spool after queueing |"
        )
        out("|---|---|---|---|---|")
        for r, (big, ext) in pairs:

            def ratio(ps):
                if any(ext[p] is None for p in ps):
                    return "–"
                pre = sum(ext[p][0] for p in ps)
                mine = sum(r.wall[p] for p in ps)
                star = "*" if any(ext[p][1] for p in ps) else ""
                return f"{pre / mine:.1f}x{star}"

            spool_pre = big.spool / big.n * n
            out(
                f"| {r.label(methods)} | {ratio(('build', 'submit'))} | {ratio(('deliver',))} | "
                f"**{ratio(PHASES)}** | {fmt_b(spool_pre)}{'*' if big.n != n else ''} vs {fmt_b(r.spool)} |"
            )
        if any(b.n != n for _, (b, _) in pairs):
            out(
                "\n\\* with pre-built figures extrapolated from "
                f"{max(b.n for _, (b, _) in pairs):,} messages."
            )

    # --- where placeholders cost more: per message, no extrapolation needed ---------------
    rows = []
    for r in runs:
        if r.approach != "placeholder" or r.n != n:
            continue
        pre = extrapolated.get((r.mta, "prebuilt", r.method if r.mta == "exim" else "plain"))
        if not pre:
            continue
        big = pre[0]
        w_ph, w_pre = r.wall["deliver"] / r.n * 1e3, big.wall["deliver"] / big.n * 1e3
        c_ph = (r.cpu["deliver"]["mta"] + r.cpu["deliver"]["mimeinject"]) / r.n * 1e3
        c_pre = (big.cpu["deliver"]["mta"] + big.cpu["deliver"]["mimeinject"]) / big.n * 1e3
        rows.append((r, big, w_ph, w_pre, c_ph, c_pre))
    if rows:
        out(
            "\n**Where placeholders cost more: delivery, per message** (placeholders at "
            f"{n:,}, pre-built at {rows[0][1].n:,}; the delivery does the expanding, so this is "
            "where the filter's work shows; ratio > 1: placeholders cost more)\n"
        )
        out(
            "| placeholders | delivery wall: placeholders / pre-built | delivery CPU (MTA + mimeinject): placeholders / pre-built |"
        )
        out("|---|---|---|")
        for r, big, w_ph, w_pre, c_ph, c_pre in rows:
            out(
                f"| {r.label(methods)} | {w_ph:.1f} / {w_pre:.1f} ms (**{w_ph / w_pre:.2f}**) | "
                f"{c_ph:.1f} / {c_pre:.1f} ms (**{c_ph / c_pre:.2f}**) |"
            )

    if args.maildir:
        with open(args.maildir) as f:
            text = f.read().strip()
        out(
            "\n**Delivery to a local maildir** (`scripts/bench-bulk.sh`, "
            "the article's scenario: every message with its own 5 MiB attachment, queued with "
            "`exim -odq` and delivered with `exim -qff` by appendfile; (a) built with Python's "
            "`email` package before queueing, (b) expanded by mimeinject as `transport_filter`). "
            "Both write the same bytes to the maildir, so the filter's extra work (its process, the "
            "pipe, exim's 8 KiB reads) shows in the delivery rows; (a)/(b) below 1 means "
            "placeholders cost more:"
        )
        out(text)

    print("\n".join(lines))
    if args.readme:
        with open(args.readme) as f:
            readme = f.read()
        begin, end = "<!-- bench-seed:begin -->", "<!-- bench-seed:end -->"
        a, b = readme.index(begin) + len(begin), readme.index(end)
        readme = readme[:a] + "\n" + "\n".join(lines).strip() + "\n" + readme[b:]
        with open(args.readme, "w") as f:
            f.write(readme)
        print(f"bench-seed block replaced in {args.readme}", file=sys.stderr)
    draw(chart, runs, extrapolated, n, meta, methods)


def draw(path, runs, extrapolated, n, meta, methods):
    import matplotlib

    matplotlib.use("agg")  # saves SVG or PNG by the extension
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "mimeinject"  # stable ids: the SVG diffs cleanly
    plt.rcParams["font.size"] = 9
    bars = []  # (label, {phase: seconds}, extrapolated?, {kind: CPU ms per message})

    def cpu_per_msg(r):
        return {
            k: sum(r.cpu[p][k] for p in PHASES) / r.n * 1e3 for k in ("app", "mta", "mimeinject")
        }

    for r in runs:
        if r.approach == "placeholder" and r.n == n:
            bars.append((r.label(methods), r.wall, False, cpu_per_msg(r)))
    for key, (big, ext) in extrapolated.items():
        if all(ext[p] is not None for p in PHASES):
            lab = big.label(methods)
            lab += f" (from {big.n:,})" if big.n != n else ""
            bars.append((lab, {p: ext[p][0] for p in PHASES}, big.n != n, cpu_per_msg(big)))
    if not bars:
        return
    left_out = [
        big.label(methods)
        for big, ext in extrapolated.values()
        if any(ext[p] is None for p in PHASES)
    ]
    order = {"exim": 0, "postfix": 1}
    bars.sort(key=lambda b: (order.get(b[0].split(",")[0].lower(), 2), "pre-built" in b[0], b[0]))
    phase_colours = {"build": "#8da0cb", "submit": "#fc8d62", "deliver": "#66c2a5"}
    kinds = (("app", "application (Python)"), ("mta", "MTA"), ("mimeinject", "mimeinject"))
    kind_colours = {"app": "#e78ac3", "mta": "#a6d854", "mimeinject": "#ffd92f"}
    fig, (ax, bx) = plt.subplots(
        1,
        2,
        figsize=(11, 0.42 * len(bars) + 1.9),
        sharey=True,
        gridspec_kw={"width_ratios": [3, 2]},
    )
    y = list(range(len(bars)))[::-1]
    for yi, (lab, walls, ext, cpu) in zip(y, bars):
        style = {"edgecolor": "#444444", "hatch": "///"} if ext else {"edgecolor": "white"}
        left = 0.0
        for p in PHASES:
            ax.barh(yi, walls[p], left=left, color=phase_colours[p], linewidth=0.5, **style)
            left += walls[p]
        ax.text(left, yi, f" {left:,.0f} s", va="center", fontsize=8)
        left = 0.0
        for k, _ in kinds:
            bx.barh(yi, cpu[k], left=left, color=kind_colours[k], linewidth=0.5, edgecolor="white")
            left += cpu[k]
        bx.text(left, yi, f" {left:,.1f} ms", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([b[0] for b in bars])
    ax.set_xlabel(f"wall time for {n:,} messages, s (hatched: pre-built, extrapolated)")
    bx.set_xlabel("CPU per message, all phases, ms")
    ax.legend(
        [plt.Rectangle((0, 0), 1, 1, color=phase_colours[p]) for p in PHASES],
        PHASES,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=3,
        frameon=False,
    )
    bx.legend(
        [plt.Rectangle((0, 0), 1, 1, color=kind_colours[k]) for k, _ in kinds],
        [t for _, t in kinds],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=3,
        frameon=False,
    )
    for a in (ax, bx):
        a.spines[["top", "right"]].set_visible(False)
    ax.set_xlim(0, max(sum(b[1].values()) for b in bars) * 1.15)
    bx.set_xlim(0, max(sum(b[3].values()) for b in bars) * 1.25)
    fig.suptitle(
        f"{n:,} messages, each with its own attachment (mean {meta['attachment_mean'] / 1e3:,.0f} kB, "
        f"up to {meta['attachment_max'] / (1 << 20):.1f} MiB), over SMTP to a loopback sink\n"
        f"{meta['date']}, {meta['cpus']} vCPUs, load {meta['load_before'].split()[0]} before, "
        f"{meta.get('load_after', '?').split()[0]} after; {meta['exim']}, Postfix {meta['postfix'] or '-'}",
        fontsize=9,
    )
    if left_out:
        fig.text(
            0.01,
            0.01,
            "Not drawn (a phase's time per message not flat between the two pre-built sizes, "
            "so not extrapolated; see the tables): " + "; ".join(left_out),
            fontsize=7,
            color="#555555",
        )
    fig.tight_layout(rect=(0, 0.04 if left_out else 0, 1, 1))
    fig.savefig(path, metadata={"Date": None})
    print(f"\nChart: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
