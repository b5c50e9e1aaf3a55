// Package wasmapi is the guest side of Gadgetry's WASM ABI (version 1): the Go package a
// gadget's WASM module imports to read parameters, look up syscalls, fill BPF maps, and read,
// change, add or drop event fields.
//
// A gadget module is a WASI reactor built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o program.wasm .
//
// (standard Go ≥ 1.24), or with TinyGo ≥ 0.34 (`tinygo build -target=wasip1
// -buildmode=c-shared`). The package main of the module registers its lifecycle hooks from an
// init function and has an empty main:
//
//	func init() {
//		wasmapi.OnInit(func() error {
//			ds, err := wasmapi.GetDataSource("exec")
//			...
//			return ds.Subscribe(func(ds wasmapi.DataSource, d wasmapi.Data) error { ... }, 0)
//		})
//	}
//
//	func main() {}
//
// The package provides the exports the host calls (gadgetAPIVersion, gadgetInit,
// gadgetPreStart, gadgetStart, gadgetStop, gadgetPostStop, dataSourceCallback); an author
// writes none of them. The order in which the host calls them is: gadgetInit (subscribe, add
// fields, create data sources) → gadgetPreStart (steer attach points with SetConfig) → the eBPF
// collection is loaded → gadgetStart (maps exist: fill kernel-side filters) → programs attach
// → events reach the callbacks → gadgetStop → programs detach → gadgetPostStop.
//
// A data callback returns ErrDrop to drop the event: later subscribers and the output never
// see it, and the run counts it. Any other error is logged and the event goes on.
//
// Hooks and callbacks run one at a time on the guest's only thread; they must not block or
// start goroutines that outlive them. The host kills a hook or callback that does not return
// in time, and the run fails with an error naming the gadget and the hook.
//
// # Reading fields without host calls
//
// Reading a field is a call into the host, and a record's callback may read many. At the end
// of gadgetInit the SDK therefore asks the host, for each data source subscribed to with
// Subscribe, to copy the fields looked up with GetField into the module's memory before each
// callback; reads of those fields on the callback's record then make no host call. Nothing
// changes for the gadget's code: a Set makes the field's copy stale (the next read asks the
// host), and hosts without this extension (Inspektor Gadget, a Gadgetry older than this SDK)
// leave every read to a host call, as before. The protocol is in Gadgetry's
// docs/authoring.md.
//
// Where the host takes records in batches, it also takes back what a callback sets on the
// fields the module added (AddField) from the module's memory once the batch is done, instead
// of with a host call per Set (since v0.6.0): a value set there reads back as set for the rest
// of the callback, and the next subscriber sees it.
//
// # Strings of char[N] fields
//
// A char[N] field of a kernel record holds N bytes: its text, a NUL, and whatever follows
// (Inspektor Gadget's trace_exec packs argv there, NUL-separated). Field.String and
// Field.TextInto give the text, up to the first NUL; Field.Bytes and Field.BytesInto give all N
// bytes, as Inspektor Gadget's host does (since v0.5.0; before, they gave the text too). First
// thing in gadgetInit the SDK announces its version to the host, which is how Gadgetry's host
// knows to keep these semantics (docs/authoring.md, "Reading fields without host calls").
//
// # Compatibility
//
// Both toolchains are tested: standard Go 1.24 and later, and TinyGo 0.34 up to (not
// including) 0.40 with -scheduler=none (the host's tests build the skeleton, the examples and
// the built-in gadgets' modules with each and compare their events). The package keeps to
// what TinyGo compiles well: a Go 1.23 module, no dependencies, no reflection, no goroutines,
// //go:wasmexport. With TinyGo's default scheduler (asyncify) every exported call, so every
// event's callback, is about 200 times slower: build with -scheduler=none, as `gadgetry image
// build --wasm-toolchain=tinygo` does.
//
// # Versions
//
// The SDK has its own version, Version, independent of Gadgetry's. A gadget's go.mod requires
// it by version; `gadgetry image build` supplies a copy built into the gadgetry binary, so no
// module proxy or checkout is needed. Minor versions only add: a module built against an older
// SDK keeps running.
//
// Outside wasm (GOARCH other than wasm) the package builds so that documentation, examples
// and tools work, but every host call returns ErrNotWasm.
//
// # Errno
//
// A Go guest on wasip1 formats syscall.Errno with WASI's numbering, which differs from
// Linux's. Values that come from the kernel (a syscall's return value in an event) are Linux
// errno values: format them with Errno, whose names and messages are generated from the
// Linux headers.
package wasmapi
