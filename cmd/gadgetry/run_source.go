package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/filter"
)

// runSource resolves REF for `gadgetry run`:
//
//   - a path ending in .o is a bare eBPF object (the way a gadget author tries a build; a
//     gadget.yaml next to it is its metadata);
//   - a bare name ("traceloop", "traceloop:latest") is, in this order: an image of the local
//     store with that name (normalized with the registry prefix), which wins over a built-in
//     gadget of the same name (note says which ran); the built-in gadget; and, only when a
//     registry prefix is configured (--registry-prefix, $GADGETRY_REGISTRY_PREFIX,
//     registryPrefix of the config file), that registry. Otherwise it is an error naming the
//     built-ins, nearest first: a typo is not looked up in a registry;
//   - anything else goes to oci.Resolver (the local store, then the registry, by --pull).
//
// The local store is opened only when it exists or something must be pulled into it, so a
// built-in gadget runs without one. An image from the store or a registry must carry a
// signature one of keys verifies (when there are keys). note, when not nil, gets the notes.
func runSource(flags *ociFlags, keys []*oci.PublicKey, note func(string)) runtime.Source {
	return runtime.SourceFunc(func(ctx context.Context, ref string, pull oci.PullPolicy, arch string) (*oci.Gadget, error) {
		if isObjectFile(ref) {
			return objectFile(ref, arch)
		}
		prefix, err := flags.defaultPrefix()
		if err != nil {
			return nil, err
		}
		p, err := oci.ParseReferenceWithPrefix(ref, prefix)
		if err != nil {
			return nil, err
		}
		if !p.Bare || p.Digest != "" {
			res, err := flags.resolver(nil)
			if err != nil {
				return nil, err
			}
			res.Keys = keys
			return res.Resolve(ctx, ref, pull, arch)
		}
		cat, err := catalogue.Open(ctx)
		if err != nil {
			return nil, err
		}
		builtIns, err := oci.Tags(ctx, cat)
		if err != nil {
			return nil, fmt.Errorf("listing the built-in gadgets: %w", err)
		}
		builtIn := ""
		for _, n := range []string{p.Name + ":" + p.Tag, p.Name} {
			if slices.Contains(builtIns, n) && (n != p.Name || p.Tag == oci.DefaultTag) {
				builtIn = n
				break
			}
		}
		name := p.String()
		stored := flags.storedImage(ctx, name)
		switch {
		case stored:
			// The user's image (imported, built, pulled) of this name is what they mean.
			res, err := flags.resolver(nil)
			if err != nil {
				return nil, err
			}
			res.Keys = keys
			g, err := res.Resolve(ctx, name, pull, arch)
			if err == nil && builtIn != "" && note != nil {
				note(fmt.Sprintf("%s: running %s from the local store, not the built-in gadget %s (`gadgetry image rm %s` to run the built-in)", ref, name, p.Name, name))
			}
			return g, err
		case builtIn != "":
			g, err := oci.Load(ctx, cat, builtIn, arch)
			if err != nil {
				return nil, fmt.Errorf("built-in gadget %s: %w", builtIn, err)
			}
			g.Ref, g.BuiltIn = p.Name, true
			return g, nil
		case prefix != oci.DefaultPrefix:
			// A registry prefix the user chose: bare names live there.
			res, err := flags.resolver(nil)
			if err != nil {
				return nil, err
			}
			res.Keys = keys
			return res.Resolve(ctx, ref, pull, arch)
		}
		return nil, fmt.Errorf("%s is neither a built-in gadget (%s, nearest first) nor an image in the local store (%s); to run an image of a registry, give its full reference (%s)",
			ref, strings.Join(filter.Nearest(p.Name, builtIns, true), ", "), flags.storeDir(), name)
	})
}

// storedImage reports whether the local store holds an image named name, without creating a
// store where there is none.
func (f *ociFlags) storedImage(ctx context.Context, name string) bool {
	if _, err := os.Stat(filepath.Join(f.storeDir(), "index.json")); err != nil {
		return false
	}
	s, err := f.openStore()
	if err != nil {
		return false
	}
	_, err = s.Resolve(ctx, name)
	return err == nil
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
