package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
)

// objectSource runs a bare eBPF object file (REF ending in .o) without an image: the way a
// gadget author tries a build. A gadget.yaml next to the object is its metadata.
// Everything else goes to the local store.
//
// TODO(integrator): replace the store fallback with oci.Resolver (catalogue → store →
// registry with --pull) once it exists, and pass the catalogue as runtime.Options.Catalogue.
func objectSource(ctx context.Context, ref string, pull runtime.PullPolicy, arch string) (*oci.Gadget, error) {
	if strings.HasSuffix(ref, ".o") {
		obj, err := os.ReadFile(ref)
		if err != nil {
			return nil, fmt.Errorf("reading eBPF object %s: %w", ref, err)
		}
		meta, err := os.ReadFile(filepath.Join(filepath.Dir(ref), "gadget.yaml"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading gadget.yaml next to %s: %w", ref, err)
		}
		return &oci.Gadget{Ref: ref, Arch: arch, EBPF: obj, Metadata: meta}, nil
	}
	st, err := oci.OpenStore(oci.DefaultStoreDir())
	if err != nil {
		return nil, fmt.Errorf("resolving %s: opening the local store: %w", ref, err)
	}
	norm := ref
	if r, err := oci.ParseReference(ref); err == nil {
		norm = r.String()
	}
	g, err := oci.Load(ctx, st, norm, arch)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w (pull it first with `gadgetry image pull`)", ref, err)
	}
	return g, nil
}
