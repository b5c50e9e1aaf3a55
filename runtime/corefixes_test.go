package runtime_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestCoreFixes runs <gadget/core_fixes.bpf.h>'s readers in this kernel
// (testdata/corefixes.bpf.c) and checks them against what user space sees: an inode's change
// time against fstat's, a system call's number and first argument against the call made.
func TestCoreFixes(t *testing.T) {
	gadgettest.RequireRoot(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "ctime"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(gadgettest.Compile(t, "corefixes")))
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables["gtest_tgid"].Set(uint32(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables["gtest_fd"].Set(uint32(f.Fd())); err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables["gtest_nr"].Set(uint64(unix.SYS_GETSID)); err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	out := coll.Maps["gtest_cf_out"]
	get := func(k uint32) uint64 {
		var v uint64
		if err := out.Lookup(k, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	// The change time: the iterator reads the inode behind our descriptor. fstat first: on a
	// file system with multigrain timestamps, that marks the change time queried, in a bit
	// of i_ctime_nsec the reader must leave out.
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	it, err := link.AttachIter(link.IterOptions{Program: coll.Programs["gtest_cf_ctime"]})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Read(make([]byte, 64)); err != nil && err.Error() != "EOF" {
		rd.Close()
		t.Fatal(err)
	}
	rd.Close()
	if got, want := get(0), uint64(st.Ctim.Sec)*1e9+uint64(st.Ctim.Nsec); got != want {
		t.Errorf("gadget_get_ctime_nanosec_from_inode = %d, fstat's change time %d", got, want)
	}

	// The system call: getsid with a magic pid (no such process).
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: coll.Programs["gtest_cf_sys"]})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const magic = 0x7cf00d // GTEST_CF_MAGIC
	unix.Syscall(unix.SYS_GETSID, magic, 0, 0)
	if nr, arg := get(1), get(2); nr != unix.SYS_GETSID || arg != magic {
		t.Errorf("gadget_get_syscall_nr = %d, gadget_get_syscall_arg(0) = %#x; want %d, %#x", nr, arg, unix.SYS_GETSID, magic)
	}
}
