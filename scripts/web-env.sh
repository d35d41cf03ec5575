#!/usr/bin/env bash
# Build the browser test page and example page (wamp-web-app) and check the browser that
# runs them; print the directory to serve as the last line on stdout.
#
#   WEB_DIR=$(scripts/web-env.sh | tail -n1)
#
# Steps (the installs are skipped when already done; the build is cargo's, so it is
# quick when nothing changed):
# - the rustup target wasm32-unknown-unknown;
# - wasm-bindgen-cli at the version of the wasm-bindgen crate in Cargo.lock (the two
#   must match), installed with `cargo install` into ~/.cargo/bin (about two minutes);
# - Debian's `chromium` and `chromium-driver` (with apt-get, when running as root or
#   with sudo; otherwise an error that says what to install);
# - the app, built in release mode for wasm32-unknown-unknown, through `wasm-bindgen
#   --target web` into "${WAMP_WEB_DIR:-<repo>/target/web}/pkg", beside the pages of
#   wamp-web/app/www/.
#
# Only the directory goes to stdout (as the last line); all logging goes to stderr.
# Environment: WAMP_WEB_DIR (output dir), CHROMIUM and CHROMEDRIVER (programs).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$script_dir/.." && pwd -P)"
out="${WAMP_WEB_DIR:-$repo/target/web}"
env_name="web-env"
# shellcheck source=env-lib.sh
. "$script_dir/env-lib.sh"

cd "$repo"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the rustup target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown >&2
fi

want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock)"
[ -n "$want" ] || die "no wasm-bindgen in Cargo.lock"
have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$have" != "$want" ]; then
    log "installing wasm-bindgen-cli $want (found: ${have:-none})"
    # Not --locked: its lockfile may pin versions a registry mirror lacks; the version
    # that must match is wasm-bindgen's own, pinned here.
    cargo install wasm-bindgen-cli --version "$want" >&2
fi

chromium="${CHROMIUM:-chromium}"
chromedriver="${CHROMEDRIVER:-chromedriver}"
if ! command -v "$chromium" >/dev/null 2>&1 || ! command -v "$chromedriver" >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        sudo="sudo"
    fi
    log "installing chromium and chromium-driver"
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver >&2
fi

log "building wamp-web-app for wasm32-unknown-unknown"
cargo build --release -p wamp-web-app --target wasm32-unknown-unknown >&2
mkdir -p "$out/pkg"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" \
    "$target_dir/wasm32-unknown-unknown/release/wamp_web_app.wasm" >&2
cp wamp-web/app/www/* "$out/"
printf '%s\n' "$out"
