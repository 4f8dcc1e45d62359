#!/bin/sh
# Installs a private, unpacked copy of Debian's Postfix for tests/postfix.rs.
#
# Debian's `postfix` package conflicts with `exim4-daemon-light` (both provide
# mail-transport-agent), and the Exim tests need the latter installed with apt.
# So Postfix is never installed as a package here: its .deb is downloaded and
# unpacked under $PREFIX, the binaries' RUNPATH is pointed at the unpacked
# shared libraries, and the users, groups and set-gid bits that the package's
# postinst would create are created by hand. Nothing under /usr or /etc that a
# package owns is touched. The one system-wide trace besides the users and
# groups is an empty /etc/postfix directory, which the test bind-mounts over
# inside its own mount namespace (see tests/support/postfix/mod.rs).
#
# Run as root on Debian bookworm. Idempotent, and quick when already done.
#
# Environment:
#   MIMEINJECT_POSTFIX_PREFIX  where to unpack (default /opt/mimeinject-postfix)
set -eu

PREFIX=${MIMEINJECT_POSTFIX_PREFIX:-/opt/mimeinject-postfix}
STAMP="$PREFIX/.mimeinject-installed"

say() { printf 'install-postfix: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
case $PREFIX in
    /?*/?*) ;;
    *) die "MIMEINJECT_POSTFIX_PREFIX must be an absolute path two levels deep at least (it is replaced wholesale): '$PREFIX'" ;;
esac

# Shared libraries the unpacked binaries link against, plus the tools used
# below. None of these conflicts with Exim.
NEEDED_PKGS="libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3 mount netbase patchelf util-linux"

ensure_accounts() {
    getent group postfix >/dev/null || groupadd --system postfix
    getent group postdrop >/dev/null || groupadd --system postdrop
    if ! getent passwd postfix >/dev/null; then
        useradd --system --gid postfix --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin postfix
    fi
    getent passwd nobody >/dev/null || die "no 'nobody' user (needed as the filter user)"
}

ensure_setgid() {
    for b in postdrop postqueue; do
        chown root:postdrop "$PREFIX/usr/sbin/$b"
        chmod 2555 "$PREFIX/usr/sbin/$b"
    done
}

ensure_mountpoint() {
    # Only created when absent; never written to. If a real Postfix is
    # installed later, its package simply fills this directory.
    [ -d /etc/postfix ] || mkdir -m 0755 /etc/postfix
}

already_done() {
    [ -f "$STAMP" ] || return 1
    [ -x "$PREFIX/usr/sbin/postfix" ] || return 1
    for p in $NEEDED_PKGS; do
        dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
    done
    # The binaries must actually load their libraries.
    "$PREFIX/usr/sbin/postconf" -d mail_version >/dev/null 2>&1 || return 1
    return 0
}

if already_done; then
    ensure_accounts
    ensure_setgid
    ensure_mountpoint
    say "already installed in $PREFIX ($("$PREFIX/usr/sbin/postconf" -d -h mail_version 2>/dev/null))"
    exit 0
fi

missing=""
for p in $NEEDED_PKGS; do
    dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
    say "installing with apt:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

work=$(mktemp -d /tmp/install-postfix.XXXXXX)
trap 'rm -rf "$work"' EXIT
# _apt must be able to write the download directory.
chmod 0755 "$work"
mkdir "$work/dl"
chown _apt "$work/dl" 2>/dev/null || true
say "downloading the postfix package (not installing it)"
if ! (cd "$work/dl" && apt-get download -qq postfix) >/dev/null 2>&1; then
    apt-get update -qq
    (cd "$work/dl" && apt-get download -qq postfix) >/dev/null
fi
deb=$(ls "$work"/dl/postfix_*.deb)

stage="$PREFIX.new"
rm -rf "$stage"
mkdir -p "$stage"
dpkg-deb -x "$deb" "$stage"

# The package's binaries and libraries carry RUNPATH=/usr/lib/postfix. Point
# them at the unpacked copy. An absolute path is needed: the dynamic loader
# does not expand $ORIGIN for set-gid programs (postdrop, postqueue).
libdir="$PREFIX/usr/lib/postfix"
for f in "$stage"/usr/sbin/* "$stage"/usr/lib/postfix/sbin/* "$stage"/usr/lib/postfix/*.so; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    head -c 4 "$f" | grep -q 'ELF' || continue
    if patchelf --print-rpath "$f" >/dev/null 2>&1; then
        patchelf --set-rpath "$libdir" "$f"
    fi
done

# What the package's postinst would create in /etc/postfix, kept private:
# an empty list of dynamic map plugins (no plugin packages are unpacked).
printf '# dict-type\tso-name (pathname)\tdict-function\tmkmap-function\n' \
    >"$stage/etc/postfix/dynamicmaps.cf"

rm -rf "$PREFIX"
mv "$stage" "$PREFIX"

ensure_accounts
ensure_setgid
ensure_mountpoint

"$PREFIX/usr/sbin/postconf" -d mail_version >/dev/null 2>&1 \
    || die "the unpacked postconf does not run (missing shared libraries?)"
date -u +%Y-%m-%dT%H:%M:%SZ >"$STAMP"
say "installed $("$PREFIX/usr/sbin/postconf" -d -h mail_version 2>/dev/null) in $PREFIX"
