#!/usr/bin/env bash
# The bulk scenario of scripts/bench-bulk.sh through the project's private Postfix (the copy
# of scripts/install-postfix.sh), three ways, to the same next hop: a private Dovecot over
# LMTP, which writes each message into a maildir (NEXTHOP=dovecot, the default), or an LMTP
# server that reads each message and throws it away (NEXTHOP=discard,
# scripts/bench/lmtp_discard.py), which leaves the cost of the three paths alone.
#
#   (a) content filter: the template is queued; at delivery the pipe(8) content filter
#       (contrib/mimeinject-postfix-wrapper) expands it into a temporary file and re-injects
#       it with `sendmail -G -i`; Postfix queues the expanded copy and its lmtp(8) delivers it;
#   (b) mimeinject deliver: the template is queued; at delivery the pipe(8) transport of the
#       guide's recipe postfix/deliver-lmtp.master.cf expands it straight into the LMTP
#       transaction;
#   (c) pre-built: Python's email package builds each full message before submission; Postfix
#       queues it and its lmtp(8) delivers it.
#
# Submission: one SMTP session over the smtpd UNIX socket (scripts/bench/postfix_submit.py);
# smtpd puts every message on hold (check_sender_access static:HOLD), so submitting and
# delivering are measured apart. Delivery: `postsuper -H ALL` then `postqueue -f`, until the
# queue is empty and Dovecot holds N messages.
#
# Per phase: wall time; CPU (user+sys) and bytes written to storage (Linux's write_bytes: the
# bytes a process dirtied, queue files deleted before write-back included) of the client
# (GNU time), of the whole Postfix process tree and of Dovecot's. Postfix (its master in the
# foreground, without the start-up checks) and Dovecot are started before each phase and
# stopped after it; just before, scripts/bench/tree_usage.py sums their trees, reaped
# children included.
#
# Usage: scripts/bench-postfix.sh
# Environment:
#   N=200        messages per approach
#   FILES=200    distinct attachment files (5 MiB each); message i uses file i % FILES
#   ATT_SIZE     attachment size in bytes (default 5 MiB)
#   WORK         scratch directory (default: a new /tmp/mimeinject-bench-postfix.XXXXXX)
#   KEEP=1       keep WORK afterwards
#   NEXTHOP      dovecot (default) or discard
# Needs root, the Postfix of scripts/install-postfix.sh, Dovecot (dovecot-lmtpd), GNU time.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=$repo/scripts/bench
N=${N:-200}
FILES=${FILES:-200}
((FILES > N)) && FILES=$N
ATT_SIZE=${ATT_SIZE:-$((5 << 20))}
PREFIX=${MIMEINJECT_POSTFIX_PREFIX:-/opt/mimeinject-postfix}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
WORK=${WORK:-$(mktemp -d /tmp/mimeinject-bench-postfix.XXXXXX)}
mkdir -p "$WORK"
chmod 755 "$WORK"
BIN=$repo/target/$(rustc -vV | sed -n 's/^host: //p')/release/mimeinject # build-release.sh
TIMEFMT='%e %U %S %M %O'
NEXTHOP=${NEXTHOP:-dovecot}
[[ $NEXTHOP == dovecot || $NEXTHOP == discard ]] || { echo "NEXTHOP: dovecot or discard" >&2; exit 1; }

