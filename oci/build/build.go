// Package build turns a gadget's source directory into a gadget image: it compiles the eBPF
// program with clang for each architecture, builds the Go WASM module as a WASI reactor, reads
// gadget.yaml, and pushes an OCI index (one manifest per architecture) into any oras.Target.
//
// A build is deterministic: the same sources, toolchains and SOURCE_DATE_EPOCH give the same
// index digest.
//
// The directory layout it expects (each entry can be overridden in an optional build.yaml, see
// Spec):
//
//	program.bpf.c   the eBPF program (required)
//	go/             the WASM module's Go sources, its own Go module (optional)
//	gadget.yaml     the metadata, stored as the image config (optional)
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/gadgetry/gadgetry/oci/metadata"
)

// DefaultArchs are the architectures built when Options.Archs is empty.
var DefaultArchs = []string{"amd64", "arm64"}

// Options tune a build. Only Target is required.
type Options struct {
	// Target receives the blobs, manifests and index. Build does not tag; the caller tags the
	// returned descriptor.
	Target oras.Target
	// Archs are the GOARCH-style architectures to build, in manifest order ("amd64", "arm64").
	// Empty means DefaultArchs.
	Archs []string
	// Clang is the clang binary. Empty means $CLANG, then clang-19, then clang from PATH.
	Clang string
	// Strip is the llvm-strip binary. Empty means $LLVM_STRIP, then the llvm-strip matching
	// Clang's version suffix, then llvm-strip-19, then llvm-strip.
	Strip string
	// Go is the go binary used for the WASM module. Empty means $GO, then go from PATH.
	Go string
	// WASMToolchain builds the WASM module: ToolchainGo or ToolchainTinyGo. Empty means
	// build.yaml's wasm-toolchain, else ToolchainGo.
	WASMToolchain string
	// TinyGo is the tinygo binary. Empty means $TINYGO, then tinygo from PATH.
	TinyGo string
	// IncludeDir holds gadget.h, gadget/*.h and vmlinux.h. Empty means the headers embedded in
	// the gadgetry binary, written to a temporary directory for the build.
	IncludeDir string
	// Created is the image's creation time (annotation org.opencontainers.image.created). Zero
	// means $SOURCE_DATE_EPOCH when set, else the current time.
	Created time.Time
	// Progress receives one line per step and the compilers' warnings. Nil discards them.
	Progress io.Writer
}

