// Package wasm runs a gadget's WASM module (ABI version 1, see docs and
// /work/shared/reference/gadget-abi.md §4) with wazero: it provides the host functions of
// module "ig", calls the guest's lifecycle exports in the documented order, and passes events
// of data sources through the guest's callbacks.
//
// The package knows nothing of a run: an Engine (one wazero runtime and an on-disk
// compilation cache, long-lived) compiles modules by digest, and Instantiate makes one
// Instance per run, bound to an Env the run implements (data sources, maps, parameters,
// configuration, logging, container filter).
//
// The guest is sandboxed: WASI is present but grants no filesystem, network, environment or
// arguments; its stdout and stderr go to the logger; memory is limited; a hook or callback
// that does not return in time is killed. A guest that traps, passes bad pointers, lengths or
// handles, or returns a non-zero code gets an error naming the gadget and the hook, and the
// host stays up.
package wasm
