"""ab_web_peer.py URL REALM SERIALIZER [options]

The Autobahn|Python peer of the browser tests (tests/tests/browser.rs): joins REALM and
registers two procedures for the page to call, then prints READY:

  - python.echo(*args): returns the arguments as they came;
  - python.call_back(procedure, text): calls PROCEDURE (registered by the page) with
    [text] and returns its result, so the page's procedure is called by Autobahn.

Runs until SIGTERM or --timeout (default 300 s). The common options are described in
ab_common.py.
"""

from autobahn.wamp.types import CallResult

import ab_common


def main():
    p = ab_common.parser(__doc__)
    p.set_defaults(timeout=300.0)
    ns = p.parse_args()
    state = {"registered": False}
    component = ab_common.make_component(p, ns)

    @component.on_join
    async def joined(session, details):
        def echo(*args):
            return CallResult(*args)

        async def call_back(procedure, text):
            return await session.call(procedure, text)

        await session.register(echo, "python.echo")
        await session.register(call_back, "python.call_back")
        state["registered"] = True
        ab_common.emit("READY")

    ab_common.serve(component, ns, "ab_web_peer", state)


if __name__ == "__main__":
    main()
