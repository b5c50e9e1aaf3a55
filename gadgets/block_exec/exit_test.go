package blockexec_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
	"github.com/gadgetry/gadgetry/vmtest"
)

// TestBadPolicy: a policy that cannot match, contradicts itself or has no selection fails
// before anything is loaded (the mechanism, chosen at load, is never announced) and leaves
// nothing in the kernel. (In the VMs, TestInProcess/bad_policy shows the same under lsm.)
func TestBadPolicy(t *testing.T) {
	before := objects(t)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"relative path", []string{"-c", "web", "--deny-paths=sh"}, `--deny-paths: entry 1 "sh" is not an absolute path, so no executable's path can match it`},
		{"unknown mode", []string{"-c", "web", "--deny-paths=/bin/sh", "--mode=maybe"}, `gadget block_exec: --mode: "maybe" is not one of enforce, audit`},
		{"empty entry", []string{"-c", "web", "--deny-paths=/bin/sh,,/bin/bash"}, "entry 2 is empty"},
		{"glob in a directory", []string{"-c", "web", "--deny-paths=/usr/*/sh"}, "a glob may only be in the last component"},
		{"not canonical", []string{"-c", "web", "--allow-paths=/usr/bin/../bin/app"}, "write /usr/bin/app"},
		{"both lists", []string{"-c", "web", "--deny-paths=/bin/sh", "--allow-paths=/bin/app"}, "--deny-paths and --allow-paths exclude each other"},
		{"nothing to enforce", []string{"-c", "web"}, "nothing to enforce"},
		{"no selection", []string{"--deny-paths=/bin/sh"}, "no containers selected: this policy would apply to every process of the machine"},
		{"host and a selection", []string{"--host", "--containers-only", "--deny-paths=/bin/sh"}, "--host enforces on every process of the machine; it cannot be combined with -c or --containers-only"},
		{"unknown mechanism", []string{"-c", "web", "--deny-paths=/bin/sh", "--mechanism=magic"}, `"magic" is not one of auto, lsm, kill`},
	} {
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

// testExitPaths (a subtest of TestContainers): however a run of the binary ends — its timeout,
// SIGINT, SIGTERM, SIGKILL, a WASM guest that traps, an attach that fails after another program
// was attached — nothing enforces afterwards (the stopped binary runs again) and nothing of the
// gadget stays in the kernel. The last two run image variants built with clang and TinyGo: on
// the host only; inside the VMs (no toolchain there) TestInProcess shows these two exit paths
// through the runtime.
func testExitPaths(t *testing.T, withPolicy func(...string) []string, c *container) {
	policy := withPolicy("--deny-paths=/bin/marker")
	// enforcing returns once the marker is stopped in c. It execs the marker only once the run
	// has announced its mechanism (just before attaching), then every 100 ms: under the VM's
	// single-threaded emulation a busy loop of execs would slow down the run it waits for.
	enforcing := func(t *testing.T, r *gadgettest.CLIRun) {
		t.Helper()
		for {
			if strings.Contains(r.Stderr(), "warning: gadget block_exec: mechanism") {
				if _, how := c.exec(t, "/bin/marker"); how == stopped() {
					return
				}
			}
			if !r.Running() {
				t.Fatalf("gadgetry exited before it enforced: %v; stderr:\n%s", r.Wait(), r.Stderr())
			}
			time.Sleep(100 * time.Millisecond) // a poll interval, not a verdict
		}
	}
	type exitPath struct {
		name string
		// start starts the run; end makes it end (nil: it ends by itself).
		start   func(t *testing.T) *gadgettest.CLIRun
		end     func(r *gadgettest.CLIRun)
		wantErr string // "" for a clean exit
	}
	paths := []exitPath{
		// The timeout counts from the moment the programs are attached.
		{"timeout", func(t *testing.T) *gadgettest.CLIRun { return run(t, append(policy, "-t", "5s")...) }, nil, ""},
		{"SIGINT", func(t *testing.T) *gadgettest.CLIRun { return run(t, policy...) }, func(r *gadgettest.CLIRun) { r.Signal(syscall.SIGINT) }, ""},
		{"SIGTERM", func(t *testing.T) *gadgettest.CLIRun { return run(t, policy...) }, func(r *gadgettest.CLIRun) { r.Signal(syscall.SIGTERM) }, ""},
		// Nothing runs in gadgetry then: the kernel closes the links with its file descriptors.
		{"SIGKILL", func(t *testing.T) *gadgettest.CLIRun { return run(t, policy...) }, func(r *gadgettest.CLIRun) { r.Signal(syscall.SIGKILL) }, "signal: killed"},
	}
	if !kernel.InVM() {
		paths = append(paths,
			exitPath{"WASM guest traps", func(t *testing.T) *gadgettest.CLIRun {
				return runVariant(t, "trap", policy...)
			}, nil, "block_exec test: the guest traps"},
			exitPath{"attach fails", func(t *testing.T) *gadgettest.CLIRun {
				return runVariant(t, "attach", policy...)
			}, nil, "zz_attach_fails"})
	}
	for _, p := range paths {
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
			// failing attach, attached): lsm in the VMs, kill here.
			checkFirstWarning(t, r, mechanism(), false)
			if out, how := c.exec(t, "/bin/marker"); how != "ran" {
				t.Errorf("after the run, /bin/marker is still stopped: %s: %s", how, out)
			}
			checkNoObjects(t, before)
		})
	}
}

