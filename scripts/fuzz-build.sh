#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ so they never rot (CI runs this; no fuzzing).
#
# Installs cargo-fuzz on first use. Builds without a sanitizer (`-s none`), which works on
# the stable toolchain; to actually fuzz on stable, from fuzz/:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> -- -max_total_time=60
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# With no target named, `cargo fuzz build` builds every [[bin]] of fuzz/Cargo.toml.
cargo fuzz build -s none "$@"
cargo fuzz list
