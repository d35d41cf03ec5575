"""Shared by ab_callee.py and ab_caller.py: command line, transport, authentication, run loop.

Both scripts are Autobahn|Python (asyncio flavour) Components. Their common arguments:

    URL          ws://HOST:PORT/PATH, wss://..., rs://HOST:PORT, rss://HOST:PORT, or
                 unix:PATH (RawSocket over a Unix domain socket)
    REALM        the realm to join
    SERIALIZER   json, msgpack or cbor

and options:

    --ca FILE                      PEM file of the CA to trust for wss:// and rss:// URLs
    --tls-hostname NAME            the name to verify the router's certificate against
                                   (default: the URL's host)
    --ticket AUTHID:TICKET         authenticate with WAMP-Ticket
    --wampcra AUTHID:SECRET        authenticate with WAMP-CRA (the router sends any salt)
    --cryptosign AUTHID:SEED_HEX   authenticate with WAMP-Cryptosign (32-byte Ed25519 seed)
    --scram AUTHID:PASSWORD        authenticate with Autobahn's "scram" (what Crossbar speaks)
    --timeout SECONDS              overall time bound of the process
    --verbose                      Autobahn's debug log on stderr

The Components never reconnect (max_retries 0): a test wants to see a failure, not a retry.
"""

import argparse
import asyncio
import base64
import json
import signal
import sys
from urllib.parse import urlsplit

import txaio
from autobahn.asyncio.component import Component

SERIALIZERS = ("json", "msgpack", "cbor")

# Exit codes shared by the scripts.
EXIT_OK = 0
EXIT_WAMP_ERROR = 1
EXIT_USAGE_OR_TIMEOUT = 2


def parser(description):
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("url")
    p.add_argument("realm")
    p.add_argument("serializer", choices=SERIALIZERS)
    p.add_argument("--ca")
    p.add_argument("--tls-hostname")
    p.add_argument("--ticket", metavar="AUTHID:TICKET")
    p.add_argument("--wampcra", metavar="AUTHID:SECRET")
    p.add_argument("--cryptosign", metavar="AUTHID:SEED_HEX")
    p.add_argument("--scram", metavar="AUTHID:PASSWORD")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--verbose", action="store_true")
    return p


def _split_credential(p, flag, value):
    authid, sep, secret = value.partition(":")
    if not sep or not authid:
        p.error(f"--{flag} wants AUTHID:SECRET, got {value!r}")
    return authid, secret


# Each credential option: the Component's authentication method (also the option's
# name) and the key its secret goes under.
_CREDENTIALS = (
    ("ticket", "ticket"),
    ("wampcra", "secret"),
    ("cryptosign", "privkey"),
    ("scram", "password"),
)


def authentication(p, ns):
    """The Component's `authentication` dict for the credentials given on the command line."""
    auth = {}
    for method, secret_key in _CREDENTIALS:
        value = getattr(ns, method)
        if value:
            authid, secret = _split_credential(p, method, value)
            auth[method] = {"authid": authid, secret_key: secret}
    return auth


def make_component(p, ns):
    """The Component both scripts run: URL's transport, REALM, the command line's credentials."""
    return Component(
        transports=[transport(p, ns)],
        realm=ns.realm,
        authentication=authentication(p, ns),
    )


def transport(p, ns):
    """The Component's transport config for URL (one transport, no reconnection)."""
    url = ns.url
    if url.startswith("unix:"):
        return {
            "type": "rawsocket",
            "url": "rs://unix" + url[len("unix:"):],
            "serializer": ns.serializer,
            "endpoint": {"type": "unix", "path": url[len("unix:"):]},
            "max_retries": 0,
        }
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss", "rs", "rss"):
        p.error(f"unsupported URL scheme in {url!r}")
    if not parts.hostname or not parts.port:
        p.error(f"URL {url!r} needs an explicit host and port")
    endpoint = {"type": "tcp", "host": parts.hostname, "port": parts.port}
    if parts.scheme in ("wss", "rss"):
        tls = {"hostname": ns.tls_hostname or parts.hostname}
        if ns.ca:
            tls["trust_root"] = ns.ca
        endpoint["tls"] = tls
    if parts.scheme in ("ws", "wss"):
        return {
            "type": "websocket",
            "url": url,
            "serializers": [ns.serializer],
            "endpoint": endpoint,
            "max_retries": 0,
        }
    return {
        "type": "rawsocket",
        "url": url,
        "serializer": ns.serializer,
        "endpoint": endpoint,
        "max_retries": 0,
    }


def _json_default(value):
    # JSON has no byte strings; msgpack and CBOR do. Render them recognizably.
    if isinstance(value, (bytes, bytearray)):
        return {"bytes_b64": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


def emit(*parts):
    """Print one line on stdout at once (the Rust side reads lines as they come)."""
    line = " ".join(
        part if isinstance(part, str) else json.dumps(part, default=_json_default)
        for part in parts
    )
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(component, ns):
    """Runs the Component until it is done, SIGTERM/SIGINT, or the --timeout.

    Returns None when the Component finished, or the exception it failed with; exits with
    EXIT_USAGE_OR_TIMEOUT on the timeout.
    """
    txaio.use_asyncio()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    txaio.config.loop = loop
    txaio.start_logging(level="debug" if ns.verbose else "warn", out=sys.stderr)

    def on_signal():
        # A graceful stop: leave the realm, close the transport, let `done` resolve.
        component.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)

    done = component.start(loop)
    try:
        loop.run_until_complete(asyncio.wait_for(done, ns.timeout))
        return None
    except asyncio.TimeoutError:
        emit({"error": "ab.timeout", "args": [f"no outcome within {ns.timeout}s"], "kwargs": {}})
        sys.exit(EXIT_USAGE_OR_TIMEOUT)
    except Exception as e:  # the Component's failure (refused join, no connection, ...)
        return e
    finally:
        loop.close()


def serve(component, ns, script, state):
    """Runs a serving script's Component (see run), printing LEFT when a session ends,
    and exits: EXIT_OK if it got as far as registering (state["registered"]), else
    EXIT_WAMP_ERROR with the failure on stderr."""

    @component.on_leave
    def left(session, details):
        emit("LEFT", {"reason": details.reason, "message": details.message})

    failure = run(component, ns)
    if not state["registered"]:
        print(f"{script}: never registered: {failure}", file=sys.stderr)
        sys.exit(EXIT_WAMP_ERROR)
    sys.exit(EXIT_OK)
