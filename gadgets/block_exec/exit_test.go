package blockexec_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/vmtest"
)

// TestBadPolicy: a policy that cannot match, contradicts itself or has no selection fails
// before anything is loaded (the mechanism, chosen at load, is never announced) and leaves
// nothing in the kernel. Inside the VM (where the BPF LSM makes lsm the mechanism) only the
// cases marked vm run: the ones issue 14 names and the missing selection; the others differ only
// in the WASM module's parsing, which no kernel changes.
func TestBadPolicy(t *testing.T) {
	before := objects(t)
	for _, c := range []struct {
		name string
		vm   bool
		args []string
		want string
	}{
		{"relative path", true, []string{"-c", "web", "--deny-paths=sh"}, `--deny-paths: entry 1 "sh" is not an absolute path, so no executable's path can match it`},
		{"unknown mode", true, []string{"-c", "web", "--deny-paths=/bin/sh", "--mode=maybe"}, `gadget block_exec: --mode: "maybe" is not one of enforce, audit`},
		{"empty entry", false, []string{"-c", "web", "--deny-paths=/bin/sh,,/bin/bash"}, "entry 2 is empty"},
		{"glob in a directory", false, []string{"-c", "web", "--deny-paths=/usr/*/sh"}, "a glob may only be in the last component"},
		{"not canonical", false, []string{"-c", "web", "--allow-paths=/usr/bin/../bin/app"}, "write /usr/bin/app"},
		{"both lists", false, []string{"-c", "web", "--deny-paths=/bin/sh", "--allow-paths=/bin/app"}, "--deny-paths and --allow-paths exclude each other"},
		{"nothing to enforce", false, []string{"-c", "web"}, "nothing to enforce"},
		{"no selection", true, []string{"--deny-paths=/bin/sh"}, "no containers selected: this policy would apply to every process of the machine"},
		{"host and a selection", false, []string{"--host", "--containers-only", "--deny-paths=/bin/sh"}, "--host enforces on every process of the machine; it cannot be combined with -c or --containers-only"},
		{"unknown mechanism", false, []string{"-c", "web", "--deny-paths=/bin/sh", "--mechanism=magic"}, `"magic" is not one of auto, lsm, kill`},
	} {
		if kernel.InVM() && !c.vm {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.args...)
			err := r.Wait()
			if err == nil {
				t.Fatalf("gadgetry accepted %v", c.args)
			}
			if !strings.Contains(r.Stderr(), c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, r.Stderr())
			}
			if strings.Contains(r.Stderr(), "warning: gadget block_exec: mechanism") {
				t.Errorf("the mechanism was chosen (the load began) before the policy was refused:\n%s", r.Stderr())
			}
		})
	}
	t.Run("a mechanism the kernel lacks", func(t *testing.T) {
		if mechanism() == "lsm" {
			t.Skip("the BPF LSM is active here: both mechanisms are available")
		}
		r := run(t, "-c", "web", "--deny-paths=/bin/sh", "--mechanism=lsm")
		if err := r.Wait(); err == nil {
			t.Fatal("--mechanism=lsm started without the BPF LSM")
		}
		want := "gadget block_exec: --mechanism=lsm cannot run on this kernel: program block_exec_lsm (lsm/bprm_check_security) needs BPF LSM"
		if !strings.Contains(r.Stderr(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.Stderr())
		}
	})
	checkNoObjects(t, before)
}

