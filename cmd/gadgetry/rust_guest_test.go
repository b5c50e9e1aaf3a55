package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestRustGuestRuns builds a gadget whose WASM guest is Rust (testdata/rustguest, written
// against the host ABI with no SDK, in IG's layout: build.yaml `wasm: rust/src/lib.rs`) with
// `gadgetry image build`, runs it and checks the field the guest computes on an exec of a
// child from the event's fields and a parameter. The toolchain is whatever RequireRust finds
// (in CI, Debian's cargo and libstd-rust-dev-wasm32, installed by scripts/setup.sh).
func TestRustGuestRuns(t *testing.T) {
	gadgettest.RequireRoot(t)
	gadgettest.RequireTool(t, "clang-19")
	cargo := gadgettest.RequireRust(t)
	bin := runTestBinary(t)
	work := t.TempDir()
	env := append(outsideEnv(t, work), cargo, "CARGO_HOME="+filepath.Join(work, "cargo-home"))
	dir := filepath.Join(work, "rusty")
	copyGadget(t, filepath.Join(gadgettest.RepoRoot(), "examples", "exec_annotate"), dir)
	if err := os.RemoveAll(filepath.Join(dir, "go")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Cargo.toml", "src/lib.rs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "rustguest", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, "rust", f)), 0o755); err != nil {
			t.Fatal(err)
		}
		gadgettest.WriteFile(t, filepath.Join(dir, "rust", f), string(b), 0o644)
	}
	gadgettest.WriteFile(t, filepath.Join(dir, "build.yaml"), "wasm: rust/src/lib.rs\n", 0o644)
	out := cliOK(t, bin, work, env, "image", "build", "--arch", "amd64", "-t", "rusty:v1", dir)
	if !strings.Contains(out, "cargo build --target wasm32-wasi") {
		t.Errorf("the build does not say it ran cargo:\n%s", out)
	}
	if out := cliOK(t, bin, work, env, "image", "inspect", "rusty:v1"); !strings.Contains(out, "wasm built with  rustc ") {
		t.Errorf("image inspect does not name rustc:\n%s", out)
	}

	cmd := exec.Command(bin, "run", "rusty:v1", "-o", "json", "--ignore-comm=nothing-ignored")
	cmd.Dir, cmd.Env = work, env
	lines, stderr := startLines(t, cmd, 4096)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	child := gadgettest.UniqueExecutable(t)
	ev, pid := awaitChildEvent(t, lines, stderr, child)
	if want := fmt.Sprintf("rust %s pid %d [nothing-ignored]", filepath.Base(child), pid); ev["lineage"] != want {
		t.Fatalf("lineage = %v, want %q (event %v)", ev["lineage"], want, ev)
	}
}
