#!/bin/sh
# Benchmarks of `gadgetry run` (make bench; make test runs them too, as make bench-ci).
# Usage: bench/run.sh [REF]
# REF is the exec tracer to measure (default: trace_exec if the binary resolves it, else the
# runtime's test gadget runtime/testdata/exec.bpf.c compiled here). Writes BENCH_OUT (default
# docs/benchmarks.md), then appends bench/traceloop.sh's section (TRACELOOP_ROUNDS rounds,
# default 5; 0 skips it), bench/toolchains.sh's (TOOLCHAIN_ROUNDS, default 3) and
# bench/block_exec.sh's (BLOCK_EXEC_ROUNDS, default 7), bench/wasmrate.sh's (WASMRATE_ROUNDS,
# default 5), bench/stoplat.sh's (STOPLAT_RUNS, default 20) and bench/k8s.sh's (K8S_ROUNDS,
# default 3; 0 skips it). BENCH_ROUNDS: rounds of the slowdown measurements (default 12).
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (loads eBPF programs)" >&2; exit 1; }
GO=${GO:-go}
mkdir -p bin
[ -x bin/gadgetry ] || CGO_ENABLED=0 $GO build -trimpath -o bin/gadgetry ./cmd/gadgetry
$GO build -o bin/runbench ./bench/runbench

# The floor: the runtime's minimal exec tracer (one small record per exec), measured beside REF.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clang-19 -target bpf -D__TARGET_ARCH_x86 -O2 -g -Igadgets/include -Iruntime/testdata \
	-c runtime/testdata/exec.bpf.c -o "$tmp/exec.bpf.o"
llvm-strip-19 -g "$tmp/exec.bpf.o"
printf 'name: test_exec\n' >"$tmp/gadget.yaml"
FLOOR=$tmp/exec.bpf.o

REF=${1:-}
if [ -z "$REF" ]; then
	if bin/gadgetry run trace_exec --help >/dev/null 2>&1; then
		REF=trace_exec
	else
		REF=$FLOOR
	fi
fi
echo "benchmarking $REF" >&2
OUT=${BENCH_OUT:-docs/benchmarks.md}
mkdir -p "$(dirname "$OUT")"
bin/runbench -gadgetry bin/gadgetry -ref "$REF" -floor "$FLOOR" -out "$OUT" -rounds "${BENCH_ROUNDS:-12}"
cat bench/notes.md >>"$OUT"

# Per-event user-space cost, appended to the report.
{
	echo
	echo '```'
	$GO test ./runtime/ ./runtime/output/ -run XXX -bench . -benchmem -benchtime 200000x 2>&1 | grep -E '^Benchmark'
	echo '```'
} | tee -a "$OUT"

# append SCRIPT ROUNDS: runs a benchmark script that prints a markdown section and appends it
# to the report (ROUNDS 0 skips it).
append() {
	[ "$2" -gt 0 ] || return 0
	sect=$(mktemp)
	if "$1" "$2" >"$sect"; then
		cat "$sect" >>"$OUT"
		cat "$sect"
		rm -f "$sect"
	else
		echo "bench/run.sh: $1 failed; $OUT has no section of it" >&2
		rm -f "$sect"
		exit 1
	fi
}

# traceloop's syscall-tracing cost (a minute or two). Optional: a missing tool (gcc for the
# static getpid loop, bpftool) skips it.
append bench/traceloop.sh "${TRACELOOP_ROUNDS:-5}"
# Go and TinyGo guests (about a minute a round); without TinyGo the section says so.
append bench/toolchains.sh "${TOOLCHAIN_ROUNDS:-3}"
# Exec cost under block_exec with a 50-entry deny list, beside trace_exec and no tracer (about
# 15 s a round).
append bench/block_exec.sh "${BLOCK_EXEC_ROUNDS:-7}"
# traceloop's records per second through its WASM module and without it (about 30 s a round).
append bench/wasmrate.sh "${WASMRATE_ROUNDS:-5}"
# SIGINT-to-exit latency under a flood, 4 configurations (about 10 s a run), then a 60 s flood
# for the memory figure.
append bench/stoplat.sh "${STOPLAT_RUNS:-20}"
# Through the node daemon on the real single-node test cluster, against a local run (the
# cluster comes up in about 20 s; a round is about 30 s). The Kubernetes binaries are built
# once (scripts/k8s/build.sh, about 8 minutes cold).
append bench/k8s.sh "${K8S_ROUNDS:-3}"
