#!/bin/bash
# Slowdown of syscall-heavy workloads under traceloop (issue 6). Run as root from the repo root:
#
#   bench/traceloop.sh [runs]      # runs per configuration (default 7), the median is reported
#
# Workloads: `dd if=/dev/zero of=/dev/null bs=4k count=500000` (a read and a write per block) and
# a static C program calling getpid 2,000,000 times. Configurations:
#   off       nothing attached
#   empty     empty raw_tracepoint programs on sys_enter and sys_exit: the floor of any such tracer
#   excluding traceloop with --syscall-filters=openat,execve (excludes every workload syscall)
#   all       traceloop recording every syscall (records drained every 100 ms and discarded)
# Prints a markdown table of median times and ratios to `off`, and to `empty` for `excluding`.
# The machine is shared: compare ratios from one run, not times across runs.
set -euo pipefail
RUNS=${1:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
HOLD_PID=
cleanup() {
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null && wait "$HOLD_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "bench/traceloop.sh: needs root to load BPF programs" >&2; exit 1; }

# Build: the traceloop object, the empty-programs object, the loader and the getpid loop.
clang-19 -target bpf -D__TARGET_ARCH_x86 -O2 -g -I"$ROOT/gadgets/include" \
	-c "$ROOT/gadgets/traceloop/program.bpf.c" -o "$WORK/traceloop.o"
llvm-strip-19 -g "$WORK/traceloop.o"
cat >"$WORK/empty.bpf.c" <<'C'

#define SEC(s) __attribute__((section(s), used))
SEC("raw_tracepoint/sys_enter") int empty_enter(void *ctx) { return 0; }
SEC("raw_tracepoint/sys_exit") int empty_exit(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
C
clang-19 -target bpf -O2 -g -c "$WORK/empty.bpf.c" -o "$WORK/empty.o"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/benchhold" ./gadgets/traceloop/benchhold)
cat >"$WORK/getpid.c" <<'C'
#include <unistd.h>
#include <sys/syscall.h>
int main(void) { for (long i = 0; i < 2000000; i++) syscall(SYS_getpid); return 0; }
C
gcc -O2 -static -o "$WORK/getpid" "$WORK/getpid.c"

# hold OBJ [ARGS...]: attach OBJ with benchhold until release is called.
hold() {
	coproc HOLD { "$WORK/benchhold" -obj "$@" 2>"$WORK/hold.log"; }
	HOLD_PID=$HOLD_PID
	read -r line <&"${HOLD[0]}" || { cat "$WORK/hold.log" >&2; exit 1; }
	[ "$line" = ready ] || { echo "benchhold said: $line" >&2; exit 1; }
}
release() {
	exec {HOLD[1]}>&-
	wait "$HOLD_PID" || { cat "$WORK/hold.log" >&2; exit 1; }
	HOLD_PID=
}

# median_ms CMD...: runs CMD $RUNS times, prints the median wall time in ms.
median_ms() {
	local t=()
	for _ in $(seq "$RUNS"); do
		local s e
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s%N)
		t+=($(((e - s) / 1000000)))
	done
	printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

declare -A T
measure() { # config
	T[$1,dd]=$(median_ms dd if=/dev/zero of=/dev/null bs=4k count=500000)
	T[$1,getpid]=$(median_ms "$WORK/getpid")
	echo "  $1: dd ${T[$1,dd]} ms, getpid ${T[$1,getpid]} ms" >&2
}

echo "measuring ($RUNS runs per cell, median)..." >&2
measure off
hold "$WORK/empty.o"; measure empty; release
hold "$WORK/traceloop.o" -syscalls openat,execve; measure excluding; release
hold "$WORK/traceloop.o"; measure all; release
# off again last: the machine's load drifts; the baseline is the faster of the two.
T2dd=$(median_ms dd if=/dev/zero of=/dev/null bs=4k count=500000)
T2gp=$(median_ms "$WORK/getpid")
[ "$T2dd" -lt "${T[off,dd]}" ] && T[off,dd]=$T2dd
[ "$T2gp" -lt "${T[off,getpid]}" ] && T[off,getpid]=$T2gp

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "×%.2f", a / b}'; }
echo
echo "| configuration | dd bs=4k ×500k (ms) | ratio | getpid ×2M (ms) | ratio |"
echo "|---|---:|---:|---:|---:|"
for c in off empty excluding all; do
	echo "| $c | ${T[$c,dd]} | $(ratio "${T[$c,dd]}" "${T[off,dd]}") | ${T[$c,getpid]} | $(ratio "${T[$c,getpid]}" "${T[off,getpid]}") |"
done
echo
echo "excluding filter vs the empty-program floor: dd $(ratio "${T[excluding,dd]}" "${T[empty,dd]}"), getpid $(ratio "${T[excluding,getpid]}" "${T[empty,getpid]}")"
