package runtime

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/gadgetry/gadgetry/runtime/attach"
)

// probeKey names one probed capability: a BTF-based program kind at one target.
type probeKey struct {
	typ    ebpf.ProgramType
	attach ebpf.AttachType
	target string
}

// probeLoad tells whether the kernel loads a program like ps (same type, attach type and
// target), by loading a two-instruction program of that shape. It is cached per Runtime, so a
// gadget with an optional fentry program on a kernel that refuses trampolines costs one tiny
// load instead of a failed load of the whole collection. Only BTF-based kinds (fentry, fexit,
// lsm, tp_btf), which the kernel may refuse at load time, are probed; nil means "loads". An lsm
// program must also find the BPF LSM active (attach.BPFLSMActive): elsewhere it would attach and
// never be called, which for a gadget that enforces with it is worse than not running.
func (rt *Runtime) probeLoad(kind attach.Kind, ps *ebpf.ProgramSpec) error {
	switch kind {
	case attach.FEntry, attach.FExit, attach.LSM, attach.TPBTF:
	default:
		return nil
	}
	key := probeKey{ps.Type, ps.AttachType, ps.AttachTo}
	rt.mu.Lock()
	err, ok := rt.probes[key]
	rt.mu.Unlock()
	if ok {
		return err
	}
	// Through a collection, so the probe shares the Runtime's kernel BTF cache.
	c, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"gadgetry_probe": {
		Name:       "gadgetry_probe",
		Type:       ps.Type,
		AttachType: ps.AttachType,
		AttachTo:   ps.AttachTo,
		Flags:      ps.Flags,
		License:    "GPL",
		Instructions: asm.Instructions{
			asm.LoadImm(asm.R0, 0, asm.DWord),
			asm.Return(),
		},
	}}}, ebpf.CollectionOptions{Cache: rt.kernelBTF()})
	if err == nil {
		c.Close()
		if kind == attach.LSM {
			err = attach.BPFLSMActive()
		}
	} else if !attach.LacksKernelSupport(err) {
		err = nil // something else (e.g. an unknown target): let the real load report it
	}
	rt.mu.Lock()
	rt.probes[key] = err
	rt.mu.Unlock()
	return err
}
