// Package runtime runs a gadget: one explicit sequence, no plug-in registry.
//
//	resolve → prepare (parse image once) → start:
//	    hooks Init → hooks PreStart → load collection → hooks Start → attach → stream
//	stop:
//	    hooks Stop → detach → final drain → last map dumps → hooks PostStop → close collection
//
// Streaming is one goroutine: it drains the tracers' ring buffers and perf arrays (perf.go),
// takes the iterators' snapshots once after attach (a gadget with nothing else to stream then
// stops by itself), and dumps the gadget_mapiter_ maps every map-fetch-interval (snapshot.go,
// docs/snapshots.md).
//
// A Runtime is long-lived (a CLI run or a daemon): it caches parsed CollectionSpecs by image
// digest. Prepare parses an image into a Gadget (params, data sources, programs) without
// touching the kernel, so `gadgetry run REF --help` can list parameters; Start runs it.
//
// Extensions plug into the sequence through Hooks at fixed points, in the order given; they
// reach the run's data sources, maps, params and config through methods on Run. The image's
// WASM guest runs first when Options.WASM is set (wasm_hooks.go); ContainerHooks adds container
// enrichment and the in-kernel container filter; a client adds its output last.
package runtime
