#!/bin/sh
# Benchmarks of `gadgetry run` (make bench; make test runs them too, as make bench-ci).
# Usage: bench/run.sh [REF]
# REF is the exec tracer to measure (default: trace_exec if the binary resolves it, else the
# runtime's test gadget runtime/testdata/exec.bpf.c compiled here). Writes BENCH_OUT (default
# docs/benchmarks.md), then appends bench/traceloop.sh's section (TRACELOOP_ROUNDS rounds,
# default 5; 0 skips it) and bench/toolchains.sh's (TOOLCHAIN_ROUNDS, default 3). BENCH_ROUNDS:
# rounds of the slowdown measurements (default 12).
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

# traceloop's syscall-tracing cost (a minute or two; TRACELOOP_ROUNDS=0 skips it), appended as
# its own section. Optional: a missing tool (gcc for the static getpid loop, bpftool) skips it.
rounds=${TRACELOOP_ROUNDS:-5}
if [ "$rounds" -gt 0 ]; then
	tl=$(mktemp)
	if bench/traceloop.sh "$rounds" >"$tl"; then
		cat "$tl" >>"$OUT"
		cat "$tl"
	else
		echo "bench/run.sh: bench/traceloop.sh failed; $OUT has no traceloop section" >&2
		rm -f "$tl"
		exit 1
	fi
	rm -f "$tl"
fi

# Go and TinyGo guests (TOOLCHAIN_ROUNDS rounds, default 3; 0 skips it), appended as its own
# section. Without TinyGo the section says so.
trounds=${TOOLCHAIN_ROUNDS:-3}
if [ "$trounds" -gt 0 ]; then
	tt=$(mktemp)
	if bench/toolchains.sh "$trounds" >"$tt"; then
		cat "$tt" >>"$OUT"
		cat "$tt"
	else
		echo "bench/run.sh: bench/toolchains.sh failed; $OUT has no toolchains section" >&2
		rm -f "$tt"
		exit 1
	fi
	rm -f "$tt"
fi
