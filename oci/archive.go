package oci

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Limits Import enforces on a tarball before reading what an entry claims to hold.
const (
	// MaxArchiveSize bounds the sum of the entries' sizes.
	MaxArchiveSize = 1 << 30
	// MaxArchiveEntries bounds the number of entries.
	MaxArchiveEntries = 10000
)

// archiveTime is the modification time of every entry Export writes.
var archiveTime = time.Unix(0, 0).UTC()

// Export writes the images refs name in the store as an OCI image layout tarball: oci-layout,
// index.json (the refs, with their ref.name annotations, and the store's signatures of each,
// as registry/repository:sha256-<hex>.sig; sorted), blobs/sha256/… sorted; every entry owned
// by 0:0 with a fixed mtime, so the same images give the same bytes.
func Export(ctx context.Context, store *Store, refs []string, w io.Writer) error {
	imgs := make([]ExportImage, len(refs))
	for i, ref := range refs {
		imgs[i] = ExportImage{Src: store, Name: ref}
	}
	return ExportImages(ctx, imgs, w)
}

// ExportImage is one image for ExportImages: Name in Src, written to the tarball as As.
type ExportImage struct {
	// Src holds the image: the local store, the built-in catalogue...
	Src oras.ReadOnlyTarget
	// Name is what Src resolves the image by.
	Name string
	// As is the full reference the tarball names the image by; empty means Name, normalized.
	As string
}

// ExportImages is Export of images from any sources (the built-in catalogue, a store). The
// signatures of an image go along when its source is a *Store that has them.
func ExportImages(ctx context.Context, imgs []ExportImage, w io.Writer) error {
	if len(imgs) == 0 {
		return errors.New("export: name at least one image")
	}
	var roots []ocispec.Descriptor
	exported := map[string]bool{}
	blobs := map[digest.Digest]ocispec.Descriptor{}
	srcOf := map[digest.Digest]oras.ReadOnlyTarget{}
	for _, img := range imgs {
		store := img.Src
		name := img.Name
		if r, err := ParseReference(name); err == nil && img.As == "" {
			name = r.String()
		}
		as := img.As
		if as == "" {
			as = name
		}
		d, err := store.Resolve(ctx, name)
		if err != nil {
			return fmt.Errorf("exporting %s: %w", name, notFound(ctx, store, name, err))
		}
		var walk func(d ocispec.Descriptor) error
		walk = func(d ocispec.Descriptor) error {
			if _, ok := blobs[d.Digest]; ok {
				return nil
			}
			blobs[d.Digest] = d
			srcOf[d.Digest] = store
			if !isManifestType(d.MediaType) {
				return nil
			}
			succ, err := content.Successors(ctx, store, d)
			if err != nil {
				return fmt.Errorf("export %s: reading %s: %w", name, d.Digest, err)
			}
			for _, c := range succ {
				if err := walk(c); err != nil {
					return err
				}
			}
			return nil
		}
		if err := walk(d); err != nil {
			return err
		}
		d.Annotations = map[string]string{ocispec.AnnotationRefName: as}
		roots = append(roots, d)
		// The image's signatures go along, tagged as in the store, so that a host without the
		// registry can still verify it.
		if _, ok := store.(*Store); !ok {
			continue
		}
		r, err := ParseReference(name)
		if err != nil {
			continue
		}
		sigName := signatureRef(store, r, d.Digest)
		if exported[sigName] {
			continue
		}
		sd, err := store.Resolve(ctx, sigName)
		if err != nil {
			continue
		}
		if err := walk(sd); err != nil {
			return err
		}
		exported[sigName] = true
		sd.Annotations = map[string]string{ocispec.AnnotationRefName: sigName}
		roots = append(roots, sd)
	}
	sort.Slice(roots, func(i, j int) bool {
		return roots[i].Annotations[ocispec.AnnotationRefName] < roots[j].Annotations[ocispec.AnnotationRefName]
	})
	tw := tar.NewWriter(w)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: archiveTime, Format: tar.FormatUSTAR})
	}
	file := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: archiveTime, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	idx, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: roots})
	if err := file(ocispec.ImageLayoutFile, int64(len(layout)), bytes.NewReader(layout)); err != nil {
		return err
	}
	if err := file("index.json", int64(len(idx)), bytes.NewReader(idx)); err != nil {
		return err
	}
	digests := make([]ocispec.Descriptor, 0, len(blobs))
	for _, d := range blobs {
		digests = append(digests, d)
	}
	sort.Slice(digests, func(i, j int) bool { return digests[i].Digest < digests[j].Digest })
	made := map[string]bool{}
	for _, d := range append([]string{"blobs/"}, algDirs(digests)...) {
		if err := dir(d); err != nil {
			return err
		}
		made[d] = true
	}
	for _, d := range digests {
		rc, err := srcOf[d.Digest].Fetch(ctx, d)
		if err != nil {
			return fmt.Errorf("export: blob %s: %w", d.Digest, err)
		}
		vr := content.NewVerifyReader(rc, d)
		err = file("blobs/"+d.Digest.Algorithm().String()+"/"+d.Digest.Encoded(), d.Size, vr)
		if err == nil {
			err = vr.Verify()
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("export: blob %s: %w", d.Digest, err)
		}
	}
	return tw.Close()
}

