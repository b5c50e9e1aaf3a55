package oci_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

// Functions given a reference do not repeat it (the caller names the image once), and their
// messages are whole: checked here without a registry; cmd/gadgetry's TestCLIErrors checks the
// registry's through the CLI.
func TestErrorMessages(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, tag := range []string{"localhost/g:v1", "localhost/g:v2"} {
		if _, err := ocitest.Push(ctx, s, tag, ocitest.Simple("g")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ocitest.PushContainerImage(ctx, s, "localhost/plain:v1"); err != nil {
		t.Fatal(err)
	}
	multi := ocitest.Simple("multi")
	multi.EBPF["arm64"] = nil // an arm64 manifest without layers: not a gadget
	multi.WASM = nil
	if _, err := ocitest.Push(ctx, s, "localhost/multi:v1", multi); err != nil {
		t.Fatal(err)
	}
	tampered := ocitest.Simple("t")
	tampered.WASM = []byte("wasm of t")
	if _, err := ocitest.Push(ctx, s, "localhost/t:v1", tampered); err != nil {
		t.Fatal(err)
	}
	wasm := ocitest.Digest(tampered.WASM)
	if err := os.WriteFile(filepath.Join(s.Root(), "blobs", "sha256", strings.TrimPrefix(wasm, "sha256:")), []byte("WASM of t"), 0o644); err != nil {
		t.Fatal(err)
	}
	const notGadget = `not a gadget image: it is an ordinary container image (artifactType "", config media type "application/vnd.oci.image.config.v1+json"; a gadget has artifactType "application/vnd.gadget.v1+binary")`
	tamperedMsg := "layer " + wasm + " does not match its descriptor (mismatched digest): the local store's copy is corrupt or was tampered with; remove the image (gadgetry image rm) and pull it again"
	for _, tc := range []struct {
		name string
		err  func() error
		is   error
		want string
	}{
		{"missing tag", func() error { _, err := oci.Load(ctx, s, "localhost/g:v3", "amd64"); return err },
			oci.ErrNotFound, "not in the local store (available: localhost/g:v1, localhost/g:v2)"},
		{"empty store", func() error { _, err := oci.Load(ctx, newStore(t), "localhost/g:v1", "amd64"); return err },
			oci.ErrNotFound, "not in the local store (the store is empty)"},
		{"single manifest, not a gadget", func() error { _, _, err := oci.Stage(ctx, s, "localhost/plain:v1"); return err },
			oci.ErrNotGadget, notGadget},
		{"one architecture not a gadget", func() error { _, _, err := oci.Stage(ctx, s, "localhost/multi:v1"); return err },
			oci.ErrNotGadget, "the linux/arm64 manifest: not a gadget image: the manifest has neither an eBPF nor a WASM layer"},
		{"tampered blob, Load", func() error { _, err := oci.Load(ctx, s, "localhost/t:v1", "amd64"); return err },
			content.ErrMismatchedDigest, tamperedMsg},
		{"tampered blob, Stage", func() error { _, _, err := oci.Stage(ctx, s, "localhost/t:v1"); return err },
			content.ErrMismatchedDigest, tamperedMsg},
		{"tampered blob, Copy", func() error { _, err := oci.Copy(ctx, s, "localhost/t:v1", memory.New(), ""); return err },
			content.ErrMismatchedDigest, tamperedMsg},
		{"export of a missing image", func() error { return oci.Export(ctx, s, []string{"localhost/g:v9"}, nil) },
			oci.ErrNotFound, "exporting localhost/g:v9: not in the local store (available: localhost/g:v1, localhost/g:v2)"},
	} {
		err := tc.err()
		if err == nil || err.Error() != tc.want || !errors.Is(err, tc.is) {
			t.Errorf("%s: got %v\nwant %s (errors.Is %v)", tc.name, err, tc.want, tc.is)
		}
	}
}

// RefName gives the reference a user typed back from a repository and a tag or digest.
func TestRefName(t *testing.T) {
	repo, err := remote.NewRepository("127.0.0.1:5000/hx/g")
	if err != nil {
		t.Fatal(err)
	}
	dgst := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		src      any
		ref, out string
	}{
		{repo, "v1", "127.0.0.1:5000/hx/g:v1"},
		{repo, dgst, "127.0.0.1:5000/hx/g@" + dgst},
		{newStore(t), "localhost/g:v1", "localhost/g:v1"},
	} {
		if got := oci.RefName(tc.src, tc.ref); got != tc.out {
			t.Errorf("RefName(%T, %s) = %s, want %s", tc.src, tc.ref, got, tc.out)
		}
	}
	plain := errors.New("plain")
	if got := oci.Explain(newStore(t), plain); got != plain {
		t.Errorf("Explain of a store's error changed it: %v", got)
	}
}
