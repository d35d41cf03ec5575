#!/usr/bin/env python3
"""Seeds every fuzz target's corpus from the wamp-proto conformance vectors.

Each JSON, MessagePack and CBOR sample of every single-message vector becomes one input
per target, wrapped in that target's input layout (see the doc comment of each
fuzz_targets/*.rs), so fuzzing starts from real WAMP messages behind a completed
handshake instead of guessing them.

    fuzz/seed.py [VECTORS_DIR]   # default: the copy in wamp-core/tests/data/wamp-testsuite

Writes fuzz/corpus/<target>/seed-<n> (the corpus folder is not committed).
"""

import hashlib
import json
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_VECTORS = HERE.parent / "wamp-core" / "tests" / "data" / "wamp-testsuite"

# Serializer names in the vectors -> (RawSocket serializer bits, WebSocket subprotocol bits).
SERIALIZERS = {"json": 0, "msgpack": 1, "cbor": 2}


def samples(vectors: Path):
    """(serializer, bytes) for every sample of every single-message vector."""
    for path in sorted((vectors / "singlemessage").rglob("*.json")):
        doc = json.loads(path.read_text())
        for sample in doc.get("samples", []):
            for name, encodings in sample.get("serializers", {}).items():
                if name not in SERIALIZERS:
                    continue
                for enc in encodings:
                    if "bytes_hex" in enc:
                        yield name, bytes.fromhex(enc["bytes_hex"])
                    elif "bytes" in enc:
                        yield name, enc["bytes"].encode()


def chunked(data: bytes) -> bytes:
    """`([len] [chunk of len bytes])*` with chunks of at most 255 bytes."""
    out = bytearray()
    for i in range(0, len(data), 255):
        part = data[i : i + 255]
        out += bytes([len(part)]) + part
    return bytes(out)


def ws_frame(payload: bytes, binary: bool, masked: bool) -> bytes:
    head = bytearray([0x82 if binary else 0x81])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head.append(mask_bit | len(payload))
    else:
        head.append(mask_bit | 126)
        head += struct.pack(">H", len(payload))
    if not masked:
        return bytes(head) + payload
    key = b"\x37\xfa\x21\x3d"
    return bytes(head) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def inputs(name: str, msg: bytes):
    """(target, input) pairs for one message."""
    code = SERIALIZERS[name]
    binary = name != "json"
    if len(msg) <= 255:
        # router: a joined JSON session, or a bare MessagePack connection, sends it.
        if name == "json":
            yield "router", bytes([0, 2, 0, len(msg)]) + msg
        elif name == "msgpack":
            yield "router", bytes([1, 2, 0, len(msg)]) + msg
        # session (JSON only): joined (a structured WELCOME), then the raw message.
        if name == "json":
            yield "session", bytes([1, 0, 0, 0, 0, len(msg)]) + msg
    # WebSocket server: a valid upgrade for this serializer, then the masked frame.
    yield "ws_server", bytes([1 | (code << 1)]) + chunked(ws_frame(msg, binary, True))
    # WebSocket client: a valid 101 answer (JSON or MessagePack only), then the frame.
    if name in ("json", "msgpack"):
        yield "ws_client", bytes([1 | (code << 1) | 16]) + chunked(ws_frame(msg, binary, False))
    # RawSocket, both roles: after a valid handshake, the message as one frame.
    frame = bytes([0]) + len(msg).to_bytes(3, "big") + msg
    for role in (0, 1):
        control = role | 2 | (code << 4)
        yield "rawsocket_framer", bytes([control, 0xFF]) + chunked(frame)


def main() -> int:
    vectors = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_VECTORS
    if not (vectors / "singlemessage").is_dir():
        print(f"no conformance vectors under {vectors}", file=sys.stderr)
        return 1
    counts: dict[str, int] = {}
    for name, msg in samples(vectors):
        for target, data in inputs(name, msg):
            folder = HERE / "corpus" / target
            folder.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha1(data).hexdigest()[:16]
            (folder / f"seed-{digest}").write_bytes(data)
            counts[target] = counts.get(target, 0) + 1
    for target, n in sorted(counts.items()):
        print(f"{target}: {n} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
