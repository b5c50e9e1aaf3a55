// Package vmtest helps tests that run both on the host and inside the qemu kernels booted by
// `make vmtest` (scripts/vmtest.sh). Which packages' tests run in the VM is declared once, in
// vmtest/packages; what a test needs from the kernel is declared with kernel.Require.
//
// The VM has no Go toolchain and no clang, so what a test would build on the host is built by
// scripts/vmtest.sh before packing: eBPF objects from the package's testdata/*.bpf.c (see
// BPFObject) and the static gadgetry binary (see Gadgetry).
package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// BPFObject returns the path of the eBPF object built from src, a path relative to the test's
// package directory such as "testdata/kprobe.bpf.c". Inside the VM it is the object
// scripts/vmtest.sh compiled beside the source ("testdata/kprobe.bpf.o"); on the host src is
// compiled by gadgettest.CompileFile (the flags scripts/vmtest.sh uses too) into a temporary
// directory. A missing clang skips the test, or fails it when CI=true.
func BPFObject(tb testing.TB, src string) string {
	tb.Helper()
	if !strings.HasSuffix(src, ".bpf.c") {
		tb.Fatalf("vmtest.BPFObject(%q): the source must be a .bpf.c file", src)
	}
	if kernel.InVM() {
		obj := strings.TrimSuffix(src, ".c") + ".o"
		if _, err := os.Stat(obj); err != nil {
			tb.Fatalf("eBPF object for %s: %v (scripts/vmtest.sh compiles testdata/*.bpf.c of the packages in vmtest/packages)", src, err)
		}
		return obj
	}
	obj := filepath.Join(tb.TempDir(), strings.TrimSuffix(filepath.Base(src), ".c")+".o")
	if err := os.WriteFile(obj, gadgettest.CompileFile(tb, src), 0o644); err != nil {
		tb.Fatal(err)
	}
	return obj
}

var (
	gadgetryOnce sync.Once
	gadgetryPath string
	gadgetryErr  error
)

// Gadgetry returns the path of a gadgetry binary built from this tree. Inside the VM it is the
// static binary scripts/vmtest.sh packed (GADGETRY_BIN); on the host GADGETRY_BIN is used when
// set, otherwise the binary is built once per test process into a temporary directory.
func Gadgetry(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("GADGETRY_BIN"); p != "" {
		return p
	}
	if kernel.InVM() {
		tb.Fatal("GADGETRY_BIN is not set inside the VM (vmtest/init sets it)")
	}
	gadgetryOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			gadgetryErr = err
			return
		}
		dir, err := os.MkdirTemp("", "gadgetry-bin-")
		if err != nil {
			gadgetryErr = err
			return
		}
		gadgetryPath = filepath.Join(dir, "gadgetry")
		cmd := exec.Command("go", "build", "-trimpath", "-o", gadgetryPath, "./cmd/gadgetry")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			gadgetryErr = fmt.Errorf("go build ./cmd/gadgetry: %v\n%s", err, out)
		}
	})
	if gadgetryErr != nil {
		tb.Fatalf("building gadgetry for the test: %v", gadgetryErr)
	}
	return gadgetryPath
}

func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format, args...)
}

// moduleRoot finds the repository root: the nearest directory above the working directory (a
// test's package directory) holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod above %s: run the test from inside the repository", dir)
		}
	}
}
