package build_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/content/memory"

	"github.com/gadgetry/gadgetry/oci/build"
)

// TestBuildIndependentOfPaths builds one program from directories whose paths differ in
// length, with temporary directories ($TMPDIR, where the embedded headers are written) of
// different lengths too, and wants the same image every time. LLVM's BTF writer orders some
// forward declarations by heap address, and the heap's layout follows the lengths of the
// paths clang handles: without the builder's staging directory (newStage), these
// builds of traceloop's program give two different objects, as the CI machine's clone and
// this machine's did.
func TestBuildIndependentOfPaths(t *testing.T) {
	requireTools(t, "clang", "llvm-strip")
	t.Setenv("SOURCE_DATE_EPOCH", "0")
	src, err := os.ReadFile(filepath.Join("..", "..", "gadgets", "traceloop", "program.bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join("..", "..", "gadgets", "traceloop", "gadget.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	var first string
	for i := 0; i < 16; i++ {
		dir := filepath.Join(root, "src", "g"+strings.Repeat("x", i))
		tmp := filepath.Join(root, "tmp", "t"+strings.Repeat("x", 15-i))
		for _, d := range []string{dir, tmp} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "program.bpf.c"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "gadget.yaml"), meta, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("TMPDIR", tmp)
		desc, err := build.Build(context.Background(), dir, build.Options{Target: memory.New(), Archs: []string{"arm64"}})
		if err != nil {
			t.Fatalf("building from %s: %v", dir, err)
		}
		got := desc.Digest.String()
		if first == "" {
			first = got
			continue
		}
		if got != first {
			t.Errorf("built from %s (TMPDIR %s): %s; from the first directory: %s", dir, tmp, got, first)
		}
	}
}
