package wasm_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// The order a run drives an instance in. env is implemented by the run: its data sources,
// the loaded collection's maps, parameter values, configuration and logger.
func ExampleEngine_Instantiate() {
	ctx := context.Background()
	eng, err := wasm.NewEngine(wasm.DefaultCacheDir()) // long-lived: one per process
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	module, _ := os.ReadFile("program.wasm") // the image's WASM layer
	env := wasm.Env{Logger: slog.Default() /* DataSources, Maps, Param, SetConfig... */}
	inst, err := eng.Instantiate(ctx, "trace_x", module, "sha256:…", env)
	if err != nil {
		panic(err) // e.g. "gadget trace_x: wasm module …: imports ig.foo, which this host does not provide"
	}
	defer inst.Close()

	steps := []func() error{
		inst.Init,     // guest subscribes, adds fields
		inst.PreStart, // guest may steer attach points
		// ... load the eBPF collection ...
		inst.Start, // maps exist: guest fills filters
		// ... attach programs, stream events through the data sources ...
		inst.Stop,
		// ... detach ...
		inst.PostStop,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			panic(err) // e.g. "gadget trace_x: wasm gadgetStart returned 1: <the guest's error>"
		}
	}
	_ = inst.Stats().Dropped // events the guest dropped
}
