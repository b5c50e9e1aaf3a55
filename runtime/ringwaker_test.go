package runtime

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestRingWaker: a record submitted with flags 0 into an empty ring buffer wakes the waker,
// which sends on its channel; close ends its goroutine. The program writes on every getppid of
// the machine: any of them wakes it, ours for sure.
func TestRingWaker(t *testing.T) {
	gadgettest.RequireRoot(t)
	ring, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.TracePoint, License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord), // a record of 8 bytes on the stack
			asm.LoadMapPtr(asm.R1, ring.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -8),
			asm.Mov.Imm(asm.R3, 8),
			asm.Mov.Imm(asm.R4, 0), // flags 0: the kernel's adaptive wake-up
			asm.FnRingbufOutput.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	tp, err := link.Tracepoint("syscalls", "sys_enter_getppid", prog, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()

	wake := make(chan struct{}, 1)
	w, err := newRingWaker(ring.FD(), wake)
	if err != nil {
		t.Fatal(err)
	}
	unix.Getppid()
	select {
	case <-wake:
	case <-time.After(time.Minute):
		t.Fatal("no wake-up a minute after a record landed in the empty ring (hang guard)")
	}
	w.close()
	select {
	case <-w.done:
	default:
		t.Fatal("the waker's goroutine still runs after close")
	}
}
