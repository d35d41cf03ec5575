"""ab_suite.py: Autobahn|Python (asyncio) interop checks against any WAMP router.

    ab_suite.py --realm REALM [--ws URL] [--rawsocket URL] [--serializers json,msgpack,cbor]
                [--auth-url URL ...] [--auth METHOD:AUTHID:SECRET ...]
                [--restricted AUTHID:TICKET] [--allowed-prefix com.allowed.]
                [--only REGEX] [--wait SECONDS] [--check-timeout SECONDS] [--deadline SECONDS]

Prints ONE JSON line per check on stdout, in the order they ran:

    {"check": "rpc.args_kwargs@ws/json", "ok": true, "detail": "..."}

and exits 0 once every check has reported (the caller judges the results); the last line
is the check "suite.done" (its detail counts passes and failures). Exit 2 is a usage error.
Autobahn's own log goes to stderr. Every wait is bounded (--wait per awaited reply or
event, --cancel-wait for the ERROR after a CANCEL, --check-timeout per check, --deadline
for the whole run: checks not started by then report ok:false), so a router that lacks a
feature makes its checks fail, never hang.

What the router must offer (the principals the checks expect):

  --ws URL, --rawsocket URL   anonymous transports (WebSocket ws://HOST:PORT/PATH,
                              RawSocket rs://HOST:PORT) of REALM. The anonymous role may
                              call, register, publish and subscribe on every URI, is
                              allowed the meta API (wamp.session.*, wamp.registration.*,
                              wamp.subscription.*), and discloses callers and publishers.
                              Every check of the "per endpoint" groups runs once per
                              (transport, serializer) pair; the URL may also be given
                              without a serializer choice, --serializers applies to both.
  --auth-url URL              transport(s) where the principals below authenticate
                              (the same URL as --ws is fine if the router mixes methods).
  --auth METHOD:AUTHID:SECRET a principal whose role may do everything (like anonymous):
                              METHOD is ticket, wampcra, wampcra-salted (WAMP-CRA whose
                              CHALLENGE must carry a salt), cryptosign (SECRET: the 32-byte
                              Ed25519 seed, hex), scram (Autobahn's older "scram" variant,
                              which Crossbar.io speaks) or wamp-scram (the spec's WAMP-SCRAM,
                              implemented here since Autobahn|Python lacks it; give it only
                              when the router speaks it). Each is tried right (must join
                              with that authmethod and authid) and wrong (must be refused
                              with wamp.error.not_authorized).
  --restricted AUTHID:TICKET  a ticket principal whose role "restricted" may ONLY call and
                              subscribe on URIs under --allowed-prefix (default
                              "com.allowed."): its register, publish, and calls/subscribes
                              elsewhere must fail with wamp.error.not_authorized.

Check groups (names; "@TAG" is the endpoint, e.g. @ws/json, @rs/cbor, or the auth URL):
  per endpoint: rpc.args_kwargs, rpc.error, rpc.no_such_procedure, rpc.progressive,
    rpc.cancel (Autobahn's own cancel), rpc.cancel.kill, rpc.cancel.killnowait,
    rpc.cancel.skip, rpc.prefix, rpc.wildcard, rpc.precedence, rpc.shared.roundrobin,
    rpc.shared.first, rpc.shared.last, rpc.shared.random, rpc.shared.single_refuses,
    rpc.caller_disclosure, pubsub.args_kwargs, pubsub.acknowledge, pubsub.exclude_me,
    pubsub.exclude_session, pubsub.eligible_session, pubsub.exclude_authid,
    pubsub.eligible_authid, pubsub.prefix, pubsub.wildcard, pubsub.publisher_disclosure
  once: interop.mixed_serializers.rpc, interop.mixed_serializers.pubsub,
    pubsub.authrole_filters (needs a ticket principal and --restricted),
    meta.session.count, meta.session.list, meta.session.get, meta.session.on_join,
    meta.session.on_leave, meta.registration.lookup, meta.registration.list_callees,
    meta.subscription.lookup, meta.subscription.count_subscribers,
    authz.call_allowed, authz.call_denied, authz.register_denied, authz.publish_denied,
    authz.subscribe_allowed, authz.subscribe_denied
  per auth URL and principal: auth.METHOD.right@SCHEME, auth.METHOD.wrong@SCHEME,
    auth.cryptosign.bad_signature@SCHEME (the right key, a falsified signature), and
    auth.wamp-scram.rfc7677_vector (the suite's WAMP-SCRAM client, offline).

Every check uses URIs under a fresh random root, so checks never see each other's traffic.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
import traceback
from urllib.parse import urlsplit

import txaio

txaio.use_asyncio()

from autobahn.asyncio.rawsocket import WampRawSocketClientFactory  # noqa: E402
from autobahn.asyncio.wamp import Session  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp import message  # noqa: E402
from autobahn.wamp.auth import create_authenticator  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.serializer import (  # noqa: E402
    CBORSerializer,
    JsonSerializer,
    MsgPackSerializer,
)
from autobahn.wamp.types import (  # noqa: E402
    CallOptions,
    CallResult,
    ComponentConfig,
    PublishOptions,
    RegisterOptions,
    SubscribeOptions,
)

SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}
AUTH_METHODS = ("ticket", "wampcra", "wampcra-salted", "cryptosign", "scram", "wamp-scram")
NOT_AUTHORIZED = "wamp.error.not_authorized"

# A payload with the value kinds every serializer must carry (and a router must convert
# between serializers): nesting, unicode, the largest WAMP id, floats, booleans, null and
# a byte string (JSON carries it with the spec's "\0"+base64 convention).
PAYLOAD_ARGS = [1, "zwei", [3, {"vier": 4.5}], True, None, 2**53, "\u00e9\u4e2d\U0001f600", b"\x00\x01\xfe\xff"]
PAYLOAD_KWARGS = {"a": 1, "b": [1, 2, {"c": "d"}], "neg": -7, "pi": 3.25, "bin": b"\x10\x00"}


# --------------------------------------------------------------------------------------
# Output


def emit(name, ok, detail):
    line = json.dumps({"check": name, "ok": bool(ok), "detail": str(detail)}, ensure_ascii=True)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class CheckFailed(Exception):
    """A check's expectation did not hold; the message is the detail."""


def expect(cond, detail):
    if not cond:
        raise CheckFailed(detail)


def short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------------------
# The spec's WAMP-SCRAM (Autobahn|Python only has its older "scram" prototype)


