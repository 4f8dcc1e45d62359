#!/usr/bin/env bash
# Whole-process benchmarks of the mimeinject binary against cat, base64 -w 76, the origin
# article's PHP filter and a hand-written Python `email` filter, side by side (hyperfine),
# plus the F_SETPIPE_SZ comparison against an exim-like 8 KiB reader, peak RSS, and a check
# of every performance target. Prints markdown tables.
#
# Usage: scripts/bench.sh [SECTION ...]
#   sections: setup verify pass100 att100 null100 att5 small dd8k rss targets
#   (default: all; setup always runs first; verify runs before any timing section)
#
# Environment:
#   WORK        scratch directory for data, JSON and results (default: a new
#               /tmp/mimeinject-bench.XXXXXX; reuse one to skip data generation)
#   RUNS        hyperfine runs for the fast commands of a group (default 20)
#   RUNS_BIG    hyperfine runs for 100 MB groups (default 10)
#   RUNS_SLOW   hyperfine runs for PHP/Python on 100 MB inputs (default 3)
#   RUNS_SMALL  hyperfine runs for the 2 KB group (default 100)
#   PAIRS       alternating pairs for the 2 KB paired ratio (default 200)
#   PAIRS_BIG   alternating pairs for the pipe targets (default 15)
#   SKIP_1G=1   skip the 1 GiB attachment (peak RSS row)
#
# Needs: cargo, python3 (Debian's /usr/bin/python3 preferred: a pyenv shim adds ~100 ms per
# start), hyperfine, php-cli, GNU time. As root with apt-get, missing packages are installed.
# Nothing is written into the repository except target/ (cargo build --release).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=$repo/scripts/bench
WORK=${WORK:-$(mktemp -d /tmp/mimeinject-bench.XXXXXX)}
RUNS=${RUNS:-20}
RUNS_BIG=${RUNS_BIG:-10}
RUNS_SLOW=${RUNS_SLOW:-3}
RUNS_SMALL=${RUNS_SMALL:-100}
PAIRS=${PAIRS:-200}
PAIRS_BIG=${PAIRS_BIG:-15}
D=$WORK/data
J=$WORK/json
mkdir -p "$D/root" "$J"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
# The shipped build, linked statically (scripts/build-release.sh).
BIN=$repo/target/$TRIPLE/release/mimeinject
# The benchmarks go past the default limits on purpose (100 MB and 1 GiB attachments, a
# 100 MB passthrough): lift them.
UNLIMITED="--max-attachment-size 18446744073709551615 --max-output-size 18446744073709551615"
MI="$BIN --root $D/root --no-syslog $UNLIMITED"
# The same code linked dynamically (ld.so, libgcc_s): what start-up would cost without the
# static link. Built into WORK, not target/.
BIN_DYNAMIC=$WORK/target-dynamic/$TRIPLE/release/mimeinject
MID="$BIN_DYNAMIC --root $D/root --no-syslog $UNLIMITED"
PHP="php $S/filter.php $D/root"
PYF="$PY $S/email_filter.py $D/root"
HF=(hyperfine --style basic)
BOUNDARY_END='--=_outer_7f3a--'

say() { printf '\n### %s\n' "$*" >&2; }
bytes() { stat -c %s "$1"; }

# --- setup -----------------------------------------------------------------------------

setup() {
    local missing=()
    command -v hyperfine >/dev/null || missing+=(hyperfine)
    command -v php >/dev/null || missing+=(php-cli)
    [[ -x /usr/bin/time ]] || missing+=(time)
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            say "installing ${missing[*]}"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
                { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; }
        else
            echo "missing: ${missing[*]} (install them, or run as root)" >&2
            exit 1
        fi
    fi
    say "building the release binary (scripts/build-release.sh)"
    "$repo/scripts/build-release.sh" --quiet >/dev/null
    say "building the dynamically linked binary into $WORK/target-dynamic"
    (cd "$repo" && RUSTFLAGS="" cargo build --release --quiet \
        --target "$TRIPLE" --target-dir "$WORK/target-dynamic")
    say "data in $D"
    # New data, or a new binary (below), means checking the outputs again.
    gen() { [[ -s $1 ]] || { rm -f "$WORK/verified" && "$PY" "$S/gen.py" "${@:2}"; }; }
    gen "$D/root/a5.bin" random "$D/root/a5.bin" $((5 << 20)) 5
    gen "$D/root/a100.bin" random "$D/root/a100.bin" $((100 << 20)) 100
    [[ ${SKIP_1G:-} == 1 ]] || gen "$D/root/a1g.bin" random "$D/root/a1g.bin" $((1 << 30)) 1024
    gen "$D/t2k.eml" template "$D/t2k.eml"
    gen "$D/t5.eml" template "$D/t5.eml" a5.bin
    gen "$D/t100.eml" template "$D/t100.eml" a100.bin
    gen "$D/t1g.eml" template "$D/t1g.eml" a1g.bin
    gen "$D/pass100.eml" passthrough "$D/pass100.eml" 100000000
    # The expanded messages, what `cat` is compared with.
    [[ -s $D/x5.eml && $D/x5.eml -nt $BIN ]] || $MI <"$D/t5.eml" >"$D/x5.eml"
    [[ -s $D/x100.eml && $D/x100.eml -nt $BIN ]] || $MI <"$D/t100.eml" >"$D/x100.eml"
}

