#!/usr/bin/env bash
# Packaging and portability checks (run by scripts/test.sh, so by CI):
#   1. the plain `cargo build --release` puts the binary in target/release/ (dynamically
#      linked here), and the README's `cargo install --locked --path .` installs it;
#   2. the release command, scripts/build-release.sh, gives a statically linked binary
#      (on *-linux-gnu hosts, where it asks for crt-static);
#   3. `cargo package` passes, and the crate holds what it should;
#   4. scripts/build-deb.sh builds the Debian package, lintian finds no error in it, the
#      README's install recipe installs it, the README's main job runs with the installed
#      /usr/bin/mimeinject, `man mimeinject` renders, the files are in place, and the
#      package is removed again.
# Step 4 installs a package, so it needs root and apt-get; without them it is skipped, or
# under CI=true fails. It installs cargo-deb (`cargo install cargo-deb --locked`, about two
# minutes) and lintian and man-db (apt) when they are missing.
#
# Usage: scripts/check-packaging.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# Each step's heading also gives the seconds the previous one took (CI's time budget).
step_start=$SECONDS
step() {
    printf '    (%d s)\n\n==> packaging: %s\n' $((SECONDS - step_start)) "$*"
    step_start=$SECONDS
}
fail() {
    printf 'check-packaging: FAILED: %s\n' "$*" >&2
    exit 1
}
ok() { printf '    ok: %s\n' "$*"; }

target_dir=${CARGO_TARGET_DIR:-target}
host=$(rustc -vV | sed -n 's/^host: //p')
version=$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
work=$(mktemp -d /tmp/mimeinject-packaging.XXXXXX)
installed_by_us=
cleanup() {
    if [[ -n $installed_by_us ]] && dpkg -s mimeinject >/dev/null 2>&1; then
        echo "check-packaging: removing the mimeinject package it installed" >&2
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 remove -y -q mimeinject >&2 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The README's install recipes, as files (scripts/readme-recipes.sh reads README.md and
# docs/*.md).
scripts/readme-recipes.sh "$work/recipes" shell >/dev/null
for r in shell/install-cargo.sh shell/install-deb.sh; do
    [[ -f $work/recipes/$r ]] || fail "README.md has no recipe $r"
done

# Whether ELF file $1 is linked statically: no program interpreter, no shared library needed.
is_static() {
    ! readelf -lW "$1" | grep -q 'INTERP' && ! readelf -dW "$1" | grep -q '(NEEDED)'
}

# The README's main job with binary $1: the sample invoice, compared with its expected output.
main_job() {
    "$1" --root testdata/files <testdata/messages/invoice.eml >"$work/invoice.out" ||
        fail "$1: the main job exited $?"
    cmp "$work/invoice.out" testdata/expected/invoice.eml || fail "$1: the main job's output differs"
}

command -v readelf >/dev/null || fail "readelf (binutils) is needed"

# --- 1. The plain build ------------------------------------------------------------------

step "cargo build --release lands in $target_dir/release/"
cargo build --release --locked --quiet
plain=$target_dir/release/mimeinject
[[ -x $plain ]] || fail "no $plain after cargo build --release"
[[ $("$plain" --version) == "mimeinject $version" ]] || fail "$plain --version: $("$plain" --version)"
main_job "$plain"
ok "$plain: --version prints $version; the main job gives testdata/expected/invoice.eml"
if is_static "$plain"; then
    echo "    note: $plain is linked statically (this host's default)"
else
    ok "$plain is linked dynamically ($(readelf -dW "$plain" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd ' '))"
fi

step "cargo install --locked --path . (README recipe shell/install-cargo.sh), into a scratch root"
CARGO_INSTALL_ROOT=$work/cargo-root bash -euo pipefail "$work/recipes/shell/install-cargo.sh" 2>"$work/install.log" ||
    { cat "$work/install.log" >&2; fail "the README's cargo install recipe"; }
[[ $("$work/cargo-root/bin/mimeinject" --version) == "mimeinject $version" ]] ||
    fail "the binary cargo install put in place"
ok "$work/cargo-root/bin/mimeinject --version prints $version"

# --- 2. The release command --------------------------------------------------------------

step "scripts/build-release.sh gives a statically linked binary"
release=$(scripts/build-release.sh --quiet)
[[ $release == "$(cd "$target_dir" && pwd)/$host/release/mimeinject" && -x $release ]] ||
    fail "scripts/build-release.sh printed $release"
main_job "$release"
case $host in
    *-linux-gnu*)
        is_static "$release" || fail "$release is linked dynamically: $(readelf -dW "$release" | grep NEEDED)"
        ok "$release: no program interpreter, no shared library needed ($(readelf -hW "$release" | sed -n 's/^ *Type: *//p'))"
        ;;
    *) echo "    note: $host is not *-linux-gnu; build-release.sh does not ask for crt-static there" ;;