// The two exit paths a run cannot be sent down from outside, a WASM guest that traps and an
// attach that fails, take this gadget changed for the test:
//
//   - trap: the WASM module with a subscriber that panics on the first event (trapModule);
//   - attach: testdata/attach_fails.bpf.c, program.bpf.c plus a program, zz_attach_fails, whose
//     raw tracepoint does not exist. The runtime attaches programs in name order, so it fails
//     after block_exec_kill or block_exec_lsm attached. Its run ends before any event, so the
//     trap module serves it too.
//
// Through the binary (host only) they are images built with `gadgetry image build`, exported
// and imported into a fresh store; TestInProcess (host and VMs) runs them through the runtime.

// TestVMPrepare builds the trap module on the host: scripts/vmtest.sh runs it before packing
// the VMs, which have no Go or TinyGo (vmtest.Prepared); in `go test` it builds it for the
// tests that follow. (The attach variant is a testdata/*.bpf.c, which the script compiles.)
func TestVMPrepare(t *testing.T) {
	if kernel.InVM() {
		t.Skip("the trap module is built on the host, before packing the VM")
	}
	trapModule(t)
}

// runVariant starts `gadgetry run` of a variant (imported into a store of its own).
func runVariant(t *testing.T, variant string, args ...string) *gadgettest.CLIRun {
	t.Helper()
	bin, _, _ := gadgetry(t)
	archive := variantImage(t, bin, variant)
	store := t.TempDir()
	if out, err := exec.Command(bin, "--store", store, "image", "import", archive).CombinedOutput(); err != nil {
		t.Fatalf("gadgetry image import %s: %v\n%s", archive, err, out)
	}
	return gadgettest.StartCLI(t, []string{"GADGETRY_STORE=" + store}, bin,
		append([]string{"run", "block-exec-" + variant, "-o", "json"}, args...)...)
}

var archives struct {
	mu    sync.Mutex
	paths map[string]string
}

// variantImage returns the archive (`gadgetry image export`) of image block-exec-<variant>,
// built once per test process.
func variantImage(t *testing.T, bin, variant string) string {
	t.Helper()
	archives.mu.Lock()
	defer archives.mu.Unlock()
	if p, ok := archives.paths[variant]; ok {
		return p
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile(trapModule(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "variant.wasm"), module, 0o644); err != nil {
		t.Fatal(err)
	}
	gadgettest.WriteFile(t, filepath.Join(dir, "build.yaml"), "wasm: variant.wasm\n", 0o644)
	if variant == "attach" {
		gadgettest.WriteFile(t, filepath.Join(dir, "build.yaml"), "wasm: variant.wasm\nebpfsource: testdata/attach_fails.bpf.c\n", 0o644)
	}
	store, tag := t.TempDir(), "block-exec-"+variant
	gadgettest.BuildImage(t, bin, store, dir, tag)
	archive := filepath.Join(gadgettest.SharedDir(t), tag+".tar")
	if out, err := exec.Command(bin, "--store", store, "image", "export", tag, archive).CombinedOutput(); err != nil {
		t.Fatalf("gadgetry image export %s: %v\n%s", tag, err, out)
	}
	if archives.paths == nil {
		archives.paths = map[string]string{}
	}
	archives.paths[variant] = archive
	return archive
}

// trapModule returns the path of the trap variant's WASM module: go/ with a subscriber that
// panics on the first event, built with TinyGo as build.yaml asks, or standard Go where TinyGo
// is missing (what the guest is built with does not change how a trap ends the run).
func trapModule(t testing.TB) string {
	t.Helper()
	return vmtest.Prepared(t, "block-exec-trap.wasm", func(t testing.TB, path string) {
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
		if err := os.WriteFile(path, gadgettest.WASMWith(t, dir, toolchain), 0o644); err != nil {
			t.Fatal(err)
		}
	})
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