// testExitPaths (a subtest of TestContainers): however a run ends — its timeout, SIGINT,
// SIGTERM, SIGKILL, a WASM guest that traps, an attach that fails after another program was
// attached — nothing enforces afterwards (the stopped binary runs again) and nothing of the
// gadget stays in the kernel.
func testExitPaths(t *testing.T, withPolicy func(...string) []string, c *container) {
	policy := withPolicy("--deny-paths=/bin/marker")
	// enforcing returns once the marker is stopped in c.
	enforcing := func(t *testing.T, r *gadgettest.CLIRun) {
		t.Helper()
		for {
			if _, how := c.exec(t, "/bin/marker"); how == stopped() {
				return
			}
			if !r.Running() {
				t.Fatalf("gadgetry exited before it enforced: %v; stderr:\n%s", r.Wait(), r.Stderr())
			}
		}
	}
	for _, p := range []struct {
		name string
		// start starts the run; end makes it end (nil: it ends by itself).
		start   func(t *testing.T) *gadgettest.CLIRun
		end     func(r *gadgettest.CLIRun)
		wantErr string // "" for a clean exit
	}{
		// The timeout counts from the moment the programs are attached.
		{"timeout", func(t *testing.T) *gadgettest.CLIRun { return run(t, append(policy, "-t", "5s")...) }, nil, ""},
		{"SIGINT", func(t *testing.T) *gadgettest.CLIRun { return run(t, policy...) }, func(r *gadgettest.CLIRun) { r.Signal(syscall.SIGINT) }, ""},
		{"SIGTERM", func(t *testing.T) *gadgettest.CLIRun { return run(t, policy...) }, func(r *gadgettest.CLIRun) { r.Signal(syscall.SIGTERM) }, ""},
		// Nothing runs in gadgetry then: the kernel closes the links with its file descriptors.
		{"SIGKILL", func(t *testing.T) *gadgettest.CLIRun { return run(t, policy...) }, func(r *gadgettest.CLIRun) { r.Signal(syscall.SIGKILL) }, "signal: killed"},
		{"WASM guest traps", func(t *testing.T) *gadgettest.CLIRun {
			return runVariant(t, "trap", policy...)
		}, nil, "block_exec test: the guest traps"},
		{"attach fails", func(t *testing.T) *gadgettest.CLIRun {
			return runVariant(t, "attach", policy...)
		}, nil, "zz_attach_fails"},
	} {
		t.Run(p.name, func(t *testing.T) {
			before := objects(t)
			r := p.start(t)
			if p.name != "attach fails" { // that run ends before it enforces anything
				enforcing(t, r)
			}
			if p.end != nil {
				p.end(r)
			}
			err := r.Wait()
			switch {
			case p.wantErr == "" && err != nil:
				t.Errorf("gadgetry exited with %v; stderr:\n%s", err, r.Stderr())
			case p.wantErr != "" && err == nil:
				t.Errorf("gadgetry exited cleanly; want an error with %q", p.wantErr)
			case p.wantErr != "" && !strings.Contains(r.Stderr(), p.wantErr) && !strings.Contains(err.Error(), p.wantErr):
				t.Errorf("stderr does not say %q:\n%s", p.wantErr, r.Stderr())
			}
			// The mechanism this kernel enforces with was the one loaded (and, but for the
			// failing attach, attached): lsm in the VM, kill here.
			checkFirstWarning(t, r, mechanism(), false)
			if out, how := c.exec(t, "/bin/marker"); how != "ran" {
				t.Errorf("after the run, /bin/marker is still stopped: %s: %s", how, out)
			}
			checkNoObjects(t, before)
		})
	}
}

// The two exit paths a run cannot be sent down from outside, a WASM guest that traps and an
// attach that fails, take an image of this gadget changed for the test (variantImage). It is
// built on the host with clang and TinyGo (Go where TinyGo is missing) and exported; inside the
// VM, which has neither, the archive is the one scripts/vmtest.sh had TestVMPrepare build on the
// host before packing (vmtest.Prepared). Either way the run imports it into a fresh store.

// variants are the changed images: "trap" adds to the WASM module a subscriber that panics on
// the first event; "attach" adds a program, zz_attach_fails, that fails to attach. The runtime
// attaches programs in name order, so it fails after block_exec_kill or block_exec_lsm attached.
var variants = []string{"trap", "attach"}

// TestVMPrepare builds the variants' archives: scripts/vmtest.sh runs it on the host before
// packing the VM (vmtest.Prepared); in `go test` it builds them for the exit-path tests.
func TestVMPrepare(t *testing.T) {
	if kernel.InVM() {
		t.Skip("the variants are built on the host, before packing the VM")
	}
	for _, v := range variants {
		variantImage(t, v)
	}
}