class SpecScram:
    """Client side of WAMP-SCRAM as the WAMP spec defines it (RFC 5802 with SCRAM-SHA-256,
    Argon2id13 or PBKDF2, no channel binding). The password and authid are used as given:
    the suite's principals are ASCII, for which SASLprep is the identity."""

    def __init__(self, authid, password, client_nonce=None):
        self.authid = authid
        self.password = password.encode("utf8")
        self.client_nonce = client_nonce or base64.b64encode(os.urandom(16)).decode("ascii")
        self.auth_message = None
        self.salted_password = None

    def hello_extra(self):
        return {"nonce": self.client_nonce, "channel_binding": None}

    def answer(self, extra):
        """CHALLENGE extra -> (signature, AUTHENTICATE extra)."""
        nonce = extra.get("nonce")
        if not isinstance(nonce, str) or len(nonce) <= len(self.client_nonce) or not nonce.startswith(self.client_nonce):
            raise ValueError(f"CHALLENGE nonce {nonce!r} does not extend the client nonce")
        salt_b64 = extra["salt"]
        salt = base64.b64decode(salt_b64)
        iterations = int(extra["iterations"])
        kdf = extra["kdf"]
        if kdf == "argon2id13":
            from argon2.low_level import Type, hash_secret_raw

            self.salted_password = hash_secret_raw(
                self.password, salt, time_cost=iterations, memory_cost=int(extra["memory"]),
                parallelism=1, hash_len=32, type=Type.ID, version=19,
            )
        elif kdf == "pbkdf2":
            self.salted_password = hashlib.pbkdf2_hmac("sha256", self.password, salt, iterations, 32)
        else:
            raise ValueError(f"unknown kdf {kdf!r}")
        name = self.authid.replace("=", "=3D").replace(",", "=2C")
        cbind = base64.b64encode(b"n,,").decode("ascii")
        self.auth_message = (
            f"n={name},r={self.client_nonce},r={nonce},s={salt_b64},i={iterations},c={cbind},r={nonce}"
        ).encode("utf8")
        client_key = hmac.new(self.salted_password, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        signature = hmac.new(stored_key, self.auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return base64.b64encode(proof).decode("ascii"), {"nonce": nonce, "channel_binding": None}

    def server_signature(self):
        server_key = hmac.new(self.salted_password, b"Server Key", hashlib.sha256).digest()
        return base64.b64encode(hmac.new(server_key, self.auth_message, hashlib.sha256).digest()).decode("ascii")

    def verify_welcome(self, authextra):
        verifier = (authextra or {}).get("verifier")
        if not isinstance(verifier, str):
            return "WELCOME carries no authextra.verifier"
        if verifier.startswith("v="):
            verifier = verifier[2:]
        if not hmac.compare_digest(verifier, self.server_signature()):
            return "the router's WAMP-SCRAM verifier is wrong"
        return None


# --------------------------------------------------------------------------------------
# Sessions


class Refused(Exception):
    """The router refused the session (ABORT) or the connection ended before WELCOME."""

    def __init__(self, reason, text=None):
        super().__init__(f"{reason}: {text}" if text else reason)
        self.reason = reason


class SuiteSession(Session):
    """An Autobahn session that reports its join, refusal and end through futures, records
    the CHALLENGEs it answered, and can speak the spec's WAMP-SCRAM."""

    def __init__(self, config, spec_scram=None, tamper=False):
        super().__init__(config)
        loop = asyncio.get_running_loop()
        self.joined = loop.create_future()
        self.closed = loop.create_future()
        self.challenges = []
        self.spec_scram = spec_scram
        self.tamper = tamper

    async def onChallenge(self, challenge):
        signature = super().onChallenge(challenge)
        if asyncio.isfuture(signature) or asyncio.iscoroutine(signature):
            signature = await signature
        if self.tamper:
            # One hex digit of the signature changed: the right key, a wrong signature.
            if isinstance(signature, bytes):
                signature = signature.decode("ascii")
            signature = ("1" if signature[0] == "0" else "0") + signature[1:]
        return signature

    def onConnect(self):
        if self.spec_scram is not None:
            self.join(self.config.realm, authmethods=["wamp-scram"], authid=self.spec_scram.authid,
                      authextra=self.spec_scram.hello_extra())
        else:
            super().onConnect()

    def onMessage(self, msg):
        if isinstance(msg, message.Challenge):
            self.challenges.append((msg.method, dict(msg.extra or {})))
            if self.spec_scram is not None and msg.method == "wamp-scram":
                # Autobahn's AUTHENTICATE has no Extra, which WAMP-SCRAM needs (the nonce).
                try:
                    signature, extra = self.spec_scram.answer(msg.extra or {})
                except Exception as e:  # a malformed CHALLENGE
                    self._fail(Refused("suite.bad_challenge", str(e)))
                    self._transport.send(message.Abort("wamp.error.cannot_authenticate", str(e)))
                    self._transport.close()
                    return
                self._transport.send(message.Authenticate(signature, extra))
                return
        return super().onMessage(msg)

    def onWelcome(self, msg):
        if self.spec_scram is not None:
            problem = self.spec_scram.verify_welcome(msg.authextra)
            if problem:
                self._fail(Refused("suite.bad_verifier", problem))
                return problem
            return None
        return super().onWelcome(msg)

    def _fail(self, exc):
        if not self.joined.done():
            self.joined.set_exception(exc)

    def on_join(self, details):
        if not self.joined.done():
            self.joined.set_result(details)

    def on_leave(self, details):
        self._fail(Refused(details.reason, details.message))
        self.disconnect()

    def on_disconnect(self):
        self._fail(Refused("suite.connection_lost", "the transport closed before WELCOME"))
        if not self.closed.done():
            self.closed.set_result(None)


class Endpoint:
    """A URL with one serializer."""

    def __init__(self, url, serializer):
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "rs"):
            raise ValueError(f"{url!r}: only ws:// and rs:// URLs are supported")
        if not parts.hostname or not parts.port:
            raise ValueError(f"{url!r} needs an explicit host and port")
        self.url = url
        self.serializer = serializer
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port

    @property
    def tag(self):
        return f"{self.scheme}/{self.serializer}"


class Peer:
    """A joined session."""

    def __init__(self, session, details, transport, endpoint):
        self.session = session
        self.details = details
        self.transport = transport
        self.endpoint = endpoint

    @property
    def id(self):
        return self.details.session

    async def close(self, wait):
        try:
            if self.session.is_attached():
                self.session.leave()
                await asyncio.wait_for(asyncio.shield(self.session.closed), wait)
        except Exception:
            pass
        finally:
            self.transport.close()


class Ctx:
    def __init__(self, ns):
        self.ns = ns
        self.realm = ns.realm
        self.wait = ns.wait
        self.peers = []
        self.root = "suite" + os.urandom(4).hex()
        self.counter = 0

    def uri(self, *parts):
        """A fresh URI under this run's root (distinct for every call)."""
        self.counter += 1
        return ".".join((self.root, f"c{self.counter}") + parts)

    async def open(self, endpoint, auth=None, tamper=False):
        """Joins the realm through `endpoint`; auth is (method, authid, secret) or None.
        With `tamper`, the answer to the CHALLENGE is falsified."""
        loop = asyncio.get_running_loop()
        spec_scram = None
        authenticator = None
        if auth is not None:
            method, authid, secret = auth
            if method == "wamp-scram":
                spec_scram = SpecScram(authid, secret)
            elif method == "ticket":
                authenticator = create_authenticator("ticket", authid=authid, ticket=secret)
            elif method in ("wampcra", "wampcra-salted"):
                authenticator = create_authenticator("wampcra", authid=authid, secret=secret)
            elif method == "cryptosign":
                authenticator = create_authenticator("cryptosign", authid=authid, privkey=secret)
            elif method == "scram":
                authenticator = create_authenticator("scram", authid=authid, password=secret)
            else:
                raise ValueError(f"unknown auth method {method!r}")
        session = SuiteSession(ComponentConfig(realm=self.realm), spec_scram=spec_scram, tamper=tamper)
        if authenticator is not None:
            session.add_authenticator(authenticator)
        serializer = SERIALIZERS[endpoint.serializer]()
        if endpoint.scheme == "ws":
            factory = WampWebSocketClientFactory(lambda: session, url=endpoint.url, serializers=[serializer])
        else:
            factory = WampRawSocketClientFactory(lambda: session, serializer=serializer)
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(factory, endpoint.host, endpoint.port), self.wait
            )
        except asyncio.TimeoutError:
            raise CheckFailed(f"no connection to {endpoint.url} within {self.wait}s") from None
        try:
            details = await asyncio.wait_for(asyncio.shield(session.joined), self.wait)
        except asyncio.TimeoutError:
            transport.close()
            raise CheckFailed(f"no WELCOME from {endpoint.url} within {self.wait}s") from None
        except BaseException:
            transport.close()
            raise
        peer = Peer(session, details, transport, endpoint)
        self.peers.append(peer)
        return peer

    async def close_all(self):
        peers, self.peers = self.peers, []
        await asyncio.gather(*(p.close(self.wait) for p in peers), return_exceptions=True)

    async def within(self, awaitable, what):
        try:
            return await asyncio.wait_for(awaitable, self.wait)
        except asyncio.TimeoutError:
            raise CheckFailed(f"no {what} within {self.wait}s") from None


