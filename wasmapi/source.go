//go:build !wasm

package wasmapi

import "embed"

// Source holds this SDK's own source files: go.mod and the package's .go files, tests
// included. Tools that give the SDK to gadget authors without a module proxy or a checkout
// (`gadgetry image build`, `gadgetry gadget init`) write it out as a local module. It exists
// only outside wasm, so it adds nothing to a guest.
//
//go:embed go.mod *.go
var Source embed.FS