# --- verify: every tool's output is right before anything is timed ---------------------

# The expected expansion of template $1 with file $2: built with coreutils base64.
expected() {
    sed '/^mimeinject: /,$d' "$1"
    base64 -w 76 "$2"
    sed '1,/^mimeinject: /d' "$1"
}

verify() {
    [[ $WORK/verified -nt $BIN && $WORK/verified -nt $BIN_DYNAMIC ]] && return
    say "verify: outputs before timing"
    local t a
    for t in 5 100; do
        a=$D/root/a$t.bin
        expected "$D/t$t.eml" "$a" | cmp - "$D/x$t.eml"
        echo "mimeinject, ${t} MiB: identical to the template with base64 -w 76 of the file" >&2
        $MI <"$D/t$t.eml" | cat | cmp - "$D/x$t.eml"
        MIMEINJECT_PIPE_SIZE=0 $MI <"$D/t$t.eml" | dd bs=8k status=none | cmp - "$D/x$t.eml"
        $PHP <"$D/t$t.eml" | cmp - "$D/x$t.eml"
        echo "PHP filter, ${t} MiB: byte-identical to mimeinject" >&2
        $PYF <"$D/t$t.eml" >"$WORK/py$t.eml"
        "$PY" "$repo/scripts/mime_check.py" "$WORK/py$t.eml" "statement.pdf=$a" >&2
        rm -f "$WORK/py$t.eml"
        echo "Python email filter, ${t} MiB: attachment decodes to the file" >&2
    done
    "$PY" "$repo/scripts/mime_check.py" "$D/x5.eml" "statement.pdf=$D/root/a5.bin" >&2
    $MI <"$D/pass100.eml" | cmp - "$D/pass100.eml"
    $PHP <"$D/pass100.eml" | cmp - "$D/pass100.eml"
    $MI <"$D/t2k.eml" | cmp - "$D/t2k.eml"
    $MID <"$D/t2k.eml" | cmp - "$D/t2k.eml"
    $MID <"$D/t5.eml" | cmp - "$D/x5.eml"
    $PHP <"$D/t2k.eml" | cmp - "$D/t2k.eml"
    echo "mimeinject and PHP: 100 MB and 2 KB passthrough byte-identical" >&2
    local note=$WORK/python-passthrough.txt
    : >"$note"
    for t in pass100 t2k; do
        if $PYF <"$D/$t.eml" | cmp -s - "$D/$t.eml"; then
            echo "Python email, $t: byte-identical" | tee -a "$note" >&2
        else
            echo "Python email, $t: NOT byte-identical (it re-serialises the message)" | tee -a "$note" >&2
        fi
    done
    if [[ -s $D/root/a1g.bin ]]; then
        local want got
        want=$(expected "$D/t1g.eml" "$D/root/a1g.bin" | sha256sum)
        got=$($MI <"$D/t1g.eml" | sha256sum)
        [[ $want == "$got" ]] || { echo "1 GiB expansion differs" >&2; exit 1; }
        echo "mimeinject, 1 GiB: identical to base64 -w 76 of the file" >&2
    fi
    touch "$WORK/verified"
}

# --- timing groups -----------------------------------------------------------------------