class Inbox:
    """Events (or invocations) a handler received, awaited with a bound."""

    def __init__(self):
        self.items = []
        self._changed = asyncio.Event()

    def put(self, item):
        self.items.append(item)
        self._changed.set()

    async def until(self, ctx, pred, what):
        async def wait():
            while not pred(self.items):
                self._changed.clear()
                await self._changed.wait()
            return self.items

        return await ctx.within(wait(), what)

    async def count(self, ctx, n, what):
        return await self.until(ctx, lambda items: len(items) >= n, what)


async def subscribe_inbox(peer, topic, match=None):
    inbox = Inbox()

    def on_event(*args, **kwargs):
        details = kwargs.pop("details")
        inbox.put((list(args), kwargs, details))

    sub = await peer.session.subscribe(on_event, topic, options=SubscribeOptions(match=match, details=True))
    return inbox, sub


def sentinel_split(items):
    """Events before the sentinel (args[0] == "sentinel"), and whether it came."""
    before = []
    for args, _, _ in items:
        if args and args[0] == "sentinel":
            return before, True
        before.append(args[0] if args else None)
    return before, False


async def until_sentinel(ctx, inbox, who):
    await inbox.until(ctx, lambda items: sentinel_split(items)[1], f"sentinel event at {who}")
    return sentinel_split(inbox.items)[0]


def error_of(exc):
    return exc.error if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"


async def expect_error(ctx, awaitable, uri, what):
    try:
        result = await ctx.within(awaitable, f"answer to {what}")
    except ApplicationError as e:
        expect(e.error == uri, f"{what}: got {e.error} {short(e.args)}, wanted {uri}")
        return e
    raise CheckFailed(f"{what}: succeeded ({short(result)}), wanted {uri}")


# --------------------------------------------------------------------------------------
# Checks run on every endpoint (ctx, ep)

def check_registry(checks):
    """A decorator factory: `@named("x")` appends ("x", fn) to `checks`, in source order."""

    def named(name):
        def register(fn):
            checks.append((name, fn))
            return fn

        return register

    return named


ENDPOINT_CHECKS = []
per_endpoint = check_registry(ENDPOINT_CHECKS)


@per_endpoint("rpc.args_kwargs")
async def rpc_args_kwargs(ctx, ep):
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    proc = ctx.uri("echo")

    def echo(*args, **kwargs):
        return CallResult(*reversed(args), **{"got": kwargs})

    await callee.session.register(echo, proc)
    res = await ctx.within(caller.session.call(proc, *PAYLOAD_ARGS, **PAYLOAD_KWARGS), "RESULT")
    expect(isinstance(res, CallResult), f"RESULT is {short(res)}")
    expect(list(res.results) == list(reversed(PAYLOAD_ARGS)), f"args came back as {short(res.results)}")
    expect(res.kwresults == {"got": PAYLOAD_KWARGS}, f"kwargs came back as {short(res.kwresults)}")
    # Single positional results and empty results too.
    await callee.session.register(lambda: None, proc + ".none")
    none = await ctx.within(caller.session.call(proc + ".none"), "empty RESULT")
    expect(none is None, f"empty RESULT came as {short(none)}")
    return f"{len(PAYLOAD_ARGS)} args and {len(PAYLOAD_KWARGS)} kwargs round-tripped, bytes included"


@per_endpoint("rpc.error")
async def rpc_error(ctx, ep):
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    proc = ctx.uri("fail")

    def fail(*args, **kwargs):
        raise ApplicationError("com.example.error.custom", "one", 2, detail={"x": [1]})

    await callee.session.register(fail, proc)
    e = await expect_error(ctx, caller.session.call(proc, 1), "com.example.error.custom", "call")
    expect(list(e.args) == ["one", 2], f"error args {short(e.args)}")
    expect(e.kwargs == {"detail": {"x": [1]}}, f"error kwargs {short(e.kwargs)}")
    return "ERROR com.example.error.custom with args and kwargs"


@per_endpoint("rpc.no_such_procedure")
async def rpc_no_such_procedure(ctx, ep):
    caller = await ctx.open(ep)
    await expect_error(ctx, caller.session.call(ctx.uri("nobody")), "wamp.error.no_such_procedure", "call")
    return "wamp.error.no_such_procedure"


@per_endpoint("rpc.progressive")
async def rpc_progressive(ctx, ep):
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    proc = ctx.uri("progress")

    async def produce(n, details):
        if details.progress is None:
            return "no receive_progress in INVOCATION"
        for i in range(n):
            details.progress(i, step="p")
            await asyncio.sleep(0.01)
        return "done"

    await callee.session.register(produce, proc, options=RegisterOptions(details=True))
    seen = []
    res = await ctx.within(
        caller.session.call(proc, 3, options=CallOptions(on_progress=lambda *a, **kw: seen.append((a, kw)))),
        "final RESULT",
    )
    expect(res == "done", f"final result {short(res)}")
    expect(seen == [((i,), {"step": "p"}) for i in range(3)], f"progress {short(seen)}")
    return "3 progressive RESULTs then the final one"


def find_request(session, procedure):
    ids = [rid for rid, req in session._call_reqs.items() if req.procedure == procedure]
    return max(ids) if ids else None


async def cancel_setup(ctx, ep):
    """A callee whose procedure waits until interrupted; returns what the checks need."""
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    proc = ctx.uri("slow")
    invoked = asyncio.get_running_loop().create_future()
    interrupted = asyncio.get_running_loop().create_future()

    async def slow():
        if not invoked.done():
            invoked.set_result(True)
        try:
            await asyncio.sleep(4 * ctx.wait)
            return "finished"
        except asyncio.CancelledError:
            if not interrupted.done():
                interrupted.set_result(True)
            raise

    await callee.session.register(slow, proc)
    await callee.session.register(lambda: "pong", proc + ".ping")
    return caller, proc, invoked, interrupted


