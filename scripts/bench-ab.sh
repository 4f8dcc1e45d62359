#!/usr/bin/env bash
# Before/after comparison of two mimeinject binaries on the two inputs that matter most for a
# change of the core or the drivers: a 100 MB message without placeholders (passthrough) and
# a 2 KB message with one 5 MiB attachment. The two binaries run alternately, round by round
# (scripts/bench/paired.py), each through a pipe into cat as an MTA reads a filter; per round
# the new binary's wall time is divided by the old one's, and the median of those ratios,
# with its quartiles, is printed together with each binary's own median and spread.
#
# Usage: scripts/bench-ab.sh OLD_BINARY NEW_BINARY
# Environment: WORK (scratch directory, default a new /tmp/mimeinject-ab.XXXXXX; reuse one to
# keep the generated inputs), PAIRS (rounds, default 15 for 100 MB and 4x that for 5 MiB).
# Needs python3. Writes nothing into the repository.
set -euo pipefail

[[ $# == 2 ]] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 64; }
old=$(realpath "$1") new=$(realpath "$2")
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=$repo/scripts/bench
WORK=${WORK:-$(mktemp -d /tmp/mimeinject-ab.XXXXXX)}
PAIRS=${PAIRS:-15}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
D=$WORK/data
mkdir -p "$D/root"
gen() { [[ -s $1 ]] || "$PY" "$S/gen.py" "${@:2}"; }
gen "$D/root/a5.bin" random "$D/root/a5.bin" $((5 << 20)) 5
gen "$D/t5.eml" template "$D/t5.eml" a5.bin
gen "$D/pass100.eml" passthrough "$D/pass100.eml" 100000000

# The benchmarks go past the default limits on purpose (a 100 MB passthrough): lift them.
opts="--root $D/root --no-syslog --max-attachment-size 18446744073709551615 --max-output-size 18446744073709551615"
# Both binaries must give the same bytes before anything is timed.
for input in pass100 t5; do
    cmp <("$old" $opts <"$D/$input.eml") <("$new" $opts <"$D/$input.eml") ||
        { echo "bench-ab: the two binaries differ on $input.eml" >&2; exit 1; }
done
cmp "$D/pass100.eml" <("$new" $opts <"$D/pass100.eml")

echo "host: $(uname -srm), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for input in pass100:$PAIRS t5:$((PAIRS * 4)); do
    name=${input%%:*} pairs=${input#*:}
    "$PY" "$S/paired.py" --shell --pairs "$pairs" --json "$WORK/$name.json" \
        -n old "$old $opts < $D/$name.eml | cat >/dev/null" \
        -n new "$new $opts < $D/$name.eml | cat >/dev/null"
    "$PY" - "$WORK/$name.json" "$name" "$pairs" <<'PYEOF'
import json, statistics, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
def q(xs):
    xs = sorted(xs); n = len(xs)
    return xs[n // 4], statistics.median(xs), xs[(3 * n) // 4]
label = {"pass100": "100 MB passthrough", "t5": "5 MiB attachment"}[sys.argv[2]]
o, n = r["old"], r["new"]
lo, med, hi = q(n["paired"])
print(f"{label}, {sys.argv[3]} rounds: old {statistics.median(o['times'])*1e3:.1f} ms "
      f"(min {o['min']*1e3:.1f}, max {o['max']*1e3:.1f}), new {statistics.median(n['times'])*1e3:.1f} ms "
      f"(min {n['min']*1e3:.1f}, max {n['max']*1e3:.1f}); new/old paired median {med:.3f} "
      f"(quartiles {lo:.3f} to {hi:.3f})")
PYEOF
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
