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
	"github.com/gadgetry/gadgetry/runtime/datasource"
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

// TestRunRingWithWakeups: a tracer whose object submits with wake-ups and has no
// gadgetry_rb_submit_flags (testdata/rawring.bpf.c) runs through the runtime, which waits for
// its ring's wake-ups beside the paced checks (ringwaker.go): every record arrives, and the
// run stops with nothing of it left: no BPF object, and no descriptor (the waker's epoll
// instance and eventfd).
func TestRunRingWithWakeups(t *testing.T) {
	gadgettest.RequireRoot(t)
	before := gadgettest.Objects(t, prefix)
	rt := runtime.New(runtime.Options{})
	g, err := rt.Prepare(context.Background(), gadgettest.Image("rawring", gadgettest.Compile(t, "rawring"), ""))
	openFDs := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(fds)
	}
	fdsBefore := openFDs()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 16)
	run, err := rt.Start(context.Background(), g, runtime.RunOptions{Hooks: []runtime.Hooks{{Name: "test",
		PreStart: func(r *runtime.Run) error { return r.SetVariable("gtest_raw_pid", uint32(os.Getpid())) },
		Init: func(r *runtime.Run) error {
			ds := r.DataSource("gtest_raw")
			pid := ds.Field("pid")
			ds.Subscribe(0, func(_ *datasource.DataSource, d *datasource.Data) error {
				got <- pid.Uint(d)
				return nil
			})
			return nil
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		unix.Getppid()
		select {
		case p := <-got:
			if p != uint64(os.Getpid()) {
				t.Errorf("record of pid %d, want %d", p, os.Getpid())
			}
		case <-time.After(time.Minute):
			t.Fatalf("record %d never came (hang guard)", i+1)
		case <-run.Done():
			t.Fatalf("the run ended: %v", run.Wait())
		}
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(); n > fdsBefore {
		t.Errorf("%d descriptors open after the run, %d before it", n, fdsBefore)
	}
	gadgettest.CheckClean(t, prefix, before)
}
