#!/usr/bin/env python3
"""Autobahn|Python as a WAMP message codec for the interop tests.

Usage::

    PY=$(scripts/python-env.sh | tail -n1)
    $PY tests/interop/autobahn_serdes.py roundtrip SERIALIZER  < in.txt > out.txt
    $PY tests/interop/autobahn_serdes.py generate  SERIALIZER [--seed N] [--count N]

SERIALIZER is ``json``, ``msgpack`` or ``cbor``; the codec is Autobahn's own
``autobahn.wamp.serializer.JsonSerializer`` / ``MsgPackSerializer`` /
``CBORSerializer`` (non-batched). For json the bytes are the UTF-8 text of the
message, with Autobahn's binary convention: a bytes value is the string
``"\\u0000" + base64(bytes)``.

roundtrip
    Reads stdin line by line. Each line is the lowercase or uppercase hex of one
    serialized WAMP message; anything from the first TAB on is ignored, so the
    output of ``generate`` can be fed back directly. For each input line, in
    order, exactly one output line is written:

    * ``<hex>``: the message decoded with ``serializer.unserialize(bytes,
      is_binary)`` (which parses it into an ``autobahn.wamp.message`` object,
      validating it) and re-encoded with ``serializer.serialize(msg)``;
    * ``ERR <reason>``: Autobahn refused the line (bad hex, undecodable bytes,
      unknown type, invalid message: ``<reason>`` is the exception class and
      text on one line).

    All input is read before any output is written (then stdout is flushed
    once), so a caller may write every line, close stdin, and then read.

    The re-encoding is Autobahn's ``marshal()`` of the parsed object, not the
    input echoed back: options/details are rebuilt from the attributes Autobahn
    knows, in Autobahn's key order, so unknown keys are dropped, some default
    values are omitted and empty args/kwargs are left out. Payload values
    (args, kwargs, authextra, challenge extra, ...) keep their order and content.

generate
    Writes ``--count`` (default 1000) messages that Autobahn builds itself
    from its message classes, deterministically from ``--seed`` (default 1),
    one per line::

        <hex of the serialized message> TAB <JSON description>

    The description is a one-line JSON object (ASCII, non-BMP characters as
    surrogate-pair escapes)::

        {"type": <message type code>, "fields": [<element 1>, <element 2>, ...]}

    ``fields`` is ``msg.marshal()`` without its leading type code, i.e. exactly
    the wire elements Autobahn serializes, with every bytes value written as
    ``{"$bytes": "<hex>"}``. Integers are within [-2**63, 2**64-1], floats are
    finite, strings are valid Unicode (including non-BMP characters).

    Message classes are cycled in a fixed order (HELLO, WELCOME, ABORT,
    CHALLENGE, AUTHENTICATE, GOODBYE, ERROR, PUBLISH, PUBLISHED, SUBSCRIBE,
    SUBSCRIBED, UNSUBSCRIBE, UNSUBSCRIBED, EVENT, EVENT_RECEIVED (337), CALL,
    CANCEL, RESULT, REGISTER, REGISTERED, UNREGISTER, UNREGISTERED, INVOCATION,
    INTERRUPT, YIELD). The first round builds each class with no optional
    attribute, the second with every option Autobahn supports for it, the rest
    with random choices. Only messages Autobahn's own parser accepts are
    generated: valid URIs, IDs in [1, 2**53] (0 only as the request id of a
    revocation UNSUBSCRIBED/UNREGISTERED).

Exit status: 0 on success (also when some roundtrip lines are ERR), 2 on bad
arguments (with a message on stderr).
"""

import argparse
import inspect
import json
import os
import random
import sys
import traceback

# Use the standard codecs (stdlib json with Autobahn's binary convention,
# msgpack with its C extension), whatever the caller's environment says.
os.environ.pop("AUTOBAHN_USE_UJSON", None)
os.environ.pop("AUTOBAHN_USE_UMSGPACK", None)

SERIALIZERS = ("json", "msgpack", "cbor")
MODES = ("roundtrip", "generate")


