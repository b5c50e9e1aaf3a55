package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"

	"github.com/gadgetry/gadgetry/oci"
)

// archObject holds the per-architecture layers.
type archObject struct {
	arch   string
	ebpf   []byte
	btfgen []byte // nil: no btfgen layer
}

// image is everything a gadget image holds, before it is pushed.
type image struct {
	metadata    []byte // nil: no gadget.yaml
	annotations map[string]string
	created     time.Time
	archs       []archObject
	wasm        []byte // nil: no WASM layer, the same blob in every manifest
	// wasmAnnotations annotate the WASM layer: what built it.
	wasmAnnotations map[string]string
}

// push stores the blobs, one manifest per architecture and the index, and returns the index's
// descriptor.
func (img *image) push(ctx context.Context, target oras.Target) (ocispec.Descriptor, error) {
	annotations := maps.Clone(img.annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[ocispec.AnnotationCreated] = img.created.Format(time.RFC3339)
	annotations[AnnotationBuilderVersion] = BuilderVersion

	config := ocispec.DescriptorEmptyJSON
	configData := ocispec.DescriptorEmptyJSON.Data
	if img.metadata != nil {
		config = descriptorFor(oci.MediaTypeMetadata, img.metadata)
		configData = img.metadata
	}
	config.Data = nil
	if err := pushBlob(ctx, target, config, configData); err != nil {
		return ocispec.Descriptor{}, err
	}

	var wasm *ocispec.Descriptor
	if img.wasm != nil {
		d := descriptorFor(oci.MediaTypeWASM, img.wasm)
		if err := pushBlob(ctx, target, d, img.wasm); err != nil {
			return ocispec.Descriptor{}, err
		}
		if len(img.wasmAnnotations) > 0 {
			d.Annotations = img.wasmAnnotations
		}
		wasm = &d
	}

	index := ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Annotations: annotations,
	}
	for _, obj := range img.archs {
		// Layer order is part of the format: ebpf, wasm, btfgen.
		layer := descriptorFor(oci.MediaTypeEBPF, obj.ebpf)
		if err := pushBlob(ctx, target, layer, obj.ebpf); err != nil {
			return ocispec.Descriptor{}, err
		}
		layers := []ocispec.Descriptor{layer}
		if wasm != nil {
			layers = append(layers, *wasm)
		}
		if obj.btfgen != nil {
			d := descriptorFor(oci.MediaTypeBTFGen, obj.btfgen)
			if err := pushBlob(ctx, target, d, obj.btfgen); err != nil {
				return ocispec.Descriptor{}, err
			}
			layers = append(layers, d)
		}
		manifest := ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: oci.ArtifactType,
			Config:       config,
			Layers:       layers,
			Annotations:  annotations,
		}
		data, err := json.Marshal(manifest)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("encoding the %s manifest: %w", obj.arch, err)
		}
		md := descriptorFor(ocispec.MediaTypeImageManifest, data)
		md.ArtifactType = oci.ArtifactType
		if err := pushBlob(ctx, target, md, data); err != nil {
			return ocispec.Descriptor{}, err
		}
		md.Platform = &ocispec.Platform{OS: "linux", Architecture: obj.arch}
		index.Manifests = append(index.Manifests, md)
	}
	data, err := json.Marshal(index)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encoding the image index: %w", err)
	}
	desc := descriptorFor(ocispec.MediaTypeImageIndex, data)
	if err := pushBlob(ctx, target, desc, data); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

func descriptorFor(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

// pushBlob pushes data unless the target already has it.
func pushBlob(ctx context.Context, target oras.Target, desc ocispec.Descriptor, data []byte) error {
	ok, err := target.Exists(ctx, desc)
	if err != nil {
		return fmt.Errorf("storing %s %s: checking the store: %w", desc.MediaType, desc.Digest, err)
	}
	if ok {
		return nil
	}
	if err := target.Push(ctx, desc, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("storing %s %s: %w", desc.MediaType, desc.Digest, err)
	}
	return nil
}