async def cancel_with_mode(ctx, ep, mode):
    caller, proc, invoked, interrupted = await cancel_setup(ctx, ep)
    call = asyncio.ensure_future(caller.session.call(proc))
    await ctx.within(asyncio.shield(invoked), "INVOCATION")
    request = find_request(caller.session, proc)
    expect(request is not None, "the CALL's request id is not pending")
    caller.session._transport.send(message.Cancel(request, mode=mode))
    outcome = None
    # A router answers CANCEL at once in skip and killnowait mode, and after the callee's
    # ERROR in kill mode: a short bound keeps a router that never answers from costing much.
    try:
        res = await asyncio.wait_for(asyncio.shield(call), ctx.ns.cancel_wait)
        outcome = f"RESULT {short(res)}"
    except ApplicationError as e:
        outcome = e.error
    except asyncio.TimeoutError:
        outcome = None
    # Not call.cancel(): Autobahn would send a second CANCEL (without a mode). Whatever the
    # call still gets is dropped with the session; mark it retrieved to keep stderr quiet.
    call.add_done_callback(lambda f: f.cancelled() or f.exception())
    if mode == "skip":
        expect(outcome is not None, f"no ERROR to the caller within {ctx.ns.cancel_wait}s after CANCEL skip")
        expect(outcome == "wamp.error.canceled", f"caller got {outcome}")
        expect(not interrupted.done(), "the callee got an INTERRUPT in skip mode")
        return "ERROR wamp.error.canceled at once, no INTERRUPT"
    got_interrupt = interrupted.done() or await _settled(ctx, interrupted)
    expect(got_interrupt, f"the callee saw no INTERRUPT (caller got {outcome})")
    expect(outcome is not None, f"no ERROR to the caller within {ctx.ns.cancel_wait}s after CANCEL {mode}")
    if mode == "killnowait":
        expect(outcome == "wamp.error.canceled", f"caller got {outcome}")
    else:
        expect(not outcome.startswith("RESULT"), f"caller got {outcome}")
    return f"callee interrupted, caller got {outcome}"


async def _settled(ctx, fut):
    try:
        await asyncio.wait_for(asyncio.shield(fut), ctx.wait)
        return True
    except asyncio.TimeoutError:
        return False


@per_endpoint("rpc.cancel")
async def rpc_cancel_default(ctx, ep):
    caller, proc, invoked, interrupted = await cancel_setup(ctx, ep)
    call = asyncio.ensure_future(caller.session.call(proc))
    await ctx.within(asyncio.shield(invoked), "INVOCATION")
    call.cancel()  # Autobahn sends CANCEL without a mode
    expect(await _settled(ctx, interrupted), "the callee saw no INTERRUPT")
    # The session must survive whatever the router sends for the canceled call.
    pong = await ctx.within(caller.session.call(proc + ".ping"), "a call after the cancel")
    expect(pong == "pong", f"the call after the cancel returned {short(pong)}")
    return "CANCEL (no mode): callee interrupted, both sessions still usable"


@per_endpoint("rpc.cancel.kill")
async def rpc_cancel_kill(ctx, ep):
    return await cancel_with_mode(ctx, ep, "kill")


@per_endpoint("rpc.cancel.killnowait")
async def rpc_cancel_killnowait(ctx, ep):
    return await cancel_with_mode(ctx, ep, "killnowait")


@per_endpoint("rpc.cancel.skip")
async def rpc_cancel_skip(ctx, ep):
    return await cancel_with_mode(ctx, ep, "skip")


@per_endpoint("rpc.prefix")
async def rpc_prefix(ctx, ep):
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    base = ctx.uri("pre")
    await callee.session.register(
        lambda details: details.procedure, base, options=RegisterOptions(match="prefix", details=True)
    )
    got = await ctx.within(caller.session.call(base + ".a.b"), "RESULT")
    expect(got == base + ".a.b", f"details.procedure was {short(got)}")
    return "prefix registration invoked with details.procedure = the called URI"


@per_endpoint("rpc.wildcard")
async def rpc_wildcard(ctx, ep):
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    root = ctx.uri()
    await callee.session.register(
        lambda details: details.procedure, root + ".w..end",
        options=RegisterOptions(match="wildcard", details=True),
    )
    got = await ctx.within(caller.session.call(root + ".w.middle.end"), "RESULT")
    expect(got == root + ".w.middle.end", f"details.procedure was {short(got)}")
    await expect_error(ctx, caller.session.call(root + ".w.middle.other"), "wamp.error.no_such_procedure",
                       "call of a non-matching URI")
    return "wildcard registration matched one component, details.procedure set"


@per_endpoint("rpc.precedence")
async def rpc_precedence(ctx, ep):
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    r = ctx.uri()
    for uri, match, label in (
        (r + ".a.b.c", None, "exact"),
        (r + ".a.b", "prefix", "long-prefix"),
        (r + ".a", "prefix", "short-prefix"),
        (r + ".a..c", "wildcard", "wildcard"),
        (r + ".x..c", "wildcard", "wildcard-only"),
    ):
        await callee.session.register(lambda label=label: label, uri, options=RegisterOptions(match=match))
    want = {
        r + ".a.b.c": "exact",
        r + ".a.b.d": "long-prefix",
        r + ".a.z.c": "short-prefix",
        r + ".x.z.c": "wildcard-only",
    }
    got = {}
    for uri in want:
        got[uri] = await ctx.within(caller.session.call(uri), f"RESULT for {uri}")
    expect(got == want, f"served by {short({k[len(r):]: v for k, v in got.items()})}")
    return "exact > longest prefix > wildcard"


async def shared(ctx, ep, policy, calls):
    caller = await ctx.open(ep)
    proc = ctx.uri("shared")
    names = []
    for i in range(3):
        callee = await ctx.open(ep)
        await callee.session.register(lambda i=i: f"callee{i}", proc, options=RegisterOptions(invoke=policy))
        names.append(f"callee{i}")
    served = []
    for _ in range(calls):
        served.append(await ctx.within(caller.session.call(proc), "RESULT"))
    counts = {n: served.count(n) for n in names}
    return served, counts


@per_endpoint("rpc.shared.roundrobin")
async def rpc_shared_roundrobin(ctx, ep):
    served, counts = await shared(ctx, ep, "roundrobin", 6)
    expect(served[:3] == served[3:] and sorted(served[:3]) == ["callee0", "callee1", "callee2"],
           f"served in order {served}")
    return f"served {counts}"


@per_endpoint("rpc.shared.first")
async def rpc_shared_first(ctx, ep):
    served, counts = await shared(ctx, ep, "first", 4)
    expect(counts["callee0"] == 4, f"served {counts}")
    return f"served {counts}"


@per_endpoint("rpc.shared.last")
async def rpc_shared_last(ctx, ep):
    served, counts = await shared(ctx, ep, "last", 4)
    expect(counts["callee2"] == 4, f"served {counts}")
    return f"served {counts}"


@per_endpoint("rpc.shared.random")
async def rpc_shared_random(ctx, ep):
    # 24 calls over 3 callees: all going to one callee has probability 3^-23.
    served, counts = await shared(ctx, ep, "random", 24)
    expect(sum(counts.values()) == 24 and sum(1 for c in counts.values() if c) >= 2, f"served {counts}")
    return f"served {counts}"


@per_endpoint("rpc.shared.single_refuses")
async def rpc_shared_single_refuses(ctx, ep):
    a = await ctx.open(ep)
    b = await ctx.open(ep)
    proc = ctx.uri("single")
    await a.session.register(lambda: "a", proc)
    await expect_error(ctx, b.session.register(lambda: "b", proc), "wamp.error.procedure_already_exists",
                       "second registration of a single-invoke procedure")
    rr = ctx.uri("mixed")
    await a.session.register(lambda: "a", rr, options=RegisterOptions(invoke="roundrobin"))
    try:
        await ctx.within(b.session.register(lambda: "b", rr, options=RegisterOptions(invoke="first")),
                         "answer to REGISTER with another policy")
    except ApplicationError as e:
        return f"second single registration and a policy mismatch refused ({e.error})"
    raise CheckFailed("registering with invoke=first beside invoke=roundrobin succeeded")