pass100() {
    say "100 MB passthrough (no placeholder) -> pipe -> cat"
    "${HF[@]}" --warmup 3 --runs "$RUNS_BIG" --export-json "$J/pass100.json" \
        -n mimeinject "$MI < $D/pass100.eml | cat >/dev/null" \
        -n cat "cat < $D/pass100.eml | cat >/dev/null" >&2
    "${HF[@]}" --warmup 1 --runs "$RUNS_SLOW" --export-json "$J/pass100-slow.json" \
        -n "PHP fgets/echo" "$PHP < $D/pass100.eml | cat >/dev/null" \
        -n "Python email" "$PYF < $D/pass100.eml | cat >/dev/null" >&2
    "$PY" "$S/paired.py" --shell --pairs "$PAIRS_BIG" --json "$J/pass100-paired.json" \
        -n cat "cat < $D/pass100.eml | cat >/dev/null" \
        -n mimeinject "$MI < $D/pass100.eml | cat >/dev/null"
}

att100() {
    say "100 MiB attachment -> pipe -> cat"
    "${HF[@]}" --warmup 3 --runs "$RUNS_BIG" --export-json "$J/att100.json" \
        -n mimeinject "$MI < $D/t100.eml | cat >/dev/null" \
        -n "cat expanded" "cat < $D/x100.eml | cat >/dev/null" \
        -n "base64 -w 76" "base64 -w 76 < $D/root/a100.bin | cat >/dev/null" >&2
    "${HF[@]}" --warmup 1 --runs "$RUNS_SLOW" --export-json "$J/att100-slow.json" \
        -n "PHP fgets/echo + stream filter" "$PHP < $D/t100.eml | cat >/dev/null" \
        -n "Python email" "$PYF < $D/t100.eml | cat >/dev/null" >&2
    "$PY" "$S/paired.py" --shell --pairs "$PAIRS_BIG" --json "$J/att100-paired.json" \
        -n "cat expanded" "cat < $D/x100.eml | cat >/dev/null" \
        -n mimeinject "$MI < $D/t100.eml | cat >/dev/null"
}

null100() {
    say "100 MiB attachment -> /dev/null"
    "${HF[@]}" --warmup 3 --runs "$RUNS" --export-json "$J/null100.json" \
        -n mimeinject "$MI < $D/t100.eml >/dev/null" \
        -n "cat expanded" "cat < $D/x100.eml >/dev/null" \
        -n "base64 -w 76" "base64 -w 76 < $D/root/a100.bin >/dev/null" >&2
    "${HF[@]}" --warmup 1 --runs "$RUNS_SLOW" --export-json "$J/null100-slow.json" \
        -n "PHP fgets/echo + stream filter" "$PHP < $D/t100.eml >/dev/null" >&2
}

att5() {
    say "5 MiB attachment -> pipe -> cat"
    "${HF[@]}" --warmup 3 --runs "$RUNS" --export-json "$J/att5.json" \
        -n mimeinject "$MI < $D/t5.eml | cat >/dev/null" \
        -n "cat expanded" "cat < $D/x5.eml | cat >/dev/null" \
        -n "base64 -w 76" "base64 -w 76 < $D/root/a5.bin | cat >/dev/null" \
        -n "PHP fgets/echo + stream filter" "$PHP < $D/t5.eml | cat >/dev/null" \
        -n "Python email" "$PYF < $D/t5.eml | cat >/dev/null" >&2
    "$PY" "$S/paired.py" --shell --pairs $((PAIRS_BIG * 4)) --json "$J/att5-paired.json" \
        -n "cat expanded" "cat < $D/x5.eml | cat >/dev/null" \
        -n mimeinject "$MI < $D/t5.eml | cat >/dev/null"
}

small() {
    say "2 KB message, no placeholder: whole process"
    "${HF[@]}" --warmup 3 --runs "$RUNS_SMALL" --export-json "$J/small.json" \
        -n /bin/cat "/bin/cat < $D/t2k.eml" \
        -n mimeinject "$MI < $D/t2k.eml" \
        -n "mimeinject (dynamic)" "$MID < $D/t2k.eml" \
        -n "PHP fgets/echo" "$PHP < $D/t2k.eml" \
        -n "Python email" "$PYF < $D/t2k.eml" >&2
    # No shell: fork + exec + wait with stdin from the file, as exim starts a filter.
    "$PY" "$S/paired.py" --pairs "$PAIRS" --stdin "$D/t2k.eml" --json "$J/small-paired.json" \
        -n /bin/cat "/bin/cat" \
        -n mimeinject "$MI" \
        -n "mimeinject (dynamic)" "$MID"
}

