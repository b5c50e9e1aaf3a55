#!/bin/sh
# Stop latency (SIGINT to exit) of `gadgetry run` under a flood, with and without WASM modules,
# and its memory during a long flood (bench/stoplat/main.go). Prints a markdown section.
# Usage: bench/stoplat.sh [RUNS] [RSS_SECONDS]   (defaults 20, and STOPLAT_RSS or 60). Run as root.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/stoplat.sh: run as root (loads eBPF programs)" >&2; exit 1; }
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/gadgetry" ./cmd/gadgetry
$GO build -o "$tmp/stoplat" ./bench/stoplat
cp -r gadgets/traceloop "$tmp/traceloop" && rm -rf "$tmp/traceloop/go"
"$tmp/gadgetry" --store "$tmp/store" image build -t traceloop:nomodule "$tmp/traceloop" >/dev/null
"$tmp/gadgetry" --store "$tmp/store" image build -t exec_annotate:bench examples/exec_annotate >/dev/null
label="at $(git rev-parse --short HEAD)"
git diff --quiet HEAD -- runtime cmd wasmapi gadgets || label="$label with local changes"
"$tmp/stoplat" -gadgetry "$tmp/gadgetry" -store "$tmp/store" -label "$label" -runs "${1:-20}" -rss-seconds "${2:-${STOPLAT_RSS:-60}}"
