package vmtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

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
