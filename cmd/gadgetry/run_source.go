package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
)

// runSource resolves REF for `gadgetry run`: a path ending in .o is a bare eBPF object (the way
// a gadget author tries a build; a gadget.yaml next to it is its metadata); anything else goes
// to oci.Resolver (the embedded catalogue → local store → registry, by --pull), which requires
// a signature one of keys verifies of an image from the store or a registry.
func runSource(flags *ociFlags, keys []*oci.PublicKey) runtime.Source {
	return runtime.SourceFunc(func(ctx context.Context, ref string, pull oci.PullPolicy, arch string) (*oci.Gadget, error) {
		if isObjectFile(ref) {
			return objectFile(ref, arch)
		}
		cat, err := catalogue.Open(ctx)
		if err != nil {
			return nil, err
		}
		res, err := flags.resolver(cat)
		if err != nil {
			return nil, err
		}
		res.Keys = keys
		return res.Resolve(ctx, ref, pull, arch)
	})
}

// isObjectFile reports whether `run` takes ref as the path of a compiled eBPF object: the
// user's own file, neither verified nor warned about.
func isObjectFile(ref string) bool {
	return strings.HasSuffix(ref, ".o")
}

func objectFile(path, arch string) (*oci.Gadget, error) {
	obj, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading eBPF object %s: %w", path, err)
	}
	meta, err := os.ReadFile(filepath.Join(filepath.Dir(path), "gadget.yaml"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading gadget.yaml next to %s: %w", path, err)
	}
	return &oci.Gadget{Ref: path, Arch: arch, EBPF: obj, Metadata: meta}, nil
}
