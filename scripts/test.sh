#!/usr/bin/env bash
# The project's test entry point: installs what the tests need on a fresh
# Debian machine (when run as root), then runs formatting, lints, the tests
# (including the end-to-end MTA tests) and the doc tests.
#
# Usage: scripts/test.sh            (from any directory; safe to re-run)
#
# Environment:
#   MIMEINJECT_CORPUS  directory of sample messages for the corpus tests;
#                      defaults to ../shared/corpus/messages next to the
#                      repository (the tests find it there by themselves too).
#   MIMEINJECT_CASES   the shared bug-report cases; defaults to ../shared/cases.
#   MIMEINJECT_SKIP_LOG  where the tests write a `SKIP <test>: <reason>` line for
#                      each test that could not run (default target/test-skips.log);
#                      the count and the lines are printed after `cargo test`.
#   CI=true            makes a test that cannot run (a missing MTA, library or
#                      shared data) a failure instead of a skip.
#   FUZZ_SECONDS       seconds per fuzz target in the smoke run (default 45).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }

# --- System packages --------------------------------------------------------

# Debian package name -> a file it installs, to tell whether it is there.
declare -A wanted=(
    [exim4-daemon-light]=/usr/sbin/exim4
    [python3]=/usr/bin/python3
    # exim's DKIM tests: dkimpy signs and verifies, openssl makes the keys.
    [python3-dkim]=/usr/lib/python3/dist-packages/dkim/__init__.py
    [openssl]=/usr/bin/openssl
)
# `mimeinject deliver` (tests/postfix_deliver.rs): a private Dovecot as the LMTP
# next hop, and openssl for the exim next hop's test certificates. The
# package's own configuration and service are never used: the tests run
# `dovecot -F -c` with a private configuration and base_dir in a temp dir.
wanted+=(
    [dovecot-lmtpd]=/usr/lib/dovecot/lmtp
    [rsyslog]=/usr/sbin/rsyslogd  # tests/logging.rs runs a private rsyslogd, never the service
    [openssl]=/usr/bin/openssl
)

install_packages() {
    local missing=() pkg
    for pkg in "${!wanted[@]}"; do
        [[ -e ${wanted[$pkg]} ]] || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        step "system packages present: ${!wanted[*]}"
        return
    fi
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        step "cannot install ${missing[*]} (needs root and apt-get); MTA tests will skip or, under CI=true, fail"
        return
    fi
    step "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
}

# The tests run private exim instances with their own configuration and
# spool; a system daemon holding port 25 is neither needed nor wanted.
stop_system_exim() {
    [[ $(id -u) == 0 && -e /usr/sbin/exim4 ]] || return 0
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        systemctl disable --now exim4 >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/exim4 ]]; then
        /etc/init.d/exim4 stop >/dev/null 2>&1 || true
        command -v update-rc.d >/dev/null && update-rc.d exim4 disable >/dev/null 2>&1 || true
    fi
    if pgrep -x exim4 >/dev/null 2>&1; then
        step "warning: an exim4 process is still running (not started by this script; left alone)"
    else
        step "no system exim daemon running"
    fi
}

install_packages
stop_system_exim

# Postfix conflicts with exim4-daemon-light, so it is unpacked beside it
# rather than installed (see the script).
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    step "scripts/install-postfix.sh"
    bash scripts/install-postfix.sh
else
    step "cannot unpack Postfix (needs root and apt-get); Postfix tests will skip or, under CI=true, fail"
fi

# --- Mail libraries for tests/libraries.rs ------------------------------------
# The README's "From your application" recipes run with the real libraries: Debian's PHP and
# Perl ones, Django in a venv and nodemailer with npm under $MIMEINJECT_LIBRARIES. Each part is
# skipped when already there; about a minute on a fresh machine.
MIMEINJECT_LIBRARIES=${MIMEINJECT_LIBRARIES:-$repo/target/libraries}
export MIMEINJECT_LIBRARIES

