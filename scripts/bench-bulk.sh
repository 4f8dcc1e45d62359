#!/usr/bin/env bash
# The origin article's scenario through a real exim: N messages, each with its own 5 MiB
# attachment, delivered to a maildir.
#
#   (a) build before queueing: Python's email package builds each full message (7 MB
#       encoded), it is queued (exim -odq), then delivered (exim -qff) to the maildir;
#   (b) mimeinject: the small template is queued, and delivered through mimeinject as the
#       appendfile transport's transport_filter.
#
# For each: wall time, CPU time (user + system of every process, GNU time), bytes in the
# spool after queueing, bytes delivered, peak RSS of the largest process, and the (a)/(b)
# ratios. Runs as root (a private exim with -C, its own spool; the system exim is not used).
#
# Usage: scripts/bench-bulk.sh
# Environment:
#   N=200        messages per approach (up to 20000)
#   BATCH=200    messages queued and delivered per round; delivered mail is removed after
#                each round so that disk use stays at about 3 x BATCH x 7 MB
#   FILES=200    distinct attachment files (5 MiB each); message i uses file i % FILES
#   ATT_SIZE     attachment size in bytes (default 5 MiB)
#   WORK         scratch directory (default: a new /tmp/mimeinject-bulk.XXXXXX)
#   KEEP=1       keep WORK afterwards
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=$repo/scripts/bench
N=${N:-200}
BATCH=${BATCH:-200}
FILES=${FILES:-200}
((FILES > N)) && FILES=$N
ATT_SIZE=${ATT_SIZE:-$((5 << 20))}
EXIM=/usr/sbin/exim4
EXIM_USER=Debian-exim
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
WORK=${WORK:-$(mktemp -d /tmp/mimeinject-bulk.XXXXXX)}
mkdir -p "$WORK"
chmod 755 "$WORK"
BIN=$repo/target/$(rustc -vV | sed -n 's/^host: //p')/release/mimeinject   # scripts/build-release.sh

say() { printf '### %s\n' "$*" >&2; }

[[ $(id -u) == 0 ]] || { echo "run as root (private exim with -C)" >&2; exit 1; }
[[ -x $EXIM ]] || { echo "exim not installed (apt-get install exim4-daemon-light)" >&2; exit 1; }
id "$EXIM_USER" >/dev/null

need=$(( (BATCH < N ? BATCH : N) * ATT_SIZE * 14 / 10 * 3 + FILES * ATT_SIZE ))
avail=$(( $(df --output=avail -B1 "$WORK" | tail -1) ))
((avail > need)) || { echo "need about $((need >> 20)) MiB free in $WORK, have $((avail >> 20))" >&2; exit 1; }

say "building the release binary"
"$repo/scripts/build-release.sh" --quiet >/dev/null

# --- attachment files, readable by the exim user ------------------------------------------
mkdir -p "$WORK/root/att"
chmod 755 "$WORK/root" "$WORK/root/att"
say "generating $FILES attachment files of $ATT_SIZE B"
for ((k = 0; k < FILES; k++)); do
    f=$WORK/root/att/f$k.bin
    [[ -s $f ]] || "$PY" "$S/gen.py" random "$f" "$ATT_SIZE" $((1000 + k))
