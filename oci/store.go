package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Store is the local image store: a standard OCI image layout directory (oci-layout,
// index.json, blobs/<alg>/<hex>) whose tags are index.json entries annotated with
// org.opencontainers.image.ref.name = the full normalized reference.
//
// Several processes may use one store at once: every read-modify-write of index.json holds an
// exclusive flock on index.json.lock and replaces the file by rename; blobs are written to a
// temporary file and renamed into place only after their digest is verified; garbage
// collection holds gc.lock exclusively while copies into the store hold it shared.
//
// Store implements oras.Target and registry.TagLister.
type Store struct {
	root string
}

// Entry is one tag of the store.
type Entry struct {
	// Ref is the full normalized reference the entry is tagged with.
	Ref string
	// Descriptor is the tagged object (index or manifest), without the ref.name annotation.
	Descriptor ocispec.Descriptor
}

const (
	indexFile = "index.json"
	indexLock = "index.json.lock"
	gcLock    = "gc.lock"
	ingestDir = "ingest"
	blobsDir  = "blobs"
)

// DefaultStoreDir is the store used when neither --store nor GADGETRY_STORE says otherwise:
// /var/lib/gadgetry/oci-store for root, $XDG_DATA_HOME/gadgetry/oci-store (default
// ~/.local/share/gadgetry/oci-store) for other users.
func DefaultStoreDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/gadgetry/oci-store"
	}
	return xdgPath("XDG_DATA_HOME", filepath.Join(".local", "share"), "gadgetry", "oci-store")
}

// OpenStore opens the store at root, creating an empty layout when the directory is missing
// or empty.
func OpenStore(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("creating image store %s: %w", root, err)
	}
	s := &Store{root: root}
	err := s.withLock(indexLock, unix.LOCK_EX, func() error {
		lay := filepath.Join(root, ocispec.ImageLayoutFile)
		if b, err := os.ReadFile(lay); err == nil {
			var l ocispec.ImageLayout
			if err := json.Unmarshal(b, &l); err != nil || l.Version != ocispec.ImageLayoutVersion {
				return fmt.Errorf("%s is not an OCI image layout version %s", lay, ocispec.ImageLayoutVersion)
			}
		} else if errors.Is(err, fs.ErrNotExist) {
			b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
			if err := writeFileAtomic(lay, b); err != nil {
				return err
			}
		} else {
			return err
		}
		if _, err := os.Stat(filepath.Join(root, indexFile)); errors.Is(err, fs.ErrNotExist) {
			return s.writeIndex(nil)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", root, err)
	}
	return s, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) withLock(name string, how int, fn func() error) error {
	f, err := os.OpenFile(filepath.Join(s.root, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opening lock file: %w", err)
	}
	defer f.Close()
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return fn()
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (s *Store) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("%w: invalid digest %q: %v", errdef.ErrInvalidDigest, d, err)
	}
	return filepath.Join(s.root, blobsDir, d.Algorithm().String(), d.Encoded()), nil
}

func (s *Store) readIndex() (*ocispec.Index, error) {
	b, err := os.ReadFile(filepath.Join(s.root, indexFile))
	if err != nil {
		return nil, fmt.Errorf("reading the store's index: %w", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("the store's %s is corrupt: %v", filepath.Join(s.root, indexFile), err)
	}
	return &idx, nil
}

// writeIndex replaces index.json; the caller holds the index lock.
func (s *Store) writeIndex(manifests []ocispec.Descriptor) error {
	sort.Slice(manifests, func(i, j int) bool {
		return manifests[i].Annotations[ocispec.AnnotationRefName] < manifests[j].Annotations[ocispec.AnnotationRefName]
	})
	if manifests == nil {
		manifests = []ocispec.Descriptor{}
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.root, indexFile), append(b, '\n'))
}

// Fetch implements content.Fetcher.
func (s *Store) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	p, err := s.blobPath(d.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", d.Digest, errdef.ErrNotFound)
	}
	return f, err
}

