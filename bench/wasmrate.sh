#!/bin/sh
# Records per second through `gadgetry run traceloop --stream -o json`, with and without its
# WASM module, same workload, same run (bench/wasmrate/main.go). Prints a markdown section.
# Usage: bench/wasmrate.sh [ROUNDS] [BEFORE]
# BEFORE, a git revision, adds a third configuration: the gadgetry of that revision (built from
# `git archive`), which builds that revision's traceloop module with its own SDK.
# WASMRATE_CALLS: getppid calls per round (default 400000). Run as root. The build uses this
# checkout as it is: the report says when it has local changes.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/wasmrate.sh: run as root (loads eBPF programs)" >&2; exit 1; }
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/gadgetry" ./cmd/gadgetry
$GO build -o "$tmp/wasmrate" ./bench/wasmrate
label="at $(git rev-parse --short HEAD)"
git diff --quiet HEAD -- wasmapi runtime cmd gadgets/traceloop || label="$label with local changes"
set -- "${1:-5}" "${2:-}"
if [ -n "$2" ]; then
	mkdir "$tmp/before"
	git archive "$2" | tar -x -C "$tmp/before"
	(cd "$tmp/before" && CGO_ENABLED=0 $GO build -trimpath -o "$tmp/gadgetry-before" ./cmd/gadgetry)
	"$tmp/wasmrate" -gadgetry "$tmp/gadgetry" -label "$label" -rounds "$1" -calls "${WASMRATE_CALLS:-400000}" \
		-before "$tmp/gadgetry-before" -before-repo "$tmp/before" -before-label "at $(git rev-parse --short "$2")"
	exit
fi
"$tmp/wasmrate" -gadgetry "$tmp/gadgetry" -label "$label" -rounds "$1" -calls "${WASMRATE_CALLS:-400000}"
