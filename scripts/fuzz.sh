#!/usr/bin/env bash
# Runs every Fuzz* test for a short time each: scripts/fuzz.sh [DURATION]
# Covers the root module and the nested modules `go list ./...` does not reach: the guest SDK
# (wasmapi) and every gadget's WASM module source (examples/*/go, gadgets/*/go), whose fuzz
# tests run natively on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# fuzz_module runs the Fuzz* tests of every package of the module in the current directory.
fuzz_module() {
	local pkg dir fn
	for pkg in $(go list ./...); do
		dir=$(go list -f '{{.Dir}}' "$pkg")
		for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
			echo "fuzz: $pkg $fn ($dur)"
			# Quiet when it passes; the whole output when it does not. A failing input fails
			# at once (go test keeps it under testdata/fuzz/$fn); the fuzzing engine stopping
			# without one (a worker killed or starved on a loaded machine) is shown and retried
			# once.
			local try
			for try in 1 2; do
				if go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$dur" "$pkg" >"$log" 2>&1; then
					break
				fi
				cat "$log"
				if grep -q 'Failing input written to' "$log" || ((try == 2)); then
					echo "fuzz: $pkg $fn failed" >&2
					return 1
				fi
				echo "fuzz: $pkg $fn: the fuzzing engine stopped without a failing input; retrying once" >&2
			done
		done
	done
}

fuzz_module
# A gadget module requires the SDK by version: a workspace gives it this checkout's wasmapi/, as
# scripts/test-modules.sh does (without it, go list cannot resolve the module's main package).
root=$PWD
work=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$work"' EXIT
for mod in wasmapi $(ls -d examples/*/go gadgets/*/go 2>/dev/null); do
	[[ -f "$mod/go.mod" ]] || continue
	gowork=off
	if [[ $mod != wasmapi ]]; then
		gowork=$work/$(echo "$mod" | tr / _).work
		printf 'go 1.23\n\nuse (\n\t%s\n\t%s\n)\n' "$root/$mod" "$root/wasmapi" >"$gowork"
	fi
	(cd "$mod" && export GOWORK=$gowork && fuzz_module)
done
