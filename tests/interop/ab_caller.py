"""ab_caller.py URL REALM SERIALIZER PROCEDURE ARGS_JSON KWARGS_JSON [options]

An Autobahn|Python caller for the integration tests: joins REALM, calls PROCEDURE once
with ARGS_JSON (a JSON array) and KWARGS_JSON (a JSON object), prints exactly one JSON
line on stdout and exits:

    {"args": [...], "kwargs": {...}}                  exit 0: the call returned a result
    {"error": URI, "args": [...], "kwargs": {...}}    exit 1: the call returned an ERROR, or
                                                      the session was refused (URI is the
                                                      ABORT reason) or never connected
    {"error": "ab.timeout", ...}                      exit 2: no outcome within --timeout

Byte strings in a result (msgpack, cbor) are printed as {"bytes_b64": "..."}.
The common options (TLS, authentication, --timeout) are described in ab_common.py.
"""

import json
import sys

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult

import ab_common


def result_line(result):
    # Autobahn unwraps a RESULT with one positional argument and no keywords into that
    # value, and a bare RESULT into None; anything richer arrives as a CallResult.
    if isinstance(result, CallResult):
        return {"args": list(result.results), "kwargs": dict(result.kwresults or {})}
    if result is None:
        return {"args": [], "kwargs": {}}
    return {"args": [result], "kwargs": {}}


def main():
    p = ab_common.parser(__doc__)
    p.add_argument("procedure")
    p.add_argument("args_json")
    p.add_argument("kwargs_json")
    ns = p.parse_args()
    try:
        args = json.loads(ns.args_json)
        kwargs = json.loads(ns.kwargs_json)
    except json.JSONDecodeError as e:
        p.error(f"ARGS_JSON/KWARGS_JSON: {e}")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        p.error("ARGS_JSON must be a JSON array and KWARGS_JSON a JSON object")

    outcome = {}
    component = ab_common.make_component(p, ns)

    @component.on_join
    async def joined(session, details):
        try:
            result = await session.call(ns.procedure, *args, **kwargs)
            outcome["line"] = result_line(result)
            outcome["ok"] = True
        except ApplicationError as e:
            outcome["line"] = {"error": e.error, "args": list(e.args), "kwargs": dict(e.kwargs or {})}
        session.leave()

    @component.on_leave
    def left(session, details):
        # Only the first reason counts: a refused join (ABORT) lands here without a call.
        if "line" not in outcome:
            message = [details.message] if details.message else []
            outcome["line"] = {"error": details.reason, "args": message, "kwargs": {}}

    @component.on_connectfailure
    def connect_failed(component, error):
        # The Component's own failure only says "Exhausted all transport connect
        # attempts"; the reason (refused, TLS verification, ...) is this one.
        outcome.setdefault("connect_failures", []).append(f"{type(error).__name__}: {error}")

    failure = ab_common.run(component, ns)
    if "line" not in outcome:
        reasons = outcome.get("connect_failures", [])
        reasons.append(str(failure) if failure else "the component ended without joining")
        outcome["line"] = {"error": "ab.no_session", "args": reasons, "kwargs": {}}
    ab_common.emit(outcome["line"])
    sys.exit(ab_common.EXIT_OK if outcome.get("ok") else ab_common.EXIT_WAMP_ERROR)


if __name__ == "__main__":
    main()