@per_endpoint("rpc.caller_disclosure")
async def rpc_caller_disclosure(ctx, ep):
    callee = await ctx.open(ep)
    caller = await ctx.open(ep)
    proc = ctx.uri("who")
    await callee.session.register(
        lambda details: [details.caller, details.caller_authid, details.caller_authrole],
        proc, options=RegisterOptions(details=True),
    )
    got = await ctx.within(caller.session.call(proc), "RESULT")
    expect(got[0] == caller.id, f"INVOCATION.Details.caller {got[0]} (caller is {caller.id})")
    return f"caller {got[0]}, authid {got[1]}, authrole {got[2]}"


@per_endpoint("pubsub.args_kwargs")
async def pubsub_args_kwargs(ctx, ep):
    sub = await ctx.open(ep)
    pub = await ctx.open(ep)
    topic = ctx.uri("t")
    inbox, _ = await subscribe_inbox(sub, topic)
    await pub.session.publish(topic, *PAYLOAD_ARGS, options=PublishOptions(acknowledge=True), **PAYLOAD_KWARGS)
    items = await inbox.count(ctx, 1, "EVENT")
    args, kwargs, details = items[0]
    expect(args == PAYLOAD_ARGS, f"args {short(args)}")
    expect(kwargs == PAYLOAD_KWARGS, f"kwargs {short(kwargs)}")
    expect(details.topic in (None, topic), f"details.topic {details.topic}")
    return "EVENT carried args and kwargs, bytes included"


@per_endpoint("pubsub.acknowledge")
async def pubsub_acknowledge(ctx, ep):
    pub = await ctx.open(ep)
    publication = await ctx.within(
        pub.session.publish(ctx.uri("ack"), 1, options=PublishOptions(acknowledge=True)), "PUBLISHED"
    )
    expect(publication is not None and isinstance(publication.id, int) and publication.id > 0,
           f"PUBLISHED gave {short(publication)}")
    return f"PUBLISHED with publication id {publication.id}"


@per_endpoint("pubsub.exclude_me")
async def pubsub_exclude_me(ctx, ep):
    me = await ctx.open(ep)
    topic = ctx.uri("me")
    inbox, _ = await subscribe_inbox(me, topic)
    await me.session.publish(topic, "default", options=PublishOptions(acknowledge=True))
    await me.session.publish(topic, "excluded", options=PublishOptions(acknowledge=True, exclude_me=True))
    await me.session.publish(topic, "sentinel", options=PublishOptions(acknowledge=True, exclude_me=False))
    before = await until_sentinel(ctx, inbox, "the publisher")
    expect(before == [], f"the publisher also received {before}")
    return "exclude_me=false delivers to the publisher; the default and true do not"


async def two_subscribers(ctx, ep):
    a = await ctx.open(ep)
    b = await ctx.open(ep)
    pub = await ctx.open(ep)
    topic = ctx.uri("bw")
    ia, _ = await subscribe_inbox(a, topic)
    ib, _ = await subscribe_inbox(b, topic)
    return a, b, pub, topic, ia, ib


async def filtered(ctx, ep, options, pick):
    a, b, pub, topic, ia, ib = await two_subscribers(ctx, ep)
    await pub.session.publish(topic, "filtered", options=PublishOptions(acknowledge=True, **options(a, b)))
    await pub.session.publish(topic, "sentinel", options=PublishOptions(acknowledge=True))
    got_a = await until_sentinel(ctx, ia, "subscriber a")
    got_b = await until_sentinel(ctx, ib, "subscriber b")
    want_a, want_b = pick
    expect(got_a == (["filtered"] if want_a else []) and got_b == (["filtered"] if want_b else []),
           f"a got {got_a}, b got {got_b} (options {short(options(a, b))})")
    return f"a got {got_a}, b got {got_b}"


@per_endpoint("pubsub.exclude_session")
async def pubsub_exclude_session(ctx, ep):
    return await filtered(ctx, ep, lambda a, b: {"exclude": [a.id]}, (False, True))


@per_endpoint("pubsub.eligible_session")
async def pubsub_eligible_session(ctx, ep):
    return await filtered(ctx, ep, lambda a, b: {"eligible": [a.id]}, (True, False))


@per_endpoint("pubsub.exclude_authid")
async def pubsub_exclude_authid(ctx, ep):
    return await filtered(ctx, ep, lambda a, b: {"exclude_authid": [a.details.authid]}, (False, True))


@per_endpoint("pubsub.eligible_authid")
async def pubsub_eligible_authid(ctx, ep):
    return await filtered(ctx, ep, lambda a, b: {"eligible_authid": [b.details.authid]}, (False, True))


async def pattern_subscription(ctx, ep, match, pattern, topic, miss):
    sub = await ctx.open(ep)
    pub = await ctx.open(ep)
    inbox, _ = await subscribe_inbox(sub, pattern, match=match)
    await pub.session.publish(miss, "miss", options=PublishOptions(acknowledge=True))
    await pub.session.publish(topic, "hit", options=PublishOptions(acknowledge=True))
    items = await inbox.count(ctx, 1, "EVENT")
    args, _, details = items[0]
    expect(args == ["hit"], f"first EVENT {short(args)} (the non-matching topic was delivered?)")
    expect(details.topic == topic, f"EVENT.Details.topic {details.topic!r}, wanted {topic!r}")
    return f"{match} subscription got the event with details.topic"


@per_endpoint("pubsub.prefix")
async def pubsub_prefix(ctx, ep):
    r = ctx.uri()
    return await pattern_subscription(ctx, ep, "prefix", r + ".p", r + ".p.x.y", r + ".q.x")


@per_endpoint("pubsub.wildcard")
async def pubsub_wildcard(ctx, ep):
    r = ctx.uri()
    return await pattern_subscription(ctx, ep, "wildcard", r + ".w..z", r + ".w.mid.z", r + ".w.mid.y")


@per_endpoint("pubsub.publisher_disclosure")
async def pubsub_publisher_disclosure(ctx, ep):
    sub = await ctx.open(ep)
    pub = await ctx.open(ep)
    topic = ctx.uri("disclose")
    inbox, _ = await subscribe_inbox(sub, topic)
    await pub.session.publish(topic, 1, options=PublishOptions(acknowledge=True))
    _, _, details = (await inbox.count(ctx, 1, "EVENT"))[0]
    expect(details.publisher == pub.id, f"EVENT.Details.publisher {details.publisher} (publisher is {pub.id})")
    return f"publisher {details.publisher}, authid {details.publisher_authid}, authrole {details.publisher_authrole}"


# --------------------------------------------------------------------------------------
# Checks run once (ctx, endpoints, auth)

ONCE_CHECKS = []
once = check_registry(ONCE_CHECKS)


@once("interop.mixed_serializers.rpc")
async def mixed_rpc(ctx, eps):
    expect(len(eps) >= 2, "needs at least two endpoints")
    root = ctx.uri()
    callees = []
    for i, ep in enumerate(eps):
        callee = await ctx.open(ep)
        await callee.session.register(
            lambda *args, tag=ep.tag, **kwargs: CallResult(tag, list(args), kwargs), f"{root}.e{i}"
        )
        callees.append(ep.tag)
    bad = []
    for ep in eps:
        caller = await ctx.open(ep)
        for i, tag in enumerate(callees):
            res = await ctx.within(caller.session.call(f"{root}.e{i}", *PAYLOAD_ARGS, **PAYLOAD_KWARGS), "RESULT")
            if list(res.results) != [tag, PAYLOAD_ARGS, PAYLOAD_KWARGS]:
                bad.append(f"{ep.tag}->{tag}: {short(res.results, 120)}")
    expect(not bad, "; ".join(bad))
    return f"{len(eps)}x{len(eps)} caller/callee pairs agree on every value"