say() { printf '### %s\n' "$*" >&2; }
die() { printf 'bench-postfix: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (private Postfix and Dovecot)"
[[ -x $PREFIX/usr/sbin/postfix ]] || die "no Postfix in $PREFIX (run scripts/install-postfix.sh)"
[[ -x /usr/sbin/dovecot && -x /usr/lib/dovecot/lmtp ]] || die "apt-get install dovecot-lmtpd"
[[ -x /usr/bin/time ]] || die "apt-get install time"
[[ -d /etc/postfix ]] || die "/etc/postfix must exist (scripts/install-postfix.sh makes it)"

need=$((N * ATT_SIZE * 14 / 10 * 3 + FILES * ATT_SIZE))
avail=$(($(df --output=avail -B1 "$WORK" | tail -1)))
((avail > need)) || die "need about $((need >> 20)) MiB free in $WORK, have $((avail >> 20))"

say "building the release binary"
"$repo/scripts/build-release.sh" --quiet >/dev/null

mkdir -p "$WORK/root/att"
chmod 755 "$WORK/root" "$WORK/root/att"
say "generating $FILES attachment files of $ATT_SIZE B"
for ((k = 0; k < FILES; k++)); do
    f=$WORK/root/att/f$k.bin
    [[ -s $f ]] || "$PY" "$S/gen.py" random "$f" "$ATT_SIZE" $((1000 + k))
done
chmod 644 "$WORK"/root/att/*.bin

# The documentation's recipe (README.md, docs/*.md), as an admin would paste it.
recipe() {
    local text
    text=$(awk -v name="$1" '
        $0 == "<!-- recipe: " name " -->" { getline; on = 1; next }
        on && /^```/ { exit }
        on { print }' "$repo/README.md" "$repo"/docs/*.md)
    [[ -n $text ]] || die "no recipe $1 in README.md or docs/*.md"
    printf '%s\n' "$text"
}

# --- one private Postfix and one Dovecot per approach ------------------------------------
instance() { # name, mode (filter, deliver, plain)
    local d=$WORK/$1 mode=$2
    rm -rf "$d"
    mkdir -p "$d"/{conf,queue,data,log,tmp,bin,etc-postfix,dovecot/mail}
    chmod 755 "$d" "$d/bin"
    chown postfix "$d/data"
    # postsuper appends to maillog_file as the mail owner (else it fails, after a 1 s pause).
    install -o postfix -m 0644 /dev/null "$d/maillog"
    chown nobody:nogroup "$d/log" "$d/tmp" "$d/dovecot/mail"
    cp "$BIN" "$d/bin/mimeinject"
    cp "$repo/contrib/mimeinject-postfix-wrapper" "$d/bin/"
    chmod 755 "$d/bin/"*
    # The re-injecting sendmail of (a) runs as nobody and needs this (see postfix-observed.md).
    echo "alternate_config_directories = $d/conf" >"$d/etc-postfix/main.cf"
    : >"$d/etc-postfix/master.cf"
    local transport
    case $mode in
        deliver) transport=mimeinject-lmtp ;;
        *) transport=lmtp:unix:$d/dovecot/run/lmtp ;;
    esac
    cat >"$d/conf/main.cf" <<EOF
compatibility_level = 3.6
daemon_directory = $PREFIX/usr/lib/postfix/sbin
command_directory = $PREFIX/usr/sbin
shlib_directory = $PREFIX/usr/lib/postfix
meta_directory = $PREFIX/etc/postfix
sendmail_path = $PREFIX/usr/sbin/sendmail
newaliases_path = $PREFIX/usr/bin/newaliases
mailq_path = $PREFIX/usr/bin/mailq
manpage_directory = $PREFIX/usr/share/man
sample_directory = no
readme_directory = no
html_directory = no
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.test
mydomain = bench.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_banner = \$myhostname ESMTP
default_transport = error:the bench instance does not relay
relay_transport = error:the bench instance does not relay
content_filter =
virtual_mailbox_domains = example.test
virtual_mailbox_maps = static:example.test/user/Maildir/
virtual_transport = $transport
message_size_limit = 0
mailbox_size_limit = 0
virtual_mailbox_limit = 0
maillog_file = $d/maillog
maillog_file_prefixes = $d
queue_run_delay = 1h
minimal_backoff_time = 1h
maximal_backoff_time = 2h
EOF
    {
        echo "bench-smtpd unix n      -       n       -       -       smtpd"
        echo "  -o smtpd_sender_restrictions=check_sender_access,static:HOLD"
        [[ $mode == filter ]] && echo "  -o content_filter=mimeinject:dummy"
        true
    } >"$d/conf/master.cf"
    cat >>"$d/conf/master.cf" <<EOF
pickup    unix  n       -       n       60      1       pickup
  -o content_filter=
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    case $mode in
        filter)
            # The guide's content filter (docs/postfix.md), as the tests run it (testdata/postfix/master.cf.in).
            cat >>"$d/conf/master.cf" <<EOF
mimeinject unix -       n       n       -       10      pipe
  flags=Rq user=nobody null_sender=
  argv=/usr/bin/env MIMEINJECT_ROOT=$WORK/root
    MIMEINJECT=$d/bin/mimeinject MIMEINJECT_LOG=$d/log/mimeinject.log
    MIMEINJECT_TMPDIR=$d/tmp SENDMAIL=$PREFIX/usr/sbin/sendmail
    $d/bin/mimeinject-postfix-wrapper -f \${sender} -- \${recipient}
EOF
            ;;
        deliver)
            recipe postfix/deliver-lmtp.main.cf >>"$d/conf/main.cf"
            recipe postfix/deliver-lmtp.master.cf |
                sed -e "s|/usr/local/bin/mimeinject|$d/bin/mimeinject|" \
                    -e "s|user=mimeinject|user=nobody|" \
                    -e "s|/srv/mail-attachments|$WORK/root|" \
                    -e "s|/var/log/mimeinject/deliver.log|$d/log/mimeinject.log|" \
                    -e "s|lmtp:unix:/run/dovecot/lmtp|lmtp:unix:$d/dovecot/run/lmtp|" \
                    >>"$d/conf/master.cf"
            grep -q "$d/bin/mimeinject deliver" "$d/conf/master.cf" || die "recipe not applied"
            ;;
    esac
    # Creates the queue directories once, so that each phase can skip the checks.
    "$PREFIX/usr/sbin/postfix" -c "$d/conf" check >>"$d/postfix.out" 2>&1 ||
        die "($1) postfix check failed: $(cat "$d/postfix.out")"
    cat >"$d/dovecot/dovecot.conf" <<EOF
base_dir = $d/dovecot/run
state_dir = $d/dovecot/state
log_path = $d/dovecot/dovecot.log
protocols = lmtp
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:$d/dovecot/mail/%d/%n/Maildir
first_valid_uid = 1
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$d/dovecot/mail/%d/%n allow_all_users=yes
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
}

# --- running the daemons ----------------------------------------------------------------
# Postfix's master in the foreground, in a mount namespace where /etc/postfix holds the
# alternate_config_directories line (for (a)'s re-injection); start-up checks skipped
# (quick-start), so a phase's figures are its work and the daemons' start.
postfix_up() { # name
    local d=$WORK/$1
    : >"$d/queue/quick-start"
    # Sockets and the PID file of the previous phase would pass for a running master.
    rm -f "$d/queue/pid/master.pid" "$d"/queue/public/* "$d"/queue/private/*
    unshare --mount --propagation private sh -c \
        "mount --bind '$d/etc-postfix' /etc/postfix &&
         exec '$PREFIX/usr/sbin/postfix' -c '$d/conf' start-fg" \
        >>"$d/postfix.out" 2>&1 &
    echo $! >"$d/postfix.rootpid"
    local t=0
    until [[ -S $d/queue/public/bench-smtpd && -S $d/queue/public/flush &&
        -e $d/queue/public/qmgr && -s $d/queue/pid/master.pid ]]; do
        sleep 0.05
        ((++t < 400)) || die "($1) postfix did not start: $(cat "$d/postfix.out")"
    done
}

postfix_down() { # name
    local d=$WORK/$1 pid
    pid=$(tr -dc 0-9 <"$d/queue/pid/master.pid")
    kill -TERM "$pid"
    wait "$(cat "$d/postfix.rootpid")" || true
}

dovecot_up() { # name
    local d=$WORK/$1
    if [[ $NEXTHOP == discard ]]; then
        mkdir -p "$d/dovecot/run"
        "$PY" "$S/lmtp_discard.py" "$d/dovecot/run/lmtp" "$d/dovecot" >>"$d/dovecot.out" 2>&1 &
    else
        /usr/sbin/dovecot -F -c "$d/dovecot/dovecot.conf" >>"$d/dovecot.out" 2>&1 &
    fi
    echo $! >"$d/dovecot.rootpid"
    local t=0
    until [[ -S $d/dovecot/run/lmtp ]]; do
        sleep 0.05
        ((++t < 400)) || die "($1) dovecot did not start: $(cat "$d/dovecot.out")"
    done
}

dovecot_down() { # name
    local d=$WORK/$1 pid
    if [[ $NEXTHOP == discard ]]; then
        pid=$(cat "$d/dovecot.rootpid")
    else
        pid=$(tr -dc 0-9 <"$d/dovecot/run/master.pid")
    fi
    kill -TERM "$pid"
    wait "$(cat "$d/dovecot.rootpid")" || true
}

usage() { # name, phase, root PIDs...: appends "CPU_SECONDS WRITE_BYTES" of the daemons
    local name=$1 phase=$2
    shift 2
    "$PY" "$S/tree_usage.py" "$@" >>"$WORK/$name.$phase.usage"
}

queue_count() { # name: messages anywhere in Postfix's queue
    local q=$WORK/$1/queue
    (find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" "$q/hold" -type f 2>/dev/null || true) | wc -l
}

now() { date +%s.%N; }

run() { # name, mode, submit mode
    local name=$1 mode=$2 submit=$3 d=$WORK/$1
    instance "$name" "$mode"
    : >"$WORK/$name.submit.times"
    : >"$WORK/$name.submit.usage"
    : >"$WORK/$name.deliver.times"
    : >"$WORK/$name.deliver.usage"

    say "($name) submit $N messages ($submit)"
    postfix_up "$name"
    sync
    local t0 t1
    t0=$(now)
    /usr/bin/time -a -o "$WORK/$name.submit.times" -f "$TIMEFMT" \
        "$PY" "$S/postfix_submit.py" "$submit" 0 "$N" "$FILES" "$d/queue/public/bench-smtpd" "$WORK/root"
    t1=$(now)
    local held
    held=$(find "$d/queue/hold" -type f | wc -l)
    [[ $held == "$N" ]] || die "($name) $held of $N messages on hold: $(tail -3 "$d/maillog")"
    usage "$name" submit "$(cat "$d/postfix.rootpid")"
    postfix_down "$name"
    echo "$t0 $t1" >"$WORK/$name.submit.wall"
    du -sb "$d/queue/hold" | cut -f1 >"$WORK/$name.spool"

    say "($name) deliver"
    sync
    dovecot_up "$name"
    postfix_up "$name"
    t0=$(now)
    "$PREFIX/usr/sbin/postsuper" -c "$d/conf" -H ALL >>"$d/postfix.out" 2>&1
    "$PREFIX/usr/sbin/postqueue" -c "$d/conf" -f
    local maildir=$d/dovecot/mail/example.test/user/Maildir/new waited=0
    while :; do
        # Final deliveries: every status=sent but the content filter's own.
        local got
        got=$(grep 'status=sent' "$d/maillog" | grep -vc 'relay=mimeinject,' || true)
        [[ $got == "$N" && $(queue_count "$name") == 0 ]] && break
        if grep -q 'status=deferred\|status=bounced' "$d/maillog"; then
            die "($name) a delivery failed: $(grep -m3 'status=deferred\|status=bounced' "$d/maillog")"
        fi
        sleep 0.05
        ((++waited < 12000)) || die "($name) not delivered within 600 s"
    done
    t1=$(now)
    usage "$name" deliver "$(cat "$d/postfix.rootpid")" "$(cat "$d/dovecot.rootpid")"
    postfix_down "$name"
    dovecot_down "$name"
    echo "$t0 $t1" >"$WORK/$name.deliver.wall"
    # One delivered message checked like a mail client would.
    local sample k
    if [[ $NEXTHOP == discard ]]; then
        sample=$d/dovecot/first.eml
        [[ $(cat "$d/dovecot/count") == "$N" ]] || die "($name) the next hop got $(cat "$d/dovecot/count")"
    else
        [[ $(find "$maildir" -type f | wc -l) == "$N" ]] || die "($name) not $N in the maildir"
        sample=$(find "$maildir" -type f -print -quit)
    fi
    k=$(sed -n 's/^Content-Disposition: attachment; filename="statement-\([0-9]*\)\.pdf".*/\1/p' "$sample" | head -1)
    "$PY" "$repo/scripts/mime_check.py" "$sample" "statement-$k.pdf=$WORK/root/att/f$((k % FILES)).bin" >&2
}

