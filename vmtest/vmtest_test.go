package vmtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

func TestMain(m *testing.M) { os.Exit(gadgettest.Main(m)) }

// TestVMPrepare: a file Prepared builds on the host reaches the test in the VM unchanged
// (scripts/vmtest.sh runs this test on the host before packing, then again in the VM).
func TestVMPrepare(t *testing.T) {
	const want = "built on the host by TestVMPrepare\n"
	p := Prepared(t, "prepared.txt", func(t testing.TB, path string) {
		if kernel.InVM() {
			t.Fatal("Prepared builds inside the VM")
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if b, err := os.ReadFile(p); err != nil || string(b) != want {
		t.Fatalf("%s: %q, %v; want %q", p, b, err, want)
	}
	if again := Prepared(t, "prepared.txt", func(t testing.TB, _ string) { t.Fatal("built twice") }); again != p {
		t.Errorf("second call: %s, want %s", again, p)
	}
}

// TestGadgetryBinary: the gadgetry binary (packed static into the VM, built on the host) runs.
func TestGadgetryBinary(t *testing.T) {
	bin := Gadgetry(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", bin, err, out)
	}
}

// TestMountOverlay: a script written through the overlay lands in the upper layer and runs
// from the merged view, both as a program and through /bin/sh.
func TestMountOverlay(t *testing.T) {
	o := MountOverlay(t)
	script := filepath.Join(o.Merged, "hello.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.Upper, "hello.sh")); err != nil {
		t.Errorf("the script is not in the upper layer: %v", err)
	}
	for _, cmd := range []*exec.Cmd{exec.Command(script), exec.Command("/bin/sh", script)} {
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).ExitStatus() != 7 {
			t.Errorf("%v: %v, want exit status 7", cmd.Args, err)
		}
	}
}

// TestBPFObject compiles (host) or finds (VM) a testdata object.
func TestBPFObject(t *testing.T) {
	obj := BPFObject(t, "testdata/minimal.bpf.c")
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 4 || string(b[1:4]) != "ELF" {
		t.Errorf("%s is not an ELF object", obj)
	}
}
