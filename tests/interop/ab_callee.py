"""ab_callee.py URL REALM SERIALIZER PROCEDURE [--calls N] [options]

An Autobahn|Python callee for the integration tests: joins REALM, registers PROCEDURE,
prints READY once the registration is confirmed, and serves calls so that a test can tell
it ran and what it received:

  - the result's positional arguments are the call's in reverse order;
  - its keyword arguments are the call's plus "served_by": "autobahn", and "caller" /
    "caller_authid" when the router disclosed the caller.

Keyword arguments of a call steer it (they are echoed like any other):

    "error": URI         answer with ERROR URI and the call's positional arguments
    "sleep": SECONDS     wait before answering (cancel and timeout tests)
    "progress": N        first send N progressive results (args [i]) if the caller asked
                         for progressive results

Stdout, one line each: READY, then per call `CALL {"args": [...], "kwargs": {...}}`
(printed when the invocation arrives), then LEFT when the session ends.
Exits 0 after serving --calls N calls (when given) or on SIGTERM; 1 if it could not join
or register; 2 on --timeout (default 300 s, so a forgotten callee does not linger).
The common options (TLS, authentication) are described in ab_common.py.
"""

import asyncio

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult, RegisterOptions

import ab_common

# Autobahn passes the invocation details under this keyword; an unusual name keeps it
# apart from the call's own keyword arguments.
DETAILS_ARG = "_ab_invocation_details"


def main():
    p = ab_common.parser(__doc__)
    p.add_argument("procedure")
    p.add_argument("--calls", type=int, default=None, help="exit after serving N calls")
    p.set_defaults(timeout=300.0)
    ns = p.parse_args()
    if ns.calls is not None and ns.calls < 1:
        p.error("--calls wants a positive number")

    state = {"served": 0, "registered": False}
    component = ab_common.make_component(p, ns)

    @component.on_join
    async def joined(session, details):
        async def endpoint(*args, **kwargs):
            details = kwargs.pop(DETAILS_ARG)
            ab_common.emit("CALL", {"args": list(args), "kwargs": kwargs})
            try:
                delay = float(kwargs.get("sleep", 0))
                if delay > 0:
                    await asyncio.sleep(delay)
                if details.progress is not None:
                    for i in range(int(kwargs.get("progress", 0))):
                        details.progress(i)
                if "error" in kwargs:
                    raise ApplicationError(str(kwargs["error"]), *args)
                reply = dict(kwargs)
                reply["served_by"] = "autobahn"
                if details.caller is not None:
                    reply["caller"] = details.caller
                if details.caller_authid is not None:
                    reply["caller_authid"] = details.caller_authid
                result = CallResult(*reversed(args))
                # Set directly: CallResult(**kw) would take keys such as "callee" or
                # "forward_for" as its own options instead of results.
                result.kwresults = reply
                return result
            finally:
                state["served"] += 1
                if ns.calls is not None and state["served"] >= ns.calls:
                    # Leave a moment later: the YIELD for this call is sent only after
                    # this coroutine has returned.
                    asyncio.get_running_loop().call_later(0.2, session.leave)

        await session.register(
            endpoint, ns.procedure, options=RegisterOptions(details_arg=DETAILS_ARG)
        )
        state["registered"] = True
        ab_common.emit("READY")

    ab_common.serve(component, ns, "ab_callee", state)


if __name__ == "__main__":
    main()
