// Package ocitest assembles gadget images (and non-gadget ones) in memory for tests, without
// compiling anything: the layers are whatever bytes the test gives.
package ocitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// Image describes a gadget image to assemble.
type Image struct {
	// Metadata is the gadget.yaml; nil gives the OCI empty config.
	Metadata []byte
	// EBPF is the eBPF layer per architecture ("amd64", "arm64"); an architecture with a nil
	// object gets no eBPF layer.
	EBPF map[string][]byte
	// WASM is the WASM layer, shared by every architecture; nil for none.
	WASM []byte
	// BTFGen is the btfgen layer, shared; nil for none.
	BTFGen []byte
	// ExtraLayers are appended to every manifest (e.g. unknown media types).
	ExtraLayers []Layer
	// SingleManifest pushes only the first architecture's manifest, without an index.
	SingleManifest bool
	// Annotations go on every manifest.
	Annotations map[string]string
}

// Layer is a blob with its media type.
type Layer struct {
	// MediaType is the layer's media type.
	MediaType string
	// Data is the layer's content.
	Data []byte
}

// Simple returns an image with a small gadget.yaml, an amd64 and an arm64 "object" and a
// "WASM module" (the bytes are not real programs: enough for anything that does not load them).
func Simple(name string) Image {
	return Image{
		Metadata: []byte("name: " + name + "\ndescription: a test gadget\n"),
		EBPF:     map[string][]byte{"amd64": []byte("ebpf-amd64-" + name), "arm64": []byte("ebpf-arm64-" + name)},
		WASM:     []byte("wasm-" + name),
		Annotations: map[string]string{
			ocispec.AnnotationTitle: name,
		},
	}
}

func push(ctx context.Context, dst content.Pusher, mediaType string, b []byte) (ocispec.Descriptor, error) {
	d := content.NewDescriptorFromBytes(mediaType, b)
	if ex, ok := dst.(content.ReadOnlyStorage); ok {
		if has, err := ex.Exists(ctx, d); err == nil && has {
			return d, nil
		}
	}
	if err := dst.Push(ctx, d, bytes.NewReader(b)); err != nil {
		return d, fmt.Errorf("pushing %s: %w", mediaType, err)
	}
	return d, nil
}

// Push writes img into dst and tags it ref (when ref is not empty). It returns the top-level
// descriptor (the index, or the manifest with SingleManifest).
func Push(ctx context.Context, dst oras.Target, ref string, img Image) (ocispec.Descriptor, error) {
	cfg := ocispec.DescriptorEmptyJSON
	if img.Metadata != nil {
		cfg = content.NewDescriptorFromBytes(oci.MediaTypeMetadata, img.Metadata)
		if _, err := push(ctx, dst, oci.MediaTypeMetadata, img.Metadata); err != nil {
			return cfg, err
		}
	} else if _, err := push(ctx, dst, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
		return cfg, err
	}
	cfg.Data = nil
	archs := make([]string, 0, len(img.EBPF))
	for a := range img.EBPF {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	var manifests []ocispec.Descriptor
	for _, arch := range archs {
		var layers []ocispec.Descriptor
		add := func(mt string, b []byte) error {
			if b == nil {
				return nil
			}
			d, err := push(ctx, dst, mt, b)
			layers = append(layers, d)
			return err
		}
		if err := add(oci.MediaTypeEBPF, img.EBPF[arch]); err != nil {
			return cfg, err
		}
		if err := add(oci.MediaTypeWASM, img.WASM); err != nil {
			return cfg, err
		}
		if err := add(oci.MediaTypeBTFGen, img.BTFGen); err != nil {
			return cfg, err
		}
		for _, l := range img.ExtraLayers {
			if err := add(l.MediaType, l.Data); err != nil {
				return cfg, err
			}
		}
		m := ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: oci.ArtifactType,
			Config:       cfg,
			Layers:       layers,
			Annotations:  img.Annotations,
		}
		b, _ := json.Marshal(m)
		d, err := push(ctx, dst, ocispec.MediaTypeImageManifest, b)
		if err != nil {
			return d, err
		}
		d.ArtifactType = oci.ArtifactType
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		manifests = append(manifests, d)
		if img.SingleManifest {
			d.Platform = nil
			d.ArtifactType = ""
			return d, tag(ctx, dst, d, ref)
		}
	}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: manifests,
	}
	b, _ := json.Marshal(idx)
	d, err := push(ctx, dst, ocispec.MediaTypeImageIndex, b)
	if err != nil {
		return d, err
	}
	return d, tag(ctx, dst, d, ref)
}

func tag(ctx context.Context, dst oras.Target, d ocispec.Descriptor, ref string) error {
	if ref == "" {
		return nil
	}
	return dst.Tag(ctx, d, ref)
}

// PushContainerImage writes an ordinary (non-gadget) container image into dst, tagged ref.
func PushContainerImage(ctx context.Context, dst oras.Target, ref string) (ocispec.Descriptor, error) {
	cfgBytes := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfg, err := push(ctx, dst, ocispec.MediaTypeImageConfig, cfgBytes)
	if err != nil {
		return cfg, err
	}
	layer, err := push(ctx, dst, ocispec.MediaTypeImageLayerGzip, []byte("not really a tar.gz"))
	if err != nil {
		return layer, err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfg,
		Layers:    []ocispec.Descriptor{layer},
	}
	b, _ := json.Marshal(m)
	d, err := push(ctx, dst, ocispec.MediaTypeImageManifest, b)
	if err != nil {
		return d, err
	}
	return d, tag(ctx, dst, d, ref)
}

// Digest is a convenience for digest.FromBytes(b).String().
func Digest(b []byte) string { return digest.FromBytes(b).String() }