// runVariant starts `gadgetry run` of a variant (imported into a store of its own).
func runVariant(t *testing.T, variant string, args ...string) *gadgettest.CLIRun {
	t.Helper()
	bin, _, _ := gadgetry(t)
	archive := variantImage(t, variant)
	store := t.TempDir()
	if out, err := exec.Command(bin, "--store", store, "image", "import", archive).CombinedOutput(); err != nil {
		t.Fatalf("gadgetry image import %s: %v\n%s", archive, err, out)
	}
	return gadgettest.StartCLI(t, []string{"GADGETRY_STORE=" + store}, bin,
		append([]string{"run", "block-exec-" + variant, "-o", "json"}, args...)...)
}

// variantImage returns the archive (`gadgetry image export`) of image block-exec-<variant>.
func variantImage(t testing.TB, variant string) string {
	t.Helper()
	return vmtest.Prepared(t, "block-exec-"+variant+".tar", func(t testing.TB, archive string) {
		bin := builder(t)
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
			t.Fatal(err)
		}
		// Both variants take the trap module, built once: the attach variant's run fails
		// before any event, so its subscriber never runs.
		if err := os.WriteFile(filepath.Join(dir, "variant.wasm"), trapModule(t), 0o644); err != nil {
			t.Fatal(err)
		}
		gadgettest.WriteFile(t, filepath.Join(dir, "build.yaml"), "wasm: variant.wasm\n", 0o644)
		if variant == "attach" {
			f, err := os.OpenFile(filepath.Join(dir, "program.bpf.c"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteString("\nSEC(\"raw_tracepoint/gadgetry_no_such_tracepoint\")\nint zz_attach_fails(void *ctx)\n{\n\treturn 0;\n}\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		store, tag := t.TempDir(), "block-exec-"+variant
		gadgettest.BuildImage(t, bin, store, dir, tag)
		if out, err := exec.Command(bin, "--store", store, "image", "export", tag, archive).CombinedOutput(); err != nil {
			t.Fatalf("gadgetry image export %s: %v\n%s", tag, err, out)
		}
	})
}

// builder is the gadgetry binary that builds the variants: while scripts/vmtest.sh prepares
// the VM, the one it packs (GADGETRY_BIN); otherwise this checkout's, built once.
func builder(t testing.TB) string {
	t.Helper()
	if os.Getenv(vmtest.PrepareEnv) != "" {
		return vmtest.Gadgetry(t)
	}
	return gadgettest.CLI(t)
}

var trap struct {
	mu     sync.Mutex
	module []byte
}

// trapModule builds go/ with a subscriber that panics on the first event (TinyGo as build.yaml
// asks, standard Go where TinyGo is missing: what the guest is built with does not change how
// a trap ends the run).
func trapModule(t testing.TB) []byte {
	t.Helper()
	trap.mu.Lock()
	defer trap.mu.Unlock()
	if trap.module != nil {
		return trap.module
	}
	dir := filepath.Join(t.TempDir(), "go")
	if err := os.CopyFS(dir, os.DirFS("go")); err != nil {
		t.Fatal(err)
	}
	gadgettest.WriteFile(t, filepath.Join(dir, "trap.go"), `package main

import "github.com/gadgetry/gadgetry/wasmapi"

func init() {
	wasmapi.OnInit(func() error {
		ds, err := wasmapi.GetDataSource("block_exec")
		if err != nil {
			return err
		}
		return ds.Subscribe(func(wasmapi.DataSource, wasmapi.Data) error {
			panic("block_exec test: the guest traps")
		}, 1)
	})
}
`, 0o644)
	toolchain := build.ToolchainTinyGo
	if _, err := build.TinyGoPath(); err != nil {
		toolchain = build.ToolchainGo
	}
	trap.module = gadgettest.WASMWith(t, dir, toolchain)
	return trap.module
}

// TestGoToolchain: the WASM module builds with standard Go too (the catalogue and the other
// tests build it with TinyGo, as build.yaml asks).
func TestGoToolchain(t *testing.T) {
	if kernel.InVM() {
		t.Skip("no toolchains in the VM")
	}
	if mod := gadgettest.WASMWith(t, "go", build.ToolchainGo); len(mod) == 0 {
		t.Fatal("Go built an empty module")
	}
}
