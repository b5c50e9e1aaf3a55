package runtime_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestRingWakesWaitingReader: loaded as another loader does (ig), which leaves the header's
// gadgetry_rb_submit_flags at its default, the records <gadget/buffer.h> writes (reserve and
// submit, and output) wake a reader that waits on the ring buffer without polling, as ig's
// does, so a Gadgetry-built gadget gives ig its events; with the BPF_RB_NO_WAKEUP the header
// used before, that reader slept until the ring filled. The object is an IG-style gadget of
// our own (testdata/igwake.bpf.c).
func TestRingWakesWaitingReader(t *testing.T) {
	gadgettest.RequireRoot(t)
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(gadgettest.Compile(t, "igwake")))
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables["gtest_wake_pid"].Set(uint32(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	for prog, tp := range map[string]string{"gtest_wake_submit": "sys_enter_getppid", "gtest_wake_output": "sys_enter_getpgid"} {
		l, err := link.Tracepoint("syscalls", tp, coll.Programs[prog], nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
	}
	m := coll.Maps["gtest_wake_events"]
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for _, c := range []struct {
		how  uint32
		call func()
	}{{1, func() { syscall.Getppid() }}, {2, func() { syscall.Getpgid(0) }}} {
		// A waiter registered while the ring is empty (ig's reader, here an epoll instance of
		// its own) learns of the record only if the kernel wakes it: no record was there to
		// find when it registered.
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(ep)
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, m.FD(), &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(m.FD())}); err != nil {
			t.Fatal(err)
		}
		c.call()
		events := make([]unix.EpollEvent, 1)
		n, err := unix.EpollWait(ep, events, int(time.Minute/time.Millisecond)) // a hang guard
		for err == unix.EINTR {
			n, err = unix.EpollWait(ep, events, int(time.Minute/time.Millisecond))
		}
		if err != nil || n != 1 {
			t.Fatalf("record %d: the waiting reader was not woken (epoll_wait: %d, %v)", c.how, n, err)
		}
		rd.SetDeadline(time.Now().Add(time.Minute))
		rec, err := rd.Read()
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.RawSample) < 8 || binary.LittleEndian.Uint32(rec.RawSample[4:]) != c.how {
			t.Fatalf("record %x, want one written by way %d", rec.RawSample, c.how)
		}
	}
}

// TestRuntimeRingNoWakeup: Gadgetry's runtime, which drains rings on a timer, loads a gadget
// built with <gadget/buffer.h> with gadgetry_rb_submit_flags set to BPF_RB_NO_WAKEUP, so it
// pays no wake-up per drain; the records still arrive.
func TestRuntimeRingNoWakeup(t *testing.T) {
	gadgettest.RequireRoot(t)
	obj := gadgettest.Compile(t, "igwake")
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	vs := spec.Variables["gadgetry_rb_submit_flags"]
	if vs == nil {
		t.Fatal("the object has no gadgetry_rb_submit_flags: <gadget/buffer.h> no longer declares it")
	}
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("igwake", obj, ""))
	if err != nil {
		t.Fatal(err)
	}
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Params: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop()
	rodata := run.Map(vs.SectionName)
	if rodata == nil {
		t.Fatalf("no map %s in the loaded collection", vs.SectionName)
	}
	val := make([]byte, rodata.ValueSize())
	if err := rodata.Lookup(uint32(0), val); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(val[vs.Offset:]); got != 1 {
		t.Errorf("gadgetry_rb_submit_flags = %d in the loaded gadget, want 1 (BPF_RB_NO_WAKEUP)", got)
	}
}
