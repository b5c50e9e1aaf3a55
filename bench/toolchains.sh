#!/bin/sh
# Go and TinyGo guests compared (module size, cold compile, CPU per event), printed as a
# markdown section; bench/run.sh appends it to the report. Usage: bench/toolchains.sh [ROUNDS]
# Without TinyGo (tinygo in PATH or $TINYGO) the section says it was not measured.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/toolchains.sh: run as root (loads eBPF programs)" >&2; exit 1; }
GO=${GO:-go}
mkdir -p bin
[ -x bin/gadgetry ] || CGO_ENABLED=0 $GO build -trimpath -o bin/gadgetry ./cmd/gadgetry
$GO build -o bin/toolchains ./bench/toolchains
exec bin/toolchains -gadgetry bin/gadgetry -rounds "${1:-5}"
