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
// time against fstat's, a system call's number and its six arguments (counted from 1, as IG
// counts them) against the call made.
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
	if err := spec.Variables["gtest_nr"].Set(uint64(unix.SYS_PRCTL)); err != nil {
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

	// The system call: prctl with an option that does not exist (EINVAL) and five more
	// arguments, the last of which prctl ignores but the registers still hold.
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: coll.Programs["gtest_cf_sys"]})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	args := []uintptr{0x7cf00d, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006} // GTEST_CF_MAGIC first
	unix.Syscall6(unix.SYS_PRCTL, args[0], args[1], args[2], args[3], args[4], args[5])
	if nr := get(1); nr != unix.SYS_PRCTL {
		t.Errorf("gadget_get_syscall_nr = %d, want %d", nr, unix.SYS_PRCTL)
	}
	for i, want := range args {
		if got := get(uint32(2 + i)); got != uint64(want) {
			t.Errorf("gadget_get_syscall_arg(regs, %d) = %#x, want %#x", i+1, got, want)
		}
	}
}
