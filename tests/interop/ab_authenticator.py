"""ab_authenticator.py URL REALM SERIALIZER PROCEDURE PRINCIPALS_JSON
                       [--authorizer URI --allow-prefix PREFIX --allow-actions A,B] [options]

A dynamic authenticator as Crossbar.io users write them, in Autobahn|Python: joins REALM,
registers PROCEDURE, and answers the router's calls `(realm, authid, details)` from the
PRINCIPALS table, the way Crossbar.io's documentation shows:

    {"ticket":     {AUTHID: {"ticket": T, "role": R}},
     "wampcra":    {AUTHID: {"secret": S, "role": R[, "salt": .., "iterations": .., "keylen": ..]}},
     "cryptosign": {AUTHID: {"pubkey": HEX, "role": R}}}

ticket: the ticket in `details["ticket"]` must match, and the answer is the role;
wampcra: the answer is the principal's entry (the router checks the signature);
cryptosign: the principal is found by authid, else by `details["authextra"]["pubkey"]`,
and the answer is its entry with its authid. An unknown principal or a wrong ticket is
refused with ERROR wamp.error.not_authorized (which the router passes on in its ABORT).

With --authorizer it also registers a dynamic authorizer, called `(session, uri, action,
options)`, that allows the listed actions on URIs under PREFIX (with disclosure) and
denies everything else.

Stdout, one line each: READY once registered, then `ASKED {"realm": .., "authid": ..,
"authmethod": ..}` per authentication and `AUTHORIZE {"authid": .., "uri": ..,
"action": ..}` per authorization, then LEFT. Exits 0 on SIGTERM, 1 if it could not register,
2 on --timeout (default 300 s). The common options are described in ab_common.py.
"""

import json

from autobahn.wamp.exception import ApplicationError

import ab_common


def main():
    p = ab_common.parser(__doc__)
    p.add_argument("procedure")
    p.add_argument("principals", type=json.loads)
    p.add_argument("--authorizer")
    p.add_argument("--allow-prefix", default="")
    p.add_argument("--allow-actions", default="")
    p.set_defaults(timeout=300.0)
    ns = p.parse_args()
    table = ns.principals
    state = {"registered": False}
    component = ab_common.make_component(p, ns)

    def authenticate(realm, authid, details):
        method = details.get("authmethod")
        ab_common.emit("ASKED", {"realm": realm, "authid": authid, "authmethod": method})
        principals = table.get(method, {})
        if method == "cryptosign" and authid is None:
            pubkey = details.get("authextra", {}).get("pubkey")
            authid = next((a for a, p in principals.items() if p.get("pubkey") == pubkey), None)
        principal = principals.get(authid)
        if principal is None:
            raise ApplicationError(ApplicationError.NOT_AUTHORIZED, f"no principal {authid}")
        if method == "ticket":
            if details.get("ticket") != principal["ticket"]:
                raise ApplicationError(ApplicationError.NOT_AUTHORIZED, "wrong ticket")
            return principal["role"]
        answer = dict(principal)
        answer["authid"] = authid
        return answer

    allowed = set(filter(None, ns.allow_actions.split(",")))

    def authorize(session, uri, action, options):
        ab_common.emit(
            "AUTHORIZE", {"authid": session.get("authid"), "uri": uri, "action": action}
        )
        ok = action in allowed and uri.startswith(ns.allow_prefix)
        return {"allow": ok, "disclose": True, "cache": False}

    @component.on_join
    async def joined(session, details):
        await session.register(authenticate, ns.procedure)
        if ns.authorizer:
            await session.register(authorize, ns.authorizer)
        state["registered"] = True
        ab_common.emit("READY")

    ab_common.serve(component, ns, "ab_authenticator", state)


if __name__ == "__main__":
    main()
