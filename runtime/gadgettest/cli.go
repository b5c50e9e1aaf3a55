package gadgettest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
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
func BuildImage(t testing.TB, cli, store, dir, tag string) {
	t.Helper()
	cmd := exec.Command(cli, "--store", store, "image", "build", dir, "--arch", runtime.GOARCH, "-t", tag)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gadgetry image build %s -t %s: %v\n%s", dir, tag, err, out)
	}
}

var wasmCache = map[string][]byte{}

// WASM builds the Go package in dir as a WASI reactor module (GOOS=wasip1 GOARCH=wasm,
// -buildmode=c-shared), the way `gadgetry image build` builds a gadget's go/ directory, and
// returns the module (built once per test binary and directory). dir's own go.mod decides its
// dependencies (GOWORK is off).
func WASM(t testing.TB, dir string) []byte {
	t.Helper()
	RequireTool(t, "go")
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := wasmCache[dir]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), "module.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the WASM module in %s: %v\n%s", dir, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	wasmCache[dir] = b
	return b
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