@once("interop.mixed_serializers.pubsub")
async def mixed_pubsub(ctx, eps):
    expect(len(eps) >= 2, "needs at least two endpoints")
    topic = ctx.uri("mix")
    inboxes = []
    for ep in eps:
        peer = await ctx.open(ep)
        inboxes.append((ep.tag, (await subscribe_inbox(peer, topic))[0]))
    bad = []
    for ep in eps:
        pub = await ctx.open(ep)
        await pub.session.publish(topic, ep.tag, *PAYLOAD_ARGS, options=PublishOptions(acknowledge=True),
                                  **PAYLOAD_KWARGS)
    for tag, inbox in inboxes:
        items = await inbox.count(ctx, len(eps), f"{len(eps)} EVENTs at {tag}")
        for args, kwargs, _ in items:
            if args[1:] != PAYLOAD_ARGS or kwargs != PAYLOAD_KWARGS:
                bad.append(f"{args[0]}->{tag}: {short(args, 120)}")
    expect(not bad, "; ".join(bad))
    return f"every subscriber got every publisher's event intact ({len(eps)} serializer/transport pairs)"


def principal(ctx, *methods):
    for m in methods:
        for p in ctx.ns.auth:
            if p[0] == m:
                return p
    return None


@once("pubsub.authrole_filters")
async def authrole_filters(ctx, eps):
    ticket = principal(ctx, "ticket")
    expect(ctx.ns.auth_url and ticket and ctx.ns.restricted,
           "skipped: needs --auth-url, a ticket principal and --restricted")
    auth_ep = Endpoint(ctx.ns.auth_url[0], eps[0].serializer)
    anon = await ctx.open(eps[0])
    full = await ctx.open(auth_ep, ticket)
    restricted = await ctx.open(auth_ep, ("ticket",) + ctx.ns.restricted)
    pub = await ctx.open(eps[0])
    topic = ctx.ns.allowed_prefix + ctx.uri("roles")
    boxes = {}
    for name, peer in (("anon", anon), ("full", full), ("restricted", restricted)):
        boxes[name] = (await subscribe_inbox(peer, topic))[0]
    roles = {"anon": anon.details.authrole, "full": full.details.authrole, "restricted": restricted.details.authrole}
    expect(len(set(roles.values())) == 3, f"the three subscribers need distinct authroles, have {roles}")
    cases = [
        ("exclude_authrole", {"exclude_authrole": [roles["restricted"]]}, {"anon", "full"}),
        ("eligible_authrole", {"eligible_authrole": [roles["restricted"]]}, {"restricted"}),
        ("eligible_authrole2", {"eligible_authrole": [roles["anon"], roles["full"]]}, {"anon", "full"}),
        ("mixed", {"eligible_authrole": [roles["full"], roles["restricted"]],
                   "exclude_authid": [full.details.authid]}, {"restricted"}),
    ]
    for label, options, _ in cases:
        await pub.session.publish(topic, label, options=PublishOptions(acknowledge=True, **options))
    await pub.session.publish(topic, "sentinel", options=PublishOptions(acknowledge=True))
    bad = []
    for name, inbox in boxes.items():
        got = await until_sentinel(ctx, inbox, name)
        want = [label for label, _, who in cases if name in who]
        if got != want:
            bad.append(f"{name} ({roles[name]}) got {got}, wanted {want}")
    expect(not bad, "; ".join(bad))
    return f"exclude/eligible by authrole (and authid) honoured for roles {sorted(roles.values())}"


async def meta_setup(ctx, eps):
    observer = await ctx.open(eps[0])
    return observer


@once("meta.session.count")
async def meta_session_count(ctx, eps):
    observer = await meta_setup(ctx, eps)
    before = await ctx.within(observer.session.call("wamp.session.count"), "wamp.session.count")
    extra = [await ctx.open(eps[0]), await ctx.open(eps[-1])]
    after = await ctx.within(observer.session.call("wamp.session.count"), "wamp.session.count")
    expect(isinstance(before, int) and after == before + 2, f"count {before} then {after} after two joins")
    await extra[0].close(ctx.wait)
    ctx.peers.remove(extra[0])
    # The router may process the GOODBYE a moment after answering it.
    for _ in range(20):
        last = await ctx.within(observer.session.call("wamp.session.count"), "wamp.session.count")
        if last == before + 1:
            break
        await asyncio.sleep(0.05)
    expect(last == before + 1, f"count {last} after one of the two left (was {before} before)")
    return f"count {before} -> {after} -> {last}"


@once("meta.session.list")
async def meta_session_list(ctx, eps):
    observer = await meta_setup(ctx, eps)
    a = await ctx.open(eps[0])
    listed = await ctx.within(observer.session.call("wamp.session.list"), "wamp.session.list")
    count = await ctx.within(observer.session.call("wamp.session.count"), "wamp.session.count")
    expect(isinstance(listed, list) and a.id in listed, f"list {short(listed)} lacks {a.id}")
    expect(len(listed) == count, f"list has {len(listed)} ids, count says {count}")
    return f"{len(listed)} sessions listed, the new one among them"


@once("meta.session.get")
async def meta_session_get(ctx, eps):
    observer = await meta_setup(ctx, eps)
    a = await ctx.open(eps[0])
    got = await ctx.within(observer.session.call("wamp.session.get", a.id), "wamp.session.get")
    expect(isinstance(got, dict) and got.get("session") == a.id, f"get returned {short(got)}")
    expect(got.get("authid") == a.details.authid and got.get("authrole") == a.details.authrole,
           f"get says authid {got.get('authid')}/{got.get('authrole')}, WELCOME said "
           f"{a.details.authid}/{a.details.authrole}")
    await expect_error(ctx, observer.session.call("wamp.session.get", 1), "wamp.error.no_such_session",
                       "wamp.session.get of an unknown id")
    return f"details of {a.id}: keys {sorted(got)}"


@once("meta.session.on_join")
async def meta_on_join(ctx, eps):
    observer = await meta_setup(ctx, eps)
    inbox, _ = await subscribe_inbox(observer, "wamp.session.on_join")
    a = await ctx.open(eps[0])

    def mine(items):
        return [i for i in items if i[0] and isinstance(i[0][0], dict) and i[0][0].get("session") == a.id]

    await inbox.until(ctx, lambda items: mine(items), f"on_join for {a.id}")
    info = mine(inbox.items)[0][0][0]
    expect(info.get("authid") == a.details.authid, f"on_join details {short(info)}")
    return f"on_join for {a.id} with keys {sorted(info)}"


@once("meta.session.on_leave")
async def meta_on_leave(ctx, eps):
    observer = await meta_setup(ctx, eps)
    inbox, _ = await subscribe_inbox(observer, "wamp.session.on_leave")
    a = await ctx.open(eps[0])
    await a.close(ctx.wait)
    ctx.peers.remove(a)
    await inbox.until(ctx, lambda items: any(i[0] and i[0][0] == a.id for i in items), f"on_leave for {a.id}")
    args = next(i[0] for i in inbox.items if i[0] and i[0][0] == a.id)
    return f"on_leave args {short(args)}"


