// Package gadgettest helps tests build and run real gadgets: it compiles C test gadgets with
// clang (once per test binary run), wraps objects as images, makes uniquely named executables
// to exec, and lists the kernel's BPF objects to prove a run left nothing behind.
package gadgettest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetry/gadgetry/oci"
)

var (
	mu    sync.Mutex
	cache = map[string][]byte{}
)

// IncludeDir returns the directory of the gadget C headers (gadgets/include).
func IncludeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "gadgets", "include")
}

// TestdataDir returns runtime/testdata.
func TestdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// RequireTool finds a tool, skipping the test when it is missing, or failing with CI=true.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required (CI=true): %v; run scripts/setup.sh", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// RequireRoot skips (or fails in CI) when not running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("tests need root to load eBPF programs (CI=true)")
		}
		t.Skip("not root: cannot load eBPF programs")
	}
}

// Compile compiles runtime/testdata/<name>.bpf.c and returns the object (cached per process).
// extraFlags are passed to clang (e.g. "-DFOO").
func Compile(t testing.TB, name string, extraFlags ...string) []byte {
	t.Helper()
	return CompileFile(t, filepath.Join(TestdataDir(), name+".bpf.c"), extraFlags...)
}

// CompileFile compiles a BPF C source the way `gadgetry image build` does for the host's
// architecture (clang-19 -target bpf -O2 -g against gadgets/include and the source's own
// directory, then llvm-strip-19 -g: BTF kept, DWARF dropped) and returns the object. Results
// are cached per process by path and flags. Missing tools skip the test, or fail it with CI=true.
// This is the one place tests compile BPF programs on the host (vmtest.BPFObject uses it too).
func CompileFile(t testing.TB, src string, extraFlags ...string) []byte {
	t.Helper()
	src, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	key := src + " " + strings.Join(extraFlags, " ")
	mu.Lock()
	defer mu.Unlock()
	if b, ok := cache[key]; ok {
		return b
	}
	clang := RequireTool(t, "clang-19")
	strip := RequireTool(t, "llvm-strip-19")
	dir, err := os.MkdirTemp("", "gadgettest-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir) // the object is cached in memory
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
	arch := map[string]string{"amd64": "x86", "arm64": "arm64"}[runtime.GOARCH]
	args := append([]string{"-target", "bpf", "-D__TARGET_ARCH_" + arch, "-O2", "-g", "-Wall",
		"-I" + IncludeDir(), "-I" + filepath.Dir(src)}, extraFlags...)
	args = append(args, "-c", src, "-o", out)
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Fatalf("compiling %s: %v\n%s", src, err, b)
	}
	if b, err := exec.Command(strip, "-g", out).CombinedOutput(); err != nil {
		t.Fatalf("stripping %s: %v\n%s", out, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cache[key] = b
	return b
}

// Image wraps an eBPF object and a gadget.yaml as the runtime's view of an image.
func Image(name string, obj []byte, gadgetYAML string) *oci.Gadget {
	return &oci.Gadget{Ref: name, Arch: runtime.GOARCH, EBPF: obj, Metadata: []byte(gadgetYAML)}
}

// UniqueExecutable copies /bin/true to a temporary file with a unique name of at most 15
// characters (so it is the whole comm of the process that runs it) and returns its path.
func UniqueExecutable(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	var r [5]byte
	_, _ = rand.Read(r[:])
	p := filepath.Join(t.TempDir(), "gt"+hex.EncodeToString(r[:]))
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
