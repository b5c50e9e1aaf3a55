package oci

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
)

// MaxBlobSize bounds any blob Copy accepts (the layer limits of Load are tighter).
const MaxBlobSize = 256 << 20

// Copy moves the gadget image srcRef names in src to dst, tagged dstRef (srcRef when empty).
// Sources and destinations are interchangeable: the local Store, a remote repository
// (Registry.Repository), a read-only layout (oras content/oci.NewFromFS, e.g. the built-in
// catalogue) or an in-memory store.
//
// The image is first fetched into memory and checked (digests, sizes, every architecture
// loads as a gadget, gadget.yaml is valid); only then is dst written. A bad image therefore
// leaves dst as it was.
func Copy(ctx context.Context, src oras.ReadOnlyTarget, srcRef string, dst oras.Target, dstRef string) (ocispec.Descriptor, error) {
	return copyImage(ctx, src, srcRef, dst, dstRef, nil)
}

// copyImage is Copy, with what is written to dst counted in tr (may be nil).
func copyImage(ctx context.Context, src oras.ReadOnlyTarget, srcRef string, dst oras.Target, dstRef string, tr *tracker) (ocispec.Descriptor, error) {
	if dstRef == "" {
		dstRef = srcRef
	}
	staged, root, err := stage(ctx, src, srcRef, nil)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	do := func() error {
		if err := oras.CopyGraph(ctx, track(staged, tr), dst, root, oras.DefaultCopyGraphOptions); err != nil {
			return err
		}
		return dst.Tag(ctx, root, dstRef)
	}
	if st, ok := dst.(*Store); ok {
		err = st.holdForCopy(do)
	} else {
		err = do()
	}
	if err != nil {
		return root, fmt.Errorf("writing to %s: %w", place(dst), copyCause(err))
	}
	return root, nil
}

// Stage fetches the image ref names in src into a new in-memory store and checks that it is
// a valid gadget image. It returns the store and the image's top-level descriptor. Its errors
// do not repeat ref: the caller names the image.
func Stage(ctx context.Context, src oras.ReadOnlyTarget, ref string) (*memory.Store, ocispec.Descriptor, error) {
	return stage(ctx, src, ref, nil)
}

// stage is Stage, with what is read from src counted in tr (may be nil).
func stage(ctx context.Context, src oras.ReadOnlyTarget, ref string, tr *tracker) (*memory.Store, ocispec.Descriptor, error) {
	mem := memory.New()
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, root, notFound(ctx, src, ref, err)
	}
	opts := oras.CopyGraphOptions{
		MaxMetadataBytes: MaxManifestSize,
		PreCopy: func(_ context.Context, d ocispec.Descriptor) error {
			if d.Size < 0 || d.Size > MaxBlobSize {
				return fmt.Errorf("%s %s: size %d is outside 0..%d", blobKind(d), d.Digest, d.Size, MaxBlobSize)
			}
			return nil
		},
	}
	if err := oras.CopyGraph(ctx, checkedSource{track(src, tr)}, mem, root, opts); err != nil {
		return nil, root, copyCause(err)
	}
	if err := Validate(ctx, mem, root); err != nil {
		return nil, root, err
	}
	return mem, root, nil
}

// Validate checks that root in src is a gadget image: each architecture of an index (or the
// single manifest) loads.
func Validate(ctx context.Context, src content.Fetcher, root ocispec.Descriptor) error {
	archs, err := Architectures(ctx, src, root)
	if err != nil {
		return err
	}
	for _, a := range archs {
		g := &Gadget{}
		man, err := chooseManifest(ctx, src, root, a)
		if err != nil {
			return err
		}
		if err := loadManifest(ctx, src, man, g); err != nil {
			if a == "" { // a single manifest: there is no other to tell it from
				return err
			}
			return fmt.Errorf("the linux/%s manifest: %w", a, err)
		}
	}
	return nil
}

// Architectures returns the architectures an image offers: those of its index entries, or ""
// for a single manifest (which serves any architecture).
func Architectures(ctx context.Context, src content.Fetcher, root ocispec.Descriptor) ([]string, error) {
	if root.MediaType != ocispec.MediaTypeImageIndex {
		if _, err := chooseManifest(ctx, src, root, ""); err != nil {
			return nil, err
		}
		return []string{""}, nil
	}
	idx, err := fetchIndex(ctx, src, root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == "linux" {
			out = append(out, m.Platform.Architecture)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the index has no linux manifest", ErrNotGadget)
	}
	return out, nil
}
