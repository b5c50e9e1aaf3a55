package build_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

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
		t.Fatalf("rebuild digest %s, first %s; what differs:\n%s", again.Digest, desc.Digest, diffImages(t, store, desc, again))
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

// diffImages lists the blobs of two image indexes that differ, manifest by manifest (config and
// layers by media type), to say which part of a build was not reproducible.
func diffImages(t *testing.T, s content.Fetcher, a, b ocispec.Descriptor) string {
	var ia, ib ocispec.Index
	fetchJSON(t, s, a, &ia)
	fetchJSON(t, s, b, &ib)
	var out strings.Builder
	if len(ia.Manifests) != len(ib.Manifests) {
		return fmt.Sprintf("%d manifests against %d", len(ia.Manifests), len(ib.Manifests))
	}
	for i := range ia.Manifests {
		var ma, mb ocispec.Manifest
		fetchJSON(t, s, ia.Manifests[i], &ma)
		fetchJSON(t, s, ib.Manifests[i], &mb)
		arch := ia.Manifests[i].Platform.Architecture
		if ma.Config.Digest != mb.Config.Digest {
			fmt.Fprintf(&out, "%s config: %s, then %s\n", arch, ma.Config.Digest, mb.Config.Digest)
		}
		if !maps.Equal(ma.Annotations, mb.Annotations) {
			fmt.Fprintf(&out, "%s annotations: %v, then %v\n", arch, ma.Annotations, mb.Annotations)
		}
		for j := range ma.Layers {
			if j < len(mb.Layers) && ma.Layers[j].Digest != mb.Layers[j].Digest {
				fmt.Fprintf(&out, "%s layer %s: %s (%d bytes), then %s (%d bytes)\n", arch, ma.Layers[j].MediaType, ma.Layers[j].Digest, ma.Layers[j].Size, mb.Layers[j].Digest, mb.Layers[j].Size)
			}
		}
	}
	if !maps.Equal(ia.Annotations, ib.Annotations) {
		fmt.Fprintf(&out, "index annotations: %v, then %v\n", ia.Annotations, ib.Annotations)
	}
	return out.String()
}
