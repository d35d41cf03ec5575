#!/usr/bin/env python3
"""Ratio table for the wamp-proto `wire` benchmark: wamp-proto next to plain serde.

Run after `cargo bench -p wamp-proto --bench wire`:

    python3 scripts/bench-ratios.py [CRITERION_DIR]

Reads target/criterion/*/*/new/estimates.json (mean point estimate, in ns) and the
benchmark.json beside it (the real group and function ids; criterion replaces the `/` in
`call_small/json` with `_` in directory names), and prints a markdown table. A ratio
below 1 means wamp-proto is faster than the serde baseline.

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion at the
workspace root.
"""

import json
import os
import sys
from pathlib import Path

FUNCTIONS = (
    "wamp_encode",
    "wamp_encode_fwd",
    "serde_encode",
    "wamp_decode_lazy",
    "wamp_decode_typed",
    "serde_decode",
)
MESSAGES = ("call", "event")
PAYLOADS = ("small", "16k", "blob16k")
SERIALIZERS = ("json", "msgpack", "cbor")


def criterion_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "criterion"
    return Path(__file__).resolve().parent.parent / "target" / "criterion"


def load(root: Path) -> dict:
    """{group: {function: mean ns}}"""
    results: dict = {}
    for estimates in sorted(root.glob("*/*/new/estimates.json")):
        new = estimates.parent
        meta_path = new / "benchmark.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            group, function = meta.get("group_id"), meta.get("function_id")
        else:
            group, function = new.parent.parent.name, new.parent.name
        if function not in FUNCTIONS:
            continue
        mean = json.loads(estimates.read_text())["mean"]["point_estimate"]
        results.setdefault(group, {})[function] = mean
    return results


def sort_key(group: str):
    name, _, serializer = group.partition("/")
    message, _, payload = name.partition("_")

    def index(seq, item):
        return seq.index(item) if item in seq else len(seq)

    return (
        index(MESSAGES, message),
        index(PAYLOADS, payload),
        index(SERIALIZERS, serializer),
        group,
    )


def fmt_time(ns) -> str:
    if ns is None:
        return "-"
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns / 1e6:.2f} ms"


def fmt_ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def main() -> int:
    root = criterion_dir()
    results = load(root)
    if not results:
        print(f"no wire benchmark results under {root}", file=sys.stderr)
        return 1
    header = (
        "group",
        "wamp_encode",
        "wamp_encode_fwd",
        "serde_encode",
        "enc ratio",
        "fwd ratio",
        "wamp_decode_lazy",
        "wamp_decode_typed",
        "serde_decode",
        "lazy ratio",
        "typed ratio",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for group in sorted(results, key=sort_key):
        r = results[group]
        row = (
            group,
            fmt_time(r.get("wamp_encode")),
            fmt_time(r.get("wamp_encode_fwd")),
            fmt_time(r.get("serde_encode")),
            fmt_ratio(r.get("wamp_encode"), r.get("serde_encode")),
            fmt_ratio(r.get("wamp_encode_fwd"), r.get("serde_encode")),
            fmt_time(r.get("wamp_decode_lazy")),
            fmt_time(r.get("wamp_decode_typed")),
            fmt_time(r.get("serde_decode")),
            fmt_ratio(r.get("wamp_decode_lazy"), r.get("serde_decode")),
            fmt_ratio(r.get("wamp_decode_typed"), r.get("serde_decode")),
        )
        print("| " + " | ".join(row) + " |")
    print()
    print("ratio = wamp / serde baseline (mean); below 1 means wamp-proto is faster.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
