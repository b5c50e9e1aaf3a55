package kernel_test

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/internal/kernel"
	"github.com/gadgetry/gadgetry/vmtest"
)

// loadCollection compiles (host) or finds (VM) testdata/<name>.bpf.c, sets target_tgid to this
// process and loads it.
func loadCollection(t *testing.T, name string) *ebpf.Collection {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(vmtest.BPFObject(t, "testdata/"+name+".bpf.c"))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if err := spec.Variables["target_tgid"].Set(uint32(os.Getpid())); err != nil {
		t.Fatalf("setting target_tgid: %v", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("loading %s: %+v", name, ve)
		}
		t.Fatalf("loading %s: %v", name, err)
	}
	t.Cleanup(func() { coll.Close() })
	return coll
}

func attach(t *testing.T, l link.Link, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("attaching: %v", err)
	}
	t.Cleanup(func() { l.Close() })
}

func get[T any](t *testing.T, coll *ebpf.Collection, name string) T {
	t.Helper()
	var v T
	if err := coll.Variables[name].Get(&v); err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return v
}

// unlinkTwice unlinks a file it creates (success) and then again (ENOENT), so that probes on
// do_unlinkat see both outcomes; it returns the file's path.
func unlinkTwice(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "unlink-me")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unlink(path); err != nil {
		t.Fatalf("unlink %s: %v", path, err)
	}
	if err := unix.Unlink(path); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("second unlink of %s: got %v, want ENOENT", path, err)
	}
	return path
}

// TestTracepointRingBuf runs on every kernel: a tracepoint program sends the return value of
// this process's unlinkat calls through a ring buffer.
func TestTracepointRingBuf(t *testing.T) {
	kernel.Require(t, kernel.Tracepoint, kernel.RingBuf, kernel.BTF)
	coll := loadCollection(t, "tracepoint")
	l, err := link.Tracepoint("syscalls", "sys_exit_unlinkat", coll.Programs["unlinkat_exit"], nil)
	attach(t, l, err)
	rd, err := ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		t.Fatalf("opening the ring buffer: %v", err)
	}
	defer rd.Close()

	unlinkTwice(t)
	var got []int64
	for range 2 {
		rec, err := rd.Read()
		if err != nil {
			t.Fatalf("reading the ring buffer: %v", err)
		}
		got = append(got, int64(kernelEndian.Uint64(rec.RawSample)))
	}
	if got[0] != 0 || got[1] != -int64(unix.ENOENT) {
		t.Errorf("unlinkat return values = %v, want [0 %d]", got, -int64(unix.ENOENT))
	}
}

// TestKprobe attaches a kprobe and a kretprobe to do_unlinkat.
func TestKprobe(t *testing.T) {
	kernel.Require(t, kernel.Kprobe, kernel.Kretprobe, kernel.BTF)
	coll := loadCollection(t, "kprobe")
	l, err := link.Kprobe("do_unlinkat", coll.Programs["unlinkat_entry"], nil)
	attach(t, l, err)
	l, err = link.Kretprobe("do_unlinkat", coll.Programs["unlinkat_return"], nil)
	attach(t, l, err)

	unlinkTwice(t)
	if n := get[uint64](t, coll, "entries"); n != 2 {
		t.Errorf("kprobe saw %d calls of do_unlinkat, want 2", n)
	}
	if n := get[uint64](t, coll, "returns"); n != 2 {
		t.Errorf("kretprobe saw %d returns of do_unlinkat, want 2", n)
	}
	if r := get[int64](t, coll, "last_ret"); r != -int64(unix.ENOENT) {
		t.Errorf("kretprobe's last return value = %d, want %d (ENOENT)", r, -int64(unix.ENOENT))
	}
}

