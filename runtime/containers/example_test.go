package containers_test

import (
	"context"
	"log"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// The runtime's part in a run of `gadgetry run trace_exec -c web,!db --containers-only`: one
// cache per run, the filter switched on before load, the map kept in sync after load, and every
// data source with a mount namespace field enriched.
func Example() {
	ctx := context.Background()
	cache, err := containers.New(ctx, containers.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	sel, err := containers.ParseSelector("web,!db") // from -c/--containername
	if err != nil {
		log.Fatal(err)
	}
	sel.ContainersOnly = true // from --containers-only

	// Before loading: set the const volatile global.
	spec := &ebpf.CollectionSpec{} // the gadget's, from the image
	if v, ok := spec.Variables[containers.FilterEnableVar]; ok {
		if err := v.Set(sel.Filters()); err != nil {
			log.Fatal(err)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		log.Fatal(err)
	}
	defer coll.Close()

	// After loading: fill the map and keep it updated while the run lasts.
	if m := coll.Maps[containers.FilterMapName]; m != nil && sel.Filters() {
		f, err := containers.NewMntnsFilter(m, cache, sel)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
	}

	// For every data source: add container fields; drop unselected records in user space too.
	var ds *datasource.DataSource // built from the gadget's BTF
	if err := containers.AddEnrichment(ds, cache); err == nil {
		_ = containers.AddSelection(ds, cache, sel)
	}
}