done
chmod 644 "$WORK"/root/att/*.bin

# --- one private exim instance per approach ------------------------------------------------
instance() { # name, transport_filter line (may be empty)
    local d=$WORK/$1 sub
    rm -rf "$d"
    mkdir -p "$d"
    chmod 755 "$d"
    for sub in spool log mail; do
        mkdir -p "$d/$sub"
        chown "$EXIM_USER:$EXIM_USER" "$d/$sub"
    done
    cat >"$d/exim.conf" <<EOF
primary_hostname = bench.test
qualify_domain = example.test
spool_directory = $d/spool
log_file_path = $d/log/%slog
keep_environment =
exim_path = $EXIM
message_size_limit = 0

begin routers

deliver:
  driver = accept
  domains = example.test
  local_parts = user
  transport = t_deliver

begin transports

t_deliver:
  driver = appendfile
  maildir_format = true
  directory = $d/mail/\${local_part_data}/Maildir
  create_directory = true
  user = $EXIM_USER
  group = $EXIM_USER
  return_path_add
  envelope_to_add
  delivery_date_add
$2

begin retry

* * F,1h,1h
EOF
}
instance a ""
instance b "  transport_filter = $BIN --root $WORK/root --no-syslog
  transport_filter_timeout = 60s"

# GNU time of one phase: appends "wall user sys maxrss_kb" to $WORK/<name>.times
timed() {
    local name=$1
    shift
    /usr/bin/time -a -o "$WORK/$name.times" -f '%e %U %S %M' "$@"
}

run() { # name (a or b), mode for bulk_submit.py
    local name=$1 mode=$2 d=$WORK/$1 first=0 count
    local conf=$d/exim.conf
    : >"$WORK/$name.times"
    : >"$WORK/$name.spool"
    : >"$WORK/$name.mail"
    while ((first < N)); do
        count=$((N - first < BATCH ? N - first : BATCH))
        say "($name) queue messages $first..$((first + count - 1)) ($mode)"
        timed "$name" "$PY" "$S/bulk_submit.py" "$mode" "$first" "$count" "$FILES" \
            "$EXIM" "$conf" "$WORK/root"
        du -sb "$d/spool/input" | cut -f1 >>"$WORK/$name.spool"
        say "($name) deliver (exim -qff)"
        timed "$name" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$EXIM" -C "$conf" -qff
        local queued
        queued=$("$EXIM" -C "$conf" -bpc)
        [[ $queued == 0 ]] || {
            echo "($name) $queued messages still queued:" >&2
            tail -5 "$d/log/mainlog" >&2
            exit 1
        }
        local delivered
        delivered=$(find "$d/mail/user/Maildir/new" -type f | wc -l)
        [[ $delivered == "$count" ]] || { echo "($name) delivered $delivered of $count" >&2; exit 1; }
        # Check one delivered message per round like a mail client would.
        local sample k
        sample=$(find "$d/mail/user/Maildir/new" -type f -print -quit)
        k=$(sed -n 's/^Content-Disposition: attachment; filename="statement-\([0-9]*\)\.pdf".*/\1/p' "$sample" | head -1)
        "$PY" "$repo/scripts/mime_check.py" "$sample" \
            "statement-$k.pdf=$WORK/root/att/f$((k % FILES)).bin" >&2
        du -sb "$d/mail/user/Maildir/new" | cut -f1 >>"$WORK/$name.mail"
        rm -f "$d"/mail/user/Maildir/new/*
        first=$((first + count))
    done
}

sync
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run a built
sync
run b template
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- report --------------------------------------------------------------------------------
"$PY" - "$WORK" "$N" "$ATT_SIZE" <<'EOF'
import sys

work, n, att = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def load(name):
    phases = [list(map(float, l.split())) for l in open(f"{work}/{name}.times") if l.strip()]
    # Alternating rows: queue, deliver (per batch).
    q = [p for i, p in enumerate(phases) if i % 2 == 0]
    d = [p for i, p in enumerate(phases) if i % 2 == 1]
    spool = sum(int(l) for l in open(f"{work}/{name}.spool") if l.strip())
    mail = sum(int(l) for l in open(f"{work}/{name}.mail") if l.strip())

    def tot(rows):
        return (
            sum(r[0] for r in rows),
            sum(r[1] + r[2] for r in rows),
            max(r[3] for r in rows) / 1024,
        )

    return tot(q), tot(d), spool, mail


a, b = load("a"), load("b")
print(f"\n**Bulk delivery through exim 4 to a maildir: {n} messages, {att} B attachment each**\n")
print("| | (a) build before queueing | (b) mimeinject at delivery | (a)/(b) |")
print("|---|---|---|---|")


def row(label, fa, fb, fmt):
    r = f"{fa / fb:.1f}" if fb else "–"
    print(f"| {label} | {fmt(fa)} | {fmt(fb)} | {r} |")


s = lambda v: f"{v:.1f} s"
mb = lambda v: f"{v / 1e6:,.2f} MB"
kb = lambda v: f"{v:.1f} MB"
row("queueing: wall", a[0][0], b[0][0], s)
row("queueing: CPU (user+sys)", a[0][1], b[0][1], s)
row("queueing: peak RSS (largest process)", a[0][2], b[0][2], kb)
row("delivery: wall", a[1][0], b[1][0], s)
row("delivery: CPU (user+sys)", a[1][1], b[1][1], s)
row("delivery: peak RSS (largest process)", a[1][2], b[1][2], kb)
row("**total wall**", a[0][0] + a[1][0], b[0][0] + b[1][0], s)
row("**total CPU**", a[0][1] + a[1][1], b[0][1] + b[1][1], s)
row("bytes in the spool after queueing", a[2], b[2], mb)
row("bytes delivered to the maildir", a[3], b[3], mb)
print(
    f"\nPer message: (a) {(a[0][0] + a[1][0]) / n * 1e3:.1f} ms, (b) {(b[0][0] + b[1][0]) / n * 1e3:.1f} ms wall."
)
EOF
[[ ${KEEP:-} == 1 ]] || rm -rf "$WORK"
