#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (https://crates.io/crates/cargo-deb):
#   /usr/bin/mimeinject                     the static release binary (scripts/build-release.sh)
#   /usr/share/man/man1/mimeinject.1.gz     `mimeinject man`, generated from the CLI definition
#   bash, zsh and fish completions          `mimeinject completions SHELL`, in the directories
#                                           bash-completion, zsh and fish load them from
#   /usr/share/doc/mimeinject/              README.md, changelog.gz (CHANGELOG.md), copyright
#   /usr/share/doc/mimeinject/docs/         the guide: docs/*.md and its chart, where the
#                                           README's links find them
#   /usr/share/doc/mimeinject/examples/     every exim/* and postfix/* recipe of the
#                                           documentation (README.md, docs/*.md), under its
#                                           name (scripts/readme-recipes.sh): exactly those of
#                                           packaging/examples.list, or the build fails
#   /usr/libexec/mimeinject/mimeinject-postfix-wrapper
#                                           contrib/'s wrapper, pointed at /usr/bin/mimeinject
# The layout is set in Cargo.toml, [package.metadata.deb]; this script builds the binary and
# generates the files that table names under target/deb-assets/.
#
# Usage: scripts/build-deb.sh [extra cargo-deb arguments]
# Needs cargo-deb (`cargo install cargo-deb --locked`). Prints the .deb's path on stdout:
# target/debian/mimeinject_VERSION-1_ARCH.deb (older mimeinject .debs there are removed, so
# that `apt install ./target/debian/mimeinject_*.deb` names one file).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

die() {
    printf 'build-deb: %s\n' "$*" >&2
    exit 1
}

command -v cargo-deb >/dev/null || die "cargo-deb not found; install it with: cargo install cargo-deb --locked"
host=$(rustc -vV | sed -n 's/^host: //p')
version=$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
maintainer=$(sed -n '/^\[package\.metadata\.deb\]/,/^\[/s/^maintainer = "\(.*\)"$/\1/p' Cargo.toml)
[[ -n $version && -n $maintainer ]] || die "Cargo.toml: no [package] version or [package.metadata.deb] maintainer"
# Reproducible dates: the last commit's, when there is one.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

bin=$(scripts/build-release.sh --quiet)
"$bin" --version | grep -qx "mimeinject $version" || die "$bin --version does not print $version"

assets=$repo/target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/completions" "$assets/examples"

"$bin" man >"$assets/mimeinject.1"
"$bin" completions bash >"$assets/completions/mimeinject"
"$bin" completions zsh >"$assets/completions/_mimeinject"
"$bin" completions fish >"$assets/completions/mimeinject.fish"

# The documentation's exim and Postfix recipes: exactly those of packaging/examples.list (one
# missing from the documentation, or not listed, fails the build), and an index.
scripts/readme-recipes.sh --expect packaging/examples.list "$assets/examples" exim postfix \
    >"$assets/recipes.list"
mapfile -t recipes <"$assets/recipes.list"
((${#recipes[@]})) || die "no exim or Postfix recipe in README.md and docs/*.md"
# With the package's paths (packaging/paths.sed): /usr/bin/mimeinject, not /usr/local/bin.
for name in "${recipes[@]}"; do
    sed -i -f packaging/paths.sed "$assets/examples/$name"
done
{
    echo "The exim and Postfix recipes of mimeinject's guide (/usr/share/doc/mimeinject/docs/),"
    echo "one file per recipe, under the recipe's name. The chapter named beside each says where"
    echo "it goes. Paths are those of this package: the guide's /usr/local/bin/mimeinject is"
    echo "/usr/bin/mimeinject here, and the Postfix wrapper is"
    echo "/usr/libexec/mimeinject/mimeinject-postfix-wrapper."
    echo
    for name in "${recipes[@]}"; do
        # The chapter that shows it (the README repeats a few of them).
        chapter=
        for doc in docs/*.md README.md; do
            grep -qxF "<!-- recipe: $name -->" "$doc" && chapter=$doc && break
        done
        [[ -n $chapter ]] || die "recipe $name: no document shows its marker on a line of its own"
        printf '%-40s %s\n' "$name" "$chapter"
    done
} >"$assets/examples/README"

# The wrapper as the package installs it: mimeinject in /usr/bin, the wrapper in
# /usr/libexec/mimeinject/ (its own comments name the /usr/local places a hand install uses).
sed -f packaging/paths.sed \
    -e '1a\
# Installed by the Debian package as /usr/libexec/mimeinject/mimeinject-postfix-wrapper.' \
    contrib/mimeinject-postfix-wrapper >"$assets/mimeinject-postfix-wrapper"
# shellcheck disable=SC2016 # the line is matched literally
grep -qxF 'MIMEINJECT=${MIMEINJECT:-/usr/bin/mimeinject}' "$assets/mimeinject-postfix-wrapper" ||
    die "contrib/mimeinject-postfix-wrapper: no MIMEINJECT=\${MIMEINJECT:-/usr/local/bin/mimeinject} line to point at /usr/bin"

# copyright (machine-readable, Debian policy 12.5): packaging/copyright.in, with what the
# binary contains besides our code.
if readelf -lW "$bin" | grep -q INTERP; then
    glibc="not linked in: the binary is linked dynamically"
else
    glibc=$(dpkg-query -W -f '${source:Package} ${Version}' libc6-dev 2>/dev/null) ||
        glibc="the build host's"
fi
crates=$(cargo tree --locked -e normal,no-proc-macro --target "$host" --prefix none \
    --format '{p}: {l}' | sed -e 's/ (\*)$//' -e '/^mimeinject v/d' -e 's/^/ /' | sort -u)
glibc=$glibc crates=$crates awk \
    '{ gsub(/@GLIBC@/, ENVIRON["glibc"]) } /^@CRATES@$/ { print ENVIRON["crates"]; next } { print }' \
    packaging/copyright.in >"$assets/copyright"

# The Debian changelog (policy 12.7); the upstream one is CHANGELOG.md, shipped as changelog.gz.
cat >"$assets/changelog.Debian" <<EOF
mimeinject ($version-1) unstable; urgency=medium

  * Built by scripts/build-deb.sh from mimeinject $version$(git rev-parse --short HEAD 2>/dev/null | sed 's/.*/ (commit &)/').
    The upstream changes are in /usr/share/doc/mimeinject/changelog.gz.

 -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOF

mkdir -p target/debian
rm -f target/debian/mimeinject_*.deb
cargo deb --no-build --target "$host" --output target/debian/ "$@" >&2
debs=(target/debian/mimeinject_*.deb)
[[ -f ${debs[0]} && ${#debs[@]} == 1 ]] || die "expected one target/debian/mimeinject_*.deb, found: ${debs[*]}"
echo "$repo/${debs[0]}"
