package attach

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Packet programs of Inspektor Gadget's gadgets (socket filters, tc classifiers) find the
// network namespace of the packet in skb->cb[0] (gadget_socket_lookup() of
// <gadget/sockets-map.h> keys the socket map by it, trace_dns reports it): IG runs them behind a
// dispatcher that writes it there. So does Gadgetry: a small program of the same type stores
// the namespace's inode in cb[0] and tail-calls the gadget's program, whose verdict is then the
// packet's.

// cb0Offset is the offset of cb[0] in struct __sk_buff.
const cb0Offset = 48

// dispatcher is a loaded dispatcher and the program array that holds its target.
type dispatcher struct {
	prog  *ebpf.Program
	array *ebpf.Map
}

func (d *dispatcher) Close() error {
	d.prog.Close()
	return d.array.Close()
}

// newDispatcher loads a program of target's type that sets cb[0] to netns and tail-calls
// target; if the tail call fails it returns fallback.
func newDispatcher(target *ebpf.Program, netns uint32, fallback int32) (*dispatcher, error) {
	info, err := target.Info()
	if err != nil {
		return nil, err
	}
	array, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("program array: %w", err)
	}
	insns := asm.Instructions{
		asm.StoreImm(asm.R1, cb0Offset, int64(int32(netns)), asm.Word),
		asm.LoadMapPtr(asm.R2, array.FD()),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnTailCall.Call(),
		asm.Mov.Imm(asm.R0, fallback),
		asm.Return(),
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "gadget_dispatch", Type: info.Type, Instructions: insns, License: "GPL"})
	if err != nil {
		array.Close()
		return nil, fmt.Errorf("loading the dispatcher: %w", err)
	}
	if err := array.Update(uint32(0), target, ebpf.UpdateAny); err != nil {
		prog.Close()
		array.Close()
		return nil, fmt.Errorf("putting the program in the dispatcher's array: %w", err)
	}
	return &dispatcher{prog: prog, array: array}, nil
}