def make_serializer(name):
    # Autobahn's serializers take timestamps through txaio, which needs a
    # framework selected; asyncio is in the stdlib (no Twisted needed).
    import txaio

    txaio.use_asyncio()
    from autobahn.wamp import serializer as s

    cls = {
        "json": "JsonSerializer",
        "msgpack": "MsgPackSerializer",
        "cbor": "CBORSerializer",
    }[name]
    if not hasattr(s, cls):
        sys.exit(f"autobahn_serdes: autobahn has no {cls} (is {name} installed?)")
    ser = getattr(s, cls)()
    return ser, ser._serializer.BINARY


# --------------------------------------------------------------------------
# roundtrip


def _one_line(text):
    return " ".join(str(text).split())


def _reason(exc):
    """One-line refusal reason; bare asserts (Autobahn's constructors) get their source line."""
    text = str(exc)
    if not text:
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            f = frames[-1]
            text = f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}: {f.line}"
    return _one_line(f"{type(exc).__name__}: {text}")


def roundtrip(name):
    ser, is_binary = make_serializer(name)
    out = []
    for raw in sys.stdin.buffer:
        field = raw.split(b"\t", 1)[0].strip()
        if not field:
            out.append("ERR empty line")
            continue
        try:
            data = bytes.fromhex(field.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as e:
            out.append("ERR bad hex: " + _one_line(e))
            continue
        try:
            msgs = ser.unserialize(data, is_binary)
            if len(msgs) != 1:
                raise ValueError(f"decoded {len(msgs)} messages, expected 1")
            encoded, _ = ser.serialize(msgs[0])
        except Exception as e:  # noqa: BLE001 - every refusal is reported
            out.append("ERR " + _reason(e))
            continue
        out.append(encoded.hex())
    sys.stdout.write("".join(line + "\n" for line in out))
    sys.stdout.flush()


# --------------------------------------------------------------------------
# generate

INT_EDGES = [
    0, 1, -1, 23, 24, -24, -25, 31, 32, -32, -33, 127, 128, -128, -129, 255, 256,
    65535, 65536, -32768, -32769, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1,
    2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**53 + 1, -(2**53), 2**63 - 1, 2**63,
    2**64 - 1, -(2**63) + 1, -(2**63),
]

FLOAT_EDGES = [
    0.0, -0.0, 0.5, 1.5, -2.25, 0.1, 3.141592653589793, 2.0, -1.0, 1e16, 1e-7,
    123456789.123, 1e300, -1e300, 1e-300, 5e-324, 1.7976931348623157e308,
    2.2250738585072014e-308, 65504.0, 3.4028234663852886e38,
]

STRINGS = [
    "", "a", "hello", "Hello, World!", "ünïcödé", "日本語テキスト", "Ελληνικά",
    "😀", "emoji 🎉🚀 mix", "\U0001F468\u200D\U0001F469\u200D\U0001F467",
    "\U0010FFFF", "\uFFFD", "\u2028\u2029", "tab\there", "line\nbreak", "cr\rlf\n",
    'quote " and backslash \\', "slash / ok", "nul\u0000inside", "\u007f del",
    "\u001f unit sep", "{\"json\": [1, 2]}", "0x41", "#hash", "mixed Ünï 😀 \t end",
]

KEYS = [
    "a", "b", "key", "name", "value", "id", "count", "nested", "list", "x", "",
    "ключ", "キー", "😀", "with space", "dot.ted", "Upper", "_u", "n1", "flag",
]

URI_WORDS = [
    "com", "org", "io", "example", "myapp", "wamp", "topic", "procedure", "event",
    "add2", "v1", "sensor_7", "user", "data", "a", "z9", "_", "interop", "rust",
]

LOOSE_URIS = [
    "com.Example.MyTopic", "com.example.my-topic", "de.müller.straße",
    "com.example.日本", "com.example.😀", "Com.Example.A-B_c", "x",
]

ERROR_URIS = [
    "wamp.error.invalid_uri", "wamp.error.no_such_procedure",
    "wamp.error.procedure_already_exists", "wamp.error.no_such_registration",
    "wamp.error.no_such_subscription", "wamp.error.invalid_argument",
    "wamp.error.canceled", "wamp.error.not_authorized", "wamp.error.runtime_error",
    "wamp.error.timeout", "com.example.error.custom", "com.example.Error-Loose",
]

ABORT_REASONS = [
    "wamp.error.no_such_realm", "wamp.error.no_such_role",
    "wamp.error.not_authorized", "wamp.error.authentication_failed",
    "wamp.error.no_auth_method", "wamp.error.protocol_violation",
    "com.example.abort",
]

GOODBYE_REASONS = [
    "wamp.close.normal", "wamp.close.system_shutdown",
    "wamp.close.close_realm", "wamp.close.goodbye_and_out",
    "wamp.close.killed", "com.example.bye",
]

REVOCATION_REASONS = [
    "wamp.error.unsubscribed", "wamp.error.unregistered",
    "wamp.error.session_killed", "com.example.revoked",
]

AUTHMETHODS = ["anonymous", "ticket", "wampcra", "cryptosign", "scram", "cookie", "tls"]


class Gen:
    """Random building blocks; ``level`` is "min", "max" or "rand"."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.huge_budget = 6

    # -- choices ----------------------------------------------------------
    def want(self, level, p=0.5):
        if level == "min":
            return False
        if level == "max":
            return True
        return self.r.random() < p

    def choice(self, seq):
        return seq[self.r.randrange(len(seq))]

    # -- ids and URIs -------------------------------------------------------
    def id(self):
        k = self.r.random()
        if k < 0.3:
            return self.choice([1, 2, 23, 24, 255, 256, 65535, 65536,
                                2**31 - 1, 2**32 - 1, 2**32, 2**53 - 1, 2**53])
        if k < 0.6:
            return self.r.randint(1, 10_000)
        return self.r.randint(1, 2**53)

    def uri(self, loose_ok=True):
        if loose_ok and self.r.random() < 0.1:
            return self.choice(LOOSE_URIS)
        n = self.r.randint(1, 5)
        return ".".join(self.choice(URI_WORDS) for _ in range(n))

    def pattern_uri(self, match):
        if match == "prefix":
            return ".".join(self.choice(URI_WORDS) for _ in range(self.r.randint(1, 3)))
        if match == "wildcard":
            parts = [self.choice(URI_WORDS) for _ in range(self.r.randint(2, 4))]
            holes = self.r.sample(range(len(parts)), self.r.randint(1, len(parts) - 1))
            for i in holes:
                parts[i] = ""
            return ".".join(parts)
        return self.uri()

    def realm(self):
        return self.choice(["realm1", "com.example.realm", "interop", "my-realm_2", "Realm.X@y"])

    def huge(self):
        """A few values per run get lengths at the 16-bit header boundary."""
        if self.huge_budget > 0 and self.r.random() < 0.01:
            self.huge_budget -= 1
            return self.choice([65535, 65536])
        return None

    def text(self):
        n = self.huge()
        if n is None:
            if self.r.random() < 0.85:
                return self.choice(STRINGS)
            # UTF-8 byte lengths around the msgpack/cbor header boundaries
            n = self.choice([23, 24, 31, 32, 255, 256, 1000])
        # exactly n UTF-8 bytes
        c = self.choice(["x", "é", "€", "😀"])
        b = len(c.encode("utf-8"))
        return c * (n // b) + "x" * (n % b)

    def blob(self):
        n = self.huge()
        if n is not None:
            return self.r.randbytes(n)
        k = self.r.random()
        if k < 0.1:
            return b""
        if k < 0.9:
            return self.r.randbytes(self.r.randint(1, 40))
        return self.r.randbytes(self.choice([23, 24, 255, 256, 1000]))

    def name(self):
        return self.choice(["joe", "alice", "bob", "service-1", "Ünïcode_user", "client😀", "u" * 40])

    # -- payload values -----------------------------------------------------
    def scalar(self):
        k = self.r.random()
        if k < 0.25:
            return self.choice(INT_EDGES) if self.r.random() < 0.6 else self.r.randint(-(2**63), 2**64 - 1)
        if k < 0.4:
            return self.choice(FLOAT_EDGES) if self.r.random() < 0.5 else self.r.uniform(-1e6, 1e6)
        if k < 0.7:
            return self.text()
        if k < 0.8:
            return self.blob()
        if k < 0.9:
            return self.r.random() < 0.5
        return None

    def value(self, depth=0):
        k = self.r.random()
        if depth >= 4 or k < 0.6:
            return self.scalar()
        if k < 0.8:
            return self.list(depth + 1)
        return self.dict(depth + 1)

    def list(self, depth=0, n=None):
        if n is None:
            n = self.choice([0, 1, 2, 3, 4, 5, 15, 16, 24]) if self.r.random() < 0.2 else self.r.randint(0, 5)
        return [self.value(depth) for _ in range(n)]

    def dict(self, depth=0, n=None):
        if n is None:
            n = self.choice([0, 1, 15, 16, 24]) if self.r.random() < 0.2 else self.r.randint(0, 5)
        d = {}
        for i in range(n):
            key = self.choice(KEYS)
            if key in d:
                key = f"{key}_{i}"
            d[key] = self.value(depth)
        return d

    def args_kwargs(self, level):
        """(args, kwargs) as Autobahn takes them: None or non-empty, never kwargs without args list."""
        if level == "min":
            return None, None
        if level == "max":
            return self.list(n=self.r.randint(3, 8)), self.dict(n=self.r.randint(3, 8))
        k = self.r.random()
        if k < 0.2:
            return None, None
        if k < 0.55:
            return self.list(n=self.r.randint(1, 6)), None
        if k < 0.7:
            return [], self.dict(n=self.r.randint(1, 6))
        return self.list(n=self.r.randint(1, 6)), self.dict(n=self.r.randint(1, 6))

    def forward_for(self):
        return [
            {"session": self.id(), "authid": self.name(), "authrole": self.choice(["router", "user", "rlink"])}
            for _ in range(self.r.randint(1, 3))
        ]

    def ids(self):
        return [self.id() for _ in range(self.r.randint(0, 4))]

    def names(self):
        return [self.name() for _ in range(self.r.randint(0, 3))]

    def features(self, role_cls, level):
        names = [p for p in inspect.signature(role_cls.__init__).parameters
                 if p not in ("self", "kwargs")]
        chosen = {}
        for n in names:
            if level == "max" or (level == "rand" and self.r.random() < 0.4):
                chosen[n] = level == "max" or self.r.random() < 0.8
        return role_cls(**chosen)

    def roles(self, names, level):
        from autobahn.wamp.role import ROLE_NAME_TO_CLASS

        if level == "min":
            picked = [self.choice(names)]
        elif level == "max":
            picked = list(names)
        else:
            picked = self.r.sample(names, self.r.randint(1, len(names)))
        return {n: self.features(ROLE_NAME_TO_CLASS[n], "min" if level == "min" else
                                 ("max" if level == "max" else "rand"))
                for n in picked}


def build_messages(g):
    """Builders: one function per message class, (gen, level) -> message.

    Every random draw happens in the same order as the option rows are listed, so a
    seed always yields the same messages.
    """
    from autobahn.wamp import message as m

    def pick(lv, rows):
        """Options from ``(key, probability, make)`` rows, in row order: each row draws
        ``want`` first and, when wanted, its value. A tuple key takes a tuple value
        (options Autobahn only writes together)."""
        kw = {}
        for key, p, make in rows:
            if g.want(lv, p):
                value = make()
                if isinstance(key, tuple):
                    kw.update(zip(key, value))
                else:
                    kw[key] = value
        return kw

    def maybe(lv, p, make):
        return make() if g.want(lv, p) else None

    def flag(lv, p):
        """An on/off option that is always on at level "max"."""
        return lambda: lv == "max" or g.r.random() < p

    def peer(role, p_id, p_auth, authroles):
        """The disclosed session, authid and authrole of a caller/callee/publisher."""
        return [(role, p_id, g.id), (role + "_authid", p_auth, g.name),
                (role + "_authrole", p_auth, lambda: g.choice(authroles))]

    def match_policy(lv, p, at_max):
        return maybe(lv, p, lambda: at_max if lv == "max" else g.choice(["exact", "prefix", "wildcard"]))

    def resume_token():
        return g.r.randbytes(16).hex()

    transaction_hash = ("transaction_hash", 0.1, lambda: g.r.randbytes(8).hex())
    forward_for = ("forward_for", 0.05, g.forward_for)

    def hello(lv):
        kw = pick(lv, [
            ("authmethods", 0.5, lambda: g.r.sample(AUTHMETHODS, g.r.randint(1, 4))),
            ("authid", 0.5, g.name),
            ("authrole", 0.3, lambda: g.choice(["user", "admin", "anonymous"])),
            ("authextra", 0.3, lambda: {"pubkey": g.r.randbytes(32).hex(), "trustroot": None,
                                        "channel_binding": None, **g.dict(n=g.r.randint(0, 3))}),
            ("resumable", 0.2, lambda: g.r.random() < 0.5 or lv == "max"),
            (("resume_session", "resume_token"), 0.1, lambda: (g.id(), resume_token())),
        ])
        return m.Hello(g.realm(), g.roles(["subscriber", "publisher", "caller", "callee"], lv), **kw)

    def welcome(lv):
        kw = pick(lv, [
            ("realm", 0.5, g.realm),
            ("authid", 0.5, g.name),
            # Autobahn writes authmethod only when authrole is set (and writes null if
            # authrole is set without authmethod): generate them together.
            (("authrole", "authmethod"), 0.5,
             lambda: (g.choice(["user", "admin", "anonymous"]), g.choice(AUTHMETHODS))),
            ("authprovider", 0.4, lambda: g.choice(["static", "dynamic", "database"])),
            ("authextra", 0.3, lambda: {"x_cb_node": "node1", **g.dict(n=g.r.randint(1, 3))}),
            ("resumed", 0.2, lambda: True),
            (("resumable", "resume_token"), 0.2, lambda: (True, resume_token())),
            ("custom", 0.3, lambda: {"x_" + g.choice(["cb_node", "cb_worker", "cb_peer", "trace"]): g.value(),
                                     "x_ab": g.scalar()}),
        ])
        return m.Welcome(g.id(), g.roles(["broker", "dealer"], lv), **kw)

    def abort(lv):
        msg = maybe(lv, 0.6, lambda: g.choice(["realm does not exist", "no such role", "😀 nope", "x" * 300]))
        return m.Abort(g.choice(ABORT_REASONS), message=msg)

    def challenge(lv):
        method = g.choice(["ticket", "wampcra", "cryptosign", "scram", "x_custom"])
        extra = {}
        if g.want(lv, 0.7):
            extra = {"challenge": g.r.randbytes(32).hex()}
            if method in ("wampcra", "scram") or lv == "max":
                extra.update({"salt": g.r.randbytes(8).hex(), "iterations": g.choice([1000, 4096]),
                              "keylen": 32})
            extra.update(g.dict(n=g.r.randint(0, 2)))
        return m.Challenge(method, extra)

    def authenticate(lv):
        sig = g.choice([g.r.randbytes(96).hex(), "secret!", "", "ticket-😀"])
        extra = g.dict(n=g.r.randint(1, 3)) if g.want(lv, 0.4) else {}
        return m.Authenticate(sig, extra)

    def goodbye(lv):
        kw = pick(lv, [
            ("message", 0.5, lambda: g.choice(["bye", "shutting down", "tschüss 👋"])),
            ("resumable", 0.2, lambda: True),
        ])
        return m.Goodbye(g.choice(GOODBYE_REASONS), **kw)

    def error(lv):
        req_type = g.choice([m.Subscribe.MESSAGE_TYPE, m.Unsubscribe.MESSAGE_TYPE,
                             m.Publish.MESSAGE_TYPE, m.Register.MESSAGE_TYPE,
                             m.Unregister.MESSAGE_TYPE, m.Call.MESSAGE_TYPE,
                             m.Invocation.MESSAGE_TYPE])
        if lv == "max":
            req_type = m.Call.MESSAGE_TYPE
        args, kwargs = g.args_kwargs(lv)
        callee = peer("callee", 0.3, 0.3, ["user", "backend"]) if req_type == m.Call.MESSAGE_TYPE else []
        kw = pick(lv, [*callee, forward_for])
        return m.Error(req_type, g.id(), g.choice(ERROR_URIS), args=args, kwargs=kwargs, **kw)

    def publish(lv):
        args, kwargs = g.args_kwargs(lv)
        kw = pick(lv, [
            ("acknowledge", 0.4, flag(lv, 0.7)),
            ("exclude_me", 0.3, lambda: lv != "max" and g.r.random() < 0.5),
            *((opt, 0.15, make) for opt, make in (
                ("exclude", g.ids), ("exclude_authid", g.names), ("exclude_authrole", g.names),
                ("eligible", g.ids), ("eligible_authid", g.names), ("eligible_authrole", g.names))),
            ("retain", 0.2, flag(lv, 0.7)),
            transaction_hash,
            forward_for,
        ])
        return m.Publish(g.id(), g.uri(), args=args, kwargs=kwargs, **kw)

    def acknowledgement(cls):
        """PUBLISHED, SUBSCRIBED, REGISTERED: a request id and the new object's id."""
        return lambda lv: cls(g.id(), g.id())

    def subscribe(lv):
        match = match_policy(lv, 0.5, "wildcard")
        get_retained = maybe(lv, 0.2, flag(lv, 0.5))
        ff = maybe(lv, 0.05, g.forward_for)
        return m.Subscribe(g.id(), g.pattern_uri(match), match=match,
                           get_retained=get_retained, forward_for=ff)

    def withdrawal(cls):
        """UNSUBSCRIBE, UNREGISTER: a request id and the object's id."""
        def build(lv):
            ff = maybe(lv, 0.1, g.forward_for)
            return cls(g.id(), g.id(), forward_for=ff)
        return build

    def withdrawn(cls, detail):
        """UNSUBSCRIBED, UNREGISTERED. Autobahn only accepts the subscription or
        registration detail together with request id 0 (router-initiated revocation)."""
        def build(lv):
            if g.want(lv, 0.4):
                reason = maybe(lv, 0.6, lambda: g.choice(REVOCATION_REASONS))
                return cls(0, **{detail: g.id()}, reason=reason)
            return cls(g.id())
        return build

    def event(lv):
        args, kwargs = g.args_kwargs(lv)
        kw = pick(lv, [
            *peer("publisher", 0.3, 0.2, ["user", "sensor"]),
            ("topic", 0.3, g.uri),
            ("retained", 0.2, lambda: True),
            transaction_hash,
            ("x_acknowledged_delivery", 0.1, flag(lv, 0.5)),
            forward_for,
        ])
        return m.Event(g.id(), g.id(), args=args, kwargs=kwargs, **kw)

    def event_received(lv):
        return m.EventReceived(g.id())

    def call(lv):
        args, kwargs = g.args_kwargs(lv)
        kw = pick(lv, [
            ("timeout", 0.3, lambda: g.choice([0, 1, 1000, 30000, 2**31 - 1, 2**53])),
            ("receive_progress", 0.3, flag(lv, 0.7)),
            transaction_hash,
            *peer("caller", 0.1, 0.1, ["user", "frontend"]),
            forward_for,
        ])
        return m.Call(g.id(), g.uri(), args=args, kwargs=kwargs, **kw)

    def cancel(lv):
        mode = maybe(lv, 0.7, lambda: g.choice(["skip", "kill", "killnowait"]))
        ff = maybe(lv, 0.05, g.forward_for)
        return m.Cancel(g.id(), mode=mode, forward_for=ff)

    def outcome(cls):
        """RESULT, YIELD: the same options, from the callee's side."""
        def build(lv):
            args, kwargs = g.args_kwargs(lv)
            kw = pick(lv, [
                ("progress", 0.3, flag(lv, 0.7)),
                *peer("callee", 0.2, 0.2, ["user", "backend"]),
                forward_for,
            ])
            return cls(g.id(), args=args, kwargs=kwargs, **kw)
        return build

    def register(lv):
        match = match_policy(lv, 0.4, "prefix")
        kw = pick(lv, [
            ("invoke", 0.4, lambda: "roundrobin" if lv == "max" else g.choice(
                ["single", "first", "last", "roundrobin", "random"])),
            ("concurrency", 0.2, lambda: g.choice([1, 2, 100, 2**31 - 1])),
            ("force_reregister", 0.2, flag(lv, 0.5)),
            forward_for,
        ])
        return m.Register(g.id(), g.pattern_uri(match), match=match, **kw)

    def invocation(lv):
        args, kwargs = g.args_kwargs(lv)
        kw = pick(lv, [
            ("timeout", 0.2, lambda: g.choice([0, 1, 1000, 30000, 2**31 - 1])),
            ("receive_progress", 0.3, flag(lv, 0.7)),
            *peer("caller", 0.3, 0.2, ["user", "frontend"]),
            ("procedure", 0.3, g.uri),
            transaction_hash,
            forward_for,
        ])
        return m.Invocation(g.id(), g.id(), args=args, kwargs=kwargs, **kw)

    def interrupt(lv):
        mode = maybe(lv, 0.7, lambda: g.choice(["kill", "killnowait"]))
        reason = maybe(lv, 0.3, lambda: g.choice(["wamp.error.canceled", "wamp.error.timeout", "com.example.stop"]))
        ff = maybe(lv, 0.05, g.forward_for)
        return m.Interrupt(g.id(), mode=mode, reason=reason, forward_for=ff)

    return [hello, welcome, abort, challenge, authenticate, goodbye, error,
            publish, acknowledgement(m.Published), subscribe, acknowledgement(m.Subscribed),
            withdrawal(m.Unsubscribe), withdrawn(m.Unsubscribed, "subscription"),
            event, event_received, call, cancel, outcome(m.Result), register,
            acknowledgement(m.Registered), withdrawal(m.Unregister),
            withdrawn(m.Unregistered, "registration"), invocation, interrupt, outcome(m.Yield)]


def describe(value):
    """marshal() output -> JSON-able structure, bytes as {"$bytes": hex}."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {k: describe(v) for k, v in value.items()}
    return value


def generate(name, seed, count):
    ser, _ = make_serializer(name)
    g = Gen(seed)
    builders = build_messages(g)
    out = []
    for i in range(count):
        build = builders[i % len(builders)]
        rnd = i // len(builders)
        level = "min" if rnd == 0 else "max" if rnd == 1 else "rand"
        msg = build(level)
        wire = msg.marshal()
        data, _ = ser.serialize(msg)
        desc = {"type": wire[0], "fields": describe(wire[1:])}
        out.append(data.hex() + "\t" + json.dumps(desc, ensure_ascii=True, allow_nan=False,
                                                  separators=(",", ":")))
    sys.stdout.write("".join(line + "\n" for line in out))
    sys.stdout.flush()


def main(argv):
    p = argparse.ArgumentParser(
        prog="autobahn_serdes.py",
        description="Autobahn|Python WAMP codec filter for interop tests (see module docstring).",
    )
    p.add_argument("mode", choices=MODES)
    p.add_argument("serializer", choices=SERIALIZERS)
    p.add_argument("--seed", type=int, help="generate: random seed (default 1)")
    p.add_argument("--count", type=int, help="generate: number of messages (default 1000)")
    a = p.parse_args(argv)
    if a.mode == "roundtrip":
        if a.seed is not None or a.count is not None:
            p.error("--seed/--count only apply to generate")
        roundtrip(a.serializer)
    else:
        count = 1000 if a.count is None else a.count
        if count < 0:
            p.error("--count must be >= 0")
        generate(a.serializer, 1 if a.seed is None else a.seed, count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