esac

# --- 3. The crate --------------------------------------------------------------------------

step "cargo package (the crate as crates.io would get it, built once unpacked)"
crate=$target_dir/package/mimeinject-$version.crate
rm -f "$crate"
cargo package --locked --allow-dirty >"$work/package.log" 2>&1 || { cat "$work/package.log" >&2; fail "cargo package"; }
grep '^warning' "$work/package.log" || true
[[ -s $crate ]] || fail "cargo package made no $crate"
tar -tzf "$crate" | sed "s|^mimeinject-$version/||" | sort >"$work/crate-files"
for f in Cargo.toml Cargo.lock README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE src/lib.rs \
    src/bin/mimeinject/main.rs testdata/messages/invoice.eml docs/README.md docs/bench-seed.svg; do
    grep -qxF "$f" "$work/crate-files" || fail "the crate lacks $f"
done
if grep -E '^(tests|fuzz|scripts|packaging|\.ci)/' "$work/crate-files"; then
    fail "the crate holds the files above, which only serve the repository's own tests and CI"
fi
ok "$crate: $(wc -l <"$work/crate-files") files, $(($(stat -c %s "$crate") / 1024)) KiB; verify build passed"

# --- 4. The Debian package ---------------------------------------------------------------

if ! command -v apt-get >/dev/null || [[ $(id -u) != 0 ]]; then
    [[ ${CI:-} != true ]] || fail "the Debian package checks need root and apt-get under CI=true"
    step "skipped: the Debian package checks install a package, which needs root and apt-get"
    exit 0
fi

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q "$@" ||
        { apt-get -o DPkg::Lock::Timeout=900 update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q "$@"; }
}
missing=()
command -v lintian >/dev/null || missing+=(lintian)
command -v man >/dev/null || missing+=(man-db)
if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
if ! command -v cargo-deb >/dev/null; then
    step "installing cargo-deb (cargo install cargo-deb --locked)"
    start=$SECONDS
    cargo install cargo-deb --locked
    echo "    cargo-deb installed in $((SECONDS - start)) s"
fi
if dpkg -s mimeinject >/dev/null 2>&1; then
    fail "a mimeinject package is already installed; this check installs and removes its own (dpkg -r mimeinject first)"
fi

step "scripts/build-deb.sh"
deb=$(scripts/build-deb.sh)
dpkg-deb -c "$deb"

step "lintian (errors fail; each warning left is explained in docs/development.md, \"Packaging\")"
status=0
lintian --fail-on error --display-info "$deb" >"$work/lintian.txt" 2>&1 || status=$?
grep -v '^running with root privileges' "$work/lintian.txt" || true
((status == 0)) || fail "lintian exited $status (errors, or lintian itself failed)"
ok "lintian: no error"

step "the README's install recipe (shell/install-deb.sh), as root, answering yes"
# The recipe is run as written; apt reads Assume-Yes and the lock wait from APT_CONFIG.
printf 'APT::Get::Assume-Yes "true";\nDPkg::Lock::Timeout "900";\n' >"$work/apt.conf"
installed_by_us=1
APT_CONFIG=$work/apt.conf DEBIAN_FRONTEND=noninteractive \
    bash -euo pipefail "$work/recipes/shell/install-deb.sh" >"$work/install-deb.log" 2>&1 ||
    { cat "$work/install-deb.log" >&2; fail "the README's install recipe"; }
[[ $(dpkg-query -W -f '${Status} ${Version}' mimeinject) == "install ok installed $version-1" ]] ||
    fail "dpkg does not list mimeinject $version-1 as installed"
ok "mimeinject $version-1 installed"

step "the installed package"
[[ $(command -v mimeinject) == /usr/bin/mimeinject ]] || fail "mimeinject on PATH is $(command -v mimeinject)"
[[ $(/usr/bin/mimeinject --version) == "mimeinject $version" ]] || fail "/usr/bin/mimeinject --version"
main_job /usr/bin/mimeinject
ok "/usr/bin/mimeinject: the README's main job gives testdata/expected/invoice.eml"
case $host in *-linux-gnu*) is_static /usr/bin/mimeinject || fail "/usr/bin/mimeinject is not static" ;; esac