// Exists implements content.ReadOnlyStorage.
func (s *Store) Exists(_ context.Context, d ocispec.Descriptor) (bool, error) {
	p, err := s.blobPath(d.Digest)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Push implements content.Pusher: the blob goes to a temporary file under ingest/ and is
// renamed into blobs/ only when its size and digest match expected.
func (s *Store) Push(_ context.Context, expected ocispec.Descriptor, r io.Reader) error {
	return s.holdForCopy(func() error { return s.push(expected, r) })
}

func (s *Store) push(expected ocispec.Descriptor, r io.Reader) error {
	p, err := s.blobPath(expected.Digest)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.root, ingestDir), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.root, ingestDir), expected.Digest.Encoded()+".*")
	if err != nil {
		return fmt.Errorf("storing blob %s: %w", expected.Digest, err)
	}
	defer os.Remove(tmp.Name())
	vr := content.NewVerifyReader(r, expected)
	if _, err := io.Copy(tmp, vr); err != nil {
		tmp.Close()
		return fmt.Errorf("storing blob %s: %w", expected.Digest, err)
	}
	if err := vr.Verify(); err != nil {
		tmp.Close()
		return fmt.Errorf("blob %s: content does not match its descriptor: %w", expected.Digest, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// Resolve implements content.Resolver. ref is a tagged reference (normalized on the way, so
// "trace_open" finds "ghcr.io/inspektor-gadget/gadget/trace_open:latest") or a digest of a
// manifest or index in the store.
func (s *Store) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if d, err := digest.Parse(ref); err == nil {
		for _, m := range idx.Manifests {
			if m.Digest == d {
				return stripRefName(m), nil
			}
		}
		return s.resolveBlob(ctx, d)
	}
	names := []string{ref}
	if r, err := ParseReference(ref); err == nil && r.String() != ref {
		names = append(names, r.String())
	}
	for _, n := range names {
		for _, m := range idx.Manifests {
			if m.Annotations[ocispec.AnnotationRefName] == n {
				return stripRefName(m), nil
			}
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("%s: %w", ref, errdef.ErrNotFound)
}

// resolveBlob describes an untagged manifest or index blob from its own mediaType field.
func (s *Store) resolveBlob(ctx context.Context, d digest.Digest) (ocispec.Descriptor, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", d, errdef.ErrNotFound)
	}
	if fi.Size() > MaxManifestSize {
		return ocispec.Descriptor{}, fmt.Errorf("%s is not a manifest (%d bytes)", d, fi.Size())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(b, &probe) != nil || probe.MediaType == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%s is not a manifest or index with a mediaType", d)
	}
	return ocispec.Descriptor{MediaType: probe.MediaType, Digest: d, Size: fi.Size()}, nil
}

func stripRefName(d ocispec.Descriptor) ocispec.Descriptor {
	if _, ok := d.Annotations[ocispec.AnnotationRefName]; !ok {
		return d
	}
	a := make(map[string]string, len(d.Annotations))
	for k, v := range d.Annotations {
		if k != ocispec.AnnotationRefName {
			a[k] = v
		}
	}
	if len(a) == 0 {
		a = nil
	}
	d.Annotations = a
	return d
}

// Tag implements content.Tagger: ref (normalized first) now names desc, replacing what it
// named before. desc must already be in the store. Tagging with desc's own digest is a no-op.
func (s *Store) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	if ref == desc.Digest.String() {
		return nil // oras copies "tag" by digest: the object is already named by its digest
	}
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	ok, err := s.Exists(ctx, desc)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("tagging %s: %s is not in the store: %w", r, desc.Digest, errdef.ErrNotFound)
	}
	name := r.String()
	return s.untagThen(name, func(keep []ocispec.Descriptor) []ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: desc.ArtifactType, Platform: desc.Platform}
		d.Annotations = map[string]string{}
		for k, v := range desc.Annotations {
			d.Annotations[k] = v
		}
		d.Annotations[ocispec.AnnotationRefName] = name
		return append(keep, d)
	})
}

