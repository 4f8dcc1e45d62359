#!/usr/bin/env bash
# The seed's scenario at the seed's scale: N messages (20,000 by default), each with its own
# statement file (per-recipient path `statements/{rcpt}/...`, sizes in a mix of 30 kB to
# 5 MiB, scripts/bench/seed_data.py), all queued at once, then delivered over SMTP to a
# loopback sink that counts them and checks a sample byte for byte.
#
#   exim (a private exim 4, `exim -C`): the placeholder message through mimeinject as the smtp
#        transport's transport_filter (the guide's recipe), with the delivery methods in
#        EXIM_METHODS (1 and 2 queue runners); and the pre-built message (Python's email
#        package builds it before queueing) at the sizes in PREBUILT_N;
#   Postfix (the unpacked copy of scripts/install-postfix.sh): the pipe(8) content filter
#        (contrib/mimeinject-postfix-wrapper), `mimeinject deliver` as the pipe(8) transport
#        when the binary has that subcommand (skipped with a line saying so when not), and
#        the pre-built message at the sizes in PREBUILT_N.
#
# Phases: build (the application writes the messages), submit (SMTP, a session per 1,000
# messages, exim's default smtp_accept_max_per_connection: `exim -bs`,
# or Postfix's smtpd, which holds them), deliver (exim's queue runners; Postfix released
# with postsuper -H ALL). Each is measured with scripts/bench/measure.py: wall time, CPU of the
# whole process tree (a cpuacct cgroup), CPU and peak RSS per program (taskstats exit
# records: exim, Postfix's daemons, mimeinject, the Python client). Then a check: every
# recipient received exactly one message (none lost or doubled), nothing left in the queue, no
# deferral in the MTA's log, and every sampled message's attachment decodes to exactly its
# recipient's file.
#
# Prints the tables (scripts/bench/seed_report.py) and writes the chart to CHART. Then runs the
# maildir scenario of scripts/bench-bulk.sh (MAILDIR_N), whose table is printed with the rest.
#
# Usage: scripts/bench-seed.sh
# Environment:
#   N=20000            placeholder messages per run
#   PREBUILT_N="200 2000"  sizes of the pre-built runs (those above N are skipped)
#   EXIM_METHODS="q q2"    exim delivery methods, each a run (scripts/bench/seed.py lists
#                      them: q, q2, qq, qq2, split2, ramp, daemon2)
#   PREBUILT_METHODS   the same for the pre-built runs (default: EXIM_METHODS)
#   TUNE_N=2000 TUNE_METHODS="q q2 split2 daemon2 qq" TUNE_REPEAT=3
#                      the comparison of ways to run queue runners in parallel (placeholders),
#                      each method TUNE_REPEAT times, round by round
#   MTAS="exim postfix"  POSTFIX_MODES="filter deliver"
#   FILES=N            distinct attachment contents (hard links beyond)
#   SAMPLE_EVERY       keep and check every K-th message of each run (default: every
#                      (run's N)/50-th, at most every 100th: 200 of 20,000, 50 of 2,000)
#   MAILDIR_N=200      also run scripts/bench-bulk.sh with this N (the maildir scenario, where
#                      placeholders lose; 5 MiB per message); 0 skips it
#   CHART              the SVG written (default WORK/seed.svg)
#   DOCS=1             write the tables into docs/performance.md (between the bench-seed
#                      markers) and the chart to docs/bench-seed.svg (README=1, its older
#                      name, does the same)
#   MIMEINJECT_BIN     the binary (default: built with scripts/build-release.sh)
#   WORK               scratch directory (default a new /tmp/mimeinject-seed.XXXXXX)
#   KEEP=1             keep WORK (runs, built messages) afterwards
# Needs root (private exim and Postfix, cgroups, taskstats), exim4-daemon-light, python3,
# python3-matplotlib; for Postfix scripts/install-postfix.sh.
set -euo pipefail