dd8k() {
    say "exim-like reader (dd bs=8k): F_SETPIPE_SZ on vs off"
    local t
    for t in 5 100; do
        "${HF[@]}" --warmup 3 --runs "$RUNS_BIG" --export-json "$J/dd$t.json" \
            -n "mimeinject (1 MiB pipe)" "$MI < $D/t$t.eml | dd bs=8k status=none of=/dev/null" \
            -n "mimeinject MIMEINJECT_PIPE_SIZE=0 (64 KiB pipe)" \
            "MIMEINJECT_PIPE_SIZE=0 $MI < $D/t$t.eml | dd bs=8k status=none of=/dev/null" \
            -n "cat expanded" "cat < $D/x$t.eml | dd bs=8k status=none of=/dev/null" >&2
    done
}

rss() {
    say "peak RSS (GNU time, max of 3 runs)"
    local out=$WORK/rss.md
    peak() { # label, then the command (shell)
        local label=$1 max=0 i k
        for i in 1 2 3; do
            k=$(/usr/bin/time -f %M sh -c "$2" 2>&1 >/dev/null | tail -1)
            ((k > max)) && max=$k
        done
        printf '| %s | %s |\n' "$label" "$max"
        echo "$label: $max KB" >&2
    }
    {
        echo "| command | peak RSS KB |"
        echo "|---|---|"
        peak "/bin/cat, 2 KB" "exec /bin/cat < $D/t2k.eml"
        peak "mimeinject, 2 KB (baseline)" "exec $MI < $D/t2k.eml"
        peak "mimeinject (dynamic), 2 KB" "exec $MID < $D/t2k.eml"
        peak "mimeinject, 100 MB passthrough -> pipe" "$MI < $D/pass100.eml | cat"
        peak "mimeinject, 100 MiB attachment -> /dev/null" "exec $MI < $D/t100.eml"
        peak "mimeinject, 100 MiB attachment -> pipe" "$MI < $D/t100.eml | cat"
        if [[ -s $D/root/a1g.bin ]]; then
            peak "mimeinject, 1 GiB attachment -> /dev/null" "exec $MI < $D/t1g.eml"
            peak "mimeinject, 1 GiB attachment -> pipe" "$MI < $D/t1g.eml | cat"
        fi
        peak "PHP, 5 MiB attachment" "exec $PHP < $D/t5.eml"
        peak "Python email, 5 MiB attachment" "exec $PYF < $D/t5.eml"
    } >"$out"
}

# --- report --------------------------------------------------------------------------------

