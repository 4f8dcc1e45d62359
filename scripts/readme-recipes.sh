#!/usr/bin/env bash
# Writes the documentation's recipes out as files: each fenced code block whose line just
# before the opening fence is `<!-- recipe: NAME -->` becomes OUTDIR/NAME. The documentation
# is README.md and the guide's chapters, docs/*.md (docs/development.md, "Recipes"); the
# tests read the same blocks through tests/support/readme.rs, and tests/package.rs checks
# that both readers agree.
#
# Usage: scripts/readme-recipes.sh [--expect LIST] [--from FILE]... OUTDIR [AREA...]
#   --from FILE    read FILE instead of the repository's README.md and docs/*.md (in byte
#                  order of their names); may be given more than once
#   --expect LIST  LIST names, one a line (blank lines and `#` comments aside), exactly the
#                  recipes that must be written: one missing, or one written but not listed,
#                  is an error (the Debian package's examples: packaging/examples.list)
#   AREA           only recipes whose name starts with AREA/ (e.g. exim postfix); all when
#                  none given. An AREA without any recipe is an error.
# Prints the name of each recipe written, one per line, in the order the documents show
# them. Fails, writing one line to stderr, on a marker without a code block after it, a name
# shown twice with different text (a recipe may be repeated, e.g. in the README and in its
# chapter, only word for word), a name that is not a relative file path (AREA/NAME, letters,
# digits and ._+- only, no `..`), no recipe at all, and what --expect and AREA rule out.
set -euo pipefail
shopt -s extglob

die() {
    printf 'readme-recipes: %s\n' "$*" >&2
    exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
docs=() expect=
while (($#)); do
    case $1 in
    --from) (($# >= 2)) || die "--from needs a file"; docs+=("$2"); shift 2 ;;
    --expect) (($# >= 2)) || die "--expect needs a file"; expect=$2; shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
(($# >= 1)) || die "usage: $0 [--expect LIST] [--from FILE]... OUTDIR [AREA...]"
outdir=$1
shift
areas=("$@")
# The documents, as the error messages name them.
label="${docs[*]}"
if ((${#docs[@]} == 0)); then
    label="README.md and docs/*.md"
    [[ -r $repo/README.md ]] || die "$repo/README.md: cannot read"
    mapfile -t chapters < <(cd "$repo" && LC_ALL=C compgen -G 'docs/*.md' | LC_ALL=C sort)
    ((${#chapters[@]})) || die "$repo/docs/: no chapter (*.md)"
    docs=("$repo/README.md")
    for c in "${chapters[@]}"; do docs+=("$repo/$c"); done
fi
for doc in "${docs[@]}"; do
    [[ -r $doc ]] || die "$doc: cannot read"
done

declare -A seen=() where=()
written=()
total=0

# One line of the document into $line, without a trailing CR (as Rust's str::lines). Fails
# at the end of the file.
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
for doc in "${docs[@]}"; do
    lineno=0
    exec 3<"$doc"
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
        [[ $open == '```'* ]] || die "$doc:$marker_line: recipe \"$name\": no code block right after its marker"
        fence=${open%%[!\`]*}
        text=
        while next <&3; do
            [[ ${line##+([[:space:]])} == "$fence"* ]] && break
            text+=$line$'\n'
        done
        [[ $name == +([A-Za-z0-9_+-])/+([A-Za-z0-9._+/-]) && $name != *//* && $name != */ &&
            /$name/ != */../* && /$name/ != */./* ]] ||
            die "$doc:$marker_line: recipe name \"$name\" is not a relative file path AREA/NAME"
        if [[ -n ${seen[$name]+x} ]]; then
            # The same recipe shown again (the README's shortest recipes are also in their
            # chapter): only word for word.
            [[ ${seen[$name]} == "$text" ]] ||
                die "$doc:$marker_line: recipe \"$name\" appears twice with different text (first at ${where[$name]})"
            continue
        fi
        seen[$name]=$text
        where[$name]=$doc:$marker_line
        total=$((total + 1))
        wanted "$name" || continue
        mkdir -p "$outdir/$(dirname "$name")"
        printf '%s' "$text" >"$outdir/$name"
        written+=("$name")
    done
    exec 3<&-
done

((total)) || die "no recipe in $label"
for area in "${areas[@]}"; do
    found=
    for name in "${written[@]}"; do
        [[ $name == "$area"/* ]] && found=1 && break
    done
    [[ -n $found ]] || die "no recipe of area \"$area\" (<!-- recipe: $area/... -->) in $label"
done
if [[ -n $expect ]]; then
    [[ -r $expect ]] || die "$expect: cannot read"
    declare -A listed=()
    while IFS= read -r name || [[ -n $name ]]; do
        name=${name%%#*}
        name=${name##+([[:space:]])}
        name=${name%%+([[:space:]])}
        [[ -n $name ]] || continue
        listed[$name]=1
        for w in "${written[@]}"; do
            [[ $w == "$name" ]] && continue 2
        done
        die "recipe \"$name\", listed in $expect, is missing from $label"
    done <"$expect"
    for name in "${written[@]}"; do
        [[ -n ${listed[$name]:-} ]] || die "recipe \"$name\" is not listed in $expect"
    done
fi

printf '%s\n' "${written[@]}"
