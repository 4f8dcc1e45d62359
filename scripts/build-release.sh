#!/usr/bin/env bash
# Builds the binary as it is shipped: release profile, linked statically on Linux
# (crt-static). The filter is started once per delivery, so its start-up counts: linked
# statically it starts as fast as /bin/cat, with no ld.so relocations and no libgcc_s to
# load (scripts/bench.sh, "2 KB message": paired ratio to /bin/cat 0.88 static against 1.23
# dynamic, 2026-11-24).
#
# The target is named explicitly (the host's own triple): with --target, RUSTFLAGS reach only
# the target's code, so build scripts and proc-macros (clap's derive) stay dynamic, which
# they must. A plain `cargo build --release` stays portable and lands in target/release/.
#
# Usage: scripts/build-release.sh [extra cargo build arguments]
# Prints the path of the binary on stdout: target/<host triple>/release/mimeinject (under
# CARGO_TARGET_DIR when that is set).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
flags=${RUSTFLAGS:-}
case $host in
    *-linux-gnu*) flags="$flags -C target-feature=+crt-static" ;;
esac
(cd "$repo" && RUSTFLAGS="$flags" cargo build --release --locked --target "$host" "$@" >&2)
echo "$(cd "$repo" && cd "${CARGO_TARGET_DIR:-target}" && pwd)/$host/release/mimeinject"
