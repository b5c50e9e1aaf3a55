package vmtest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/datasource"
	"github.com/gadgetry/gadgetry/vmtest"
)

// TestVMGadgetAttach runs, through the runtime, a gadget image whose programs are a kprobe, a
// kretprobe, an fentry, an fexit and an lsm program, and checks that each really ran: the
// probes saw this process's two unlinks (and their results), and the lsm program made the exec
// of a marked file fail with EPERM while another file still runs.
func TestVMGadgetAttach(t *testing.T) {
	kernel.Require(t, kernel.Kprobe, kernel.Kretprobe, kernel.Fentry, kernel.Fexit, kernel.LSM)
	rt, g := prepareGadget(t, "attach")

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

// TestVMMapElemIter runs a gadget whose iterator walks a map's elements (iter/bpf_map_elem),
// the map named by GADGET_ITER_TARGET_MAP: the runtime attaches the program to that map, and
// the snapshot has one record per element. (This host's kernel refuses such programs.)
func TestVMMapElemIter(t *testing.T) {
	kernel.Require(t, kernel.MapElemIter)
	rt, g := prepareGadget(t, "mapelem")
	if len(g.Programs) != 1 || g.Programs[0].IterMap != "gtest_elems_map" {
		t.Fatalf("programs %+v: want gtest_dump walking gtest_elems_map", g.Programs)
	}
	type elem struct{ key, value uint64 }
	got := make(chan []elem, 1)
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{{Name: "vmtest", Init: func(r *runtime.Run) error {
		ds := r.DataSource("elems")
		key, value := ds.Field("key"), ds.Field("value")
		if key == nil || value == nil {
			return errors.New("data source elems lacks key or value")
		}
		ds.SubscribeArray(0, func(_ *datasource.DataSource, a []*datasource.Data) error {
			var es []elem
			for _, d := range a {
				es = append(es, elem{key.Uint(d), value.Uint(d)})
			}
			select {
			case got <- es:
			default:
			}
			return nil
		})
		return nil
	}}}})
	if err != nil {
		t.Fatalf("starting the gadget: %v", err)
	}
	defer run.Stop()
	select {
	case es := <-got:
		want := []elem{{0, 7}, {1, 7}, {2, 7}}
		if !slices.Equal(es, want) {
			t.Errorf("snapshot %v, want %v (each element of the three-element array, its value + 7)", es, want)
		}
	case <-run.Done():
		t.Fatalf("the run ended before the snapshot: %v", run.Wait())
	}
}

// TestVMKprobeNoFunction: a kprobe on a function the kernel does not have fails to attach with
// a sentence that names the function (IG's trace_fsslower probes ext4_file_open, absent where
// ext4 is not loaded), and nothing of the gadget stays loaded.
func TestVMKprobeNoFunction(t *testing.T) {
	kernel.Require(t, kernel.Kprobe)
	rt, g := prepareGadget(t, "nofunc")
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{})
	if err == nil {
		run.Stop()
		t.Fatal("a kprobe on gadgetry_no_such_function attached")
	}
	if want := "the kernel has no function gadgetry_no_such_function to probe"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

// prepareGadget prepares testdata/<name>.bpf.c (vmtest.BPFObject) as the image vmtest/<name>.
func prepareGadget(t *testing.T, name string) (*runtime.Runtime, *runtime.Gadget) {
	t.Helper()
	obj, err := os.ReadFile(vmtest.BPFObject(t, "testdata/"+name+".bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), &oci.Gadget{Ref: "vmtest/" + name, Arch: goruntime.GOARCH, EBPF: obj})
	if err != nil {
		t.Fatalf("preparing the gadget: %v", err)
	}
	return rt, g
}
