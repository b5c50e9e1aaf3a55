package vmtest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// PrepareEnv is the variable scripts/vmtest.sh sets, to the directory that becomes the
// package's PreparedDir inside the VM, when it runs a package's TestVMPrepare on the host
// before packing (see Prepared).
const PrepareEnv = "GADGETRY_VMTEST_PREPARE"

// PreparedDir is where, relative to its package directory, a test finds inside the VM the
// files Prepared built on the host.
const PreparedDir = "vmtest-prepared"

var prepared struct {
	mu    sync.Mutex
	paths map[string]string
}

// Prepared returns the path of a file that build makes (an image built with clang and Go, say)
// for a test that runs on the host and inside the VM, which has neither toolchain:
//
//   - inside the VM: PreparedDir/name in the test's package directory, which scripts/vmtest.sh
//     built before packing (a missing file fails the test);
//   - on the host with PrepareEnv set (that build: scripts/vmtest.sh runs the package's
//     TestVMPrepare, which calls Prepared for every file its tests need): build writes it into
//     that directory;
//   - otherwise on the host: build writes it into gadgettest.SharedDir (which gadgettest.Main
//     removes), once per test process and name.
//
// build gets the path to write and fails tb if it cannot.
func Prepared(tb testing.TB, name string, build func(tb testing.TB, path string)) string {
	tb.Helper()
	if kernel.InVM() {
		p := filepath.Join(PreparedDir, name)
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("%s, built on the host before packing: %v (scripts/vmtest.sh runs TestVMPrepare of each package in vmtest/packages that has one; it must ask for %s)", p, err, name)
		}
		return p
	}
	prepared.mu.Lock()
	defer prepared.mu.Unlock()
	if p, ok := prepared.paths[name]; ok {
		return p
	}
	dir := os.Getenv(PrepareEnv)
	if dir == "" {
		dir = filepath.Join(gadgettest.SharedDir(tb), PreparedDir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, name)
	build(tb, p)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("building %s for the test: %v", name, err)
	}
	if prepared.paths == nil {
		prepared.paths = map[string]string{}
	}
	prepared.paths[name] = p
	return p
}