install_mail_libraries() {
    local start=$SECONDS pkg missing=()
    # Debian package name -> a file it installs.
    local -A debian=(
        [php-cli]=/usr/bin/php
        [libphp-phpmailer]=/usr/share/php/libphp-phpmailer/autoload.php
        [php-symfony-mime]=/usr/share/php/Symfony/Component/Mime/autoload.php
        [php-email-validator]=/usr/share/php/Egulias/EmailValidator/autoload.php
        [libmime-lite-perl]=/usr/share/perl5/MIME/Lite.pm
        [libemail-mime-perl]=/usr/share/perl5/Email/MIME.pm
    )
    for pkg in "${!debian[@]}"; do
        [[ -e ${debian[$pkg]} ]] || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        :
    elif [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        step "cannot install ${missing[*]} (needs root and apt-get); their library tests will skip or, under CI=true, fail"
    else
        step "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=900 install -y -q "${missing[@]}" ||
            { apt-get -o DPkg::Lock::Timeout=900 update -q &&
                apt-get -o DPkg::Lock::Timeout=900 install -y -q "${missing[@]}"; }
    fi
    local venv=$MIMEINJECT_LIBRARIES/venv node=$MIMEINJECT_LIBRARIES/node
    if ! "$venv/bin/python" -c 'import django' 2>/dev/null; then
        step "installing Django 5.2 in $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check 'django~=5.2.0'
    fi
    if [[ ! -e $node/node_modules/nodemailer/package.json ]]; then
        step "installing nodemailer 10.6 in $node"
        mkdir -p "$node"
        npm install --prefix "$node" --no-audit --no-fund --loglevel=error 'nodemailer@~10.6.0'
    fi
    step "mail libraries: Django $("$venv/bin/python" -c 'import django; print(django.__version__)'), nodemailer $(node -p "require('$node/node_modules/nodemailer/package.json').version"), $((SECONDS - start)) s"
}
install_mail_libraries

# --- Environment for the tests ----------------------------------------------

# The tests find ../shared beside the repository by themselves; set here too so that the
# log says which data ran. Missing shared data skips its tests (a failure under CI=true).
if [[ -z ${MIMEINJECT_CORPUS:-} && -d ../shared/corpus/messages ]]; then
    MIMEINJECT_CORPUS=$(cd ../shared/corpus/messages && pwd)
    export MIMEINJECT_CORPUS
fi
if [[ -z ${MIMEINJECT_CASES:-} && -d ../shared/cases ]]; then
    MIMEINJECT_CASES=$(cd ../shared/cases && pwd)
    export MIMEINJECT_CASES
fi
step "MIMEINJECT_CORPUS=${MIMEINJECT_CORPUS:-(unset)}  MIMEINJECT_CASES=${MIMEINJECT_CASES:-(unset)}  CI=${CI:-(unset)}"

# libtest has no run-time skip and hides the output of passing tests, so a test that cannot
# run appends `SKIP <test>: <reason>` here (tests/support/skip.rs); shown after the tests.
MIMEINJECT_SKIP_LOG=${MIMEINJECT_SKIP_LOG:-$repo/target/test-skips.log}
export MIMEINJECT_SKIP_LOG
mkdir -p "$(dirname "$MIMEINJECT_SKIP_LOG")"
: >"$MIMEINJECT_SKIP_LOG"

# Prints how many tests skipped and why; under CI=true any skip is a failure.
report_skips() {
    local lines count
    lines=$(grep '^SKIP ' "$MIMEINJECT_SKIP_LOG" | sort -u || true)
    if [[ -z $lines ]]; then
        step "no test skipped"
        return 0
    fi
    count=$(sed -n 's/^SKIP \([^ ]*\): .*/\1/p' <<<"$lines" | sort -u | wc -l)
    step "$count test(s) skipped:"
    printf '%s\n' "$lines"
    if [[ ${CI:-} == true ]]; then
        echo "CI=true: a test that cannot run is a failure" >&2
        return 1
    fi
}

# --- Checks -------------------------------------------------------------------

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --all-targets --all-features -- -D warnings"
cargo clippy --all-targets --all-features -- -D warnings

step "cargo test --all-features (unit, integration, exim, Postfix, doc tests)"
test_status=0
cargo test --all-features || test_status=$?
if ! report_skips && ((test_status == 0)); then
    test_status=1
fi
((test_status == 0)) || exit "$test_status"

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --all-features --no-deps --quiet

step "examples"
examples_out=$(mktemp -d)
trap 'rm -rf "$examples_out"' EXIT
cargo run --quiet --example sync_filter -- testdata/files <testdata/messages/invoice.eml >"$examples_out/sync.eml"
cargo run --quiet --example sans_io -- testdata/files <testdata/messages/invoice.eml >"$examples_out/sans_io.eml"
cmp "$examples_out/sync.eml" "$examples_out/sans_io.eml"
cargo run --quiet --example memory_source >/dev/null
cargo run --quiet --features tokio --example tokio_dir -- testdata/files testdata/messages "$examples_out/dir"
test -s "$examples_out/dir/invoice.eml"

# A bounded run of each fuzz target (FUZZ_SECONDS each, 45 by default), so CI
# stays within its budget; installs cargo-fuzz when missing.
step "scripts/fuzz-smoke.sh (FUZZ_SECONDS=${FUZZ_SECONDS:-45} per target)"
bash scripts/fuzz-smoke.sh

# --- Packaging ------------------------------------------------------------------
# The plain build (target/release/) and the static release build, cargo package, and the
# Debian package: built, linted, installed from the README's recipe, run, removed. Installs
# cargo-deb, lintian and man-db when missing; the install part needs root.
step "scripts/check-packaging.sh"
packaging_start=$SECONDS
bash scripts/check-packaging.sh
step "packaging checks took $((SECONDS - packaging_start)) s"

step "all checks passed"
