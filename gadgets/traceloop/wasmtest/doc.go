// Package wasmtest runs the traceloop gadget's WASM module in Gadgetry's WASM host
// (runtime/wasm) against the real eBPF object: the parameter becomes the kernel-side filter
// before attach, records get their `args` field, and the flight recorder replays them at stop.
// The package itself has no code.
package wasmtest
