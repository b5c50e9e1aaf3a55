package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// layoutEntry is one tagged image of the layout.
type layoutEntry struct {
	name string
	desc ocispec.Descriptor
}

// writeLayout writes an OCI image layout into dir holding the entries' graphs, with index.json
// listing them sorted by name and tagged (org.opencontainers.image.ref.name) with the name.
// Nothing else is written, so the same entries always give the same files.
func writeLayout(ctx context.Context, src content.ReadOnlyStorage, entries []layoutEntry, dir string) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	// blobs/sha256 is created with the first blob: git keeps no empty directory, so an empty
	// catalogue must not have one either, or a fresh checkout would differ from a build.
	blobDir := filepath.Join(dir, ocispec.ImageBlobsDir, "sha256")
	written := map[string]bool{}
	var copyGraph func(d ocispec.Descriptor) error
	copyGraph = func(d ocispec.Descriptor) error {
		if written[d.Digest.String()] {
			return nil
		}
		data, err := content.FetchAll(ctx, src, d)
		if err != nil {
			return fmt.Errorf("reading %s %s: %w", d.MediaType, d.Digest, err)
		}
		if err := os.MkdirAll(blobDir, 0o755); err != nil {
			return fmt.Errorf("writing the layout: %w", err)
		}
		if err := os.WriteFile(filepath.Join(blobDir, d.Digest.Encoded()), data, 0o644); err != nil {
			return fmt.Errorf("writing the layout: %w", err)
		}
		written[d.Digest.String()] = true
		successors, err := content.Successors(ctx, src, d)
		if err != nil {
			return fmt.Errorf("reading the children of %s: %w", d.Digest, err)
		}
		for _, s := range successors {
			if err := copyGraph(s); err != nil {
				return err
			}
		}
		return nil
	}
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
	for i, e := range entries {
		if i > 0 && entries[i-1].name == e.name {
			return fmt.Errorf("two gadgets named %q", e.name)
		}
		if err := copyGraph(e.desc); err != nil {
			return err
		}
		d := e.desc
		d.Annotations = map[string]string{ocispec.AnnotationRefName: e.name}
		index.Manifests = append(index.Manifests, d)
	}
	indexJSON, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return err
	}
	layoutJSON, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		ocispec.ImageIndexFile:  append(indexJSON, '\n'),
		ocispec.ImageLayoutFile: layoutJSON,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("writing the layout: %w", err)
		}
	}
	return nil
}

// layoutFiles are the top-level entries of an OCI image layout directory that writeLayout
// writes.
var layoutFiles = []string{ocispec.ImageLayoutFile, ocispec.ImageIndexFile, ocispec.ImageBlobsDir}

// compareTrees lists the differences between the layout files under want (committed) and got
// (rebuilt), as "path: missing …", "path: committed but not built …", "path: differs …".
func compareTrees(want, got string) ([]string, error) {
	read := func(root string) (map[string][]byte, error) {
		files := map[string][]byte{}
		for _, name := range layoutFiles {
			if err := readTree(root, name, files); err != nil {
				return nil, err
			}
		}
		return files, nil
	}
	w, err := read(want)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", want, err)
	}
	g, err := read(got)
	if err != nil {
		return nil, fmt.Errorf("reading the rebuilt layout: %w", err)
	}
	var diffs []string
	for p, data := range g {
		old, ok := w[p]
		switch {
		case !ok:
			diffs = append(diffs, p+": missing (the sources build it, it is not committed)")
		case !bytes.Equal(old, data):
			diffs = append(diffs, p+": differs from what the sources build")
		}
	}
	for p := range w {
		if _, ok := g[p]; !ok {
			diffs = append(diffs, p+": committed but not built from any source")
		}
	}
	sort.Strings(diffs)
	return diffs, nil
}

// readTree adds the regular files under root/name (a file or a directory) to files, keyed by
// their slash-separated path relative to root. A missing name adds nothing.
func readTree(root, name string, files map[string][]byte) error {
	err := filepath.WalkDir(filepath.Join(root, name), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