[[ $(man -w mimeinject) == /usr/share/man/man1/mimeinject.1.gz ]] || fail "man -w mimeinject: $(man -w mimeinject)"
MANWIDTH=80 man -P cat mimeinject 2>"$work/man.err" >"$work/man.txt" || fail "man mimeinject exited $?"
[[ ! -s $work/man.err ]] || { cat "$work/man.err" >&2; fail "man mimeinject wrote warnings"; }
# shellcheck disable=SC2015 # either grep failing fails the check
grep -q '^NAME' "$work/man.txt" && grep -q -- '--failure-exit-code' "$work/man.txt" ||
    { head -20 "$work/man.txt" >&2; fail "man mimeinject does not show the page"; }
ok "man mimeinject renders ($(wc -l <"$work/man.txt") lines)"

for f in /usr/share/bash-completion/completions/mimeinject /usr/share/zsh/vendor-completions/_mimeinject \
    /usr/share/fish/vendor_completions.d/mimeinject.fish /usr/share/doc/mimeinject/README.md \
    /usr/share/doc/mimeinject/changelog.gz /usr/share/doc/mimeinject/changelog.Debian.gz \
    /usr/share/doc/mimeinject/copyright /usr/share/doc/mimeinject/examples/README; do
    [[ -s $f ]] || fail "$f is missing or empty"
done
bash -c 'source /usr/share/bash-completion/completions/mimeinject && complete -p mimeinject' >/dev/null ||
    fail "the bash completion does not register"
cmp /usr/share/doc/mimeinject/README.md README.md
# The guide, where the README's links (docs/...) find it.
for f in docs/*.md docs/bench-seed.svg; do
    cmp "/usr/share/doc/mimeinject/$f" "$f" || fail "/usr/share/doc/mimeinject/$f is not $f"
done
shipped=$(cd /usr/share/doc/mimeinject && find docs -type f | sort)
[[ $shipped == "$(find docs -type f | sort)" ]] ||
    fail "/usr/share/doc/mimeinject/docs/ holds [$shipped], not the guide's docs/ [$(find docs -type f | sort)]"
zcat /usr/share/doc/mimeinject/changelog.gz | cmp - CHANGELOG.md
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
    /usr/share/doc/mimeinject/copyright || fail "copyright is not machine-readable"
ok "completions, README.md, the guide (docs/), changelog.gz, copyright in place; bash completion registers"

scripts/readme-recipes.sh --expect packaging/examples.list "$work/examples" exim postfix >"$work/examples.list"
while read -r name; do
    sed -f packaging/paths.sed "$work/examples/$name" |
        cmp "/usr/share/doc/mimeinject/examples/$name" - ||
        fail "examples/$name differs from the documentation's recipe (with packaging/paths.sed)"
    ! grep -q /usr/local/ "/usr/share/doc/mimeinject/examples/$name" ||
        fail "examples/$name names a /usr/local path the package does not use"
done <"$work/examples.list"
shipped=$(cd /usr/share/doc/mimeinject/examples && find . -type f ! -name README | sed 's|^\./||' | sort)
[[ $shipped == "$(sort "$work/examples.list")" ]] ||
    fail "examples/ holds [$shipped], the documentation's exim and postfix recipes are [$(sort "$work/examples.list")]"
ok "examples/: $(wc -l <"$work/examples.list") recipes of the documentation (exim/*, postfix/*)"

wrapper=/usr/libexec/mimeinject/mimeinject-postfix-wrapper
[[ -x $wrapper ]] || fail "$wrapper is not installed executable"
sh -n "$wrapper" || fail "$wrapper: sh -n"
# shellcheck disable=SC2016 # the line is matched literally
grep -qxF 'MIMEINJECT=${MIMEINJECT:-/usr/bin/mimeinject}' "$wrapper" || fail "$wrapper does not default to /usr/bin/mimeinject"
set +e
"$wrapper" </dev/null >/dev/null 2>"$work/wrapper.err"
status=$?
set -e
# Called without its arguments it defers (75, EX_TEMPFAIL), as it does on any problem.
# shellcheck disable=SC2015 # either test failing fails the check
[[ $status == 75 ]] && grep -q 'usage' "$work/wrapper.err" || fail "$wrapper without arguments exited $status"
ok "$wrapper: runs with /bin/sh, defers (75) when misused"

step "apt-get remove -y mimeinject"
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 remove -y -q mimeinject >"$work/remove.log" 2>&1 ||
    { cat "$work/remove.log" >&2; fail "apt-get remove mimeinject"; }
installed_by_us=
! dpkg -s mimeinject >/dev/null 2>&1 || fail "mimeinject is still installed: $(dpkg-query -W -f '${Status}' mimeinject)"
for f in /usr/bin/mimeinject "$wrapper" /usr/share/man/man1/mimeinject.1.gz /usr/share/doc/mimeinject; do
    [[ ! -e $f ]] || fail "$f is still there after the package was removed"
done
ok "removed; no file left"

step "all packaging checks passed"
