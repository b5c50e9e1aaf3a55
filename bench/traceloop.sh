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
#   excluding-raw   the same, built with -DTRACELOOP_RAW_EXIT (sys_exit as a plain raw
#             tracepoint, for kernels without BTF: one bpf_probe_read_kernel per syscall)
#   all       traceloop recording every syscall (records drained every 100 ms and discarded)
# Prints a markdown table of median times and ratios to `off`, and to `empty` for `excluding`;
# then the kernel's own account of each program's cost (kernel.bpf_stats_enabled: run_time_ns /
# run_cnt over the getpid workload), which the load of a shared machine disturbs much less.
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
clang-19 -target bpf -D__TARGET_ARCH_x86 -DTRACELOOP_RAW_EXIT -O2 -g -I"$ROOT/gadgets/include" \
	-c "$ROOT/gadgets/traceloop/program.bpf.c" -o "$WORK/traceloop-raw.o"
llvm-strip-19 -g "$WORK/traceloop-raw.o"
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
	coproc HOLD { exec "$WORK/benchhold" -obj "$@" 2>"$WORK/hold.log"; }
	HOLD_PID=$HOLD_PID
	read -r line <&"${HOLD[0]}" || { cat "$WORK/hold.log" >&2; exit 1; }
	[ "$line" = ready ] || { echo "benchhold said: $line" >&2; exit 1; }
}
release() {
	exec {HOLD[1]}>&-
	wait "$HOLD_PID" || { cat "$WORK/hold.log" >&2; exit 1; }
	HOLD_PID=
}

# ms CMD...: CPU time (user + system) of one run of CMD, in ms. CPU time rather than wall time:
# on a shared machine the wall time also counts the time spent waiting for a CPU. The BPF
# programs run in the workload's syscalls, so their cost is in its system time.
ms() {
	local TIMEFORMAT='%3U %3S' out
	out=$({ time "$@" >/dev/null 2>&1; } 2>&1)
	awk -v t="$out" 'BEGIN { split(t, a, " "); printf "%d\n", (a[1] + a[2]) * 1000 }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Rounds interleave the configurations, so that the load of this shared machine drifting over
# time weighs on all of them alike; each cell is the median of its rounds.
declare -A T
CONFIGS="off empty excluding excluding-raw all"
echo "measuring: $RUNS rounds of $CONFIGS..." >&2
for round in $(seq "$RUNS"); do
	for c in $CONFIGS; do
		case $c in
		empty) hold "$WORK/empty.o" ;;
		excluding) hold "$WORK/traceloop.o" -syscalls openat,execve ;;
		excluding-raw) hold "$WORK/traceloop-raw.o" -syscalls openat,execve ;;
		all) hold "$WORK/traceloop.o" ;;
		esac
		T[$c,dd]+=" $(ms dd if=/dev/zero of=/dev/null bs=4k count=500000)"
		T[$c,getpid]+=" $(ms "$WORK/getpid")"
		[ "$c" = off ] || release
	done
	echo "  round $round done" >&2
done
for c in $CONFIGS; do
	for w in dd getpid; do
		# shellcheck disable=SC2086
		T[$c,$w]=$(median ${T[$c,$w]})
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "×%.2f", a / b}'; }
echo
echo "| configuration | dd bs=4k ×500k (CPU ms) | ratio | getpid ×2M (CPU ms) | ratio |"
echo "|---|---:|---:|---:|---:|"
for c in $CONFIGS; do
	echo "| $c | ${T[$c,dd]} | $(ratio "${T[$c,dd]}" "${T[off,dd]}") | ${T[$c,getpid]} | $(ratio "${T[$c,getpid]}" "${T[off,getpid]}") |"
done
echo
for c in excluding excluding-raw; do
	echo "$c vs the empty-program floor: dd $(ratio "${T[$c,dd]}" "${T[empty,dd]}"), getpid $(ratio "${T[$c,getpid]}" "${T[empty,getpid]}")"
done

# Per-program cost from the kernel's BPF statistics (it adds its own clock reads to every run:
# compare programs with each other, not with zero).
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$old_stats; cleanup' EXIT
declare -A S
for round in $(seq "$RUNS"); do
	for c in empty excluding excluding-raw all; do
		case $c in
		empty) hold "$WORK/empty.o" ;;
		excluding) hold "$WORK/traceloop.o" -syscalls openat,execve ;;
		excluding-raw) hold "$WORK/traceloop-raw.o" -syscalls openat,execve ;;
		all) hold "$WORK/traceloop.o" ;;
		esac
		"$WORK/getpid"
		# The programs of this holder: the newest ones with these names (bpftool here cannot
		# show the owning pid); a program's statistics are on its first line.
		read -r enter exit < <(bpftool prog show | awk '
			/^[0-9]+: / && / name (empty_enter|empty_exit|traceloop_sys_enter|traceloop_sys_exit) / {
				rt = 0; rc = 0
				for (i = 1; i < NF; i++) { if ($i == "run_time_ns") rt = $(i+1); if ($i == "run_cnt") rc = $(i+1) }
				if (rc > 0) cost[/_enter / ? "enter" : "exit"] = sprintf("%.1f", rt / rc)
			}
			END { print cost["enter"], cost["exit"] }')
		S[$c,enter]+=" $enter"
		S[$c,exit]+=" $exit"
		release
	done
done
echo
echo "| configuration | sys_enter ns/run | sys_exit ns/run |"
echo "|---|---:|---:|"
for c in empty excluding excluding-raw all; do
	# shellcheck disable=SC2086
	echo "| $c | $(median ${S[$c,enter]}) | $(median ${S[$c,exit]}) |"
done
