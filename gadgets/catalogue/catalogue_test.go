package catalogue_test

import (
	"context"
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
