#!/usr/bin/env bash
# A short, bounded run of each fuzz target in fuzz/ (see fuzz/README.md), for CI:
# builds the targets once, then runs each for FUZZ_SECONDS (default 45) from the
# committed seeds plus whatever corpus a previous run left in fuzz/corpus/.
# Installs cargo-fuzz when it is missing. Exits non-zero on the first finding;
# the input is left in fuzz/artifacts/<target>/ and printed in base64.
#
# Usage: scripts/fuzz-smoke.sh [TARGET...]      (default: every target)
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 45)
#   FUZZ_SANITIZER  none (default; works on stable Rust) or address (needs
#                   nightly, or RUSTC_BOOTSTRAP=1 on stable, which this script
#                   then sets)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

seconds=${FUZZ_SECONDS:-45}
sanitizer=${FUZZ_SANITIZER:-none}
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(filter scanner)
fi

step() { printf '\n==> %s\n' "$*"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes -Zsanitizer=... unless the sanitizer is none; on a stable
# toolchain that needs RUSTC_BOOTSTRAP.
if [[ $sanitizer != none ]] && ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

# The structure checker the filter target relies on (fuzz/src/mime.rs) has its own tests.
step "cargo test --lib (fuzz/)"
(cd fuzz && cargo test --lib --quiet)

# -O: optimised; -a: keep debug assertions (overflow checks) on.
flags=(-O -a -s "$sanitizer")

step "cargo fuzz build ${flags[*]}"
cargo fuzz build "${flags[@]}"

for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    step "fuzzing $target for ${seconds}s"
    # -timeout: a single input taking 10 s is a finding (a hang).
    # -rss_limit_mb: memory must stay bounded whatever the input.
    log=$(mktemp)
    status=0
    cargo fuzz run "${flags[@]}" "$target" "fuzz/corpus/$target" fuzz/seeds -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    if ((status != 0)); then
        tail -n 80 "$log"
        rm -f "$log"
        step "fuzz target $target failed (status $status); input in fuzz/artifacts/$target/"
        exit "$status"
    fi
    grep -E '^(stat::|Done )' "$log" || true
    rm -f "$log"
done

step "fuzz smoke run passed: ${targets[*]}"
