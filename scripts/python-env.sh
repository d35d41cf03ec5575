#!/usr/bin/env bash
# Create (or reuse) the Python venv used by the interop tests and print its python.
#
#   PY=$(scripts/python-env.sh | tail -n1)
#
# The venv lives at "${WAMP_PY_VENV:-<repo>/target/py-venv}" and gets the pinned
# packages of scripts/requirements-interop.txt (Autobahn|Python, Crossbar.io, ...).
# A marker file in the venv holds the requirement lines it was built from; when the
# marker matches and the venv's python runs, nothing is installed (fast path).
# When the pins change, they are installed into the existing venv with pip; delete
# the venv directory to start from scratch.
#
# If bjdata ends up installed (e.g. pulled in by crossbar), its C extension is
# replaced by the pure-Python build, so importing autobahn under NumPy 2 prints
# no "_ARRAY_API not found" traceback.
#
# Only the python path goes to stdout (as the last line); all logging goes to stderr.
# Environment: WAMP_PY_VENV (venv dir), PYTHON (base interpreter, default python3,
# must be >= 3.11).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$script_dir/.." && pwd -P)"
req_file="$script_dir/requirements-interop.txt"
venv="${WAMP_PY_VENV:-$repo/target/py-venv}"
base_python="${PYTHON:-python3}"
marker_name=".wamp-interop-requirements"
env_name="python-env"
# shellcheck source=env-lib.sh
. "$script_dir/env-lib.sh"

[ -f "$req_file" ] || die "missing $req_file"

# The requirement string: the non-comment, non-blank lines of the requirements file.
want="$(sed -e 's/#.*$//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$req_file")"
[ -n "$want" ] || die "no requirements in $req_file"

venv_ok() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1
}

up_to_date() {
    venv_ok && [ -f "$venv/$marker_name" ] && [ "$(cat "$venv/$marker_name")" = "$want" ]
}

print_env() {
    local abs
    abs="$(cd "$venv" && pwd -P)"
    printf '%s\n' "$abs/bin/python"
}

# Fast path: no lock, no pip.
exit_if_ready

mkdir -p "$(dirname "$venv")"
lock_then_exit_if_ready "$venv.lock"

start=$SECONDS

if ! venv_ok; then
    if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ] && [ -n "$(ls -A "$venv" 2>/dev/null)" ]; then
        die "$venv exists and is not a venv; refusing to touch it"
    fi
    "$base_python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "$base_python is older than Python 3.11 (autobahn 26.x needs >= 3.11)"
    log "creating venv $venv"
    # --clear: a directory left half-built by an interrupted run is started afresh.
    "$base_python" -m venv --clear "$venv" >&2
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)

log "installing $(printf '%s' "$want" | tr '\n' ' ')"
rm -f "$venv/$marker_name"
"${pip[@]}" install --quiet -r "$req_file" >&2

# bjdata fix: rebuild it without its NumPy-1.x C extension if importing it is noisy.
if "$venv/bin/python" -c 'import importlib.util, sys; sys.exit(0 if importlib.util.find_spec("bjdata") else 1)' 2>/dev/null; then
    noise="$("$venv/bin/python" -c 'import bjdata' 2>&1 >/dev/null || true)"
    if [ -n "$noise" ]; then
        bj_version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("bjdata"))')"
        log "reinstalling bjdata==$bj_version without its C extension"
        PYBJDATA_NO_EXTENSION=1 "${pip[@]}" install --quiet --no-cache-dir \
            --force-reinstall --no-deps "bjdata==$bj_version" >&2
        noise="$("$venv/bin/python" -c 'import bjdata' 2>&1 >/dev/null || true)"
        [ -z "$noise" ] || die "importing bjdata is still noisy: $noise"
    fi
fi

# Smoke test: the serializers the interop tests use must import cleanly.
"$venv/bin/python" -c 'from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer, CBORSerializer' \
    || die "autobahn serializers do not import in $venv"

# Crossbar, when pinned, must start cleanly: `crossbar version` imports the router stack.
if [ -x "$venv/bin/crossbar" ]; then
    cb_out="$("$venv/bin/crossbar" version 2>&1)" || die "crossbar version failed: $cb_out"
    case "$cb_out" in
        *Traceback*) die "crossbar version printed a traceback: $cb_out" ;;
    esac
fi

printf '%s\n' "$want" >"$venv/$marker_name.tmp"
mv -f "$venv/$marker_name.tmp" "$venv/$marker_name"
log "venv ready in $((SECONDS - start))s"
print_env
