package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/content"
	orasoci "oras.land/oras-go/v2/content/oci"

	"github.com/gadgetry/gadgetry/oci"
)

func requireClang(t *testing.T) {
	t.Helper()
	for _, c := range []string{"clang-19", "clang"} {
		if _, err := exec.LookPath(c); err == nil {
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("clang not found in PATH (CI=true: missing tools are failures)")
	}
	t.Skip("clang not found in PATH")
}

const testProgram = `#include <gadget.h>
SEC("tracepoint/syscalls/sys_enter_execve")
int catalogue_test(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCatalogue builds a catalogue twice (identical bytes), reads it back as an OCI layout by
// bare name, and shows that -check reports a changed source.
func TestCatalogue(t *testing.T) {
	requireClang(t)
	ctx := context.Background()
	gadgets := t.TempDir()
	write(t, gadgets, map[string]string{
		"zeta/program.bpf.c":  testProgram,
		"zeta/gadget.yaml":    "name: zeta\n",
		"alpha/program.bpf.c": testProgram,
		"alpha/gadget.yaml":   "name: alpha\ndescription: first\n",
		"alpha/build.yaml":    "wasm: mod.wasm\n",
		"alpha/mod.wasm":      "\x00asm\x01\x00\x00\x00",
		"include/gadget.h":    "/* not a gadget: no gadget.yaml */\n",
	})
	outRoot := t.TempDir()
	out := filepath.Join(outRoot, "catalogue")
	// A file that is not part of the layout (the embedding Go package) survives and is not
	// compared; a stale blob does not survive.
	write(t, out, map[string]string{"catalogue.go": "package catalogue\n", "blobs/sha256/stale": "x"})
	if err := run(ctx, gadgets, out, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "catalogue.go")); err != nil {
		t.Errorf("the rebuild removed a file that is not part of the layout: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "blobs/sha256/stale")); err == nil {
		t.Errorf("the rebuild kept a stale blob")
	}
	if err := run(ctx, gadgets, out, true, false); err != nil {
		t.Fatalf("check right after a build: %v", err)
	}
	idx, err := os.ReadFile(filepath.Join(out, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a, z := strings.Index(string(idx), `"alpha"`), strings.Index(string(idx), `"zeta"`); a < 0 || z < a {
		t.Errorf("index.json does not list alpha then zeta:\n%s", idx)
	}
	if strings.Contains(string(idx), "include") {
		t.Errorf("a directory without gadget.yaml was built:\n%s", idx)
	}

	store, err := orasoci.NewFromFS(ctx, os.DirFS(out))
	if err != nil {
		t.Fatalf("the catalogue is not a readable OCI layout: %v", err)
	}
	desc, err := store.Resolve(ctx, "alpha")
	if err != nil {
		t.Fatalf("resolving alpha: %v", err)
	}
	manifests, err := content.Successors(ctx, store, desc)
	if err != nil || len(manifests) != 2 {
		t.Fatalf("alpha: %d manifests, err %v", len(manifests), err)
	}
	if ok, err := store.Exists(ctx, manifests[1]); err != nil || !ok {
		t.Errorf("arm64 manifest blob missing: %v", err)
	}
	layers, err := content.Successors(ctx, store, manifests[0])
	if err != nil || len(layers) != 3 { // config, ebpf, wasm
		t.Fatalf("alpha amd64: %d children, err %v", len(layers), err)
	}

	// The runtime's loader reads a catalogue image by its bare name.
	g, err := oci.Load(ctx, store, "alpha", "arm64")
	if err != nil {
		t.Fatalf("oci.Load(alpha, arm64) from the catalogue: %v", err)
	}
	if string(g.Metadata) != "name: alpha\ndescription: first\n" || len(g.EBPF) == 0 || len(g.WASM) != 8 {
		t.Errorf("alpha loaded as metadata %q, %d eBPF bytes, %d WASM bytes", g.Metadata, len(g.EBPF), len(g.WASM))
	}

	// A changed source makes -check fail and name the files that differ.
	write(t, gadgets, map[string]string{"zeta/gadget.yaml": "name: zeta\ndescription: changed\n"})
	err = run(ctx, gadgets, out, true, false)
	if err == nil || !strings.Contains(err.Error(), "out of date") || !strings.Contains(err.Error(), "index.json: differs") {
		t.Fatalf("check after a source change: %v", err)
	}
	// The check leaves no temporary directory behind.
	entries, _ := os.ReadDir(outRoot)
	if len(entries) != 1 {
		t.Errorf("%s holds %d entries after the check, want only catalogue", outRoot, len(entries))
	}
}

// TestEmptyCatalogue writes a valid layout with no images.
func TestEmptyCatalogue(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "catalogue")
	if err := run(ctx, t.TempDir(), out, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := orasoci.NewFromFS(ctx, os.DirFS(out)); err != nil {
		t.Fatalf("the empty catalogue is not a readable OCI layout: %v", err)
	}
	if err := run(ctx, t.TempDir(), out, true, false); err != nil {
		t.Fatalf("check: %v", err)
	}
}
