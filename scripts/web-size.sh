#!/usr/bin/env bash
# Measure the size of a browser client built with wamp-web: the example page's module
# (wamp-web-app without its test suite: connect, call, register, subscribe, publish,
# leave, with JSON, MessagePack and CBOR and every authentication method linked in).
#
#   scripts/web-size.sh
#
# Builds it with opt-level "s" and "z" (profile wasm-small: LTO, one codegen unit,
# panic=abort), runs wasm-bindgen (dropping the function-name section, a quarter of
# the module, which only debuggers read), and prints the .wasm sizes raw and gzipped, after
# `wasm-opt -Oz` where binaryen is installed, and the largest crates by code size where
# twiggy is installed (`cargo install twiggy`).
set -euo pipefail
cd "$(dirname "$0")/.."

out="target/web-size"
mkdir -p "$out"
gz() { gzip -9 -c "$1" | wc -c; }
row() { printf '| %-34s | %9s | %9s |\n' "$1" "$(wc -c < "$2")" "$(gz "$2")"; }

printf '| %-34s | %9s | %9s |\n' "build" "bytes" "gzip -9"
printf '|%s|%s|%s|\n' "------------------------------------" "-----------" "-----------"
for level in s z; do
    CARGO_PROFILE_WASM_SMALL_OPT_LEVEL="$level" cargo build --profile wasm-small \
        -p wamp-web-app --no-default-features --target wasm32-unknown-unknown \
        --target-dir "target/web-size-$level" >&2
    wasm-bindgen --target web --no-typescript --remove-name-section --out-dir "$out/$level" \
        "target/web-size-$level/wasm32-unknown-unknown/wasm-small/wamp_web_app.wasm" >&2
    wasm="$out/$level/wamp_web_app_bg.wasm"
    row "opt-level \"$level\", wasm-bindgen" "$wasm"
    if command -v wasm-opt >/dev/null 2>&1; then
        wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
            --enable-sign-ext --enable-mutable-globals "$wasm" -o "$out/$level/opt.wasm"
        row "opt-level \"$level\", + wasm-opt -Oz" "$out/$level/opt.wasm"
    fi
done
if command -v twiggy >/dev/null 2>&1; then
    # Names survive in the module before wasm-bindgen strips them: attribute by crate.
    raw="target/web-size-z/wasm32-unknown-unknown/wasm-small/wamp_web_app.wasm"
    echo
    echo "largest crates (opt-level \"z\"; share of code and static data, names and"
    echo "wasm-bindgen's metadata left out as wasm-bindgen removes them):"
    twiggy top -n 100000 --format csv "$raw" | python3 -c '
import csv, re, sys
from collections import Counter
sizes = Counter()
total = 0
for row in csv.DictReader(sys.stdin):
    size = int(row["ShallowSize"]); total += size
    name = row["Name"]
    if ("names" in name and "subsection" in name) or name.startswith("custom section"):
        # Function names and the wasm-bindgen metadata: not in the shipped module.
        total -= size
        continue
    if name.startswith("data segment"):
        crate = "(static data: tables, strings)"
    else:
        m = re.search(r"([a-z_][a-z0-9_]*)(\[[0-9a-f]+\])?::", name)
        crate = m.group(1) if m else "(other: std generics, glue, unnamed)"
    sizes[crate] += size
for crate, size in sizes.most_common(16):
    print(f"  {crate:32} {size:9d} bytes  {100*size/total:5.1f}%")
'
fi
