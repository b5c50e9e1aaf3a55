package blockexec_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/oci/build"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestBadPolicy: a policy that cannot match, contradicts itself or has no selection fails
// before anything is loaded (the mechanism, chosen at load, is never announced) and leaves
// nothing in the kernel.
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
			if out, how := c.exec(t, "/bin/marker"); how != "ran" {
				t.Errorf("after the run, /bin/marker is still stopped: %s: %s", how, out)
			}
			checkNoObjects(t, before)
		})
	}
}

// runVariant runs an image of this gadget changed for a test: "trap" adds to the WASM module a
// subscriber that panics on the first event; "attach" adds a program that sorts after
// block_exec_kill and block_exec_lsm and fails to attach.
func runVariant(t *testing.T, variant string, args ...string) *gadgettest.CLIRun {
	t.Helper()
	if kernel.InVM() {
		t.Skip("a variant of the image is built with gadgetry image build, which needs clang and Go: not in the VM")
	}
	bin, _, _ := gadgetry(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	switch variant {
	case "trap":
		gadgettest.WriteFile(t, filepath.Join(dir, "go/trap.go"), `package main

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
	case "attach":
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
	store := t.TempDir()
	gadgettest.BuildImage(t, bin, store, dir, "block-exec-"+variant)
	return gadgettest.StartCLI(t, []string{"GADGETRY_STORE=" + store}, bin,
		append([]string{"run", "block-exec-" + variant, "-o", "json"}, args...)...)
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