report() {
    local R=$S/report.py x5 x100 p100
    x5=$(bytes "$D/x5.eml")
    x100=$(bytes "$D/x100.eml")
    p100=$(bytes "$D/pass100.eml")
    echo
    echo "## mimeinject benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r)"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- times: whole process, median (min–max) ms; GB/s = output bytes / median"
    [[ -s $J/pass100.json ]] && "$PY" "$R" table --ref cat --bytes "$p100" \
        --title "100 MB passthrough ($p100 B, no placeholder) -> pipe -> cat" \
        "$J/pass100.json" "$J/pass100-slow.json" && cat "$WORK/python-passthrough.txt" 2>/dev/null
    [[ -s $J/att100.json ]] && "$PY" "$R" table --ref "cat expanded" --bytes "$x100" \
        --title "100 MiB attachment ($x100 B out) -> pipe -> cat" \
        "$J/att100.json" "$J/att100-slow.json"
    [[ -s $J/null100.json ]] && "$PY" "$R" table --ref "cat expanded" --bytes "$x100" \
        --title "100 MiB attachment -> /dev/null" "$J/null100.json" "$J/null100-slow.json"
    [[ -s $J/att5.json ]] && "$PY" "$R" table --ref "cat expanded" --bytes "$x5" \
        --title "5 MiB attachment ($x5 B out) -> pipe -> cat" "$J/att5.json"
    [[ -s $J/small.json ]] && "$PY" "$R" table --ref /bin/cat \
        --title "2 KB message, no placeholder, -> /dev/null (hyperfine, shell start subtracted)" \
        "$J/small.json"
    [[ -s $J/small-paired.json ]] && "$PY" "$R" table --ref /bin/cat \
        --title "2 KB message, no shell (fork+exec+wait, alternating pairs)" "$J/small-paired.json"
    for t in 5 100; do
        [[ -s $J/dd$t.json ]] && "$PY" "$R" table --ref "cat expanded" \
            --bytes "$(bytes "$D/x$t.eml")" \
            --title "${t} MiB attachment -> pipe -> dd bs=8k (exim's read size)" "$J/dd$t.json"
    done
    if [[ -s $WORK/rss.md ]]; then
        echo
        echo "**Peak RSS** (GNU time, max of 3 runs)"
        echo
        cat "$WORK/rss.md"
    fi
    echo
    echo "**Targets**"
    echo
    echo "| target | figure | bar | |"
    echo "|---|---|---|---|"
    [[ -s $J/pass100.json ]] && "$PY" "$R" target --label "100 MB passthrough vs cat, pipe" \
        --num mimeinject --den cat --max 1.0 "$J/pass100.json"
    [[ -s $J/pass100-paired.json ]] && "$PY" "$R" target --paired \
        --label "100 MB passthrough vs cat, pipe (paired)" \
        --num mimeinject --den cat --max 1.0 "$J/pass100-paired.json"
    [[ -s $J/att100.json ]] && "$PY" "$R" target --label "100 MiB attachment vs cat expanded, pipe" \
        --num mimeinject --den "cat expanded" --max 1.0 "$J/att100.json"
    [[ -s $J/att100-paired.json ]] && "$PY" "$R" target --paired \
        --label "100 MiB attachment vs cat expanded, pipe (paired)" \
        --num mimeinject --den "cat expanded" --max 1.0 "$J/att100-paired.json"
    [[ -s $J/null100.json ]] && "$PY" "$R" target --label "100 MiB attachment -> /dev/null" \
        --num mimeinject --min-gbps 2.5 --bytes "$x100" "$J/null100.json"
    [[ -s $J/att5.json ]] && "$PY" "$R" target --label "5 MiB attachment vs cat expanded, pipe" \
        --num mimeinject --den "cat expanded" --max 1.0 "$J/att5.json"
    [[ -s $J/att5-paired.json ]] && "$PY" "$R" target --paired \
        --label "5 MiB attachment vs cat expanded, pipe (paired)" \
        --num mimeinject --den "cat expanded" --max 1.0 "$J/att5-paired.json"
    [[ -s $J/small.json ]] && "$PY" "$R" target --label "2 KB whole process vs /bin/cat" \
        --num mimeinject --den /bin/cat --max 1.2 "$J/small.json"
    [[ -s $J/small-paired.json ]] && "$PY" "$R" target --paired \
        --label "2 KB whole process vs /bin/cat (no shell, paired)" \
        --num mimeinject --den /bin/cat --max 1.2 "$J/small-paired.json"
    [[ -s $J/small-paired.json ]] && "$PY" "$R" target --paired \
        --label "2 KB whole process vs /bin/cat, dynamic build (no shell, paired)" \
        --num "mimeinject (dynamic)" --den /bin/cat --max 1.2 "$J/small-paired.json"
    if [[ -s $WORK/rss.md ]]; then
        local base row k
        base=$(sed -n 's/^| mimeinject, 2 KB (baseline) | \([0-9]*\) |$/\1/p' "$WORK/rss.md")
        while IFS= read -r row; do
            k=$(sed -n 's/^| .* | \([0-9]*\) |$/\1/p' <<<"$row")
            local label=${row#| }
            label=${label%% |*}
            local extra=$((k - base))
            local verdict=MISSED
            ((extra <= 4096)) && verdict=MET
            echo "| peak RSS beyond the 2 KB baseline: $label | +$extra KB ($k KB) | ≤ 4096 KB | $verdict |"
        done < <(grep -E 'mimeinject, (100 MiB|1 GiB) attachment' "$WORK/rss.md")
    fi
}

# --- main ------------------------------------------------------------------------------

sections=("$@")
((${#sections[@]})) || sections=(pass100 att100 null100 att5 small dd8k rss)
setup
verify
for s in "${sections[@]}"; do
    case $s in
        setup | verify) ;;
        targets) ;;
        pass100 | att100 | null100 | att5 | small | dd8k | rss) "$s" ;;
        *) echo "unknown section: $s" >&2; exit 2 ;;
    esac
done
report | tee "$WORK/results.md"
echo >&2
echo "results: $WORK/results.md (JSON in $J)" >&2
