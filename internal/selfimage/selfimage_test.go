package selfimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
)

func TestContainerReference(t *testing.T) {
	for in, want := range map[string]string{
		"gadgetry:dev":                               "docker.io/library/gadgetry:dev",
		"gadgetry":                                   "docker.io/library/gadgetry:latest",
		"org/gadgetry:v1":                            "docker.io/org/gadgetry:v1",
		"ghcr.io/gadgetry/gadgetry:v1":               "ghcr.io/gadgetry/gadgetry:v1",
		"localhost/gadgetry:dev":                     "localhost/gadgetry:dev",
		"127.0.0.1:5000/gadgetry:dev":                "127.0.0.1:5000/gadgetry:dev",
		"gadgetry.test/pause:1":                      "gadgetry.test/pause:1",
		"registry:5000/a/b":                          "registry:5000/a/b:latest",
		"gadgetry@sha256:" + strings.Repeat("a", 64): "docker.io/library/gadgetry@sha256:" + strings.Repeat("a", 64),
	} {
		got, err := ContainerReference(in)
		if err != nil || got != want {
			t.Errorf("ContainerReference(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Gadgetry:dev", "a b", "x/:y"} {
		if got, err := ContainerReference(bad); err == nil {
			t.Errorf("ContainerReference(%q) = %q, want an error", bad, got)
		}
	}
}

// staticBinary builds the pause program, a small static binary.
func staticBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go")
	}
	bin := filepath.Join(t.TempDir(), "pause")
	cmd := exec.Command("go", "build", "-o", bin, "../k8stest/pause")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return bin
}

// layerEntries lists the entries of a gzipped layer: path → mode (with 'd' for directories).
func layerEntries(t *testing.T, gz []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		kind := "f"
		if h.Typeflag == tar.TypeDir {
			kind = "d"
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: owner %d:%d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		out[h.Name] = kind + " " + strings.TrimPrefix(os.FileMode(h.Mode).String(), "-")
	}
}

// TestGadgetryImage: the image holds the static binary as its entrypoint, the CA bundle and
// root's files, with parent directories; the same files give the same digest; the tarball
// names it as containerd does and imports into a gadgetry store; a dynamic binary is refused.
func TestGadgetryImage(t *testing.T) {
	bin := staticBinary(t)
	spec, err := Gadgetry(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, err := Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if img.Manifest.Digest != again.Manifest.Digest {
		t.Errorf("two builds of the same files: %s and %s", img.Manifest.Digest, again.Manifest.Digest)
	}
	manBytes, err := content.FetchAll(ctx, img.store, img.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(manBytes, &man); err != nil {
		t.Fatal(err)
	}
	cfgBytes, err := content.FetchAll(ctx, img.store, man.Config)
	if err != nil {
		t.Fatal(err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != GadgetryPath {
		t.Errorf("config: os %q entrypoint %q", cfg.OS, cfg.Config.Entrypoint)
	}
	layer, err := content.FetchAll(ctx, img.store, man.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(layer))
	raw, _ := io.ReadAll(zr)
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != digest.FromBytes(raw) {
		t.Errorf("diff ids %v, want the uncompressed layer's digest %s", cfg.RootFS.DiffIDs, digest.FromBytes(raw))
	}
	entries := layerEntries(t, layer)
	for name, want := range map[string]string{
		"usr/":                              "d rwxr-xr-x",
		"usr/bin/":                          "d rwxr-xr-x",
		"usr/bin/gadgetry":                  "f rwxr-xr-x",
		"etc/ssl/certs/ca-certificates.crt": "f rw-r--r--",
		"etc/passwd":                        "f rw-r--r--",
		"tmp/":                              "d rwxrwxrwx",
		"var/lib/gadgetry/":                 "d rwxr-xr-x",
	} {
		if got := entries[name]; got != want {
			t.Errorf("layer entry %s: %q, want %q (all: %v)", name, got, want, entries)
		}
	}

	tarball := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := img.WriteTar(ctx, "gadgetry:dev", f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// The layout: index.json names the manifest as containerd's import wants, every blob is
	// there under its digest.
	files := map[string][]byte{}
	rf, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	tr := tar.NewReader(rf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != img.Manifest.Digest || idx.Manifests[0].Annotations[ocispec.AnnotationRefName] != "docker.io/library/gadgetry:dev" {
		t.Errorf("index.json: %s", files["index.json"])
	}
	if _, ok := files[ocispec.ImageLayoutFile]; !ok {
		t.Error("no oci-layout file")
	}
	for _, d := range []ocispec.Descriptor{img.Manifest, man.Config, man.Layers[0]} {
		b, ok := files["blobs/sha256/"+d.Digest.Encoded()]
		if !ok || digest.FromBytes(b) != d.Digest {
			t.Errorf("blob %s missing or wrong", d.Digest)
		}
	}

	if _, err := Gadgetry("/bin/sh"); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("a dynamic binary: %v", err)
	}
	if _, err := Build(ctx, Spec{Files: []File{{Path: "relative", Data: []byte("x")}}}); err == nil {
		t.Error("a relative path was accepted")
	}
	if _, err := Build(ctx, Spec{Files: []File{{Path: "/a", Data: []byte("x")}, {Path: "/a/b", Data: []byte("y")}}}); err == nil {
		t.Error("a file as a parent directory was accepted")
	}
}

// TestPush: the image goes to a real registry and comes back with the same digest.
func TestPush(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	spec, err := Pause(staticBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, err := Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/gadgetry/pause:test"
	d, err := img.Push(ctx, &oci.Registry{Insecure: []string{reg.Host}}, ref)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := oci.ParseReference(ref)
	repo, err := (&oci.Registry{Insecure: []string{reg.Host}}).Repository(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := repo.Resolve(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d.Digest || d.Digest != img.Manifest.Digest {
		t.Errorf("the registry has %s, pushed %s", got.Digest, d.Digest)
	}
	if _, err := img.Push(ctx, &oci.Registry{Insecure: []string{reg.Host}}, reg.Host+"/x@"+string(img.Manifest.Digest)); err == nil {
		t.Error("a push to a digest was accepted")
	}
}
