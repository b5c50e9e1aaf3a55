package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/gadgetry/gadgetry/oci/metadata"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
)

// Size limits Load enforces before fetching, so a hostile image cannot exhaust memory.
const (
	// MaxManifestSize bounds an index or manifest.
	MaxManifestSize = 4 << 20
	// MaxEBPFSize bounds the eBPF object layer.
	MaxEBPFSize = 64 << 20
	// MaxWASMSize bounds the WASM layer.
	MaxWASMSize = 256 << 20
	// MaxBTFGenSize bounds the btfgen layer.
	MaxBTFGenSize = 256 << 20
)

// ErrNotGadget is returned (wrapped) for an image that is not a gadget, e.g. a container image.
var ErrNotGadget = errors.New("not a gadget image")

// ErrNotFound is returned (wrapped) when a reference names nothing in the source.
var ErrNotFound = errors.New("not found")

// ErrNoArch is returned (wrapped) when an index has no manifest for the wanted architecture.
var ErrNoArch = errors.New("no manifest for this architecture")

// Load reads the gadget that ref names in src for arch ("" = this machine's), verifying every
// digest and size. ref is what src resolves: a tag or digest for a remote repository, the full
// normalized reference for the local store, a bare name for the built-in catalogue. Its errors
// do not repeat ref: the caller names the image.
func Load(ctx context.Context, src oras.ReadOnlyTarget, ref string, arch string) (*Gadget, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, notFound(ctx, src, ref, err)
	}
	g := &Gadget{Ref: ref, Digest: root.Digest.String(), Arch: arch}
	man, err := chooseManifest(ctx, src, root, arch)
	if err != nil {
		return nil, err
	}
	if err := loadManifest(ctx, src, man, g); err != nil {
		return nil, err
	}
	return g, nil
}

// Tags returns src's tags, sorted, when src can list them (registry.TagLister); nil otherwise.
// The tags cosign derives from digests (sha256-<hex>.sig, .att, .sbom) are left out: they
// name signatures and attestations, not images.
func Tags(ctx context.Context, src oras.ReadOnlyTarget) ([]string, error) {
	tl, ok := src.(registry.TagLister)
	if !ok {
		return nil, nil
	}
	var tags []string
	err := tl.Tags(ctx, "", func(t []string) error {
		for _, tag := range t {
			if !IsCosignTag(tag) {
				tags = append(tags, tag)
			}
		}
		return nil
	})
	sort.Strings(tags)
	return tags, err
}

// fetch reads a blob, refusing one larger than limit, and verifies its size and digest.
func fetch(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, fmt.Errorf("%s %s: size %d is outside 0..%d", blobKind(desc), desc.Digest, desc.Size, limit)
	}
	b, err := content.FetchAll(ctx, src, desc)
	if err != nil {
		if isCorrupt(err) {
			return nil, corrupt(src, desc, err)
		}
		return nil, fmt.Errorf("fetching %s %s: %w", blobKind(desc), desc.Digest, err)
	}
	return b, nil
}

// Platform returns the "os/arch" of a descriptor's platform, or "" when it has none.
func Platform(d ocispec.Descriptor) string {
	if d.Platform == nil {
		return ""
	}
	s := d.Platform.OS + "/" + d.Platform.Architecture
	if d.Platform.Variant != "" {
		s += "/" + d.Platform.Variant
	}
	return s
}

// chooseManifest returns the manifest for arch: root itself when it is a manifest, else the
// index entry for linux/arch.
func chooseManifest(ctx context.Context, src content.Fetcher, root ocispec.Descriptor, arch string) (ocispec.Descriptor, error) {
	switch root.MediaType {
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		return root, nil
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
	default:
		return ocispec.Descriptor{}, fmt.Errorf("%w: top-level media type %q is neither an OCI index nor a manifest", ErrNotGadget, root.MediaType)
	}
	idx, err := fetchIndex(ctx, src, root)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var avail []string
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == arch {
			return m, nil
		}
		if p := Platform(m); p != "" {
			avail = append(avail, p)
		}
	}
	if len(avail) == 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%w %s: the index lists no platforms", ErrNoArch, arch)
	}
	return ocispec.Descriptor{}, fmt.Errorf("%w linux/%s (available: %s)", ErrNoArch, arch, strings.Join(avail, ", "))
}

func fetchIndex(ctx context.Context, src content.Fetcher, root ocispec.Descriptor) (*ocispec.Index, error) {
	b, err := fetch(ctx, src, root, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index %s is not valid JSON: %v", root.Digest, err)
	}
	return &idx, nil
}

// Docker media types, recognized only to say clearly that such an image is not a gadget.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// ParseManifest decodes a manifest and checks that it is a gadget's.
func ParseManifest(b []byte) (*ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	if m.ArtifactType != ArtifactType && m.Config.MediaType != MediaTypeMetadata {
		kind := "an unknown kind of artifact"
		switch m.Config.MediaType {
		case ocispec.MediaTypeImageConfig, "application/vnd.docker.container.image.v1+json":
			kind = "an ordinary container image"
		}
		return nil, fmt.Errorf("%w: it is %s (artifactType %q, config media type %q; a gadget has artifactType %q)",
			ErrNotGadget, kind, m.ArtifactType, m.Config.MediaType, ArtifactType)
	}
	return &m, nil
}

func loadManifest(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor, g *Gadget) error {
	b, err := fetch(ctx, src, desc, MaxManifestSize)
	if err != nil {
		return err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return err
	}
	g.ManifestDigest = desc.Digest.String()
	g.Annotations = m.Annotations
	switch m.Config.MediaType {
	case MediaTypeMetadata:
		md, err := fetch(ctx, src, m.Config, metadata.MaxSize)
		if err != nil {
			return err
		}
		if _, err := metadata.Parse(md); err != nil {
			return fmt.Errorf("the image's metadata: %w", err)
		}
		g.Metadata = md
	case ocispec.MediaTypeEmptyJSON:
	default:
		return fmt.Errorf("%w: config media type %q (want %q or the empty descriptor)", ErrNotGadget, m.Config.MediaType, MediaTypeMetadata)
	}
	for i, l := range m.Layers {
		var dst *[]byte
		var limit int64
		switch l.MediaType {
		case MediaTypeEBPF:
			dst, limit = &g.EBPF, MaxEBPFSize
		case MediaTypeWASM:
			dst, limit = &g.WASM, MaxWASMSize
		case MediaTypeBTFGen:
			dst, limit = &g.BTFGen, MaxBTFGenSize
		default:
			g.Warnings = append(g.Warnings, fmt.Sprintf("layer %d (%s): unknown media type %q, skipped", i, l.Digest, l.MediaType))
			continue
		}
		if *dst != nil {
			return fmt.Errorf("layer %d: a second %s layer; a manifest has at most one", i, l.MediaType)
		}
		if *dst, err = fetch(ctx, src, l, limit); err != nil {
			return err
		}
	}
	if g.EBPF == nil && g.WASM == nil {
		return fmt.Errorf("%w: the manifest has neither an eBPF nor a WASM layer", ErrNotGadget)
	}
	return nil
}
