package oci_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
	orasoci "oras.land/oras-go/v2/content/oci"
)

func newStore(t *testing.T) *oci.Store {
	t.Helper()
	s, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// snapshot returns every file of a directory tree with its content, to compare "before/after".
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func TestStoreTagResolveLoad(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img := ocitest.Simple("trace_x")
	root, err := ocitest.Push(ctx, s, "localhost:5000/g/trace_x:v1", img)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"localhost:5000/g/trace_x:v1", root.Digest.String()} {
		d, err := s.Resolve(ctx, ref)
		if err != nil || d.Digest != root.Digest {
			t.Fatalf("Resolve(%q) = %v, %v", ref, d.Digest, err)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		g, err := oci.Load(ctx, s, "localhost:5000/g/trace_x:v1", arch)
		if err != nil {
			t.Fatal(err)
		}
		if g.Digest != root.Digest.String() || g.Arch != arch || string(g.EBPF) != "ebpf-"+arch+"-trace_x" ||
			string(g.WASM) != "wasm-trace_x" || string(g.Metadata) != string(img.Metadata) || g.Annotations["org.opencontainers.image.title"] != "trace_x" {
			t.Fatalf("Load(%s) = %+v", arch, g)
		}
	}
	// A bare name is normalized with the default prefix.
	if _, err := ocitest.Push(ctx, s, "trace_y", ocitest.Simple("trace_y")); err != nil {
		t.Fatal(err)
	}
	es, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, e := range es {
		refs = append(refs, e.Ref)
	}
	want := []string{"ghcr.io/inspektor-gadget/gadget/trace_y:latest", "localhost:5000/g/trace_x:v1"}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("List = %v, want %v", refs, want)
	}
	if _, err := oci.Load(ctx, s, "trace_y", "amd64"); err != nil {
		t.Fatal(err)
	}
	// The layout is a standard one: oras reads it.
	ro, err := orasoci.NewFromFS(ctx, os.DirFS(s.Root()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Load(ctx, ro, "localhost:5000/g/trace_x:v1", "amd64"); err != nil {
		t.Fatalf("oras reading our store: %v", err)
	}
}

func TestLoadSingleManifest(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img := ocitest.Simple("single")
	img.SingleManifest = true
	img.Metadata = nil
	root, err := ocitest.Push(ctx, s, "localhost/single", img)
	if err != nil {
		t.Fatal(err)
	}
	g, err := oci.Load(ctx, s, "localhost/single", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if g.ManifestDigest != root.Digest.String() || g.Metadata != nil {
		t.Fatalf("got %+v", g)
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := ocitest.Push(ctx, s, "localhost/g:v1", ocitest.Simple("g")); err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.Push(ctx, s, "localhost/g:v2", ocitest.Simple("g")); err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.PushContainerImage(ctx, s, "localhost/busybox:1"); err != nil {
		t.Fatal(err)
	}
	bad := ocitest.Simple("bad")
	bad.Metadata = []byte("name: bad\ndatasource:\n  x: {}\n")
	if _, err := ocitest.Push(ctx, s, "localhost/bad", bad); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref, arch string
		is        error
		want      string
	}{
		{"localhost/g:v3", "amd64", oci.ErrNotFound, "available: localhost/g:v1, localhost/g:v2"},
		{"localhost/g:v1", "riscv64", oci.ErrNoArch, "linux/riscv64 (available: linux/amd64, linux/arm64)"},
		{"localhost/busybox:1", "amd64", oci.ErrNotGadget, "an ordinary container image"},
		{"localhost/bad", "amd64", nil, `gadget.yaml:2: unknown key "datasource" in the metadata file (did you mean "datasources"?)`},
	} {
		_, err := oci.Load(ctx, s, tc.ref, tc.arch)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("Load(%s, %s) = %v; want %q", tc.ref, tc.arch, err, tc.want)
		}
	}
}

func TestLoadUnknownLayerWarns(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img := ocitest.Simple("w")
	img.ExtraLayers = []ocitest.Layer{{MediaType: "application/vnd.example.future+binary", Data: []byte("x")}}
	if _, err := ocitest.Push(ctx, s, "localhost/w", img); err != nil {
		t.Fatal(err)
	}
	g, err := oci.Load(ctx, s, "localhost/w", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "application/vnd.example.future+binary") {
		t.Fatalf("warnings = %q", g.Warnings)
	}
}

// A blob whose content does not match its digest fails Load and Copy, and Copy leaves the
// destination as it was.
func TestDigestMismatch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img := ocitest.Simple("m")
	if _, err := ocitest.Push(ctx, s, "localhost/m", img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.Root(), "blobs", "sha256", strings.TrimPrefix(ocitest.Digest(img.WASM), "sha256:"))
	if err := os.WriteFile(p, []byte("wasm-M"), 0o644); err != nil { // same size, other bytes
		t.Fatal(err)
	}
	_, err := oci.Load(ctx, s, "localhost/m", "amd64")
	if err == nil || !strings.Contains(err.Error(), "does not match its descriptor") {
		t.Fatalf("Load of a tampered blob: %v", err)
	}
	dst := newStore(t)
	before := snapshot(t, dst.Root())
	if _, err := oci.Copy(ctx, s, "localhost/m", dst, ""); err == nil || !strings.Contains(err.Error(), "does not match its descriptor") {
		t.Fatalf("Copy of a tampered image: %v", err)
	}
	if after := snapshot(t, dst.Root()); !reflect.DeepEqual(before, after) {
		t.Fatalf("failed copy changed the destination: %v", after)
	}
}

func TestCopyRefusesNonGadget(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := ocitest.PushContainerImage(ctx, s, "localhost/busybox:1"); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	before := snapshot(t, dst.Root())
	_, err := oci.Copy(ctx, s, "localhost/busybox:1", dst, "")
	if !errors.Is(err, oci.ErrNotGadget) {
		t.Fatalf("got %v", err)
	}
	if after := snapshot(t, dst.Root()); !reflect.DeepEqual(before, after) {
		t.Fatalf("failed copy changed the destination")
	}
}

// The built-in catalogue is a read-only layout in an fs.FS: it is a Copy source like any other.
func TestCopyFromReadOnlyFS(t *testing.T) {
	ctx := context.Background()
	cat := newStore(t)
	root, err := ocitest.Push(ctx, cat, "", ocitest.Simple("trace_exec"))
	if err != nil {
		t.Fatal(err)
	}
	// A catalogue tags with bare names, which Store.Tag would normalize: write it with oras.
	layDir := t.TempDir()
	lay, err := orasoci.New(layDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Copy(ctx, cat, root.Digest.String(), lay, "trace_exec"); err != nil {
		t.Fatal(err)
	}
	fsys, err := orasoci.NewFromFS(ctx, os.DirFS(layDir))
	if err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	d, err := oci.Copy(ctx, fsys, "trace_exec", dst, "localhost/catalogue/trace_exec:v0")
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != root.Digest {
		t.Fatalf("digest changed: %s → %s", root.Digest, d.Digest)
	}
	if _, err := oci.Load(ctx, dst, "localhost/catalogue/trace_exec:v0", "arm64"); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRemove(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a := ocitest.Simple("a")
	b := ocitest.Simple("b")
	b.WASM = a.WASM // shared blob
	if _, err := ocitest.Push(ctx, s, "localhost/a", a); err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.Push(ctx, s, "localhost/b", b); err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.Push(ctx, s, "localhost/a2", a); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Remove(ctx, "localhost/a")
	if err != nil || len(removed) != 0 {
		t.Fatalf("removing one of two tags of an image: removed %v, %v", removed, err)
	}
	removed, err = s.Remove(ctx, "localhost/a2:latest")
	if err != nil {
		t.Fatal(err)
	}
	// a's index, 2 manifests, 2 eBPF objects, config; not the WASM blob b shares.
	if len(removed) != 6 {
		t.Fatalf("removed %d blobs: %v", len(removed), removed)
	}
	if _, err := oci.Load(ctx, s, "localhost/b", "amd64"); err != nil {
		t.Fatalf("b broken by removing a: %v", err)
	}
	if _, err := s.Remove(ctx, "localhost/nope"); !errors.Is(err, oci.ErrNotFound) || !strings.Contains(err.Error(), "localhost/b:latest") {
		t.Fatalf("removing a missing tag: %v", err)
	}
}

// Many concurrent writers (each with its own Store value, as separate processes would have)
// tag into one store; no tag is lost.
func TestStoreConcurrentTags(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := oci.OpenStore(dir)
			if err != nil {
				errs <- err
				return
			}
			src := newStore(t)
			name := fmt.Sprintf("localhost/c%d", i)
			if _, err := ocitest.Push(ctx, src, name, ocitest.Simple(fmt.Sprintf("c%d", i%4))); err != nil {
				errs <- err
				return
			}
			if _, err := oci.Copy(ctx, src, name, s, ""); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, _ := oci.OpenStore(dir)
	es, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 16 {
		t.Fatalf("%d tags after 16 concurrent copies", len(es))
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Ref)
		if _, err := oci.Load(ctx, s, e.Ref, "amd64"); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(names)
}
