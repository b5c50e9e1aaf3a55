// Package inspect describes a gadget image for humans and tools: its manifests, layers and
// sizes, its metadata, the eBPF programs and maps in its object (read with cilium/ebpf) and the
// host functions its WASM module imports (read with wazero). Nothing is loaded into the kernel
// and no WASM code runs.
package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/metadata"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tetratelabs/wazero"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// Image is what Inspect finds.
type Image struct {
	// Ref is the reference inspected.
	Ref string `json:"ref"`
	// Digest and MediaType describe the top-level object (index or manifest).
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	// Size is the sum of the sizes of every distinct blob of the image.
	Size int64 `json:"size"`
	// Metadata is the parsed gadget.yaml (nil when the image has none).
	Metadata *metadata.Metadata `json:"metadata,omitempty"`
	// Manifests has one entry per architecture.
	Manifests []Manifest `json:"manifests"`
	// Signature is what a check of the image's signatures found (oci.CheckSignatures); nil
	// when not checked (a built-in gadget). The caller fills it in: it knows the trusted keys.
	Signature *oci.Verification `json:"signature,omitempty"`
}

// Manifest describes one architecture's manifest.
type Manifest struct {
	// Arch is the manifest's architecture ("any" for a single manifest at the top).
	Arch string `json:"arch"`
	// Digest and Size describe the manifest itself.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Annotations are the manifest's annotations.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Layers are the config blob then the layers, in manifest order.
	Layers []Layer `json:"layers"`
	// Programs and Maps are what the eBPF object defines, sorted by name.
	Programs []Program `json:"programs,omitempty"`
	Maps     []Map     `json:"maps,omitempty"`
	// WASMImports are the host functions the WASM module imports, as "module.name".
	WASMImports []string `json:"wasmImports,omitempty"`
	// WASMExports are the functions the WASM module exports.
	WASMExports []string `json:"wasmExports,omitempty"`
	// Warnings are what Load skipped or could not read.
	Warnings []string `json:"warnings,omitempty"`
}

// Layer is one layer (or the config blob) of a manifest.
type Layer struct {
	// MediaType, Digest and Size are the blob's descriptor.
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	// Annotations are the descriptor's annotations: for the WASM layer, the toolchain and
	// SDK that built it (io.gadgetry.wasm.toolchain, io.gadgetry.wasm.sdk).
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Program is one eBPF program of the object.
type Program struct {
	// Name is the program's function name.
	Name string `json:"name"`
	// Section is its ELF section, which says how it attaches ("tracepoint/syscalls/...").
	Section string `json:"section"`
	// Type is the program type as cilium/ebpf names it ("TracePoint").
	Type string `json:"type"`
}

// Map is one eBPF map of the object.
type Map struct {
	// Name is the map's name in the object.
	Name string `json:"name"`
	// Type is the map type as cilium/ebpf names it ("RingBuf", "Hash").
	Type string `json:"type"`
	// KeySize, ValueSize and MaxEntries are as declared (the runtime may adjust them).
	KeySize    uint32 `json:"keySize"`
	ValueSize  uint32 `json:"valueSize"`
	MaxEntries uint32 `json:"maxEntries"`
}

// Inspect describes the image ref names in src. Its errors name the image (oci.RefName) and,
// for a remote repository, say what to do (oci.Explain).
func Inspect(ctx context.Context, src oras.ReadOnlyTarget, ref string) (*Image, error) {
	img, err := inspect(ctx, src, ref)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", oci.RefName(src, ref), oci.Explain(src, err))
	}
	return img, nil
}

func inspect(ctx context.Context, src oras.ReadOnlyTarget, ref string) (*Image, error) {
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		if _, lerr := oci.Load(ctx, src, ref, ""); lerr != nil {
			return nil, lerr // says which tags exist
		}
		return nil, err
	}
	img := &Image{Ref: ref, Digest: root.Digest.String(), MediaType: root.MediaType}
	archs, err := oci.Architectures(ctx, src, root)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{root.Digest.String(): true}
	img.Size = root.Size
	for _, arch := range archs {
		g, err := oci.Load(ctx, src, root.Digest.String(), arch)
		if err != nil {
			if arch != "" {
				err = fmt.Errorf("the linux/%s manifest: %w", arch, err)
			}
			return nil, err
		}
		if img.Metadata == nil && g.Metadata != nil {
			if img.Metadata, err = metadata.Parse(g.Metadata); err != nil {
				return nil, err
			}
		}
		if arch == "" {
			arch = "any"
		}
		m := Manifest{Arch: arch, Digest: g.ManifestDigest, Annotations: g.Annotations, Warnings: g.Warnings}
		md, mb, err := fetchManifest(ctx, src, g.ManifestDigest, root)
		if err != nil {
			return nil, err
		}
		m.Size = md.Size
		blobs := append([]ocispec.Descriptor{md, mb.Config}, mb.Layers...)
		for i, l := range blobs {
			if i > 0 {
				m.Layers = append(m.Layers, Layer{MediaType: l.MediaType, Digest: l.Digest.String(), Size: l.Size, Annotations: l.Annotations})
			}
			if !seen[l.Digest.String()] {
				seen[l.Digest.String()] = true
				img.Size += l.Size
			}
		}
		if g.EBPF != nil {
			spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(g.EBPF))
			if err != nil {
				m.Warnings = append(m.Warnings, fmt.Sprintf("the eBPF object cannot be read: %v", err))
			} else {
				for name, p := range spec.Programs {
					m.Programs = append(m.Programs, Program{Name: name, Section: p.SectionName, Type: p.Type.String()})
				}
				for name, mp := range spec.Maps {
					m.Maps = append(m.Maps, Map{Name: name, Type: mp.Type.String(), KeySize: mp.KeySize, ValueSize: mp.ValueSize, MaxEntries: mp.MaxEntries})
				}
				sort.Slice(m.Programs, func(i, j int) bool { return m.Programs[i].Name < m.Programs[j].Name })
				sort.Slice(m.Maps, func(i, j int) bool { return m.Maps[i].Name < m.Maps[j].Name })
			}
		}
		if g.WASM != nil {
			imports, exports, err := wasmFunctions(ctx, g.WASM)
			if err != nil {
				m.Warnings = append(m.Warnings, fmt.Sprintf("the WASM module cannot be compiled: %v", err))
			}
			m.WASMImports, m.WASMExports = imports, exports
		}
		img.Manifests = append(img.Manifests, m)
	}
	return img, nil
}

func fetchManifest(ctx context.Context, src content.Fetcher, dgst string, root ocispec.Descriptor) (ocispec.Descriptor, *ocispec.Manifest, error) {
	desc := root
	if root.MediaType == ocispec.MediaTypeImageIndex {
		b, err := content.FetchAll(ctx, src, root)
		if err != nil {
			return desc, nil, err
		}
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return desc, nil, err
		}
		for _, m := range idx.Manifests {
			if m.Digest.String() == dgst {
				desc = m
			}
		}
	}
	b, err := content.FetchAll(ctx, src, desc)
	if err != nil {
		return desc, nil, err
	}
	m, err := oci.ParseManifest(b)
	return desc, m, err
}

// wasmFunctions compiles a module with wazero's interpreter (fast to compile, nothing runs)
// and lists its imported and exported functions.
func wasmFunctions(ctx context.Context, wasm []byte) (imports, exports []string, err error) {
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		imports = append(imports, mod+"."+name)
	}
	for name := range cm.ExportedFunctions() {
		exports = append(exports, name)
	}
	sort.Strings(imports)
	sort.Strings(exports)
	return imports, exports, nil
}
