package runtime

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// ringSubmitFlagsVar is the `const volatile __u64` of <gadget/buffer.h> that holds the flags
// records are submitted with. Its default (0, the kernel's adaptive notification) wakes a
// reader that waits on the ring, as Inspektor Gadget's ig does; this runtime drains the rings of
// such gadgets on a paced timer instead (stream.go), so each wake-up would only cost the kernel
// an irq_work per drain (docs/compatibility.md: about half a microsecond per exec of trace_exec
// in a VM). Objects without the variable keep their flags, and their wake-ups are waited for
// (ringwaker.go).
const ringSubmitFlagsVar = "gadgetry_rb_submit_flags"

// bpfRBNoWakeup is the kernel's BPF_RB_NO_WAKEUP.
const bpfRBNoWakeup = 1

// noRingWakeup makes a gadget built with <gadget/buffer.h> submit its records without waking
// user space. An object without the variable (built elsewhere, or with older headers) keeps
// its own flags.
func noRingWakeup(spec *ebpf.CollectionSpec) error {
	v, ok := spec.Variables[ringSubmitFlagsVar]
	if !ok {
		return nil
	}
	if err := v.Set(uint64(bpfRBNoWakeup)); err != nil {
		return fmt.Errorf("setting %s: %w", ringSubmitFlagsVar, err)
	}
	return nil
}