# Whatever happens, no daemon of this run is left behind (stopped by their PIDs).
cleanup() {
    local d f pid
    for d in "$WORK"/a "$WORK"/b "$WORK"/c; do
        [[ -d $d ]] || continue
        for f in "$d/queue/pid/master.pid" "$d/dovecot/run/master.pid" "$d/dovecot.rootpid"; do
            [[ -f $f ]] || continue
            pid=$(tr -dc 0-9 <"$f" 2>/dev/null || true)
            [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
        done
    done
    [[ ${KEEP:-} == 1 ]] || rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

say "host: $(uname -srm), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run a filter template
run b deliver template
run c plain built
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ------------------------------------------------------------------------------
"$PY" - "$WORK" "$N" "$ATT_SIZE" "$NEXTHOP" <<'EOF'
import sys

work, n, att = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def phase(name, which):
    t0, t1 = map(float, open(f"{work}/{name}.{which}.wall").read().split())
    # The client (GNU time: wall user sys maxrss outputs), then the daemons' trees.
    rows = [list(map(float, l.split())) for l in open(f"{work}/{name}.{which}.times") if l[:1].isdigit()]
    daemons = [list(map(float, l.split())) for l in open(f"{work}/{name}.{which}.usage") if l.strip()]
    cpu = sum(r[1] + r[2] for r in rows) + sum(r[0] for r in daemons)
    written = sum(r[4] for r in rows) * 512 + sum(r[1] for r in daemons)
    return {"wall": t1 - t0, "cpu": cpu, "written": written}


names = {"a": "(a) content filter", "b": "(b) mimeinject deliver", "c": "(c) pre-built"}
P = {k: {w: phase(k, w) for w in ("submit", "deliver")} for k in names}
spool = {k: int(open(f"{work}/{k}.spool").read()) for k in names}

hop = {"dovecot": "to Dovecot", "discard": "to an LMTP server that discards them"}[sys.argv[4]]
print(f"\n**Postfix, {n} messages with a {att} B attachment each, delivered over LMTP {hop}**\n")
print("| | " + " | ".join(names.values()) + " |")
print("|---|---|---|---|")


def row(label, f):
    print(f"| {label} | " + " | ".join(f(k) for k in names) + " |")


for w in ("submit", "deliver"):
    row(f"{w}: wall", lambda k: f"{P[k][w]['wall']:.2f} s, **{n / P[k][w]['wall']:.1f} msg/s**")
    row(f"{w}: CPU (user+sys)", lambda k: f"{P[k][w]['cpu']:.1f} s")
    row(f"{w}: written", lambda k: f"{P[k][w]['written'] / 1e9:.2f} GB")
tot = {k: P[k]["submit"]["wall"] + P[k]["deliver"]["wall"] for k in names}
row("**submit and deliver: wall**", lambda k: f"{tot[k]:.2f} s, **{n / tot[k]:.1f} msg/s**")
row("submit and deliver: CPU", lambda k: f"{P[k]['submit']['cpu'] + P[k]['deliver']['cpu']:.1f} s")
row("queue after submission", lambda k: f"{spool[k] / 1e6:,.2f} MB")

d = {k: P[k]["deliver"]["wall"] for k in names}
goals = [
    ("delivery: (b) at least 5x faster than (a)", d["a"] / d["b"], ">=", 5.0),
    ("delivery: (b) within 1.3x of (c)", d["b"] / d["c"], "<=", 1.3),
    ("submit and deliver: (b) at least 5x faster than (c)", tot["c"] / tot["b"], ">=", 5.0),
]
print("\n| goal | ratio | |\n|---|---|---|")
for label, r, op, bar in goals:
    ok = r >= bar if op == ">=" else r <= bar
    print(f"| {label} | {r:.2f} | {'met' if ok else 'MISSED'} |")
EOF