// List returns the store's tags, sorted by reference. The tags of signatures
// (registry/repository:sha256-<hex>.sig, and cosign's .att and .sbom) are left out: they name
// no image.
func (s *Store) List(context.Context) ([]Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, m := range idx.Manifests {
		if n := m.Annotations[ocispec.AnnotationRefName]; n != "" && !isCosignRef(n) {
			out = append(out, Entry{Ref: n, Descriptor: stripRefName(m)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// Tags implements registry.TagLister: fn gets every reference in the store, sorted.
func (s *Store) Tags(ctx context.Context, last string, fn func([]string) error) error {
	es, err := s.List(ctx)
	if err != nil {
		return err
	}
	var tags []string
	for _, e := range es {
		if e.Ref > last {
			tags = append(tags, e.Ref)
		}
	}
	if len(tags) == 0 {
		return nil
	}
	return fn(tags)
}

// Remove untags ref and deletes the blobs no remaining tag needs. The signatures stored for
// an image of ref's repository that no remaining tag of the repository names go too. It
// returns the digests deleted.
func (s *Store) Remove(ctx context.Context, ref string) ([]string, error) {
	name := ref
	if r, err := ParseReference(ref); err == nil {
		name = r.String()
	}
	var removed []string
	err := s.withLock(gcLock, unix.LOCK_EX, func() error {
		err := s.withLock(indexLock, unix.LOCK_EX, func() error {
			idx, err := s.readIndex()
			if err != nil {
				return err
			}
			keep := idx.Manifests[:0]
			var found []string
			for _, m := range idx.Manifests {
				n := m.Annotations[ocispec.AnnotationRefName]
				if n == name || n == ref {
					found = append(found, n)
					continue
				}
				keep = append(keep, m)
			}
			if len(found) == 0 {
				var names []string
				for _, m := range idx.Manifests {
					names = append(names, m.Annotations[ocispec.AnnotationRefName])
				}
				sort.Strings(names)
				if len(names) == 0 {
					return fmt.Errorf("removing %s: %w: the store %s is empty", name, ErrNotFound, s.root)
				}
				return fmt.Errorf("removing %s: %w: no such tag in the store %s (it has: %s)", name, ErrNotFound, s.root, strings.Join(names, ", "))
			}
			return s.writeIndex(dropOrphanSignatures(keep))
		})
		if err != nil {
			return err
		}
		removed, err = s.gc(ctx)
		return err
	})
	return removed, err
}

// dropOrphanSignatures leaves out the signature tags (repository:sha256-<hex>.sig) of digests
// no other tag of their repository names.
func dropOrphanSignatures(ms []ocispec.Descriptor) []ocispec.Descriptor {
	named := map[string]bool{}
	for _, m := range ms {
		if r, err := ParseReference(m.Annotations[ocispec.AnnotationRefName]); err == nil && !isCosignRef(r.String()) {
			named[r.RepositoryName()+"@"+m.Digest.String()] = true
		}
	}
	keep := ms[:0]
	for _, m := range ms {
		r, err := ParseReference(m.Annotations[ocispec.AnnotationRefName])
		if err == nil && isCosignRef(r.String()) && !named[r.RepositoryName()+"@"+cosignTagDigest(r.Tag)] {
			continue
		}
		keep = append(keep, m)
	}
	return keep
}

// untag removes the tag ref (a full reference) from the index, if it is there. Its blobs stay
// until the next garbage collection.
func (s *Store) untag(ref string) error {
	return s.untagThen(ref, nil)
}

// untagThen removes the entry tagged ref (a full reference) from the index, passes the others
// to then (when not nil) and writes what it returns, all under the index lock. The index is
// left alone when nothing changes.
func (s *Store) untagThen(ref string, then func(keep []ocispec.Descriptor) []ocispec.Descriptor) error {
	return s.withLock(indexLock, unix.LOCK_EX, func() error {
		idx, err := s.readIndex()
		if err != nil {
			return err
		}
		n := len(idx.Manifests)
		keep := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Annotations[ocispec.AnnotationRefName] != ref {
				keep = append(keep, m)
			}
		}
		if then != nil {
			keep = then(keep)
		} else if len(keep) == n {
			return nil
		}
		return s.writeIndex(keep)
	})
}

// GC deletes every blob that no tag reaches, and leftovers of interrupted writes.
func (s *Store) GC(ctx context.Context) ([]string, error) {
	var removed []string
	err := s.withLock(gcLock, unix.LOCK_EX, func() error {
		var err error
		removed, err = s.gc(ctx)
		return err
	})
	return removed, err
}

// gc runs with gc.lock held exclusively, so no copy into the store is in flight.
func (s *Store) gc(ctx context.Context) ([]string, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	reach := map[digest.Digest]bool{}
	var walk func(d ocispec.Descriptor) error
	walk = func(d ocispec.Descriptor) error {
		if reach[d.Digest] {
			return nil
		}
		reach[d.Digest] = true
		if !isManifestType(d.MediaType) {
			return nil
		}
		succ, err := content.Successors(ctx, s, d)
		if err != nil {
			if errors.Is(err, errdef.ErrNotFound) {
				return nil
			}
			return fmt.Errorf("walking %s: %w", d.Digest, err)
		}
		for _, c := range succ {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, m := range idx.Manifests {
		if err := walk(m); err != nil {
			return nil, err
		}
	}
	var removed []string
	base := filepath.Join(s.root, blobsDir)
	algs, err := os.ReadDir(base)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, a := range algs {
		files, err := os.ReadDir(filepath.Join(base, a.Name()))
		if err != nil {
			return removed, err
		}
		for _, f := range files {
			d := digest.NewDigestFromEncoded(digest.Algorithm(a.Name()), f.Name())
			if reach[d] {
				continue
			}
			if err := os.Remove(filepath.Join(base, a.Name(), f.Name())); err != nil {
				return removed, fmt.Errorf("deleting unused blob %s: %w", d, err)
			}
			removed = append(removed, d.String())
		}
	}
	os.RemoveAll(filepath.Join(s.root, ingestDir))
	sort.Strings(removed)
	return removed, nil
}

func isManifestType(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, mediaTypeDockerManifest, mediaTypeDockerManifestList:
		return true
	}
	return false
}

// holdForCopy keeps garbage collection away while a copy writes blobs and tags them.
func (s *Store) holdForCopy(fn func() error) error {
	return s.withLock(gcLock, unix.LOCK_SH, fn)
}
