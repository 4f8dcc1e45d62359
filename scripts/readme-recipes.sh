#!/usr/bin/env bash
# Writes the README's recipes out as files: each fenced code block whose line just before the
# opening fence is `<!-- recipe: NAME -->` becomes OUTDIR/NAME (see "README recipes" in
# README.md, "Development"; the tests read the same blocks through tests/support/readme.rs,
# and tests/package.rs checks that both readers agree).
#
# Usage: scripts/readme-recipes.sh README OUTDIR [AREA...]
#   AREA  only recipes whose name starts with AREA/ (e.g. exim postfix); all when none given.
# Prints the name of each recipe written, one per line. Zero recipes is not an error.
# Fails on a marker without a code block after it, a name used twice, or a name that is not
# a relative file path (AREA/NAME, letters, digits and ._+- only, no `..`).
set -euo pipefail
shopt -s extglob

die() {
    printf 'readme-recipes: %s\n' "$*" >&2
    exit 1
}

(($# >= 2)) || die "usage: $0 README OUTDIR [AREA...]"
readme=$1 outdir=$2
shift 2
areas=("$@")
[[ -r $readme ]] || die "$readme: cannot read"

declare -A seen=()
written=()
lineno=0

# One line of the README into $line, without a trailing CR (as Rust's str::lines). Fails at
# the end of the file.
next() {
    IFS= read -r line || [[ -n $line ]] || return 1
    line=${line%$'\r'}
    lineno=$((lineno + 1))
}

wanted() {
    ((${#areas[@]} == 0)) && return 0
    local area
    for area in "${areas[@]}"; do
        [[ $1 == "$area"/* ]] && return 0
    done
    return 1
}

mkdir -p "$outdir"
exec 3<"$readme"
while next <&3; do
    trimmed=${line##+([[:space:]])}
    trimmed=${trimmed%%+([[:space:]])}
    [[ $trimmed == '<!-- recipe: '*'-->' ]] || continue
    marker_line=$lineno
    name=${trimmed#'<!-- recipe: '}
    name=${name%'-->'}
    name=${name##+([[:space:]])}
    name=${name%%+([[:space:]])}
    line=
    next <&3 || true
    open=${line##+([[:space:]])}
    [[ $open == '```'* ]] || die "$readme:$marker_line: recipe \"$name\": no code block right after its marker"
    fence=${open%%[!\`]*}
    text=
    while next <&3; do
        [[ ${line##+([[:space:]])} == "$fence"* ]] && break
        text+=$line$'\n'
    done
    [[ -z ${seen[$name]:-} ]] || die "$readme:$marker_line: recipe \"$name\" appears twice"
    seen[$name]=1
    [[ $name == +([A-Za-z0-9_+-])/+([A-Za-z0-9._+/-]) && $name != *//* && $name != */ &&
        /$name/ != */../* && /$name/ != */./* ]] ||
        die "$readme:$marker_line: recipe name \"$name\" is not a relative file path AREA/NAME"
    wanted "$name" || continue
    mkdir -p "$outdir/$(dirname "$name")"
    printf '%s' "$text" >"$outdir/$name"
    written+=("$name")
done

((${#written[@]} == 0)) || printf '%s\n' "${written[@]}"
