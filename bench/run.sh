#!/bin/sh
# Benchmarks of `gadgetry run` (make bench). Usage: bench/run.sh [REF]
# REF is the exec tracer to measure (default: trace_exec if the binary resolves it, else the
# runtime's test gadget runtime/testdata/exec.bpf.c compiled here). Writes docs/benchmarks.md,
# then appends bench/traceloop.sh's section (TRACELOOP_ROUNDS rounds, default 5; 0 skips it).
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (loads eBPF programs)" >&2; exit 1; }
GO=${GO:-go}
mkdir -p bin
[ -x bin/gadgetry ] || CGO_ENABLED=0 $GO build -trimpath -o bin/gadgetry ./cmd/gadgetry
$GO build -o bin/runbench ./bench/runbench

REF=${1:-}
if [ -z "$REF" ]; then
	if bin/gadgetry run trace_exec --help >/dev/null 2>&1; then
		REF=trace_exec
	else
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		clang-19 -target bpf -D__TARGET_ARCH_x86 -O2 -g -Igadgets/include -Iruntime/testdata \
			-c runtime/testdata/exec.bpf.c -o "$tmp/exec.bpf.o"
		llvm-strip-19 -g "$tmp/exec.bpf.o"
		printf 'name: test_exec\n' >"$tmp/gadget.yaml"
		REF=$tmp/exec.bpf.o
	fi
fi
echo "benchmarking $REF" >&2
bin/runbench -gadgetry bin/gadgetry -ref "$REF" -out docs/benchmarks.md
cat bench/notes.md >>docs/benchmarks.md

# Per-event user-space cost, appended to the report.
{
	echo
	echo '```'
	$GO test ./runtime/ ./runtime/output/ -run XXX -bench . -benchmem -benchtime 200000x 2>&1 | grep -E '^Benchmark'
	echo '```'
} | tee -a docs/benchmarks.md

# traceloop's syscall-tracing cost (a minute or two; TRACELOOP_ROUNDS=0 skips it), appended as
# its own section. Optional: a missing tool (gcc for the static getpid loop, bpftool) skips it.
rounds=${TRACELOOP_ROUNDS:-5}
if [ "$rounds" -gt 0 ]; then
	tl=$(mktemp)
	if bench/traceloop.sh "$rounds" >"$tl"; then
		cat "$tl" >>docs/benchmarks.md
	else
		echo "bench/run.sh: bench/traceloop.sh failed; docs/benchmarks.md has no traceloop section" >&2
	fi
	rm -f "$tl"
fi
