#!/usr/bin/env bash
# Tests and vets the Go modules nested in the repository, which `go test ./...` at the root does
# not reach: the guest SDK (wasmapi) and every gadget's WASM module source (examples/*/go,
# gadgets/*/go). Each is vetted for its real target (GOOS=wasip1 GOARCH=wasm) and its native tests
# run on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
for mod in wasmapi $(ls -d examples/*/go gadgets/*/go 2>/dev/null); do
	[[ -f "$mod/go.mod" ]] || continue
	echo "module $mod"
	(cd "$mod" && GOOS=wasip1 GOARCH=wasm go vet ./... && go test -count=1 ./...)
done
