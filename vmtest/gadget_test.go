package vmtest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/vmtest"
)

// TestVMGadgetAttach runs, through the runtime, a gadget image whose programs are a kprobe, a
// kretprobe, an fentry, an fexit and an lsm program, and checks that each really ran: the
// probes saw this process's two unlinks (and their results), and the lsm program made the exec
// of a marked file fail with EPERM while another file still runs.
func TestVMGadgetAttach(t *testing.T) {
	kernel.Require(t, kernel.Kprobe, kernel.Kretprobe, kernel.Fentry, kernel.Fexit, kernel.LSM)
	obj, err := os.ReadFile(vmtest.BPFObject(t, "testdata/attach.bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), &oci.Gadget{Ref: "vmtest/attach", Arch: goruntime.GOARCH, EBPF: obj})
	if err != nil {
		t.Fatalf("preparing the gadget: %v", err)
	}

	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	marked, allowed := filepath.Join(dir, "marked.sh"), filepath.Join(dir, "allowed.sh")
	for _, p := range []string{marked, allowed} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(marked, &st); err != nil {
		t.Fatal(err)
	}

	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{{
		Name: "vmtest",
		PreStart: func(r *runtime.Run) error {
			return r.SetVariable("target_tgid", uint32(os.Getpid()))
		},
		Start: func(r *runtime.Run) error {
			m := r.Map("denied_inodes")
			if m == nil {
				return errors.New("the gadget has no map denied_inodes")
			}
			return m.Put(st.Ino, uint8(1))
		},
	}}})
	if err != nil {
		t.Fatalf("starting the gadget: %v", err)
	}
	defer run.Stop()

	unlinked := filepath.Join(dir, "unlink-me")
	if err := os.WriteFile(unlinked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unlink(unlinked); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unlink(unlinked); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("second unlink: %v, want ENOENT", err)
	}
	if err := exec.Command(allowed).Run(); err != nil {
		t.Errorf("executing the unmarked %s: %v, want success", allowed, err)
	}
	if err := exec.Command(marked).Run(); !errors.Is(err, syscall.EPERM) {
		t.Errorf("executing the marked %s: %v, want EPERM from the lsm program", marked, err)
	}

	vars := run.Collection().Variables
	read := func(name string) int64 {
		t.Helper()
		var v int64
		if err := vars[name].Get(&v); err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		name string
		want int64
	}{
		{"kprobe_hits", 2}, {"kretprobe_hits", 2}, {"kretprobe_ret", -int64(unix.ENOENT)},
		{"fentry_hits", 2}, {"fexit_hits", 2}, {"fexit_ret", -int64(unix.ENOENT)},
		{"lsm_denied", 1},
	} {
		if got := read(c.name); got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}
}
