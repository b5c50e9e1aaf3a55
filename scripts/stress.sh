#!/usr/bin/env bash
# Runs the tests that use the kernel, WASM guests, a registry or containers many times
# (-count=20) while stress-ng keeps every CPU busy: a test whose verdict depends on how fast the
# machine is fails here. `make test-stress`; not part of `make test` (it takes hours).
#
#   scripts/stress.sh                      # the packages below
#   scripts/stress.sh ./runtime/wasm       # only these packages (or any go test arguments)
#   STRESS_COUNT=5 STRESS_TIMEOUT=1h scripts/stress.sh
#
# STRESS_COUNT (default 20) is go test's -count; STRESS_TIMEOUT (default 4h) is go test's
# -timeout, which bounds each package's test binary (all its counts). stress-ng is installed
# when missing (apt-get, needs root) and is stopped however the script ends. Packages run one
# at a time (-p 1): they share one kernel, and two packages checking its BPF objects or
# containers at once see each other's, which is not what this run is about (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

count=${STRESS_COUNT:-20}
timeout=${STRESS_TIMEOUT:-4h}
# Every package whose tests load BPF programs, run WASM guests, push to a registry, start
# containers or run the gadgetry binary on them. Pure unit-test packages are left out: their
# verdicts cannot depend on timing, and make test runs them.
packages=(
	./runtime/...
	./cmd/gadgetry
	./gadgets/...
	./examples/...
	./internal/...
	./oci
	./vmtest
)
if (($# > 0)); then
	packages=("$@")
fi

if ! command -v stress-ng >/dev/null; then
	echo "stress: installing stress-ng" >&2
	if ! apt-get install -y -qq --no-install-recommends stress-ng >/dev/null; then
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends stress-ng >/dev/null
	fi
fi

cpus=$(nproc)
stress_pid=
stop_stress() {
	if [[ -n $stress_pid ]]; then
		kill -TERM "$stress_pid" 2>/dev/null || true
		wait "$stress_pid" 2>/dev/null || true
		stress_pid=
		echo "stress: stress-ng stopped" >&2
	fi
}
trap stop_stress EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One CPU-bound worker per CPU. --pdeathsig: stress-ng also ends if this script is killed
# outright (SIGKILL leaves no chance to run the trap).
setpriv --pdeathsig TERM -- stress-ng --cpu "$cpus" --quiet &
stress_pid=$!
echo "stress: stress-ng keeps $cpus CPUs busy (pid $stress_pid); go test -p 1 -count=$count -timeout $timeout ${packages[*]}" >&2
start=$SECONDS
status=0
go test -p 1 -count="$count" -timeout "$timeout" "${packages[@]}" || status=$?
echo "stress: go test exited $status after $(((SECONDS - start) / 60)) min" >&2
exit "$status"