@once("meta.registration.lookup")
async def meta_registration_lookup(ctx, eps):
    observer = await meta_setup(ctx, eps)
    callee = await ctx.open(eps[0])
    proc = ctx.uri("looked")
    reg = await callee.session.register(lambda: None, proc)
    got = await ctx.within(observer.session.call("wamp.registration.lookup", proc), "lookup")
    expect(got == reg.id, f"lookup gave {got}, REGISTERED said {reg.id}")
    none = await ctx.within(observer.session.call("wamp.registration.lookup", ctx.uri("none")), "lookup")
    expect(none is None, f"lookup of an unregistered URI gave {short(none)}")
    pre = ctx.uri("pre")
    preg = await callee.session.register(lambda: None, pre, options=RegisterOptions(match="prefix"))
    got = await ctx.within(observer.session.call("wamp.registration.lookup", pre, {"match": "prefix"}),
                           "lookup with match")
    expect(got == preg.id, f"prefix lookup gave {got}, REGISTERED said {preg.id}")
    return f"registration {reg.id} found, unknown URI gives null, prefix lookup works"


@once("meta.registration.list_callees")
async def meta_registration_list_callees(ctx, eps):
    observer = await meta_setup(ctx, eps)
    proc = ctx.uri("callees")
    a = await ctx.open(eps[0])
    b = await ctx.open(eps[-1])
    reg = await a.session.register(lambda: None, proc, options=RegisterOptions(invoke="roundrobin"))
    await b.session.register(lambda: None, proc, options=RegisterOptions(invoke="roundrobin"))
    got = await ctx.within(observer.session.call("wamp.registration.list_callees", reg.id), "list_callees")
    expect(isinstance(got, list) and sorted(got) == sorted([a.id, b.id]), f"list_callees {short(got)}, "
           f"wanted {sorted([a.id, b.id])}")
    await expect_error(ctx, observer.session.call("wamp.registration.list_callees", 1),
                       "wamp.error.no_such_registration", "list_callees of an unknown id")
    return f"callees {sorted(got)}"


@once("meta.subscription.lookup")
async def meta_subscription_lookup(ctx, eps):
    observer = await meta_setup(ctx, eps)
    a = await ctx.open(eps[0])
    topic = ctx.uri("looked")
    _, sub = await subscribe_inbox(a, topic)
    got = await ctx.within(observer.session.call("wamp.subscription.lookup", topic), "lookup")
    expect(got == sub.id, f"lookup gave {got}, SUBSCRIBED said {sub.id}")
    none = await ctx.within(observer.session.call("wamp.subscription.lookup", ctx.uri("none")), "lookup")
    expect(none is None, f"lookup of an unsubscribed topic gave {short(none)}")
    return f"subscription {sub.id} found, unknown topic gives null"


@once("meta.subscription.count_subscribers")
async def meta_subscription_count(ctx, eps):
    observer = await meta_setup(ctx, eps)
    topic = ctx.uri("counted")
    a = await ctx.open(eps[0])
    b = await ctx.open(eps[-1])
    _, sa = await subscribe_inbox(a, topic)
    _, sb = await subscribe_inbox(b, topic)
    expect(sa.id == sb.id, f"two subscribers of one topic got subscription ids {sa.id} and {sb.id}")
    got = await ctx.within(observer.session.call("wamp.subscription.count_subscribers", sa.id), "count_subscribers")
    expect(got == 2, f"count_subscribers {got}")
    return "2 subscribers share one subscription id"


async def restricted_peer(ctx, eps):
    expect(ctx.ns.auth_url and ctx.ns.restricted, "skipped: needs --auth-url and --restricted")
    return await ctx.open(Endpoint(ctx.ns.auth_url[0], eps[0].serializer), ("ticket",) + ctx.ns.restricted)


@once("authz.call_allowed")
async def authz_call_allowed(ctx, eps):
    r = await restricted_peer(ctx, eps)
    callee = await ctx.open(eps[0])
    proc = ctx.ns.allowed_prefix + ctx.uri("ok")
    await callee.session.register(lambda: "allowed", proc)
    got = await ctx.within(r.session.call(proc), "RESULT")
    expect(got == "allowed", f"got {short(got)}")
    return f"{r.details.authid} ({r.details.authrole}) may call under {ctx.ns.allowed_prefix}"


@once("authz.call_denied")
async def authz_call_denied(ctx, eps):
    r = await restricted_peer(ctx, eps)
    callee = await ctx.open(eps[0])
    proc = "com.denied." + ctx.uri("no")
    await callee.session.register(lambda: "leaked", proc)
    await expect_error(ctx, r.session.call(proc), NOT_AUTHORIZED, "call outside the permissions")
    return "call refused with wamp.error.not_authorized"


@once("authz.register_denied")
async def authz_register_denied(ctx, eps):
    r = await restricted_peer(ctx, eps)
    await expect_error(ctx, r.session.register(lambda: None, ctx.ns.allowed_prefix + ctx.uri("reg")),
                       NOT_AUTHORIZED, "register without the register permission")
    return "register refused with wamp.error.not_authorized"


@once("authz.publish_denied")
async def authz_publish_denied(ctx, eps):
    r = await restricted_peer(ctx, eps)
    await expect_error(ctx, r.session.publish(ctx.ns.allowed_prefix + ctx.uri("pub"), 1,
                                              options=PublishOptions(acknowledge=True)),
                       NOT_AUTHORIZED, "acknowledged publish without the publish permission")
    return "publish refused with wamp.error.not_authorized"


@once("authz.subscribe_allowed")
async def authz_subscribe_allowed(ctx, eps):
    r = await restricted_peer(ctx, eps)
    pub = await ctx.open(eps[0])
    topic = ctx.ns.allowed_prefix + ctx.uri("sub")
    inbox, _ = await subscribe_inbox(r, topic)
    await pub.session.publish(topic, "to-restricted", options=PublishOptions(acknowledge=True))
    items = await inbox.count(ctx, 1, "EVENT")
    expect(items[0][0] == ["to-restricted"], f"EVENT {short(items[0][0])}")
    return f"subscribe under {ctx.ns.allowed_prefix} allowed and events arrive"


@once("authz.subscribe_denied")
async def authz_subscribe_denied(ctx, eps):
    r = await restricted_peer(ctx, eps)
    await expect_error(ctx, r.session.subscribe(lambda *a: None, "com.denied." + ctx.uri("sub")),
                       NOT_AUTHORIZED, "subscribe outside the permissions")
    return "subscribe refused with wamp.error.not_authorized"


# --------------------------------------------------------------------------------------
# Authentication (ctx, endpoint, principal)

WRONG_SEED = hashlib.sha256(b"wamp-rs suite: not the right key").hexdigest()


def wrong(method, secret):
    return WRONG_SEED if method == "cryptosign" else secret + "-wrong"


async def auth_right(ctx, ep, p):
    method, authid, _ = p
    peer = await ctx.open(ep, p)
    d = peer.details
    wire_method = "wampcra" if method == "wampcra-salted" else method
    expect(d.authmethod == wire_method, f"joined with authmethod {d.authmethod}")
    expect(d.authid == authid, f"joined as authid {d.authid}")
    if method == "wampcra-salted":
        extra = next((e for m, e in peer.session.challenges if m == "wampcra"), {})
        expect("salt" in extra, f"the CHALLENGE carried no salt: {sorted(extra)}")
    elif method == "wampcra":
        extra = next((e for m, e in peer.session.challenges if m == "wampcra"), {})
        expect("salt" not in extra, "the CHALLENGE carried a salt")
    # The session works: a meta call or, failing permissions, a plain publish.
    await ctx.within(peer.session.publish(ctx.uri("authed"), 1, options=PublishOptions(acknowledge=True)),
                     "PUBLISHED after joining")
    return f"joined as {d.authid} role {d.authrole} via {d.authmethod}"