// TestFentry attaches fentry and fexit programs to do_unlinkat.
func TestFentry(t *testing.T) {
	kernel.Require(t, kernel.Fentry, kernel.Fexit)
	coll := loadCollection(t, "fentry")
	l, err := link.AttachTracing(link.TracingOptions{Program: coll.Programs["unlinkat_entry"]})
	attach(t, l, err)
	l, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs["unlinkat_exit"]})
	attach(t, l, err)

	path := unlinkTwice(t)
	if n := get[uint64](t, coll, "entries"); n != 2 {
		t.Errorf("fentry saw %d calls of do_unlinkat, want 2", n)
	}
	if n := get[uint64](t, coll, "returns"); n != 2 {
		t.Errorf("fexit saw %d returns of do_unlinkat, want 2", n)
	}
	if r := get[int64](t, coll, "last_ret"); r != -int64(unix.ENOENT) {
		t.Errorf("fexit's last return value = %d, want %d (ENOENT)", r, -int64(unix.ENOENT))
	}
	lastName := get[[64]byte](t, coll, "last_name")
	if name := unix.ByteSliceToString(lastName[:]); !strings.HasSuffix(path, name) || name == "" {
		t.Errorf("fentry read the name %q, want (a suffix of) %q", name, path)
	}
}

// script writes an executable shell script into a temporary directory.
func script(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLSMDeniesExec attaches lsm/bprm_check_security returning -EPERM for one marked file:
// executing it really fails with EPERM, executing another file still works.
func TestLSMDeniesExec(t *testing.T) {
	kernel.Require(t, kernel.LSM)
	coll := loadCollection(t, "lsm")
	l, err := link.AttachLSM(link.LSMOptions{Program: coll.Programs["deny_marked"]})
	attach(t, l, err)

	marked, allowed := script(t, "marked.sh"), script(t, "allowed.sh")
	var st unix.Stat_t
	if err := unix.Stat(marked, &st); err != nil {
		t.Fatal(err)
	}
	if err := coll.Maps["denied_inodes"].Put(st.Ino, uint8(1)); err != nil {
		t.Fatalf("marking %s: %v", marked, err)
	}

	if err := exec.Command(allowed).Run(); err != nil {
		t.Errorf("executing the unmarked %s: %v, want success", allowed, err)
	}
	err = exec.Command(marked).Run()
	if !errors.Is(err, syscall.EPERM) {
		t.Errorf("executing the marked %s: %v, want EPERM", marked, err)
	}
	if n := get[uint64](t, coll, "denied"); n != 1 {
		t.Errorf("the lsm program denied %d execs, want 1", n)
	}
	if n := get[uint64](t, coll, "checked"); n < 2 {
		t.Errorf("the lsm program checked %d execs, want at least 2", n)
	}
}

// TestDPath attaches a sleepable lsm.s/bprm_check_security program that resolves the executed
// file's path with bpf_d_path.
func TestDPath(t *testing.T) {
	kernel.Require(t, kernel.LSM, kernel.BPFDPath)
	coll := loadCollection(t, "dpath")
	l, err := link.AttachLSM(link.LSMOptions{Program: coll.Programs["resolve_exec_path"]})
	attach(t, l, err)

	path := script(t, "resolve-me.sh")
	if err := exec.Command(path).Run(); err != nil {
		t.Fatalf("executing %s: %v", path, err)
	}
	n := get[int64](t, coll, "path_len")
	buf := get[[256]byte](t, coll, "path")
	got := unix.ByteSliceToString(buf[:])
	if n != int64(len(path)+1) || got != path {
		t.Errorf("bpf_d_path gave %q (length %d), want %q (length %d)", got, n, path, len(path)+1)
	}
}

// TestOverlayMount mounts an overlay (upper and lower on a tmpfs) and checks that the lower
// layer shows through and that writes land in the upper layer.
func TestOverlayMount(t *testing.T) {
	kernel.Require(t, kernel.Overlayfs)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "lower", "from-lower"), []byte("lower"), 0o644); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(dir, "merged")
	opts := "lowerdir=" + dir + "/lower,upperdir=" + dir + "/upper,workdir=" + dir + "/work"
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mounting the overlay: %v", err)
	}
	defer unix.Unmount(merged, 0)

	if b, err := os.ReadFile(filepath.Join(merged, "from-lower")); err != nil || string(b) != "lower" {
		t.Errorf("reading the lower file through the overlay: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(merged, "new"), []byte("upper"), 0o644); err != nil {
		t.Fatalf("writing through the overlay: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "upper", "new")); err != nil || string(b) != "upper" {
		t.Errorf("the write did not land in the upper layer: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lower", "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the write reached the lower layer: %v", err)
	}
}

// kernelEndian is the byte order of ring buffer records: the host's (amd64 here).
var kernelEndian = binary.NativeEndian
