// Package selfimage assembles container images from files on the build machine, without
// Docker or any other builder: Gadgetry's own image (the static gadgetry binary, for the
// Kubernetes DaemonSet) and the tiny pause image the test cluster uses. An image is one layer
// (a gzipped tarball of the files), an OCI image config and an OCI manifest, built in memory
// with the image-spec types and oras-go's memory store; the same bytes for the same files.
//
// An image is written as an OCI image layout tarball (oci.ExportImages: what
// `ctr images import`, `gadgetry image import`, podman and skopeo read) or pushed to a registry
// through oci.Registry (credentials, plain-HTTP hosts, CAs as for gadget images).
package selfimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	"github.com/gadgetry/gadgetry/oci"
)

// epoch is the time every entry and the image config carry, so that the same files give the
// same image digest.
var epoch = time.Unix(0, 0).UTC()

// File is one entry of the image's layer.
type File struct {
	// Path is the absolute path in the image ("/usr/bin/gadgetry").
	Path string
	// Mode is the permission bits (0o755 for a program). A directory is a File with Dir set.
	Mode os.FileMode
	// Dir makes the entry a directory (Data is ignored).
	Dir bool
	// Data is the file's content.
	Data []byte
}

// Spec says what goes into an image.
type Spec struct {
	// Files are the layer's entries. Parent directories are added (0755) when missing.
	Files []File
	// Entrypoint and Cmd are the image config's.
	Entrypoint, Cmd []string
	// Env is the image config's environment ("KEY=value").
	Env []string
	// Labels are the image config's labels.
	Labels map[string]string
	// Arch is the platform's architecture; empty means the build machine's (GOARCH).
	Arch string
}

// Image is an assembled image held in memory.
type Image struct {
	// Manifest is the descriptor of the image's manifest.
	Manifest ocispec.Descriptor
	// Config is the descriptor of the image config.
	Config ocispec.Descriptor
	store  *memory.Store
}

// Build assembles spec into an image.
func Build(ctx context.Context, spec Spec) (*Image, error) {
	if len(spec.Files) == 0 {
		return nil, errors.New("image: no files to put in it")
	}
	arch := spec.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	layer, diffID, err := layerTar(spec.Files)
	if err != nil {
		return nil, err
	}
	cfg := ocispec.Image{
		Created:  &epoch,
		Platform: ocispec.Platform{OS: "linux", Architecture: arch},
		Config: ocispec.ImageConfig{
			Entrypoint: spec.Entrypoint,
			Cmd:        spec.Cmd,
			Env:        spec.Env,
			Labels:     spec.Labels,
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History: []ocispec.History{{
			Created:   &epoch,
			CreatedBy: "gadgetry selfimage",
		}},
	}
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	st := memory.New()
	push := func(mediaType string, b []byte) (ocispec.Descriptor, error) {
		d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := st.Push(ctx, d, bytes.NewReader(b)); err != nil {
			return d, fmt.Errorf("image: storing a blob in memory: %w", err)
		}
		return d, nil
	}
	cfgDesc, err := push(ocispec.MediaTypeImageConfig, cfgBytes)
	if err != nil {
		return nil, err
	}
	layerDesc, err := push(ocispec.MediaTypeImageLayerGzip, layer)
	if err != nil {
		return nil, err
	}
	man := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	}
	manBytes, err := json.Marshal(man)
	if err != nil {
		return nil, err
	}
	manDesc, err := push(ocispec.MediaTypeImageManifest, manBytes)
	if err != nil {
		return nil, err
	}
	manDesc.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
	return &Image{Manifest: manDesc, Config: cfgDesc, store: st}, nil
}

// layerTar returns the gzipped tarball of files and the digest of the uncompressed tarball
// (the config's diff id). Entries are sorted by path, owned by 0:0, with a fixed mtime.
func layerTar(files []File) ([]byte, digest.Digest, error) {
	entries := map[string]File{}
	for _, f := range files {
		p := path.Clean(f.Path)
		if !path.IsAbs(p) || p == "/" {
			return nil, "", fmt.Errorf("image: file path %q must be absolute, below /", f.Path)
		}
		rel := strings.TrimPrefix(p, "/")
		if _, dup := entries[rel]; dup {
			return nil, "", fmt.Errorf("image: %s is given twice", p)
		}
		f.Path = rel
		entries[rel] = f
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			if e, ok := entries[d]; ok {
				if !e.Dir {
					return nil, "", fmt.Errorf("image: /%s is a file and the parent of /%s", d, rel)
				}
				continue
			}
			entries[d] = File{Path: d, Dir: true, Mode: 0o755}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, n := range names {
		f := entries[n]
		h := &tar.Header{Name: n, Mode: int64(f.Mode.Perm()), ModTime: epoch, Format: tar.FormatPAX}
		if f.Mode&os.ModeSticky != 0 {
			h.Mode = int64(f.Mode.Perm()) | 0o1000
		}
		if f.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", err
		}
		if !f.Dir {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, "", err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID := digest.FromBytes(raw.Bytes())
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), diffID, nil
}

// ContainerReference normalizes a container image reference the way container runtimes and
// Kubernetes do (not as gadget references are): a first component without '.' or ':' that is
// not "localhost" means Docker Hub, a single component is in library/, no tag means latest.
// "gadgetry:dev" is "docker.io/library/gadgetry:dev".
func ContainerReference(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("image reference is empty")
	}
	name, tag := ref, ""
	var dgst string
	if i := strings.Index(name, "@"); i >= 0 {
		name, dgst = name[:i], name[i+1:]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	parts := strings.Split(name, "/")
	if len(parts) == 1 || !(strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		if len(parts) == 1 {
			parts = append([]string{"library"}, parts...)
		}
		parts = append([]string{"docker.io"}, parts...)
	}
	if tag == "" && dgst == "" {
		tag = "latest"
	}
	out := strings.Join(parts, "/")
	if tag != "" {
		out += ":" + tag
	}
	if dgst != "" {
		out += "@" + dgst
	}
	r, err := oci.ParseReference(out)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r.String(), nil
}

// WriteTar writes the image as an OCI image layout tarball naming it ref (normalized with
// ContainerReference, in the org.opencontainers.image.ref.name annotation): the format of
// `ctr images import` and `gadgetry image import`.
func (img *Image) WriteTar(ctx context.Context, ref string, w io.Writer) error {
	full, err := ContainerReference(ref)
	if err != nil {
		return err
	}
	const tag = "image"
	if err := img.store.Tag(ctx, img.Manifest, tag); err != nil {
		return err
	}
	return oci.ExportImages(ctx, []oci.ExportImage{{Src: img.store, Name: tag, As: full}}, w)
}

// Push copies the image to the registry ref names (normalized with ContainerReference), with
// reg's credentials and settings, and returns the manifest's descriptor.
func (img *Image) Push(ctx context.Context, reg *oci.Registry, ref string) (ocispec.Descriptor, error) {
	full, err := ContainerReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	r, err := oci.ParseReference(full)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if r.Digest != "" {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: name a tag, not a digest (the image's digest is %s)", ref, img.Manifest.Digest)
	}
	repo, err := reg.Repository(r)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := oras.CopyGraph(ctx, img.store, repo, img.Manifest, oras.DefaultCopyGraphOptions); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing %s: %w", full, oci.Explain(repo, err))
	}
	if err := repo.Tag(ctx, img.Manifest, r.Object()); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("tagging %s: %w", full, oci.Explain(repo, err))
	}
	return img.Manifest, nil
}
