#!/bin/bash
# Exec cost under block_exec (issue 14). Run as root from anywhere:
#
#   bench/block_exec.sh [rounds]    # rounds of every configuration (default 7), medians reported
#
# bench/run.sh (make bench) calls it and appends its output to docs/benchmarks.md.
# Workload: `bash -c 'for i in $(seq 2000); do /bin/true; done'` (a fork and an exec per
# iteration). Configurations, measured in the same run, their order rotating from round to round:
#   off         nothing attached
#   trace_exec  `gadgetry run trace_exec -o json` (every exec traced and printed)
#   block_exec  `gadgetry run block_exec --host --deny-paths=<50 entries>`: 40 paths and 10 globs,
#               5 of them in /usr/bin, the directory of the loop's /usr/bin/true, so that every
#               exec of the loop runs the glob matcher too. No entry matches anything that
#               exists (they all name gadgetry-bench-* files): --host applies the policy to the
#               whole machine, and nothing may be stopped.
# Both gadgets are built from this tree with `gadgetry image build`. Prints a markdown section
# (progress on stderr): the loop's median CPU time and its ratio to off, then the kernel's own
# account of each program's cost per exec (kernel.bpf_stats_enabled: run_time_ns / run_cnt).
set -euo pipefail
RUNS=${1:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
RUN_PID=
OLD_STATS=
cleanup() {
	[ -n "$RUN_PID" ] && kill -INT "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	[ -n "$OLD_STATS" ] && sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
	rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench/block_exec.sh: needs root to load BPF programs" >&2; exit 1; }

(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/gadgetry" ./cmd/gadgetry)
# block_exec's build.yaml asks for TinyGo; without it, standard Go (the kernel side is the same).
toolchain=()
command -v "${TINYGO:-tinygo}" >/dev/null || toolchain=(--wasm-toolchain=go)
for g in block_exec trace_exec; do
	"$WORK/gadgetry" --store "$WORK/store" image build "$ROOT/gadgets/$g" --arch amd64 -t "$g-bench" \
		"${toolchain[@]}" >/dev/null 2>"$WORK/build.log" || { cat "$WORK/build.log" >&2; exit 1; }
done

# The deny list: 40 exact paths and 10 globs, none of which exists.
deny=
for i in $(seq -w 1 40); do deny+="/usr/local/bin/gadgetry-bench-$i,"; done
for i in 1 2 3 4 5; do deny+="/usr/bin/*gadgetry-bench-$i*,/opt/bench$i/gadgetry-bench-*,"; done
deny=${deny%,}
[ "$(echo "$deny" | tr ',' '\n' | wc -l)" = 50 ] || { echo "the deny list does not have 50 entries" >&2; exit 1; }

# hold CONFIG: start what CONFIG measures and return once its programs are attached (the process
# holds a BPF link).
hold() {
	case $1 in
	trace_exec) "$WORK/gadgetry" --store "$WORK/store" run trace_exec-bench --pull never -o json >/dev/null 2>"$WORK/run.log" & ;;
	block_exec) "$WORK/gadgetry" --store "$WORK/store" run block_exec-bench --pull never -o json --host \
		--deny-paths="$deny" >"$WORK/events.json" 2>"$WORK/run.log" & ;;
	*) return 0 ;;
	esac
	RUN_PID=$!
	until grep -qs '^link_type:' /proc/"$RUN_PID"/fdinfo/*; do
		kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.log" >&2; exit 1; }
		sleep 0.05
	done
}
release() {
	[ -n "$RUN_PID" ] || return 0
	kill -INT "$RUN_PID"
	rc=0; wait "$RUN_PID" || rc=$?
	# 130: gadgetry's status after the SIGINT that ends it.
	[ "$rc" = 0 ] || [ "$rc" = 130 ] || { cat "$WORK/run.log" >&2; exit 1; }
	RUN_PID=
	if [ -s "$WORK/events.json" ] && grep -qv '"summary"' "$WORK/events.json"; then
		echo "block_exec stopped an exec during the benchmark:" >&2
		cat "$WORK/events.json" >&2
		exit 1
	fi
	: >"$WORK/events.json"
}

# ms: CPU time (user + system) of one loop, in ms: the programs run inside its execs.
ms() {
	local TIMEFORMAT='%3U %3S' out
	out=$({ time bash -c 'for i in $(seq 2000); do /bin/true; done' >/dev/null 2>&1; } 2>&1)
	awk -v t="$out" 'BEGIN { split(t, a, " "); printf "%d\n", (a[1] + a[2]) * 1000 }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "×%.3f", a / b}'; }

declare -A T
CONFIGS=(off trace_exec block_exec)
echo "measuring: $RUNS rounds of ${CONFIGS[*]}..." >&2
for round in $(seq "$RUNS"); do
	for k in 0 1 2; do
		c=${CONFIGS[$(((round + k) % 3))]}
		hold "$c"
		T[$c]+=" $(ms)"
		release
	done
	echo "  round $round done" >&2
done
for c in "${CONFIGS[@]}"; do
	# shellcheck disable=SC2086
	T[$c]=$(median ${T[$c]})
done

# Per-program cost from the kernel's BPF statistics, over one loop per round (bpftool reads
# them; without it the column stays empty).
declare -A S
if command -v bpftool >/dev/null; then
	OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
fi
for round in $(seq "$RUNS"); do
	command -v bpftool >/dev/null || break
	for c in trace_exec block_exec; do
		hold "$c"
		ms >/dev/null
		prog=$([ "$c" = trace_exec ] && echo trace_exec || echo block_exec_kill)
		S[$c]+=" $(bpftool prog show | awk -v name="$prog" '
			/^[0-9]+: / && $0 ~ (" name " name " ") {
				rt = 0; rc = 0
				for (i = 1; i < NF; i++) { if ($i == "run_time_ns") rt = $(i+1); if ($i == "run_cnt") rc = $(i+1) }
				if (rc > 0) cost = sprintf("%.0f", rt / rc)
			}
			END { print cost }')"
		release
	done
done

cat <<EOF

## block_exec: cost of an exec under a policy

Written by \`bench/block_exec.sh $RUNS\` (called by \`bench/run.sh\`), $(date -u '+%Y-%m-%d %H:%M') UTC,
kernel $(uname -r), $(nproc) CPUs shared with other work, mechanism $(grep -o 'mechanism [a-z]*' "$WORK/run.log" | head -n1 | cut -d' ' -f2).
Workload: \`bash -c 'for i in \$(seq 2000); do /bin/true; done'\`. block_exec runs with \`--host\`
and a 50-entry deny list (40 paths, 10 globs, 5 of them in \`/usr/bin\`, the directory of the
loop's \`/usr/bin/true\`), none of which matches: every exec is checked and allowed. Each cell is
the median over the rounds of the loop's CPU time (user + system).

| configuration | 2000 × /bin/true (CPU ms) | ratio to off | kernel ns per exec (median) |
|---|---:|---:|---:|
| off | ${T[off]} | ×1.000 | |
EOF
# shellcheck disable=SC2086
echo "| trace_exec | ${T[trace_exec]} | $(ratio "${T[trace_exec]}" "${T[off]}") | $(median ${S[trace_exec]}) |"
# shellcheck disable=SC2086
echo "| block_exec, 50 entries | ${T[block_exec]} | $(ratio "${T[block_exec]}" "${T[off]}") | $(median ${S[block_exec]}) |"
cat <<'EOF'

The kernel's figure is `run_time_ns / run_cnt` of the program on `sched_process_exec`
(`trace_exec`, `block_exec_kill`) while `kernel.bpf_stats_enabled` is on. On this shared machine
single loops swing by several percent from round to round; the per-exec kernel figure is the
one to compare.
EOF