async def auth_wrong(ctx, ep, p):
    method, authid, secret = p
    try:
        peer = await ctx.open(ep, (method, authid, wrong(method, secret)))
    except Refused as e:
        expect(e.reason == NOT_AUTHORIZED, f"refused with {e}, wanted {NOT_AUTHORIZED}")
        return f"refused: {e}"
    raise CheckFailed(f"joined with a wrong secret as {peer.details.authid} ({peer.details.authrole})")


async def auth_tampered(ctx, ep, p):
    method, authid, _ = p
    try:
        peer = await ctx.open(ep, p, tamper=True)
    except Refused as e:
        expect(e.reason == NOT_AUTHORIZED, f"refused with {e}, wanted {NOT_AUTHORIZED}")
        return f"refused: {e}"
    raise CheckFailed(f"joined with a falsified signature as {peer.details.authid}")


def rfc7677_vector():
    # RFC 7677 section 3 (SCRAM-SHA-256, PBKDF2, no channel binding).
    s = SpecScram("user", "pencil", client_nonce="rOprNGfwEbeRWgbNEkqO")
    proof, extra = s.answer({
        "nonce": "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "salt": "W22ZaJ0SNY7soEsUEjb6gQ==", "iterations": 4096, "kdf": "pbkdf2",
    })
    expect(proof == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", f"ClientProof {proof}")
    expect(s.verify_welcome({"verifier": "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="}) is None,
           "ServerSignature differs")
    return "the suite's WAMP-SCRAM client reproduces RFC 7677's proof and server signature"


# --------------------------------------------------------------------------------------
# Runner


async def run_check(ctx, name, make, deadline):
    if ctx.only and not ctx.only.search(name):
        return None
    if time.monotonic() > deadline:
        emit(name, False, "not run: the suite's --deadline passed")
        return False
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(make(), ctx.ns.check_timeout)
        ok = True
    except CheckFailed as e:
        ok, detail = False, str(e)
    except asyncio.TimeoutError:
        ok, detail = False, f"check timed out after {ctx.ns.check_timeout}s"
    except ApplicationError as e:
        ok, detail = False, f"unexpected ERROR {e.error} {short(e.args)} {short(e.kwargs)}"
    except Refused as e:
        ok, detail = False, f"session refused: {e}"
    except Exception as e:
        ok, detail = False, f"{type(e).__name__}: {e} | {traceback.format_exc(limit=3)!r}"
    finally:
        await ctx.close_all()
    emit(name, ok, f"{detail} [{time.monotonic() - started:.2f}s]")
    return ok


async def main_async(ns):
    txaio.config.loop = asyncio.get_running_loop()
    ctx = Ctx(ns)
    ctx.only = re.compile(ns.only) if ns.only else None
    deadline = time.monotonic() + ns.deadline
    endpoints = []
    for url in ns.ws + ns.rawsocket:
        for s in ns.serializers:
            endpoints.append(Endpoint(url, s))
    results = []
    for ep in endpoints:
        for name, fn in ENDPOINT_CHECKS:
            results.append(await run_check(ctx, f"{name}@{ep.tag}", lambda fn=fn, ep=ep: fn(ctx, ep), deadline))
    if endpoints:
        for name, fn in ONCE_CHECKS:
            results.append(await run_check(ctx, name, lambda fn=fn: fn(ctx, endpoints), deadline))
    for url in ns.auth_url:
        ep = Endpoint(url, ns.serializers[0])
        tag = urlsplit(url).scheme
        for p in ns.auth:
            method = p[0]
            results.append(await run_check(ctx, f"auth.{method}.right@{tag}", lambda p=p, ep=ep: auth_right(ctx, ep, p), deadline))
            results.append(await run_check(ctx, f"auth.{method}.wrong@{tag}", lambda p=p, ep=ep: auth_wrong(ctx, ep, p), deadline))
            if method == "cryptosign":
                # A wrong key is refused by its public key alone; this one needs the
                # signature checked.
                results.append(await run_check(ctx, f"auth.{method}.bad_signature@{tag}",
                                               lambda p=p, ep=ep: auth_tampered(ctx, ep, p), deadline))
    if any(p[0] == "wamp-scram" for p in ns.auth):

        async def vector():
            return rfc7677_vector()

        results.append(await run_check(ctx, "auth.wamp-scram.rfc7677_vector", vector, deadline))
    ran = [r for r in results if r is not None]
    failed = sum(1 for r in ran if not r)
    emit("suite.done", True, f"{len(ran)} checks, {len(ran) - failed} passed, {failed} failed")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--realm", required=True)
    p.add_argument("--ws", action="append", default=[], metavar="URL")
    p.add_argument("--rawsocket", action="append", default=[], metavar="URL")
    p.add_argument("--serializers", default="json,msgpack,cbor")
    p.add_argument("--auth-url", action="append", default=[], metavar="URL")
    p.add_argument("--auth", action="append", default=[], metavar="METHOD:AUTHID:SECRET")
    p.add_argument("--restricted", metavar="AUTHID:TICKET")
    p.add_argument("--allowed-prefix", default="com.allowed.")
    p.add_argument("--only", metavar="REGEX", help="run only the checks whose name matches")
    p.add_argument("--wait", type=float, default=5.0, help="bound of each awaited reply (s)")
    p.add_argument("--cancel-wait", type=float, default=2.0,
                   help="bound of the caller's ERROR after a CANCEL (s)")
    p.add_argument("--check-timeout", type=float, default=20.0, help="bound of one check (s)")
    p.add_argument("--deadline", type=float, default=240.0, help="checks not started by then fail (s)")
    p.add_argument("--verbose", action="store_true", help="Autobahn's debug log on stderr")
    ns = p.parse_args(argv)
    ns.serializers = [s for s in ns.serializers.split(",") if s]
    for s in ns.serializers:
        if s not in SERIALIZERS:
            p.error(f"unknown serializer {s!r}")
    if not ns.serializers:
        p.error("--serializers is empty")
    auth = []
    for spec in ns.auth:
        method, _, rest = spec.partition(":")
        authid, sep, secret = rest.partition(":")
        if method not in AUTH_METHODS or not sep or not authid:
            p.error(f"--auth wants METHOD:AUTHID:SECRET with METHOD one of {', '.join(AUTH_METHODS)}; got {spec!r}")
        auth.append((method, authid, secret))
    ns.auth = auth
    if ns.restricted:
        authid, sep, ticket = ns.restricted.partition(":")
        if not sep or not authid:
            p.error("--restricted wants AUTHID:TICKET")
        ns.restricted = (authid, ticket)
    for url in ns.ws + ns.rawsocket + ns.auth_url:
        try:
            Endpoint(url, ns.serializers[0])
        except ValueError as e:
            p.error(str(e))
    return ns


def main():
    ns = parse_args(sys.argv[1:])
    txaio.start_logging(level="debug" if ns.verbose else "critical", out=sys.stderr)
    asyncio.run(main_async(ns))
    sys.exit(0)


if __name__ == "__main__":
    main()
