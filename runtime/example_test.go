package runtime_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/runtime/format"
	"github.com/gadgetry/gadgetry/runtime/output"
)

// Example shows the whole sequence a client (the CLI, a daemon) goes through: resolve,
// prepare once, start with extensions, wait, read the summary.
func Example() {
	rt := runtime.New(runtime.Options{
		Source: runtime.SourceFunc(func(ctx context.Context, ref string, _ oci.PullPolicy, arch string) (*oci.Gadget, error) {
			obj, err := os.ReadFile(ref) // a bare eBPF object; real clients use oci.Resolver
			return &oci.Gadget{Ref: ref, Arch: arch, EBPF: obj}, err
		}),
	})
	ctx := context.Background()
	img, err := rt.Resolve(ctx, "exec.bpf.o", oci.PullMissing)
	if err != nil {
		fmt.Println(err)
		return
	}
	g, err := rt.Prepare(ctx, img) // parsed once: params for flags, data sources, programs
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range g.Params {
		fmt.Printf("--%s (%s, default %q)\n", p.Key, p.TypeName(), p.Default)
	}
	var w *output.Writer
	print := runtime.Hooks{Name: "print", Init: func(r *runtime.Run) error {
		ds := r.DataSource("exec")
		w = output.New(os.Stdout, output.JSON, output.DefaultFields(ds, output.JSON), format.New())
		ds.Subscribe(100, func(_ *datasource.DataSource, d *datasource.Data) error { return w.Write(d) })
		return nil
	}}
	run, err := rt.Start(ctx, g, runtime.RunOptions{
		Params:     map[string]string{"comm": "bash"},
		Hooks:      []runtime.Hooks{print}, // WASM and enrichment hooks go here, in order
		Timeout:    5 * time.Second,
		AfterDrain: func() { w.Flush() }, // output is buffered per batch of records
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = run.Wait()
	fmt.Printf("%+v\n", run.Summary().DataSources["exec"])
}
