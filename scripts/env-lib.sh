# Sourced by js-env.sh and python-env.sh, which make (or reuse) an environment for the
# interop tests and print where it is as their last line on stdout.
#
# Before sourcing, the script sets `env_name` (the prefix of its log lines) and defines
# `up_to_date` (whether the environment is ready) and `print_env` (prints where it is).

log() { printf '%s: %s\n' "$env_name" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# When the environment is ready, prints it and ends the script.
exit_if_ready() {
    if up_to_date; then
        print_env
        exit 0
    fi
}

# Serializes concurrent runs (parallel tests) that would build the same environment: waits
# for the lock file "$1" (held until the script exits), then checks again, as the run
# that held the lock may have built it meanwhile. Without flock, runs are not serialized.
lock_then_exit_if_ready() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$1"
        flock 9
        exit_if_ready
    fi
}
