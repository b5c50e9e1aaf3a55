package build_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/build"
)

// TestBuildIntoLocalStore builds into the local store twice (the second build finds every blob
// already there), tags the image, and loads it back per architecture the way the runtime does.
func TestBuildIntoLocalStore(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "go")
	t.Setenv("SOURCE_DATE_EPOCH", "0")
	ctx := context.Background()
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := fullGadget(t)
	desc, err := build.Build(ctx, dir, build.Options{Target: store})
	if err != nil {
		t.Fatal(err)
	}
	again, err := build.Build(ctx, dir, build.Options{Target: store})
	if err != nil {
		t.Fatalf("rebuilding into the same store: %v", err)
	}
	if again.Digest != desc.Digest {
		t.Fatalf("rebuild digest %s, first %s", again.Digest, desc.Digest)
	}
	const ref = "localhost:5000/buildtest:v1"
	if err := store.Tag(ctx, desc, ref); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		g, err := oci.Load(ctx, store, ref, arch)
		if err != nil {
			t.Fatalf("loading the built image for %s: %v", arch, err)
		}
		if string(g.Metadata) != gadgetYAML || len(g.EBPF) == 0 || !bytes.HasPrefix(g.WASM, []byte("\x00asm")) || g.BTFGen != nil {
			t.Errorf("%s: loaded gadget metadata %q, %d eBPF bytes, %d WASM bytes, %d btfgen bytes", arch, g.Metadata, len(g.EBPF), len(g.WASM), len(g.BTFGen))
		}
		if g.Annotations["org.opencontainers.image.created"] != "1970-01-01T00:00:00Z" {
			t.Errorf("%s: created = %q", arch, g.Annotations["org.opencontainers.image.created"])
		}
		checkObject(t, arch, g.EBPF)
	}
}
