package catalogue_test

import (
	"context"
	"slices"
	"testing"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
)

// TestCatalogueLoads opens the embedded catalogue and loads every gadget in it for both
// architectures, the way the runtime does.
func TestCatalogueLoads(t *testing.T) {
	ctx := context.Background()
	store, err := catalogue.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := store.Tags(ctx, "", func(tags []string) error {
		names = append(names, tags...)
		return nil
	}); err != nil {
		t.Fatalf("listing the catalogue: %v", err)
	}
	t.Logf("built-in gadgets: %v", names)
	// Every gadgets/*/ with a gadget.yaml is built in: one missing means the catalogue was not
	// rebuilt (scripts/build-gadgets.sh) with it.
	for _, want := range []string{"block_exec", "trace_exec", "traceloop"} {
		if !slices.Contains(names, want) {
			t.Errorf("built-in gadget %s is missing from the catalogue (%v): run scripts/build-gadgets.sh", want, names)
		}
	}
	for _, name := range names {
		for _, arch := range []string{"amd64", "arm64"} {
			g, err := oci.Load(ctx, store, name, arch)
			if err != nil {
				t.Errorf("loading built-in %s for %s: %v", name, arch, err)
				continue
			}
			if len(g.EBPF) == 0 || len(g.Metadata) == 0 {
				t.Errorf("built-in %s for %s: %d eBPF bytes, %d metadata bytes", name, arch, len(g.EBPF), len(g.Metadata))
			}
		}
	}
}
