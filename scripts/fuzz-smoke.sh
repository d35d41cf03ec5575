#!/usr/bin/env bash
# Runs every cargo-fuzz target briefly from a corpus seeded with the conformance vectors,
# so a target that crashes at once, or a regression on a seed, fails CI.
#
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   # default 10
#
# Uses the builds of scripts/fuzz-build.sh (no sanitizer, stable toolchain). The long
# runs (10 minutes per target, with the address sanitizer) are in RELIABILITY.md.
set -euo pipefail
secs="${1:-10}"
cd "$(dirname "$0")/../fuzz"
python3 seed.py >/dev/null
for target in $(cargo fuzz list); do
    echo "fuzz smoke: $target for ${secs}s"
    log="$(mktemp)"
    if ! cargo fuzz run -s none "$target" -- -max_total_time="$secs" >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz smoke: $target failed (the crashing input is under fuzz/artifacts/$target)"
        exit 1
    fi
    grep -E "^Done" "$log" || true
    rm -f "$log"
done