func algDirs(ds []ocispec.Descriptor) []string {
	set := map[string]bool{}
	for _, d := range ds {
		set["blobs/"+d.Digest.Algorithm().String()+"/"] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// blobMap is an in-memory content store keyed by digest only (an import's staging area).
type blobMap map[digest.Digest][]byte

// Fetch implements content.Fetcher.
func (m blobMap) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	b, ok := m[d.Digest]
	if !ok {
		return nil, fmt.Errorf("%s: %w (the tarball lacks this blob)", d.Digest, errdef.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Exists implements content.ReadOnlyStorage.
func (m blobMap) Exists(_ context.Context, d ocispec.Descriptor) (bool, error) {
	_, ok := m[d.Digest]
	return ok, nil
}

// Import reads an OCI image layout tarball (as Export writes it) into the store and tags
// every image its index.json names with a ref.name annotation, and the signatures tagged
// sha256-<hex>.sig beside them (checked to be signature manifests). The tarball is checked
// entirely first (only the layout's own regular files and directories, no links, no path
// leaving the layout, sizes within limits, every blob matching its digest, every image a valid
// gadget); a bad tarball leaves the store as it was.
//
// A tarball compressed with gzip (.tar.gz, .tgz) is read as well; other compressions are
// refused by name.
func Import(ctx context.Context, store *Store, r io.Reader) ([]Entry, error) {
	r, err := decompress(r)
	if err != nil {
		return nil, err
	}
	blobs := blobMap{}
	var layout, index []byte
	tr := tar.NewReader(r)
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("import: the tarball is truncated or not a tar file: %v", err)
		}
		if n >= MaxArchiveEntries {
			return nil, fmt.Errorf("import: more than %d entries", MaxArchiveEntries)
		}
		name, err := archivePath(h.Name)
		if err != nil {
			return nil, fmt.Errorf("import: entry %q: %v", h.Name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if name != "blobs" && !(strings.HasPrefix(name, "blobs/") && strings.Count(name, "/") == 1) && name != "." {
				return nil, fmt.Errorf("import: entry %q: unexpected directory in an OCI layout", h.Name)
			}
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("import: entry %q: only regular files and directories are allowed (type %q: links and devices could escape the store)", h.Name, string(h.Typeflag))
		}
		if h.Size < 0 || h.Size > MaxBlobSize {
			return nil, fmt.Errorf("import: entry %q: size %d is outside 0..%d", h.Name, h.Size, MaxBlobSize)
		}
		if total += h.Size; total > MaxArchiveSize {
			return nil, fmt.Errorf("import: entries add up to more than %d bytes", MaxArchiveSize)
		}
		var limit int64
		var dgst digest.Digest
		switch {
		case name == ocispec.ImageLayoutFile:
			limit = 4096
		case name == "index.json":
			limit = MaxManifestSize
		case strings.HasPrefix(name, "blobs/"):
			parts := strings.Split(name, "/")
			if len(parts) != 3 {
				return nil, fmt.Errorf("import: entry %q: not blobs/<algorithm>/<hex>", h.Name)
			}
			dgst = digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
			if err := dgst.Validate(); err != nil {
				return nil, fmt.Errorf("import: entry %q: not a valid digest: %v", h.Name, err)
			}
			limit = MaxBlobSize
		default:
			return nil, fmt.Errorf("import: entry %q: not part of an OCI image layout (oci-layout, index.json, blobs/)", h.Name)
		}
		if h.Size > limit {
			return nil, fmt.Errorf("import: entry %q: %d bytes is more than the %d allowed", h.Name, h.Size, limit)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil || int64(len(b)) != h.Size {
			return nil, fmt.Errorf("import: entry %q: the tarball is truncated (%d of %d bytes): %v", h.Name, len(b), h.Size, err)
		}
		switch {
		case name == ocispec.ImageLayoutFile:
			layout = b
		case name == "index.json":
			index = b
		default:
			if got := dgst.Algorithm().FromBytes(b); got != dgst {
				return nil, fmt.Errorf("import: blob %s: content has digest %s: the tarball is corrupt or tampered with", dgst, got)
			}
			blobs[dgst] = b
		}
	}
	var lay ocispec.ImageLayout
	if layout == nil || json.Unmarshal(layout, &lay) != nil || lay.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("import: not an OCI image layout: oci-layout missing or not version %s", ocispec.ImageLayoutVersion)
	}
	var idx ocispec.Index
	if index == nil {
		return nil, errors.New("import: not an OCI image layout: index.json missing")
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("import: index.json is not valid JSON: %v", err)
	}
	var entries []Entry
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		if name == "" {
			continue
		}
		r, err := ParseReference(name)
		if err != nil {
			return nil, fmt.Errorf("import: index.json: %v", err)
		}
		d = stripRefName(d)
		if IsCosignTag(r.Tag) && r.Digest == "" {
			// The signatures of an image (Export writes them beside it), not an image.
			if !strings.HasSuffix(r.Tag, ".sig") {
				return nil, fmt.Errorf("import: %s: cosign attestations and SBOMs are not imported, only images and their signatures", name)
			}
			if _, err := readSignatures(ctx, blobs, d); err != nil {
				return nil, fmt.Errorf("import: %s: %w", name, err)
			}
		} else if err := Validate(ctx, blobs, d); err != nil {
			return nil, fmt.Errorf("import: %s: %w", name, err)
		}
		entries = append(entries, Entry{Ref: r.String(), Descriptor: d})
	}
	if len(entries) == 0 {
		return nil, errors.New("import: index.json names no image (no org.opencontainers.image.ref.name annotation)")
	}
	err = store.holdForCopy(func() error {
		for _, e := range entries {
			if err := oras.CopyGraph(ctx, blobs, store, e.Descriptor, oras.DefaultCopyGraphOptions); err != nil {
				return err
			}
		}
		for _, e := range entries {
			if err := store.Tag(ctx, e.Descriptor, e.Ref); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import: writing the store: %w", err)
	}
	return entries, nil
}

// decompress returns r decompressed when it starts with gzip's magic number, and refuses the
// other compressions a tarball is often made with, naming them.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("import: the file starts as gzip but is not readable gzip: %v", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, errors.New("import: the file is compressed with zstd: decompress it first (zstd -d), gadgetry reads tar and tar.gz")
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, errors.New("import: the file is compressed with xz: decompress it first (xz -d), gadgetry reads tar and tar.gz")
	case bytes.HasPrefix(magic, []byte("BZh")):
		return nil, errors.New("import: the file is compressed with bzip2: decompress it first (bunzip2), gadgetry reads tar and tar.gz")
	}
	return br, nil
}

// archivePath cleans a tar entry name and refuses one that leaves the layout.
func archivePath(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return "", errors.New("absolute or malformed path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New("path leaves the layout (..)")
		}
	}
	return path.Clean(name), nil
}
