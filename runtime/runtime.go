package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	goruntime "runtime"
	"runtime/debug"
	"sync"

	"github.com/cilium/ebpf/btf"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// Options configure a Runtime.
type Options struct {
	// Catalogue resolves the built-in gadgets; tried first. An error wrapping oci.ErrNotFound
	// or fs.ErrNotExist falls through to Source.
	Catalogue Source
	// Source resolves everything else (local store, registries).
	Source Source
	// Logger receives warnings (skipped optional programs, lost events). Default: slog.Default().
	Logger *slog.Logger
	// WASM runs the guests of images that have a WASM module; nil refuses such images.
	WASM *wasm.Engine
	// Arch overrides the architecture images are resolved for (default: this host's GOARCH).
	Arch string
	// KernelBTFPath is the kernel's own BTF (default DefaultKernelBTFPath). When the file
	// cannot be read the kernel is taken to have no BTF, and each load resolves its CO-RE
	// relocations against the image's btfgen layer (the entry for this distribution, machine
	// and kernel release) or fails with an error wrapping ErrNoKernelBTF. A readable path other
	// than the default is parsed once and used as the kernel's types. Tests point it at a path
	// that does not exist to run the no-BTF path on any kernel.
	KernelBTFPath string
	// NVIDIAPaths are the paths whose existence shows an NVIDIA GPU (default
	// DefaultNVIDIAPaths). A gadget whose uprobes are all on NVIDIA's GPU libraries fails to
	// run, saying why, where none of these exists and the libraries are absent. Tests point
	// it at files of their own.
	NVIDIAPaths []string
}

// Runtime runs gadgets. It is safe for concurrent use. It caches parsed images by digest, the
// kernel's parsed BTF (shared by every load) and the results of kernel capability probes.
type Runtime struct {
	opts Options
	log  *slog.Logger

	// btfCache holds the kernel's parsed BTF for every load of this Runtime.
	btfCache *btf.Cache
	// kernelSpec is the parsed BTF at a non-default Options.KernelBTFPath (btfgen.go).
	kernelSpec *btf.Spec

	mu      sync.Mutex
	gadgets map[string]*Gadget // by digest
	probes  map[probeKey]error // kernel capability probes (probe.go)
}

// New returns a Runtime.
func New(opts Options) *Runtime {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Arch == "" {
		opts.Arch = goruntime.GOARCH
	}
	return &Runtime{opts: opts, log: opts.Logger, gadgets: map[string]*Gadget{},
		probes: map[probeKey]error{}, btfCache: btf.NewCache()}
}

// Resolve finds ref: the catalogue first, then the source.
func (rt *Runtime) Resolve(ctx context.Context, ref string, pull oci.PullPolicy) (*oci.Gadget, error) {
	if rt.opts.Catalogue != nil {
		g, err := rt.opts.Catalogue.Resolve(ctx, ref, pull, rt.opts.Arch)
		if err == nil {
			return g, nil
		}
		if !errors.Is(err, oci.ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if rt.opts.Source == nil {
		return nil, fmt.Errorf("resolving %s: no image source configured (only the built-in catalogue)", ref)
	}
	return rt.opts.Source.Resolve(ctx, ref, pull, rt.opts.Arch)
}

// Prepare parses an image into a Gadget: its parameters, data sources and programs. It does
// not touch the kernel. The result is cached by digest, so preparing the same image again (a
// daemon running it many times) costs a map lookup.
func (rt *Runtime) Prepare(ctx context.Context, img *oci.Gadget) (*Gadget, error) {
	key := img.ManifestDigest
	if key == "" {
		key = img.Digest
	}
	if key == "" {
		sum := sha256.Sum256(append(append([]byte{}, img.EBPF...), img.Metadata...))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	rt.mu.Lock()
	g := rt.gadgets[key]
	rt.mu.Unlock()
	if g != nil && g.Image.Ref == img.Ref {
		return g, nil
	}
	g, err := prepare(img)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	rt.gadgets[key] = g
	rt.mu.Unlock()
	return g, nil
}

// ReleaseKernelBTF drops the parsed kernel BTF (the next load parses it again) and returns
// freed memory to the OS. A one-shot client (the CLI) calls it once its run has started; a
// daemon that starts many runs keeps the cache.
func (rt *Runtime) ReleaseKernelBTF() {
	rt.mu.Lock()
	rt.btfCache = btf.NewCache()
	rt.kernelSpec = nil
	rt.mu.Unlock()
	debug.FreeOSMemory()
}

func (rt *Runtime) kernelBTF() *btf.Cache {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.btfCache
}
