#!/usr/bin/env bash
# Tests and vets the Go modules nested in the repository, which `go test ./...` at the root does
# not reach: the guest SDK (wasmapi) and every gadget's WASM module source (examples/*/go,
# gadgets/*/go). Each is vetted for its real target (GOOS=wasip1 GOARCH=wasm) and its native tests
# run on the host. A gadget module requires the SDK by version, as an outside author's does; here
# a workspace gives it this checkout's wasmapi/, as `gadgetry image build` gives it the SDK built
# into the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for mod in wasmapi $(ls -d examples/*/go gadgets/*/go 2>/dev/null); do
	[[ -f "$mod/go.mod" ]] || continue
	echo "module $mod"
	gowork=off
	if [[ $mod != wasmapi ]]; then
		gowork=$work/$(echo "$mod" | tr / _).work
		printf 'go 1.23\n\nuse (\n\t%s\n\t%s\n)\n' "$root/$mod" "$root/wasmapi" >"$gowork"
	fi
	(cd "$mod" && export GOWORK=$gowork && GOOS=wasip1 GOARCH=wasm go vet ./... && go test -count=1 ./...)
done
