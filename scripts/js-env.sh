#!/usr/bin/env bash
# Install (or reuse) Autobahn|JS for the interop suites and print its node_modules dir.
#
#   NODE_MODULES=$(scripts/js-env.sh | tail -n1)
#   node --experimental-websocket tests/interop/abjs_suite.mjs --node-modules "$NODE_MODULES" ...
#
# The packages are pinned by tests/interop/js/package.json and its package-lock.json
# (Autobahn|JS 26.3.1 and its pure-JS dependencies: cbor, msgpack5, crypto-js, tweetnacl).
# They are installed with `npm ci` into "${WAMP_JS_ENV:-<repo>/target/js-env}". A marker
# there holds the hash of the lockfile it was built from; when it matches, nothing is
# installed (fast path). When the lockfile changes, the directory is reinstalled.
#
# Autobahn|JS 26.3.1 declares node >= 22 but runs on Node 20 given
# `--experimental-websocket` (its WebSocket transport uses the global WebSocket); its
# RawSocket transport (JSON only) needs no flag. Node >= 20 is required here.
#
# Only the node_modules path goes to stdout (as the last line); all logging goes to stderr.
# Environment: WAMP_JS_ENV (install dir), NODE and NPM (programs, default node and npm).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$script_dir/.." && pwd -P)"
pins="$repo/tests/interop/js"
env_dir="${WAMP_JS_ENV:-$repo/target/js-env}"
node="${NODE:-node}"
npm="${NPM:-npm}"
marker_name=".wamp-interop-lock"
env_name="js-env"
# shellcheck source=env-lib.sh
. "$script_dir/env-lib.sh"

[ -f "$pins/package.json" ] || die "missing $pins/package.json"
[ -f "$pins/package-lock.json" ] || die "missing $pins/package-lock.json"

want="$(cat "$pins/package.json" "$pins/package-lock.json" | sha256sum | cut -d' ' -f1)"

up_to_date() {
    [ -f "$env_dir/$marker_name" ] && [ "$(cat "$env_dir/$marker_name")" = "$want" ] \
        && [ -f "$env_dir/node_modules/autobahn/package.json" ]
}

print_env() {
    printf '%s\n' "$(cd "$env_dir/node_modules" && pwd -P)"
}

# Fast path: no lock, no npm.
exit_if_ready

command -v "$node" >/dev/null 2>&1 || die "no $node on PATH (Node.js >= 20 is needed)"
command -v "$npm" >/dev/null 2>&1 || die "no $npm on PATH"
major="$("$node" -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || die "$node is version $("$node" --version); Node.js >= 20 is needed"

mkdir -p "$env_dir"
lock_then_exit_if_ready "$env_dir.lock"

start=$SECONDS
log "installing $(sed -n 's/.*"autobahn": *"\([^"]*\)".*/autobahn@\1/p' "$pins/package.json" | head -n1) into $env_dir"
rm -f "$env_dir/$marker_name"
cp "$pins/package.json" "$pins/package-lock.json" "$env_dir/"
# --ignore-scripts: the pinned packages need no install scripts (all pure JS).
# The engine warning (autobahn wants node >= 22) is expected on Node 20.
(cd "$env_dir" && "$npm" ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 \
    || die "npm ci failed in $env_dir"

# Smoke test: the library loads and has the transports and auth helpers the suite uses.
(cd "$env_dir" && "$node" -e '
const ab = require("autobahn");
for (const name of ["Connection", "auth_cra", "auth_cryptosign"]) {
    if (!ab[name]) { console.error("autobahn lacks " + name); process.exit(1); }
}') >&2 || die "autobahn does not load from $env_dir"

printf '%s\n' "$want" >"$env_dir/$marker_name.tmp"
mv -f "$env_dir/$marker_name.tmp" "$env_dir/$marker_name"
log "ready in $((SECONDS - start))s"
print_env
