package gadgettest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetry/gadgetry/oci/build"
)

// RepoRoot returns the root of this repository's checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Main runs a package's tests and then removes SharedDir (and so what CLI built). Use it from
// TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(gadgettest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared.mu.Unlock()
	return code
}

var shared struct {
	mu  sync.Mutex
	dir string
}

// SharedDir returns a directory that lives as long as the test binary (for what several tests
// share: a built binary, an image store); Main removes it.
func SharedDir(t testing.TB) string {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir == "" {
		d, err := os.MkdirTemp("", "gadgettest-shared-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = d
	}
	return shared.dir
}

var cli struct {
	mu  sync.Mutex
	bin string
	err error
}

// CLI returns a gadgetry binary built from this repository (`go build ./cmd/gadgetry`) into
// SharedDir, once per test binary. A missing go
// toolchain skips the test, or fails it with CI=true.
func CLI(t testing.TB) string {
	t.Helper()
	RequireTool(t, "go")
	cli.mu.Lock()
	defer cli.mu.Unlock()
	if cli.bin == "" && cli.err == nil {
		bin := filepath.Join(SharedDir(t), "gadgetry")
		build := exec.Command("go", "build", "-o", bin, "./cmd/gadgetry")
		build.Dir = RepoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			cli.err = fmt.Errorf("go build ./cmd/gadgetry: %v\n%s", err, out)
		} else {
			cli.bin = bin
		}
	}
	if cli.err != nil {
		t.Fatal(cli.err)
	}
	return cli.bin
}

// BuildImage builds the gadget in dir (gadget.yaml, program.bpf.c, go/) into store and tags it,
// for the host's architecture: `gadgetry --store STORE image build DIR --arch GOARCH -t TAG`.
// Where no TinyGo is found it adds --wasm-toolchain=go, so a gadget whose build.yaml asks for
// TinyGo (traceloop, block_exec) is built with standard Go and its tests still run: TinyGo is in
// no package registry and CI machines may lack it, and those tests are about the gadget, not
// the toolchain (the toolchain's own tests use RequireTinyGo).
func BuildImage(t testing.TB, cli, store, dir, tag string) {
	t.Helper()
	args := []string{"--store", store, "image", "build", dir, "--arch", runtime.GOARCH, "-t", tag}
	if _, err := build.TinyGoPath(); err != nil {
		args = append(args, "--wasm-toolchain="+build.ToolchainGo)
		t.Logf("building %s with --wasm-toolchain=go: TinyGo not found (%v)", dir, err)
	}
	cmd := exec.Command(cli, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gadgetry image build %s -t %s: %v\n%s", dir, tag, err, out)
	}
}

var wasmCache = map[string][]byte{}

// WASM builds the Go module in dir as a WASI reactor module exactly as `gadgetry image build`
// builds a gadget's go/ directory (oci/build.WASM: standard Go, the SDK supplied when go.mod
// requires it without a replace), and returns the module (built once per test binary and
// directory).
func WASM(t testing.TB, dir string) []byte {
	t.Helper()
	return WASMWith(t, dir, build.ToolchainGo)
}

// WASMWith is WASM with the toolchain named: build.ToolchainGo or build.ToolchainTinyGo (the
// test skips, or fails in CI, when TinyGo is missing: RequireTinyGo).
func WASMWith(t testing.TB, dir, toolchain string) []byte {
	t.Helper()
	RequireTool(t, "go")
	if toolchain == build.ToolchainTinyGo {
		RequireTinyGo(t)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	key := toolchain + ":" + dir
	if b, ok := wasmCache[key]; ok {
		return b
	}
	var progress bytes.Buffer
	b, err := build.WASM(context.Background(), dir, build.Options{WASMToolchain: toolchain, Progress: &progress})
	if err != nil {
		t.Fatalf("building the WASM module in %s with %s: %v\n%s", dir, toolchain, err, progress.String())
	}
	wasmCache[key] = b
	return b
}

// RequireTinyGo skips the test, naming TinyGo, when no TinyGo is found ($TINYGO, then tinygo
// in PATH). TinyGo is in no package registry, so CI machines may lack it: unlike other tools,
// its absence skips in CI too.
func RequireTinyGo(t testing.TB) string {
	t.Helper()
	p, err := build.TinyGoPath()
	if err != nil {
		t.Skipf("TinyGo not found (%v): install TinyGo %s.x or later (before %s) on PATH, or set $TINYGO, to run this test", err, build.TinyGoMin, build.TinyGoMax)
	}
	return p
}

// SyncBuffer is a bytes.Buffer that one goroutine may write (a command's stderr, say) while
// another reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RequireRust returns the environment entry (CARGO=…) that makes `gadgetry image build` use a
// Rust toolchain able to build WASM guests: $CARGO, cargo in PATH or Debian's /usr/bin/cargo,
// the first whose rustc has the wasm32-wasip1 (or, before Rust 1.78, wasm32-wasi) standard
// library. Without one the test skips, or fails with CI=true (scripts/setup.sh installs
// Debian's cargo and libstd-rust-dev-wasm32).
func RequireRust(t testing.TB) string {
	t.Helper()
	var candidates, tried []string
	if c := os.Getenv("CARGO"); c != "" {
		candidates = append(candidates, c)
	}
	if c, err := exec.LookPath("cargo"); err == nil {
		candidates = append(candidates, c)
	}
	candidates = append(candidates, "/usr/bin/cargo")
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			tried = append(tried, c+": "+err.Error())
			continue
		}
		if _, _, _, err := build.RustToolchain(context.Background(), c, ""); err != nil {
			tried = append(tried, c+": "+err.Error())
			continue
		}
		return "CARGO=" + c
	}
	msg := "no Rust toolchain with a WASI standard library (" + strings.Join(tried, "; ") + ")"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; run scripts/setup.sh (CI=true)", msg)
	}
	t.Skip(msg)
	return ""
}