// Build builds the gadget in dir, pushes the image into opts.Target and returns the descriptor
// of its index.
func Build(ctx context.Context, dir string, opts Options) (ocispec.Descriptor, error) {
	if opts.Target == nil {
		return ocispec.Descriptor{}, errors.New("building a gadget image: no target store given (Options.Target is nil)")
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("building %s: %w", dir, err)
	}
	if fi, err := os.Stat(absDir); err != nil || !fi.IsDir() {
		return ocispec.Descriptor{}, fmt.Errorf("building %s: not a gadget directory (it should hold program.bpf.c and optionally gadget.yaml, go/, build.yaml)", dir)
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	archs := opts.Archs
	if len(archs) == 0 {
		archs = DefaultArchs
	}
	for _, a := range archs {
		if _, err := targetArch(a); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	created, err := creationTime(opts.Created)
	if err != nil {
		return ocispec.Descriptor{}, err
	}

	spec, err := LoadSpec(absDir, progress)
	if err != nil {
		return ocispec.Descriptor{}, err
	}

	var img image
	img.created = created
	if spec.Metadata != "" {
		fmt.Fprintf(progress, "reading metadata %s\n", spec.Metadata)
		img.metadata, err = os.ReadFile(filepath.Join(absDir, spec.Metadata))
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("reading metadata: %w", err)
		}
		// The same strict parse as at load, so a typo fails here, not at run or push.
		if _, err := metadata.Parse(img.metadata); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("invalid metadata, nothing was built: %w", metadataFileError(err, spec.Metadata))
		}
		img.annotations, err = annotationsFromMetadata(spec.Metadata, img.metadata)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
	}

	tc, err := newToolchain(opts)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if tree, ok := findGadgetTree(absDir); ok {
		fmt.Fprintf(progress, "inside the gadget source tree %s: its include/ comes first on the header path\n", tree.Root)
		tc.tree = &tree
	}
	includeDir := opts.IncludeDir
	if includeDir == "" {
		var cleanup func()
		includeDir, cleanup, err = writeHeaders()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		defer cleanup()
		// Diagnostics in the headers name them as the object's debug info does, not by a
		// temporary directory that is gone when the user reads the message.
		tc.headerAlias = includePrefix
	}
	for _, arch := range archs {
		obj := archObject{arch: arch}
		obj.ebpf, err = tc.compileEBPF(ctx, absDir, spec, includeDir, arch, progress)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if err := checkLicense(obj.ebpf, spec.EBPFSource); err != nil {
			return ocispec.Descriptor{}, err
		}
		if p := spec.BTFGenFor(arch); p != "" {
			fmt.Fprintf(progress, "adding minimized BTF %s for %s\n", p, arch)
			obj.btfgen, err = os.ReadFile(filepath.Join(absDir, p))
			if err != nil {
				return ocispec.Descriptor{}, fmt.Errorf("reading the %s btfgen archive (build.yaml btfgen: %s): %w", arch, spec.BTFGen, err)
			}
		}
		img.archs = append(img.archs, obj)
	}

	if img.metadata != nil && len(img.archs) > 0 {
		if err := img.addIGEnumNames(progress); err != nil {
			return ocispec.Descriptor{}, err
		}
	}

	switch {
	case spec.WASMFile != "":
		fmt.Fprintf(progress, "using prebuilt WASM module %s\n", spec.WASMFile)
		img.wasm, err = os.ReadFile(filepath.Join(absDir, spec.WASMFile))
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("reading the prebuilt WASM module: %w", err)
		}
		if err := checkWASM(spec.WASMFile, img.wasm); err != nil {
			return ocispec.Descriptor{}, err
		}
	case spec.WASMDir != "", spec.WASMGoFile != "":
		toolchainName := opts.WASMToolchain
		if toolchainName == "" {
			toolchainName = spec.WASMToolchain
		}
		var wb wasmBuild
		if spec.WASMDir != "" {
			wb, err = tc.buildWASM(ctx, absDir, spec.WASMDir, toolchainName, progress)
		} else {
			wb, err = tc.buildWASMFile(ctx, absDir, spec.WASMGoFile, toolchainName, progress)
		}
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		img.wasm, img.wasmAnnotations = wb.module, wb.annotations
	case spec.WASMRustFile != "":
		wb, err := tc.buildRust(ctx, absDir, spec.WASMRustFile, progress)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		img.wasm, img.wasmAnnotations = wb.module, wb.annotations
	default:
		fmt.Fprintf(progress, "no go/ directory: the image has no WASM module\n")
	}

	desc, err := img.push(ctx, opts.Target)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	fmt.Fprintf(progress, "built %s (%s)\n", desc.Digest, joinArchs(archs))
	return desc, nil
}

// creationTime picks the image's creation time: the option, else SOURCE_DATE_EPOCH, else now.
func creationTime(t time.Time) (time.Time, error) {
	if !t.IsZero() {
		return t.UTC(), nil
	}
	if s, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970: unset it or set it to e.g. $(git log -1 --format=%%ct)", s)
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

func joinArchs(archs []string) string {
	s := ""
	for i, a := range archs {
		if i > 0 {
			s += ", "
		}
		s += a
	}
	return s
}

// WASM builds the Go module in modDir into a WASI reactor module the way Build builds a
// gadget's go/ directory: the same toolchains (opts.WASMToolchain, opts.Go, opts.TinyGo) and
// the SDK supplied the same way. Progress goes to opts.Progress; other options are ignored.
func WASM(ctx context.Context, modDir string, opts Options) ([]byte, error) {
	abs, err := filepath.Abs(modDir)
	if err != nil {
		return nil, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	tc := &toolchain{goBin: opts.Go, tinyGo: opts.TinyGo}
	wb, err := tc.buildWASM(ctx, filepath.Dir(abs), filepath.Base(abs), opts.WASMToolchain, progress)
	return wb.module, err
}
