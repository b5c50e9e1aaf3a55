package oci_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/internal/testregistry"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
	orasoci "oras.land/oras-go/v2/content/oci"
)

func TestResolver(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t, testregistry.Options{})
	regOpts := &oci.Registry{Insecure: []string{reg.Host}, AuthFile: emptyAuthFile(t)}
	prefix := reg.Host + "/gadget"

	// The catalogue: a read-only layout with bare-name tags.
	catDir := t.TempDir()
	lay, err := orasoci.New(catDir)
	if err != nil {
		t.Fatal(err)
	}
	builtin := ocitest.Simple("trace_exec")
	builtin.WASM = []byte("built-in")
	if _, err := ocitest.Push(ctx, lay, "trace_exec", builtin); err != nil {
		t.Fatal(err)
	}
	cat, err := orasoci.NewFromFS(ctx, os.DirFS(catDir))
	if err != nil {
		t.Fatal(err)
	}

	// The registry has trace_exec (a different one) and trace_open.
	src := newStore(t)
	for _, n := range []string{"trace_exec", "trace_open"} {
		if _, err := ocitest.Push(ctx, src, prefix+"/"+n+":latest", ocitest.Simple(n)); err != nil {
			t.Fatal(err)
		}
		if _, err := regOpts.Push(ctx, src, prefix+"/"+n+":latest"); err != nil {
			t.Fatal(err)
		}
	}

	store := newStore(t)
	r := &oci.Resolver{Catalogue: cat, Store: store, Registry: regOpts, DefaultPrefix: prefix}

	g, err := r.Resolve(ctx, "trace_exec", oci.PullMissing, "amd64")
	if err != nil || string(g.WASM) != "built-in" || g.Ref != "trace_exec" {
		t.Fatalf("bare name should come from the catalogue: %+v, %v", g, err)
	}
	if _, err := r.Resolve(ctx, "trace_open", oci.PullNever, "amd64"); err == nil || !strings.Contains(err.Error(), "pull policy is never") {
		t.Fatalf("never with an empty store: %v", err)
	}
	g, err = r.Resolve(ctx, "trace_open", oci.PullMissing, "arm64")
	if err != nil || string(g.EBPF) != "ebpf-arm64-trace_open" {
		t.Fatalf("pull on miss: %+v, %v", g, err)
	}
	if es, _ := store.List(ctx); len(es) != 1 || es[0].Ref != prefix+"/trace_open:latest" {
		t.Fatalf("store after pull: %+v", es)
	}
	if _, err := r.Resolve(ctx, "trace_open", oci.PullNever, "amd64"); err != nil {
		t.Fatalf("never with the image in the store: %v", err)
	}
	// A full reference skips the catalogue.
	g, err = r.Resolve(ctx, prefix+"/trace_exec", oci.PullAlways, "amd64")
	if err != nil || string(g.WASM) != "wasm-trace_exec" {
		t.Fatalf("full reference: %+v, %v", g, err)
	}
	// Without a store, a pull stays in memory.
	mem := &oci.Resolver{Registry: regOpts, DefaultPrefix: prefix}
	if g, err := mem.Resolve(ctx, "trace_open:latest", oci.PullMissing, "amd64"); err != nil || string(g.WASM) != "wasm-trace_open" {
		t.Fatalf("storeless resolve: %+v, %v", g, err)
	}
	if _, err := oci.ParsePullPolicy("sometimes"); err == nil {
		t.Fatal("bad pull policy accepted")
	}
}
