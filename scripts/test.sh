#!/usr/bin/env bash
# The project's test command (README: "Run the tests").
#
# Prepares the real peers the interop tests talk to (a Python venv with Autobahn|Python,
# created on first use by scripts/python-env.sh) and the browser the browser tests run
# in (scripts/web-env.sh), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

WAMP_INTEROP_PYTHON="$(scripts/python-env.sh | tail -n1)"
export WAMP_INTEROP_PYTHON
# The browser tests' pages, Chromium and chromedriver (tests/tests/browser.rs would
# make them on first use too; here the log of a first install is not interleaved).
scripts/web-env.sh >/dev/null

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