# The command as given, with the settings that were set, for the report.
given=""
for v in N PREBUILT_N EXIM_METHODS PREBUILT_METHODS TUNE_N TUNE_METHODS TUNE_REPEAT MTAS POSTFIX_MODES FILES \
    SAMPLE_EVERY MAILDIR_N DOCS README; do
    [[ -n ${!v+x} ]] && given+="$v=\"${!v}\" "
done
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=$repo/scripts/bench
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
export PYTHONDONTWRITEBYTECODE=1  # the helpers import each other; no __pycache__ in the tree
export N=${N:-20000}
export PREBUILT_N=${PREBUILT_N:-"200 2000"}
MAILDIR_N=${MAILDIR_N:-200}
WORK=${WORK:-$(mktemp -d /tmp/mimeinject-seed.XXXXXX)}
export WORK
CHART=${CHART:-$WORK/seed.svg}

die() { printf 'bench-seed: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (private exim and Postfix, cgroups, taskstats)"
[[ -x /usr/sbin/exim4 ]] || die "exim not installed (apt-get install exim4-daemon-light)"
"$PY" -c 'import matplotlib' 2>/dev/null || die "matplotlib missing (apt-get install python3-matplotlib)"
[[ -d /sys/fs/cgroup/cpuacct ]] || die "no cgroup v1 cpuacct hierarchy at /sys/fs/cgroup/cpuacct"

mkdir -p "$WORK"
# Disk: the files (mean 0.37 MB), and for the largest pre-built run the built messages,
# the spool and Postfix's re-queued copies (about 0.5 MB each), with 1 GB to spare.
largest=0
for n in $PREBUILT_N; do ((n <= N && n > largest)) && largest=$n; done
need=$((N * 370000 + largest * 500000 * 3 + (1 << 30)))
avail=$(($(df --output=avail -B1 "$WORK" | tail -1)))
((avail > need)) || die "need about $((need >> 20)) MiB free in $WORK, have $((avail >> 20))"

if [[ -z ${MIMEINJECT_BIN:-} ]]; then
    printf '### building the release binary\n' >&2
    MIMEINJECT_BIN=$("$repo/scripts/build-release.sh" --quiet)
fi
export MIMEINJECT_BIN
export BENCH_COMMAND="${given}scripts/bench-seed.sh"

start=$(date +%s)
"$PY" "$S/seed.py"

report=("$WORK/results.json" "$CHART")
if ((MAILDIR_N > 0)); then
    # bench-bulk.sh's own scenario; its WORK, KEEP and FILES are its own (it removes its WORK).
    printf '### the maildir scenario: scripts/bench-bulk.sh with N=%d\n' "$MAILDIR_N" >&2
    env -u WORK -u KEEP -u FILES -u BATCH N="$MAILDIR_N" "$repo/scripts/bench-bulk.sh" \
        >"$WORK/maildir.md" 2>"$WORK/maildir.log" || die "bench-bulk.sh failed: $(tail -5 "$WORK/maildir.log")"
    sed -n 's/^### load average \(before\|after\): /Load average \1: /p' "$WORK/maildir.log" \
        | paste -sd ';' | sed 's/;/; /; s/$/. Command: `N='"$MAILDIR_N"' scripts\/bench-bulk.sh`./' >>"$WORK/maildir.md"
    report+=(--maildir "$WORK/maildir.md")
fi
if [[ ${DOCS:-} == 1 || ${README:-} == 1 ]]; then
    report+=(--readme "$repo/docs/performance.md" --chart-link bench-seed.svg)
fi
"$PY" "$S/seed_report.py" "${report[@]}"
if [[ ${DOCS:-} == 1 || ${README:-} == 1 ]]; then
    cp "$CHART" "$repo/docs/bench-seed.svg"
    printf '### docs/performance.md and docs/bench-seed.svg updated\n' >&2
fi
printf '### done in %d s; results in %s, chart in %s\n' $(($(date +%s) - start)) "$WORK/results.json" "$CHART" >&2
if [[ ${KEEP:-} != 1 ]]; then
    # The results and the chart stay; the files and the runs go.
    rm -rf "${WORK:?}/root" "${WORK:?}/run" "${WORK:?}/build" "${WORK:?}/bin"
fi
